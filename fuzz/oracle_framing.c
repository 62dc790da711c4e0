/* oracle_framing.c: a slow, obviously correct model of terminator framing
 * (docs/spec.md T1-T16), the oracle of fuzz_framing.c.  It keeps the whole
 * input and, at every step, searches it afresh from the first unconsumed
 * byte; nothing is incremental, so there is nothing to get subtly wrong. */
#include <stdlib.h>
#include <string.h>

#include "oracle_framing.h"

enum { K_NONE, K_STRING, K_COUNT };

static void apply(oracle_t *o, const prog_action_t *a);

int oracle_init(oracle_t *o, const prog_t *prog, const uint8_t *in,
                size_t inlen)
{
    uint8_t *data = o->data;
    size_t *rec_end = o->rec_end, cap = o->cap;
    /* Every delivered byte comes from the input, and every record needs at
     * least one input byte; the buffers are kept from one input to the
     * next, because fresh memory per input costs more than the framing. */
    if (cap < inlen + 1) {
        free(data);
        free(rec_end);
        cap = inlen + 1;
        data = malloc(cap);
        rec_end = malloc(cap * sizeof(*rec_end));
        if (data == NULL || rec_end == NULL) {
            free(data);
            free(rec_end);
            memset(o, 0, sizeof(*o));
            return -1;
        }
    }
    memset(o, 0, sizeof(*o));
    o->data = data;
    o->rec_end = rec_end;
    o->cap = cap;
    o->in = in;
    o->inlen = inlen;
    o->prog = prog;
    o->limit = prog->limit;
    apply(o, &prog->act[0]);
    o->stop = 0;
    return 0;
}

void oracle_free(oracle_t *o)
{
    free(o->data);
    free(o->rec_end);
    o->data = NULL;
    o->rec_end = NULL;
    o->cap = 0;
}

size_t oracle_held(const oracle_t *o, const uint8_t **bytes)
{
    *bytes = o->in + o->pos;
    return o->fed - o->pos;
}

/* Byte-by-byte equality.  Not memcmp: the sanitizers intercept every
 * memcmp call, and the naive searches below make very many short ones. */
