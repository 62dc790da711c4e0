/* test_fifo.c: unit tests of a chat's output queue: the producer FIFO
 * (ac__fifo_*) driven by a fake transport that takes a chosen number of
 * bytes per send, and the queueing half of the chat API, which needs no
 * socket at all. */
#include <stdint.h>
#include <stdlib.h>

#include "check_util.h"
#include "fifo.h"

/* ------------------------------------------------------------ helpers -- */

/* Emptiness, with what the queue still counts in the failure message. */
#define ASSERT_EMPTY(q)                                                      \
    ck_assert_msg(ac__fifo_empty(q), "queue not empty: %zu bytes counted, " \
                  "head entry %p", (q)->bytes, (void *)(q)->head)
#define ASSERT_NOT_EMPTY(q)                                                  \
    ck_assert_msg(!ac__fifo_empty(q), "queue empty: %zu bytes counted",     \
                  (q)->bytes)

/* Escaped text of what iov[0..n) holds, e.g. "ab|cd" (| between iovecs). */
static void iov_text(const struct iovec *iov, int n, char *out, size_t cap)
{
    buf_t b = {0};
    for (int i = 0; i < n; i++) {
        if (i)
            buf_put(&b, "|", 1);
        buf_put(&b, iov[i].iov_base, iov[i].iov_len);
    }
    escape_bytes(out, cap, b.p ? b.p : (unsigned char *)"", b.n);
    buf_free(&b);
}

/* --------------------------------------------------- fake transport -- */

/* How much of what gather offered one send takes. */
typedef enum { SEND_ALL, SEND_FIXED, SEND_RANDOM } policy_t;

typedef struct {
    policy_t policy;
    size_t fixed;        /* SEND_FIXED: at most this many (0: EAGAIN) */
    uint32_t rng;        /* SEND_RANDOM */
    buf_t out;           /* every byte sent, in order */
    int closed;          /* the close marker was taken */
    long sends, eagains;
} wire_t;

static size_t wire_take(wire_t *w, size_t avail)
{
    switch (w->policy) {
    case SEND_FIXED:
        return w->fixed < avail ? w->fixed : avail;
    case SEND_RANDOM: {
        uint32_t r = lcg(&w->rng);
        if (r % 5 == 0)
            return 0; /* EAGAIN: a full socket buffer */
        if (r % 5 == 1)
            return avail;
        return 1 + lcg(&w->rng) % avail;
    }
    default:
        return avail;
    }
}

/* One write event as send_once does it: gather, send part of it, consume
 * what went; an empty gather looks for the close marker.  Returns the
 * gather's iovec count or its error. */
static int step(ac__fifo_t *q, wire_t *w, size_t maxbytes)
{
    struct iovec iov[AC__IOV_MAX];
    int n = ac__fifo_gather(q, iov, AC__IOV_MAX, maxbytes);
    if (n < 0)
        return n;
    if (n == 0) {
        if (ac__fifo_take_close(q))
            w->closed = 1;
        return 0;
    }
    if (n > AC__IOV_MAX)
        ck_abort_msg("gather returned %d iovecs", n);
    size_t avail = 0;
    for (int i = 0; i < n; i++) {
        if (iov[i].iov_len == 0)
            ck_abort_msg("iovec %d of %d is empty (a zero-length send)", i, n);
        avail += iov[i].iov_len;
    }
    if (avail > maxbytes)
        ck_abort_msg("gather offered %zu bytes, cap %zu", avail, maxbytes);
    size_t sent = wire_take(w, avail), left = sent;
    for (int i = 0; i < n && left > 0; i++) {
        size_t k = iov[i].iov_len < left ? iov[i].iov_len : left;
        buf_put(&w->out, iov[i].iov_base, k);
        left -= k;
    }
    w->sends++;
    w->eagains += sent == 0;
    ac__fifo_consume(q, sent);
    return n;
}

/* Write events until gather has nothing (the queue is empty or the close
 * marker was taken).  0, or gather's error. */
static int drain(ac__fifo_t *q, wire_t *w, size_t maxbytes)
{
    for (long i = 0; i < 100000000L; i++) {
        int n = step(q, w, maxbytes);
        if (n <= 0)
            return n;
        if (w->policy == SEND_FIXED && w->fixed == 0)
            ck_abort_msg("drain with a transport that never sends");
    }
    ck_abort_msg("no progress after 1e8 write events");
    return -1;
}

