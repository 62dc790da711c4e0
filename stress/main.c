/* main.c: the run's lifetime: it starts the worker threads, prints the
 * progress line, is the watchdog that catches a stuck loop, ends the run,
 * and checks and prints its totals.  The command line is opts.c's; how a
 * run ends early is run.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>

#include "annot.h"
#include "fds.h"
#include "opts.h"
#include "run.h"
#include "worker.h"

/* When the timed part of the run ended, and its counts then: the rates are
 * over the timed part, as the drain after it is bounded by the endings,
 * not by throughput. */
typedef struct pace {
    double t0, t_stop, elapsed;
    uint64_t ops_stop, bytes_stop;
} pace_t;

/* Everything the threads share is made before the first one starts. */
static pthread_t *prepare(void)
{
    const stress_opts_t *o = &g_run.o;
    const acc_impl_t *im = g_run.impl;
    int T = o->threads;
    g_run.pub = calloc((size_t)T, sizeof(*g_run.pub));
    g_run.workers = calloc((size_t)T, sizeof(*g_run.workers));
    pthread_t *tid = calloc((size_t)T, sizeof(*tid));
    if (!g_run.pub || !g_run.workers || !tid)
        stress_harness("out of memory");
    /* The driver's own atomics: Helgrind and DRD cannot see that they are
     * atomic (see annot_hg.c). */
    annot_atomic(g_run.pub, (size_t)T * sizeof(*g_run.pub));
    annot_atomic(&g_run.stop, sizeof(g_run.stop));
    /* --prime-default-map: a false positive of the reference's, shown by
     * a clean run: its first map_default call runs a pthread_once, and
     * Helgrind does not see the happens-before of pthread_once's fast path
     * (an atomic load), so it reports the once-initialised TLS key as a
     * race between two threads' first calls.  Making the first call here,
     * before the threads start, orders it for every thread.  Only an
     * implementation that declares ACC_CAP_DEFAULT_MAP_ONCE gets it
     * (opts_check_impl): elsewhere the same lazy initialisation may be a
     * real race, which this call would hide from Helgrind and DRD. */
    if (o->prime_default_map && (im->caps & ACC_CAP_DEFAULT_MAP) &&
        im->map_default)
        (void)im->map_default();
    if (o->mode == MODE_SHARED_MAP) {
        int rc = im->map_new(&g_run.shared_map);
        if (rc < 0)
            stress_harness("map_new: %d", rc);
    }
    if (o->mode == MODE_CROSS_PUSH &&
        pthread_barrier_init(&g_run.barrier, NULL, (unsigned)T) != 0)
        stress_harness("pthread_barrier_init failed");
    for (int i = 0; i < T; i++)
        if ((g_run.workers[i] = worker_new(i)) == NULL)
            stress_harness("out of memory");
    return tid;
}

static void start_threads(pthread_t *tid, pace_t *pace)
{
    const stress_opts_t *o = &g_run.o;
    int T = o->threads;
    if (!o->quiet)
        fprintf(stderr, "achat-stress: impl=%s backend=%s mode=%s threads=%d "
                "channels=%d %s seed=0x%016llx\n", g_run.impl->name,
                o->backend,
                stress_mode_names[o->mode], T, o->channels,
                o->iterations ? "iterations" : "seconds",
                (unsigned long long)o->seed);
    pace->t0 = stress_now();
    for (int i = 0; i < T; i++)
        if (pthread_create(&tid[i], NULL, worker_main, g_run.workers[i]) != 0)
            stress_harness("pthread_create failed");
}

/* Progress, the end of the run, and the watchdog: a thread whose loop
 * makes no pass for `grace` seconds is stuck in the implementation. */
static void watch(pace_t *pace)
{
    const stress_opts_t *o = &g_run.o;
    int T = o->threads;
    double t0 = pace->t0;
    uint64_t *lastbeat = calloc((size_t)T, sizeof(uint64_t));
    double *beat_at = calloc((size_t)T, sizeof(double));
    if (!lastbeat || !beat_at)
        stress_harness("out of memory");
    for (int i = 0; i < T; i++)
        beat_at[i] = t0;
    double next_report = t0 + 1, last_t = t0, t_stop = 0;
    uint64_t ops_stop = 0, bytes_stop = 0;
    uint64_t last_ops = 0, last_bytes = 0;
    for (;;) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
        double t = stress_now();
        int alldone = 1;
        uint64_t ops = 0, bytes = 0, alive = 0, opened = 0;
        for (int i = 0; i < T; i++) {
            pubstats_t *p = &g_run.pub[i];
            ops += atomic_load_explicit(&p->ops, memory_order_relaxed);
            bytes += atomic_load_explicit(&p->bytes, memory_order_relaxed);
            alive += atomic_load_explicit(&p->alive, memory_order_relaxed);
            opened += atomic_load_explicit(&p->opened, memory_order_relaxed);
            int done = atomic_load_explicit(&p->done, memory_order_relaxed);
            alldone &= done;
            uint64_t b = atomic_load_explicit(&p->beat, memory_order_relaxed);
            if (b != lastbeat[i] || done) {
                lastbeat[i] = b;
                beat_at[i] = t;
            } else if (t - beat_at[i] > o->grace) {
                stress_violation(i, "the thread's loop made no pass for "
                                 "%.0fs (stuck inside the implementation?)",
                                 t - beat_at[i]);
            }
        }
        if (alldone)
            break;
        if (o->iterations == 0 && t - t0 >= o->seconds && t_stop == 0) {
            t_stop = t, ops_stop = ops, bytes_stop = bytes;
            atomic_store_explicit(&g_run.stop, 1, memory_order_relaxed);
        }
        if (!o->quiet && t >= next_report) {
            double dt = t - last_t;
            fprintf(stderr, "achat-stress: %6.1fs  ops/s %9.0f  MB/s %8.2f  "
                    "alive %4llu  opened %llu\n", t - t0,
                    (double)(ops - last_ops) / dt,
                    (double)(bytes - last_bytes) / dt / 1e6,
                    (unsigned long long)alive, (unsigned long long)opened);
            last_t = t, last_ops = ops, last_bytes = bytes;
            next_report += 1;
        }
    }
    pace->elapsed = stress_now() - t0;
    if (t_stop == 0)
        t_stop = t0 + pace->elapsed;
    pace->t_stop = t_stop;
    pace->ops_stop = ops_stop;
    pace->bytes_stop = bytes_stop;
    free(lastbeat);
    free(beat_at);
}

