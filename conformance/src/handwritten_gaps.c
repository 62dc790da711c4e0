/* handwritten_gaps.c: hand-written tests of sentences added where surviving
 * mutants of the reference showed the spec left a behaviour open: a map
 * served by a different backend each pass (L4), the default map after its
 * destruction and before its creation (M1, M9, E3). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runner.h"

/* What one chat channel framed (its first 512 bytes kept), and every other
 * handler call it got. */
typedef struct {
    hw_obs_t s;                 /* first: the hw_obs_* handlers see it */
    char buf[512];
} gap_rec_t;

static void rec_init(gap_rec_t *r) { hw_obs_init(&r->s, r->buf, sizeof(r->buf)); }

/* The calls a chat channel of these tests should never get. */
static int others(const hw_obs_t *o)
{
    return o->connects + o->accepts + o->reads + o->writes;
}

/* A chat channel in map on a socketpair, framing lines. */
static int line_pair(const acc_impl_t *im, void *map, void **c, int *peer, gap_rec_t *r)
{
    if (hw_chat_pair(im, map, c, peer, &hw_obs_chat_events, r) < 0)
        return -1;
    if (im->set_terminator(*c, "\n", 1) == 0)
        return 0;
    im->free(*c);
    close(*peer);
    *c = NULL;
    return -1;
}

/* ------------------------------------------ a backend per pass, L4 */

/* The backends in an order that changes backend at every step and makes
 * every ordered pair of distinct backends follow each other once. */
static int schedule(const char *const *bs, const char *first, const char **out, int cap)
{
    int nb = 0, n = 0;
    while (bs[nb])
        nb++;
    if (nb < 2) { /* nothing to change to: the one backend, pass after pass */
        for (; n < 4 && n < cap; n++)
            out[n] = first;
        return n;
    }
    out[n++] = first;
    for (int a = 0; a < nb; a++)
        for (int b = 0; b < nb; b++)
            if (a != b && n + 2 <= cap) {
                out[n++] = bs[a];
                out[n++] = bs[b];
            }
    return n;
}

/* What the peer has received so far, appended to got. */
static void peer_take(int peer, char *got, size_t *n, size_t cap)
{
    ssize_t k;
    while (*n < cap && (k = recv(peer, got + *n, cap - *n, MSG_DONTWAIT)) > 0)
        *n += (size_t)k;
}

/* One map, a new backend each pass: every pass must deliver the line its
 * peer wrote before it, exactly once, whichever backend served the pass
 * before; output pushed between passes reaches the peer once, in order; an
 * idle channel gets nothing; the backends left keep no descriptor. */
