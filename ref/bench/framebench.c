/* framebench.c: the speed of the socket-free framing core.  64 MiB of
 * "\r\n" records of one size, fed to ac_framer_feed in read-sized slices,
 * beside memchr (the ceiling) and memmem over the same buffer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "achat.h"

static struct {
    size_t mib, feed;
    int reps;
    const char *sizes;
} opt = {64, AC_DEFAULT_IN_BUFFER, 7, "16,64,256,1024,65536"};

typedef struct {
    uint64_t records, bytes;
} tally_t;

static void on_collect(void *ud, const void *data, size_t len)
{
    (void)data;
    ((tally_t *)ud)->bytes += len;
}

static void on_found(void *ud)
{
    ((tally_t *)ud)->records++;
}

/* CPU time of this thread: time lost to other jobs on a shared machine
 * does not count, cache and memory contention still do. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Records of `size` bytes: size-2 printable bytes (never CR or LF), "\r\n". */
static unsigned char *make_input(size_t len, size_t size)
{
    unsigned char *buf = malloc(len);
    if (buf == NULL)
        return NULL;
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        buf[i] = (unsigned char)(33 + x % 94);
        if (i % size == size - 2)
            buf[i] = '\r';
        else if (i % size == size - 1)
            buf[i] = '\n';
    }
    return buf;
}

static uint64_t run_framer(const unsigned char *buf, size_t len)
{
    tally_t t = {0, 0};
    ac_framer_cbs_t cbs = {on_collect, on_found};
    ac_framer_t *f;
    if (ac_framer_new(&f, &cbs, &t) < 0 ||
        ac_framer_set_terminator(f, "\r\n", 2) < 0)
        exit(1);
    for (size_t off = 0; off < len; off += opt.feed) {
        size_t n = len - off < opt.feed ? len - off : opt.feed;
        if (ac_framer_feed(f, buf + off, n) != 0)
            exit(1);
    }
    ac_framer_free(f);
    return t.records;
}

static uint64_t run_memchr(const unsigned char *buf, size_t len)
{
    const unsigned char *p = buf, *end = buf + len;
    uint64_t n = 0;
    while ((p = memchr(p, '\r', (size_t)(end - p))) != NULL) {
        n++;
        p++;
    }
    return n;
}

static uint64_t run_memmem(const unsigned char *buf, size_t len)
{
    const unsigned char *p = buf, *end = buf + len;
    uint64_t n = 0;
    while ((p = memmem(p, (size_t)(end - p), "\r\n", 2)) != NULL) {
        n++;
        p += 2;
    }
    return n;
}

typedef struct {
    const char *name;
    uint64_t (*run)(const unsigned char *, size_t);
    double best; /* seconds */
} contender_t;

/* Best of reps runs of each, in turn (so a slow spell of the machine hits
 * all three alike); every run must find every record. */
static void race(contender_t *c, int nc, const unsigned char *buf, size_t len,
                 uint64_t want)
{
    for (int i = 0; i < nc; i++)
        c[i].best = 1e30;
    for (int r = 0; r < opt.reps; r++) {
        for (int i = 0; i < nc; i++) {
            double t0 = now_s();
            uint64_t got = c[i].run(buf, len);
            double t = now_s() - t0;
            if (got != want) {
                fprintf(stderr, "framebench: %s found %llu records, not %llu\n",
                        c[i].name, (unsigned long long)got,
                        (unsigned long long)want);
                exit(1);
            }
            if (t < c[i].best)
                c[i].best = t;
        }
    }
}

static int usage(FILE *f, int rc)
{
    fputs("usage: framebench [--mib N] [--sizes 16,64,256,1024,65536] "
          "[--reps R] [--feed BYTES]\n"
          "Prints one JSON line per record size: GB/s of thread CPU time,\n"
          "best of R runs (default 7).\n", f);
    return rc;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help"))
            return usage(stdout, 0);
        if (i + 1 == argc)
            return usage(stderr, 2);
        const char *v = argv[++i];
        if (!strcmp(argv[i - 1], "--mib"))
            opt.mib = strtoul(v, NULL, 10);
        else if (!strcmp(argv[i - 1], "--feed"))
            opt.feed = strtoul(v, NULL, 10);
        else if (!strcmp(argv[i - 1], "--reps"))
            opt.reps = atoi(v);
        else if (!strcmp(argv[i - 1], "--sizes"))
            opt.sizes = v;
        else
            return usage(stderr, 2);
    }
    if (opt.mib == 0 || opt.feed == 0 || opt.reps < 1)
        return usage(stderr, 2);
    size_t len = opt.mib << 20;
    for (const char *s = opt.sizes; *s;) {
        char *end;
        size_t size = strtoul(s, &end, 10);
        if (size < 3 || end == s || (*end && *end != ','))
            return usage(stderr, 2);
        s = *end ? end + 1 : end;
        size_t used = len - len % size; /* whole records only */
        unsigned char *buf = make_input(used, size);
        if (buf == NULL)
            return 1;
        uint64_t want = used / size;
        contender_t c[] = {{"framer", run_framer, 0},
                           {"memchr", run_memchr, 0},
                           {"memmem", run_memmem, 0}};
        race(c, 3, buf, used, want);
        double fr = (double)used / c[0].best / 1e9;
        double mc = (double)used / c[1].best / 1e9;
        double mm = (double)used / c[2].best / 1e9;
        printf("{\"record\": %zu, \"mib\": %zu, \"framer_gbs\": %.3f, "
               "\"memchr_gbs\": %.3f, \"memmem_gbs\": %.3f, "
               "\"framer_vs_memchr\": %.3f, \"framer_vs_memmem\": %.3f}\n",
               size, opt.mib, fr, mc, mm, fr / mc, fr / mm);
        fflush(stdout);
        free(buf);
    }
    return 0;
}
