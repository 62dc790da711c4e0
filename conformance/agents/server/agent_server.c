/* agent_server.c: a generic agent: serves the agent protocol
 * (docs/agent-protocol.md) over any acc_impl_t.  Linked with the
 * reference's adapter and libachat it is the reference agent. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "acc_adapter.h"
#include "acc_common.h"
#include "acc_proto.h"

/* An implementation that already has an in-process adapter thus also runs
 * as an agent, and the suite's verdicts through it must equal the
 * in-process ones (make agents-check).  Each request becomes one call into
 * the table; each callback of the table becomes an event the suite answers
 * before the callback returns. */

#define EVENT_TIMEOUT_MS 60000 /* the suite answers events; its runner bounds it */
#define MAX_RECV (8u << 20)

typedef struct smap {
    char id[24];
    void *m;
    struct smap *next;
} smap_t;

typedef struct schan {
    char id[24];
    void *h;            /* NULL: never created, or freed */
    int gone;           /* "gone" sent */
    struct schan *next;
} schan_t;

typedef struct sprod {
    char id[24];
    acc_producer_t p;
    void **chunks;
    size_t *lens;
} sprod_t;

static const acc_impl_t *im;
static accp_conn_t conn;
static smap_t *maps;
static schan_t *chans;
static int next_fd = -1;  /* after a fork: the child's new connection */

static void fatal(const char *what) __attribute__((noreturn));
static void fatal(const char *what)
{
    fprintf(stderr, "%s agent: %s: %s\n", im ? im->name : "?", what, conn.err);
    exit(3);
}

/* ------------------------------------------------------------ events -- */

/* Sends one event and waits for the suite's answer; the suite may call
 * back meanwhile (served by serve()).  Returns the answer's result. */
static long event(const char *verb, schan_t *c, const void *bytes, size_t n,
                  int with_bytes, const char *extra, int fd)
{
    accp_buf_t b;
    accp_buf_init(&b);
    accp_put_tok(&b, verb);
    accp_put_tok(&b, c->id);
    if (with_bytes)
        accp_put_bytes(&b, bytes, n);
    if (extra)
        accp_put_tok(&b, extra);
    if (fd >= 0)
        accp_put_tok(&b, "@");
    accp_msg_t r;
    if (b.oom || accp_call(&conn, b.p, b.n, fd, &r, EVENT_TIMEOUT_MS) < 0)
        fatal(verb);
    accp_buf_free(&b);
    long rc;
    accp_tok_rc(r.tok[0], &rc);
    accp_msg_free(&r);
    return rc;
}

static void e_collect(void *ctx, const void *p, size_t n)
{
    event("collect", ctx, p, n, 1, NULL, -1);
}
static void e_found(void *ctx) { event("found", ctx, NULL, 0, 0, NULL, -1); }
static void e_close(void *ctx) { event("close", ctx, NULL, 0, 0, NULL, -1); }
static void e_error(void *ctx, int err)
{
    const char *name = accp_errno_name(err < 0 ? -err : err);
    event("error", ctx, NULL, 0, 0, name ? name : "EIO", -1);
}
static void e_connect(void *ctx) { event("connect", ctx, NULL, 0, 0, NULL, -1); }
static void e_accept(void *ctx, int fd)
{
    /* The descriptor travels to the suite, which owns it from here on; the
     * copy in flight keeps the socket alive after ours is closed. */
    event("accept", ctx, NULL, 0, 0, NULL, fd);
    close(fd);
}
static int e_readable(void *ctx) { return event("readable", ctx, NULL, 0, 0, NULL, -1) > 0; }
static int e_writable(void *ctx) { return event("writable", ctx, NULL, 0, 0, NULL, -1) > 0; }
static void e_read(void *ctx) { event("read", ctx, NULL, 0, 0, NULL, -1); }
static void e_write(void *ctx) { event("write", ctx, NULL, 0, 0, NULL, -1); }

static const acc_events_t events = {e_collect, e_found, e_close, e_error, e_connect,
                                    e_accept, e_readable, e_writable, e_read, e_write};
/* A chat's predicates stay the implementation's: the protocol carries no
 * chat readable (ACC_CAP_CHAT_READABLE is in-process only). */
static const acc_events_t chat_events = {e_collect, e_found, e_close, e_error,
                                         e_connect, e_accept, NULL, NULL, NULL, NULL};

