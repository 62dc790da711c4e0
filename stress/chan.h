/* chan.h: the insides of a worker thread that its files share: the
 * channel record (both stream directions, its ending), the thread's own
 * state, and chan.c's way of reporting a finding about a channel. */
#ifndef STRESS_CHAN_H
#define STRESS_CHAN_H

#include <netinet/in.h>
#include <stdint.h>

#include "rng.h"
#include "run.h"

#define CHAN_MAGIC 0x5354524Du /* live channel context */
#define DEAD_MAGIC 0x44454144u /* reaped, kept in quarantine */
#define QUAR 256               /* reaped contexts kept to catch late events */
#define BUFSZ (128 * 1024)
#define UP_HDR 16
#define UP_MAX_REC 16384       /* longest up-stream record payload */
#define UP_WINDOW (256 * 1024) /* pushed but not yet received by the peer */
#define TERM_MAX 64
#define MAX_WAIT_ACCEPT 8      /* pending connects to the implementation */

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

/* The worker whose loop runs on this thread: a callback must be for one of
 * its channels (cb_chan). */
extern _Thread_local worker_t *tls_w;

#define IMPL (g_run.impl)

const char *kind_name(int k);
const char *errname(int e);
/* Ends the run naming the channel: every violation message says which
 * channel, of which kind, on which thread, in which phase. */
_Noreturn void cfail(const chan_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
chan_t *cb_chan(void *ctx, const char *what);
void chan_free_impl(chan_t *c);
void chan_quarantine(worker_t *w, chan_t *c);
int machine_fault(int rc);
void adopt_failed(chan_t *c, int rc, const char *what);

#endif /* STRESS_CHAN_H */
