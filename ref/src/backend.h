/* backend.h: what a readiness backend (select, poll, epoll) sees of a pass:
 * the readiness bits, one entry of the pass's snapshot, and the const table
 * of functions each backend fills.  Ground floor: it knows no channel. */
#ifndef ACHAT_BACKEND_H
#define ACHAT_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "achat.h"

/* Readiness bits shared by the map layer and the backends. */
enum {
    AC__EV_IN = 1,    /* requested and reported: input (or EOF) */
    AC__EV_OUT = 2,   /* requested and reported: output space */
    AC__EV_PRI = 4,   /* reported: urgent data (requested with IN) */
    AC__EV_HUP = 8,   /* reported: hangup */
    AC__EV_ERR = 16,  /* reported: socket error */
    AC__EV_NVAL = 32  /* reported: the fd is not open */
};

struct ac__io; /* the map layer's registration: opaque to a backend */

/* One entry of a pass's snapshot: what was asked, what came back, and the
 * registration it was asked for (identity check against stale events). */
struct ac_watch {
    int fd;
    unsigned events;
    unsigned revents;
    struct ac__io *io;
    uint64_t serial;  /* the registration: an fd number reused by another
                         socket has another serial (stateful backends) */
};

/* A backend is stateless (select, poll: a pass hands it every watched fd
 * and it keeps only its buffers) or stateful (epoll: it keeps what each fd
 * watches between passes and hears only of changes, so a pass costs what
 * changes and fires, not what is registered).  A stateless backend has
 * wait; a stateful one has set and wait_ready instead. */
struct ac_backend {
    const char *name;
    int (*init)(void **state);
    void (*free)(void *state);
    /* Fills revents for the n entries within timeout_ms (AC_INFINITE or
     * >= 0), retrying EINTR with the remaining time.  Returns how many
     * entries have revents (>= 0) or a negative errno. */
    int (*wait)(void *state, struct ac_watch *w, size_t n, int timeout_ms);
    /* Optional: fd's registration is gone; forget it and the registration
     * pointer it was set with.  Usually fd is about to be closed by the
     * library, and is called while fd still names the channel's socket,
     * so a kernel registration can be dropped even when the socket stays
     * open elsewhere (dup, fork, SCM_RIGHTS).  After a wait reported fd
     * invalid (closed behind the library's back), its number may name
     * another file by now, one that no registration of this map watches. */
    void (*forget)(void *state, int fd);
    /* From now on fd (registration io, serial) is watched for events (0:
     * not watched).  Returns 0, 1 when fd cannot be watched (the next
     * wait_ready reports it NVAL without waiting), or a negative errno. */
    int (*set)(void *state, int fd, uint64_t serial, struct ac__io *io,
               unsigned events);
    /* Waits as wait does and fills out (room for cap entries, cap >= the
     * fds watched) with the ready ones, each with the events it was set
     * to.  Returns how many, or a negative errno. */
    int (*wait_ready)(void *state, struct ac_watch *out, size_t cap,
                      int timeout_ms);
};

#endif /* ACHAT_BACKEND_H */