static void released(void *pctx)
{
    sprod_t *p = pctx;
    accp_buf_t b;
    accp_buf_init(&b);
    accp_put_tok(&b, "released");
    accp_put_tok(&b, p->id);
    accp_msg_t r;
    if (b.oom || accp_call(&conn, b.p, b.n, -1, &r, EVENT_TIMEOUT_MS) < 0)
        fatal("released");
    accp_msg_free(&r);
    accp_buf_free(&b);
    for (size_t i = 0; i < p->p.n; i++)
        free(p->chunks[i]);
    free(p->chunks);
    free(p->lens);
    free(p);
}

/* Before every line we send: channels the implementation has closed since
 * (fd() reports -1) are announced, so the suite drops its views of their
 * sockets before it sees anything that follows the close. */
static int report_gone(accp_conn_t *c)
{
    for (schan_t *s = chans; s; s = s->next) {
        if (s->gone || s->h == NULL || im->fd(s->h) >= 0)
            continue;
        s->gone = 1;
        char line[48];
        int n = snprintf(line, sizeof(line), "N gone %s", s->id);
        if (accp_send_line(c, line, (size_t)n, -1) < 0)
            return -1;
    }
    return 0;
}

/* ------------------------------------------------ per-thread defaults -- */

/* Default maps are per thread (M1).  The suite's thread k is served by a
 * thread of ours, and every call that makes or destroys k's default map
 * runs on it: the implementation may keep a thread's default map in
 * thread-local state (the reference does, behind a TLS key), so making it
 * anywhere else would give another thread's map, and destroying it anywhere
 * else would leave the owner's state naming a freed map.  The other calls
 * on it take a map pointer and run where the request is served, as on any
 * map.  Ours waits for commands (a mutex and condition variable handshake,
 * the requester blocked meanwhile, so the implementation sees one thread at
 * a time); when the suite's thread ends ("thread_end k") ours ends too, and
 * whatever the implementation does with a thread's default map at thread
 * exit (M10) happens, before the reply. */
enum { CMD_NONE, CMD_DEFAULT, CMD_FREE };

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    uint64_t tid;
    void *map;          /* its current default map; NULL: none made since */
    int cmd, stop;
} deft_t;

static deft_t *defts[256];
static int ndefts;

/* The maps whose pass we are running, innermost last (a handler may run a
 * pass of another map).  A map destroyed inside one of its own passes is
 * refused (M9): it stays in use, and stays its thread's default. */
static void *passing[32];
static int npassing;

static int in_own_pass(const void *m)
{
    for (int i = 0; i < npassing; i++)
        if (passing[i] == m)
            return 1;
    return 0;
}

/* Runs on d's thread (while the requester waits, so passing[] holds
 * still).  After a free the thread has no default map, unless the free was
 * asked inside that map's own pass: the implementation must refuse it (M9),
 * and the map is then still the thread's default, which map_existing and
 * map_default must go on naming.  An implementation that wrongly destroys
 * it leaves us a dangling pointer, which its next use shows. */
static void deft_run(deft_t *d, int cmd)
{
    if (cmd == CMD_DEFAULT) {
        d->map = im->map_default();
    } else if (cmd == CMD_FREE) {
        void *m = d->map;
        if (!in_own_pass(m))
            d->map = NULL;
        im->map_free(m);
    }
}

