/* loop.c: one pass of the loop as named phases (ask the predicates, wait,
 * dispatch, reap), and ac_loop repeating it.  The snapshot taken in the
 * first phase is what makes stale events (CQ1) and late additions harmless. */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

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
    return 0;
}

static int want(int (*pred)(ac_disp_t *, void *), ac_disp_t *d)
{
    return pred ? pred(d, d->ud) != 0 : 1;
}

/* Phase 1: every open channel is asked readable() and writable() once.
 * A listening channel is never watched for output (asyncore's rule). */
static int snapshot(ac_map_t *map, size_t *nout)
{
    size_t n = 0;
    for (size_t fd = 0; fd < map->nbyfd; fd++) {
        ac_disp_t *d = map->byfd[fd];
        if (d == NULL)
            continue;
        unsigned ev = 0;
        if (want(d->ops.readable, d))
            ev |= AC__EV_IN;
        if (ac__disp_open(d) && !d->accepting && want(d->ops.writable, d))
            ev |= AC__EV_OUT;
        if (!ac__disp_open(d) || ev == 0)
            continue;
        if (n == map->capwatch) {
            size_t cap = map->capwatch ? map->capwatch * 2 : 64;
            struct ac_watch *w = realloc(map->watch, cap * sizeof(*w));
            if (w == NULL)
                return -ENOMEM;
            map->watch = w;
            map->capwatch = cap;
        }
        map->watch[n++] = (struct ac_watch){d->fd, ev, 0, d, d->serial};
    }
    *nout = n;
    return 0;
}

static int stopped(ac_map_t *map, ac_disp_t *d)
{
    return map->exit_requested || !ac__disp_open(d);
}

/* Phase 3 for one channel: read, write, urgent, close, stopping as soon as
 * the channel closed (CQ2).  With input readiness the read path drains the
 * data and recv()==0 closes (CQ3), so hangup and error flags close only a
 * channel that asked for input and got no input step.  A channel that only
 * writes learns of a hangup from its next send, exactly as on select, which
 * has no hangup report: the backends stay equivalent (L4). */
static void dispatch(ac_map_t *map, ac_disp_t *d, unsigned asked,
                     unsigned ev)
{
    if (ev & AC__EV_IN) {
        ac__read_event(d);
        if (stopped(map, d))
            return;
    }
    if (ev & AC__EV_OUT) {
        ac__write_event(d);
        if (stopped(map, d))
            return;
    }
    if (ev & AC__EV_PRI) {
        ac__expt_event(d);
        if (stopped(map, d))
            return;
    }
    if (ev & AC__EV_NVAL) {
        d->fd_lost = 1; /* its number may name another file by now */
        ac__close_event(d);
    } else if ((ev & (AC__EV_ERR | AC__EV_HUP)) && (asked & AC__EV_IN) &&
               !(ev & AC__EV_IN)) {
        ac__close_event(d);
    }
}

static int pass(ac_map_t *map, int timeout_ms)
{
    size_t n;
    int rc = snapshot(map, &n);
    if (rc < 0)
        return rc;
    if (n == 0 && timeout_ms == AC_INFINITE) {
        map->idle_forever = 1; /* nothing could ever wake this pass */
        return 0;
    }
    rc = map->backend->wait(map->bstate, map->watch, n, timeout_ms);
    if (rc <= 0)
        return rc;
    int fired = 0;
    for (size_t i = 0; i < n && !map->exit_requested; i++) {
        struct ac_watch *w = &map->watch[i];
        /* Only the very object polled gets the event (CQ1): a channel closed
         * earlier in this pass is skipped even if its fd was reused. */
        if (w->revents == 0 || !ac__disp_open(w->disp) ||
            w->disp->fd != w->fd)
            continue;
        fired++;
        dispatch(map, w->disp, w->events, w->revents);
    }
    return fired;
}

int ac_poll(ac_map_t *map, int timeout_ms, const ac_backend_t *backend)
{
    map = ac__map_resolve(map);
    if (map == NULL || (timeout_ms < 0 && timeout_ms != AC_INFINITE))
        return -EINVAL;
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
    map = ac__map_resolve(map);
    if (map == NULL || count < 0 ||
        (timeout_ms < 0 && timeout_ms != AC_INFINITE))
        return -EINVAL; /* also on an empty map, which runs no pass */
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
