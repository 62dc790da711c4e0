/* impl_drive.c: the socket side of the adapter-driven harnesses (see
 * impl_drive.h).  Nothing here knows which implementation it drives: the
 * backend comes from the adapter's list or $FUZZ_BACKEND. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "impl_drive.h"

/* A pass that consumes nothing may happen (a read split in two); this
 * many passes without the implementation reading its socket dry is a
 * stall, not patience. */
#define DRIVE_MAX_PASSES 10000

const acc_impl_t *drive_impl(void)
{
    /* Our own copy of the table: an older adapter's is shorter (ABI 1). */
    static acc_impl_t table;
    const acc_impl_t *raw = acc_get_impl();
    FUZZ_CHECK(raw != NULL, "the adapter returned no implementation");
    FUZZ_CHECK(acc_impl_adopt(&table, raw) == 0,
               "the adapter's ABI is %d, this harness speaks 1 to %d",
               raw->abi_version, ACC_ABI_VERSION);
    const acc_impl_t *im = &table;
    FUZZ_CHECK(im->backends && im->backends[0], "the adapter names no "
               "backend");
    return im;
}

static const char *pick_backend(const acc_impl_t *im)
{
    const char *want = getenv("FUZZ_BACKEND");
    if (want == NULL || *want == '\0')
        return im->backends[0];
    for (int i = 0; im->backends[i]; i++)
        if (strcmp(im->backends[i], want) == 0)
            return im->backends[i];
    FUZZ_FAIL("FUZZ_BACKEND=%s is not a backend of %s", want, im->name);
}

int drive_open(drive_t *d, const acc_events_t *ev, void *ctx, int *err)
{
    int sv[2];
    memset(d, 0, sizeof(*d));
    d->im = drive_impl();
    d->backend = pick_backend(d->im);
    d->peer = -1;
    int rc = d->im->map_new(&d->map);
    FUZZ_CHECK(rc == 0, "map_new: %d", rc);
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0,
               "socketpair: %s", strerror(errno));
    rc = d->im->chat_adopt(&d->ch, d->map, sv[0], ev, ctx);
    if (rc < 0) {
        close(sv[0]); /* not the implementation's: it refused */
        close(sv[1]);
        d->im->map_free(d->map);
        d->ch = d->map = NULL;
        *err = rc;
        return -1;
    }
    d->peer = sv[1];
    return 0;
}

void drive_pass(drive_t *d)
{
    int rc = d->im->poll(d->map, d->backend, 0);
    FUZZ_CHECK(rc >= 0, "a pass failed: %d (%s)", rc, strerror(-rc));
}

static int unread(drive_t *d)
{
    int fd = d->im->fd(d->ch), n = 0;
    if (fd < 0 || ioctl(fd, FIONREAD, &n) < 0)
        return 0; /* closed: nothing more will be read */
    return n;
}

void drive_send(drive_t *d, const void *p, size_t n)
{
    const char *b = p;
    int passes = 0;
    while (n > 0) {
        ssize_t k = send(d->peer, b, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k < 0) {
            FUZZ_CHECK(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR,
                       "peer send: %s (the implementation closed?)",
                       strerror(errno));
            k = 0;
        }
        b += k;
        n -= (size_t)k;
        if (n > 0) { /* the socket is full: let the implementation read */
            drive_pass(d);
            FUZZ_CHECK(++passes < DRIVE_MAX_PASSES, "the implementation "
                       "stopped reading with %zu bytes still to send", n);
        }
    }
    do {
        drive_pass(d);
        FUZZ_CHECK(++passes < DRIVE_MAX_PASSES, "the implementation left "
                   "%d bytes unread after %d passes", unread(d), passes);
    } while (unread(d) > 0);
}

void drive_close(drive_t *d)
{
    if (d->ch)
        d->im->free(d->ch);
    if (d->map)
        d->im->map_free(d->map);
    if (d->peer >= 0)
        close(d->peer);
    d->ch = d->map = NULL;
    d->peer = -1;
}
