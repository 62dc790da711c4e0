/* dispatcher.h: a dispatcher as its map serves it: the constructor shared
 * with whatever embeds a dispatcher, which installs the class through which
 * the loop asks the predicates and delivers readiness. */
#ifndef ACHAT_DISPATCHER_H
#define ACHAT_DISPATCHER_H

#include "handle.h"

/* Binds d (zeroed by the caller) to map with ops and ud; kind is what
 * embeds it (NULL: a plain dispatcher, freed with free()).  asks: ops'
 * predicates run user code, so each pass must call them (L1); otherwise
 * their answer follows d's state and ac__disp_refresh keeps it. */
void ac__disp_init(ac_disp_t *d, ac_map_t *map, const ac_ops_t *ops,
                   void *ud, const ac__disp_kind_t *kind, int asks);
/* d's state changed in a way its library-owned predicates may see
 * (socket taken, listening, connecting, output queued or sent): the map
 * learns what d watches now.  Harmless on any dispatcher. */
void ac__disp_refresh(ac_disp_t *d);

#endif /* ACHAT_DISPATCHER_H */
