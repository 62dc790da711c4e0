/* worker.c: one stress thread.  It owns a map and runs its loop, keeps C
 * slots each holding a channel pair (the implementation's side through the
 * suite's adapter, the peer side a raw non-blocking fd driven by this same
 * thread), makes random traffic from the seed, and is the integrity oracle:
 * it knows every record it sent and checks every byte and every callback. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "annot.h"
#include "run.h"
#include "worker.h"

#define CHAN_MAGIC 0x5354524Du /* live channel context */
#define DEAD_MAGIC 0x44454144u /* reaped, kept in quarantine */
#define QUAR 256               /* reaped contexts kept to catch late events */
#define BUFSZ (128 * 1024)
#define UP_HDR 16
#define UP_MAX_REC 16384       /* longest up-stream record payload */
#define UP_WINDOW (256 * 1024) /* pushed but not yet received by the peer */
#define TERM_MAX 64
#define MAX_WAIT_ACCEPT 8      /* pending connects to the implementation */

/* ------------------------------------------------------------ random -- */

typedef struct {
    uint64_t s;
} rng_t;

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rnd(rng_t *r) { return mix64(r->s += 0x9e3779b97f4a7c15ULL); }
static uint64_t below(rng_t *r, uint64_t n) { return n ? rnd(r) % n : 0; }
static int chance(rng_t *r, unsigned pct) { return below(r, 100) < pct; }

/* 1..max, mostly small: most bugs live at small sizes and boundaries, but
 * large transfers must happen too. */
static size_t skewed(rng_t *r, size_t max)
{
    unsigned p = (unsigned)below(r, 100);
    size_t lim = p < 40 ? 16 : p < 75 ? 512 : p < 93 ? 8192 : max;
    if (lim > max)
        lim = max;
    return 1 + (size_t)below(r, lim);
}

/* ------------------------------------------------------------- types -- */

/* Down stream (peer -> implementation): records, each framed by the
 * terminator the receiver sets in found_terminator for it. */
enum { R_STR, R_CNT, R_NONE };

typedef struct rec {
    struct rec *next;
    uint64_t idx;
    int kind;
    size_t plen, tlen;
    unsigned char data[]; /* payload, then the terminator (R_STR) */
} rec_t;

/* Up stream (implementation -> peer): self-describing records (magic,
 * source, sequence, length, check, payload from a hash), so lost,
 * duplicated or corrupted bytes are seen wherever the pushes split them. */
typedef struct upgen {
    uint64_t uid;
    int src;        /* 0 the owner thread, 1 the cross pusher (canary) */
    uint32_t seq;   /* records completed */
    uint32_t len;   /* payload length of the current record */
    size_t pos;     /* bytes of it emitted so far */
    int in_rec;
    uint64_t key;
    unsigned char hdr[UP_HDR];
} upgen_t;

typedef struct upparse {
    unsigned char hdr[UP_HDR];
    size_t hn;
    int in_payload;
    int src;
    uint32_t seq, len, j;
    uint64_t key;
    uint32_t expect[2]; /* next sequence per source */
    uint64_t rx;
} upparse_t;

/* A producer the driver pushed: its chunks live here until released. */
typedef struct prod {
    struct prod *next;
    struct chan *c;
    int released;
    const void *chunks[8];
    size_t lens[8];
    unsigned char data[];
} prod_t;

enum ending {
    E_NONE,
    E_PEER_EOF,   /* exact: drained, then the peer shuts down writing */
    E_CWD,        /* exact: drained, then close_when_done */
    E_PEER_FIN,   /* exact: drained, then the peer closes (hangup, CQ3) */
    E_DRV_CLOSE,  /* the driver closes the channel (no handle_close) */
    E_DRV_FREE,   /* the driver frees it, sometimes inside a callback */
    E_PEER_RESET, /* the peer resets (SO_LINGER 0) at a random point */
    E_PEER_CLOSE, /* the peer closes at a random point */
    E_VICTIM      /* cross-push canary: lives until the run stops */
};
static const char *const ending_name[] = {
    "open", "peer-eof", "close-when-done", "peer-fin", "driver-close",
    "driver-free",
    "peer-reset", "peer-close", "victim"};

enum { KIND_LISTENER = 64 };

typedef struct chan {
    uint32_t magic;
    worker_t *w;
    uint64_t uid;
    int kind;
    int victim;
    rng_t rng;
    void *ch;          /* implementation handle, NULL once freed */
    int impl_open;     /* no handle_close seen, not closed by the driver */
    int pfd;           /* peer fd, -1 once closed */
    int conn_fd;       /* KIND_TCP: the connecting socket until paired */
    int peer_wr, peer_rd;
    int waiting;       /* TCP kinds: the two ends are not paired yet */
    int impl_gets_accepted;
    uint16_t lport;    /* the port that pairs the two ends */
    int connected_cb;
    /* down */
    rec_t *rhead, *whead, *rtail;
    size_t roff, woff;
    uint64_t next_rec;
    uint64_t wpay, rpay, wrecs, nfound, down_written, down_budget;
    int down_stop;
    unsigned char term[TERM_MAX];
    size_t tlen;
    /* up */
    upgen_t gen;
    upparse_t par;
    uint64_t up_pushed, up_budget;
    uint32_t x_expected; /* victim: records the cross pusher pushed */
    int up_stop;
    prod_t *prods;
    int prod_out;
    /* ending */
    int plan, ending, step;
    uint64_t abrupt_at;
    int close_allowed, expect_close, closes, exact_down, exact_up;
    int free_in_cb;
    double deadline;
    size_t in_size, out_size;
} chan_t;

struct worker {
    int idx;
    rng_t rng;
    void *map;
    chan_t **slot;
    int nslot;
    int raw_lfd;
    struct sockaddr_in raw_addr;
    void *ilisten;
    chan_t *lctx;
    struct sockaddr_in ilisten_addr;
    unsigned char *buf;
    uint64_t ops, bytes, opened, records, strays, fallbacks, uidseq;
    uint64_t picked;     /* channels whose kind was drawn (could be TCP) */
    uint64_t tcp_tries;  /* of them, TCP kinds (tcp, connect, accept) */
    int alive, wait_accept;
    chan_t *quar[QUAR];
    int qpos;
    double now;
    int stopping, activity;
    int reuse_fd;        /* churn_in_callback: fd number to reuse, or -1 */
    int default_map;
    /* cross-push canary */
    chan_t *victim;           /* this thread's victim (slot 0) */
    void *victim_ch;          /* its handle, read by the pusher after a barrier */
    void *xch;                /* the victim this thread pushes into */
    upgen_t xgen;
    int xdead;
    _Atomic uint32_t victim_rx1; /* owner -> pusher flow control (relaxed) */
    _Atomic uint32_t xtotal;     /* pusher's total, read after a barrier */
};

