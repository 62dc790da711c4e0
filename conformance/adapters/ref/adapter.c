/* adapter.c: the reference implementation's adapter, and the worked example
 * of docs/implementing.md.  Each entry is a few lines mapping the suite's
 * table onto achat.h; the chat and dispatcher callbacks forward to the
 * suite's acc_events_t with its ctx. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* conformance/adapters/twin builds this adapter under another name, to
 * prove that no driver treats the reference by its name. */
#ifndef ACC_REF_NAME
#define ACC_REF_NAME "reference"
#endif

#include "acc_adapter.h"
#include "achat.h"

/* Every channel remembers the suite's callbacks and context. */
typedef struct {
    const acc_events_t *ev;
    void *ctx;
    ac_chat_t *chat;  /* set for chat channels */
    ac_disp_t *disp;  /* always set */
} chan_t;

static const ac_backend_t *backend(const char *name)
{
    return name ? ac_backend_by_name(name) : NULL;
}

static int map_new(void **map) { return ac_map_new((ac_map_t **)map); }
static void map_free(void *map) { ac_map_free(map); }
static void *map_default(void) { return ac_map_default(); }
static long map_size(void *map) { return (long)ac_map_size(map); }
static int close_all(void *map) { return ac_map_close_all(map); }
static int map_exit(void *map) { return ac_map_exit(map); }

static int poll_once(void *map, const char *b, int timeout_ms)
{
    const ac_backend_t *be = backend(b);
    return b && !be ? -EINVAL : ac_poll(map, timeout_ms, be);
}

static int loop(void *map, const char *b, int timeout_ms, int count)
{
    const ac_backend_t *be = backend(b);
    return b && !be ? -EINVAL : ac_loop(map, timeout_ms, be, count);
}

/* Chat callbacks. */
static void c_collect(ac_chat_t *c, const void *p, size_t n, void *ud)
{
    (void)c;
    chan_t *ch = ud;
    ch->ev->collect(ch->ctx, p, n);
}
static void c_found(ac_chat_t *c, void *ud)
{
    (void)c;
    chan_t *ch = ud;
    ch->ev->found(ch->ctx);
}
static void c_connect(ac_chat_t *c, void *ud)
{
    (void)c;
    chan_t *ch = ud;
    ch->ev->connect(ch->ctx);
}
static void c_close(ac_chat_t *c, void *ud)
{
    (void)c;
    chan_t *ch = ud;
    ch->ev->close(ch->ctx);
}
/* The error handler of ACC_ERROR_CLOSE and ACC_ERROR_KEEP; ACC_ERROR_DEFAULT
 * installs none, so achat's own default (handle_close) runs. */
static void error_then(ac_disp_t *d, chan_t *ch, int err)
{
    int keep = ch->ev->error_mode == ACC_ERROR_KEEP; /* ch may be freed next */
    ch->ev->error(ch->ctx, err);
    /* The suite's error handler only records; asyncore's default then
     * closes, and so do we unless the channel was made to keep going. */
    if (!keep && !ac_disp_closed(d))
        ac_disp_close(d), ch->ev->close(ch->ctx);
}
static void c_error(ac_chat_t *c, int err, void *ud)
{
    error_then(ac_chat_disp(c), ud, err);
}
static int c_readable(ac_chat_t *c, void *ud)
{
    (void)c;
    chan_t *ch = ud;
    return ch->ev->readable(ch->ctx);
}

static const ac_chat_ops_t chat_ops = {c_collect, c_found, c_connect,
                                       c_close, c_error, NULL};