static void assert_wire(const wire_t *w, const char *want)
{
    char got[1024];
    escape_bytes(got, sizeof(got), w->out.p ? w->out.p : (unsigned char *)"",
                 w->out.n);
    char exp[1024];
    escape_bytes(exp, sizeof(exp), want, strlen(want));
    ck_assert_str_eq(got, exp);
}

/* ------------------------------------------------------- FIFO: order -- */

/* pushes and producers interleaved come out in push order, whatever the
 * send sizes and the per-gather cap. */
START_TEST(order_across_pushes_and_producers)
{
    static const struct {
        policy_t policy;
        size_t fixed, maxbytes;
    } ways[] = {
        {SEND_ALL, 0, 65536}, {SEND_FIXED, 1, 65536}, {SEND_FIXED, 3, 65536},
        {SEND_ALL, 0, 1},     {SEND_ALL, 0, 3},       {SEND_FIXED, 2, 5},
        {SEND_RANDOM, 0, 4},
    };
    for (size_t i = 0; i < sizeof(ways) / sizeof(ways[0]); i++) {
        ac__fifo_t q;
        ac__fifo_init(&q);
        prod_t p1 = {.chunks = {"cd", "ef"}}, p2 = {.chunks = {"ij"}};
        ck_assert_int_eq(ac__fifo_push(&q, "ab", 2), 0);
        ck_assert_int_eq(ac__fifo_push_producer(&q, &producer, &p1), 0);
        ck_assert_int_eq(ac__fifo_push(&q, "gh", 2), 0);
        ck_assert_int_eq(ac__fifo_push_producer(&q, &producer, &p2), 0);
        ck_assert_int_eq(ac__fifo_push(&q, "kl", 2), 0);
        wire_t w = {.policy = ways[i].policy, .fixed = ways[i].fixed,
                    .rng = 7};
        ck_assert_int_eq(drain(&q, &w, ways[i].maxbytes), 0);
        assert_wire(&w, "abcdefghijkl");
        ck_assert_int_eq(p1.released, 1);
        ck_assert_int_eq(p2.released, 1);
        ASSERT_EMPTY(&q);
        ck_assert_uint_eq(q.bytes, 0);
        ck_assert_int_eq(w.closed, 0);
        buf_free(&w.out);
    }
}
END_TEST

START_TEST(producer_chunks_then_end)
{
    /* An empty final chunk and a NULL end both end a producer. */
    prod_t empty_end = {.chunks = {"one", "two", "three", ""}};
    prod_t null_end = {.chunks = {"four", "five"}};
    ac__fifo_t q;
    ac__fifo_init(&q);
    ck_assert_int_eq(ac__fifo_push_producer(&q, &producer, &empty_end), 0);
    ck_assert_int_eq(ac__fifo_push_producer(&q, &producer, &null_end), 0);
    wire_t w = {0};
    ck_assert_int_eq(drain(&q, &w, 65536), 0);
    assert_wire(&w, "onetwothreefourfive");
    ck_assert_int_eq(empty_end.calls, 4);
    ck_assert_int_eq(null_end.calls, 3);
    ck_assert_int_eq(empty_end.released, 1);
    ck_assert_int_eq(null_end.released, 1);
    ASSERT_EMPTY(&q);
    buf_free(&w.out);
}
END_TEST

/* CQ13: an exhausted producer removes itself and nothing else, wherever it
 * sits: at the head, between data, next to another empty one. */
