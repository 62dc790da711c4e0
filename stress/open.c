/* open.c: opening a channel pair of each kind (socketpair, loopback TCP
 * either way round, the implementation connecting), and the callbacks its
 * implementation side gets.  One file, as the two call each other: every
 * channel opened gets these callbacks, and a callback may open a channel
 * (churn_in_callback). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "down.h"
#include "ending.h"
#include "open.h"

uint16_t port_of(int fd, int peer)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int rc = peer ? getpeername(fd, (struct sockaddr *)&sa, &len)
                  : getsockname(fd, (struct sockaddr *)&sa, &len);
    return rc == 0 && sa.sin_family == AF_INET ? ntohs(sa.sin_port) : 0;
}

int tcp_socket(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0)
        stress_harness("socket: %s", strerror(errno));
    return s;
}

/* A loopback connect can run out of ports under heavy churn; the slot then
 * falls back to a socketpair rather than failing the run. */
static int tcp_connect(worker_t *w, const struct sockaddr_in *to)
{
    int s = tcp_socket();
    if (connect(s, (const struct sockaddr *)to, sizeof(*to)) == 0 ||
        errno == EINPROGRESS)
        return s;
    int e = errno;
    close(s);
    if (e == EADDRNOTAVAIL || e == EAGAIN) {
        w->fallbacks++;
        return -1;
    }
    stress_harness("connect to 127.0.0.1: %s", strerror(e));
}

/* Settings that must be in place before the first byte is read. */
void chan_configure(chan_t *c)
{
    int rc = 0;
    if (c->in_size && (IMPL->caps & ACC_CAP_BUFSIZE))
        rc = IMPL->set_buffer_sizes(c->ch, c->in_size, c->out_size);
    if (rc == 0)
        rc = c->victim ? IMPL->set_none(c->ch) : set_framing(c, c->rhead);
    if (rc != 0)
        cfail(c, "configuring a new channel: %s", errname(rc));
}

static void open_unix(worker_t *w, chan_t *c)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv) < 0)
        stress_harness("socketpair: %s", strerror(errno));
    int mine = (int)below(&c->rng, 2);
    if (w->reuse_fd >= 0) {
        /* Take the fd number just freed if it is still free: F_DUPFD never
         * closes an fd another thread may have opened meanwhile. */
        int fd = fcntl(sv[mine], F_DUPFD_CLOEXEC, w->reuse_fd);
        if (fd >= 0) {
            close(sv[mine]);
            sv[mine] = fd;
        }
    }
    int rc = IMPL->chat_adopt(&c->ch, w->map, sv[mine], &chat_events, c);
    if (rc < 0) {
        close(sv[0]), close(sv[1]);
        adopt_failed(c, rc, "chat_adopt of a socketpair end");
    }
    c->kind = KIND_UNIX;
    c->pfd = sv[!mine];
    c->impl_open = 1;
    chan_configure(c);
}

static void pick_kind(worker_t *w, chan_t *c)
{
    unsigned k = g_run.o.kinds;
    if (!(IMPL->caps & ACC_CAP_CONNECT))
        k &= ~(unsigned)KIND_CONNECT;
    if (!(IMPL->caps & ACC_CAP_LISTEN) || w->ilisten == NULL ||
        w->wait_accept >= MAX_WAIT_ACCEPT)
        k &= ~(unsigned)KIND_ACCEPT;
    if (w->raw_lfd < 0)
        k &= ~(unsigned)(KIND_TCP | KIND_CONNECT);
    static const int weight[4] = {45, 25, 15, 15};
    int total = 0;
    for (int i = 0; i < 4; i++)
        total += (k >> i & 1) ? weight[i] : 0;
    c->kind = KIND_UNIX;
    if (total == 0)
        return;
    int x = (int)below(&w->rng, (uint64_t)total);
    for (int i = 0; i < 4; i++) {
        if (!(k >> i & 1))
            continue;
        if (x < weight[i]) {
            c->kind = 1 << i;
            return;
        }
        x -= weight[i];
    }
}

static uint64_t pick_budget(rng_t *r)
{
    unsigned p = (unsigned)below(r, 100);
    return p < 15 ? 0 : p < 55 ? below(r, 4096) : p < 85 ? below(r, 65536)
         : p < 97 ? below(r, 1 << 20) : below(r, 4 << 20);
}

/* A new channel: its generator, buffer sizes, budgets and ending plan are
 * drawn from the thread's seed, and (unless a victim) its first record. */