/* Plain dispatcher callbacks. */
static int d_readable(ac_disp_t *d, void *ud)
{
    (void)d;
    chan_t *ch = ud;
    return ch->ev->readable ? ch->ev->readable(ch->ctx) : 1;
}
static int d_writable(ac_disp_t *d, void *ud)
{
    (void)d;
    chan_t *ch = ud;
    return ch->ev->writable ? ch->ev->writable(ch->ctx) : 0;
}
static void d_read(ac_disp_t *d, void *ud)
{
    (void)d;
    chan_t *ch = ud;
    ch->ev->read(ch->ctx);
}
static void d_write(ac_disp_t *d, void *ud)
{
    (void)d;
    chan_t *ch = ud;
    ch->ev->write(ch->ctx);
}
static void d_connect(ac_disp_t *d, void *ud)
{
    (void)d;
    chan_t *ch = ud;
    ch->ev->connect(ch->ctx);
}
static void d_accept(ac_disp_t *d, int fd, const struct sockaddr *a,
                     socklen_t l, void *ud)
{
    (void)d, (void)a, (void)l;
    chan_t *ch = ud;
    ch->ev->accept(ch->ctx, fd);
}
static void d_close(ac_disp_t *d, void *ud)
{
    (void)d;
    chan_t *ch = ud;
    ch->ev->close(ch->ctx);
}
static void d_error(ac_disp_t *d, int err, void *ud)
{
    error_then(d, ud, err);
}
static void d_expt(ac_disp_t *d, void *ud)
{
    (void)d;
    chan_t *ch = ud;
    ch->ev->expt(ch->ctx);
}

static const ac_ops_t disp_ops = {d_readable, d_writable, d_read, d_write,
                                  d_connect, d_accept, d_close, d_error,
                                  NULL};

static chan_t *chan_new(const acc_events_t *ev, void *ctx)
{
    chan_t *ch = calloc(1, sizeof(*ch));
    if (ch) {
        ch->ev = ev;
        ch->ctx = ctx;
    }
    return ch;
}

static void chan_free(void *p)
{
    chan_t *ch = p;
    if (ch == NULL)
        return;
    if (ch->chat)
        ac_chat_free(ch->chat);
    else
        ac_disp_free(ch->disp);
    free(ch);
}

static int make_chat(chan_t **out, void *map, const acc_events_t *ev,
                     void *ctx)
{
    chan_t *ch = chan_new(ev, ctx);
    if (ch == NULL)
        return -ENOMEM;
    /* achat copies the ops at creation, so what ev asks for (error mode,
     * a readable of its own) is chosen here, once. */
    ac_chat_ops_t ops = chat_ops;
    if (ev->error_mode == ACC_ERROR_DEFAULT)
        ops.handle_error = NULL;
    if (ev->readable)
        ops.readable = c_readable;
    int rc = ac_chat_new(&ch->chat, map, &ops, ch);
    if (rc < 0) {
        free(ch);
        return rc;
    }
    ch->disp = ac_chat_disp(ch->chat);
    *out = ch;
    return rc;
}

static int make_disp(chan_t **out, void *map, const acc_events_t *ev,
                     void *ctx)
{
    chan_t *ch = chan_new(ev, ctx);
    if (ch == NULL)
        return -ENOMEM;
    ac_ops_t ops = disp_ops;
    if (ev->error_mode == ACC_ERROR_DEFAULT)
        ops.handle_error = NULL;
    if (ev->expt) /* else achat's default consumes the urgent byte */
        ops.handle_expt = d_expt;
    int rc = ac_disp_new(&ch->disp, map, &ops, ch);
    if (rc < 0) {
        free(ch);
        return rc;
    }
    *out = ch;
    return rc;
}

/* Shared tail of every constructor.  On failure the adapter frees what it
 * made, but tidies nothing up for achat: a refused adopt must leave the
 * channel without a socket (E6) and a refused connect must leave it closed
 * (D17), so a channel still holding a socket is left as it is, registered,
 * for the suite's residue checks to see (docs/implementing.md).  own_socket:
 * the socket is the adapter's own (listen's, failing in bind or listen).
 * Every step goes on only after a 0, and the first other result is what the
 * suite gets, as achat gave it: a success reported as anything but 0 is
 * for the suite to judge (E1), not for the adapter to tidy into a 0. */