START_TEST(exhausted_producer_removes_only_itself)
{
    prod_t p[4] = {{.chunks = {NULL}}, {.chunks = {""}}, {.chunks = {NULL}},
                   {.chunks = {NULL}}};
    ac__fifo_t q;
    ac__fifo_init(&q);
    ck_assert_int_eq(ac__fifo_push_producer(&q, &producer, &p[0]), 0);
    ck_assert_int_eq(ac__fifo_push(&q, "A", 1), 0);
    ck_assert_int_eq(ac__fifo_push_producer(&q, &producer, &p[1]), 0);
    ck_assert_int_eq(ac__fifo_push_producer(&q, &producer, &p[2]), 0);
    ck_assert_int_eq(ac__fifo_push(&q, "B", 1), 0);
    ck_assert_int_eq(ac__fifo_push_producer(&q, &producer, &p[3]), 0);
    ck_assert_int_eq(ac__fifo_push(&q, "C", 1), 0);
    wire_t w = {.policy = SEND_FIXED, .fixed = 1};
    ck_assert_int_eq(drain(&q, &w, 65536), 0);
    assert_wire(&w, "ABC");
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(p[i].calls, 1);
        ck_assert_int_eq(p[i].released, 1);
    }
    ASSERT_EMPTY(&q);

    /* An exhausted producer just before the close marker: the marker is
     * next, so the channel closes without a send. */
    prod_t last = {.chunks = {NULL}};
    ck_assert_int_eq(ac__fifo_push_producer(&q, &producer, &last), 0);
    ck_assert_int_eq(ac__fifo_push_close(&q), 0);
    struct iovec iov[AC__IOV_MAX];
    ck_assert_int_eq(ac__fifo_gather(&q, iov, AC__IOV_MAX, 65536), 0);
    ck_assert_int_eq(last.released, 1);
    ck_assert_int_eq(ac__fifo_take_close(&q), 1);
    ASSERT_EMPTY(&q);
    buf_free(&w.out);
}
END_TEST

/* --------------------------------------------- FIFO: push semantics -- */

START_TEST(push_copies_bytes)
{
    char src[] = "hello";
    ac__fifo_t q;
    ac__fifo_init(&q);
    ck_assert_int_eq(ac__fifo_push(&q, src, 5), 0);
    memset(src, 'X', 5); /* CQ15: the queue must not alias the caller */
    char big[9000];
    memset(big, 'b', sizeof(big)); /* over one block: its own entry */
    ck_assert_int_eq(ac__fifo_push(&q, big, sizeof(big)), 0);
    memset(big, 'X', sizeof(big));
    wire_t w = {0};
    ck_assert_int_eq(drain(&q, &w, 65536), 0);
    ck_assert_uint_eq(w.out.n, 5 + sizeof(big));
    ck_assert_mem_eq(w.out.p, "hello", 5);
    for (size_t i = 5; i < w.out.n; i++)
        if (w.out.p[i] != 'b')
            ck_abort_msg("byte %zu is %#x, not 'b'", i, w.out.p[i]);
    buf_free(&w.out);
}
END_TEST

/* CQ14: an empty push queues nothing, so it can never cost a send. */
START_TEST(empty_push_is_a_noop)
{
    ac__fifo_t q;
    ac__fifo_init(&q);
    ck_assert_int_eq(ac__fifo_push(&q, "x", 0), 0);
    ck_assert_int_eq(ac__fifo_push(&q, NULL, 0), 0);
    ASSERT_EMPTY(&q);
    ck_assert_uint_eq(q.bytes, 0);
    struct iovec iov[AC__IOV_MAX];
    ck_assert_int_eq(ac__fifo_gather(&q, iov, AC__IOV_MAX, 65536), 0);

    ck_assert_int_eq(ac__fifo_push(&q, "a", 1), 0);
    ck_assert_int_eq(ac__fifo_push(&q, "", 0), 0);
    ck_assert_int_eq(ac__fifo_push(&q, "b", 1), 0);
    ck_assert_uint_eq(q.bytes, 2);
    wire_t w = {0};
    ck_assert_int_eq(drain(&q, &w, 65536), 0);
    assert_wire(&w, "ab");
    ck_assert_int_eq(w.sends, 1);
    buf_free(&w.out);
}
END_TEST

/* P8: what a partial send left stays at the head, ahead of later pushes,
 * and a producer's unsent chunk is not asked for again. */
