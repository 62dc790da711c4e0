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

/* 2: the table grew `pending`, `disp_connect`, `readopt` and `state`, and
 * acc_producer_t grew fail_err/fail_at (ACC_CAP_PENDING, ACC_CAP_DISP_CONNECT,
 * ACC_CAP_READOPT, ACC_CAP_STATE, ACC_CAP_PRODUCER_FAIL).
 * 3: the table grew `misuse` and `terminator`, and acc_events_t grew `expt`
 * and `error_mode` (ACC_CAP_MISUSE, ACC_CAP_TERMINATOR, ACC_CAP_EXPT,
 * ACC_CAP_ERROR_MODES, ACC_CAP_CHAT_READABLE).  The runner still accepts
 * tables of versions 1 and 2, and never reads past their end (acc_impl_adopt
 * below). */
#define ACC_ABI_VERSION 3

/* The suite's vocabulary is defined here once, as X-macro lists: the
 * runner, the agent client, the agent server and the Python agent (which
 * parses these lists, conformance/agents/common/acc_vocab.py) all read
 * them, so their spellings cannot drift apart.  Entries may be added;
 * an entry's spelling, once published, is part of case files, reports and
 * the agent protocol. */

/* Where a capability's name is used: a case may require it (requires:), and
 * the agent protocol carries it (hello's caps=; docs/agent-protocol.md).
 * The others are in-process only, or are declarations to the runner. */
#define ACC_IN_CASES 1
#define ACC_ON_WIRE 2

/* Capabilities an implementation declares; a case that requires one the
 * implementation lacks is reported SKIP, not FAIL.
 * X(ID, BIT, NAME, WHERE) makes ACC_CAP_<ID> = 1 << BIT, spelled NAME. */
