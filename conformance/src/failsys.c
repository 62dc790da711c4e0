/* failsys.c: syscall faults on demand.  An implementation whose socket,
 * fcntl and wait calls are renamed to acc_fs_* (failsys.syms; the
 * reference's impl.mk does it with objcopy) and that declares ACC_CAP_SYSCALL_FAULTS lets the
 * suite interrupt, refuse or shorten chosen calls.  Unarmed, every call
 * goes straight through.  Per thread, as failalloc.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "failsys.h"

typedef struct {
    int armed;
    acc_fs_fault_t fault;
    long after, times;
    long calls, injected;
} fs_plan_t;

static _Thread_local fs_plan_t plans[ACC_FS__KINDS];

void acc_fs_arm(acc_fs_kind_t kind, acc_fs_fault_t fault, long after, long times)
{
    plans[kind] = (fs_plan_t){1, fault, after, times, 0, 0};
}

void acc_fs_disarm(acc_fs_kind_t kind)
{
    plans[kind].armed = 0;
}

void acc_fs_reset(void)
{
    memset(plans, 0, sizeof(plans));
}

long acc_fs_calls(acc_fs_kind_t kind)
{
    return plans[kind].calls;
}

long acc_fs_injected(acc_fs_kind_t kind)
{
    return plans[kind].injected;
}

/* The fault this call of kind gets, or -1: through. */
static int next_fault(acc_fs_kind_t kind)
{
    fs_plan_t *p = &plans[kind];
    long i = p->calls++;
    if (!p->armed || i < p->after || (p->times >= 0 && i - p->after >= p->times))
        return -1;
    p->injected++;
    return (int)p->fault;
}

static int fail_with(int err)
{
    errno = err;
    return -1;
}

/* An injected error for kind, or 0 to make the call (*shorten: one byte). */
static int injected_error(acc_fs_kind_t kind, int *shorten)
{
    static const int err[ACC_FS__FAULTS] = {EINTR,     EAGAIN,    0,      ECONNABORTED,
                                            EMFILE,    ECONNREFUSED, ETIMEDOUT, ENOMEM,
                                            EBADF,     EINVAL,    ENOBUFS};
    int f = next_fault(kind);
    *shorten = f == ACC_FS_SHORT;
    return f < 0 ? 0 : err[f];
}

/* read and write reach a socket only when fd is one: the rest (a pipe, a
 * file) is none of the interposer's business and is not counted. */
