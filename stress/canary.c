/* canary.c: the cross-push canary, which breaks ownership on purpose and
 * must be caught: each thread pushes into its left neighbour's victim
 * channel while that thread's loop sends from it, with no lock. */
#include "canary.h"
#include "open.h"
#include "push.h"
#include "up.h"

/* The thread whose victim w pushes into: its left neighbour. */
static worker_t *victim_owner(const worker_t *w)
{
    return g_run.workers[(w->idx + g_run.o.threads - 1) % g_run.o.threads];
}

/* The victim's own pushes: whole records only, as the cross pusher's
 * records interleave with these at push granularity. */
void victim_push(chan_t *c)
{
    rng_t *r = &c->rng;
    worker_t *w = c->w;
    if (c->gen.seq - c->par.expect[0] > 256 || c->up_stop)
        return;
    size_t n = up_records(&c->gen, r, w->buf, 1 + (int)below(r, 3));
    push_bytes(c, w->buf, n);
}

/* The cross-push canary: this thread pushes whole records into the victim
 * channel of another thread while that thread's loop sends from it.  No
 * lock, on purpose (ownership.md rule 3). */
void cross_push(worker_t *w)
{
    if (w->xch == NULL || w->xdead || w->stopping)
        return;
    worker_t *owner = victim_owner(w);
    /* Bursts of small pushes: the more time both threads spend inside the
     * FIFO at once, the surer a collision within a short run. */
    for (int burst = 0; burst < 16; burst++) {
        uint32_t rx = atomic_load_explicit(&owner->victim_rx1,
                                           memory_order_relaxed);
        if (w->xgen.seq - rx > 2048)
            return;
        uint32_t before = w->xgen.seq;
        size_t n = up_records(&w->xgen, &w->rng, w->buf,
                              1 + (int)below(&w->rng, 2));
        int rc = IMPL->push(w->xch, w->buf, n);
        w->ops++;
        if (rc != 0) {
            /* The victim closed under us: these records never went in. */
            w->xdead = 1;
            w->xgen.seq = before;
            return;
        }
    }
}

/* Opens this thread's victim in slot 0, and once every thread has, learns
 * the victim it pushes into. */
void cross_setup(worker_t *w)
{
    chan_open(w, 0, OPEN_VICTIM);
    w->victim = w->slot[0];
    w->victim_ch = w->victim->ch;
    pthread_barrier_wait(&g_run.barrier);
    worker_t *owner = victim_owner(w);
    w->xch = owner->victim_ch;
    w->xgen.uid = owner->victim->uid;
    w->xgen.src = 1;
}

void cross_stop(worker_t *w)
{
    /* Every pusher publishes its total, then each victim's owner learns
     * how many records to wait for.  The barrier orders this hand-over. */
    atomic_store_explicit(&w->xtotal, w->xgen.seq, memory_order_relaxed);
    pthread_barrier_wait(&g_run.barrier);
    worker_t *pusher = g_run.workers[(w->idx + 1) % g_run.o.threads];
    if (w->victim) {
        w->victim->x_expected =
            atomic_load_explicit(&pusher->xtotal, memory_order_relaxed);
        w->victim->deadline = w->now + g_run.o.grace;
    }
}
