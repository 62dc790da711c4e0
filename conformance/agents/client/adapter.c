/* adapter.c: the agent client, the suite's adapter for an implementation
 * in any language: it implements acc_impl_t by talking the agent protocol
 * (docs/agent-protocol.md) to the process $ACC_AGENT names. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "acc_adapter.h"
#include "acc_common.h"
#include "acc_proto.h"

/* Shape.  acc_get_impl() (in the runner's parent, before any run is forked)
 * starts the agent once for the handshake, so the runner can plan with the
 * agent's name, backends and capabilities.  Every forked run then gets a
 * fresh agent of its own, forked from that first one when it offers
 * "fork" (fast), else spawned anew.  Sockets under test cross as real
 * descriptors; the adapter keeps a view of each channel's socket (the
 * descriptor the suite adopted, or a duplicate the agent sent back), which
 * the suite reads with FIONREAD, getsockname and close-fd, and drops it the
 * moment the agent reports the channel closed.  A dead, silent or garbled
 * agent ends the run at once with a message on stderr and exit status
 * ACC_AGENT_EXIT, which the runner reports as ERROR. */

/* Exit status of a run whose agent failed: the runner's libcheck reports
 * "Early exit with return value 86" as ERROR; the reason is on stderr. */
#define ACC_AGENT_EXIT 86
#define START_TIMEOUT_MS 20000  /* a cold interpreter on a loaded machine */

typedef struct amap {
    char id[24];
    struct athread *owner; /* the suite thread whose default it is, or NULL */
    struct amap *next;  /* every map of the run, kept (see map_free) */
} amap_t;

typedef struct achan {
    char id[24];
    const acc_events_t *ev;
    void *ctx;
    int lfd;            /* our view of the agent's socket, -1: none */
    int lfd_ours;       /* we close it; 0 once the suite closed it (close-fd) */
    dev_t dev;
    ino_t ino;
    int open;           /* the agent's socket is open */
    struct achan *next;
} achan_t;

typedef struct aprod {
    char id[24];
    void (*released)(void *pctx);
    void *pctx;
    struct aprod *next;
} aprod_t;

/* The process's agent.  Guarded by lock, which is recursive because the
 * suite's callbacks call back in from the thread that holds it. */
static struct {
    pthread_mutex_t lock;
    const char *cmd;
    int slot;           /* descriptor number reserved for the connection */
    pid_t owner;        /* the process whose agent is connected in slot */
    pid_t pid;          /* the agent; 0 if unknown (forked by the zygote) */
    int spawned;        /* pid is our child */
    accp_conn_t conn;
    int zygote;         /* handshake agent kept to fork runs from; -1 none */
    pid_t zygote_pid, zygote_owner;
    int timeout_ms;
    int trace;
    const char *current; /* request being waited for, for messages */
    achan_t *chans;
    aprod_t *prods;
    amap_t *maps;
    unsigned next_id;
    unsigned next_tid;
    rlim_t nofile;      /* the suite's soft descriptor limit last mirrored */
} A = {.lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP, .slot = -1, .zygote = -1};

/* The handshake's answers, kept for the runner. */
static char agent_name[128] = "agent", agent_version[128] = "?";
static char backend_store[256];
static const char *backend_list[9];
static unsigned agent_caps;
static int agent_forks;

static void stop_agent(int hard);

/* ------------------------------------------------------------ failure -- */

/* The agent failed: say why, end the agent, end this run (ERROR). */
static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "acc agent client: agent '%s' (%s): %s%s%s\n", agent_name,
            A.cmd ? A.cmd : "?", msg, A.current ? " -- while waiting for: " : "",
            A.current ? A.current : "");
    fflush(stderr);
    stop_agent(1);
    _exit(ACC_AGENT_EXIT);
}

static int env_int(const char *name, int dflt)
{
    const char *s = getenv(name);
    return s && *s ? atoi(s) : dflt;
}

/* --------------------------------------------------------- processes -- */

static void close_from(int lo)
{
#ifdef __linux__
    if (close_range((unsigned)lo, ~0u, 0) == 0)
        return;
#endif
    for (int fd = lo; fd < 4096; fd++)
        close(fd);
}

/* Starts $ACC_AGENT with one end of a new socketpair as its fd 3.  Returns
 * our end, or -1.  Only async-signal-safe calls between fork and exec: the
 * suite may be multi-threaded here. */
static int spawn(pid_t *pid_out)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    char *cmd = malloc(strlen(A.cmd) + 8);
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (cmd == NULL || devnull < 0) {
        free(cmd);
        close(sv[0]), close(sv[1]);
        if (devnull >= 0)
            close(devnull);
        return -1;
    }
    strcpy(cmd, "exec ");
    strcat(cmd, A.cmd);
    pid_t parent = getpid();
#ifdef __linux__
    /* The agent dies with the process that started it (the runner, or a
     * run the runner forked), which a SIGKILL may end without a word.  The
     * death signal follows the forking thread, so only when that thread
     * lasts as long as the process; otherwise the agent ends when its
     * connection closes. */
    int die_with_us = syscall(SYS_gettid) == parent;
