/* down.h: the down stream's records (down.c), for the peer that writes
 * them and the callbacks that check them. */
#ifndef STRESS_DOWN_H
#define STRESS_DOWN_H

#include "chan.h"

/* Bytes the peer writes for r: its payload, then its terminator. */
size_t rec_enc(const rec_t *r);
/* Makes and queues c's next record. */
rec_t *gen_record(chan_t *c);
/* Sets the framing r needs (none if r is NULL). */
int set_framing(chan_t *c, const rec_t *r);
void down_collect(chan_t *c, const unsigned char *p, size_t n);
void down_found(chan_t *c);
/* The peer is between records (none: anywhere). */
int down_idle(const chan_t *c);
/* Every byte and record the peer wrote was delivered. */
int down_delivered(const chan_t *c);

#endif /* STRESS_DOWN_H */
