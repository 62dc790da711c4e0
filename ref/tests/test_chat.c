/* test_chat.c: the chat layer over real sockets on every backend: framing
 * across read boundaries, terminator changes and closes inside callbacks
 * (CQ11), the output queue (copies, producers, close_when_done, partial
 * sends), the input limit, half-close (CD23) and connect-time pushes (CQ7). */
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>

#include "check_util.h"

#define FDS_BEGIN() const int fds_at_start = open_fds()
#define FDS_END() ck_assert_int_eq(open_fds(), fds_at_start)

/* What found_terminator does. */
enum { F_LOG, F_ECHO, F_SWITCH, F_CLOSE, F_FREE };

typedef struct {
    evlog_t log;
    int log_collect;    /* log collects as c(...) */
    char rec[4096];     /* the current record */
    size_t reclen;
    size_t collected;   /* all bytes collected */
    int mode;
    int step;
    int founds, closes, errors, connects, last_err;
    const char *greeting; /* pushed from handle_connect */
} crec_t;

static void c_collect(ac_chat_t *c, const void *data, size_t len, void *ud)
{
    (void)c;
    crec_t *r = ud;
    if (r->log_collect)
        evlog_bytes(&r->log, "c", data, len);
    ck_assert_uint_le(r->reclen + len, sizeof(r->rec));
    memcpy(r->rec + r->reclen, data, len);
    r->reclen += len;
    r->collected += len;
}

static void c_found(ac_chat_t *c, void *ud)
{
    crec_t *r = ud;
    r->founds++;
    evlog_add(&r->log, "F");
    switch (r->mode) {
    case F_ECHO:
        ck_assert_int_eq(ac_chat_push(c, r->rec, r->reclen), 0);
        ck_assert_int_eq(ac_chat_push(c, "\r\n", 2), 0);
        break;
    case F_SWITCH: /* a header line, a 4-byte body, a header line again */
        if (r->step++ % 2 == 0)
            ck_assert_int_eq(ac_chat_set_count(c, 4), 0);
        else
            ck_assert_int_eq(ac_chat_set_terminator(c, "\r\n", 2), 0);
        break;
    case F_CLOSE:
        ck_assert_int_eq(ac_disp_close(ac_chat_disp(c)), 0);
        break;
    case F_FREE:
        ac_chat_free(c);
        break;
    default:
        break;
    }
    r->reclen = 0;
}

static void c_connect(ac_chat_t *c, void *ud)
{
    crec_t *r = ud;
    r->connects++;
    evlog_add(&r->log, "CONNECT");
    if (r->greeting)
        ck_assert_int_eq(ac_chat_push(c, r->greeting,
                                      strlen(r->greeting)), 0);
}

static void c_close(ac_chat_t *c, void *ud)
{
    (void)c;
    crec_t *r = ud;
    r->closes++;
    evlog_add(&r->log, "CLOSE");
}

static void c_error(ac_chat_t *c, int err, void *ud)
{
    (void)c;
    crec_t *r = ud;
    char item[32];
    r->errors++;
    r->last_err = err;
    snprintf(item, sizeof(item), "ERR(%d)", err);
    evlog_add(&r->log, item);
}

static const ac_chat_ops_t chat_ops = {
    .collect_incoming_data = c_collect, .found_terminator = c_found,
    .handle_connect = c_connect, .handle_close = c_close,
    .handle_error = c_error};

/* The same with the default handle_error (handle_close). */
static const ac_chat_ops_t chat_ops_default_error = {
    .collect_incoming_data = c_collect, .found_terminator = c_found,
    .handle_connect = c_connect, .handle_close = c_close};

/* A chat in map over one end of a new socketpair; *peer is the other. */
static ac_chat_t *chat_pair(ac_map_t *map, const ac_chat_ops_t *ops,
                            crec_t *r, int *peer)
{
    int sv[2];
    make_pair(sv);
    ac_chat_t *c;
    ck_assert_int_eq(ac_chat_new(&c, map, ops, r), 0);
    ck_assert_int_eq(ac_disp_adopt(ac_chat_disp(c), sv[0]), 0);
    ck_assert_int_eq(ac_disp_connected(ac_chat_disp(c)), 1);
    *peer = sv[1];
    return c;
}

