/* run.c: the run-wide state every thread reads, and the one place a
 * violation, a harness error or a crash ends the process, so that main.c
 * and the worker's files both depend on it and not on each other. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "run.h"

#ifdef STRESS_SANITIZED
#include <sanitizer/common_interface_defs.h>
#endif

run_t g_run;

const char *const stress_mode_names[3] = {"clean", "shared-map",
                                          "cross-push"};
static char crash_msg[2600];
static size_t crash_len;

double stress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void print_fail_line(const char *what)
{
    const stress_opts_t *o = &g_run.o;
    printf("achat-stress: FAIL %s impl=%s backend=%s mode=%s threads=%d "
           "channels=%d seed=0x%016llx\n", what,
           g_run.impl ? g_run.impl->name : "?", o->backend ? o->backend : "?",
           stress_mode_names[o->mode], o->threads, o->channels,
           (unsigned long long)o->seed);
}

static pthread_mutex_t end_lock = PTHREAD_MUTEX_INITIALIZER;
static int ended; /* under end_lock: a report is out, _exit is due */

/* The first reporter wins; a later one waits here until the process ends. */
static void end_begin(void)
{
    pthread_mutex_lock(&end_lock);
    if (ended) {
        pthread_mutex_unlock(&end_lock);
        for (;;)
            pause();
    }
}

/* Released before _exit: Helgrind and DRD report a lock held by an exiting
 * thread, which would turn the oracle's verdict into a detector's. */
static _Noreturn void end_exit(int code)
{
    ended = 1;
    pthread_mutex_unlock(&end_lock);
    _exit(code);
}

_Noreturn void stress_violation(int idx, const char *fmt, ...)
{
    end_begin();
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fflush(stderr);
    if (idx >= 0)
        fprintf(stderr, "\nachat-stress: VIOLATION on thread %d: %s\n", idx,
                msg);
    else
        fprintf(stderr, "\nachat-stress: VIOLATION: %s\n", msg);
    fprintf(stderr, "achat-stress: seed 0x%016llx; reproduce with:\n  %s\n",
            (unsigned long long)g_run.o.seed, g_run.repro);
    fflush(stderr);
    print_fail_line("violation");
    fflush(stdout);
    /* _exit: other threads are still running inside the implementation,
     * and exit() would run destructors under their feet. */
    end_exit(EXIT_VIOLATION);
}

_Noreturn void stress_harness(const char *fmt, ...)
{
    end_begin();
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nachat-stress: harness error: %s\n", msg);
    fflush(stderr);
    print_fail_line("harness");
    fflush(stdout);
    end_exit(EXIT_HARNESS);
}

#ifdef STRESS_SANITIZED
/* A sanitizer report ends the run in the sanitizer's own Die(), past any
 * handler of ours: its death callback still gives the seed and the
 * command (with the sanitizer's options) after the report. */
static void on_sanitizer_death(void)
{
    static const char head[] = "\nachat-stress: VIOLATION: the sanitizer "
                               "reported (above)\n";
    if (write(2, head, sizeof head - 1) < 0 ||
        write(2, crash_msg, crash_len) < 0)
        return;
}
#else
/* A crash is a finding too (a corrupted map or FIFO): say so with the seed
 * and the command, using only async-signal-safe calls.  Sanitizer builds
 * keep their own handlers, which report more. */
static void on_crash(int sig)
{
    char head[96];
    int n = snprintf(head, sizeof head,
                     "\nachat-stress: VIOLATION: crashed with signal %d\n",
                     sig);
    if (n > 0 && write(2, head, (size_t)n) < 0)
        _exit(EXIT_VIOLATION);
    if (write(2, crash_msg, crash_len) < 0)
        _exit(EXIT_VIOLATION);
    _exit(EXIT_VIOLATION);
}
#endif

void stress_arm_crash_report(void)
{
    crash_len = (size_t)snprintf(crash_msg, sizeof crash_msg,
                                 "achat-stress: seed 0x%016llx; reproduce "
                                 "with:\n  %s\n",
                                 (unsigned long long)g_run.o.seed,
                                 g_run.repro);
    if (crash_len >= sizeof crash_msg)
        crash_len = sizeof crash_msg - 1;
#ifdef STRESS_SANITIZED
    __sanitizer_set_death_callback(on_sanitizer_death);
#else
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_crash;
    sa.sa_flags = (int)SA_RESETHAND;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL);
    sigaction(SIGABRT, &sa, NULL);
#endif
}