static void *default_thread(void *arg)
{
    deft_t *d = arg;
    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        if (d->cmd == CMD_NONE) {
            pthread_cond_wait(&d->cv, &d->mu);
            continue;
        }
        /* Unlocked while it runs: map_free may release producers, and the
         * events it sends may bring requests that come back to us (served
         * on this thread then, see deft_do). */
        int cmd = d->cmd;
        pthread_mutex_unlock(&d->mu);
        deft_run(d, cmd);
        pthread_mutex_lock(&d->mu);
        d->cmd = CMD_NONE;
        pthread_cond_broadcast(&d->cv);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

/* Has d's thread run cmd, and waits for it; on d's thread itself (a request
 * nested in an event its command raised) runs it there directly. */
static void deft_do(deft_t *d, int cmd)
{
    if (pthread_equal(pthread_self(), d->th)) {
        deft_run(d, cmd);
        return;
    }
    pthread_mutex_lock(&d->mu);
    d->cmd = cmd;
    pthread_cond_broadcast(&d->cv);
    while (d->cmd != CMD_NONE)
        pthread_cond_wait(&d->cv, &d->mu);
    pthread_mutex_unlock(&d->mu);
}

static deft_t *find_deft(uint64_t tid)
{
    for (int i = 0; i < ndefts; i++)
        if (defts[i]->tid == tid)
            return defts[i];
    return NULL;
}

/* The suite thread tid's default map, made on its thread of ours (started
 * on first use) if it has none. */
static void *default_for(uint64_t tid)
{
    deft_t *d = find_deft(tid);
    if (d == NULL) {
        if (ndefts == 256 || (d = calloc(1, sizeof(*d))) == NULL)
            return NULL;
        pthread_mutex_init(&d->mu, NULL);
        pthread_cond_init(&d->cv, NULL);
        d->tid = tid;
        if (pthread_create(&d->th, NULL, default_thread, d) != 0) {
            pthread_cond_destroy(&d->cv);
            pthread_mutex_destroy(&d->mu);
            free(d);
            return NULL;
        }
        defts[ndefts++] = d;
    }
    if (d->map == NULL)
        deft_do(d, CMD_DEFAULT);
    return d->map;
}

/* The thread whose default map m is, or NULL. */
static deft_t *default_of(const void *m)
{
    for (int i = 0; m && i < ndefts; i++)
        if (defts[i]->map == m)
            return defts[i];
    return NULL;
}

static void end_thread(uint64_t tid)
{
    for (int i = 0; i < ndefts; i++) {
        deft_t *d = defts[i];
        if (d->tid != tid)
            continue;
        pthread_mutex_lock(&d->mu);
        d->stop = 1;
        pthread_cond_broadcast(&d->cv);
        pthread_mutex_unlock(&d->mu);
        pthread_join(d->th, NULL);
        pthread_cond_destroy(&d->cv);
        pthread_mutex_destroy(&d->mu);
        defts[i] = defts[--ndefts];
        free(d);
        return;
    }
}

/* ----------------------------------------------------------- requests -- */

static smap_t *find_map(const char *id)
{
    for (smap_t *m = maps; m; m = m->next)
        if (strcmp(m->id, id) == 0)
            return m;
    return NULL;
}

static schan_t *find_chan(const char *id)
{
    for (schan_t *c = chans; c; c = c->next)
        if (strcmp(c->id, id) == 0)
            return c;
    return NULL;
}

static smap_t *add_map(const char *id, void *m)
{
    smap_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    snprintf(s->id, sizeof(s->id), "%s", id);
    s->m = m;
    s->next = maps;
    maps = s;
    return s;
}

static schan_t *add_chan(const char *id)
{
    schan_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    snprintf(s->id, sizeof(s->id), "%s", id);
    s->next = chans;
    chans = s;
    return s;
}

static int parse_addr(char *tok, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    if (strncmp(tok, "inet:", 5) == 0) {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        char *colon = strrchr(tok + 5, ':');
        uint64_t port;
        if (colon == NULL || accp_tok_u64(colon + 1, &port) < 0 || port > 65535)
            return -1;
        *colon = '\0';
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        *len = sizeof(*a);
        return inet_pton(AF_INET, tok + 5, &a->sin_addr) == 1 ? 0 : -1;
    }
    if (strncmp(tok, "inet6:[", 7) == 0) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        char *close_br = strstr(tok, "]:");
        uint64_t port;
        if (close_br == NULL || accp_tok_u64(close_br + 2, &port) < 0 || port > 65535)
            return -1;
        *close_br = '\0';
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        *len = sizeof(*a);
        return inet_pton(AF_INET6, tok + 7, &a->sin6_addr) == 1 ? 0 : -1;
    }
    if (strncmp(tok, "unix:", 5) == 0) {
        struct sockaddr_un *a = (struct sockaddr_un *)ss;
        unsigned char *p;
        size_t n;
        if (accp_tok_bytes(tok + 5, &p, &n) < 0 || n >= sizeof(a->sun_path))
            return -1;
        a->sun_family = AF_UNIX;
        memcpy(a->sun_path, p, n);
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
        return 0;
    }
    return -1;
}

/* Puts a received descriptor at the number the suite knows it by, when that
 * number is free here, so tests about descriptor numbers keep their
 * meaning (a socket above FD_SETSIZE, L13).  Otherwise it stays where the
 * kernel put it. */
static int place(int fd, int64_t want)
{
    struct rlimit rl;
    if (want < 0 || want == fd || want > INT32_MAX || fcntl((int)want, F_GETFD) >= 0 ||
        getrlimit(RLIMIT_NOFILE, &rl) < 0 || (rlim_t)want >= rl.rlim_cur)
        return fd;
    if (dup3(fd, (int)want, O_CLOEXEC) < 0)
        return fd;
    close(fd);
    return (int)want;
}

/* The suite's descriptor headroom, mirrored (see the client's sync_nofile). */
static long set_nofile(uint64_t headroom)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -errno;
    rlim_t lowest = 0;
    while (lowest < rl.rlim_cur && fcntl((int)lowest, F_GETFD) >= 0)
        lowest++;
    rlim_t want = lowest + (rlim_t)headroom;
    if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max)
        want = rl.rlim_max;
    rl.rlim_cur = want;
    return setrlimit(RLIMIT_NOFILE, &rl) < 0 ? -errno : 0;
}

