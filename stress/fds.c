/* fds.c: the fd-leak check: the set of open fds before the run and after
 * it, and a report naming each fd that was leaked or closed by the run. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fds.h"

enum { FDCAP = 65536 };
static unsigned char before[FDCAP], after[FDCAP];

/* What fd names (/proc/self/fd/N's link), "?" if it is closed. */
static void fd_target(int fd, char *b, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, b, cap - 1);
    if (n <= 0)
        snprintf(b, cap, "?");
    else
        b[n] = 0;
}

/* The links of the fds open before the run (the first few), so an fd the
 * run closed can be named by what it was. */
enum { NAMED = 64 };
static struct { int fd; char target[128]; } named[NAMED];
static int nnamed;

static const char *fd_before_target(int fd)
{
    for (int i = 0; i < nnamed; i++)
        if (named[i].fd == fd)
            return named[i].target;
    return "?";
}

/* Open fds, as a set: the fd-leak check compares before and after.  With
 * keep, also remembers what the first NAMED of them are. */
static int fd_snapshot(unsigned char *set, int cap, int keep)
{
    memset(set, 0, (size_t)cap);
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    int self = dirfd(d), n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        int fd = atoi(e->d_name);
        if (fd == self)
            continue;
        n++;
        if (fd >= 0 && fd < cap)
            set[fd] = 1;
        if (keep && nnamed < NAMED) {
            named[nnamed].fd = fd;
            fd_target(fd, named[nnamed].target, sizeof named[0].target);
            nnamed++;
        }
    }
    closedir(d);
    return n;
}

int fds_before(void)
{
    int n = fd_snapshot(before, FDCAP, 1);
    if (n < 0)
        stress_harness("cannot list /proc/self/fd");
    return n;
}

/* The sets, not only the counts: a run that leaks one fd and closes
 * another it did not own (say the harness's stdin) keeps the count. */
int fds_after(int nbefore)
{
    int nafter = fd_snapshot(after, FDCAP, 0);
if (nafter != nbefore || memcmp(before, after, FDCAP) != 0) {
    char leaked[700] = "", closed[700] = "";
    int nleaked = 0, nclosed = 0;
    for (int fd = 0; fd < FDCAP; fd++) {
        if (after[fd] == before[fd])
            continue;
        char *l = after[fd] ? leaked : closed;
        size_t len = strlen(l);
        *(after[fd] ? &nleaked : &nclosed) += 1;
        if (len > 600)
            continue; /* counted, not named */
        char target[256];
        if (after[fd])
            fd_target(fd, target, sizeof target);
        else
            snprintf(target, sizeof target, "%s", fd_before_target(fd));
        snprintf(l + len, 700 - len, " %d=%s", fd, target);
    }
    stress_violation(-1, "fd leak: %d fds open before the run, %d after; "
                     "%d leaked (open now, not before):%s; %d closed "
                     "(open before, not now):%s%s", nbefore, nafter,
                     nleaked, nleaked ? leaked : " none", nclosed,
                     nclosed ? closed : " none",
                     nafter - nbefore != nleaked - nclosed
                         ? "; others above fd 65535" : "");
}
    return nafter;
}
