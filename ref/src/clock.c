/* clock.c: monotonic milliseconds, so EINTR retries wait only the time that
 * is left (CQ27) and a wall-clock jump never stretches or cuts a pass. */
#include <time.h>

#include "achat.h"
#include "clock.h"

int64_t ac__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ac__remaining_ms(int timeout_ms, int64_t deadline_ms)
{
    if (timeout_ms == AC_INFINITE)
        return AC_INFINITE;
    int64_t left = deadline_ms - ac__now_ms();
    return left > 0 ? (int)left : 0;
}
