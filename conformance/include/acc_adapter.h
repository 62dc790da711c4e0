/* acc_adapter.h: how the conformance suite reaches an implementation.  An
 * implementation under test provides one const acc_impl_t (returned by
 * acc_get_impl()); the suite keeps the peer side of every socket and drives
 * the implementation only through this table.  docs/implementing.md walks
 * through writing one; conformance/adapters/ref/adapter.c is the worked
 * example.  Conventions: handles are opaque void *, errors are 0 or a
 * negative errno, as in achat.h. */
#ifndef ACC_ADAPTER_H
#define ACC_ADAPTER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* 2: the table grew `pending` (ACC_CAP_PENDING).  The runner still accepts
 * a version-1 table, and never reads past its end (acc_impl_adopt below). */
#define ACC_ABI_VERSION 2

/* Capabilities an implementation declares; a case that requires one the
 * implementation lacks is reported SKIP, not FAIL. */
enum {
    ACC_CAP_COUNT = 1 << 0,       /* count terminators */
    ACC_CAP_PRODUCER = 1 << 1,    /* push_producer */
    ACC_CAP_INPUT_LIMIT = 1 << 2, /* set_input_limit */
    ACC_CAP_DISPATCHER = 1 << 3,  /* plain dispatchers (disp_new) */
    ACC_CAP_LISTEN = 1 << 4,      /* listen / accept */
    ACC_CAP_CONNECT = 1 << 5,     /* non-blocking connect */
    ACC_CAP_DEFAULT_MAP = 1 << 6, /* map_default (per-thread default) */
    ACC_CAP_THREADS = 1 << 7,     /* maps may be used from any one thread */
    ACC_CAP_BUFSIZE = 1 << 8,     /* set_buffer_sizes */
    ACC_CAP_EXIT = 1 << 9,        /* map_exit (ExitNow) */
    /* Its malloc, calloc and realloc calls are linked to the suite's
     * acc_fa_malloc, acc_fa_calloc and acc_fa_realloc (same prototypes),
     * which fail one allocation on demand (E3 ENOMEM, E6). */
    ACC_CAP_ALLOC_FAIL = 1 << 10,
    /* Forked runs may overlap (the runner's --jobs): nothing the adapter
     * holds is shared between them.  Without it, runs go one at a time. */
    ACC_CAP_PARALLEL_RUNS = 1 << 11,
    /* Its socket and wait calls (recv, send, their read/write, msg and to/
     * from forms, accept, accept4, connect, poll, select, epoll_wait) are
     * linked to the suite's acc_fs_* (same prototypes; the list is
     * conformance/src/failsys.syms), which pass them through until a test
     * injects EINTR, EAGAIN, a short transfer, ECONNABORTED, EMFILE or
     * ECONNREFUSED at chosen calls (D11, D12, D17, D20, E5, L8, P3, P12). */
    ACC_CAP_SYSCALL_FAULTS = 1 << 12,
    /* map_default's first call initialises the default-map key once with
     * pthread_once (docs/ownership.md rule 2).  Valgrind's race detectors
     * cannot see the ordering of pthread_once's fast path, so the stress
     * driver may make that first call before its threads start under
     * helgrind and drd.  Undeclared, no call is primed and a first-call
     * race stays visible to them. */
    ACC_CAP_DEFAULT_MAP_ONCE = 1 << 13,
    /* pending: a chat's count of output bytes queued and not yet sent
     * (spec P15).  ABI 2.  (1 << 12 is syscall fault injection's.) */
    ACC_CAP_PENDING = 1 << 14
};

/* Callbacks from the implementation into the suite.  ctx is the suite's
 * pointer given when the channel was created. */
typedef struct acc_events {
    void (*collect)(void *ctx, const void *data, size_t len);
    void (*found)(void *ctx);
    void (*close)(void *ctx);          /* handle_close */
    void (*error)(void *ctx, int err); /* handle_error (negative errno) */
    void (*connect)(void *ctx);
    /* A listener accepted fd; the suite owns fd from here on. */
    void (*accept)(void *ctx, int fd);
    /* Plain dispatchers only. */
    int (*readable)(void *ctx);
    int (*writable)(void *ctx);
    void (*read)(void *ctx);
    void (*write)(void *ctx);
} acc_events_t;

/* A producer to queue: it must yield chunks[0..n-1] in order, then report
 * exhaustion, and call released(pctx) exactly once when released. */
