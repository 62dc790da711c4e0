/* backend_select.c: the select(2) backend.  It refuses descriptors that do
 * not fit an fd_set (never undefined behaviour) and turns select's EBADF
 * into per-fd NVAL reports, so a bad fd closes one channel, not the loop. */
#include <errno.h>
#include <fcntl.h>
#include <sys/select.h>

#include "backend.h"
#include "clock.h"

static int select_init(void **state)
{
    *state = NULL;
    return 0;
}

static void select_free(void *state)
{
    (void)state;
}

/* CQ5: find the descriptors select choked on and report them as NVAL. */
static int mark_invalid(struct ac_watch *w, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (fcntl(w[i].fd, F_GETFD) < 0 && errno == EBADF) {
            w[i].revents = AC__EV_NVAL;
            bad++;
        }
    }
    return bad ? bad : -EBADF;
}

static int select_wait(void *state, struct ac_watch *w, size_t n, int timeout)
{
    (void)state;
    fd_set rd, wr, ex;
    int maxfd = -1;
    for (size_t i = 0; i < n; i++) {
        if (w[i].fd >= FD_SETSIZE)
            return -ERANGE;
        if (w[i].fd > maxfd)
            maxfd = w[i].fd;
    }
    int64_t deadline = ac__now_ms() + (timeout > 0 ? timeout : 0);
    int rc;
    do {
        FD_ZERO(&rd);
        FD_ZERO(&wr);
        FD_ZERO(&ex);
        for (size_t i = 0; i < n; i++) {
            w[i].revents = 0;
            if (w[i].events & AC__EV_IN) {
                FD_SET(w[i].fd, &rd);
                FD_SET(w[i].fd, &ex);
            }
            if (w[i].events & AC__EV_OUT)
                FD_SET(w[i].fd, &wr);
        }
        int left = ac__remaining_ms(timeout, deadline);
        struct timeval tv = {left / 1000, (left % 1000) * 1000};
        rc = select(maxfd + 1, &rd, &wr, &ex, left == AC_INFINITE ? NULL : &tv);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0)
        return errno == EBADF ? mark_invalid(w, n) : -errno;
    for (size_t i = 0; i < n; i++) {
        if (FD_ISSET(w[i].fd, &rd)) w[i].revents |= AC__EV_IN;
        if (FD_ISSET(w[i].fd, &wr)) w[i].revents |= AC__EV_OUT;
        if (FD_ISSET(w[i].fd, &ex)) w[i].revents |= AC__EV_PRI;
    }
    return rc;
}

const ac_backend_t ac_backend_select = {"select", select_init, select_free,
                                        select_wait, NULL};
