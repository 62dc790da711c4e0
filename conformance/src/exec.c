/* exec.c: the interpreter of case steps.  The suite keeps the peer end of
 * every socket, records the implementation's callbacks as per-channel event
 * queues (adjacent collects merged: their split is not normative), runs
 * reactions inside the callbacks, and checks expectations, waiting for the
 * loop where the model allows it to take a few passes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "exec.h"
#include "failsys.h"

#define MAX_ACCEPTED 8
#define WAIT_MS 2000        /* longest wait for an expected event */
#define SETTLE_PASSES 2000  /* bound on passes while settling */

typedef struct {
    ev_kind_t kind;
    unsigned char *bytes;
    size_t n, off;      /* data: bytes [off, n) not yet matched */
    size_t cap;         /* bytes' room: merged collects grow it by doubling,
                         * so a record of a million 1-byte collects costs
                         * linear time, under ASan too (its realloc copies) */
    int err;
    int prod;
    /* Where it was delivered: inside the operation step at op_line (op),
     * or (op_line 0) from a pass. */
    op_t op;
    int op_line;
} event_t;

struct run;

typedef struct chan {
    struct run *run;
    int idx;
    void *h;            /* implementation handle, NULL when none */
    int peer;           /* the suite's end, -1 */
    int map;
    int plain;          /* plain dispatcher (read/write events) */
    int readable, writable;
    acc_events_t ev;    /* its callbacks: events plus its creation options */
    event_t *evs;
    size_t nev, head, cap;
    uint64_t seen[EV__COUNT];
    int accepted[MAX_ACCEPTED];
    int nacc;
    unsigned char *pend; /* one-shot: sends not yet written */
    size_t npend;
    uint64_t nreadable, nwritable; /* predicate calls since last counted */
    unsigned char *sent; /* bytes sendraw reported sent, not yet checked */
    size_t nsent;
} chan_t;

/* A queued producer.  Its chunks are the suite's own heap copies: when it
 * is released they are overwritten and freed, so an implementation that
 * kept a chunk by pointer instead of copying it sends garbage (P1, P4). */
typedef struct prodctx {
    struct run *run;
    int ch, prod;
    unsigned char **chunks;
    size_t *lens, n;
    int released;
    struct prodctx *next;
} prodctx_t;

typedef struct run {
    const acc_case_t *c;
    const exec_opts_t *o;
    const acc_impl_t *im;
    void *maps[CASE_MAX_NAMES];
    chan_t ch[CASE_MAX_NAMES];
    prodctx_t *prods;
    char *msg;
    size_t msglen;
    verdict_t verdict;  /* V_PASS until a failure or a skip */
    const step_t *cur;  /* step being run, for messages */
    uint64_t events;    /* total recorded, to see progress */
    uint64_t rng;
    int depth;          /* callbacks on the stack: no loop-driving steps */
    const step_t *op;   /* step running outside any pass, NULL in a pass */
    int nowait;         /* expect-now: look at what is queued, run no pass */
    int64_t last_ms;    /* duration of the last pass or loop step, -1 */
} run_t;

/* The first failure is the run's message; a skip (V_SKIP) stops the
 * steps, but a failure found after it (in teardown) still fails the run. */
