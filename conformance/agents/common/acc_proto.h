/* acc_proto.h: the agent protocol's wire codec and message pump, shared by
 * the suite-side adapter (agents/client) and the generic C agent server
 * (agents/server).  docs/agent-protocol.md is the normative description;
 * this header only names what both C sides need. */
#ifndef ACC_PROTO_H
#define ACC_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define ACCP_VERSION 1
/* A line, LF excluded.  Sized for the largest payload a case sends (4 MiB
 * pushed at once, or four 1 MiB producer chunks) even if every byte needed
 * a %XX escape. */
#define ACCP_MAX_LINE (32u << 20)
#define ACCP_MAX_FDS 4          /* descriptors one message may carry */
#define ACCP_FD_QUEUE 16        /* received and not yet claimed */
#define ACCP_DEFAULT_TIMEOUT_MS 5000

/* One decoded line.  kind 'Q' (request: seq, verb = tok[0], args), 'R'
 * (reply: seq, rc = tok[0], values) or 'N' (notification: verb = tok[0]).
 * Tokens point into line, which the message owns. */
typedef struct accp_msg {
    char kind;
    uint64_t seq;
    char *line;
    size_t len;
    char **tok;
    int ntok;
    int fds[ACCP_MAX_FDS];      /* one per "@" token, in token order */
    int nfds;
} accp_msg_t;

/* A growable output line. */
typedef struct accp_buf {
    char *p;
    size_t n, cap;
    int oom;
} accp_buf_t;

typedef struct accp_conn accp_conn_t;

/* One side of a connection: the codec state and the pump's hooks. */
struct accp_conn {
    int fd;
    int timeout_ms;             /* longest silence while a reply is due */
    /* Input: bytes read and not yet consumed, at stream offset rx_base. */
    unsigned char *in;
    size_t in_len, in_cap;
    uint64_t rx_base;
    /* Descriptors received, each with the stream offset at which the read
     * that brought it ended: it belongs to the line holding that byte. */
    struct { int fd; uint64_t end; } fdq[ACCP_FD_QUEUE];
    int nfdq;
    uint64_t next_seq;          /* of our next request */
    uint64_t peer_seq;          /* last request seq the peer sent */
    uint64_t waiting[64];       /* our requests still unanswered, nested */
    int depth;
    int strict_seq;             /* peer requests must increase */
    char err[512];              /* why the last call failed */
    /* Pump hooks.  serve answers one incoming request (it must send the
     * reply with accp_reply); notify takes a notification; before_send
     * runs before every line this side sends (the server reports closed
     * channels from there).  A hook returns 0, or -1 with err set. */
    int (*serve)(accp_conn_t *c, accp_msg_t *q);
    int (*notify)(accp_conn_t *c, accp_msg_t *n);
    int (*before_send)(accp_conn_t *c);
    int in_hook;                /* before_send is running */
    int trace;                  /* print every line to stderr */
    const char *trace_tag;
    void *user;
};

/* ------------------------------------------------------------ codec -- */

void accp_conn_init(accp_conn_t *c, int fd);
/* Frees the buffers and closes any received descriptor not yet claimed;
 * does not close c->fd. */
void accp_conn_free(accp_conn_t *c);

/* Parses one line (without its LF) in place into m; m->line must already
 * hold it (m owns it).  0, or -1 with a reason in err.  Descriptors are not
 * attached here (see accp_read). */
int accp_parse(accp_msg_t *m, char *err, size_t errlen);
void accp_msg_free(accp_msg_t *m);

/* Reads the next whole line within timeout_ms (-1: no bound), parses it and
 * attaches its descriptors.  0; -1 with c->err set (end of stream, timeout,
 * overlong line, bad syntax, descriptors missing or unexpected). */
int accp_read(accp_conn_t *c, accp_msg_t *m, int timeout_ms);

/* Appends bytes already read (for tests: the decoder without a socket). */
int accp_feed(accp_conn_t *c, const void *p, size_t n);

void accp_buf_init(accp_buf_t *b);
void accp_buf_free(accp_buf_t *b);
void accp_buf_reset(accp_buf_t *b);
/* A space before every token but the first. */
void accp_put_tok(accp_buf_t *b, const char *tok);
void accp_put_u64(accp_buf_t *b, uint64_t v);
void accp_put_i64(accp_buf_t *b, int64_t v);
/* "=" then the bytes, %-escaped. */
void accp_put_bytes(accp_buf_t *b, const void *p, size_t n);
/* A result: a count >= 0, or "-ENAME" for a negative errno. */
void accp_put_rc(accp_buf_t *b, long rc);
void accp_put_printf(accp_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Sends one line (LF added) with at most one descriptor, within the
 * connection's timeout.  0, or -1 with c->err set. */
int accp_send_line(accp_conn_t *c, const char *line, size_t n, int fd);

/* Token decoders.  0, or -1 (and err) if the token is malformed. */
int accp_tok_bytes(char *tok, unsigned char **out, size_t *n); /* in place */
int accp_tok_u64(const char *tok, uint64_t *v);
int accp_tok_i64(const char *tok, int64_t *v);
int accp_tok_rc(const char *tok, long *rc); /* "5", "-EPIPE" */

/* Errno names, spelled the same everywhere ("EPIPE"). */
const char *accp_errno_name(int err);   /* positive errno; NULL if unknown */
int accp_errno_by_name(const char *s);  /* positive errno, or 0 if unknown */

/* ------------------------------------------------------------- pump -- */

/* Sends request "Q <seq> <body>" (with fd >= 0 attached) and runs the pump
 * until its reply arrives, serving the peer's requests and notifications
 * meanwhile (they may nest).  0 with *reply (free it), or -1 with c->err.
 * timeout_ms bounds each silence (0: the connection's default). */
int accp_call(accp_conn_t *c, const char *body, size_t n, int fd,
              accp_msg_t *reply, int timeout_ms);
/* Replies "R <seq> <body>" to request q. */
int accp_reply(accp_conn_t *c, const accp_msg_t *q, const char *body,
               size_t n, int fd);
/* Sends "N <body>". */
int accp_notify(accp_conn_t *c, const char *body, size_t n);
/* Serves requests until the peer closes the connection (returns 0) or
 * something fails (-1, c->err).  idle_ms bounds each wait (-1: none). */
int accp_serve_loop(accp_conn_t *c, int idle_ms);

#endif /* ACC_PROTO_H */
