/* worker.c: one stress thread.  It owns a map and runs its loop, keeps C
 * slots each holding a channel pair (the implementation's side through the
 * suite's adapter, the peer side a raw non-blocking fd driven by this same
 * thread) and steps each slot once per pass; what a step does lives in the
 * files this one includes, the oracle's checks among them. */
#include <errno.h>
#include <stdlib.h>

#include "annot.h"
#include "canary.h"
#include "ending.h"
#include "listen.h"
#include "open.h"
#include "peer.h"
#include "push.h"
#include "worker.h"

worker_t *worker_new(int idx)
{
    worker_t *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->idx = idx;
    w->rng.s = mix64(g_run.o.seed ^ mix64((uint64_t)idx + 1));
    w->nslot = g_run.o.channels + 1; /* the last: churn_in_callback's */
    w->slot = calloc((size_t)w->nslot, sizeof(*w->slot));
    w->buf = malloc(BUFSZ + 2 * (UP_HDR + 64) * 8);
    w->raw_lfd = -1;
    w->reuse_fd = -1;
    if (w->slot == NULL || w->buf == NULL) {
        worker_free(w);
        return NULL;
    }
    atomic_init(&w->victim_rx1, 0);
    atomic_init(&w->xtotal, 0);
    annot_atomic(&w->victim_rx1, sizeof(w->victim_rx1));
    return w;
}

void worker_free(worker_t *w)
{
    if (w == NULL)
        return;
    for (int i = 0; i < QUAR; i++)
        free(w->quar[i]);
    free(w->slot);
    free(w->buf);
    free(w);
}

void worker_totals(const worker_t *w, totals_t *t)
{
    t->records += w->records;
    t->channels += w->opened;
    t->strays += w->strays;
    t->fallbacks += w->fallbacks;
    t->picked += w->picked;
    t->tcp_tries += w->tcp_tries;
}

static void chan_reap(worker_t *w, int i)
{
    chan_t *c = w->slot[i];
    chan_free_impl(c);
    for (prod_t *p = c->prods, *n; p; p = n) {
        n = p->next;
        if (!p->released)
            cfail(c, "a producer was never released, though its channel "
                     "was freed");
        free(p);
    }
    c->prods = NULL;
    for (rec_t *r = c->rhead, *n; r; r = n) {
        n = r->next;
        free(r);
    }
    c->rhead = c->whead = c->rtail = NULL;
    w->slot[i] = NULL;
    w->alive--;
    chan_quarantine(w, c);
}

/* A victim pushes whole records only (canary.c); the rest, any bytes. */
static void chan_push(chan_t *c)
{
    if (c->victim)
        victim_push(c);
    else
        maybe_push(c);
}

static void chan_step(chan_t *c)
{
    worker_t *w = c->w;
    if (c->waiting) {
        if (c->kind == KIND_CONNECT && c->impl_open)
            chan_push(c); /* queued until the connection exists (P5) */
        if (w->now > c->deadline)
            cfail(c, "the loopback connection was not accepted within %.0fs",
                  g_run.o.grace);
        return;
    }
    if (c->pfd >= 0 && c->peer_rd)
        peer_read(c);
    if (c->pfd >= 0 && c->peer_wr)
        peer_write(c);
    if (c->impl_open && c->ch && !c->up_stop)
        chan_push(c);
    ending_step(c);
    if (c->ending != E_NONE && c->ending != E_VICTIM && w->now > c->deadline)
        cfail(c, "the ending did not complete within %.0fs: %s",
              g_run.o.grace, chan_state(c));
    if (c->ending == E_VICTIM && w->stopping && w->now > c->deadline)
        cfail(c, "cross-push victim did not drain within %.0fs: %s",
              g_run.o.grace, chan_state(c));
}

static int everyone_finished(void)
{
    for (int i = 0; i < g_run.o.threads; i++)
        if (!atomic_load_explicit(&g_run.pub[i].finished,
                                  memory_order_relaxed))
            return 0;
    return 1;
}

static void begin_stop(worker_t *w)
{
    w->stopping = 1;
    if (g_run.o.mode == MODE_CROSS_PUSH)
        cross_stop(w);
}

static void publish(worker_t *w, uint64_t beat)
{
    pubstats_t *p = &g_run.pub[w->idx];
    atomic_store_explicit(&p->ops, w->ops, memory_order_relaxed);
    atomic_store_explicit(&p->bytes, w->bytes, memory_order_relaxed);
    atomic_store_explicit(&p->opened, w->opened, memory_order_relaxed);
    atomic_store_explicit(&p->alive, (uint64_t)w->alive, memory_order_relaxed);
    atomic_store_explicit(&p->beat, beat, memory_order_relaxed);
}

