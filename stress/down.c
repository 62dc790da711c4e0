/* down.c: the down stream (peer -> implementation): records of every
 * framing made from the seed, and the oracle's check of what the channel
 * collects and where it finds each terminator. */
#include <stdlib.h>
#include <string.h>

#include "down.h"

static const unsigned char talpha[] = {'a', 'b', '\r', '\n', '\0', '|'};
#define FIXBYTE 0xEE /* never in a terminator */

size_t rec_enc(const rec_t *r)
{
    return r->plen + (r->kind == R_STR ? r->tlen : 0);
}

static void new_terminator(chan_t *c)
{
    rng_t *r = &c->rng;
    unsigned p = (unsigned)below(r, 100);
    size_t len = p < 30 ? 1 : p < 60 ? 2 : p < 90 ? 3 + below(r, 6)
                                                  : 9 + below(r, TERM_MAX - 8);
    /* Two-letter alphabets make self-overlapping terminators ("abab",
     * "\r\r\n"), the hard case for the held-prefix logic. */
    size_t na = chance(r, 50) ? 2 : sizeof talpha;
    size_t base = na == 2 ? 2 * below(r, 2) : 0;
    for (size_t i = 0; i < len; i++)
        c->term[i] = talpha[base + below(r, na)];
    c->tlen = len;
}

static size_t payload_len(rng_t *r, int kind, size_t cap)
{
    unsigned p = (unsigned)below(r, 100);
    size_t n = p < 10 ? 0 : p < 45 ? 1 + below(r, 16)
             : p < 80 ? 17 + below(r, 496) : p < 95 ? 513 + below(r, 7680)
                                                    : 8193 + below(r, 57344);
    if (n > cap)
        n = cap;
    if (n == 0 && kind != R_STR)
        n = 1; /* a count of 0 means none; an empty none record is nothing */
    return n;
}

/* Makes the next record.  A string record's payload is fixed up so that
 * the first occurrence of the terminator in payload+terminator is the one
 * at the end: leftmost matching must then split exactly there. */
rec_t *gen_record(chan_t *c)
{
    rng_t *r = &c->rng;
    int kind;
    if (c->rtail && c->rtail->kind == R_NONE) {
        kind = R_NONE; /* none has no found_terminator: it ends the framing */
    } else {
        unsigned p = (unsigned)below(r, 100);
        kind = p < 55 ? R_STR : p < 94 ? R_CNT : R_NONE;
        if (kind == R_CNT && !(IMPL->caps & ACC_CAP_COUNT))
            kind = R_STR;
    }
    size_t cap = c->in_size < 64 ? 2048 : 65536;
    size_t plen = payload_len(r, kind, cap);
    if (kind == R_STR && (c->tlen == 0 || chance(r, 30)))
        new_terminator(c);
    size_t tlen = kind == R_STR ? c->tlen : 0;
    rec_t *rec = malloc(sizeof(*rec) + plen + tlen);
    if (rec == NULL)
        stress_harness("out of memory");
    rec->next = NULL;
    rec->idx = c->next_rec++;
    rec->kind = kind;
    rec->plen = plen;
    rec->tlen = tlen;
    unsigned char *d = rec->data;
    int texty = kind == R_STR || chance(r, 30);
    for (size_t i = 0; i < plen;) {
        uint64_t v = rnd(r);
        for (int k = 0; k < 8 && i < plen; k++, i++, v >>= 8)
            d[i] = texty && (v & 0x80) ? talpha[(v & 0x7f) % sizeof talpha]
                                       : (unsigned char)(v >> 3);
    }
    if (kind == R_STR) {
        memcpy(d + plen, c->term, tlen);
        size_t from = 0;
        for (;;) {
            unsigned char *m = memmem(d + from, plen + tlen - from, c->term,
                                      tlen);
            size_t i = (size_t)(m - d);
            if (i >= plen)
                break;
            d[i] = FIXBYTE; /* only destroys matches: FIXBYTE is in none */
            from = i + 1;
        }
    }
    if (c->rtail)
        c->rtail->next = rec;
    else
        c->rhead = c->whead = rec;
    c->rtail = rec;
    return rec;
}