static int reply(accp_msg_t *q, long rc, const void *bytes, size_t n, int fd)
{
    accp_buf_t b;
    accp_buf_init(&b);
    accp_put_rc(&b, rc);
    if (bytes)
        accp_put_bytes(&b, bytes, n);
    if (fd >= 0)
        accp_put_tok(&b, "@");
    int r = b.oom ? -1 : accp_reply(&conn, q, b.p, b.n, fd);
    accp_buf_free(&b);
    return r;
}

static int do_hello(accp_msg_t *q)
{
    uint64_t v;
    if (q->ntok != 2 || accp_tok_u64(q->tok[1], &v) < 0)
        return reply(q, -EINVAL, NULL, 0, -1);
    if (v != ACCP_VERSION)
        return reply(q, -EPROTONOSUPPORT, NULL, 0, -1);
    char name[160], caps[256], be[256] = "";
    snprintf(name, sizeof(name), "%s-agent", im->name);
    acc_cap_csv(caps, sizeof(caps), im->caps, ACC_ON_WIRE);
    size_t o = 0;
    for (int i = 0; im->backends[i] && o < sizeof(be); i++)
        o += (size_t)snprintf(be + o, sizeof(be) - o, "%s%s", i ? "," : "", im->backends[i]);
    accp_buf_t b;
    accp_buf_init(&b);
    accp_put_tok(&b, "0");
    accp_put_printf(&b, "proto=%d", ACCP_VERSION);
    const char *keys[] = {"name", "version", "backends", "caps", "features"};
    const char *vals[] = {name, im->version, be, caps, "fork"};
    for (int i = 0; i < 5; i++) {
        accp_buf_t t;
        accp_buf_init(&t);
        accp_put_bytes(&t, vals[i], strlen(vals[i]));
        accp_put_printf(&b, "%s%s", keys[i], t.p);
        accp_buf_free(&t);
    }
    int r = accp_reply(&conn, q, b.p, b.n, -1);
    accp_buf_free(&b);
    return r;
}

/* A fresh agent for one run: the child takes the descriptor that came
 * with the request as its connection (see main). */
static int do_fork(accp_msg_t *q)
{
    if (q->nfds != 1 || maps || chans)
        return reply(q, -EINVAL, NULL, 0, -1);
#ifdef __linux__
    pid_t zygote = getpid();
#endif
    pid_t pid = fork();
    if (pid < 0)
        return reply(q, -errno, NULL, 0, -1);
    if (pid == 0) {
        signal(SIGCHLD, SIG_DFL);
#ifdef __linux__
        /* A run's agent ends with its zygote, which ends with the runner:
         * a hung implementation must not outlive either. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != zygote)
            _exit(1);
#endif
        next_fd = q->fds[0];
        q->fds[0] = -1;
        return 1; /* leave the zygote's loop */
    }
    return reply(q, pid, NULL, 0, -1);
}

static long to_long(const char *tok, int *bad)
{
    int64_t v;
    if (accp_tok_i64(tok, &v) < 0 || v < -2147483647 || v > 2147483647)
        return *bad = 1, 0;
    return (long)v;
}

/* A handler's "not this request after all": serve goes on as if the verb
 * were unknown to it (a malformed request is answered by the channel path,
 * -EINVAL for no live channel, -ENOSYS otherwise). */
#define DECLINE (-2)

static int do_map_new(accp_msg_t *q)
{
    void *m;
    if (q->ntok != 2)
        return DECLINE;
    if (find_map(q->tok[1]))
        return reply(q, -EEXIST, NULL, 0, -1);
    int rc = im->map_new(&m);
    if (rc == 0 && add_map(q->tok[1], m) == NULL)
        return im->map_free(m), reply(q, -ENOMEM, NULL, 0, -1);
    return reply(q, rc, NULL, 0, -1);
}

/* "map_default M T" names suite thread T's default map M, made on T's
 * thread of ours if it has none; "map_existing M T" names only one it has
 * (every default map is made by default_for and destroyed through
 * do_map_free or the thread's end, so ours knows): ENOENT makes none (M1). */