static int failf(run_t *r, const char *fmt, ...)
{
    if (r->verdict == V_FAIL)
        return -1;
    r->verdict = V_FAIL;
    int n = 0;
    if (r->cur)
        n = snprintf(r->msg, r->msglen, "%s:%d: ", r->c->file, r->cur->line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg + n, r->msglen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static uint64_t rnd(run_t *r)
{
    r->rng ^= r->rng << 13;
    r->rng ^= r->rng >> 7;
    r->rng ^= r->rng << 17;
    return r->rng;
}

static const char *name(run_t *r, int ch)
{
    return r->c->names[ch];
}

/* Tells a parent that outlives this run where it is (exec_where_t). */
static void at(run_t *r, exec_phase_t phase, const step_t *st)
{
    exec_where_t *w = r->o->where;
    if (w == NULL)
        return;
    w->line = st ? st->line : 0;
    w->phase = phase;
}

/* ------------------------------------------------------------ events -- */

static int exec_step(run_t *r, const step_t *st);

static void fire_reactions(run_t *r, chan_t *ch, ev_kind_t kind)
{
    const acc_case_t *c = r->c;
    uint64_t nth = ch->seen[kind];
    for (int i = 0; i < c->nreactions && r->verdict == V_PASS; i++) {
        const reaction_t *re = &c->reactions[i];
        if (re->ch == ch->idx && re->ev == kind &&
            (re->nth == 0 || re->nth == nth)) {
            const step_t *saved = r->cur;
            exec_where_t was = r->o->where ? *r->o->where : (exec_where_t){0};
            r->cur = &re->action;
            at(r, EXEC_AT_STEP, &re->action);
            exec_step(r, &re->action);
            r->cur = saved;
            if (r->o->where) { /* back to the step (or phase) that ran the loop */
                r->o->where->line = was.line;
                r->o->where->phase = was.phase;
            }
        }
    }
}

static const char *handler_name(ev_kind_t k)
{
    static const char *const names[EV__COUNT] = {
        [EV_DATA] = "collect_incoming_data", [EV_FOUND] = "found_terminator",
        [EV_CLOSE] = "handle_close", [EV_ERROR] = "handle_error",
        [EV_CONNECT] = "handle_connect", [EV_ACCEPT] = "handle_accept",
        [EV_READ] = "handle_read", [EV_READ_EAGAIN] = "handle_read",
        [EV_WRITE] = "handle_write", [EV_RELEASED] = "the release hook",
        [EV_EXPT] = "handle_expt"};
    return names[k];
}

/* The clause that forbids this event inside this operation call, or NULL.
 * Release hooks are not handlers (D7): a refused producer is released
 * inside its push (P7, P8), and discard and close release the queue. */
static const char *sync_forbidden(const step_t *st, ev_kind_t ev)
{
    if (ev == EV_RELEASED)
        return NULL;
    switch (st->op) {
    case OP_PUSH: case OP_PRODUCER: return "P2";
    case OP_CLOSE_WHEN_DONE: return ev == EV_CLOSE ? "P6" : NULL;
    case OP_CLOSE: return ev == EV_CLOSE ? "D8" : NULL;
    case OP_CLOSE_ALL: return ev == EV_CLOSE ? "M8" : NULL;
    case OP_CONNECT: case OP_CONNECT_REFUSED: case OP_DCONNECT: case OP_DCONNECT_REFUSED:
        return ev == EV_CONNECT ? "D13" : "D13 D17";
    case OP_TERM: case OP_COUNT: case OP_NONE:
        return ev == EV_DATA || ev == EV_FOUND ? "T10 T11" : NULL;
    /* An explicit initiate_send on a live channel is no misuse: it may
     * report a send failure or close for a close marker (P2). */
    case OP_MISUSE:
        return st->mis_op == ACC_MISUSE_INITIATE_SEND && st->mis_form == ACC_MISUSE_PLAIN
                   ? NULL : "E2";
    default: return NULL;
    }
}

/* An event delivered inside an operation (not from a pass) is checked
 * against the clause of that operation, in every case: a handler that ran
 * synchronously is a failure even where the case then expects the event. */
static void check_sync(run_t *r, chan_t *ch, ev_kind_t kind)
{
    const char *clause = r->op ? sync_forbidden(r->op, kind) : NULL;
    if (clause == NULL)
        return;
    const step_t *saved = r->cur;
    r->cur = r->op;
    failf(r, "%s of %s ran inside %s (line %d), not from a pass: %s forbids it",
          handler_name(kind), name(r, ch->idx), acc_op_word(r->op->op),
          r->op->line, clause);
    r->cur = saved;
}

static void record(chan_t *ch, ev_kind_t kind, const void *p, size_t n,
                   int err, int prod)
{
    run_t *r = ch->run;
    check_sync(r, ch, kind);
    event_t *last = ch->nev > ch->head ? &ch->evs[ch->nev - 1] : NULL;
    r->events++;
    if (r->o->verbose) {
        char e[128];
        acc_escape(e, sizeof(e), p, n);
        fprintf(stderr, "  event %s %s %s%s\n", name(r, ch->idx),
                acc_ev_name(kind), e, err ? acc_errno_name(err) : "");
    }
    int op_line = r->op ? r->op->line : 0;
    if ((kind == EV_DATA || kind == EV_READ) && last && last->kind == kind &&
        last->op_line == op_line) {
        if (last->n + n > last->cap) {
            size_t cap = last->cap * 2 > last->n + n ? last->cap * 2
                                                     : last->n + n;
            unsigned char *b = realloc(last->bytes, cap);
            if (b == NULL)
                abort();
            last->bytes = b;
            last->cap = cap;
        }
        memcpy(last->bytes + last->n, p, n);
        last->n += n;
    } else {
        if (ch->nev == ch->cap) {
            ch->cap = ch->cap ? ch->cap * 2 : 16;
            ch->evs = realloc(ch->evs, ch->cap * sizeof(*ch->evs));
            if (ch->evs == NULL)
                abort();
        }
        event_t *e = &ch->evs[ch->nev++];
        memset(e, 0, sizeof(*e));
        e->kind = kind;
        e->err = err;
        e->prod = prod;
        e->op = r->op ? r->op->op : OP_PASS;
        e->op_line = op_line;
        if (n) {
            e->bytes = malloc(n);
            if (e->bytes == NULL)
                abort();
            memcpy(e->bytes, p, n);
            e->n = e->cap = n;
        }
    }
    ch->seen[kind]++;
    r->depth++;
    fire_reactions(r, ch, kind);
    r->depth--;
}

static void cb_collect(void *ctx, const void *p, size_t n)
{
    record(ctx, EV_DATA, p, n, 0, 0);
}
static void cb_found(void *ctx) { record(ctx, EV_FOUND, NULL, 0, 0, 0); }
static void cb_close(void *ctx) { record(ctx, EV_CLOSE, NULL, 0, 0, 0); }
/* handle_error's code is a negative errno (E1; acc_adapter.h): a positive
 * one is a sign the implementation lost, which no expectation names. */
static void cb_error(void *ctx, int err)
{
    chan_t *ch = ctx;
    if (ch->ev.error_mode == ACC_ERROR_DEFAULT)
        failf(ch->run, "handle_error on %s (%s) reached the suite, but %s was made "
              "with error default: the implementation's own handle_error should "
              "have run, and it reports nothing (D10)", name(ch->run, ch->idx),
              acc_errno_name(err < 0 ? -err : err), name(ch->run, ch->idx));
    else if (err >= 0)
        failf(ch->run, "handle_error on %s received %d, not a negative errno (E1)",
              name(ch->run, ch->idx), err);
    record(ctx, EV_ERROR, NULL, 0, err < 0 ? -err : err, 0);
}
static void cb_connect(void *ctx) { record(ctx, EV_CONNECT, NULL, 0, 0, 0); }

static void cb_accept(void *ctx, int fd)
{
    chan_t *ch = ctx;
    if (ch->nacc < MAX_ACCEPTED)
        ch->accepted[ch->nacc++] = fd;
    else
        close(fd);
    record(ch, EV_ACCEPT, NULL, 0, 0, 0);
}

static int cb_readable(void *ctx)
{
    chan_t *ch = ctx;
    ch->nreadable++;
    return ch->readable;
}

static int cb_writable(void *ctx)
{
    chan_t *ch = ctx;
    ch->nwritable++;
    return ch->writable;
}

static void cb_read(void *ctx)
{
    chan_t *ch = ctx;
    unsigned char buf[65536];
    long n = ch->run->im->recv(ch->h, buf, sizeof(buf));
    if (n > 0)
        record(ch, EV_READ, buf, (size_t)n, 0, 0);
    else if (n == -EAGAIN)
        record(ch, EV_READ_EAGAIN, NULL, 0, 0, 0);
}

static void cb_write(void *ctx)
{
    chan_t *ch = ctx;
    ch->writable = 0; /* one write event per "writable CH 1" */
    record(ch, EV_WRITE, NULL, 0, 0, 0);
}

/* The suite's handle_expt reads the urgent byte, as a user's would: one
 * left unread would be reported again on every pass. */
static int impl_fd(run_t *r, chan_t *ch);
static void cb_expt(void *ctx)
{
    chan_t *ch = ctx;
    int fd = impl_fd(ch->run, ch);
    unsigned char b;
    if (fd >= 0)
        (void)!recv(fd, &b, 1, MSG_OOB | MSG_DONTWAIT);
    record(ch, EV_EXPT, NULL, 0, 0, 0);
}

static const acc_events_t events = {
    cb_collect, cb_found, cb_close, cb_error, cb_connect, cb_accept,
    cb_readable, cb_writable, cb_read, cb_write, NULL, ACC_ERROR_CLOSE};

/* The callbacks of the channel a creation step makes, with its options;
 * the adapter keeps the pointer, so they live in the channel. */
static const acc_events_t *chan_events(chan_t *ch, const step_t *st)
{
    ch->ev = events;
    /* A user readable makes a chat's predicate user code, evaluated every
     * pass (L1): only the chats whose case asks for one get it, so that the
     * others keep testing the library's own predicates. */
    if (!ch->plain && !(ch->run->c->own_readable & (1u << ch->idx)))
        ch->ev.readable = NULL;
    ch->ev.expt = st->expt ? cb_expt : NULL;
    ch->ev.error_mode = st->error_mode;
    return &ch->ev;
}

/* Overwrites the caller's bytes after the call that was given them: an
 * implementation that kept the pointer instead of copying (P1, T3) then
 * sends or matches bytes nobody gave it. */
static void scramble(unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)~p[i];
}

static void prod_drop_chunks(prodctx_t *pc)
{
    for (size_t k = 0; k < pc->n; k++) {
        scramble(pc->chunks[k], pc->lens[k]);
        free(pc->chunks[k]);
        pc->chunks[k] = NULL;
    }
}

static void cb_released(void *pctx)
{
    prodctx_t *pc = pctx;
    if (!pc->released)
        prod_drop_chunks(pc);
    pc->released = 1;
    record(&pc->run->ch[pc->ch], EV_RELEASED, NULL, 0, 0, pc->prod);
}

/* -------------------------------------------------------------- loop -- */

static int impl_fd(run_t *r, chan_t *ch)
{
    return ch->h ? r->im->fd(ch->h) : -1;
}

/* Every pass and loop goes through these two: events they deliver are
 * from a pass, not from the operation step that is running. */
static int impl_poll(run_t *r, int map, int timeout_ms)
{
    const step_t *saved = r->op;
    r->op = NULL;
    int rc = r->im->poll(r->maps[map], r->o->backend, timeout_ms);
    r->op = saved;
    return rc;
}

static int impl_loop(run_t *r, int map, int timeout_ms, int count)
{
    const step_t *saved = r->op;
    r->op = NULL;
    int rc = r->im->loop(r->maps[map], r->o->backend, timeout_ms, count);
    r->op = saved;
    return rc;
}

static int one_pass(run_t *r, int map, int timeout_ms)
{
    int rc = impl_poll(r, map, timeout_ms);
    if (rc < 0)
        return failf(r, "a loop pass failed: %s (%d)", acc_errno_name(-rc), rc);
    return 0;
}

static int all_passes(run_t *r, int timeout_ms)
{
    for (int m = 0; m < r->c->nmaps && r->verdict == V_PASS; m++)
        if (r->maps[m] && one_pass(r, m, timeout_ms) < 0)
            return -1;
    return r->verdict != V_PASS ? -1 : 0;
}

/* Bytes waiting in the implementation's receive queue for ch. */
static int unread(run_t *r, chan_t *ch)
{
    int fd = impl_fd(r, ch), n = 0;
    if (fd < 0 || !ch->readable)
        return 0;
    if (ioctl(fd, FIONREAD, &n) < 0)
        return 0;
    return n;
}

static int any_unread(run_t *r)
{
    for (int i = 0; i < r->c->nnames; i++)
        if (unread(r, &r->ch[i]) > 0)
            return 1;
    return 0;
}

/* Runs passes until nothing more happens: no new event in two passes and
 * no input left unread.  Bounded; a busy implementation just stops here. */
static int settle(run_t *r)
{
    int quiet = 0;
    for (int i = 0; i < SETTLE_PASSES && quiet < 2; i++) {
        uint64_t before = r->events;
        if (all_passes(r, 0) < 0)
            return -1;
        quiet = (r->events == before && !any_unread(r)) ? quiet + 1 : 0;
    }
    return 0;
}

/* ------------------------------------------------------------- peers -- */

/* What the implementation reported on ch so far, expected or not, for a
 * harness-side failure (the peer cannot send, the bytes do not come) whose
 * cause is on the implementation's side: "events on a so far: error
 * EMSGSIZE, close".  The last STORY_MAX only, the count of earlier ones
 * first. */
#define STORY_MAX 8
static void story_of(chan_t *ch, char *out, size_t cap)
{
    size_t first = ch->nev > STORY_MAX ? ch->nev - STORY_MAX : 0;
    int o = snprintf(out, cap, "events on %s so far: ", name(ch->run, ch->idx));
    if (ch->nev == 0)
        snprintf(out + o, cap - (size_t)o, "none");
    else if (first)
        o += snprintf(out + o, cap - (size_t)o, "%zu earlier, then ", first);
    for (size_t i = first; i < ch->nev && (size_t)o + 4 < cap; i++) {
        const event_t *e = &ch->evs[i];
        char b[120];
        acc_escape(b, sizeof(b), e->bytes, e->n);
        if (e->kind == EV_DATA || e->kind == EV_READ)
            o += snprintf(out + o, cap - (size_t)o, "%s%s \"%s\"", i > first ? ", " : "",
                          acc_ev_name(e->kind), b);
        else
            o += snprintf(out + o, cap - (size_t)o, "%s%s%s%s", i > first ? ", " : "",
                          acc_ev_name(e->kind), e->kind == EV_ERROR ? " " : "",
                          e->kind == EV_ERROR ? acc_errno_name(e->err) : "");
    }
}

/* A peer-side failure: what failed, then what the implementation did. */
static int peer_failf(run_t *r, chan_t *ch, const char *what)
{
    char story[700];
    story_of(ch, story, sizeof(story));
    return failf(r, "peer of %s: %s; the implementation %s; %s", name(r, ch->idx), what,
                 !ch->h ? "has no channel there" : impl_fd(r, ch) < 0
                 ? "has closed its socket" : "still has its socket open", story);
}

static int write_peer(run_t *r, chan_t *ch, const unsigned char *p, size_t n)
{
    int64_t deadline = acc_mono_ms() + WAIT_MS;
    while (n > 0) {
        ssize_t k = send(ch->peer, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k > 0) {
            p += k;
            n -= (size_t)k;
            continue;
        }
        if (k < 0 && errno != EAGAIN) {
            int err = errno;
            char what[160];
            snprintf(what, sizeof(what), "send failed: %s (%s)", strerror(err),
                     acc_errno_name(err));
            return peer_failf(r, ch, what);
        }
        if (acc_mono_ms() > deadline || r->depth)
            return peer_failf(r, ch, "the implementation stopped reading (the socket "
                              "buffer stayed full)");
        if (all_passes(r, 1) < 0)
            return -1;
    }
    return 0;
}

/* Writes one piece and lets the implementation read all of it, so the
 * piece boundary is a read boundary (the point of the split variants). */
static int send_piece(run_t *r, chan_t *ch, const unsigned char *p, size_t n)
{
    if (write_peer(r, ch, p, n) < 0)
        return -1;
    int fd = impl_fd(r, ch);
    if (fd >= 0) {
        struct pollfd pf = {fd, POLLIN, 0};
        (void)poll(&pf, 1, 100); /* loopback TCP may take a moment */
    }
    for (int i = 0; i < SETTLE_PASSES && unread(r, ch) > 0; i++)
        if (all_passes(r, 0) < 0)
            return -1;
    return 0;
}

static int do_send(run_t *r, chan_t *ch, const unsigned char *p, size_t n)
{
    if (ch->peer < 0)
        return failf(r, "%s has no peer to send from", name(r, ch->idx));
    if (r->depth) /* inside a callback: write now, the loop reads later */
        return write_peer(r, ch, p, n);
    size_t off = 0;
    while (off < n && r->verdict == V_PASS) {
        size_t k = n - off;
        if (r->o->split == SPLIT_BYTEWISE)
            k = n <= 4096 ? 1 : 1024; /* bytewise up to 4 KiB per send */
        else if (r->o->split == SPLIT_RANDOM)
            k = 1 + (size_t)(rnd(r) % (k < 16 ? k : 16));
        if (k > n - off)
            k = n - off;
        if (send_piece(r, ch, p + off, k) < 0)
            return -1;
        off += k;
    }
    return r->verdict != V_PASS ? -1 : 0;
}

static int flush_pending(run_t *r)
{
    for (int i = 0; i < r->c->nnames; i++) {
        chan_t *ch = &r->ch[i];
        if (ch->npend == 0)
            continue;
        unsigned char *p = ch->pend;
        size_t n = ch->npend;
        ch->pend = NULL;
        ch->npend = 0;
        int rc = do_send(r, ch, p, n);
        free(p);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int queue_send(run_t *r, chan_t *ch, const step_t *st)
{
    if (r->o->split != SPLIT_ONE_SHOT || r->depth)
        return do_send(r, ch, st->bytes, st->nbytes);
    unsigned char *b = realloc(ch->pend, ch->npend + st->nbytes + 1);
    if (b == NULL)
        return failf(r, "out of memory");
    memcpy(b + ch->npend, st->bytes, st->nbytes);
    ch->pend = b;
    ch->npend += st->nbytes;
    return 0;
}

static int tcp_listener(struct sockaddr_in *a)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    socklen_t l = sizeof(*a);
    memset(a, 0, sizeof(*a));
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s < 0 || bind(s, (struct sockaddr *)a, sizeof(*a)) < 0 ||
        listen(s, 8) < 0 || getsockname(s, (struct sockaddr *)a, &l) < 0) {
        if (s >= 0)
            close(s);
        return -1;
    }
    return s;
}

int exec_tcp_listener(struct sockaddr_in *a) { return tcp_listener(a); }

static int accept_timed(int ls)
{
    struct pollfd pf = {ls, POLLIN, 0};
    if (poll(&pf, 1, WAIT_MS) <= 0)
        return -1;
    return accept4(ls, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
}

static int tcp_connect_to(const struct sockaddr_in *a)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s >= 0 && connect(s, (const struct sockaddr *)a, sizeof(*a)) < 0) {
        close(s);
        return -1;
    }
    if (s >= 0)
        fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK);
    return s;
}

