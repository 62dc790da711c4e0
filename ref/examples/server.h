/* server.h: the skeleton the example servers share (command line, listener,
 * SIGINT/SIGTERM, loop, teardown), so that each example file holds only its
 * connection type, its callbacks and its accept handler. */
#ifndef ACHAT_EXAMPLES_SERVER_H
#define ACHAT_EXAMPLES_SERVER_H

#include "achat.h"

/* Embedded first in every connection, so that the server can hand the
 * connections still open at shutdown back to their owner's free. */
typedef struct server_link server_link_t;
struct server_link {
    server_link_t **list, *prev, *next;
};

typedef struct {
    const char *name;          /* e.g. "achat-echo", for usage and errors */
    const ac_ops_t *listener;  /* handle_accept gets a server_link_t ** */
    void (*conn_free)(void *conn); /* must server_unlink() it */
    const char *usage_note;    /* printed after the usage line, or NULL */
} server_t;

/* Puts a new connection on the list handle_accept was given as ud. */
void server_link(server_link_t **list, server_link_t *conn);

/* Takes a connection off its list; call before freeing it. */
void server_unlink(server_link_t *conn);

/* Parses --host/--port/--backend/--help, listens, prints "listening on
 * HOST:PORT" and loops until SIGINT/SIGTERM; returns the exit status. */
int server_main(const server_t *srv, int argc, char **argv);

#endif /* ACHAT_EXAMPLES_SERVER_H */