static int is_socket(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* A copy of iov that carries one byte: the first byte of the first
 * non-empty entry.  Returns the count of entries to use (0 or 1). */
static int one_byte(const struct iovec *iov, size_t n, struct iovec *out)
{
    for (size_t i = 0; i < n; i++)
        if (iov[i].iov_len > 0) {
            *out = (struct iovec){iov[i].iov_base, 1};
            return 1;
        }
    return 0;
}

/* ------------------------------------------------------------ receive -- */

ssize_t acc_fs_recv(int fd, void *buf, size_t len, int flags)
{
    int s, e = injected_error(ACC_FS_RECV, &s);
    if (e)
        return fail_with(e);
    return recv(fd, buf, s && len > 1 ? 1 : len, flags);
}

ssize_t acc_fs_recvfrom(int fd, void *buf, size_t len, int flags,
                        struct sockaddr *addr, socklen_t *alen)
{
    int s, e = injected_error(ACC_FS_RECV, &s);
    if (e)
        return fail_with(e);
    return recvfrom(fd, buf, s && len > 1 ? 1 : len, flags, addr, alen);
}

ssize_t acc_fs_recvmsg(int fd, struct msghdr *mh, int flags)
{
    int s, e = injected_error(ACC_FS_RECV, &s);
    if (e)
        return fail_with(e);
    if (!s)
        return recvmsg(fd, mh, flags);
    struct iovec one, *saved = mh->msg_iov;
    size_t n = mh->msg_iovlen;
    mh->msg_iovlen = (size_t)one_byte(saved, n, &one);
    mh->msg_iov = &one;
    ssize_t k = recvmsg(fd, mh, flags);
    mh->msg_iov = saved;
    mh->msg_iovlen = n;
    return k;
}

ssize_t acc_fs_read(int fd, void *buf, size_t len)
{
    if (!is_socket(fd))
        return read(fd, buf, len);
    int s, e = injected_error(ACC_FS_RECV, &s);
    if (e)
        return fail_with(e);
    return read(fd, buf, s && len > 1 ? 1 : len);
}

ssize_t acc_fs_readv(int fd, const struct iovec *iov, int iovcnt)
{
    if (!is_socket(fd))
        return readv(fd, iov, iovcnt);
    int s, e = injected_error(ACC_FS_RECV, &s);
    if (e)
        return fail_with(e);
    struct iovec one;
    if (s && iovcnt > 0)
        return readv(fd, &one, one_byte(iov, (size_t)iovcnt, &one));
    return readv(fd, iov, iovcnt);
}

/* --------------------------------------------------------------- send -- */

ssize_t acc_fs_send(int fd, const void *buf, size_t len, int flags)
{
    int s, e = injected_error(ACC_FS_SEND, &s);
    if (e)
        return fail_with(e);
    return send(fd, buf, s && len > 1 ? 1 : len, flags);
}

ssize_t acc_fs_sendto(int fd, const void *buf, size_t len, int flags,
                      const struct sockaddr *addr, socklen_t alen)
{
    int s, e = injected_error(ACC_FS_SEND, &s);
    if (e)
        return fail_with(e);
    return sendto(fd, buf, s && len > 1 ? 1 : len, flags, addr, alen);
}

ssize_t acc_fs_sendmsg(int fd, const struct msghdr *mh, int flags)
{
    int s, e = injected_error(ACC_FS_SEND, &s);
    if (e)
        return fail_with(e);
    if (!s)
        return sendmsg(fd, mh, flags);
    struct msghdr m = *mh;
    struct iovec one;
    m.msg_iovlen = (size_t)one_byte(mh->msg_iov, mh->msg_iovlen, &one);
    m.msg_iov = &one;
    return sendmsg(fd, &m, flags);
}

ssize_t acc_fs_write(int fd, const void *buf, size_t len)
{
    if (!is_socket(fd))
        return write(fd, buf, len);
    int s, e = injected_error(ACC_FS_SEND, &s);
    if (e)
        return fail_with(e);
    return write(fd, buf, s && len > 1 ? 1 : len);
}

ssize_t acc_fs_writev(int fd, const struct iovec *iov, int iovcnt)
{
    if (!is_socket(fd))
        return writev(fd, iov, iovcnt);
    int s, e = injected_error(ACC_FS_SEND, &s);
    if (e)
        return fail_with(e);
    struct iovec one;
    if (s && iovcnt > 0)
        return writev(fd, &one, one_byte(iov, (size_t)iovcnt, &one));
    return writev(fd, iov, iovcnt);
}

/* ---------------------------------------------------- accept, connect -- */

int acc_fs_accept(int fd, struct sockaddr *addr, socklen_t *alen)
{
    int s, e = injected_error(ACC_FS_ACCEPT, &s);
    return e ? fail_with(e) : accept(fd, addr, alen);
}

int acc_fs_accept4(int fd, struct sockaddr *addr, socklen_t *alen, int flags)
{
    int s, e = injected_error(ACC_FS_ACCEPT, &s);
    return e ? fail_with(e) : accept4(fd, addr, alen, flags);
}

int acc_fs_connect(int fd, const struct sockaddr *addr, socklen_t alen)
{
    int s, e = injected_error(ACC_FS_CONNECT, &s);
    return e ? fail_with(e) : connect(fd, addr, alen);
}

/* --------------------------------------------------------------- waits -- */

/* The "signal" arrives this far into a wait of timeout_ms (< 0: infinite):
 * the time passes, nothing is reported, as a real interruption. */
static int interrupted_after(int timeout_ms)
{
    int ms = timeout_ms < 0 || timeout_ms > ACC_FS_WAIT_EINTR_MS ? ACC_FS_WAIT_EINTR_MS
                                                                 : timeout_ms;
    struct timespec ts = {0, (long)ms * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    return ms;
}

/* A wait's injected error: only an interruption lets time pass first; a
 * wait that cannot start (ENOMEM, EINVAL) fails at once. */
static int wait_fault(int e, int timeout_ms)
{
    return e == EINTR ? interrupted_after(timeout_ms) : 0;
}

int acc_fs_poll(struct pollfd *fds, nfds_t n, int timeout)
{
    int s, e = injected_error(ACC_FS_WAIT, &s);
    if (!e)
        return poll(fds, n, timeout);
    wait_fault(e, timeout);
    return fail_with(e);
}

int acc_fs_select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv)
{
    int s, e = injected_error(ACC_FS_WAIT, &s);
    if (!e)
        return select(nfds, rd, wr, ex, tv);
    long left = tv ? (long)tv->tv_sec * 1000 + tv->tv_usec / 1000 : -1;
    long slept = wait_fault(e, left > 0x7fffffffL ? 0x7fffffff : (int)left);
    if (tv) { /* Linux's select leaves the time not slept, EINTR included */
        long us = (long)tv->tv_sec * 1000000L + tv->tv_usec - slept * 1000L;
        us = us < 0 ? 0 : us;
        tv->tv_sec = us / 1000000L;
        tv->tv_usec = us % 1000000L;
    }
    return fail_with(e);
}

int acc_fs_epoll_wait(int ep, struct epoll_event *ev, int max, int timeout)
{
    int s, e = injected_error(ACC_FS_WAIT, &s);
    if (!e)
        return epoll_wait(ep, ev, max, timeout);
    wait_fault(e, timeout);
    return fail_with(e);
}

/* ------------------------------------------- set-up: options, listen -- */

int acc_fs_getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    int s, e = injected_error(ACC_FS_GETSOCKOPT, &s);
    return e ? fail_with(e) : getsockopt(fd, level, name, val, len);
}