int exec_tcp_pair(int fds[2])
{
    struct sockaddr_in a;
    int ls = tcp_listener(&a);
    if (ls < 0)
        return -1;
    fds[1] = tcp_connect_to(&a);
    fds[0] = fds[1] < 0 ? -1 : accept_timed(ls);
    close(ls);
    if (fds[0] < 0 && fds[1] >= 0)
        close(fds[1]);
    return fds[0] < 0 ? -1 : 0;
}

static int check_rc(run_t *r, const step_t *st, int rc, const char *what)
{
    if (st->rc == RC_ANY || rc == st->rc)
        return 0;
    if (st->has_skip && rc == st->skip_rc) {
        failf(r, "%s %s returned %s, which the case allows: the rest of it does not "
              "apply to this implementation", what, st->ch >= 0 ? name(r, st->ch) : "",
              acc_errno_name(-rc));
        r->verdict = V_SKIP;
        return -1;
    }
    if (st->rc == 0 && rc > 0 && (st->op == OP_CLOSE_ALL || st->op == OP_SENDRAW))
        return 0; /* counts are success */
    return failf(r, "%s %s returned %s (%d), expected %s", what,
                 st->ch >= 0 ? name(r, st->ch) : "",
                 rc <= 0 ? acc_errno_name(-rc) : "a count", rc,
                 acc_errno_name(-st->rc));
}