static int name_default(accp_msg_t *q, int make)
{
    uint64_t tid;
    void *m;
    if (q->ntok != 3)
        return DECLINE;
    if (accp_tok_u64(q->tok[2], &tid) < 0 || find_map(q->tok[1]))
        return reply(q, -EINVAL, NULL, 0, -1);
    if (make) {
        if (im->map_default == NULL)
            return reply(q, -EOPNOTSUPP, NULL, 0, -1);
        m = default_for(tid);
    } else {
        deft_t *d = find_deft(tid);
        if (d == NULL || d->map == NULL)
            return reply(q, -ENOENT, NULL, 0, -1);
        m = d->map;
    }
    if (m == NULL || add_map(q->tok[1], m) == NULL)
        return reply(q, -ENOMEM, NULL, 0, -1);
    return reply(q, 0, NULL, 0, -1);
}

static int do_map_default(accp_msg_t *q) { return name_default(q, 1); }
static int do_map_existing(accp_msg_t *q) { return name_default(q, 0); }

/* "VERB N": 0 with N in *v, or -1 with what to return in *rc (DECLINE for
 * another arity, the reply's result after -EINVAL for a bad count). */
static int count_arg(accp_msg_t *q, uint64_t *v, int *rc)
{
    if (q->ntok != 2)
        return *rc = DECLINE, -1;
    if (accp_tok_u64(q->tok[1], v) < 0)
        return *rc = reply(q, -EINVAL, NULL, 0, -1), -1;
    return 0;
}

static int do_thread_end(accp_msg_t *q)
{
    uint64_t tid;
    int rc;
    if (count_arg(q, &tid, &rc) < 0)
        return rc;
    end_thread(tid);
    return reply(q, 0, NULL, 0, -1);
}

static int do_nofile(accp_msg_t *q)
{
    uint64_t room;
    int rc;
    return count_arg(q, &room, &rc) < 0 ? rc : reply(q, set_nofile(room), NULL, 0, -1);
}

/* tok[1]'s map, if it is still the implementation's; NULL otherwise. */
static smap_t *live_map(const accp_msg_t *q)
{
    smap_t *m = q->ntok >= 2 ? find_map(q->tok[1]) : NULL;
    return m && m->m ? m : NULL;
}

static int do_map_free(accp_msg_t *q)
{
    smap_t *m = q->ntok == 2 ? find_map(q->tok[1]) : NULL;
    if (m == NULL)
        return DECLINE;
    /* The entry stays: a map_free refused inside its own pass (M9)
     * leaves the map in use, and only the suite knows what follows.  A
     * thread's default map is destroyed by that thread (see deft_t). */
    deft_t *d = default_of(m->m);
    if (d)
        deft_do(d, CMD_FREE);
    else
        im->map_free(m->m);
    return reply(q, 0, NULL, 0, -1);
}

static int do_map_size(accp_msg_t *q)
{
    smap_t *m = q->ntok == 2 ? live_map(q) : NULL;
    return m ? reply(q, im->map_size(m->m), NULL, 0, -1) : DECLINE;
}

static int do_close_all(accp_msg_t *q)
{
    smap_t *m = q->ntok == 2 ? live_map(q) : NULL;
    return m ? reply(q, im->close_all(m->m), NULL, 0, -1) : DECLINE;
}

static int do_map_exit(accp_msg_t *q)
{
    smap_t *m = q->ntok == 2 ? live_map(q) : NULL;
    if (m == NULL)
        return DECLINE;
    return reply(q, im->map_exit ? im->map_exit(m->m) : -EOPNOTSUPP, NULL, 0, -1);
}

/* poll M BACKEND TIMEOUT, loop M BACKEND TIMEOUT COUNT ("-": the default
 * backend). */
static int do_pass(accp_msg_t *q)
{
    smap_t *m = live_map(q);
    int is_loop = q->tok[0][0] == 'l', bad = 0;
    if (m == NULL)
        return DECLINE;
    if (q->ntok != (is_loop ? 5 : 4))
        return reply(q, -EINVAL, NULL, 0, -1);
    const char *be = strcmp(q->tok[2], "-") ? q->tok[2] : NULL;
    int t = (int)to_long(q->tok[3], &bad);
    int count = is_loop ? (int)to_long(q->tok[4], &bad) : 0;
    if (bad)
        return reply(q, -EINVAL, NULL, 0, -1);
    int pushed = npassing < (int)(sizeof(passing) / sizeof(passing[0]));
    if (pushed)
        passing[npassing++] = m->m;
    int rc = is_loop ? im->loop(m->m, be, t, count) : im->poll(m->m, be, t);
    npassing -= pushed;
    return reply(q, rc, NULL, 0, -1);
}

/* A new channel's record, tok[1] its id and tok[2] its map; NULL after
 * replying (-EINVAL, -ENOMEM), with the reply's result in *rc. */
