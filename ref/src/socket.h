/* socket.h: the socket operations a chat shares with dispatchers beyond
 * achat.h's: one gathered send. */
#ifndef ACHAT_SOCKET_H
#define ACHAT_SOCKET_H

#include <sys/types.h>
#include <sys/uio.h>

#include "handle.h"

/* One sendmsg of iov (MSG_NOSIGNAL, EINTR retried): the bytes sent, 0 when
 * the buffer is full, or a negative errno (the close event has run when
 * the peer is gone). */
ssize_t ac__disp_sendv(ac_disp_t *d, const struct iovec *iov, int iovcnt);

#endif /* ACHAT_SOCKET_H */