static int new_peer_chan(run_t *r, const step_t *st, int impl_side, int peer)
{
    chan_t *ch = &r->ch[st->ch];
    void *map = r->maps[st->map];
    ch->map = st->map;
    ch->peer = peer;
    int rc;
    if (st->op == OP_DISP_UNIX) {
        ch->plain = 1;
        rc = r->im->disp_adopt(&ch->h, map, impl_side, chan_events(ch, st), ch);
    } else {
        rc = r->im->chat_adopt(&ch->h, map, impl_side, chan_events(ch, st), ch);
    }
    if (rc < 0) {
        ch->h = NULL;
        /* E6: the descriptor of a refused adopt stays the caller's. */
        if (fcntl(impl_side, F_GETFD) < 0)
            return failf(r, "creating %s failed with %s and closed the descriptor it was "
                         "given (E6: it stays the caller's)", name(r, st->ch), acc_errno_name(-rc));
        close(impl_side);
    }
    return check_rc(r, st, rc, "creating");
}

static int op_create(run_t *r, const step_t *st)
{
    int fds[2];
    if (st->op == OP_CHAT_TCP) {
        if (exec_tcp_pair(fds) < 0)
            return failf(r, "cannot make a loopback TCP pair: %s", strerror(errno));
    } else if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) {
        return failf(r, "socketpair: %s", strerror(errno));
    }
    fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK);
    return new_peer_chan(r, st, fds[0], fds[1]);
}

static int op_connect(run_t *r, const step_t *st)
{
    chan_t *ch = &r->ch[st->ch];
    struct sockaddr_in a;
    int ls = tcp_listener(&a);
    if (ls < 0)
        return failf(r, "cannot listen on loopback: %s", strerror(errno));
    int refused = st->op == OP_CONNECT_REFUSED || st->op == OP_DCONNECT_REFUSED;
    if (refused)
        close(ls); /* the port is free again: nobody listens there */
    ch->map = st->map;
    int rc;
    if ((st->op == OP_DCONNECT || st->op == OP_DCONNECT_REFUSED) && !r->im->disp_connect) {
        close(ls);
        return failf(r, "dconnect needs the disp_connect entry (a case using it must "
                     "require disp-connect)");
    }
    if (st->op == OP_DCONNECT || st->op == OP_DCONNECT_REFUSED) {
        ch->plain = 1; /* watched for input, as a disp; "writable" as told */
        rc = r->im->disp_connect(&ch->h, r->maps[st->map], (struct sockaddr *)&a,
                                 sizeof(a), chan_events(ch, st), ch);
    } else {
        rc = r->im->chat_connect(&ch->h, r->maps[st->map], (struct sockaddr *)&a,
                                 sizeof(a), chan_events(ch, st), ch);
    }
    if (rc < 0)
        ch->h = NULL;
    if (!refused) {
        ch->peer = rc < 0 ? -1 : accept_timed(ls);
        close(ls);
        if (rc == 0 && ch->peer < 0)
            return failf(r, "the implementation's connect never reached the peer");
    }
    return check_rc(r, st, rc, "connect");
}

static int op_listen(run_t *r, const step_t *st)
{
    chan_t *ch = &r->ch[st->ch];
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ch->map = st->map;
    ch->plain = 1;
    int rc = r->im->listen(&ch->h, r->maps[st->map], (struct sockaddr *)&a,
                           sizeof(a), chan_events(ch, st), ch);
    if (rc < 0)
        ch->h = NULL;
    return check_rc(r, st, rc, "listen");
}

static int op_dial(run_t *r, const step_t *st)
{
    chan_t *l = &r->ch[st->ch2], *ch = &r->ch[st->ch];
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = impl_fd(r, l);
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        return failf(r, "%s is not a listening channel", name(r, l->idx));
    ch->peer = tcp_connect_to(&a);
    if (ch->peer < 0)
        return failf(r, "cannot connect to %s: %s", name(r, l->idx), strerror(errno));
    return 0;
}

static int op_adopt(run_t *r, const step_t *st)
{
    chan_t *l = &r->ch[st->ch2];
    if (l->nacc == 0)
        return failf(r, "%s has accepted no connection to adopt", name(r, l->idx));
    int fd = l->accepted[0];
    memmove(l->accepted, l->accepted + 1, (size_t)--l->nacc * sizeof(int));
    step_t s2 = *st;
    s2.op = OP_CHAT_UNIX;
    if (st->map == 0)
        s2.map = l->map;
    return new_peer_chan(r, &s2, fd, r->ch[st->ch].peer);
}

/* urgent CH BYTES: the peer sends them as out-of-band data (TCP only); the
 * last byte is the urgent one.  The step waits until the implementation's
 * socket can see it, so the next pass reports it. */
static int op_urgent(run_t *r, chan_t *ch, const step_t *st)
{
    if (ch->peer < 0)
        return failf(r, "%s has no peer", name(r, ch->idx));
    if (send(ch->peer, st->bytes, st->nbytes, MSG_OOB | MSG_NOSIGNAL) != (ssize_t)st->nbytes)
        return failf(r, "urgent %s: the peer's send with MSG_OOB failed: %s (urgent data "
                     "needs a TCP channel: chat NAME tcp, connect, dconnect)",
                     name(r, ch->idx), strerror(errno));
    int fd = impl_fd(r, ch);
    if (fd >= 0) {
        struct pollfd pf = {fd, POLLPRI, 0};
        (void)poll(&pf, 1, 100); /* loopback TCP may take a moment */
    }
    return 0;
}

static int op_peer(run_t *r, chan_t *ch, op_t op)
{
    if (ch->peer < 0)
        return failf(r, "%s has no peer", name(r, ch->idx));
    if (op == OP_SHUT)
        return shutdown(ch->peer, SHUT_WR) < 0
                   ? failf(r, "shutdown: %s", strerror(errno)) : 0;
    if (op == OP_RESET) {
        struct linger lg = {1, 0}; /* TCP: close sends RST */
        setsockopt(ch->peer, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close(ch->peer);
    ch->peer = -1;
    return 0;
}

/* --------------------------------------------------------- expectations */

static const event_t *next_event(run_t *r, chan_t *ch, int wait)
{
    int64_t deadline = acc_mono_ms() + (wait && !r->nowait ? WAIT_MS : 0);
    while (ch->head == ch->nev && r->verdict == V_PASS) {
        if (acc_mono_ms() >= deadline)
            return NULL;
        if (all_passes(r, 2) < 0)
            return NULL;
    }
    return ch->head < ch->nev ? &ch->evs[ch->head] : NULL;
}

static void describe(char *out, size_t cap, const event_t *e)
{
    char b[200];
    if (e == NULL) {
        snprintf(out, cap, "nothing");
        return;
    }
    acc_escape(b, sizeof(b), e->bytes ? e->bytes + e->off : NULL, e->n - e->off);
    int n;
    if (e->kind == EV_DATA || e->kind == EV_READ)
        n = snprintf(out, cap, "%s \"%s\"", acc_ev_name(e->kind), b);
    else if (e->kind == EV_ERROR)
        n = snprintf(out, cap, "error %s", acc_errno_name(e->err));
    else
        n = snprintf(out, cap, "%s", acc_ev_name(e->kind));
    if (e->op_line && n >= 0 && (size_t)n < cap)
        snprintf(out + n, cap - (size_t)n, " (delivered inside %s, line %d)",
                 acc_op_word(e->op), e->op_line);
}

/* Everything still queued on ch, for failure messages. */
static void rest_of(chan_t *ch, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = ch->head; i < ch->nev && o + 4 < cap; i++) {
        char d[256];
        describe(d, sizeof(d), &ch->evs[i]);
        o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? ", " : "", d);
    }
}