int hw_backend_switch(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    const char *order[64];
    int n = schedule(im->backends, o->backend, order, 64);
    int fds0 = exec_count_fds(), rc = 0, px = -1, py = -1;
    void *m = NULL, *x = NULL, *y = NULL;
    gap_rec_t rx, ry;
    rec_init(&rx);
    rec_init(&ry);
    char want_in[512] = "", want_out[512] = "", got[512];
    size_t nin = 0, nout = 0, ngot = 0;
    if (im->map_new(&m) < 0 || line_pair(im, m, &x, &px, &rx) < 0 ||
        line_pair(im, m, &y, &py, &ry) < 0) {
        rc = hw_fail(msg, cap, "set-up failed (a map, two chat channels)");
        goto out;
    }
    for (int i = 0; i < n && rc == 0; i++) {
        char line[16], out[16];
        int k = snprintf(line, sizeof(line), "r%d\n", i), ko = snprintf(out, sizeof(out), "w%d", i);
        (void)!send(px, line, (size_t)k, MSG_NOSIGNAL);
        int pr = im->push(x, out, (size_t)ko);
        nin += (size_t)snprintf(want_in + nin, sizeof(want_in) - nin, "r%d", i);
        nout += (size_t)snprintf(want_out + nout, sizeof(want_out) - nout, "%s", out);
        int r = im->poll(m, order[i], 1000);
        peer_take(px, got, &ngot, sizeof(got));
        if (pr != 0 || r < 0)
            rc = hw_fail(msg, cap, "pass %d on %s (after %s): push returned %d, the pass %d",
                         i, order[i], i ? order[i - 1] : "none", pr, r);
        else if (rx.s.found != i + 1 || rx.s.n != nin || memcmp(rx.buf, want_in, nin) != 0)
            rc = hw_fail(msg, cap, "pass %d on %s, after a pass on %s: %d record(s) \"%.*s\" "
                         "(want %d, \"%s\": the line written before the pass, delivered by it "
                         "and only once: L4, L2)", i, order[i], i ? order[i - 1] : "none",
                         rx.s.found, (int)hw_obs_kept(&rx.s), rx.buf, i + 1, want_in);
        else if (ngot > nout || memcmp(got, want_out, ngot) != 0)
            rc = hw_fail(msg, cap, "pass %d on %s: the peer received \"%.*s\" (want a prefix of "
                         "\"%s\": each push once, in order: L4, P3)", i, order[i], (int)ngot,
                         got, want_out);
    }
    for (int p = 0; rc == 0 && p < 50 && ngot < nout; p++) {
        im->poll(m, order[p % n], 10);
        peer_take(px, got, &ngot, sizeof(got));
    }
    if (rc == 0 && (ngot != nout || memcmp(got, want_out, ngot) != 0))
        rc = hw_fail(msg, cap, "after the passes the peer received \"%.*s\" (want \"%s\": L4, "
                     "P3)", (int)ngot, got, want_out);
    else if (rc == 0 && (hw_obs_calls(&ry.s) || rx.s.closes || rx.s.errors || others(&rx.s)))
        rc = hw_fail(msg, cap, "unexpected handler calls: the idle channel got %zu byte(s), %d "
                     "found, %d close, %d error, %d other; the busy one %d close, %d error, %d "
                     "other (want none: L4)", ry.s.n, ry.s.found, ry.s.closes, ry.s.errors,
                     others(&ry.s), rx.s.closes, rx.s.errors, others(&rx.s));
out:
    if (x) im->free(x);
    if (y) im->free(y);
    if (m) im->map_free(m);
    if (px >= 0) close(px);
    if (py >= 0) close(py);
    int fds1 = exec_count_fds();
    if (rc == 0 && fds1 != fds0)
        rc = hw_fail(msg, cap, "%d descriptor(s) open before the map and %d after it was "
                     "freed, its backends changed %d times (want the same: a backend left "
                     "keeps nothing, L4)", fds0, fds1, n - 1);
    return rc;
}

/* ------------------------------- the default map after its end, M1 M9 */

/* Passes on the default map until r has `found` records. */
static void serve_default(const exec_opts_t *o, gap_rec_t *r, int found)
{
    for (int p = 0; p < 50 && r->s.found < found; p++)
        o->impl->poll(NULL, o->backend, 10);
}

/* c's map was destroyed: c is closed, without handle_close (M9). */
static int check_gone(const acc_impl_t *im, void *c, const gap_rec_t *r, const char *how,
                      char *msg, size_t cap)
{
    long size = im->map_size(NULL);
    if (im->fd(c) == -1 && r->s.closes == 0 && size == 0)
        return 0;
    return hw_fail(msg, cap, "after %s: its channel's fd %d, %d handle_close, map_size(NULL) "
                   "%ld (want -1, none, 0: the channel closed without handle_close, the "
                   "thread's next default map empty: M9, M1)", how, im->fd(c), r->s.closes, size);
}

/* A new channel with no map lands in a new default map that works: one
 * line through it, served by passes given no map. */
