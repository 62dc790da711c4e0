/* fuzz_fifo.c: fuzzes the producer FIFO (ac__fifo_*, socket-free) with an
 * op interpreter: push, push_producer, close_when_done and discard, drained
 * through a fake transport that takes random partial sizes or nothing
 * (EAGAIN), exactly as chat.c's send_once() drives it.  A plain queue of
 * items is the model: the bytes that leave, where the close marker is
 * taken, the pending count and every producer's release are checked.
 *
 * Input: a sequence of ops, at most OPS_MAX, each an op byte O and its
 * arguments (missing bytes read as 0):
 *   O & 7 = 0  push: length = next byte (+ 256 * (next & 7) if O & 0x80),
 *              then the bytes
 *           1  producer: (O >> 3 & 7) chunks, each a length byte (0 -> 1)
 *              and its bytes; O & 0x40: more() fails (-EIO) after them
 *           2  close_when_done (the close marker)
 *           3  discard
 *           4-6 one send: max bytes (byte, 0 = 65536), max iovecs (byte % 64
 *              + 1), bytes the transport takes (byte; 0 = EAGAIN, 255 = all)
 *           7  drain: sends that take everything until nothing moves */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include "fuzz_common.h"
#include "fifo.h"

#define OPS_MAX 256
#define PRODS_MAX 64
#define ITEMS_MAX (OPS_MAX + 1)
#define CHUNKS_MAX 7

typedef struct {
    const uint8_t *chunk[CHUNKS_MAX];
    size_t clen[CHUNKS_MAX];
    int nchunks, fail;
    int next;        /* next chunk more() hands out */
    int ended;       /* more() reported exhaustion or its error */
    int released;    /* release() calls (must end at exactly 1) */
    size_t total;    /* sum of clen */
    size_t handed;   /* bytes more() has handed out */
    uint8_t *copy;   /* the chunk handed out last: valid until the next
                      * more() or release(), then freed (ASan sees misuse) */
} prod_t;

enum { IT_DATA, IT_PROD, IT_MARK };

/* The model: what is queued, in order, and how much of each has left. */
typedef struct {
    int kind;
    const uint8_t *p;  /* IT_DATA: the bytes as pushed (the input) */
    size_t len, sent;
    int prod;          /* IT_PROD: index into prods */
} item_t;

typedef struct {
    ac__fifo_t q;
    prod_t prods[PRODS_MAX];
    int nprods;
    item_t items[ITEMS_MAX];
    int nitems;
    int discarding;    /* release() is legitimate for any producer now */
    int failed_prod;   /* the producer whose more() just failed, or -1 */
} state_t;

/* --------------------------------------------------------- the model -- */

/* Bytes of item i not yet sent. */
static size_t item_left(const state_t *s, const item_t *it)
{
    if (it->kind == IT_DATA)
        return it->len - it->sent;
    if (it->kind == IT_PROD)
        return s->prods[it->prod].total - it->sent;
    return 0;
}

static uint8_t item_byte(const state_t *s, const item_t *it, size_t k)
{
    if (it->kind == IT_DATA)
        return it->p[k];
    const prod_t *p = &s->prods[it->prod];
    for (int c = 0; c < p->nchunks; c++) {
        if (k < p->clen[c])
            return p->chunk[c][k];
        k -= p->clen[c];
    }
    FUZZ_FAIL("model: byte past the end of a producer");
}

/* Unsent bytes queued ahead of the first close marker. */
static size_t bytes_before_mark(const state_t *s, int *has_mark)
{
    size_t n = 0;
    *has_mark = 0;
    for (int i = 0; i < s->nitems; i++) {
        if (s->items[i].kind == IT_MARK) {
            *has_mark = 1;
            break;
        }
        n += item_left(s, &s->items[i]);
    }
    return n;
}

/* ac_chat_pending's figure: queued data, and what producers have handed
 * over and is not sent yet. */