static _Thread_local worker_t *tls_w;

#define IMPL (g_run.impl)

/* ------------------------------------------------------------ oracle -- */

static const char *kind_name(int k)
{
    switch (k) {
    case KIND_UNIX: return "unix";
    case KIND_TCP: return "tcp";
    case KIND_CONNECT: return "tcp-connect";
    case KIND_ACCEPT: return "tcp-accept";
    case KIND_LISTENER: return "listener";
    default: return "?";
    }
}

static const char *errname(int e)
{
    static _Thread_local char b[64];
    snprintf(b, sizeof b, "%s (%d)", strerror(e < 0 ? -e : e), e);
    return b;
}

/* Ends the run naming the channel: every violation message says which
 * channel, of which kind, on which thread, in which phase. */
static _Noreturn void cfail(const chan_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static _Noreturn void cfail(const chan_t *c, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    stress_violation(tls_w ? tls_w->idx : -1,
                     "channel %llu.%llu (%s, %s): %s",
                     (unsigned long long)(c->uid >> 48),
                     (unsigned long long)(c->uid & 0xffffffffffffULL),
                     kind_name(c->kind), ending_name[c->ending], msg);
}

/* Every callback starts here: the ctx must be a live channel of the thread
 * whose loop is running (no loop may see another map's channel). */
static chan_t *cb_chan(void *ctx, const char *what)
{
    chan_t *c = ctx;
    int me = tls_w ? tls_w->idx : -1;
    if (c == NULL)
        stress_violation(me, "%s callback with a NULL ctx", what);
    if (c->magic == DEAD_MAGIC)
        stress_violation(me, "%s callback for channel %llu.%llu after the "
                         "driver freed it (a late or stale event)", what,
                         (unsigned long long)(c->uid >> 48),
                         (unsigned long long)(c->uid & 0xffffffffffffULL));
    if (c->magic != CHAN_MAGIC)
        stress_violation(me, "%s callback with a ctx that is no channel (%p)",
                         what, ctx);
    if (c->w != tls_w)
        stress_violation(me, "thread %d's loop delivered %s for channel "
                         "%llu.%llu, which thread %llu owns (an event for a "
                         "channel of another map)", me, what,
                         (unsigned long long)(c->uid >> 48),
                         (unsigned long long)(c->uid & 0xffffffffffffULL),
                         (unsigned long long)(c->uid >> 48));
    c->w->ops++;
    c->w->activity = 1;
    return c;
}

/* ------------------------------------------------------- down stream -- */

static const unsigned char talpha[] = {'a', 'b', '\r', '\n', '\0', '|'};
#define FIXBYTE 0xEE /* never in a terminator */

static size_t rec_enc(const rec_t *r)
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
static rec_t *gen_record(chan_t *c)
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

static int set_framing(chan_t *c, const rec_t *r)
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
static void down_collect(chan_t *c, const unsigned char *p, size_t n)
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

/* --------------------------------------------------------- up stream -- */

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

static size_t up_rest(const upgen_t *g)
{
    return g->in_rec ? UP_HDR + g->len - g->pos : 0;
}

/* Emits the next n bytes of the stream, starting records of random length
 * (at most maxrec) as needed. */
static void up_fill(upgen_t *g, rng_t *r, unsigned char *out, size_t n,
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

static int up_at_boundary(const upparse_t *u)
{
    return !u->in_payload && u->hn == 0;
}

static void up_parse(chan_t *c, const unsigned char *p, size_t n)
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

static int up_complete(const chan_t *c)
{
    if (!up_at_boundary(&c->par))
        return 0;
    if (c->victim)
        return c->par.expect[0] == c->gen.seq &&
               c->par.expect[1] == c->x_expected;
    return c->par.rx == c->up_pushed;
}

/* ---------------------------------------------------------- callbacks -- */

static void free_impl(chan_t *c)
{
    if (c->ch) {
        void *h = c->ch;
        c->ch = NULL;
        c->impl_open = 0;
        IMPL->free(h);
        c->w->ops++;
    }
}

/* A planned driver-free that waits for a callback to run in. */
static void maybe_free_in_cb(chan_t *c)
{
    if (c->free_in_cb) {
        c->free_in_cb = 0;
        c->peer_wr = 0;
        free_impl(c);
    }
}

static void churn_in_callback(chan_t *c);

static void ev_collect(void *ctx, const void *data, size_t len)
{
    chan_t *c = cb_chan(ctx, "collect_incoming_data");
    if (!c->impl_open)
        cfail(c, "collect_incoming_data on a closed channel");
    if (c->kind == KIND_CONNECT && !c->connected_cb)
        cfail(c, "collect_incoming_data before handle_connect");
    down_collect(c, data, len);
    churn_in_callback(c);
    maybe_free_in_cb(c);
}

static void ev_found(void *ctx)
{
    chan_t *c = cb_chan(ctx, "found_terminator");
    if (!c->impl_open)
        cfail(c, "found_terminator on a closed channel");
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
    churn_in_callback(c);
    maybe_free_in_cb(c);
}

static void ev_close(void *ctx)
{
    chan_t *c = cb_chan(ctx, "handle_close");
    if (++c->closes > 1)
        cfail(c, "handle_close ran %d times", c->closes);
    if (!c->impl_open)
        cfail(c, "handle_close on a channel the driver had closed");
    if (!c->close_allowed)
        cfail(c, "handle_close with no cause: the peer is open and no "
                 "close_when_done was queued (down %llu of %llu payload "
                 "bytes delivered, up %llu of %llu received)",
              (unsigned long long)c->rpay, (unsigned long long)c->wpay,
              (unsigned long long)c->par.rx,
              (unsigned long long)c->up_pushed);
    c->impl_open = 0;
    if (c->exact_down && (c->rpay != c->wpay || c->nfound != c->wrecs))
        cfail(c, "handle_close at the end of the stream with %llu of %llu "
                 "payload bytes and %llu of %llu records delivered",
              (unsigned long long)c->rpay, (unsigned long long)c->wpay,
              (unsigned long long)c->nfound, (unsigned long long)c->wrecs);
    if (chance(&c->rng, 30))
        free_impl(c); /* freeing inside handle_close must be safe */
}

static int disconnect_errno(int e)
{
    return e == ECONNRESET || e == EPIPE || e == ENOTCONN ||
           e == ESHUTDOWN || e == ECONNABORTED;
}

static void ev_error(void *ctx, int err)
{
    chan_t *c = cb_chan(ctx, "handle_error");
    if (!c->impl_open)
        cfail(c, "handle_error(%s) on a closed channel", errname(err));
    if (!(c->close_allowed && disconnect_errno(-err)))
        cfail(c, "handle_error(%s) on a healthy connection", errname(err));
}

static void ev_connect(void *ctx)
{
    chan_t *c = cb_chan(ctx, "handle_connect");
    if (c->kind != KIND_CONNECT)
        cfail(c, "handle_connect on a channel made from a connected socket");
    if (c->connected_cb)
        cfail(c, "handle_connect ran twice");
    if (!c->impl_open)
        cfail(c, "handle_connect on a closed channel");
    c->connected_cb = 1;
}

static void ev_accept_chat(void *ctx, int fd)
{
    chan_t *c = cb_chan(ctx, "handle_accept");
    close(fd);
    cfail(c, "handle_accept on a chat channel");
}

static void configure(chan_t *c);
static void adopt_failed(chan_t *c, int rc, const char *what);

static const acc_events_t chat_events = {
    .collect = ev_collect,
    .found = ev_found,
    .close = ev_close,
    .error = ev_error,
    .connect = ev_connect,
    .accept = ev_accept_chat,
};

static uint16_t port_of(int fd, int peer)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int rc = peer ? getpeername(fd, (struct sockaddr *)&sa, &len)
                  : getsockname(fd, (struct sockaddr *)&sa, &len);
    return rc == 0 && sa.sin_family == AF_INET ? ntohs(sa.sin_port) : 0;
}

static chan_t *find_waiting(worker_t *w, int kinds, uint16_t port)
{
    for (int i = 0; i < w->nslot; i++) {
        chan_t *c = w->slot[i];
        if (c && c->waiting && (c->kind & kinds) && c->lport == port)
            return c;
    }
    return NULL;
}

/* The implementation's listener accepted fd: pair it with the slot whose
 * peer connected from that port, and make it a chat channel right here,
 * inside the callback. */
static void ev_accept(void *ctx, int fd)
{
    chan_t *l = cb_chan(ctx, "handle_accept");
    worker_t *w = l->w;
    if (l->kind != KIND_LISTENER)
        cfail(l, "handle_accept on a chat channel");
    chan_t *c = find_waiting(w, KIND_ACCEPT, port_of(fd, 1));
    if (c == NULL) {
        close(fd); /* handle_accept's fd is ours */
        w->strays++;
        return;
    }
    int rc = IMPL->chat_adopt(&c->ch, w->map, fd, &chat_events, c);
    if (rc < 0) {
        close(fd);
        adopt_failed(c, rc, "chat_adopt of an accepted fd");
    }
    c->waiting = 0;
    c->impl_open = 1;
    w->wait_accept--;
    configure(c);
}

static void ev_listener_bad(void *ctx)
{
    chan_t *l = cb_chan(ctx, "a chat or close callback");
    cfail(l, "the listener got a callback other than handle_accept");
}

static void ev_listener_collect(void *ctx, const void *d, size_t n)
{
    (void)d, (void)n;
    ev_listener_bad(ctx);
}

static void ev_listener_error(void *ctx, int err)
{
    chan_t *l = cb_chan(ctx, "handle_error");
    cfail(l, "handle_error(%s) on the listener", errname(err));
}

static const acc_events_t listen_events = {
    .collect = ev_listener_collect,
    .found = ev_listener_bad,
    .close = ev_listener_bad,
    .error = ev_listener_error,
    .connect = ev_listener_bad,
    .accept = ev_accept,
};

static void ev_released(void *pctx)
{
    prod_t *p = pctx;
    chan_t *c = p->c;
    if (c->w != tls_w)
        stress_violation(tls_w ? tls_w->idx : -1,
                         "a producer of thread %d was released on thread %d",
                         c->w->idx, tls_w ? tls_w->idx : -1);
    if (p->released)
        cfail(c, "a producer was released twice");
    p->released = 1;
    c->prod_out--;
    c->w->ops++;
}

/* ------------------------------------------------------------ pushes -- */

static size_t up_maxrec(const chan_t *c)
{
    return c->out_size && c->out_size < 64 ? 512 : UP_MAX_REC;
}

static void push_bytes(chan_t *c, const unsigned char *p, size_t n)
{
    int rc = IMPL->push(c->ch, p, n);
    if (rc != 0)
        cfail(c, "push of %zu bytes on an open channel failed: %s", n,
              errname(rc));
    c->up_pushed += n;
    c->w->ops++;
}

static void push_producer(chan_t *c, size_t total)
{
    worker_t *w = c->w;
    prod_t *p = calloc(1, sizeof(*p) + total);
    if (p == NULL)
        stress_harness("out of memory");
    up_fill(&c->gen, &c->rng, p->data, total, up_maxrec(c));
    size_t n = 1 + below(&c->rng, 8);
    if (n > total)
        n = total;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t left = total - off - (n - 1 - i); /* >= 1 for each next */
        size_t k = i + 1 == n ? total - off : 1 + below(&c->rng, left);
        p->chunks[i] = p->data + off;
        p->lens[i] = k;
        off += k;
    }
    p->c = c;
    p->next = c->prods;
    c->prods = p;
    c->prod_out++;
    acc_producer_t ap = {p->chunks, p->lens, n, ev_released, p};
    int rc = IMPL->push_producer(c->ch, &ap);
    if (rc != 0)
        cfail(c, "push_producer of %zu bytes on an open channel failed: %s",
              total, errname(rc));
    c->up_pushed += total;
    w->ops++;
}

