/* handwritten_edges.c: hand-written tests for MUST sentences of the spec
 * that no case caught when each was broken alone (docs/spec-audit.md): the
 * edges of the loop's bounds (L5-L7), what a chat adopted without a peer is
 * watched for (P10, P11), and a connect that completes inside connect()
 * (D13).  They see callbacks as they happen, which a case file cannot. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "runner.h"

/* One pass; *ms gets how long it took. */
static int timed_pass(const exec_opts_t *o, void *m, int timeout, double *ms)
{
    double t0 = acc_mono_s();
    int r = o->impl->poll(m, o->backend, timeout);
    *ms = (acc_mono_s() - t0) * 1e3;
    return r;
}

/* A counted loop; *ms gets how long it took. */
static int timed_loop(const exec_opts_t *o, void *m, int timeout, int count, double *ms)
{
    double t0 = acc_mono_s();
    int r = o->impl->loop(m, o->backend, timeout, count);
    *ms = (acc_mono_s() - t0) * 1e3;
    return r;
}

/* ------------------------------------------------ loop bounds, L5-L7 */

/* A plain dispatcher on a socketpair that asks for nothing (L6, L7). */
static int idle_disp(const exec_opts_t *o, void *m, void **d, int *peer, hw_obs_t *s)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    if (o->impl->disp_adopt(d, m, sv[0], &hw_obs_events, s) < 0) {
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    *peer = sv[1];
    return 0;
}

/* L6, L7 over a plain dispatcher that asks for nothing, alone in map m: it
 * takes the place of chat *c (freed with its *peer), and a fresh chat pair
 * takes its place again for what follows.  0, or hw_fail's 1. */
static int idle_edges(const exec_opts_t *o, void *m, void **c, int *peer, hw_obs_t *sc,
                      char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *d = NULL;
    hw_obs_t sd = {0};
    int dpeer = -1, rc = 0, r;
    double ms;
    if (idle_disp(o, m, &d, &dpeer, &sd) < 0)
        return hw_fail(msg, cap, "set-up of a plain dispatcher failed");
    im->free(*c);
    *c = NULL;
    close(*peer);
    *peer = -1;
    r = timed_pass(o, m, 40, &ms);
    if (r < 0 || ms < 39.0 || hw_obs_calls(&sd)) {
        rc = hw_fail(msg, cap, "a 40 ms pass over a channel that asks for nothing returned "
                     "%d after %.1f ms with %d event(s) (want no earlier than 40 ms, none: "
                     "L6)", r, ms, hw_obs_calls(&sd));
        goto out;
    }
    r = timed_loop(o, m, 20, 3, &ms);
    if (r != 0 || ms < 59.0 || hw_obs_calls(&sd)) {
        rc = hw_fail(msg, cap, "loop of 3 passes of 20 ms over a channel that asks for "
                     "nothing returned %d after %.1f ms (want 0, no earlier than 60 ms: "
                     "it keeps running, L7)", r, ms);
        goto out;
    }
    im->free(d);
    d = NULL;
    close(dpeer);
    dpeer = -1;
    if (hw_chat_pair(im, m, c, peer, &hw_obs_chat_events, sc) < 0 || im->set_none(*c) != 0)
        rc = hw_fail(msg, cap, "set-up of a second chat channel failed");
out:
    if (d) im->free(d);
    if (dpeer >= 0) close(dpeer);
    return rc;
}

/* The sentences l.timeout.bounds leaves open: a refused timeout does
 * nothing even with input waiting (L5); one pass with an infinite timeout
 * on an empty map returns (L6 "the map may be empty"); channels that ask for
 * nothing make a finite pass wait its timeout out and keep a counted loop
 * running (L6, L7); loop checks the map before every pass, so a map that
 * empties in the first pass stops a counted loop with a long timeout (L7). */