static int same(const uint8_t *a, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

/* T4: the leftmost occurrence of t in p[0:n], by trying every offset. */
static int search(const uint8_t *p, size_t n, const uint8_t *t, size_t tlen,
                  size_t *at)
{
    for (size_t i = 0; i + tlen <= n; i++) {
        if (same(p + i, t, tlen)) {
            *at = i;
            return 1;
        }
    }
    return 0;
}

/* T5: the longest suffix of p[0:n] that is a proper prefix of t. */
static size_t hold_back(const uint8_t *p, size_t n, const uint8_t *t,
                        size_t tlen)
{
    for (size_t k = tlen - 1; k > 0; k--)
        if (k <= n && same(p + n - k, t, k))
            return k;
    return 0;
}

static void set_none(oracle_t *o)
{
    o->kind = K_NONE;
    o->count = 0;
}

static void apply(oracle_t *o, const prog_action_t *a)
{
    switch (a->kind) {
    case PA_STRING:
        if (a->len == 0) {
            set_none(o);
        } else {
            o->kind = K_STRING;
            o->term = a->bytes;
            o->tlen = a->len;
        }
        break;
    case PA_COUNT:
        if (a->count == 0) {
            set_none(o);
        } else {
            o->kind = K_COUNT;
            o->count = a->count;
        }
        break;
    case PA_NONE:
    case PA_NULL0:
        set_none(o);
        break;
    case PA_DISCARD:
        /* T14: the rest of this feed and the held bytes are dropped, the
         * record length for the limit starts again, the terminator stays. */
        o->pos = o->fed;
        o->reclen = 0;
        o->failed = 0;
        o->stop = 1;
        o->discarded = 1;
        break;
    case PA_RESET:  /* the same terminator again: nothing changes */
    case PA_INVALID: /* T3: refused, nothing changes */
        break;
    case PA_LIMIT:
        o->limit = (size_t)a->count;
        break;
    }
}

/* collect_incoming_data(in[pos:pos+n]).  T16: a record longer than the
 * limit stops the framing; the model still logs the whole record so the
 * harness can check the framer delivered no more than a prefix of it. */
static void deliver(oracle_t *o, size_t n)
{
    if (n == 0)
        return; /* T4: never a collect of zero bytes */
    if (o->limit && o->reclen + n > o->limit)
        o->failed = 1;
    memcpy(o->data + o->ndata, o->in + o->pos, n);
    o->ndata += n;
    o->pos += n;
    o->reclen += n;
}

static void found(oracle_t *o)
{
    o->reclen = 0;
    o->rec_end[o->nrec++] = o->ndata;
    o->nfound++;
    for (int i = 1; i < o->prog->nact; i++) {
        const prog_action_t *a = &o->prog->act[i];
        if (a->when == PT_FOUND && a->at == o->nfound)
            apply(o, a); /* T10: applies at once to the rest of the input */
    }
}

/* Frames in[pos:fed) until it needs more input. */
static void frame(oracle_t *o)
{
    while (!o->stop && !o->failed) {
        size_t avail = o->fed - o->pos, at;
        if (o->kind == K_NONE) {
            deliver(o, avail);
            return;
        }
        if (o->kind == K_COUNT) {
            if (avail == 0)
                return;
            size_t k = o->count < avail ? (size_t)o->count : avail;
            deliver(o, k);
            if (o->failed)
                return;
            o->count -= k; /* T8: what is left is visible between feeds */
            if (o->count == 0) {
                set_none(o); /* T8/T9: none before found_terminator runs */
                found(o);
            }
            continue;
        }
        if (search(o->in + o->pos, avail, o->term, o->tlen, &at)) {
            deliver(o, at);
            if (o->failed)
                return;
            o->pos += o->tlen; /* consumed, never delivered */
            found(o);
            continue;
        }
        deliver(o, avail - hold_back(o->in + o->pos, avail, o->term,
                                     o->tlen));
        return;
    }
}

int oracle_feed(oracle_t *o, size_t n)
{
    /* T11: a change between feeds; held bytes are framed again under it
     * when (and only when) the next bytes arrive. */
    for (int i = 1; i < o->prog->nact; i++) {
        const prog_action_t *a = &o->prog->act[i];
        if (a->when == PT_FEED && a->at == o->nfeed)
            apply(o, a);
    }
    o->nfeed++;
    o->stop = 0;
    if (n == 0)
        return 0; /* an empty feed frames nothing, held bytes stay */
    o->fed += n;
    frame(o);
    return o->failed ? ORACLE_TOOBIG : 0;
}

void oracle_recover(oracle_t *o)
{
    o->ndata = o->nrec ? o->rec_end[o->nrec - 1] : 0;
    o->pos = o->fed;
    o->reclen = 0;
    o->failed = 0;
    set_none(o); /* the terminator after an overflow is unspecified */
    apply(o, &o->prog->act[0]);
    o->stop = 0;
}

/* ------------------------------------------------------ the decoder -- */

/* The program of an input, as the header comment of fuzz_framing.c lays
 * it out; shared by every framing harness, so one corpus serves them. */
static void decode_action(fuzz_in_t *in, prog_action_t *a)
{
    uint8_t k = fuzz_u8(in);
    memset(a, 0, sizeof(*a));
    if (k < 0x40) {
        size_t len = k == 0x3F ? 63u + fuzz_u8(in) : k;
        a->kind = PA_STRING;
        a->bytes = fuzz_bytes(in, len, &a->len);
    } else if (k < 0x80) {
        unsigned hi = k & 0x3F;
        uint8_t lo = fuzz_u8(in);
        a->kind = PA_COUNT;
        a->count = hi == 0x3F ? ((uint64_t)1 << 40) + lo
                              : ((uint64_t)hi << 8 | lo);
    } else if (k < 0xC0) {
        a->kind = PA_NONE;
    } else {
        static const pa_kind_t sub[8] = {PA_DISCARD, PA_RESET, PA_INVALID,
                                         PA_NULL0, PA_LIMIT, PA_NONE,
                                         PA_NONE, PA_NONE};
        a->kind = sub[k & 7];
        a->alt = (k >> 3) & 1;
        if (a->kind == PA_LIMIT)
            a->count = fuzz_u8(in);
    }
}

void prog_decode(fuzz_in_t *in, prog_t *prog, int *bytewise)
{
    uint8_t flags = fuzz_u8(in);
    memset(prog, 0, sizeof(*prog));
    *bytewise = (flags >> 4) & 1;
    if (flags & 8)
        prog->limit = (size_t)fuzz_u8(in) + 1;
    prog->nact = 1 + (flags & 7);
    decode_action(in, &prog->act[0]);
    for (int i = 1; i < prog->nact; i++) {
        uint8_t t = fuzz_u8(in);
        decode_action(in, &prog->act[i]);
        prog->act[i].when = t < 0x80 ? PT_FOUND : PT_FEED;
        prog->act[i].at = t < 0x80 ? t + 1u : t - 0x80u;
    }
}