/* Pushes the rest of the current up record, so the stream can end at a
 * record boundary. */
static void finish_up(chan_t *c)
{
    size_t rest = up_rest(&c->gen);
    if (rest > 0 && c->ch && c->impl_open) {
        up_fill(&c->gen, &c->rng, c->w->buf, rest, up_maxrec(c));
        push_bytes(c, c->w->buf, rest);
    }
}

static void maybe_push(chan_t *c)
{
    rng_t *r = &c->rng;
    worker_t *w = c->w;
    if (c->victim) {
        /* Whole records only: the cross pusher's records interleave with
         * these at push granularity. */
        if (c->gen.seq - c->par.expect[0] > 256 || c->up_stop)
            return;
        size_t n = 0;
        for (int k = 1 + (int)below(r, 3); k > 0; k--) {
            up_fill(&c->gen, r, w->buf + n, UP_HDR, 64);
            n += UP_HDR;
            size_t rest = up_rest(&c->gen);
            up_fill(&c->gen, r, w->buf + n, rest, 64);
            n += rest;
        }
        push_bytes(c, w->buf, n);
        return;
    }
    /* A channel sending a few bytes per pass gets small pushes, or its
     * drain would take thousands of passes. */
    int slow = c->out_size && c->out_size < 64;
    size_t maxpush = slow ? 1024 : 65536;
    if (c->up_pushed >= c->up_budget ||
        c->up_pushed - c->par.rx > (slow ? 4096 : UP_WINDOW) ||
        !chance(r, 40))
        return;
    if ((IMPL->caps & ACC_CAP_PRODUCER) && chance(r, 15)) {
        push_producer(c, skewed(r, maxpush));
        return;
    }
    size_t n = chance(r, 4) ? 0 : skewed(r, maxpush);
    up_fill(&c->gen, r, w->buf, n, up_maxrec(c));
    push_bytes(c, w->buf, n);
}

