/* framer.c: the socket-free framing core (asynchat's handle_read loop).
 * Bytes in, collect/found callbacks out, linear in the input: each step
 * consumes through the next match, and only a partial terminator match
 * (at most len-1 bytes) is ever copied, into the held buffer.  A framer
 * costs what its terminator needs: up to INLINE_TERM bytes live in the
 * struct, longer ones in one block sized for them. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "achat.h"

/* Every usual terminator ("\r\n", "\n", "\r\n\r\n", a boundary line) is
 * at most this long and needs no allocation at all. */
#define INLINE_TERM 16

/* Terminators up to this long are searched by their first byte (find_term)
 * and framed record by record in place (run_short). */
#define SHORT_TERM 16

/* Where the terminator, the held bytes and the scratch space live: the
 * struct's inline array while they fit, else one heap block sized for the
 * terminator in force.  The scratch is where held_step joins the held bytes
 * to the next few data bytes, so it must hold held_cap + tlen - 1. */
typedef struct {
    unsigned char *term, *held, *scratch;
    size_t held_cap, scratch_cap;
    unsigned char *block; /* the heap block, NULL when inline */
} store_t;

struct ac_framer {
    ac_framer_cbs_t cbs;
    void *ud;
    ac_term_kind_t kind;
    size_t tlen;            /* STRING: the terminator's length */
    uint64_t count;         /* COUNT: bytes still to come */
    size_t nheld;           /* proper prefix of term ending the last feed */
    store_t st;
    /* The scratch a running held_step reads from: a terminator set from its
     * callbacks must not free it under it, so a block replaced then is
     * retired and freed when that step ends. */
    const unsigned char *pinned;
    unsigned char *retired;
    size_t scan_nh;         /* held bytes that running held_step started with */
    size_t limit, reclen;   /* input limit and current record length */
    int err;                /* sticky AC_ETOOBIG */
    unsigned gen;           /* bumped by discard: stops a feed */
    unsigned setting;       /* bumped by discard and every terminator set */
    int feeding;
    unsigned char inl[INLINE_TERM * 4]; /* term | held | scratch (x2) */
};

static void store_inline(ac_framer_t *f, store_t *st)
{
    st->term = f->inl;
    st->held = f->inl + INLINE_TERM;
    st->scratch = f->inl + 2 * INLINE_TERM;
    st->held_cap = INLINE_TERM;
    st->scratch_cap = 2 * INLINE_TERM;
    st->block = NULL;
}

int ac_framer_new(ac_framer_t **out, const ac_framer_cbs_t *cbs, void *ud)
{
    if (out == NULL)
        return -EINVAL;
    ac_framer_t *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -ENOMEM;
    store_inline(f, &f->st);
    if (cbs)
        f->cbs = *cbs;
    f->ud = ud;
    *out = f;
    return 0;
}

void ac_framer_free(ac_framer_t *f)
{
    if (f == NULL)
        return;
    free(f->st.block);
    free(f->retired);
    free(f);
}

/* Makes room for a terminator of len bytes, keeping the held bytes (they
 * are framed again under it, T11).  The held buffer must also take back
 * what a running held_step still has in its scratch (scan_nh bytes at
 * most).  On failure nothing changes. */
static int store_fit(ac_framer_t *f, const void *term, size_t len)
{
    size_t held_cap = len - 1;
    if (held_cap < f->nheld)
        held_cap = f->nheld;
    if (held_cap < f->scan_nh)
        held_cap = f->scan_nh;
    store_t st;
    if (len <= INLINE_TERM && held_cap <= INLINE_TERM) {
        store_inline(f, &st);
    } else {
        size_t scratch_cap = held_cap + len - 1;
        unsigned char *b = malloc(len + held_cap + scratch_cap);
        if (b == NULL)
            return -ENOMEM;
        st.term = b;
        st.held = b + len;
        st.scratch = b + len + held_cap;
        st.held_cap = held_cap;
        st.scratch_cap = scratch_cap;
        st.block = b;
    }
    /* term may point into the old storage (ac_framer_terminator's bytes),
     * and inline to inline the regions coincide: move, do not copy. */
    memmove(st.term, term, len);
    if (st.held != f->st.held)
        memcpy(st.held, f->st.held, f->nheld);
    /* A long terminator always gets a fresh block, so the old one (if any)
     * goes, unless a running held_step still reads its scratch. */
    unsigned char *old = f->st.block;
    int in_use = f->pinned != NULL && f->pinned == f->st.scratch;
    f->st = st;
    if (old != NULL) {
        if (in_use)
            f->retired = old; /* freed when that held_step ends */
        else
            free(old);
    }
    return 0;
}

