/* handwritten_faults.c: syscall faults, one call at a time.  For each
 * scenario (a chat channel framing input and sending output, a plain
 * dispatcher's recv and send, a listener accepting, a connect) and each
 * fault that its calls can meet, call k of that kind gets the fault, for
 * k = 0, 1, ... until the scenario ends without making call k.  Each fault
 * must lose nothing and end as the spec says.  Needs ACC_CAP_SYSCALL_FAULTS
 * (failsys.c). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "runner.h"

#define MAX_CALLS 64   /* more calls of one kind in a scenario: a runaway */
#define PASSES 400     /* bound on the passes of one scenario */

/* What a channel's callbacks saw.  in: the collected bytes, with '|' for
 * each found_terminator (the scenarios send no '|'), or a plain
 * dispatcher's read bytes. */
typedef struct {
    const acc_impl_t *im;
    void *h;
    char in[256];
    size_t nin;
    int closes, errors, err, connects, accepts, other;
    int acc[4], nacc;
    long bad_recv;      /* a plain recv result that is none of D11's three */
} rec_t;

static void add_in(rec_t *r, const void *p, size_t n)
{
    if (n > sizeof(r->in) - r->nin)
        n = sizeof(r->in) - r->nin;
    memcpy(r->in + r->nin, p, n);
    r->nin += n;
}

static void f_collect(void *c, const void *p, size_t n) { add_in(c, p, n); }
static void f_found(void *c) { add_in(c, "|", 1); }
static void f_close(void *c) { ((rec_t *)c)->closes++; }
static void f_error(void *c, int e)
{
    ((rec_t *)c)->errors++;
    ((rec_t *)c)->err = e;
}
static void f_connect(void *c) { ((rec_t *)c)->connects++; }
static void f_accept(void *c, int fd)
{
    rec_t *r = c;
    r->accepts++;
    if (r->nacc < 4)
        r->acc[r->nacc++] = fd;
    else
        close(fd);
}
static int f_readable(void *c) { (void)c; return 1; }
static int f_writable(void *c) { (void)c; return 0; }
static void f_read(void *c)
{
    rec_t *r = c;
    char buf[64];
    long n = r->im->recv(r->h, buf, sizeof(buf));
    if (n > 0)
        add_in(r, buf, (size_t)n);
    else if (n != -EAGAIN && n != 0)
        r->bad_recv = n;
}
static void f_write(void *c) { ((rec_t *)c)->other++; }

static const acc_events_t rec_events = {f_collect, f_found, f_close, f_error,
                                        f_connect, f_accept, f_readable,
                                        f_writable, f_read, f_write};

/* One scenario with call k of kind getting fault f: 0 when the spec held,
 * 1 with msg set.  Scenarios arm the interposer themselves, after their
 * set-up, and disarm it before checking. */
typedef struct {
    const exec_opts_t *o;
    acc_fs_kind_t kind;
    acc_fs_fault_t fault;
    long k;
    char *msg;
    size_t cap;
} try_t;

