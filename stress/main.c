/* main.c: achat-stress's command line and the run's lifetime (threads, the
 * progress line, the watchdog, the fd-leak check, the summary line).  How a
 * run ends early is run.c's. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "run.h"
#include "worker.h"
#include "annot.h"


static void usage(FILE *f)
{
    fprintf(f,
"usage: achat-stress [options]\n"
"Stresses an achat implementation (reached only through the conformance\n"
"suite's adapter) from many threads, each with its own map and loop, and\n"
"checks that every byte arrives exactly once, in order and framed as sent.\n"
"\n"
"  --threads N      worker threads, each with its own map (default 4)\n"
"  --channels N     channel slots per thread (default 16)\n"
"  --seconds S      run for S seconds (default 5)\n"
"  --iterations N   instead: open N channels per thread, then drain\n"
"  --seed X         seed of all traffic (default: from the clock; printed)\n"
"  --backend NAME   loop backend of the implementation (default: its first)\n"
"  --mode M         clean (default), or a canary that breaks ownership on\n"
"                   purpose and must be caught: shared-map (every thread\n"
"                   loops one map, no lock), cross-push (threads push into\n"
"                   another thread's channel while its loop sends)\n"
"  --kinds LIST     channel kinds: unix,tcp,connect,accept (default all)\n"
"  --grace S        seconds a channel may take to close (default 30)\n"
"  --quiet          no progress line on stderr\n"
"  --prime-default-map  call map_default once before the threads start;\n"
"                   refused unless the implementation declares\n"
"                   ACC_CAP_DEFAULT_MAP_ONCE (it would hide a real\n"
"                   first-call race from the detectors)\n"
"  --list-backends  print the implementation's backends, one a line, and\n"
"                   exit (scripts/stress.py stresses all of them)\n"
"  --list-allowances  print the allowances the implementation declares\n"
"                   (prime-default-map), one a line, and exit\n"
"  --version, --help\n"
"\n"
"A progress line goes to stderr every second (ops/s, bytes/s, channels\n"
"alive) and one summary line to stdout at the end.  A seed fixes the\n"
"traffic each thread generates; thread interleaving is up to the OS, so a\n"
"rerun with the printed command repeats the workload, not the timing.\n"
"\n"
"Exit: 0 clean, 1 integrity violation (message, seed and a command to\n"
"reproduce it on stderr), 2 usage, 99 harness error.  Sanitizers and\n"
"valgrind add their own codes (see scripts/stress.py).\n");
}


/* What fd names (/proc/self/fd/N's link), "?" if it is closed. */
static void fd_target(int fd, char *b, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, b, cap - 1);
    if (n <= 0)
        snprintf(b, cap, "?");
    else
        b[n] = 0;
}

/* The links of the fds open before the run (the first few), so an fd the
 * run closed can be named by what it was. */
enum { NAMED = 64 };
static struct { int fd; char target[128]; } named[NAMED];
static int nnamed;

static const char *fd_before_target(int fd)
{
    for (int i = 0; i < nnamed; i++)
        if (named[i].fd == fd)
            return named[i].target;
    return "?";
}

/* Open fds, as a set: the fd-leak check compares before and after.  With
 * keep, also remembers what the first NAMED of them are. */
static int fd_snapshot(unsigned char *set, int cap, int keep)
{
    memset(set, 0, (size_t)cap);
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    int self = dirfd(d), n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        int fd = atoi(e->d_name);
        if (fd == self)
            continue;
        n++;
        if (fd >= 0 && fd < cap)
            set[fd] = 1;
        if (keep && nnamed < NAMED) {
            named[nnamed].fd = fd;
            fd_target(fd, named[nnamed].target, sizeof named[0].target);
            nnamed++;
        }
    }
    closedir(d);
    return n;
}