static schan_t *new_chan(accp_msg_t *q, smap_t **mm, int *rc)
{
    *mm = find_map(q->tok[2]);
    if (find_chan(q->tok[1]) || *mm == NULL || (*mm)->m == NULL) {
        *rc = reply(q, -EINVAL, NULL, 0, -1);
        return NULL;
    }
    schan_t *s = add_chan(q->tok[1]);
    if (s == NULL)
        *rc = reply(q, -ENOMEM, NULL, 0, -1);
    return s;
}

/* chat_adopt, disp_adopt C M (@ fd=N | fdof=CK): the descriptor that came
 * with the request, or one of our own channels' again (M3). */
static int do_adopt(accp_msg_t *q)
{
    smap_t *mm;
    schan_t *s;
    int nt = q->ntok, fd = -1, owned = 0, rc;
    if (nt < 3)
        return DECLINE;
    if ((s = new_chan(q, &mm, &rc)) == NULL)
        return rc;
    if (nt == 4 && strncmp(q->tok[3], "fdof=", 5) == 0 && q->nfds == 0) {
        schan_t *o = find_chan(q->tok[3] + 5);
        fd = o && o->h ? im->fd(o->h) : -1; /* the same number */
        if (fd < 0)
            return reply(q, -EBADF, NULL, 0, -1);
    } else if (nt == 5 && q->nfds == 1 && strcmp(q->tok[3], "@") == 0 &&
               strncmp(q->tok[4], "fd=", 3) == 0) {
        int64_t want;
        fd = q->fds[0];
        q->fds[0] = -1;
        owned = 1;
        if (accp_tok_i64(q->tok[4] + 3, &want) == 0)
            fd = place(fd, want);
    } else {
        return reply(q, -EINVAL, NULL, 0, -1);
    }
    rc = q->tok[0][0] == 'c' ? im->chat_adopt(&s->h, mm->m, fd, &chat_events, s)
                             : im->disp_adopt(&s->h, mm->m, fd, &events, s);
    if (rc < 0) {
        s->h = NULL;
        if (owned)
            close(fd); /* ours, not the implementation's, on failure */
    }
    return reply(q, rc, NULL, 0, -1);
}

/* chat_connect, disp_connect, listen C M ADDR: answered with our socket,
 * duplicated. */
static int do_connect(accp_msg_t *q)
{
    const char *v = q->tok[0];
    smap_t *mm;
    schan_t *s;
    struct sockaddr_storage ss;
    socklen_t len;
    int rc;
    if (q->ntok < 3 || (v[0] == 'd' && !(im->caps & ACC_CAP_DISP_CONNECT)))
        return DECLINE;
    if ((s = new_chan(q, &mm, &rc)) == NULL)
        return rc;
    if (q->ntok != 4 || parse_addr(q->tok[3], &ss, &len) < 0)
        return reply(q, -EINVAL, NULL, 0, -1);
    rc = (v[0] == 'c' ? im->chat_connect : v[0] == 'd' ? im->disp_connect
                                                           : im->listen)(
        &s->h, mm->m, (struct sockaddr *)&ss, len, v[0] == 'c' ? &chat_events : &events, s);
    if (rc < 0) {
        s->h = NULL;
        return reply(q, rc, NULL, 0, -1);
    }
    return reply(q, 0, NULL, 0, im->fd(s->h));
}

/* A channel request, tok[1] the channel: its arguments decoded once. */
typedef struct {
    accp_msg_t *q;
    void *h;             /* the implementation's handle */
    schan_t *s;
    unsigned char *p;    /* tok[2] as bytes, if it is a bytes token */
    size_t n;
    uint64_t a, b;       /* tok[2], tok[3] as counts */
    int bad;             /* one of them is not a count */
} creq_t;

static int c_close(creq_t *r) { return reply(r->q, im->close(r->h), NULL, 0, -1); }

static int c_free(creq_t *r)
{
    im->free(r->h);
    r->s->h = NULL;
    return reply(r->q, 0, NULL, 0, -1);
}

/* The suite closed its view behind the implementation's back (close-fd):
 * do the same to the implementation's descriptor. */
static int c_closefd(creq_t *r)
{
    int fd = im->fd(r->h);
    if (fd >= 0)
        close(fd);
    return reply(r->q, 0, NULL, 0, -1);
}

static int c_close_when_done(creq_t *r)
{
    return reply(r->q, im->close_when_done(r->h), NULL, 0, -1);
}

static int c_discard(creq_t *r) { return reply(r->q, im->discard_buffers(r->h), NULL, 0, -1); }
static int c_none(creq_t *r) { return reply(r->q, im->set_none(r->h), NULL, 0, -1); }

