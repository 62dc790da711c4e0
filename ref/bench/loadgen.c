/* loadgen.c: the benchmark's load generator.  N connections to a "\r\n"
 * line echo server, each keeping up to D lines in flight; every echoed byte
 * is checked against what was sent.  Prints one JSON line of results; with
 * --hold it then keeps the connections open, idle, until its standard
 * input closes (bench.py measures the server's memory meanwhile). */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Line k of connection c is pattern[base(c, k) .. +size-2) then "\r\n";
 * consecutive lines start at different offsets, so a lost, repeated or
 * reordered line shows as wrong bytes. */
#define PATTERN_LEN 65521
#define RBUF_SIZE 65536
#define MAX_LINE (1u << 20)

typedef struct {
    int fd;
    uint32_t id;
    uint64_t quota;      /* lines to send in all */
    uint64_t sent, done; /* lines written (queued), lines fully echoed */
    size_t roff;         /* bytes of line `done` received so far */
    unsigned char *out;  /* bytes queued and not yet written */
    size_t outoff, outlen;
    int64_t *t_sent;     /* send time of line k at [k % depth] */
    int want_out;        /* EPOLLOUT registered */
} conn_t;

/* Latency histogram: exact below 64 ns, then 32 buckets per power of two
 * (about 3% resolution), so no sample is ever stored. */
#define HBUCKETS 2048
static uint64_t hist[HBUCKETS];
static uint64_t hcount;

static struct {
    const char *host, *port;
    unsigned conns, depth;
    size_t size;
    double duration, warmup, timeout;
    uint64_t lines;
    int hold;
} opt = {"127.0.0.1", NULL, 1, 1, 16, 0, 0, 60, 0, 0};

static unsigned char *pattern;
static int counting, stopping;
static uint64_t window_lines;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static size_t hbucket(uint64_t v)
{
    if (v < 64)
        return (size_t)v;
    int e = 63 - __builtin_clzll(v); /* e >= 6 */
    size_t b = (size_t)(e - 5) * 32 + ((v >> (e - 5)) & 31) + 32;
    return b < HBUCKETS ? b : HBUCKETS - 1;
}

/* The middle of bucket b, in ns. */
static double hvalue(size_t b)
{
    if (b < 64)
        return (double)b;
    size_t k = b - 32, e = k / 32 + 5, x = k % 32;
    double lo = (double)((32 + x) << (e - 5));
    return lo + (double)((uint64_t)1 << (e - 5)) / 2;
}

static double percentile_us(double q)
{
    uint64_t want = (uint64_t)(q * (double)hcount), seen = 0;
    for (size_t b = 0; b < HBUCKETS; b++) {
        seen += hist[b];
        if (seen > want)
            return hvalue(b) / 1000.0;
    }
    return 0;
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "loadgen: %s: %s\n", what, why);
    exit(1);
}

static size_t line_base(const conn_t *c, uint64_t k)
{
    return (size_t)(((uint64_t)c->id * 7919 + k * 613) % PATTERN_LEN);
}

/* Queues lines while fewer than depth are in flight. */
static void fill(conn_t *c, int64_t now)
{
    if (c->outoff > 0) {
        memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
        c->outlen -= c->outoff;
        c->outoff = 0;
    }
    while (!stopping && c->sent < c->quota && c->sent - c->done < opt.depth) {
        unsigned char *p = c->out + c->outlen;
        memcpy(p, pattern + line_base(c, c->sent), opt.size - 2);
        p[opt.size - 2] = '\r';
        p[opt.size - 1] = '\n';
        c->outlen += opt.size;
        c->t_sent[c->sent % opt.depth] = now;
        c->sent++;
    }
}

static void watch(int ep, conn_t *c, int out)
{
    if (c->want_out == out)
        return;
    struct epoll_event e = {.events = EPOLLIN | (out ? EPOLLOUT : 0),
                            .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e) < 0)
        die("epoll_ctl", strerror(errno));
    c->want_out = out;
}

static void flush(int ep, conn_t *c)
{
    while (c->outoff < c->outlen) {
        ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
                         MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0)
            die("send", strerror(errno));
        c->outoff += (size_t)n;
    }
    watch(ep, c, c->outoff < c->outlen);
}