START_TEST(partial_send_keeps_remainder_at_head)
{
    ac__fifo_t q;
    ac__fifo_init(&q);
    struct iovec iov[AC__IOV_MAX];
    char text[64];
    prod_t p = {.chunks = {"12345"}};
    ck_assert_int_eq(ac__fifo_push(&q, "abcdef", 6), 0);
    int n = ac__fifo_gather(&q, iov, AC__IOV_MAX, 65536);
    iov_text(iov, n, text, sizeof(text));
    ck_assert_str_eq(text, "abcdef");
    ac__fifo_consume(&q, 2);
    ck_assert_int_eq(ac__fifo_push_producer(&q, &producer, &p), 0);
    ck_assert_int_eq(ac__fifo_push(&q, "gh", 2), 0);
    n = ac__fifo_gather(&q, iov, AC__IOV_MAX, 65536);
    iov_text(iov, n, text, sizeof(text));
    ck_assert_str_eq(text, "cdef|12345");
    ac__fifo_consume(&q, 4 + 2); /* the data and "12" */
    n = ac__fifo_gather(&q, iov, AC__IOV_MAX, 65536);
    iov_text(iov, n, text, sizeof(text));
    ck_assert_str_eq(text, "345");
    ck_assert_int_eq(p.calls, 1);
    ac__fifo_consume(&q, 0); /* EAGAIN changes nothing */
    n = ac__fifo_gather(&q, iov, AC__IOV_MAX, 65536);
    iov_text(iov, n, text, sizeof(text));
    ck_assert_str_eq(text, "345");
    ac__fifo_consume(&q, 3);
    n = ac__fifo_gather(&q, iov, AC__IOV_MAX, 65536);
    iov_text(iov, n, text, sizeof(text));
    ck_assert_str_eq(text, "gh");
    ck_assert_int_eq(p.released, 1);
    ac__fifo_consume(&q, 2);
    ASSERT_EMPTY(&q);
    ck_assert_uint_eq(q.bytes, 0);
}
END_TEST

START_TEST(maxbytes_and_maxiov_cap_a_gather)
{
    ac__fifo_t q;
    ac__fifo_init(&q);
    struct iovec iov[AC__IOV_MAX];
    char text[64];
    prod_t p = {.chunks = {"abcdefghij"}};
    ck_assert_int_eq(ac__fifo_push(&q, "0123456789", 10), 0);
    ck_assert_int_eq(ac__fifo_push_producer(&q, &producer, &p), 0);
    ck_assert_int_eq(ac__fifo_push(&q, "XYZ", 3), 0);
    int n = ac__fifo_gather(&q, iov, AC__IOV_MAX, 4);
    iov_text(iov, n, text, sizeof(text));
    ck_assert_str_eq(text, "0123");
    n = ac__fifo_gather(&q, iov, AC__IOV_MAX, 12);
    iov_text(iov, n, text, sizeof(text));
    ck_assert_str_eq(text, "0123456789|ab");
    /* A producer ends the gather: its next chunk, unknown yet, must go
     * before XYZ. */
    n = ac__fifo_gather(&q, iov, AC__IOV_MAX, 1000);
    iov_text(iov, n, text, sizeof(text));
    ck_assert_str_eq(text, "0123456789|abcdefghij");
    n = ac__fifo_gather(&q, iov, 1, 1000);
    iov_text(iov, n, text, sizeof(text));
    ck_assert_str_eq(text, "0123456789");
    ac__fifo_discard(&q);
    ck_assert_int_eq(p.released, 1);

    /* Entries over one block each take an iovec: maxiov bounds them. */
    static char big[5000];
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(ac__fifo_push(&q, big, sizeof(big)), 0);
    ck_assert_int_eq(ac__fifo_gather(&q, iov, AC__IOV_MAX, SIZE_MAX),
                     AC__IOV_MAX);
    ck_assert_int_eq(ac__fifo_gather(&q, iov, 3, SIZE_MAX), 3);
    ck_assert_uint_eq(q.bytes, 100 * sizeof(big));
    ac__fifo_discard(&q);
}
END_TEST

/* P7: the marker comes after every byte queued before it, and a gather
 * never crosses it; bytes queued after it stay queued. */
START_TEST(close_marker_after_earlier_bytes)
{
    ac__fifo_t q;
    ac__fifo_init(&q);
    prod_t p = {.chunks = {"cd"}};
    ck_assert_int_eq(ac__fifo_push(&q, "ab", 2), 0);
    ck_assert_int_eq(ac__fifo_push_producer(&q, &producer, &p), 0);
    ck_assert_int_eq(ac__fifo_push_close(&q), 0);
    ck_assert_int_eq(ac__fifo_push(&q, "late", 4), 0);
    ck_assert_int_eq(ac__fifo_take_close(&q), 0); /* not at the head yet */
    wire_t w = {.policy = SEND_FIXED, .fixed = 1};
    ck_assert_int_eq(drain(&q, &w, 65536), 0);
    assert_wire(&w, "abcd");
    ck_assert_int_eq(w.closed, 1);
    ck_assert_int_eq(p.released, 1);
    ck_assert_int_eq(ac__fifo_take_close(&q), 0);
    ASSERT_NOT_EMPTY(&q);
    ck_assert_uint_eq(q.bytes, 4);
    struct iovec iov[AC__IOV_MAX];
    char text[64];
    int n = ac__fifo_gather(&q, iov, AC__IOV_MAX, 65536);
    iov_text(iov, n, text, sizeof(text));
    ck_assert_str_eq(text, "late");
    ac__fifo_discard(&q);
    buf_free(&w.out);
}
END_TEST

