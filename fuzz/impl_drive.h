/* impl_drive.h: what the adapter-driven fuzz harnesses share: one chat
 * channel of any implementation, reached only through its conformance
 * adapter (acc_impl_t), on a socketpair whose other end the harness keeps,
 * and the loop run until the implementation has read what the peer wrote. */
#ifndef ACHAT_IMPL_DRIVE_H
#define ACHAT_IMPL_DRIVE_H

#include <stddef.h>

#include "acc_adapter.h"

typedef struct {
    const acc_impl_t *im;
    const char *backend; /* $FUZZ_BACKEND, else the implementation's first */
    void *map;
    void *ch;
    int peer;            /* the harness's end; -1 once closed */
} drive_t;

/* The adapter, checked once (ABI, a backend); aborts with the reason when
 * the implementation cannot be driven at all. */
const acc_impl_t *drive_impl(void);

/* A map and a chat channel on a fresh socketpair; ev and ctx as for
 * chat_adopt.  Returns 0, or -1 when the implementation refused (its
 * negative errno is then in *err). */
int drive_open(drive_t *d, const acc_events_t *ev, void *ctx, int *err);

/* One pass with timeout 0; aborts on an error the spec does not allow. */
void drive_pass(drive_t *d);

/* The peer writes p[0..n), then passes run until the implementation has
 * read all of it (no byte left in its socket) or the channel closed.
 * Bounded: an implementation that stops reading is a failure. */
void drive_send(drive_t *d, const void *p, size_t n);

/* Frees the channel (closing it if open) and the map, closes the peer. */
void drive_close(drive_t *d);

#endif /* ACHAT_IMPL_DRIVE_H */
