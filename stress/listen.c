/* listen.c: the two loopback listeners of a worker, the driver's own (the
 * far end of tcp and tcp-connect channels) and the implementation's (for
 * tcp-accept ones), and the pairing of each accepted connection with the
 * slot whose end connected from its port. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listen.h"
#include "open.h"

static chan_t *find_waiting(worker_t *w, int kinds, uint16_t port)
{
    for (int i = 0; i < w->nslot; i++) {
        chan_t *c = w->slot[i];
        if (c && c->waiting && (c->kind & kinds) && c->lport == port)
            return c;
    }
    return NULL;
}

/* The implementation's listener accepted fd: pair it with the slot whose
 * peer connected from that port, and make it a chat channel right here,
 * inside the callback. */
static void ev_accept(void *ctx, int fd)
{
    chan_t *l = cb_chan(ctx, "handle_accept");
    worker_t *w = l->w;
    if (l->kind != KIND_LISTENER)
        cfail(l, "handle_accept on a chat channel");
    chan_t *c = find_waiting(w, KIND_ACCEPT, port_of(fd, 1));
    if (c == NULL) {
        close(fd); /* handle_accept's fd is ours */
        w->strays++;
        return;
    }
    int rc = IMPL->chat_adopt(&c->ch, w->map, fd, &chat_events, c);
    if (rc < 0) {
        close(fd);
        adopt_failed(c, rc, "chat_adopt of an accepted fd");
    }
    c->waiting = 0;
    c->impl_open = 1;
    w->wait_accept--;
    chan_configure(c);
}

static void ev_listener_bad(void *ctx)
{
    chan_t *l = cb_chan(ctx, "a chat or close callback");
    cfail(l, "the listener got a callback other than handle_accept");
}

static void ev_listener_collect(void *ctx, const void *d, size_t n)
{
    (void)d, (void)n;
    ev_listener_bad(ctx);
}

static void ev_listener_error(void *ctx, int err)
{
    chan_t *l = cb_chan(ctx, "handle_error");
    cfail(l, "handle_error(%s) on the listener", errname(err));
}

static const acc_events_t listen_events = {
    .collect = ev_listener_collect,
    .found = ev_listener_bad,
    .close = ev_listener_bad,
    .error = ev_listener_error,
    .connect = ev_listener_bad,
    .accept = ev_accept,
};

void listeners_open(worker_t *w)
{
    unsigned k = g_run.o.kinds;
    struct sockaddr_in any = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (k & (KIND_TCP | KIND_CONNECT)) {
        int s = tcp_socket();
        socklen_t len = sizeof(w->raw_addr);
        if (bind(s, (struct sockaddr *)&any, sizeof(any)) < 0 ||
            listen(s, 128) < 0 ||
            getsockname(s, (struct sockaddr *)&w->raw_addr, &len) < 0)
            stress_harness("loopback listener: %s", strerror(errno));
        w->raw_lfd = s;
    }
    if ((k & KIND_ACCEPT) && (IMPL->caps & ACC_CAP_LISTEN)) {
        chan_t *l = calloc(1, sizeof(*l));
        if (l == NULL)
            stress_harness("out of memory");
        l->magic = CHAN_MAGIC;
        l->w = w;
        l->kind = KIND_LISTENER;
        l->uid = ((uint64_t)w->idx << 48);
        l->pfd = -1;
        int rc = IMPL->listen(&w->ilisten, w->map,
                              (const struct sockaddr *)&any, sizeof(any),
                              &listen_events, l);
        /* Anything but exhaustion (for example -EEXIST: the map still
         * holds a closed channel under the fresh socket's fd, as a map
         * shared across threads does) is the implementation's fault. */
        if (machine_fault(rc))
            stress_harness("the implementation's listen on 127.0.0.1: %s",
                           errname(rc));
        if (rc < 0)
            stress_violation(w->idx, "the implementation's listen on "
                             "127.0.0.1 failed: %s", errname(rc));
        w->lctx = l;
        uint16_t port = port_of(IMPL->fd(w->ilisten), 0);
        if (port == 0)
            stress_harness("cannot read the listener's port");
        w->ilisten_addr = any;
        w->ilisten_addr.sin_port = htons(port);
    }
}

void listeners_close(worker_t *w)
{
    if (w->ilisten) {
        int rc = IMPL->close(w->ilisten);
        if (rc != 0)
            cfail(w->lctx, "close of the listener returned %s", errname(rc));
        IMPL->free(w->ilisten);
        w->ilisten = NULL;
        chan_quarantine(w, w->lctx);
    }
    if (w->raw_lfd >= 0)
        close(w->raw_lfd);
    w->raw_lfd = -1;
}

/* Pairs connections accepted on the driver's own listener (KIND_TCP and
 * KIND_CONNECT) with their slots by port. */
void raw_accept(worker_t *w)
{
    if (w->raw_lfd < 0)
        return;
    for (;;) {
        struct sockaddr_in sa;
        socklen_t len = sizeof(sa);
        int a = accept4(w->raw_lfd, (struct sockaddr *)&sa, &len,
                        SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (a < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
                errno == ECONNABORTED)
                return;
            stress_harness("accept: %s", strerror(errno));
        }
        chan_t *c = find_waiting(w, KIND_TCP | KIND_CONNECT,
                                 ntohs(sa.sin_port));
        if (c == NULL) {
            close(a);
            w->strays++;
            continue;
        }
        w->activity = 1;
        c->waiting = 0;
        if (c->kind == KIND_CONNECT) {
            c->pfd = a;
            continue;
        }
        int ifd = c->impl_gets_accepted ? a : c->conn_fd;
        c->pfd = c->impl_gets_accepted ? c->conn_fd : a;
        c->conn_fd = -1;
        int rc = IMPL->chat_adopt(&c->ch, w->map, ifd, &chat_events, c);
        if (rc < 0) {
            close(ifd);
            adopt_failed(c, rc, "chat_adopt of a loopback TCP end");
        }
        c->impl_open = 1;
        chan_configure(c);
    }
}