static size_t model_pending(const state_t *s)
{
    size_t n = 0;
    for (int i = 0; i < s->nitems; i++) {
        const item_t *it = &s->items[i];
        if (it->kind == IT_DATA)
            n += it->len - it->sent;
        else if (it->kind == IT_PROD)
            n += s->prods[it->prod].handed - it->sent;
    }
    return n;
}

static void model_remove(state_t *s, int i)
{
    memmove(&s->items[i], &s->items[i + 1],
            (size_t)(s->nitems - i - 1) * sizeof(item_t));
    s->nitems--;
}

static int model_find_prod(const state_t *s, int prod)
{
    for (int i = 0; i < s->nitems; i++)
        if (s->items[i].kind == IT_PROD && s->items[i].prod == prod)
            return i;
    return -1;
}

/* The transport took the n bytes at p: they must be the next n bytes of
 * the queue in order, none of them past a close marker (P3, P6). */
static void model_sent(state_t *s, const uint8_t *p, size_t n)
{
    int i = 0;
    while (n > 0) {
        FUZZ_CHECK(i < s->nitems, "%zu bytes sent beyond everything queued",
                   n);
        item_t *it = &s->items[i];
        FUZZ_CHECK(it->kind != IT_MARK, "bytes sent past the close marker");
        size_t k = item_left(s, it);
        k = k < n ? k : n;
        for (size_t j = 0; j < k; j++)
            FUZZ_CHECK(p[j] == item_byte(s, it, it->sent + j),
                       "byte %zu of a queue item sent wrong (reordered?)",
                       it->sent + j);
        it->sent += k;
        p += k;
        n -= k;
        if (it->kind == IT_DATA && it->sent == it->len)
            model_remove(s, i); /* fully sent data is gone */
        else
            i++; /* a producer stays until it is released */
    }
}

/* ---------------------------------------------------------- producers -- */

static state_t *cur; /* the state the producer callbacks belong to */

static int prod_more(void *ud, const void **data, size_t *len)
{
    prod_t *p = ud;
    int idx = (int)(p - cur->prods);
    FUZZ_CHECK(!p->released, "more() called after release() (P4)");
    FUZZ_CHECK(!p->ended, "more() called again after the end (P4)");
    /* P3/P4: a producer's next chunk must not be asked for while another
     * producer or a close marker is still queued ahead of it. */
    int at = model_find_prod(cur, idx);
    FUZZ_CHECK(at >= 0, "more() on a producer that is not queued");
    for (int i = 0; i < at; i++)
        FUZZ_CHECK(cur->items[i].kind == IT_DATA, "more() called while a "
                   "%s is queued ahead of the producer",
                   cur->items[i].kind == IT_MARK ? "close marker"
                                                 : "producer");
    FUZZ_CHECK(cur->items[at].sent == p->handed, "more() called before the "
               "previous chunk was sent");
    free(p->copy);
    p->copy = NULL;
    if (p->next < p->nchunks) {
        size_t n = p->clen[p->next];
        p->copy = malloc(n);
        FUZZ_CHECK(p->copy != NULL, "out of memory");
        memcpy(p->copy, p->chunk[p->next], n);
        p->next++;
        p->handed += n;
        *data = p->copy;
        *len = n;
        return 0;
    }
    p->ended = 1;
    if (p->fail) {
        cur->failed_prod = idx;
        return -EIO;
    }
    *data = NULL;
    *len = 0;
    return 0;
}

static void prod_release(void *ud)
{
    prod_t *p = ud;
    int idx = (int)(p - cur->prods);
    FUZZ_CHECK(p->released == 0, "release() called twice (P4)");
    p->released = 1;
    free(p->copy);
    p->copy = NULL;
    int at = model_find_prod(cur, idx);
    FUZZ_CHECK(at >= 0, "release() of a producer that is not queued");
    if (!cur->discarding) {
        /* P5: only an exhausted producer leaves the queue by itself, and
         * only once all it gave was sent. */
        FUZZ_CHECK(p->ended && !p->fail && cur->items[at].sent == p->total,
                   "a producer was released with data left (P5)");
    }
    model_remove(cur, at);
}

