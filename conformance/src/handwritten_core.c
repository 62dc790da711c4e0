/* handwritten_core.c: hand-written tests for the loop and the socket
 * operations that the mutation campaign found unchecked (docs/mutation.md):
 * descriptor 0 (a process that closed its standard input), a pass and a
 * listen with no descriptor left, the thread's default map when another
 * map or itself is destroyed, predicates that close channels, and recv
 * meeting a reset.  Each states a sentence of the spec; none depends on how
 * the reference is built. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runner.h"

/* What one channel's callbacks saw (s).  Its predicates answer s.rd and
 * s.wr, count their calls, count those made after the channel was closed,
 * and can close a victim (another channel, or this one) the first time they
 * run. */
typedef struct ob {
    hw_obs_t s;                 /* first: the hw_obs_* handlers see it */
    int asks, asks_closed;      /* predicate calls; those after the close */
    int closed;                 /* closed by the test (victim of a predicate) */
    const acc_impl_t *im;
    void *victim;               /* closed by this channel's first readable */
    struct ob *victim_ob;
} ob_t;

static void asked(ob_t *o)
{
    o->asks++;
    if (o->closed)
        o->asks_closed++;
    if (o->victim) {
        void *v = o->victim;
        o->victim = NULL;
        o->victim_ob->closed = 1;
        (void)o->im->close(v);
    }
}
static int k_readable(void *c) { ob_t *o = c; asked(o); return o->s.rd; }
static int k_writable(void *c) { ob_t *o = c; asked(o); return o->s.wr; }

static const acc_events_t k_events = {hw_obs_collect, hw_obs_found, hw_obs_close,
                                      hw_obs_error, hw_obs_connect, hw_obs_accept,
                                      k_readable, k_writable, hw_obs_read, hw_obs_write};

/* Passes (10 ms each, at most ~1 s) until cond holds. */
#define PASS_UNTIL(im, map, be, cond)                                     \
    for (int p_ = 0; p_ < 100 && !(cond); p_++)                           \
        (im)->poll((map), (be), 10)

static int wait_in(int fd)
{
    struct pollfd pf = {fd, POLLIN, 0};
    return poll(&pf, 1, 1000) == 1 ? 0 : -1;
}

/* A chat channel on a new socketpair in map, framing lines; 0 or -1. */
static int line_chat(const acc_impl_t *im, void *map, void **c, int *peer, ob_t *o)
{
    if (hw_chat_pair(im, map, c, peer, &hw_obs_chat_events, o) < 0)
        return -1;
    if (im->set_terminator(*c, "\n", 1) < 0) {
        im->free(*c);
        *c = NULL;
        close(*peer);
        *peer = -1;
        return -1;
    }
    return 0;
}

/* One line from the peer reaches the channel as one record: 0, or
 * hw_fail's 1. */
static int one_line(const exec_opts_t *o, void *map, int peer, ob_t *ob, const char *what,
                    char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    int want = ob->s.found + 1;
    size_t n0 = ob->s.n;
    (void)!send(peer, "x\n", 2, MSG_NOSIGNAL);
    PASS_UNTIL(im, map, o->backend, ob->s.found >= want);
    if (ob->s.found != want || ob->s.n != n0 + 1 || ob->s.closes || ob->s.errors)
        return hw_fail(msg, cap, "%s: after the peer wrote one line, %d record(s) in all "
                       "(want %d), %d close(s), %d error(s)", what, ob->s.found, want,
                       ob->s.closes, ob->s.errors);
    return 0;
}

/* ------------------------------------------------ descriptor 0, L13 D1 */

