/* acc_proto.c: the agent protocol's codec (lines of tokens, %-escaped
 * bytes, descriptors over SCM_RIGHTS) and its re-entrant message pump.
 * Every read and write is bounded in time and every line in length, and
 * every malformed input is reported with a reason, never trusted. */
#include "acc_proto.h"

#include "acc_common.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK (256u << 10)

static void seterr(accp_conn_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void seterr(accp_conn_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof(c->err), fmt, ap);
    va_end(ap);
}

/* Up to 60 bytes of s, escaped, for error messages about bad input. */
static void excerpt(char *out, size_t cap, const char *s, size_t n)
{
    acc_escape(out, cap, (const unsigned char *)s, n < 60 ? n : 60);
    size_t o = strlen(out);
    /* acc_escape has marked a cut of its own already */
    if (n > 60 && o + 4 < cap && (o < 3 || strcmp(out + o - 3, "...") != 0))
        memcpy(out + o, "...", 4);
}

/* ------------------------------------------------------------ errnos -- */

const char *accp_errno_name(int err)
{
    /* EWOULDBLOCK and EAGAIN share a value on Linux: one name on the wire. */
    return acc_errno_lookup(err, 0);
}

int accp_errno_by_name(const char *s)
{
    return strcmp(s, "EWOULDBLOCK") == 0 ? EWOULDBLOCK : acc_errno_value(s, 0);
}

/* ------------------------------------------------------------ tokens -- */

int accp_tok_bytes(char *tok, unsigned char **out, size_t *n)
{
    if (tok[0] != '=')
        return -1;
    unsigned char *w = (unsigned char *)tok;
    for (const char *r = tok + 1; *r; r++) {
        if (*r != '%') {
            *w++ = (unsigned char)*r;
            continue;
        }
        int hi = acc_hexval(r[1]), lo = hi < 0 ? -1 : acc_hexval(r[2]);
        if (lo < 0)
            return -1;
        *w++ = (unsigned char)(hi << 4 | lo);
        r += 2;
    }
    *out = (unsigned char *)tok;
    *n = (size_t)(w - (unsigned char *)tok);
    return 0;
}