#define ACC_CAP_LIST(X)                                                       \
    X(COUNT, 0, "count", ACC_IN_CASES | ACC_ON_WIRE) /* count terminators */  \
    X(PRODUCER, 1, "producer", ACC_IN_CASES | ACC_ON_WIRE) /* push_producer */ \
    /* set_input_limit */                                                     \
    X(INPUT_LIMIT, 2, "input-limit", ACC_IN_CASES | ACC_ON_WIRE)              \
    X(DISPATCHER, 3, "dispatcher", ACC_IN_CASES | ACC_ON_WIRE) /* disp_new */ \
    X(LISTEN, 4, "listen", ACC_IN_CASES | ACC_ON_WIRE) /* listen / accept */  \
    X(CONNECT, 5, "connect", ACC_IN_CASES | ACC_ON_WIRE) /* non-blocking */   \
    /* map_default (per-thread default) */                                    \
    X(DEFAULT_MAP, 6, "default-map", ACC_IN_CASES | ACC_ON_WIRE)              \
    /* maps may be used from any one thread */                                \
    X(THREADS, 7, "threads", ACC_IN_CASES | ACC_ON_WIRE)                      \
    /* set_buffer_sizes */                                                    \
    X(BUFSIZE, 8, "bufsize", ACC_IN_CASES | ACC_ON_WIRE)                      \
    X(EXIT, 9, "exit", ACC_IN_CASES | ACC_ON_WIRE) /* map_exit (ExitNow) */   \
    /* Its malloc, calloc and realloc calls are linked to the suite's     */  \
    /* acc_fa_malloc, acc_fa_calloc and acc_fa_realloc (same prototypes), */  \
    /* which fail one allocation on demand (E3 ENOMEM, E6).               */  \
    X(ALLOC_FAIL, 10, "alloc-fail", ACC_IN_CASES)                             \
    /* Forked runs may overlap (the runner's --jobs): nothing the adapter */  \
    /* holds is shared between them.  Without it, runs go one at a time.  */  \
    X(PARALLEL_RUNS, 11, "parallel-runs", 0)                                  \
    /* Its socket and wait calls (recv, send, their read/write, msg and   */  \
    /* to/from forms, accept, accept4, connect, poll, select, epoll_wait, */  \
    /* getsockopt, setsockopt, listen, fcntl) are linked to the suite's   */  \
    /* acc_fs_* (same prototypes; the list is failsys.syms), which pass   */  \
    /* them through until a test injects EINTR, EAGAIN, a short transfer, */  \
    /* ECONNABORTED, EMFILE, ECONNREFUSED, ETIMEDOUT, ENOMEM, EBADF,      */  \
    /* EINVAL or ENOBUFS at chosen calls (D11, D12, D16, D17, D20, E5,    */  \
    /* E6, L7, L8, P3, P12).                                              */  \
    X(SYSCALL_FAULTS, 12, "sys-fail", ACC_IN_CASES)                           \
    /* map_default's first call initialises the default-map key once with */  \
    /* pthread_once (docs/ownership.md rule 2).  Valgrind's race          */  \
    /* detectors cannot see the ordering of pthread_once's fast path, so  */  \
    /* the stress driver may make that first call before its threads      */  \
    /* start under helgrind and drd.  Undeclared, no call is primed and a */  \
    /* first-call race stays visible to them.                             */  \
    X(DEFAULT_MAP_ONCE, 13, "default-map-once", 0)                            \
    /* pending: a chat's count of output bytes queued and not yet sent    */  \
    /* (spec P15).  ABI 2.                                                */  \
    X(PENDING, 14, "pending", ACC_IN_CASES)                                   \
    /* disp_connect: a plain dispatcher that starts a non-blocking        */  \
    /* connect (D13, D15, D16).  ABI 2.                                   */  \
    X(DISP_CONNECT, 15, "disp-connect", ACC_IN_CASES | ACC_ON_WIRE)           \
    /* readopt: offer an existing handle another socket (D1).  ABI 2.     */  \
    X(READOPT, 16, "readopt", ACC_IN_CASES)                                   \
    /* state: a channel's observable state, ACC_STATE_* bits (D1, D13,    */  \
    /* D14, D15, D19).  ABI 2.                                            */  \
    X(STATE, 17, "state", ACC_IN_CASES)                                       \
    /* The adapter's producer honours acc_producer_t's fail_err and       */  \
    /* fail_at (a producer that reports a failure, P4).  ABI 2.           */  \
    X(PRODUCER_FAIL, 18, "producer-fail", ACC_IN_CASES)                    \
    /* misuse: calls an operation with a missing handle or argument, or   */  \
    /* on a channel without a socket (E2, E3).  ABI 3.                    */  \
    X(MISUSE, 19, "misuse", ACC_IN_CASES)                                     \
    /* terminator: a chat's terminator now, a count's bytes still to come */  \
    /* (T1, T3, T8, T16).  ABI 3.                                         */  \
    X(TERMINATOR, 20, "terminator", ACC_IN_CASES)                             \
    /* The adapter honours acc_events_t's expt: handle_expt reported      */  \
    /* there, or the implementation's default where it is NULL (D21).     */  \
    /* ABI 3.                                                             */  \
    X(EXPT, 21, "expt", ACC_IN_CASES)                                         \
    /* The adapter honours acc_events_t's error_mode (D10).  ABI 3.       */  \
    X(ERROR_MODES, 22, "error-modes", ACC_IN_CASES)                           \
    /* A chat channel's readable predicate is acc_events_t's readable     */  \
    /* where that is not NULL, as for a plain dispatcher (P11's "unless   */  \
    /* overridden").  ABI 3.                                              */  \
    X(CHAT_READABLE, 23, "chat-readable", ACC_IN_CASES)

#define ACC_CAP_ENUM_(id, bit, name, where) ACC_CAP_##id = 1 << (bit),
enum { ACC_CAP_LIST(ACC_CAP_ENUM_) };
#undef ACC_CAP_ENUM_

/* Errno names, spelled the same in case files, reports and on the agent
 * protocol's wire ("-EPIPE").  X(NAME, IN_CASES): IN_CASES 1 if a case file
 * may name it (a step's "-> NAME", "expect C error NAME").  One name per
 * value: EWOULDBLOCK, EDEADLOCK and ENOTSUP, aliases on Linux, are not
 * listed (the wire decoder accepts EWOULDBLOCK as EAGAIN). */