#endif
    pid_t pid = fork();
    if (pid == 0) {
#ifdef __linux__
        if (die_with_us && (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent))
            _exit(127);
#endif
        /* The agent's stdout is not the protocol channel; it is silenced
         * unless tracing, since CPython prints a line per handle_error. */
        dup2(devnull, 0);
        if (!A.trace)
            dup2(devnull, 1);
        else
            dup2(2, 1);
        if (sv[1] == 3)
            fcntl(3, F_SETFD, 0);
        else if (dup2(sv[1], 3) < 0)
            _exit(127);
        /* No other descriptor of the suite may live on in the agent: a
         * stray copy of a peer socket would hide end of stream. */
        close_from(4);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    free(cmd);
    close(devnull);
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        return -1;
    }
    *pid_out = pid;
    return sv[0];
}

static void reap(pid_t pid, int hard)
{
    int st;
    for (int i = 0; i < (hard ? 0 : 100); i++) {
        if (waitpid(pid, &st, WNOHANG) != 0)
            return;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
}

/* Ends this process's agent: closing the connection is the request to exit
 * (hard: kill it now).  The slot keeps its number, pointing at /dev/null,
 * so the suite's descriptor count does not change. */
static void stop_agent(int hard)
{
    if (A.owner != getpid())
        return;
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull >= 0) {
        dup3(devnull, A.slot, O_CLOEXEC);
        close(devnull);
    }
    A.conn.fd = -1; /* closed by the dup3 above */
    accp_conn_free(&A.conn);
    if (A.pid > 0 && A.spawned)
        reap(A.pid, hard);
    else if (A.pid > 0 && hard)
        kill(A.pid, SIGKILL);
    A.pid = 0;
    A.owner = 0;
}

static void at_exit(void)
{
    stop_agent(0);
    if (A.zygote >= 0 && A.zygote_owner == getpid()) {
        close(A.zygote);
        A.zygote = -1;
        reap(A.zygote_pid, 0);
    }
}

/* ---------------------------------------------------------- handshake -- */

static int tok_value(char *tok, const char *key, char *out, size_t cap)
{
    size_t k = strlen(key);
    unsigned char *v;
    size_t n;
    if (strncmp(tok, key, k) != 0 || tok[k] != '=' ||
        accp_tok_bytes(tok + k, &v, &n) < 0 || n >= cap)
        return 0;
    memcpy(out, v, n);
    out[n] = '\0';
    return 1;
}

/* "hello 1" and its answer.  first: record what the agent declares (the
 * parent); later connections only check that the agent answers. */
static int hello(accp_conn_t *c, int first, char *err, size_t errlen)
{
    accp_msg_t r;
    char body[32];
    int n = snprintf(body, sizeof(body), "hello %d", ACCP_VERSION);
    if (accp_call(c, body, (size_t)n, -1, &r, START_TIMEOUT_MS) < 0) {
        snprintf(err, errlen, "handshake: %s", c->err);
        return -1;
    }
    long rc;
    accp_tok_rc(r.tok[0], &rc);
    if (rc < 0) {
        snprintf(err, errlen, "handshake refused (%s): the agent does not speak "
                 "protocol version %d", r.tok[0], ACCP_VERSION);
        accp_msg_free(&r);
        return -1;
    }
    if (first) {
        char caps[512] = "", feats[256] = "", proto[16] = "";
        for (int i = 1; i < r.ntok; i++) {
            tok_value(r.tok[i], "name", agent_name, sizeof(agent_name));
            tok_value(r.tok[i], "version", agent_version, sizeof(agent_version));
            tok_value(r.tok[i], "backends", backend_store, sizeof(backend_store));
            tok_value(r.tok[i], "caps", caps, sizeof(caps));
            tok_value(r.tok[i], "features", feats, sizeof(feats));
            tok_value(r.tok[i], "proto", proto, sizeof(proto));
        }
        if (atoi(proto) != ACCP_VERSION || backend_store[0] == '\0') {
            snprintf(err, errlen, "handshake answer lacks proto=%d or backends=: \"%s\"",
                     ACCP_VERSION, r.line);
            accp_msg_free(&r);
            return -1;
        }
        int nb = 0;
        char *save = NULL;
        for (char *b = strtok_r(backend_store, ",", &save); b && nb < 8;
             b = strtok_r(NULL, ",", &save))
            backend_list[nb++] = b;
        backend_list[nb] = NULL;
        save = NULL;
        for (char *t = strtok_r(caps, ",", &save); t; t = strtok_r(NULL, ",", &save))
            agent_caps |= acc_cap_by_name(t, ACC_ON_WIRE);
        save = NULL;
        for (char *t = strtok_r(feats, ",", &save); t; t = strtok_r(NULL, ",", &save))
            if (strcmp(t, "fork") == 0)
                agent_forks = 1;
    }
    accp_msg_free(&r);
    return 0;
}

/* Asks the zygote for a fresh agent on a new socketpair.  The request's
 * sequence number is a timestamp: runs are sequential, so it increases,
 * and a reply left over from a run that died mid-request is recognised as
 * stale and skipped. */
