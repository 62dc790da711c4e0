/* handwritten_abi2.c: hand-written tests of ABI 2's optional entries that
 * make a class of bugs visible: a plain dispatcher that connects
 * (disp_connect), a second socket offered to a handle (readopt), a
 * channel's state (state) and a producer that fails (fail_err). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "exec.h"
#include "runner.h"

/* What one channel's callbacks saw, in order (seq numbers from 1). */
typedef struct {
    const acc_impl_t *im;
    void *h;                 /* the handle, once the constructor returned */
    int seq, connects, connect_seq, connect_state, reads, writes, first_write;
    int errors, err, closes;
    int error_state;         /* state() inside the first handle_error, or -1 */
    int quiet_read, quiet_write; /* readable / writable answer false */
} obs_t;

static void o_collect(void *c, const void *p, size_t n) { (void)c, (void)p, (void)n; }
static void o_found(void *c) { (void)c; }
static void o_close(void *c) { ((obs_t *)c)->closes++; }
static void o_error(void *c, int e)
{
    obs_t *s = c;
    if (s->errors++ == 0 && s->h && (s->im->caps & ACC_CAP_STATE))
        s->error_state = s->im->state(s->h);
    s->err = e;
}
static void o_connect(void *c)
{
    obs_t *s = c;
    s->connects++;
    s->connect_seq = ++s->seq;
    if (s->h && (s->im->caps & ACC_CAP_STATE))
        s->connect_state = s->im->state(s->h);
}
static void o_accept(void *c, int fd) { (void)c, close(fd); }
static int o_readable(void *c) { return !((obs_t *)c)->quiet_read; }
static int o_writable(void *c) { return !((obs_t *)c)->quiet_write; }
static void o_read(void *c) { ((obs_t *)c)->reads++; }
static void o_write(void *c)
{
    obs_t *s = c;
    if (s->writes++ == 0)
        s->first_write = ++s->seq;
}

/* Default predicates (D2) unless told: a plain dispatcher is watched both
 * ways. */
static const acc_events_t obs_events = {o_collect, o_found, o_close, o_error, o_connect,
                                        o_accept, o_readable, o_writable, o_read, o_write};

/* A refused connect on a plain dispatcher: handle_error with the error and
 * handle_close, and neither handle_connect nor handle_read nor handle_write
 * (D16, D15).  how: 0 watched both ways, 1 for output only, 2 for input
 * only, so the failure is found by each kind of event.  With `state`, the
 * channel read inside handle_error is neither connecting nor connected: the
 * attempt is over (D16). */
static int refused_once(const exec_opts_t *o, char *msg, size_t cap, int how, int state)
{
    static const char *const hows[] = {"both ways", "for output only", "for input only"};
    const acc_impl_t *im = o->impl;
    obs_t s = {.im = im, .quiet_read = how == 1, .quiet_write = how == 2, .error_state = -1};
    void *m = NULL, *d = NULL;
    struct sockaddr_in a;
    int ls = exec_tcp_listener(&a);
    if (ls < 0 || im->map_new(&m) < 0) {
        if (ls >= 0)
            close(ls);
        return hw_fail(msg, cap, "set-up failed (a loopback listener, a map)");
    }
    close(ls); /* nobody listens on that port any more */
    int r = im->disp_connect(&d, m, (struct sockaddr *)&a, sizeof(a), &obs_events, &s), rc = 0;
    if (r == -ECONNREFUSED) { /* refused at once: D17's path, nothing else to see */
        im->map_free(m);
        return 0;
    }
    if (r < 0) {
        im->map_free(m);
        return hw_fail(msg, cap, "disp_connect returned %d (want 0)", r);
    }
    s.h = d;
    for (int i = 0; i < 100 && !s.closes; i++)
        im->poll(m, o->backend, 10);
    for (int i = 0; i < 3; i++)
        im->poll(m, o->backend, 1);
    if (s.errors != 1 || s.err != -ECONNREFUSED || s.closes != 1 || s.connects || s.reads ||
        s.writes)
        rc = hw_fail(msg, cap, "a refused connect on a plain dispatcher watched %s: %d "
                     "handle_error (err %d), %d handle_close, %d handle_connect, %d handle_read, "
                     "%d handle_write (want 1 (%d), 1, 0, 0, 0: D16, D15)", hows[how], s.errors,
                     s.err, s.closes, s.connects, s.reads, s.writes, -ECONNREFUSED);
    else if (state && (s.error_state < 0 ||
                       (s.error_state & (ACC_STATE_CONNECTING | ACC_STATE_CONNECTED))))
        rc = hw_fail(msg, cap, "a refused connect on a plain dispatcher watched %s: its state "
                     "inside handle_error was %#x (want neither connecting %#x nor connected "
                     "%#x: the attempt is over, D16)", hows[how], (unsigned)s.error_state,
                     ACC_STATE_CONNECTING, ACC_STATE_CONNECTED);
    im->free(d);
    im->map_free(m);
    return rc;
}