int set_framing(chan_t *c, const rec_t *r)
{
    if (r == NULL || r->kind == R_NONE)
        return IMPL->set_none(c->ch);
    if (r->kind == R_CNT)
        return IMPL->set_count(c->ch, r->plen);
    return IMPL->set_terminator(c->ch, r->data + r->plen, r->tlen);
}

static const char *rec_kind(const rec_t *r)
{
    return r->kind == R_STR ? "string" : r->kind == R_CNT ? "count" : "none";
}

/* collect_incoming_data: the bytes must be the next ones of the current
 * record, no further than its end, and no further than the peer sent. */
void down_collect(chan_t *c, const unsigned char *p, size_t n)
{
    while (n > 0) {
        rec_t *r = c->rhead;
        if (r == NULL)
            cfail(c, "collect_incoming_data of %zu bytes, but the peer sent "
                     "nothing on this channel", n);
        if (r->kind == R_NONE && c->roff == r->plen && r->next &&
            r != c->whead) {
            c->rhead = r->next; /* none records just follow each other */
            c->roff = 0;
            free(r);
            continue;
        }
        size_t sent = r == c->whead ? (c->woff < r->plen ? c->woff : r->plen)
                                    : r->plen;
        if (r->kind != R_NONE && c->roff + n > r->plen)
            cfail(c, "record %llu (%s, %zu bytes): collect_incoming_data "
                     "goes %zu bytes past its end (terminator not seen?)",
                  (unsigned long long)r->idx, rec_kind(r), r->plen,
                  c->roff + n - r->plen);
        size_t k = r->plen - c->roff < n ? r->plen - c->roff : n;
        if (c->roff + k > sent)
            cfail(c, "record %llu: %zu bytes collected but the peer has sent "
                     "only %zu of it", (unsigned long long)r->idx,
                  c->roff + k, sent);
        if (memcmp(p, r->data + c->roff, k) != 0) {
            size_t i = 0;
            while (p[i] == r->data[c->roff + i])
                i++;
            cfail(c, "record %llu (%s): payload byte %zu is 0x%02x, expected "
                     "0x%02x (%llu bytes delivered before it)",
                  (unsigned long long)r->idx, rec_kind(r), c->roff + i, p[i],
                  r->data[c->roff + i], (unsigned long long)(c->rpay + i));
        }
        c->roff += k;
        c->rpay += k;
        p += k;
        n -= k;
    }
}

/* found_terminator: the current record must be a framed one that the peer
 * sent and the channel delivered in full. */
void down_found(chan_t *c)
{
    rec_t *r = c->rhead;
    if (r == NULL || r->kind == R_NONE)
        cfail(c, "found_terminator while the terminator is none (record "
                 "%llu)", r ? (unsigned long long)r->idx : 0ULL);
    if (r == c->whead)
        cfail(c, "record %llu (%s): found_terminator before the peer sent "
                 "all of it (%zu of %zu bytes)", (unsigned long long)r->idx,
              rec_kind(r), c->woff, rec_enc(r));
    if (c->roff != r->plen)
        cfail(c, "record %llu (%s, terminator length %zu): found_terminator "
                 "after %zu of its %zu payload bytes",
              (unsigned long long)r->idx, rec_kind(r), r->tlen, c->roff,
              r->plen);
    c->nfound++;
    c->w->records++;
    c->rhead = r->next;
    c->roff = 0;
    free(r);
    /* The next record's framing, set inside found_terminator: it must
     * apply to the very next byte. */
    int rc = set_framing(c, c->rhead);
    if (rc != 0)
        cfail(c, "setting the terminator inside found_terminator: %s",
              errname(rc));
}

int down_idle(const chan_t *c)
{
    const rec_t *r = c->whead;
    return r == NULL || r->kind == R_NONE || c->woff == 0;
}

int down_delivered(const chan_t *c)
{
    return c->rpay == c->wpay && c->nfound == c->wrecs;
}