static int fork_from_zygote(pid_t *pid_out, char *err, size_t errlen)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        snprintf(err, errlen, "socketpair: %s", strerror(errno));
        return -1;
    }
    accp_conn_t z;
    accp_conn_init(&z, A.zygote);
    z.timeout_ms = A.timeout_ms;
    z.trace = A.trace;
    z.trace_tag = "client/zygote";
    uint64_t seq = (uint64_t)acc_mono_ns() / 1000;
    char line[64];
    int n = snprintf(line, sizeof(line), "Q %llu fork @", (unsigned long long)seq);
    int rc = accp_send_line(&z, line, (size_t)n, sv[1]);
    close(sv[1]);
    while (rc == 0) {
        accp_msg_t r;
        if (accp_read(&z, &r, A.timeout_ms) < 0) {
            rc = -1;
            break;
        }
        if (r.kind == 'R' && r.seq < seq) {
            accp_msg_free(&r); /* stale: for a run that is gone */
            continue;
        }
        long pid = -1;
        if (r.kind != 'R' || r.seq != seq || accp_tok_rc(r.tok[0], &pid) < 0 || pid <= 0) {
            snprintf(z.err, sizeof(z.err), "bad answer to fork: \"%.80s\"", r.line);
            rc = -1;
        } else {
            *pid_out = (pid_t)pid;
        }
        accp_msg_free(&r);
        break;
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s", z.err);
        close(sv[0]);
    }
    z.fd = -1;
    accp_conn_free(&z);
    return rc < 0 ? -1 : sv[0];
}

static int conn_serve(accp_conn_t *c, accp_msg_t *q);
static int conn_notify(accp_conn_t *c, accp_msg_t *n);

/* This process's agent, started on first use.  A forked run finds the
 * parent's state (owner is another pid) and starts its own. */
static void ensure_agent(void)
{
    if (A.owner == getpid())
        return;
    char err[600] = "";
    pid_t pid = 0;
    int fd = -1, spawned = 0;
    if (A.zygote >= 0) {
        fd = fork_from_zygote(&pid, err, sizeof(err));
        if (fd < 0)
            fprintf(stderr, "acc agent client: the agent could not fork a fresh "
                    "copy (%s); starting one instead\n", err);
    }
    if (fd < 0) {
        fd = spawn(&pid);
        spawned = 1;
        if (fd < 0)
            die("cannot start: %s", strerror(errno));
    }
    /* Into the reserved slot: the suite counts descriptors around a run. */
    if (dup3(fd, A.slot, O_CLOEXEC) < 0)
        die("dup3: %s", strerror(errno));
    close(fd);
    accp_conn_init(&A.conn, A.slot);
    A.conn.timeout_ms = A.timeout_ms;
    A.conn.serve = conn_serve;
    A.conn.notify = conn_notify;
    A.conn.trace = A.trace;
    A.conn.trace_tag = "client";
    A.owner = getpid();
    A.pid = pid;
    A.spawned = spawned;
    /* The descriptor limit the agent started with: a spawned one inherits
     * ours as it is now, a forked one the zygote's (recorded at the
     * handshake), which a test may have changed since. */
    struct rlimit rl;
    if (spawned)
        A.nofile = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 0;
    if (hello(&A.conn, 0, err, sizeof(err)) < 0)
        die("%s", err);
}

/* ------------------------------------------------------------ records -- */

static achan_t *chan_find(const char *id)
{
    for (achan_t *c = A.chans; c; c = c->next)
        if (strcmp(c->id, id) == 0)
            return c;
    return NULL;
}

static achan_t *chan_new(const acc_events_t *ev, void *ctx)
{
    achan_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    snprintf(c->id, sizeof(c->id), "c%u", ++A.next_id);
    c->ev = ev;
    c->ctx = ctx;
    c->lfd = -1;
    c->next = A.chans;
    A.chans = c;
    return c;
}

/* Takes fd as our view of the channel's socket. */
static void chan_attach(achan_t *c, int fd)
{
    struct stat st;
    c->lfd = fd;
    c->lfd_ours = fstat(fd, &st) == 0;
    c->dev = st.st_dev;
    c->ino = st.st_ino;
    c->open = 1;
}

/* Is our view still the socket we were given?  The suite's close-fd step
 * closes it behind everyone's back, and the number may be reused since. */