static chan_t *chan_new(worker_t *w, int victim)
{
    chan_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        stress_harness("out of memory");
    c->magic = CHAN_MAGIC;
    c->w = w;
    c->uid = ((uint64_t)w->idx << 48) | ++w->uidseq;
    c->rng.s = rnd(&w->rng);
    c->pfd = c->conn_fd = -1;
    c->victim = victim;
    c->gen.uid = c->uid;
    rng_t *r = &c->rng;
    if ((IMPL->caps & ACC_CAP_BUFSIZE) && !victim && chance(r, 30)) {
        c->in_size = chance(r, 50) ? 1 + below(r, 16) : 1 + below(r, 65536);
        c->out_size = chance(r, 50) ? 1 + below(r, 16) : 1 + below(r, 65536);
    }
    c->down_budget = pick_budget(r);
    c->up_budget = pick_budget(r);
    if (c->in_size && c->in_size < 64 && c->down_budget > 8192)
        c->down_budget = 8192; /* one recv per pass: keep drains short */
    if (c->out_size && c->out_size < 64 && c->up_budget > 8192)
        c->up_budget = 8192;
    static const int pw[] = {0, 22, 22, 14, 11, 11, 11, 9};
    int x = (int)below(r, 100);
    c->plan = E_PEER_EOF;
    for (int e = E_PEER_EOF; e <= E_PEER_CLOSE; e++) {
        if (x < pw[e]) {
            c->plan = e;
            break;
        }
        x -= pw[e];
    }
    c->abrupt_at = below(r, c->down_budget + c->up_budget + 1);
    if (victim) {
        c->plan = E_VICTIM;
        c->ending = E_VICTIM;
        c->down_budget = c->up_budget = 0;
    } else {
        gen_record(c);
    }
    return c;
}

/* Starts the connection of a TCP kind; a slot left not waiting (unix, or
 * out of loopback ports) gets a socketpair instead. */
static void start_tcp(worker_t *w, chan_t *c)
{
    if (c->kind == KIND_TCP) {
        int s = tcp_connect(w, &w->raw_addr);
        if (s >= 0) {
            c->conn_fd = s;
            c->lport = port_of(s, 0);
            c->impl_gets_accepted = chance(&c->rng, 50);
            c->waiting = 1;
        }
    } else if (c->kind == KIND_CONNECT) {
        int rc = IMPL->chat_connect(&c->ch, w->map,
                                    (const struct sockaddr *)&w->raw_addr,
                                    sizeof(w->raw_addr), &chat_events, c);
        if (rc == 0) {
            c->impl_open = 1;
            c->lport = port_of(IMPL->fd(c->ch), 0);
            c->waiting = 1;
            chan_configure(c);
        } else if (rc == -EADDRNOTAVAIL || rc == -EAGAIN) {
            w->fallbacks++;
        } else {
            cfail(c, "chat_connect to 127.0.0.1 failed: %s", errname(rc));
        }
    } else if (c->kind == KIND_ACCEPT) {
        int s = tcp_connect(w, &w->ilisten_addr);
        if (s >= 0) {
            c->pfd = s;
            c->lport = port_of(s, 0);
            c->waiting = 1;
            w->wait_accept++;
        }
    }
}

void chan_open(worker_t *w, int i, int flags)
{
    int victim = flags & OPEN_VICTIM;
    chan_t *c = chan_new(w, victim);
    w->slot[i] = c;
    w->alive++;
    w->opened++;
    w->ops++;
    c->deadline = w->now + g_run.o.grace;
    if (victim) {
        open_unix(w, c);
        c->peer_rd = 1;
        return;
    }
    pick_kind(w, c);
    if (flags & OPEN_UNIX) {
        c->kind = KIND_UNIX;
    } else {
        w->picked++;
        w->tcp_tries += c->kind != KIND_UNIX;
    }
    start_tcp(w, c);
    if (!c->waiting)
        open_unix(w, c); /* KIND_UNIX, or a TCP kind that fell back */
    c->peer_rd = c->peer_wr = 1;
}

/* Churn inside a pass: from c's callback, close another channel b of this
 * thread (preferably one whose peer hung up, so its hangup may still be due
 * in this pass) and at once open a socketpair channel, which likely gets
 * b's fd number.  b's pending event must never reach the new channel, and
 * b must get no callback (ownership.md rule 8, CQ1). */
