/* fuzz_loop.c: fuzzes the loop and the map: chats and plain dispatchers on
 * AF_UNIX socketpairs in one map, driven by an op interpreter that can also
 * run an op from inside the next callback (close or free this or another
 * channel, reuse a descriptor, nest a pass).  It checks the L and D
 * clauses' invariants and that no descriptor is left open at the end.
 *
 * Input: at most OPS_MAX ops; an op byte O (code O & 15, flag O >> 4 & 1,
 * slot O >> 5) and its arguments; missing bytes read as 0:
 *   0 chat in SLOT, config byte     1 plain dispatcher in SLOT, config byte
 *   2 close SLOT                    3 free SLOT
 *   4 peer sends (byte & 63) bytes  5 peer shutdown(SHUT_WR)
 *   6 peer closes                   7 peer reads what it can
 *   8 push (byte & 63) bytes        9 close_when_done
 *  10 discard_buffers              11 a pass (flag: select, else poll)
 *  12 close_all                    13 exit request (flag: a nested loop,
 *                                     on select)
 *     A pass (11, or 13 with its flag) has no slot: slot 3 there picks
 *     epoll instead (Linux), the backend whose kernel-side registrations
 *     outlive a close and can report a stale event on a reused number.
 *     Slot 3 is the one value the corpus of the two-backend harness used
 *     least, so its inputs keep their backends.
 *  14 close SLOT (flag: free it) and at once open a chat in a free slot,
 *     config byte: the new channel usually gets the old descriptor number
 *  15 arm: the next op runs inside the next callback instead of now
 * Chat config: bits 0-1 terminator (none, "\n", "\r\n", count 3 re-armed
 * in found), bits 2-5 read and send size - 1, bit 6 not readable, bit 7
 * input limit 4 with the default handle_error.  Dispatcher config: bits
 * 0-1 writable (never, always, once, always and a last send from inside
 * handle_close), bits 2-5 read size - 1, bit 6 not readable. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "achat.h"
#include "fuzz_common.h"

#define SLOTS 8
#define RECS 32
#define OPS_MAX 64
#define ARMED_MAX 16
#define STREAM_MAX 1024
#define NO_CWD ((size_t)-1)

enum {
    OP_CHAT, OP_DISP, OP_CLOSE, OP_FREE, OP_SEND, OP_SHUT, OP_PEER_CLOSE,
    OP_DRAIN, OP_PUSH, OP_CWD, OP_DISCARD, OP_PASS, OP_CLOSE_ALL, OP_EXIT,
    OP_REUSE, OP_ARM
};

typedef struct {
    int code, flag, slot;
    uint8_t arg;
    const uint8_t *bytes;
    size_t len;
} op_t;

/* One channel's life, as the harness knows it independently of the
 * library: open means registered, dead means no callback may come. */
typedef struct {
    int id, is_chat;
    ac_chat_t *chat;
    ac_disp_t *disp;
    int peer;                 /* our end of the socketpair, -1 once closed */
    int open, dead, freed, closes;
    unsigned reg_pass;        /* registered during this pass (if reg_in) */
    int reg_in;
    int term;                 /* chats: 0 none, 1 \n, 2 \r\n, 3 count 3 */
    int readable, wmode, want_write, limit;
    size_t rsize;
    size_t nsent;
    size_t ngot;              /* how much of sent the channel received
                               * (chats: the terminators counted back in) */
    size_t nout, peer_read;
    size_t cwd_at;            /* nout when close_when_done was queued */
    int peer_shut, peer_closed, peer_eof, in_lossy, out_lossy;
    /* The streams last: a new record clears everything before them. */
    uint8_t sent[STREAM_MAX]; /* peer -> channel */
    uint8_t out[STREAM_MAX];  /* channel -> peer: pushed, or sent */
} rec_t;

static struct {
    ac_map_t *map;
    rec_t recs[RECS];
    int nrecs;
    int slot[SLOTS];
    unsigned pass;
    int in_pass;
    op_t armed[ARMED_MAX];
    int narmed;
    int fds[2 * RECS];
    int nfds;
} g;

static void exec_op(const op_t *op, int inside);

/* ------------------------------------------------------------ helpers -- */

static ac_disp_t *disp_of(rec_t *r)
{
    return r->is_chat ? ac_chat_disp(r->chat) : r->disp;
}

