/* rng.h: the seeded generator every choice of a worker comes from (a
 * splitmix64 step), so one seed repeats a run's traffic.  Header-only: the
 * helpers are a few instructions each and used by most of the worker. */
#ifndef STRESS_RNG_H
#define STRESS_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t s;
} rng_t;

static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rnd(rng_t *r)
{
    return mix64(r->s += 0x9e3779b97f4a7c15ULL);
}

static inline uint64_t below(rng_t *r, uint64_t n)
{
    return n ? rnd(r) % n : 0;
}

static inline int chance(rng_t *r, unsigned pct)
{
    return below(r, 100) < pct;
}

/* 1..max, mostly small: most bugs live at small sizes and boundaries, but
 * large transfers must happen too. */
static inline size_t skewed(rng_t *r, size_t max)
{
    unsigned p = (unsigned)below(r, 100);
    size_t lim = p < 40 ? 16 : p < 75 ? 512 : p < 93 ? 8192 : max;
    if (lim > max)
        lim = max;
    return 1 + (size_t)below(r, lim);
}

#endif /* STRESS_RNG_H */
