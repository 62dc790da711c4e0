/* handwritten.c: the conformance tests a case file cannot express: several
 * threads each looping their own map at once, fd numbers reused across
 * maps, a chat channel honouring the map it was given, and the per-thread
 * default map.  They reach the implementation only through the adapter. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runner.h"

#define NTHREADS 4
/* m.threads.own-maps: records per thread.  Enough that every thread is
 * still framing large reads while the others read theirs. */
#define TLINES 12000
#define TLINE_MAX 16

/* A channel's view of its callbacks (s), its bytes kept in buf.  One per
 * channel; touched only by its map's thread. */
typedef struct {
    hw_obs_t s;                 /* first: the hw_obs_* handlers see it */
    char buf[TLINES * TLINE_MAX];
} rec_t;

static void rec_init(rec_t *r) { hw_obs_init(&r->s, r->buf, sizeof(r->buf)); }

/* Calls a chat channel of these tests should never get, and bytes beyond
 * what it can keep. */
static int rec_other(const rec_t *r)
{
    return r->s.errors + r->s.connects + r->s.accepts + r->s.reads + r->s.writes +
           (r->s.n > r->s.cap);
}

static void r_found(void *c)
{
    /* Yielding now and then, in the middle of framing a read, hands the
     * CPU to the other threads' reads: a read buffer they share (M6 wants
     * none) is then overwritten under this one nearly every run. */
    hw_obs_found(c);
    if (((rec_t *)c)->s.found % 32 == 0)
        sched_yield();
}

static const acc_events_t rec_events = {hw_obs_collect, r_found, hw_obs_close, hw_obs_error,
                                        hw_obs_connect, hw_obs_accept, NULL, NULL,
                                        hw_obs_read, hw_obs_write};

int hw_fail(char *msg, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
    return 1;
}

/* --------------------------------------------------- threads, own maps */

/* The common start: threads wait until every one exists (or creating one
 * failed, abort set). */
typedef struct {
    pthread_mutex_t m;
    pthread_cond_t c;
    int go, abort;
} start_t;

typedef struct {
    const exec_opts_t *o;
    int id;
    start_t *start;
    char err[256];
} thr_t;

static int wait_start(start_t *s)
{
    pthread_mutex_lock(&s->m);
    while (!s->go)
        pthread_cond_wait(&s->c, &s->m);
    int abort = s->abort;
    pthread_mutex_unlock(&s->m);
    return abort;
}

static void give_start(start_t *s, int abort)
{
    pthread_mutex_lock(&s->m);
    s->go = 1;
    s->abort = abort;
    pthread_cond_broadcast(&s->c);
    pthread_mutex_unlock(&s->m);
}

/* The thread's whole input, lines "t<id>-<n>\n", and the bytes its records
 * must hold (the lines without their terminators). */
static size_t thread_stream(int id, char *stream, char *want, size_t *nwant)
{
    size_t n = 0;
    *nwant = 0;
    for (int i = 0; i < TLINES; i++) {
        int k = snprintf(stream + n, TLINE_MAX, "t%d-%d\n", id, i);
        memcpy(want + *nwant, stream + n, (size_t)k - 1);
        *nwant += (size_t)k - 1;
        n += (size_t)k;
    }
    return n;
}

/* Each thread: its own map and chat on a socketpair; after a common start
 * its peer writes the whole stream as fast as the socket takes it while
 * the thread loops its map, so all threads read and frame at once. */
