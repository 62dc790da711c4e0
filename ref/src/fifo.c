/* fifo.c: the producer FIFO of a chat, socket-free.  Entries are copied
 * bytes, producers, or the close marker; gather() hands the head to one
 * send as an iovec array and consume() removes what the send took, so the
 * whole queue can go out in a single syscall and partial sends keep order. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fifo.h"

enum { E_DATA, E_PRODUCER, E_CLOSE };

/* Small pushes share a block, so a line-at-a-time server does not pay one
 * allocation per line. */
#define BLOCK 4096

struct ac__fifo_entry {
    ac__fifo_entry_t *next;
    int kind;
    size_t off, len, cap;      /* DATA: bytes [off, len) of data[] */
    ac_producer_t prod;        /* PRODUCER */
    void *pud;
    const unsigned char *chunk; /* PRODUCER: current chunk [off, len) */
    unsigned char data[];
};

void ac__fifo_init(ac__fifo_t *q)
{
    q->head = q->tail = NULL;
    q->bytes = 0;
}

int ac__fifo_empty(const ac__fifo_t *q)
{
    return q->head == NULL;
}

/* Only the header is zeroed: data bytes are written before they are read,
 * and clearing a whole block for every small push costs more than the
 * push itself. */
static ac__fifo_entry_t *entry_new(int kind, size_t cap)
{
    ac__fifo_entry_t *e = malloc(sizeof(*e) + cap);
    if (e) {
        memset(e, 0, sizeof(*e));
        e->kind = kind;
        e->cap = cap;
    }
    return e;
}

static void append(ac__fifo_t *q, ac__fifo_entry_t *e)
{
    if (q->tail)
        q->tail->next = e;
    else
        q->head = e;
    q->tail = e;
}

static void pop(ac__fifo_t *q)
{
    ac__fifo_entry_t *e = q->head;
    q->head = e->next;
    if (q->head == NULL)
        q->tail = NULL;
    if (e->kind == E_PRODUCER && e->prod.release)
        e->prod.release(e->pud);
    free(e);
}

int ac__fifo_push(ac__fifo_t *q, const void *data, size_t len)
{
    if (len == 0)
        return 0; /* CQ14: an empty push costs nothing */
    ac__fifo_entry_t *t = q->tail;
    if (t == NULL || t->kind != E_DATA || t->cap - t->len < len) {
        t = entry_new(E_DATA, len < BLOCK ? BLOCK : len);
        if (t == NULL)
            return -ENOMEM;
        append(q, t);
    }
    memcpy(t->data + t->len, data, len); /* CQ15: a copy, never an alias */
    t->len += len;
    q->bytes += len;
    return 0;
}

int ac__fifo_push_producer(ac__fifo_t *q, const ac_producer_t *p, void *ud)
{
    ac__fifo_entry_t *e = entry_new(E_PRODUCER, 0);
    if (e == NULL) {
        if (p->release)
            p->release(ud);
        return -ENOMEM;
    }
    e->prod = *p;
    e->pud = ud;
    append(q, e);
    return 0;
}

int ac__fifo_push_close(ac__fifo_t *q)
{
    ac__fifo_entry_t *e = entry_new(E_CLOSE, 0);
    if (e == NULL)
        return -ENOMEM;
    append(q, e);
    return 0;
}

void ac__fifo_discard(ac__fifo_t *q)
{
    while (q->head)
        pop(q);
    q->bytes = 0;
}

/* Makes sure producer e has a chunk: asks more() until data or the end.
 * Returns 1 with a chunk, 0 when exhausted, or more()'s negative error. */
static int refill(ac__fifo_t *q, ac__fifo_entry_t *e)
{
    if (e->off < e->len)
        return 1;
    const void *p = NULL;
    size_t n = 0;
    int rc = e->prod.more(e->pud, &p, &n);
    if (rc < 0)
        return rc;
    if (n == 0 || p == NULL)
        return 0;
    e->chunk = p;
    e->off = 0;
    e->len = n;
    q->bytes += n;
    return 1;
}

/* Removes the exhausted producer e, and only it (CQ13). */
static ac__fifo_entry_t *unlink_entry(ac__fifo_t *q, ac__fifo_entry_t *prev,
                                      ac__fifo_entry_t *e)
{
    ac__fifo_entry_t *next = e->next;
    if (prev)
        prev->next = next;
    else
        q->head = next;
    if (q->tail == e)
        q->tail = prev;
    if (e->prod.release)
        e->prod.release(e->pud);
    free(e);
    return next;
}

int ac__fifo_gather(ac__fifo_t *q, struct iovec *iov, int maxiov,
                    size_t maxbytes)
{
    int n = 0;
    ac__fifo_entry_t *prev = NULL, *e = q->head;
    while (e && e->kind != E_CLOSE && n < maxiov && maxbytes > 0) {
        if (e->kind == E_PRODUCER) {
            int rc = refill(q, e);
            if (rc < 0)
                return rc;
            if (rc == 0) {
                e = unlink_entry(q, prev, e);
                continue;
            }
        }
        const unsigned char *base = e->kind == E_DATA ? e->data : e->chunk;
        size_t len = e->len - e->off;
        if (len > maxbytes)
            len = maxbytes;
        iov[n].iov_base = (void *)(base + e->off);
        iov[n].iov_len = len;
        n++;
        maxbytes -= len;
        if (e->kind == E_PRODUCER)
            break; /* its next chunk, unknown yet, comes before the rest */
        prev = e;
        e = e->next;
    }
    return n;
}

void ac__fifo_consume(ac__fifo_t *q, size_t n)
{
    q->bytes -= n;
    while (n > 0 && q->head) {
        ac__fifo_entry_t *e = q->head;
        size_t left = e->len - e->off;
        if (n < left) {
            e->off += n;
            return;
        }
        n -= left;
        if (e->kind == E_PRODUCER) {
            e->off = e->len = 0; /* chunk sent; more() is asked next time */
            return;              /* gather never goes past a producer */
        }
        pop(q);
    }
}

int ac__fifo_take_close(ac__fifo_t *q)
{
    if (q->head == NULL || q->head->kind != E_CLOSE)
        return 0;
    pop(q);
    return 1;
}
