/* handwritten_pending.c: the hand-written test of the optional pending-output
 * count (ACC_CAP_PENDING, spec P15): exact after pushes, an empty push and
 * discard_buffers, and back to 0 once the peer has every byte, a producer's
 * included, and after close. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runner.h"

/* Passes until the peer has read want bytes in all (at most ~2 s); returns
 * what it read. */
static size_t drain(const acc_impl_t *im, void *m, const char *be, int peer, size_t want)
{
    char b[256];
    size_t got = 0;
    for (int i = 0; i < 200 && got < want; i++) {
        im->poll(m, be, 10);
        ssize_t k;
        while ((k = recv(peer, b, sizeof(b), MSG_DONTWAIT)) > 0)
            got += (size_t)k;
    }
    return got;
}

static const char *const chunks[] = {"ab", "cde"};
static const size_t lens[] = {2, 3};

int hw_pending(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *m = NULL, *c = NULL;
    int peer = -1;
    hw_obs_t ob = {0};
    if (im->map_new(&m) < 0 || hw_chat_pair(im, m, &c, &peer, &hw_obs_chat_events, &ob) < 0)
        return hw_fail(msg, cap, "set-up failed");
    /* push only queues (P2), so the count follows each push exactly. */
    long p0 = im->pending(c);
    im->push(c, "hello", 5);
    long p1 = im->pending(c);
    im->push(c, "", 0);
    long p2 = im->pending(c);
    im->push(c, "abc", 3);
    long p3 = im->pending(c);
    im->discard_buffers(c);
    long p4 = im->pending(c);
    int rc = 0;
    if (p0 != 0 || p1 != 5 || p2 != 5 || p3 != 8 || p4 != 0)
        rc = hw_fail(msg, cap, "pending after nothing, push 5, push 0, push 3, discard_buffers: "
                     "%ld %ld %ld %ld %ld (want 0 5 5 8 0: P15, P1, P9)", p0, p1, p2, p3, p4);
    /* Sent bytes leave the count: 0 once the peer has them all. */
    size_t got = 0;
    long p5 = -1, p6 = -1;
    if (rc == 0) {
        im->push(c, "wxyz", 4);
        got = drain(im, m, o->backend, peer, 4);
        p5 = im->pending(c);
        acc_producer_t pr = {(const void *const *)chunks, lens, 2, NULL, NULL};
        if (im->caps & ACC_CAP_PRODUCER)
            im->push_producer(c, &pr);
        got += drain(im, m, o->backend, peer, im->caps & ACC_CAP_PRODUCER ? 5 : 0);
        p6 = im->pending(c);
        size_t want = im->caps & ACC_CAP_PRODUCER ? 9 : 4;
        if (got != want || p5 != 0 || p6 != 0 || ob.closes || ob.errors)
            rc = hw_fail(msg, cap, "peer read %zu of %zu bytes; pending once they were read: "
                         "%ld, after a producer's chunks: %ld; %d close/error events (want "
                         "every byte, 0, 0, none: P15, P3, P4)", got, want, p5, p6,
                         ob.closes + ob.errors);
    }
    /* Close drops what is queued (P10): nothing is pending any more. */
    if (rc == 0) {
        im->push(c, "left", 4);
        im->close(c);
        long p7 = im->pending(c);
        if (p7 != 0)
            rc = hw_fail(msg, cap, "pending after close with 4 bytes queued: %ld (want 0: "
                         "P15, P10)", p7);
    }
    im->free(c);
    close(peer);
    im->map_free(m);
    return rc;
}