static int tfail(const try_t *t, const char *scen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int tfail(const try_t *t, const char *scen, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return hw_fail(t->msg, t->cap, "%s, %s call %ld failing with %s: %s", scen,
                   acc_fs_kind_name(t->kind), t->k, acc_fs_fault_name(t->fault), what);
}

static void arm(const try_t *t)
{
    acc_fs_reset();
    acc_fs_arm(t->kind, t->fault, t->k, 1);
}

/* Reads what the peer has, appending to buf. */
static void drain_peer(int peer, char *buf, size_t cap, size_t *n)
{
    ssize_t k;
    while (*n < cap && (k = recv(peer, buf + *n, cap - *n, MSG_DONTWAIT)) > 0)
        *n += (size_t)k;
}

/* The bytes a chat scenario sends each way. */
static char out_bytes[3000];

static void fill_out(void)
{
    for (size_t i = 0; i < sizeof(out_bytes); i++)
        out_bytes[i] = (char)('a' + i % 23);
}

/* A chat channel frames "abc\ndef\ngh" sent in two pieces and sends 3000
 * pushed bytes (several sends when the implementation takes a buffer size).
 * Whatever call fails: the same records, every byte in order, no close, no
 * error, every pass >= 0 (D11, D12, P3, P12, L8, T6). */
static int chat_scenario(const try_t *t)
{
    static const char *const S = "chat channel";
    const acc_impl_t *im = t->o->impl;
    void *m = NULL, *c = NULL;
    rec_t r = {.im = im};
    int peer = -1, rc = 0;
    static char got[sizeof(out_bytes) + 16];
    size_t ngot = 0;
    if (im->map_new(&m) < 0 || hw_chat_pair(im, m, &c, &peer, &rec_events, &r) < 0 ||
        im->set_terminator(c, "\n", 1) < 0 ||
        ((im->caps & ACC_CAP_BUFSIZE) && im->set_buffer_sizes(c, 4, 1000) < 0)) {
        if (m)
            im->map_free(m);
        return hw_fail(t->msg, t->cap, "%s: set-up failed", S);
    }
    r.h = c;
    arm(t);
    int pr = 0, p, sent2 = 0;
    (void)!send(peer, "abc\nde", 6, MSG_NOSIGNAL);
    int push = im->push(c, out_bytes, sizeof(out_bytes));
    for (p = 0; p < PASSES && pr >= 0; p++) {
        pr = im->poll(m, t->o->backend, 2);
        drain_peer(peer, got, sizeof(got), &ngot);
        if (!sent2 && r.nin >= 4) {
            (void)!send(peer, "f\ngh", 4, MSG_NOSIGNAL);
            sent2 = 1;
        }
        if (sent2 && r.nin >= 10 && ngot >= sizeof(out_bytes))
            break;
        if (r.closes || r.errors)
            break;
    }
    for (int q = 0; q < 2 && pr >= 0; q++) /* nothing more may happen */
        pr = im->poll(m, t->o->backend, 0);
    drain_peer(peer, got, sizeof(got), &ngot);
    acc_fs_disarm(t->kind);
    char in[300];
    acc_escape(in, sizeof(in), (const unsigned char *)r.in, r.nin);
    if (push != 0)
        rc = tfail(t, S, "push returned %d before any pass (want 0: P2)", push);
    else if (pr < 0)
        rc = tfail(t, S, "a pass returned %d (want >= 0: an interrupted or refused call "
                   "is no error of the pass, L8 E5)", pr);
    else if (r.closes || r.errors)
        rc = tfail(t, S, "handle_close ran %d time(s), handle_error %d time(s)%s%s (want "
                   "neither: EAGAIN is no data and never closes, D11 D12 P12; EINTR is "
                   "retried, L8)", r.closes, r.errors, r.errors ? ", last with " : "",
                   r.errors ? acc_errno_name(-r.err) : "");
    else if (r.nin != 10 || memcmp(r.in, "abc|def|gh", 10) != 0)
        rc = tfail(t, S, "the record stream was \"%s\" after %d passes (want "
                   "\"abc|def|gh\", '|' marking found_terminator: nothing lost, D11 T6)",
                   in, p);
    else if (ngot != sizeof(out_bytes) || memcmp(got, out_bytes, ngot) != 0)
        rc = tfail(t, S, "the peer got %zu of %zu pushed bytes%s (want all, in order: "
                   "a refused or short send consumes only what left, P3 P12 D12)", ngot,
                   sizeof(out_bytes), ngot == sizeof(out_bytes) ? ", not in order" : "");
    else if (im->fd(c) < 0 || im->map_size(m) != 1)
        rc = tfail(t, S, "the channel is %s and the map holds %ld (want open, 1: D11)",
                   im->fd(c) < 0 ? "closed" : "open", im->map_size(m));
    im->free(c);
    close(peer);
    im->map_free(m);
    return rc;
}

/* A plain dispatcher: its handle_read calls recv on 36 bytes sent in two
 * pieces, while the test sends 500 bytes, 100 per send outside any pass,
 * resending from what send reported.
 * recv has three outcomes (D11); send reports what left, 0 when it would
 * block (D12); neither reports EINTR (L8); nothing is lost. */
static int disp_scenario(const try_t *t)
{
    static const char *const S = "plain dispatcher";
    const acc_impl_t *im = t->o->impl;
    void *m = NULL, *d = NULL;
    rec_t r = {.im = im};
    int sv[2] = {-1, -1}, rc = 0, p;
    static char got[600];
    size_t ngot = 0, off = 0;
    if (im->map_new(&m) < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
        im->disp_adopt(&d, m, sv[0], &rec_events, &r) < 0) {
        if (sv[0] >= 0) {
            close(sv[0]);
            close(sv[1]);
        }
        if (m)
            im->map_free(m);
        return hw_fail(t->msg, t->cap, "%s: set-up failed", S);
    }
    r.h = d;
    arm(t);
    (void)!send(sv[1], "0123456789", 10, MSG_NOSIGNAL);
    long bad_send = 0;
    int sent2 = 0;
    for (p = 0; p < PASSES && (r.nin < 36 || off < 500) && !r.closes && !r.errors &&
                !r.bad_recv && !bad_send; p++) {
        if (off < 500) {
            size_t want = 500 - off < 100 ? 500 - off : 100;
            long n = im->send(d, out_bytes + off, want);
            if (n < 0 || (size_t)n > want)
                bad_send = n < 0 ? n : -1;
            else
                off += (size_t)n;
        }
        im->poll(m, t->o->backend, 1);
        drain_peer(sv[1], got, sizeof(got), &ngot);
        if (!sent2 && r.nin >= 10)
            sent2 = send(sv[1], "abcdefghijklmnopqrstuvwxyz", 26, MSG_NOSIGNAL) == 26;
    }
    drain_peer(sv[1], got, sizeof(got), &ngot);
    acc_fs_disarm(t->kind);
    if (r.bad_recv)
        rc = tfail(t, S, "recv returned %ld (want a count, or -EAGAIN for no data: D11's "
                   "three outcomes; EINTR is retried, L8)", r.bad_recv);
    else if (bad_send)
        rc = tfail(t, S, "send returned %ld (want the bytes sent, 0 when it would block: "
                   "D12; EINTR is retried, L8)", bad_send);
    else if (r.closes || r.errors)
        rc = tfail(t, S, "handle_close ran %d time(s), handle_error %d time(s) (want "
                   "neither: D11 D12)", r.closes, r.errors);
    else if (r.nin != 36 || memcmp(r.in, "0123456789abcdefghijklmnopqrstuvwxyz", 36) != 0)
        rc = tfail(t, S, "handle_read's recv calls returned %zu of 36 bytes%s (want all, in "
                   "order: D11)", r.nin, r.nin == 36 ? ", not in order" : "");
    else if (ngot != 500 || memcmp(got, out_bytes, 500) != 0)
        rc = tfail(t, S, "send reported %zu bytes sent, the peer got %zu%s (want 500 and "
                   "the same bytes: D12)", off, ngot, ngot == off ? ", not those sent" : "");
    im->free(d);
    close(sv[1]);
    im->map_free(m);
    return rc;
}

/* A listener with two connections pending.  An aborted, interrupted or
 * refused accept runs no handler and leaves the listener open (D20, L8);
 * with EMFILE a connection may be dropped (its peer sees the end), none is
 * lost in between; a later connection is accepted. */
static int accept_scenario(const try_t *t)
{
    static const char *const S = "listener";
    const acc_impl_t *im = t->o->impl;
    void *m = NULL, *l = NULL;
    rec_t r = {.im = im};
    int dial[3] = {-1, -1, -1}, rc = 0, dropped = 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    if (im->map_new(&m) < 0 ||
        im->listen(&l, m, (struct sockaddr *)&a, sizeof(a), &rec_events, &r) < 0 ||
        getsockname(im->fd(l), (struct sockaddr *)&a, &al) < 0) {
        if (m)
            im->map_free(m);
        return hw_fail(t->msg, t->cap, "%s: set-up failed", S);
    }
    for (int i = 0; i < 2; i++) {
        dial[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (dial[i] < 0 || connect(dial[i], (struct sockaddr *)&a, sizeof(a)) < 0) {
            rc = hw_fail(t->msg, t->cap, "%s: dialling failed", S);
            goto out;
        }
    }
    arm(t);
    for (int p = 0; p < PASSES / 4 && r.accepts + dropped < 2 && !r.errors && !r.closes; p++) {
        im->poll(m, t->o->backend, 2);
        dropped = 0;
        for (int i = 0; i < 2; i++) {
            char b;
            ssize_t n = recv(dial[i], &b, 1, MSG_DONTWAIT);
            dropped += n == 0 || (n < 0 && errno == ECONNRESET);
        }
    }
    acc_fs_disarm(t->kind);
    int bad_fd = 0;
    for (int i = 0; i < r.nacc; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        bad_fd += getpeername(r.acc[i], (struct sockaddr *)&ss, &sl) < 0;
    }
    if (r.errors || r.closes || im->fd(l) < 0 || im->map_size(m) != 1) {
        rc = tfail(t, S, "handle_error ran %d time(s), handle_close %d, listener %s (want no "
                   "handler call and the listener open: D20)", r.errors, r.closes,
                   im->fd(l) < 0 ? "closed" : "open");
    } else if (bad_fd) {
        rc = tfail(t, S, "handle_accept got %d descriptor(s) that are no connected socket "
                   "(D20: only a valid socket)", bad_fd);
    } else if (r.accepts + dropped != 2 ||
               (dropped && t->fault != ACC_FS_EMFILE)) {
        rc = tfail(t, S, "of 2 pending connections %d were accepted and %d dropped (want "
                   "both accepted%s: D20, L3)", r.accepts, dropped,
                   t->fault == ACC_FS_EMFILE ? ", or one dropped for want of a descriptor" : "");
    } else {
        dial[2] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int before = r.accepts;
        if (dial[2] < 0 || connect(dial[2], (struct sockaddr *)&a, sizeof(a)) < 0)
            rc = hw_fail(t->msg, t->cap, "%s: dialling failed", S);
        for (int p = 0; rc == 0 && p < PASSES / 4 && r.accepts == before; p++)
            im->poll(m, t->o->backend, 2);
        if (rc == 0 && r.accepts != before + 1)
            rc = tfail(t, S, "a connection made afterwards was not accepted (want the "
                       "listener still serving: D20)");
    }
out:
    for (int i = 0; i < r.nacc; i++)
        close(r.acc[i]);
    for (int i = 0; i < 3; i++)
        if (dial[i] >= 0)
            close(dial[i]);
    im->free(l);
    im->map_free(m);
    return rc;
}

/* A connect that fails at once: connect reports the error, the channel is
 * closed and unregistered, no handler runs (D17), nothing leaks (E6). */
static int connect_scenario(const try_t *t)
{
    static const char *const S = "connect";
    const acc_impl_t *im = t->o->impl;
    void *m = NULL, *c = NULL;
    rec_t r = {.im = im};
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc = 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 4) < 0 ||
        getsockname(ls, (struct sockaddr *)&a, &al) < 0 || im->map_new(&m) < 0) {
        if (ls >= 0)
            close(ls);
        return hw_fail(t->msg, t->cap, "%s: set-up failed", S);
    }
    arm(t);
    int cr = im->chat_connect(&c, m, (struct sockaddr *)&a, sizeof(a), &rec_events, &r);
    int injected = acc_fs_injected(ACC_FS_CONNECT) > 0;
    for (int p = 0; p < 5; p++)
        im->poll(m, t->o->backend, 2);
    acc_fs_disarm(t->kind);
    int acc = -1;
    for (int p = 0; cr == 0 && !injected && p < 100 && !r.connects; p++)
        im->poll(m, t->o->backend, 2);
    if (injected && (cr != -ECONNREFUSED || im->map_size(m) != 0 || r.connects ||
                     r.errors || r.closes || r.other))
        rc = tfail(t, S, "connect returned %d, the map holds %ld, then %d connect, %d error, "
                   "%d close call(s) (want -ECONNREFUSED, 0, no handler: D17)", cr,
                   im->map_size(m), r.connects, r.errors, r.closes);
    else if (!injected && (cr != 0 || r.connects != 1 || (acc = accept(ls, NULL, NULL)) < 0))
        rc = tfail(t, S, "an unhindered connect returned %d, with %d handle_connect (want "
                   "0, 1: D15)", cr, r.connects);
    if (acc >= 0)
        close(acc);
    if (cr == 0 && c)
        im->free(c);
    close(ls);
    im->map_free(m);
    return rc;
}