static int parse_kinds(const char *s, unsigned *out)
{
    static const char *const names[] = {"unix", "tcp", "connect", "accept"};
    unsigned k = 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save, *t = strtok_r(buf, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        int found = 0;
        for (int i = 0; i < 4; i++)
            if (strcmp(t, names[i]) == 0)
                k |= 1u << i, found = 1;
        if (!found && strcmp(t, "all") == 0)
            k |= KIND_ALL, found = 1;
        if (!found)
            return -1;
    }
    *out = k;
    return k ? 0 : -1;
}

static const char *kinds_str(unsigned k)
{
    static char b[64];
    static const char *const names[] = {"unix", "tcp", "connect", "accept"};
    b[0] = 0;
    for (int i = 0; i < 4; i++)
        if (k >> i & 1)
            snprintf(b + strlen(b), sizeof b - strlen(b), "%s%s",
                     b[0] ? "," : "", names[i]);
    return b;
}

static _Noreturn void bad_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("achat-stress: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (try --help)\n", stderr);
    exit(EXIT_USAGE);
}

static long parse_long(const char *s, const char *opt, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 0);
    if (errno || *end || v < lo || v > hi)
        bad_usage("%s wants an integer in [%ld, %ld], not '%s'", opt, lo, hi,
                  s);
    return v;
}

static double parse_double(const char *s, const char *opt, double lo)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !(v >= lo) || v > 1e6)
        bad_usage("%s wants a number >= %g, not '%s'", opt, lo, s);
    return v;
}