static rec_t *at_slot(int slot)
{
    return g.slot[slot] < 0 ? NULL : &g.recs[g.slot[slot]];
}

/* The rules every callback obeys, whatever it is. */
static void enter(rec_t *r, const char *what)
{
    FUZZ_CHECK(g.in_pass, "%s on channel %d outside a pass (P2: push and "
               "close run no handler)", what, r->id);
    FUZZ_CHECK(!r->dead, "%s on channel %d after it closed (D7)", what,
               r->id);
    FUZZ_CHECK(!(r->reg_in && r->reg_pass == g.pass), "%s on channel %d in "
               "the pass that registered it (L10, L11)", what, r->id);
}

/* The op armed first runs inside this callback. */
static void run_armed(void)
{
    if (g.narmed == 0)
        return;
    op_t op = g.armed[0];
    memmove(&g.armed[0], &g.armed[1], (size_t)--g.narmed * sizeof(op_t));
    exec_op(&op, 1);
}

static void mark_closed(rec_t *r)
{
    r->open = 0;
    r->dead = 1;
}

static uint8_t pattern(const rec_t *r, size_t k)
{
    return (uint8_t)(r->id * 31 + k * 7);
}

/* Bytes the channel received must be the next bytes its peer sent. */
static void received(rec_t *r, const void *p, size_t n, const char *what)
{
    if (r->in_lossy)
        return;
    FUZZ_CHECK(r->ngot + n <= r->nsent &&
                   memcmp(r->sent + r->ngot, p, n) == 0,
               "channel %d: %s of %zu bytes that its peer did not send next",
               r->id, what, n);
    r->ngot += n;
}

/* D4: when only the peer's sending side is shut (so the close can only be
 * end of stream), every byte it sent reached the channel first. */
static void check_drained(const rec_t *r)
{
    if (!r->peer_shut || r->peer_closed || r->cwd_at != NO_CWD ||
        r->in_lossy || r->limit)
        return;
    size_t held = r->is_chat && r->term == 2 ? 1 : 0; /* T12: a held \r */
    FUZZ_CHECK(r->nsent - r->ngot <= held, "channel %d closed with %zu "
               "sent bytes never delivered (D4)", r->id, r->nsent - r->ngot);
}

static void on_close(rec_t *r)
{
    enter(r, "handle_close");
    FUZZ_CHECK(r->closes == 0, "handle_close twice on channel %d (D6)",
               r->id);
    r->closes = 1;
    check_drained(r);
    run_armed();
    mark_closed(r); /* D6: closed when handle_close returns */
}

/* ------------------------------------------------------ chat callbacks -- */

static void chat_collect(ac_chat_t *c, const void *data, size_t len,
                         void *ud)
{
    rec_t *r = ud;
    (void)c;
    enter(r, "collect_incoming_data");
    FUZZ_CHECK(len > 0, "empty collect (T4)");
    received(r, data, len, "collect");
    run_armed();
}

static void chat_found(ac_chat_t *c, void *ud)
{
    rec_t *r = ud;
    enter(r, "found_terminator");
    if (r->term == 1)
        received(r, "\n", 1, "terminator");
    else if (r->term == 2)
        received(r, "\r\n", 2, "terminator");
    else if (r->term == 3)
        FUZZ_CHECK(ac_chat_set_count(c, 3) == 0, "set_count in found");
    else
        FUZZ_FAIL("found_terminator without a terminator (T1)");
    run_armed();
}

static void chat_connect(ac_chat_t *c, void *ud)
{
    (void)c;
    FUZZ_FAIL("handle_connect on adopted channel %d", ((rec_t *)ud)->id);
}

static void chat_close(ac_chat_t *c, void *ud)
{
    (void)c;
    on_close(ud);
}

static void chat_error(ac_chat_t *c, int err, void *ud)
{
    rec_t *r = ud;
    (void)c;
    enter(r, "handle_error");
    FUZZ_CHECK(err == AC_ETOOBIG && r->limit, "channel %d: handle_error %d",
               r->id, err);
    r->in_lossy = 1;
    run_armed();
}

static int chat_readable(ac_chat_t *c, void *ud)
{
    rec_t *r = ud;
    (void)c;
    enter(r, "readable");
    return r->readable;
}

