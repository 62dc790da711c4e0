/* achat.h: the public contract of the achat reference, a C version of the
 * dispatcher/chat event-loop model (Python's asyncore/asynchat).  Every other
 * part of the project (conformance suite, stress drivers, fuzzers) uses it.
 *
 * Error convention (the whole API, libuv style): functions that can fail
 * return int; 0 (or a count >= 0 where documented) is success and a negative
 * errno value (-EINVAL, -EBADF, ...) is failure.  ac_strerror() names them.
 * Status reaches callbacks as an argument, never through a global.
 *
 * Threads: a map, and every channel in it, belongs to the one thread that runs
 * its loop (docs/ownership.md, rule 1).  The library keeps no process-global
 * mutable state; a NULL map argument means the calling thread's own default
 * map.  Ownership rules are repeated on each function below.
 */
#ifndef ACHAT_H
#define ACHAT_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AC_VERSION_MAJOR 0
#define AC_VERSION_MINOR 1

/* An input record exceeded the chat's input limit (distinct from any error
 * the socket layer reports, which never yields EMSGSIZE on stream sockets). */
#define AC_ETOOBIG (-EMSGSIZE)

/* ac_loop() count that means "until the map is empty or ac_map_exit()". */
#define AC_LOOP_FOREVER 0
/* Timeout that means "wait without limit" (other negative values: -EINVAL). */
#define AC_INFINITE (-1)

/* Defaults for a chat's per-read and per-send byte caps (asynchat's). */
#define AC_DEFAULT_IN_BUFFER 65536
#define AC_DEFAULT_OUT_BUFFER 65536
/* Longest string terminator accepted by ac_chat_set_terminator(). */
#define AC_TERMINATOR_MAX 4096

typedef struct ac_map ac_map_t;
typedef struct ac_disp ac_disp_t;
typedef struct ac_chat ac_chat_t;
typedef struct ac_framer ac_framer_t;
typedef struct ac_backend ac_backend_t;

/* Returns a description of a negative errno value (or 0, or AC_ETOOBIG).
 * The string is static: never freed, never changed by later calls. */
const char *ac_strerror(int err);

/* ---------------------------------------------------------------- maps -- */

/* Creates an empty map in *out.  The caller owns it and frees it with
 * ac_map_free().  -EINVAL if out is NULL, -ENOMEM. */
int ac_map_new(ac_map_t **out);

/* Closes every channel still open in the map (no handle_close, as
 * ac_map_close_all), detaches every handle bound to it, and frees the map.
 * Handles stay valid and are still freed by their owner with ac_disp_free.
 * -EBUSY from inside the map's own loop; NULL frees this thread's default
 * (0 and nothing to do if it has none: the next use makes a new one). */
int ac_map_free(ac_map_t *map);

/* Returns the calling thread's default map, created on first use and freed
 * when the thread exits (or by ac_map_free).  NULL only if out of memory. */
ac_map_t *ac_map_default(void);

/* Number of channels currently registered (open with a socket) in map (NULL:
 * this thread's default, 0 if it has none yet); 0 for a map it cannot
 * read.  Borrows map. */
size_t ac_map_size(ac_map_t *map);

/* Closes every open channel in the map without calling handle_close (like
 * asyncore.close_all); the map is empty afterwards.  Returns how many
 * channels it closed (>= 0); NULL with no default map yet closes none.  The
 * handles stay their owners' (still freed with ac_disp_free / ac_chat_free). */
int ac_map_close_all(ac_map_t *map);

/* Makes the running ac_loop()/ac_poll() on this map return after the current
 * callback (asyncore's ExitNow).  Harmless outside a loop: the next loop
 * starts normally, so NULL with no default map yet has nothing to do (0). */
int ac_map_exit(ac_map_t *map);

/* --------------------------------------------------------------- loop -- */

/* A readiness backend: a const table of functions (see backend.h).  Both are
 * linked into every binary so tests can loop over them. */
extern const ac_backend_t ac_backend_select;
extern const ac_backend_t ac_backend_poll;
#ifdef __linux__
/* Linux: epoll, with the same semantics; its pass cost follows the number
 * of channels that change interest or fire, not the number registered. */
extern const ac_backend_t ac_backend_epoll;
#endif

/* Looks a backend up by name ("select", "poll", "epoll"); NULL if unknown.
 * Backends are static tables: never freed. */