/* Descriptor 0 is free: the implementation may take it for itself. */
static int zero_own(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *m = NULL, *c = NULL;
    ob_t ob = {0};
    int peer = -1, rc = 0, r;
    if (im->map_new(&m) < 0)
        return hw_fail(msg, cap, "map_new failed");
    /* The map's first pass, before any channel: whatever it sets up may
     * get descriptor 0. */
    if ((r = im->poll(m, o->backend, 0)) < 0) {
        rc = hw_fail(msg, cap, "with descriptor 0 free, the first pass on an empty map "
                     "returned %d (want >= 0: L6)", r);
        goto out;
    }
    if (line_chat(im, m, &c, &peer, &ob) < 0) {
        rc = hw_fail(msg, cap, "set-up of a chat channel failed");
        goto out;
    }
    rc = one_line(o, m, peer, &ob, "with descriptor 0 free when the map first ran", msg, cap);
out:
    if (c) im->free(c);
    if (peer >= 0) close(peer);
    im->map_free(m);
    return rc;
}

/* A channel on descriptor 0, adopted without close-on-exec (as a socket
 * inherited on standard input is): adopted, served, and closed by
 * close_all like any other (D1, L13: any descriptor, M8). */
static int zero_channel(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *m = NULL, *c0 = NULL, *c1 = NULL;
    ob_t o0 = {0}, o1 = {0};
    int sv[2] = {-1, -1}, peer1 = -1, rc = 0, r;
    char b;
    if (fcntl(0, F_GETFD) >= 0)
        return hw_fail(msg, cap, "descriptor 0 is open after every map and channel of the "
                       "test was freed: a descriptor leaked (E2)");
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 || im->map_new(&m) < 0) {
        rc = hw_fail(msg, cap, "set-up failed: %s", strerror(errno));
        goto out;
    }
    if (sv[0] != 0) {
        if (dup2(sv[0], 0) != 0) {
            rc = hw_fail(msg, cap, "dup2 onto descriptor 0 failed: %s", strerror(errno));
            goto out;
        }
        close(sv[0]);
        sv[0] = 0;
    }
    fcntl(sv[1], F_SETFD, FD_CLOEXEC);
    if ((r = im->chat_adopt(&c0, m, 0, &hw_obs_chat_events, &o0)) < 0) {
        c0 = NULL;
        rc = hw_fail(msg, cap, "chat_adopt of a socket on descriptor 0 without close-on-exec "
                     "returned %d (want 0: D1, any descriptor, L13)", r);
        goto out;
    }
    sv[0] = -1; /* the channel's */
    if (im->set_terminator(c0, "\n", 1) < 0 || line_chat(im, m, &c1, &peer1, &o1) < 0) {
        rc = hw_fail(msg, cap, "set-up of the chat channels failed");
        goto out;
    }
    if ((rc = one_line(o, m, sv[1], &o0, "the channel on descriptor 0", msg, cap)) ||
        (rc = one_line(o, m, peer1, &o1, "a channel beside the one on descriptor 0", msg, cap)))
        goto out;
    r = im->close_all(m);
    int fd0 = im->fd(c0), fd1 = im->fd(c1);
    wait_in(sv[1]);
    ssize_t k = recv(sv[1], &b, 1, MSG_DONTWAIT);
    if (r < 0 || fd0 != -1 || fd1 != -1 || k != 0 || im->map_size(m) != 0 ||
        o0.s.closes || o1.s.closes)
        rc = hw_fail(msg, cap, "close_all over a channel on descriptor 0 and another: returned "
                     "%d, fds %d and %d, the first one's peer read %zd, map size %ld, %d+%d "
                     "handle_close (want >= 0, -1, -1, end of stream, 0, none: M8)", r, fd0,
                     fd1, k, im->map_size(m), o0.s.closes, o1.s.closes);
out:
    if (c0) im->free(c0);
    if (c1) im->free(c1);
    if (sv[0] >= 0) close(sv[0]);
    if (sv[1] >= 0) close(sv[1]);
    if (peer1 >= 0) close(peer1);
    if (m) im->map_free(m);
    return rc;
}

