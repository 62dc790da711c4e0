/* handwritten_loop.c: hand-written tests for loop, dispatcher, map and error
 * clauses that a case file cannot state: timeouts and their bounds, EINTR,
 * the descriptor ceiling of select, the three outcomes of recv, a
 * synchronous connect failure, accept when descriptors run out, EEXIST, map
 * destruction, and the end of a thread's default map.  Like the tests in
 * handwritten.c they reach the implementation only through the adapter, and
 * they are registered in the table there. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "failsys.h"
#include "runner.h"

/* What one channel's callbacks saw.  The found callback can destroy the
 * channel's own map from inside a pass (M9), when asked to. */
typedef struct {
    hw_obs_t s;                 /* first: the hw_obs_* handlers see it */
    const acc_impl_t *im;
    void *map;
    int free_map_in_found;
} obs_t;

static void o_found(void *c)
{
    obs_t *o = c;
    hw_obs_found(c);
    if (o->free_map_in_found)
        o->im->map_free(o->map);
}

/* A plain dispatcher here always reads and never asks to write. */
static const acc_events_t obs_events = {hw_obs_collect, o_found, hw_obs_close, hw_obs_error,
                                        hw_obs_connect, hw_obs_accept, hw_obs_yes,
                                        hw_obs_no, hw_obs_read, hw_obs_write};
/* A chat keeps its own predicates (with chat-readable a readable here would
 * replace its own). */
static const acc_events_t obs_chat_events = {hw_obs_collect, o_found, hw_obs_close,
                                             hw_obs_error, hw_obs_connect, hw_obs_accept};

static double ms_since(double t0)
{
    return (acc_mono_s() - t0) * 1e3;
}

/* Passes until cond holds (at most ~1 s). */
#define PASS_UNTIL(im, map, be, cond)                                     \
    for (int p_ = 0; p_ < 100 && !(cond); p_++)                           \
        (im)->poll((map), (be), 10)

/* ----------------------------------------------------- timeouts, L5-L7 */

int hw_timeouts(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    const char *be = o->backend;
    void *m = NULL, *c = NULL;
    obs_t ob = {0};
    int peer = -1, rc = 0, r;
    double t0;
    double el;
    if (im->map_new(&m) < 0)
        return hw_fail(msg, cap, "map_new failed");
    if ((r = im->poll(m, be, -5)) != -EINVAL) {
        rc = hw_fail(msg, cap, "a pass with timeout -5 returned %d, want -EINVAL (L5)", r);
        goto out;
    }
    if ((r = im->loop(m, be, 0, -1)) != -EINVAL) {
        rc = hw_fail(msg, cap, "loop with count -1 returned %d, want -EINVAL (L7)", r);
        goto out;
    }
    /* L6: nothing to watch, finite timeout: the pass waits it out. */
    t0 = acc_mono_s();
    r = im->poll(m, be, 30);
    if (r < 0 || (el = ms_since(t0)) < 29.0) {
        rc = hw_fail(msg, cap, "a 30 ms pass on an empty map returned %d after %.1f ms "
                     "(want >= 0, no earlier than 30 ms: L6)", r, ms_since(t0));
        goto out;
    }
    /* L7: loop on an empty map returns at once, whatever the timeout. */
    t0 = acc_mono_s();
    r = im->loop(m, be, 1000, 0);
    if (r != 0 || (el = ms_since(t0)) > 500.0) {
        rc = hw_fail(msg, cap, "loop on an empty map returned %d after %.1f ms "
                     "(want 0 at once: L7)", r, ms_since(t0));
        goto out;
    }
    if (hw_chat_pair(im, m, &c, &peer, &obs_chat_events, &ob) < 0) {
        rc = hw_fail(msg, cap, "set-up of an idle chat channel failed");
        goto out;
    }
    /* L5: timeout 0 only checks (the quickest of three, against load);
     * a finite timeout is waited out per pass. */
    double quickest = 1e9;
    for (int i = 0; i < 3; i++) {
        t0 = acc_mono_s();
        r = im->poll(m, be, 0);
        el = ms_since(t0);
        if (r < 0)
            break;
        quickest = el < quickest ? el : quickest;
    }
    if (r < 0 || quickest > 20.0) {
        rc = hw_fail(msg, cap, "a pass with timeout 0 returned %d after %.1f ms (want at once: L5)",
                     r, quickest);
        goto out;
    }
    t0 = acc_mono_s();
    r = im->poll(m, be, 30);
    if (r < 0 || (el = ms_since(t0)) < 29.0 || hw_obs_calls(&ob.s)) {
        rc = hw_fail(msg, cap, "a 30 ms pass on an idle channel returned %d after %.1f ms with "
                     "%d events (want no earlier than 30 ms, no event: L5)", r, el,
                     hw_obs_calls(&ob.s));
        goto out;
    }
    t0 = acc_mono_s();
    r = im->loop(m, be, 20, 2);
    if (r != 0 || (el = ms_since(t0)) < 39.0 || hw_obs_calls(&ob.s)) {
        rc = hw_fail(msg, cap, "loop of 2 passes of 20 ms returned %d after %.1f ms "
                     "(want 0, no earlier than 40 ms: the timeout bounds each pass, L5 L7)", r, el);
        goto out;
    }
out:
    if (c) im->free(c);
    if (peer >= 0) close(peer);
    im->map_free(m);
    return rc;
}

/* A plain dispatcher whose readable() the test sets (rd); writable() says
 * no. */
static const acc_events_t gate_events = {hw_obs_collect, hw_obs_found, hw_obs_close,
                                         hw_obs_error, hw_obs_connect, hw_obs_accept,
                                         hw_obs_readable, hw_obs_no, hw_obs_read,
                                         hw_obs_write};