static int expect_bytes(run_t *r, chan_t *ch, const step_t *st)
{
    size_t done = 0;
    while (done < st->nbytes) {
        event_t *e = (event_t *)next_event(r, ch, 1);
        if (e == NULL || e->kind != st->ev) {
            char want[256], got[256], d[256];
            acc_escape(want, sizeof(want), st->bytes + done, st->nbytes - done);
            describe(d, sizeof(d), e);
            snprintf(got, sizeof(got), "%s", d);
            return failf(r, "expected %s %s \"%s\"%s, got %s", name(r, ch->idx),
                         acc_ev_name(st->ev), want, done ? " (the rest)" : "", got);
        }
        size_t k = e->n - e->off;
        if (k > st->nbytes - done)
            k = st->nbytes - done;
        if (memcmp(e->bytes + e->off, st->bytes + done, k) != 0) {
            char want[256], got[256];
            acc_escape(want, sizeof(want), st->bytes + done, k);
            acc_escape(got, sizeof(got), e->bytes + e->off, k);
            return failf(r, "expected %s %s \"%s\", got \"%s\" (at byte %zu)",
                         name(r, ch->idx), acc_ev_name(st->ev), want, got, done);
        }
        e->off += k;
        done += k;
        if (e->off == e->n)
            ch->head++;
    }
    return 0;
}

static int expect_one(run_t *r, const step_t *st);

/* "expect CH EVENT * N" (num2 = N): the same event N times in a row. */
static int expect_event(run_t *r, const step_t *st)
{
    chan_t *ch = &r->ch[st->ch];
    if (st->nbytes && (st->ev == EV_DATA || st->ev == EV_READ))
        return expect_bytes(r, ch, st);
    for (uint64_t k = 0; k < (st->num2 ? st->num2 : 1); k++) {
        if (expect_one(r, st) == 0)
            continue;
        size_t n = strlen(r->msg);
        if (st->num2 > 1 && n < r->msglen)
            snprintf(r->msg + n, r->msglen - n, " (repetition %llu of %llu)",
                     (unsigned long long)k + 1, (unsigned long long)st->num2);
        return -1;
    }
    return 0;
}

static int expect_one(run_t *r, const step_t *st)
{
    chan_t *ch = &r->ch[st->ch];
    const event_t *e = next_event(r, ch, 1);
    int ok = e && e->kind == st->ev;
    if (ok && st->ev == EV_ERROR)
        ok = e->err == (int)st->num;
    if (ok && st->ev == EV_RELEASED)
        ok = e->prod == st->prod;
    if (ok && (st->ev == EV_DATA || st->ev == EV_READ))
        ok = e->n == e->off; /* an empty data expectation matches nothing */
    if (!ok) {
        char got[256], rest[1024];
        describe(got, sizeof(got), e);
        rest_of(ch, rest, sizeof(rest));
        return failf(r, "expected %s %s%s%s, got %s (queued on %s: %s)",
                     name(r, ch->idx), acc_ev_name(st->ev),
                     st->ev == EV_ERROR ? " " : "",
                     st->ev == EV_ERROR ? acc_errno_name((int)st->num) : "", got,
                     name(r, ch->idx), rest[0] ? rest : "nothing");
    }
    ch->head++;
    return 0;
}

static int expect_peer(run_t *r, const step_t *st)
{
    chan_t *ch = &r->ch[st->ch];
    if (ch->peer < 0)
        return failf(r, "%s has no peer", name(r, ch->idx));
    if (flush_pending(r) < 0)
        return -1;
    size_t got = 0;
    unsigned char buf[65536];
    int64_t deadline = acc_mono_ms() + WAIT_MS;
    while (got < st->nbytes) {
        size_t want = st->nbytes - got;
        if (want > sizeof(buf)) want = sizeof(buf);
        if (st->slow && want > st->slow) want = st->slow;
        ssize_t k = recv(ch->peer, buf, want, MSG_DONTWAIT);
        if (k > 0) {
            if (memcmp(buf, st->bytes + got, (size_t)k) != 0) {
                size_t at = 0;
                while (buf[at] == st->bytes[got + at]) at++;
                char w[128], g[128];
                acc_escape(w, sizeof(w), st->bytes + got + at, (size_t)k - at < 32 ? (size_t)k - at : 32);
                acc_escape(g, sizeof(g), buf + at, (size_t)k - at < 32 ? (size_t)k - at : 32);
                return failf(r, "peer of %s: byte %zu differs: expected \"%s\", got \"%s\"",
                             name(r, ch->idx), got + at, w, g);
            }
            got += (size_t)k;
            deadline = acc_mono_ms() + WAIT_MS;
        } else if (k == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            char what[200];
            snprintf(what, sizeof(what), "%s after %zu of %zu expected bytes",
                     k == 0 ? "end of stream" : strerror(errno), got, st->nbytes);
            return peer_failf(r, ch, what);
        } else if (acc_mono_ms() > deadline) {
            char what[200];
            snprintf(what, sizeof(what), "got %zu of %zu expected bytes, then nothing",
                     got, st->nbytes);
            return peer_failf(r, ch, what);
        }
        if (all_passes(r, k > 0 ? 0 : 1) < 0)
            return -1;
    }
    return 0;
}

static int expect_peer_eof(run_t *r, const step_t *st)
{
    chan_t *ch = &r->ch[st->ch];
    if (ch->peer < 0)
        return failf(r, "%s has no peer", name(r, ch->idx));
    int64_t deadline = acc_mono_ms() + WAIT_MS;
    for (;;) {
        unsigned char b[256];
        ssize_t k = recv(ch->peer, b, sizeof(b), MSG_DONTWAIT);
        if (k == 0 || (k < 0 && errno == ECONNRESET))
            return 0;
        if (k > 0) {
            char e[128];
            acc_escape(e, sizeof(e), b, (size_t)k);
            return failf(r, "peer of %s: expected end of stream, got \"%s\"",
                         name(r, ch->idx), e);
        }
        if (acc_mono_ms() > deadline)
            return failf(r, "peer of %s: expected end of stream, the channel stayed open",
                         name(r, ch->idx));
        if (all_passes(r, 1) < 0)
            return -1;
    }
}

/* expect-peer-sent: the peer receives exactly what sendraw said it sent. */
static int expect_peer_sent(run_t *r, chan_t *ch, const step_t *st)
{
    step_t tmp = *st;
    tmp.bytes = ch->sent;
    tmp.nbytes = ch->nsent;
    tmp.slow = 0;
    int rc = expect_peer(r, &tmp);
    free(ch->sent);
    ch->sent = NULL;
    ch->nsent = 0;
    return rc;
}

/* The peer stops reading, and both ends' buffers shrink to the kernel's
 * minimum, so queued output meets a full socket buffer after a few KiB
 * (D12, P12).  The next expect-peer reads again. */