static int lfd_intact(const achan_t *c)
{
    struct stat st;
    return fstat(c->lfd, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino;
}

static void chan_gone(achan_t *c)
{
    if (c->lfd_ours && lfd_intact(c))
        close(c->lfd);
    c->lfd_ours = 0;
    c->open = 0;
}

/* --------------------------------------------------------- the pump -- */

static int reply_rc(accp_conn_t *c, accp_msg_t *q, long rc)
{
    accp_buf_t b;
    accp_buf_init(&b);
    accp_put_rc(&b, rc);
    int r = accp_reply(c, q, b.p, b.n, -1);
    accp_buf_free(&b);
    return r;
}

/* An event from the agent: a handler of one of its channels ran, or a
 * producer was released.  The suite's callback runs here, and may call
 * back into the agent before we answer. */
static int conn_serve(accp_conn_t *c, accp_msg_t *q)
{
    const char *verb = q->tok[0];
    if (strcmp(verb, "released") == 0 && q->ntok == 2) {
        for (aprod_t *p = A.prods; p; p = p->next)
            if (strcmp(p->id, q->tok[1]) == 0) {
                if (p->released)
                    p->released(p->pctx);
                return reply_rc(c, q, 0);
            }
        snprintf(c->err, sizeof(c->err), "release of unknown producer '%.30s'", q->tok[1]);
        return -1;
    }
    achan_t *ch = q->ntok >= 2 ? chan_find(q->tok[1]) : NULL;
    if (ch == NULL) {
        snprintf(c->err, sizeof(c->err), "event '%.30s' for unknown channel '%.30s'",
                 verb, q->ntok >= 2 ? q->tok[1] : "");
        return -1;
    }
    const acc_events_t *ev = ch->ev;
    long rc = 0;
    int want = 2; /* tokens the event must have */
    if (strcmp(verb, "collect") == 0) {
        unsigned char *p;
        size_t n;
        if (q->ntok != 3 || accp_tok_bytes(q->tok[2], &p, &n) < 0)
            goto bad;
        ev->collect(ch->ctx, p, n); /* even empty: the suite judges T4, not us */
        want = 3;
    } else if (strcmp(verb, "found") == 0) {
        ev->found(ch->ctx);
    } else if (strcmp(verb, "close") == 0) {
        ev->close(ch->ctx);
    } else if (strcmp(verb, "error") == 0) {
        int e = q->ntok >= 3 ? accp_errno_by_name(q->tok[2]) : 0;
        if (e == 0)
            goto bad;
        want = q->ntok; /* an optional description may follow */
        ev->error(ch->ctx, -e);
    } else if (strcmp(verb, "connect") == 0) {
        ev->connect(ch->ctx);
    } else if (strcmp(verb, "accept") == 0) {
        if (q->ntok != 3 || q->nfds != 1)
            goto bad;
        int fd = q->fds[0];
        q->fds[0] = -1; /* the suite owns it now */
        want = 3;
        ev->accept(ch->ctx, fd);
    } else if (strcmp(verb, "readable") == 0) {
        rc = ev->readable ? ev->readable(ch->ctx) != 0 : 1;
    } else if (strcmp(verb, "writable") == 0) {
        rc = ev->writable ? ev->writable(ch->ctx) != 0 : 0;
    } else if (strcmp(verb, "read") == 0) {
        ev->read(ch->ctx);
    } else if (strcmp(verb, "write") == 0) {
        ev->write(ch->ctx);
    } else {
        snprintf(c->err, sizeof(c->err), "unknown event '%.30s'", verb);
        return -1;
    }
    if (q->ntok != want)
        goto bad;
    return reply_rc(c, q, rc);
bad:
    snprintf(c->err, sizeof(c->err), "malformed event: \"%.100s\"", q->line);
    return -1;
}

static int conn_notify(accp_conn_t *c, accp_msg_t *n)
{
    if (strcmp(n->tok[0], "gone") == 0 && n->ntok == 2) {
        achan_t *ch = chan_find(n->tok[1]);
        if (ch) {
            chan_gone(ch);
            return 0;
        }
    }
    snprintf(c->err, sizeof(c->err), "bad notification: \"%.100s\"", n->line);
    return -1;
}

static long call(accp_buf_t *b, int fd, accp_msg_t *reply, int extra_ms);

/* Before any request: a socket the suite closed behind the implementation's
 * back (close-fd) is closed in the agent too, so the agent's implementation
 * meets the same invalid descriptor an in-process one would. */
static void sync_nofile(void);
static void sync_closed_fds(void)
{
    for (achan_t *c = A.chans; c; c = c->next) {
        if (!c->open || !c->lfd_ours || lfd_intact(c))
            continue;
        c->lfd_ours = 0;
        accp_buf_t b;
        accp_buf_init(&b);
        accp_put_tok(&b, "closefd");
        accp_put_tok(&b, c->id);
        call(&b, -1, NULL, 0);
        accp_buf_free(&b);
    }
}

/* Before any request: when the suite changed its descriptor limit (a test
 * about running out of descriptors, or one above FD_SETSIZE), the agent
 * gets the same headroom: as many free numbers above its lowest free one
 * as the suite has above its own. */
static void sync_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == A.nofile)
        return;
    A.nofile = rl.rlim_cur;
    rlim_t lowest = 0;
    while (lowest < rl.rlim_cur && fcntl((int)lowest, F_GETFD) >= 0)
        lowest++;
    accp_buf_t b;
    accp_buf_init(&b);
    accp_put_tok(&b, "nofile");
    accp_put_u64(&b, rl.rlim_cur == RLIM_INFINITY ? (uint64_t)1 << 20
                                                  : (uint64_t)(rl.rlim_cur - lowest));
    call(&b, -1, NULL, 0);
    accp_buf_free(&b);
}

/* One request and its reply: the result (count or negative errno).  With
 * reply non-NULL the caller gets the message and frees it. */
static long call(accp_buf_t *b, int fd, accp_msg_t *reply, int extra_ms)
{
    ensure_agent();
    if (b->oom)
        die("out of memory building a request");
    if (strncmp(b->p, "closefd", 7) != 0 && strncmp(b->p, "nofile", 6) != 0) {
        sync_closed_fds();
        sync_nofile();
    }
    const char *saved = A.current;
    char what[96];
    snprintf(what, sizeof(what), "%.80s%s", b->p, b->n > 80 ? "..." : "");
    A.current = what;
    accp_msg_t r;
    int timeout = A.timeout_ms + (extra_ms > 0 ? extra_ms : 0);
    if (accp_call(&A.conn, b->p, b->n, fd, &r, timeout) < 0) {
        int st;
        /* An agent that died closes the connection a moment before it can
         * be reaped: give it that moment, for a better message. */
        pid_t got = 0;
        for (int i = 0; A.spawned && A.pid > 0 && got == 0 && i < 50; i++) {
            got = waitpid(A.pid, &st, WNOHANG);
            if (got == 0) {
                struct timespec ts = {0, 4000000};
                nanosleep(&ts, NULL);
            }
        }
        if (got == A.pid && A.pid > 0) {
            A.pid = 0;
            if (WIFSIGNALED(st))
                die("%s; the agent was killed by signal %d", A.conn.err, WTERMSIG(st));
            die("%s; the agent exited with status %d", A.conn.err, WEXITSTATUS(st));
        }
        die("%s", A.conn.err);
    }
    A.current = saved;
    long rc;
    accp_tok_rc(r.tok[0], &rc);
    if (reply)
        *reply = r;
    else
        accp_msg_free(&r);
    return rc;
}