static const ac_producer_t prod_ops = {prod_more, prod_release};

/* ---------------------------------------------------------------- ops -- */

static void op_push(state_t *s, fuzz_in_t *in, uint8_t op)
{
    size_t want = fuzz_u8(in);
    if (op & 0x80)
        want += 256u * (fuzz_u8(in) & 7);
    size_t n;
    const uint8_t *p = fuzz_bytes(in, want, &n);
    /* P1: push copies.  The caller's buffer is scribbled over and freed
     * at once; the bytes that leave must still be the original ones. */
    uint8_t *tmp = malloc(n ? n : 1);
    FUZZ_CHECK(tmp != NULL, "out of memory");
    memcpy(tmp, p, n);
    FUZZ_CHECK(ac__fifo_push(&s->q, tmp, n) == 0, "push failed");
    memset(tmp, 0xA5, n);
    free(tmp);
    if (n > 0 && s->nitems < ITEMS_MAX)
        s->items[s->nitems++] = (item_t){IT_DATA, p, n, 0, -1};
    else
        FUZZ_CHECK(n == 0, "model: too many items");
}

static void op_producer(state_t *s, fuzz_in_t *in, uint8_t op)
{
    if (s->nprods == PRODS_MAX || s->nitems == ITEMS_MAX)
        return;
    prod_t *p = &s->prods[s->nprods];
    memset(p, 0, sizeof(*p));
    p->nchunks = (op >> 3) & 7;
    p->fail = (op >> 6) & 1;
    for (int c = 0; c < p->nchunks; c++) {
        size_t want = fuzz_u8(in);
        p->chunk[c] = fuzz_bytes(in, want ? want : 1, &p->clen[c]);
        if (p->clen[c] == 0) { /* the input ran out: fewer chunks */
            p->nchunks = c;
            break;
        }
        p->total += p->clen[c];
    }
    s->items[s->nitems++] = (item_t){IT_PROD, NULL, 0, 0, s->nprods};
    s->nprods++;
    FUZZ_CHECK(ac__fifo_push_producer(&s->q, &prod_ops, p) == 0,
               "push_producer failed");
}

static void discard(state_t *s)
{
    s->discarding = 1;
    ac__fifo_discard(&s->q);
    s->discarding = 0;
    for (int i = 0; i < s->nitems; i++)
        FUZZ_CHECK(s->items[i].kind != IT_PROD, "discard left a producer "
                   "unreleased (P9)");
    s->nitems = 0;
}

/* One write event, as chat.c's send_once(): gather, send, consume, then
 * take the close marker if it is at the head.  Returns the bytes sent, or
 * -1 when a producer failed (then the queue is discarded, as the default
 * handle_error closes the channel). */
