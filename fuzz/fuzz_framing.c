/* fuzz_framing.c: fuzzes the socket-free framing core (ac_framer_*).  The
 * input chooses a terminator program and the read boundaries; every feed's
 * outcome is compared with the naive model of oracle_framing.c, checked
 * against the T-clause invariants, and replayed whole or byte by byte.
 *
 * Input layout (every prefix is valid; missing bytes read as 0):
 *   F            flags: bits 0-2 = number of extra actions, bit 3 = a limit
 *                byte follows, bit 4 = the differential replay is bytewise
 *   [L]          initial input limit L+1 (only with bit 3)
 *   ACTION       act[0], set before the first feed
 *   {T ACTION}   the extra actions, each with its trigger T:
 *                T < 0x80: inside found_terminator number T+1 (T10);
 *                T >= 0x80: before feed number T-0x80, outside found (T11)
 *   C {SIZE}     C read sizes, used in turn until the data runs out
 *                (C = 0: one read; SIZE 0: an empty read)
 *   DATA         the stream
 * ACTION is one byte K, then its arguments:
 *   K < 0x40     string of K bytes (K = 0x3F: 63 + next byte); 0 = none
 *   K < 0x80     count ((K & 0x3F) << 8 | next); K & 0x3F = 0x3F: 2^40 + next
 *   K < 0xC0     none
 *   else K & 7:  0 discard, 1 set the same terminator again, 2 an invalid
 *                set (bit 3: too long, else NULL), 3 set_terminator(NULL, 0),
 *                4 set_limit(next byte), other: none */
#include <errno.h>
#include <string.h>

#include "achat.h"
#include "fuzz_common.h"
#include "oracle_framing.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(FUZZ_ASAN)
#include <sanitizer/asan_interface.h>
#define FUZZ_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define FUZZ_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#elif defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define FUZZ_POISON(p, n) VALGRIND_MAKE_MEM_NOACCESS(p, n)
#define FUZZ_UNPOISON(p, n) VALGRIND_MAKE_MEM_UNDEFINED(p, n)
#endif
#endif
#ifndef FUZZ_POISON
#define FUZZ_POISON(p, n) ((void)(p), (void)(n))
#define FUZZ_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* The framer's outcome, recorded in the oracle's terms. */
typedef struct {
    ac_framer_t *f;
    const prog_t *prog;
    uint8_t *data;        /* every collected byte, in order */
    size_t ndata, cap;    /* cap: room for inlen + 1, kept across inputs */
    size_t inlen;
    size_t *rec_end;      /* ndata at each found_terminator */
    size_t nrec;
    size_t lim_base;      /* ndata where the limit's record began */
    size_t lim_floor;     /* its length when the limit was last set */
    size_t term_bytes;    /* string terminator bytes consumed */
    unsigned nfound, nfeed;
    int in_feed;
    int discarded, overflowed;
} run_t;

static uint8_t too_long[AC_TERMINATOR_MAX + 1];

/* --------------------------------------------------- the real framer -- */

static void same_terminator(ac_framer_t *f, ac_term_kind_t kind,
                            const uint8_t *term, size_t tlen, uint64_t count)
{
    const void *b;
    size_t len;
    uint64_t cnt;
    ac_term_kind_t k = ac_framer_terminator(f, &b, &len, &cnt);
    FUZZ_CHECK(k == kind, "terminator kind %d, expected %d", (int)k,
               (int)kind);
    if (k == AC_TERM_STRING)
        FUZZ_CHECK(len == tlen && memcmp(b, term, len) == 0,
                   "terminator bytes differ (len %zu, expected %zu)", len,
                   tlen);
    if (k == AC_TERM_COUNT)
        FUZZ_CHECK(cnt == count, "count %llu, expected %llu",
                   (unsigned long long)cnt, (unsigned long long)count);
}

/* T3: an invalid set fails at once and leaves the terminator as it was. */
static void invalid_set(ac_framer_t *f, int alt)
{
    const void *b;
    size_t len;
    uint64_t cnt;
    uint8_t copy[AC_TERMINATOR_MAX];
    ac_term_kind_t k = ac_framer_terminator(f, &b, &len, &cnt);
    if (k == AC_TERM_STRING)
        memcpy(copy, b, len);
    int rc = alt ? ac_framer_set_terminator(f, too_long, sizeof(too_long))
                 : ac_framer_set_terminator(f, NULL, 5);
    FUZZ_CHECK(rc == -EINVAL, "invalid terminator accepted (rc %d)", rc);
    same_terminator(f, k, copy, len, cnt);
}

