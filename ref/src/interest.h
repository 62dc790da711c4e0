/* interest.h: what each registration of a map watches, and the map's
 * registrations as the layer above makes them: registering through here
 * keeps the interest lists right.  Above map.h, below the loop. */
#ifndef ACHAT_INTEREST_H
#define ACHAT_INTEREST_H

#include "map.h"

/* ac__map_add/ac__map_del, with io joining or leaving what the map
 * watches. */
int ac__interest_register(ac_map_t *map, ac__io_t *io);
void ac__interest_unregister(ac_map_t *map, ac__io_t *io);
/* A registration that does not ask watches ev from now on; a stateful
 * backend hears of it once, at the start of the next pass. */
void ac__interest_set(ac_map_t *map, ac__io_t *io, unsigned ev);
/* The map's backend changed: a stateful one must hear everything. */
void ac__interest_rebase(ac_map_t *map);
/* Phase 1 of a pass: fills map->watch with what to watch (every
 * registration for a stateless backend; for a stateful one only those
 * that ask, after telling it every change) and sets *n to the number of
 * registrations watched.  Returns 0 or a negative errno. */
int ac__interest_snapshot(ac_map_t *map, size_t *n);

#endif /* ACHAT_INTEREST_H */
