/* failalloc.c: allocation failures on demand.  An implementation whose
 * malloc, calloc and realloc calls are renamed to acc_fa_* (the reference's
 * impl.mk does it with objcopy) and that declares ACC_CAP_ALLOC_FAIL lets
 * the suite fail one chosen allocation, to check E3 (ENOMEM) and E6.
 * Per thread: only the thread that armed it sees the failure. */
#include <errno.h>
#include <stdlib.h>

#include "runner.h"

static _Thread_local long countdown = -1; /* allocations before the failing one */
static _Thread_local long seen;

void acc_fa_arm(long n)
{
    countdown = n;
    seen = 0;
}

long acc_fa_seen(void)
{
    return seen;
}

static int fail_now(void)
{
    seen++;
    if (countdown < 0 || countdown-- > 0)
        return 0;
    errno = ENOMEM;
    return 1; /* countdown is now -1: only this one fails */
}

void *acc_fa_malloc(size_t n)
{
    return fail_now() ? NULL : malloc(n);
}

void *acc_fa_calloc(size_t k, size_t n)
{
    return fail_now() ? NULL : calloc(k, n);
}

void *acc_fa_realloc(void *p, size_t n)
{
    return fail_now() ? NULL : realloc(p, n);
}
