/* annot_drd.c: the DRD half of the driver's annotations (see annot_hg.c for
 * why the two tools' headers live in separate files). */
#include "annot.h"

#if defined(__has_include)
#if __has_include(<valgrind/drd.h>)
#include <valgrind/drd.h>
#define HAVE_DRD_H 1
#endif
#endif

/* False positive, shown by a clean run: DRD, like Helgrind, does not model
 * C11 atomics, so the progress counters and the stop flag are reported.
 * Only the driver's own atomics are passed here. */
void annot_atomic_drd(const volatile void *p, size_t n)
{
#ifdef HAVE_DRD_H
    ANNOTATE_BENIGN_RACE_SIZED(p, n, "C11 atomic");
#else
    (void)p, (void)n;
#endif
}
