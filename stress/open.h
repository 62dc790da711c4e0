/* open.h: opening a channel, and the callbacks of a chat channel (open.c). */
#ifndef STRESS_OPEN_H
#define STRESS_OPEN_H

#include "chan.h"

/* chan_open's flags: the cross-push canary's victim, or a socketpair
 * whatever --kinds says. */
enum { OPEN_VICTIM = 1, OPEN_UNIX = 2 };

/* Opens a channel in slot i of w. */
void chan_open(worker_t *w, int i, int flags);
/* The callbacks every chat channel of the driver's gets. */
extern const acc_events_t chat_events;
void chan_configure(chan_t *c);
/* The local (peer 0) or remote (peer 1) port of fd, 0 if none. */
uint16_t port_of(int fd, int peer);
/* A non-blocking TCP socket; failing to make one is a harness error. */
int tcp_socket(void);

#endif /* STRESS_OPEN_H */
