/* backend_poll.c: the poll(2) backend.  It keeps one pollfd array across
 * passes and translates poll's bits to the loop's; semantics live in the
 * loop, so this file only waits. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "backend.h"
#include "clock.h"

typedef struct {
    struct pollfd *pfd;
    size_t cap;
} poll_state_t;

static int poll_init(void **state)
{
    *state = calloc(1, sizeof(poll_state_t));
    return *state ? 0 : -ENOMEM;
}

static void poll_free(void *state)
{
    poll_state_t *s = state;
    if (s)
        free(s->pfd);
    free(s);
}

static unsigned from_revents(short r)
{
    unsigned ev = 0;
    if (r & POLLIN) ev |= AC__EV_IN;
    if (r & POLLOUT) ev |= AC__EV_OUT;
    if (r & POLLPRI) ev |= AC__EV_PRI;
    if (r & POLLHUP) ev |= AC__EV_HUP;
    if (r & POLLERR) ev |= AC__EV_ERR;
    if (r & POLLNVAL) ev |= AC__EV_NVAL;
    return ev;
}

static int poll_wait(void *state, struct ac_watch *w, size_t n, int timeout)
{
    poll_state_t *s = state;
    if (n > s->cap) {
        struct pollfd *p = realloc(s->pfd, n * sizeof(*p));
        if (p == NULL)
            return -ENOMEM;
        s->pfd = p;
        s->cap = n;
    }
    for (size_t i = 0; i < n; i++) {
        short ev = 0;
        if (w[i].events & AC__EV_IN) ev |= POLLIN | POLLPRI;
        if (w[i].events & AC__EV_OUT) ev |= POLLOUT;
        s->pfd[i] = (struct pollfd){w[i].fd, ev, 0};
    }
    int64_t deadline = ac__now_ms() + (timeout > 0 ? timeout : 0);
    int rc;
    while ((rc = poll(s->pfd, n, ac__remaining_ms(timeout, deadline))) < 0 &&
           errno == EINTR)
        ;
    if (rc < 0)
        return -errno;
    for (size_t i = 0; i < n; i++)
        w[i].revents = from_revents(s->pfd[i].revents);
    return rc;
}

const ac_backend_t ac_backend_poll = {"poll", poll_init, poll_free,
                                      poll_wait, NULL};