static int check_new_default(const exec_opts_t *o, void **c, int *peer, gap_rec_t *r,
                             const char *how, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    if (line_pair(im, NULL, c, peer, r) < 0)
        return hw_fail(msg, cap, "after %s, a chat channel with no map could not be made "
                       "(want a new default map: M1)", how);
    long size = im->map_size(NULL);
    (void)!send(*peer, "b\n", 2, MSG_NOSIGNAL);
    serve_default(o, r, 1);
    if (size == 1 && r->s.found == 1 && r->s.n == 1 && r->buf[0] == 'b')
        return 0;
    return hw_fail(msg, cap, "after %s, a channel made with no map: map_size(NULL) %ld, "
                   "%d record(s) \"%.*s\" (want 1, 1 \"b\": a new default map, served: M1)",
                   how, size, r->s.found, (int)hw_obs_kept(&r->s), r->buf);
}

/* The default map destroyed given NULL, then given its own pointer: each
 * time its channel is closed without handle_close, and the next use makes
 * a new, empty default map that serves a new channel. */
int hw_default_after_free(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *c[3] = {NULL, NULL, NULL};
    int peer[3] = {-1, -1, -1}, rc = 0;
    gap_rec_t r[3];
    for (int i = 0; i < 3; i++)
        rec_init(&r[i]);
    if (im->map_size(NULL) != 0)
        return hw_fail(msg, cap, "the run's default map holds %ld channel(s) at the start "
                       "(want 0)", im->map_size(NULL));
    if ((rc = check_new_default(o, &c[0], &peer[0], &r[0], "nothing", msg, cap)))
        goto out;
    im->map_free(NULL);
    if ((rc = check_gone(im, c[0], &r[0], "map_free(NULL)", msg, cap)) ||
        (rc = check_new_default(o, &c[1], &peer[1], &r[1], "map_free(NULL)", msg, cap)))
        goto out;
    im->map_free(im->map_default());
    if ((rc = check_gone(im, c[1], &r[1], "map_free(map_default())", msg, cap)) ||
        (rc = check_new_default(o, &c[2], &peer[2], &r[2], "map_free(map_default())", msg,
                                cap)))
        goto out;
    if (r[0].s.found != 1 || others(&r[0].s) || r[0].s.errors || r[1].s.found != 1 ||
        others(&r[1].s) || r[1].s.errors)
        rc = hw_fail(msg, cap, "a channel of a destroyed default map got %d and %d record(s), "
                     "%d and %d other handler call(s) afterwards (want 1 each, none: M9)",
                     r[0].s.found, r[1].s.found, others(&r[0].s) + r[0].s.errors,
                     others(&r[1].s) + r[1].s.errors);
out:
    for (int i = 0; i < 3; i++) {
        if (c[i]) im->free(c[i]);
        if (peer[i] >= 0) close(peer[i]);
    }
    im->map_free(NULL);
    return rc;
}

/* --------------------------------- an exit asked with no map: L9, M1 */

/* A line channel whose found_terminator asks, with no map, for the exit of
 * the loop running it, and only then has its peer send the next line. */
typedef struct {
    gap_rec_t r;
    const acc_impl_t *im;
    int peer, exit_rc;
} exit_rec_t;

static void x_found(void *c)
{
    exit_rec_t *x = c;
    hw_obs_found(c);
    x->exit_rc = x->im->map_exit(NULL);
    (void)!send(x->peer, "b\n", 2, MSG_NOSIGNAL);
}

static const acc_events_t exit_events = {hw_obs_collect, x_found, hw_obs_close,
                                         hw_obs_error, hw_obs_connect, hw_obs_accept};

/* loop(NULL) serves the thread's default map, and map_exit(NULL) from one of
 * its handlers ends it once that read's framing is done (L9), whatever pass
 * count it was given: the line the handler had sent is still unread when
 * the loop returns.  A loop that ignored the exit would frame it on its next
 * pass, and every later one, up to its count. */