int ac_framer_set_terminator(ac_framer_t *f, const void *term, size_t len)
{
    if (f == NULL || (term == NULL && len > 0) || len > AC_TERMINATOR_MAX)
        return -EINVAL;
    if (len == 0)
        return ac_framer_set_none(f);
    int rc = store_fit(f, term, len);
    if (rc < 0)
        return rc;
    f->tlen = len;
    f->kind = AC_TERM_STRING;
    f->setting++;
    return 0;
}

int ac_framer_set_count(ac_framer_t *f, uint64_t count)
{
    if (f == NULL)
        return -EINVAL;
    if (count == 0)
        return ac_framer_set_none(f);
    f->count = count;
    f->kind = AC_TERM_COUNT;
    f->setting++;
    return 0;
}

int ac_framer_set_none(ac_framer_t *f)
{
    if (f == NULL)
        return -EINVAL;
    f->kind = AC_TERM_NONE;
    f->count = 0;
    f->setting++;
    return 0;
}

ac_term_kind_t ac_framer_terminator(const ac_framer_t *f, const void **bytes,
                                    size_t *len, uint64_t *count)
{
    int s = f && f->kind == AC_TERM_STRING;
    if (bytes)
        *bytes = s ? f->st.term : NULL;
    if (len)
        *len = s ? f->tlen : 0;
    if (count)
        *count = f && f->kind == AC_TERM_COUNT ? f->count : 0;
    return f ? f->kind : AC_TERM_NONE;
}

int ac_framer_set_limit(ac_framer_t *f, size_t max_record)
{
    if (f == NULL)
        return -EINVAL;
    f->limit = max_record;
    return 0;
}

size_t ac_framer_held(const ac_framer_t *f, const void **bytes)
{
    if (bytes)
        *bytes = f ? f->st.held : NULL;
    return f ? f->nheld : 0;
}

void ac_framer_discard(ac_framer_t *f)
{
    if (f == NULL)
        return;
    f->nheld = 0;
    f->reclen = 0;
    f->err = 0;
    f->gen++;
    f->setting++;
}

/* T16: the overflow ends the record; a count left over from it would frame
 * later input as the tail of a record nobody receives, so it becomes none. */
static void overflow_ends_record(ac_framer_t *f)
{
    if (f->kind == AC_TERM_COUNT) {
        f->kind = AC_TERM_NONE;
        f->count = 0;
    }
}

/* Delivers record bytes, refusing any that would pass the input limit. */
static void collect(ac_framer_t *f, const unsigned char *p, size_t n)
{
    if (n == 0 || f->err)
        return;
    /* The limit may have been lowered below the record in progress. */
    if (f->limit && (f->reclen > f->limit || n > f->limit - f->reclen)) {
        f->err = AC_ETOOBIG;
        f->nheld = 0;
        overflow_ends_record(f);
        return;
    }
    f->reclen += n;
    if (f->cbs.collect)
        f->cbs.collect(f->ud, p, n);
}

static void found(ac_framer_t *f)
{
    if (f->err)
        return;
    f->reclen = 0;
    if (f->cbs.found)
        f->cbs.found(f->ud);
}

/* Length of the longest proper prefix of the terminator that ends p[0:n].
 * O(len^2) in the worst case, but only over the last len-1 bytes. */
static size_t prefix_at_end(const ac_framer_t *f, const unsigned char *p,
                            size_t n)
{
    size_t k = f->tlen - 1 < n ? f->tlen - 1 : n;
    for (; k > 0; k--)
        if (memcmp(p + n - k, f->st.term, k) == 0)
            return k;
    return 0;
}

/* One count step: the count reaches 0 (= NONE) before found runs. */
static size_t count_step(ac_framer_t *f, const unsigned char *p, size_t n)
{
    size_t k = f->count < n ? (size_t)f->count : n;
    unsigned gen = f->gen;
    collect(f, p, k);
    if (f->err)
        return k; /* the overflow made the terminator none */
    f->count -= k;
    if (f->count == 0) {
        f->kind = AC_TERM_NONE;
        if (gen == f->gen) /* collect may have closed or discarded (T13) */
            found(f);
    }
    return k;
}

/* Leftmost match of the terminator in p[0:n], or NULL.  memchr jumps to
 * each byte that could start it and the rest is compared in place: glibc's
 * memchr scans at vector speed, while memmem pays a setup per call and then
 * goes byte by byte.  A candidate costs at most tlen compared bytes, so only
 * short terminators (all the usual ones) take this path; longer ones keep
 * memmem, whose two-way search stays linear on any input (T15). */
