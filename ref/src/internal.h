/* internal.h: the structures behind the opaque handles of achat.h and the
 * functions the library's files share (prefix ac__).  Nothing here is part of
 * the contract; tests and fuzzers that include it test internals on purpose.
 */
#ifndef ACHAT_INTERNAL_H
#define ACHAT_INTERNAL_H

#include <stdint.h>
#include <sys/uio.h>

#include "achat.h"

/* Readiness bits shared by the loop and the backends. */
enum {
    AC__EV_IN = 1,    /* requested and reported: input (or EOF) */
    AC__EV_OUT = 2,   /* requested and reported: output space */
    AC__EV_PRI = 4,   /* reported: urgent data (requested with IN) */
    AC__EV_HUP = 8,   /* reported: hangup */
    AC__EV_ERR = 16,  /* reported: socket error */
    AC__EV_NVAL = 32  /* reported: the fd is not open */
};

/* One entry of a pass's snapshot: what was asked, what came back, and the
 * dispatcher it was asked for (identity check against stale events, CQ1). */
struct ac_watch {
    int fd;
    unsigned events;
    unsigned revents;
    ac_disp_t *disp;
    uint64_t serial;  /* the registration: an fd number reused by another
                         socket has another serial (stateful backends) */
};

/* A backend is stateless between passes except for buffers it keeps. */
struct ac_backend {
    const char *name;
    int (*init)(void **state);
    void (*free)(void *state);
    /* Fills revents for the n entries within timeout_ms (AC_INFINITE or
     * >= 0), retrying EINTR with the remaining time.  Returns how many
     * entries have revents (>= 0) or a negative errno. */
    int (*wait)(void *state, struct ac_watch *w, size_t n, int timeout_ms);
    /* Optional (stateful backends): fd is about to be closed by the
     * library.  Called while fd still names the channel's socket, so a
     * kernel registration can be dropped even when the socket stays open
     * elsewhere (dup, fork, SCM_RIGHTS). */
    void (*forget)(void *state, int fd);
};

/* Milliseconds left until deadline_ms (a CLOCK_MONOTONIC reading), for
 * retrying EINTR; AC_INFINITE stays infinite. */
int64_t ac__now_ms(void);
int ac__remaining_ms(int timeout_ms, int64_t deadline_ms);

typedef enum { AC__NEW, AC__OPEN, AC__CLOSED } ac__state_t;

struct ac_disp {
    ac_map_t *map;          /* bound for life; NULL once the map is freed */
    ac_ops_t ops;
    void *ud;
    int fd;
    ac__state_t state;
    unsigned connected : 1, connecting : 1, accepting : 1;
    unsigned close_called : 1; /* handle_close ran: it never runs again */
    unsigned fd_lost : 1;      /* fd closed behind our back: its number may
                                  be someone else's now, never close it */
    unsigned freed : 1;        /* ac_disp_free ran */
    unsigned buried : 1;       /* in the map's graveyard until the pass ends */
    int busy;                  /* API calls on the stack that run callbacks */
    int spare_fd;              /* listeners: reserve fd for EMFILE (-1) */
    uint64_t serial;           /* which registration of its map this is */
    ac_chat_t *chat;           /* the chat embedding this dispatcher */
    ac_disp_t *hprev, *hnext;  /* every handle bound to the map */
    ac_disp_t *grave_next;     /* freed during a pass, reaped after it */
};

struct ac_map {
    ac_disp_t **byfd;       /* fd -> open channel (the registration) */
    size_t nbyfd;           /* capacity of byfd */
    size_t count;           /* open channels */
    uint64_t serials;       /* registrations so far */
    ac_disp_t *handles;     /* every handle bound to the map */
    ac_disp_t *graveyard;   /* handles freed while the map was busy */
    int in_pass;
    int exit_requested;
    int idle_forever;       /* last pass watched nothing, timeout infinite */
    const ac_backend_t *backend;
    void *bstate;
    struct ac_watch *watch; /* the pass snapshot */
    size_t capwatch;
    unsigned char *rbuf;    /* read buffer shared by the map's chats */
    size_t rbufsz;
    int is_default;         /* the thread's default map (TLS key holds it) */
};

/* map.c */
int ac__map_add(ac_map_t *map, ac_disp_t *d);
void ac__map_del(ac_map_t *map, ac_disp_t *d);
void ac__map_bind(ac_map_t *map, ac_disp_t *d);
void ac__map_unbind(ac_map_t *map, ac_disp_t *d);
void ac__map_bury(ac_map_t *map, ac_disp_t *d);
void ac__map_reap(ac_map_t *map);
unsigned char *ac__map_rbuf(ac_map_t *map, size_t size);
ac_map_t *ac__map_resolve(ac_map_t *map);

/* events.c: the event paths, each guarded by "still open" checks. */
void ac__read_event(ac_disp_t *d);
void ac__write_event(ac_disp_t *d);
void ac__expt_event(ac_disp_t *d);
void ac__close_event(ac_disp_t *d);
void ac__error_event(ac_disp_t *d, int err);
int ac__disconnect_errno(int err);

/* dispatcher.c */
int ac__disp_open(const ac_disp_t *d);
void ac__disp_init(ac_disp_t *d, ac_map_t *map, const ac_ops_t *ops,
                   void *ud);
void ac__disp_release(ac_disp_t *d);
void ac__disp_enter(ac_disp_t *d);
void ac__disp_leave(ac_disp_t *d);
ssize_t ac__disp_sendv(ac_disp_t *d, const struct iovec *iov, int iovcnt);

/* chat.c: the chat's part of closing and freeing its dispatcher. */
void ac__chat_on_close(ac_chat_t *c);
void ac__chat_destroy(ac_chat_t *c);

/* fifo.c: the producer FIFO, socket-free (fuzzers drive it directly). */
typedef struct ac__fifo_entry ac__fifo_entry_t;
typedef struct ac__fifo {
    ac__fifo_entry_t *head, *tail;
    size_t bytes;   /* queued data bytes plus producers' current chunks */
} ac__fifo_t;

void ac__fifo_init(ac__fifo_t *q);
int ac__fifo_push(ac__fifo_t *q, const void *data, size_t len);
int ac__fifo_push_producer(ac__fifo_t *q, const ac_producer_t *p, void *ud);
int ac__fifo_push_close(ac__fifo_t *q);
void ac__fifo_discard(ac__fifo_t *q);
int ac__fifo_empty(const ac__fifo_t *q);
/* Fills up to maxiov iovecs with at most maxbytes from the head, asking
 * producers for chunks and dropping exhausted ones; stops at the close
 * marker.  Returns the iovec count or a producer's negative error. */
int ac__fifo_gather(ac__fifo_t *q, struct iovec *iov, int maxiov,
                    size_t maxbytes);
/* Removes n sent bytes from the head. */
void ac__fifo_consume(ac__fifo_t *q, size_t n);
/* If the close marker is at the head, removes it and returns 1. */
int ac__fifo_take_close(ac__fifo_t *q);

#define AC__IOV_MAX 64

#endif /* ACHAT_INTERNAL_H */