int hw_default_exit(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    exit_rec_t x;
    memset(&x, 0, sizeof(x));
    rec_init(&x.r);
    x.im = im;
    x.exit_rc = 1;
    void *c = NULL;
    int rc = 0;
    if (hw_chat_pair(im, NULL, &c, &x.peer, &exit_events, &x) < 0)
        return hw_fail(msg, cap, "a chat channel in the default map: socketpair or "
                       "chat_adopt failed");
    if (im->set_terminator(c, "\n", 1) < 0) {
        rc = hw_fail(msg, cap, "set_terminator failed");
        goto out;
    }
    (void)!send(x.peer, "a\n", 2, MSG_NOSIGNAL);
    int lr = im->loop(NULL, o->backend, 20, 50);
    if (lr != 0 || x.exit_rc != 0 || x.r.s.found != 1 || x.r.s.n != 1 || x.r.buf[0] != 'a')
        rc = hw_fail(msg, cap, "loop(NULL) returned %d after map_exit(NULL) in found_terminator "
                     "returned %d; %d record(s) framed, %zu byte(s) (want 0, 0, 1 record \"a\": "
                     "the exit ends the loop of the default map before the line sent from "
                     "the handler is read, L9, M1)", lr, x.exit_rc, x.r.s.found, x.r.s.n);
    else if (x.r.s.closes || x.r.s.errors || others(&x.r.s))
        rc = hw_fail(msg, cap, "%d close(s), %d error(s), %d other handler call(s) (want none)",
                     x.r.s.closes, x.r.s.errors, others(&x.r.s));
out:
    im->free(c);
    close(x.peer);
    return rc;
}

/* --------------------------- no default map yet, no memory: M1, E3 */

typedef struct {
    const exec_opts_t *o;
    char msg[400];
} absent_t;

/* In a thread that has no default map, with every allocation failing:
 * size, close_all, exit, loop and destruction given NULL have nothing to
 * do and must succeed (M1); a pass needs the map and may fail, but only
 * with ENOMEM (E3); if it runs, an empty map gives it no event. */
static void *absent_thread(void *p)
{
    absent_t *t = p;
    const acc_impl_t *im = t->o->impl;
    const char *be = t->o->backend;
    /* Each call gets its own failing allocation: one made by an earlier
     * call must not use up the failure meant for the next. */
    acc_fa_arm(0);
    long size = im->map_size(NULL);
    acc_fa_arm(0);
    int all = im->close_all(NULL);
    acc_fa_arm(0);
    int ex = im->caps & ACC_CAP_EXIT ? im->map_exit(NULL) : 0;
    acc_fa_arm(0);
    int lp = im->loop(NULL, be, 0, 1);
    acc_fa_arm(0);
    im->map_free(NULL);
    acc_fa_arm(0);
    int pa = im->poll(NULL, be, 0);
    acc_fa_arm(-1);
    if (size != 0 || all != 0 || ex != 0 || lp != 0)
        snprintf(t->msg, sizeof(t->msg), "with no default map yet and no memory: "
                 "map_size(NULL) %ld, close_all(NULL) %d, map_exit(NULL) %d, loop(NULL) %d "
                 "(want 0 each: nothing to do, no default map made for it: M1)", size, all, ex,
                 lp);
    else if (pa != 0 && pa != -ENOMEM)
        snprintf(t->msg, sizeof(t->msg), "poll(NULL) with no default map yet and no memory "
                 "returned %d (want 0, a pass on an empty map, or %d: E3)", pa, -ENOMEM);
    im->map_free(NULL);
    return NULL;
}

int hw_default_absent(const exec_opts_t *o, char *msg, size_t cap)
{
    absent_t t = {o, ""};
    pthread_t th;
    if (pthread_create(&th, NULL, absent_thread, &t) != 0)
        return hw_fail(msg, cap, "pthread_create failed");
    pthread_join(th, NULL);
    return t.msg[0] ? hw_fail(msg, cap, "%s", t.msg) : 0;
}
