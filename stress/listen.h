/* listen.h: a worker's loopback listeners (listen.c). */
#ifndef STRESS_LISTEN_H
#define STRESS_LISTEN_H

#include "chan.h"

/* Opens the listeners the kinds of --kinds need. */
void listeners_open(worker_t *w);
void listeners_close(worker_t *w);
/* Pairs what the driver's listener accepted with its slots. */
void raw_accept(worker_t *w);

#endif /* STRESS_LISTEN_H */