static const ac_chat_ops_t chat_ops = {
    chat_collect, chat_found, chat_connect, chat_close, chat_error,
    chat_readable};
/* Input limit with asynchat's default handle_error (which closes). */
static const ac_chat_ops_t chat_ops_default_error = {
    chat_collect, chat_found, chat_connect, chat_close, NULL,
    chat_readable};

/* ------------------------------------------------ dispatcher callbacks -- */

static int disp_readable(ac_disp_t *d, void *ud)
{
    rec_t *r = ud;
    (void)d;
    enter(r, "readable");
    return r->readable;
}

static int disp_writable(ac_disp_t *d, void *ud)
{
    rec_t *r = ud;
    (void)d;
    enter(r, "writable");
    return r->want_write;
}

static void disp_read(ac_disp_t *d, void *ud)
{
    rec_t *r = ud;
    uint8_t buf[16];
    enter(r, "handle_read");
    ssize_t n = ac_disp_recv(d, buf, r->rsize);
    /* Nobody else reads this socket, so a read event with nothing to read
     * and no end of stream is an event meant for someone else (L11). */
    FUZZ_CHECK(n != -EAGAIN, "channel %d: read event without input (a "
               "stale event?)", r->id);
    FUZZ_CHECK(n >= 0, "channel %d: recv failed: %d", r->id, (int)n);
    if (n > 0)
        received(r, buf, (size_t)n, "recv");
    else
        FUZZ_CHECK(r->closes == 1, "recv reported the end without "
                   "handle_close (D11)");
    run_armed();
}

static void disp_write(ac_disp_t *d, void *ud)
{
    rec_t *r = ud;
    uint8_t buf[4];
    enter(r, "handle_write");
    size_t k = 1 + (size_t)r->id % 4;
    if (r->wmode == 2)
        r->want_write = 0;
    if (r->nout + k <= STREAM_MAX) {
        for (size_t i = 0; i < k; i++)
            buf[i] = pattern(r, r->nout + i);
        ssize_t n = ac_disp_send(d, buf, k);
        if (n > 0) {
            memcpy(r->out + r->nout, buf, (size_t)n);
            r->nout += (size_t)n;
        }
        else if (n < 0) /* a disconnect: handle_close has run (D12) */
            FUZZ_CHECK(r->closes == 1, "channel %d: send failed: %d",
                       r->id, (int)n);
    }
    run_armed();
}

static void disp_close(ac_disp_t *d, void *ud)
{
    rec_t *r = ud;
    if (r->wmode == 3 && !r->dead && r->closes == 0) {
        /* A last word from inside handle_close: if the peer is gone, the
         * send fails with a disconnect, which must not start a second
         * handle_close (D6). */
        enter(r, "handle_close");
        r->closes = 1;
        ssize_t n = ac_disp_send(d, "z", 1);
        r->closes = 0;
        if (n > 0 && r->nout < STREAM_MAX)
            r->out[r->nout++] = 'z';
        /* That disconnect closes the channel at once, as a close() from
         * inside handle_close would: it is no longer registered. */
        if (ac_disp_closed(d))
            r->open = 0;
    }
    on_close(r);
}

static void disp_error(ac_disp_t *d, int err, void *ud)
{
    (void)d;
    FUZZ_FAIL("channel %d: handle_error %d", ((rec_t *)ud)->id, err);
}

static void disp_unexpected(ac_disp_t *d, void *ud)
{
    (void)d;
    FUZZ_FAIL("channel %d: handle_connect or handle_expt on a socketpair",
              ((rec_t *)ud)->id);
}

static void disp_accept(ac_disp_t *d, int fd, const struct sockaddr *a,
                        socklen_t l, void *ud)
{
    (void)d, (void)fd, (void)a, (void)l;
    FUZZ_FAIL("channel %d: handle_accept", ((rec_t *)ud)->id);
}

static const ac_ops_t disp_ops = {
    disp_readable, disp_writable, disp_read, disp_write, disp_unexpected,
    disp_accept, disp_close, disp_error, disp_unexpected};

/* ---------------------------------------------------------------- ops -- */

static int free_slot(void)
{
    for (int s = 0; s < SLOTS; s++)
        if (g.slot[s] < 0)
            return s;
    return -1;
}