static const unsigned char *find_term(const ac_framer_t *f,
                                      const unsigned char *p, size_t n)
{
    const unsigned char *t = f->st.term, *end = p + n;
    size_t tlen = f->tlen;
    if (tlen > SHORT_TERM)
        return memmem(p, n, t, tlen);
    while ((p = memchr(p, t[0], (size_t)(end - p))) != NULL) {
        if ((size_t)(end - p) < tlen)
            return NULL; /* a prefix at the end: held, not matched */
        size_t k = 1; /* a few bytes: a plain loop, cheaper than a call */
        while (k < tlen && p[k] == t[k])
            k++;
        if (k == tlen)
            return p;
        p++;
    }
    return NULL;
}

/* No match in p[0:n]: the longest terminator prefix it ends with is held,
 * the rest collected.  Returns n. */
static size_t hold_tail(ac_framer_t *f, const unsigned char *p, size_t n)
{
    size_t k = prefix_at_end(f, p, n);
    unsigned gen = f->gen;
    collect(f, p, n - k);
    if (!f->err && gen == f->gen) { /* collect may have discarded */
        memcpy(f->st.held, p + n - k, k);
        f->nheld = k;
    }
    return n;
}

/* The run below meets a record's end in one of two ways.  memchr is the
 * fastest scan over a long record, but it pays a call and a setup per
 * record, and each search waits for the last one to end.  Where SSE2 is
 * there (every x86-64), short records are found instead in windows of 64
 * bytes taken in turn: one compare gives a bitmask of every byte equal to
 * the terminator's first, and the records are taken from its bits.  No
 * byte is read outside the caller's buffer: the last partial window is
 * left to memchr. */
#if defined(__SSE2__) && defined(__GNUC__)
#include <emmintrin.h>
#define WINDOW 64

/* Bit i set when w[i] == c, for i < 16. */
static inline uint64_t mask16(const unsigned char *w, __m128i c)
{
    __m128i x = _mm_loadu_si128((const __m128i *)w);
    return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, c));
}

/* Bit i set when w[i] == c, for i < 64. */
static inline uint64_t window_mask(const unsigned char *w, __m128i c)
{
    return mask16(w, c) | mask16(w + 16, c) << 16 | mask16(w + 32, c) << 32 |
           mask16(w + 48, c) << 48;
}
#endif

/* Whether the whole terminator t[0:tlen] starts at m, t[0] being known. */
static inline int term_at(const unsigned char *m, const unsigned char *end,
                          const unsigned char *t, size_t tlen)
{
    if ((size_t)(end - m) < tlen)
        return 0;
    size_t k = 1;
    while (k < tlen && m[k] == t[k])
        k++;
    return k == tlen;
}

/* Hands a record that lies whole in the buffer to the callbacks.  It can
 * overflow the limit only through its collect, and err can only be set
 * there, so a record within the limit needs neither reclen nor err.
 * Returns nonzero when the run must end: the callbacks set another
 * terminator (even in the same storage), a count or none for the bytes
 * after the record, or discarded; each of those bumps f->setting.  A
 * terminator set in collect still lets that record's found run: only a
 * discard (or close, T13) ends the record unreported. */
static inline int deliver(ac_framer_t *f, const unsigned char *rec, size_t i,
                          unsigned setting, unsigned gen)
{
    if (i > 0) {
        f->cbs.collect(f->ud, rec, i);
        if (f->setting != setting && f->gen != gen)
            return 1;
    }
    f->reclen = 0;
    f->cbs.found(f->ud);
    return f->setting != setting;
}

static inline int over_limit(const ac_framer_t *f, size_t i)
{
    return f->limit && (f->reclen > f->limit || i > f->limit - f->reclen);
}

/* The common case, a short terminator and records shorter than a read:
 * every record that lies whole in p[0:n] goes to the callbacks in place,
 * as one collect and one found, with none of collect()'s bookkeeping.
 * Ends at a new setting (deliver), before a record over the limit (for
 * step() to report), or at the end of the buffer, holding the tail itself
 * when no match is left: every byte is searched once.  Returns the bytes
 * consumed. */
