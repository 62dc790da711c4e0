/* chan.c: what every file of a worker thread uses about a channel: how a
 * finding about it is reported (cfail, cb_chan: the first check of every
 * callback), how its implementation side is freed, and its quarantine. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h"

_Thread_local worker_t *tls_w;

static const char *const ending_name[] = {
    "open", "peer-eof", "close-when-done", "peer-fin", "driver-close",
    "driver-free",
    "peer-reset", "peer-close", "victim"};

const char *kind_name(int k)
{
    switch (k) {
    case KIND_UNIX: return "unix";
    case KIND_TCP: return "tcp";
    case KIND_CONNECT: return "tcp-connect";
    case KIND_ACCEPT: return "tcp-accept";
    case KIND_LISTENER: return "listener";
    default: return "?";
    }
}

const char *errname(int e)
{
    static _Thread_local char b[64];
    snprintf(b, sizeof b, "%s (%d)", strerror(e < 0 ? -e : e), e);
    return b;
}

_Noreturn void cfail(const chan_t *c, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    stress_violation(tls_w ? tls_w->idx : -1,
                     "channel %llu.%llu (%s, %s): %s",
                     (unsigned long long)(c->uid >> 48),
                     (unsigned long long)(c->uid & 0xffffffffffffULL),
                     kind_name(c->kind), ending_name[c->ending], msg);
}

/* Every callback starts here: the ctx must be a live channel of the thread
 * whose loop is running (no loop may see another map's channel). */
chan_t *cb_chan(void *ctx, const char *what)
{
    chan_t *c = ctx;
    int me = tls_w ? tls_w->idx : -1;
    if (c == NULL)
        stress_violation(me, "%s callback with a NULL ctx", what);
    if (c->magic == DEAD_MAGIC)
        stress_violation(me, "%s callback for channel %llu.%llu after the "
                         "driver freed it (a late or stale event)", what,
                         (unsigned long long)(c->uid >> 48),
                         (unsigned long long)(c->uid & 0xffffffffffffULL));
    if (c->magic != CHAN_MAGIC)
        stress_violation(me, "%s callback with a ctx that is no channel (%p)",
                         what, ctx);
    if (c->w != tls_w)
        stress_violation(me, "thread %d's loop delivered %s for channel "
                         "%llu.%llu, which thread %llu owns (an event for a "
                         "channel of another map)", me, what,
                         (unsigned long long)(c->uid >> 48),
                         (unsigned long long)(c->uid & 0xffffffffffffULL),
                         (unsigned long long)(c->uid >> 48));
    c->w->ops++;
    c->w->activity = 1;
    return c;
}

void chan_free_impl(chan_t *c)
{
    if (c->ch) {
        void *h = c->ch;
        c->ch = NULL;
        c->impl_open = 0;
        IMPL->free(h);
        c->w->ops++;
    }
}

/* A reaped context stays allocated for the next QUAR reaps, so a late event
 * for it is reported by cb_chan instead of reading freed memory. */
void chan_quarantine(worker_t *w, chan_t *c)
{
    c->magic = DEAD_MAGIC;
    free(w->quar[w->qpos]);
    w->quar[w->qpos] = c;
    w->qpos = (w->qpos + 1) % QUAR;
}

/* Resource exhaustion is the machine's fault, not the implementation's. */
int machine_fault(int rc)
{
    return rc == -ENOMEM || rc == -EMFILE || rc == -ENFILE || rc == -EADDRINUSE;
}

void adopt_failed(chan_t *c, int rc, const char *what)
{
    if (machine_fault(rc))
        stress_harness("%s: %s", what, errname(rc));
    /* -EEXIST here means the map still holds a closed channel's fd. */
    cfail(c, "%s failed: %s", what, errname(rc));
}