static int c_term(creq_t *r)
{
    return reply(r->q, im->set_terminator(r->h, r->p, r->n), NULL, 0, -1);
}

static int c_push(creq_t *r) { return reply(r->q, im->push(r->h, r->p, r->n), NULL, 0, -1); }
static int c_send(creq_t *r) { return reply(r->q, im->send(r->h, r->p, r->n), NULL, 0, -1); }

static int c_count(creq_t *r)
{
    return reply(r->q, im->set_count ? im->set_count(r->h, r->a) : -EOPNOTSUPP, NULL, 0, -1);
}

static int c_limit(creq_t *r)
{
    return reply(r->q, im->set_input_limit ? im->set_input_limit(r->h, r->a) : -EOPNOTSUPP,
                 NULL, 0, -1);
}

static int c_bufsize(creq_t *r)
{
    return reply(r->q, im->set_buffer_sizes ? im->set_buffer_sizes(r->h, r->a, r->b)
                                            : -EOPNOTSUPP, NULL, 0, -1);
}

static int c_recv(creq_t *r)
{
    if (r->a == 0 || r->a > MAX_RECV)
        return reply(r->q, -EINVAL, NULL, 0, -1);
    unsigned char *buf = malloc(r->a);
    if (buf == NULL)
        return reply(r->q, -ENOMEM, NULL, 0, -1);
    long k = im->recv(r->h, buf, r->a);
    int rc = reply(r->q, k, k > 0 ? buf : NULL, k > 0 ? (size_t)k : 0, -1);
    free(buf);
    return rc;
}

/* producer C P CHUNK...: the chunks copied, released through the suite. */
static int c_producer(creq_t *r)
{
    accp_msg_t *q = r->q;
    if (im->push_producer == NULL)
        return reply(q, -EOPNOTSUPP, NULL, 0, -1);
    sprod_t *pr = calloc(1, sizeof(*pr));
    size_t k = (size_t)(q->ntok - 3);
    if (pr == NULL || !(pr->chunks = calloc(k + 1, sizeof(void *))) ||
        !(pr->lens = calloc(k + 1, sizeof(size_t))))
        return reply(q, -ENOMEM, NULL, 0, -1);
    snprintf(pr->id, sizeof(pr->id), "%s", q->tok[2]);
    for (size_t i = 0; i < k; i++) {
        unsigned char *cp;
        size_t cn;
        if (accp_tok_bytes(q->tok[3 + i], &cp, &cn) < 0)
            return reply(q, -EINVAL, NULL, 0, -1);
        pr->chunks[i] = malloc(cn ? cn : 1);
        if (pr->chunks[i] == NULL)
            return reply(q, -ENOMEM, NULL, 0, -1);
        memcpy(pr->chunks[i], cp, cn);
        pr->lens[i] = cn;
        pr->p.n = i + 1;
    }
    pr->p.chunks = (const void *const *)pr->chunks;
    pr->p.lens = pr->lens;
    pr->p.released = released;
    pr->p.pctx = pr;
    return reply(q, im->push_producer(r->h, &pr->p), NULL, 0, -1);
}

/* What a channel verb takes after the channel. */
enum { ARG_NONE, ARG_BYTES, ARG_COUNT, ARG_COUNT2, ARG_PRODUCER };

typedef struct {
    const char *verb;
    int (*fn)(accp_msg_t *q);     /* requests that name no live channel */
    int (*chan)(creq_t *r);       /* channel requests */
    int args;
} verb_t;

static const verb_t verbs[] = {
    {"hello", do_hello, NULL, 0},          {"fork", do_fork, NULL, 0},
    {"map_new", do_map_new, NULL, 0},      {"map_default", do_map_default, NULL, 0},
    {"map_existing", do_map_existing, NULL, 0},
    {"thread_end", do_thread_end, NULL, 0}, {"nofile", do_nofile, NULL, 0},
    {"map_free", do_map_free, NULL, 0},    {"map_size", do_map_size, NULL, 0},
    {"close_all", do_close_all, NULL, 0},  {"map_exit", do_map_exit, NULL, 0},
    {"poll", do_pass, NULL, 0},            {"loop", do_pass, NULL, 0},
    {"chat_adopt", do_adopt, NULL, 0},     {"disp_adopt", do_adopt, NULL, 0},
    {"chat_connect", do_connect, NULL, 0}, {"disp_connect", do_connect, NULL, 0},
    {"listen", do_connect, NULL, 0},
    {"close", NULL, c_close, ARG_NONE},    {"free", NULL, c_free, ARG_NONE},
    {"closefd", NULL, c_closefd, ARG_NONE},
    {"close_when_done", NULL, c_close_when_done, ARG_NONE},
    {"discard", NULL, c_discard, ARG_NONE}, {"none", NULL, c_none, ARG_NONE},
    {"term", NULL, c_term, ARG_BYTES},     {"push", NULL, c_push, ARG_BYTES},
    {"send", NULL, c_send, ARG_BYTES},     {"count", NULL, c_count, ARG_COUNT},
    {"limit", NULL, c_limit, ARG_COUNT},   {"bufsize", NULL, c_bufsize, ARG_COUNT2},
    {"recv", NULL, c_recv, ARG_COUNT},     {"producer", NULL, c_producer, ARG_PRODUCER},
};