/* Runs passes and reads the peer (bounded) until want bytes arrived. */
static size_t pump(ac_map_t *map, const ac_backend_t *b, int peer,
                   char *out, size_t want)
{
    size_t got = 0;
    for (int i = 0; i < 500 && got < want; i++) {
        got += peer_read(peer, out + got, want - got);
        if (got < want)
            ck_assert_int_ge(ac_poll(map, 20, b), 0);
    }
    return got;
}

/* What the peer sees next within 2 s: "EOF", or what it saw instead, so
 * that a failed assert names it. */
static const char *peer_next(int peer)
{
    struct pollfd p = {peer, POLLIN, 0};
    char c;
    if (poll(&p, 1, 2000) != 1)
        return "nothing within 2 s";
    ssize_t n = recv(peer, &c, 1, MSG_DONTWAIT);
    return n == 0 ? "EOF" : n > 0 ? "a byte of data" : strerror(errno);
}

/* ------------------------------------------------------------- framing */

static const char lines[] = "one\r\ntwo\r\nthree\r\n";

/* Feeds lines to a CRLF echo chat with a pass after each part; parts are
 * split at the offsets in cuts (ascending, ended by the length). */
static void echo_run(const ac_backend_t *b, const size_t *cuts, int ncuts)
{
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    crec_t r = {.mode = F_ECHO};
    int peer;
    ac_chat_t *c = chat_pair(map, &chat_ops, &r, &peer);
    ck_assert_int_eq(ac_chat_set_terminator(c, "\r\n", 2), 0);
    size_t from = 0;
    for (int i = 0; i < ncuts; i++) {
        if (cuts[i] == from)
            continue;
        peer_write(peer, lines + from, cuts[i] - from);
        from = cuts[i];
        ck_assert_int_eq(ac_poll(map, 1000, b), 1);
    }
    char out[64];
    size_t n = pump(map, b, peer, out, sizeof(lines) - 1);
    ck_assert_uint_eq(n, sizeof(lines) - 1);
    ck_assert_mem_eq(out, lines, n);
    ck_assert_int_eq(r.founds, 3);
    ck_assert_uint_eq(ac_chat_pending(c), 0);
    ac_chat_free(c);
    ck_assert_int_eq(ac_map_free(map), 0);
    close(peer);
}

/* _i: way * backends + backend; way 0 1-byte writes, 1 one write, 2 every
 * two-part split. */
START_TEST(test_crlf_echo)
{
    FDS_BEGIN();
    int nb = backend_count();
    const ac_backend_t *b = backend_at(_i % nb);
    const size_t len = sizeof(lines) - 1;
    size_t cuts[sizeof(lines)];
    switch (_i / nb) {
    case 0:
        for (size_t k = 0; k < len; k++)
            cuts[k] = k + 1;
        echo_run(b, cuts, (int)len);
        break;
    case 1:
        cuts[0] = len;
        echo_run(b, cuts, 1);
        break;
    default:
        for (size_t k = 0; k <= len; k++) {
            cuts[0] = k;
            cuts[1] = len;
            echo_run(b, cuts, 2);
        }
    }
    FDS_END();
}
END_TEST

START_TEST(test_count_across_reads)
{
    FDS_BEGIN();
    const ac_backend_t *b = backend_at(_i);
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    crec_t r = {.log_collect = 1};
    int peer;
    ac_chat_t *c = chat_pair(map, &chat_ops, &r, &peer);
    ck_assert_int_eq(ac_chat_set_count(c, 10), 0);
    peer_write(peer, "abcd", 4);
    ck_assert_int_eq(ac_poll(map, 1000, b), 1);
    uint64_t left = 0;
    ck_assert_int_eq(ac_chat_terminator(c, NULL, NULL, &left),
                     AC_TERM_COUNT);
    ck_assert_uint_eq(left, 6);
    peer_write(peer, "efghijKL", 8);
    ck_assert_int_eq(ac_poll(map, 1000, b), 1);
    /* The count reached 0 (NONE) and the rest is collected unframed. */
    ASSERT_LOG(&r.log, "c(abcd) c(efghij) F c(KL)");
    ck_assert_int_eq(ac_chat_terminator(c, NULL, NULL, &left), AC_TERM_NONE);
    ac_chat_free(c);
    ck_assert_int_eq(ac_map_free(map), 0);
    close(peer);
    FDS_END();
}
END_TEST

/* A terminator set inside found_terminator frames the rest of the same
 * read at once (CV35). */
