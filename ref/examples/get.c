/* achat-get: the HTTP/1.0 client of the asyncore documentation.  Once
 * connected it sends one GET request and copies the whole response to
 * stdout; the server closing the connection ends the program. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "achat.h"

typedef struct client {
    const char *host, *port;
    ac_map_t *map;
    ac_disp_t *d;
    const struct addrinfo *next; /* resolved addresses not yet tried */
    char *req;
    size_t off, len;
    int err, status;
} client_t;

static int writable(ac_disp_t *d, void *ud)
{
    (void)d;
    return ((client_t *)ud)->off < ((client_t *)ud)->len;
}

static void on_write(ac_disp_t *d, void *ud)
{
    client_t *cl = ud;
    ssize_t n = ac_disp_send(d, cl->req + cl->off, cl->len - cl->off);
    if (n > 0)
        cl->off += (size_t)n;
    else if (n < 0 && !ac_disp_closed(d)) {
        fprintf(stderr, "achat-get: send: %s\n", ac_strerror((int)n));
        cl->status = 1;
        ac_disp_close(d);
    }
}

static void on_read(ac_disp_t *d, void *ud)
{
    client_t *cl = ud;
    char buf[8192];
    ssize_t n = ac_disp_recv(d, buf, sizeof(buf));
    if (n > 0) {
        fwrite(buf, 1, (size_t)n, stdout);
    } else if (n < 0 && n != -EAGAIN) {
        fprintf(stderr, "achat-get: recv: %s\n", ac_strerror((int)n));
        cl->status = 1;
        ac_disp_close(d);
    } /* n == 0: the server closed; handle_close has run and the map empties */
}

static int try_next(client_t *cl);

/* A refused or unreachable address is not final while others remain
 * (localhost may resolve to ::1 and 127.0.0.1, only one listening). */
static void on_error(ac_disp_t *d, int err, void *ud)
{
    client_t *cl = ud;
    (void)d;
    cl->err = err;
    try_next(cl);
}

static const ac_ops_t ops = {
    .writable = writable, .handle_read = on_read,
    .handle_write = on_write, .handle_error = on_error,
};

static int try_next(client_t *cl)
{
    while (cl->next) {
        const struct addrinfo *ai = cl->next;
        cl->next = ai->ai_next;
        ac_disp_free(cl->d); /* the failed attempt; safe in its callbacks */
        cl->d = NULL;
        int rc = ac_disp_new(&cl->d, cl->map, &ops, cl);
        if (rc == 0)
            rc = ac_disp_create_socket(cl->d, ai->ai_family, SOCK_STREAM);
        if (rc == 0)
            rc = ac_disp_connect(cl->d, ai->ai_addr, ai->ai_addrlen);
        if (rc == 0)
            return 0; /* the outcome comes from the loop */
        cl->err = rc;
    }
    fprintf(stderr, "achat-get: cannot connect to %s port %s: %s\n",
            cl->host, cl->port, ac_strerror(cl->err));
    ac_disp_close(cl->d); /* nothing left to try: the loop ends */
    cl->status = 1;
    return -1;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--help")) {
        printf("usage: achat-get HOST PORT PATH\n");
        return 0;
    }
    if (argc != 4) {
        fprintf(stderr, "usage: achat-get HOST PORT PATH\n");
        return 2;
    }
    const char *host = argv[1], *port = argv[2], *path = argv[3];
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "achat-get: %s port %s: %s\n", host, port,
                gai_strerror(rc));
        return 1;
    }
    /* an IPv6 literal needs brackets in the Host header (RFC 3986) */
    const char *fmt = strchr(host, ':') ? "GET %s HTTP/1.0\r\nHost: [%s]\r\n\r\n"
                                        : "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n";
    client_t cl = {.host = host, .port = port, .next = res};
    int len = snprintf(NULL, 0, fmt, path, host);
    cl.req = malloc((size_t)len + 1);
    if (cl.req == NULL || (rc = ac_map_new(&cl.map)) < 0) {
        fprintf(stderr, "achat-get: out of memory\n");
        cl.status = 1;
        goto out;
    }
    cl.len = (size_t)snprintf(cl.req, (size_t)len + 1, fmt, path, host);
    if (try_next(&cl) == 0)
        rc = ac_loop(cl.map, AC_INFINITE, NULL, AC_LOOP_FOREVER);
    if (rc < 0) {
        fprintf(stderr, "achat-get: loop: %s\n", ac_strerror(rc));
        cl.status = 1;
    }
    if (fflush(stdout) != 0)
        cl.status = 1;
out:
    ac_disp_free(cl.d);
    if (cl.map)
        ac_map_free(cl.map);
    free(cl.req);
    freeaddrinfo(res);
    return cl.status;
}