const ac_backend_t *ac_backend_by_name(const char *name);
/* The backend's name ("select", "poll", "epoll"): a static string. */
const char *ac_backend_name(const ac_backend_t *backend);
/* Null-terminated list of every backend this build has, for test loops;
 * the list is static: never freed. */
const ac_backend_t *const *ac_backends(void);

/* Runs one pass: asks every channel readable()/writable(), waits up to
 * timeout_ms (AC_INFINITE, or >= 0) for readiness with backend (NULL: poll),
 * and dispatches the events.  Returns the number of channels that got an
 * event (>= 0), or -EINVAL (bad timeout), -ENOMEM (NULL and the default map
 * could not be made), -EBUSY (called from inside this
 * map's own pass), -ERANGE (select backend and an fd >= FD_SETSIZE), or the
 * backend's error.  EINTR is retried with the remaining time.  The map
 * stays its owner's; channels freed by callbacks are released after it. */
int ac_poll(ac_map_t *map, int timeout_ms, const ac_backend_t *backend);

/* Repeats ac_poll() while the map is non-empty: count passes (count >= 1) or
 * AC_LOOP_FOREVER.  Also returns when ac_map_exit() is called, or when a
 * pass with an infinite timeout had nothing to watch (nothing could ever
 * happen).  0 on those ends (NULL with no default map yet: an empty map, no
 * pass); -EINVAL for count < 0; else ac_poll's error. */
int ac_loop(ac_map_t *map, int timeout_ms, const ac_backend_t *backend,
            int count);

/* -------------------------------------------------------- dispatchers -- */

/* Callbacks of a dispatcher.  Any member may be NULL for asyncore's default,
 * noted per member.  Every callback gets the dispatcher and the user pointer
 * given to ac_disp_new().  No callback runs on a channel after it closed. */
typedef struct ac_ops {
    /* Whether to watch for input.  Default: 1. */
    int (*readable)(ac_disp_t *d, void *ud);
    /* Whether to watch for output.  Default: 1 (asyncore's busy default). */
    int (*writable)(ac_disp_t *d, void *ud);
    /* Input is ready (or EOF).  Default: nothing. */
    void (*handle_read)(ac_disp_t *d, void *ud);
    /* Output space is ready.  Default: nothing. */
    void (*handle_write)(ac_disp_t *d, void *ud);
    /* A non-blocking connect completed (SO_ERROR was 0).  Default: nothing. */
    void (*handle_connect)(ac_disp_t *d, void *ud);
    /* A listening channel accepted fd from addr.  The callback owns fd (it
     * is non-blocking and close-on-exec) and must close or adopt it.
     * Default: the fd is closed. */
    void (*handle_accept)(ac_disp_t *d, int fd, const struct sockaddr *addr,
                          socklen_t addrlen, void *ud);
    /* The channel is closing (EOF, reset, hangup, error, close_when_done).
     * Runs at most once per channel; the channel is closed when it returns
     * even if the callback did not close it.  Default: nothing more. */
    void (*handle_close)(ac_disp_t *d, void *ud);
    /* An error err (negative errno, or AC_ETOOBIG) the channel cannot go
     * on from: a failed connect, an input overflow, a send or recv error.
     * Default: handle_close. */
    void (*handle_error)(ac_disp_t *d, int err, void *ud);
    /* Urgent (out-of-band) data is pending.  Default: read and discard the
     * urgent byte, so the condition never spins (CQ10). */
    void (*handle_expt)(ac_disp_t *d, void *ud);
} ac_ops_t;

/* Creates a dispatcher bound for life to map (NULL: this thread's default).
 * It has no socket yet and is not registered.  ops is copied; ud is not
 * touched.  The caller owns the handle and frees it with ac_disp_free().
 * -EINVAL if out is NULL, -ENOMEM. */
int ac_disp_new(ac_disp_t **out, ac_map_t *map, const ac_ops_t *ops,
                void *ud);

/* Closes the channel if open (no handle_close) and frees the handle.  Safe
 * inside the channel's own callbacks: the memory is released after the
 * current pass.  NULL is a no-op. */
void ac_disp_free(ac_disp_t *d);

/* Creates a non-blocking, close-on-exec socket and registers it; d owns the
 * socket and closes it.  -EINVAL if d is NULL, -EISCONN if d already has
 * one, -EBADF if d was closed, or the socket() errno. */