static int finish(void **out, chan_t *ch, int rc, int own_socket)
{
    if (rc < 0) {
        if (own_socket || ac_disp_fd(ch->disp) < 0)
            chan_free(ch);
        return rc;
    }
    *out = ch;
    return rc;
}

static int chat_adopt(void **out, void *map, int fd, const acc_events_t *ev,
                      void *ctx)
{
    chan_t *ch;
    int rc = make_chat(&ch, map, ev, ctx);
    if (rc < 0)
        return rc;
    if (rc == 0)
        rc = ac_disp_adopt(ch->disp, fd);
    return finish(out, ch, rc, 0);
}

static int chat_connect(void **out, void *map, const struct sockaddr *addr,
                        socklen_t len, const acc_events_t *ev, void *ctx)
{
    chan_t *ch;
    int rc = make_chat(&ch, map, ev, ctx);
    if (rc < 0)
        return rc;
    if (rc == 0)
        rc = ac_disp_create_socket(ch->disp, addr->sa_family, SOCK_STREAM);
    if (rc == 0)
        rc = ac_disp_connect(ch->disp, addr, len);
    return finish(out, ch, rc, 0);
}

static int listen_on(void **out, void *map, const struct sockaddr *addr,
                     socklen_t len, const acc_events_t *ev, void *ctx)
{
    chan_t *ch;
    int rc = make_disp(&ch, map, ev, ctx);
    if (rc < 0)
        return rc;
    if (rc == 0)
        rc = ac_disp_create_socket(ch->disp, addr->sa_family, SOCK_STREAM);
    if (rc == 0)
        rc = ac_disp_set_reuse_addr(ch->disp);
    if (rc == 0)
        rc = ac_disp_bind(ch->disp, addr, len);
    if (rc == 0)
        rc = ac_disp_listen(ch->disp, 16);
    return finish(out, ch, rc, 1);
}

static int disp_connect(void **out, void *map, const struct sockaddr *addr,
                        socklen_t len, const acc_events_t *ev, void *ctx)
{
    chan_t *ch;
    int rc = make_disp(&ch, map, ev, ctx);
    if (rc < 0)
        return rc;
    if (rc == 0)
        rc = ac_disp_create_socket(ch->disp, addr->sa_family, SOCK_STREAM);
    if (rc == 0)
        rc = ac_disp_connect(ch->disp, addr, len);
    return finish(out, ch, rc, 0);
}

/* achat keeps the handle, so a second adopt is its own answer (D1). */
static int readopt(void *p, int fd) { return ac_disp_adopt(((chan_t *)p)->disp, fd); }

static int state(void *p)
{
    const ac_disp_t *d = ((chan_t *)p)->disp;
    return (ac_disp_connecting(d) ? ACC_STATE_CONNECTING : 0) |
           (ac_disp_connected(d) ? ACC_STATE_CONNECTED : 0) |
           (ac_disp_accepting(d) ? ACC_STATE_LISTENING : 0) |
           (ac_disp_closed(d) ? ACC_STATE_CLOSED : 0);
}

static int disp_adopt(void **out, void *map, int fd, const acc_events_t *ev,
                      void *ctx)
{
    chan_t *ch;
    int rc = make_disp(&ch, map, ev, ctx);
    if (rc < 0)
        return rc;
    if (rc == 0)
        rc = ac_disp_adopt(ch->disp, fd);
    return finish(out, ch, rc, 0);
}

static int ch_fd(void *p) { return ac_disp_fd(((chan_t *)p)->disp); }
static int ch_close(void *p) { return ac_disp_close(((chan_t *)p)->disp); }

static long ch_recv(void *p, void *buf, size_t len)
{
    return (long)ac_disp_recv(((chan_t *)p)->disp, buf, len);
}
static long ch_send(void *p, const void *buf, size_t len)
{
    return (long)ac_disp_send(((chan_t *)p)->disp, buf, len);
}

static ac_chat_t *chat(void *p) { return ((chan_t *)p)->chat; }