static void run_apply(run_t *r, const prog_action_t *a)
{
    ac_framer_t *f = r->f;
    const void *b;
    size_t len;
    uint64_t cnt;
    int rc = 0;
    switch (a->kind) {
    case PA_STRING:
        rc = ac_framer_set_terminator(f, a->bytes, a->len);
        break;
    case PA_COUNT:
        rc = ac_framer_set_count(f, a->count);
        break;
    case PA_NONE:
        rc = ac_framer_set_none(f);
        break;
    case PA_NULL0:
        rc = ac_framer_set_terminator(f, NULL, 0);
        break;
    case PA_DISCARD:
        ac_framer_discard(f);
        r->discarded = 1;
        r->lim_base = r->ndata;
        r->lim_floor = 0;
        break;
    case PA_RESET:
        /* The bytes come from the framer's own storage: set_terminator
         * must cope with source and destination being the same. */
        switch (ac_framer_terminator(f, &b, &len, &cnt)) {
        case AC_TERM_STRING: rc = ac_framer_set_terminator(f, b, len); break;
        case AC_TERM_COUNT: rc = ac_framer_set_count(f, cnt); break;
        case AC_TERM_NONE: rc = ac_framer_set_none(f); break;
        }
        break;
    case PA_INVALID:
        invalid_set(f, a->alt);
        break;
    case PA_LIMIT:
        rc = ac_framer_set_limit(f, (size_t)a->count);
        r->lim_floor = r->ndata - r->lim_base;
        break;
    }
    FUZZ_CHECK(rc == 0, "setting action %d failed: %d", (int)a->kind, rc);
}

static void on_collect(void *ud, const void *p, size_t len)
{
    run_t *r = ud;
    FUZZ_CHECK(r->in_feed, "collect outside a feed");
    FUZZ_CHECK(len > 0 && p != NULL, "collect of %zu bytes (T4)", len);
    FUZZ_CHECK(r->ndata + len <= r->inlen, "more bytes collected than fed");
    memcpy(r->data + r->ndata, p, len);
    r->ndata += len;
}

static void on_found(void *ud)
{
    run_t *r = ud;
    const void *b;
    size_t len;
    FUZZ_CHECK(r->in_feed, "found outside a feed");
    ac_term_kind_t k = ac_framer_terminator(r->f, &b, &len, NULL);
    /* T8: a count terminator is already none when found runs. */
    FUZZ_CHECK(k != AC_TERM_COUNT, "found_terminator under a count");
    if (k == AC_TERM_STRING)
        r->term_bytes += len;
    FUZZ_CHECK(ac_framer_feed(r->f, "x", 1) == -EBUSY,
               "a feed from inside found was not refused");
    r->rec_end[r->nrec++] = r->ndata;
    r->lim_base = r->ndata;
    r->lim_floor = 0;
    r->nfound++;
    for (int i = 1; i < r->prog->nact; i++) {
        const prog_action_t *a = &r->prog->act[i];
        if (a->when == PT_FOUND && a->at == r->nfound)
            run_apply(r, a);
    }
}

/* Readies r for an input of inlen bytes.  The framer and the buffers live
 * from one input to the next (fresh heap memory per input, under ASan's
 * quarantine, cost more than the framing itself); the framer is reset
 * through the public API to the state ac_framer_new gives. */