int accp_tok_u64(const char *tok, uint64_t *v)
{
    uint64_t x = 0;
    if (tok[0] == '\0' || (tok[0] == '0' && tok[1] != '\0'))
        return -1; /* one spelling per number */
    for (const char *s = tok; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        unsigned d = (unsigned)(*s - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

int accp_tok_i64(const char *tok, int64_t *v)
{
    uint64_t u;
    int neg = tok[0] == '-';
    if (accp_tok_u64(tok + neg, &u) < 0 || (neg && u == 0) ||
        u > (uint64_t)INT64_MAX + (uint64_t)neg)
        return -1;
    *v = neg ? (int64_t)(0 - u) : (int64_t)u;
    return 0;
}

int accp_tok_rc(const char *tok, long *rc)
{
    if (tok[0] == '-') {
        int e = accp_errno_by_name(tok + 1);
        if (tok[1] != 'E' || e == 0)
            return -1;
        *rc = -e;
        return 0;
    }
    uint64_t u;
    if (accp_tok_u64(tok, &u) < 0 || u > (uint64_t)(long)(~0ul >> 1))
        return -1;
    *rc = (long)u;
    return 0;
}

/* ------------------------------------------------------------ parser -- */

static int is_verb(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
        return 0;
    for (s++; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

void accp_msg_free(accp_msg_t *m)
{
    for (int i = 0; i < m->nfds; i++)
        if (m->fds[i] >= 0)
            close(m->fds[i]);
    free(m->line);
    free(m->tok);
    memset(m, 0, sizeof(*m));
}

/* Only printable ASCII, tokens separated by single spaces. */
static int check_bytes(const char *s, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch > 0x7e) {
            snprintf(err, errlen, "byte 0x%02x at column %zu (only printable "
                     "ASCII and single spaces are allowed)", ch, i + 1);
            return -1;
        }
        if (ch == ' ' && (i == 0 || i + 1 == n || s[i + 1] == ' ')) {
            snprintf(err, errlen, "empty token at column %zu", i + 1);
            return -1;
        }
    }
    return 0;
}

/* The "@" tokens after the verb or result, every bytes token's escapes
 * checked on the way; -1 for a bad escape. */
static int count_fds(const accp_msg_t *m, char *err, size_t errlen)
{
    int at = 0;
    for (int i = 1; i < m->ntok; i++) {
        const char *t = m->tok[i];
        if (t[0] == '@' && t[1] == '\0') {
            at++;
        } else if (t[0] == '=') {
            for (const char *r = t + 1; *r; r++)
                if (*r == '%' && (acc_hexval(r[1]) < 0 || acc_hexval(r[2]) < 0)) {
                    snprintf(err, errlen, "bad %%-escape in token %d", i);
                    return -1;
                } else if (*r == '%') {
                    r += 2;
                }
        }
    }
    return at;
}

int accp_parse(accp_msg_t *m, char *err, size_t errlen)
{
    char *s = m->line;
    size_t n = m->len;
    m->tok = NULL;
    m->ntok = 0;
    m->nfds = 0;
    if (check_bytes(s, n, err, errlen) < 0)
        return -1;
    if (n < 3 || s[1] != ' ' || (s[0] != 'Q' && s[0] != 'R' && s[0] != 'N')) {
        snprintf(err, errlen, "a line starts with 'Q ', 'R ' or 'N '");
        return -1;
    }
    size_t count = 1;
    for (size_t i = 0; i < n; i++)
        count += s[i] == ' ';
    m->tok = malloc(count * sizeof(char *));
    if (m->tok == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char *save = NULL;
    for (char *t = strtok_r(s, " ", &save); t; t = strtok_r(NULL, " ", &save))
        m->tok[m->ntok++] = t;
    m->kind = m->tok[0][0];
    int first = 1; /* index of the first token after kind (and seq) */
    if (m->kind != 'N') {
        if (m->ntok < 3 || accp_tok_u64(m->tok[1], &m->seq) < 0 || m->seq == 0 ||
            m->seq > (uint64_t)INT64_MAX) {
            snprintf(err, errlen, "'%c' needs a sequence number (1 to 2^63-1) "
                     "and at least one more token", m->kind);
            return -1;
        }
        first = 2;
    } else if (m->ntok < 2) {
        snprintf(err, errlen, "'N' needs a verb");
        return -1;
    }
    m->ntok -= first;
    memmove(m->tok, m->tok + first, (size_t)m->ntok * sizeof(char *));
    long rc;
    if (m->kind == 'R' && accp_tok_rc(m->tok[0], &rc) < 0) {
        snprintf(err, errlen, "bad result '%.40s' (a count or -ENAME)", m->tok[0]);
        return -1;
    }
    if (m->kind != 'R' && !is_verb(m->tok[0])) {
        snprintf(err, errlen, "bad verb '%.40s'", m->tok[0]);
        return -1;
    }
    int at = count_fds(m, err, errlen);
    if (at < 0)
        return -1;
    if (at > ACCP_MAX_FDS) {
        snprintf(err, errlen, "%d descriptors in one message (at most %d)", at,
                 ACCP_MAX_FDS);
        return -1;
    }
    m->nfds = at; /* filled by accp_read; -1 until then */
    for (int i = 0; i < at; i++)
        m->fds[i] = -1;
    return 0;
}

/* ------------------------------------------------------- connections -- */

void accp_conn_init(accp_conn_t *c, int fd)
{
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->timeout_ms = ACCP_DEFAULT_TIMEOUT_MS;
    c->next_seq = 1;
    c->strict_seq = 1;
}

void accp_conn_free(accp_conn_t *c)
{
    for (int i = 0; i < c->nfdq; i++)
        close(c->fdq[i].fd);
    c->nfdq = 0;
    free(c->in);
    c->in = NULL;
    c->in_len = c->in_cap = 0;
}

static int grow(accp_conn_t *c, size_t want)
{
    if (c->in_cap >= want)
        return 0;
    size_t cap = c->in_cap ? c->in_cap : 65536;
    while (cap < want)
        cap *= 2;
    unsigned char *p = realloc(c->in, cap);
    if (p == NULL)
        return -1;
    c->in = p;
    c->in_cap = cap;
    return 0;
}

int accp_feed(accp_conn_t *c, const void *p, size_t n)
{
    if (grow(c, c->in_len + n) < 0)
        return -1;
    memcpy(c->in + c->in_len, p, n);
    c->in_len += n;
    return 0;
}

/* One recvmsg: bytes into the buffer, descriptors into the queue.  1 read,
 * 0 end of stream, -1 error (c->err). */
static int read_some(accp_conn_t *c)
{
    if (grow(c, c->in_len + READ_CHUNK) < 0) {
        seterr(c, "out of memory");
        return -1;
    }
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int) * ACCP_FD_QUEUE)];
    } ctl;
    struct iovec iov = {c->in + c->in_len, READ_CHUNK};
    struct msghdr mh = {0};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.buf;
    mh.msg_controllen = sizeof(ctl.buf);
    ssize_t k;
    do
        k = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    while (k < 0 && errno == EINTR);
    if (k < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 1; /* spurious wakeup: nothing read */
        seterr(c, "reading from the peer: %s", strerror(errno));
        return -1;
    }
    uint64_t end = c->rx_base + c->in_len + (uint64_t)k;
    int bad = (mh.msg_flags & MSG_CTRUNC) != 0;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h; h = CMSG_NXTHDR(&mh, h)) {
        if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) {
            bad = 1;
            continue;
        }
        size_t nfd = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < nfd; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
            if (c->nfdq < ACCP_FD_QUEUE) {
                c->fdq[c->nfdq].fd = fd;
                c->fdq[c->nfdq++].end = end;
            } else {
                close(fd);
                bad = 1;
            }
        }
    }
    if (bad) {
        seterr(c, "the peer sent more descriptors than fit, or other control data");
        return -1;
    }
    if (k == 0)
        return 0;
    c->in_len += (size_t)k;
    return 1;
}