/* P12: discard drops everything, marker included, releasing each
 * producer once (one with a chunk half sent too); the queue is reusable. */
START_TEST(discard_releases_once_and_clears_marker)
{
    ac__fifo_t q;
    ac__fifo_init(&q);
    prod_t p1 = {.chunks = {"xx", "yy"}}, p2 = {.chunks = {"zz"}};
    ck_assert_int_eq(ac__fifo_push(&q, "a", 1), 0);
    ck_assert_int_eq(ac__fifo_push_producer(&q, &producer, &p1), 0);
    ck_assert_int_eq(ac__fifo_push_close(&q), 0);
    ck_assert_int_eq(ac__fifo_push_producer(&q, &producer, &p2), 0);
    ck_assert_int_eq(ac__fifo_push(&q, "b", 1), 0);
    wire_t w = {.policy = SEND_FIXED, .fixed = 2};
    ck_assert_int_eq(step(&q, &w, 65536), 2); /* "a|xx", sends "ax" */
    ac__fifo_discard(&q);
    ck_assert_int_eq(p1.released, 1);
    ck_assert_int_eq(p2.released, 1);
    ck_assert_int_eq(p2.calls, 0);
    ASSERT_EMPTY(&q);
    ck_assert_uint_eq(q.bytes, 0);
    ck_assert_int_eq(ac__fifo_take_close(&q), 0);
    ac__fifo_discard(&q); /* twice: nothing left to release */
    ck_assert_int_eq(ac__fifo_push(&q, "c", 1), 0);
    ck_assert_int_eq(drain(&q, &w, 65536), 0);
    assert_wire(&w, "axc");
    ck_assert_int_eq(w.closed, 0);
    ck_assert_int_eq(p1.released, 1);
    ck_assert_int_eq(p2.released, 1);
    buf_free(&w.out);
}
END_TEST

/* A failing more() is gather's result; the producer keeps its place and
 * is neither released nor skipped. */
START_TEST(producer_error_is_returned)
{
    ac__fifo_t q;
    ac__fifo_init(&q);
    prod_t p = {.chunks = {"cd"}, .fail = -EIO};
    ck_assert_int_eq(ac__fifo_push(&q, "ab", 2), 0);
    ck_assert_int_eq(ac__fifo_push_producer(&q, &producer, &p), 0);
    ck_assert_int_eq(ac__fifo_push(&q, "ef", 2), 0);
    struct iovec iov[AC__IOV_MAX];
    ck_assert_int_eq(ac__fifo_gather(&q, iov, AC__IOV_MAX, 65536), -EIO);
    ck_assert_int_eq(p.released, 0);
    ck_assert_uint_eq(q.bytes, 4);
    /* Before the producer is reached, its error cannot show. */
    ck_assert_int_eq(ac__fifo_gather(&q, iov, AC__IOV_MAX, 2), 1);
    ac__fifo_consume(&q, 2);
    ck_assert_int_eq(ac__fifo_gather(&q, iov, AC__IOV_MAX, 65536), -EIO);
    ck_assert_int_eq(p.calls, 2);
    p.fail = 0;
    wire_t w = {0};
    ck_assert_int_eq(drain(&q, &w, 65536), 0);
    assert_wire(&w, "cdef");
    ck_assert_int_eq(p.released, 1);
    buf_free(&w.out);

    prod_t head = {.fail = -ENOMEM};
    ck_assert_int_eq(ac__fifo_push_producer(&q, &producer, &head), 0);
    ck_assert_int_eq(ac__fifo_gather(&q, iov, AC__IOV_MAX, 65536), -ENOMEM);
    ac__fifo_discard(&q);
    ck_assert_int_eq(head.released, 1);
}
END_TEST