#define ACC_ERRNO_LIST(X)                                                     \
    X(EPERM, 0) X(ENOENT, 1) X(ESRCH, 0) X(EINTR, 1) X(EIO, 1) X(ENXIO, 0)    \
    X(E2BIG, 0) X(EBADF, 1) X(ECHILD, 0) X(EAGAIN, 1) X(ENOMEM, 1)            \
    X(EACCES, 0) X(EFAULT, 0) X(EBUSY, 1) X(EEXIST, 1) X(ENODEV, 0)           \
    X(ENOTDIR, 0) X(EISDIR, 0) X(EINVAL, 1) X(ENFILE, 1) X(EMFILE, 1)         \
    X(ENOTTY, 0) X(EFBIG, 0) X(ENOSPC, 0) X(ESPIPE, 0) X(EROFS, 0)            \
    X(EPIPE, 1) X(EDOM, 0) X(ERANGE, 1) X(EDEADLK, 0) X(ENAMETOOLONG, 0)      \
    X(ENOSYS, 1) X(ENOTEMPTY, 0) X(ELOOP, 0) X(ENOMSG, 0) X(EPROTO, 1)        \
    X(EBADMSG, 0) X(EOVERFLOW, 0) X(ENOTSOCK, 1) X(EDESTADDRREQ, 0)           \
    X(EMSGSIZE, 1) X(EPROTOTYPE, 0) X(ENOPROTOOPT, 0)                         \
    X(EPROTONOSUPPORT, 0) X(EOPNOTSUPP, 0) X(EAFNOSUPPORT, 0)                 \
    X(EADDRINUSE, 0) X(EADDRNOTAVAIL, 0) X(ENETDOWN, 0) X(ENETUNREACH, 1)     \
    X(ENETRESET, 0) X(ECONNABORTED, 1) X(ECONNRESET, 1) X(ENOBUFS, 1)         \
    X(EISCONN, 1) X(ENOTCONN, 1) X(ESHUTDOWN, 1) X(ETIMEDOUT, 1)              \
    X(ECONNREFUSED, 1) X(EHOSTDOWN, 0) X(EHOSTUNREACH, 0) X(EALREADY, 0)      \
    X(EINPROGRESS, 0) X(ECANCELED, 0) X(ENOTRECOVERABLE, 0)

/* A run's verdicts, in the order reports count them.  X(NAME). */
#define ACC_VERDICT_LIST(X) X(PASS) X(FAIL) X(XFAIL) X(XPASS) X(SKIP) X(ERROR)

/* The spec's areas: a case's directory and id prefix, a clause's letter.
 * X(LETTER, TITLE). */
#define ACC_AREA_LIST(X)                                                      \
    X(L, "loop and maps")                                                     \
    X(D, "dispatcher events and close detection")                             \
    X(T, "terminators and input framing")                                     \
    X(P, "producer FIFO")                                                     \
    X(M, "map isolation and threads")                                         \
    X(E, "errors and bad input")

/* "LDTPME": the area letters in the order above. */
#define ACC_AREA_LETTER_(letter, title) #letter
#define ACC_AREAS ACC_AREA_LIST(ACC_AREA_LETTER_)

/* What state() reports: any combination of these bits. */
enum {
    ACC_STATE_CONNECTING = 1 << 0, /* a non-blocking connect in progress */
    ACC_STATE_CONNECTED = 1 << 1,  /* the socket has a peer */
    ACC_STATE_LISTENING = 1 << 2,  /* accepting connections */
    ACC_STATE_CLOSED = 1 << 3      /* closed for good (D1) */
};

/* What misuse() is asked to call (ABI 3, ACC_CAP_MISUSE): an operation, in
 * one form.  X(ID, NAME) makes ACC_MISUSE_<ID>, spelled NAME in case files.
 * The operations are those of the table with these additions: chat_new,
 * disp_new and create_socket (a new channel's or socket's first step),
 * bind, set_reuse_addr and initiate_send. */
