/* push.c: what a worker pushes into the implementation's side of a
 * channel: the up stream as plain pushes and as producers (whose release
 * the oracle checks), and the rest of a record before an exact ending. */
#include <stdlib.h>

#include "push.h"
#include "up.h"

static void ev_released(void *pctx)
{
    prod_t *p = pctx;
    chan_t *c = p->c;
    if (c->w != tls_w)
        stress_violation(tls_w ? tls_w->idx : -1,
                         "a producer of thread %d was released on thread %d",
                         c->w->idx, tls_w ? tls_w->idx : -1);
    if (p->released)
        cfail(c, "a producer was released twice");
    p->released = 1;
    c->prod_out--;
    c->w->ops++;
}

static size_t up_maxrec(const chan_t *c)
{
    return c->out_size && c->out_size < 64 ? 512 : UP_MAX_REC;
}

void push_bytes(chan_t *c, const unsigned char *p, size_t n)
{
    int rc = IMPL->push(c->ch, p, n);
    if (rc != 0)
        cfail(c, "push of %zu bytes on an open channel failed: %s", n,
              errname(rc));
    c->up_pushed += n;
    c->w->ops++;
}

static void push_producer(chan_t *c, size_t total)
{
    worker_t *w = c->w;
    prod_t *p = calloc(1, sizeof(*p) + total);
    if (p == NULL)
        stress_harness("out of memory");
    up_fill(&c->gen, &c->rng, p->data, total, up_maxrec(c));
    size_t n = 1 + below(&c->rng, 8);
    if (n > total)
        n = total;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t left = total - off - (n - 1 - i); /* >= 1 for each next */
        size_t k = i + 1 == n ? total - off : 1 + below(&c->rng, left);
        p->chunks[i] = p->data + off;
        p->lens[i] = k;
        off += k;
    }
    p->c = c;
    p->next = c->prods;
    c->prods = p;
    c->prod_out++;
    acc_producer_t ap = {.chunks = p->chunks, .lens = p->lens, .n = n,
                         .released = ev_released, .pctx = p};
    int rc = IMPL->push_producer(c->ch, &ap);
    if (rc != 0)
        cfail(c, "push_producer of %zu bytes on an open channel failed: %s",
              total, errname(rc));
    c->up_pushed += total;
    w->ops++;
}

/* Pushes the rest of the current up record, so the stream can end at a
 * record boundary. */
void finish_up(chan_t *c)
{
    size_t rest = up_rest(&c->gen);
    if (rest > 0 && c->ch && c->impl_open) {
        up_fill(&c->gen, &c->rng, c->w->buf, rest, up_maxrec(c));
        push_bytes(c, c->w->buf, rest);
    }
}

/* Now and then pushes more of the up stream (not on a victim: see
 * victim_push), within the channel's budget and window. */
void maybe_push(chan_t *c)
{
    rng_t *r = &c->rng;
    worker_t *w = c->w;
    /* A channel sending a few bytes per pass gets small pushes, or its
     * drain would take thousands of passes. */
    int slow = c->out_size && c->out_size < 64;
    size_t maxpush = slow ? 1024 : 65536;
    if (c->up_pushed >= c->up_budget ||
        c->up_pushed - c->par.rx > (slow ? 4096 : UP_WINDOW) ||
        !chance(r, 40))
        return;
    if ((IMPL->caps & ACC_CAP_PRODUCER) && chance(r, 15)) {
        push_producer(c, skewed(r, maxpush));
        return;
    }
    size_t n = chance(r, 4) ? 0 : skewed(r, maxpush);
    up_fill(&c->gen, r, w->buf, n, up_maxrec(c));
    push_bytes(c, w->buf, n);
}
