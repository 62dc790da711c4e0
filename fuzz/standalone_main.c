/* standalone_main.c: a main() for any harness, so corpora and regression
 * inputs replay with a plain compiler (gcc, valgrind) and no libFuzzer.
 * Usage: fuzz_X [-v] [-known=LIST] [-each] FILE|DIR...  Directories: every
 * regular file in them, in name order, so a run is reproducible.  Inputs
 * named in LIST (fuzz/known-failures.txt: bugs found and not fixed yet)
 * run in a child process and are reported, never failing the replay.
 * -each runs every input in a child and names each one that fails
 * (fuzz/fuzz.py screens corpus additions with it, under valgrind).
 * -random=N [-seed=S] [-max_len=M] runs N inputs drawn from a seeded
 * generator instead (up to M bytes, default 512): the seeded random
 * differential that reaches implementations no fuzzing engine can drive
 * (an agent); a failing input is written to random-crash-S-K. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf */
#endif
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fuzz_common.h"

/* The input being replayed, named by the crash handler: a harness reports
 * a failure by aborting, and the name is what one needs to reproduce it. */
static const char *current;

/* In -random mode: the input being run, saved under current's name if it
 * fails (only write(2) and open(2) here: a signal handler). */
static const uint8_t *random_input;
static size_t random_len;

static void on_fatal(int sig)
{
    static const char pre[] = "standalone: fatal signal while replaying ";
    if (current) {
        (void)!write(2, pre, sizeof(pre) - 1);
        (void)!write(2, current, strlen(current));
        (void)!write(2, "\n", 1);
    }
    if (current && random_input) {
        int fd = open(current, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            (void)!write(fd, random_input, random_len);
            close(fd);
        }
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* The second column of every line of the known-failures list. */
static char *known[256];
static int nknown;

static void load_known(const char *list)
{
    FILE *f = fopen(list, "r");
    char line[1024], harness[128], name[256];
    if (f == NULL) {
        perror(list);
        return;
    }
    while (fgets(line, sizeof(line), f) && nknown < 256)
        if (line[0] != '#' &&
            sscanf(line, "%127s %255s", harness, name) == 2)
            known[nknown++] = strdup(name);
    fclose(f);
}

static int is_known(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (int i = 0; i < nknown; i++)
        if (strcmp(known[i], base) == 0)
            return 1;
    return 0;
}

static int run_input(const char *path, int verbose);
static int each;

/* Runs one input in a child; 1 if it passed. */
static int run_child(const char *path, int verbose)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 0;
    }
    if (pid == 0) {
        int rc = run_input(path, verbose);
        fflush(NULL);
        _exit(rc < 0 ? 2 : 0);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        ;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* A known failure may abort: it runs in a child, and its outcome is news
 * either way (still failing, or apparently fixed). */
static int run_known(const char *path, int verbose)
{
    int ok = run_child(path, verbose);
    fprintf(stderr, "standalone: known failure %s: %s\n", path,
            ok ? "passed (fixed?  Or this build cannot see it: no ASan)"
               : "still fails");
    return 0;
}

static int run_file(const char *path, int verbose)
{
    if (is_known(path))
        return run_known(path, verbose);
    if (each) {
        if (!run_child(path, verbose))
            fprintf(stderr, "standalone: FAIL %s\n", path);
        return 0;
    }
    return run_input(path, verbose);
}

static int run_input(const char *path, int verbose)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return -1;
    }
    size_t cap = 4096, n = 0, k;
    uint8_t *buf = malloc(cap);
    while (buf && (k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            uint8_t *b = realloc(buf, cap *= 2);
            if (b == NULL)
                free(buf);
            buf = b;
        }
    }
    fclose(f);
    if (buf == NULL) {
        fprintf(stderr, "%s: out of memory\n", path);
        return -1;
    }
    /* Exactly n bytes on the heap, as libFuzzer passes them, so an
     * overread shows under valgrind too. */
    uint8_t *exact = malloc(n ? n : 1);
    if (exact == NULL) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, n);
    free(buf);
    if (verbose)
        fprintf(stderr, "running %s (%zu bytes)\n", path, n);
    current = path;
    LLVMFuzzerTestOneInput(exact, n);
    current = NULL;
    free(exact);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replays a directory's regular files; returns how many, or -1. */