/* L8 in time: a pass whose wait is interrupted with input waiting still
 * dispatches it; an idle pass of 30 ms interrupted 16 times (each 10 ms
 * in, if that much is left) lasts 30 ms, not the 190 ms of a wait restarted
 * with its whole timeout, and reports nothing. */
static int wait_timing(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *m = NULL, *c = NULL;
    rec_t r = {.im = im};
    int peer = -1, rc = 0;
    if (im->map_new(&m) < 0 || hw_chat_pair(im, m, &c, &peer, &rec_events, &r) < 0 ||
        im->set_terminator(c, "\n", 1) < 0) {
        if (m)
            im->map_free(m);
        return hw_fail(msg, cap, "wait: set-up failed");
    }
    (void)!send(peer, "x\n", 2, MSG_NOSIGNAL);
    acc_fs_reset();
    acc_fs_arm(ACC_FS_WAIT, ACC_FS_EINTR, 0, 3);
    int pr = im->poll(m, o->backend, 1000);
    long hit = acc_fs_injected(ACC_FS_WAIT);
    if (hit == 0)
        rc = hw_fail(msg, cap, "the implementation declares sys-fail, but its pass made no "
                     "wait through acc_fs_poll, acc_fs_select or acc_fs_epoll_wait");
    else if (pr < 0 || r.nin != 2 || r.closes || r.errors)
        rc = hw_fail(msg, cap, "a pass whose wait met EINTR %ld time(s) with \"x\\n\" waiting "
                     "returned %d having delivered %zu byte(s) (want >= 0 and the record "
                     "in that pass: the wait resumes, L8)", hit, pr, r.nin);
    /* Only the upper bound depends on the machine's load: a second try
     * keeps one descheduled moment from failing a correct wait, while a
     * wait restarted whole overshoots every time. */
    double ms = 0;
    for (int attempt = 0; attempt < 2 && rc == 0; attempt++) {
        acc_fs_reset();
        acc_fs_arm(ACC_FS_WAIT, ACC_FS_EINTR, 0, 16);
        double t0 = acc_mono_s();
        pr = im->poll(m, o->backend, 30);
        ms = (acc_mono_s() - t0) * 1e3;
        hit = acc_fs_injected(ACC_FS_WAIT);
        acc_fs_reset();
        int bad = pr < 0 || ms < 29.0 || r.nin != 2 || r.closes || r.errors;
        if (!bad && ms <= 120.0)
            break;
        if (bad || attempt == 1)
            rc = hw_fail(msg, cap, "an idle 30 ms pass whose wait met EINTR %ld time(s), %d ms "
                         "in each, returned %d after %.1f ms with %s (want >= 0 after 30 ms, "
                         "well under 120, and no event: resumed with the remaining time, "
                         "L8 L5)", hit, ACC_FS_WAIT_EINTR_MS, pr, ms,
                         r.nin != 2 || r.closes || r.errors ? "events" : "no event");
    }
    im->free(c);
    close(peer);
    im->map_free(m);
    return rc;
}

