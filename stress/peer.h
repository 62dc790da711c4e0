/* peer.h: the peer side of a channel pair (peer.c). */
#ifndef STRESS_PEER_H
#define STRESS_PEER_H

#include "chan.h"

void peer_close(chan_t *c);
void peer_read(chan_t *c);
void peer_write(chan_t *c);

#endif /* STRESS_PEER_H */
