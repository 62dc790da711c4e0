/* worker.h: a stress thread as main.c sees it: made, run, counted, freed.
 * The rest of the worker (chan.h and the headers of its parts) stays inside
 * the worker's files. */
#ifndef STRESS_WORKER_H
#define STRESS_WORKER_H

#include <stdint.h>

#include "run.h"

worker_t *worker_new(int idx);
void *worker_main(void *arg);
void worker_free(worker_t *w);
/* Totals of the finished workers, for the summary line. */
typedef struct totals {
    uint64_t records, channels, strays;
    uint64_t picked;    /* channels whose kind was drawn, TCP or not */
    uint64_t tcp_tries; /* of them, a TCP kind was drawn */
    uint64_t fallbacks; /* of those, fell back to a socketpair */
} totals_t;
void worker_totals(const worker_t *w, totals_t *t);

#endif /* STRESS_WORKER_H */