/* A new channel on a fresh socketpair, the channel's end adopted. */
static void open_channel(int slot, int chat, uint8_t cfg)
{
    if (slot < 0 || g.slot[slot] >= 0 || g.nrecs == RECS)
        return;
    int sv[2];
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0,
               "socketpair: %d", errno);
    FUZZ_CHECK(fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0, "fcntl");
    g.fds[g.nfds++] = sv[0];
    g.fds[g.nfds++] = sv[1];
    rec_t *r = &g.recs[g.nrecs];
    memset(r, 0, offsetof(rec_t, sent));
    r->id = g.nrecs;
    r->is_chat = chat;
    r->peer = sv[1];
    r->cwd_at = NO_CWD;
    r->readable = !(cfg & 0x40);
    r->rsize = 1 + ((cfg >> 2) & 15);
    int rc;
    if (chat) {
        r->term = cfg & 3;
        r->limit = (cfg >> 7) & 1;
        rc = ac_chat_new(&r->chat, g.map, r->limit ? &chat_ops_default_error
                                                   : &chat_ops, r);
        FUZZ_CHECK(rc == 0, "chat_new: %d", rc);
        static const char *const terms[] = {"", "\n", "\r\n"};
        if (r->term < 3)
            rc = ac_chat_set_terminator(r->chat, terms[r->term],
                                        strlen(terms[r->term]));
        else
            rc = ac_chat_set_count(r->chat, 3);
        FUZZ_CHECK(rc == 0, "set terminator");
        FUZZ_CHECK(ac_chat_set_buffer_sizes(r->chat, r->rsize, r->rsize) == 0,
                   "buffer sizes");
        if (r->limit)
            FUZZ_CHECK(ac_chat_set_input_limit(r->chat, 4) == 0, "limit");
    } else {
        r->wmode = cfg & 3;
        r->want_write = r->wmode != 0;
        rc = ac_disp_new(&r->disp, g.map, &disp_ops, r);
        FUZZ_CHECK(rc == 0, "disp_new: %d", rc);
    }
    rc = ac_disp_adopt(disp_of(r), sv[0]);
    FUZZ_CHECK(rc == 0, "adopt fd %d: %d", sv[0], rc);
    FUZZ_CHECK(ac_disp_connected(disp_of(r)), "a socketpair end has a peer");
    r->open = 1;
    r->reg_pass = g.pass;
    r->reg_in = g.in_pass;
    g.slot[slot] = g.nrecs++;
}

static void close_rec(rec_t *r)
{
    int rc = ac_disp_close(disp_of(r));
    FUZZ_CHECK(rc == (r->open ? 0 : -EBADF), "close on channel %d (%s): %d "
               "(D8)", r->id, r->open ? "open" : "closed", rc);
    mark_closed(r);
}

static void free_rec(int slot)
{
    rec_t *r = at_slot(slot);
    if (r->is_chat)
        ac_chat_free(r->chat);
    else
        ac_disp_free(r->disp);
    mark_closed(r);
    r->freed = 1;
    g.slot[slot] = -1;
}

static void peer_drain(rec_t *r)
{
    uint8_t buf[512];
    while (r->peer >= 0 && !r->peer_eof) {
        ssize_t n = recv(r->peer, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno == ECONNRESET)) {
            /* A channel closed with unread input resets the connection
             * (AF_UNIX and TCP alike): after the queued bytes, the peer
             * sees ECONNRESET instead of a clean end; both are the end. */
            r->peer_eof = 1;
        } else if (n < 0) {
            FUZZ_CHECK(errno == EAGAIN, "peer recv: %d", errno);
            return;
        } else if (!r->out_lossy) {
            /* P3: the peer receives what was queued, in order. */
            for (ssize_t i = 0; i < n; i++)
                FUZZ_CHECK(r->peer_read + (size_t)i < r->nout &&
                               buf[i] == r->out[r->peer_read + (size_t)i],
                           "channel %d: peer received byte %zu wrong or "
                           "unqueued (P3)", r->id, r->peer_read + (size_t)i);
            r->peer_read += (size_t)n;
        }
    }
}