typedef int scenario_fn(const try_t *t);

int hw_syscall_faults(const exec_opts_t *o, char *msg, size_t cap)
{
    static const struct {
        const char *name;
        scenario_fn *fn;
        unsigned needs;
        acc_fs_kind_t kinds[3];
        int nkinds;
    } scen[] = {
        {"chat channel", chat_scenario, 0, {ACC_FS_RECV, ACC_FS_SEND, ACC_FS_WAIT}, 3},
        {"plain dispatcher", disp_scenario, ACC_CAP_DISPATCHER, {ACC_FS_RECV, ACC_FS_SEND}, 2},
        {"listener", accept_scenario, ACC_CAP_LISTEN, {ACC_FS_ACCEPT}, 1},
        {"connect", connect_scenario, ACC_CAP_CONNECT, {ACC_FS_CONNECT}, 1},
    };
    fill_out();
    if (wait_timing(o, msg, cap))
        return 1;
    for (size_t s = 0; s < sizeof(scen) / sizeof(scen[0]); s++) {
        if ((o->impl->caps & scen[s].needs) != scen[s].needs)
            continue;
        for (int ki = 0; ki < scen[s].nkinds; ki++) {
            acc_fs_kind_t kind = scen[s].kinds[ki];
            for (int f = 0; f < ACC_FS__FAULTS; f++) {
                /* hard errors end the scenario by design: their cases
                 * (d.fault.*-error, p.fault.send-error) check them */
                if (!acc_fs_applies(kind, (acc_fs_fault_t)f) ||
                    !acc_fs_transient((acc_fs_fault_t)f))
                    continue;
                int fds = exec_count_fds();
                long k;
                try_t t = {o, kind, (acc_fs_fault_t)f, 0, msg, cap};
                for (k = 0; k < MAX_CALLS; k++) {
                    t.k = k;
                    if (scen[s].fn(&t))
                        return 1;
                    long calls = acc_fs_calls(kind);
                    acc_fs_reset();
                    if (k == 0 && calls == 0)
                        return hw_fail(msg, cap, "the implementation declares sys-fail, but "
                                       "the %s scenario made no %s call through the "
                                       "interposer (acc_fs_*)", scen[s].name,
                                       acc_fs_kind_name(kind));
                    if (calls <= k)
                        break;
                }
                if (k == MAX_CALLS)
                    return hw_fail(msg, cap, "the %s scenario still made %s call %d: more "
                                   "calls than it should take", scen[s].name,
                                   acc_fs_kind_name(kind), MAX_CALLS);
                if (exec_count_fds() != fds)
                    return hw_fail(msg, cap, "the %s scenario under %s faults on %s: %d "
                                   "descriptor(s) %s (E6)", scen[s].name,
                                   acc_fs_fault_name((acc_fs_fault_t)f),
                                   acc_fs_kind_name(kind), exec_count_fds() - fds,
                                   exec_count_fds() > fds ? "leaked" : "lost");
            }
        }
    }
    return 0;
}
