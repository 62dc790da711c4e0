/* push.h: pushes into the implementation's side of a channel (push.c). */
#ifndef STRESS_PUSH_H
#define STRESS_PUSH_H

#include "chan.h"

/* Pushes p[0..n) on c's open channel: a failure is a violation. */
void push_bytes(chan_t *c, const unsigned char *p, size_t n);
void finish_up(chan_t *c);
void maybe_push(chan_t *c);

#endif /* STRESS_PUSH_H */