/* Whether a channel request has the arguments its verb takes. */
static int args_fit(const verb_t *vb, const creq_t *r)
{
    int nt = r->q->ntok;
    switch (vb->args) {
    case ARG_NONE: return nt == 2;
    case ARG_BYTES: return nt == 3 && r->p;
    case ARG_COUNT: return nt == 3 && !r->bad && !r->p;
    case ARG_COUNT2: return nt == 4 && !r->bad && !r->p;
    default: return nt >= 3 && r->q->tok[2][0] != '=';
    }
}

/* Decodes a channel request's arguments into r: 1, or the result of the
 * reply it sent instead (no live channel, a malformed bytes token). */
static int chan_request(accp_msg_t *q, creq_t *r)
{
    int nt = q->ntok;
    memset(r, 0, sizeof(*r));
    r->q = q;
    r->s = nt >= 2 ? find_chan(q->tok[1]) : NULL;
    if (r->s == NULL || r->s->h == NULL) {
        snprintf(conn.err, sizeof(conn.err), "request '%.30s' for no live channel or map: "
                 "\"%.80s\"", q->tok[0], q->line);
        fprintf(stderr, "%s agent: %s\n", im->name, conn.err);
        return reply(q, -EINVAL, NULL, 0, -1);
    }
    r->h = r->s->h;
    if (nt >= 3 && q->tok[2][0] == '=' && accp_tok_bytes(q->tok[2], &r->p, &r->n) < 0)
        return reply(q, -EINVAL, NULL, 0, -1);
    if (nt >= 3 && q->tok[2][0] != '=' && accp_tok_u64(q->tok[2], &r->a) < 0)
        r->bad = 1;
    if (nt >= 4 && accp_tok_u64(q->tok[3], &r->b) < 0 && strcmp(q->tok[0], "producer"))
        r->bad = 1;
    return 1;
}

static int serve(accp_conn_t *c, accp_msg_t *q)
{
    (void)c;
    const verb_t *vb = NULL;
    for (size_t k = 0; k < sizeof(verbs) / sizeof(verbs[0]) && !vb; k++)
        if (strcmp(verbs[k].verb, q->tok[0]) == 0)
            vb = &verbs[k];
    if (vb && vb->fn) {
        int done = vb->fn(q);
        if (done != DECLINE)
            return done;
    }
    creq_t r;
    int rc = chan_request(q, &r);
    if (rc != 1)
        return rc;
    if (vb && vb->chan && args_fit(vb, &r))
        return vb->chan(&r);
    fprintf(stderr, "%s agent: unknown or malformed request \"%.100s\"\n", im->name, q->line);
    return reply(q, -ENOSYS, NULL, 0, -1);
}

/* ------------------------------------------------------------- main -- */

int main(void)
{
    /* Our own copy of the table: an older adapter's is shorter (ABI 1). */
    static acc_impl_t table;
    const acc_impl_t *raw = acc_get_impl();
    if (acc_impl_adopt(&table, raw) < 0) {
        fprintf(stderr, "agent: the linked adapter's ABI is %d; this agent knows 1 to %d\n",
                raw ? raw->abi_version : -1, ACC_ABI_VERSION);
        return 2;
    }
    im = &table;
    const char *s = getenv("ACC_AGENT_FD");
    int fd = s ? atoi(s) : 3;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_IGN); /* as a zygote: forked agents reap themselves */
    for (;;) {
        accp_conn_init(&conn, fd);
        conn.serve = serve;
        conn.before_send = report_gone;
        conn.trace = getenv("ACC_AGENT_TRACE") && atoi(getenv("ACC_AGENT_TRACE")) > 1;
        conn.trace_tag = "server";
        int rc = accp_serve_loop(&conn, -1);
        if (rc == 1 && next_fd >= 0) { /* a forked child: serve its run */
            close(fd);
            accp_conn_free(&conn);
            fd = next_fd;
            next_fd = -1;
            continue;
        }
        if (rc < 0)
            fatal("protocol");
        return 0;
    }
}