/* The thread's map: the shared one (the shared-map canary), its own
 * thread's default map on odd threads, else a new one. */
static void worker_map(worker_t *w)
{
    const stress_opts_t *o = &g_run.o;
    if (o->mode == MODE_SHARED_MAP) {
        w->map = g_run.shared_map;
    } else if ((w->idx & 1) && (IMPL->caps & ACC_CAP_DEFAULT_MAP) &&
               IMPL->map_default) {
        /* Odd threads use their own thread's default map: it must be
         * theirs alone (ownership.md rule 2). */
        w->map = IMPL->map_default();
        if (w->map == NULL)
            stress_harness("map_default returned NULL");
        w->default_map = 1;
    } else {
        int rc = IMPL->map_new(&w->map);
        if (rc < 0)
            stress_harness("map_new: %s", errname(rc));
    }
}

/* Notes when this thread has opened its --iterations channels, and begins
 * its stop when the run stops, or when it (or, for the cross-push canary,
 * every thread) is done opening.  Returns the new finished. */
static int update_stop(worker_t *w, int finished)
{
    const stress_opts_t *o = &g_run.o;
    if (!finished && o->iterations > 0 && (long)w->opened >= o->iterations) {
        finished = 1;
        atomic_store_explicit(&g_run.pub[w->idx].finished, 1,
                              memory_order_relaxed);
    }
    if (!w->stopping) {
        int glob = atomic_load_explicit(&g_run.stop, memory_order_relaxed) ||
                   (o->iterations > 0 && finished && everyone_finished());
        if (glob || (finished && o->mode != MODE_CROSS_PUSH))
            begin_stop(w);
    }
    return finished;
}

/* One pass over the slots: steps every channel, reaps the finished ones
 * and, until the stop, opens a channel in each free slot. */
static void slots_pass(worker_t *w, int finished)
{
    for (int i = 0; i < w->nslot; i++) {
        chan_t *c = w->slot[i];
        if (c == NULL) {
            if (!w->stopping && !finished && i != w->nslot - 1)
                chan_open(w, i, 0);
            continue;
        }
        chan_step(c);
        if (w->slot[i] == c && c->victim && c->step == 2 &&
            !c->impl_open && c->pfd < 0 && c->closes == 1)
            c->victim = 0; /* drained and closed: reap like the rest */
        if (chan_finished(c))
            chan_reap(w, i);
    }
}

/* One pass of the implementation's loop, which may wait only when the
 * driver had nothing to do in this pass. */
static void loop_pass(worker_t *w)
{
    const stress_opts_t *o = &g_run.o;
    int rc = IMPL->poll(w->map, o->backend, w->activity ? 0 : 1);
    if (rc < 0) {
        if (rc == -EBUSY && o->mode == MODE_SHARED_MAP)
            ; /* another thread is in a pass of the shared map */
        else if (rc == -ERANGE)
            stress_harness("the %s backend got an fd >= FD_SETSIZE",
                           o->backend);
        else
            stress_violation(w->idx, "poll returned %s", errname(rc));
    }
}

/* After the last channel: the listeners go, and the map, which must be
 * empty by now. */
static void worker_leave(worker_t *w)
{
    const stress_opts_t *o = &g_run.o;
    listeners_close(w);
    if (o->mode != MODE_SHARED_MAP) {
        if (IMPL->map_size) {
            long n = IMPL->map_size(w->map);
            if (n != 0)
                stress_violation(w->idx, "the map still holds %ld channels "
                                 "after every channel was closed", n);
        }
        if (!w->default_map)
            IMPL->map_free(w->map); /* a default map goes with its thread */
    }
    w->map = NULL;
}

void *worker_main(void *arg)
{
    worker_t *w = arg;
    tls_w = w;
    w->now = stress_now();
    worker_map(w);
    listeners_open(w);
    if (g_run.o.mode == MODE_CROSS_PUSH)
        cross_setup(w);
    uint64_t beat = 0;
    int finished = 0;
    for (;;) {
        w->now = stress_now();
        w->activity = 0;
        finished = update_stop(w, finished);
        slots_pass(w, finished);
        raw_accept(w);
        cross_push(w);
        loop_pass(w);
        publish(w, ++beat);
        if (w->stopping && w->alive == 0)
            break;
    }
    worker_leave(w);
    publish(w, ++beat);
    atomic_store_explicit(&g_run.pub[w->idx].done, 1, memory_order_relaxed);
    return NULL;
}