/* The infinite timeout: a loop whose channels ask for nothing returns
 * instead of waiting for ever (L6, L7), and a pass with readiness to report
 * returns with it dispatched (L5).  A hang is this run's timeout. */
int hw_infinite(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *m = NULL, *d = NULL, *c = NULL;
    hw_obs_t g = {0};
    obs_t co = {0};
    int sv[2] = {-1, -1}, cpeer = -1, rc = 0, r;
    if (im->map_new(&m) < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return hw_fail(msg, cap, "set-up failed");
    if (im->disp_adopt(&d, m, sv[0], &gate_events, &g) < 0) {
        close(sv[0]);
        rc = hw_fail(msg, cap, "disp_adopt failed");
        goto out;
    }
    (void)!send(sv[1], "x", 1, MSG_NOSIGNAL);
    if ((r = im->loop(m, o->backend, -1, 0)) != 0 || hw_obs_calls(&g) ||
        im->map_size(m) != 1) {
        rc = hw_fail(msg, cap, "loop(infinite timeout, forever) over a channel that asks for "
                     "nothing returned %d with %d event(s), map size %ld (want 0, none, 1: L6 L7)",
                     r, hw_obs_calls(&g), im->map_size(m));
        goto out;
    }
    g.rd = 1;
    if ((r = im->poll(m, o->backend, -1)) < 0 || g.reads != 1 || g.closes) {
        rc = hw_fail(msg, cap, "a pass with an infinite timeout and input waiting returned %d "
                     "with %d read(s), %d close(s) (want 1 read: L5)", r, g.reads,
                     g.closes);
        goto out;
    }
    /* Nothing to watch once more, after the channel was watched: it
     * stopped asking.  Then a chat that was watched is closed, and the
     * dispatcher that asks for nothing is again all there is (L6, L7). */
    g.rd = 0;
    if ((r = im->loop(m, o->backend, -1, 0)) != 0 || g.reads != 1 || g.closes) {
        rc = hw_fail(msg, cap, "loop(infinite timeout, forever) after the only channel stopped "
                     "asking for input returned %d with %d read(s), %d close(s) (want 0 at "
                     "once, 1, 0: L6 L7)", r, g.reads, g.closes);
        goto out;
    }
    if (hw_chat_pair(im, m, &c, &cpeer, &obs_chat_events, &co) < 0 ||
        im->set_terminator(c, "\n", 1) < 0) {
        rc = hw_fail(msg, cap, "set-up of a chat channel failed");
        goto out;
    }
    (void)!send(cpeer, "a\n", 2, MSG_NOSIGNAL);
    for (int p = 0; p < 100 && co.s.found < 1; p++)
        im->poll(m, o->backend, 10);
    r = im->close(c);
    if (co.s.found != 1 || r != 0) {
        rc = hw_fail(msg, cap, "a chat channel beside the idle dispatcher: %d record(s), close "
                     "returned %d (want 1, 0)", co.s.found, r);
        goto out;
    }
    if ((r = im->loop(m, o->backend, -1, 0)) != 0 || hw_obs_calls(&g) != 1 ||
        im->map_size(m) != 1) {
        rc = hw_fail(msg, cap, "loop(infinite timeout, forever) after the watched chat channel "
                     "was closed, beside a dispatcher that asks for nothing, returned %d, map "
                     "size %ld (want 0 at once, 1: L6 L7)", r, im->map_size(m));
        goto out;
    }
out:
    if (c) im->free(c);
    if (cpeer >= 0) close(cpeer);
    if (d) im->free(d);
    if (sv[1] >= 0) close(sv[1]);
    im->map_free(m);
    return rc;
}

/* ------------------------------------------------------------ EINTR, L8 */

static volatile sig_atomic_t nsignals;
static void on_alarm(int sig)
{
    (void)sig;
    nsignals++;
}

/* A pass that ended early: on EINTR (a signal had arrived during its wait)
 * or on its own (none had: something it watches was ready). */
static int early_end(char *msg, size_t cap, const char *what, int r, double el,
                     double want, int sigs)
{
    if (sigs > 0)
        return hw_fail(msg, cap, "%s returned %d after %.1f ms, after %d signal(s) had "
                       "interrupted its wait: the interrupted wait ended it instead of "
                       "resuming with the remaining time (want no earlier than %.0f ms: L8)",
                       what, r, el, sigs, want);
    return hw_fail(msg, cap, "%s returned %d after %.1f ms, before any signal had arrived "
                   "(want no earlier than %.0f ms: L5, L8)", what, r, el, want);
}

int hw_eintr(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    const char *be = o->backend;
    void *m = NULL, *c = NULL;
    obs_t ob = {0};
    int peer = -1, rc = 0;
    if (im->map_new(&m) < 0 || hw_chat_pair(im, m, &c, &peer, &obs_chat_events, &ob) < 0) {
        if (m) im->map_free(m);
        return hw_fail(msg, cap, "set-up failed");
    }
    /* First without signals: a wait that never blocks (an idle channel
     * reported ready, e.g. always writable, so every pass spins) would
     * look like an EINTR bug below, and is another one. */
    double t0;
    t0 = acc_mono_s();
    int r0 = im->poll(m, be, 30);
    double el0 = ms_since(t0);
    if (r0 < 0 || el0 < 29.0 || hw_obs_calls(&ob.s)) {
        rc = hw_fail(msg, cap, "with no signal at all, a 30 ms pass on an idle channel returned "
                     "%d after %.1f ms with %d event(s): the wait does not block (a channel "
                     "reported ready while idle, e.g. always writable, makes every pass "
                     "spin: L5), so whether an interrupted wait resumes (L8) cannot be seen",
                     r0, el0, hw_obs_calls(&ob.s));
        goto out;
    }
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm; /* no SA_RESTART: the wait sees EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, &old);
    struct itimerval it = {{0, 7000}, {0, 7000}}, stop = {{0, 0}, {0, 0}};
    nsignals = 0;
    setitimer(ITIMER_REAL, &it, NULL);
    t0 = acc_mono_s();
    int r1 = im->poll(m, be, 60);
    double el1 = ms_since(t0);
    int s1 = (int)nsignals;
    t0 = acc_mono_s();
    int r2 = im->loop(m, be, 30, 2);
    double el2 = ms_since(t0);
    int s2 = (int)nsignals - s1;
    setitimer(ITIMER_REAL, &stop, NULL);
    sigaction(SIGALRM, &old, NULL);
    if (r1 < 0 || el1 < 59.0)
        rc = early_end(msg, cap, "a 60 ms pass", r1, el1, 60, s1);
    else if (r2 != 0 || el2 < 59.0)
        rc = early_end(msg, cap, "a loop of 2 x 30 ms", r2, el2, 60, s2);
    else if (hw_obs_calls(&ob.s))
        rc = hw_fail(msg, cap, "signals dispatched %d events on an idle channel (L8)",
                     hw_obs_calls(&ob.s));
    else if (s1 + s2 < 4)
        /* The waits lasted; the signals did not come (a timer every 7 ms
         * gives about 17): the implementation's wait kept them out (a
         * signal mask), or the system did not deliver them. */
        rc = hw_fail(msg, cap, "the waits lasted their %.1f ms and %.1f ms, but only %d SIGALRM "
                     "(one every 7 ms) arrived during them: no wait was interrupted, so L8 "
                     "was not checked (does the implementation block signals while it "
                     "waits?)", el1, el2, s1 + s2);
out:
    im->free(c);
    close(peer);
    im->map_free(m);
    return rc;
}

/* -------------------------------------------- descriptor ceiling, L13 */

int hw_fd_ceiling(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    const char *be = o->backend;
    int high = FD_SETSIZE + 10, rc = 0;
    struct rlimit old, want;
    getrlimit(RLIMIT_NOFILE, &old);
    want = old;
    if (want.rlim_cur <= (rlim_t)high + 1) {
        want.rlim_cur = (rlim_t)high + 64;
        if (want.rlim_max != RLIM_INFINITY && want.rlim_cur > want.rlim_max)
            return hw_fail(msg, cap, "RLIMIT_NOFILE hard limit %llu is too low to open fd %d",
                           (unsigned long long)want.rlim_max, high);
        if (setrlimit(RLIMIT_NOFILE, &want) < 0)
            return hw_fail(msg, cap, "cannot raise RLIMIT_NOFILE: %s", strerror(errno));
    }
    void *m = NULL, *lo = NULL, *hi = NULL;
    obs_t olo = {0}, ohi = {0};
    int sv[2] = {-1, -1}, plo = -1, fd = -1;
    if (im->map_new(&m) < 0 || hw_chat_pair(im, m, &lo, &plo, &obs_chat_events, &olo) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
        (fd = fcntl(sv[0], F_DUPFD_CLOEXEC, high)) < FD_SETSIZE) {
        rc = hw_fail(msg, cap, "set-up of a descriptor >= FD_SETSIZE failed");
        goto out;
    }
    close(sv[0]);
    sv[0] = -1;
    if (im->chat_adopt(&hi, m, fd, &obs_chat_events, &ohi) < 0) {
        rc = hw_fail(msg, cap, "adopting descriptor %d failed", fd);
        goto out;
    }
    fd = -1; /* the channel's now */
    /* Set, not left to the default (T2): what is checked here is L13. */
    if (im->set_terminator(lo, "\n", 1) < 0 || im->set_terminator(hi, "\n", 1) < 0) {
        rc = hw_fail(msg, cap, "set_terminator failed");
        goto out;
    }
    (void)!send(sv[1], "hi", 2, MSG_NOSIGNAL);
    (void)!send(plo, "lo", 2, MSG_NOSIGNAL);
    if (strcmp(be, "select") == 0) {
        /* The ceiling: the pass is refused and dispatches nothing, even
         * for the channel whose descriptor fits. */
        int r = im->poll(m, be, 10);
        if (r != -ERANGE || hw_obs_calls(&olo.s) || hw_obs_calls(&ohi.s))
            rc = hw_fail(msg, cap, "select with descriptor %d: the pass returned %d with %d+%d "
                         "events (want -ERANGE and none: L13)", FD_SETSIZE + 10, r,
                         hw_obs_calls(&olo.s), hw_obs_calls(&ohi.s));
    } else {
        /* No ceiling: any descriptor works (L13, L4). */
        int r = 0;
        for (int p = 0; p < 100 && r >= 0 && (olo.s.n < 2 || ohi.s.n < 2); p++)
            r = im->poll(m, be, 10);
        if (r < 0 || olo.s.n != 2 || ohi.s.n != 2)
            rc = hw_fail(msg, cap, "%s with descriptor >= FD_SETSIZE: pass returned %d, "
                         "collected %zu and %zu of 2 bytes", be, r, olo.s.n, ohi.s.n);
    }
out:
    if (hi) im->free(hi);
    if (lo) im->free(lo);
    if (m) im->map_free(m);
    if (fd >= 0) close(fd);
    if (sv[0] >= 0) close(sv[0]);
    if (sv[1] >= 0) close(sv[1]);
    if (plo >= 0) close(plo);
    setrlimit(RLIMIT_NOFILE, &old);
    return rc;
}

/* ------------------------------------------------ recv outcomes, D11 */

static int wait_readable(int fd)
{
    struct pollfd pf = {fd, POLLIN, 0};
    return poll(&pf, 1, 1000) == 1 ? 0 : -1;
}

int hw_recv_outcomes(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *m = NULL, *d = NULL;
    obs_t ob = {0};
    int sv[2], rc = 0;
    char buf[16];
    long n;
    if (im->map_new(&m) < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return hw_fail(msg, cap, "set-up failed");
    if (im->disp_adopt(&d, m, sv[0], &obs_events, &ob) < 0) {
        close(sv[0]);
        rc = hw_fail(msg, cap, "disp_adopt failed");
        goto out;
    }
    /* No data: "no data", not an end, and the channel stays open. */
    if ((n = im->recv(d, buf, sizeof(buf))) != -EAGAIN || im->fd(d) < 0 || hw_obs_calls(&ob.s)) {
        rc = hw_fail(msg, cap, "recv with no data returned %ld (want -EAGAIN), channel %s, "
                     "%d handler calls (want open, none: D11)", n,
                     im->fd(d) < 0 ? "closed" : "open", hw_obs_calls(&ob.s));
        goto out;
    }
    (void)!send(sv[1], "ab", 2, MSG_NOSIGNAL);
    wait_readable(im->fd(d));
    long n1 = im->recv(d, buf, sizeof(buf));
    int same = n1 == 2 && memcmp(buf, "ab", 2) == 0;
    long n2 = im->recv(d, buf, sizeof(buf));
    if (!same || n2 != -EAGAIN || im->fd(d) < 0) {
        rc = hw_fail(msg, cap, "recv after the peer wrote \"ab\": %ld%s, then %ld "
                     "(want 2, then -EAGAIN with the channel open: D11)", n1,
                     n1 == 2 && !same ? " (wrong bytes)" : "", n2);
        goto out;
    }
    /* End of stream: handle_close has run by the time recv reports it. */
    close(sv[1]);
    sv[1] = -1;
    wait_readable(im->fd(d));
    if ((n = im->recv(d, buf, sizeof(buf))) != 0 || ob.s.closes != 1 || im->fd(d) >= 0) {
        rc = hw_fail(msg, cap, "recv at end of stream returned %ld with %d handle_close "
                     "(want 0 after exactly one, channel closed: D11)", n, ob.s.closes);
        goto out;
    }
    /* A closed channel: socket operations report EBADF, no second close. */
    long r1 = im->recv(d, buf, sizeof(buf)), r2 = im->send(d, "x", 1);
    if (r1 != -EBADF || r2 != -EBADF || ob.s.closes != 1 || ob.s.errors)
        rc = hw_fail(msg, cap, "recv/send on the closed dispatcher returned %ld/%ld with %d "
                     "closes, %d errors (want -EBADF twice, still 1 close: E3 D6)",
                     r1, r2, ob.s.closes, ob.s.errors);
out:
    if (d) im->free(d);
    if (sv[1] >= 0) close(sv[1]);
    im->map_free(m);
    return rc;
}

/* A recv that meets a disconnect errno reports end of stream, after
 * handle_close (D12), just as a plain end of stream does (D11).  An AF_UNIX
 * peer that closes with bytes it never read resets the connection: the
 * channel's next recv fails with ECONNRESET, which the caller must see as
 * 0, not as the errno. */
int hw_recv_disconnect(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *m = NULL, *d = NULL;
    obs_t ob = {0};
    int sv[2], rc = 0;
    char buf[16];
    if (im->map_new(&m) < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return hw_fail(msg, cap, "set-up failed");
    if (im->disp_adopt(&d, m, sv[0], &obs_events, &ob) < 0) {
        close(sv[0]);
        rc = hw_fail(msg, cap, "disp_adopt failed");
        goto out;
    }
    long s = im->send(d, "x", 1);
    if (s != 1) {
        rc = hw_fail(msg, cap, "send of 1 byte to an idle peer returned %ld (want 1)", s);
        goto out;
    }
    close(sv[1]); /* "x" unread: the channel's side is reset */
    sv[1] = -1;
    wait_readable(im->fd(d));
    long n = im->recv(d, buf, sizeof(buf));
    if (n != 0 || ob.s.closes != 1 || ob.s.errors || im->fd(d) >= 0)
        rc = hw_fail(msg, cap, "recv after the peer reset the connection returned %ld with "
                     "%d handle_close, %d handle_error, channel %s (want 0 after exactly one "
                     "handle_close, no error, channel closed: D12)", n, ob.s.closes, ob.s.errors,
                     im->fd(d) >= 0 ? "open" : "closed");
out:
    if (d) im->free(d);
    if (sv[1] >= 0) close(sv[1]);
    im->map_free(m);
    return rc;
}

/* ------------------------------------------ descriptor numbers, M3 L13 */

/* Channels whose descriptors sit at the edges of any power-of-two table
 * (63, 64, 127, 128, 255, 256) are served like the others: an
 * implementation that indexes by descriptor must grow its tables right at
 * those numbers (a memory checker sees an off-by-one write there). */
int hw_fd_edges(const exec_opts_t *o, char *msg, size_t cap)
{
    static const int nums[] = {63, 64, 127, 128, 255, 256};
    enum { N = sizeof(nums) / sizeof(nums[0]) };
    const acc_impl_t *im = o->impl;
    void *m = NULL, *c[N] = {0};
    obs_t ob[N];
    int peer[N], rc = 0;
    memset(ob, 0, sizeof(ob));
    for (int i = 0; i < N; i++)
        peer[i] = -1;
    if (im->map_new(&m) < 0)
        return hw_fail(msg, cap, "map_new failed");
    for (int i = 0; i < N && rc == 0; i++) {
        int sv[2];
        if (fcntl(nums[i], F_GETFD) >= 0 ||
            socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
            rc = hw_fail(msg, cap, "descriptor %d is taken or socketpair failed", nums[i]);
            break;
        }
        int fd = dup3(sv[0], nums[i], O_CLOEXEC);
        close(sv[0]);
        peer[i] = sv[1];
        if (fd != nums[i]) {
            rc = hw_fail(msg, cap, "dup3 to descriptor %d failed", nums[i]);
            break;
        }
        if (im->chat_adopt(&c[i], m, fd, &obs_chat_events, &ob[i]) < 0 ||
            im->set_terminator(c[i], "\n", 1) < 0) {
            if (c[i] == NULL)
                close(fd);
            rc = hw_fail(msg, cap, "a chat channel on descriptor %d: chat_adopt or "
                         "set_terminator failed", nums[i]);
        }
    }
    for (int i = 0; i < N && rc == 0; i++)
        (void)!send(peer[i], "x\n", 2, MSG_NOSIGNAL);
    int all = 0;
    for (int p = 0; p < 100 && rc == 0 && all < N; p++) {
        im->poll(m, o->backend, 10);
        all = 0;
        for (int i = 0; i < N; i++)
            all += ob[i].s.found == 1;
    }
    for (int i = 0; i < N && rc == 0; i++)
        if (ob[i].s.found != 1 || ob[i].s.n != 1 || ob[i].s.closes || ob[i].s.errors)
            rc = hw_fail(msg, cap, "the channel on descriptor %d: %d record(s), %d close(s), "
                         "%d error(s) (want its one record: M3 L13)", nums[i], ob[i].s.found,
                         ob[i].s.closes, ob[i].s.errors);
    for (int i = 0; i < N; i++) {
        if (c[i])
            im->free(c[i]);
        if (peer[i] >= 0)
            close(peer[i]);
    }
    im->map_free(m);
    return rc;
}

/* ------------------------------------------------- urgent data, D21 */

/* An urgent byte among ordinary data: the ordinary bytes are framed as if
 * it were not there, nothing else happens, and once it is consumed a pass
 * waits out its timeout: urgent readiness is not reported again and again
 * (D21, L3).  asyncore's default handle_expt leaves the byte unread. */
int hw_urgent(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *m = NULL, *c = NULL;
    obs_t ob = {0};
    int fds[2] = {-1, -1}, rc = 0;
    if (im->map_new(&m) < 0 || exec_tcp_pair(fds) < 0) {
        if (m) im->map_free(m);
        return hw_fail(msg, cap, "set-up of a loopback TCP connection failed");
    }
    int s = fds[0], peer = fds[1];
    if (im->chat_adopt(&c, m, s, &obs_chat_events, &ob) < 0 ||
        im->set_terminator(c, "\n", 1) < 0) {
        if (c == NULL)
            close(s);
        rc = hw_fail(msg, cap, "chat_adopt or set_terminator failed");
        goto out;
    }
    /* The urgent byte comes last: ordinary reads stop at its mark, so only
     * consuming it can end its readiness (reading past the mark would). */
    (void)!send(peer, "a\n", 2, MSG_NOSIGNAL);
    (void)!send(peer, "!", 1, MSG_NOSIGNAL | MSG_OOB);
    PASS_UNTIL(im, m, o->backend, ob.s.found >= 1);
    for (int p = 0; p < 3; p++)
        im->poll(m, o->backend, 10); /* anything left to report, reported */
    if (ob.s.found != 1 || ob.s.n != 1 || ob.s.closes || ob.s.errors || im->fd(c) < 0) {
        rc = hw_fail(msg, cap, "\"a\\n\" then an urgent \"!\": %d record(s) of %zu byte(s) "
                     "collected, %d closes, %d errors, channel %s (want 1 record \"a\", "
                     "channel open: D21)", ob.s.found, ob.s.n, ob.s.closes, ob.s.errors,
                     im->fd(c) < 0 ? "closed" : "open");
        goto out;
    }
    double t0;
    t0 = acc_mono_s();
    int r = im->poll(m, o->backend, 50);
    double el = ms_since(t0);
    if (r < 0 || el < 45.0) {
        rc = hw_fail(msg, cap, "after the urgent byte a 50 ms pass %s after %.1f ms: urgent "
                     "readiness is reported on every pass (D21, L3)",
                     r < 0 ? "failed" : "returned", el);
        goto out;
    }
    (void)!send(peer, "b\n", 2, MSG_NOSIGNAL);
    PASS_UNTIL(im, m, o->backend, ob.s.found >= 2);
    if (ob.s.found != 2 || ob.s.n != 2 || ob.s.closes || ob.s.errors)
        rc = hw_fail(msg, cap, "after the urgent byte, \"b\\n\": %d record(s) of %zu byte(s) "
                     "in all, %d closes, %d errors (want 2 records \"a\" \"b\": D21)",
                     ob.s.found, ob.s.n, ob.s.closes, ob.s.errors);
out:
    if (c) im->free(c);
    if (peer >= 0) close(peer);
    im->map_free(m);
    return rc;
}

/* Urgent readiness while the socket has a pending error closes the channel
 * through handle_close (D21's last SHOULD).  The peer sends an urgent byte
 * and then resets the connection; every recv meets a spurious "would
 * block" (the interposer, sys-fail), so the read step finds "no data" (D11)
 * and only the urgent step can see the error.  Without it the channel
 * stays open, its error unnoticed, for as long as reads say "no data". */
static int urgent_error_once(const exec_opts_t *o, int with_output, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *m = NULL, *c = NULL;
    obs_t ob = {0};
    int fds[2] = {-1, -1}, rc = 0;
    if (im->map_new(&m) < 0 || exec_tcp_pair(fds) < 0) {
        if (m) im->map_free(m);
        return hw_fail(msg, cap, "set-up of a loopback TCP connection failed");
    }
    int s = fds[0], peer = fds[1];
    if (im->chat_adopt(&c, m, s, &obs_chat_events, &ob) < 0 || im->set_none(c) < 0) {
        if (c == NULL)
            close(s);
        rc = hw_fail(msg, cap, "chat_adopt or set_none failed");
        goto out;
    }
    if (with_output && im->push(c, "x", 1) < 0) {
        rc = hw_fail(msg, cap, "push failed");
        goto out;
    }
    (void)!send(peer, "!", 1, MSG_NOSIGNAL | MSG_OOB);
    struct linger lg = {1, 0};
    (void)setsockopt(peer, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(peer); /* a reset: the channel's socket has ECONNRESET pending */
    peer = -1;
    struct pollfd pf = {im->fd(c), POLLPRI, 0};
    for (int i = 0; i < 100 && !(pf.revents & POLLERR); i++)
        (void)poll(&pf, 1, 10);
    acc_fs_arm(ACC_FS_RECV, ACC_FS_EAGAIN, 0, -1);
    if (with_output) /* the write step runs too, and leaves the channel open */
        acc_fs_arm(ACC_FS_SEND, ACC_FS_EAGAIN, 0, -1);
    PASS_UNTIL(im, m, o->backend, ob.s.closes > 0);
    acc_fs_reset();
    if (ob.s.closes != 1 || ob.s.errors || ob.s.n || im->fd(c) >= 0)
        rc = hw_fail(msg, cap, "an urgent byte, then a reset, with every recv saying \"no "
                     "data\"%s: %d handle_close, %d handle_error, %zu byte(s) collected, "
                     "channel %s (want one handle_close from the urgent step, channel "
                     "closed: D21, D3)", with_output ? " and output queued that every "
                     "send refuses (would block)" : "", ob.s.closes, ob.s.errors, ob.s.n,
                     im->fd(c) >= 0 ? "open" : "closed");
out:
    acc_fs_reset();
    if (c) im->free(c);
    if (peer >= 0) close(peer);
    im->map_free(m);
    return rc;
}

/* Twice: with nothing to send, then with output queued, so that the write
 * step runs in the same readiness report before the urgent step (D3). */
int hw_urgent_error(const exec_opts_t *o, char *msg, size_t cap)
{
    return urgent_error_once(o, 0, msg, cap) || urgent_error_once(o, 1, msg, cap);
}

/* ------------------------------------- synchronous connect failure, D17 */

int hw_connect_sync(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *m = NULL, *c = NULL;
    obs_t ob = {0};
    int rc = 0;
    if (im->map_new(&m) < 0)
        return hw_fail(msg, cap, "map_new failed");
    /* TCP to the limited broadcast address fails inside connect()
     * (ENETUNREACH on Linux): nothing is ever in progress. */
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(80);
    a.sin_addr.s_addr = htonl(INADDR_BROADCAST);
    int r = im->chat_connect(&c, m, (struct sockaddr *)&a, sizeof(a), &obs_chat_events, &ob);
    long size = im->map_size(m);
    for (int p = 0; p < 5; p++)
        im->poll(m, o->backend, 2);
    if (r >= 0 || size != 0 || hw_obs_calls(&ob.s))
        rc = hw_fail(msg, cap, "connect to 255.255.255.255:80 returned %d, map size %ld, then "
                     "%d handler calls (want an error, 0, none: D17)", r, size,
                     hw_obs_calls(&ob.s));
    if (r >= 0 && c)
        im->free(c);
    im->map_free(m);
    return rc;
}

/* --------------------------------------------- accept without fds, D20 */

/* One burst with no descriptor left: a connection pending on l while every
 * number below the limit is in use.  The loop must not spin on it and no
 * handler runs; with check_drop its peer must see the end.  *c is the
 * dialled socket.  0, or 1 with msg set. */
static int emfile_burst(const exec_opts_t *o, void *m, void *l, const obs_t *ob,
                        const struct sockaddr_in *a, int *c, int check_drop,
                        int burst, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    struct rlimit old;
    getrlimit(RLIMIT_NOFILE, &old);
    *c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (*c < 0 || connect(*c, (const struct sockaddr *)a, sizeof(*a)) < 0)
        return hw_fail(msg, cap, "dialling the listener failed");
    int lowest = 0;
    while (fcntl(lowest, F_GETFD) >= 0)
        lowest++;
    struct rlimit tight = old;
    tight.rlim_cur = (rlim_t)lowest;
    setrlimit(RLIMIT_NOFILE, &tight);
    for (int p = 0; p < 3; p++)
        im->poll(m, o->backend, 0);
    double t0;
    t0 = acc_mono_s();
    int r = im->poll(m, o->backend, 50);
    double el = ms_since(t0);
    setrlimit(RLIMIT_NOFILE, &old);
    if (r < 0 || ob->s.accepts != burst - 1 || ob->s.errors || ob->s.closes || im->fd(l) < 0 ||
        im->map_size(m) != 1)
        return hw_fail(msg, cap, "burst %d, accept with no descriptor left: pass %d, %d accepts, "
                       "%d errors, %d closes, listener %s (want no handler call, listener "
                       "open: D20)", burst, r, ob->s.accepts - (burst - 1), ob->s.errors,
                       ob->s.closes, im->fd(l) < 0 ? "closed" : "open");
    if (el < 45.0)
        return hw_fail(msg, cap, "burst %d: with no descriptor left a 50 ms pass returned after "
                       "%.1f ms: the pending connection keeps the loop spinning (D20)",
                       burst, el);
    if (check_drop) {
        struct pollfd pf = {.fd = *c, .events = POLLIN};
        char byte;
        if (poll(&pf, 1, 1000) <= 0 || recv(*c, &byte, 1, MSG_DONTWAIT) > 0)
            return hw_fail(msg, cap, "burst %d: the connection that arrived while no descriptor "
                           "was free was not dropped: its peer saw no end of stream (D20)",
                           burst);
    }
    return 0;
}

/* Two bursts, each followed by descriptors coming back and a connection the
 * listener must then accept: what got the first burst through must still
 * be there for the second.  With check_drop, also the SHOULD of D20: the
 * connection that came while no descriptor was free is dropped (its peer
 * sees the end), not left pending or kept open. */
static int accept_emfile(const exec_opts_t *o, char *msg, size_t cap, int check_drop)
{
    const acc_impl_t *im = o->impl;
    void *m = NULL, *l = NULL;
    obs_t ob = {0};
    int socks[4] = {-1, -1, -1, -1}, rc = 0;
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (im->map_new(&m) < 0 ||
        im->listen(&l, m, (struct sockaddr *)&a, sizeof(a), &obs_events, &ob) < 0 ||
        getsockname(im->fd(l), (struct sockaddr *)&a, &al) < 0) {
        rc = hw_fail(msg, cap, "set-up of a listener failed");
        goto out;
    }
    im->poll(m, o->backend, 0); /* backend state (an epoll fd, say) exists now */
    for (int burst = 1; burst <= 2 && rc == 0; burst++) {
        rc = emfile_burst(o, m, l, &ob, &a, &socks[2 * burst - 2], check_drop, burst,
                          msg, cap);
        for (int i = 0; i < 2 * burst - 1 && rc == 0; i++)
            if (fcntl(socks[i], F_GETFD) < 0)
                rc = hw_fail(msg, cap, "burst %d: the suite's own socket (fd %d) was closed by "
                             "the implementation: it may close only what it owns (E2)",
                             burst, socks[i]);
        if (rc)
            break;
        /* Descriptors are back: the listener still accepts. */
        int *c = &socks[2 * burst - 1];
        *c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (*c < 0 || connect(*c, (struct sockaddr *)&a, sizeof(a)) < 0) {
            rc = hw_fail(msg, cap, "dialling the listener again failed");
            break;
        }
        PASS_UNTIL(im, m, o->backend, ob.s.accepts >= burst);
        if (ob.s.accepts != burst || ob.s.errors || ob.s.closes)
            rc = hw_fail(msg, cap, "after descriptors came back (burst %d): %d accepts, %d "
                         "errors, %d closes (want %d, 0, 0: D20)", burst, ob.s.accepts,
                         ob.s.errors, ob.s.closes, burst);
    }
out:
    for (int i = 0; i < 4; i++)
        if (socks[i] >= 0)
            close(socks[i]);
    if (l) im->free(l);
    im->map_free(m);
    return rc;
}

int hw_accept_emfile(const exec_opts_t *o, char *msg, size_t cap)
{
    return accept_emfile(o, msg, cap, 0);
}

int hw_accept_emfile_drop(const exec_opts_t *o, char *msg, size_t cap)
{
    return accept_emfile(o, msg, cap, 1);
}

/* ------------------------------------------------------ EEXIST, M3 */

int hw_eexist(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *m = NULL, *a = NULL, *b = NULL, *d = NULL;
    obs_t oa = {0}, ob = {0};
    int peer = -1, rc = 0;
    if (im->map_new(&m) < 0 || hw_chat_pair(im, m, &a, &peer, &obs_chat_events, &oa) < 0) {
        rc = hw_fail(msg, cap, "set-up failed");
        goto out;
    }
    /* a's descriptor again, in the same map: refused, a untouched.  On
     * failure the descriptor stays the caller's (here: still a's). */
    int r1 = im->chat_adopt(&b, m, im->fd(a), &obs_chat_events, &ob);
    int r2 = im->disp_adopt(&d, m, im->fd(a), &obs_events, &ob);
    long size = im->map_size(m);
    (void)!send(peer, "x", 1, MSG_NOSIGNAL);
    PASS_UNTIL(im, m, o->backend, oa.s.n >= 1);
    if (r1 != -EEXIST || r2 != -EEXIST || size != 1 || oa.s.n != 1 || oa.s.closes ||
        hw_obs_calls(&ob.s))
        rc = hw_fail(msg, cap, "adopting an fd another channel holds: %d (chat), %d (disp), "
                     "map size %ld; the holder then read %zu of 1 byte (want -EEXIST twice, "
                     "size 1, the holder served: M3)", r1, r2, size, oa.s.n);
    if (r1 >= 0 && b) im->free(b);
    if (r2 >= 0 && d) im->free(d);
out:
    if (a) im->free(a);
    if (peer >= 0) close(peer);
    if (m) im->map_free(m);
    return rc;
}

/* ------------------------------------------------ map destruction, M9 */

/* map (NULL: the thread's default) destroyed by its chat's found handler,
 * inside a pass: refused, so the map keeps its channel, its size is still 1
 * and the next record is served by passes given the same map (M9; for the
 * default map also M1: only a destruction that happened leaves the thread
 * without one).  0, or hw_fail's 1. */
static int free_in_own_pass(const exec_opts_t *o, void *map, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    const char *how = map ? "a map" : "the default map, given as NULL,";
    obs_t ob = {.im = im, .map = map};
    void *c = NULL;
    int peer = -1, rc = 0;
    if (hw_chat_pair(im, map, &c, &peer, &obs_chat_events, &ob) < 0 ||
        im->set_terminator(c, "\n", 1) < 0) {
        rc = hw_fail(msg, cap, "set-up of a chat channel in %s failed", how);
        goto out;
    }
    ob.free_map_in_found = 1;
    (void)!send(peer, "a\n", 2, MSG_NOSIGNAL);
    PASS_UNTIL(im, map, o->backend, ob.s.found >= 1);
    ob.free_map_in_found = 0;
    long size = im->map_size(map);
    int fd = im->fd(c);
    (void)!send(peer, "b\n", 2, MSG_NOSIGNAL);
    PASS_UNTIL(im, map, o->backend, ob.s.found >= 2);
    if (size != 1 || fd < 0 || ob.s.found != 2 || ob.s.closes || ob.s.n != 2)
        rc = hw_fail(msg, cap, "destroying %s inside its own pass: then size %ld, channel %s, "
                     "%d of 2 records (want 1, open, 2: the destruction is refused, M9%s)", how,
                     size, fd < 0 ? "closed" : "open", ob.s.found,
                     map ? "" : "; the map stays the thread's default, M1");
out:
    if (c)
        im->free(c);
    if (peer >= 0)
        close(peer);
    return rc;
}

int hw_map_free(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *m = NULL, *c = NULL;
    obs_t ob = {0};
    int peer = -1, rc = 0;
    char b[16];
    if (im->map_new(&m) < 0 || hw_chat_pair(im, m, &c, &peer, &obs_chat_events, &ob) < 0)
        return hw_fail(msg, cap, "set-up failed");
    im->push(c, "queued", 6);
    im->map_free(m); /* closes c as close_all does; c stays a valid handle */
    int fd = im->fd(c), r1 = im->close(c), r2 = im->push(c, "x", 1);
    ssize_t k = recv(peer, b, sizeof(b), MSG_DONTWAIT);
    if (fd != -1 || r1 != -EBADF || r2 != -EBADF || k != 0 || hw_obs_calls(&ob.s)) {
        rc = hw_fail(msg, cap, "after destroying its map: fd %d, close %d, push %d, peer read "
                     "%zd, %d handler calls (want -1, -EBADF, -EBADF, end of stream, none: M9)",
                     fd, r1, r2, k, hw_obs_calls(&ob.s));
    }
    im->free(c);
    close(peer);
    if (rc)
        return rc;
    /* Destroying a map inside its own pass is refused and changes nothing. */
    if (im->map_new(&m) < 0)
        return hw_fail(msg, cap, "set-up failed");
    rc = free_in_own_pass(o, m, msg, cap);
    im->map_free(m);
    return rc;
}

/* The same refusal on the thread's default map, in a thread of its own,
 * whose default map is new. */
typedef struct {
    const exec_opts_t *o;
    char msg[400];
    int rc;
} own_default_t;

static void *own_default_free(void *arg)
{
    own_default_t *t = arg;
    t->rc = free_in_own_pass(t->o, NULL, t->msg, sizeof(t->msg));
    t->o->impl->map_free(NULL);
    return NULL;
}

int hw_map_free_own_default(const exec_opts_t *o, char *msg, size_t cap)
{
    own_default_t t = {.o = o};
    pthread_t th;
    if (pthread_create(&th, NULL, own_default_free, &t) != 0)
        return hw_fail(msg, cap, "pthread_create failed");
    pthread_join(th, NULL);
    return t.rc ? hw_fail(msg, cap, "%s", t.msg) : 0;
}

/* ---------------------------------- a thread's default map ends, M10 */

typedef struct {
    const acc_impl_t *im;
    obs_t *ob;
    void *ch;
    int fd, peer;
} thr_end_t;

static void *default_user(void *arg)
{
    thr_end_t *t = arg;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return NULL;
    if (t->im->chat_adopt(&t->ch, NULL, sv[0], &obs_chat_events, t->ob) < 0) {
        close(sv[0]);
        close(sv[1]);
        return NULL;
    }
    t->fd = t->im->fd(t->ch);
    t->peer = sv[1];
    return NULL; /* ends with the channel still registered */
}

int hw_default_map_end(const exec_opts_t *o, char *msg, size_t cap)
{
    obs_t ob = {0};
    thr_end_t t = {o->impl, &ob, NULL, -1, -1};
    pthread_t th;
    if (pthread_create(&th, NULL, default_user, &t) != 0)
        return hw_fail(msg, cap, "pthread_create failed");
    pthread_join(th, NULL);
    if (t.ch == NULL)
        return hw_fail(msg, cap, "set-up in the thread failed");
    char b[4];
    int fd_open = fcntl(t.fd, F_GETFD) >= 0;
    ssize_t k = recv(t.peer, b, sizeof(b), MSG_DONTWAIT);
    int rc = 0;
    if (fd_open || k != 0 || hw_obs_calls(&ob.s))
        rc = hw_fail(msg, cap, "after its thread ended, a channel of the default map: fd %s, "
                     "peer read %zd, %d handler calls (want closed, end of stream, none: M10)",
                     fd_open ? "still open" : "closed", k, hw_obs_calls(&ob.s));
    o->impl->free(t.ch); /* the handle outlives its map, closed (M9) */
    close(t.peer);
    return rc;
}