/* bytes = queued data + the unsent part of handed-over producer chunks. */
START_TEST(bytes_counter_matches_what_is_left)
{
    ac__fifo_t q;
    ac__fifo_init(&q);
    prod_t p = {.chunks = {"12345"}};
    ck_assert_int_eq(ac__fifo_push(&q, "abc", 3), 0);
    ck_assert_int_eq(ac__fifo_push_producer(&q, &producer, &p), 0);
    ck_assert_uint_eq(q.bytes, 3);
    struct iovec iov[AC__IOV_MAX];
    ck_assert_int_eq(ac__fifo_gather(&q, iov, AC__IOV_MAX, 65536), 2);
    ck_assert_uint_eq(q.bytes, 8);
    ac__fifo_consume(&q, 4);
    ck_assert_uint_eq(q.bytes, 4);
    ac__fifo_consume(&q, 4);
    ck_assert_uint_eq(q.bytes, 0);
    ck_assert_int_eq(ac__fifo_gather(&q, iov, AC__IOV_MAX, 65536), 0);
    ASSERT_EMPTY(&q);

    /* Data only, random pushes and sends: exact after every step. */
    const uint32_t seed = 0xb17e5u;
    uint32_t s = seed;
    wire_t w = {.policy = SEND_RANDOM, .rng = seed};
    size_t pushed = 0;
    static unsigned char src[1 << 16];
    for (int i = 0; i < 5000; i++) {
        size_t k = lcg(&s) % 6000;
        ck_assert_int_eq(ac__fifo_push(&q, src, k), 0);
        pushed += k;
        if (q.bytes != pushed - w.out.n)
            ck_abort_msg("seed %#x step %d: bytes %zu, left %zu",
                         (unsigned)seed, i, q.bytes, pushed - w.out.n);
        if (step(&q, &w, 1 + lcg(&s) % 10000) < 0)
            ck_abort_msg("gather failed");
        if (q.bytes != pushed - w.out.n)
            ck_abort_msg("seed %#x step %d: bytes %zu, left %zu",
                         (unsigned)seed, i, q.bytes, pushed - w.out.n);
    }
    ck_assert_int_eq(drain(&q, &w, 65536), 0);
    ck_assert_uint_eq(q.bytes, 0);
    ck_assert_uint_eq(w.out.n, pushed);
    buf_free(&w.out);
}
END_TEST

/* ----------------------------------------------- FIFO: random bulk -- */

/* A producer over a slice of the source, in chunks of random size. */
typedef struct {
    const unsigned char *p;
    size_t n, off;
    uint32_t rng;
    int released;
} slicer_t;

static int slicer_more(void *ud, const void **data, size_t *len)
{
    slicer_t *sl = ud;
    size_t left = sl->n - sl->off;
    size_t k = left ? 1 + lcg(&sl->rng) % (left < 70000 ? left : 70000) : 0;
    *data = sl->p + sl->off;
    *len = k;
    sl->off += k;
    return 0;
}

static void slicer_release(void *ud)
{
    ((slicer_t *)ud)->released++;
}

START_TEST(random_multi_megabyte_arrives_exact)
{
    static const ac_producer_t slicer = {slicer_more, slicer_release};
    const uint32_t seed = 0xac4a7u;
    printf("test_fifo: random bulk seed %#x\n", (unsigned)seed);
    uint32_t s = seed;
    const size_t total = (size_t)6 << 20;
    unsigned char *src = malloc(total);
    slicer_t *sl = calloc(4096, sizeof(*sl));
    ck_assert_ptr_nonnull(src);
    ck_assert_ptr_nonnull(sl);
    for (size_t i = 0; i < total; i++)
        src[i] = (unsigned char)lcg(&s);
    ac__fifo_t q;
    ac__fifo_init(&q);
    wire_t w = {.policy = SEND_RANDOM, .rng = seed ^ 0x55u};
    size_t queued = 0;
    int nsl = 0;
    while (queued < total) {
        uint32_t r = lcg(&s) % 10;
        size_t k = lcg(&s) % (r < 6 ? 9000 : 300000);
        if (k > total - queued)
            k = total - queued;
        if (r < 6 || nsl == 4096) {
            ck_assert_int_eq(ac__fifo_push(&q, src + queued, k), 0);
        } else if (r < 8) {
            sl[nsl] = (slicer_t){src + queued, k, 0, lcg(&s), 0};
            ck_assert_int_eq(ac__fifo_push_producer(&q, &slicer, &sl[nsl]),
                             0);
            nsl++;
        } else {
            for (uint32_t j = lcg(&s) % 8; j > 0; j--)
                if (step(&q, &w, 1 + lcg(&s) % 200000) < 0)
                    ck_abort_msg("seed %#x: gather failed", (unsigned)seed);
            continue;
        }
        queued += k;
    }
    ck_assert_int_eq(drain(&q, &w, 65536), 0);
    ck_assert_msg(w.out.n == total, "seed %#x: %zu of %zu bytes arrived",
                  (unsigned)seed, w.out.n, total);
    for (size_t i = 0; i < total; i++)
        if (w.out.p[i] != src[i])
            ck_abort_msg("seed %#x: first wrong byte at %zu", (unsigned)seed,
                         i);
    for (int i = 0; i < nsl; i++)
        if (sl[i].released != 1)
            ck_abort_msg("seed %#x: producer %d released %d times",
                         (unsigned)seed, i, sl[i].released);
    ck_assert_int_gt(nsl, 10);
    ck_assert_int_gt(w.eagains, 10);
    ASSERT_EMPTY(&q);
    buf_free(&w.out);
    free(sl);
    free(src);
}
END_TEST

