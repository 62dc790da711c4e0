/* handle.h: a dispatcher handle and its life: the state a dispatcher keeps
 * above its map registration, close (final), and the deferred free.  What
 * embeds a dispatcher (a chat) adds to close and free through its kind,
 * so nothing here knows a chat exists. */
#ifndef ACHAT_HANDLE_H
#define ACHAT_HANDLE_H

#include "map.h"

typedef enum { AC__NEW, AC__OPEN, AC__CLOSED } ac__state_t;

/* What an object embedding a dispatcher adds to its life (asyncore's
 * subclass overriding close); NULL for a plain dispatcher. */
typedef struct ac__disp_kind {
    /* After the socket is closed: drop what the embedding object holds. */
    void (*closed)(ac_disp_t *d);
    /* Frees the embedding object, d with it. */
    void (*release)(ac_disp_t *d);
} ac__disp_kind_t;

struct ac_disp {
    ac__io_t io;            /* first: the map's registration */
    const ac__disp_kind_t *kind;
    ac_ops_t ops;
    void *ud;
    ac__state_t state;
    unsigned connected : 1, connecting : 1, accepting : 1;
    unsigned close_called : 1; /* handle_close ran: it never runs again */
    unsigned freed : 1;        /* ac_disp_free ran */
    unsigned buried : 1;       /* in the map's graveyard until the pass ends */
    int busy;                  /* API calls on the stack that run callbacks */
    int spare_fd;              /* listeners: reserve fd for EMFILE (-1) */
};

/* The dispatcher a registration belongs to (every ac__io is one's). */
static inline ac_disp_t *ac__disp_of(ac__io_t *io)
{
    return (ac_disp_t *)io;
}

static inline int ac__disp_open(const ac_disp_t *d)
{
    return d != NULL && d->state == AC__OPEN;
}
/* Frees the memory of a handle nobody can reach any more. */
void ac__disp_release(ac_disp_t *d);
/* Brackets an API call that runs callbacks: a free inside waits for it. */
void ac__disp_enter(ac_disp_t *d);
void ac__disp_leave(ac_disp_t *d);

#endif /* ACHAT_HANDLE_H */