/* A listener made while descriptor 0 is free: its socket may be 0. */
static int zero_listener(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *m = NULL, *l = NULL;
    ob_t ob = {0};
    int s = -1, rc = 0, r;
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (im->map_new(&m) < 0)
        return hw_fail(msg, cap, "map_new failed");
    if ((r = im->listen(&l, m, (struct sockaddr *)&a, sizeof(a), &k_events, &ob)) < 0) {
        l = NULL;
        rc = hw_fail(msg, cap, "with descriptor 0 free, listen on 127.0.0.1 port 0 returned "
                     "%d (want 0: D19)", r);
        goto out;
    }
    if (getsockname(im->fd(l), (struct sockaddr *)&a, &al) < 0 ||
        (s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
        rc = hw_fail(msg, cap, "with descriptor 0 free: the listener has no address, or "
                     "dialling it failed: %s", strerror(errno));
        goto out;
    }
    ob.s.rd = 1;
    PASS_UNTIL(im, m, o->backend, ob.s.accepts >= 1);
    if (ob.s.accepts != 1 || ob.s.errors || ob.s.closes)
        rc = hw_fail(msg, cap, "with descriptor 0 free, a listener saw %d accept(s), %d "
                     "error(s), %d close(s) for one connection (want 1, 0, 0: D18 D19)",
                     ob.s.accepts, ob.s.errors, ob.s.closes);
out:
    if (s >= 0) close(s);
    if (l) im->free(l);
    im->map_free(m);
    return rc;
}

/* A process that closed its standard input: descriptor 0 is the lowest
 * free number, so the implementation's own descriptors may land on it, and
 * a channel may be on it.  Nothing is special about it (L13: backends
 * without a ceiling accept any descriptor; D1; M8). */
int hw_fd_zero(const exec_opts_t *o, char *msg, size_t cap)
{
    int saved = fcntl(0, F_DUPFD_CLOEXEC, 3);
    if (saved < 0 && errno != EBADF)
        return hw_fail(msg, cap, "cannot set descriptor 0 aside: %s", strerror(errno));
    close(0);
    int rc = zero_own(o, msg, cap);
    if (rc == 0)
        rc = zero_channel(o, msg, cap);
    if (rc == 0 && (o->impl->caps & ACC_CAP_LISTEN))
        rc = zero_listener(o, msg, cap);
    if (rc == 0 && fcntl(0, F_GETFD) >= 0)
        rc = hw_fail(msg, cap, "descriptor 0 is open after every map and channel of the test "
                     "was freed: a descriptor leaked (E2)");
    if (saved >= 0) {
        dup2(saved, 0);
        close(saved);
    }
    return rc;
}

/* ------------------------------------------ no descriptor left, E1 E6 */

/* Every descriptor number below the limit is in use.  A pass may need a
 * descriptor (an epoll instance, say) and a listen needs one: each either
 * works or fails with a negative errno and leaves nothing behind (E1, E6:
 * a failed pass dispatches nothing, a failed listen registers nothing).
 * Once descriptors are back, the input that waited is delivered (L3). */
int hw_no_fds(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *m = NULL, *c = NULL, *l = NULL;
    ob_t ob = {0}, lob = {0};
    int peer = -1, rc = 0, rl = 0;
    struct rlimit old;
    getrlimit(RLIMIT_NOFILE, &old);
    if (im->map_new(&m) < 0 || line_chat(im, m, &c, &peer, &ob) < 0) {
        rc = hw_fail(msg, cap, "set-up of a chat channel failed");
        goto out;
    }
    (void)!send(peer, "x\n", 2, MSG_NOSIGNAL);
    int lowest = 0;
    while (fcntl(lowest, F_GETFD) >= 0)
        lowest++;
    struct rlimit tight = old;
    tight.rlim_cur = (rlim_t)lowest;
    setrlimit(RLIMIT_NOFILE, &tight);
    int r = im->poll(m, o->backend, 10);
    int handlers = hw_obs_calls(&ob.s);
    long size = im->map_size(m);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (im->caps & ACC_CAP_LISTEN)
        rl = im->listen(&l, m, (struct sockaddr *)&a, sizeof(a), &k_events, &lob);
    int lfd = rl == 0 && l ? im->fd(l) : -1;
    long lsize = im->map_size(m);
    setrlimit(RLIMIT_NOFILE, &old);
    if (rl < 0)
        l = NULL;
    if (r < -4095 || (r < 0 && handlers)) {
        rc = hw_fail(msg, cap, "with no descriptor left a pass returned %d after %d handler "
                     "call(s) (want >= 0, or a negative errno and none: E1 E6)", r, handlers);
        goto out;
    }
    if (size != 1) {
        rc = hw_fail(msg, cap, "with no descriptor left a pass left the map with %ld channels "
                     "(want 1: E6)", size);
        goto out;
    }
    if (rl > 0 || rl < -4095 || (rl == 0 && (lfd < 0 || lsize != 2)) ||
        (rl < 0 && lsize != 1)) {
        rc = hw_fail(msg, cap, "with no descriptor left listen returned %d, the listener's "
                     "fd %d, map size %ld (want 0 with a listening socket and size 2, or a "
                     "negative errno and size 1: E1 E6 D19)", rl, lfd, lsize);
        goto out;
    }
    PASS_UNTIL(im, m, o->backend, ob.s.found >= 1);
    if (ob.s.found != 1 || ob.s.n != 1 || ob.s.closes || ob.s.errors)
        rc = hw_fail(msg, cap, "once descriptors were back the line that waited gave %d "
                     "record(s) of %zu byte(s), %d close(s), %d error(s) (want 1 of 1, none: "
                     "L3 E6)", ob.s.found, ob.s.n, ob.s.closes, ob.s.errors);
out:
    setrlimit(RLIMIT_NOFILE, &old);
    if (l) im->free(l);
    if (c) im->free(c);
    if (peer >= 0) close(peer);
    if (m) im->map_free(m);
    return rc;
}

/* ------------------------------------- the default map and others, M4 M9 */

/* Destroying another map leaves the thread's default map alone (M4): it
 * keeps its channel, which is still served.  Destroying the default map
 * (M9) closes its channels without handle_close and empties it.  What a
 * later use of the default map finds is left to M1 ("created on first
 * use"), which does not say whether a destroyed default map comes back. */
int hw_default_other(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *m = NULL, *c = NULL, *def = im->map_default();
    ob_t ob = {0};
    int peer = -1, rc = 0;
    char b;
    if (def == NULL)
        return hw_fail(msg, cap, "map_default returned no map");
    long size0 = im->map_size(def);
    if (line_chat(im, def, &c, &peer, &ob) < 0)
        return hw_fail(msg, cap, "set-up of a chat channel in the default map failed");
    if (im->map_new(&m) < 0) {
        rc = hw_fail(msg, cap, "map_new failed");
        goto out;
    }
    im->map_free(m);
    long size1 = im->map_size(NULL);
    if (size1 != size0 + 1 || im->map_default() != def) {
        rc = hw_fail(msg, cap, "after another map was destroyed the thread's default map %s "
                     "and holds %ld channel(s), %ld before (want the same map, the same "
                     "channels: M4 M1)", im->map_default() != def ? "changed" : "is the same",
                     size1, size0 + 1);
        goto out;
    }
    if ((rc = one_line(o, NULL, peer, &ob, "the default map's channel after another map "
                       "was destroyed (M4)", msg, cap)))
        goto out;
    im->map_free(def);
    int fd = im->fd(c);
    wait_in(peer);
    ssize_t k = recv(peer, &b, 1, MSG_DONTWAIT);
    if (fd != -1 || k != 0 || ob.s.closes)
        rc = hw_fail(msg, cap, "after the default map was destroyed: its channel's fd %d, peer "
                     "read %zd, %d handle_close (want -1, end of stream, none: M9)", fd, k,
                     ob.s.closes);
out:
    if (c) im->free(c);
    if (peer >= 0) close(peer);
    return rc;
}

/* -------------------------------------- closed by a predicate, D7 L10 */

/* Predicates run user code, and user code may close channels: b's readable
 * closes c, d's readable closes d itself, both in the first pass.  A
 * closed channel's predicates are not evaluated again and it receives
 * nothing (D7, L10), whichever order the pass asks in (not normative);
 * the others are served. */
int hw_close_in_predicate(const exec_opts_t *o, char *msg, size_t cap)
{
    enum { N = 5 };
    const acc_impl_t *im = o->impl;
    void *m = NULL, *h[N] = {0};
    ob_t ob[N];
    int peer[N], rc = 0, r;
    static const char names[] = "abcde";
    memset(ob, 0, sizeof(ob));
    for (int i = 0; i < N; i++)
        peer[i] = -1;
    if (im->map_new(&m) < 0)
        return hw_fail(msg, cap, "map_new failed");
    for (int i = 0; i < N; i++) {
        int sv[2];
        ob[i].im = im;
        ob[i].s.rd = 1;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
            im->disp_adopt(&h[i], m, sv[0], &k_events, &ob[i]) < 0) {
            h[i] = NULL;
            rc = hw_fail(msg, cap, "set-up of dispatcher %c failed", names[i]);
            goto out;
        }
        peer[i] = sv[1];
    }
    ob[1].victim = h[2], ob[1].victim_ob = &ob[2]; /* b closes c */
    ob[3].victim = h[3], ob[3].victim_ob = &ob[3]; /* d closes itself */
    ob[2].s.wr = 1;
    (void)!send(peer[2], "c", 1, MSG_NOSIGNAL);
    (void)!send(peer[3], "d", 1, MSG_NOSIGNAL);
    r = im->poll(m, o->backend, 10);
    for (int p = 0; p < 3 && r >= 0; p++)
        r = im->poll(m, o->backend, 10);
    if (r < 0 || !ob[2].closed || !ob[3].closed) {
        rc = hw_fail(msg, cap, "passes over dispatchers whose predicates close one another "
                     "and themselves returned %d, %s (want >= 0, both predicates asked: L1)",
                     r, ob[2].closed && ob[3].closed ? "both closed" : "a predicate never ran");
        goto out;
    }
    for (int i = 2; i <= 3; i++)
        if (ob[i].asks_closed || hw_obs_calls(&ob[i].s)) {
            rc = hw_fail(msg, cap, "dispatcher %c, closed %s: %d predicate call(s) after the "
                         "close, then %d read(s), %d write(s), %d close(s), %d error(s) (want "
                         "none: D7 L10)", names[i], i == 2 ? "by b's readable" : "by its own "
                         "readable", ob[i].asks_closed, ob[i].s.reads, ob[i].s.writes,
                         ob[i].s.closes, ob[i].s.errors);
            goto out;
        }
    if (im->map_size(m) != 3 || im->fd(h[2]) != -1 || im->fd(h[3]) != -1) {
        rc = hw_fail(msg, cap, "after c and d were closed by predicates: map size %ld, fds %d "
                     "and %d (want 3, -1, -1: D8)", im->map_size(m), im->fd(h[2]),
                     im->fd(h[3]));
        goto out;
    }
    for (int i = 0; i < N; i++)
        if (i != 2 && i != 3)
            (void)!send(peer[i], "x", 1, MSG_NOSIGNAL);
    PASS_UNTIL(im, m, o->backend, ob[0].s.reads && ob[1].s.reads && ob[4].s.reads);
    for (int i = 0; i < N && rc == 0; i++)
        if (i != 2 && i != 3 && (ob[i].s.reads != 1 || ob[i].s.closes || ob[i].s.errors))
            rc = hw_fail(msg, cap, "dispatcher %c, with c and d closed by predicates: %d "
                         "read(s), %d close(s), %d error(s) for 1 byte (want 1, 0, 0: L10)",
                         names[i], ob[i].s.reads, ob[i].s.closes, ob[i].s.errors);
    if (rc == 0 && (ob[2].asks_closed || ob[3].asks_closed || hw_obs_calls(&ob[2].s) ||
                    hw_obs_calls(&ob[3].s)))
        rc = hw_fail(msg, cap, "the dispatchers closed by predicates were asked or served in "
                     "later passes (want never: D7)");
out:
    for (int i = 0; i < N; i++) {
        if (h[i]) im->free(h[i]);
        if (peer[i] >= 0) close(peer[i]);
    }
    im->map_free(m);
    return rc;
}

