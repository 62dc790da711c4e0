/* exec.h: runs one parsed case against an implementation, in one read-
 * chunking variant and one backend, and says PASS or why it failed. */
#ifndef ACC_EXEC_H
#define ACC_EXEC_H

#include <stdint.h>

#include "acc_adapter.h"
#include "case.h"

/* Where a run is, in memory its parent can read after the run died of a
 * signal or a timeout (a forked run cannot say so itself): the run writes
 * it before each step, reaction and phase. */
typedef enum {
    EXEC_AT_START,      /* making maps, or not started */
    EXEC_AT_STEP,       /* running the step on line `line` */
    EXEC_AT_END,        /* the end-of-case check for unexpected events */
    EXEC_AT_TEARDOWN,   /* freeing the case's channels and maps */
    EXEC_AT_HANDWRITTEN /* inside a hand-written test */
} exec_phase_t;

typedef struct {
    volatile int phase; /* exec_phase_t */
    volatile int line;  /* EXEC_AT_STEP: the step's line in the case file */
} exec_where_t;

/* V_PASS, V_FAIL, ... in acc_adapter.h's order, which reports count in. */
#define ACC_VERDICT_ENUM_(name) V_##name,
typedef enum { ACC_VERDICT_LIST(ACC_VERDICT_ENUM_) V__COUNT } verdict_t;
#undef ACC_VERDICT_ENUM_

typedef struct {
    const acc_impl_t *impl;
    const char *backend;
    int split;
    uint64_t seed;
    int verbose;        /* print every step and event to stderr */
    exec_where_t *where; /* NULL: nobody asks */
} exec_opts_t;

/* V_PASS when every expectation held, V_FAIL with a one-paragraph reason
 * in msg otherwise, V_SKIP (reason in msg) when an operation returned a
 * result its step allows with "or skip": the case does not apply.  Never
 * exits: the caller (a forked libcheck test) reports. */
verdict_t exec_case(const acc_case_t *c, const exec_opts_t *o, char *msg,
              size_t msglen);

/* A loopback TCP connection: fds[0] for the implementation, fds[1] the
 * suite's peer (non-blocking).  0, or -1 with nothing left open. */
int exec_tcp_pair(int fds[2]);
/* A loopback TCP listener on a free port, its address in *a; -1 on error. */
struct sockaddr_in;
int exec_tcp_listener(struct sockaddr_in *a);

/* Open file descriptors of this process (below 4096): a test's residue. */
int exec_count_fds(void);

#endif /* ACC_EXEC_H */
