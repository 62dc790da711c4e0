/* handwritten_alloc.c: out of memory, one allocation at a time.  For each
 * operation that may allocate, the k-th allocation it makes fails, for
 * k = 0, 1, ... until it completes without meeting the failure; every
 * failure must be ENOMEM and leave no residue (E3, E6): no channel left in
 * the map, no descriptor gained or lost, a refused producer released, no
 * byte of a refused push sent.  Needs ACC_CAP_ALLOC_FAIL (failalloc.c);
 * the channels made in a new thread's default map also need default-map and
 * threads. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runner.h"

#define MAX_ALLOCS 64   /* more in one operation would be a runaway */

/* Every handler counted; a plain dispatcher keeps its own predicates. */
static const acc_events_t ev_events = {hw_obs_collect, hw_obs_found, hw_obs_close,
                                       hw_obs_error, hw_obs_connect, hw_obs_accept,
                                       NULL, NULL, hw_obs_read, hw_obs_write};

static void released(void *pctx) { ++*(int *)pctx; }

/* One attempt: set up (not armed), make allocation k of the operation fail,
 * check.  Returns 1 when the operation completed without reaching
 * allocation k (all k tried), 0 to go on, -1 on a violation (msg set). */
typedef int attempt_fn(const exec_opts_t *o, long k, char *msg, size_t cap);

static int outcome(int rc, long k, const char *op, char *msg, size_t cap)
{
    if (acc_fa_seen() <= k && rc == 0)
        return 1;
    if (rc == 0 || rc == -ENOMEM)
        return 0; /* success despite the failure (a fallback) is fine */
    return -hw_fail(msg, cap, "%s with allocation %ld failing returned %d, want -ENOMEM (E3)",
                    op, k, rc);
}

static int try_map_new(const exec_opts_t *o, long k, char *msg, size_t cap)
{
    void *m = NULL;
    acc_fa_arm(k);
    int rc = o->impl->map_new(&m);
    acc_fa_arm(-1);
    int r = outcome(rc, k, "map_new", msg, cap);
    if (rc == 0)
        o->impl->map_free(m);
    return r;
}

/* chat_adopt and disp_adopt: a refused descriptor stays the caller's. */
static int try_adopt(const exec_opts_t *o, long k, char *msg, size_t cap, int plain)
{
    const acc_impl_t *im = o->impl;
    void *m = NULL, *c = NULL;
    hw_obs_t ev = {0};
    int sv[2], r;
    if (im->map_new(&m) < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -hw_fail(msg, cap, "set-up failed");
    acc_fa_arm(k);
    int rc = plain ? im->disp_adopt(&c, m, sv[0], &ev_events, &ev)
                   : im->chat_adopt(&c, m, sv[0], &ev_events, &ev);
    acc_fa_arm(-1);
    const char *op = plain ? "disp_adopt" : "chat_adopt";
    r = outcome(rc, k, op, msg, cap);
    if (r >= 0 && rc == 0 && im->map_size(m) != 1)
        r = -hw_fail(msg, cap, "%s succeeded with allocation %ld failing, but the map holds "
                     "%ld channel(s) (want 1: a success must be a whole one, E6)", op, k,
                     im->map_size(m));
    else if (r >= 0 && rc < 0 && (im->map_size(m) != 0 || fcntl(sv[0], F_GETFD) < 0))
        r = -hw_fail(msg, cap, "%s refused with ENOMEM left %ld channel(s) in the map and "
                     "the descriptor %s (want 0 and still the caller's: E6)", op,
                     im->map_size(m), fcntl(sv[0], F_GETFD) < 0 ? "closed" : "open");
    if (rc < 0)
        close(sv[0]);
    if (c)
        im->free(c);
    close(sv[1]);
    im->map_free(m);
    return r;
}
static int try_chat_adopt(const exec_opts_t *o, long k, char *m, size_t c) { return try_adopt(o, k, m, c, 0); }
static int try_disp_adopt(const exec_opts_t *o, long k, char *m, size_t c) { return try_adopt(o, k, m, c, 1); }

static int try_listen(const exec_opts_t *o, long k, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *m = NULL, *l = NULL;
    hw_obs_t ev = {0};
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (im->map_new(&m) < 0)
        return -hw_fail(msg, cap, "set-up failed");
    acc_fa_arm(k);
    int rc = im->listen(&l, m, (struct sockaddr *)&a, sizeof(a), &ev_events, &ev);
    acc_fa_arm(-1);
    int r = outcome(rc, k, "listen", msg, cap);
    if (r >= 0 && im->map_size(m) != (rc == 0 ? 1 : 0))
        r = -hw_fail(msg, cap, "listen %s with allocation %ld failing left %ld channel(s) in "
                     "the map (want %d: E6)", rc == 0 ? "succeeding" : "refused", k,
                     im->map_size(m), rc == 0 ? 1 : 0);
    if (l)
        im->free(l);
    im->map_free(m);
    return r;
}

/* A channel made with no map, in a thread that has no default map yet:
 * the default map is created on that first use (M1), so its creation may
 * be the allocation that fails, and the operation must then fail with
 * ENOMEM too, leaving the descriptor the caller's and the map empty (E3,
 * E6).  Each attempt runs in a thread of its own, whose default map is
 * new. */
typedef struct {
    const exec_opts_t *o;
    long k, seen, size;
    int plain, rc, fd_open, setup_failed;
} dm_try_t;

static void *dm_thread(void *p)
{
    dm_try_t *t = p;
    const acc_impl_t *im = t->o->impl;
    hw_obs_t ev = {0};
    void *c = NULL;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        t->setup_failed = 1;
        return NULL;
    }
    acc_fa_arm(t->k);
    t->rc = t->plain ? im->disp_adopt(&c, NULL, sv[0], &ev_events, &ev)
                     : im->chat_adopt(&c, NULL, sv[0], &ev_events, &ev);
    acc_fa_arm(-1);
    t->seen = acc_fa_seen();
    t->fd_open = fcntl(sv[0], F_GETFD) >= 0;
    t->size = im->map_size(NULL);
    if (t->rc < 0)
        close(sv[0]);
    if (c)
        im->free(c);
    close(sv[1]);
    return NULL;
}