/* --------------------------------------------------------- peer side -- */

static void peer_close(chan_t *c)
{
    if (c->pfd >= 0)
        close(c->pfd);
    c->pfd = -1;
    c->peer_wr = c->peer_rd = 0;
}

static void peer_read(chan_t *c)
{
    worker_t *w = c->w;
    size_t want = skewed(&c->rng, BUFSZ);
    ssize_t n = recv(c->pfd, w->buf, want, MSG_DONTWAIT);
    if (n > 0) {
        up_parse(c, w->buf, (size_t)n);
        w->bytes += (uint64_t)n;
        w->activity = 1;
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    int e = n == 0 ? 0 : errno;
    if (c->impl_open)
        cfail(c, "the peer saw %s while the channel is open (its socket was "
                 "closed without handle_close)",
              e ? errname(e) : "end of stream");
    if (c->exact_up && (e != 0 || !up_complete(c)))
        cfail(c, "clean close, but the peer got %s after %llu of %llu "
                 "pushed bytes (owner records %u of %u, cross %u of %u)",
              e ? errname(e) : "end of stream",
              (unsigned long long)c->par.rx,
              (unsigned long long)c->up_pushed, c->par.expect[0],
              c->gen.seq, c->par.expect[1], c->x_expected);
    w->activity = 1;
    peer_close(c);
}

static void peer_write(chan_t *c)
{
    rec_t *r = c->whead;
    if (r == NULL)
        return;
    int stop = c->down_stop || c->down_written >= c->down_budget;
    if (stop && (c->woff == 0 || r->kind == R_NONE))
        return; /* at a record boundary (none: anywhere) */
    if (c->woff == 0 && r->next == NULL)
        gen_record(c); /* found_terminator of r needs the next framing */
    size_t enc = rec_enc(r);
    size_t want = skewed(&c->rng, 65536);
    if (want > enc - c->woff)
        want = enc - c->woff;
    ssize_t k = send(c->pfd, r->data + c->woff, want,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    if (k < 0) {
        int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR)
            return;
        if (c->impl_open)
            cfail(c, "the peer's send failed with %s while the channel is "
                     "open", errname(e));
        c->peer_wr = 0;
        return;
    }
    size_t uk = (size_t)k;
    if (c->woff < r->plen)
        c->wpay += r->plen - c->woff < uk ? r->plen - c->woff : uk;
    c->woff += uk;
    c->down_written += uk;
    c->w->bytes += uk;
    c->w->activity = 1;
    if (c->woff == enc) {
        if (r->kind != R_NONE)
            c->wrecs++;
        c->whead = r->next;
        c->woff = 0;
    }
}

static int down_idle(const chan_t *c)
{
    const rec_t *r = c->whead;
    return r == NULL || r->kind == R_NONE || c->woff == 0;
}

static int down_delivered(const chan_t *c)
{
    return c->rpay == c->wpay && c->nfound == c->wrecs;
}

/* ------------------------------------------------------------ opening -- */

/* Resource exhaustion is the machine's fault, not the implementation's. */
static int machine_fault(int rc)
{
    return rc == -ENOMEM || rc == -EMFILE || rc == -ENFILE || rc == -EADDRINUSE;
}

static void adopt_failed(chan_t *c, int rc, const char *what)
{
    if (machine_fault(rc))
        stress_harness("%s: %s", what, errname(rc));
    /* -EEXIST here means the map still holds a closed channel's fd. */
    cfail(c, "%s failed: %s", what, errname(rc));
}

/* Settings that must be in place before the first byte is read. */
static void configure(chan_t *c)
{
    int rc = 0;
    if (c->in_size && (IMPL->caps & ACC_CAP_BUFSIZE))
        rc = IMPL->set_buffer_sizes(c->ch, c->in_size, c->out_size);
    if (rc == 0)
        rc = c->victim ? IMPL->set_none(c->ch) : set_framing(c, c->rhead);
    if (rc != 0)
        cfail(c, "configuring a new channel: %s", errname(rc));
}

static int tcp_socket(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0)
        stress_harness("socket: %s", strerror(errno));
    return s;
}

/* A loopback connect can run out of ports under heavy churn; the slot then
 * falls back to a socketpair rather than failing the run. */
static int tcp_connect(worker_t *w, const struct sockaddr_in *to)
{
    int s = tcp_socket();
    if (connect(s, (const struct sockaddr *)to, sizeof(*to)) == 0 ||
        errno == EINPROGRESS)
        return s;
    int e = errno;
    close(s);
    if (e == EADDRNOTAVAIL || e == EAGAIN) {
        w->fallbacks++;
        return -1;
    }
    stress_harness("connect to 127.0.0.1: %s", strerror(e));
}

static void open_unix(worker_t *w, chan_t *c)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv) < 0)
        stress_harness("socketpair: %s", strerror(errno));
    int mine = (int)below(&c->rng, 2);
    if (w->reuse_fd >= 0) {
        /* Take the fd number just freed if it is still free: F_DUPFD never
         * closes an fd another thread may have opened meanwhile. */
        int fd = fcntl(sv[mine], F_DUPFD_CLOEXEC, w->reuse_fd);
        if (fd >= 0) {
            close(sv[mine]);
            sv[mine] = fd;
        }
    }
    int rc = IMPL->chat_adopt(&c->ch, w->map, sv[mine], &chat_events, c);
    if (rc < 0) {
        close(sv[0]), close(sv[1]);
        adopt_failed(c, rc, "chat_adopt of a socketpair end");
    }
    c->kind = KIND_UNIX;
    c->pfd = sv[!mine];
    c->impl_open = 1;
    configure(c);
}

