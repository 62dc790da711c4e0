/* achat-echo: the line-echo server of the classic asynchat tutorial.  Every
 * connection is a chat framed on "\r\n"; each complete line goes back to its
 * sender with the terminator.  SIGINT/SIGTERM end it with all memory freed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server.h"

/* A client that never sends CRLF must not grow the server without bound:
 * past this many bytes in one line its connection is closed. */
#define LINE_LIMIT (4u << 20)

typedef struct conn {
    server_link_t link;  /* first: the server frees conns through it */
    ac_chat_t *chat;
    char *line;          /* the line so far: any bytes, NUL included */
    size_t len, cap;
} conn_t;

static void conn_free(void *conn)
{
    conn_t *k = conn;
    server_unlink(&k->link);
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

static void failed(ac_chat_t *c, int err, void *ud)
{
    (void)c;
    if (err == AC_ETOOBIG)
        fprintf(stderr, "achat-echo: a line over %u bytes: connection "
                        "closed\n", LINE_LIMIT);
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
    .handle_close = closed,
    .handle_error = failed,
    .readable = readable,
};

static void on_accept(ac_disp_t *d, int fd, const struct sockaddr *addr,
                      socklen_t addrlen, void *ud)
{
    (void)addr, (void)addrlen;
    conn_t *k = calloc(1, sizeof(*k));
    if (k == NULL || ac_chat_new(&k->chat, ac_disp_map(d), &chat_ops, k) < 0 ||
        ac_chat_set_terminator(k->chat, "\r\n", 2) < 0 ||
        ac_chat_set_input_limit(k->chat, LINE_LIMIT) < 0 ||
        ac_disp_adopt(ac_chat_disp(k->chat), fd) < 0) {
        if (k)
            ac_chat_free(k->chat);
        free(k);
        close(fd); /* shed this client, keep serving the others */
        return;
    }
    server_link(ud, &k->link);
}

int main(int argc, char **argv)
{
    static const ac_ops_t listener = {.handle_accept = on_accept};
    static const server_t srv = {
        "achat-echo", &listener, conn_free,
        "A line longer than 4 MiB (4194304 bytes, CRLF excluded) closes its\n"
        "connection with one line on stderr; other clients are unaffected.\n"};
    return server_main(&srv, argc, argv);
}