static int try_default(const exec_opts_t *o, long k, char *msg, size_t cap, int plain)
{
    unsigned need = ACC_CAP_DEFAULT_MAP | ACC_CAP_THREADS | (plain ? ACC_CAP_DISPATCHER : 0);
    if ((o->impl->caps & need) != need)
        return 1; /* nothing to try */
    dm_try_t t = {o, k, 0, 0, plain, 0, 0, 0};
    pthread_t th;
    if (pthread_create(&th, NULL, dm_thread, &t) != 0)
        return -hw_fail(msg, cap, "pthread_create failed");
    pthread_join(th, NULL);
    if (t.setup_failed)
        return -hw_fail(msg, cap, "set-up failed");
    const char *op = plain ? "disp_adopt into a new default map" : "chat_adopt into a new default map";
    if (t.seen <= k && t.rc == 0)
        return t.size == 1 ? 1 : -hw_fail(msg, cap, "%s succeeded, but the map holds %ld "
                                          "channel(s) (want 1)", op, t.size);
    if (t.rc != 0 && t.rc != -ENOMEM)
        return -hw_fail(msg, cap, "%s with allocation %ld failing returned %d, want -ENOMEM "
                        "(E3)", op, k, t.rc);
    if (t.rc < 0 && (t.size != 0 || !t.fd_open))
        return -hw_fail(msg, cap, "%s refused with ENOMEM left %ld channel(s) in the map and "
                        "the descriptor %s (want 0 and still the caller's: E6)", op, t.size,
                        t.fd_open ? "open" : "closed");
    return 0;
}
static int try_chat_default(const exec_opts_t *o, long k, char *m, size_t c) { return try_default(o, k, m, c, 0); }
static int try_disp_default(const exec_opts_t *o, long k, char *m, size_t c) { return try_default(o, k, m, c, 1); }

/* A new map with a chat channel on a socketpair; *peer is ours. */
static int chat_on_pair(const acc_impl_t *im, void **m, void **c, int *peer, hw_obs_t *ev)
{
    return im->map_new(m) < 0 ? -1 : hw_chat_pair(im, *m, c, peer, &ev_events, ev);
}

/* What the peer has received by now, after a few passes. */
static size_t drain(const exec_opts_t *o, void *m, int peer, char *buf, size_t cap)
{
    size_t n = 0;
    for (int p = 0; p < 20; p++) {
        o->impl->poll(m, o->backend, 5);
        ssize_t k;
        while (n < cap && (k = recv(peer, buf + n, cap - n, MSG_DONTWAIT)) > 0)
            n += (size_t)k;
    }
    return n;
}

