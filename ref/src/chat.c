/* chat.c: asynchat's channel: a dispatcher whose handlers are the chat's,
 * reading through the framing core and writing from the producer FIFO.  It
 * owns its framer and FIFO and embeds its dispatcher, so one free releases
 * all.  Top floor: nothing below knows a chat exists. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include "dispatcher.h"
#include "events.h"
#include "fifo.h"
#include "socket.h"

struct ac_chat {
    ac_disp_t disp;         /* the dispatcher it is */
    ac_chat_ops_t ops;
    void *ud;
    ac_framer_t *framer;
    ac__fifo_t fifo;
    size_t in_size, out_size;
    int closing;            /* close_when_done queued */
};

static ac_chat_t *chat_of(ac_disp_t *d)
{
    return (ac_chat_t *)((char *)d - offsetof(ac_chat_t, disp));
}

static void on_collect(void *ud, const void *data, size_t len)
{
    ac_chat_t *c = ud;
    if (c->ops.collect_incoming_data)
        c->ops.collect_incoming_data(c, data, len, c->ud);
}

static void on_found(void *ud)
{
    ac_chat_t *c = ud;
    if (c->ops.found_terminator)
        c->ops.found_terminator(c, c->ud);
}

static int chat_readable(ac_disp_t *d, void *ud)
{
    (void)ud;
    ac_chat_t *c = chat_of(d);
    return c->ops.readable ? c->ops.readable(c, c->ud) != 0 : 1;
}

/* P11: while connecting, output readiness is how completion shows; once
 * connected, only queued output asks for it.  A socket adopted without a
 * peer is neither, and asking for output there would busy-wait (P10). */
static int chat_writable(ac_disp_t *d, void *ud)
{
    (void)ud;
    if (d->connecting)
        return 1;
    return d->connected && !ac__fifo_empty(&chat_of(d)->fifo);
}

/* One recv per read event (asynchat's), framed at once; replies pushed
 * while framing go out before the pass moves on. */
static void chat_read(ac_disp_t *d, void *ud)
{
    (void)ud;
    ac_chat_t *c = chat_of(d);
    unsigned char *buf = ac__map_rbuf(d->io.map, c->in_size);
    if (buf == NULL) {
        ac__error_event(d, -ENOMEM);
        return;
    }
    ssize_t n = ac_disp_recv(d, buf, c->in_size);
    if (n == -EAGAIN || n == 0)
        return; /* no data (CQ9), or closed by recv */
    if (n < 0) {
        ac__error_event(d, (int)n);
        return;
    }
    int rc = ac_framer_feed(c->framer, buf, (size_t)n);
    if (rc < 0) {
        ac_framer_discard(c->framer);
        ac__error_event(d, rc);
        return;
    }
    if (ac__disp_open(d) && d->connected && !ac__fifo_empty(&c->fifo))
        ac_chat_initiate_send(c);
}

static void chat_write(ac_disp_t *d, void *ud)
{
    (void)ud;
    ac_chat_initiate_send(chat_of(d));
}

static void chat_connect(ac_disp_t *d, void *ud)
{
    (void)ud;
    ac_chat_t *c = chat_of(d);
    if (c->ops.handle_connect)
        c->ops.handle_connect(c, c->ud);
}

static void chat_close(ac_disp_t *d, void *ud)
{
    (void)ud;
    ac_chat_t *c = chat_of(d);
    if (c->ops.handle_close)
        c->ops.handle_close(c, c->ud);
}

static void chat_error(ac_disp_t *d, int err, void *ud)
{
    (void)ud;
    ac_chat_t *c = chat_of(d);
    if (c->ops.handle_error)
        c->ops.handle_error(c, err, c->ud);
    else
        ac__close_event(d);
}

static const ac_ops_t chat_disp_ops = {
    .readable = chat_readable,
    .writable = chat_writable,
    .handle_read = chat_read,
    .handle_write = chat_write,
    .handle_connect = chat_connect,
    .handle_close = chat_close,
    .handle_error = chat_error,
};

/* Close is final for a chat too: held input goes (CQ11: framing stops) and
 * queued output goes, releasing producers now rather than at free. */
static void chat_closed(ac_disp_t *d)
{
    ac_chat_t *c = chat_of(d);
    ac_framer_discard(c->framer);
    ac__fifo_discard(&c->fifo);
}

static void chat_release(ac_disp_t *d)
{
    ac_chat_t *c = chat_of(d);
    ac__fifo_discard(&c->fifo);
    ac_framer_free(c->framer);
    free(c);
}

static const ac__disp_kind_t chat_kind = {chat_closed, chat_release};

int ac_chat_new(ac_chat_t **out, ac_map_t *map, const ac_chat_ops_t *ops,
                void *ud)
{
    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    map = ac__map_resolve(map);
    if (map == NULL)
        return -ENOMEM;
    ac_chat_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    ac_framer_cbs_t cbs = {on_collect, on_found};
    if (ac_framer_new(&c->framer, &cbs, c) < 0) {
        free(c);
        return -ENOMEM;
    }
    if (ops)
        c->ops = *ops;
    c->ud = ud;
    c->in_size = AC_DEFAULT_IN_BUFFER;
    c->out_size = AC_DEFAULT_OUT_BUFFER;
    ac__fifo_init(&c->fifo);
    /* The chat's writable is its own; readable is the user's if given. */
    ac__disp_init(&c->disp, map, &chat_disp_ops, c, &chat_kind,
                  c->ops.readable != NULL);
    *out = c;
    return 0;
}