int hw_dconnect_refused(const exec_opts_t *o, char *msg, size_t cap)
{
    int rc = 0;
    for (int how = 0; how < 3 && rc == 0; how++)
        rc = refused_once(o, msg, cap, how, 0);
    return rc;
}

int hw_dconnect_refused_state(const exec_opts_t *o, char *msg, size_t cap)
{
    int rc = 0;
    for (int how = 0; how < 3 && rc == 0; how++)
        rc = refused_once(o, msg, cap, how, 1);
    return rc;
}

/* A connect that succeeds: handle_connect once, before the first
 * handle_write (D15); while it runs the channel is not yet connected (D14),
 * and once it returned it is (D15).  Before any pass it is connecting and
 * not connected (D13). */
int hw_dconnect_success(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    obs_t s = {.im = im};
    void *m = NULL, *d = NULL;
    struct sockaddr_in a;
    int ls = exec_tcp_listener(&a), rc = 0;
    if (ls < 0 || im->map_new(&m) < 0) {
        if (ls >= 0)
            close(ls);
        return hw_fail(msg, cap, "set-up failed (a loopback listener, a map)");
    }
    int r = im->disp_connect(&d, m, (struct sockaddr *)&a, sizeof(a), &obs_events, &s);
    if (r < 0) {
        close(ls);
        im->map_free(m);
        return hw_fail(msg, cap, "disp_connect to a loopback listener returned %d (want 0)", r);
    }
    s.h = d;
    int before = im->caps & ACC_CAP_STATE ? im->state(d) : ACC_STATE_CONNECTING;
    int peer = accept(ls, NULL, NULL);
    for (int i = 0; i < 50 && s.writes < 2; i++)
        im->poll(m, o->backend, 10);
    int after = im->caps & ACC_CAP_STATE ? im->state(d) : ACC_STATE_CONNECTED;
    if (s.connects != 1 || s.connect_seq > s.first_write || s.writes == 0 || s.errors || s.closes)
        rc = hw_fail(msg, cap, "a plain dispatcher's connect: %d handle_connect, %d handle_write, "
                     "the first write %s handle_connect, %d error(s), %d close(s) (want 1, "
                     "some, after, none: D15)", s.connects, s.writes,
                     s.connect_seq > s.first_write ? "before" : "after", s.errors, s.closes);
    else if (before != ACC_STATE_CONNECTING)
        rc = hw_fail(msg, cap, "state before any pass: %#x (want connecting only, %#x: D13)",
                     before, ACC_STATE_CONNECTING);
    else if ((im->caps & ACC_CAP_STATE) && s.connect_state != ACC_STATE_CONNECTING)
        rc = hw_fail(msg, cap, "state inside handle_connect: %#x (want still connecting and not "
                     "yet connected, %#x: D14)", s.connect_state, ACC_STATE_CONNECTING);
    else if (after != ACC_STATE_CONNECTED)
        rc = hw_fail(msg, cap, "state once handle_connect returned: %#x (want connected only, "
                     "%#x: D14, D15)", after, ACC_STATE_CONNECTED);
    im->free(d);
    if (peer >= 0)
        close(peer);
    close(ls);
    im->map_free(m);
    return rc;
}

/* 1 when fd is still an open descriptor (the caller's). */
static int fd_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }

/* A channel that has a socket refuses another with EISCONN; a closed one
 * never gets a socket again, EBADF (D1).  A refused fd stays the caller's
 * (E6) and the map gains nothing. */