/* Builds "verb id..." requests. */
static long req(const char *verb, const char *a1, const char *a2)
{
    accp_buf_t b;
    accp_buf_init(&b);
    accp_put_tok(&b, verb);
    if (a1)
        accp_put_tok(&b, a1);
    if (a2)
        accp_put_tok(&b, a2);
    long rc = call(&b, -1, NULL, 0);
    accp_buf_free(&b);
    return rc;
}

#define LOCKED(expr)                     \
    do {                                 \
        pthread_mutex_lock(&A.lock);     \
        __typeof__(expr) r_ = (expr);    \
        pthread_mutex_unlock(&A.lock);   \
        return r_;                       \
    } while (0)

/* --------------------------------------------------------------- maps -- */

static int map_new_l(void **out)
{
    amap_t *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return -ENOMEM;
    snprintf(m->id, sizeof(m->id), "m%u", ++A.next_id);
    long rc = req("map_new", m->id, NULL);
    if (rc < 0) {
        free(m);
        return (int)rc;
    }
    m->next = A.maps;
    A.maps = m;
    *out = m;
    return 0;
}
static int map_new(void **out) { LOCKED(map_new_l(out)); }

/* The calling suite thread's default map.  Each suite thread gets a number
 * the agent can tell apart (M1: defaults are per thread), and the agent
 * hears when the thread ends (M10: its default map may end with it); whether
 * the agent's implementation keeps them apart is what the cases check.  The
 * thread's record lives as long as the run: its number stays when its
 * default map is destroyed, so the agent goes on serving it from the same
 * thread of its own, and the next default map gets a new map id. */
typedef struct athread {
    unsigned tid;
    amap_t *map;        /* the current default map; NULL: none (M1) */
} athread_t;

static _Thread_local athread_t *tls_thread;

static pthread_key_t default_key;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

/* The record is kept: whether the map is really gone (map_free inside its
 * own pass is refused, M9) only the implementation knows, and a refused
 * map goes on being used.  A few bytes per map, per run.  A default map
 * (given as NULL or by its record) is forgotten by its thread all the same:
 * the agent frees it from that thread of its own and asks its
 * implementation again on the next use, which gives back the same map if
 * the free was refused (the map is still the thread's default) and a new
 * one otherwise (M1). */
static void map_free(void *map)
{
    pthread_mutex_lock(&A.lock);
    amap_t *m = map;
    if (m == NULL)
        m = tls_thread ? tls_thread->map : NULL; /* none: M1, nothing to free */
    if (m) {
        req("map_free", m->id, NULL);
        if (m->owner && m->owner->map == m)
            m->owner->map = NULL;
    }
    pthread_mutex_unlock(&A.lock);
}

static void thread_ended(void *p)
{
    athread_t *t = p;
    pthread_mutex_lock(&A.lock);
    if (A.owner == getpid()) { /* the agent of this process still runs */
        char tid[16];
        snprintf(tid, sizeof(tid), "%u", t->tid);
        req("thread_end", tid, NULL);
    }
    t->map = NULL; /* the map record stays: the suite may still name it */
    pthread_mutex_unlock(&A.lock);
    tls_thread = NULL;
}

static void default_key_init(void)
{
    (void)pthread_key_create(&default_key, thread_ended);
}

/* The calling thread's record, numbered on first use; NULL: no memory. */
static athread_t *this_thread(void)
{
    if (tls_thread)
        return tls_thread;
    pthread_once(&default_once, default_key_init);
    athread_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->tid = ++A.next_tid; /* from 1: no suite thread is the agent's own */
    if (pthread_setspecific(default_key, t) != 0) {
        free(t);
        return NULL;
    }
    return tls_thread = t;
}

/* The thread's default map under a new id: verb "map_default" makes one if
 * the thread has none, "map_existing" names only one it has.  NULL if there
 * is none (or no memory). */
static amap_t *ask_default(athread_t *t, const char *verb)
{
    amap_t *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    snprintf(m->id, sizeof(m->id), "m%u", ++A.next_id);
    char tid[16];
    snprintf(tid, sizeof(tid), "%u", t->tid);
    if (req(verb, m->id, tid) < 0) {
        free(m);
        return NULL;
    }
    m->owner = t;
    m->next = A.maps;
    A.maps = m;
    return t->map = m;
}

static void *map_default_l(void)
{
    athread_t *t = this_thread();
    if (t == NULL)
        return NULL;
    return t->map ? t->map : ask_default(t, "map_default");
}
static void *map_default(void) { LOCKED(map_default_l()); }

static const char *map_id(void *map)
{
    amap_t *m = map ? map : map_default_l();
    return m ? m->id : "m0";
}

/* map_size, close_all and map_exit given NULL only read or empty the
 * thread's default map, and M1 says they never make one: a thread whose
 * default the client has no record of asks the agent whether its
 * implementation has one ("map_existing": an implementation whose default
 * is process-wide, like asyncore's socket_map, always has), and with none
 * the answer is the one M1 fixes for a map that does not exist -- size 0,
 * nothing closed, nothing to exit -- given here, as nothing was asked of
 * the implementation.  NULL: no map (or no memory to name one). */