/* ------------------------------------------------ recv and a reset, D12 */

/* A reset from the peer: recv fails with a disconnect errno, so
 * handle_close runs and recv reports end of stream (D12) -- not "no data". */
int hw_recv_reset(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *m = NULL, *d = NULL;
    ob_t ob = {0};
    int fds[2] = {-1, -1}, rc = 0;
    char buf[16];
    if (im->map_new(&m) < 0 || exec_tcp_pair(fds) < 0) {
        if (m) im->map_free(m);
        return hw_fail(msg, cap, "set-up of a loopback TCP connection failed");
    }
    if (im->disp_adopt(&d, m, fds[0], &k_events, &ob) < 0) {
        d = NULL;
        close(fds[0]);
        rc = hw_fail(msg, cap, "disp_adopt failed");
        goto out;
    }
    struct linger lg = {1, 0};
    setsockopt(fds[1], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fds[1]);
    fds[1] = -1;
    wait_in(im->fd(d));
    long n = im->recv(d, buf, sizeof(buf));
    if (n != 0 || ob.s.closes != 1 || ob.s.errors || im->fd(d) != -1)
        rc = hw_fail(msg, cap, "recv after the peer reset the connection returned %ld with %d "
                     "handle_close, %d handle_error, channel %s (want 0 after exactly one "
                     "handle_close, channel closed: D12)", n, ob.s.closes, ob.s.errors,
                     im->fd(d) < 0 ? "closed" : "open");
out:
    if (d) im->free(d);
    if (fds[1] >= 0) close(fds[1]);
    im->map_free(m);
    return rc;
}

