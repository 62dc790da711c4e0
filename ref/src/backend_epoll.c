/* backend_epoll.c: the epoll(7) backend (Linux), stateful: the map tells it
 * each change of what an fd watches and a wait reports only the ready fds,
 * so idle channels cost a pass neither a syscall nor a loop iteration.  A
 * reused fd number is a new registration (serial), never the old one's. */
#ifdef __linux__
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "backend.h"
#include "clock.h"

/* What the kernel has for one fd. */
typedef struct {
    uint64_t serial;   /* 0: not registered */
    struct ac__io *io;
    unsigned events;
    unsigned listed;   /* its fd is in reg[] */
} slot_t;

typedef struct {
    int ep;
    slot_t *slots;     /* by fd */
    size_t nslots;
    struct epoll_event *out;
    size_t nout;
    int *reg;          /* fds registered at some point, for find_closed */
    size_t nreg, capreg;
    struct ac_watch *bad; /* fds epoll refused: reported NVAL next wait */
    size_t nbad, capbad;
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
    free(s->bad);
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

static unsigned from_epoll(uint32_t r)
{
    return (r & EPOLLIN ? AC__EV_IN : 0) | (r & EPOLLOUT ? AC__EV_OUT : 0) |
           (r & EPOLLPRI ? AC__EV_PRI : 0) | (r & EPOLLHUP ? AC__EV_HUP : 0) |
           (r & EPOLLERR ? AC__EV_ERR : 0);
}

static int list_fd(epoll_state_t *s, int fd)
{
    slot_t *sl = &s->slots[fd];
    if (sl->listed)
        return 0;
    if (grow((void **)&s->reg, &s->capreg, s->nreg + 1, sizeof(int)) < 0)
        return -ENOMEM;
    s->reg[s->nreg++] = fd;
    sl->listed = 1;
    return 0;
}

/* Not a pollable descriptor any more (closed, or its number now names
 * something epoll refuses): NVAL for this channel alone (CQ5). */
static int refuse(epoll_state_t *s, int fd, uint64_t serial,
                  struct ac__io *io, unsigned events)
{
    if (grow((void **)&s->bad, &s->capbad, s->nbad + 1, sizeof(*s->bad)) < 0)
        return -ENOMEM;
    s->bad[s->nbad++] = (struct ac_watch){fd, events, AC__EV_NVAL, io, serial};
    return 1;
}

/* Brings the kernel's view of fd in line: add, modify, delete, or replace
 * a stale registration left by an earlier socket on the same number. */
static int epoll_set(void *state, int fd, uint64_t serial, struct ac__io *io,
                     unsigned events)
{
    epoll_state_t *s = state;
    if ((size_t)fd >= s->nslots &&
        grow((void **)&s->slots, &s->nslots, (size_t)fd + 1,
             sizeof(slot_t)) < 0)
        return -ENOMEM;
    slot_t *sl = &s->slots[fd];
    if (sl->serial == serial && sl->events == events)
        return 0;
    int op = sl->serial == serial ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (sl->serial != 0 && (sl->serial != serial || events == 0)) {
        (void)epoll_ctl(s->ep, EPOLL_CTL_DEL, fd, NULL); /* may be gone */
        op = EPOLL_CTL_ADD;
    }
    sl->serial = 0;
    if (events == 0)
        return 0;
    if (list_fd(s, fd) < 0)
        return -ENOMEM;
    struct epoll_event e = {.events = to_epoll(events), .data.fd = fd};
    if (epoll_ctl(s->ep, op, fd, &e) < 0) {
        int err = errno;
        if (err == EBADF || err == EINVAL || err == EPERM || err == ENOENT)
            return refuse(s, fd, serial, io, events);
        return -err;
    }
    *sl = (slot_t){serial, io, events, 1};
    return 0;
}

/* The library closes fd next: drop its registration while the number still
 * names that socket.  After close() the kernel would keep it for as long as
 * the socket is open elsewhere (a dup, a fork, a descriptor passed to
 * another process), and report its readiness under a number that may name
 * another channel by then.  For a descriptor found closed behind the
 * library's back the kernel has nothing under this number (the DEL fails
 * harmlessly), but the slot must go: find_closed would report it again,
 * with a registration pointer whose handle may be freed by then. */
static void epoll_forget(void *state, int fd)
{
    epoll_state_t *s = state;
    if ((size_t)fd < s->nslots && s->slots[fd].serial != 0) {
        (void)epoll_ctl(s->ep, EPOLL_CTL_DEL, fd, NULL);
        s->slots[fd].serial = 0;
    }
}

/* epoll silently forgets a descriptor closed behind the library's back
 * (CQ5).  A pass that waited and heard nothing is when an idle loop can
 * afford to look for such fds, so a busy loop never pays for it; the scan
 * also unlists fds no longer registered. */
static int find_closed(epoll_state_t *s, struct ac_watch *out, size_t cap)
{
    size_t n = 0, k = 0;
    for (size_t i = 0; i < s->nreg; i++) {
        int fd = s->reg[i];
        slot_t *sl = &s->slots[fd];
        if (sl->serial == 0) {
            sl->listed = 0;
            continue;
        }
        s->reg[k++] = fd;
        if (n < cap && fcntl(fd, F_GETFD) < 0 && errno == EBADF)
            out[n++] = (struct ac_watch){fd, sl->events, AC__EV_NVAL, sl->io,
                                         sl->serial};
    }
    s->nreg = k;
    return (int)n;
}

/* Refused fds first, without waiting, as a stateless pass reports them. */
static int report_bad(epoll_state_t *s, struct ac_watch *out, size_t cap)
{
    size_t n = s->nbad < cap ? s->nbad : cap;
    memcpy(out, s->bad, n * sizeof(*out));
    memmove(s->bad, s->bad + n, (s->nbad - n) * sizeof(*out));
    s->nbad -= n;
    return (int)n;
}

static int epoll_wait_ready(void *state, struct ac_watch *out, size_t cap,
                            int timeout)
{
    epoll_state_t *s = state;
    if (s->nbad)
        return report_bad(s, out, cap);
    if (cap > s->nout && grow((void **)&s->out, &s->nout, cap,
                              sizeof(*s->out)) < 0)
        return -ENOMEM;
    int64_t deadline = ac__now_ms() + (timeout > 0 ? timeout : 0);
    int rc;
    while ((rc = epoll_wait(s->ep, s->out, (int)cap,
                            ac__remaining_ms(timeout, deadline))) < 0 &&
           errno == EINTR)
        ;
    if (rc < 0)
        return -errno;
    if (rc == 0 && timeout != 0)
        return find_closed(s, out, cap);
    int n = 0;
    for (int k = 0; k < rc; k++) {
        int fd = s->out[k].data.fd;
        slot_t *sl = &s->slots[fd];
        if (sl->serial != 0)
            out[n++] = (struct ac_watch){fd, sl->events,
                                         from_epoll(s->out[k].events), sl->io,
                                         sl->serial};
    }
    return n;
}

const ac_backend_t ac_backend_epoll = {
    .name = "epoll",
    .init = epoll_init,
    .free = epoll_free,
    .forget = epoll_forget,
    .set = epoll_set,
    .wait_ready = epoll_wait_ready,
};
#endif /* __linux__ */
