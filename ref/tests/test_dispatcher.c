/* test_dispatcher.c: a dispatcher's socket operations over loopback TCP and
 * AF_UNIX: listen/accept, connect (CQ6, CQ7, CQ8), send without SIGPIPE, close
 * rules, argument errors, freeing inside handle_close, OOB (CQ10), EMFILE. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/un.h>

#include "check_util.h"

#define FDS_BEGIN() const int fds_at_start = open_fds()
#define FDS_END() ck_assert_int_eq(open_fds(), fds_at_start)

/* What happened to one dispatcher, in order, plus details per event. */
typedef struct {
    evlog_t log;
    int reads, writes, connects, accepts, closes, errors;
    int last_err;
    int conn_in_cb, connecting_in_cb; /* flags seen inside handle_connect */
    int accepted_fd;                  /* handle_accept's fd, kept */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int free_on_close;                /* handle_close frees the handle */
    int want_w;
} rec_t;

static void log_err(rec_t *r, int err)
{
    char item[32];
    snprintf(item, sizeof(item), "error(%d)", err);
    evlog_add(&r->log, item);
}

static int r_writable(ac_disp_t *d, void *ud)
{
    (void)d;
    return ((rec_t *)ud)->want_w;
}

static void r_read(ac_disp_t *d, void *ud)
{
    rec_t *r = ud;
    char buf[256];
    r->reads++;
    evlog_add(&r->log, "read");
    (void)ac_disp_recv(d, buf, sizeof(buf));
}

static void r_write(ac_disp_t *d, void *ud)
{
    (void)d;
    rec_t *r = ud;
    r->writes++;
    if (r->writes == 1)
        evlog_add(&r->log, "write");
}

static void r_connect(ac_disp_t *d, void *ud)
{
    rec_t *r = ud;
    r->connects++;
    r->conn_in_cb = ac_disp_connected(d);
    r->connecting_in_cb = ac_disp_connecting(d);
    evlog_add(&r->log, "connect");
}

static void r_accept(ac_disp_t *d, int fd, const struct sockaddr *addr,
                     socklen_t len, void *ud)
{
    (void)d;
    rec_t *r = ud;
    r->accepts++;
    evlog_add(&r->log, "accept");
    if (r->accepted_fd >= 0) {
        ck_assert_int_eq(close(fd), 0);
        return;
    }
    r->accepted_fd = fd;
    ck_assert_uint_le(len, sizeof(r->addr));
    memcpy(&r->addr, addr, len);
    r->addrlen = len;
}

static void r_close(ac_disp_t *d, void *ud)
{
    rec_t *r = ud;
    r->closes++;
    evlog_add(&r->log, "close");
    if (r->free_on_close)
        ac_disp_free(d);
}

static void r_error(ac_disp_t *d, int err, void *ud)
{
    (void)d;
    rec_t *r = ud;
    r->errors++;
    r->last_err = err;
    log_err(r, err);
}

static const ac_ops_t rec_ops = {
    .writable = r_writable, .handle_read = r_read, .handle_write = r_write,
    .handle_connect = r_connect, .handle_accept = r_accept,
    .handle_close = r_close, .handle_error = r_error};

/* The same without handle_error: the default routes errors to close. */
static const ac_ops_t rec_ops_default_error = {
    .writable = r_writable, .handle_read = r_read, .handle_write = r_write,
    .handle_connect = r_connect, .handle_accept = r_accept,
    .handle_close = r_close};

static void rec_init(rec_t *r)
{
    memset(r, 0, sizeof(*r));
    r->accepted_fd = -1;
}

static struct sockaddr_in loopback(uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    return a;
}

/* A port nothing listens on: bound once by us, then released. */
static uint16_t free_port(void)
{
    struct sockaddr_in a = loopback(0);
    socklen_t al = sizeof(a);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &al), 0);
    close(s);
    return ntohs(a.sin_port);
}

/* A dispatcher listening on 127.0.0.1; *a gets its address. */
static ac_disp_t *listening(ac_map_t *map, rec_t *r, struct sockaddr_in *a)
{
    ac_disp_t *l;
    ck_assert_int_eq(ac_disp_new(&l, map, &rec_ops, r), 0);
    ck_assert_int_eq(ac_disp_create_socket(l, AF_INET, SOCK_STREAM), 0);
    ck_assert_int_eq(ac_disp_set_reuse_addr(l), 0);
    *a = loopback(0);
    socklen_t al = sizeof(*a);
    ck_assert_int_eq(ac_disp_bind(l, (struct sockaddr *)a, sizeof(*a)), 0);
    ck_assert_int_eq(ac_disp_listen(l, 8), 0);
    ck_assert_int_eq(getsockname(ac_disp_fd(l), (struct sockaddr *)a, &al),
                     0);
    return l;
}