static int peer_stall(run_t *r, chan_t *ch)
{
    int fd = impl_fd(r, ch), one = 1;
    if (ch->peer < 0 || fd < 0)
        return failf(r, "%s needs an open channel and its peer", name(r, ch->idx));
    if (setsockopt(ch->peer, SOL_SOCKET, SO_RCVBUF, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &one, sizeof(one)) < 0)
        return failf(r, "shrinking the socket buffers: %s", strerror(errno));
    return 0;
}

/* expect-blocked: passes run until the implementation's socket can take
 * no more, which shows its sends have met a full buffer. */
static int expect_blocked(run_t *r, chan_t *ch)
{
    int64_t deadline = acc_mono_ms() + WAIT_MS;
    for (;;) {
        int fd = impl_fd(r, ch);
        if (fd < 0)
            return failf(r, "%s closed while its output should fill the socket buffer",
                         name(r, ch->idx));
        struct pollfd pf = {fd, POLLOUT, 0};
        if (poll(&pf, 1, 0) == 0)
            return 0;
        if (acc_mono_ms() > deadline)
            return failf(r, "%s never filled its socket buffer: the implementation "
                         "stopped sending while output was queued", name(r, ch->idx));
        if (all_passes(r, 1) < 0)
            return -1;
    }
}

/* expect-predicates: how many times readable and writable were asked
 * since the channel was made or last counted (L1: once per pass). */
static int expect_predicates(run_t *r, chan_t *ch, const step_t *st)
{
    uint64_t nr = ch->nreadable, nw = ch->nwritable;
    ch->nreadable = ch->nwritable = 0;
    if (nr == st->num && nw == st->num2)
        return 0;
    return failf(r, "%s: readable was asked %llu times and writable %llu times, "
                 "expected %llu and %llu (once each per pass, L1)", name(r, ch->idx),
                 (unsigned long long)nr, (unsigned long long)nw,
                 (unsigned long long)st->num, (unsigned long long)st->num2);
}

/* expect-now and expect-quiet-now look only at what is already recorded:
 * the events the previous steps delivered synchronously. */
static int expect_now(run_t *r, const step_t *st)
{
    chan_t *ch = &r->ch[st->ch];
    if (st->op == OP_EXPECT_NOW) {
        r->nowait = 1;
        int rc = expect_event(r, st);
        r->nowait = 0;
        return rc;
    }
    if (ch->head == ch->nev)
        return 0;
    char rest[1024];
    rest_of(ch, rest, sizeof(rest));
    return failf(r, "expected nothing delivered on %s before the next pass, got: %s",
                 name(r, ch->idx), rest);
}

/* What terminator() reported, in a case's words, for messages. */
static void describe_term(char *out, size_t cap, int kind, const unsigned char *b,
                          size_t len, uint64_t count)
{
    if (kind == ACC_TERM_NONE) {
        snprintf(out, cap, "none");
    } else if (kind == ACC_TERM_COUNT) {
        snprintf(out, cap, "count %llu", (unsigned long long)count);
    } else if (kind == ACC_TERM_STRING) {
        char esc[200];
        acc_escape(esc, sizeof(esc), b, len);
        snprintf(out, cap, "string \"%s\" (%zu bytes)", esc, len);
    } else {
        snprintf(out, cap, "%s", kind < 0 ? acc_errno_name(-kind) : "an unknown kind");
    }
}

/* expect-terminator: the chat's terminator now, read through the
 * terminator entry; no pass runs first, so it may sit between reads (T8)
 * or inside found_terminator. */
static int expect_terminator(run_t *r, chan_t *ch, const step_t *st)
{
    if (r->im->terminator == NULL)
        return failf(r, "expect-terminator needs the terminator entry (a case using it "
                     "must require terminator)");
    if (ch->h == NULL)
        return failf(r, "%s has no channel (never created, or freed)", name(r, ch->idx));
    static _Thread_local unsigned char buf[8192];
    size_t len = 0;
    uint64_t count = 0;
    memset(buf, 0, sizeof(buf)); /* no earlier answer can pass for this one */
    int kind = r->im->terminator(ch->h, buf, sizeof(buf), &len, &count);
    int same = kind == st->term_kind &&
               (kind != ACC_TERM_COUNT || count == st->num) &&
               (kind != ACC_TERM_STRING ||
                (len == st->nbytes && memcmp(buf, st->bytes, len) == 0));
    if (same)
        return 0;
    char got[300], want[300];
    describe_term(got, sizeof(got), kind, buf, len < sizeof(buf) ? len : sizeof(buf), count);
    describe_term(want, sizeof(want), st->term_kind, st->bytes, st->nbytes, st->num);
    return failf(r, "%s's terminator is %s, expected %s", name(r, ch->idx), got, want);
}

/* expect-either A B EVENT: the event is next on exactly one of A and B,
 * whichever the implementation's dispatch order chose (the loop settles
 * first). */
static int expect_either(run_t *r, const step_t *st)
{
    if (settle(r) < 0)
        return -1;
    chan_t *a = &r->ch[st->ch2], *b = &r->ch[st->ch];
    int on_a = a->head < a->nev && a->evs[a->head].kind == st->ev;
    int on_b = b->head < b->nev && b->evs[b->head].kind == st->ev;
    if (on_a && on_b)
        return failf(r, "both %s and %s got %s: one of them should have been "
                     "served before the other was freed or closed", name(r, a->idx),
                     name(r, b->idx), acc_ev_name(st->ev));
    step_t one = *st;
    one.ch = on_a ? a->idx : b->idx;
    r->nowait = 1;
    int rc = expect_event(r, &one);
    r->nowait = 0;
    return rc;
}

static int expect_elapsed(run_t *r, const step_t *st)
{
    if (r->last_ms < 0)
        return failf(r, "expect-elapsed needs a pass or loop step before it");
    if ((uint64_t)r->last_ms >= st->num && (uint64_t)r->last_ms <= st->num2)
        return 0;
    return failf(r, "the last pass or loop step took %lld ms, expected %llu to %llu ms",
                 (long long)r->last_ms, (unsigned long long)st->num,
                 (unsigned long long)st->num2);
}

static int timed_loop_step(run_t *r, const step_t *st)
{
    int64_t t0 = acc_mono_ms();
    int rc = st->op == OP_PASS
                 ? impl_poll(r, st->map, (int)st->num)
                 : impl_loop(r, st->map, (int)st->num2, (int)st->num);
    r->last_ms = acc_mono_ms() - t0;
    return check_rc(r, st, rc < 0 ? rc : 0, acc_op_word(st->op));
}

/* --------------------------------------------------- the step machine -- */

static int op_producer(run_t *r, chan_t *ch, const step_t *st)
{
    prodctx_t *pc = calloc(1, sizeof(*pc));
    if (pc == NULL)
        return failf(r, "out of memory");
    pc->run = r;
    pc->ch = ch->idx;
    pc->prod = st->prod;
    pc->next = r->prods;
    r->prods = pc;
    /* A zero-length chunk still has a non-NULL pointer (malloc(1)). */
    pc->chunks = calloc(st->nchunks + 1, sizeof(*pc->chunks));
    pc->lens = calloc(st->nchunks + 1, sizeof(*pc->lens));
    if (pc->chunks == NULL || pc->lens == NULL)
        return failf(r, "out of memory");
    for (size_t k = 0; k < st->nchunks; k++, pc->n++) {
        pc->chunks[k] = malloc(st->lens[k] ? st->lens[k] : 1);
        if (pc->chunks[k] == NULL)
            return failf(r, "out of memory");
        memcpy(pc->chunks[k], st->chunks[k], st->lens[k]);
        pc->lens[k] = st->lens[k];
    }
    acc_producer_t p = {(const void *const *)pc->chunks, pc->lens,
                        pc->n, cb_released, pc};
    return check_rc(r, st, r->im->push_producer(ch->h, &p), "producer");
}

