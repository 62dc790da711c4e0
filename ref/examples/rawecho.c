/* achat-rawecho: the echo server of the classic asyncore tutorial, on plain
 * dispatchers: whatever bytes arrive go back unchanged, no framing.
 * SIGINT/SIGTERM end it with all memory freed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server.h"

typedef struct conn {
    server_link_t link;  /* first: the server frees conns through it */
    ac_disp_t *d;
    size_t len;
    char buf[65536];
} conn_t;

static void conn_free(void *conn)
{
    conn_t *k = conn;
    server_unlink(&k->link);
    ac_disp_free(k->d); /* safe from its own callbacks */
    free(k);
}

/* A full buffer stops reading: a client that never reads gets TCP
 * backpressure instead of growing the server's memory. */
static int readable(ac_disp_t *d, void *ud)
{
    (void)d;
    return ((conn_t *)ud)->len < sizeof(((conn_t *)ud)->buf);
}

/* Watching for output with nothing to send would wake every pass. */
static int writable(ac_disp_t *d, void *ud)
{
    (void)d;
    return ((conn_t *)ud)->len > 0;
}

static void on_read(ac_disp_t *d, void *ud)
{
    conn_t *k = ud;
    ssize_t n = ac_disp_recv(d, k->buf + k->len, sizeof(k->buf) - k->len);
    if (n > 0)
        k->len += (size_t)n;
    else if (n < 0 && n != -EAGAIN)
        conn_free(k); /* n == 0: handle_close already freed k */
}

static void on_write(ac_disp_t *d, void *ud)
{
    conn_t *k = ud;
    ssize_t n = ac_disp_send(d, k->buf, k->len);
    if (n > 0) {
        k->len -= (size_t)n;
        memmove(k->buf, k->buf + n, k->len);
    } else if (n < 0 && !ac_disp_closed(d)) {
        conn_free(k); /* a disconnect already ran handle_close */
    }
}

static void on_close(ac_disp_t *d, void *ud)
{
    (void)d;
    conn_free(ud);
}

static const ac_ops_t conn_ops = {
    .readable = readable, .writable = writable, .handle_read = on_read,
    .handle_write = on_write, .handle_close = on_close,
};

static void on_accept(ac_disp_t *d, int fd, const struct sockaddr *addr,
                      socklen_t addrlen, void *ud)
{
    (void)addr, (void)addrlen;
    conn_t *k = calloc(1, sizeof(*k));
    if (k == NULL || ac_disp_new(&k->d, ac_disp_map(d), &conn_ops, k) < 0 ||
        ac_disp_adopt(k->d, fd) < 0) {
        if (k)
            ac_disp_free(k->d);
        free(k);
        close(fd); /* shed this client, keep serving the others */
        return;
    }
    server_link(ud, &k->link);
}

int main(int argc, char **argv)
{
    static const ac_ops_t listener = {.handle_accept = on_accept};
    static const server_t srv = {"achat-rawecho", &listener, conn_free};
    return server_main(&srv, argc, argv);
}