typedef struct acc_producer {
    const void *const *chunks;
    const size_t *lens;
    size_t n;
    void (*released)(void *pctx);
    void *pctx;
} acc_producer_t;

typedef struct acc_impl {
    int abi_version;        /* ACC_ABI_VERSION */
    const char *name;       /* short id, used for expectations/<name>.txt */
    const char *version;
    const char *const *backends; /* NULL-terminated names, e.g. "poll" */
    unsigned caps;

    /* Maps.  map_free closes what is still open without handle_close. */
    int (*map_new)(void **map);
    void (*map_free)(void *map);
    void *(*map_default)(void);
    long (*map_size)(void *map);
    int (*close_all)(void *map);
    int (*map_exit)(void *map);
    /* One pass (timeout_ms >= 0); returns >= 0 or a negative errno. */
    int (*poll)(void *map, const char *backend, int timeout_ms);
    int (*loop)(void *map, const char *backend, int timeout_ms, int count);

    /* Channels.  chat_adopt makes a chat channel on a connected fd (the
     * implementation owns fd on success); chat_connect creates one and
     * starts a non-blocking connect; listen creates a listening plain
     * dispatcher bound to addr; disp_adopt a plain dispatcher on fd. */
    int (*chat_adopt)(void **ch, void *map, int fd, const acc_events_t *ev,
                      void *ctx);
    int (*chat_connect)(void **ch, void *map, const struct sockaddr *addr,
                        socklen_t len, const acc_events_t *ev, void *ctx);
    int (*listen)(void **ch, void *map, const struct sockaddr *addr,
                  socklen_t len, const acc_events_t *ev, void *ctx);
    int (*disp_adopt)(void **ch, void *map, int fd, const acc_events_t *ev,
                      void *ctx);
    int (*fd)(void *ch);    /* the channel's fd, or -1 once closed */
    int (*close)(void *ch); /* 0 first time, negative errno later */
    void (*free)(void *ch); /* closes if open; safe inside callbacks */

    /* Plain dispatcher I/O: bytes, 0 at end/disconnect, -EAGAIN, -errno. */
    long (*recv)(void *ch, void *buf, size_t len);
    long (*send)(void *ch, const void *buf, size_t len);

    /* Chat operations, each returning 0 or a negative errno. */
    int (*set_terminator)(void *ch, const void *term, size_t len);
    int (*set_count)(void *ch, uint64_t count);
    int (*set_none)(void *ch);
    int (*set_input_limit)(void *ch, size_t max);
    int (*set_buffer_sizes)(void *ch, size_t in, size_t out);
    int (*push)(void *ch, const void *data, size_t len);
    int (*push_producer)(void *ch, const acc_producer_t *p);
    int (*close_when_done)(void *ch);
    int (*discard_buffers)(void *ch);

    /* ABI 2 and later.  Entries from here on are optional: a table of an
     * older version ends above, and the suite treats them as absent. */

    /* The bytes of a chat's output queue not yet sent: queued data plus the
     * chunk a producer has handed over (spec P15).  ACC_CAP_PENDING. */
    long (*pending)(void *ch);
} acc_impl_t;

/* The one symbol an implementation's adapter exports. */
const acc_impl_t *acc_get_impl(void);

/* The size of a version-1 table: everything before the first ABI-2 entry. */
#define ACC_IMPL_V1_SIZE offsetof(acc_impl_t, pending)

/* Copies an adapter's table into the suite's own, reading no byte past the
 * table its version has; entries it lacks are NULL and their capabilities
 * cleared.  Returns 0, or -1 for a NULL table or an unknown version. */
static inline int acc_impl_adopt(acc_impl_t *dst, const acc_impl_t *src)
{
    static const acc_impl_t none;
    *dst = none;
    if (src == NULL || src->abi_version < 1 || src->abi_version > ACC_ABI_VERSION)
        return -1;
    const unsigned char *from = (const unsigned char *)src;
    unsigned char *to = (unsigned char *)dst;
    size_t n = src->abi_version == 1 ? ACC_IMPL_V1_SIZE : sizeof(*dst);
    for (size_t i = 0; i < n; i++)
        to[i] = from[i];
    if (src->abi_version == 1)
        dst->caps &= ~(unsigned)ACC_CAP_PENDING;
    return 0;
}

#endif /* ACC_ADAPTER_H */
