/* up.h: the up stream's records (up.c), for the pushers that make them
 * and the peer that checks them. */
#ifndef STRESS_UP_H
#define STRESS_UP_H

#include "chan.h"

/* Bytes left of g's current record (0 at a record boundary). */
size_t up_rest(const upgen_t *g);
void up_fill(upgen_t *g, rng_t *r, unsigned char *out, size_t n,
             size_t maxrec);
size_t up_records(upgen_t *g, rng_t *r, unsigned char *out, int nrec);
/* Checks n more bytes the peer received on c. */
void up_parse(chan_t *c, const unsigned char *p, size_t n);
/* The peer has every byte pushed on c, ending at a record boundary. */
int up_complete(const chan_t *c);

#endif /* STRESS_UP_H */