/* A refused push queues nothing: the peer then gets exactly the next one. */
static int try_push(const exec_opts_t *o, long k, char *msg, size_t cap)
{
    static char big[20000];
    char got[16];
    const acc_impl_t *im = o->impl;
    void *m = NULL, *c = NULL;
    hw_obs_t ev = {0};
    int peer, r;
    memset(big, 'b', sizeof(big));
    if (chat_on_pair(im, &m, &c, &peer, &ev) < 0)
        return -hw_fail(msg, cap, "set-up failed");
    acc_fa_arm(k);
    int rc = im->push(c, big, sizeof(big));
    acc_fa_arm(-1);
    r = outcome(rc, k, "push", msg, cap);
    if (r >= 0 && rc < 0) {
        size_t n = im->push(c, "x", 1) == 0 ? drain(o, m, peer, got, sizeof(got)) : 0;
        if (n != 1 || got[0] != 'x' || ev.errors || ev.closes)
            r = -hw_fail(msg, cap, "after a push refused with ENOMEM the peer got %zu byte(s) "
                         "for a push of \"x\" (want exactly \"x\": E6)", n);
    } else if (r >= 0) { /* accepted, whatever failed on the way: all of it */
        static char all[sizeof(big) + 1];
        size_t n = drain(o, m, peer, all, sizeof(all));
        if (n != sizeof(big) || memcmp(all, big, n) != 0 || ev.errors || ev.closes)
            r = -hw_fail(msg, cap, "a push of %zu bytes accepted with allocation %ld failing: "
                         "the peer got %zu byte(s)%s (want all of them: E6)", sizeof(big), k,
                         n, n == sizeof(big) ? ", not the ones pushed" : "");
    }
    im->free(c);
    close(peer);
    im->map_free(m);
    return r;
}

/* A refused producer is released, once (E6). */
static int try_push_producer(const exec_opts_t *o, long k, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *m = NULL, *c = NULL;
    hw_obs_t ev = {0};
    int releases = 0;
    int peer, r;
    if (chat_on_pair(im, &m, &c, &peer, &ev) < 0)
        return -hw_fail(msg, cap, "set-up failed");
    static const void *const chunks[] = {"p1", "p2"};
    static const size_t lens[] = {2, 2};
    acc_producer_t p = {chunks, lens, 2, released, &releases};
    acc_fa_arm(k);
    int rc = im->push_producer(c, &p);
    acc_fa_arm(-1);
    r = outcome(rc, k, "push_producer", msg, cap);
    if (r >= 0 && rc < 0 && releases != 1)
        r = -hw_fail(msg, cap, "push_producer refused with ENOMEM released its producer %d "
                     "time(s) (want once: E6)", releases);
    im->free(c);
    close(peer);
    im->map_free(m);
    if (r >= 0 && rc == 0 && releases != 1)
        r = -hw_fail(msg, cap, "an accepted producer was released %d time(s) by the end "
                     "(want once: P5)", releases);
    return r;
}

/* A terminator refused with ENOMEM leaves the one before it in force; one
 * accepted, whatever failed on the way, is in force whole (T3, E6).  64
 * bytes: within what T3 makes every implementation accept, and past what
 * an implementation is likely to keep without allocating. */
static int try_set_terminator(const exec_opts_t *o, long k, char *msg, size_t cap)
{
    static char term[64], in[2 + sizeof(term)];
    const acc_impl_t *im = o->impl;
    void *m = NULL, *c = NULL;
    hw_obs_t ev = {0};
    int peer, r;
    memset(term, '=', sizeof(term));
    term[sizeof(term) - 1] = '>';
    if (chat_on_pair(im, &m, &c, &peer, &ev) < 0 || im->set_terminator(c, "\n", 1) < 0)
        return -hw_fail(msg, cap, "set-up failed");
    acc_fa_arm(k);
    int rc = im->set_terminator(c, term, sizeof(term));
    acc_fa_arm(-1);
    r = outcome(rc, k, "set_terminator", msg, cap);
    if (r >= 0) {
        /* "ab", then the terminator in force, old or new. */
        size_t n = 2;
        memcpy(in, "ab", 2);
        if (rc < 0)
            in[n++] = '\n';
        else
            memcpy(in + 2, term, sizeof(term)), n += sizeof(term);
        (void)!send(peer, in, n, MSG_NOSIGNAL);
        for (int p = 0; p < 100 && !ev.found && !ev.closes && !ev.errors; p++)
            im->poll(m, o->backend, 10);
        if (ev.found != 1 || ev.n != 2 || ev.errors || ev.closes)
            r = -hw_fail(msg, cap, "after set_terminator of %zu bytes %s with allocation %ld "
                         "failing, \"ab\" and the %s terminator gave %d record(s) of %zu "
                         "byte(s), %d error(s), %d close(s) (want one record of 2 bytes: "
                         "T3, E6)", sizeof(term), rc < 0 ? "refused" : "accepted", k,
                         rc < 0 ? "old" : "new", ev.found, ev.n, ev.errors, ev.closes);
    }
    im->free(c);
    close(peer);
    im->map_free(m);
    return r;
}

