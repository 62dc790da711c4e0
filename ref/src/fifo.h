/* fifo.h: the producer FIFO a chat sends from: data chunks, producers and
 * the close marker, in order.  Socket-free (the fuzzers drive it directly),
 * so it sits beside the layers, not in them. */
#ifndef ACHAT_FIFO_H
#define ACHAT_FIFO_H

#include <stddef.h>
#include <sys/uio.h>

#include "achat.h"

/* The most iovecs one gather fills (one sendmsg). */
#define AC__IOV_MAX 64

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

#endif /* ACHAT_FIFO_H */