/* push and set_terminator get a heap copy of the case's bytes, which is
 * overwritten and freed as soon as the call returns (P1, T3 copy rules). */
static int call_with_copy(run_t *r, const step_t *st, chan_t *ch)
{
    unsigned char *b = malloc(st->nbytes ? st->nbytes : 1);
    if (b == NULL)
        return failf(r, "out of memory");
    memcpy(b, st->bytes, st->nbytes);
    int rc = st->op == OP_PUSH ? r->im->push(ch->h, b, st->nbytes)
                               : r->im->set_terminator(ch->h, b, st->nbytes);
    scramble(b, st->nbytes);
    free(b);
    return check_rc(r, st, rc, acc_op_word(st->op));
}

/* sendraw: the bytes the implementation says it sent are kept, and
 * expect-peer-sent checks that the peer receives exactly those. */
static int op_sendraw(run_t *r, chan_t *ch, const step_t *st)
{
    long rc = r->im->send(ch->h, st->bytes, st->nbytes);
    if (rc > (long)st->nbytes)
        return failf(r, "sendraw %s returned %ld for %zu bytes", name(r, ch->idx),
                     rc, st->nbytes);
    if (rc > 0) {
        unsigned char *b = realloc(ch->sent, ch->nsent + (size_t)rc);
        if (b == NULL)
            return failf(r, "out of memory");
        memcpy(b + ch->nsent, st->bytes, (size_t)rc);
        ch->sent = b;
        ch->nsent += (size_t)rc;
    }
    if (st->has_sent && (rc < 0 || (uint64_t)rc != st->num2))
        return failf(r, "sendraw %s returned %s%ld, expected %llu bytes sent",
                     name(r, ch->idx), rc < 0 ? acc_errno_name((int)-rc) : "",
                     rc, (unsigned long long)st->num2);
    return check_rc(r, st, rc < 0 ? (int)rc : 0, "sendraw");
}

static int need_handle(run_t *r, chan_t *ch)
{
    return ch->h ? 0 : failf(r, "%s has no channel (never created, or freed)",
                             name(r, ch->idx));
}

/* misuse OP FORM [CH]: -ENOSYS means the implementation's API has no way to
 * make that call, so the misuse cannot happen there and the case does not
 * apply: SKIP, with the reason, rather than a failure of E2/E3. */
static int op_misuse(run_t *r, chan_t *ch, const step_t *st)
{
    char what[96];
    snprintf(what, sizeof(what), "misuse %s %s", acc_misuse_op_name(st->mis_op),
             acc_misuse_form_name(st->mis_form));
    if (r->im->misuse == NULL)
        return failf(r, "%s: the implementation declares misuse but has no misuse "
                     "entry", what);
    if (ch && need_handle(r, ch) < 0)
        return -1;
    int rc = r->im->misuse(st->mis_op, st->mis_form, ch ? ch->h : NULL);
    if (rc == -ENOSYS) {
        failf(r, "%s returned ENOSYS: the adapter cannot express that call, so the "
              "case does not apply", what);
        r->verdict = V_SKIP;
        return -1;
    }
    return check_rc(r, st, rc, what);
}

static int chan_op(run_t *r, const step_t *st)
{
    chan_t *ch = &r->ch[st->ch];
    const acc_impl_t *im = r->im;
    if (need_handle(r, ch) < 0)
        return -1;
    switch (st->op) {
    case OP_TERM: return call_with_copy(r, st, ch);
    case OP_COUNT: return check_rc(r, st, im->set_count(ch->h, st->num), "count");
    case OP_NONE: return check_rc(r, st, im->set_none(ch->h), "none");
    case OP_LIMIT: return check_rc(r, st, im->set_input_limit(ch->h, st->num), "limit");
    case OP_BUFSIZE: return check_rc(r, st, im->set_buffer_sizes(ch->h, st->num, st->num2), "bufsize");
    case OP_PUSH: return call_with_copy(r, st, ch);
    case OP_PRODUCER: return op_producer(r, ch, st);
    case OP_CLOSE_WHEN_DONE: return check_rc(r, st, im->close_when_done(ch->h), "close-when-done");
    case OP_DISCARD: return check_rc(r, st, im->discard_buffers(ch->h), "discard");
    case OP_CLOSE: return check_rc(r, st, im->close(ch->h), "close");
    case OP_SENDRAW: return op_sendraw(r, ch, st);
    case OP_FREE:
        im->free(ch->h);
        ch->h = NULL;
        return 0;
    case OP_CLOSE_FD: {
        int fd = impl_fd(r, ch);
        return fd < 0 ? failf(r, "%s has no fd to close", name(r, ch->idx)) : (close(fd), 0);
    }
    case OP_PEER_STALL: return peer_stall(r, ch);
    default:
        return failf(r, "internal: not a channel operation");
    }
}

static int step_body(run_t *r, const step_t *st);

/* Steps that look at what is recorded and run no pass, not even to flush
 * one-shot sends. */
static int runs_no_pass(op_t op)
{
    return op == OP_EXPECT_NOW || op == OP_EXPECT_QUIET_NOW ||
           op == OP_EXPECT_PREDICATES || op == OP_EXPECT_ELAPSED ||
           op == OP_EXPECT_FAULTED || op == OP_EXPECT_TERMINATOR;
}

static int exec_step(run_t *r, const step_t *st)
{
    if (r->o->verbose)
        fprintf(stderr, " step line %d\n", st->line);
    if (r->depth && (st->op == OP_RUN ||
                     (st->op >= OP_EXPECT && st->op != OP_EXPECT_NOW &&
                      st->op != OP_EXPECT_QUIET_NOW && st->op != OP_EXPECT_TERMINATOR)))
        return failf(r, "this step cannot run inside a callback (reaction)");
    if (st->op != OP_SEND && !runs_no_pass(st->op) && !r->depth &&
        flush_pending(r) < 0)
        return -1;
    /* Events delivered while this step runs and no pass does are the
     * step's synchronous events (check_sync, expect-now). */
    const step_t *saved = r->op;
    r->op = st;
    int rc = step_body(r, st);
    r->op = saved;
    return rc;
}