static int run_open(run_t *r, const prog_t *prog, size_t inlen)
{
    if (r->f == NULL) {
        ac_framer_cbs_t cbs = {on_collect, on_found};
        if (ac_framer_new(&r->f, &cbs, r) < 0)
            return -1;
    } else {
        ac_framer_discard(r->f);
        FUZZ_CHECK(ac_framer_set_none(r->f) == 0, "set_none");
    }
    if (r->cap < inlen + 1) {
        free(r->data);
        free(r->rec_end);
        r->cap = inlen + 1;
        r->data = malloc(r->cap);
        r->rec_end = malloc(r->cap * sizeof(*r->rec_end));
        if (r->data == NULL || r->rec_end == NULL) {
            r->cap = 0;
            return -1;
        }
    }
    r->prog = prog;
    r->inlen = inlen;
    r->ndata = r->nrec = r->lim_base = r->lim_floor = r->term_bytes = 0;
    r->nfound = r->nfeed = 0;
    r->in_feed = r->discarded = r->overflowed = 0;
    FUZZ_CHECK(ac_framer_set_limit(r->f, prog->limit) == 0, "set_limit");
    run_apply(r, &prog->act[0]);
    return 0;
}

static int run_feed(run_t *r, const uint8_t *p, size_t n)
{
    for (int i = 1; i < r->prog->nact; i++) {
        const prog_action_t *a = &r->prog->act[i];
        if (a->when == PT_FEED && a->at == r->nfeed)
            run_apply(r, a);
    }
    r->nfeed++;
    r->in_feed = 1;
    int rc = ac_framer_feed(r->f, p, n);
    r->in_feed = 0;
    return rc;
}

/* T5, checked on the framer alone after a feed that brought bytes: what is
 * held is a proper prefix of a string terminator, nothing otherwise; and
 * (until bytes were dropped on purpose) every fed byte is accounted for. */
static void check_hold(const run_t *r, size_t fed)
{
    const void *hb, *tb;
    size_t tlen;
    size_t nh = ac_framer_held(r->f, &hb);
    if (nh > 0) {
        FUZZ_CHECK(ac_framer_terminator(r->f, &tb, &tlen, NULL) ==
                       AC_TERM_STRING, "%zu bytes held without a string "
                   "terminator", nh);
        FUZZ_CHECK(nh < tlen && memcmp(hb, tb, nh) == 0,
                   "held %zu bytes that do not begin the %zu-byte terminator",
                   nh, tlen);
    }
    if (!r->discarded && !r->overflowed)
        FUZZ_CHECK(r->ndata + r->term_bytes + nh == fed,
                   "lost or invented bytes: %zu data + %zu terminator + "
                   "%zu held != %zu fed", r->ndata, r->term_bytes, nh, fed);
}

/* ------------------------------------------------------- comparison -- */

static void compare_records(const run_t *r, const oracle_t *o, unsigned feed,
                            size_t *from)
{
    FUZZ_CHECK(r->nrec == o->nrec, "feed %u: %zu records, oracle %zu", feed,
               r->nrec, o->nrec);
    size_t i = *from;
    if (memcmp(r->rec_end + i, o->rec_end + i,
               (r->nrec - i) * sizeof(size_t)) != 0) {
        while (r->rec_end[i] == o->rec_end[i])
            i++;
        FUZZ_FAIL("feed %u: record %zu ends at data byte %zu, oracle %zu",
                  feed, i, r->rec_end[i], o->rec_end[i]);
    }
    *from = r->nrec;
}

/* After every feed without overflow (T5: prompt delivery): as many bytes
 * delivered and records ended as the model says, the same held bytes and
 * the same kind of terminator.  These checks are cheap, so they run on
 * every feed; the contents of the (cumulative) logs, which cannot become
 * right again once wrong, are compared by compare_logs(). */
static void compare_feed(const run_t *r, const oracle_t *o, unsigned feed)
{
    FUZZ_CHECK(r->ndata == o->ndata, "feed %u: %zu bytes collected, oracle "
               "%zu", feed, r->ndata, o->ndata);
    FUZZ_CHECK(r->nrec == o->nrec, "feed %u: %zu records, oracle %zu", feed,
               r->nrec, o->nrec);
    const void *hb;
    const uint8_t *ob;
    size_t nh = ac_framer_held(r->f, &hb), onh = oracle_held(o, &ob);
    FUZZ_CHECK(nh == onh && (nh == 0 || memcmp(hb, ob, nh) == 0),
               "feed %u: %zu bytes held, oracle %zu", feed, nh, onh);
    uint64_t cnt;
    ac_term_kind_t k = ac_framer_terminator(r->f, NULL, NULL, &cnt);
    FUZZ_CHECK((int)k == o->kind && (k != AC_TERM_COUNT || cnt == o->count),
               "feed %u: terminator kind %d count %llu, oracle %d %llu", feed,
               (int)k, (unsigned long long)cnt, o->kind,
               (unsigned long long)o->count);
}

