/* dispatcher.c: a dispatcher as its map serves it: the constructor, and the
 * class through which a pass asks the predicates and delivers readiness in
 * asyncore's order (read, write, urgent, then hangup/error). */
#include <errno.h>
#include <stdlib.h>

#include "dispatcher.h"
#include "events.h"
#include "interest.h"

static int want(int (*pred)(ac_disp_t *, void *), ac_disp_t *d)
{
    return pred ? pred(d, d->ud) != 0 : 1;
}

/* readable() and writable(): asked once a pass when they are the user's,
 * else on each change of state.  A listening channel is never watched for
 * output (asyncore's rule). */
static unsigned disp_interest(ac__io_t *io)
{
    ac_disp_t *d = ac__disp_of(io);
    unsigned ev = 0;
    if (want(d->ops.readable, d))
        ev |= AC__EV_IN;
    if (ac__disp_open(d) && !d->accepting && want(d->ops.writable, d))
        ev |= AC__EV_OUT;
    return ac__disp_open(d) ? ev : 0;
}

static int stopped(ac_disp_t *d)
{
    return !ac__disp_open(d) || d->io.map->exit_requested;
}

/* Read, write, urgent, close, stopping as soon as the channel closed
 * (CQ2).  With input readiness the read path drains the data and recv()==0
 * closes (CQ3), so hangup and error flags close only a channel that asked
 * for input and got no input step.  A channel that only writes learns of a
 * hangup from its next send, exactly as on select, which has no hangup
 * report: the backends stay equivalent (L4). */
static void deliver(ac_disp_t *d, unsigned asked, unsigned ev)
{
    if (ev & AC__EV_IN) {
        ac__read_event(d);
        if (stopped(d))
            return;
    }
    if (ev & AC__EV_OUT) {
        ac__write_event(d);
        if (stopped(d))
            return;
    }
    if (ev & AC__EV_PRI) {
        ac__expt_event(d);
        if (stopped(d))
            return;
    }
    if (ev & AC__EV_NVAL) {
        d->io.fd_lost = 1; /* its number may name another file by now */
        ac__close_event(d);
    } else if ((ev & (AC__EV_ERR | AC__EV_HUP)) && (asked & AC__EV_IN) &&
               !(ev & AC__EV_IN)) {
        ac__close_event(d);
    }
}

/* What a handler did to its own channel shows in what it watches next. */
static void disp_ready(ac__io_t *io, unsigned asked, unsigned ev)
{
    ac_disp_t *d = ac__disp_of(io);
    deliver(d, asked, ev);
    ac__disp_refresh(d);
}

void ac__disp_refresh(ac_disp_t *d)
{
    if (ac__disp_open(d) && !d->io.asks)
        ac__interest_set(d->io.map, &d->io, disp_interest(&d->io));
}

static int disp_close(ac__io_t *io)
{
    return ac_disp_close(ac__disp_of(io));
}

static void disp_release(ac__io_t *io)
{
    ac__disp_release(ac__disp_of(io));
}

static const ac__io_class_t disp_class = {
    .interest = disp_interest,
    .ready = disp_ready,
    .close = disp_close,
    .release = disp_release,
};

void ac__disp_init(ac_disp_t *d, ac_map_t *map, const ac_ops_t *ops,
                   void *ud, const ac__disp_kind_t *kind, int asks)
{
    d->io.asks = asks != 0;
    if (ops)
        d->ops = *ops;
    d->ud = ud;
    d->kind = kind;
    d->io.cls = &disp_class;
    d->io.fd = -1;
    d->spare_fd = -1;
    d->state = AC__NEW;
    ac__map_bind(map, &d->io);
}

int ac_disp_new(ac_disp_t **out, ac_map_t *map, const ac_ops_t *ops,
                void *ud)
{
    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    map = ac__map_resolve(map);
    if (map == NULL)
        return -ENOMEM;
    ac_disp_t *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return -ENOMEM;
    ac__disp_init(d, map, ops, ud, NULL,
                  ops && (ops->readable || ops->writable));
    *out = d;
    return 0;
}