static void op_send(rec_t *r, const op_t *op)
{
    if (r->peer < 0 || r->peer_shut || r->nsent + op->len > STREAM_MAX)
        return;
    ssize_t n = send(r->peer, op->bytes, op->len,
                     MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
        memcpy(r->sent + r->nsent, op->bytes, (size_t)n);
        r->nsent += (size_t)n;
    }
}

static void op_push(rec_t *r, const op_t *op)
{
    int want = !r->open ? -EBADF : r->cwd_at != NO_CWD ? -EPIPE : 0;
    if (r->nout + op->len > STREAM_MAX)
        return;
    int rc = ac_chat_push(r->chat, op->bytes, op->len);
    FUZZ_CHECK(rc == want, "push on channel %d: %d, expected %d (P7, P8)",
               r->id, rc, want);
    if (rc == 0) {
        memcpy(r->out + r->nout, op->bytes, op->len);
        r->nout += op->len;
    }
}

static void op_cwd(rec_t *r)
{
    int want = !r->open ? -EBADF : r->cwd_at != NO_CWD ? -EPIPE : 0;
    int rc = ac_chat_close_when_done(r->chat);
    FUZZ_CHECK(rc == want, "close_when_done on channel %d: %d, expected %d",
               r->id, rc, want);
    if (rc == 0)
        r->cwd_at = r->nout;
}

#define EPOLL_SLOT 3

static const ac_backend_t *pass_backend(const op_t *op)
{
#ifdef __linux__
    if (op->slot == EPOLL_SLOT)
        return &ac_backend_epoll;
#endif
    return op->flag ? &ac_backend_select : &ac_backend_poll;
}

static void op_pass(const op_t *op, int inside)
{
    const ac_backend_t *b = pass_backend(op);
    if (inside) { /* L14: no nested pass on the same map */
        int rc = op->code == OP_EXIT ? ac_loop(g.map, 0, b, 2)
                                     : ac_poll(g.map, 0, b);
        FUZZ_CHECK(rc == -EBUSY, "nested pass returned %d (L14)", rc);
        return;
    }
    g.pass++;
    g.in_pass = 1;
    int rc = op->code == OP_EXIT ? ac_loop(g.map, 0, b, 1)
                                 : ac_poll(g.map, 0, b);
    g.in_pass = 0;
    FUZZ_CHECK(rc >= 0, "pass failed: %d", rc);
}

static void exec_op(const op_t *op, int inside)
{
    rec_t *r = at_slot(op->slot);
    switch (op->code) {
    case OP_CHAT: open_channel(op->slot, 1, op->arg); break;
    case OP_DISP: open_channel(op->slot, 0, op->arg); break;
    case OP_CLOSE: if (r) close_rec(r); break;
    case OP_FREE: if (r) free_rec(op->slot); break;
    case OP_SEND: if (r) op_send(r, op); break;
    case OP_SHUT:
        if (r && r->peer >= 0 && !r->peer_shut) {
            shutdown(r->peer, SHUT_WR);
            r->peer_shut = 1;
        }
        break;
    case OP_PEER_CLOSE:
        if (r && r->peer >= 0) {
            close(r->peer);
            r->peer = -1;
            r->peer_closed = 1;
        }
        break;
    case OP_DRAIN: if (r) peer_drain(r); break;
    case OP_PUSH: if (r && r->is_chat) op_push(r, op); break;
    case OP_CWD: if (r && r->is_chat) op_cwd(r); break;
    case OP_DISCARD:
        if (r && r->is_chat) {
            FUZZ_CHECK(ac_chat_discard_buffers(r->chat) == 0, "discard");
            /* Unsent output and held input are gone: the streams are no
             * longer predictable from here on. */
            r->out_lossy = r->in_lossy = 1;
            r->cwd_at = NO_CWD;
        }
        break;
    case OP_PASS: op_pass(op, inside); break;
    case OP_CLOSE_ALL: {
        int open = 0;
        for (int i = 0; i < g.nrecs; i++)
            open += g.recs[i].open;
        int rc = ac_map_close_all(g.map);
        FUZZ_CHECK(rc == open, "close_all closed %d of %d (M8)", rc, open);
        for (int i = 0; i < g.nrecs; i++)
            if (g.recs[i].open)
                mark_closed(&g.recs[i]);
        break;
    }
    case OP_EXIT:
        if (op->flag)
            op_pass(op, inside);
        else
            FUZZ_CHECK(ac_map_exit(g.map) == 0, "exit");
        break;
    case OP_REUSE:
        if (r && op->flag)
            free_rec(op->slot);
        else if (r && r->open)
            close_rec(r);
        open_channel(free_slot(), 1, op->arg);
        break;
    }
}

