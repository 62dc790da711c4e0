/* dispatcher.h: a dispatcher as its map serves it: the constructor shared
 * with whatever embeds a dispatcher, which installs the class through which
 * the loop asks the predicates and delivers readiness. */
#ifndef ACHAT_DISPATCHER_H
#define ACHAT_DISPATCHER_H

#include "handle.h"

/* Binds d (zeroed by the caller) to map with ops and ud; kind is what
 * embeds it (NULL: a plain dispatcher, freed with free()). */
void ac__disp_init(ac_disp_t *d, ac_map_t *map, const ac_ops_t *ops,
                   void *ud, const ac__disp_kind_t *kind);

#endif /* ACHAT_DISPATCHER_H */
