/* handwritten_setup.c: hard faults in the calls that set a channel up
 * (getsockopt, setsockopt, listen, fcntl) and in the SO_ERROR read that ends
 * a connect.  Call k of each kind fails, k = 0, 1, ... until the scenario no
 * longer makes call k; whichever call it is, the operation fails with its
 * error and leaves nothing behind (E1, E6, D1), or the connect goes to
 * handle_error (D16).  Needs ACC_CAP_SYSCALL_FAULTS (failsys.c). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runner.h"

#define MAX_CALLS 32 /* more set-up calls of one kind than this: a runaway */

typedef struct {
    const exec_opts_t *o;
    acc_fs_kind_t kind;
    acc_fs_fault_t fault;
    long k;
    char *msg;
    size_t cap;
} strial_t;

static int fault_errno(acc_fs_fault_t f)
{
    return acc_errno_by_name(acc_fs_fault_name(f));
}

/* The error an operation met by the fault must report: the fault's own, or
 * EBADF when an fcntl on the descriptor failed (E3: an invalid descriptor,
 * which is what a failing F_GETFD says). */
static int reports_fault(const strial_t *t, int rc)
{
    return rc == -fault_errno(t->fault) || (t->kind == ACC_FS_FCNTL && rc == -EBADF);
}

static int sfail(const strial_t *t, const char *scen, const char *what, int rc, long size)
{
    return hw_fail(t->msg, t->cap, "%s with %s call %ld failing with %s: returned %d (%s), "
                   "the map holds %ld channel(s); %s", scen, acc_fs_kind_name(t->kind), t->k,
                   acc_fs_fault_name(t->fault), rc, rc < 0 ? acc_errno_name(-rc) : "success",
                   size, what);
}

static void arm(const strial_t *t)
{
    acc_fs_reset();
    acc_fs_arm(t->kind, t->fault, t->k, 1);
}

/* chat_adopt on one end of a socketpair.  A refused adopt leaves the map
 * empty and the descriptor open and the caller's (E6, D1). */
static int adopt_scenario(const strial_t *t)
{
    const acc_impl_t *im = t->o->impl;
    void *m = NULL, *c = NULL;
    hw_obs_t r = {0};
    int sv[2], rc = 0;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || im->map_new(&m) < 0)
        return hw_fail(t->msg, t->cap, "adopt: set-up failed");
    arm(t);
    int ar = im->chat_adopt(&c, m, sv[0], &hw_obs_reader_events, &r);
    int injected = acc_fs_injected(t->kind) > 0;
    acc_fs_disarm(t->kind);
    long size = im->map_size(m);
    int kept = fcntl(sv[0], F_GETFD) >= 0; /* the suite's fcntl: never faulted */
    if (injected && (!reports_fault(t, ar) || size != 0 || !kept))
        rc = sfail(t, "adopt", kept ? "want that error, nothing registered (E1, E6, D1)"
                                    : "and closed the descriptor, which stays the caller's (E6)",
                   ar, size);
    else if (!injected && (ar != 0 || size != 1))
        rc = sfail(t, "adopt", "but no fault reached it: want 0 and one channel (D1)", ar, size);
    else if (hw_obs_calls(&r))
        rc = sfail(t, "adopt", "and a handler ran inside adopt", ar, size);
    if (ar == 0)
        im->free(c);
    else if (kept)
        close(sv[0]);
    close(sv[1]);
    im->map_free(m);
    return rc;
}

/* listen on 127.0.0.1, port 0: a refused listen leaves nothing (E6). */
static int listen_scenario(const strial_t *t)
{
    const acc_impl_t *im = t->o->impl;
    void *m = NULL, *l = NULL;
    hw_obs_t r = {0};
    int rc = 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (im->map_new(&m) < 0)
        return hw_fail(t->msg, t->cap, "listen: set-up failed");
    arm(t);
    int lr = im->listen(&l, m, (struct sockaddr *)&a, sizeof(a), &hw_obs_reader_events, &r);
    int injected = acc_fs_injected(t->kind) > 0;
    acc_fs_disarm(t->kind);
    long size = im->map_size(m);
    if (injected && (!reports_fault(t, lr) || size != 0))
        rc = sfail(t, "listen", "want that error and nothing registered (E1, E6)", lr, size);
    else if (!injected && (lr != 0 || size != 1))
        rc = sfail(t, "listen", "but no fault reached it: want 0 and one channel", lr, size);
    if (lr == 0)
        im->free(l);
    im->map_free(m);
    return rc;
}

/* A loopback listener the suite owns, for the connect scenario. */
static int suite_listener(struct sockaddr_in *a)
{
    socklen_t al = sizeof(*a);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    *a = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (ls >= 0 && (bind(ls, (struct sockaddr *)a, sizeof(*a)) < 0 || listen(ls, 4) < 0 ||
                    getsockname(ls, (struct sockaddr *)a, &al) < 0)) {
        close(ls);
        return -1;
    }
    return ls;
}

/* A connect whose outcome cannot be read (SO_ERROR fails) is a connect
 * failure: handle_error with that error, then handle_close, and never
 * handle_connect (D16, D10).  A fault met inside connect itself is D17's
 * synchronous failure. */