/* The collected bytes and record ends so far, from where the last call
 * stopped, and the terminator's bytes. */
static void compare_logs(const run_t *r, const oracle_t *o, unsigned feed,
                         size_t *checked, size_t *recs)
{
    FUZZ_CHECK(r->ndata == o->ndata, "feed %u: %zu bytes collected, oracle "
               "%zu", feed, r->ndata, o->ndata);
    size_t i = *checked;
    if (memcmp(r->data + i, o->data + i, r->ndata - i) != 0) {
        while (r->data[i] == o->data[i])
            i++;
        FUZZ_FAIL("feed %u: collected byte %zu is 0x%02x, oracle 0x%02x",
                  feed, i, r->data[i], o->data[i]);
    }
    *checked = r->ndata;
    compare_records(r, o, feed, recs);
    same_terminator(r->f, (ac_term_kind_t)o->kind, o->term, o->tlen,
                    o->count);
}

/* T16: an overflow stops framing, reports AC_ETOOBIG, delivers no more
 * than limit bytes of the record (a prefix of it), and sticks. */
static void check_overflow(run_t *r, oracle_t *o, unsigned feed,
                           size_t *recs)
{
    FUZZ_CHECK(o->failed, "feed %u: AC_ETOOBIG, but no record is over the "
               "limit of %zu", feed, o->limit);
    compare_records(r, o, feed, recs);
    FUZZ_CHECK(r->ndata <= o->ndata &&
                   memcmp(r->data, o->data, r->ndata) == 0,
               "feed %u: bytes delivered before the overflow differ", feed);
    /* A limit lowered below the record in progress allows no more bytes
     * of it; the ones delivered before stay delivered. */
    size_t bound = o->limit > r->lim_floor ? o->limit : r->lim_floor;
    FUZZ_CHECK(r->ndata - r->lim_base <= bound,
               "feed %u: %zu bytes of a record delivered, limit %zu (%zu "
               "when it was set)", feed, r->ndata - r->lim_base, o->limit,
               r->lim_floor);
    size_t nd = r->ndata, nr = r->nrec;
    r->in_feed = 1;
    int rc = ac_framer_feed(r->f, "x", 1);
    r->in_feed = 0;
    FUZZ_CHECK(rc == AC_ETOOBIG && r->ndata == nd && r->nrec == nr,
               "feed %u: the overflow did not stick (rc %d)", feed, rc);
    /* Recovery, as a chat does it: drop the partial record and start over
     * with the program's first action.  The terminator left behind by an
     * overflow is unspecified, hence the explicit none first. */
    ac_framer_discard(r->f);
    FUZZ_CHECK(ac_framer_set_none(r->f) == 0, "set_none");
    r->ndata = r->nrec ? r->rec_end[r->nrec - 1] : 0;
    r->lim_base = r->ndata;
    r->lim_floor = 0;
    r->overflowed = 1;
    run_apply(r, &r->prog->act[0]);
    oracle_recover(o);
}

/* ---------------------------------------------------------- drivers -- */

/* Run A: the fuzzer's read boundaries, in lockstep with the oracle.  Each
 * read is copied to the end of a heap block, so reading past the read (not
 * only past the input) is an ASan report, and the block's bytes before the
 * read are made inaccessible while the framer has it (ASan, to whole 8-byte
 * granules; valgrind), so reading before it is one too.  The block lives
 * from one input to the next, as the framer does: a fresh one per input
 * cost a malloc, a free and, through ASan's quarantine, new pages. */