/* Takes the line ending at in[nl] out of the buffer into m, with the
 * descriptors that came with it. */
static int take_line(accp_conn_t *c, size_t nl, accp_msg_t *m)
{
    char err[256], ex[128];
    uint64_t start = c->rx_base, last = c->rx_base + nl; /* the LF's offset */
    memset(m, 0, sizeof(*m));
    m->line = malloc(nl + 1);
    if (m->line == NULL) {
        seterr(c, "out of memory");
        return -1;
    }
    memcpy(m->line, c->in, nl);
    m->line[nl] = '\0';
    m->len = nl;
    memmove(c->in, c->in + nl + 1, c->in_len - nl - 1);
    c->in_len -= nl + 1;
    c->rx_base += nl + 1;
    excerpt(ex, sizeof(ex), m->line, nl);
    if (accp_parse(m, err, sizeof(err)) < 0) {
        seterr(c, "malformed line (%s): \"%s\"", err, ex);
        accp_msg_free(m);
        return -1;
    }
    /* The descriptors whose read ended inside this line are this line's. */
    int mine = 0;
    while (mine < c->nfdq && c->fdq[mine].end - 1 <= last)
        mine++;
    if (mine > 0 && c->fdq[0].end - 1 < start) {
        seterr(c, "a descriptor arrived that no line announced (before \"%s\")", ex);
        m->nfds = 0;
        accp_msg_free(m);
        return -1;
    }
    if (mine != m->nfds) {
        seterr(c, "line announces %d descriptor(s) with '@' but %d came with it: \"%s\"",
               m->nfds, mine, ex);
        m->nfds = 0;
        accp_msg_free(m);
        return -1;
    }
    for (int i = 0; i < mine; i++)
        m->fds[i] = c->fdq[i].fd;
    memmove(c->fdq, c->fdq + mine, (size_t)(c->nfdq - mine) * sizeof(c->fdq[0]));
    c->nfdq -= mine;
    if (c->trace)
        fprintf(stderr, "[%s] <- %s\n", c->trace_tag ? c->trace_tag : "accp", ex);
    return 0;
}

int accp_read(accp_conn_t *c, accp_msg_t *m, int timeout_ms)
{
    int64_t deadline = timeout_ms < 0 ? -1 : acc_mono_ms() + timeout_ms;
    size_t scanned = 0;
    for (;;) {
        unsigned char *nl = scanned < c->in_len
                                ? memchr(c->in + scanned, '\n', c->in_len - scanned)
                                : NULL;
        if (nl) {
            size_t at = (size_t)(nl - c->in);
            if (at > ACCP_MAX_LINE) {
                seterr(c, "line of %zu bytes (at most %u)", at, ACCP_MAX_LINE);
                return -1;
            }
            return take_line(c, at, m);
        }
        scanned = c->in_len;
        if (c->in_len > ACCP_MAX_LINE) {
            seterr(c, "line longer than %u bytes without an end", ACCP_MAX_LINE);
            return -1;
        }
        if (c->fd < 0) {
            seterr(c, "truncated input: %zu bytes without a line end", c->in_len);
            return c->in_len ? -1 : -2;
        }
        int wait = -1;
        if (deadline >= 0) {
            int64_t left = deadline - acc_mono_ms();
            if (left <= 0) {
                seterr(c, "no message from the peer within %d ms", timeout_ms);
                return -1;
            }
            wait = (int)left;
        }
        struct pollfd pf = {c->fd, POLLIN, 0};
        int k = poll(&pf, 1, wait);
        if (k < 0 && errno != EINTR) {
            seterr(c, "poll: %s", strerror(errno));
            return -1;
        }
        if (k <= 0)
            continue;
        int r = read_some(c);
        if (r < 0)
            return -1;
        if (r == 0) {
            if (c->in_len) {
                seterr(c, "the peer closed the connection in the middle of a line "
                       "(%zu bytes without a line end)", c->in_len);
                return -1;
            }
            seterr(c, "the peer closed the connection");
            return -2;
        }
    }
}