static void pick_kind(worker_t *w, chan_t *c)
{
    unsigned k = g_run.o.kinds;
    if (!(IMPL->caps & ACC_CAP_CONNECT))
        k &= ~(unsigned)KIND_CONNECT;
    if (!(IMPL->caps & ACC_CAP_LISTEN) || w->ilisten == NULL ||
        w->wait_accept >= MAX_WAIT_ACCEPT)
        k &= ~(unsigned)KIND_ACCEPT;
    if (w->raw_lfd < 0)
        k &= ~(unsigned)(KIND_TCP | KIND_CONNECT);
    static const int weight[4] = {45, 25, 15, 15};
    int total = 0;
    for (int i = 0; i < 4; i++)
        total += (k >> i & 1) ? weight[i] : 0;
    c->kind = KIND_UNIX;
    if (total == 0)
        return;
    int x = (int)below(&w->rng, (uint64_t)total);
    for (int i = 0; i < 4; i++) {
        if (!(k >> i & 1))
            continue;
        if (x < weight[i]) {
            c->kind = 1 << i;
            return;
        }
        x -= weight[i];
    }
}

static uint64_t pick_budget(rng_t *r)
{
    unsigned p = (unsigned)below(r, 100);
    return p < 15 ? 0 : p < 55 ? below(r, 4096) : p < 85 ? below(r, 65536)
         : p < 97 ? below(r, 1 << 20) : below(r, 4 << 20);
}

enum { OPEN_VICTIM = 1, OPEN_UNIX = 2 };

static void chan_open(worker_t *w, int i, int flags)
{
    int victim = flags & OPEN_VICTIM;
    chan_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        stress_harness("out of memory");
    c->magic = CHAN_MAGIC;
    c->w = w;
    c->uid = ((uint64_t)w->idx << 48) | ++w->uidseq;
    c->rng.s = rnd(&w->rng);
    c->pfd = c->conn_fd = -1;
    c->victim = victim;
    c->gen.uid = c->uid;
    rng_t *r = &c->rng;
    if ((IMPL->caps & ACC_CAP_BUFSIZE) && !victim && chance(r, 30)) {
        c->in_size = chance(r, 50) ? 1 + below(r, 16) : 1 + below(r, 65536);
        c->out_size = chance(r, 50) ? 1 + below(r, 16) : 1 + below(r, 65536);
    }
    c->down_budget = pick_budget(r);
    c->up_budget = pick_budget(r);
    if (c->in_size && c->in_size < 64 && c->down_budget > 8192)
        c->down_budget = 8192; /* one recv per pass: keep drains short */
    if (c->out_size && c->out_size < 64 && c->up_budget > 8192)
        c->up_budget = 8192;
    static const int pw[] = {0, 22, 22, 14, 11, 11, 11, 9};
    int x = (int)below(r, 100);
    c->plan = E_PEER_EOF;
    for (int e = E_PEER_EOF; e <= E_PEER_CLOSE; e++) {
        if (x < pw[e]) {
            c->plan = e;
            break;
        }
        x -= pw[e];
    }
    c->abrupt_at = below(r, c->down_budget + c->up_budget + 1);
    if (victim) {
        c->plan = E_VICTIM;
        c->ending = E_VICTIM;
        c->down_budget = c->up_budget = 0;
    } else {
        gen_record(c);
    }
    w->slot[i] = c;
    w->alive++;
    w->opened++;
    w->ops++;
    c->deadline = w->now + g_run.o.grace;
    if (victim) {
        open_unix(w, c);
        c->peer_rd = 1;
        return;
    }
    pick_kind(w, c);
    if (flags & OPEN_UNIX) {
        c->kind = KIND_UNIX;
    } else {
        w->picked++;
        w->tcp_tries += c->kind != KIND_UNIX;
    }
    if (c->kind == KIND_TCP) {
        int s = tcp_connect(w, &w->raw_addr);
        if (s >= 0) {
            c->conn_fd = s;
            c->lport = port_of(s, 0);
            c->impl_gets_accepted = chance(r, 50);
            c->waiting = 1;
        }
    } else if (c->kind == KIND_CONNECT) {
        int rc = IMPL->chat_connect(&c->ch, w->map,
                                    (const struct sockaddr *)&w->raw_addr,
                                    sizeof(w->raw_addr), &chat_events, c);
        if (rc == 0) {
            c->impl_open = 1;
            c->lport = port_of(IMPL->fd(c->ch), 0);
            c->waiting = 1;
            configure(c);
        } else if (rc == -EADDRNOTAVAIL || rc == -EAGAIN) {
            w->fallbacks++;
        } else {
            cfail(c, "chat_connect to 127.0.0.1 failed: %s", errname(rc));
        }
    } else if (c->kind == KIND_ACCEPT) {
        int s = tcp_connect(w, &w->ilisten_addr);
        if (s >= 0) {
            c->pfd = s;
            c->lport = port_of(s, 0);
            c->waiting = 1;
            w->wait_accept++;
        }
    }
    if (!c->waiting)
        open_unix(w, c); /* KIND_UNIX, or a TCP kind that fell back */
    c->peer_rd = c->peer_wr = 1;
}

/* Pairs connections accepted on the driver's own listener (KIND_TCP and
 * KIND_CONNECT) with their slots by port. */
static void raw_accept(worker_t *w)
{
    if (w->raw_lfd < 0)
        return;
    for (;;) {
        struct sockaddr_in sa;
        socklen_t len = sizeof(sa);
        int a = accept4(w->raw_lfd, (struct sockaddr *)&sa, &len,
                        SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (a < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
                errno == ECONNABORTED)
                return;
            stress_harness("accept: %s", strerror(errno));
        }
        chan_t *c = find_waiting(w, KIND_TCP | KIND_CONNECT,
                                 ntohs(sa.sin_port));
        if (c == NULL) {
            close(a);
            w->strays++;
            continue;
        }
        w->activity = 1;
        c->waiting = 0;
        if (c->kind == KIND_CONNECT) {
            c->pfd = a;
            continue;
        }
        int ifd = c->impl_gets_accepted ? a : c->conn_fd;
        c->pfd = c->impl_gets_accepted ? c->conn_fd : a;
        c->conn_fd = -1;
        int rc = IMPL->chat_adopt(&c->ch, w->map, ifd, &chat_events, c);
        if (rc < 0) {
            close(ifd);
            adopt_failed(c, rc, "chat_adopt of a loopback TCP end");
        }
        c->impl_open = 1;
        configure(c);
    }
}

