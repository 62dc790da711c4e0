/* clock.h: monotonic time for the waits.  Ground floor: used by the
 * backends to retry EINTR with the time that is left. */
#ifndef ACHAT_CLOCK_H
#define ACHAT_CLOCK_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t ac__now_ms(void);
/* Milliseconds left until deadline_ms (an ac__now_ms() reading), for
 * retrying EINTR; AC_INFINITE stays infinite. */
int ac__remaining_ms(int timeout_ms, int64_t deadline_ms);

#endif /* ACHAT_CLOCK_H */