int ac_disp_create_socket(ac_disp_t *d, int family, int type);

/* Adopts fd (a socket; made non-blocking) and registers it.  On success d
 * owns fd and closes it; on failure fd stays the caller's.  connected is set
 * if fd has a peer.  -EBADF (bad fd or closed d), -ENOTSOCK, -EEXIST (another
 * live channel in the map holds fd), -EISCONN (d has a socket), -EINVAL. */
int ac_disp_adopt(ac_disp_t *d, int fd);

/* Sets SO_REUSEADDR.  -EBADF without an open socket, else the errno. */
int ac_disp_set_reuse_addr(ac_disp_t *d);

/* Binds the socket (addr is only read during the call).  -EBADF without an
 * open socket, else the errno. */
int ac_disp_bind(ac_disp_t *d, const struct sockaddr *addr, socklen_t len);

/* Listens and marks the channel accepting (its read events accept; it is
 * never watched for output).  -EBADF without an open socket, else errno. */
int ac_disp_listen(ac_disp_t *d, int backlog);

/* Starts a non-blocking connect.  0 when it is in progress (or done at
 * once): handle_connect runs from the loop on the first read or write event
 * once SO_ERROR is 0; a failure found then goes to handle_error and, if the
 * channel is still open after it, handle_close (CQ8).  A
 * synchronous failure returns its -errno and closes the channel without
 * calling any handler (no zombie, no spurious handle_connect: CQ6).  addr is
 * only read during the call. */
int ac_disp_connect(ac_disp_t *d, const struct sockaddr *addr, socklen_t len);

/* Sends up to len bytes of buf, which stays the caller's (read during the
 * call only), never raising SIGPIPE.  Returns the count sent (>= 0; 0 when
 * the socket buffer is full), or a negative errno; a disconnect (EPIPE,
 * ECONNRESET, ...) first runs handle_close. */
ssize_t ac_disp_send(ac_disp_t *d, const void *buf, size_t len);

/* Receives up to len bytes into the caller's buf.  Returns the count (> 0);
 * 0 at end of stream or on a disconnect, after handle_close has run; -EAGAIN
 * when no data is ready (not an end: CQ9); another negative errno on other
 * errors. */
ssize_t ac_disp_recv(ac_disp_t *d, void *buf, size_t len);

/* Closes and unregisters the channel, without calling handle_close.  The
 * first call returns 0; later calls change nothing and return -EBADF. */
int ac_disp_close(ac_disp_t *d);

/* Accessors: they only read d, and a NULL d reads as a closed channel. */
/* The socket, or -1 without an open one; it stays d's (do not close it). */
int ac_disp_fd(const ac_disp_t *d);
/* The map d is bound to; it stays its creator's (or the thread's). */
ac_map_t *ac_disp_map(const ac_disp_t *d);
/* The user pointer given to ac_disp_new(); the library never touches it. */
void *ac_disp_data(const ac_disp_t *d);
/* 1 once the socket has a peer (adopted connected, connect done), else 0. */
int ac_disp_connected(const ac_disp_t *d);
/* 1 while a non-blocking connect is in progress, else 0. */
int ac_disp_connecting(const ac_disp_t *d);
/* 1 once ac_disp_listen() made it a listening channel, else 0. */
int ac_disp_accepting(const ac_disp_t *d);
/* 1 once the channel closed (close, handle_close, failed connect), else 0. */
int ac_disp_closed(const ac_disp_t *d);

/* -------------------------------------------------- framing core -------- */

/* The terminator kinds.  A count of 0 and an empty string both mean NONE. */
typedef enum ac_term_kind {
    AC_TERM_NONE = 0, /* no framing: every byte is collected */
    AC_TERM_STRING,   /* a non-empty byte string, NUL bytes allowed */
    AC_TERM_COUNT     /* a number of bytes, >= 1 */
} ac_term_kind_t;

/* Callbacks of the socket-free framing core; chats route them to their
 * collect_incoming_data / found_terminator. */
typedef struct ac_framer_cbs {
    void (*collect)(void *ud, const void *data, size_t len);
    void (*found)(void *ud);
} ac_framer_cbs_t;

/* Creates a framer with terminator NONE and no input limit.  The caller owns
 * it (ac_framer_free).  cbs is copied.  -EINVAL, -ENOMEM. */
