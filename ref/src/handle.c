/* handle.c: the life of a dispatcher handle: close (final, idempotent),
 * deferred free, and the accessors.  Creation and what the loop asks of a
 * dispatcher live in dispatcher.c, socket operations in socket.c. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "handle.h"
#include "interest.h"

int ac_disp_close(ac_disp_t *d)
{
    if (d == NULL)
        return -EINVAL;
    if (d->state == AC__CLOSED)
        return -EBADF;
    if (d->state == AC__OPEN) {
        ac__interest_unregister(d->io.map, &d->io);
        if (!d->io.fd_lost)
            close(d->io.fd); /* EBADF/ENOTCONN change nothing: it is closed */
        if (d->spare_fd >= 0)
            close(d->spare_fd);
    }
    d->io.fd = d->spare_fd = -1;
    d->state = AC__CLOSED;
    d->connected = d->connecting = d->accepting = 0;
    if (d->kind && d->kind->closed)
        d->kind->closed(d);
    return 0;
}

/* Frees the memory of a handle nobody can reach any more. */
void ac__disp_release(ac_disp_t *d)
{
    if (d->kind)
        d->kind->release(d); /* frees d too: it is embedded */
    else
        free(d);
}

/* A handle freed while callbacks run above it on the stack (or while its
 * map is in a pass) must outlive them: the free is deferred until then. */
void ac_disp_free(ac_disp_t *d)
{
    if (d == NULL || d->freed)
        return;
    ac_disp_close(d);
    d->freed = 1;
    ac_map_t *map = d->io.map;
    if (map)
        ac__map_unbind(map, &d->io);
    if (map && map->in_pass) {
        d->buried = 1;
        ac__map_bury(map, &d->io);
    } else if (d->busy == 0) {
        ac__disp_release(d);
    }
}

void ac__disp_enter(ac_disp_t *d)
{
    d->busy++;
}

void ac__disp_leave(ac_disp_t *d)
{
    if (--d->busy == 0 && d->freed && !d->buried)
        ac__disp_release(d);
}

int ac_disp_fd(const ac_disp_t *d)
{
    return ac__disp_open(d) ? d->io.fd : -1;
}

ac_map_t *ac_disp_map(const ac_disp_t *d)
{
    return d ? d->io.map : NULL;
}

void *ac_disp_data(const ac_disp_t *d)
{
    return d ? d->ud : NULL;
}

int ac_disp_connected(const ac_disp_t *d)
{
    return d ? d->connected : 0;
}

int ac_disp_connecting(const ac_disp_t *d)
{
    return d ? d->connecting : 0;
}

int ac_disp_accepting(const ac_disp_t *d)
{
    return d ? d->accepting : 0;
}

int ac_disp_closed(const ac_disp_t *d)
{
    return d == NULL || d->state == AC__CLOSED;
}