#define ACC_MISUSE_OP_LIST(X)                                                 \
    X(MAP_NEW, "map-new") X(CHAT_NEW, "chat-new") X(DISP_NEW, "disp-new")     \
    X(CREATE_SOCKET, "create-socket") X(ADOPT, "adopt")                       \
    X(SET_REUSE_ADDR, "set-reuse-addr") X(BIND, "bind") X(LISTEN, "listen")   \
    X(CONNECT, "connect") X(SEND, "send") X(RECV, "recv") X(CLOSE, "close")   \
    X(SET_TERMINATOR, "set-terminator") X(SET_COUNT, "set-count")             \
    X(SET_NONE, "set-none") X(SET_INPUT_LIMIT, "set-input-limit")             \
    X(SET_BUFFER_SIZES, "set-buffer-sizes") X(PUSH, "push")                   \
    X(PUSH_PRODUCER, "push-producer") X(CLOSE_WHEN_DONE, "close-when-done")   \
    X(DISCARD_BUFFERS, "discard-buffers") X(INITIATE_SEND, "initiate-send")

/* The forms of a misuse() call.  X(ID, NAME) makes ACC_MISUSE_<ID>.
 * null-handle: the operation gets the implementation's null handle (NULL,
 *   None, nil) for its channel or map; map_new, chat_new and disp_new get a
 *   missing output argument instead (their map is the default map).
 * null-arg: the operation on ch gets a missing data argument with a
 *   non-zero length, the smallest: set_terminator(ch, NULL, 1), push(ch,
 *   NULL, 1), push_producer(ch, NULL), send(ch, NULL, 1), recv(ch, NULL, 1),
 *   bind and connect with no address, chat_new and disp_new with no
 *   callbacks.
 * zero-length: recv(ch, buf, 0) with a 16-byte buf; send(ch, NULL, 0) and
 *   push(ch, NULL, 0), where no bytes need no data argument (E3); an API
 *   without pointers passes its empty buffer.
 * plain: the operation on ch with valid arguments (a 16-byte buffer, the
 *   byte "x", the terminator "\n", a count of 3, a limit of 16, sizes of 16,
 *   backlog 1, create_socket(AF_INET, SOCK_STREAM), bind to 127.0.0.1
 *   port 0, connect to 127.0.0.1 port 1, an empty producer, adopt of a new
 *   socketpair's end, which the adapter closes if it is refused); the
 *   constructors make a handle in the default map and free it at once. */
#define ACC_MISUSE_FORM_LIST(X)                                               \
    X(NULL_HANDLE, "null-handle") X(NULL_ARG, "null-arg")                     \
    X(ZERO_LENGTH, "zero-length") X(PLAIN, "plain")

#define ACC_MISUSE_ENUM_(id, name) ACC_MISUSE_##id,
enum { ACC_MISUSE_OP_LIST(ACC_MISUSE_ENUM_) ACC_MISUSE_NOPS };
enum { ACC_MISUSE_FORM_LIST(ACC_MISUSE_ENUM_) ACC_MISUSE_NFORMS };
#undef ACC_MISUSE_ENUM_

/* What terminator() returns (ABI 3, ACC_CAP_TERMINATOR). */
enum { ACC_TERM_NONE = 0, ACC_TERM_COUNT = 1, ACC_TERM_STRING = 2 };

/* acc_events_t's error_mode (ABI 3, ACC_CAP_ERROR_MODES): how the channel's
 * handle_error behaves (D10).  CLOSE is what every adapter does without the
 * capability; the suite zeroes the field, so 0 must stay CLOSE. */
enum {
    ACC_ERROR_CLOSE = 0,   /* report to error(), then close if still open */
    ACC_ERROR_KEEP = 1,    /* report to error() and keep the channel open */
    ACC_ERROR_DEFAULT = 2  /* the implementation's own default handle_error;
                            * error() is not called */
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
    /* Plain dispatchers only; readable also for chats with
     * ACC_CAP_CHAT_READABLE, where it is not NULL. */
    int (*readable)(void *ctx);
    int (*writable)(void *ctx);
    void (*read)(void *ctx);
    void (*write)(void *ctx);
    /* ABI 3, each read only by an adapter declaring the capability named;
     * an adapter built against an older header never reads them. */
    /* ACC_CAP_EXPT: the channel's handle_expt (D21) reports here; NULL
     * leaves the implementation's default handle_expt in place.  The suite
     * sets it on plain dispatchers only, and reads the urgent byte itself. */
    void (*expt)(void *ctx);
    /* ACC_CAP_ERROR_MODES: ACC_ERROR_*, fixed when the channel is made. */
    int error_mode;
} acc_events_t;

