/* achat-echo: the line-echo server of the classic asynchat tutorial.  Every
 * connection is a chat framed on "\r\n"; each complete line goes back to its
 * sender with the terminator.  SIGINT/SIGTERM end it with all memory freed. */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "achat.h"

typedef struct conn {
    ac_chat_t *chat;
    char *line;          /* the line so far: any bytes, NUL included */
    size_t len, cap;
    struct conn **list, *prev, *next; /* kept so shutdown can free them */
} conn_t;

static int sig_wfd = -1; /* self-pipe: a handler may only write(2) */

static void on_signal(int sig)
{
    int saved = errno;
    ssize_t n = write(sig_wfd, &sig, 1); /* full pipe: a wakeup is pending */
    (void)n;
    errno = saved;
}

static void conn_free(conn_t *k)
{
    *(k->prev ? &k->prev->next : k->list) = k->next;
    if (k->next)
        k->next->prev = k->prev;
    ac_chat_free(k->chat); /* safe from its own callbacks */
    free(k->line);
    free(k);
}

static void collect(ac_chat_t *c, const void *data, size_t len, void *ud)
{
    conn_t *k = ud;
    (void)c;
    if (k->len + len > k->cap) {
        size_t cap = k->cap ? k->cap : 256;
        while (cap < k->len + len)
            cap *= 2;
        char *p = realloc(k->line, cap);
        if (p == NULL) {
            conn_free(k); /* closing stops the rest of this read's framing */
            return;
        }
        k->line = p;
        k->cap = cap;
    }
    memcpy(k->line + k->len, data, len);
    k->len += len;
}

static void found(ac_chat_t *c, void *ud)
{
    conn_t *k = ud;
    /* push copies, so the line buffer is reusable at once */
    if (ac_chat_push(c, k->line, k->len) < 0 || ac_chat_push(c, "\r\n", 2) < 0)
        conn_free(k);
    else
        k->len = 0;
}

static void closed(ac_chat_t *c, void *ud)
{
    (void)c;
    conn_free(ud);
}

/* Flow control: a client that sends but never reads stops being read once
 * 1 MiB of replies waits for it, so the server's memory stays bounded. */
static int readable(ac_chat_t *c, void *ud)
{
    (void)ud;
    return ac_chat_pending(c) < (1u << 20);
}

static const ac_chat_ops_t chat_ops = {
    .collect_incoming_data = collect,
    .found_terminator = found,
    .handle_close = closed, /* errors default to handle_close too */
    .readable = readable,
};

static void on_accept(ac_disp_t *d, int fd, const struct sockaddr *addr,
                      socklen_t addrlen, void *ud)
{
    (void)addr, (void)addrlen;
    conn_t *k = calloc(1, sizeof(*k));
    if (k == NULL || ac_chat_new(&k->chat, ac_disp_map(d), &chat_ops, k) < 0 ||
        ac_chat_set_terminator(k->chat, "\r\n", 2) < 0 ||
        ac_disp_adopt(ac_chat_disp(k->chat), fd) < 0) {
        if (k)
            ac_chat_free(k->chat);
        free(k);
        close(fd); /* shed this client, keep serving the others */
        return;
    }
    k->list = ud;
    k->next = *k->list;
    if (k->next)
        k->next->prev = k;
    *k->list = k;
}

static int no(ac_disp_t *d, void *ud) { (void)d, (void)ud; return 0; }

static void on_wakeup(ac_disp_t *d, void *ud)
{
    (void)ud;
    ac_map_exit(ac_disp_map(d));
}

static int usage(FILE *f, int rc)
{
    fprintf(f, "usage: achat-echo [--host ADDR] [--port N] "
               "[--backend select|poll]\n");
    return rc;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *port = "0", *bname = "poll";
    for (int i = 1; i < argc; i++) {
        const char **opt = !strcmp(argv[i], "--host")      ? &host
                           : !strcmp(argv[i], "--port")    ? &port
                           : !strcmp(argv[i], "--backend") ? &bname : NULL;
        if (!strcmp(argv[i], "--help"))
            return usage(stdout, 0);
        if (opt == NULL || i + 1 == argc)
            return usage(stderr, 2);
        *opt = argv[++i];
    }
    const ac_backend_t *backend = ac_backend_by_name(bname);
    if (backend == NULL) {
        fprintf(stderr, "achat-echo: unknown backend %s\n", bname);
        return usage(stderr, 2);
    }
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICHOST |
                             AI_NUMERICSERV, .ai_socktype = SOCK_STREAM}, *ai;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) { /* numeric only: a name could resolve to several */
        fprintf(stderr, "achat-echo: %s:%s: %s\n", host, port,
                gai_strerror(rc));
        return usage(stderr, 2);
    }

    ac_map_t *map = NULL;
    ac_disp_t *lst = NULL, *wake = NULL;
    conn_t *conns = NULL;
    int sv[2] = {-1, -1}, status = 1;
    static const ac_ops_t lst_ops = {.handle_accept = on_accept};
    static const ac_ops_t wake_ops = {.writable = no, .handle_read = on_wakeup};
    if ((rc = ac_map_new(&map)) < 0 ||
        (rc = ac_disp_new(&lst, map, &lst_ops, &conns)) < 0 ||
        (rc = ac_disp_create_socket(lst, ai->ai_family, SOCK_STREAM)) < 0 ||
        (rc = ac_disp_set_reuse_addr(lst)) < 0 ||
        (rc = ac_disp_bind(lst, ai->ai_addr, ai->ai_addrlen)) < 0 ||
        (rc = ac_disp_listen(lst, SOMAXCONN)) < 0 ||
        (rc = ac_disp_new(&wake, map, &wake_ops, NULL)) < 0)
        goto out;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv) < 0) {
        rc = -errno;
        goto out;
    }
    if ((rc = ac_disp_adopt(wake, sv[0])) < 0)
        goto out;
    sv[0] = -1; /* the wakeup channel owns it now */
    sig_wfd = sv[1];
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    /* print the bound address, not the requested one: port 0 picks a port */
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char h[NI_MAXHOST], p[NI_MAXSERV];
    getsockname(ac_disp_fd(lst), (struct sockaddr *)&ss, &sl);
    getnameinfo((struct sockaddr *)&ss, sl, h, sizeof(h), p, sizeof(p),
                NI_NUMERICHOST | NI_NUMERICSERV);
    printf(ss.ss_family == AF_INET6 ? "listening on [%s]:%s\n"
                                    : "listening on %s:%s\n", h, p);
    fflush(stdout);

    rc = ac_loop(map, AC_INFINITE, backend, AC_LOOP_FOREVER);
    status = rc < 0;
    signal(SIGINT, SIG_DFL); /* a second ^C during cleanup still kills */
    signal(SIGTERM, SIG_DFL);
out:
    if (rc < 0)
        fprintf(stderr, "achat-echo: %s:%s: %s\n", host, port, ac_strerror(rc));
    while (conns)
        conn_free(conns);
    ac_disp_free(wake);
    ac_disp_free(lst);
    if (map)
        ac_map_free(map);
    for (int i = 0; i < 2; i++)
        if (sv[i] >= 0)
            close(sv[i]);
    freeaddrinfo(ai);
    return status;
}
