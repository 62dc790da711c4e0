/* annot_hg.c: the Helgrind half of the driver's annotations.  Helgrind and
 * DRD define the same ANNOTATE_* macro names differently, so each tool's
 * header gets its own file.  A client request is a few no-op instructions
 * outside valgrind, so the plain build carries it at no cost. */
#include "annot.h"

#if defined(__has_include)
#if __has_include(<valgrind/helgrind.h>)
#include <valgrind/helgrind.h>
#define HAVE_HELGRIND_H 1
#endif
#endif

/* False positive, shown by a clean run: Helgrind does not observe atomic
 * instructions as synchronisation, so every relaxed load of a worker's progress
 * counters by the main thread is reported as a race.  Only the driver's own
 * atomics are passed here, never memory of the implementation. */
void annot_atomic_hg(const volatile void *p, size_t n)
{
#ifdef HAVE_HELGRIND_H
    VALGRIND_HG_DISABLE_CHECKING(p, n);
#else
    (void)p, (void)n;
#endif
}
