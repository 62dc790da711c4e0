/* socket.c: the socket operations of a dispatcher.  Every socket is
 * non-blocking and close-on-exec; sends use MSG_NOSIGNAL so no operation
 * can raise SIGPIPE; recv tells "no data" (EAGAIN) from end of stream. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dispatcher.h"
#include "events.h"
#include "interest.h"
#include "socket.h"

/* A handle can take a socket once: a closed channel stays closed. */
static int can_take_socket(const ac_disp_t *d)
{
    if (d == NULL)
        return -EINVAL;
    if (d->state == AC__CLOSED)
        return -EBADF;
    if (d->state == AC__OPEN)
        return -EISCONN;
    if (d->io.map == NULL)
        return -EBADF; /* its map was freed */
    return 0;
}

static int attach(ac_disp_t *d, int fd)
{
    d->io.fd = fd;
    int rc = ac__interest_register(d->io.map, &d->io);
    if (rc < 0) {
        d->io.fd = -1;
        return rc;
    }
    d->state = AC__OPEN;
    ac__disp_refresh(d);
    return 0;
}

int ac_disp_create_socket(ac_disp_t *d, int family, int type)
{
    int rc = can_take_socket(d);
    if (rc < 0)
        return rc;
    int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    rc = attach(d, fd);
    if (rc < 0)
        close(fd);
    return rc;
}

int ac_disp_adopt(ac_disp_t *d, int fd)
{
    int rc = can_take_socket(d);
    if (rc < 0)
        return rc;
    if (fd < 0 || fcntl(fd, F_GETFD) < 0)
        return -EBADF;
    int type;
    socklen_t tl = sizeof(type);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0)
        return -errno;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    rc = attach(d, fd);
    if (rc < 0)
        return rc;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    d->connected = getpeername(fd, (struct sockaddr *)&ss, &sl) == 0;
    ac__disp_refresh(d);
    return 0;
}

int ac_disp_set_reuse_addr(ac_disp_t *d)
{
    if (!ac__disp_open(d))
        return d ? -EBADF : -EINVAL;
    int one = 1;
    if (setsockopt(d->io.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        return -errno;
    return 0;
}

int ac_disp_bind(ac_disp_t *d, const struct sockaddr *addr, socklen_t len)
{
    if (!ac__disp_open(d))
        return d ? -EBADF : -EINVAL;
    if (addr == NULL)
        return -EINVAL;
    return bind(d->io.fd, addr, len) < 0 ? -errno : 0;
}

/* The spare descriptor is what lets EMFILE be handled without spinning:
 * closing it frees one slot to accept and drop the pending connection. */
int ac_disp_listen(ac_disp_t *d, int backlog)
{
    if (!ac__disp_open(d))
        return d ? -EBADF : -EINVAL;
    if (listen(d->io.fd, backlog) < 0)
        return -errno;
    d->accepting = 1;
    if (d->spare_fd < 0)
        d->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ac__disp_refresh(d);
    return 0;
}

int ac_disp_connect(ac_disp_t *d, const struct sockaddr *addr, socklen_t len)
{
    if (!ac__disp_open(d))
        return d ? -EBADF : -EINVAL;
    if (addr == NULL)
        return -EINVAL;
    d->connected = 0;
    if (connect(d->io.fd, addr, len) == 0 || errno == EINPROGRESS ||
        errno == EALREADY || errno == EAGAIN || errno == EISCONN) {
        d->connecting = 1; /* handle_connect comes from the loop */
        ac__disp_refresh(d);
        return 0;
    }
    int rc = -errno;
    ac_disp_close(d); /* CQ6: no registered zombie */
    return rc;
}

ssize_t ac__disp_sendv(ac_disp_t *d, const struct iovec *iov, int iovcnt)
{
    struct msghdr mh = {0};
    mh.msg_iov = (struct iovec *)iov;
    mh.msg_iovlen = (size_t)iovcnt;
    ssize_t n;
    do
        n = sendmsg(d->io.fd, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n >= 0)
        return n;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
    int rc = -errno;
    ac__peer_gone(d, rc);
    return rc;
}

ssize_t ac_disp_send(ac_disp_t *d, const void *buf, size_t len)
{
    if (!ac__disp_open(d))
        return d ? -EBADF : -EINVAL;
    if (buf == NULL && len > 0)
        return -EINVAL;
    struct iovec iov = {(void *)buf, len};
    ac__disp_enter(d);
    ssize_t n = ac__disp_sendv(d, &iov, 1);
    ac__disp_leave(d);
    return n;
}

ssize_t ac_disp_recv(ac_disp_t *d, void *buf, size_t len)
{
    if (!ac__disp_open(d))
        return d ? -EBADF : -EINVAL;
    if (buf == NULL || len == 0)
        return -EINVAL;
    ssize_t n;
    do
        n = recv(d->io.fd, buf, len, 0);
    while (n < 0 && errno == EINTR);
    if (n > 0)
        return n;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return -EAGAIN;
    int rc = n == 0 ? 0 : -errno;
    return ac__peer_gone(d, rc) ? 0 : rc;
}