/* A pass that meets the failure either fails with ENOMEM or reports it to
 * the channel it was serving (E5: handle_error, whose default closes);
 * a record is never half-delivered, and the passes after it go on. */
static int try_pass(const exec_opts_t *o, long k, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *m = NULL, *c = NULL;
    hw_obs_t ev = {0};
    int peer, r = 0;
    if (chat_on_pair(im, &m, &c, &peer, &ev) < 0 || im->set_terminator(c, "\n", 1) < 0)
        return -hw_fail(msg, cap, "set-up failed");
    (void)!send(peer, "abc\n", 4, MSG_NOSIGNAL);
    acc_fa_arm(k);
    int rc = im->poll(m, o->backend, 100);
    acc_fa_arm(-1);
    long seen = acc_fa_seen();
    if (rc < 0 && rc != -ENOMEM)
        r = -hw_fail(msg, cap, "a pass with allocation %ld failing returned %d, want >= 0 or "
                     "-ENOMEM (E3)", k, rc);
    for (int p = 0; p < 100 && !ev.found && !ev.closes && r == 0; p++)
        im->poll(m, o->backend, 10);
    if (r == 0 && !(ev.found == 1 && ev.n == 3 && !ev.errors && !ev.closes) &&
        !(ev.errors == 1 && ev.closes == 1 && !ev.found))
        r = -hw_fail(msg, cap, "\"abc\\n\" with allocation %ld of a pass failing: %d record(s) "
                     "of %zu byte(s), %d error(s), %d close(s) (want the record, or "
                     "handle_error then handle_close: E5)", k, ev.found, ev.n, ev.errors,
                     ev.closes);
    if (r == 0 && seen <= k && rc >= 0)
        r = 1;
    im->free(c);
    close(peer);
    im->map_free(m);
    return r;
}

int hw_alloc_failures(const exec_opts_t *o, char *msg, size_t cap)
{
    static const struct {
        const char *name;
        attempt_fn *fn;
    } ops[] = {{"map_new", try_map_new}, {"chat_adopt", try_chat_adopt},
               {"disp_adopt", try_disp_adopt}, {"chat_adopt (default map)", try_chat_default},
               {"disp_adopt (default map)", try_disp_default}, {"listen", try_listen},
               {"push", try_push}, {"push_producer", try_push_producer},
               {"set_terminator", try_set_terminator}, {"a pass", try_pass}};
    /* The capability is a claim: the very next allocation must fail. */
    void *m = NULL;
    acc_fa_arm(0);
    int rc = o->impl->map_new(&m);
    acc_fa_arm(-1);
    if (rc != -ENOMEM) {
        if (rc == 0)
            o->impl->map_free(m);
        return hw_fail(msg, cap, "the implementation declares alloc-fail, but map_new with "
                       "its first allocation failing returned %d (want -ENOMEM)", rc);
    }
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        int fds = exec_count_fds(), r = 0;
        long k;
        for (k = 0; k < MAX_ALLOCS && r == 0; k++)
            r = ops[i].fn(o, k, msg, cap);
        if (r < 0)
            return 1;
        if (r == 0)
            return hw_fail(msg, cap, "%s still met a failing allocation at the %dth: more "
                           "allocations than an operation should make", ops[i].name,
                           MAX_ALLOCS);
        if (exec_count_fds() != fds)
            return hw_fail(msg, cap, "%s under failing allocations: %d descriptor(s) %s "
                           "(E6)", ops[i].name, exec_count_fds() - fds,
                           exec_count_fds() > fds ? "leaked" : "lost");
    }
    return 0;
}