/* ------------------------------------------------------------ endings -- */

static void start_ending(chan_t *c, int e)
{
    c->ending = e;
    c->step = 0;
    c->deadline = c->w->now + g_run.o.grace;
}

/* Churn inside a pass: from c's callback, close another channel b of this
 * thread (preferably one whose peer hung up, so its hangup may still be due
 * in this pass) and at once open a socketpair channel, which likely gets
 * b's fd number.  b's pending event must never reach the new channel, and
 * b must get no callback (ownership.md rule 8, CQ1). */
static void churn_in_callback(chan_t *c)
{
    worker_t *w = c->w;
    if (w->stopping || w->slot[w->nslot - 1] != NULL)
        return;
    /* Best: a reset TCP channel later in this pass (a higher fd), whose
     * error event is still due; otherwise now and then any channel that
     * was going to be closed by the driver anyway. */
    chan_t *b = NULL;
    int myfd = c->ch ? IMPL->fd(c->ch) : -1;
    for (int pass = 0; pass < 2 && b == NULL; pass++) {
        if (pass == 1 && !chance(&c->rng, 3))
            return;
        for (int i = 0; i < w->nslot - 1 && b == NULL; i++) {
            chan_t *x = w->slot[i];
            if (x == NULL || x == c || x->waiting || !x->impl_open ||
                !x->ch || x->victim || x->closes || x->free_in_cb)
                continue;
            if (pass == 0 ? (x->ending == E_PEER_CLOSE ||
                             x->ending == E_PEER_RESET) && x->step == 1 &&
                                IMPL->fd(x->ch) > myfd
                          : x->ending == E_NONE && x->plan == E_DRV_CLOSE)
                b = x;
        }
    }
    if (b == NULL)
        return;
    int bfd = IMPL->fd(b->ch);
    int rc = IMPL->close(b->ch);
    if (rc != 0)
        cfail(b, "close from another channel's callback returned %s",
              errname(rc));
    b->impl_open = 0;
    b->close_allowed = b->expect_close = 0;
    if (b->ending == E_NONE)
        start_ending(b, E_DRV_CLOSE);
    b->step = 1;
    b->peer_wr = 0;
    w->ops++;
    w->reuse_fd = bfd;
    chan_open(w, w->nslot - 1, OPEN_UNIX);
    w->reuse_fd = -1;
}

