/* backend_epoll.c: the epoll(7) backend (Linux).  The loop still asks every
 * channel its predicates each pass; this backend only tells the kernel what
 * changed since the last pass, so idle channels cost no syscall.  A reused
 * fd number is a new registration (serial), never the old one's. */
#ifdef __linux__
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "backend.h"
#include "clock.h"

/* What the kernel has for one fd, and where it sits in this pass. */
typedef struct {
    uint64_t serial;   /* 0: not registered */
    unsigned listed;   /* its fd is in reg[] */
    unsigned events;
    size_t seen;       /* pass number in which the loop watched it */
    size_t index;      /* its entry in this pass's watch array */
} slot_t;

typedef struct {
    int ep;
    slot_t *slots;     /* by fd */
    size_t nslots;
    size_t pass;
    struct epoll_event *out;
    size_t nout;
    int *reg;          /* registered fds, to drop the ones not watched */
    size_t nreg, capreg;
} epoll_state_t;

static int epoll_init(void **state)
{
    epoll_state_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -ENOMEM;
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    if (s->ep < 0) {
        int rc = -errno;
        free(s);
        return rc;
    }
    *state = s;
    return 0;
}

static void epoll_free(void *state)
{
    epoll_state_t *s = state;
    if (s == NULL)
        return;
    close(s->ep);
    free(s->slots);
    free(s->out);
    free(s->reg);
    free(s);
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * size);
    if (q == NULL)
        return -ENOMEM;
    memset((char *)q + *cap * size, 0, (n - *cap) * size);
    *p = q;
    *cap = n;
    return 0;
}

static uint32_t to_epoll(unsigned ev)
{
    return (ev & AC__EV_IN ? EPOLLIN | EPOLLPRI : 0) |
           (ev & AC__EV_OUT ? EPOLLOUT : 0);
}

/* Brings the kernel's view of w in line: add, modify, or replace a stale
 * registration left by an earlier socket on the same fd number. */
static int sync_one(epoll_state_t *s, const struct ac_watch *w, size_t i)
{
    slot_t *sl = &s->slots[w->fd];
    struct epoll_event e = {.events = to_epoll(w->events), .data.fd = w->fd};
    sl->seen = s->pass;
    sl->index = i;
    if (sl->serial == w->serial && sl->events == w->events)
        return 0;
    int op = EPOLL_CTL_ADD;
    if (sl->serial == w->serial)
        op = EPOLL_CTL_MOD;
    else if (sl->serial != 0) /* an fd closed behind our back, reused */
        (void)epoll_ctl(s->ep, EPOLL_CTL_DEL, w->fd, NULL); /* may be gone */
    if (!sl->listed) {
        if (grow((void **)&s->reg, &s->capreg, s->nreg + 1, sizeof(int)) < 0)
            return -ENOMEM;
        s->reg[s->nreg++] = w->fd;
        sl->listed = 1;
    }
    if (epoll_ctl(s->ep, op, w->fd, &e) < 0) {
        int err = errno;
        sl->serial = 0;
        /* Not a pollable descriptor any more (closed, or its number now
         * names something epoll refuses): NVAL for this channel alone. */
        return err == EBADF || err == EINVAL || err == EPERM ? 1 : -err;
    }
    sl->serial = w->serial;
    sl->events = w->events;
    return 0;
}

/* Unregisters the fds nobody watched this pass (closed or idle channels). */
static void drop_unwatched(epoll_state_t *s)
{
    size_t k = 0;
    for (size_t i = 0; i < s->nreg; i++) {
        int fd = s->reg[i];
        slot_t *sl = &s->slots[fd];
        if (sl->serial != 0 && sl->seen == s->pass) {
            s->reg[k++] = fd;
            continue;
        }
        if (sl->serial != 0)
            (void)epoll_ctl(s->ep, EPOLL_CTL_DEL, fd, NULL);
        sl->serial = 0;
        sl->listed = 0;
    }
    s->nreg = k;
}

/* The library closes fd next: drop its registration while the number still
 * names that socket.  After close() the kernel would keep it for as long as
 * the socket is open elsewhere (a dup, a fork, a descriptor passed to
 * another process), and report its readiness under a number that may name
 * another channel by then. */
static void epoll_forget(void *state, int fd)
{
    epoll_state_t *s = state;
    if ((size_t)fd < s->nslots && s->slots[fd].serial != 0) {
        (void)epoll_ctl(s->ep, EPOLL_CTL_DEL, fd, NULL);
        s->slots[fd].serial = 0; /* drop_unwatched unlists it */
    }
}

static unsigned from_epoll(uint32_t r)
{
    return (r & EPOLLIN ? AC__EV_IN : 0) | (r & EPOLLOUT ? AC__EV_OUT : 0) |
           (r & EPOLLPRI ? AC__EV_PRI : 0) | (r & EPOLLHUP ? AC__EV_HUP : 0) |
           (r & EPOLLERR ? AC__EV_ERR : 0);
}

/* epoll silently forgets a descriptor closed behind the library's back
 * (CQ5).  A pass that waited and heard nothing is when an idle loop can
 * afford to look for such fds, so a busy loop never pays for it. */
static int find_closed(struct ac_watch *w, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (fcntl(w[i].fd, F_GETFD) < 0 && errno == EBADF) {
            w[i].revents = AC__EV_NVAL;
            bad++;
        }
    }
    return bad;
}

static int epoll_wait_pass(void *state, struct ac_watch *w, size_t n,
                           int timeout)
{
    epoll_state_t *s = state;
    s->pass++;
    size_t synced = 0; /* entries this pass left registered */
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        w[i].revents = 0;
        if ((size_t)w[i].fd >= s->nslots &&
            grow((void **)&s->slots, &s->nslots, (size_t)w[i].fd + 1,
                 sizeof(slot_t)) < 0)
            return -ENOMEM;
        int rc = sync_one(s, &w[i], i);
        if (rc < 0)
            return rc;
        if (rc > 0) {
            w[i].revents = AC__EV_NVAL; /* CQ5: one bad fd, not the loop */
            bad++;
        } else {
            synced++;
        }
    }
    /* Each entry has its own fd, so when every listed fd was synced there
     * is nothing to drop: a busy loop skips the scan. */
    if (synced != s->nreg)
        drop_unwatched(s);
    if (bad)
        return bad;
    if (grow((void **)&s->out, &s->nout, n ? n : 1, sizeof(*s->out)) < 0)
        return -ENOMEM;
    int64_t deadline = ac__now_ms() + (timeout > 0 ? timeout : 0);
    int rc;
    while ((rc = epoll_wait(s->ep, s->out, (int)(n ? n : 1),
                            ac__remaining_ms(timeout, deadline))) < 0 &&
           errno == EINTR)
        ;
    if (rc < 0)
        return -errno;
    if (rc == 0 && timeout != 0)
        return find_closed(w, n);
    for (int k = 0; k < rc; k++) {
        slot_t *sl = &s->slots[s->out[k].data.fd];
        w[sl->index].revents = from_epoll(s->out[k].events);
    }
    return rc;
}

const ac_backend_t ac_backend_epoll = {"epoll", epoll_init, epoll_free,
                                       epoll_wait_pass, epoll_forget};
#endif /* __linux__ */