static int connect_scenario(const strial_t *t)
{
    static const char *const S = "connect";
    const acc_impl_t *im = t->o->impl;
    void *m = NULL, *c = NULL;
    hw_obs_t r = {0};
    struct sockaddr_in a;
    int ls = suite_listener(&a), rc = 0;
    if (ls < 0 || im->map_new(&m) < 0) {
        if (ls >= 0)
            close(ls);
        return hw_fail(t->msg, t->cap, "connect: set-up failed");
    }
    arm(t);
    int cr = im->chat_connect(&c, m, (struct sockaddr *)&a, sizeof(a), &hw_obs_reader_events, &r);
    int sync = acc_fs_injected(t->kind) > 0;
    for (int p = 0; cr == 0 && p < 200 && !r.connects && !r.closes; p++)
        im->poll(m, t->o->backend, 5);
    int injected = acc_fs_injected(t->kind) > 0;
    acc_fs_disarm(t->kind);
    long size = im->map_size(m);
    int e = fault_errno(t->fault);
    if (sync && (!reports_fault(t, cr) || size != 0 || r.connects || r.errors || r.closes))
        rc = sfail(t, S, "want that error, nothing registered and no handler (D17, E6)", cr,
                   size);
    else if (!sync && injected &&
             (cr != 0 || r.connects || r.errors != 1 || r.err != -e || r.closes != 1))
        rc = hw_fail(t->msg, t->cap, "a connect whose %s call %ld failed with %s: %d "
                     "handle_connect, %d handle_error (last with %s), %d handle_close (want "
                     "0, 1 with %s, 1: a connect whose outcome cannot be read failed, D16)",
                     acc_fs_kind_name(t->kind), t->k, acc_fs_fault_name(t->fault), r.connects,
                     r.errors, r.errors ? acc_errno_name(-r.err) : "-", r.closes,
                     acc_fs_fault_name(t->fault));
    else if (!injected && (cr != 0 || r.connects != 1 || r.errors || r.closes))
        rc = hw_fail(t->msg, t->cap, "an unhindered connect returned %d, then %d "
                     "handle_connect, %d handle_error (want 0, 1, 0: D15)", cr, r.connects,
                     r.errors);
    if (cr == 0)
        im->free(c);
    close(ls);
    im->map_free(m);
    if (rc == 0 && hw_obs_calls(&r) > r.connects + r.errors + r.closes)
        rc = hw_fail(t->msg, t->cap, "connect: an unexpected handler ran");
    return rc;
}

typedef int strial_fn(const strial_t *t);

/* Fails call k of kind with fault, k = 0, 1, ..., until the scenario makes
 * fewer than k + 1 such calls; returns 1 with msg set on a failure. */
static int sweep(const exec_opts_t *o, const char *name, strial_fn *fn, acc_fs_kind_t kind,
                 acc_fs_fault_t f, long *reached, char *msg, size_t cap)
{
    int fds = exec_count_fds();
    strial_t t = {o, kind, f, 0, msg, cap};
    for (t.k = 0; t.k < MAX_CALLS; t.k++) {
        if (fn(&t))
            return 1;
        long calls = acc_fs_calls(kind);
        acc_fs_reset();
        *reached += calls > 0;
        if (calls <= t.k)
            break;
    }
    if (t.k == MAX_CALLS)
        return hw_fail(msg, cap, "%s still made %s call %d: more calls than it should take",
                       name, acc_fs_kind_name(kind), MAX_CALLS);
    int now = exec_count_fds();
    if (now != fds)
        return hw_fail(msg, cap, "%s under %s faults on %s: %d descriptor(s) %s (E6)", name,
                       acc_fs_fault_name(f), acc_fs_kind_name(kind), now - fds,
                       now > fds ? "leaked" : "lost");
    return 0;
}

int hw_setup_faults(const exec_opts_t *o, char *msg, size_t cap)
{
    static const struct {
        const char *name;
        strial_fn *fn;
        unsigned needs;
    } scen[] = {
        {"adopt", adopt_scenario, 0},
        {"listen", listen_scenario, ACC_CAP_LISTEN},
        {"connect", connect_scenario, ACC_CAP_CONNECT},
    };
    static const acc_fs_kind_t kinds[] = {ACC_FS_GETSOCKOPT, ACC_FS_SETSOCKOPT, ACC_FS_LISTEN,
                                          ACC_FS_FCNTL};
    for (size_t s = 0; s < sizeof(scen) / sizeof(scen[0]); s++) {
        if ((o->impl->caps & scen[s].needs) != scen[s].needs)
            continue;
        for (size_t ki = 0; ki < sizeof(kinds) / sizeof(kinds[0]); ki++) {
            long reached = 0;
            for (int f = 0; f < ACC_FS__FAULTS; f++)
                if (acc_fs_applies(kinds[ki], (acc_fs_fault_t)f) &&
                    sweep(o, scen[s].name, scen[s].fn, kinds[ki], (acc_fs_fault_t)f, &reached,
                          msg, cap))
                    return 1;
            /* Every listener calls listen(): the capability is a claim. */
            if (scen[s].fn == listen_scenario && kinds[ki] == ACC_FS_LISTEN && !reached)
                return hw_fail(msg, cap, "the implementation declares sys-fail, but its "
                               "listen made no listen call through the interposer "
                               "(acc_fs_listen)");
        }
    }
    return 0;
}
