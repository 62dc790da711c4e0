/* fuzz_impl_fifo.c: fuzzes any implementation's output queue through its
 * conformance adapter (IMPL=, as fuzz_impl_framing.c): pushes of any size
 * (zero included) and producers with any chunks (empty ones, and none at
 * all), interleaved with passes and a peer that reads a few bytes at a
 * time, then close_when_done.  The model is the spec's (P1-P6): the peer
 * receives the concatenation of everything queued, once and in order, then
 * end of stream; each producer is released exactly once; handle_close runs
 * once, after the last byte.
 *
 * Input layout (every prefix is valid; missing bytes read as 0):
 *   F          bit 0: set_buffer_sizes(IN, OUT) follows (two bytes, +1)
 *   {OP}       up to 64 operations, K = op byte:
 *              K % 4 == 0: push of L = next byte bytes
 *              K % 4 == 1: producer of C = (K >> 2) % 9 chunks, each a
 *                          length byte and its bytes (0: an empty chunk)
 *              K % 4 == 2: one pass, then the peer reads up to next byte
 *              K % 4 == 3: one pass */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "impl_drive.h"

#define MAX_OPS 64
#define MAX_CHUNKS 8
#define MAX_PRODS MAX_OPS
#define DRAIN_PASSES 20000
#define WANT_MAX (MAX_OPS * MAX_CHUNKS * 255)

/* The adapter reads a producer's chunk table until it is released, so
 * the table lives here, beside the verdict. */
typedef struct {
    const void *chunks[MAX_CHUNKS];
    size_t lens[MAX_CHUNKS];
    int released;
} prod_t;

typedef struct {
    drive_t d;
    uint8_t want[WANT_MAX]; /* everything queued, in order */
    size_t nwant;
    uint8_t got[WANT_MAX];  /* what the peer received */
    size_t ngot;
    prod_t prods[MAX_PRODS];
    int nprods;
    int closes, eof;
} run_t;

static void on_release(void *pctx)
{
    prod_t *p = pctx;
    FUZZ_CHECK(p->released == 0, "a producer was released twice (P4)");
    p->released = 1;
}

static void on_close(void *ctx)
{
    run_t *r = ctx;
    FUZZ_CHECK(r->closes == 0, "handle_close ran twice (D6)");
    r->closes++;
}

static void on_error(void *ctx, int err)
{
    (void)ctx;
    FUZZ_FAIL("handle_error(%d) while the peer reads (P12)", err);
}

static void on_input(void *ctx, const void *p, size_t n)
{
    (void)ctx, (void)p, (void)n;
    FUZZ_FAIL("input delivered, but the peer sent nothing");
}

static void on_found(void *ctx)
{
    (void)ctx;
    FUZZ_FAIL("found_terminator, but the peer sent nothing");
}

static const acc_events_t events = {
    .collect = on_input, .found = on_found, .close = on_close,
    .error = on_error};

/* The peer reads up to max bytes without waiting; returns 0 at end of
 * stream, else how many it read. */
static long peer_read(run_t *r, size_t max)
{
    size_t room = r->nwant - r->ngot;
    if (max > room)
        max = room;
    if (room == 0) { /* everything arrived: only end of stream may follow */
        char x;
        ssize_t k = recv(r->d.peer, &x, 1, MSG_DONTWAIT);
        FUZZ_CHECK(k <= 0, "the peer received more than was queued (P3)");
        return k == 0 ? 0 : -1;
    }
    if (max == 0)
        return -1;
    ssize_t k = recv(r->d.peer, r->got + r->ngot, max, MSG_DONTWAIT);
    if (k < 0) {
        FUZZ_CHECK(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
                       errno == ECONNRESET,
                   "peer recv: %s", strerror(errno));
        return -1;
    }
    if (k == 0)
        return 0;
    FUZZ_CHECK(memcmp(r->got + r->ngot, r->want + r->ngot, (size_t)k) == 0,
               "the peer received wrong bytes at offset %zu (P3, P5)",
               r->ngot);
    r->ngot += (size_t)k;
    return k;
}

static void op_push(run_t *r, fuzz_in_t *in)
{
    size_t len;
    const uint8_t *p = fuzz_bytes(in, fuzz_u8(in), &len);
    /* From a copy the harness then scribbles over: P1 says push copies. */
    uint8_t copy[255];
    memcpy(copy, p, len);
    int rc = r->d.im->push(r->d.ch, copy, len);
    FUZZ_CHECK(rc == 0, "push of %zu bytes failed: %d", len, rc);
    memset(copy, 0xA5, sizeof(copy));
    memcpy(r->want + r->nwant, p, len);
    r->nwant += len;
}