int acc_fs_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    int s, e = injected_error(ACC_FS_SETSOCKOPT, &s);
    return e ? fail_with(e) : setsockopt(fd, level, name, val, len);
}

int acc_fs_listen(int fd, int backlog)
{
    int s, e = injected_error(ACC_FS_LISTEN, &s);
    return e ? fail_with(e) : listen(fd, backlog);
}

/* fcntl's third argument is an int, a pointer or absent, by command; it
 * must be fetched as the type the caller passed, so the commands that take
 * an int are named and those that take nothing read nothing. */
static int fcntl_int_arg(int cmd)
{
    switch (cmd) {
    case F_DUPFD: case F_DUPFD_CLOEXEC: case F_SETFD: case F_SETFL: case F_SETOWN:
#ifdef F_SETSIG
    case F_SETSIG:
#endif
#ifdef F_SETLEASE
    case F_SETLEASE:
#endif
#ifdef F_NOTIFY
    case F_NOTIFY:
#endif
#ifdef F_SETPIPE_SZ
    case F_SETPIPE_SZ:
#endif
#ifdef F_ADD_SEALS
    case F_ADD_SEALS:
#endif
        return 1;
    default:
        return 0;
    }
}

static int fcntl_no_arg(int cmd)
{
    switch (cmd) {
    case F_GETFD: case F_GETFL: case F_GETOWN:
#ifdef F_GETSIG
    case F_GETSIG:
#endif
#ifdef F_GETLEASE
    case F_GETLEASE:
#endif
#ifdef F_GETPIPE_SZ
    case F_GETPIPE_SZ:
#endif
#ifdef F_GET_SEALS
    case F_GET_SEALS:
#endif
        return 1;
    default:
        return 0;
    }
}

int acc_fs_fcntl(int fd, int cmd, ...)
{
    int s, e = injected_error(ACC_FS_FCNTL, &s);
    if (e)
        return fail_with(e);
    if (fcntl_no_arg(cmd))
        return fcntl(fd, cmd);
    va_list ap;
    va_start(ap, cmd);
    int rc;
    if (fcntl_int_arg(cmd))
        rc = fcntl(fd, cmd, va_arg(ap, int));
    else
        rc = fcntl(fd, cmd, va_arg(ap, void *));
    va_end(ap);
    return rc;
}