/* A producer to queue: it must yield chunks[0..n-1] in order, then report
 * exhaustion, and call released(pctx) exactly once when released. */
typedef struct acc_producer {
    const void *const *chunks;
    const size_t *lens;
    size_t n;
    void (*released)(void *pctx);
    void *pctx;
    /* ABI 2, read only by an adapter declaring ACC_CAP_PRODUCER_FAIL: when
     * fail_err is a negative errno, the producer reports that failure
     * instead of chunk fail_at (fail_at <= n; n means after every chunk).
     * The suite zeroes these fields, so an adapter built against an older
     * header, which copies only the fields above, loses nothing. */
    int fail_err;
    size_t fail_at;
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

    /* A plain dispatcher (events as disp_adopt's) that starts a
     * non-blocking connect to addr, as chat_connect does for a chat.
     * ACC_CAP_DISP_CONNECT. */
    int (*disp_connect)(void **ch, void *map, const struct sockaddr *addr,
                        socklen_t len, const acc_events_t *ev, void *ctx);
    /* Offers an existing channel the socket fd, as adopt does on a new one:
     * 0 (the channel owns fd) or a negative errno (fd stays the caller's):
     * -EISCONN while it has a socket, -EBADF once closed (D1).
     * ACC_CAP_READOPT. */
    int (*readopt)(void *ch, int fd);
    /* The channel's ACC_STATE_* bits now; it only reads.  ACC_CAP_STATE. */
    int (*state)(void *ch);

    /* ABI 3 and later, optional as above. */

    /* Calls operation op (ACC_MISUSE_*) in form form (ACC_MISUSE_* forms,
     * above) and returns its result: 0, a count, or a negative errno.  ch
     * is a channel of the run, or NULL for the null-handle form.  A
     * combination the implementation's API cannot express returns
     * -ENOSYS.  Whatever it is given, it must not crash: the suite then
     * checks the channel is as it was (E2).  ACC_CAP_MISUSE. */
    int (*misuse)(int op, int form, void *ch);
    /* A chat's terminator now: ACC_TERM_NONE, ACC_TERM_COUNT (*count: the
     * bytes still to come, T8) or ACC_TERM_STRING (at most cap bytes of it
     * copied to buf, its whole length in *len); or a negative errno.
     * ACC_CAP_TERMINATOR. */
    int (*terminator)(void *ch, void *buf, size_t cap, size_t *len,
                      uint64_t *count);
} acc_impl_t;

/* The one symbol an implementation's adapter exports. */
const acc_impl_t *acc_get_impl(void);

/* The size of a version-1 table: everything before the first ABI-2 entry;
 * of a version-2 table: everything before the first ABI-3 entry. */
#define ACC_IMPL_V1_SIZE offsetof(acc_impl_t, pending)
#define ACC_IMPL_V2_SIZE offsetof(acc_impl_t, misuse)

/* The capabilities each version introduced, cleared from an older table. */
#define ACC_CAPS_V2                                                           \
    (ACC_CAP_PENDING | ACC_CAP_DISP_CONNECT | ACC_CAP_READOPT |               \
     ACC_CAP_STATE | ACC_CAP_PRODUCER_FAIL)
#define ACC_CAPS_V3                                                           \
    (ACC_CAP_MISUSE | ACC_CAP_TERMINATOR | ACC_CAP_EXPT |                     \
     ACC_CAP_ERROR_MODES | ACC_CAP_CHAT_READABLE)

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
    size_t n = src->abi_version == 1   ? ACC_IMPL_V1_SIZE
               : src->abi_version == 2 ? ACC_IMPL_V2_SIZE
                                       : sizeof(*dst);
    for (size_t i = 0; i < n; i++)
        to[i] = from[i];
    if (src->abi_version < 2)
        dst->caps &= ~(unsigned)ACC_CAPS_V2;
    if (src->abi_version < 3)
        dst->caps &= ~(unsigned)ACC_CAPS_V3;
    return 0;
}

#endif /* ACC_ADAPTER_H */
