/* failsys.h: the suite's syscall interposer (failsys.c), for
 * implementations that declare ACC_CAP_SYSCALL_FAULTS.  Calls are counted
 * per kind; a test arms a kind to inject one fault at chosen calls. */
#ifndef ACC_FAILSYS_H
#define ACC_FAILSYS_H

#include <poll.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

/* What a call does, whichever libc function made it: recv covers recv,
 * recvfrom, recvmsg, and read/readv on a socket; send likewise; wait covers
 * poll, select and epoll_wait.  getsockopt, setsockopt, listen and fcntl
 * are the calls that set a channel up (adopt, listen) and read a connect's
 * outcome (SO_ERROR). */
typedef enum {
    ACC_FS_RECV, ACC_FS_SEND, ACC_FS_ACCEPT, ACC_FS_CONNECT, ACC_FS_WAIT,
    ACC_FS_GETSOCKOPT, ACC_FS_SETSOCKOPT, ACC_FS_LISTEN, ACC_FS_FCNTL,
    ACC_FS__KINDS
} acc_fs_kind_t;

/* Faults.  Only EINTR (recv, send, accept, wait), EAGAIN (recv, send,
 * accept), SHORT (recv, send: one byte moves), ECONNABORTED and EMFILE
 * (accept), ECONNREFUSED (connect), ETIMEDOUT (recv, send: the connection
 * timed out, as TCP reports after its retransmission or keepalive timeout),
 * ENOMEM (accept: no memory for the new socket; wait, setsockopt), EINVAL
 * (wait, fcntl), EBADF (fcntl) and ENOBUFS (getsockopt, setsockopt,
 * listen: the kernel is short of buffers) apply; acc_fs_applies() says
 * which.  All but the first six are hard errors (E5: handle_error, or the
 * operation or pass fails), which acc_fs_transient() tells from the others.
 * An injected error makes no real call, so a connection or input that was
 * pending stays pending; an EINTR on a wait first sleeps a little of the
 * timeout, as if the signal came in the middle of it. */
typedef enum {
    ACC_FS_EINTR, ACC_FS_EAGAIN, ACC_FS_SHORT, ACC_FS_ECONNABORTED,
    ACC_FS_EMFILE, ACC_FS_ECONNREFUSED, ACC_FS_ETIMEDOUT, ACC_FS_ENOMEM,
    ACC_FS_EBADF, ACC_FS_EINVAL, ACC_FS_ENOBUFS,
    ACC_FS__FAULTS
} acc_fs_fault_t;

#define ACC_FS_WAIT_EINTR_MS 10 /* how far into a wait the "signal" comes */

/* From the next call of kind on, let `after` calls through, then inject
 * fault into `times` calls (< 0: every call).  Resets the kind's counts. */
void acc_fs_arm(acc_fs_kind_t kind, acc_fs_fault_t fault, long after, long times);
void acc_fs_disarm(acc_fs_kind_t kind);   /* counts kept */
void acc_fs_reset(void);                  /* every kind: disarmed, counts 0 */
long acc_fs_calls(acc_fs_kind_t kind);    /* since armed or reset */
long acc_fs_injected(acc_fs_kind_t kind); /* faults injected, likewise */

/* Names, as case files spell them (docs/case-format.md), and which faults
 * apply to which kind: each is an outcome the real call can have on a
 * non-blocking socket.  Inline, so the case parser needs no interposer. */
static const char *const acc_fs_kind_names[ACC_FS__KINDS] = {
    "recv", "send", "accept", "connect", "wait", "getsockopt", "setsockopt",
    "listen", "fcntl"};
static const char *const acc_fs_fault_names[ACC_FS__FAULTS] = {
    "EINTR", "EAGAIN", "short", "ECONNABORTED", "EMFILE", "ECONNREFUSED",
    "ETIMEDOUT", "ENOMEM", "EBADF", "EINVAL", "ENOBUFS"};