int hw_loop_edges(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *m = NULL, *c = NULL;
    hw_obs_t sc = {0};
    int peer = -1, rc = 0, r;
    double ms;
    if (im->map_new(&m) < 0)
        return hw_fail(msg, cap, "map_new failed");
    r = timed_pass(o, m, -1, &ms);
    if (r < 0 || ms > 1000.0) {
        rc = hw_fail(msg, cap, "a pass with an infinite timeout on an empty map returned %d "
                     "after %.0f ms (want >= 0 at once: nothing could end the wait, L6)", r, ms);
        goto out;
    }
    /* The terminator is set explicitly (T2 aside, none collects it all). */
    if (hw_chat_pair(im, m, &c, &peer, &hw_obs_chat_events, &sc) < 0 || im->set_none(c) != 0) {
        rc = hw_fail(msg, cap, "set-up of a chat channel failed");
        goto out;
    }
    (void)!send(peer, "abc", 3, MSG_NOSIGNAL);
    usleep(2000);
    if ((r = im->poll(m, o->backend, -7)) != -EINVAL || hw_obs_calls(&sc)) {
        rc = hw_fail(msg, cap, "a pass with timeout -7 and input waiting returned %d after "
                     "%d handler call(s) (want -EINVAL and none: the pass then does nothing, L5)",
                     r, hw_obs_calls(&sc));
        goto out;
    }
    for (int i = 0; i < 100 && sc.n < 3; i++)
        im->poll(m, o->backend, 10);
    if (sc.n != 3) {
        rc = hw_fail(msg, cap, "the 3 bytes refused by the bad pass were then collected as %zu "
                     "(want 3: L5)", sc.n);
        goto out;
    }
    if ((im->caps & ACC_CAP_DISPATCHER) && (rc = idle_edges(o, m, &c, &peer, &sc, msg, cap)))
        goto out;
    /* The peer goes away: the first pass closes the only channel. */
    close(peer);
    peer = -1;
    sc.closes = 0;
    r = timed_loop(o, m, 400, 5, &ms);
    if (r != 0 || sc.closes != 1 || im->map_size(m) != 0 || ms > 300.0) {
        rc = hw_fail(msg, cap, "loop(400 ms, 5 passes) whose map empties in its first pass "
                     "returned %d after %.0f ms, %d close(s), map size %ld (want 0 well before "
                     "400 ms, 1, 0: the map is checked before every pass, L7)", r, ms,
                     sc.closes, im->map_size(m));
        goto out;
    }
out:
    if (c) im->free(c);
    if (peer >= 0) close(peer);
    im->map_free(m);
    return rc;
}

/* ------------------------------------- adopted without a peer, P10 P11 */

/* A chat channel adopted on a socket without a peer is not connected and
 * not connecting, so it is not watched for output, queued output or not
 * (P11 as of spec version 2): a pass over it waits its timeout out.  An
 * unconnected datagram socket reports output space on every pass, so an
 * implementation that asks for output there busy-waits; a stream socket
 * would report a hangup and close instead. */
int hw_adopt_no_peer(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *m = NULL, *c = NULL;
    hw_obs_t s = {0};
    int rc = 0, r;
    double ms;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || im->map_new(&m) < 0) {
        if (fd >= 0)
            close(fd);
        return hw_fail(msg, cap, "set-up failed");
    }
    if ((r = im->chat_adopt(&c, m, fd, &hw_obs_chat_events, &s)) < 0) {
        close(fd);
        c = NULL;
        rc = hw_fail(msg, cap, "chat_adopt of a socket without a peer returned %d (want 0: D1)", r);
        goto out;
    }
    for (int round = 0; round < 2 && rc == 0; round++) {
        if (round == 1 && (r = im->push(c, "queued", 6)) != 0) {
            rc = hw_fail(msg, cap, "push on a channel adopted without a peer returned %d "
                         "(want 0: it stays queued, P10)", r);
            break;
        }
        r = timed_pass(o, m, 40, &ms);
        if (r < 0 || ms < 39.0 || hw_obs_calls(&s) || im->map_size(m) != 1)
            rc = hw_fail(msg, cap, "a 40 ms pass over a chat adopted without a peer%s returned "
                         "%d after %.1f ms with %d event(s), map size %ld (want no earlier than "
                         "40 ms, none, 1: it is not watched for output, P11 P10)",
                         round ? ", with output queued," : "", r, ms, hw_obs_calls(&s),
                         im->map_size(m));
    }