static long send_once(state_t *s, size_t maxbytes, int maxiov, size_t take)
{
    struct iovec iov[AC__IOV_MAX];
    int had_mark, has_mark;
    size_t before = bytes_before_mark(s, &had_mark);
    s->failed_prod = -1;
    int n = ac__fifo_gather(&s->q, iov, maxiov, maxbytes);
    if (n < 0) {
        FUZZ_CHECK(n == -EIO && s->failed_prod >= 0,
                   "gather failed with %d, no producer failed", n);
        /* The failing producer must be the first one queued, with all its
         * chunks sent (P4: chunks in order, each in full). */
        int at = model_find_prod(s, s->failed_prod);
        FUZZ_CHECK(at >= 0 && s->items[at].sent ==
                                  s->prods[s->failed_prod].total,
                   "a producer failed before its chunks were sent");
        discard(s);
        return -1;
    }
    FUZZ_CHECK(s->failed_prod < 0, "a producer's failure was swallowed");
    FUZZ_CHECK(n <= maxiov, "gather filled %d iovecs of %d", n, maxiov);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        FUZZ_CHECK(iov[i].iov_len > 0, "an empty iovec (P5)");
        total += iov[i].iov_len;
    }
    FUZZ_CHECK(total <= maxbytes, "gathered %zu bytes, limit %zu", total,
               maxbytes);
    /* Liveness: queued bytes ahead of the marker are always offered. */
    FUZZ_CHECK(before == 0 || total > 0, "%zu bytes queued, none gathered",
               before);
    size_t k = take < total ? take : total;
    for (int i = 0, left = (int)(k > 0); left && i < n; i++) {
        size_t part = iov[i].iov_len < k ? iov[i].iov_len : k;
        model_sent(s, iov[i].iov_base, part);
        k -= part;
        left = k > 0;
    }
    k = take < total ? take : total;
    ac__fifo_consume(&s->q, k);
    int took = ac__fifo_take_close(&s->q);
    int mark_next = bytes_before_mark(s, &has_mark) == 0 && has_mark;
    if (took) {
        /* P6: the marker is taken exactly when everything before it has
         * left; it leaves the model too. */
        FUZZ_CHECK(mark_next, "close marker taken with bytes still ahead");
        int i = 0;
        while (s->items[i].kind != IT_MARK)
            i++;
        FUZZ_CHECK(i == 0, "close marker taken with a producer ahead");
        model_remove(s, 0);
    } else {
        /* With nothing left ahead of it when this send began, the marker
         * must be taken now (an exhausted producer ahead is dropped by the
         * gather), or handle_close would never come. */
        FUZZ_CHECK(!(before == 0 && had_mark), "close marker not taken");
    }
    return (long)k;
}

static void check_state(const state_t *s)
{
    FUZZ_CHECK(s->q.bytes == model_pending(s), "pending %zu, model %zu",
               s->q.bytes, model_pending(s));
    FUZZ_CHECK(ac__fifo_empty(&s->q) == (s->nitems == 0),
               "fifo_empty %d with %d items queued",
               ac__fifo_empty(&s->q), s->nitems);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static state_t s;
    fuzz_in_t in = {data, size, 0};
    memset(&s, 0, sizeof(s));
    ac__fifo_init(&s.q);
    cur = &s;
    for (int op = 0; op < OPS_MAX && fuzz_left(&in) > 0; op++) {
        uint8_t o = fuzz_u8(&in);
        switch (o & 7) {
        case 0: op_push(&s, &in, o); break;
        case 1: op_producer(&s, &in, o); break;
        case 2:
            if (s.nitems < ITEMS_MAX) {
                FUZZ_CHECK(ac__fifo_push_close(&s.q) == 0, "push_close");
                s.items[s.nitems++] = (item_t){IT_MARK, NULL, 0, 0, -1};
            }
            break;
        case 3: discard(&s); break;
        case 7: /* until a send moves no byte and removes no item */
            for (int i = 0; i < 4 * ITEMS_MAX; i++) {
                int had = s.nitems;
                long k = send_once(&s, 65536, AC__IOV_MAX, 65536);
                if (k < 0 || (k == 0 && s.nitems == had))
                    break;
            }
            break;
        default: {
            size_t maxb = fuzz_u8(&in);
            int maxiov = fuzz_u8(&in) % AC__IOV_MAX + 1;
            uint8_t t = fuzz_u8(&in);
            send_once(&s, maxb ? maxb : 65536, maxiov,
                      t == 255 ? 65536 : t);
            break;
        }
        }
        check_state(&s);
    }
    discard(&s);
    check_state(&s);
    for (int i = 0; i < s.nprods; i++)
        FUZZ_CHECK(s.prods[i].released == 1, "producer %d released %d "
                   "times (P4)", i, s.prods[i].released);
    cur = NULL;
    return 0;
}