/* ----------------------------------------------- short timeouts, L5 */

static double ms_since_k(double t0)
{
    return (acc_mono_s() - t0) * 1e3;
}

/* A pass with no readiness returns no earlier than its timeout, 1 ms as
 * well as a whole second (an API in finer units must not round either
 * down), and a timeout of 0 checks readiness without waiting (L5). */
int hw_short_timeouts(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *m = NULL, *c = NULL;
    ob_t ob = {0};
    int peer = -1, rc = 0, r = 0;
    double t0, el;
    if (im->map_new(&m) < 0 || line_chat(im, m, &c, &peer, &ob) < 0) {
        rc = hw_fail(msg, cap, "set-up of an idle chat channel failed");
        goto out;
    }
    for (int i = 0; i < 20; i++) {
        t0 = acc_mono_s();
        r = im->poll(m, o->backend, 1);
        el = ms_since_k(t0);
        if (r < 0 || el < 0.9) {
            rc = hw_fail(msg, cap, "pass %d of 1 ms on an idle channel returned %d after %.3f ms "
                         "(want no earlier than 1 ms: L5)", i + 1, r, el);
            goto out;
        }
    }
    /* Only this upper bound depends on the machine's load: the quickest of
     * three loops, since a loop that waits 1 ms a pass is slow every time. */
    double quickest = 1e9;
    r = 0;
    for (int i = 0; i < 3 && r == 0 && quickest > 40.0; i++) {
        t0 = acc_mono_s();
        r = im->loop(m, o->backend, 0, 50);
        el = ms_since_k(t0);
        quickest = el < quickest ? el : quickest;
    }
    el = quickest;
    if (r != 0 || el > 40.0) {
        rc = hw_fail(msg, cap, "loop of 50 passes of timeout 0 on an idle channel returned %d "
                     "after %.1f ms (want 0, well under 50 ms: a timeout of 0 does not wait, "
                     "L5)", r, el);
        goto out;
    }
    t0 = acc_mono_s();
    r = im->poll(m, o->backend, 1000);
    el = ms_since_k(t0);
    if (r < 0 || el < 990.0 || hw_obs_calls(&ob.s))
        rc = hw_fail(msg, cap, "a pass of 1000 ms on an idle channel returned %d after %.1f ms "
                     "with %d event(s) (want no earlier than 1000 ms, none: L5)", r, el,
                     hw_obs_calls(&ob.s));
out:
    if (c) im->free(c);
    if (peer >= 0) close(peer);
    if (m) im->map_free(m);
    return rc;
}