static amap_t *existing(void *map)
{
    if (map)
        return map;
    athread_t *t = this_thread();
    if (t == NULL)
        return NULL;
    return t->map ? t->map : ask_default(t, "map_existing");
}

static long map_size_l(void *map)
{
    amap_t *m = existing(map);
    return m ? req("map_size", m->id, NULL) : 0;
}
static int close_all_l(void *map)
{
    amap_t *m = existing(map);
    return m ? (int)req("close_all", m->id, NULL) : 0;
}
static int map_exit_l(void *map)
{
    amap_t *m = existing(map);
    return m ? (int)req("map_exit", m->id, NULL) : 0;
}
static long map_size(void *map) { LOCKED(map_size_l(map)); }
static int close_all(void *map) { LOCKED(close_all_l(map)); }
static int map_exit(void *map) { LOCKED(map_exit_l(map)); }

static int pass_l(const char *verb, void *map, const char *be, int timeout_ms,
                  int count, int with_count)
{
    accp_buf_t b;
    accp_buf_init(&b);
    accp_put_tok(&b, verb);
    accp_put_tok(&b, map_id(map));
    accp_put_tok(&b, be ? be : "-");
    accp_put_i64(&b, timeout_ms);
    if (with_count)
        accp_put_i64(&b, count);
    /* A pass may legitimately wait out its timeout (or loop that many
     * times) before answering; an infinite one is bounded by the runner. */
    int extra = timeout_ms < 0 ? 3600000 : timeout_ms * (with_count && count > 0 ? count : 1);
    long rc = call(&b, -1, NULL, extra);
    accp_buf_free(&b);
    return (int)rc;
}
static int poll_once(void *map, const char *be, int t) { LOCKED(pass_l("poll", map, be, t, 0, 0)); }

static int declared_backend(const char *be)
{
    for (int i = 0; be && backend_list[i]; i++)
        if (strcmp(backend_list[i], be) == 0)
            return 1;
    return be == NULL;
}

/* loop given NULL is one of M1's operations that never make the default map:
 * with none in the implementation, a valid loop has no channel to serve and
 * returns 0 at once (L7), as nothing was asked of the implementation.  A
 * loop whose arguments are wrong still goes to the implementation (on a
 * default map made for it), whose error is the one to judge (E2). */
static int loop_l(void *map, const char *be, int t, int count)
{
    if (map == NULL && count >= 0 && t >= -1 && declared_backend(be) &&
        (map = existing(NULL)) == NULL)
        return 0;
    return pass_l("loop", map, be, t, count, 1);
}
static int loop(void *map, const char *be, int t, int count) { LOCKED(loop_l(map, be, t, count)); }

/* ----------------------------------------------------------- channels -- */

/* Adopting a suite descriptor: it crosses to the agent, and on success the
 * descriptor itself stays here as our view of the socket (the suite gave it
 * away; closing it is ours).  Two details keep descriptor numbers meaning
 * what they mean in-process: the suite's number travels as a hint (fd=N),
 * which the agent honours when that number is free on its side (a socket
 * placed above FD_SETSIZE stays there, L13); and a descriptor that is
 * already one of our channels' views is named (fdof=cK) instead of sent, so
 * the agent's implementation sees its own descriptor again (M3, EEXIST). */
static achan_t *chan_by_lfd(int fd)
{
    for (achan_t *c = A.chans; c; c = c->next)
        if (c->open && c->lfd == fd && lfd_intact(c))
            return c;
    return NULL;
}

static int adopt_l(const char *verb, void **out, void *map, int fd,
                   const acc_events_t *ev, void *ctx)
{
    /* A number that names nothing here cannot cross to the agent: that is
     * E3's "adopting an invalid descriptor", refused as the spec says. */
    if (fd < 0 || fcntl(fd, F_GETFD) < 0)
        return -EBADF;
    achan_t *same = chan_by_lfd(fd);
    achan_t *c = chan_new(ev, ctx);
    if (c == NULL)
        return -ENOMEM;
    accp_buf_t b;
    accp_buf_init(&b);
    accp_put_tok(&b, verb);
    accp_put_tok(&b, c->id);
    accp_put_tok(&b, map_id(map));
    if (same) {
        accp_put_printf(&b, "fdof=%s", same->id);
    } else {
        accp_put_tok(&b, "@");
        accp_put_printf(&b, "fd=%d", fd);
    }
    long rc = call(&b, same ? -1 : fd, NULL, 0);
    accp_buf_free(&b);
    if (rc < 0)
        return (int)rc; /* c stays: a failed constructor may still have events */
    chan_attach(c, fd);
    if (same)
        c->lfd_ours = 0; /* one view, already the other channel's */
    *out = c;
    return 0;
}
static int chat_adopt(void **out, void *map, int fd, const acc_events_t *ev, void *ctx)
{
    LOCKED(adopt_l("chat_adopt", out, map, fd, ev, ctx));
}
static int disp_adopt(void **out, void *map, int fd, const acc_events_t *ev, void *ctx)
{
    LOCKED(adopt_l("disp_adopt", out, map, fd, ev, ctx));
}

