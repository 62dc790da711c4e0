/* opts.c: achat-stress's command line: the options and their checks, the
 * checks of the options against what the implementation declares, and the
 * one-line command that reproduces the run. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "opts.h"

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
"                   exit (stress/stress.py stresses all of them)\n"
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
"valgrind add their own codes (see stress/stress.py).\n");
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

const char *kinds_str(unsigned k)
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

enum { O_THREADS = 256, O_CHANNELS, O_SECONDS, O_ITER, O_SEED, O_BACKEND,
       O_MODE, O_KINDS, O_GRACE, O_QUIET, O_PRIME, O_LIST_BACKENDS,
       O_LIST_ALLOWANCES, O_VERSION, O_HELP };
static const struct option long_opts[] = {
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

/* --mode's argument, one of stress_mode_names. */
static enum stress_mode parse_mode(const char *arg)
{
    int m = -1;
    for (int i = 0; i < 3; i++)
        if (strcmp(arg, stress_mode_names[i]) == 0)
            m = i;
    if (m < 0)
        bad_usage("--mode is clean, shared-map or cross-push, not '%s'",
                  arg);
    return (enum stress_mode)m;
}

static uint64_t parse_seed(const char *arg)
{
    char *end;
    errno = 0;
    uint64_t seed = strtoull(arg, &end, 0);
    if (errno || *end || !*arg)
        bad_usage("--seed wants an integer, not '%s'", arg);
    return seed;
}

static _Noreturn void list_backends(void)
{
    const acc_impl_t *im = acc_get_impl();
    if (im == NULL || im->backends == NULL)
        stress_harness("the adapter names no backend");
    for (int i = 0; im->backends[i]; i++)
        printf("%s\n", im->backends[i]);
    exit(EXIT_CLEAN);
}

/* Declared by the implementation, never inferred from its name:
 * stress/stress.py applies exactly these. */
static _Noreturn void list_allowances(void)
{
    const acc_impl_t *im = acc_get_impl();
    if (im != NULL && (im->caps & ACC_CAP_DEFAULT_MAP_ONCE))
        printf("prime-default-map\n");
    exit(EXIT_CLEAN);
}

/* Which options were given, for the checks after the last one. */
struct seen {
    int seed, secs;
};

static void parse_option(int c, char **argv, struct seen *s)
{
    stress_opts_t *o = &g_run.o;
    switch (c) {
    case O_THREADS:
        o->threads = (int)parse_long(optarg, "--threads", 1, 256);
        break;
    case O_CHANNELS:
        o->channels = (int)parse_long(optarg, "--channels", 1, 4096);
        break;
    case O_SECONDS:
        o->seconds = parse_double(optarg, "--seconds", 0.01);
        s->secs = 1;
        break;
    case O_ITER:
        o->iterations = parse_long(optarg, "--iterations", 1, 1L << 40);
        break;
    case O_SEED:
        o->seed = parse_seed(optarg);
        s->seed = 1;
        break;
    case O_BACKEND: o->backend = optarg; break;
    case O_MODE: o->mode = parse_mode(optarg); break;
    case O_KINDS:
        if (parse_kinds(optarg, &o->kinds) < 0)
            bad_usage("--kinds is a list of unix,tcp,connect,accept, not "
                      "'%s'", optarg);
        break;
    case O_GRACE: o->grace = parse_double(optarg, "--grace", 0.1); break;
    case O_QUIET: o->quiet = 1; break;
    case O_PRIME: o->prime_default_map = 1; break;
    case O_LIST_BACKENDS: list_backends();
    case O_LIST_ALLOWANCES: list_allowances();
    case O_VERSION:
        printf("achat-stress 0.1 (adapter ABI %d)\n", ACC_ABI_VERSION);
        exit(EXIT_CLEAN);
    case 'h':
    case O_HELP: usage(stdout); exit(EXIT_CLEAN);
    default:
        bad_usage("unknown option '%s'", argv[optind - 1]);
    }
}

void opts_parse(int argc, char **argv)
{
    stress_opts_t *o = &g_run.o;
    o->threads = 4;
    o->channels = 16;
    o->seconds = 5;
    o->kinds = KIND_ALL;
    o->grace = 30;
    struct seen s = {0, 0};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1)
        parse_option(c, argv, &s);
    if (optind < argc)
        bad_usage("unexpected argument '%s'", argv[optind]);
    if (o->iterations > 0 && s.secs)
        bad_usage("--seconds and --iterations exclude each other");
    if (o->iterations > 0)
        o->seconds = 0;
    if (!s.seed)
        o->seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL ^
                  (uint64_t)getpid() << 16;
    if (o->mode == MODE_CROSS_PUSH && o->threads < 2)
        bad_usage("--mode cross-push needs --threads 2 or more");
}

void opts_check_impl(void)
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
 * the tool is not known here; stress/stress.py prints that wrapper. */
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

void opts_make_repro(const char *argv0)
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
