/* passbench.c: the cost of one loop pass (ac_poll) with many idle
 * connections and 100 active ones, per backend.  Idle channels are AF_UNIX
 * connections whose peers a child process holds: chats (predicates the
 * library's own, as an idle server connection) or, with --idle-kind disp,
 * dispatchers with a user predicate (asked every pass, L1).  Active ones
 * get a byte before every pass from socketpairs this process holds. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "achat.h"

static struct {
    const char *idle, *backends, *kind;
    int active, passes;
} opt = {"0,1000,10000", "select,poll,epoll", "chat", 100, 500};

static long reads, stray;

/* CPU time of this thread, kernel time included: a pass never sleeps (its
 * input is there before it starts), so this is its cost without the time
 * other jobs on a shared machine take from it. */
static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void die(const char *what)
{
    fprintf(stderr, "passbench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int no(ac_disp_t *d, void *ud)
{
    (void)d, (void)ud;
    return 0;
}

static void on_active(ac_disp_t *d, void *ud)
{
    (void)ud;
    char b[64];
    if (ac_disp_recv(d, b, sizeof(b)) > 0)
        reads++;
}

static void on_idle(ac_disp_t *d, void *ud)
{
    (void)d, (void)ud;
    stray++; /* an idle channel must never fire */
}

static const ac_ops_t active_ops = {.writable = no, .handle_read = on_active};
static const ac_ops_t idle_ops = {.writable = no, .handle_read = on_idle};

static void on_idle_record(ac_chat_t *c, void *ud)
{
    (void)c, (void)ud;
    stray++;
}

static void on_idle_close(ac_chat_t *c, void *ud)
{
    (void)c, (void)ud;
    stray++;
}

static const ac_chat_ops_t idle_chat_ops = {
    .found_terminator = on_idle_record, .handle_close = on_idle_close};

/* The child accepts n connections and holds them until the control pipe
 * closes, so the parent's ends stay connected and silent. */
static pid_t hold_peers(int lfd, int n, const int ctl[2])
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    close(ctl[1]); /* else this copy would keep the pipe open forever */
    for (int i = 0; i < n; i++)
        if (accept(lfd, NULL, NULL) < 0)
            _exit(1);
    char c;
    while (read(ctl[0], &c, 1) < 0 && errno == EINTR)
        ;
    _exit(0);
}

/* n connected AF_UNIX sockets whose peers live in the child. */
static int *open_idle(int n, pid_t *child, int *ctl_w)
{
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), ctl[2];
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "achat-passbench-%d",
             (int)getpid()); /* abstract namespace: no file to clean up */
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                                 strlen(a.sun_path + 1));
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, alen) < 0 ||
        listen(lfd, 4096) < 0 || pipe(ctl) < 0)
        die("listen");
    *child = hold_peers(lfd, n, ctl);
    if (*child < 0)
        die("fork");
    close(ctl[0]);
    close(lfd);
    *ctl_w = ctl[1];
    int *fds = malloc(sizeof(int) * (size_t)(n ? n : 1));
    for (int i = 0; fds && i < n; i++) {
        fds[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&a, alen) < 0)
            die("connect");
    }
    return fds;
}