/* ------------------------------- a socket still open elsewhere, L11 */

/* The socket of a closed channel stays open elsewhere (a dup the user
 * kept, a forked child).  Its later readiness belongs to no channel: a pass
 * over an idle map waits its timeout out (L5), and a channel that takes
 * the closed one's descriptor number receives none of it (L11). */
int hw_open_elsewhere(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *m = NULL, *a = NULL, *b = NULL, *c = NULL;
    ob_t oa = {0}, obb = {0}, oc = {0};
    int sv[2] = {-1, -1}, s2[2] = {-1, -1}, bpeer = -1, keep = -1, rc = 0, r;
    double t0, el;
    obb.s.rd = 1;
    oc.s.rd = 1;
    if (im->map_new(&m) < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
        (keep = fcntl(sv[0], F_DUPFD_CLOEXEC, 0)) < 0) {
        rc = hw_fail(msg, cap, "set-up failed: %s", strerror(errno));
        goto out;
    }
    int bs[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, bs) < 0 ||
        im->disp_adopt(&b, m, bs[0], &k_events, &obb) < 0) {
        b = NULL;
        rc = hw_fail(msg, cap, "set-up of an idle dispatcher failed");
        goto out;
    }
    bpeer = bs[1];
    if (im->chat_adopt(&a, m, sv[0], &hw_obs_chat_events, &oa) < 0 ||
        im->set_terminator(a, "\n", 1) < 0) {
        if (a == NULL)
            close(sv[0]);
        sv[0] = -1;
        rc = hw_fail(msg, cap, "set-up of a chat channel failed");
        goto out;
    }
    int fd = sv[0];
    sv[0] = -1; /* a's */
    if ((rc = one_line(o, m, sv[1], &oa, "a chat channel whose socket has a duplicate", msg,
                       cap)))
        goto out;
    if ((r = im->close(a)) != 0) {
        rc = hw_fail(msg, cap, "close returned %d (want 0: D8)", r);
        goto out;
    }
    /* The closed channel's socket, open through keep, becomes readable. */
    (void)!send(sv[1], "late\n", 5, MSG_NOSIGNAL);
    t0 = acc_mono_s();
    r = im->poll(m, o->backend, 50);
    el = ms_since_k(t0);
    if (r < 0 || el < 45.0 || hw_obs_calls(&obb.s) || hw_obs_calls(&oa.s) != 2) {
        rc = hw_fail(msg, cap, "with the closed channel's socket open elsewhere and readable, a "
                     "50 ms pass over an idle dispatcher returned %d after %.1f ms, %d event(s) "
                     "on it, %d on the closed channel (want no earlier than 50 ms, none: the "
                     "readiness is no channel's, L5 L11)", r, el, hw_obs_calls(&obb.s),
                     hw_obs_calls(&oa.s) - 2);
        goto out;
    }
    /* A new channel on the closed one's number. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s2) < 0) {
        rc = hw_fail(msg, cap, "socketpair failed: %s", strerror(errno));
        goto out;
    }
    if (s2[0] != fd && fcntl(fd, F_GETFD) < 0 && dup3(s2[0], fd, O_CLOEXEC) == fd) {
        close(s2[0]);
        s2[0] = fd;
    }
    if (im->disp_adopt(&c, m, s2[0], &k_events, &oc) < 0) {
        c = NULL;
        rc = hw_fail(msg, cap, "disp_adopt on the reused number failed");
        goto out;
    }
    s2[0] = -1; /* c's */
    for (int p = 0; p < 3; p++)
        im->poll(m, o->backend, 20);
    if (hw_obs_calls(&oc.s) || hw_obs_calls(&obb.s) || hw_obs_calls(&oa.s) != 2)
        rc = hw_fail(msg, cap, "a dispatcher on the number of a closed channel whose socket is "
                     "open elsewhere and readable: %d read(s), %d close(s), %d error(s) (want "
                     "none: the old socket's readiness is not its own, L11)", oc.s.reads,
                     oc.s.closes, oc.s.errors);