int ac_framer_new(ac_framer_t **out, const ac_framer_cbs_t *cbs, void *ud);
/* Frees the framer with its held bytes (ud is not touched); NULL is a no-op.
 * Not from inside its own callbacks: the feed in progress would go on over
 * freed memory. */
void ac_framer_free(ac_framer_t *f);

/* Sets a string terminator (len >= 1, <= AC_TERMINATOR_MAX; len 0 means
 * NONE).  The bytes are copied: up to 16 into the framer itself, a longer
 * terminator into storage sized for it.  Applies at once, also inside
 * found.  -EINVAL for a NULL pointer with len > 0 or len >
 * AC_TERMINATOR_MAX; -ENOMEM (nothing changed) if that storage cannot be
 * had. */
int ac_framer_set_terminator(ac_framer_t *f, const void *term, size_t len);
/* Sets a count terminator (0 means NONE), applying at once.  -EINVAL if f
 * is NULL. */
int ac_framer_set_count(ac_framer_t *f, uint64_t count);
/* Sets no terminator: everything is collected.  -EINVAL if f is NULL. */
int ac_framer_set_none(ac_framer_t *f);

/* Reports the terminator: its kind, and for STRING its bytes and length, for
 * COUNT the bytes still to come (any out pointer may be NULL).  *bytes
 * points into f's own storage (never free it), valid until the next set or
 * ac_framer_free. */
ac_term_kind_t ac_framer_terminator(const ac_framer_t *f, const void **bytes,
                                    size_t *len, uint64_t *count);

/* Sets the longest record (bytes between terminators) the framer delivers;
 * 0 means no limit; -EINVAL if f is NULL.  An overflow makes ac_framer_feed
 * return AC_ETOOBIG and every later feed too (sticky) until
 * ac_framer_discard().  The overflow ends the record: a count terminator
 * becomes none, so set one again for the next record (spec T16). */
int ac_framer_set_limit(ac_framer_t *f, size_t max_record);

/* Frames len bytes: leftmost match, at most (terminator length - 1) bytes
 * held back for the next feed, counts decremented across feeds.  Returns 0,
 * AC_ETOOBIG, -EBUSY when called from inside its own callback, -EINVAL.  A
 * callback that calls ac_framer_discard() stops the rest of this feed.  data
 * stays the caller's: the few bytes held back are copied. */
int ac_framer_feed(ac_framer_t *f, const void *data, size_t len);

/* Returns how many bytes are held back (a proper prefix of the string
 * terminator; 0 for a NULL f) and points *bytes (if bytes is not NULL) at
 * them.  *bytes points into f's own storage (never free it) and is valid,
 * holding those bytes, until the next ac_framer_feed, ac_framer_discard,
 * ac_framer_set_terminator (the storage is sized to the terminator) or
 * ac_framer_free on f. */
size_t ac_framer_held(const ac_framer_t *f, const void **bytes);

/* Drops held bytes and any sticky error, and stops a feed in progress (safe
 * from inside its callbacks).  NULL is a no-op. */
void ac_framer_discard(ac_framer_t *f);

/* --------------------------------------------------------------- chat -- */

/* Callbacks of a chat channel; NULL members take the defaults given. */
typedef struct ac_chat_ops {
    /* Bytes of the current record (a record may come in several calls).
     * Default: the bytes are dropped. */
    void (*collect_incoming_data)(ac_chat_t *c, const void *data, size_t len,
                                  void *ud);
    /* The terminator was found (a count terminator is already 0 here); a
     * new terminator set here applies to the rest of the input at once. */
    void (*found_terminator)(ac_chat_t *c, void *ud);
    void (*handle_connect)(ac_chat_t *c, void *ud);
    /* As ac_ops_t.handle_close: at most once, the channel closes after. */
    void (*handle_close)(ac_chat_t *c, void *ud);
    /* As ac_ops_t.handle_error (AC_ETOOBIG on input overflow).  Default:
     * handle_close. */
    void (*handle_error)(ac_chat_t *c, int err, void *ud);
    /* Whether to read more input now (asynchat lets this be overridden for
     * flow control, e.g. while ac_chat_pending() is large).  Default: 1. */
    int (*readable)(ac_chat_t *c, void *ud);
} ac_chat_ops_t;