/* "inet:127.0.0.1:80", "inet6:[::1]:80" or "unix:=<escaped path>". */
static int put_addr(accp_buf_t *b, const struct sockaddr *sa, socklen_t len)
{
    char host[INET6_ADDRSTRLEN], t[INET6_ADDRSTRLEN + 32];
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *a = (const void *)sa;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        snprintf(t, sizeof(t), "inet:%s:%u", host, ntohs(a->sin_port));
    } else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *a = (const void *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        snprintf(t, sizeof(t), "inet6:[%s]:%u", host, ntohs(a->sin6_port));
    } else if (sa->sa_family == AF_UNIX) {
        const struct sockaddr_un *a = (const void *)sa;
        size_t n = strnlen(a->sun_path, sizeof(a->sun_path));
        accp_buf_t tmp;
        accp_buf_init(&tmp);
        accp_put_bytes(&tmp, a->sun_path, n);
        accp_put_printf(b, "unix:%s", tmp.p ? tmp.p : "=");
        accp_buf_free(&tmp);
        return 0;
    } else {
        return -EAFNOSUPPORT;
    }
    accp_put_tok(b, t);
    return 0;
}

/* A channel whose socket the agent creates: the reply carries a duplicate
 * of it, our view of the socket. */
static int create_l(const char *verb, void **out, void *map,
                    const struct sockaddr *addr, socklen_t len,
                    const acc_events_t *ev, void *ctx)
{
    achan_t *c = chan_new(ev, ctx);
    if (c == NULL)
        return -ENOMEM;
    accp_buf_t b;
    accp_buf_init(&b);
    accp_put_tok(&b, verb);
    accp_put_tok(&b, c->id);
    accp_put_tok(&b, map_id(map));
    int rc = put_addr(&b, addr, len);
    if (rc < 0) {
        accp_buf_free(&b);
        return rc;
    }
    accp_msg_t r;
    long res = call(&b, -1, &r, 0);
    accp_buf_free(&b);
    if (res < 0) {
        accp_msg_free(&r);
        return (int)res;
    }
    if (r.ntok != 2 || r.nfds != 1)
        die("the reply to %s must carry the socket ('@'): \"%.80s\"", verb, r.line);
    chan_attach(c, r.fds[0]);
    r.fds[0] = -1;
    accp_msg_free(&r);
    *out = c;
    return 0;
}
static int chat_connect(void **out, void *map, const struct sockaddr *a, socklen_t l,
                        const acc_events_t *ev, void *ctx)
{
    LOCKED(create_l("chat_connect", out, map, a, l, ev, ctx));
}
static int disp_connect(void **out, void *map, const struct sockaddr *a, socklen_t l,
                        const acc_events_t *ev, void *ctx)
{
    LOCKED(create_l("disp_connect", out, map, a, l, ev, ctx));
}
static int listen_on(void **out, void *map, const struct sockaddr *a, socklen_t l,
                     const acc_events_t *ev, void *ctx)
{
    LOCKED(create_l("listen", out, map, a, l, ev, ctx));
}

static int ch_fd_l(achan_t *c) { return c->open ? c->lfd : -1; }
static int ch_fd(void *p) { LOCKED(ch_fd_l(p)); }
static int ch_close(void *p) { LOCKED((int)req("close", ((achan_t *)p)->id, NULL)); }

static void ch_free(void *p)
{
    pthread_mutex_lock(&A.lock);
    achan_t *c = p;
    req("free", c->id, NULL);
    /* The agent has closed its socket: ours goes too.  The record stays,
     * in case a broken implementation still reports events for it. */
    chan_gone(c);
    pthread_mutex_unlock(&A.lock);
}

static long recv_l(achan_t *c, void *buf, size_t len)
{
    accp_buf_t b;
    accp_buf_init(&b);
    accp_put_tok(&b, "recv");
    accp_put_tok(&b, c->id);
    accp_put_u64(&b, len);
    accp_msg_t r;
    long rc = call(&b, -1, &r, 0);
    accp_buf_free(&b);
    unsigned char *p;
    size_t n;
    if (rc > 0 && (r.ntok != 2 || accp_tok_bytes(r.tok[1], &p, &n) < 0 ||
                   n != (size_t)rc || n > len))
        die("the reply to recv must carry exactly its count of bytes: \"%.80s\"", r.line);
    if (rc > 0)
        memcpy(buf, p, n);
    accp_msg_free(&r);
    return rc;
}
static long ch_recv(void *p, void *buf, size_t len) { LOCKED(recv_l(p, buf, len)); }

static long bytes_req(const char *verb, achan_t *c, const void *data, size_t n)
{
    accp_buf_t b;
    accp_buf_init(&b);
    accp_put_tok(&b, verb);
    accp_put_tok(&b, c->id);
    accp_put_bytes(&b, data, n);
    long rc = call(&b, -1, NULL, 0);
    accp_buf_free(&b);
    return rc;
}
static long ch_send(void *p, const void *d, size_t n) { LOCKED(bytes_req("send", p, d, n)); }
static int set_term(void *p, const void *t, size_t n) { LOCKED((int)bytes_req("term", p, t, n)); }
static int push(void *p, const void *d, size_t n) { LOCKED((int)bytes_req("push", p, d, n)); }