void ac_chat_free(ac_chat_t *c)
{
    if (c)
        ac_disp_free(&c->disp);
}

ac_disp_t *ac_chat_disp(ac_chat_t *c)
{
    return c ? &c->disp : NULL;
}

ac_chat_t *ac_disp_chat(ac_disp_t *d)
{
    return d && d->kind == &chat_kind ? chat_of(d) : NULL;
}

void *ac_chat_data(const ac_chat_t *c)
{
    return c ? c->ud : NULL;
}

int ac_chat_set_terminator(ac_chat_t *c, const void *term, size_t len)
{
    return c ? ac_framer_set_terminator(c->framer, term, len) : -EINVAL;
}

int ac_chat_set_count(ac_chat_t *c, uint64_t count)
{
    return c ? ac_framer_set_count(c->framer, count) : -EINVAL;
}

int ac_chat_set_none(ac_chat_t *c)
{
    return c ? ac_framer_set_none(c->framer) : -EINVAL;
}

ac_term_kind_t ac_chat_terminator(const ac_chat_t *c, const void **bytes,
                                  size_t *len, uint64_t *count)
{
    return ac_framer_terminator(c ? c->framer : NULL, bytes, len, count);
}

int ac_chat_set_input_limit(ac_chat_t *c, size_t max_record)
{
    return c ? ac_framer_set_limit(c->framer, max_record) : -EINVAL;
}

int ac_chat_set_buffer_sizes(ac_chat_t *c, size_t in_size, size_t out_size)
{
    if (c == NULL || in_size == 0 || out_size == 0)
        return -EINVAL;
    c->in_size = in_size;
    c->out_size = out_size;
    return 0;
}

/* Pushes are refused, never silently dropped, once the channel is closed
 * (-EBADF) or closing (-EPIPE). */
static int push_allowed(const ac_chat_t *c)
{
    if (c == NULL)
        return -EINVAL;
    if (c->disp.state == AC__CLOSED)
        return -EBADF;
    return c->closing ? -EPIPE : 0;
}

/* What was queued or dropped changes what the chat watches (P10/P11). */
static int queue_changed(ac_chat_t *c, int rc)
{
    ac__disp_refresh(&c->disp);
    return rc;
}

int ac_chat_push(ac_chat_t *c, const void *data, size_t len)
{
    int rc = push_allowed(c);
    if (rc < 0)
        return rc;
    if (data == NULL && len > 0)
        return -EINVAL;
    return queue_changed(c, ac__fifo_push(&c->fifo, data, len));
}

int ac_chat_push_producer(ac_chat_t *c, const ac_producer_t *p, void *ud)
{
    if (p == NULL || p->more == NULL)
        return -EINVAL;
    int rc = push_allowed(c);
    if (rc < 0) {
        if (p->release)
            p->release(ud);
        return rc;
    }
    return queue_changed(c, ac__fifo_push_producer(&c->fifo, p, ud));
}

int ac_chat_close_when_done(ac_chat_t *c)
{
    int rc = push_allowed(c);
    if (rc < 0)
        return rc;
    rc = ac__fifo_push_close(&c->fifo);
    if (rc == 0)
        c->closing = 1;
    return queue_changed(c, rc);
}

int ac_chat_discard_buffers(ac_chat_t *c)
{
    if (c == NULL)
        return -EINVAL;
    ac_framer_discard(c->framer);
    ac__fifo_discard(&c->fifo);
    c->closing = 0;
    return queue_changed(c, 0);
}

size_t ac_chat_pending(const ac_chat_t *c)
{
    return c ? c->fifo.bytes : 0;
}

/* One send of as much of the queue as fits out_size; the close marker at
 * the head closes the channel, right after the bytes before it left. */
static int send_once(ac_chat_t *c)
{
    ac_disp_t *d = &c->disp;
    struct iovec iov[AC__IOV_MAX];
    int n = ac__fifo_gather(&c->fifo, iov, AC__IOV_MAX, c->out_size);
    if (n < 0) {
        ac__error_event(d, n);
        return n;
    }
    if (n > 0) {
        ssize_t sent = ac__disp_sendv(d, iov, n);
        if (sent < 0) {
            if (ac__disp_open(d))
                ac__error_event(d, (int)sent);
            return (int)sent;
        }
        ac__fifo_consume(&c->fifo, (size_t)sent);
    }
    if (ac__disp_open(d) && ac__fifo_take_close(&c->fifo))
        ac__close_event(d);
    return 0;
}

int ac_chat_initiate_send(ac_chat_t *c)
{
    if (c == NULL)
        return -EINVAL;
    ac_disp_t *d = &c->disp;
    if (!ac__disp_open(d))
        return -EBADF;
    if (!d->connected)
        return 0; /* P5: queued until the connection exists */
    ac__disp_enter(d);
    int rc = queue_changed(c, send_once(c));
    ac__disp_leave(d); /* may free c: nothing after it touches c */
    return rc;
}
