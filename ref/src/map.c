/* map.c: maps, the fd -> registration table that one loop serves.  A map
 * knows every handle bound to it (so freeing the map can detach them) and
 * the handles freed during a pass (reaped after it, never inside a handler). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"

/* The per-thread default map lives behind a TLS key.  The key itself is
 * written once (pthread_once) and never changes after: it is the only
 * process-wide object, and it holds no state shared between threads. */
static pthread_key_t default_key;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void default_destroy(void *map)
{
    ac_map_t *m = map;
    m->is_default = 0; /* the key is already cleared by the thread exit */
    ac_map_free(m);
}

static void default_key_init(void)
{
    (void)pthread_key_create(&default_key, default_destroy);
}

int ac_map_new(ac_map_t **out)
{
    if (out == NULL)
        return -EINVAL;
    *out = calloc(1, sizeof(ac_map_t));
    return *out ? 0 : -ENOMEM;
}

ac_map_t *ac_map_default(void)
{
    pthread_once(&default_once, default_key_init);
    ac_map_t *m = pthread_getspecific(default_key);
    if (m == NULL && ac_map_new(&m) == 0) {
        m->is_default = 1;
        if (pthread_setspecific(default_key, m) != 0) {
            free(m);
            m = NULL;
        }
    }
    return m;
}

ac_map_t *ac__map_resolve(ac_map_t *map)
{
    return map ? map : ac_map_default();
}

/* M1: size, close_all, exit and destruction only read or empty a map, and a
 * default map nobody has used yet is empty with no loop running: making one
 * for them would only add a way to fail (ENOMEM) with nothing to do. */
ac_map_t *ac__map_existing(ac_map_t *map)
{
    if (map)
        return map;
    pthread_once(&default_once, default_key_init);
    return pthread_getspecific(default_key);
}

int ac_map_free(ac_map_t *map)
{
    map = ac__map_existing(map);
    if (map == NULL)
        return 0;
    if (map->in_pass)
        return -EBUSY;
    ac_map_close_all(map);
    while (map->handles)
        ac__map_unbind(map, map->handles);
    /* The graveyard is empty: only a pass fills it, and reaps it at its end. */
    if (map->backend)
        map->backend->free(map->bstate);
    if (map->is_default)
        pthread_setspecific(default_key, NULL);
    free(map->byfd);
    free(map->watch);
    free(map->rbuf);
    free(map);
    return 0;
}

size_t ac_map_size(ac_map_t *map)
{
    map = ac__map_existing(map);
    return map ? map->count : 0;
}

int ac_map_close_all(ac_map_t *map)
{
    map = ac__map_existing(map);
    if (map == NULL)
        return 0;
    int n = 0;
    for (size_t fd = 0; fd < map->nbyfd; fd++) {
        ac__io_t *io = map->byfd[fd];
        if (io != NULL && io->cls->close(io) == 0)
            n++;
    }
    return n;
}

int ac_map_exit(ac_map_t *map)
{
    /* L9: no pass of a map that does not exist can be running, and a
     * request made outside a pass does not reach later passes. */
    map = ac__map_existing(map);
    if (map == NULL)
        return 0;
    map->exit_requested = 1;
    return 0;
}

/* Registers io under its fd.  Refuses an fd another live registration
 * holds (CQ22): silently overwriting it would leave that one unreachable. */
int ac__map_add(ac_map_t *map, ac__io_t *io)
{
    size_t fd = (size_t)io->fd;
    if (fd >= map->nbyfd) {
        size_t n = map->nbyfd ? map->nbyfd : 64;
        while (n <= fd)
            n *= 2;
        ac__io_t **t = realloc(map->byfd, n * sizeof(*t));
        if (t == NULL)
            return -ENOMEM;
        memset(t + map->nbyfd, 0, (n - map->nbyfd) * sizeof(*t));
        map->byfd = t;
        map->nbyfd = n;
    }
    if (map->byfd[fd] != NULL)
        return -EEXIST;
    map->byfd[fd] = io;
    map->count++;
    io->serial = ++map->serials;
    return 0;
}

/* Removes io, and only io: an entry some other handle holds stays. */
void ac__map_del(ac_map_t *map, ac__io_t *io)
{
    if (map == NULL || !ac__map_holds(map, io))
        return;
    map->byfd[io->fd] = NULL;
    map->count--;
    /* Lost or not, the registration is gone: a stateful backend must not
     * keep it (nor io) for a later pass to report. */
    if (map->backend && map->backend->forget)
        map->backend->forget(map->bstate, io->fd);
}

void ac__map_bind(ac_map_t *map, ac__io_t *io)
{
    io->map = map;
    io->hprev = NULL;
    io->hnext = map->handles;
    if (map->handles)
        map->handles->hprev = io;
    map->handles = io;
}

void ac__map_unbind(ac_map_t *map, ac__io_t *io)
{
    if (io->hprev)
        io->hprev->hnext = io->hnext;
    else
        map->handles = io->hnext;
    if (io->hnext)
        io->hnext->hprev = io->hprev;
    io->hprev = io->hnext = NULL;
    io->map = NULL;
}

void ac__map_bury(ac_map_t *map, ac__io_t *io)
{
    io->grave_next = map->graveyard;
    map->graveyard = io;
}

void ac__map_reap(ac_map_t *map)
{
    while (map->graveyard) {
        ac__io_t *io = map->graveyard;
        map->graveyard = io->grave_next;
        io->cls->release(io);
    }
}

unsigned char *ac__map_rbuf(ac_map_t *map, size_t size)
{
    if (size > map->rbufsz) {
        unsigned char *b = realloc(map->rbuf, size);
        if (b == NULL)
            return NULL;
        map->rbuf = b;
        map->rbufsz = size;
    }
    return map->rbuf;
}