static int max_of(const char *list)
{
    int m = 0;
    for (const char *s = list; *s;) {
        int v = atoi(s);
        m = v > m ? v : m;
        s += strcspn(s, ",");
        s += *s == ',';
    }
    return m;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Times opt.passes passes of map on backend b; every pass must serve the
 * active channels and nothing else. */
static void measure(ac_map_t *map, const ac_backend_t *b, int idle,
                    const int *peers)
{
    const char *name = ac_backend_name(b);
    double *t = malloc(sizeof(double) * (size_t)opt.passes);
    if (t == NULL)
        die("malloc");
    for (int i = -3; i < opt.passes; i++) { /* 3 passes of warm-up */
        for (int k = 0; k < opt.active; k++)
            if (write(peers[k], "x", 1) != 1)
                die("write");
        double t0 = now_us();
        int rc = ac_poll(map, 1000, b);
        double dt = now_us() - t0;
        if (rc == -ERANGE) {
            printf("{\"backend\": \"%s\", \"idle\": %d, \"active\": %d, "
                   "\"na\": \"fd >= FD_SETSIZE (%d)\"}\n",
                   name, idle, opt.active, FD_SETSIZE);
            ac_poll(map, 0, &ac_backend_poll); /* drain the bytes */
            free(t);
            return;
        }
        if (rc != opt.active || stray) {
            fprintf(stderr, "passbench: %s: pass served %d, not %d\n", name,
                    rc, opt.active);
            exit(1);
        }
        if (i >= 0)
            t[i] = dt;
    }
    qsort(t, (size_t)opt.passes, sizeof(double), cmp_double);
    double sum = 0;
    for (int i = 0; i < opt.passes; i++)
        sum += t[i];
    printf("{\"backend\": \"%s\", \"idle\": %d, \"idle_kind\": \"%s\", "
           "\"active\": %d, \"passes\": %d, \"median_us\": %.2f, "
           "\"mean_us\": %.2f, \"p90_us\": %.2f}\n",
           name, idle, opt.kind, opt.active, opt.passes, t[opt.passes / 2],
           sum / opt.passes, t[opt.passes * 9 / 10]);
    fflush(stdout);
    free(t);
}

static void adopt(ac_map_t *map, int fd, const ac_ops_t *ops)
{
    ac_disp_t *d;
    int rc = ac_disp_new(&d, map, ops, NULL);
    if (rc == 0)
        rc = ac_disp_adopt(d, fd);
    if (rc < 0) {
        errno = -rc;
        die("adopt");
    }
}

static void adopt_idle(ac_map_t *map, int fd)
{
    if (strcmp(opt.kind, "chat") != 0) {
        adopt(map, fd, &idle_ops);
        return;
    }
    ac_chat_t *c;
    int rc = ac_chat_new(&c, map, &idle_chat_ops, NULL);
    if (rc == 0)
        rc = ac_chat_set_terminator(c, "\n", 1);
    if (rc == 0)
        rc = ac_disp_adopt(ac_chat_disp(c), fd);
    if (rc < 0) {
        errno = -rc;
        die("adopt chat");
    }
}

static int usage(FILE *f, int rc)
{
    fputs("usage: passbench [--idle 0,1000,10000] [--active N] [--passes N]\n"
          "                 [--backends select,poll,epoll] "
          "[--idle-kind chat|disp]\n"
          "Prints one JSON line per (idle count, backend): pass time in us of\n"
          "thread CPU time (median, mean, p90).\n"
          "Needs idle + 2*active + 32 descriptors (RLIMIT_NOFILE is raised to "
          "its hard limit).\n", f);
    return rc;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help"))
            return usage(stdout, 0);
        if (i + 1 == argc)
            return usage(stderr, 2);
        const char *a = argv[i], *v = argv[++i];
        if (!strcmp(a, "--idle"))
            opt.idle = v;
        else if (!strcmp(a, "--backends"))
            opt.backends = v;
        else if (!strcmp(a, "--idle-kind"))
            opt.kind = v;
        else if (!strcmp(a, "--active"))
            opt.active = atoi(v);
        else if (!strcmp(a, "--passes"))
            opt.passes = atoi(v);
        else
            return usage(stderr, 2);
    }
    if (opt.active < 1 || opt.passes < 1 ||
        (strcmp(opt.kind, "chat") != 0 && strcmp(opt.kind, "disp") != 0))
        return usage(stderr, 2);
    int nidle = max_of(opt.idle);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if ((rlim_t)nidle + 2 * (rlim_t)opt.active + 32 > rl.rlim_cur) {
        fprintf(stderr, "passbench: %d idle need more than the %llu "
                        "descriptors `ulimit -Hn` allows\n",
                nidle, (unsigned long long)rl.rlim_cur);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    /* Active channels first, so their fds stay low enough for select. */
    ac_map_t *map;
    if (ac_map_new(&map) < 0)
        die("ac_map_new");
    int *peers = malloc(sizeof(int) * (size_t)opt.active);
    for (int k = 0; peers && k < opt.active; k++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
            die("socketpair");
        adopt(map, sv[0], &active_ops);
        peers[k] = sv[1];
    }
    pid_t child;
    int ctl;
    int *idle = open_idle(nidle, &child, &ctl);
    if (peers == NULL || idle == NULL)
        die("malloc");

    /* Idle counts grow through the list; each count is measured on every
     * backend over the same map (a new backend re-registers everything
     * during its warm-up passes). */
    int registered = 0;
    for (const char *s = opt.idle; *s;) {
        int n = atoi(s);
        s += strcspn(s, ",");
        s += *s == ',';
        for (; registered < n; registered++)
            adopt_idle(map, idle[registered]);
        for (const char *b = opt.backends; *b;) {
            char name[16] = "";
            size_t len = strcspn(b, ",");
            memcpy(name, b, len < 15 ? len : 15);
            b += len;
            b += *b == ',';
            const ac_backend_t *be = ac_backend_by_name(name);
            if (be == NULL) {
                fprintf(stderr, "passbench: no backend %s\n", name);
                return 2;
            }
            measure(map, be, registered, peers);
        }
    }
    for (int i = registered; i < nidle; i++)
        close(idle[i]);
    ac_map_free(map); /* closes every adopted fd */
    for (int k = 0; k < opt.active; k++)
        close(peers[k]);
    close(ctl); /* the child sees EOF and exits */
    waitpid(child, NULL, 0);
    free(idle);
    free(peers);
    return 0;
}