/* ---------------------------------------- chat API, no socket needed -- */

typedef struct {
    ac_map_t *map;
    ac_chat_t *chat;
} fixture_t;

static void chat_open(fixture_t *fx)
{
    ck_assert_int_eq(ac_map_new(&fx->map), 0);
    ck_assert_int_eq(ac_chat_new(&fx->chat, fx->map, NULL, NULL), 0);
}

static void chat_done(fixture_t *fx)
{
    ac_chat_free(fx->chat);
    ck_assert_int_eq(ac_map_free(fx->map), 0);
}

/* P5: with no connection yet, pushes queue. */
START_TEST(chat_push_without_socket_queues)
{
    fixture_t fx;
    chat_open(&fx);
    prod_t p = {.chunks = {"later"}};
    ck_assert_int_eq(ac_chat_push(fx.chat, "hello", 5), 0);
    ck_assert_uint_eq(ac_chat_pending(fx.chat), 5);
    ck_assert_int_eq(ac_chat_push(fx.chat, "", 0), 0);
    ck_assert_int_eq(ac_chat_push(fx.chat, NULL, 5), -EINVAL);
    ck_assert_int_eq(ac_chat_push(NULL, "x", 1), -EINVAL);
    ck_assert_int_eq(ac_chat_push_producer(fx.chat, NULL, &p), -EINVAL);
    ck_assert_uint_eq(ac_chat_pending(fx.chat), 5);
    /* A producer counts once it hands over a chunk, not before. */
    ck_assert_int_eq(ac_chat_push_producer(fx.chat, &producer, &p), 0);
    ck_assert_uint_eq(ac_chat_pending(fx.chat), 5);
    ck_assert_int_eq(p.calls, 0);
    chat_done(&fx);
    ck_assert_int_eq(p.released, 1);
}
END_TEST

START_TEST(chat_push_after_close_when_done)
{
    fixture_t fx;
    chat_open(&fx);
    prod_t p = {.chunks = {"never"}};
    ck_assert_int_eq(ac_chat_push(fx.chat, "hello", 5), 0);
    ck_assert_int_eq(ac_chat_close_when_done(fx.chat), 0);
    ck_assert_int_eq(ac_chat_push(fx.chat, "more", 4), -EPIPE);
    /* The chat owns a refused producer too: released at once. */
    ck_assert_int_eq(ac_chat_push_producer(fx.chat, &producer, &p), -EPIPE);
    ck_assert_int_eq(p.released, 1);
    ck_assert_int_eq(p.calls, 0);
    ck_assert_int_eq(ac_chat_close_when_done(fx.chat), -EPIPE);
    ck_assert_uint_eq(ac_chat_pending(fx.chat), 5);
    chat_done(&fx);
    ck_assert_int_eq(p.released, 1);
}
END_TEST

