/* check_util.h: helpers shared by the reference's libcheck tests: an event
 * log that renders bytes escaped (so failures print readable, one-line
 * values), socket pairs, growable buffers, a scripted producer, a fixed-seed
 * generator, and the backends a test loops over. */
#ifndef ACHAT_CHECK_UTIL_H
#define ACHAT_CHECK_UTIL_H

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "achat.h"

/* An append-only text log of events, e.g. "c(ab) F c(\r\n) CLOSE". */
typedef struct {
    char buf[1 << 16];
    size_t len;
} evlog_t;

static inline void evlog_add(evlog_t *l, const char *s)
{
    size_t n = strlen(s);
    if (l->len && l->len + 1 < sizeof(l->buf))
        l->buf[l->len++] = ' ';
    if (l->len + n < sizeof(l->buf)) {
        memcpy(l->buf + l->len, s, n);
        l->len += n;
    }
    l->buf[l->len] = '\0';
}

/* Escapes bytes C-style (\r \n \0 \xNN) into out (NUL-terminated). */
static inline void escape_bytes(char *out, size_t cap, const void *p,
                                size_t n)
{
    const unsigned char *b = p;
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        unsigned char c = b[i];
        if (c == '\r') o += (size_t)snprintf(out + o, cap - o, "\\r");
        else if (c == '\n') o += (size_t)snprintf(out + o, cap - o, "\\n");
        else if (c == '\\') o += (size_t)snprintf(out + o, cap - o, "\\\\");
        else if (c >= 0x20 && c < 0x7f) out[o++] = (char)c;
        else o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    out[o] = '\0';
}

/* Logs "tag(escaped bytes)". */
static inline void evlog_bytes(evlog_t *l, const char *tag, const void *p,
                               size_t n)
{
    char esc[4096], item[4200];
    escape_bytes(esc, sizeof(esc), p, n);
    snprintf(item, sizeof(item), "%s(%s)", tag, esc);
    evlog_add(l, item);
}

#define ASSERT_LOG(l, want) ck_assert_str_eq((l)->buf, (want))

/* A connected AF_UNIX stream pair, both ends non-blocking and CLOEXEC. */
static inline void make_pair(int sv[2])
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
                                SOCK_CLOEXEC, 0, sv), 0);
}

/* Writes all of p to a (blocking-ish) peer fd, retrying EAGAIN. */
static inline void peer_write(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EAGAIN) {
            usleep(1000);
            continue;
        }
        ck_assert_int_gt(k, 0);
        c += k;
        n -= (size_t)k;
    }
}

/* Reads whatever the peer has now (non-blocking); returns the count. */
static inline size_t peer_read(int fd, void *buf, size_t cap)
{
    ssize_t k = recv(fd, buf, cap, MSG_DONTWAIT);
    return k > 0 ? (size_t)k : 0;
}

/* Number of open file descriptors in this process, for leak checks. */
static inline int open_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            n++;
    return n;
}

/* A plain listening socket on 127.0.0.1, port chosen by the kernel; *a
 * gets its address. */
static inline int tcp_listener(struct sockaddr_in *a)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(l, 0);
    *a = (struct sockaddr_in){.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(*a);
    ck_assert_int_eq(bind(l, (struct sockaddr *)a, sizeof(*a)), 0);
    ck_assert_int_eq(listen(l, 8), 0);
    ck_assert_int_eq(getsockname(l, (struct sockaddr *)a, &al), 0);
    return l;
}

/* A connected loopback TCP pair: sv[0] dials, sv[1] was accepted.  Both are
 * non-blocking and close-on-exec. */
static inline void tcp_pair(int sv[2])
{
    struct sockaddr_in a;
    int l = tcp_listener(&a);
    sv[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(sv[0], 0);
    ck_assert_int_eq(connect(sv[0], (struct sockaddr *)&a, sizeof(a)), 0);
    sv[1] = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    ck_assert_int_ge(sv[1], 0);
    close(l);
    ck_assert_int_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
}

/* Waits (bounded) until the kernel reports fd readable, so a pass that
 * follows sees the peer's action and not a race with it. */
static inline void wait_readable(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    ck_assert_int_eq(poll(&p, 1, 2000), 1);
}

/* Tests that run on every backend are loop tests over [0, backend_count). */
static inline const ac_backend_t *backend_at(int i)
{
    const ac_backend_t *b = ac_backends()[i];
    ck_assert_ptr_nonnull(b);
    return b;
}

static inline int backend_count(void)
{
    int n = 0;
    while (ac_backends()[n])
        n++;
    return n;
}

/* A growable byte buffer, NUL-terminated past its n bytes so that text in
 * it is a C string as it grows.  Hot paths (callbacks, per-byte helpers)
 * fail with ck_abort_msg: in fork mode every passing ck_assert_* is a
 * message to the parent, and the random tests make millions. */
typedef struct {
    unsigned char *p;
    size_t n, cap;
} buf_t;

static inline void buf_put(buf_t *b, const void *p, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1)
            cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (q == NULL)
            ck_abort_msg("out of memory");
        b->p = q;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static inline void buf_free(buf_t *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* Fixed-seed generator: a random test replays exactly from its seed. */
static inline uint32_t lcg(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

/* A producer that hands out its chunks in order, then ends (NULL: end, "":
 * an empty final chunk, which also ends it); fail makes more() return an
 * error.  calls and released let a test see how the queue drove it. */
typedef struct {
    const char *chunks[8];
    int next, calls, released;
    int fail;
} prod_t;

static inline int prod_more(void *ud, const void **data, size_t *len)
{
    prod_t *p = ud;
    p->calls++;
    if (p->released)
        ck_abort_msg("more() after release()");
    if (p->fail)
        return p->fail;
    const char *c = p->next < 8 ? p->chunks[p->next] : NULL;
    if (c != NULL)
        p->next++;
    *data = c;
    *len = c ? strlen(c) : 0;
    return 0;
}

static inline void prod_release(void *ud)
{
    ((prod_t *)ud)->released++;
}

static const ac_producer_t producer = {prod_more, prod_release};

/* Runs one test binary's suite; the exit status says whether all passed.
 * Fork mode is set explicitly: CK_FORK=no in the environment must not turn
 * isolation off. */
static inline int run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif /* ACHAT_CHECK_UTIL_H */