static int set_term(void *p, const void *t, size_t n)
{
    return ac_chat_set_terminator(chat(p), t, n);
}
static int set_count(void *p, uint64_t n) { return ac_chat_set_count(chat(p), n); }
static int set_none(void *p) { return ac_chat_set_none(chat(p)); }
static int set_limit(void *p, size_t n) { return ac_chat_set_input_limit(chat(p), n); }
static int set_bufs(void *p, size_t in, size_t out)
{
    return ac_chat_set_buffer_sizes(chat(p), in, out);
}
static int push(void *p, const void *d, size_t n) { return ac_chat_push(chat(p), d, n); }

/* The suite's producer: chunks in order, then exhaustion, or its failure
 * (fail_err) in place of chunk fail_at. */
typedef struct {
    acc_producer_t p;
    size_t next;
} prod_t;

static int prod_more(void *ud, const void **data, size_t *len)
{
    prod_t *pr = ud;
    if (pr->p.fail_err < 0 && pr->next == pr->p.fail_at)
        return pr->p.fail_err;
    if (pr->next >= pr->p.n) {
        *len = 0;
        return 0;
    }
    *data = pr->p.chunks[pr->next];
    *len = pr->p.lens[pr->next++];
    return 0;
}

static void prod_release(void *ud)
{
    prod_t *pr = ud;
    if (pr->p.released)
        pr->p.released(pr->p.pctx);
    free(pr);
}

static int push_producer(void *p, const acc_producer_t *src)
{
    prod_t *pr = calloc(1, sizeof(*pr));
    if (pr == NULL)
        return -ENOMEM;
    pr->p = *src;
    static const ac_producer_t ops = {prod_more, prod_release};
    return ac_chat_push_producer(chat(p), &ops, pr);
}

/* Read from the chat each time, never remembered here: the suite checks
 * what the implementation holds (T8's count lowers as bytes arrive). */
static int terminator(void *p, void *buf, size_t cap, size_t *len, uint64_t *count)
{
    const void *bytes = NULL;
    size_t n = 0;
    uint64_t left = 0;
    ac_term_kind_t k = ac_chat_terminator(chat(p), &bytes, &n, &left);
    *len = n;
    *count = left;
    if (k == AC_TERM_STRING && bytes != NULL) {
        memcpy(buf, bytes, n < cap ? n : cap);
        return ACC_TERM_STRING;
    }
    return k == AC_TERM_COUNT ? ACC_TERM_COUNT : ACC_TERM_NONE;
}

static long pending(void *p) { return (long)ac_chat_pending(chat(p)); }
static int cwd(void *p) { return ac_chat_close_when_done(chat(p)); }
static int discard(void *p) { return ac_chat_discard_buffers(chat(p)); }

/* ------------------------------------------------------------ misuse -- */
/* misuse(): one achat call made the wrong way (E2, E3).  ch is NULL in the
 * null-handle form, so m_disp/m_chat hand achat its NULL.  A form achat's
 * API has no way to say is -ENOSYS.  Whatever a constructor makes is freed
 * at once: the case only looks at the result. */
static ac_disp_t *m_disp(chan_t *ch) { return ch ? ch->disp : NULL; }
static ac_chat_t *m_chat(chan_t *ch) { return ch ? ch->chat : NULL; }

/* 127.0.0.1 at port: 0 for bind (any free port, so no privilege is at
 * stake), 1 for connect (nobody listens there). */