START_TEST(test_terminator_change_in_found)
{
    FDS_BEGIN();
    const ac_backend_t *b = backend_at(_i);
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    crec_t r = {.log_collect = 1, .mode = F_SWITCH};
    int peer;
    ac_chat_t *c = chat_pair(map, &chat_ops, &r, &peer);
    ck_assert_int_eq(ac_chat_set_terminator(c, "\r\n", 2), 0);
    const char in[] = "LEN\r\nbodyREST\r\nabcdtail";
    peer_write(peer, in, sizeof(in) - 1);
    ck_assert_int_eq(ac_poll(map, 1000, b), 1);
    ASSERT_LOG(&r.log, "c(LEN) F c(body) F c(REST) F c(abcd) F c(tail)");
    ac_chat_free(c);
    ck_assert_int_eq(ac_map_free(map), 0);
    close(peer);
    FDS_END();
}
END_TEST

/* CQ11: closing inside found_terminator ends framing of that very read. */
START_TEST(test_close_in_found_stops_framing)
{
    FDS_BEGIN();
    const ac_backend_t *b = backend_at(_i);
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    crec_t r = {.log_collect = 1, .mode = F_CLOSE};
    int peer;
    ac_chat_t *c = chat_pair(map, &chat_ops, &r, &peer);
    ck_assert_int_eq(ac_chat_set_terminator(c, "\n", 1), 0);
    peer_write(peer, "a\nb\nc\n", 6);
    ck_assert_int_eq(ac_poll(map, 1000, b), 1);
    ASSERT_LOG(&r.log, "c(a) F");
    ck_assert_int_eq(ac_disp_closed(ac_chat_disp(c)), 1);
    ck_assert_uint_eq(ac_map_size(map), 0);
    ck_assert_str_eq(peer_next(peer), "EOF");
    ck_assert_int_eq(ac_loop(map, 0, b, 3), 0);
    ASSERT_LOG(&r.log, "c(a) F");
    ac_chat_free(c);
    ck_assert_int_eq(ac_map_free(map), 0);
    close(peer);
    FDS_END();
}
END_TEST

/* Freeing the chat inside found_terminator is safe (memory checked by
 * valgrind and ASan) and also ends the framing. */
START_TEST(test_free_in_found)
{
    FDS_BEGIN();
    const ac_backend_t *b = backend_at(_i);
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    crec_t r = {.log_collect = 1, .mode = F_FREE};
    int peer;
    ac_chat_t *c = chat_pair(map, &chat_ops, &r, &peer);
    ck_assert_int_eq(ac_chat_set_terminator(c, "\n", 1), 0);
    ck_assert_int_eq(ac_chat_push(c, "unsent", 6), 0);
    peer_write(peer, "a\nb\nc\n", 6);
    ck_assert_int_eq(ac_poll(map, 1000, b), 1);
    ASSERT_LOG(&r.log, "c(a) F");
    ck_assert_uint_eq(ac_map_size(map), 0);
    ck_assert_str_eq(peer_next(peer), "EOF");
    ck_assert_int_eq(ac_map_free(map), 0);
    close(peer);
    FDS_END();
}
END_TEST

/* ------------------------------------------------------------- output */

START_TEST(test_push_copies_and_empty_push)
{
    FDS_BEGIN();
    const ac_backend_t *b = backend_at(_i);
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    crec_t r = {0};
    int peer;
    ac_chat_t *c = chat_pair(map, &chat_ops, &r, &peer);
    /* CQ14: empty pushes queue nothing, so the chat is not even writable. */
    ck_assert_int_eq(ac_chat_push(c, "x", 0), 0);
    ck_assert_int_eq(ac_chat_push(c, NULL, 0), 0);
    ck_assert_int_eq(ac_chat_push(c, NULL, 3), -EINVAL);
    ck_assert_uint_eq(ac_chat_pending(c), 0);
    ck_assert_int_eq(ac_poll(map, 0, b), 0);
    /* CQ15: the bytes are copied at push time. */
    char buf[] = "hello";
    ck_assert_int_eq(ac_chat_push(c, buf, 5), 0);
    ck_assert_uint_eq(ac_chat_pending(c), 5);
    memset(buf, 'X', 5);
    char out[8];
    ck_assert_uint_eq(pump(map, b, peer, out, 5), 5);
    ck_assert_mem_eq(out, "hello", 5);
    ck_assert_uint_eq(ac_chat_pending(c), 0);
    ck_assert_int_eq(ac_poll(map, 0, b), 0);
    ac_chat_free(c);
    ck_assert_int_eq(ac_map_free(map), 0);
    close(peer);
    FDS_END();
}
END_TEST

