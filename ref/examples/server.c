/* server.c: the example servers' shared skeleton.  Signals reach the loop
 * through a socketpair read by a wakeup channel, so that SIGINT/SIGTERM end
 * it between callbacks and every connection is freed before exit. */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "server.h"

static int sig_wfd = -1; /* self-pipe: a handler may only write(2) */

static void on_signal(int sig)
{
    int saved = errno;
    ssize_t n = write(sig_wfd, &sig, 1); /* full pipe: a wakeup is pending */
    (void)n;
    errno = saved;
}

void server_link(server_link_t **list, server_link_t *conn)
{
    conn->list = list;
    conn->prev = NULL;
    conn->next = *list;
    if (conn->next)
        conn->next->prev = conn;
    *list = conn;
}

void server_unlink(server_link_t *conn)
{
    *(conn->prev ? &conn->prev->next : conn->list) = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
}

static int no(ac_disp_t *d, void *ud) { (void)d, (void)ud; return 0; }

static void on_wakeup(ac_disp_t *d, void *ud)
{
    (void)ud;
    ac_map_exit(ac_disp_map(d));
}

static int usage(const server_t *srv, FILE *f, int rc)
{
    fprintf(f, "usage: %s [--host ADDR] [--port N] "
               "[--backend select|poll|epoll]\n", srv->name);
    if (srv->usage_note)
        fputs(srv->usage_note, f);
    return rc;
}

/* What the command line asks for. */
typedef struct {
    const char *host, *port;
    const ac_backend_t *backend;
    struct addrinfo *ai;
} args_t;

/* Returns -1 when a has the server to run, else the exit status. */
static int parse_args(const server_t *srv, int argc, char **argv, args_t *a)
{
    const char *bname = "poll";
    a->host = "127.0.0.1";
    a->port = "0";
    for (int i = 1; i < argc; i++) {
        const char **opt = !strcmp(argv[i], "--host")      ? &a->host
                           : !strcmp(argv[i], "--port")    ? &a->port
                           : !strcmp(argv[i], "--backend") ? &bname : NULL;
        if (!strcmp(argv[i], "--help"))
            return usage(srv, stdout, 0);
        if (opt == NULL || i + 1 == argc)
            return usage(srv, stderr, 2);
        *opt = argv[++i];
    }
    a->backend = ac_backend_by_name(bname);
    if (a->backend == NULL) {
        fprintf(stderr, "%s: unknown backend %s\n", srv->name, bname);
        return usage(srv, stderr, 2);
    }
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICHOST |
                             AI_NUMERICSERV, .ai_socktype = SOCK_STREAM};
    int rc = getaddrinfo(a->host, a->port, &hints, &a->ai);
    if (rc != 0) { /* numeric only: a name could resolve to several */
        fprintf(stderr, "%s: %s:%s: %s\n", srv->name, a->host, a->port,
                gai_strerror(rc));
        return usage(srv, stderr, 2);
    }
    return -1;
}

/* Prints the bound address, not the requested one: port 0 picks a port. */
static void announce(ac_disp_t *lst)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char h[NI_MAXHOST], p[NI_MAXSERV];
    getsockname(ac_disp_fd(lst), (struct sockaddr *)&ss, &sl);
    getnameinfo((struct sockaddr *)&ss, sl, h, sizeof(h), p, sizeof(p),
                NI_NUMERICHOST | NI_NUMERICSERV);
    printf(ss.ss_family == AF_INET6 ? "listening on [%s]:%s\n"
                                    : "listening on %s:%s\n", h, p);
    fflush(stdout);
}

int server_main(const server_t *srv, int argc, char **argv)
{
    args_t a;
    int rc = parse_args(srv, argc, argv, &a);
    if (rc >= 0)
        return rc;
    const char *host = a.host, *port = a.port;
    const ac_backend_t *backend = a.backend;
    struct addrinfo *ai = a.ai;

    ac_map_t *map = NULL;
    ac_disp_t *lst = NULL, *wake = NULL;
    server_link_t *conns = NULL;
    int sv[2] = {-1, -1}, status = 1;
    static const ac_ops_t wake_ops = {.writable = no, .handle_read = on_wakeup};
    if ((rc = ac_map_new(&map)) < 0 ||
        (rc = ac_disp_new(&lst, map, srv->listener, &conns)) < 0 ||
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

    announce(lst);
    rc = ac_loop(map, AC_INFINITE, backend, AC_LOOP_FOREVER);
    status = rc < 0;
    signal(SIGINT, SIG_DFL); /* a second ^C during cleanup still kills */
    signal(SIGTERM, SIG_DFL);
out:
    if (rc < 0)
        fprintf(stderr, "%s: %s:%s: %s\n", srv->name, host, port,
                ac_strerror(rc));
    while (conns)
        srv->conn_free(conns);
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