/* A producer: more() sets *data and *len to its next chunk (valid until its
 * next more() or release()); *len == 0 means exhausted.  A negative return
 * is an error reported through handle_error.  release() (may be NULL) runs
 * exactly once, when the producer is exhausted, discarded, or its chat is
 * closed or freed. */
typedef struct ac_producer {
    int (*more)(void *ud, const void **data, size_t *len);
    void (*release)(void *ud);
} ac_producer_t;

/* Creates a chat channel bound to map (NULL: this thread's default); it gets
 * its socket through ac_chat_disp() (adopt, create_socket + connect).  The
 * caller owns it (ac_chat_free).  Terminator NONE (CQ18).  -EINVAL, -ENOMEM. */
int ac_chat_new(ac_chat_t **out, ac_map_t *map, const ac_chat_ops_t *ops,
                void *ud);

/* Closes (no handle_close), releases queued producers, frees the handle.
 * Safe inside the chat's own callbacks (memory released after the pass). */
void ac_chat_free(ac_chat_t *c);

/* The chat's dispatcher (NULL for a NULL c), for socket operations and
 * accessors.  It lives and dies with the chat: never free it separately. */
ac_disp_t *ac_chat_disp(ac_chat_t *c);
/* Returns the chat whose dispatcher d is, or NULL if d is a plain dispatcher
 * (or NULL); the chat stays its creator's, freed with ac_chat_free. */
ac_chat_t *ac_disp_chat(ac_disp_t *d);
/* Returns the user pointer given to ac_chat_new() (NULL for a NULL c); the
 * library never reads, writes or frees it. */
void *ac_chat_data(const ac_chat_t *c);

/* Terminators, as the framer's (CQ17: refused when set, never later). */
/* Sets a string terminator, as ac_framer_set_terminator (term is copied). */
int ac_chat_set_terminator(ac_chat_t *c, const void *term, size_t len);
/* Sets a count terminator, as ac_framer_set_count (0 means NONE). */
int ac_chat_set_count(ac_chat_t *c, uint64_t count);
/* Sets no terminator, as ac_framer_set_none. */
int ac_chat_set_none(ac_chat_t *c);
/* Reports the terminator, as ac_framer_terminator: *bytes points into the
 * chat's storage, valid until the next set or ac_chat_free. */
ac_term_kind_t ac_chat_terminator(const ac_chat_t *c, const void **bytes,
                                  size_t *len, uint64_t *count);

/* Sets the longest input record (0: none); an overflow goes to handle_error
 * with AC_ETOOBIG, the buffered input is dropped and a count terminator
 * becomes none (spec T16).  -EINVAL for NULL c. */
int ac_chat_set_input_limit(ac_chat_t *c, size_t max_record);

/* Sets the bytes read per read event and sent per write event (>= 1 each;
 * -EINVAL otherwise or for a NULL c). */
int ac_chat_set_buffer_sizes(ac_chat_t *c, size_t in_size, size_t out_size);

/* Queues a copy of len bytes (CQ15); len 0 is a no-op (CQ14).  Bytes go out in
 * push order on later write events.  -EBADF once closed, -EPIPE after
 * close_when_done, -EINVAL (NULL with len > 0), -ENOMEM. */
int ac_chat_push(ac_chat_t *c, const void *data, size_t len);

/* Queues a producer; the chat owns it from here on (release() is called even
 * when this fails with -EBADF or -EPIPE). */
int ac_chat_push_producer(ac_chat_t *c, const ac_producer_t *p, void *ud);

/* Queues the close marker: once everything queued before it is sent,
 * handle_close runs.  Later pushes are refused with -EPIPE. */
int ac_chat_close_when_done(ac_chat_t *c);

/* Drops held input and the whole output queue (close marker included);
 * queued producers are released.  -EINVAL for a NULL c. */
int ac_chat_discard_buffers(ac_chat_t *c);

/* Sends what is queued now, in one send call (connected channels only);
 * the loop calls it on write events.  0, or a negative errno. */
int ac_chat_initiate_send(ac_chat_t *c);

/* Returns the bytes queued for output and not yet sent (producers count only
 * the chunk they have handed over); 0 for a NULL c.  Only reads c. */
size_t ac_chat_pending(const ac_chat_t *c);

#ifdef __cplusplus
}
#endif
#endif /* ACHAT_H */