/* Joins the threads and sums what they did, freeing them. */
static void join_threads(pthread_t *tid, uint64_t *ops, uint64_t *bytes,
                         totals_t *tot)
{
    int T = g_run.o.threads;
    for (int i = 0; i < T; i++)
        pthread_join(tid[i], NULL);
    if (g_run.shared_map)
        g_run.impl->map_free(g_run.shared_map);
    for (int i = 0; i < T; i++) {
        *ops += atomic_load_explicit(&g_run.pub[i].ops, memory_order_relaxed);
        *bytes += atomic_load_explicit(&g_run.pub[i].bytes,
                                       memory_order_relaxed);
        worker_totals(g_run.workers[i], tot);
        worker_free(g_run.workers[i]);
    }
}

/* A TCP connect that runs out of loopback ports (EADDRNOTAVAIL, EAGAIN
 * under churn and TIME_WAIT) falls back to a socketpair so a blip does
 * not end the run.  But a run asked for TCP that used none, or whose
 * fallbacks are more than half of its TCP tries, stressed socketpairs
 * and would pass as if it had covered TCP: the machine, not the
 * implementation, failed it, so it is a harness error.  Half: on an
 * idle loopback there are no fallbacks at all, so more than half means
 * exhaustion, not a blip; it needs 32 TCP tries, so a short run's one
 * blip is not a majority.  "None used" needs 32 drawn kinds: with
 * every kind on, 32 unix draws in a row has odds below 1e-6. */
static uint64_t check_tcp_used(const totals_t *tot)
{
    const stress_opts_t *o = &g_run.o;
    uint64_t tcp_used = tot->tcp_tries - tot->fallbacks;
    if ((o->kinds & (KIND_TCP | KIND_CONNECT | KIND_ACCEPT)) &&
        ((tot->picked >= 32 && tcp_used == 0) ||
         (tot->tcp_tries >= 32 && tot->fallbacks * 2 > tot->tcp_tries)))
        stress_harness("loopback TCP was asked for (--kinds %s) but %llu of "
                       "%llu TCP channels fell back to socketpairs (%llu "
                       "used): the run did not stress TCP; out of local "
                       "ports?", kinds_str(o->kinds),
                       (unsigned long long)tot->fallbacks,
                       (unsigned long long)tot->tcp_tries,
                       (unsigned long long)tcp_used);
    return tcp_used;
}

int main(int argc, char **argv)
{
    opts_parse(argc, argv);
    /* Our own copy of the table: an older adapter's is shorter (ABI 1). */
    static acc_impl_t table;
    g_run.raw = acc_get_impl();
    g_run.impl = acc_impl_adopt(&table, g_run.raw) == 0 ? &table : NULL;
    opts_check_impl();
    opts_make_repro(argv[0]);
    const stress_opts_t *o = &g_run.o;
    signal(SIGPIPE, SIG_IGN); /* peers write with MSG_NOSIGNAL; belt and braces */
    stress_arm_crash_report();
    int nbefore = fds_before();

    pthread_t *tid = prepare();
    pace_t p = {0};
    start_threads(tid, &p);
    watch(&p);
    uint64_t ops = 0, bytes = 0;
    totals_t tot = {0};
    join_threads(tid, &ops, &bytes, &tot);
    int nafter = fds_after(nbefore);
    uint64_t tcp_used = check_tcp_used(&tot);
    if (o->mode == MODE_CROSS_PUSH)
        pthread_barrier_destroy(&g_run.barrier);
    double secs = p.t_stop - p.t0;
    printf("achat-stress: PASS impl=%s backend=%s mode=%s threads=%d "
           "channels=%d seconds=%.2f seed=0x%016llx channels_opened=%llu "
           "records=%llu ops=%llu ops/s=%.0f bytes=%llu MB/s=%.2f "
           "strays=%llu tcp_channels=%llu tcp_fallbacks=%llu fds=%d/%d\n",
           g_run.impl->name, o->backend, stress_mode_names[o->mode],
           o->threads, o->channels, p.elapsed, (unsigned long long)o->seed,
           (unsigned long long)tot.channels, (unsigned long long)tot.records,
           (unsigned long long)ops,
           (double)(p.ops_stop ? p.ops_stop : ops) / secs,
           (unsigned long long)bytes,
           (double)(p.bytes_stop ? p.bytes_stop : bytes) / secs / 1e6,
           (unsigned long long)tot.strays, (unsigned long long)tcp_used,
           (unsigned long long)tot.fallbacks, nbefore, nafter);
    free(tid);
    free(g_run.pub);
    free(g_run.workers);
    return EXIT_CLEAN;
}