/* Checks n received bytes against the lines in flight, byte for byte. */
static void verify(conn_t *c, const unsigned char *p, size_t n, int64_t now)
{
    size_t plen = opt.size - 2;
    while (n > 0) {
        if (c->done >= c->sent)
            die("verify", "server sent bytes nobody asked for");
        const unsigned char *want = pattern + line_base(c, c->done);
        if (c->roff < plen) {
            size_t k = plen - c->roff < n ? plen - c->roff : n;
            if (memcmp(p, want + c->roff, k) != 0)
                die("verify", "echoed line differs from the line sent");
            p += k, n -= k, c->roff += k;
        }
        while (n > 0 && c->roff < opt.size) {
            if (*p != "\r\n"[c->roff - plen])
                die("verify", "echoed terminator differs");
            p++, n--, c->roff++;
        }
        if (c->roff == opt.size) {
            if (counting && !stopping) {
                int64_t lat = now - c->t_sent[c->done % opt.depth];
                hist[hbucket(lat > 0 ? (uint64_t)lat : 0)]++;
                hcount++;
                window_lines++;
            }
            c->done++;
            c->roff = 0;
        }
    }
}

static int on_input(int ep, conn_t *c, unsigned char *buf, int64_t now)
{
    ssize_t n;
    do
        n = recv(c->fd, buf, RBUF_SIZE, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (n < 0)
        die("recv", strerror(errno));
    if (n == 0)
        die("recv", "server closed the connection");
    verify(c, buf, (size_t)n, now);
    fill(c, now);
    flush(ep, c);
    return 0;
}

static int connect_one(void)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *ai;
    int rc = getaddrinfo(opt.host, opt.port, &hints, &ai);
    if (rc != 0)
        die(opt.host, gai_strerror(rc));
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
        die("connect", strerror(errno));
    freeaddrinfo(ai);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        die("fcntl", strerror(errno));
    return fd;
}

static int usage(FILE *f, int rc)
{
    fprintf(f,
            "usage: loadgen --port N [--host ADDR] [--conns N] [--depth D]\n"
            "               [--size BYTES] (--duration SEC | --lines N)\n"
            "               [--warmup SEC] [--timeout SEC] [--hold 1]\n"
            "  --size counts the whole line, \"\\r\\n\" included (>= 3).\n"
            "  --lines is the total over all connections.\n"
            "  --hold 1 keeps the connections open after the JSON line until\n"
            "  standard input closes.  The descriptor limit is raised to its\n"
            "  hard limit; too low a hard limit is an error before any connect.\n"
            "Prints one JSON line; exit 0, 1 on a failed run, 2 on usage.\n");
    return rc;
}

static int parse(int argc, char **argv)
{
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help"))
            exit(usage(stdout, 0));
        if (v == NULL)
            return -1;
        char *end;
        double d = strtod(v, &end);
        if (!strcmp(a, "--host"))
            opt.host = v;
        else if (!strcmp(a, "--port"))
            opt.port = v;
        else if (*end != '\0' || d < 0)
            return -1;
        else if (!strcmp(a, "--conns"))
            opt.conns = (unsigned)d;
        else if (!strcmp(a, "--depth"))
            opt.depth = (unsigned)d;
        else if (!strcmp(a, "--size"))
            opt.size = (size_t)d;
        else if (!strcmp(a, "--duration"))
            opt.duration = d;
        else if (!strcmp(a, "--lines"))
            opt.lines = (uint64_t)d;
        else if (!strcmp(a, "--warmup"))
            opt.warmup = d;
        else if (!strcmp(a, "--timeout"))
            opt.timeout = d;
        else if (!strcmp(a, "--hold"))
            opt.hold = d != 0;
        else
            return -1;
    }
    if (opt.port == NULL || opt.conns == 0 || opt.depth == 0 ||
        opt.size < 3 || opt.size > MAX_LINE ||
        (opt.duration > 0) == (opt.lines > 0))
        return -1;
    return 0;
}

/* Every connection is a descriptor: raise the soft limit as far as the
 * hard one allows, and say so plainly when that is not enough. */
