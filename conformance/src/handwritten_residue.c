/* handwritten_residue.c: what a refused constructor leaves behind (E6),
 * measured from the suite's side: the map's size, the process's open
 * descriptors, and the identity and flags of a descriptor handed to a
 * failed adopt.  An adapter may free its handle when a constructor fails,
 * which would tidy away a registered channel; these figures stay visible
 * however the adapter cleans up (docs/implementing.md, "When a constructor
 * fails"). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec.h"
#include "runner.h"

/* The suite-side state a failed constructor must leave as it found it. */
typedef struct {
    long size;
    int fds;
    int fd;             /* the descriptor handed over, or -1 */
    struct stat st;
    int flags;
} snap_t;

static void snap(const acc_impl_t *im, void *m, int fd, snap_t *s)
{
    memset(s, 0, sizeof(*s));
    s->size = im->map_size(m);
    s->fds = exec_count_fds();
    s->fd = fd;
    if (fd >= 0) {
        (void)fstat(fd, &s->st);
        s->flags = fcntl(fd, F_GETFL);
    }
}

/* 0 when nothing changed; else 1 with msg saying what the operation left. */
static int compare(const acc_impl_t *im, void *m, const snap_t *b, const char *what,
                   int r, int want, char *msg, size_t cap)
{
    snap_t a;
    struct stat st;
    if (r != want)
        return hw_fail(msg, cap, "%s returned %d (%s), want %d (%s): E3", what, r,
                       r < 0 ? acc_errno_name(-r) : "success", want, acc_errno_name(-want));
    snap(im, m, -1, &a);
    if (a.size != b->size)
        return hw_fail(msg, cap, "%s failed but the map holds %ld channel(s), %ld before: a "
                       "refused constructor registers nothing (E6)", what, a.size, b->size);
    if (b->fd >= 0 && (fstat(b->fd, &st) < 0 || st.st_ino != b->st.st_ino ||
                       st.st_dev != b->st.st_dev))
        return hw_fail(msg, cap, "%s failed and the descriptor it was given is %s: it stays "
                       "the caller's, neither kept nor closed (E6)", what,
                       fcntl(b->fd, F_GETFD) < 0 ? "closed" : "another file now");
    if (b->fd >= 0 && fcntl(b->fd, F_GETFL) != b->flags)
        return hw_fail(msg, cap, "%s failed and changed the file status flags of the "
                       "descriptor it was given (%#x, were %#x): E6", what,
                       (unsigned)fcntl(b->fd, F_GETFL), (unsigned)b->flags);
    if (a.fds != b->fds)
        return hw_fail(msg, cap, "%s failed and the process has %d open descriptor(s), %d "
                       "before: nothing leaks (E6)", what, a.fds, b->fds);
    return 0;
}

typedef int adopt_fn(void **, void *, int, const acc_events_t *, void *);

/* One adopt that must be refused with want; a handle it wrongly made is
 * freed once the figures are taken. */
static int refused_adopt(const acc_impl_t *im, void *m, adopt_fn *adopt, int fd, int want,
                         const snap_t *b, const char *what, hw_obs_t *got, char *msg, size_t cap)
{
    void *h = NULL;
    int r = adopt(&h, m, fd, &hw_obs_reader_events, got);
    int rc = compare(im, m, b, what, r, want, msg, cap);
    if (r >= 0 && h)
        im->free(h);
    return rc;
}

/* Adopting a pipe (ENOTSOCK) and a closed number (EBADF). */
static int refused_adopts(const exec_opts_t *o, void *m, adopt_fn *adopt, const char *name,
                          char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    hw_obs_t got = {0};
    int p[2], rc = 0;
    char what[64];
    snap_t b;
    if (pipe2(p, O_CLOEXEC) < 0)
        return hw_fail(msg, cap, "pipe: %s", strerror(errno));
    snap(im, m, p[0], &b);
    snprintf(what, sizeof(what), "%s of a pipe", name);
    rc = refused_adopt(im, m, adopt, p[0], -ENOTSOCK, &b, what, &got, msg, cap);
    close(p[0]);
    close(p[1]);
    if (rc)
        return rc;
    int gone = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (gone < 0)
        return hw_fail(msg, cap, "/dev/null: %s", strerror(errno));
    close(gone);
    snap(im, m, -1, &b);
    snprintf(what, sizeof(what), "%s of a closed descriptor", name);
    return refused_adopt(im, m, adopt, gone, -EBADF, &b, what, &got, msg, cap);
}

/* Adopting another channel's descriptor (EEXIST, M3): refused, and the
 * holder keeps it and is still served. */
