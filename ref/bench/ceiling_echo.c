/* ceiling_echo.c: the benchmark's ceiling: a minimal epoll line echo that
 * scans each read for complete lines and writes them back straight from its
 * read buffer: one read and one write per batch, no copy of a line. */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct conn {
    int fd;
    unsigned char *buf;
    size_t cap, len;   /* bytes read and not yet echoed */
    size_t wr, end;    /* a write in progress: bytes [wr, end) of buf */
} conn_t;

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void conn_free(conn_t *c)
{
    close(c->fd);
    free(c->buf);
    free(c);
}

/* Writes [wr, end) and keeps the partial line after it; while output is
 * blocked the connection waits for EPOLLOUT and reads nothing. */
static int drain(int ep, conn_t *c)
{
    while (c->wr < c->end) {
        ssize_t n = send(c->fd, c->buf + c->wr, c->end - c->wr, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        if (n < 0) {
            struct epoll_event e = {.events = EPOLLOUT, .data.ptr = c};
            return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
        }
        c->wr += (size_t)n;
    }
    memmove(c->buf, c->buf + c->end, c->len - c->end);
    c->len -= c->end;
    c->wr = c->end = 0;
    return 0;
}

/* Output flushed after a block: read again. */
static int resume(int ep, conn_t *c)
{
    if (c->end > 0)
        return 0; /* still blocked */
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
    return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
}

static int on_input(int ep, conn_t *c)
{
    if (c->len == c->cap) { /* a line longer than the buffer */
        unsigned char *b = realloc(c->buf, c->cap * 2);
        if (b == NULL)
            return -1;
        c->buf = b;
        c->cap *= 2;
    }
    ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0)
        return -1;
    size_t scan = c->len;
    c->len += (size_t)n;
    /* Every complete line ends with '\n': find the last one. */
    unsigned char *p = c->buf + scan, *end = c->buf + c->len, *q;
    while ((q = memchr(p, '\n', (size_t)(end - p))) != NULL)
        p = q + 1;
    c->end = (size_t)(p - c->buf);
    if (c->end == 0)
        return 0;
    c->wr = 0;
    return drain(ep, c);
}

static int accept_one(int ep, int lfd)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return 0;
    conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL || (c->buf = malloc(65536)) == NULL) {
        free(c);
        close(fd);
        return 0;
    }
    c->fd = fd;
    c->cap = 65536;
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0)
        conn_free(c);
    return 0;
}

static int listen_on(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICHOST |
                             AI_NUMERICSERV, .ai_socktype = SOCK_STREAM}, *ai;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        fprintf(stderr, "ceiling-echo: %s:%s: %s\n", host, port,
                gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
        listen(fd, SOMAXCONN) < 0) {
        perror("ceiling-echo: listen");
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char h[NI_MAXHOST], p[NI_MAXSERV];
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    getnameinfo((struct sockaddr *)&ss, sl, h, sizeof(h), p, sizeof(p),
                NI_NUMERICHOST | NI_NUMERICSERV);
    printf("listening on %s:%s\n", h, p);
    fflush(stdout);
    return fd;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *port = "0";
    for (int i = 1; i < argc; i += 2) {
        if (!strcmp(argv[i], "--help")) {
            puts("usage: ceiling-echo [--host ADDR] [--port N]");
            return 0;
        }
        if (i + 1 == argc ||
            (strcmp(argv[i], "--host") && strcmp(argv[i], "--port"))) {
            fputs("usage: ceiling-echo [--host ADDR] [--port N]\n", stderr);
            return 2;
        }
        *(!strcmp(argv[i], "--host") ? &host : &port) = argv[i + 1];
    }
    /* The signals stay blocked except inside epoll_pwait, so one that
     * comes between the check of `stop` and the wait still ends it. */
    struct sigaction sa = {.sa_handler = on_signal};
    sigset_t block, during;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &during);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int lfd = listen_on(host, port);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = NULL};
    if (lfd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &e) < 0)
        return 1;
    struct epoll_event ev[256];
    while (!stop) {
        int n = epoll_pwait(ep, ev, 256, -1, &during);
        for (int i = 0; i < n; i++) {
            conn_t *c = ev[i].data.ptr;
            int rc;
            if (c == NULL)
                rc = accept_one(ep, lfd);
            else if (ev[i].events & EPOLLOUT)
                rc = drain(ep, c) < 0 ? -1 : resume(ep, c);
            else
                rc = on_input(ep, c);
            if (rc < 0 && c != NULL)
                conn_free(c); /* close drops it from the epoll set */
        }
    }
    close(ep);
    close(lfd);
    return 0;
}
