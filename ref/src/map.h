/* map.h: the map layer: a map's registrations (struct ac__io) by fd, the
 * handles bound to it, and the pass that serves them.  It knows no
 * dispatcher and no chat: it asks and tells a registration through its
 * class, the way ae.c calls a file event's procedure. */
#ifndef ACHAT_MAP_H
#define ACHAT_MAP_H

#include <stdint.h>

#include "backend.h"

typedef struct ac__io ac__io_t;

/* What the layer above makes of a registration.  Every member is set. */
typedef struct ac__io_class {
    /* Phase 1 of a pass: the AC__EV_IN/AC__EV_OUT bits to watch (0: not
     * watched this pass).  May run user code, which may close it. */
    unsigned (*interest)(ac__io_t *io);
    /* Phase 3: the wait reported revents for the events asked. */
    void (*ready)(ac__io_t *io, unsigned asked, unsigned revents);
    /* The map closes it (close_all, map_free): 0 if it was open. */
    int (*close)(ac__io_t *io);
    /* Frees a handle nobody can reach any more (after a pass). */
    void (*release)(ac__io_t *io);
} ac__io_class_t;

/* A handle as its map knows it: bound from creation to free, registered
 * under fd while it holds a socket. */
struct ac__io {
    const ac__io_class_t *cls;
    ac_map_t *map;          /* bound for life; NULL once the map is freed */
    int fd;
    uint64_t serial;        /* which registration of its map this is */
    unsigned interest;      /* what it watches, as the backend was told */
    unsigned asks : 1;      /* its interest runs user code: asked each pass;
                               else known, and set by ac__interest_set */
    unsigned dirty : 1;     /* interest changed since the backend heard */
    unsigned fd_lost : 1;   /* fd closed behind our back: its number may be
                               someone else's now, never close it */
    ac__io_t *hprev, *hnext;  /* every handle bound to the map */
    ac__io_t *grave_next;     /* freed during a pass, reaped after it */
    ac__io_t *lprev, *lnext;  /* on the map's asking or dirty list */
};

/* An intrusive list of registrations (asking, or dirty), in the order
 * they joined it. */
typedef struct ac__io_list {
    ac__io_t *head, *tail;
    size_t n;
} ac__io_list_t;

struct ac_map {
    ac__io_t **byfd;        /* fd -> registration */
    size_t nbyfd;           /* capacity of byfd */
    size_t count;           /* registrations */
    uint64_t serials;       /* registrations so far */
    ac__io_t *handles;      /* every handle bound to the map */
    ac__io_t *graveyard;    /* handles freed while the map was busy */
    int in_pass;
    int exit_requested;
    int idle_forever;       /* last pass watched nothing, timeout infinite */
    const ac_backend_t *backend;
    void *bstate;
    size_t watching;        /* registrations with a non-zero interest */
    ac__io_list_t asking;   /* registrations asked each pass */
    ac__io_list_t dirty;    /* interest not yet told to a stateful backend */
    struct ac_watch *watch; /* the pass snapshot */
    size_t capwatch;
    unsigned char *rbuf;    /* scratch read buffer for the map's handles */
    size_t rbufsz;
    int is_default;         /* the thread's default map (TLS key holds it) */
};

/* The map given, or the calling thread's default map for NULL. */
ac_map_t *ac__map_resolve(ac_map_t *map);
/* The map given, or the calling thread's default map if it has one: NULL
 * when it has none yet (not made by this call). */
ac_map_t *ac__map_existing(ac_map_t *map);
/* Binds io to map for life (io->cls must be set). */
void ac__map_bind(ac_map_t *map, ac__io_t *io);
void ac__map_unbind(ac_map_t *map, ac__io_t *io);
/* Registers io under io->fd with a new serial; -EEXIST if another
 * registration holds that fd. */
int ac__map_add(ac_map_t *map, ac__io_t *io);
/* Drops io's registration (and only io's). */
void ac__map_del(ac_map_t *map, ac__io_t *io);
/* Whether io is the registration its map holds under io->fd (inline: every
 * step of a pass asks it). */
static inline int ac__map_holds(const ac_map_t *map, const ac__io_t *io)
{
    return io->fd >= 0 && (size_t)io->fd < map->nbyfd &&
           map->byfd[io->fd] == io;
}
/* A handle freed during a pass waits here until the pass ends. */
void ac__map_bury(ac_map_t *map, ac__io_t *io);
void ac__map_reap(ac_map_t *map);
/* A read buffer of at least size bytes, shared by the map's handles: a map
 * is used by one thread, and a read is consumed before the next starts. */
unsigned char *ac__map_rbuf(ac_map_t *map, size_t size);

#endif /* ACHAT_MAP_H */