static int refused_taken(const exec_opts_t *o, void *m, adopt_fn *adopt, const char *name,
                         char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *holder = NULL;
    hw_obs_t got = {0};
    int peer = -1, rc;
    char what[64];
    snap_t b;
    if (hw_chat_pair(im, m, &holder, &peer, &hw_obs_reader_events, &got) < 0)
        return hw_fail(msg, cap, "set-up of a chat channel failed");
    if (im->set_none(holder) != 0) { /* set explicitly: the holder reads below */
        im->free(holder);
        close(peer);
        return hw_fail(msg, cap, "set_none on a new chat channel failed");
    }
    int held = im->fd(holder);
    snap(im, m, held, &b);
    snprintf(what, sizeof(what), "%s of another channel's descriptor", name);
    rc = refused_adopt(im, m, adopt, held, -EEXIST, &b, what, &got, msg, cap);
    if (rc == 0) {
        (void)!send(peer, "xy", 2, MSG_NOSIGNAL);
        for (int i = 0; i < 100 && got.n < 2; i++)
            im->poll(m, o->backend, 10);
        if (got.n != 2 || im->fd(holder) != held)
            rc = hw_fail(msg, cap, "after the refused %s the holder read %zu of 2 bytes, fd %d "
                         "(was %d): the descriptor belongs to the channel that holds it (M3)",
                         what, got.n, im->fd(holder), held);
    }
    im->free(holder);
    close(peer);
    return rc;
}

/* A refused listen: a second listener on a port in use (EADDRINUSE). */
static int refused_listen(const exec_opts_t *o, void *m, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *h = NULL, *l = NULL;
    hw_obs_t got = {0};
    snap_t b;
    struct sockaddr_in a = {0};
    socklen_t len = sizeof(a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (im->listen(&l, m, (struct sockaddr *)&a, sizeof(a), &hw_obs_reader_events,
                   &got) < 0 ||
        getsockname(im->fd(l), (struct sockaddr *)&a, &len) < 0) {
        if (l)
            im->free(l);
        return hw_fail(msg, cap, "set-up of a listener failed");
    }
    snap(im, m, -1, &b);
    int r = im->listen(&h, m, (struct sockaddr *)&a, sizeof(a), &hw_obs_reader_events,
                       &got);
    int rc = compare(im, m, &b, "listen on a port in use", r, -EADDRINUSE, msg, cap);
    if (r >= 0 && h)
        im->free(h);
    im->free(l);
    return rc;
}

/* A connect that fails inside connect(): TCP to the limited broadcast
 * address (D17: closed and unregistered). */
static int refused_connect(const exec_opts_t *o, void *m, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *h = NULL;
    hw_obs_t got = {0};
    snap_t b;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(80);
    a.sin_addr.s_addr = htonl(INADDR_BROADCAST);
    snap(im, m, -1, &b);
    int r = im->chat_connect(&h, m, (struct sockaddr *)&a, sizeof(a), &hw_obs_reader_events,
                             &got);
    if (r >= 0) {
        im->free(h);
        return hw_fail(msg, cap, "chat_connect to 255.255.255.255:80 succeeded (want the "
                       "error connect() reported: D17)");
    }
    return compare(im, m, &b, "chat_connect to 255.255.255.255:80 (D17)", r, r, msg, cap);
}

/* Every refusal is measured, each against figures taken just before it, and
 * every failure is reported: one missing guard hides none of the others. */
int hw_residue(const exec_opts_t *o, char *msg, size_t cap)
{
    const acc_impl_t *im = o->impl;
    void *m = NULL;
    char one[512];
    int failed = 0;
    size_t used = 0;
    if (im->map_new(&m) < 0)
        return hw_fail(msg, cap, "map_new failed");
    msg[0] = '\0';
    for (int step = 0; step < 6; step++) {
        int rc = 0;
        one[0] = '\0';
        switch (step) {
        case 0: rc = refused_adopts(o, m, im->chat_adopt, "chat_adopt", one, sizeof(one)); break;
        case 1: if (im->caps & ACC_CAP_DISPATCHER)
                    rc = refused_adopts(o, m, im->disp_adopt, "disp_adopt", one, sizeof(one));
                break;
        case 2: if (im->caps & ACC_CAP_LISTEN) rc = refused_listen(o, m, one, sizeof(one)); break;
        case 3: if (im->caps & ACC_CAP_CONNECT) rc = refused_connect(o, m, one, sizeof(one)); break;
        case 4: rc = refused_taken(o, m, im->chat_adopt, "chat_adopt", one, sizeof(one)); break;
        case 5: if (im->caps & ACC_CAP_DISPATCHER)
                    rc = refused_taken(o, m, im->disp_adopt, "disp_adopt", one, sizeof(one));
                break;
        }
        if (rc && used + 3 < cap) {
            int k = snprintf(msg + used, cap - used, "%s%s", failed ? "; " : "", one);
            used += k > 0 ? (size_t)k : 0;
            if (used >= cap)
                used = cap - 1;
            failed = 1;
        }
    }
    im->map_free(m);
    return failed;
}