START_TEST(test_close_when_done)
{
    FDS_BEGIN();
    const ac_backend_t *b = backend_at(_i);
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    crec_t r = {0};
    int peer;
    ac_chat_t *c = chat_pair(map, &chat_ops, &r, &peer);
    ck_assert_int_eq(ac_chat_push(c, "hello ", 6), 0);
    ck_assert_int_eq(ac_chat_push(c, "world", 5), 0);
    ck_assert_int_eq(ac_chat_close_when_done(c), 0);
    ck_assert_int_eq(ac_chat_push(c, "late", 4), -EPIPE);
    prod_t p = {.chunks = {"late"}};
    ck_assert_int_eq(ac_chat_push_producer(c, &producer, &p), -EPIPE);
    ck_assert_int_eq(p.released, 1);
    ck_assert_int_eq(ac_chat_close_when_done(c), -EPIPE);
    ck_assert_uint_eq(ac_chat_pending(c), 11);
    ck_assert_int_eq(ac_loop(map, 1000, b, 20), 0);
    ck_assert_uint_eq(ac_map_size(map), 0);
    ASSERT_LOG(&r.log, "CLOSE");
    char out[32];
    ck_assert_uint_eq(peer_read(peer, out, sizeof(out)), 11);
    ck_assert_mem_eq(out, "hello world", 11);
    ck_assert_str_eq(peer_next(peer), "EOF");
    ck_assert_int_eq(ac_chat_push(c, "x", 1), -EBADF);
    ck_assert_int_eq(p.released, 1);
    ac_chat_free(c);
    ck_assert_int_eq(ac_map_free(map), 0);
    close(peer);
    FDS_END();
}
END_TEST

START_TEST(test_producers_interleaved)
{
    FDS_BEGIN();
    const ac_backend_t *b = backend_at(_i);
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    crec_t r = {0};
    int peer;
    ac_chat_t *c = chat_pair(map, &chat_ops, &r, &peer);
    prod_t p1 = {.chunks = {"b1", "", "b2", "b3"}}, p2 = {.chunks = {"d1"}},
           p3 = {.chunks = {NULL}};
    ck_assert_int_eq(ac_chat_push(c, "A", 1), 0);
    ck_assert_int_eq(ac_chat_push_producer(c, &producer, &p1), 0);
    ck_assert_int_eq(ac_chat_push(c, "C", 1), 0);
    ck_assert_int_eq(ac_chat_push_producer(c, &producer, &p3), 0);
    ck_assert_int_eq(ac_chat_push_producer(c, &producer, &p2), 0);
    ck_assert_int_eq(ac_chat_push(c, "E", 1), 0);
    ck_assert_int_eq(ac_chat_close_when_done(c), 0);
    ck_assert_int_eq(ac_loop(map, 1000, b, 50), 0);
    ck_assert_int_eq(r.closes, 1);
    char out[32];
    size_t n = peer_read(peer, out, sizeof(out));
    out[n] = '\0';
    /* An empty chunk before a producer's end is its end (len 0). */
    ck_assert_str_eq(out, "Ab1Cd1E");
    ck_assert_int_eq(p1.released, 1);
    ck_assert_int_eq(p2.released, 1);
    ck_assert_int_eq(p3.released, 1);
    ac_chat_free(c);
    ck_assert_int_eq(p1.released + p2.released + p3.released, 3);
    ck_assert_int_eq(ac_map_free(map), 0);
    close(peer);
    FDS_END();
}
END_TEST

/* Hands out [from, to) of a shared pattern in 100000-byte chunks. */
typedef struct {
    const unsigned char *base;
    size_t from, to;
    int releases;
} span_t;

static int span_more(void *ud, const void **data, size_t *len)
{
    span_t *s = ud;
    size_t n = s->to - s->from < 100000 ? s->to - s->from : 100000;
    *data = s->base + s->from;
    *len = n;
    s->from += n;
    return 0;
}

static void span_release(void *ud)
{
    ((span_t *)ud)->releases++;
}

/* 4 MiB through pushes and a producer to a peer reading 1000 bytes per
 * pass: the socket takes only part of most sends, and the bytes still
 * arrive complete and in order. */