static void run_chunked(run_t *r, oracle_t *o, const uint8_t *sizes,
                        size_t nsizes, const uint8_t *d, size_t n)
{
    static uint8_t *block;
    static size_t cap;
    size_t off = 0, checked = 0, recs = 0, cycle_start = 0;
    unsigned i = 0;
    if (cap < n + 1) {
        free(block);
        cap = n + 1;
        block = malloc(cap);
        FUZZ_CHECK(block != NULL, "out of memory");
    }
    do {
        size_t k = n - off;
        if (nsizes > 0 && sizes[i % nsizes] < k)
            k = sizes[i % nsizes];
        if (nsizes > 0 && i % nsizes == 0) {
            if (i > 0 && off == cycle_start)
                k = n - off; /* a cycle of empty reads: finish at once */
            cycle_start = off;
        }
        if (i >= n + 32)
            k = n - off; /* bound the work: a few empty reads are enough */
        uint8_t *p = block + (cap - k);
        size_t guard = (cap - k) & ~(size_t)7;
        memcpy(p, d + off, k);
        FUZZ_POISON(block, guard);
        int rc = run_feed(r, p, k);
        FUZZ_UNPOISON(block, guard);
        int orc = oracle_feed(o, k);
        off += k;
        if (rc == AC_ETOOBIG) {
            FUZZ_CHECK(orc == ORACLE_TOOBIG, "feed %u: AC_ETOOBIG, oracle "
                       "none", i);
            check_overflow(r, o, i, &recs);
            if (checked > r->ndata)
                checked = r->ndata;
            compare_logs(r, o, i, &checked, &recs);
        } else {
            FUZZ_CHECK(rc == 0, "feed %u returned %d", i, rc);
            FUZZ_CHECK(orc == 0, "feed %u: no overflow reported, oracle "
                       "expected AC_ETOOBIG (limit %zu)", i, o->limit);
            if (k > 0)
                check_hold(r, off);
        }
        compare_feed(r, o, i);
        i++;
    } while (off < n);
    compare_logs(r, o, i - 1, &checked, &recs);
}

/* Run B (self-differential, T6): the same data in one read, or one byte
 * per read; with changes only inside found, the records, the pending
 * bytes, the held bytes and the terminator must all come out the same. */
static void run_differential(const run_t *a, const prog_t *prog,
                             const uint8_t *d, size_t n, int bytewise)
{
    static run_t b;
    FUZZ_CHECK(run_open(&b, prog, n) == 0, "out of memory");
    size_t step = bytewise ? 1 : (n ? n : 1);
    for (size_t off = 0; off < n; off += step) {
        size_t k = n - off < step ? n - off : step;
        FUZZ_CHECK(run_feed(&b, d + off, k) == 0, "differential feed");
        check_hold(&b, off + k);
    }
    FUZZ_CHECK(b.ndata == a->ndata && memcmp(b.data, a->data, b.ndata) == 0,
               "%s replay collected %zu bytes, chunked %zu (or they differ)",
               bytewise ? "bytewise" : "one-shot", b.ndata, a->ndata);
    FUZZ_CHECK(b.nrec == a->nrec &&
                   memcmp(b.rec_end, a->rec_end, b.nrec * sizeof(size_t)) == 0,
               "%s replay: %zu records, chunked %zu (or they differ)",
               bytewise ? "bytewise" : "one-shot", b.nrec, a->nrec);
    const void *ha, *hb, *ta;
    size_t nha = ac_framer_held(a->f, &ha), nhb = ac_framer_held(b.f, &hb);
    FUZZ_CHECK(nha == nhb && memcmp(ha, hb, nha) == 0,
               "held bytes depend on the read boundaries");
    size_t tlen;
    uint64_t cnt;
    ac_term_kind_t k = ac_framer_terminator(a->f, &ta, &tlen, &cnt);
    same_terminator(b.f, k, ta, tlen, cnt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size, 0};
    prog_t prog;
    int bytewise;
    prog_decode(&in, &prog, &bytewise);
    size_t nsizes;
    const uint8_t *sizes = fuzz_bytes(&in, fuzz_u8(&in), &nsizes);
    size_t n;
    const uint8_t *d = fuzz_bytes(&in, fuzz_left(&in), &n);

    static oracle_t o;
    static run_t a;
    FUZZ_CHECK(oracle_init(&o, &prog, d, n) == 0, "out of memory");
    FUZZ_CHECK(run_open(&a, &prog, n) == 0, "out of memory");
    run_chunked(&a, &o, sizes, nsizes, d, n);

    int between = 0;
    for (int i = 1; i < prog.nact; i++)
        between |= prog.act[i].when == PT_FEED;
    if (!between && !a.discarded && !a.overflowed)
        run_differential(&a, &prog, d, n, bytewise);
    return 0;
}