static inline int acc_fs_applies(acc_fs_kind_t kind, acc_fs_fault_t fault)
{
    static const unsigned ok[ACC_FS__KINDS] = {
        [ACC_FS_RECV] = 1u << ACC_FS_EINTR | 1u << ACC_FS_EAGAIN | 1u << ACC_FS_SHORT |
                        1u << ACC_FS_ETIMEDOUT,
        [ACC_FS_SEND] = 1u << ACC_FS_EINTR | 1u << ACC_FS_EAGAIN | 1u << ACC_FS_SHORT |
                        1u << ACC_FS_ETIMEDOUT,
        [ACC_FS_ACCEPT] = 1u << ACC_FS_EINTR | 1u << ACC_FS_EAGAIN |
                          1u << ACC_FS_ECONNABORTED | 1u << ACC_FS_EMFILE |
                          1u << ACC_FS_ENOMEM,
        [ACC_FS_CONNECT] = 1u << ACC_FS_ECONNREFUSED,
        [ACC_FS_WAIT] = 1u << ACC_FS_EINTR | 1u << ACC_FS_ENOMEM | 1u << ACC_FS_EINVAL,
        [ACC_FS_GETSOCKOPT] = 1u << ACC_FS_ENOBUFS,
        [ACC_FS_SETSOCKOPT] = 1u << ACC_FS_ENOBUFS | 1u << ACC_FS_ENOMEM,
        [ACC_FS_LISTEN] = 1u << ACC_FS_ENOBUFS,
        [ACC_FS_FCNTL] = 1u << ACC_FS_EBADF | 1u << ACC_FS_EINVAL,
    };
    return (ok[kind] >> fault) & 1u;
}

/* A fault the spec makes transient or a connect's own failure, after which
 * nothing is lost (the sweep e.syscall.faults checks that), rather than a
 * hard error that reaches handle_error (E5), which cases check one by one. */
static inline int acc_fs_transient(acc_fs_fault_t fault)
{
    return fault <= ACC_FS_ECONNREFUSED;
}

static inline const char *acc_fs_kind_name(acc_fs_kind_t kind)
{
    return acc_fs_kind_names[kind];
}

static inline const char *acc_fs_fault_name(acc_fs_fault_t fault)
{
    return acc_fs_fault_names[fault];
}

/* The interposed functions: an implementation's calls are renamed to these
 * (conformance/src/failsys.syms), with the same prototypes as libc's. */
ssize_t acc_fs_recv(int fd, void *buf, size_t len, int flags);
ssize_t acc_fs_recvfrom(int fd, void *buf, size_t len, int flags,
                        struct sockaddr *addr, socklen_t *alen);
ssize_t acc_fs_recvmsg(int fd, struct msghdr *mh, int flags);
ssize_t acc_fs_read(int fd, void *buf, size_t len);
ssize_t acc_fs_readv(int fd, const struct iovec *iov, int iovcnt);
ssize_t acc_fs_send(int fd, const void *buf, size_t len, int flags);
ssize_t acc_fs_sendto(int fd, const void *buf, size_t len, int flags,
                      const struct sockaddr *addr, socklen_t alen);
ssize_t acc_fs_sendmsg(int fd, const struct msghdr *mh, int flags);
ssize_t acc_fs_write(int fd, const void *buf, size_t len);
ssize_t acc_fs_writev(int fd, const struct iovec *iov, int iovcnt);
int acc_fs_accept(int fd, struct sockaddr *addr, socklen_t *alen);
int acc_fs_accept4(int fd, struct sockaddr *addr, socklen_t *alen, int flags);
int acc_fs_connect(int fd, const struct sockaddr *addr, socklen_t alen);
int acc_fs_poll(struct pollfd *fds, nfds_t n, int timeout);
int acc_fs_select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv);
int acc_fs_epoll_wait(int ep, struct epoll_event *ev, int max, int timeout);
int acc_fs_getsockopt(int fd, int level, int name, void *val, socklen_t *len);
int acc_fs_setsockopt(int fd, int level, int name, const void *val, socklen_t len);
int acc_fs_listen(int fd, int backlog);
int acc_fs_fcntl(int fd, int cmd, ...);

#endif /* ACC_FAILSYS_H */