static void op_producer(run_t *r, fuzz_in_t *in, unsigned k)
{
    prod_t *pr = &r->prods[r->nprods];
    size_t n = (k >> 2) % (MAX_CHUNKS + 1);
    int exhausted = 0;
    for (size_t i = 0; i < n; i++) {
        /* An empty chunk keeps a non-NULL pointer, as a producer's would,
         * and means exhaustion (P4): what follows it is never asked for. */
        pr->chunks[i] = fuzz_bytes(in, fuzz_u8(in), &pr->lens[i]);
        exhausted |= pr->lens[i] == 0;
        if (!exhausted) {
            memcpy(r->want + r->nwant, pr->chunks[i], pr->lens[i]);
            r->nwant += pr->lens[i];
        }
    }
    if (!(r->d.im->caps & ACC_CAP_PRODUCER)) {
        /* Without producers the same bytes go in as pushes. */
        for (size_t i = 0; i < n && pr->lens[i] > 0; i++)
            FUZZ_CHECK(r->d.im->push(r->d.ch, pr->chunks[i],
                                     pr->lens[i]) == 0, "push failed");
        return;
    }
    r->nprods++;
    pr->released = 0;
    acc_producer_t p = {pr->chunks, pr->lens, n, on_release, pr};
    int rc = r->d.im->push_producer(r->d.ch, &p);
    FUZZ_CHECK(rc == 0, "push_producer of %zu chunks failed: %d", n, rc);
}

static void drain(run_t *r)
{
    int rc = r->d.im->close_when_done(r->d.ch);
    FUZZ_CHECK(rc == 0, "close_when_done failed: %d", rc);
    FUZZ_CHECK(r->closes == 0, "handle_close inside close_when_done (P6)");
    for (int i = 0; i < DRAIN_PASSES && !r->eof; i++) {
        drive_pass(&r->d);
        long k;
        while ((k = peer_read(r, 65536)) > 0)
            ;
        r->eof = k == 0;
    }
    FUZZ_CHECK(r->eof, "no end of stream after %d passes: %zu of %zu bytes "
               "received (P6)", DRAIN_PASSES, r->ngot, r->nwant);
    FUZZ_CHECK(r->ngot == r->nwant, "end of stream after %zu of %zu bytes "
               "(P3, P6)", r->ngot, r->nwant);
    FUZZ_CHECK(r->closes == 1, "the close marker reached the head but "
               "handle_close ran %d times (P6)", r->closes);
    for (int i = 0; i < r->nprods; i++)
        FUZZ_CHECK(r->prods[i].released, "producer %d was never released "
                   "(P4)", i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static run_t r;
    fuzz_in_t in = {data, size, 0};
    int err = 0;
    r.nwant = r.ngot = 0;
    r.nprods = r.closes = r.eof = 0;
    if (drive_open(&r.d, &events, &r, &err) < 0)
        FUZZ_FAIL("chat_adopt on a socketpair failed: %d", err);
    FUZZ_CHECK(r.d.im->set_none(r.d.ch) == 0, "set_none failed");
    uint8_t flags = fuzz_u8(&in);
    if ((flags & 1) && (r.d.im->caps & ACC_CAP_BUFSIZE)) {
        size_t bin = (size_t)fuzz_u8(&in) + 1, bout = (size_t)fuzz_u8(&in) + 1;
        FUZZ_CHECK(r.d.im->set_buffer_sizes(r.d.ch, bin, bout) == 0,
                   "set_buffer_sizes(%zu, %zu) failed", bin, bout);
    }
    for (int i = 0; i < MAX_OPS && fuzz_left(&in) > 0; i++) {
        unsigned k = fuzz_u8(&in);
        switch (k % 4) {
        case 0: op_push(&r, &in); break;
        case 1: op_producer(&r, &in, k); break;
        case 2:
            drive_pass(&r.d);
            (void)peer_read(&r, fuzz_u8(&in));
            break;
        default: drive_pass(&r.d); break;
        }
        FUZZ_CHECK(r.closes == 0, "handle_close before close_when_done");
    }
    drain(&r);
    drive_close(&r.d);
    for (int i = 0; i < r.nprods; i++)
        FUZZ_CHECK(r.prods[i].released == 1, "producer %d released %d "
                   "times (P4)", i, r.prods[i].released);
    return 0;
}
