/* backend.c: the list of backends this build has, looked up by name, so
 * tools and tests can loop over all of them. */
#include <string.h>

#include "backend.h"

static const ac_backend_t *const all[] = {&ac_backend_select,
                                          &ac_backend_poll,
#ifdef __linux__
                                          &ac_backend_epoll,
#endif
                                          NULL};

const ac_backend_t *const *ac_backends(void)
{
    return all;
}

const ac_backend_t *ac_backend_by_name(const char *name)
{
    for (size_t i = 0; name && all[i]; i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}

const char *ac_backend_name(const ac_backend_t *backend)
{
    return backend ? backend->name : NULL;
}
