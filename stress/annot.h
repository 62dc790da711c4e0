/* annot.h: the annotations (annot_hg.c, annot_drd.c) that tell Helgrind and
 * DRD which of the driver's own memory holds C11 atomics. */
#ifndef STRESS_ANNOT_H
#define STRESS_ANNOT_H

#include <stddef.h>

/* [p, p+n) holds C11 atomics: Helgrind and DRD do not model atomics and
 * would report every access. */
void annot_atomic_hg(const volatile void *p, size_t n);
void annot_atomic_drd(const volatile void *p, size_t n);

static inline void annot_atomic(const volatile void *p, size_t n)
{
    annot_atomic_hg(p, n);
    annot_atomic_drd(p, n);
}

#endif /* STRESS_ANNOT_H */
