/* fuzz_impl_framing.c: fuzzes any implementation's terminator parsing
 * through its conformance adapter (built with IMPL=, as the conformance
 * runner is; an agent through the agent client).  It decodes the same
 * inputs as fuzz_framing.c, keeps the parts a chat channel offers (string,
 * count and no terminator, changed inside found_terminator or between
 * reads), writes each read's bytes from the peer of a socketpair, runs the
 * loop until the implementation has read them, and compares the record
 * stream and pending bytes with the naive model of oracle_framing.c. */
#include <string.h>

#include "fuzz_common.h"
#include "impl_drive.h"
#include "oracle_framing.h"

/* T3 lets an implementation refuse string terminators over 255 bytes. */
#define PORTABLE_TERM_MAX 255

typedef struct {
    drive_t d;
    const prog_t *prog;
    uint8_t *data;       /* every collected byte, in order */
    size_t ndata, cap;
    size_t *rec_end;     /* ndata at each found_terminator */
    size_t nrec;
    unsigned nfound;
    int closed, in_send;
} run_t;

/* What a chat channel cannot be asked through the adapter (a discard
 * inside found stops a read the socket may have split; a limit is a
 * capability; the rest are framing-core calls) becomes "no terminator",
 * for the oracle and the implementation alike. */
static void portable(prog_t *p)
{
    p->limit = 0;
    for (int i = 0; i < p->nact; i++) {
        prog_action_t *a = &p->act[i];
        if (a->kind == PA_STRING && a->len > PORTABLE_TERM_MAX)
            a->len = PORTABLE_TERM_MAX;
        if (a->kind != PA_STRING && a->kind != PA_COUNT &&
            a->kind != PA_NONE && a->kind != PA_NULL0)
            a->kind = PA_NONE;
    }
}

static void apply(run_t *r, const prog_action_t *a)
{
    const acc_impl_t *im = r->d.im;
    int rc;
    switch (a->kind) {
    case PA_STRING: rc = im->set_terminator(r->d.ch, a->bytes, a->len); break;
    case PA_COUNT:  rc = im->set_count(r->d.ch, a->count); break;
    case PA_NULL0:  rc = im->set_terminator(r->d.ch, "", 0); break;
    default:        rc = im->set_none(r->d.ch); break;
    }
    FUZZ_CHECK(rc == 0, "setting a terminator (kind %d, %zu bytes, count "
               "%llu) failed: %d", (int)a->kind, a->len,
               (unsigned long long)a->count, rc);
}

static void on_collect(void *ctx, const void *p, size_t len)
{
    run_t *r = ctx;
    FUZZ_CHECK(!r->closed, "collect_incoming_data after handle_close");
    FUZZ_CHECK(r->ndata + len <= r->cap, "more bytes collected (%zu) than "
               "the peer sent (%zu)", r->ndata + len, r->cap);
    memcpy(r->data + r->ndata, p, len);
    r->ndata += len;
}

static void on_found(void *ctx)
{
    run_t *r = ctx;
    FUZZ_CHECK(!r->closed, "found_terminator after handle_close");
    FUZZ_CHECK(r->nrec < r->cap, "more records than bytes sent");
    r->rec_end[r->nrec++] = r->ndata;
    r->nfound++;
    for (int i = 1; i < r->prog->nact; i++) {
        const prog_action_t *a = &r->prog->act[i];
        if (a->when == PT_FOUND && a->at == r->nfound)
            apply(r, a); /* T10: takes effect from the next byte */
    }
}

static void on_close(void *ctx)
{
    run_t *r = ctx;
    FUZZ_CHECK(r->in_send == 0, "handle_close while the peer was still "
               "open and sending");
    r->closed = 1;
}

static void on_error(void *ctx, int err)
{
    (void)ctx;
    FUZZ_FAIL("handle_error(%d): no limit is set and the peer is open", err);
}

static const acc_events_t events = {
    .collect = on_collect, .found = on_found, .close = on_close,
    .error = on_error};

static void compare(const run_t *r, const oracle_t *o, unsigned feed)
{
    FUZZ_CHECK(r->ndata == o->ndata, "read %u: %zu bytes collected, model "
               "%zu (T5)", feed, r->ndata, o->ndata);
    size_t i = 0;
    if (memcmp(r->data, o->data, r->ndata) != 0) {
        while (r->data[i] == o->data[i])
            i++;
        FUZZ_FAIL("read %u: collected byte %zu is 0x%02x, model 0x%02x",
                  feed, i, r->data[i], o->data[i]);
    }
    FUZZ_CHECK(r->nrec == o->nrec, "read %u: %zu records, model %zu", feed,
               r->nrec, o->nrec);
    for (i = 0; i < r->nrec; i++)
        FUZZ_CHECK(r->rec_end[i] == o->rec_end[i], "read %u: record %zu "
                   "ends at byte %zu, model %zu", feed, i, r->rec_end[i],
                   o->rec_end[i]);
}

static int run_open(run_t *r, const prog_t *prog, size_t n)
{
    int err = 0;
    if (r->cap < n + 1) {
        free(r->data);
        free(r->rec_end);
        r->cap = n + 1;
        r->data = malloc(r->cap);
        r->rec_end = malloc(r->cap * sizeof(*r->rec_end));
        FUZZ_CHECK(r->data && r->rec_end, "out of memory");
    }
    r->prog = prog;
    r->ndata = r->nrec = r->nfound = 0;
    r->closed = r->in_send = 0;
    if (drive_open(&r->d, &events, r, &err) < 0)
        FUZZ_FAIL("chat_adopt on a socketpair failed: %d", err);
    apply(r, &prog->act[0]);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size, 0};
    prog_t prog;
    int bytewise;
    prog_decode(&in, &prog, &bytewise);
    portable(&prog);
    size_t nsizes;
    const uint8_t *sizes = fuzz_bytes(&in, fuzz_u8(&in), &nsizes);
    size_t n;
    const uint8_t *d = fuzz_bytes(&in, fuzz_left(&in), &n);

    static oracle_t o;
    static run_t r;
    FUZZ_CHECK(oracle_init(&o, &prog, d, n) == 0, "out of memory");
    run_open(&r, &prog, n);
    size_t off = 0;
    unsigned i = 0;
    do {
        size_t k = n - off;
        if (nsizes > 0 && sizes[i % nsizes] < k)
            k = sizes[i % nsizes];
        if (i >= 64)
            k = n - off; /* bound the passes: the rest in one read */
        /* T11: a change between reads, before the read's bytes arrive. */
        for (int j = 1; j < prog.nact; j++)
            if (prog.act[j].when == PT_FEED && prog.act[j].at == i)
                apply(&r, &prog.act[j]);
        FUZZ_CHECK(oracle_feed(&o, k) == 0, "the model overflowed with no "
                   "limit set");
        if (k > 0) {
            r.in_send = 1;
            drive_send(&r.d, d + off, k);
            r.in_send = 0;
        }
        FUZZ_CHECK(!r.closed, "read %u: handle_close with the peer open", i);
        compare(&r, &o, i);
        off += k;
        i++;
    } while (off < n);
    drive_close(&r.d);
    return 0;
}