START_TEST(chat_closed_refuses_and_releases)
{
    fixture_t fx;
    chat_open(&fx);
    prod_t queued = {.chunks = {"q"}}, late = {.chunks = {"l"}};
    ck_assert_int_eq(ac_chat_push(fx.chat, "data", 4), 0);
    ck_assert_int_eq(ac_chat_push_producer(fx.chat, &producer, &queued), 0);
    ck_assert_int_eq(ac_disp_close(ac_chat_disp(fx.chat)), 0);
    /* Closing drops the queue and releases what it held. */
    ck_assert_int_eq(queued.released, 1);
    ck_assert_uint_eq(ac_chat_pending(fx.chat), 0);
    ck_assert_int_eq(ac_chat_push(fx.chat, "x", 1), -EBADF);
    ck_assert_int_eq(ac_chat_push_producer(fx.chat, &producer, &late),
                     -EBADF);
    ck_assert_int_eq(late.released, 1);
    ck_assert_int_eq(ac_chat_close_when_done(fx.chat), -EBADF);
    ck_assert_uint_eq(ac_chat_pending(fx.chat), 0);
    chat_done(&fx);
    ck_assert_int_eq(queued.released, 1);
    ck_assert_int_eq(late.released, 1);
    ck_assert_int_eq(queued.calls + late.calls, 0);
}
END_TEST

START_TEST(chat_discard_buffers_empties_queue)
{
    fixture_t fx;
    chat_open(&fx);
    prod_t p = {.chunks = {"p"}};
    ck_assert_int_eq(ac_chat_push(fx.chat, "data", 4), 0);
    ck_assert_int_eq(ac_chat_push_producer(fx.chat, &producer, &p), 0);
    ck_assert_int_eq(ac_chat_close_when_done(fx.chat), 0);
    ck_assert_int_eq(ac_chat_discard_buffers(fx.chat), 0);
    ck_assert_uint_eq(ac_chat_pending(fx.chat), 0);
    ck_assert_int_eq(p.released, 1);
    /* The marker went with the queue: nothing refuses a push now. */
    ck_assert_int_eq(ac_chat_push(fx.chat, "new", 3), 0);
    ck_assert_uint_eq(ac_chat_pending(fx.chat), 3);
    ck_assert_int_eq(ac_chat_discard_buffers(NULL), -EINVAL);
    chat_done(&fx);
    ck_assert_int_eq(p.released, 1);
}
END_TEST

START_TEST(chat_free_releases_queued_producers_once)
{
    fixture_t fx;
    chat_open(&fx);
    prod_t p[3] = {{.chunks = {"a"}}, {.chunks = {"b"}}, {.chunks = {"c"}}};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(ac_chat_push_producer(fx.chat, &producer, &p[i]), 0);
        ck_assert_int_eq(ac_chat_push(fx.chat, "between", 7), 0);
    }
    ck_assert_int_eq(ac_chat_close_when_done(fx.chat), 0);
    chat_done(&fx);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(p[i].released, 1);
        ck_assert_int_eq(p[i].calls, 0);
    }
}
END_TEST

/* --------------------------------------------------------------- main -- */

static Suite *fifo_suite(void)
{
    Suite *s = suite_create("fifo");
    TCase *tc = tcase_create("fifo");
    tcase_set_timeout(tc, 120); /* the random bulk test under valgrind */
    tcase_add_test(tc, order_across_pushes_and_producers);
    tcase_add_test(tc, producer_chunks_then_end);
    tcase_add_test(tc, exhausted_producer_removes_only_itself);
    tcase_add_test(tc, push_copies_bytes);
    tcase_add_test(tc, empty_push_is_a_noop);
    tcase_add_test(tc, partial_send_keeps_remainder_at_head);
    tcase_add_test(tc, maxbytes_and_maxiov_cap_a_gather);
    tcase_add_test(tc, close_marker_after_earlier_bytes);
    tcase_add_test(tc, discard_releases_once_and_clears_marker);
    tcase_add_test(tc, producer_error_is_returned);
    tcase_add_test(tc, bytes_counter_matches_what_is_left);
    tcase_add_test(tc, random_multi_megabyte_arrives_exact);
    suite_add_tcase(s, tc);

    tc = tcase_create("chat");
    tcase_add_test(tc, chat_push_without_socket_queues);
    tcase_add_test(tc, chat_push_after_close_when_done);
    tcase_add_test(tc, chat_closed_refuses_and_releases);
    tcase_add_test(tc, chat_discard_buffers_empties_queue);
    tcase_add_test(tc, chat_free_releases_queued_producers_once);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(fifo_suite());
}