static void parse_args(int argc, char **argv)
{
    stress_opts_t *o = &g_run.o;
    o->threads = 4;
    o->channels = 16;
    o->seconds = 5;
    o->kinds = KIND_ALL;
    o->grace = 30;
    int have_seed = 0, have_secs = 0;
    enum { O_THREADS = 256, O_CHANNELS, O_SECONDS, O_ITER, O_SEED, O_BACKEND,
           O_MODE, O_KINDS, O_GRACE, O_QUIET, O_PRIME, O_LIST_BACKENDS,
           O_LIST_ALLOWANCES, O_VERSION, O_HELP };
    static const struct option lo[] = {
        {"threads", required_argument, 0, O_THREADS},
        {"channels", required_argument, 0, O_CHANNELS},
        {"seconds", required_argument, 0, O_SECONDS},
        {"iterations", required_argument, 0, O_ITER},
        {"seed", required_argument, 0, O_SEED},
        {"backend", required_argument, 0, O_BACKEND},
        {"mode", required_argument, 0, O_MODE},
        {"kinds", required_argument, 0, O_KINDS},
        {"grace", required_argument, 0, O_GRACE},
        {"quiet", no_argument, 0, O_QUIET},
        {"prime-default-map", no_argument, 0, O_PRIME},
        {"list-backends", no_argument, 0, O_LIST_BACKENDS},
        {"list-allowances", no_argument, 0, O_LIST_ALLOWANCES},
        {"version", no_argument, 0, O_VERSION},
        {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case O_THREADS: o->threads = (int)parse_long(optarg, "--threads", 1, 256); break;
        case O_CHANNELS: o->channels = (int)parse_long(optarg, "--channels", 1, 4096); break;
        case O_SECONDS: o->seconds = parse_double(optarg, "--seconds", 0.01); have_secs = 1; break;
        case O_ITER: o->iterations = parse_long(optarg, "--iterations", 1, 1L << 40); break;
        case O_SEED: {
            char *end;
            errno = 0;
            o->seed = strtoull(optarg, &end, 0);
            if (errno || *end || !*optarg)
                bad_usage("--seed wants an integer, not '%s'", optarg);
            have_seed = 1;
            break;
        }
        case O_BACKEND: o->backend = optarg; break;
        case O_MODE: {
            int m = -1;
            for (int i = 0; i < 3; i++)
                if (strcmp(optarg, stress_mode_names[i]) == 0)
                    m = i;
            if (m < 0)
                bad_usage("--mode is clean, shared-map or cross-push, not "
                          "'%s'", optarg);
            o->mode = (enum stress_mode)m;
            break;
        }
        case O_KINDS:
            if (parse_kinds(optarg, &o->kinds) < 0)
                bad_usage("--kinds is a list of unix,tcp,connect,accept, not "
                          "'%s'", optarg);
            break;
        case O_GRACE: o->grace = parse_double(optarg, "--grace", 0.1); break;
        case O_QUIET: o->quiet = 1; break;
        case O_PRIME: o->prime_default_map = 1; break;
        case O_LIST_BACKENDS: {
            const acc_impl_t *im = acc_get_impl();
            if (im == NULL || im->backends == NULL)
                stress_harness("the adapter names no backend");
            for (int i = 0; im->backends[i]; i++)
                printf("%s\n", im->backends[i]);
            exit(EXIT_CLEAN);
        }
        case O_LIST_ALLOWANCES: {
            /* Declared by the implementation, never inferred from its
             * name: scripts/stress.py applies exactly these. */
            const acc_impl_t *im = acc_get_impl();
            if (im != NULL && (im->caps & ACC_CAP_DEFAULT_MAP_ONCE))
                printf("prime-default-map\n");
            exit(EXIT_CLEAN);
        }
        case O_VERSION:
            printf("achat-stress 0.1 (adapter ABI %d)\n", ACC_ABI_VERSION);
            exit(EXIT_CLEAN);
        case 'h':
        case O_HELP: usage(stdout); exit(EXIT_CLEAN);
        default:
            bad_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        bad_usage("unexpected argument '%s'", argv[optind]);
    if (o->iterations > 0 && have_secs)
        bad_usage("--seconds and --iterations exclude each other");
    if (o->iterations > 0)
        o->seconds = 0;
    if (!have_seed)
        o->seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL ^
                  (uint64_t)getpid() << 16;
    if (o->mode == MODE_CROSS_PUSH && o->threads < 2)
        bad_usage("--mode cross-push needs --threads 2 or more");
}

static void check_impl(void)
{
    const acc_impl_t *im = g_run.impl;
    stress_opts_t *o = &g_run.o;
    if (im == NULL)
        stress_harness("the adapter's ABI is %d, this driver speaks 1 to %d",
                       g_run.raw ? g_run.raw->abi_version : -1, ACC_ABI_VERSION);
    if (!(im->caps & ACC_CAP_THREADS) && o->threads > 1 &&
        o->mode == MODE_CLEAN) {
        fprintf(stderr, "achat-stress: %s does not declare ACC_CAP_THREADS "
                "(maps usable from any one thread)\n", im->name);
        exit(EXIT_USAGE);
    }
    if (o->prime_default_map && !(im->caps & ACC_CAP_DEFAULT_MAP_ONCE)) {
        fprintf(stderr, "achat-stress: --prime-default-map: %s does not "
                "declare ACC_CAP_DEFAULT_MAP_ONCE, so a first-call race in "
                "its map_default may be real and is not hidden\n", im->name);
        exit(EXIT_USAGE);
    }
    if (im->backends == NULL || im->backends[0] == NULL)
        stress_harness("the adapter names no backend");
    if (o->backend == NULL)
        o->backend = im->backends[0];
    int ok = 0;
    for (int i = 0; im->backends[i]; i++)
        ok |= strcmp(im->backends[i], o->backend) == 0;
    if (!ok) {
        fprintf(stderr, "achat-stress: %s has no backend '%s'; it has:",
                im->name, o->backend);
        for (int i = 0; im->backends[i]; i++)
            fprintf(stderr, " %s", im->backends[i]);
        fputc('\n', stderr);
        exit(EXIT_USAGE);
    }
    /* select() cannot watch fds >= FD_SETSIZE: two per slot plus a few. */
    long fds = (long)o->threads * (o->channels * 2L + 4) + 32;
    if (strcmp(o->backend, "select") == 0 && fds > 1000) {
        fprintf(stderr, "achat-stress: %d threads x %d channels need about "
                "%ld fds, more than select can watch (1024)\n", o->threads,
                o->channels, fds);
        exit(EXIT_USAGE);
    }
}

/* Appends NAME='value' for each sanitizer option variable that is set, so
 * the printed command runs the detector as this run did.  Under valgrind
 * the tool is not known here; scripts/stress.py prints that wrapper. */
static void env_prefix(char *b, size_t cap)
{
    static const char *const vars[] = {"TSAN_OPTIONS", "ASAN_OPTIONS",
                                       "UBSAN_OPTIONS", "LSAN_OPTIONS"};
    size_t n = 0;
    b[0] = 0;
#ifdef STRESS_SANITIZED
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v == NULL || n + strlen(vars[i]) + 8 > cap)
            continue;
        n += (size_t)sprintf(b + n, "%s='", vars[i]);
        for (; *v && n + 8 < cap; v++) {
            if (*v == '\'') /* close, an escaped quote, reopen */
                n += (size_t)sprintf(b + n, "'\\''");
            else
                b[n++] = *v;
        }
        n += (size_t)sprintf(b + n, "' ");
    }
#else
    (void)vars;
    (void)cap;
    (void)n;
#endif
}

