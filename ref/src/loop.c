/* loop.c: one pass of the loop as named phases (what to watch, from
 * interest.c; wait; deliver; reap), and ac_loop repeating it.  The snapshot
 * taken in the first phase is what makes stale events (CQ1) and late
 * additions harmless.  What a registration does with readiness is its
 * class's business: the loop knows no dispatcher. */
#include <errno.h>
#include <stdlib.h>

#include "interest.h"

static int use_backend(ac_map_t *map, const ac_backend_t *b)
{
    if (map->backend == b)
        return 0;
    void *state = NULL;
    int rc = b->init(&state);
    if (rc < 0)
        return rc;
    if (map->backend)
        map->backend->free(map->bstate);
    map->backend = b;
    map->bstate = state;
    ac__interest_rebase(map);
    return 0;
}

/* Phase 2: a stateless backend fills revents in the n entries of the
 * snapshot; a stateful one returns only the ready entries. */
static int wait_phase(ac_map_t *map, size_t n, int timeout_ms, size_t *m)
{
    const ac_backend_t *b = map->backend;
    if (b->wait_ready == NULL) {
        *m = n;
        return b->wait(map->bstate, map->watch, n, timeout_ms);
    }
    int rc = b->wait_ready(map->bstate, map->watch, map->capwatch, timeout_ms);
    *m = rc > 0 ? (size_t)rc : 0;
    return rc;
}

static int pass(ac_map_t *map, int timeout_ms)
{
    size_t n, m;
    int rc = ac__interest_snapshot(map, &n);
    if (rc < 0)
        return rc;
    if (n == 0 && timeout_ms == AC_INFINITE) {
        map->idle_forever = 1; /* nothing could ever wake this pass */
        return 0;
    }
    rc = wait_phase(map, n, timeout_ms, &m);
    if (rc <= 0)
        return rc;
    int fired = 0;
    for (size_t i = 0; i < m && !map->exit_requested; i++) {
        struct ac_watch *w = &map->watch[i];
        /* Only the very registration polled gets the event (CQ1): one
         * closed earlier in this pass is skipped even if its fd was reused. */
        if (w->revents == 0 || w->io->fd != w->fd ||
            !ac__map_holds(map, w->io))
            continue;
        fired++;
        w->io->cls->ready(w->io, w->events, w->revents);
    }
    return fired;
}

int ac_poll(ac_map_t *map, int timeout_ms, const ac_backend_t *backend)
{
    if (timeout_ms < 0 && timeout_ms != AC_INFINITE)
        return -EINVAL;
    map = ac__map_resolve(map);
    if (map == NULL)
        return -ENOMEM; /* the default map could not be made (E3) */
    if (map->in_pass)
        return -EBUSY;
    int rc = use_backend(map, backend ? backend : &ac_backend_poll);
    if (rc < 0)
        return rc;
    map->in_pass = 1;
    map->idle_forever = 0;
    /* A request left by an earlier pass, or made outside any loop, must
     * not swallow this pass's events; ac_loop reads the flag after us. */
    map->exit_requested = 0;
    rc = pass(map, timeout_ms);
    map->in_pass = 0;
    ac__map_reap(map);
    return rc;
}

int ac_loop(ac_map_t *map, int timeout_ms, const ac_backend_t *backend,
            int count)
{
    if (count < 0 || (timeout_ms < 0 && timeout_ms != AC_INFINITE))
        return -EINVAL; /* also on an empty map, which runs no pass */
    /* L7: a default map not made yet is empty, so no pass runs. */
    map = ac__map_existing(map);
    if (map == NULL)
        return 0;
    if (map->in_pass)
        return -EBUSY;
    /* Each pass clears an exit request left from before it (L9), so the
     * flag read below is always this loop's own. */
    for (int done = 0; map->count > 0; done++) {
        if (count != AC_LOOP_FOREVER && done >= count)
            break;
        int rc = ac_poll(map, timeout_ms, backend);
        if (rc < 0)
            return rc;
        if (map->exit_requested || map->idle_forever)
            break;
    }
    return 0;
}