START_TEST(test_slow_reader_gets_everything)
{
    FDS_BEGIN();
    const ac_backend_t *b = backend_at(_i);
    enum { MIB = 1 << 20, TOTAL = 4 * MIB };
    unsigned char *want = malloc(TOTAL), *got = malloc(TOTAL);
    ck_assert_ptr_nonnull(want);
    ck_assert_ptr_nonnull(got);
    for (size_t i = 0; i < TOTAL; i++)
        want[i] = (unsigned char)(i * 131 + (i >> 12));
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    crec_t r = {0};
    int peer;
    ac_chat_t *c = chat_pair(map, &chat_ops, &r, &peer);
    size_t at = 0;
    for (; at < MIB; at += 3000) {
        size_t n = MIB - at < 3000 ? MIB - at : 3000;
        ck_assert_int_eq(ac_chat_push(c, want + at, n), 0);
    }
    span_t sp = {want, MIB, 3 * MIB, 0};
    ac_producer_t spp = {span_more, span_release};
    ck_assert_int_eq(ac_chat_push_producer(c, &spp, &sp), 0);
    for (at = 3 * MIB; at < TOTAL; at += 65536)
        ck_assert_int_eq(ac_chat_push(c, want + at, 65536), 0);
    ck_assert_int_eq(ac_chat_close_when_done(c), 0);

    size_t have = 0;
    for (int i = 0; i < 200000 && have < TOTAL; i++) {
        ck_assert_int_ge(ac_poll(map, 0, b), 0);
        size_t n = TOTAL - have < 1000 ? TOTAL - have : 1000;
        have += peer_read(peer, got + have, n);
    }
    ck_assert_uint_eq(have, TOTAL);
    ck_assert_int_eq(memcmp(got, want, TOTAL), 0);
    ck_assert_int_eq(sp.releases, 1);
    ck_assert_int_eq(ac_loop(map, 1000, b, 10), 0);
    ck_assert_int_eq(r.closes, 1);
    ck_assert_str_eq(peer_next(peer), "EOF");
    ac_chat_free(c);
    ck_assert_int_eq(ac_map_free(map), 0);
    close(peer);
    free(want);
    free(got);
    FDS_END();
}
END_TEST

/* ------------------------------------------------------ limits and ends */

/* An over-long record: handle_error(AC_ETOOBIG) and no byte past the
 * limit delivered.  _i: way * backends + backend; way 0: one write and
 * an own handle_error (the chat goes on), 1: byte by byte and the default
 * handle_error (the chat closes). */
START_TEST(test_input_limit)
{
    FDS_BEGIN();
    int nb = backend_count();
    const ac_backend_t *b = backend_at(_i % nb);
    int bytewise = _i / nb;
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    crec_t r = {.log_collect = 1};
    int peer;
    ac_chat_t *c = chat_pair(map, bytewise ? &chat_ops_default_error :
                             &chat_ops, &r, &peer);
    ck_assert_int_eq(ac_chat_set_terminator(c, "\n", 1), 0);
    ck_assert_int_eq(ac_chat_set_input_limit(c, 10), 0);
    if (!bytewise) {
        const char in[] = "short\nxxxxxxxxxxxxxxxxxxxx\n";
        peer_write(peer, in, sizeof(in) - 1);
        ck_assert_int_eq(ac_poll(map, 1000, b), 1);
        char want[64];
        snprintf(want, sizeof(want), "c(short) F ERR(%d)", AC_ETOOBIG);
        ASSERT_LOG(&r.log, want);
        ck_assert_int_eq(r.last_err, AC_ETOOBIG);
        /* The overflow dropped the buffered input; framing goes on. */
        peer_write(peer, "ok\n", 3);
        ck_assert_int_eq(ac_poll(map, 1000, b), 1);
        snprintf(want, sizeof(want), "c(short) F ERR(%d) c(ok) F",
                 AC_ETOOBIG);
        ASSERT_LOG(&r.log, want);
    } else {
        const char in[] = "abcdefghijklmno\n";
        for (size_t i = 0; i < sizeof(in) - 1 && r.closes == 0; i++) {
            peer_write(peer, in + i, 1);
            ck_assert_int_eq(ac_poll(map, 1000, b), 1);
        }
        ASSERT_LOG(&r.log, "c(a) c(b) c(c) c(d) c(e) c(f) c(g) c(h) c(i) "
                           "c(j) CLOSE");
        ck_assert_str_eq(peer_next(peer), "EOF");
    }
    ac_chat_free(c);
    ck_assert_int_eq(ac_map_free(map), 0);
    close(peer);
    FDS_END();
}
END_TEST