/* ------------------------------------------------------------ writing -- */

void accp_buf_init(accp_buf_t *b) { memset(b, 0, sizeof(*b)); }
void accp_buf_free(accp_buf_t *b) { free(b->p); memset(b, 0, sizeof(*b)); }
void accp_buf_reset(accp_buf_t *b) { b->n = 0; if (b->p) b->p[0] = '\0'; }

static int reserve(accp_buf_t *b, size_t more)
{
    if (b->oom)
        return -1;
    if (b->n + more + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static void put_raw(accp_buf_t *b, const char *s, size_t n)
{
    if (reserve(b, n + 1) < 0)
        return;
    if (b->n)
        b->p[b->n++] = ' ';
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

void accp_put_tok(accp_buf_t *b, const char *tok) { put_raw(b, tok, strlen(tok)); }

void accp_put_u64(accp_buf_t *b, uint64_t v)
{
    char t[24];
    put_raw(b, t, (size_t)snprintf(t, sizeof(t), "%llu", (unsigned long long)v));
}

void accp_put_i64(accp_buf_t *b, int64_t v)
{
    char t[24];
    put_raw(b, t, (size_t)snprintf(t, sizeof(t), "%lld", (long long)v));
}

void accp_put_printf(accp_buf_t *b, const char *fmt, ...)
{
    char t[512];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(t, sizeof(t), fmt, ap);
    va_end(ap);
    put_raw(b, t, k < 0 ? 0 : (size_t)k < sizeof(t) ? (size_t)k : sizeof(t) - 1);
}

void accp_put_rc(accp_buf_t *b, long rc)
{
    if (rc >= 0) {
        accp_put_u64(b, (uint64_t)rc);
        return;
    }
    const char *name = accp_errno_name((int)-rc);
    char t[40];
    snprintf(t, sizeof(t), "-%s", name ? name : "EIO");
    accp_put_tok(b, t);
}

void accp_put_bytes(accp_buf_t *b, const void *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *s = p;
    if (reserve(b, 2 + 3 * n) < 0)
        return;
    if (b->n)
        b->p[b->n++] = ' ';
    char *w = b->p + b->n;
    *w++ = '=';
    for (size_t i = 0; i < n; i++) {
        if (s[i] > 0x20 && s[i] < 0x7f && s[i] != '%') {
            *w++ = (char)s[i];
        } else {
            *w++ = '%';
            *w++ = hex[s[i] >> 4];
            *w++ = hex[s[i] & 15];
        }
    }
    b->n = (size_t)(w - b->p);
    b->p[b->n] = '\0';
}

int accp_send_line(accp_conn_t *c, const char *line, size_t n, int fd)
{
    if (c->before_send && !c->in_hook) {
        c->in_hook = 1;
        int rc = c->before_send(c);
        c->in_hook = 0;
        if (rc < 0)
            return -1;
    }
    if (n > ACCP_MAX_LINE) {
        seterr(c, "refusing to send a line of %zu bytes (at most %u)", n, ACCP_MAX_LINE);
        return -1;
    }
    if (c->trace) {
        char ex[128];
        excerpt(ex, sizeof(ex), line, n);
        fprintf(stderr, "[%s] -> %s%s\n", c->trace_tag ? c->trace_tag : "accp", ex,
                fd >= 0 ? " (+fd)" : "");
    }
    struct iovec iov[2] = {{(void *)line, n}, {(void *)"\n", 1}};
    int niov = 2, first = 1;
    int64_t deadline = acc_mono_ms() + c->timeout_ms;
    while (niov > 0) {
        union {
            struct cmsghdr h;
            char buf[CMSG_SPACE(sizeof(int))];
        } ctl;
        struct msghdr mh = {0};
        mh.msg_iov = iov + (2 - niov);
        mh.msg_iovlen = (size_t)niov;
        if (first && fd >= 0) {
            /* The descriptor rides on the line's first byte (see the
             * receiving side's take_line). */
            memset(&ctl, 0, sizeof(ctl));
            mh.msg_control = ctl.buf;
            mh.msg_controllen = sizeof(ctl.buf);
            struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
            h->cmsg_level = SOL_SOCKET;
            h->cmsg_type = SCM_RIGHTS;
            h->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(h), &fd, sizeof(int));
        }
        ssize_t k = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            seterr(c, "writing to the peer: %s", strerror(errno));
            return -1;
        }
        if (k < 0) {
            int64_t left = deadline - acc_mono_ms();
            if (left <= 0) {
                seterr(c, "the peer read nothing for %d ms", c->timeout_ms);
                return -1;
            }
            struct pollfd pf = {c->fd, POLLOUT, 0};
            (void)poll(&pf, 1, (int)left);
            continue;
        }
        first = 0;
        deadline = acc_mono_ms() + c->timeout_ms; /* progress */
        size_t left = (size_t)k;
        while (niov > 0 && left >= iov[2 - niov].iov_len) {
            left -= iov[2 - niov].iov_len;
            niov--;
        }
        if (niov > 0) {
            iov[2 - niov].iov_base = (char *)iov[2 - niov].iov_base + left;
            iov[2 - niov].iov_len -= left;
        }
    }
    return 0;
}

/* --------------------------------------------------------------- pump -- */

static int send_kind(accp_conn_t *c, char kind, uint64_t seq, const char *body,
                     size_t n, int fd)
{
    accp_buf_t b;
    accp_buf_init(&b);
    char head[32];
    int k = kind == 'N' ? snprintf(head, sizeof(head), "N")
                        : snprintf(head, sizeof(head), "%c %llu", kind,
                                   (unsigned long long)seq);
    put_raw(&b, head, (size_t)k);
    put_raw(&b, body, n);
    int rc = b.oom ? (seterr(c, "out of memory"), -1) : accp_send_line(c, b.p, b.n, fd);
    accp_buf_free(&b);
    return rc;
}

int accp_reply(accp_conn_t *c, const accp_msg_t *q, const char *body, size_t n,
               int fd)
{
    return send_kind(c, 'R', q->seq, body, n, fd);
}

int accp_notify(accp_conn_t *c, const char *body, size_t n)
{
    return send_kind(c, 'N', 0, body, n, -1);
}

/* One incoming request or notification, while something else waits. */
static int dispatch(accp_conn_t *c, accp_msg_t *m)
{
    int rc;
    if (m->kind == 'Q') {
        if (c->strict_seq && m->seq <= c->peer_seq) {
            seterr(c, "request %llu after request %llu: sequence numbers must increase",
                   (unsigned long long)m->seq, (unsigned long long)c->peer_seq);
            return -1;
        }
        c->peer_seq = m->seq;
        rc = c->serve ? c->serve(c, m) : (seterr(c, "unexpected request '%s'", m->tok[0]), -1);
    } else {
        rc = c->notify ? c->notify(c, m)
                       : (seterr(c, "unexpected notification '%s'", m->tok[0]), -1);
    }
    return rc;
}

int accp_call(accp_conn_t *c, const char *body, size_t n, int fd,
              accp_msg_t *reply, int timeout_ms)
{
    if (c->depth == (int)(sizeof(c->waiting) / sizeof(c->waiting[0]))) {
        seterr(c, "requests nested more than %d deep", c->depth);
        return -1;
    }
    uint64_t seq = c->next_seq++;
    if (send_kind(c, 'Q', seq, body, n, fd) < 0)
        return -1;
    c->waiting[c->depth++] = seq;
    for (;;) {
        accp_msg_t m;
        int r = accp_read(c, &m, timeout_ms > 0 ? timeout_ms : c->timeout_ms);
        if (r < 0) {
            c->depth--;
            return -1;
        }
        if (m.kind == 'R') {
            if (m.seq != seq) {
                seterr(c, "reply to request %llu while waiting for the reply to %llu",
                       (unsigned long long)m.seq, (unsigned long long)seq);
                accp_msg_free(&m);
                c->depth--;
                return -1;
            }
            c->depth--;
            *reply = m;
            return 0;
        }
        r = dispatch(c, &m);
        accp_msg_free(&m);
        if (r < 0) {
            c->depth--;
            return -1;
        }
    }
}

int accp_serve_loop(accp_conn_t *c, int idle_ms)
{
    for (;;) {
        accp_msg_t m;
        int r = accp_read(c, &m, idle_ms);
        if (r == -2)
            return 0;
        if (r < 0)
            return -1;
        if (m.kind == 'R') {
            seterr(c, "reply %llu with no request outstanding",
                   (unsigned long long)m.seq);
            accp_msg_free(&m);
            return -1;
        }
        r = dispatch(c, &m);
        accp_msg_free(&m);
        if (r != 0)
            return r; /* -1 error, > 0 the hook asked to stop */
    }
}
