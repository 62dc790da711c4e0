/* standalone_main.c: a main() for any harness, so corpora and regression
 * inputs replay with a plain compiler (gcc, valgrind) and no libFuzzer.
 * Usage: fuzz_X [-v] [-known=LIST] [-each] FILE|DIR...  Directories: every
 * regular file in them, in name order, so a run is reproducible.  Inputs
 * named in LIST (fuzz/known-failures.txt: bugs found and not fixed yet)
 * run in a child process and are reported, never failing the replay.
 * -each runs every input in a child and names each one that fails
 * (scripts/fuzz.py screens corpus additions with it, under valgrind). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf */
#endif
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz_common.h"

/* The input being replayed, named by the crash handler: a harness reports
 * a failure by aborting, and the name is what one needs to reproduce it. */
static const char *current;

static void on_fatal(int sig)
{
    static const char pre[] = "standalone: fatal signal while replaying ";
    if (current) {
        (void)!write(2, pre, sizeof(pre) - 1);
        (void)!write(2, current, strlen(current));
        (void)!write(2, "\n", 1);
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

int main(int argc, char **argv)
{
    int verbose = 0, total = 0, bad = 0;
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
    fprintf(stderr, "%s: replayed %d input%s\n", argv[0], total,
            total == 1 ? "" : "s");
    for (int i = 0; i < nknown; i++)
        free(known[i]);
    return bad ? 2 : 0;
}