static void ending_step(chan_t *c)
{
    worker_t *w = c->w;
    if (c->ending == E_NONE) {
        int go = w->stopping;
        if (c->plan >= E_DRV_CLOSE)
            go |= c->down_written + c->up_pushed >= c->abrupt_at;
        else
            go |= c->down_written >= c->down_budget &&
                  c->up_pushed >= c->up_budget;
        if (!go)
            return;
        start_ending(c, c->plan);
    }
    switch (c->ending) {
    case E_PEER_EOF:
    case E_PEER_FIN:
        if (c->step == 0) {
            c->up_stop = c->down_stop = 1;
            finish_up(c);
            c->step = 1;
        }
        if (c->step == 1 && c->impl_open && down_idle(c) &&
            up_complete(c)) {
            /* peer-fin closes outright: the channel may see a hangup with
             * input still unread, which it must deliver first (CQ3). */
            if (c->ending == E_PEER_FIN)
                peer_close(c);
            else if (c->pfd >= 0)
                shutdown(c->pfd, SHUT_WR);
            c->peer_wr = 0;
            c->close_allowed = c->expect_close = 1;
            c->exact_down = 1;
            c->exact_up = c->ending == E_PEER_EOF;
            c->step = 2;
            w->ops++;
        }
        break;
    case E_VICTIM:
        if (!w->stopping)
            break;
        if (c->step == 0 && c->impl_open) {
            /* Wait for every record of both pushers, then close exactly. */
            c->up_stop = 1;
            if (!up_complete(c))
                break;
            c->step = 1;
        }
        /* fall through */
    case E_CWD:
        if (c->step == 0) {
            c->up_stop = c->down_stop = 1;
            finish_up(c);
            c->step = 1;
        }
        if (c->step == 1 && c->impl_open && down_idle(c) &&
            down_delivered(c)) {
            c->peer_wr = 0;
            int rc = IMPL->close_when_done(c->ch);
            if (rc != 0)
                cfail(c, "close_when_done on an open channel: %s",
                      errname(rc));
            c->close_allowed = c->expect_close = 1;
            c->exact_up = 1;
            c->step = 2;
            w->ops++;
        }
        break;
    case E_DRV_CLOSE:
        if (c->step == 0 && c->ch) {
            int rc = IMPL->close(c->ch);
            if (rc != 0)
                cfail(c, "close of an open channel returned %s",
                      errname(rc));
            c->impl_open = 0;
            if (chance(&c->rng, 50) && (rc = IMPL->close(c->ch)) >= 0)
                cfail(c, "a second close returned %d, not an error", rc);
            c->peer_wr = 0;
            c->step = 1;
            w->ops++;
        }
        break;
    case E_DRV_FREE:
        if (c->step == 0) {
            if (chance(&c->rng, 50))
                c->free_in_cb = 1; /* inside the next data callback */
            else
                free_impl(c);
        }
        /* No data callback came in time: free it from outside. */
        if (++c->step > 64 && c->ch && c->impl_open) {
            c->free_in_cb = 0;
            free_impl(c);
        }
        if (!c->ch)
            c->peer_wr = 0;
        break;
    case E_PEER_RESET:
    case E_PEER_CLOSE:
        if (c->step == 0) {
            if (c->ending == E_PEER_RESET && c->kind != KIND_UNIX &&
                c->pfd >= 0) {
                struct linger lg = {1, 0};
                setsockopt(c->pfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            }
            peer_close(c);
            c->close_allowed = c->expect_close = c->impl_open;
            c->step = 1;
            w->ops++;
        }
        break;
    default:
        break;
    }
}

static int chan_finished(const chan_t *c)
{
    return !c->waiting && !c->impl_open && c->pfd < 0 &&
           (!c->expect_close || c->closes == 1) && c->victim == 0;
}

static const char *chan_state(const chan_t *c)
{
    static _Thread_local char b[512];
    snprintf(b, sizeof b,
             "step %d, %s, channel %s, peer fd %s; down %llu of %llu "
             "payload bytes and %llu of %llu records delivered; up %llu of "
             "%llu bytes received; handle_close ran %d times",
             c->step, c->waiting ? "waiting for accept" : "paired",
             c->impl_open ? "open" : "closed", c->pfd >= 0 ? "open" : "closed",
             (unsigned long long)c->rpay, (unsigned long long)c->wpay,
             (unsigned long long)c->nfound, (unsigned long long)c->wrecs,
             (unsigned long long)c->par.rx, (unsigned long long)c->up_pushed,
             c->closes);
    return b;
}

static void quarantine(worker_t *w, chan_t *c)
{
    c->magic = DEAD_MAGIC;
    free(w->quar[w->qpos]);
    w->quar[w->qpos] = c;
    w->qpos = (w->qpos + 1) % QUAR;
}

static void chan_reap(worker_t *w, int i)
{
    chan_t *c = w->slot[i];
    free_impl(c);
    for (prod_t *p = c->prods, *n; p; p = n) {
        n = p->next;
        if (!p->released)
            cfail(c, "a producer was never released, though its channel "
                     "was freed");
        free(p);
    }
    c->prods = NULL;
    for (rec_t *r = c->rhead, *n; r; r = n) {
        n = r->next;
        free(r);
    }
    c->rhead = c->whead = c->rtail = NULL;
    w->slot[i] = NULL;
    w->alive--;
    quarantine(w, c);
}

static void chan_step(chan_t *c)
{
    worker_t *w = c->w;
    if (c->waiting) {
        if (c->kind == KIND_CONNECT && c->impl_open)
            maybe_push(c); /* queued until the connection exists (P5) */
        if (w->now > c->deadline)
            cfail(c, "the loopback connection was not accepted within %.0fs",
                  g_run.o.grace);
        return;
    }
    if (c->pfd >= 0 && c->peer_rd)
        peer_read(c);
    if (c->pfd >= 0 && c->peer_wr)
        peer_write(c);
    if (c->impl_open && c->ch && !c->up_stop)
        maybe_push(c);
    ending_step(c);
    if (c->ending != E_NONE && c->ending != E_VICTIM && w->now > c->deadline)
        cfail(c, "the ending did not complete within %.0fs: %s",
              g_run.o.grace, chan_state(c));
    if (c->ending == E_VICTIM && w->stopping && w->now > c->deadline)
        cfail(c, "cross-push victim did not drain within %.0fs: %s",
              g_run.o.grace, chan_state(c));
}

/* ------------------------------------------------------- cross pushes -- */

/* The cross-push canary: this thread pushes whole records into the victim
 * channel of another thread while that thread's loop sends from it.  No
 * lock, on purpose (ownership.md rule 3). */
static void cross_push(worker_t *w)
{
    if (w->xch == NULL || w->xdead || w->stopping)
        return;
    worker_t *owner = g_run.workers[(w->idx + g_run.o.threads - 1) %
                                    g_run.o.threads];
    /* Bursts of small pushes: the more time both threads spend inside the
     * FIFO at once, the surer a collision within a short run. */
    for (int burst = 0; burst < 16; burst++) {
        uint32_t rx = atomic_load_explicit(&owner->victim_rx1,
                                           memory_order_relaxed);
        if (w->xgen.seq - rx > 2048)
            return;
        uint32_t before = w->xgen.seq;
        size_t n = 0;
        for (int k = 1 + (int)below(&w->rng, 2); k > 0; k--) {
            up_fill(&w->xgen, &w->rng, w->buf + n, UP_HDR, 64);
            n += UP_HDR;
            size_t rest = up_rest(&w->xgen);
            up_fill(&w->xgen, &w->rng, w->buf + n, rest, 64);
            n += rest;
        }
        int rc = IMPL->push(w->xch, w->buf, n);
        w->ops++;
        if (rc != 0) {
            /* The victim closed under us: these records never went in. */
            w->xdead = 1;
            w->xgen.seq = before;
            return;
        }
    }
}

/* ------------------------------------------------------------- worker -- */

worker_t *worker_new(int idx)
{
    worker_t *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->idx = idx;
    w->rng.s = mix64(g_run.o.seed ^ mix64((uint64_t)idx + 1));
    w->nslot = g_run.o.channels + 1; /* the last: churn_in_callback's */
    w->slot = calloc((size_t)w->nslot, sizeof(*w->slot));
    w->buf = malloc(BUFSZ + 2 * (UP_HDR + 64) * 8);
    w->raw_lfd = -1;
    w->reuse_fd = -1;
    if (w->slot == NULL || w->buf == NULL) {
        worker_free(w);
        return NULL;
    }
    atomic_init(&w->victim_rx1, 0);
    atomic_init(&w->xtotal, 0);
    annot_atomic(&w->victim_rx1, sizeof(w->victim_rx1));
    return w;
}

void worker_free(worker_t *w)
{
    if (w == NULL)
        return;
    for (int i = 0; i < QUAR; i++)
        free(w->quar[i]);
    free(w->slot);
    free(w->buf);
    free(w);
}

void worker_totals(const worker_t *w, totals_t *t)
{
    t->records += w->records;
    t->channels += w->opened;
    t->strays += w->strays;
    t->fallbacks += w->fallbacks;
    t->picked += w->picked;
    t->tcp_tries += w->tcp_tries;
}

static void listeners_open(worker_t *w)
{
    unsigned k = g_run.o.kinds;
    struct sockaddr_in any = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (k & (KIND_TCP | KIND_CONNECT)) {
        int s = tcp_socket();
        socklen_t len = sizeof(w->raw_addr);
        if (bind(s, (struct sockaddr *)&any, sizeof(any)) < 0 ||
            listen(s, 128) < 0 ||
            getsockname(s, (struct sockaddr *)&w->raw_addr, &len) < 0)
            stress_harness("loopback listener: %s", strerror(errno));
        w->raw_lfd = s;
    }
    if ((k & KIND_ACCEPT) && (IMPL->caps & ACC_CAP_LISTEN)) {
        chan_t *l = calloc(1, sizeof(*l));
        if (l == NULL)
            stress_harness("out of memory");
        l->magic = CHAN_MAGIC;
        l->w = w;
        l->kind = KIND_LISTENER;
        l->uid = ((uint64_t)w->idx << 48);
        l->pfd = -1;
        int rc = IMPL->listen(&w->ilisten, w->map,
                              (const struct sockaddr *)&any, sizeof(any),
                              &listen_events, l);
        /* Anything but exhaustion (for example -EEXIST: the map still
         * holds a closed channel under the fresh socket's fd, as a map
         * shared across threads does) is the implementation's fault. */
        if (machine_fault(rc))
            stress_harness("the implementation's listen on 127.0.0.1: %s",
                           errname(rc));
        if (rc < 0)
            stress_violation(w->idx, "the implementation's listen on "
                             "127.0.0.1 failed: %s", errname(rc));
        w->lctx = l;
        uint16_t port = port_of(IMPL->fd(w->ilisten), 0);
        if (port == 0)
            stress_harness("cannot read the listener's port");
        w->ilisten_addr = any;
        w->ilisten_addr.sin_port = htons(port);
    }
}

static void listeners_close(worker_t *w)
{
    if (w->ilisten) {
        int rc = IMPL->close(w->ilisten);
        if (rc != 0)
            cfail(w->lctx, "close of the listener returned %s", errname(rc));
        IMPL->free(w->ilisten);
        w->ilisten = NULL;
        quarantine(w, w->lctx);
    }
    if (w->raw_lfd >= 0)
        close(w->raw_lfd);
    w->raw_lfd = -1;
}

static int everyone_finished(void)
{
    for (int i = 0; i < g_run.o.threads; i++)
        if (!atomic_load_explicit(&g_run.pub[i].finished,
                                  memory_order_relaxed))
            return 0;
    return 1;
}

static void begin_stop(worker_t *w)
{
    w->stopping = 1;
    if (g_run.o.mode != MODE_CROSS_PUSH)
        return;
    /* Every pusher publishes its total, then each victim's owner learns
     * how many records to wait for.  The barrier orders this hand-over. */
    atomic_store_explicit(&w->xtotal, w->xgen.seq, memory_order_relaxed);
    pthread_barrier_wait(&g_run.barrier);
    worker_t *pusher = g_run.workers[(w->idx + 1) % g_run.o.threads];
    if (w->victim) {
        w->victim->x_expected =
            atomic_load_explicit(&pusher->xtotal, memory_order_relaxed);
        w->victim->deadline = w->now + g_run.o.grace;
    }
}

static void publish(worker_t *w, uint64_t beat)
{
    pubstats_t *p = &g_run.pub[w->idx];
    atomic_store_explicit(&p->ops, w->ops, memory_order_relaxed);
    atomic_store_explicit(&p->bytes, w->bytes, memory_order_relaxed);
    atomic_store_explicit(&p->opened, w->opened, memory_order_relaxed);
    atomic_store_explicit(&p->alive, (uint64_t)w->alive, memory_order_relaxed);
    atomic_store_explicit(&p->beat, beat, memory_order_relaxed);
}

void *worker_main(void *arg)
{
    worker_t *w = arg;
    const stress_opts_t *o = &g_run.o;
    tls_w = w;
    w->now = stress_now();
    if (o->mode == MODE_SHARED_MAP) {
        w->map = g_run.shared_map;
    } else if ((w->idx & 1) && (IMPL->caps & ACC_CAP_DEFAULT_MAP) &&
               IMPL->map_default) {
        /* Odd threads use their own thread's default map: it must be
         * theirs alone (ownership.md rule 2). */
        w->map = IMPL->map_default();
        if (w->map == NULL)
            stress_harness("map_default returned NULL");
        w->default_map = 1;
    } else {
        int rc = IMPL->map_new(&w->map);
        if (rc < 0)
            stress_harness("map_new: %s", errname(rc));
    }
    listeners_open(w);
    if (o->mode == MODE_CROSS_PUSH) {
        chan_open(w, 0, OPEN_VICTIM);
        w->victim = w->slot[0];
        w->victim_ch = w->victim->ch;
        pthread_barrier_wait(&g_run.barrier);
        worker_t *owner = g_run.workers[(w->idx + o->threads - 1) %
                                        o->threads];
        w->xch = owner->victim_ch;
        w->xgen.uid = owner->victim->uid;
        w->xgen.src = 1;
    }
    uint64_t beat = 0;
    int finished = 0;
    for (;;) {
        w->now = stress_now();
        w->activity = 0;
        if (!finished && o->iterations > 0 && (long)w->opened >= o->iterations) {
            finished = 1;
            atomic_store_explicit(&g_run.pub[w->idx].finished, 1,
                                  memory_order_relaxed);
        }
        if (!w->stopping) {
            int glob = atomic_load_explicit(&g_run.stop, memory_order_relaxed) ||
                       (o->iterations > 0 && finished && everyone_finished());
            if (glob || (finished && o->mode != MODE_CROSS_PUSH))
                begin_stop(w);
        }
        for (int i = 0; i < w->nslot; i++) {
            chan_t *c = w->slot[i];
            if (c == NULL) {
                if (!w->stopping && !finished && i != w->nslot - 1)
                    chan_open(w, i, 0);
                continue;
            }
            chan_step(c);
            if (w->slot[i] == c && c->victim && c->step == 2 &&
                !c->impl_open && c->pfd < 0 && c->closes == 1)
                c->victim = 0; /* drained and closed: reap like the rest */
            if (chan_finished(c))
                chan_reap(w, i);
        }
        raw_accept(w);
        cross_push(w);
        int rc = IMPL->poll(w->map, o->backend, w->activity ? 0 : 1);
        if (rc < 0) {
            if (rc == -EBUSY && o->mode == MODE_SHARED_MAP)
                ; /* another thread is in a pass of the shared map */
            else if (rc == -ERANGE)
                stress_harness("the %s backend got an fd >= FD_SETSIZE",
                               o->backend);
            else
                stress_violation(w->idx, "poll returned %s", errname(rc));
        }
        publish(w, ++beat);
        if (w->stopping && w->alive == 0)
            break;
    }
    listeners_close(w);
    if (o->mode != MODE_SHARED_MAP) {
        if (IMPL->map_size) {
            long n = IMPL->map_size(w->map);
            if (n != 0)
                stress_violation(w->idx, "the map still holds %ld channels "
                                 "after every channel was closed", n);
        }
        if (!w->default_map)
            IMPL->map_free(w->map); /* a default map goes with its thread */
    }
    w->map = NULL;
    publish(w, ++beat);
    atomic_store_explicit(&g_run.pub[w->idx].done, 1, memory_order_relaxed);
    return NULL;
}
