/* canary.h: the cross-push canary (canary.c); the shared-map canary is
 * only a choice of map, made in worker.c. */
#ifndef STRESS_CANARY_H
#define STRESS_CANARY_H

#include "chan.h"

void victim_push(chan_t *c);
void cross_push(worker_t *w);
void cross_setup(worker_t *w);
/* At the stop: tells each victim's owner how many records to wait for. */
void cross_stop(worker_t *w);

#endif /* STRESS_CANARY_H */