static int run_dir(const char *dir, int verbose)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        perror(dir);
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **t = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*t));
            if (t == NULL)
                break;
            names = t;
        }
        if (asprintf(&names[n], "%s/%s", dir, e->d_name) >= 0)
            n++;
    }
    closedir(d);
    qsort(names, n, sizeof(*names), by_name);
    int count = 0, rc = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
            if (run_file(names[i], verbose) < 0)
                rc = -1;
            count++;
        }
        free(names[i]);
    }
    free(names);
    return rc < 0 ? -1 : count;
}

/* splitmix64: the generator of -random, the same sequence for a seed on
 * every machine. */
static uint64_t next_random(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int run_random(long n, uint64_t seed, size_t max_len)
{
    static char name[64];
    uint64_t s = seed;
    uint8_t *buf = malloc(max_len ? max_len : 1);
    if (buf == NULL)
        return -1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long k = 0; k < n; k++) {
        /* Lengths favour short inputs, as a fuzzer's do. */
        size_t len = (size_t)(next_random(&s) % (max_len + 1));
        if (next_random(&s) & 1)
            len /= 8;
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)next_random(&s);
        /* Exactly len bytes on the heap, as for a replayed file. */
        uint8_t *exact = malloc(len ? len : 1);
        if (exact == NULL)
            break;
        memcpy(exact, buf, len);
        snprintf(name, sizeof(name), "random-crash-%llu-%ld",
                 (unsigned long long)seed, k);
        current = name;
        random_input = exact;
        random_len = len;
        LLVMFuzzerTestOneInput(exact, len);
        random_input = NULL;
        current = NULL;
        free(exact);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) +
                  (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    fprintf(stderr, "standalone: %ld random inputs (seed %llu, up to %zu "
            "bytes) in %.2f s: %.0f exec/s\n", n, (unsigned long long)seed,
            max_len, secs, secs > 0 ? (double)n / secs : 0.0);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    int verbose = 0, total = 0, bad = 0;
    long random_n = 0;
    unsigned long long seed = 1;
    size_t max_len = 512;
    signal(SIGABRT, on_fatal);
    signal(SIGSEGV, on_fatal);
    signal(SIGBUS, on_fatal);
    signal(SIGFPE, on_fatal);
    signal(SIGILL, on_fatal);
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (strcmp(argv[i], "-v") == 0) {
            verbose = 1;
        } else if (strcmp(argv[i], "-each") == 0) {
            each = 1;
        } else if (strncmp(argv[i], "-random=", 8) == 0) {
            random_n = strtol(argv[i] + 8, NULL, 10);
        } else if (strncmp(argv[i], "-seed=", 6) == 0) {
            seed = strtoull(argv[i] + 6, NULL, 0);
        } else if (strncmp(argv[i], "-max_len=", 9) == 0) {
            max_len = (size_t)strtoul(argv[i] + 9, NULL, 10);
        } else if (strncmp(argv[i], "-known=", 7) == 0) {
            load_known(argv[i] + 7);
        } else if (argv[i][0] == '-') {
            continue; /* libFuzzer-style flags are accepted and ignored */
        } else if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            int k = run_dir(argv[i], verbose);
            if (k < 0)
                bad = 1;
            else
                total += k;
        } else if (run_file(argv[i], verbose) < 0) {
            bad = 1;
        } else {
            total++;
        }
    }
    if (random_n > 0 && run_random(random_n, seed, max_len) < 0)
        bad = 1;
    if (random_n == 0 || total > 0)
        fprintf(stderr, "%s: replayed %d input%s\n", argv[0], total,
                total == 1 ? "" : "s");
    for (int i = 0; i < nknown; i++)
        free(known[i]);
    return bad ? 2 : 0;
}