/* CD23: the peer's SHUT_WR reads as the end of the channel.  The read path
 * runs first in the pass, so output still queued is dropped unsent and the
 * peer gets EOF right away. */
START_TEST(test_peer_shut_wr_with_output_pending)
{
    FDS_BEGIN();
    const ac_backend_t *b = backend_at(_i);
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    crec_t r = {0};
    int peer;
    ac_chat_t *c = chat_pair(map, &chat_ops, &r, &peer);
    ck_assert_int_eq(ac_chat_push(c, "pending", 7), 0);
    ck_assert_int_eq(shutdown(peer, SHUT_WR), 0);
    wait_readable(ac_disp_fd(ac_chat_disp(c)));
    ck_assert_int_eq(ac_poll(map, 1000, b), 1);
    ASSERT_LOG(&r.log, "CLOSE");
    ck_assert_int_eq(ac_disp_closed(ac_chat_disp(c)), 1);
    ck_assert_uint_eq(ac_chat_pending(c), 0);
    ck_assert_uint_eq(ac_map_size(map), 0);
    ck_assert_str_eq(peer_next(peer), "EOF");
    ck_assert_int_eq(ac_chat_push(c, "x", 1), -EBADF);
    ck_assert_int_eq(r.closes, 1);
    ac_chat_free(c);
    ck_assert_int_eq(ac_map_free(map), 0);
    close(peer);
    FDS_END();
}
END_TEST

/* CQ7: what handle_connect pushes is the first thing the peer receives,
 * ahead of replies to input that was already waiting. */
START_TEST(test_push_in_handle_connect_goes_first)
{
    FDS_BEGIN();
    const ac_backend_t *b = backend_at(_i);
    struct sockaddr_in a;
    int l = tcp_listener(&a);
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    crec_t r = {.mode = F_ECHO, .greeting = "HELLO\r\n"};
    ac_chat_t *c;
    ck_assert_int_eq(ac_chat_new(&c, map, &chat_ops, &r), 0);
    ck_assert_int_eq(ac_chat_set_terminator(c, "\r\n", 2), 0);
    ac_disp_t *d = ac_chat_disp(c);
    ck_assert_int_eq(ac_disp_create_socket(d, AF_INET, SOCK_STREAM), 0);
    ck_assert_int_eq(ac_disp_connect(d, (struct sockaddr *)&a, sizeof(a)),
                     0);
    ck_assert_int_eq(r.connects, 0);
    int peer = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    ck_assert_int_ge(peer, 0);
    peer_write(peer, "ping\r\n", 6);
    const char want[] = "HELLO\r\nping\r\n";
    char out[32];
    ck_assert_uint_eq(pump(map, b, peer, out, sizeof(want) - 1),
                      sizeof(want) - 1);
    ck_assert_mem_eq(out, want, sizeof(want) - 1);
    ck_assert_int_eq(r.connects, 1);
    ck_assert_int_eq(ac_disp_connected(d), 1);
    ac_chat_free(c);
    ck_assert_int_eq(ac_map_free(map), 0);
    close(peer);
    close(l);
    FDS_END();
}
END_TEST

static Suite *chat_suite(void)
{
    int nb = backend_count();
    Suite *s = suite_create("chat");
    TCase *tc = tcase_create("framing");
    tcase_add_loop_test(tc, test_crlf_echo, 0, 3 * nb);
    tcase_add_loop_test(tc, test_count_across_reads, 0, nb);
    tcase_add_loop_test(tc, test_terminator_change_in_found, 0, nb);
    tcase_add_loop_test(tc, test_close_in_found_stops_framing, 0, nb);
    tcase_add_loop_test(tc, test_free_in_found, 0, nb);
    suite_add_tcase(s, tc);

    tc = tcase_create("output");
    tcase_add_loop_test(tc, test_push_copies_and_empty_push, 0, nb);
    tcase_add_loop_test(tc, test_close_when_done, 0, nb);
    tcase_add_loop_test(tc, test_producers_interleaved, 0, nb);
    tcase_add_loop_test(tc, test_slow_reader_gets_everything, 0, nb);
    suite_add_tcase(s, tc);

    tc = tcase_create("ends");
    tcase_add_loop_test(tc, test_input_limit, 0, 2 * nb);
    tcase_add_loop_test(tc, test_peer_shut_wr_with_output_pending, 0, nb);
    tcase_add_loop_test(tc, test_push_in_handle_connect_goes_first, 0, nb);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(chat_suite());
}
