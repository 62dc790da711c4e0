/* test_proto.c: bad-input tests of the agent protocol's C decoder and pump
 * (agents/common/acc_proto.c): every malformed or out-of-place input is
 * refused with a reason, in bounded time.  libcheck; make agents-check. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "acc_common.h"
#include "acc_proto.h"

/* ------------------------------------------------------------ helpers -- */

/* Parses one line; returns 0 or -1 and leaves the reason in err. */
static int parse(const char *line, accp_msg_t *m, char *err, size_t cap)
{
    memset(m, 0, sizeof(*m));
    m->len = strlen(line);
    m->line = strdup(line);
    return accp_parse(m, err, cap);
}

static void parse_bad(const char *line, const char *why)
{
    accp_msg_t m;
    char err[256] = "";
    int rc = parse(line, &m, err, sizeof(err));
    ck_assert_msg(rc < 0, "accepted bad line \"%s\"", line);
    ck_assert_msg(strstr(err, why) != NULL, "line \"%s\": reason \"%s\" lacks \"%s\"",
                  line, err, why);
    accp_msg_free(&m);
}

/* A connection fed from memory: no socket, so end of input is "truncated". */
static void feed_conn(accp_conn_t *c, const void *p, size_t n)
{
    accp_conn_init(c, -1);
    ck_assert_int_eq(accp_feed(c, p, n), 0);
}

/* A connection over a socketpair; *peer is the fake agent's end. */
static void pair_conn(accp_conn_t *c, int *peer, int timeout_ms)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    accp_conn_init(c, sv[0]);
    c->timeout_ms = timeout_ms;
    *peer = sv[1];
}