static void churn_in_callback(chan_t *c)
{
    worker_t *w = c->w;
    if (w->stopping || w->slot[w->nslot - 1] != NULL)
        return;
    /* Best: a reset TCP channel later in this pass (a higher fd), whose
     * error event is still due; otherwise now and then any channel that
     * was going to be closed by the driver anyway. */
    chan_t *b = NULL;
    int myfd = c->ch ? IMPL->fd(c->ch) : -1;
    for (int pass = 0; pass < 2 && b == NULL; pass++) {
        if (pass == 1 && !chance(&c->rng, 3))
            return;
        for (int i = 0; i < w->nslot - 1 && b == NULL; i++) {
            chan_t *x = w->slot[i];
            if (x == NULL || x == c || x->waiting || !x->impl_open ||
                !x->ch || x->victim || x->closes || x->free_in_cb)
                continue;
            if (pass == 0 ? (x->ending == E_PEER_CLOSE ||
                             x->ending == E_PEER_RESET) && x->step == 1 &&
                                IMPL->fd(x->ch) > myfd
                          : x->ending == E_NONE && x->plan == E_DRV_CLOSE)
                b = x;
        }
    }
    if (b == NULL)
        return;
    int bfd = IMPL->fd(b->ch);
    int rc = IMPL->close(b->ch);
    if (rc != 0)
        cfail(b, "close from another channel's callback returned %s",
              errname(rc));
    b->impl_open = 0;
    b->close_allowed = b->expect_close = 0;
    if (b->ending == E_NONE)
        start_ending(b, E_DRV_CLOSE);
    b->step = 1;
    b->peer_wr = 0;
    w->ops++;
    w->reuse_fd = bfd;
    chan_open(w, w->nslot - 1, OPEN_UNIX);
    w->reuse_fd = -1;
}

/* A planned driver-free that waits for a callback to run in. */
static void maybe_free_in_cb(chan_t *c)
{
    if (c->free_in_cb) {
        c->free_in_cb = 0;
        c->peer_wr = 0;
        chan_free_impl(c);
    }
}

static void ev_collect(void *ctx, const void *data, size_t len)
{
    chan_t *c = cb_chan(ctx, "collect_incoming_data");
    if (!c->impl_open)
        cfail(c, "collect_incoming_data on a closed channel");
    if (c->kind == KIND_CONNECT && !c->connected_cb)
        cfail(c, "collect_incoming_data before handle_connect");
    down_collect(c, data, len);
    churn_in_callback(c);
    maybe_free_in_cb(c);
}

static void ev_found(void *ctx)
{
    chan_t *c = cb_chan(ctx, "found_terminator");
    if (!c->impl_open)
        cfail(c, "found_terminator on a closed channel");
    down_found(c);
    churn_in_callback(c);
    maybe_free_in_cb(c);
}

static void ev_close(void *ctx)
{
    chan_t *c = cb_chan(ctx, "handle_close");
    if (++c->closes > 1)
        cfail(c, "handle_close ran %d times", c->closes);
    if (!c->impl_open)
        cfail(c, "handle_close on a channel the driver had closed");
    if (!c->close_allowed)
        cfail(c, "handle_close with no cause: the peer is open and no "
                 "close_when_done was queued (down %llu of %llu payload "
                 "bytes delivered, up %llu of %llu received)",
              (unsigned long long)c->rpay, (unsigned long long)c->wpay,
              (unsigned long long)c->par.rx,
              (unsigned long long)c->up_pushed);
    c->impl_open = 0;
    if (c->exact_down && (c->rpay != c->wpay || c->nfound != c->wrecs))
        cfail(c, "handle_close at the end of the stream with %llu of %llu "
                 "payload bytes and %llu of %llu records delivered",
              (unsigned long long)c->rpay, (unsigned long long)c->wpay,
              (unsigned long long)c->nfound, (unsigned long long)c->wrecs);
    if (chance(&c->rng, 30))
        chan_free_impl(c); /* freeing inside handle_close must be safe */
}

static int disconnect_errno(int e)
{
    return e == ECONNRESET || e == EPIPE || e == ENOTCONN ||
           e == ESHUTDOWN || e == ECONNABORTED;
}

static void ev_error(void *ctx, int err)
{
    chan_t *c = cb_chan(ctx, "handle_error");
    if (!c->impl_open)
        cfail(c, "handle_error(%s) on a closed channel", errname(err));
    if (!(c->close_allowed && disconnect_errno(-err)))
        cfail(c, "handle_error(%s) on a healthy connection", errname(err));
}

static void ev_connect(void *ctx)
{
    chan_t *c = cb_chan(ctx, "handle_connect");
    if (c->kind != KIND_CONNECT)
        cfail(c, "handle_connect on a channel made from a connected socket");
    if (c->connected_cb)
        cfail(c, "handle_connect ran twice");
    if (!c->impl_open)
        cfail(c, "handle_connect on a closed channel");
    c->connected_cb = 1;
}

static void ev_accept_chat(void *ctx, int fd)
{
    chan_t *c = cb_chan(ctx, "handle_accept");
    close(fd);
    cfail(c, "handle_accept on a chat channel");
}

const acc_events_t chat_events = {
    .collect = ev_collect,
    .found = ev_found,
    .close = ev_close,
    .error = ev_error,
    .connect = ev_connect,
    .accept = ev_accept_chat,
};
