/* up.c: the up stream (implementation -> peer): self-describing records
 * (magic, source, sequence, length, check, payload from a hash) made on the
 * pushing side and checked byte by byte on the peer's. */
#include <string.h>

#include "up.h"

static void le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16), p[3] = (unsigned char)(v >> 24);
}

static uint32_t rd32(const unsigned char *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t up_key(uint64_t uid, int src, uint32_t seq)
{
    return mix64(mix64(uid ^ ((uint64_t)src << 63)) + seq);
}

static uint32_t up_check(uint64_t key, uint32_t len)
{
    return (uint32_t)mix64(key ^ ((uint64_t)len << 32));
}

static unsigned char up_byte(uint64_t key, uint32_t j)
{
    return (unsigned char)(mix64(key + 0x100000000ULL + (j >> 3)) >>
                           ((j & 7) * 8));
}

size_t up_rest(const upgen_t *g)
{
    return g->in_rec ? UP_HDR + g->len - g->pos : 0;
}

/* Emits the next n bytes of the stream, starting records of random length
 * (at most maxrec) as needed. */
void up_fill(upgen_t *g, rng_t *r, unsigned char *out, size_t n,
                    size_t maxrec)
{
    for (size_t k = 0; k < n;) {
        if (!g->in_rec) {
            g->in_rec = 1;
            g->pos = 0;
            g->len = chance(r, 10) ? 0 : (uint32_t)skewed(r, maxrec);
            g->key = up_key(g->uid, g->src, g->seq);
            g->hdr[0] = 0xC3, g->hdr[1] = 0x5A;
            g->hdr[2] = (unsigned char)g->src, g->hdr[3] = 0;
            le32(g->hdr + 4, g->seq);
            le32(g->hdr + 8, g->len);
            le32(g->hdr + 12, up_check(g->key, g->len));
        }
        if (g->pos < UP_HDR) {
            out[k++] = g->hdr[g->pos++];
        } else {
            uint32_t j = (uint32_t)(g->pos - UP_HDR);
            uint64_t v = mix64(g->key + 0x100000000ULL + (j >> 3)) >>
                         ((j & 7) * 8);
            for (; k < n && j < g->len; j++, g->pos++) {
                if ((j & 7) == 0)
                    v = mix64(g->key + 0x100000000ULL + (j >> 3));
                out[k++] = (unsigned char)v;
                v >>= 8;
            }
        }
        if (g->pos == UP_HDR + g->len) {
            g->in_rec = 0;
            g->seq++;
        }
    }
}

/* Emits nrec whole records of at most 64 payload bytes: a canary's pushes
 * never split a record, so two pushers' records interleave whole. */
size_t up_records(upgen_t *g, rng_t *r, unsigned char *out, int nrec)
{
    size_t n = 0;
    for (; nrec > 0; nrec--) {
        up_fill(g, r, out + n, UP_HDR, 64);
        n += UP_HDR;
        size_t rest = up_rest(g);
        up_fill(g, r, out + n, rest, 64);
        n += rest;
    }
    return n;
}

static int up_at_boundary(const upparse_t *u)
{
    return !u->in_payload && u->hn == 0;
}

void up_parse(chan_t *c, const unsigned char *p, size_t n)
{
    upparse_t *u = &c->par;
    for (size_t i = 0; i < n;) {
        if (!u->in_payload) {
            size_t k = UP_HDR - u->hn < n - i ? UP_HDR - u->hn : n - i;
            memcpy(u->hdr + u->hn, p + i, k);
            u->hn += k;
            i += k;
            if (u->hn < UP_HDR)
                break;
            const unsigned char *h = u->hdr;
            uint64_t at = u->rx + i - UP_HDR;
            int src = h[2];
            if (h[0] != 0xC3 || h[1] != 0x5A || h[3] != 0 || src > 1 ||
                (src == 1 && !c->victim))
                cfail(c, "up stream: no record header at byte %llu (bytes "
                         "lost, duplicated or reordered)",
                      (unsigned long long)at);
            uint32_t seq = rd32(h + 4), len = rd32(h + 8);
            uint64_t key = up_key(c->uid, src, seq);
            if (len > UP_MAX_REC || rd32(h + 12) != up_check(key, len))
                cfail(c, "up stream: corrupt record header at byte %llu",
                      (unsigned long long)at);
            if (seq != u->expect[src])
                cfail(c, "up stream: record %u from %s where %u was due (%s)",
                      seq, src ? "the cross pusher" : "the owner",
                      u->expect[src],
                      seq < u->expect[src] ? "duplicated" : "records lost");
            u->expect[src]++;
            u->src = src, u->seq = seq, u->len = len, u->key = key, u->j = 0;
            u->hn = 0;
            u->in_payload = len > 0;
        } else {
            for (; i < n && u->j < u->len; i++, u->j++) {
                unsigned char want = up_byte(u->key, u->j);
                if (p[i] != want)
                    cfail(c, "up stream: record %u (%s) payload byte %u is "
                             "0x%02x, expected 0x%02x", u->seq,
                          u->src ? "cross pusher" : "owner", u->j, p[i],
                          want);
            }
            if (u->j == u->len)
                u->in_payload = 0;
        }
    }
    u->rx += n;
    if (c->victim)
        atomic_store_explicit(&c->w->victim_rx1, u->expect[1],
                              memory_order_relaxed);
}

int up_complete(const chan_t *c)
{
    if (!up_at_boundary(&c->par))
        return 0;
    if (c->victim)
        return c->par.expect[0] == c->gen.seq &&
               c->par.expect[1] == c->x_expected;
    return c->par.rx == c->up_pushed;
}