/* ------------------------------------------------------- listen / accept */

START_TEST(test_listen_and_accept)
{
    FDS_BEGIN();
    const ac_backend_t *b = backend_at(_i);
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    rec_t lr, cr;
    rec_init(&lr);
    rec_init(&cr);
    struct sockaddr_in a;
    ac_disp_t *l = listening(map, &lr, &a);
    ck_assert_int_eq(ac_disp_create_socket(l, AF_INET, SOCK_STREAM),
                     -EISCONN);
    ck_assert_int_eq(ac_disp_accepting(l), 1);
    ck_assert_int_eq(ac_disp_connected(l), 0);
    ck_assert_uint_ne(a.sin_port, 0);

    int cl = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_eq(connect(cl, (struct sockaddr *)&a, sizeof(a)), 0);
    struct sockaddr_in mine;
    socklen_t ml = sizeof(mine);
    ck_assert_int_eq(getsockname(cl, (struct sockaddr *)&mine, &ml), 0);
    ck_assert_int_eq(ac_poll(map, 1000, b), 1);
    ASSERT_LOG(&lr.log, "accept");
    int fd = lr.accepted_fd;
    ck_assert_int_ge(fd, 0);
    ck_assert_int_ne(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
    ck_assert_uint_eq(lr.addrlen, sizeof(struct sockaddr_in));
    const struct sockaddr_in *pa = (const struct sockaddr_in *)&lr.addr;
    ck_assert_int_eq(pa->sin_family, AF_INET);
    ck_assert_uint_eq(pa->sin_port, mine.sin_port);
    ck_assert_uint_eq(pa->sin_addr.s_addr, htonl(INADDR_LOOPBACK));

    /* The accepted fd is ours: adopting it gives a working channel. */
    ac_disp_t *conn;
    ck_assert_int_eq(ac_disp_new(&conn, map, &rec_ops, &cr), 0);
    ck_assert_int_eq(ac_disp_adopt(conn, fd), 0);
    ck_assert_int_eq(ac_disp_connected(conn), 1);
    peer_write(cl, "hi", 2);
    ck_assert_int_eq(ac_poll(map, 1000, b), 1);
    ASSERT_LOG(&cr.log, "read");
    ck_assert_int_eq(ac_disp_send(conn, "yo", 2), 2);
    char buf[4];
    ck_assert_int_eq((int)recv(cl, buf, sizeof(buf), 0), 2);
    ck_assert_mem_eq(buf, "yo", 2);

    /* A second connection: handle_accept closes it, the client sees EOF. */
    int cl2 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_eq(connect(cl2, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(ac_poll(map, 1000, b), 1);
    ck_assert_int_eq(lr.accepts, 2);
    ck_assert_int_eq((int)recv(cl2, buf, sizeof(buf), 0), 0);

    ac_disp_free(conn);
    ac_disp_free(l);
    ck_assert_int_eq(ac_map_free(map), 0);
    close(cl);
    close(cl2);
    FDS_END();
}
END_TEST

/* -------------------------------------------------------------- connect */

/* Runs passes (bounded) until handle_connect or an error/close ran. */
static void run_until_settled(ac_map_t *map, const ac_backend_t *b,
                              rec_t *r)
{
    for (int i = 0; i < 50 && !r->connects && !r->closes && !r->errors; i++)
        ck_assert_int_ge(ac_poll(map, 1000, b), 0);
}

START_TEST(test_connect_tcp)
{
    FDS_BEGIN();
    const ac_backend_t *b = backend_at(_i);
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    struct sockaddr_in a;
    int l = tcp_listener(&a);
    rec_t r;
    rec_init(&r);
    r.want_w = 1;
    ac_disp_t *d;
    ck_assert_int_eq(ac_disp_new(&d, map, &rec_ops, &r), 0);
    ck_assert_int_eq(ac_disp_create_socket(d, AF_INET, SOCK_STREAM), 0);
    ck_assert_int_eq(ac_disp_connect(d, (struct sockaddr *)&a, sizeof(a)),
                     0);
    ck_assert_int_eq(r.connects, 0);
    ck_assert_int_eq(ac_disp_connecting(d), 1);
    ck_assert_int_eq(ac_disp_connected(d), 0);
    run_until_settled(map, b, &r);
    ck_assert_int_eq(r.connects, 1);
    /* D14 (CQ7): inside handle_connect the channel is still connecting and
     * not yet connected; both change once it returns. */
    ck_assert_int_eq(r.conn_in_cb, 0);
    ck_assert_int_eq(r.connecting_in_cb, 1);
    ck_assert_int_eq(ac_disp_connected(d), 1);
    ck_assert_int_eq(ac_disp_connecting(d), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(ac_poll(map, 1000, b), 1);
    ck_assert_int_eq(r.connects, 1);
    ck_assert_int_eq(r.errors + r.closes, 0);
    ck_assert_int_ge(r.writes, 3);
    ASSERT_LOG(&r.log, "connect write");
    int s = accept(l, NULL, NULL);
    ck_assert_int_ge(s, 0);
    close(s);
    ac_disp_free(d);
    ck_assert_int_eq(ac_map_free(map), 0);
    close(l);
    FDS_END();
}
END_TEST

/* AF_UNIX connects complete inside connect(2); handle_connect must still
 * come from the loop, never from inside ac_disp_connect. */
START_TEST(test_connect_unix_completes_in_loop)
{
    FDS_BEGIN();
    const ac_backend_t *b = backend_at(_i);
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    /* An abstract name: nothing to clean up in the filesystem. */
    int n = snprintf(un.sun_path + 1, sizeof(un.sun_path) - 1,
                     "achat-test-%d-%d", (int)getpid(), _i);
    socklen_t ul = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                               (size_t)n);
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_eq(bind(l, (struct sockaddr *)&un, ul), 0);
    ck_assert_int_eq(listen(l, 4), 0);
    rec_t r;
    rec_init(&r);
    ac_disp_t *d;
    ck_assert_int_eq(ac_disp_new(&d, map, &rec_ops, &r), 0);
    ck_assert_int_eq(ac_disp_create_socket(d, AF_UNIX, SOCK_STREAM), 0);
    ck_assert_int_eq(ac_disp_connect(d, (struct sockaddr *)&un, ul), 0);
    ck_assert_int_eq(r.connects, 0);
    ck_assert_int_eq(ac_disp_connecting(d), 1);
    r.want_w = 1; /* output readiness is what reports the connect */
    run_until_settled(map, b, &r);
    ck_assert_int_eq(r.connects, 1);
    ck_assert_int_eq(ac_disp_connected(d), 1);
    ck_assert_int_eq(r.errors + r.closes, 0);
    ac_disp_free(d);
    ck_assert_int_eq(ac_map_free(map), 0);
    close(l);
    FDS_END();
}
END_TEST

/* CQ8: a refused connect gives handle_error(-ECONNREFUSED) then
 * handle_close, never handle_connect nor any other handler.
 * _i: backend * 2 + (0: own handle_error, 1: the default one). */
START_TEST(test_connect_refused)
{
    FDS_BEGIN();
    const ac_backend_t *b = backend_at(_i / 2);
    int default_error = _i % 2;
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    struct sockaddr_in a = loopback(free_port());
    rec_t r;
    rec_init(&r);
    r.want_w = 1;
    ac_disp_t *d;
    ck_assert_int_eq(ac_disp_new(&d, map, default_error ?
                                 &rec_ops_default_error : &rec_ops, &r), 0);
    ck_assert_int_eq(ac_disp_create_socket(d, AF_INET, SOCK_STREAM), 0);
    ck_assert_int_eq(ac_disp_connect(d, (struct sockaddr *)&a, sizeof(a)),
                     0);
    ck_assert_int_eq(ac_loop(map, 1000, b, 20), 0);
    if (default_error) {
        ASSERT_LOG(&r.log, "close");
    } else {
        ck_assert_int_eq(r.last_err, -ECONNREFUSED);
        char want[64];
        snprintf(want, sizeof(want), "error(%d) close", -ECONNREFUSED);
        ASSERT_LOG(&r.log, want);
    }
    ck_assert_int_eq(r.connects, 0);
    ck_assert_int_eq(ac_disp_closed(d), 1);
    ck_assert_int_eq(ac_disp_connecting(d), 0);
    ck_assert_uint_eq(ac_map_size(map), 0);
    ac_disp_free(d);
    ck_assert_int_eq(ac_map_free(map), 0);
    FDS_END();
}
END_TEST

/* CQ6: a connect that fails at once returns its error and leaves no
 * registered zombie and no handler call behind. */
START_TEST(test_connect_sync_failure)
{
    FDS_BEGIN();
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    rec_t r;
    rec_init(&r);
    r.want_w = 1;
    ac_disp_t *d;
    ck_assert_int_eq(ac_disp_new(&d, map, &rec_ops, &r), 0);
    ck_assert_int_eq(ac_disp_create_socket(d, AF_UNIX, SOCK_STREAM), 0);
    ck_assert_uint_eq(ac_map_size(map), 1);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path, sizeof(un.sun_path),
             "/nonexistent-achat-dir/no-such-socket-%d", (int)getpid());
    ck_assert_int_eq(ac_disp_connect(d, (struct sockaddr *)&un, sizeof(un)),
                     -ENOENT);
    ck_assert_int_eq(ac_disp_closed(d), 1);
    ck_assert_int_eq(ac_disp_connecting(d), 0);
    ck_assert_int_eq(ac_disp_fd(d), -1);
    ck_assert_uint_eq(ac_map_size(map), 0);
    for (int i = 0; i < backend_count(); i++)
        ck_assert_int_eq(ac_poll(map, 0, backend_at(i)), 0);
    ck_assert_str_eq(r.log.buf, "");
    ck_assert_int_eq(ac_disp_connect(d, (struct sockaddr *)&un, sizeof(un)),
                     -EBADF);
    ac_disp_free(d);
    ck_assert_int_eq(ac_map_free(map), 0);
    FDS_END();
}
END_TEST

/* ----------------------------------------------------------- send / close */

/* A send to a vanished peer reports the disconnect and runs handle_close;
 * SIGPIPE is at its default (fatal) so a raised one fails the test.
 * _i: 0 AF_UNIX, 1 TCP. */
START_TEST(test_send_to_closed_peer)
{
    FDS_BEGIN();
    ck_assert_ptr_ne(signal(SIGPIPE, SIG_DFL), SIG_ERR);
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    int sv[2];
    if (_i)
        tcp_pair(sv);
    else
        make_pair(sv);
    rec_t r;
    rec_init(&r);
    ac_disp_t *d;
    ck_assert_int_eq(ac_disp_new(&d, map, &rec_ops, &r), 0);
    ck_assert_int_eq(ac_disp_adopt(d, sv[0]), 0);
    close(sv[1]);
    ssize_t n = 0;
    /* TCP accepts a first send and answers it with RST; later ones fail. */
    for (int i = 0; i < 100 && n >= 0; i++) {
        n = ac_disp_send(d, "data", 4);
        if (n >= 0)
            usleep(1000);
    }
    ck_assert_msg(n == -EPIPE || n == -ECONNRESET, "send gave %d", (int)n);
    ASSERT_LOG(&r.log, "close");
    ck_assert_int_eq(ac_disp_closed(d), 1);
    ck_assert_uint_eq(ac_map_size(map), 0);
    ck_assert_int_eq((int)ac_disp_send(d, "x", 1), -EBADF);
    ck_assert_int_eq(r.closes, 1);
    ac_disp_free(d);
    ck_assert_int_eq(ac_map_free(map), 0);
    FDS_END();
}
END_TEST

START_TEST(test_double_close_and_closed_ops)
{
    FDS_BEGIN();
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    rec_t r;
    rec_init(&r);
    ac_disp_t *d;
    ck_assert_int_eq(ac_disp_new(&d, map, &rec_ops, &r), 0);
    struct sockaddr_in a = loopback(0);
    char buf[4];
    /* Without a socket yet, socket operations have nothing to act on. */
    ck_assert_int_eq(ac_disp_closed(d), 0);
    ck_assert_int_eq(ac_disp_fd(d), -1);
    ck_assert_int_eq(ac_disp_bind(d, (struct sockaddr *)&a, sizeof(a)),
                     -EBADF);
    ck_assert_int_eq(ac_disp_listen(d, 1), -EBADF);
    ck_assert_int_eq(ac_disp_set_reuse_addr(d), -EBADF);
    ck_assert_int_eq(ac_disp_connect(d, (struct sockaddr *)&a, sizeof(a)),
                     -EBADF);
    ck_assert_int_eq((int)ac_disp_send(d, "x", 1), -EBADF);
    ck_assert_int_eq((int)ac_disp_recv(d, buf, sizeof(buf)), -EBADF);

    int sv[2];
    make_pair(sv);
    ck_assert_int_eq(ac_disp_adopt(d, sv[0]), 0);
    ck_assert_int_eq(ac_disp_close(d), 0);
    ck_assert_int_eq(ac_disp_close(d), -EBADF);
    ck_assert_int_eq(ac_disp_close(d), -EBADF);
    ck_assert_int_eq(ac_disp_closed(d), 1);
    ck_assert_int_eq(ac_disp_fd(d), -1);
    /* Closed is final: the handle never takes a socket again. */
    ck_assert_int_eq(ac_disp_create_socket(d, AF_INET, SOCK_STREAM), -EBADF);
    int sv2[2];
    make_pair(sv2);
    ck_assert_int_eq(ac_disp_adopt(d, sv2[0]), -EBADF);
    ck_assert_int_eq(ac_disp_bind(d, (struct sockaddr *)&a, sizeof(a)),
                     -EBADF);
    ck_assert_int_eq(ac_disp_listen(d, 1), -EBADF);
    ck_assert_int_eq(ac_disp_set_reuse_addr(d), -EBADF);
    ck_assert_int_eq(ac_disp_connect(d, (struct sockaddr *)&a, sizeof(a)),
                     -EBADF);
    ck_assert_int_eq((int)ac_disp_send(d, "x", 1), -EBADF);
    ck_assert_int_eq((int)ac_disp_recv(d, buf, sizeof(buf)), -EBADF);
    ck_assert_int_eq(ac_disp_connected(d) + ac_disp_connecting(d) +
                     ac_disp_accepting(d), 0);
    ck_assert_str_eq(r.log.buf, "");
    /* The fd was closed once: the peer sees EOF. */
    ck_assert_int_eq((int)recv(sv[1], buf, 1, MSG_DONTWAIT), 0);
    ac_disp_free(d);
    ck_assert_int_eq(ac_map_free(map), 0);
    close(sv[1]);
    close(sv2[0]);
    close(sv2[1]);
    FDS_END();
}
END_TEST

/* D8 (spec 2): close on a channel that never had a socket succeeds and is
 * final: no socket afterwards, a second close is EBADF, no handler runs,
 * and the map never counted it. */
START_TEST(test_close_without_socket)
{
    FDS_BEGIN();
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    rec_t r;
    rec_init(&r);
    ac_disp_t *d;
    ck_assert_int_eq(ac_disp_new(&d, map, &rec_ops, &r), 0);
    ck_assert_int_eq(ac_disp_close(d), 0);
    ck_assert_int_eq(ac_disp_closed(d), 1);
    ck_assert_int_eq(ac_disp_close(d), -EBADF);
    ck_assert_int_eq(ac_disp_create_socket(d, AF_INET, SOCK_STREAM), -EBADF);
    int sv[2];
    make_pair(sv);
    ck_assert_int_eq(ac_disp_adopt(d, sv[0]), -EBADF);
    ck_assert_uint_eq(ac_map_size(map), 0);
    ck_assert_str_eq(r.log.buf, "");
    /* The refused socket is still the caller's (E6). */
    ck_assert_int_eq((int)send(sv[0], "x", 1, MSG_NOSIGNAL), 1);
    ac_disp_free(d);
    ck_assert_int_eq(ac_map_free(map), 0);
    close(sv[0]);
    close(sv[1]);
    FDS_END();
}
END_TEST

START_TEST(test_null_arguments)
{
    FDS_BEGIN();
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    struct sockaddr_in a = loopback(0);
    char buf[4];
    ck_assert_int_eq(ac_disp_new(NULL, map, &rec_ops, NULL), -EINVAL);
    ck_assert_int_eq(ac_disp_create_socket(NULL, AF_INET, SOCK_STREAM),
                     -EINVAL);
    ck_assert_int_eq(ac_disp_adopt(NULL, 0), -EINVAL);
    ck_assert_int_eq(ac_disp_set_reuse_addr(NULL), -EINVAL);
    ck_assert_int_eq(ac_disp_bind(NULL, (struct sockaddr *)&a, sizeof(a)),
                     -EINVAL);
    ck_assert_int_eq(ac_disp_listen(NULL, 1), -EINVAL);
    ck_assert_int_eq(ac_disp_connect(NULL, (struct sockaddr *)&a, sizeof(a)),
                     -EINVAL);
    ck_assert_int_eq((int)ac_disp_send(NULL, "x", 1), -EINVAL);
    ck_assert_int_eq((int)ac_disp_recv(NULL, buf, 1), -EINVAL);
    ck_assert_int_eq(ac_disp_close(NULL), -EINVAL);
    ac_disp_free(NULL);
    ck_assert_int_eq(ac_disp_fd(NULL), -1);
    ck_assert_ptr_null(ac_disp_map(NULL));
    ck_assert_ptr_null(ac_disp_data(NULL));
    ck_assert_ptr_null(ac_disp_chat(NULL));
    ck_assert_int_eq(ac_disp_closed(NULL), 1);

    /* NULL buffers and addresses on an open channel. */
    rec_t r;
    rec_init(&r);
    ac_disp_t *d;
    ck_assert_int_eq(ac_disp_new(&d, map, NULL, &r), 0);
    ck_assert_ptr_eq(ac_disp_data(d), &r);
    ck_assert_int_eq(ac_disp_create_socket(d, AF_INET, SOCK_STREAM), 0);
    ck_assert_int_eq(ac_disp_bind(d, NULL, sizeof(a)), -EINVAL);
    ck_assert_int_eq(ac_disp_connect(d, NULL, sizeof(a)), -EINVAL);
    ck_assert_int_eq((int)ac_disp_send(d, NULL, 1), -EINVAL);
    ck_assert_int_eq((int)ac_disp_recv(d, NULL, 1), -EINVAL);
    ck_assert_int_eq((int)ac_disp_recv(d, buf, 0), -EINVAL);
    /* None of these closed the channel. */
    ck_assert_int_eq(ac_disp_closed(d), 0);
    ck_assert_uint_eq(ac_map_size(map), 1);
    ac_disp_free(d);
    ck_assert_int_eq(ac_map_free(map), 0);
    FDS_END();
}
END_TEST

/* Adopting what is not an open socket fails cleanly and leaves the fd, and
 * the handle, as they were. */
START_TEST(test_adopt_bad_fds)
{
    FDS_BEGIN();
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    ac_disp_t *d;
    ck_assert_int_eq(ac_disp_new(&d, map, NULL, NULL), 0);
    ck_assert_int_eq(ac_disp_adopt(d, -1), -EBADF);
    int p[2];
    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
    int gone = dup(p[0]);
    close(gone);
    ck_assert_int_eq(ac_disp_adopt(d, gone), -EBADF);
    ck_assert_int_eq(ac_disp_adopt(d, p[0]), -ENOTSOCK);
    ck_assert_int_ge(fcntl(p[0], F_GETFD), 0);
    int dn = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ck_assert_int_eq(ac_disp_adopt(d, dn), -ENOTSOCK);
    ck_assert_int_ge(fcntl(dn, F_GETFD), 0);
    ck_assert_uint_eq(ac_map_size(map), 0);
    ck_assert_int_eq(ac_disp_closed(d), 0);
    /* The failures did not spoil the handle. */
    int sv[2];
    make_pair(sv);
    ck_assert_int_eq(ac_disp_adopt(d, sv[0]), 0);
    ck_assert_int_eq(ac_disp_fd(d), sv[0]);
    ck_assert_int_eq(ac_disp_connected(d), 1);
    ck_assert_int_eq(ac_disp_adopt(d, sv[0]), -EISCONN);
    ac_disp_free(d);
    ck_assert_int_eq(ac_map_free(map), 0);
    close(p[0]);
    close(p[1]);
    close(dn);
    close(sv[1]);
    FDS_END();
}
END_TEST

static void goodbye_close(ac_disp_t *d, void *ud)
{
    rec_t *r = ud;
    r->closes++;
    evlog_add(&r->log, "close");
    r->last_err = (int)ac_disp_send(d, "bye", 3);
}

/* A handle_close that sends a goodbye to the vanished peer hits the
 * disconnect again from inside itself; it still runs only once.
 * _i: 0 reached through ac_disp_send, 1 through the loop. */
START_TEST(test_close_reentry_runs_once)
{
    FDS_BEGIN();
    ck_assert_ptr_ne(signal(SIGPIPE, SIG_DFL), SIG_ERR);
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    int sv[2];
    make_pair(sv);
    rec_t r;
    rec_init(&r);
    ac_ops_t ops = rec_ops;
    ops.handle_close = goodbye_close;
    ac_disp_t *d;
    ck_assert_int_eq(ac_disp_new(&d, map, &ops, &r), 0);
    ck_assert_int_eq(ac_disp_adopt(d, sv[0]), 0);
    close(sv[1]);
    if (_i == 0) {
        ck_assert_int_eq((int)ac_disp_send(d, "x", 1), -EPIPE);
    } else {
        wait_readable(sv[0]);
        ck_assert_int_eq(ac_poll(map, 1000, NULL), 1);
    }
    ck_assert_int_eq(r.closes, 1);
    ck_assert_int_eq(r.last_err, -EPIPE);
    ck_assert_int_eq(ac_disp_closed(d), 1);
    ck_assert_uint_eq(ac_map_size(map), 0);
    ac_disp_free(d);
    ck_assert_int_eq(ac_map_free(map), 0);
    FDS_END();
}
END_TEST

/* ac_disp_free inside the channel's own handle_close, reached three ways:
 * 0 the loop (peer EOF), 1 ac_disp_send outside any pass (EPIPE), 2
 * ac_disp_recv outside any pass (EOF).  Valgrind/ASan check the memory.
 * _i: way * backends + backend. */
START_TEST(test_free_inside_handle_close)
{
    FDS_BEGIN();
    int nb = backend_count();
    const ac_backend_t *b = backend_at(_i % nb);
    int way = _i / nb;
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    int sv[2];
    make_pair(sv);
    rec_t r;
    rec_init(&r);
    r.free_on_close = 1;
    r.want_w = 1;
    ac_disp_t *d;
    ck_assert_int_eq(ac_disp_new(&d, map, &rec_ops, &r), 0);
    ck_assert_int_eq(ac_disp_adopt(d, sv[0]), 0);
    close(sv[1]);
    char buf[8];
    if (way == 0) {
        wait_readable(sv[0]);
        ck_assert_int_eq(ac_poll(map, 1000, b), 1);
        ASSERT_LOG(&r.log, "read close");
    } else if (way == 1) {
        ck_assert_int_eq((int)ac_disp_send(d, "x", 1), -EPIPE);
        ASSERT_LOG(&r.log, "close");
    } else {
        ck_assert_int_eq((int)ac_disp_recv(d, buf, sizeof(buf)), 0);
        ASSERT_LOG(&r.log, "close");
    }
    ck_assert_int_eq(r.closes, 1);
    ck_assert_uint_eq(ac_map_size(map), 0);
    /* The freed handle is gone from the map: a pass runs nothing. */
    ck_assert_int_eq(ac_poll(map, 0, b), 0);
    ck_assert_int_eq(ac_map_free(map), 0);
    FDS_END();
}
END_TEST

/* --------------------------------------------------------- urgent / EMFILE */

/* CQ10: one urgent byte with the default handle_expt is reported once or
 * twice, not on every pass, and the byte is consumed. */
START_TEST(test_oob_does_not_spin)
{
    FDS_BEGIN();
    const ac_backend_t *b = backend_at(_i);
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    int sv[2];
    tcp_pair(sv);
    rec_t r;
    rec_init(&r);
    ac_disp_t *d;
    ck_assert_int_eq(ac_disp_new(&d, map, &rec_ops, &r), 0);
    ck_assert_int_eq(ac_disp_adopt(d, sv[1]), 0);
    ck_assert_int_eq((int)send(sv[0], "!", 1, MSG_OOB), 1);
    struct pollfd p = {sv[1], POLLPRI, 0};
    ck_assert_int_eq(poll(&p, 1, 2000), 1);
    int eventful = 0;
    for (int i = 0; i < 20; i++) {
        int rc = ac_poll(map, 10, b);
        ck_assert_int_ge(rc, 0);
        eventful += rc > 0;
    }
    ck_assert_int_ge(eventful, 1);
    ck_assert_int_le(eventful, 3);
    char c;
    errno = 0;
    ck_assert_int_eq((int)recv(sv[1], &c, 1, MSG_OOB | MSG_DONTWAIT), -1);
    ck_assert_int_eq(errno, EINVAL); /* already read: nothing urgent left */
    ck_assert_int_eq(ac_disp_closed(d), 0);
    ck_assert_int_eq(r.closes + r.errors, 0);
    ac_disp_free(d);
    ck_assert_int_eq(ac_map_free(map), 0);
    close(sv[0]);
    FDS_END();
}
END_TEST

/* EMFILE on accept: the pending connection is dropped (the client sees its
 * end) and the listener does not report the same condition forever. */
START_TEST(test_emfile_accept_does_not_spin)
{
    FDS_BEGIN();
    const ac_backend_t *b = backend_at(_i);
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    rec_t lr;
    rec_init(&lr);
    struct sockaddr_in a;
    ac_disp_t *l = listening(map, &lr, &a);
    /* A stateful backend (epoll) takes its own descriptor on first use:
     * that happens before the limit bites, as in any real server. */
    ck_assert_int_eq(ac_poll(map, 0, b), 0);
    int cl = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_eq(connect(cl, (struct sockaddr *)&a, sizeof(a)), 0);

    /* Leave no free descriptor below the soft limit. */
    struct rlimit old, low;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    int top = 0;
    for (int fd = 0; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            top = fd;
    low = old;
    low.rlim_cur = (rlim_t)top + 1;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    int fill[1024], nfill = 0;
    while (nfill < 1024 && (fill[nfill] = dup(cl)) >= 0)
        nfill++;
    ck_assert_int_lt(nfill, 1024);
    ck_assert_int_eq(errno, EMFILE);

    int eventful = 0;
    for (int i = 0; i < 20; i++) {
        int rc = ac_poll(map, 10, b);
        ck_assert_int_ge(rc, 0);
        eventful += rc > 0;
    }
    for (int i = 0; i < nfill; i++)
        close(fill[i]);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
    ck_assert_int_le(eventful, 2);
    ck_assert_int_eq(lr.accepts, 0);
    ck_assert_int_eq(lr.errors + lr.closes, 0);
    ck_assert_int_eq(ac_disp_closed(l), 0);
    wait_readable(cl);
    char c;
    ssize_t n = recv(cl, &c, 1, MSG_DONTWAIT);
    ck_assert_msg(n == 0 || (n < 0 && errno == ECONNRESET),
                  "client got %d errno %d", (int)n, errno);

    /* With descriptors free again the listener accepts normally. */
    int cl2 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_eq(connect(cl2, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(ac_poll(map, 1000, b), 1);
    ck_assert_int_eq(lr.accepts, 1);
    close(lr.accepted_fd);
    ac_disp_free(l);
    ck_assert_int_eq(ac_map_free(map), 0);
    close(cl);
    close(cl2);
    FDS_END();
}
END_TEST

static Suite *dispatcher_suite(void)
{
    int nb = backend_count();
    Suite *s = suite_create("dispatcher");
    TCase *tc = tcase_create("socket");
    tcase_add_loop_test(tc, test_listen_and_accept, 0, nb);
    tcase_add_loop_test(tc, test_connect_tcp, 0, nb);
    tcase_add_loop_test(tc, test_connect_unix_completes_in_loop, 0, nb);
    tcase_add_loop_test(tc, test_connect_refused, 0, 2 * nb);
    tcase_add_test(tc, test_connect_sync_failure);
    tcase_add_loop_test(tc, test_send_to_closed_peer, 0, 2);
    suite_add_tcase(s, tc);

    tc = tcase_create("life");
    tcase_add_test(tc, test_double_close_and_closed_ops);
    tcase_add_test(tc, test_close_without_socket);
    tcase_add_test(tc, test_null_arguments);
    tcase_add_test(tc, test_adopt_bad_fds);
    tcase_add_loop_test(tc, test_close_reentry_runs_once, 0, 2);
    tcase_add_loop_test(tc, test_free_inside_handle_close, 0, 3 * nb);
    suite_add_tcase(s, tc);

    tc = tcase_create("conditions");
    tcase_add_loop_test(tc, test_oob_does_not_spin, 0, nb);
    tcase_add_loop_test(tc, test_emfile_accept_does_not_spin, 0, nb);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(dispatcher_suite());
}