static void peer_says(int peer, const char *s)
{
    size_t n = strlen(s);
    ck_assert_int_eq(send(peer, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Sends s with a descriptor attached to its first byte. */
static void peer_says_fd(int peer, const char *s, int fd)
{
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    memset(&ctl, 0, sizeof(ctl));
    struct iovec iov = {(void *)s, strlen(s)};
    struct msghdr mh = {0};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.buf;
    mh.msg_controllen = sizeof(ctl.buf);
    struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(h), &fd, sizeof(int));
    ck_assert_int_eq(sendmsg(peer, &mh, MSG_NOSIGNAL), (ssize_t)strlen(s));
}

static int call_fails(accp_conn_t *c, const char *why)
{
    accp_msg_t r;
    int rc = accp_call(c, "poll m1 select 0", 16, -1, &r, 0);
    ck_assert_msg(rc < 0, "the call succeeded");
    ck_assert_msg(strstr(c->err, why) != NULL, "reason \"%s\" lacks \"%s\"", c->err, why);
    return 0;
}

/* ------------------------------------------------------ good input -- */

START_TEST(t_escape_roundtrip)
{
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    accp_buf_t b;
    accp_buf_init(&b);
    accp_put_bytes(&b, all, sizeof(all));
    for (size_t i = 0; i < b.n; i++)
        ck_assert_msg(b.p[i] > 0x20 && b.p[i] < 0x7f, "raw byte 0x%02x on the wire",
                      (unsigned char)b.p[i]);
    unsigned char *out;
    size_t n;
    ck_assert_int_eq(accp_tok_bytes(b.p, &out, &n), 0);
    ck_assert_uint_eq(n, 256);
    ck_assert_mem_eq(out, all, 256);
    accp_buf_free(&b);
    char empty[] = "=";
    ck_assert_int_eq(accp_tok_bytes(empty, &out, &n), 0);
    ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(t_parse_good)
{
    accp_msg_t m;
    char err[256];
    ck_assert_int_eq(parse("Q 7 push c1 =a%20b", &m, err, sizeof(err)), 0);
    ck_assert_int_eq(m.kind, 'Q');
    ck_assert_uint_eq(m.seq, 7);
    ck_assert_int_eq(m.ntok, 3);
    ck_assert_str_eq(m.tok[0], "push");
    accp_msg_free(&m);
    ck_assert_int_eq(parse("R 9223372036854775807 -EPIPE", &m, err, sizeof(err)), 0);
    long rc;
    ck_assert_int_eq(accp_tok_rc(m.tok[0], &rc), 0);
    ck_assert_int_eq(rc, -EPIPE);
    accp_msg_free(&m);
    ck_assert_int_eq(parse("N gone c3", &m, err, sizeof(err)), 0);
    ck_assert_int_eq(m.kind, 'N');
    accp_msg_free(&m);
    ck_assert_int_eq(parse("Q 1 chat_adopt c1 m1 @ fd=5", &m, err, sizeof(err)), 0);
    ck_assert_int_eq(m.nfds, 1);
    accp_msg_free(&m);
}
END_TEST

/* Requests from the peer while we wait are served, nested, and the reply
 * then ends the call. */
static int served;
static int serve_one(accp_conn_t *c, accp_msg_t *q)
{
    served++;
    return accp_reply(c, q, "0", 1, -1);
}

START_TEST(t_pump_nested)
{
    accp_conn_t c;
    int peer;
    pair_conn(&c, &peer, 2000);
    c.serve = serve_one;
    peer_says(peer, "Q 1 found c1\nQ 2 collect c1 =abc\nR 1 0\n");
    accp_msg_t r;
    ck_assert_int_eq(accp_call(&c, "poll m1 select 0", 16, -1, &r, 0), 0);
    ck_assert_int_eq(served, 2);
    accp_msg_free(&r);
    char buf[256];
    ssize_t k = recv(peer, buf, sizeof(buf) - 1, MSG_DONTWAIT);
    ck_assert_int_gt(k, 0);
    buf[k] = '\0';
    ck_assert_str_eq(buf, "Q 1 poll m1 select 0\nR 1 0\nR 2 0\n");
    close(peer);
    accp_conn_free(&c);
}
END_TEST

START_TEST(t_fd_roundtrip)
{
    accp_conn_t c;
    int peer, sv[2];
    pair_conn(&c, &peer, 2000);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    peer_says(peer, "N gone c1\n");
    peer_says_fd(peer, "R 1 0 @\n", sv[0]);
    accp_msg_t m;
    ck_assert_int_eq(accp_read(&c, &m, 1000), 0);
    ck_assert_int_eq(m.nfds, 0);
    accp_msg_free(&m);
    ck_assert_int_eq(accp_read(&c, &m, 1000), 0);
    ck_assert_int_eq(m.nfds, 1);
    ck_assert_int_ge(m.fds[0], 0);
    ck_assert_int_eq(send(m.fds[0], "x", 1, 0), 1); /* the same socket */
    char b;
    ck_assert_int_eq(recv(sv[1], &b, 1, 0), 1);
    accp_msg_free(&m);
    close(sv[0]), close(sv[1]), close(peer);
    accp_conn_free(&c);
}
END_TEST

/* ------------------------------------------------------- bad lines -- */

START_TEST(t_bad_lines)
{
    parse_bad("Q 1 push c1 =ab%G1", "%-escape");
    parse_bad("Q 1 push c1 =ab%4", "%-escape");
    parse_bad("Q 1 push c1 =ab%", "%-escape");
    parse_bad("Q 1 push\tc1", "byte 0x09");
    parse_bad("Q 1 push c1 =a\rb", "byte 0x0d");
    parse_bad("Q 1 push c1 =\x80", "byte 0x80");
    parse_bad("Q 1  push", "empty token");
    parse_bad(" Q 1 push", "empty token");
    parse_bad("Q 1 push ", "empty token");
    parse_bad("X 1 push", "starts with");
    parse_bad("Q1 push", "starts with");
    parse_bad("", "starts with");
    parse_bad("Q push c1", "sequence number");
    parse_bad("Q 0 push c1", "sequence number");
    parse_bad("Q 01 push c1", "sequence number");
    parse_bad("Q 99999999999999999999 push", "sequence number");
    parse_bad("Q 9223372036854775808 push", "sequence number");
    parse_bad("Q 5", "sequence number");
    parse_bad("R 5 -EFOO", "bad result");
    parse_bad("R 5 -5", "bad result");
    parse_bad("R 5 five", "bad result");
    parse_bad("R 5 007", "bad result");
    parse_bad("Q 5 Push c1", "bad verb");
    parse_bad("Q 5 9push", "bad verb");
    parse_bad("N", "starts with");
    parse_bad("N Gone c1", "bad verb");
    parse_bad("Q 5 x @ @ @ @ @", "descriptors in one message");
}
END_TEST

START_TEST(t_truncated)
{
    accp_conn_t c;
    accp_msg_t m;
    feed_conn(&c, "R 1 0\nR 2 0", 11);
    ck_assert_int_eq(accp_read(&c, &m, 0), 0);
    accp_msg_free(&m);
    ck_assert_int_eq(accp_read(&c, &m, 0), -1);
    ck_assert_msg(strstr(c.err, "truncated") != NULL, "%s", c.err);
    accp_conn_free(&c);
}
END_TEST

START_TEST(t_overlong)
{
    accp_conn_t c;
    accp_msg_t m;
    size_t n = (size_t)ACCP_MAX_LINE + 2;
    char *big = malloc(n);
    ck_assert_ptr_nonnull(big);
    memset(big, 'a', n);
    feed_conn(&c, big, n);
    ck_assert_int_eq(accp_read(&c, &m, 0), -1);
    ck_assert_msg(strstr(c.err, "longer than") != NULL, "%s", c.err);
    accp_conn_free(&c);
    big[n - 1] = '\n'; /* a whole line, one byte too long */
    feed_conn(&c, big, n);
    ck_assert_int_eq(accp_read(&c, &m, 0), -1);
    ck_assert_msg(strstr(c.err, "at most") != NULL, "%s", c.err);
    accp_conn_free(&c);
    free(big);
}
END_TEST

START_TEST(t_bad_tokens)
{
    uint64_t u;
    int64_t i;
    long rc;
    ck_assert_int_eq(accp_tok_u64("18446744073709551615", &u), 0);
    ck_assert_int_eq(accp_tok_u64("18446744073709551616", &u), -1);
    ck_assert_int_eq(accp_tok_u64("", &u), -1);
    ck_assert_int_eq(accp_tok_u64("1x", &u), -1);
    ck_assert_int_eq(accp_tok_i64("-1", &i), 0);
    ck_assert_int_eq(i, -1);
    ck_assert_int_eq(accp_tok_i64("-0", &i), -1);
    ck_assert_int_eq(accp_tok_i64("-9223372036854775809", &i), -1);
    ck_assert_int_eq(accp_tok_rc("-ENOTAREALERRNO", &rc), -1);
    char nobytes[] = "abc";
    unsigned char *p;
    size_t n;
    ck_assert_int_eq(accp_tok_bytes(nobytes, &p, &n), -1);
}
END_TEST

/* ---------------------------------------------- bad conversations -- */

START_TEST(t_wrong_reply_seq)
{
    accp_conn_t c;
    int peer;
    pair_conn(&c, &peer, 2000);
    peer_says(peer, "R 2 0\n");
    call_fails(&c, "reply to request 2 while waiting for the reply to 1");
    close(peer);
    accp_conn_free(&c);
}
END_TEST

START_TEST(t_request_seq_not_increasing)
{
    accp_conn_t c;
    int peer;
    pair_conn(&c, &peer, 2000);
    c.serve = serve_one;
    peer_says(peer, "Q 3 found c1\nQ 3 found c1\nR 1 0\n");
    call_fails(&c, "sequence numbers must increase");
    close(peer);
    accp_conn_free(&c);
}
END_TEST

START_TEST(t_unexpected_request)
{
    accp_conn_t c;
    int peer;
    pair_conn(&c, &peer, 2000);
    peer_says(peer, "Q 1 frobnicate c1\n"); /* no serve hook: nothing is expected */
    call_fails(&c, "unexpected request 'frobnicate'");
    close(peer);
    accp_conn_free(&c);
}
END_TEST

START_TEST(t_fd_missing)
{
    accp_conn_t c;
    int peer;
    pair_conn(&c, &peer, 2000);
    peer_says(peer, "R 1 0 @\n");
    call_fails(&c, "announces 1 descriptor(s) with '@' but 0 came");
    close(peer);
    accp_conn_free(&c);
}
END_TEST

START_TEST(t_fd_unannounced)
{
    accp_conn_t c;
    int peer, sv[2];
    pair_conn(&c, &peer, 2000);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    peer_says_fd(peer, "R 1 0\n", sv[0]);
    call_fails(&c, "but 1 came");
    close(sv[0]), close(sv[1]), close(peer);
    accp_conn_free(&c);
}
END_TEST

/* A descriptor rides on the first byte of the line it belongs to: one that
 * came with a line that does not announce it is refused there, and cannot
 * be claimed by the next line that does. */
START_TEST(t_fd_on_wrong_line)
{
    accp_conn_t c;
    int peer, sv[2];
    pair_conn(&c, &peer, 2000);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    peer_says_fd(peer, "N gone c1", sv[0]);
    peer_says(peer, "\nR 1 0 @\n");
    accp_msg_t m;
    ck_assert_int_eq(accp_read(&c, &m, 1000), -1);
    ck_assert_msg(strstr(c.err, "but 1 came") != NULL, "%s", c.err);
    close(sv[0]), close(sv[1]), close(peer);
    accp_conn_free(&c);
}
END_TEST

START_TEST(t_silent_peer)
{
    accp_conn_t c;
    int peer;
    pair_conn(&c, &peer, 300);
    double t0 = 1e3 * acc_mono_s();
    call_fails(&c, "no message from the peer within 300 ms");
    double el = 1e3 * acc_mono_s() - t0;
    ck_assert_msg(el >= 290 && el < 2000, "gave up after %.0f ms", el);
    close(peer);
    accp_conn_free(&c);
}
END_TEST

START_TEST(t_peer_gone)
{
    accp_conn_t c;
    int peer;
    pair_conn(&c, &peer, 5000);
    peer_says(peer, "Q 1 fou");
    close(peer);
    double t0 = 1e3 * acc_mono_s();
    accp_msg_t m;
    ck_assert_int_eq(accp_read(&c, &m, 5000), -1);
    ck_assert_msg(strstr(c.err, "closed the connection in the middle of a line") != NULL,
                  "%s", c.err);
    ck_assert_msg(1e3 * acc_mono_s() - t0 < 1000, "noticed the end late");
    accp_conn_free(&c);
    /* Gone before our request: the write fails, at once. */
    pair_conn(&c, &peer, 5000);
    close(peer);
    t0 = 1e3 * acc_mono_s();
    call_fails(&c, "writing to the peer");
    ck_assert_msg(1e3 * acc_mono_s() - t0 < 1000, "noticed the end late");
    accp_conn_free(&c);
}
END_TEST

START_TEST(t_garbage)
{
    accp_conn_t c;
    int peer;
    pair_conn(&c, &peer, 2000);
    static const char tls_hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n";
    ck_assert_int_eq(send(peer, tls_hello, sizeof(tls_hello) - 1, 0),
                     (ssize_t)sizeof(tls_hello) - 1);
    call_fails(&c, "malformed line");
    close(peer);
    accp_conn_free(&c);
}
END_TEST

/* Our own sending side is bounded too: a peer that never reads. */
START_TEST(t_peer_not_reading)
{
    accp_conn_t c;
    int peer;
    pair_conn(&c, &peer, 300);
    size_t n = 8u << 20;
    char *big = malloc(n);
    ck_assert_ptr_nonnull(big);
    memset(big, 'a', n);
    double t0 = 1e3 * acc_mono_s();
    ck_assert_int_eq(accp_send_line(&c, big, n, -1), -1);
    ck_assert_msg(strstr(c.err, "read nothing") != NULL, "%s", c.err);
    ck_assert_msg(1e3 * acc_mono_s() - t0 < 3000, "gave up late");
    free(big);
    close(peer);
    accp_conn_free(&c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("agent protocol");
    TCase *good = tcase_create("good input");
    tcase_add_test(good, t_escape_roundtrip);
    tcase_add_test(good, t_parse_good);
    tcase_add_test(good, t_pump_nested);
    tcase_add_test(good, t_fd_roundtrip);
    suite_add_tcase(s, good);
    TCase *bad = tcase_create("bad input");
    tcase_set_timeout(bad, 20);
    tcase_add_test(bad, t_bad_lines);
    tcase_add_test(bad, t_truncated);
    tcase_add_test(bad, t_overlong);
    tcase_add_test(bad, t_bad_tokens);
    tcase_add_test(bad, t_wrong_reply_seq);
    tcase_add_test(bad, t_request_seq_not_increasing);
    tcase_add_test(bad, t_unexpected_request);
    tcase_add_test(bad, t_fd_missing);
    tcase_add_test(bad, t_fd_unannounced);
    tcase_add_test(bad, t_fd_on_wrong_line);
    tcase_add_test(bad, t_silent_peer);
    tcase_add_test(bad, t_peer_gone);
    tcase_add_test(bad, t_garbage);
    tcase_add_test(bad, t_peer_not_reading);
    suite_add_tcase(s, bad);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