static long nums_req(const char *verb, achan_t *c, int k, uint64_t a, uint64_t b2)
{
    accp_buf_t b;
    accp_buf_init(&b);
    accp_put_tok(&b, verb);
    accp_put_tok(&b, c->id);
    if (k > 0)
        accp_put_u64(&b, a);
    if (k > 1)
        accp_put_u64(&b, b2);
    long rc = call(&b, -1, NULL, 0);
    accp_buf_free(&b);
    return rc;
}
static int set_count(void *p, uint64_t n) { LOCKED((int)nums_req("count", p, 1, n, 0)); }
static int set_none(void *p) { LOCKED((int)nums_req("none", p, 0, 0, 0)); }
static int set_limit(void *p, size_t n) { LOCKED((int)nums_req("limit", p, 1, n, 0)); }
static int set_bufs(void *p, size_t in, size_t out)
{
    LOCKED((int)nums_req("bufsize", p, 2, in, out));
}
static int cwd(void *p) { LOCKED((int)nums_req("close_when_done", p, 0, 0, 0)); }
static int discard(void *p) { LOCKED((int)nums_req("discard", p, 0, 0, 0)); }

/* A producer crosses whole: its chunks travel with the request, and the
 * agent reports its release as an event. */
static int producer_l(achan_t *c, const acc_producer_t *src)
{
    aprod_t *pr = calloc(1, sizeof(*pr));
    if (pr == NULL)
        return -ENOMEM;
    snprintf(pr->id, sizeof(pr->id), "p%u", ++A.next_id);
    pr->released = src->released;
    pr->pctx = src->pctx;
    pr->next = A.prods;
    A.prods = pr;
    accp_buf_t b;
    accp_buf_init(&b);
    accp_put_tok(&b, "producer");
    accp_put_tok(&b, c->id);
    accp_put_tok(&b, pr->id);
    for (size_t i = 0; i < src->n; i++)
        accp_put_bytes(&b, src->chunks[i], src->lens[i]);
    long rc = call(&b, -1, NULL, 0);
    accp_buf_free(&b);
    return (int)rc;
}
static int push_producer(void *p, const acc_producer_t *src) { LOCKED(producer_l(p, src)); }

/* ---------------------------------------------------------- the table -- */

static acc_impl_t impl = {
    .abi_version = ACC_ABI_VERSION,
    .name = agent_name,
    .version = agent_version,
    .backends = backend_list,
    .map_new = map_new,
    .map_free = map_free,
    .map_default = map_default,
    .map_size = map_size,
    .close_all = close_all,
    .map_exit = map_exit,
    .poll = poll_once,
    .loop = loop,
    .chat_adopt = chat_adopt,
    .chat_connect = chat_connect,
    .disp_connect = disp_connect,
    .listen = listen_on,
    .disp_adopt = disp_adopt,
    .fd = ch_fd,
    .close = ch_close,
    .free = ch_free,
    .recv = ch_recv,
    .send = ch_send,
    .set_terminator = set_term,
    .set_count = set_count,
    .set_none = set_none,
    .set_input_limit = set_limit,
    .set_buffer_sizes = set_bufs,
    .push = push,
    .push_producer = push_producer,
    .close_when_done = cwd,
    .discard_buffers = discard,
};

/* Runs once, in the runner's parent: the handshake, and the reserved slot
 * every run's connection will occupy. */
const acc_impl_t *acc_get_impl(void)
{
    static int done;
    if (done)
        return &impl;
    A.cmd = getenv("ACC_AGENT");
    if (A.cmd == NULL || *A.cmd == '\0') {
        fprintf(stderr, "acc agent client: set ACC_AGENT to the command that starts "
                "the agent (make conformance IMPL=conformance/agents/client AGENT=...)\n");
        return NULL;
    }
    A.timeout_ms = env_int("ACC_AGENT_TIMEOUT_MS", ACCP_DEFAULT_TIMEOUT_MS);
    A.trace = env_int("ACC_AGENT_TRACE", 0);
    setenv("ACC_AGENT_FD", "3", 1);
    signal(SIGPIPE, SIG_IGN); /* belt and braces: every send says MSG_NOSIGNAL */
    A.slot = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (A.slot < 0) {
        perror("acc agent client: /dev/null");
        return NULL;
    }
    pid_t pid;
    int fd = spawn(&pid);
    if (fd < 0) {
        fprintf(stderr, "acc agent client: cannot start '%s': %s\n", A.cmd, strerror(errno));
        return NULL;
    }
    accp_conn_t c;
    accp_conn_init(&c, fd);
    c.timeout_ms = A.timeout_ms;
    c.trace = A.trace;
    c.trace_tag = "client/handshake";
    char err[600];
    if (hello(&c, 1, err, sizeof(err)) < 0) {
        close(fd);
        accp_conn_free(&c);
        reap(pid, 0);
        fprintf(stderr, "acc agent client: agent '%s': %s\n", A.cmd, err);
        return NULL;
    }
    accp_conn_free(&c);
    const char *mode = getenv("ACC_AGENT_MODE");
    if (agent_forks && !(mode && strcmp(mode, "spawn") == 0)) {
        A.zygote = fd; /* kept: every run forks its agent from this one */
        A.zygote_pid = pid;
        A.zygote_owner = getpid();
    } else {
        close(fd);
        reap(pid, 0);
    }
    /* Runs forked from the one handshake agent share its connection, which
     * takes one request at a time; spawned agents share nothing. */
    impl.caps = agent_caps | (A.zygote < 0 ? ACC_CAP_PARALLEL_RUNS : 0);
    struct rlimit rl;
    A.nofile = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 0; /* the zygote's */
    atexit(at_exit);
    done = 1;
    return &impl;
}
