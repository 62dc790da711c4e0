/* error.c: ac_strerror, the one place that names the API's error values.
 * The library reports plain negative errno values, so this is a thin layer
 * over strerror that never touches a shared buffer (thread-safe). */
#include <errno.h>
#include <string.h>

#include "achat.h"

const char *ac_strerror(int err)
{
    if (err == 0)
        return "success";
    if (err == AC_ETOOBIG)
        return "input record exceeds the chat's input limit";
    if (err > 0)
        return "not an achat error (positive value)";
    switch (-err) {
    case EINVAL: return "invalid argument";
    case EBADF: return "channel closed or bad file descriptor";
    case EBUSY: return "not allowed from inside this map's own pass";
    case EEXIST: return "file descriptor held by another live channel";
    case EISCONN: return "channel already has a socket";
    case ERANGE: return "file descriptor too large for select (FD_SETSIZE)";
    case EPIPE: return "channel is closing (close_when_done) or peer gone";
    case ENOMEM: return "out of memory";
    case EAGAIN: return "no data ready";
    case ENOTSOCK: return "file descriptor is not a socket";
    default: break;
    }
    /* strerror may use a static buffer only for unknown values, and glibc
     * returns static strings for every known errno. */
    return strerror(-err);
}