static void raise_fd_limit(unsigned need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        die("getrlimit", strerror(errno));
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)need + 16) {
        char why[160];
        snprintf(why, sizeof(why), "%u connections need %u descriptors, the "
                 "hard limit is %llu (raise it: ulimit -Hn, limits.conf)",
                 opt.conns, need + 16, (unsigned long long)rl.rlim_cur);
        die("descriptor limit", why);
    }
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static conn_t *open_conns(int ep)
{
    conn_t *cs = calloc(opt.conns, sizeof(*cs));
    if (cs == NULL)
        die("calloc", strerror(ENOMEM));
    for (unsigned i = 0; i < opt.conns; i++) {
        conn_t *c = &cs[i];
        c->id = i;
        c->fd = connect_one();
        c->quota = opt.lines ? opt.lines / opt.conns +
                                   (i < opt.lines % opt.conns)
                             : UINT64_MAX;
        c->out = malloc(opt.depth * opt.size);
        c->t_sent = calloc(opt.depth, sizeof(*c->t_sent));
        if (c->out == NULL || c->t_sent == NULL)
            die("malloc", strerror(ENOMEM));
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e) < 0)
            die("epoll_ctl", strerror(errno));
    }
    return cs;
}

static int all_done(const conn_t *cs)
{
    for (unsigned i = 0; i < opt.conns; i++)
        if (cs[i].done < cs[i].sent || (!stopping && cs[i].done < cs[i].quota))
            return 0;
    return 1;
}

static void close_conns(conn_t *cs)
{
    for (unsigned i = 0; i < opt.conns; i++) {
        close(cs[i].fd);
        free(cs[i].out);
        free(cs[i].t_sent);
    }
    free(cs);
}

int main(int argc, char **argv)
{
    if (parse(argc, argv) < 0)
        return usage(stderr, 2);
    pattern = malloc(PATTERN_LEN + opt.size);
    unsigned char *buf = malloc(RBUF_SIZE);
    if (pattern == NULL || buf == NULL)
        die("malloc", strerror(ENOMEM));
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < PATTERN_LEN + opt.size; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        pattern[i] = (unsigned char)(33 + x % 94); /* printable, no CR/LF */
    }
    raise_fd_limit(opt.conns);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1", strerror(errno));
    conn_t *cs = open_conns(ep);
    double cpu0 = cpu_seconds();

    int64_t t0 = now_ns(), start = t0, stop = 0;
    int64_t warm_end = t0 + (int64_t)(opt.warmup * 1e9);
    int64_t hard_end = t0 + (int64_t)((opt.warmup + opt.duration +
                                       opt.timeout) * 1e9);
    counting = opt.warmup <= 0;
    for (unsigned i = 0; i < opt.conns; i++) {
        fill(&cs[i], t0);
        flush(ep, &cs[i]);
    }
    struct epoll_event ev[256];
    while (!all_done(cs)) {
        int n = epoll_wait(ep, ev, 256, 100);
        if (n < 0 && errno != EINTR)
            die("epoll_wait", strerror(errno));
        int64_t now = now_ns();
        if (!counting && now >= warm_end) {
            counting = 1;
            start = now;
        }
        if (counting && !stopping && opt.duration > 0 &&
            now >= start + (int64_t)(opt.duration * 1e9)) {
            stopping = 1; /* stop sending; drain and check what is in flight */
            stop = now;
        }
        if (now > hard_end)
            die("timeout", "the server stopped answering");
        for (int i = 0; i < n; i++) {
            conn_t *c = ev[i].data.ptr;
            if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                on_input(ep, c, buf, now);
            if (ev[i].events & EPOLLOUT)
                flush(ep, c);
        }
    }
    if (!stopping)
        stop = now_ns();
    double secs = (double)(stop - start) / 1e9;
    printf("{\"conns\": %u, \"depth\": %u, \"size\": %zu, \"lines\": %llu, "
           "\"secs\": %.6f, \"lines_per_s\": %.1f, \"mb_per_s\": %.3f, "
           "\"p50_us\": %.2f, \"p99_us\": %.2f, \"client_cpu\": %.3f}\n",
           opt.conns, opt.depth, opt.size, (unsigned long long)window_lines,
           secs, (double)window_lines / secs,
           (double)window_lines * (double)opt.size / secs / 1e6,
           percentile_us(0.50), percentile_us(0.99),
           /* the share of a CPU the generator itself used after connecting:
            * near 1.0, it is the bottleneck, not the server */
           (cpu_seconds() - cpu0) / ((double)(now_ns() - t0) / 1e9));
    fflush(stdout);
    if (opt.hold) {
        char c;
        while (read(0, &c, 1) > 0)
            ;
    }
    close_conns(cs);
    close(ep);
    free(buf);
    free(pattern);
    return 0;
}