static void decode_op(fuzz_in_t *in, op_t *op)
{
    uint8_t o = fuzz_u8(in);
    memset(op, 0, sizeof(*op));
    op->code = o & 15;
    op->flag = (o >> 4) & 1;
    op->slot = o >> 5;
    switch (op->code) {
    case OP_CHAT: case OP_DISP: case OP_REUSE:
        op->arg = fuzz_u8(in);
        break;
    case OP_SEND: case OP_PUSH:
        op->bytes = fuzz_bytes(in, fuzz_u8(in) & 63, &op->len);
        break;
    }
}

/* Between ops: the map holds exactly the channels the harness believes
 * open, and every handle agrees about its own state. */
static void check_map(void)
{
    size_t open = 0;
    for (int i = 0; i < g.nrecs; i++) {
        rec_t *r = &g.recs[i];
        open += (size_t)r->open;
        if (!r->freed)
            FUZZ_CHECK(ac_disp_closed(disp_of(r)) == !r->open,
                       "channel %d: closed %d, expected %d (D6, D8)", r->id,
                       ac_disp_closed(disp_of(r)), !r->open);
    }
    FUZZ_CHECK(ac_map_size(g.map) == open, "map holds %zu channels, "
               "expected %zu", ac_map_size(g.map), open);
}

/* P6: with the peer never shut nor closed and no input limit, only the
 * close marker can have closed the channel: the peer then got every byte
 * queued before it, then end of stream. */
static void check_close_when_done(rec_t *r)
{
    if (r->cwd_at == NO_CWD || r->closes == 0 || r->out_lossy ||
        r->peer_shut || r->peer_closed || r->limit)
        return;
    peer_drain(r);
    FUZZ_CHECK(r->peer_read == r->cwd_at && r->peer_eof,
               "channel %d: close_when_done: the peer got %zu of %zu bytes "
               "(eof %d) (P6)", r->id, r->peer_read, r->cwd_at, r->peer_eof);
}

static void teardown(int free_first)
{
    for (int i = 0; i < g.nrecs; i++)
        check_close_when_done(&g.recs[i]);
    if (!free_first)
        FUZZ_CHECK(ac_map_free(g.map) == 0, "map_free");
    for (int s = 0; s < SLOTS; s++)
        if (g.slot[s] >= 0)
            free_rec(s);
    if (free_first)
        FUZZ_CHECK(ac_map_free(g.map) == 0, "map_free");
    for (int i = 0; i < g.nrecs; i++)
        if (g.recs[i].peer >= 0)
            close(g.recs[i].peer);
    /* No descriptor leaks: every one this input created is closed now. */
    for (int i = 0; i < g.nfds; i++)
        FUZZ_CHECK(fcntl(g.fds[i], F_GETFD) == -1 && errno == EBADF,
                   "descriptor %d left open", g.fds[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size, 0};
    g.nrecs = g.narmed = g.nfds = 0;
    g.pass = 0;
    g.in_pass = 0;
    for (int s = 0; s < SLOTS; s++)
        g.slot[s] = -1;
    FUZZ_CHECK(ac_map_new(&g.map) == 0, "map_new");
    int free_first = size > 0 && (data[0] & 1);
    for (int n = 0; n < OPS_MAX && fuzz_left(&in) > 0; n++) {
        op_t op;
        decode_op(&in, &op);
        if (op.code == OP_ARM) {
            decode_op(&in, &op);
            if (op.code != OP_ARM && g.narmed < ARMED_MAX)
                g.armed[g.narmed++] = op;
        } else {
            exec_op(&op, 0);
        }
        check_map();
    }
    /* Let what is queued and pending settle, then tear down. */
    g.narmed = 0;
    for (int i = 0; i < 4 && ac_map_size(g.map) > 0; i++) {
        exec_op(&(op_t){.code = OP_PASS, .flag = i & 1}, 0);
        check_map();
    }
    teardown(free_first);
    g.map = NULL;
    return 0;
}