static int step_body(run_t *r, const step_t *st)
{
    const acc_impl_t *im = r->im;
    chan_t *ch = st->ch >= 0 ? &r->ch[st->ch] : NULL;
    switch (st->op) {
    case OP_MAP:
        return 0; /* maps are made before the first step */
    case OP_CHAT_UNIX: case OP_CHAT_TCP: case OP_DISP_UNIX:
        return op_create(r, st);
    case OP_CONNECT: case OP_CONNECT_REFUSED: case OP_DCONNECT: case OP_DCONNECT_REFUSED:
        return op_connect(r, st);
    case OP_LISTEN: return op_listen(r, st);
    case OP_DIAL: return op_dial(r, st);
    case OP_ADOPT: return op_adopt(r, st);
    case OP_SEND: return queue_send(r, ch, st);
    case OP_SHUT: case OP_PEER_CLOSE: case OP_RESET:
        return op_peer(r, ch, st->op);
    case OP_MISUSE: return op_misuse(r, ch, st);
    case OP_URGENT: return op_urgent(r, ch, st);
    case OP_FAULT:
        if (st->fs_fault < 0)
            acc_fs_disarm((acc_fs_kind_t)st->fs_kind);
        else
            acc_fs_arm((acc_fs_kind_t)st->fs_kind, (acc_fs_fault_t)st->fs_fault,
                       (long)st->num2, st->num == UINT64_MAX ? -1 : (long)st->num);
        return 0;
    case OP_EXPECT_FAULTED: {
        /* No passes first: what the steps so far made the implementation do. */
        acc_fs_kind_t k = (acc_fs_kind_t)st->fs_kind;
        if (acc_fs_injected(k) == (long)st->num)
            return 0;
        return failf(r, "expected %llu injected %s fault(s) by now, got %ld (the "
                     "implementation made %ld %s call(s) since the fault step)",
                     (unsigned long long)st->num, acc_fs_kind_name(k), acc_fs_injected(k),
                     acc_fs_calls(k), acc_fs_kind_name(k));
    }
    case OP_READABLE: ch->readable = st->num != 0; return 0;
    case OP_WRITABLE: ch->writable = st->num != 0; return 0;
    case OP_CLOSE_ALL:
        return check_rc(r, st, im->close_all(r->maps[st->map]), "close-all");
    case OP_EXIT:
        return check_rc(r, st, im->map_exit(r->maps[st->map]), "exit");
    case OP_PASS: case OP_LOOP: return timed_loop_step(r, st);
    case OP_RUN: return settle(r);
    case OP_EXPECT_NOW: case OP_EXPECT_QUIET_NOW: return expect_now(r, st);
    case OP_EXPECT_PREDICATES: return expect_predicates(r, ch, st);
    case OP_EXPECT_ELAPSED: return expect_elapsed(r, st);
    case OP_EXPECT_PEER_SENT: return expect_peer_sent(r, ch, st);
    case OP_EXPECT_BLOCKED: return expect_blocked(r, ch);
    case OP_EXPECT_EITHER: return expect_either(r, st);
    case OP_EXPECT_TERMINATOR: return expect_terminator(r, ch, st);
    case OP_EXPECT:
        return settle(r) < 0 ? -1 : expect_event(r, st);
    case OP_EXPECT_PEER: return expect_peer(r, st);
    case OP_EXPECT_PEER_EOF: return expect_peer_eof(r, st);
    case OP_EXPECT_SIZE: {
        if (settle(r) < 0)
            return -1;
        long n = im->map_size(r->maps[st->map]);
        return n == (long)st->num ? 0 : failf(r, "expected %s to hold %llu channels, it holds %ld",
                                              r->c->maps[st->map], (unsigned long long)st->num, n);
    }
    case OP_EXPECT_CLOSED: case OP_EXPECT_OPEN: {
        if (settle(r) < 0)
            return -1;
        int open = impl_fd(r, ch) >= 0;
        if (open == (st->op == OP_EXPECT_OPEN))
            return 0;
        return failf(r, "expected %s to be %s", name(r, ch->idx), open ? "closed" : "open");
    }
    case OP_EXPECT_QUIET: {
        if (settle(r) < 0 || ch->head == ch->nev)
            return r->verdict != V_PASS ? -1 : 0;
        char rest[1024];
        rest_of(ch, rest, sizeof(rest));
        return failf(r, "expected no more events on %s, got: %s", name(r, ch->idx), rest);
    }
    default:
        return chan_op(r, st);
    }
}

/* --------------------------------------------------------- lifecycle -- */

static int setup(run_t *r)
{
    const acc_case_t *c = r->c;
    for (int m = 0; m < c->nmaps; m++) {
        int rc = r->im->map_new(&r->maps[m]);
        if (rc < 0)
            return failf(r, "map_new failed: %s", acc_errno_name(-rc));
    }
    for (int i = 0; i < c->nnames; i++) {
        r->ch[i].run = r;
        r->ch[i].idx = i;
        r->ch[i].peer = -1;
        /* D2, P11: every channel reads unless a step says otherwise (a
         * chat's readable is the suite's only with chat-readable) */
        r->ch[i].readable = 1;
    }
    return 0;
}

/* At the end every recorded event must have been expected: this is what
 * catches a second handle_close or an event after close. */
static int check_leftovers(run_t *r)
{
    if (settle(r) < 0)
        return -1;
    for (int i = 0; i < r->c->nnames; i++) {
        chan_t *ch = &r->ch[i];
        if (ch->head == ch->nev)
            continue;
        char rest[1024];
        rest_of(ch, rest, sizeof(rest));
        r->cur = NULL;
        return failf(r, "%s: unexpected events at the end on %s: %s", r->c->file,
                     name(r, i), rest);
    }
    return 0;
}

static void teardown(run_t *r)
{
    for (int i = 0; i < r->c->nnames; i++) {
        chan_t *ch = &r->ch[i];
        if (ch->h)
            r->im->free(ch->h);
        ch->h = NULL;
    }
    for (int m = 0; m < r->c->nmaps; m++)
        if (r->maps[m])
            r->im->map_free(r->maps[m]);
    for (int i = 0; i < r->c->nnames; i++) {
        chan_t *ch = &r->ch[i];
        if (ch->peer >= 0)
            close(ch->peer);
        for (int k = 0; k < ch->nacc; k++)
            close(ch->accepted[k]);
        for (size_t k = 0; k < ch->nev; k++)
            free(ch->evs[k].bytes);
        free(ch->evs);
        free(ch->pend);
        free(ch->sent);
    }
    while (r->prods) {
        prodctx_t *p = r->prods;
        r->prods = p->next;
        if (!p->released)
            prod_drop_chunks(p);
        free(p->chunks);
        free(p->lens);
        free(p);
    }
}

int exec_count_fds(void)
{
    /* /proc lists the open descriptors in a few system calls; probing all
     * 4096 numbers took 4096, twice per run, a third of the suite's time. */
    DIR *d = opendir("/proc/self/fd");
    if (d != NULL) {
        int n = 0, self = dirfd(d);
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            char *end;
            long fd = strtol(e->d_name, &end, 10);
            if (e->d_name[0] != '.' && *end == '\0' && fd < 4096 && fd != self)
                n++;
        }
        closedir(d);
        return n;
    }
    int n = 0;
    for (int fd = 0; fd < 4096; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            n++;
    return n;
}

verdict_t exec_case(const acc_case_t *c, const exec_opts_t *o, char *msg,
                    size_t msglen)
{
    static run_t zero;
    run_t *r = malloc(sizeof(*r));
    if (r == NULL) {
        snprintf(msg, msglen, "out of memory");
        return V_FAIL;
    }
    *r = zero;
    r->verdict = V_PASS;
    r->c = c;
    r->o = o;
    r->im = o->impl;
    r->msg = msg;
    r->msglen = msglen;
    r->last_ms = -1;
    r->rng = o->seed * 2654435761u + 0x9e3779b97f4a7c15ull;
    for (const char *s = c->id; *s; s++)
        r->rng = (r->rng ^ (unsigned char)*s) * 0x100000001b3ull;
    if (r->rng == 0)
        r->rng = 1;
    msg[0] = '\0';
    acc_fs_reset(); /* faults are the case's own, step by step */
    int fds_before = exec_count_fds();
    at(r, EXEC_AT_START, NULL);
    if (setup(r) == 0) {
        for (int i = 0; i < c->nsteps && r->verdict == V_PASS; i++) {
            r->cur = &c->steps[i];
            at(r, EXEC_AT_STEP, r->cur);
            exec_step(r, &c->steps[i]);
        }
        r->cur = NULL;
        at(r, EXEC_AT_END, NULL);
        if (r->verdict == V_PASS)
            flush_pending(r);
        if (r->verdict == V_PASS)
            check_leftovers(r);
    }
    acc_fs_reset();
    at(r, EXEC_AT_TEARDOWN, NULL);
    teardown(r);
    int leaked = exec_count_fds() - fds_before;
    if (r->verdict != V_FAIL && leaked != 0) {
        r->verdict = V_FAIL;
        snprintf(msg, msglen, "%s: %d file descriptor(s) leaked after the case "
                 "(channels freed, maps freed)", c->file, leaked);
    }
    verdict_t v = r->verdict;
    free(r);
    return v;
}
