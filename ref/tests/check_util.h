/* check_util.h: helpers shared by the reference's libcheck tests: an event
 * log that renders bytes escaped (so failures print readable, one-line
 * values), socket pairs, and running a map until a condition holds. */
#ifndef ACHAT_CHECK_UTIL_H
#define ACHAT_CHECK_UTIL_H

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
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

#endif /* ACHAT_CHECK_UTIL_H */
