/* ending.c: how a channel ends, each ending a small state machine stepped
 * once per pass: exact ones (the peer's EOF or FIN, close_when_done) whose
 * every byte is checked, and abrupt ones (driver close or free, reset). */
#include <stdio.h>
#include <sys/socket.h>

#include "down.h"
#include "ending.h"
#include "peer.h"
#include "push.h"
#include "up.h"

void start_ending(chan_t *c, int e)
{
    c->ending = e;
    c->step = 0;
    c->deadline = c->w->now + g_run.o.grace;
}

/* A channel starts its planned ending when the run stops, or for an abrupt
 * plan at its random point, or else once both budgets are spent. */
static int ending_due(const chan_t *c)
{
    int go = c->w->stopping;
    if (c->plan >= E_DRV_CLOSE)
        go |= c->down_written + c->up_pushed >= c->abrupt_at;
    else
        go |= c->down_written >= c->down_budget &&
              c->up_pushed >= c->up_budget;
    return go;
}

/* The first step of an exact ending: no new traffic either way, and the up
 * stream completed to a record boundary. */
static void stop_traffic(chan_t *c)
{
    if (c->step == 0) {
        c->up_stop = c->down_stop = 1;
        finish_up(c);
        c->step = 1;
    }
}

/* peer-eof and peer-fin: once both streams are drained to a record
 * boundary, the peer ends, and every byte must have arrived exactly. */
static void end_by_peer(chan_t *c)
{
    stop_traffic(c);
    if (c->step == 1 && c->impl_open && down_idle(c) && up_complete(c)) {
        /* peer-fin closes outright: the channel may see a hangup with
         * input still unread, which it must deliver first (CQ3). */
        if (c->ending == E_PEER_FIN)
            peer_close(c);
        else if (c->pfd >= 0)
            shutdown(c->pfd, SHUT_WR);
        c->peer_wr = 0;
        c->close_allowed = c->expect_close = 1;
        c->exact_down = 1;
        c->exact_up = c->ending == E_PEER_EOF;
        c->step = 2;
        c->w->ops++;
    }
}

/* A victim ends once the run stops and every record of both pushers has
 * arrived; from there it closes as close-when-done does. */
static int victim_drained(chan_t *c)
{
    if (!c->w->stopping)
        return 0;
    if (c->step == 0 && c->impl_open) {
        c->up_stop = 1;
        if (!up_complete(c))
            return 0;
        c->step = 1;
    }
    return 1;
}

/* Once the down stream is delivered, close_when_done: the channel must
 * send all it has queued, then close. */
static void end_close_when_done(chan_t *c)
{
    stop_traffic(c);
    if (c->step == 1 && c->impl_open && down_idle(c) && down_delivered(c)) {
        c->peer_wr = 0;
        int rc = IMPL->close_when_done(c->ch);
        if (rc != 0)
            cfail(c, "close_when_done on an open channel: %s", errname(rc));
        c->close_allowed = c->expect_close = 1;
        c->exact_up = 1;
        c->step = 2;
        c->w->ops++;
    }
}

/* The driver closes the channel mid-stream: no handle_close may follow,
 * and a second close must fail. */
static void end_driver_close(chan_t *c)
{
    if (c->step == 0 && c->ch) {
        int rc = IMPL->close(c->ch);
        if (rc != 0)
            cfail(c, "close of an open channel returned %s", errname(rc));
        c->impl_open = 0;
        if (chance(&c->rng, 50) && (rc = IMPL->close(c->ch)) >= 0)
            cfail(c, "a second close returned %d, not an error", rc);
        c->peer_wr = 0;
        c->step = 1;
        c->w->ops++;
    }
}

/* The driver frees the channel, half the time from inside a callback. */
static void end_driver_free(chan_t *c)
{
    if (c->step == 0) {
        if (chance(&c->rng, 50))
            c->free_in_cb = 1; /* inside the next data callback */
        else
            chan_free_impl(c);
    }
    /* No data callback came in time: free it from outside. */
    if (++c->step > 64 && c->ch && c->impl_open) {
        c->free_in_cb = 0;
        chan_free_impl(c);
    }
    if (!c->ch)
        c->peer_wr = 0;
}

/* The peer goes away mid-stream (a reset on TCP, or a close): the channel
 * may then close, with a disconnect error or not. */
static void end_abruptly(chan_t *c)
{
    if (c->step == 0) {
        if (c->ending == E_PEER_RESET && c->kind != KIND_UNIX &&
            c->pfd >= 0) {
            struct linger lg = {1, 0};
            setsockopt(c->pfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        peer_close(c);
        c->close_allowed = c->expect_close = c->impl_open;
        c->step = 1;
        c->w->ops++;
    }
}

void ending_step(chan_t *c)
{
    if (c->ending == E_NONE) {
        if (!ending_due(c))
            return;
        start_ending(c, c->plan);
    }
    switch (c->ending) {
    case E_PEER_EOF:
    case E_PEER_FIN:
        end_by_peer(c);
        break;
    case E_VICTIM:
        if (victim_drained(c))
            end_close_when_done(c);
        break;
    case E_CWD:
        end_close_when_done(c);
        break;
    case E_DRV_CLOSE:
        end_driver_close(c);
        break;
    case E_DRV_FREE:
        end_driver_free(c);
        break;
    case E_PEER_RESET:
    case E_PEER_CLOSE:
        end_abruptly(c);
        break;
    default:
        break;
    }
}

int chan_finished(const chan_t *c)
{
    return !c->waiting && !c->impl_open && c->pfd < 0 &&
           (!c->expect_close || c->closes == 1) && c->victim == 0;
}

const char *chan_state(const chan_t *c)
{
    static _Thread_local char b[512];
    snprintf(b, sizeof b,
             "step %d, %s, channel %s, peer fd %s; down %llu of %llu "
             "payload bytes and %llu of %llu records delivered; up %llu of "
             "%llu bytes received; handle_close ran %d times",
             c->step, c->waiting ? "waiting for accept" : "paired",
             c->impl_open ? "open" : "closed", c->pfd >= 0 ? "open" : "closed",
             (unsigned long long)c->rpay, (unsigned long long)c->wpay,
             (unsigned long long)c->nfound, (unsigned long long)c->wrecs,
             (unsigned long long)c->par.rx, (unsigned long long)c->up_pushed,
             c->closes);
    return b;
}
