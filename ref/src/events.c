/* events.c: what each kind of readiness does to a dispatcher, with the
 * defaults of asyncore where the user gave no callback, and the one place
 * that decides a peer is gone.  Every path checks that the channel is still
 * open: close is final (CQ2). */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "events.h"

/* handle_close runs at most once, and the channel is closed after it
 * whatever the callback did: a channel never lingers half-closed. */
void ac__close_event(ac_disp_t *d)
{
    if (d->close_called) {
        ac_disp_close(d);
        return;
    }
    d->close_called = 1;
    if (d->ops.handle_close && d->state == AC__OPEN)
        d->ops.handle_close(d, d->ud);
    if (d->state == AC__OPEN)
        ac_disp_close(d);
}

/* End of stream, and the errnos by which a send or a recv says the
 * connection is over: each is a close, never an error event. */
static int disconnect_errno(int err)
{
    switch (err) {
    case ECONNRESET: case ENOTCONN: case ESHUTDOWN:
    case ECONNABORTED: case EPIPE: case EBADF:
        return 1;
    default:
        return 0;
    }
}

int ac__peer_gone(ac_disp_t *d, int err)
{
    if (err != 0 && !disconnect_errno(-err))
        return 0;
    ac__disp_enter(d);
    ac__close_event(d);
    ac__disp_leave(d);
    return 1;
}

void ac__error_event(ac_disp_t *d, int err)
{
    if (!ac__disp_open(d))
        return;
    if (d->ops.handle_error)
        d->ops.handle_error(d, err, d->ud);
    else
        ac__close_event(d);
}

/* CQ6/CQ8: handle_connect only once SO_ERROR says the connect really
 * succeeded; a failure is an error event carrying the errno. */
static void connect_event(ac_disp_t *d)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(d->io.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err != 0) {
        d->connecting = 0;
        ac__error_event(d, -err);
        /* CQ8: handle_close follows even if handle_error kept the channel
         * open; no read or write handler runs on a failed connect. */
        if (ac__disp_open(d))
            ac__close_event(d);
        return;
    }
    if (d->ops.handle_connect)
        d->ops.handle_connect(d, d->ud);
    /* D14: still connecting, not yet connected, while the callback runs */
    d->connecting = 0;
    if (ac__disp_open(d))
        d->connected = 1; /* after the callback, as asyncore (CQ7) */
}

/* With no free descriptor the pending connection would keep the listener
 * readable forever; dropping it through the spare slot ends the spin. */
static void drop_pending(ac_disp_t *d)
{
    if (d->spare_fd < 0)
        return;
    close(d->spare_fd);
    int fd = accept(d->io.fd, NULL, NULL);
    if (fd >= 0)
        close(fd);
    d->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void accept_event(ac_disp_t *d)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd;
    do
        fd = accept4(d->io.fd, (struct sockaddr *)&ss, &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        int err = errno;
        if (err == EMFILE || err == ENFILE)
            drop_pending(d);
        else if (err != EAGAIN && err != EWOULDBLOCK &&
                 err != ECONNABORTED && err != EPROTO)
            ac__error_event(d, -err);
        return; /* CQ24: no channel, no handle_accept */
    }
    if (d->ops.handle_accept)
        d->ops.handle_accept(d, fd, (struct sockaddr *)&ss, len, d->ud);
    else
        close(fd);
}

void ac__read_event(ac_disp_t *d)
{
    if (d->accepting) {
        accept_event(d);
        return;
    }
    if (d->connecting) {
        connect_event(d);
        if (!ac__disp_open(d))
            return;
    }
    if (d->ops.handle_read)
        d->ops.handle_read(d, d->ud);
}

void ac__write_event(ac_disp_t *d)
{
    if (d->accepting)
        return;
    if (d->connecting) {
        connect_event(d);
        if (!ac__disp_open(d))
            return;
    }
    if (d->ops.handle_write)
        d->ops.handle_write(d, d->ud);
}

/* CQ10: the default consumes the urgent byte, so pending OOB data can
 * never make every pass report the same condition again. */
void ac__expt_event(ac_disp_t *d)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(d->io.fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err) {
        ac__close_event(d);
        return;
    }
    if (d->ops.handle_expt) {
        d->ops.handle_expt(d, d->ud);
        return;
    }
    char c;
    (void)recv(d->io.fd, &c, 1, MSG_OOB);
}