int hw_readopt(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    obs_t s = {.im = im};
    void *m = NULL, *c = NULL;
    int peer = -1, sv[2] = {-1, -1}, rc = 0;
    if (im->map_new(&m) < 0 || hw_chat_pair(im, m, &c, &peer, &obs_events, &s) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return hw_fail(msg, cap, "set-up failed (a map, a chat pair, a socketpair)");
    int open_rc = im->readopt(c, sv[0]);
    int kept_open = open_rc < 0 && fd_open(sv[0]);
    im->close(c);
    int closed_rc = im->readopt(c, sv[0]);
    int kept_closed = closed_rc < 0 && fd_open(sv[0]);
    long size = im->map_size(m);
    if (open_rc != -EISCONN || !kept_open)
        rc = hw_fail(msg, cap, "readopt on an open channel returned %d%s (want %d, the fd "
                     "still the caller's: D1, E6)", open_rc, kept_open ? "" : ", its fd taken",
                     -EISCONN);
    else if (closed_rc != -EBADF || !kept_closed || size != 0 || im->fd(c) != -1)
        rc = hw_fail(msg, cap, "readopt on a closed channel returned %d, fd %s, channel fd %d, "
                     "map size %ld (want %d, the caller's, -1, 0: a closed channel never gets a "
                     "socket again, D1)", closed_rc, kept_closed ? "the caller's" : "taken",
                     im->fd(c), size, -EBADF);
    im->free(c);
    if (kept_closed)
        close(sv[0]);
    close(sv[1]);
    close(peer);
    im->map_free(m);
    return rc;
}

/* A listener is listening and not connected; closed it reads closed (D19,
 * D1); an adopted socket with a peer is connected (D1).  A closed channel
 * has no socket, so it is closed and nothing else: neither listening nor
 * connected any more. */
int hw_state_listen(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    obs_t s = {.im = im};
    void *m = NULL, *l = NULL, *c = NULL;
    int peer = -1, rc = 0;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (im->map_new(&m) < 0 || hw_chat_pair(im, m, &c, &peer, &obs_events, &s) < 0)
        return hw_fail(msg, cap, "set-up failed (a map, a chat pair)");
    int adopted = im->state(c);
    int lr = im->listen(&l, m, (struct sockaddr *)&a, sizeof(a), &obs_events, &s);
    int listening = lr < 0 ? -1 : im->state(l);
    int closed = -1;
    if (lr == 0) {
        im->close(l);
        closed = im->state(l);
    }
    im->close(c);
    int chat_closed = im->state(c);
    if (adopted != ACC_STATE_CONNECTED)
        rc = hw_fail(msg, cap, "state of a chat adopted with a peer: %#x (want connected only, "
                     "%#x: D1)", adopted, ACC_STATE_CONNECTED);
    else if (lr < 0 || listening != ACC_STATE_LISTENING)
        rc = hw_fail(msg, cap, "listen returned %d, state %#x (want 0, listening only, %#x)",
                     lr, listening, ACC_STATE_LISTENING);
    else if (closed != ACC_STATE_CLOSED)
        rc = hw_fail(msg, cap, "state of a closed listener: %#x (want closed only, %#x: a "
                     "closed channel has no socket to listen on, D1, D19)", closed,
                     ACC_STATE_CLOSED);
    else if (chat_closed != ACC_STATE_CLOSED)
        rc = hw_fail(msg, cap, "state of a closed chat that had a peer: %#x (want closed only, "
                     "%#x: a closed channel has no socket and so no peer, D1)", chat_closed,
                     ACC_STATE_CLOSED);
    if (l)
        im->free(l);
    im->free(c);
    close(peer);
    im->map_free(m);
    return rc;
}

static void released(void *p) { ++*(int *)p; }
static const char *const pchunks[] = {"ab", "cd"};
static const size_t plens[] = {2, 2};

/* A producer that reports a failure leads to handle_error with its error
 * (P4); what it handed over before goes out first (P3), and its release
 * hook runs once (P4). */
int hw_producer_fail(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    obs_t s = {.im = im};
    void *m = NULL, *c = NULL;
    int peer = -1, rel = 0, rc = 0;
    char buf[16];
    size_t got = 0;
    if (im->map_new(&m) < 0 || hw_chat_pair(im, m, &c, &peer, &obs_events, &s) < 0)
        return hw_fail(msg, cap, "set-up failed (a map, a chat pair)");
    acc_producer_t p = {(const void *const *)pchunks, plens, 2, released, &rel, -EIO, 1};
    int r = im->push_producer(c, &p);
    for (int i = 0; i < 100 && r == 0 && !s.errors; i++) {
        im->poll(m, o->backend, 10);
        ssize_t k;
        while ((k = recv(peer, buf + got, sizeof(buf) - got, MSG_DONTWAIT)) > 0)
            got += (size_t)k;
    }
    for (int i = 0; i < 3; i++)
        im->poll(m, o->backend, 1);
    if (r != 0 || s.errors != 1 || s.err != -EIO)
        rc = hw_fail(msg, cap, "a producer failing with EIO after one chunk: push_producer "
                     "returned %d, %d handle_error (err %d) (want 0, 1 (%d): P4)", r, s.errors,
                     s.err, -EIO);
    else if (got > 2 || (got > 0 && memcmp(buf, "ab", got) != 0))
        rc = hw_fail(msg, cap, "the peer got %zu byte(s) not the producer's first chunk (want "
                     "at most \"ab\": P3, P4)", got);
    im->free(c);
    if (rc == 0 && rel != 1)
        rc = hw_fail(msg, cap, "the failed producer was released %d time(s) (want 1: P4)", rel);
    close(peer);
    im->map_free(m);
    return rc;
}