static size_t run_short(ac_framer_t *f, const unsigned char *p, size_t n)
{
    const unsigned char *q = p, *end = p + n;
    const unsigned setting = f->setting, gen = f->gen;
    const unsigned char *t = f->st.term;
    const size_t tlen = f->tlen;
    const unsigned char *from = p; /* where memchr goes on */
#ifdef WINDOW
    const __m128i c = _mm_set1_epi8((char)t[0]);
    const unsigned char *w = p;
    for (;;) {
        from = NULL;
        for (; end - w >= WINDOW; w += WINDOW) {
            uint64_t mask = window_mask(w, c);
            if (mask == 0 && q <= w) {
                from = w + WINDOW; /* a long record: over to memchr */
                break;
            }
            while (mask != 0) {
                const unsigned char *m = w + __builtin_ctzll(mask);
                mask &= mask - 1;
                if (m < q || !term_at(m, end, t, tlen))
                    continue;
                size_t i = (size_t)(m - q);
                if (over_limit(f, i))
                    return (size_t)(q - p);
                const unsigned char *rec = q;
                q = m + tlen;
                if (deliver(f, rec, i, setting, gen) || q == end)
                    return (size_t)(q - p);
            }
        }
        if (from == NULL)
            from = q > w ? q : w; /* the last partial window */
#endif
        for (;;) {
            const unsigned char *m = from;
            while ((m = memchr(m, t[0], (size_t)(end - m))) != NULL &&
                   !term_at(m, end, t, tlen))
                m++;
            if (m == NULL)
                return (size_t)(q - p) + hold_tail(f, q, (size_t)(end - q));
            size_t i = (size_t)(m - q);
            if (over_limit(f, i))
                return (size_t)(q - p);
            const unsigned char *rec = q;
            q = from = m + tlen;
            if (deliver(f, rec, i, setting, gen) || q == end)
                return (size_t)(q - p);
#ifdef WINDOW
            if (i < WINDOW && end - q >= WINDOW) {
                w = q; /* short records again: back to windows */
                break;
            }
#endif
        }
#ifdef WINDOW
    }
#endif
}

/* One step over p[0:n], which holds everything left of this feed.
 * Returns the bytes it consumed; a partial match at the end is held. */
static size_t step(ac_framer_t *f, const unsigned char *p, size_t n)
{
    if (f->kind == AC_TERM_NONE) {
        collect(f, p, n);
        return n;
    }
    if (f->kind == AC_TERM_COUNT)
        return count_step(f, p, n);
    if (f->tlen <= SHORT_TERM && f->cbs.collect && f->cbs.found) {
        size_t k = run_short(f, p, n);
        if (k > 0)
            return k;
        /* else the first record is over the limit: collect() says so */
    }
    const unsigned char *m = find_term(f, p, n);
    if (m != NULL) {
        /* found may set another terminator: consume the one that matched */
        size_t i = (size_t)(m - p), tlen = f->tlen;
        unsigned gen = f->gen;
        collect(f, p, i);
        if (gen == f->gen) /* collect may have closed or discarded (T13) */
            found(f);
        return i + tlen;
    }
    return hold_tail(f, p, n);
}

/* One step over held + data.  The held bytes are joined with just enough
 * data (len-1 bytes) to see any match that starts inside them; once they
 * are used up the feed goes on over the caller's buffer without copies.
 * Returns how many bytes of data it consumed. */
static size_t held_step(ac_framer_t *f, const unsigned char *p, size_t n)
{
    size_t nh = f->nheld;
    size_t m = f->kind == AC_TERM_STRING ? f->tlen - 1 : 0;
    m = m < n ? m : n;
    unsigned char *s = f->st.scratch;
    memcpy(s, f->st.held, nh);
    memcpy(s + nh, p, m);
    f->nheld = 0;
    /* A terminator set from the callbacks below may move the storage: s
     * stays readable until this step ends, and what is left of the held
     * bytes must fit the new held buffer. */
    f->pinned = s;
    f->scan_nh = nh;
    unsigned gen = f->gen;
    size_t used;
    if (f->kind == AC_TERM_NONE) {
        collect(f, s, nh);
        used = nh;
    } else if (f->kind == AC_TERM_COUNT) {
        used = count_step(f, s, nh);
    } else if (find_term(f, s, nh + m) || m == n) {
        used = step(f, s, nh + m); /* a match, or s is all the input */
    } else {
        collect(f, s, nh); /* no match can start in the held bytes */
        used = nh;
    }
    f->pinned = NULL;
    f->scan_nh = 0;
    size_t consumed;
    if (gen != f->gen || f->err) {
        consumed = n;
    } else if (used < nh) { /* a record ended inside the held bytes */
        memmove(f->st.held, s + used, nh - used);
        f->nheld = nh - used;
        consumed = 0;
    } else {
        consumed = used - nh;
    }
    free(f->retired);
    f->retired = NULL;
    return consumed;
}

int ac_framer_feed(ac_framer_t *f, const void *data, size_t len)
{
    if (f == NULL || (data == NULL && len > 0))
        return -EINVAL;
    if (f->feeding)
        return -EBUSY;
    if (f->err)
        return f->err;
    const unsigned char *p = data;
    unsigned gen = f->gen;
    f->feeding = 1;
    while (len > 0 && gen == f->gen && !f->err) {
        size_t k = f->nheld ? held_step(f, p, len) : step(f, p, len);
        p += k;
        len -= k;
    }
    f->feeding = 0;
    return gen == f->gen ? f->err : 0;
}