out:
    if (c) im->free(c);
    if (a) im->free(a);
    if (b) im->free(b);
    if (bpeer >= 0) close(bpeer);
    for (int i = 0; i < 2; i++) {
        if (sv[i] >= 0) close(sv[i]);
        if (s2[i] >= 0) close(s2[i]);
    }
    if (keep >= 0) close(keep);
    if (m) im->map_free(m);
    return rc;
}

/* ---------------------------- many channels, one closed behind, L12 */

/* 100 channels, every other one on a descriptor without close-on-exec; one
 * has its descriptor closed behind the library's back.  It alone gets
 * handle_close (L12, D5); the others, whatever their descriptor flags,
 * stay open and are served.  100 is more than a first allocation of a
 * watch array usually holds, so the pass's tables have to grow. */
int hw_many_one_closed(const exec_opts_t *o, char *msg, size_t cap)
{
    enum { N = 100 };
    const acc_impl_t *im = o->impl;
    void *m = NULL, *c[N] = {0};
    ob_t ob[N];
    int peer[N], rc = 0;
    memset(ob, 0, sizeof(ob));
    for (int i = 0; i < N; i++)
        peer[i] = -1;
    if (im->map_new(&m) < 0)
        return hw_fail(msg, cap, "map_new failed");
    for (int i = 0; i < N; i++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
            rc = hw_fail(msg, cap, "socketpair failed: %s", strerror(errno));
            goto out;
        }
        if (i % 2)
            fcntl(sv[0], F_SETFD, 0);
        peer[i] = sv[1];
        if (im->chat_adopt(&c[i], m, sv[0], &hw_obs_chat_events, &ob[i]) < 0 ||
            im->set_terminator(c[i], "\n", 1) < 0) {
            if (c[i] == NULL)
                close(sv[0]);
            rc = hw_fail(msg, cap, "set-up of chat channel %d failed", i);
            goto out;
        }
    }
    for (int p = 0; p < 2; p++)
        im->poll(m, o->backend, 0); /* every channel watched */
    close(im->fd(c[N - 1]));
    PASS_UNTIL(im, m, o->backend, ob[N - 1].s.closes >= 1);
    for (int i = 0; i < N - 1; i++)
        (void)!send(peer[i], "x\n", 2, MSG_NOSIGNAL);
    int done = 0;
    for (int p = 0; p < 100 && done < N - 1; p++) {
        im->poll(m, o->backend, 10);
        done = 0;
        for (int i = 0; i < N - 1; i++)
            done += ob[i].s.found == 1;
    }
    if (ob[N - 1].s.closes != 1 || ob[N - 1].s.errors || im->map_size(m) != N - 1) {
        rc = hw_fail(msg, cap, "the channel whose descriptor was closed behind its back got %d "
                     "handle_close, %d handle_error; map size %ld (want 1, 0, %d: L12)",
                     ob[N - 1].s.closes, ob[N - 1].s.errors, im->map_size(m), N - 1);
        goto out;
    }
    for (int i = 0; i < N - 1 && rc == 0; i++)
        if (ob[i].s.found != 1 || ob[i].s.closes || ob[i].s.errors)
            rc = hw_fail(msg, cap, "channel %d (descriptor %s close-on-exec), beside one whose "
                         "descriptor was closed behind its back: %d record(s), %d close(s), "
                         "%d error(s) (want 1, 0, 0: L12)", i, i % 2 ? "without" : "with",
                         ob[i].s.found, ob[i].s.closes, ob[i].s.errors);
out:
    for (int i = 0; i < N; i++) {
        if (c[i]) im->free(c[i]);
        if (peer[i] >= 0) close(peer[i]);
    }
    im->map_free(m);
    return rc;
}