static void *thread_main(void *arg)
{
    thr_t *t = arg;
    const acc_impl_t *im = t->o->impl;
    void *map = NULL, *ch = NULL;
    rec_t *r = malloc(sizeof(*r));
    if (r)
        rec_init(r);
    char *stream = malloc(TLINES * TLINE_MAX), *want = malloc(TLINES * TLINE_MAX);
    int sv[2] = {-1, -1};
    if (!r || !stream || !want || im->map_new(&map) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
        im->chat_adopt(&ch, map, sv[0], &rec_events, r) < 0 ||
        im->set_terminator(ch, "\n", 1) < 0) {
        snprintf(t->err, sizeof(t->err), "thread %d: set-up failed", t->id);
        wait_start(t->start);
        goto out;
    }
    size_t nwant, len = thread_stream(t->id, stream, want, &nwant), off = 0;
    if (wait_start(t->start))
        goto out;
    /* Bounded: once everything is written, 50 passes (10 ms each) with no
     * new record end the loop, so lost records fail fast, not by timeout. */
    for (int p = 0, idle = 0, seen = 0; p < 20000 && r->s.found < TLINES && idle < 50; p++) {
        idle = off == len && r->s.found == seen ? idle + 1 : 0;
        seen = r->s.found;
        if (off < len) {
            ssize_t k = send(sv[1], stream + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (k > 0)
                off += (size_t)k;
            else if (errno != EAGAIN) {
                snprintf(t->err, sizeof(t->err), "thread %d: peer send failed: %s",
                         t->id, strerror(errno));
                goto out;
            }
        }
        im->poll(map, t->o->backend, off < len ? 0 : 10);
    }
    if (r->s.found != TLINES || r->s.n != nwant || memcmp(r->buf, want, nwant) ||
        rec_other(r)) {
        size_t at = 0;
        while (at < r->s.n && at < nwant && r->buf[at] == want[at])
            at++;
        snprintf(t->err, sizeof(t->err),
                 "thread %d: found %d of %d records, %zu bytes collected of %zu, the first "
                 "%zu right, %d stray events (a read buffer shared between maps?)",
                 t->id, r->s.found, TLINES, r->s.n, nwant, at, rec_other(r));
    }
out:
    if (ch)
        im->free(ch);
    else if (sv[0] >= 0)
        close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    if (map)
        im->map_free(map);
    free(r);
    free(stream);
    free(want);
    return NULL;
}

static int t_threads(const exec_opts_t *o, char *msg, size_t cap)
{
    pthread_t th[NTHREADS];
    thr_t t[NTHREADS];
    start_t start = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    int started = 0, err = 0;
    while (started < NTHREADS) {
        t[started] = (thr_t){o, started, &start, ""};
        if ((err = pthread_create(&th[started], NULL, thread_main, &t[started])) != 0)
            break;
        started++;
    }
    give_start(&start, started < NTHREADS);
    /* The threads already running use t[] and their own maps: they end
     * before this frame does. */
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (started < NTHREADS)
        return hw_fail(msg, cap, "pthread_create of thread %d of %d failed: %s", started + 1,
                       NTHREADS, strerror(err));
    for (int i = 0; i < NTHREADS; i++)
        if (t[i].err[0])
            return hw_fail(msg, cap, "%s", t[i].err);
    return 0;
}

/* ------------------------------------------------- fd reuse across maps */

/* Puts the suite's end of a new socketpair on descriptor number fd, which
 * must be free: the number a closed channel held.  0, or 1 with the reason
 * in msg (sv[] then holds what is open, -1 elsewhere). */
static int pair_on_number(int fd, int sv[2], char *msg, size_t cap)
{
    sv[0] = sv[1] = -1;
    if (fcntl(fd, F_GETFD) >= 0)
        return hw_fail(msg, cap, "fd %d is still open after close (D8, D9): the "
                       "implementation did not close it, so it cannot be reused", fd);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return hw_fail(msg, cap, "socketpair failed: %s", strerror(errno));
    if (sv[1] == fd) {
        int t = sv[0];
        sv[0] = sv[1];
        sv[1] = t;
    }
    /* The kernel hands out the lowest free number; if another is lower
     * now, move the end onto the freed number: reuse is the test. */
    if (sv[0] != fd) {
        if (dup3(sv[0], fd, O_CLOEXEC) < 0)
            return hw_fail(msg, cap, "dup3 onto the freed fd %d failed: %s", fd,
                           strerror(errno));
        close(sv[0]);
        sv[0] = fd;
    }
    return 0;
}

static int t_fd_reuse(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *ma = NULL, *mb = NULL, *a = NULL, *b = NULL;
    rec_t ra, rb;
    rec_init(&ra);
    rec_init(&rb);
    int s1[2] = {-1, -1}, s2[2] = {-1, -1}, rc = 0;
    if (im->map_new(&ma) < 0 || im->map_new(&mb) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s1) < 0) {
        rc = hw_fail(msg, cap, "set-up failed");
        goto out;
    }
    int fd = s1[0];
    if (im->chat_adopt(&a, ma, s1[0], &rec_events, &ra) < 0) {
        close(s1[0]);
        rc = hw_fail(msg, cap, "chat_adopt failed");
        goto out;
    }
    /* Data waits for a when it is closed; the next socket takes its fd. */
    (void)!send(s1[1], "stale\n", 6, MSG_NOSIGNAL);
    im->close(a);
    if ((rc = pair_on_number(fd, s2, msg, cap)) != 0)
        goto out;
    if (im->chat_adopt(&b, mb, s2[0], &rec_events, &rb) < 0) {
        rc = hw_fail(msg, cap, "chat_adopt on the reused fd failed");
        goto out;
    }
    s2[0] = -1; /* b's now */
    if (im->set_terminator(b, "\n", 1) < 0) {
        rc = hw_fail(msg, cap, "set_terminator on the reused fd failed");
        goto out;
    }
    for (int p = 0; p < 5; p++)
        im->poll(ma, o->backend, 1);
    long na = im->map_size(ma), nb = im->map_size(mb);
    if (ra.s.n || ra.s.found || rec_other(&ra) || rb.s.n || rb.s.found || rec_other(&rb) ||
        na != 0 || nb != 1) {
        rc = hw_fail(msg, cap, "looping map A after its channel closed and map B reused fd %d: "
                     "A events %zu/%d/%d, B events %zu/%d/%d, sizes A=%ld B=%ld (want 0 events, 0, 1)",
                     fd, ra.s.n, ra.s.found, rec_other(&ra), rb.s.n, rb.s.found,
                     rec_other(&rb), na, nb);
        goto out;
    }
    (void)!send(s2[1], "fresh\n", 6, MSG_NOSIGNAL);
    for (int p = 0; p < 50 && rb.s.found == 0; p++)
        im->poll(mb, o->backend, 10);
    if (rb.s.found != 1 || rb.s.n != 5 || memcmp(rb.buf, "fresh", 5) || ra.s.n || ra.s.found)
        rc = hw_fail(msg, cap, "map B's channel on the reused fd got %d records (%.*s), map A's %d",
                     rb.s.found, (int)hw_obs_kept(&rb.s), rb.buf, ra.s.found);
out:
    if (s1[1] >= 0) close(s1[1]);
    if (s2[0] >= 0) close(s2[0]);
    if (s2[1] >= 0) close(s2[1]);
    if (a) im->free(a);
    if (b) im->free(b);
    if (ma) im->map_free(ma);
    if (mb) im->map_free(mb);
    return rc;
}

