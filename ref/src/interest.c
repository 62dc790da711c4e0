/* interest.c: what each registration of a map watches.  A registration
 * whose predicates are the library's own has its interest kept here and
 * set when its state changes; one with user predicates is asked each pass
 * (L1).  A stateful backend hears each change once, in one batch at the
 * start of the next pass, so an idle registration costs a pass nothing. */
#include <errno.h>
#include <stdlib.h>

#include "interest.h"

static int stateful(const ac_map_t *map)
{
    return map->backend != NULL && map->backend->set != NULL;
}

static void list_push(ac__io_list_t *l, ac__io_t *io)
{
    io->lnext = NULL;
    io->lprev = l->tail;
    if (l->tail)
        l->tail->lnext = io;
    else
        l->head = io;
    l->tail = io;
    l->n++;
}

static void list_drop(ac__io_list_t *l, ac__io_t *io)
{
    if (io->lprev)
        io->lprev->lnext = io->lnext;
    else
        l->head = io->lnext;
    if (io->lnext)
        io->lnext->lprev = io->lprev;
    else
        l->tail = io->lprev;
    io->lprev = io->lnext = NULL;
    l->n--;
}

/* Records io's interest and keeps the count of watched registrations. */
static void note(ac_map_t *map, ac__io_t *io, unsigned ev)
{
    if (io->interest != 0)
        map->watching--;
    if (ev != 0)
        map->watching++;
    io->interest = ev;
}

static void mark_dirty(ac_map_t *map, ac__io_t *io)
{
    if (!io->dirty) {
        io->dirty = 1;
        list_push(&map->dirty, io);
    }
}

void ac__interest_set(ac_map_t *map, ac__io_t *io, unsigned ev)
{
    if (ev == io->interest)
        return;
    note(map, io, ev);
    if (stateful(map))
        mark_dirty(map, io);
}

int ac__interest_register(ac_map_t *map, ac__io_t *io)
{
    int rc = ac__map_add(map, io);
    if (rc < 0)
        return rc;
    io->interest = 0;
    io->dirty = 0;
    if (io->asks)
        list_push(&map->asking, io);
    return 0;
}

void ac__interest_unregister(ac_map_t *map, ac__io_t *io)
{
    if (map == NULL || !ac__map_holds(map, io))
        return;
    if (io->asks)
        list_drop(&map->asking, io);
    else if (io->dirty)
        list_drop(&map->dirty, io);
    io->dirty = 0;
    note(map, io, 0);
    ac__map_del(map, io);
}

void ac__interest_rebase(ac_map_t *map)
{
    while (map->dirty.head) {
        map->dirty.head->dirty = 0;
        list_drop(&map->dirty, map->dirty.head);
    }
    if (!stateful(map))
        return;
    for (size_t fd = 0; fd < map->nbyfd; fd++) {
        ac__io_t *io = map->byfd[fd];
        if (io != NULL && !io->asks && io->interest != 0)
            mark_dirty(map, io);
    }
}

static int watch_room(ac_map_t *map, size_t need)
{
    if (need <= map->capwatch)
        return 0;
    size_t cap = map->capwatch ? map->capwatch : 64;
    while (cap < need)
        cap *= 2;
    struct ac_watch *w = realloc(map->watch, cap * sizeof(*w));
    if (w == NULL)
        return -ENOMEM;
    map->watch = w;
    map->capwatch = cap;
    return 0;
}

/* Asks io's class, unless a predicate asked before it in this pass closed
 * it.  Returns 1 if io is still registered, with its interest noted. */
static int ask(ac_map_t *map, ac__io_t *io)
{
    unsigned ev = io->cls->interest(io);
    if (!ac__map_holds(map, io))
        return 0; /* closed by its own predicate */
    note(map, io, ev);
    return 1;
}

/* Stateless backend: every registration, in fd order, into the snapshot. */
static int snapshot_all(ac_map_t *map, size_t *nout)
{
    size_t n = 0;
    for (size_t fd = 0; fd < map->nbyfd; fd++) {
        ac__io_t *io = map->byfd[fd];
        if (io == NULL || (io->asks && !ask(map, io)) || io->interest == 0)
            continue;
        if (watch_room(map, n + 1) < 0)
            return -ENOMEM;
        map->watch[n++] = (struct ac_watch){io->fd, io->interest, 0, io,
                                            io->serial};
    }
    *nout = n;
    return 0;
}

static int tell(ac_map_t *map, ac__io_t *io)
{
    int rc = map->backend->set(map->bstate, io->fd, io->serial, io,
                               io->interest);
    return rc < 0 ? rc : 0;
}

/* The registrations that ask, in the order they were registered (as
 * asyncore's map iterates); map->watch holds the list while their
 * predicates run, since those may close, free or add channels. */
static int ask_all(ac_map_t *map)
{
    size_t k = 0;
    if (watch_room(map, map->asking.n) < 0)
        return -ENOMEM;
    for (ac__io_t *io = map->asking.head; io; io = io->lnext)
        map->watch[k++] = (struct ac_watch){io->fd, 0, 0, io, io->serial};
    for (size_t i = 0; i < k; i++) {
        ac__io_t *io = map->watch[i].io;
        if (!ac__map_holds(map, io) || io->serial != map->watch[i].serial)
            continue; /* closed by an earlier predicate */
        if (!ask(map, io))
            continue;
        int rc = tell(map, io);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Stateful backend: ask those that ask, then tell every change, the ones
 * their predicates made included. */
static int snapshot_changes(ac_map_t *map, size_t *nout)
{
    int rc = ask_all(map);
    while (rc == 0 && map->dirty.head) {
        ac__io_t *io = map->dirty.head;
        list_drop(&map->dirty, io);
        io->dirty = 0;
        rc = tell(map, io);
        if (rc < 0)
            mark_dirty(map, io); /* told next pass */
    }
    if (rc == 0)
        rc = watch_room(map, map->watching ? map->watching : 1);
    *nout = map->watching;
    return rc;
}

int ac__interest_snapshot(ac_map_t *map, size_t *n)
{
    return stateful(map) ? snapshot_changes(map, n) : snapshot_all(map, n);
}