static void make_repro(const char *argv0)
{
    const stress_opts_t *o = &g_run.o;
    char len[64], env[1024];
    if (o->iterations > 0)
        snprintf(len, sizeof len, "--iterations %ld", o->iterations);
    else
        snprintf(len, sizeof len, "--seconds %g", o->seconds);
    env_prefix(env, sizeof env);
    snprintf(g_run.repro, sizeof g_run.repro,
             "%s%s --threads %d --channels %d %s --seed 0x%016llx --backend "
             "%s --mode %s --kinds %s --grace %g%s", env, argv0, o->threads,
             o->channels, len, (unsigned long long)o->seed, o->backend,
             stress_mode_names[o->mode], kinds_str(o->kinds), o->grace,
             o->prime_default_map ? " --prime-default-map" : "");
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    /* Our own copy of the table: an older adapter's is shorter (ABI 1). */
    static acc_impl_t table;
    g_run.raw = acc_get_impl();
    g_run.impl = acc_impl_adopt(&table, g_run.raw) == 0 ? &table : NULL;
    check_impl();
    make_repro(argv[0]);
    stress_opts_t *o = &g_run.o;
    const acc_impl_t *im = g_run.impl;

    signal(SIGPIPE, SIG_IGN); /* peers write with MSG_NOSIGNAL; belt and braces */
    stress_arm_crash_report();

    enum { FDCAP = 65536 };
    static unsigned char before[FDCAP], after[FDCAP];
    int nbefore = fd_snapshot(before, FDCAP, 1);
    if (nbefore < 0)
        stress_harness("cannot list /proc/self/fd");

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
     * (check_impl): elsewhere the same lazy initialisation may be a real
     * race, which this call would hide from Helgrind and DRD. */
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

    if (!o->quiet)
        fprintf(stderr, "achat-stress: impl=%s backend=%s mode=%s threads=%d "
                "channels=%d %s seed=0x%016llx\n", im->name, o->backend,
                stress_mode_names[o->mode], T, o->channels,
                o->iterations ? "iterations" : "seconds",
                (unsigned long long)o->seed);
    double t0 = stress_now();
    for (int i = 0; i < T; i++)
        if (pthread_create(&tid[i], NULL, worker_main, g_run.workers[i]) != 0)
            stress_harness("pthread_create failed");

    /* Progress, the end of the run, and the watchdog: a thread whose loop
     * makes no pass for `grace` seconds is stuck in the implementation. */
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
            /* Rates are over the timed part; the drain after it is
             * bounded by the endings, not by throughput. */
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
    double elapsed = stress_now() - t0;
    if (t_stop == 0)
        t_stop = t0 + elapsed;
    for (int i = 0; i < T; i++)
        pthread_join(tid[i], NULL);
    if (g_run.shared_map)
        im->map_free(g_run.shared_map);

    uint64_t ops = 0, bytes = 0;
    totals_t tot = {0};
    for (int i = 0; i < T; i++) {
        ops += atomic_load_explicit(&g_run.pub[i].ops, memory_order_relaxed);
        bytes += atomic_load_explicit(&g_run.pub[i].bytes,
                                      memory_order_relaxed);
        worker_totals(g_run.workers[i], &tot);
        worker_free(g_run.workers[i]);
    }
    /* The sets, not only the counts: a run that leaks one fd and closes
     * another it did not own (say the harness's stdin) keeps the count. */
    int nafter = fd_snapshot(after, FDCAP, 0);
    if (nafter != nbefore || memcmp(before, after, FDCAP) != 0) {
        char leaked[700] = "", closed[700] = "";
        int nleaked = 0, nclosed = 0;
        for (int fd = 0; fd < FDCAP; fd++) {
            if (after[fd] == before[fd])
                continue;
            char *l = after[fd] ? leaked : closed;
            size_t len = strlen(l);
            *(after[fd] ? &nleaked : &nclosed) += 1;
            if (len > 600)
                continue; /* counted, not named */
            char target[256];
            if (after[fd])
                fd_target(fd, target, sizeof target);
            else
                snprintf(target, sizeof target, "%s", fd_before_target(fd));
            snprintf(l + len, 700 - len, " %d=%s", fd, target);
        }
        stress_violation(-1, "fd leak: %d fds open before the run, %d after; "
                         "%d leaked (open now, not before):%s; %d closed "
                         "(open before, not now):%s%s", nbefore, nafter,
                         nleaked, nleaked ? leaked : " none", nclosed,
                         nclosed ? closed : " none",
                         nafter - nbefore != nleaked - nclosed
                             ? "; others above fd 65535" : "");
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
    uint64_t tcp_used = tot.tcp_tries - tot.fallbacks;
    if ((o->kinds & (KIND_TCP | KIND_CONNECT | KIND_ACCEPT)) &&
        ((tot.picked >= 32 && tcp_used == 0) ||
         (tot.tcp_tries >= 32 && tot.fallbacks * 2 > tot.tcp_tries)))
        stress_harness("loopback TCP was asked for (--kinds %s) but %llu of "
                       "%llu TCP channels fell back to socketpairs (%llu "
                       "used): the run did not stress TCP; out of local "
                       "ports?", kinds_str(o->kinds),
                       (unsigned long long)tot.fallbacks,
                       (unsigned long long)tot.tcp_tries,
                       (unsigned long long)tcp_used);
    if (o->mode == MODE_CROSS_PUSH)
        pthread_barrier_destroy(&g_run.barrier);
    printf("achat-stress: PASS impl=%s backend=%s mode=%s threads=%d "
           "channels=%d seconds=%.2f seed=0x%016llx channels_opened=%llu "
           "records=%llu ops=%llu ops/s=%.0f bytes=%llu MB/s=%.2f "
           "strays=%llu tcp_channels=%llu tcp_fallbacks=%llu fds=%d/%d\n",
           im->name, o->backend, stress_mode_names[o->mode], T, o->channels, elapsed,
           (unsigned long long)o->seed, (unsigned long long)tot.channels,
           (unsigned long long)tot.records, (unsigned long long)ops,
           (double)(ops_stop ? ops_stop : ops) / (t_stop - t0),
           (unsigned long long)bytes,
           (double)(bytes_stop ? bytes_stop : bytes) / (t_stop - t0) / 1e6,
           (unsigned long long)tot.strays, (unsigned long long)tcp_used,
           (unsigned long long)tot.fallbacks, nbefore, nafter);
    free(lastbeat);
    free(beat_at);
    free(tid);
    free(g_run.pub);
    free(g_run.workers);
    return EXIT_CLEAN;
}