out:
    if (c) im->free(c);
    im->map_free(m);
    return rc;
}

/* ----------------------------------------- connect done at once, D13 */

/* A unix listener at a fresh path; *path gets the path to unlink. */
static int unix_listener(struct sockaddr_un *a, char *dir, size_t dcap)
{
    snprintf(dir, dcap, "/tmp/acc-connect-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    memset(a, 0, sizeof(*a));
    a->sun_family = AF_UNIX;
    snprintf(a->sun_path, sizeof(a->sun_path), "%s/l", dir);
    int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ls < 0 || bind(ls, (struct sockaddr *)a, sizeof(*a)) < 0 || listen(ls, 4) < 0) {
        if (ls >= 0)
            close(ls);
        unlink(a->sun_path);
        rmdir(dir);
        return -1;
    }
    return ls;
}

/* Over AF_UNIX connect() succeeds at once.  handle_connect still runs only
 * from a pass, exactly once (D13, D15); nothing is sent before it (P10),
 * and what was pushed before it arrives after it (D14). */
int hw_connect_unix(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *m = NULL, *c = NULL;
    hw_obs_t s = {0};
    struct sockaddr_un a;
    char dir[64], buf[16];
    int rc = 0, peer = -1, r;
    int ls = unix_listener(&a, dir, sizeof(dir));
    if (ls < 0 || im->map_new(&m) < 0) {
        if (ls >= 0)
            close(ls);
        return hw_fail(msg, cap, "set-up failed (a unix listener, a map)");
    }
    r = im->chat_connect(&c, m, (struct sockaddr *)&a, sizeof(a), &hw_obs_chat_events, &s);
    int inside = hw_obs_calls(&s);
    if (r < 0 || inside) {
        rc = hw_fail(msg, cap, "chat_connect to a unix listener returned %d with %d handler "
                     "call(s) inside it (want 0 and none: handle_connect only from a pass, D13)",
                     r, inside);
        if (r < 0)
            c = NULL;
        goto out;
    }
    if ((r = im->push(c, "early", 5)) != 0 || hw_obs_calls(&s)) {
        rc = hw_fail(msg, cap, "push before the connection completed returned %d with %d "
                     "handler call(s) (want 0, none: P2, P10)", r, hw_obs_calls(&s));
        goto out;
    }
    peer = accept(ls, NULL, NULL);
    if (peer < 0) {
        rc = hw_fail(msg, cap, "the implementation's connect never reached the listener");
        goto out;
    }
    fcntl(peer, F_SETFL, fcntl(peer, F_GETFL) | O_NONBLOCK);
    if (recv(peer, buf, sizeof(buf), 0) >= 0) {
        rc = hw_fail(msg, cap, "bytes reached the peer before any pass (want none: push only "
                     "queues, P2, P10)");
        goto out;
    }
    size_t got = 0;
    for (int i = 0; i < 100 && got < 5; i++) {
        im->poll(m, o->backend, 10);
        ssize_t k = recv(peer, buf + got, sizeof(buf) - got, 0);
        if (k > 0)
            got += (size_t)k;
    }
    for (int i = 0; i < 5; i++)
        im->poll(m, o->backend, 2);
    if (s.connects != 1 || got != 5 || memcmp(buf, "early", 5) != 0 || s.closes || s.errors)
        rc = hw_fail(msg, cap, "after passes: %d handle_connect, %d close(s), %d error(s), the "
                     "peer got %zu of \"early\" (want exactly 1 connect, none, none, all of it: "
                     "D15 D14 P10)", s.connects, s.closes, s.errors, got);
out:
    if (c) im->free(c);
    if (peer >= 0) close(peer);
    close(ls);
    unlink(a.sun_path);
    rmdir(dir);
    im->map_free(m);
    return rc;
}