/* ----------------------------------------------- chat honours its map */

static int t_chat_map(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *m = NULL, *c = NULL;
    rec_t r;
    rec_init(&r);
    int sv[2], rc = 0;
    void *def = im->map_default();
    long def_before = im->map_size(def);
    if (im->map_new(&m) < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return hw_fail(msg, cap, "set-up failed");
    if (im->chat_adopt(&c, m, sv[0], &rec_events, &r) < 0) {
        close(sv[0]);
        rc = hw_fail(msg, cap, "chat_adopt failed");
        goto out;
    }
    im->set_terminator(c, "\n", 1);
    (void)!send(sv[1], "x\n", 2, MSG_NOSIGNAL);
    im->poll(def, o->backend, 1); /* the default map must not serve it */
    if (im->map_size(m) != 1 || im->map_size(def) != def_before || r.s.found) {
        rc = hw_fail(msg, cap, "a chat given map M: size(M)=%ld (want 1), default map grew by %ld, "
                     "records after looping the default map: %d (want 0)",
                     im->map_size(m), im->map_size(def) - def_before, r.s.found);
        goto out;
    }
    for (int p = 0; p < 20 && !r.s.found; p++)
        im->poll(m, o->backend, 10);
    if (r.s.found != 1)
        rc = hw_fail(msg, cap, "looping its own map gave %d records, want 1", r.s.found);
out:
    close(sv[1]);
    if (c) im->free(c);
    if (m) im->map_free(m);
    return rc;
}

/* --------------------------------------------------- per-thread default */

typedef struct {
    const acc_impl_t *im;
    void *map;
    long size_seen;
} def_t;

static void *default_thread(void *arg)
{
    def_t *d = arg;
    d->map = d->im->map_default();
    d->size_seen = d->im->map_size(d->map);
    return NULL;
}

int hw_chat_pair(const acc_impl_t *im, void *map, void **ch, int *peer,
                 const acc_events_t *ev, void *ctx)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    if (im->chat_adopt(ch, map, sv[0], ev, ctx) < 0) {
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    *peer = sv[1];
    return 0;
}

static int t_default_map(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *mine = im->map_default(), *c = NULL;
    rec_t r;
    rec_init(&r);
    int peer;
    if (mine == NULL || mine != im->map_default())
        return hw_fail(msg, cap, "map_default is not stable within a thread");
    if (hw_chat_pair(im, NULL, &c, &peer, &rec_events, &r) < 0)
        return hw_fail(msg, cap, "a chat channel with a NULL map: socketpair or chat_adopt failed");
    long mine_size = im->map_size(mine);
    def_t d = {im, NULL, -1};
    pthread_t th;
    int rc = 0, err = pthread_create(&th, NULL, default_thread, &d);
    if (err == 0)
        pthread_join(th, NULL);
    if (err != 0)
        rc = hw_fail(msg, cap, "pthread_create failed: %s", strerror(err));
    else if (mine_size != 1)
        rc = hw_fail(msg, cap, "a channel created with a NULL map: this thread's default holds %ld (want 1)",
                     mine_size);
    else if (d.map == mine || d.size_seen != 0)
        rc = hw_fail(msg, cap, "another thread's default map is %s this one and holds %ld channels (want 0)",
                     d.map == mine ? "the same as" : "distinct from", d.size_seen);
    im->free(c);
    close(peer);
    return rc;
}

/* Every map operation given NULL acts on this thread's default map: size,
 * a pass, a loop, an exit request and close_all, not only the creation of
 * a channel (M1).  Each step checks what it did to the one channel. */
static int t_null_map(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *def = im->map_default(), *c = NULL;
    rec_t r;
    rec_init(&r);
    int peer, rc = 0;
    long before = im->map_size(def);
    if (hw_chat_pair(im, NULL, &c, &peer, &rec_events, &r) < 0)
        return hw_fail(msg, cap, "a chat channel with a NULL map: socketpair or chat_adopt failed");
    if (im->set_terminator(c, "\n", 1) < 0) {
        rc = hw_fail(msg, cap, "set_terminator failed");
        goto out;
    }
    if (im->map_size(NULL) != before + 1 || im->map_size(def) != before + 1) {
        rc = hw_fail(msg, cap, "after one channel in the default map: map_size(NULL)=%ld, "
                     "map_size(default)=%ld (want %ld)", im->map_size(NULL),
                     im->map_size(def), before + 1);
        goto out;
    }
    (void)!send(peer, "a\n", 2, MSG_NOSIGNAL);
    int prc = 0;
    for (int p = 0; p < 50 && r.s.found < 1 && prc >= 0; p++)
        prc = im->poll(NULL, o->backend, 10);
    if (prc < 0 || r.s.found != 1) {
        rc = hw_fail(msg, cap, "poll(NULL) %s: %d record(s), want 1",
                     prc < 0 ? "failed" : "did not serve the default map", r.s.found);
        goto out;
    }
    (void)!send(peer, "b\n", 2, MSG_NOSIGNAL);
    for (int p = 0; p < 50 && r.s.found < 2 && prc >= 0; p++)
        prc = im->loop(NULL, o->backend, 10, 1);
    if (prc < 0 || r.s.found != 2 || r.s.n != 2 || memcmp(r.buf, "ab", 2) != 0) {
        rc = hw_fail(msg, cap, "loop(NULL) %s: %d record(s) \"%.*s\", want 2 \"ab\"",
                     prc < 0 ? "failed" : "did not serve the default map",
                     r.s.found, (int)hw_obs_kept(&r.s), r.buf);
        goto out;
    }
    if ((im->caps & ACC_CAP_EXIT) && (prc = im->map_exit(NULL)) != 0) {
        rc = hw_fail(msg, cap, "map_exit(NULL) returned %d, want 0", prc);
        goto out;
    }
    /* An exit requested outside any pass must not cost a later pass its
     * events (L9). */
    (void)!send(peer, "c\n", 2, MSG_NOSIGNAL);
    for (int p = 0; p < 50 && r.s.found < 3 && prc >= 0; p++)
        prc = im->poll(NULL, o->backend, 10);
    if (prc < 0 || r.s.found != 3) {
        rc = hw_fail(msg, cap, "a pass after map_exit(NULL) outside any loop %s: "
                     "%d record(s), want 3", prc < 0 ? "failed" : "lost its event",
                     r.s.found);
        goto out;
    }
    prc = im->close_all(NULL);
    if (prc < 0 || im->fd(c) != -1 || im->map_size(def) != 0 || r.s.closes) {
        rc = hw_fail(msg, cap, "close_all(NULL) returned %d; the default map's channel %s, "
                     "map_size(default)=%ld (want 0), handle_close ran %d time(s) (want 0)",
                     prc, im->fd(c) == -1 ? "closed" : "stayed open",
                     im->map_size(def), r.s.closes);
        goto out;
    }
    if (rec_other(&r))
        rc = hw_fail(msg, cap, "%d unexpected handler call(s)", rec_other(&r));
out:
    im->free(c);
    close(peer);
    return rc;
}

/* Loop, dispatcher, map and error tests: handwritten_loop.c. */
typedef int hw_fn_t(const exec_opts_t *o, char *msg, size_t cap);
hw_fn_t hw_timeouts, hw_infinite, hw_eintr, hw_fd_ceiling, hw_recv_outcomes, hw_recv_disconnect,
    hw_connect_sync,
    hw_accept_emfile, hw_accept_emfile_drop, hw_urgent, hw_urgent_error, hw_fd_edges, hw_eexist,
    hw_alloc_failures, hw_map_free, hw_map_free_own_default, hw_default_map_end,
    hw_syscall_faults;
/* Hard faults in set-up calls and a connect's SO_ERROR: handwritten_setup.c. */
hw_fn_t hw_setup_faults;
/* MUST sentences no case caught (docs/spec-audit.md): handwritten_edges.c,
 * handwritten_residue.c. */
hw_fn_t hw_loop_edges, hw_adopt_no_peer, hw_connect_unix, hw_residue;
/* The optional pending-output count: handwritten_pending.c. */
hw_fn_t hw_pending;
/* ABI 2's optional entries (disp_connect, readopt, state, a failing
 * producer): handwritten_abi2.c. */
hw_fn_t hw_dconnect_refused, hw_dconnect_success, hw_readopt, hw_state_listen, hw_producer_fail;
/* Sentences added where the spec left a behaviour open: handwritten_gaps.c. */
hw_fn_t hw_backend_switch, hw_default_after_free, hw_default_absent, hw_dconnect_refused_state,
    hw_default_exit;
/* What the mutation campaign found unchecked: handwritten_core.c. */
hw_fn_t hw_fd_zero, hw_no_fds, hw_default_other, hw_close_in_predicate, hw_recv_reset,
    hw_short_timeouts, hw_open_elsewhere, hw_many_one_closed;

const handwritten_t handwritten[] = {
    {"m.threads.own-maps", "M6 M4 M7", LEVEL_MUST, ACC_CAP_THREADS, t_threads},
    {"m.fd-reuse.across-maps", "M4 L11 M3", LEVEL_MUST, 0, t_fd_reuse},
    {"m.chat.honours-map", "M5 M4", LEVEL_MUST, ACC_CAP_DEFAULT_MAP, t_chat_map},
    {"m.default-map.per-thread", "M1", LEVEL_MUST, ACC_CAP_DEFAULT_MAP, t_default_map},
    {"m.default-map.null-means-default", "M1 M8 L9", LEVEL_MUST, ACC_CAP_DEFAULT_MAP, t_null_map},
    {"l.timeout.bounds", "L5 L6 L7 E3", LEVEL_MUST, 0, hw_timeouts},
    {"l.timeout.infinite", "L5 L6 L7", LEVEL_MUST, ACC_CAP_DISPATCHER, hw_infinite},
    {"l.eintr.resumed", "L8", LEVEL_MUST, 0, hw_eintr},
    {"l.select.fd-ceiling", "L13 L4", LEVEL_MUST, 0, hw_fd_ceiling},
    {"d.recv.outcomes", "D11 E3 D6", LEVEL_MUST, ACC_CAP_DISPATCHER, hw_recv_outcomes},
    {"d.recv.disconnect", "D12 D11 D6", LEVEL_MUST, ACC_CAP_DISPATCHER, hw_recv_disconnect},
    {"d.connect.sync-failure", "D17 E6", LEVEL_MUST, ACC_CAP_CONNECT, hw_connect_sync},
    {"d.accept.no-descriptors", "D20", LEVEL_MUST, ACC_CAP_LISTEN, hw_accept_emfile},
    {"d.accept.no-descriptors-drops", "D20", LEVEL_SHOULD, ACC_CAP_LISTEN, hw_accept_emfile_drop},
    {"d.urgent.no-spin", "D21 L3", LEVEL_SHOULD, 0, hw_urgent},
    {"d.urgent.pending-error", "D21 D11 D3", LEVEL_SHOULD, ACC_CAP_SYSCALL_FAULTS,
     hw_urgent_error},
    {"m.fd.table-edges", "M3 L13", LEVEL_MUST, 0, hw_fd_edges},
    {"m.entries.eexist", "M3 E3", LEVEL_MUST, ACC_CAP_DISPATCHER, hw_eexist},
    {"m.map-free.closes", "M9 D9 D8 P8 P2", LEVEL_MUST, 0, hw_map_free},
    {"m.map-free.default-in-own-pass", "M9 M1", LEVEL_MUST, 0, hw_map_free_own_default},
    {"p.pending.exact", "P15 P1 P9 P10", LEVEL_MUST, ACC_CAP_PENDING, hw_pending},
    {"e.alloc.failures", "E3 E6 E5 T3", LEVEL_MUST, ACC_CAP_ALLOC_FAIL, hw_alloc_failures},
    {"e.syscall.faults", "D11 D12 D17 D20 L8 P3 P12 E6", LEVEL_MUST, ACC_CAP_SYSCALL_FAULTS,
     hw_syscall_faults},
    {"e.syscall.setup-faults", "E1 E6 D1 D16 D17", LEVEL_MUST, ACC_CAP_SYSCALL_FAULTS,
     hw_setup_faults},
    {"m.default-map.thread-end", "M10", LEVEL_SHOULD,
     ACC_CAP_DEFAULT_MAP | ACC_CAP_THREADS, hw_default_map_end},
    {"l.timeout.edges", "L5 L6 L7", LEVEL_MUST, 0, hw_loop_edges},
    {"p.predicates.adopted-without-peer", "P11 P10 D1", LEVEL_MUST, 0, hw_adopt_no_peer},
    {"d.connect.unix-at-once", "D13 D15 D14 P10", LEVEL_MUST, ACC_CAP_CONNECT, hw_connect_unix},
    {"e.residue.failed-constructors", "E6 E3 M3 D17", LEVEL_MUST, 0, hw_residue},
    {"d.dconnect.refused", "D16 D15 D2", LEVEL_MUST, ACC_CAP_DISP_CONNECT, hw_dconnect_refused},
    {"d.dconnect.success", "D15 D14 D13 D2", LEVEL_MUST, ACC_CAP_DISP_CONNECT,
     hw_dconnect_success},
    {"d.readopt.refused", "D1 E6", LEVEL_MUST, ACC_CAP_READOPT, hw_readopt},
    {"d.state.listen-adopt-close", "D1 D19", LEVEL_MUST, ACC_CAP_STATE | ACC_CAP_LISTEN,
     hw_state_listen},
    {"p.producer.fails", "P4 P3", LEVEL_MUST, ACC_CAP_PRODUCER_FAIL | ACC_CAP_PRODUCER,
     hw_producer_fail},
    {"l.fd.descriptor-zero", "L13 D1 M8 L6", LEVEL_MUST, 0, hw_fd_zero},
    {"e.no-descriptors.pass-and-listen", "E1 E6 L3", LEVEL_MUST, 0, hw_no_fds},
    {"m.default-map.other-map-freed", "M4 M9 M1", LEVEL_MUST, ACC_CAP_DEFAULT_MAP, hw_default_other},
    {"l.predicates.close-in-predicate", "D7 L10 L1", LEVEL_MUST, ACC_CAP_DISPATCHER,
     hw_close_in_predicate},
    {"d.recv.reset", "D12 D11", LEVEL_MUST, ACC_CAP_DISPATCHER, hw_recv_reset},
    {"l.timeout.short-and-whole", "L5", LEVEL_MUST, 0, hw_short_timeouts},
    {"l.fd-reuse.socket-open-elsewhere", "L11 L5 D8", LEVEL_MUST, ACC_CAP_DISPATCHER,
     hw_open_elsewhere},
    {"d.close.one-of-many-closed-behind", "L12 D5", LEVEL_MUST, 0, hw_many_one_closed},
    {"l.backend.switch-per-pass", "L4 L2 P3", LEVEL_MUST, 0, hw_backend_switch},
    {"m.default-map.after-free", "M1 M9", LEVEL_MUST, ACC_CAP_DEFAULT_MAP, hw_default_after_free},
    {"m.default-map.exit-from-handler", "L9 M1", LEVEL_MUST, ACC_CAP_DEFAULT_MAP | ACC_CAP_EXIT,
     hw_default_exit},
    {"m.default-map.absent-no-memory", "M1 E3", LEVEL_MUST,
     ACC_CAP_ALLOC_FAIL | ACC_CAP_DEFAULT_MAP | ACC_CAP_THREADS, hw_default_absent},
    {"d.dconnect.refused-state", "D16", LEVEL_MUST, ACC_CAP_DISP_CONNECT | ACC_CAP_STATE,
     hw_dconnect_refused_state},
};
const int nhandwritten = sizeof(handwritten) / sizeof(handwritten[0]);
