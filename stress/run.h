/* run.h: what every part of the stress driver (achat-stress) shares: the
 * options, the run-wide state every thread sees, the exit codes, and the
 * one way a run ends early (a violation, a harness error, a crash). */
#ifndef STRESS_RUN_H
#define STRESS_RUN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "acc_adapter.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define STRESS_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define STRESS_SANITIZED 1
#endif
#endif

/* Exit codes, as automake reads them: 0 clean, 1 integrity violation, 2 usage,
 * 99 harness.  Detectors use their own codes (TSan 66, ASan 86, ...). */
enum { EXIT_CLEAN = 0, EXIT_VIOLATION = 1, EXIT_USAGE = 2, EXIT_HARNESS = 99 };

/* clean: one map per thread.  The canaries break ownership on purpose. */
enum stress_mode { MODE_CLEAN, MODE_SHARED_MAP, MODE_CROSS_PUSH };

/* Kinds of channel pair a slot can hold. */
enum {
    KIND_UNIX = 1,    /* socketpair(AF_UNIX) */
    KIND_TCP = 2,     /* loopback TCP made by the driver, one end adopted */
    KIND_CONNECT = 4, /* the implementation connects (chat_connect) */
    KIND_ACCEPT = 8,  /* the implementation accepts (listen) */
    KIND_ALL = 15
};

typedef struct stress_opts {
    int threads;
    int channels;      /* slots per thread */
    double seconds;    /* run length, unless iterations > 0 */
    long iterations;   /* channels opened per thread */
    uint64_t seed;
    const char *backend;
    enum stress_mode mode;
    unsigned kinds;
    double grace;      /* seconds a channel may take to finish an ending */
    int quiet;         /* no progress lines */
    int prime_default_map; /* call map_default before the threads start */
} stress_opts_t;

/* What a worker publishes for the progress line and the watchdog.  Relaxed
 * atomics written only by their worker: they order nothing, on purpose, so
 * they add no happens-before edge that could hide a canary's race. */
typedef struct pubstats {
    _Atomic uint64_t ops, bytes, opened, alive, beat;
    _Atomic int finished; /* stopped opening channels (iterations mode) */
    _Atomic int done;     /* left its loop */
    char pad[64];
} pubstats_t;

typedef struct worker worker_t;

typedef struct run {
    stress_opts_t o;
    const acc_impl_t *impl;     /* our copy of the adapter's table, or NULL */
    const acc_impl_t *raw;      /* the table the adapter exports */
    char repro[2048];       /* one-line command that reproduces the run */
    atomic_int stop;        /* main -> workers: stop opening, drain, leave */
    void *shared_map;       /* MODE_SHARED_MAP: the one map of every thread */
    pthread_barrier_t barrier; /* MODE_CROSS_PUSH: victims published/done */
    worker_t **workers;
    pubstats_t *pub;
} run_t;

extern run_t g_run;

/* The names --mode takes, indexed by enum stress_mode. */
extern const char *const stress_mode_names[3];

/* Report and end the run.  idx is the reporting thread (-1: main). */
_Noreturn void stress_violation(int idx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
_Noreturn void stress_harness(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Makes a crash (or, in a sanitizer build, the sanitizer's report) end
 * with the seed and g_run.repro, which must be set by then. */
void stress_arm_crash_report(void);

/* Seconds on the monotonic clock. */
double stress_now(void);

#endif /* STRESS_RUN_H */