static struct sockaddr_in m_addr(int port)
{
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static int m_map_new(int form, chan_t *ch)
{
    (void)ch;
    ac_map_t *m = NULL;
    if (form == ACC_MISUSE_NULL_HANDLE)
        return ac_map_new(NULL);
    if (form != ACC_MISUSE_PLAIN)
        return -ENOSYS;
    int rc = ac_map_new(&m);
    if (rc == 0)
        ac_map_free(m);
    return rc;
}

static int m_chat_new(int form, chan_t *ch)
{
    (void)ch;
    ac_chat_t *c = NULL;
    if (form == ACC_MISUSE_NULL_HANDLE)
        return ac_chat_new(NULL, NULL, &chat_ops, NULL);
    if (form == ACC_MISUSE_ZERO_LENGTH)
        return -ENOSYS;
    int rc = ac_chat_new(&c, NULL,
                         form == ACC_MISUSE_NULL_ARG ? NULL : &chat_ops, NULL);
    ac_chat_free(c);
    return rc;
}

static int m_disp_new(int form, chan_t *ch)
{
    (void)ch;
    ac_disp_t *d = NULL;
    if (form == ACC_MISUSE_NULL_HANDLE)
        return ac_disp_new(NULL, NULL, &disp_ops, NULL);
    if (form == ACC_MISUSE_ZERO_LENGTH)
        return -ENOSYS;
    int rc = ac_disp_new(&d, NULL,
                         form == ACC_MISUSE_NULL_ARG ? NULL : &disp_ops, NULL);
    ac_disp_free(d);
    return rc;
}

static int m_create_socket(int form, chan_t *ch)
{
    if (form != ACC_MISUSE_NULL_HANDLE && form != ACC_MISUSE_PLAIN)
        return -ENOSYS;
    return ac_disp_create_socket(m_disp(ch), AF_INET, SOCK_STREAM);
}

/* A fresh socketpair end: achat owns it only if the adopt succeeds. */
static int m_adopt(int form, chan_t *ch)
{
    int fds[2];
    if (form != ACC_MISUSE_NULL_HANDLE && form != ACC_MISUSE_PLAIN)
        return -ENOSYS;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
        return -errno;
    int rc = ac_disp_adopt(m_disp(ch), fds[0]);
    if (rc < 0)
        close(fds[0]);
    close(fds[1]);
    return rc;
}

static int m_set_reuse_addr(int form, chan_t *ch)
{
    if (form != ACC_MISUSE_NULL_HANDLE && form != ACC_MISUSE_PLAIN)
        return -ENOSYS;
    return ac_disp_set_reuse_addr(m_disp(ch));
}

static int m_bind(int form, chan_t *ch)
{
    struct sockaddr_in a = m_addr(0);
    if (form == ACC_MISUSE_ZERO_LENGTH)
        return -ENOSYS;
    return ac_disp_bind(m_disp(ch),
                        form == ACC_MISUSE_NULL_ARG ? NULL : (struct sockaddr *)&a,
                        sizeof(a));
}

static int m_listen(int form, chan_t *ch)
{
    if (form != ACC_MISUSE_NULL_HANDLE && form != ACC_MISUSE_PLAIN)
        return -ENOSYS;
    return ac_disp_listen(m_disp(ch), 1);
}

static int m_connect(int form, chan_t *ch)
{
    struct sockaddr_in a = m_addr(1);
    if (form == ACC_MISUSE_ZERO_LENGTH)
        return -ENOSYS;
    return ac_disp_connect(m_disp(ch),
                           form == ACC_MISUSE_NULL_ARG ? NULL : (struct sockaddr *)&a,
                           sizeof(a));
}

/* The zero-length forms of send and push pass no pointer: no bytes need
 * none (E3).  A missing argument comes with the smallest non-zero length. */
static int m_send(int form, chan_t *ch)
{
    if (form == ACC_MISUSE_NULL_ARG || form == ACC_MISUSE_ZERO_LENGTH)
        return (int)ac_disp_send(m_disp(ch), NULL, form == ACC_MISUSE_NULL_ARG);
    return (int)ac_disp_send(m_disp(ch), "x", 1);
}

static int m_recv(int form, chan_t *ch)
{
    char b[16];
    if (form == ACC_MISUSE_NULL_ARG)
        return (int)ac_disp_recv(m_disp(ch), NULL, 1);
    return (int)ac_disp_recv(m_disp(ch), b,
                             form == ACC_MISUSE_ZERO_LENGTH ? 0 : sizeof(b));
}

static int m_close(int form, chan_t *ch)
{
    if (form != ACC_MISUSE_NULL_HANDLE && form != ACC_MISUSE_PLAIN)
        return -ENOSYS;
    return ac_disp_close(m_disp(ch));
}

static int m_set_terminator(int form, chan_t *ch)
{
    if (form == ACC_MISUSE_ZERO_LENGTH)
        return -ENOSYS;
    if (form == ACC_MISUSE_NULL_ARG)
        return ac_chat_set_terminator(m_chat(ch), NULL, 1);
    return ac_chat_set_terminator(m_chat(ch), "\n", 1);
}

static int m_set_count(int form, chan_t *ch)
{
    if (form != ACC_MISUSE_NULL_HANDLE && form != ACC_MISUSE_PLAIN)
        return -ENOSYS;
    return ac_chat_set_count(m_chat(ch), 3);
}

static int m_set_none(int form, chan_t *ch)
{
    if (form != ACC_MISUSE_NULL_HANDLE && form != ACC_MISUSE_PLAIN)
        return -ENOSYS;
    return ac_chat_set_none(m_chat(ch));
}

static int m_set_input_limit(int form, chan_t *ch)
{
    if (form != ACC_MISUSE_NULL_HANDLE && form != ACC_MISUSE_PLAIN)
        return -ENOSYS;
    return ac_chat_set_input_limit(m_chat(ch), 16);
}

static int m_set_buffer_sizes(int form, chan_t *ch)
{
    if (form != ACC_MISUSE_NULL_HANDLE && form != ACC_MISUSE_PLAIN)
        return -ENOSYS;
    return ac_chat_set_buffer_sizes(m_chat(ch), 16, 16);
}

static int m_push(int form, chan_t *ch)
{
    if (form == ACC_MISUSE_NULL_ARG || form == ACC_MISUSE_ZERO_LENGTH)
        return ac_chat_push(m_chat(ch), NULL, form == ACC_MISUSE_NULL_ARG);
    return ac_chat_push(m_chat(ch), "x", 1);
}

/* An empty producer with nothing to free: its release may come or not. */
static int m_empty_more(void *ud, const void **data, size_t *len)
{
    (void)ud, (void)data;
    *len = 0;
    return 0;
}

static int m_push_producer(int form, chan_t *ch)
{
    static const ac_producer_t empty = {m_empty_more, NULL};
    if (form == ACC_MISUSE_ZERO_LENGTH)
        return -ENOSYS;
    return ac_chat_push_producer(m_chat(ch),
                                 form == ACC_MISUSE_NULL_ARG ? NULL : &empty, NULL);
}

static int m_close_when_done(int form, chan_t *ch)
{
    if (form != ACC_MISUSE_NULL_HANDLE && form != ACC_MISUSE_PLAIN)
        return -ENOSYS;
    return ac_chat_close_when_done(m_chat(ch));
}

static int m_discard_buffers(int form, chan_t *ch)
{
    if (form != ACC_MISUSE_NULL_HANDLE && form != ACC_MISUSE_PLAIN)
        return -ENOSYS;
    return ac_chat_discard_buffers(m_chat(ch));
}

static int m_initiate_send(int form, chan_t *ch)
{
    if (form != ACC_MISUSE_NULL_HANDLE && form != ACC_MISUSE_PLAIN)
        return -ENOSYS;
    return ac_chat_initiate_send(m_chat(ch));
}

/* Indexed by ACC_MISUSE_<op>: the header's list fixes the order. */
static int (*const m_ops[ACC_MISUSE_NOPS])(int, chan_t *) = {
    [ACC_MISUSE_MAP_NEW] = m_map_new,
    [ACC_MISUSE_CHAT_NEW] = m_chat_new,
    [ACC_MISUSE_DISP_NEW] = m_disp_new,
    [ACC_MISUSE_CREATE_SOCKET] = m_create_socket,
    [ACC_MISUSE_ADOPT] = m_adopt,
    [ACC_MISUSE_SET_REUSE_ADDR] = m_set_reuse_addr,
    [ACC_MISUSE_BIND] = m_bind,
    [ACC_MISUSE_LISTEN] = m_listen,
    [ACC_MISUSE_CONNECT] = m_connect,
    [ACC_MISUSE_SEND] = m_send,
    [ACC_MISUSE_RECV] = m_recv,
    [ACC_MISUSE_CLOSE] = m_close,
    [ACC_MISUSE_SET_TERMINATOR] = m_set_terminator,
    [ACC_MISUSE_SET_COUNT] = m_set_count,
    [ACC_MISUSE_SET_NONE] = m_set_none,
    [ACC_MISUSE_SET_INPUT_LIMIT] = m_set_input_limit,
    [ACC_MISUSE_SET_BUFFER_SIZES] = m_set_buffer_sizes,
    [ACC_MISUSE_PUSH] = m_push,
    [ACC_MISUSE_PUSH_PRODUCER] = m_push_producer,
    [ACC_MISUSE_CLOSE_WHEN_DONE] = m_close_when_done,
    [ACC_MISUSE_DISCARD_BUFFERS] = m_discard_buffers,
    [ACC_MISUSE_INITIATE_SEND] = m_initiate_send,
};

static int misuse(int op, int form, void *ch)
{
    if (op < 0 || op >= ACC_MISUSE_NOPS || form < 0 || form >= ACC_MISUSE_NFORMS)
        return -ENOSYS;
    /* The null-handle form never reaches a channel, whatever ch is. */
    return m_ops[op](form, form == ACC_MISUSE_NULL_HANDLE ? NULL : ch);
}

static const char *const backends[] = {"select", "poll",
#ifdef __linux__
                                       "epoll",
#endif
                                       NULL};

static const acc_impl_t impl = {
    .abi_version = ACC_ABI_VERSION,
    .name = ACC_REF_NAME,
    .version = "0.1",
    .backends = backends,
    .caps = ACC_CAP_COUNT | ACC_CAP_PRODUCER | ACC_CAP_INPUT_LIMIT |
            ACC_CAP_DISPATCHER | ACC_CAP_LISTEN | ACC_CAP_CONNECT |
            ACC_CAP_DEFAULT_MAP | ACC_CAP_THREADS | ACC_CAP_BUFSIZE |
            /* true in the conformance runner, whose link impl.mk arranges;
             * other drivers never arm the failing allocator or the
             * syscall interposer */
            ACC_CAP_EXIT | ACC_CAP_ALLOC_FAIL | ACC_CAP_PARALLEL_RUNS |
            ACC_CAP_SYSCALL_FAULTS | ACC_CAP_DEFAULT_MAP_ONCE | ACC_CAP_PENDING |
            ACC_CAP_DISP_CONNECT | ACC_CAP_READOPT | ACC_CAP_STATE |
            ACC_CAP_PRODUCER_FAIL | ACC_CAP_MISUSE | ACC_CAP_EXPT |
            ACC_CAP_ERROR_MODES | ACC_CAP_CHAT_READABLE | ACC_CAP_TERMINATOR,
    .map_new = map_new,
    .map_free = map_free,
    .map_default = map_default,
    .map_size = map_size,
    .close_all = close_all,
    .map_exit = map_exit,
    .poll = poll_once,
    .loop = loop,
    .chat_adopt = chat_adopt,
    .chat_connect = chat_connect,
    .listen = listen_on,
    .disp_adopt = disp_adopt,
    .fd = ch_fd,
    .close = ch_close,
    .free = chan_free,
    .recv = ch_recv,
    .send = ch_send,
    .set_terminator = set_term,
    .set_count = set_count,
    .set_none = set_none,
    .set_input_limit = set_limit,
    .set_buffer_sizes = set_bufs,
    .push = push,
    .push_producer = push_producer,
    .close_when_done = cwd,
    .discard_buffers = discard,
    .pending = pending,
    .disp_connect = disp_connect,
    .readopt = readopt,
    .state = state,
    .misuse = misuse,
    .terminator = terminator,
};

const acc_impl_t *acc_get_impl(void)
{
    return &impl;
}
