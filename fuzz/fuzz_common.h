/* fuzz_common.h: what every achat fuzz harness shares: the libFuzzer entry
 * point's prototype, a failure macro that names the broken rule, and a
 * bounds-checked reader that turns fuzzer bytes into decisions. */
#ifndef ACHAT_FUZZ_COMMON_H
#define ACHAT_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant or an oracle mismatch.  abort() is what libFuzzer and
 * AFL++ report as a crash, and what makes the standalone replay fail; the
 * message is the only I/O a harness ever does. */
#define FUZZ_FAIL(...)                                                      \
    do {                                                                    \
        fprintf(stderr, "fuzz: %s:%d: ", __FILE__, __LINE__);               \
        fprintf(stderr, __VA_ARGS__);                                       \
        fputc('\n', stderr);                                                \
        abort();                                                            \
    } while (0)

#define FUZZ_CHECK(cond, ...)                                               \
    do {                                                                    \
        if (!(cond))                                                        \
            FUZZ_FAIL("check failed: " #cond ": " __VA_ARGS__);             \
    } while (0)

/* The input as a stream of decisions.  Reading past the end yields zeros,
 * so every prefix of an input is a valid input too (the fuzzer's mutations
 * and minimisation never produce a "malformed" program). */
typedef struct {
    const uint8_t *p;
    size_t n, off;
} fuzz_in_t;

static inline uint8_t fuzz_u8(fuzz_in_t *in)
{
    return in->off < in->n ? in->p[in->off++] : 0;
}

static inline size_t fuzz_left(const fuzz_in_t *in)
{
    return in->n - in->off;
}

/* Up to want bytes taken from the input; *got says how many there were. */
static inline const uint8_t *fuzz_bytes(fuzz_in_t *in, size_t want,
                                        size_t *got)
{
    size_t k = want < fuzz_left(in) ? want : fuzz_left(in);
    const uint8_t *p = in->p + in->off;
    in->off += k;
    *got = k;
    return p;
}

#endif /* ACHAT_FUZZ_COMMON_H */
