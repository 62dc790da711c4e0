/* peer.c: the peer side of a channel pair, a raw non-blocking fd that the
 * worker's own thread drives: it writes the down stream, reads and checks
 * the up stream, and sees the end of the connection. */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "down.h"
#include "peer.h"
#include "up.h"

void peer_close(chan_t *c)
{
    if (c->pfd >= 0)
        close(c->pfd);
    c->pfd = -1;
    c->peer_wr = c->peer_rd = 0;
}

void peer_read(chan_t *c)
{
    worker_t *w = c->w;
    size_t want = skewed(&c->rng, BUFSZ);
    ssize_t n = recv(c->pfd, w->buf, want, MSG_DONTWAIT);
    if (n > 0) {
        up_parse(c, w->buf, (size_t)n);
        w->bytes += (uint64_t)n;
        w->activity = 1;
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    int e = n == 0 ? 0 : errno;
    if (c->impl_open)
        cfail(c, "the peer saw %s while the channel is open (its socket was "
                 "closed without handle_close)",
              e ? errname(e) : "end of stream");
    if (c->exact_up && (e != 0 || !up_complete(c)))
        cfail(c, "clean close, but the peer got %s after %llu of %llu "
                 "pushed bytes (owner records %u of %u, cross %u of %u)",
              e ? errname(e) : "end of stream",
              (unsigned long long)c->par.rx,
              (unsigned long long)c->up_pushed, c->par.expect[0],
              c->gen.seq, c->par.expect[1], c->x_expected);
    w->activity = 1;
    peer_close(c);
}

void peer_write(chan_t *c)
{
    rec_t *r = c->whead;
    if (r == NULL)
        return;
    int stop = c->down_stop || c->down_written >= c->down_budget;
    if (stop && (c->woff == 0 || r->kind == R_NONE))
        return; /* at a record boundary (none: anywhere) */
    if (c->woff == 0 && r->next == NULL)
        gen_record(c); /* found_terminator of r needs the next framing */
    size_t enc = rec_enc(r);
    size_t want = skewed(&c->rng, 65536);
    if (want > enc - c->woff)
        want = enc - c->woff;
    ssize_t k = send(c->pfd, r->data + c->woff, want,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    if (k < 0) {
        int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR)
            return;
        if (c->impl_open)
            cfail(c, "the peer's send failed with %s while the channel is "
                     "open", errname(e));
        c->peer_wr = 0;
        return;
    }
    size_t uk = (size_t)k;
    if (c->woff < r->plen)
        c->wpay += r->plen - c->woff < uk ? r->plen - c->woff : uk;
    c->woff += uk;
    c->down_written += uk;
    c->w->bytes += uk;
    c->w->activity = 1;
    if (c->woff == enc) {
        if (r->kind != R_NONE)
            c->wrecs++;
        c->whead = r->next;
        c->woff = 0;
    }
}
