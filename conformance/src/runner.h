/* runner.h: what the runner's parts share: one planned run (a case in one
 * variant and backend), its verdict, and the report writers. */
#ifndef ACC_RUNNER_H
#define ACC_RUNNER_H

#include <stdint.h>

#include "acc_adapter.h"
#include "case.h"
#include "exec.h"
#include "failsys.h"

/* A hand-written test: what a case file cannot say (threads, fd reuse
 * across maps).  It runs and reports as a case (test_t).  fn returns 1,
 * the reason in msg, when it failed. */
typedef struct {
    const char *id;
    const char *clauses;  /* space-separated */
    level_t level;
    unsigned requires;
    int (*fn)(const exec_opts_t *o, char *msg, size_t msglen);
} handwritten_t;

extern const handwritten_t handwritten[];
extern const int nhandwritten;

typedef struct test test_t;

/* What differs between a case file and a hand-written test. */
typedef struct {
    /* V_PASS, V_FAIL or V_SKIP (the reason in msg), keeping o->where. */
    verdict_t (*run)(const test_t *t, const exec_opts_t *o, char *msg, size_t cap);
    /* Where a run that died stopped, " in step line 14 `expect a found`". */
    void (*where)(const test_t *t, const exec_where_t *w, char *out, size_t cap);
} test_ops_t;

/* A case, from a case file or hand-written: what the runner plans, selects
 * and reports by (test.c). */
struct test {
    const test_ops_t *ops;
    const void *body;           /* its acc_case_t or handwritten_t */
    const char *id;
    const char *file;           /* the case file; NULL if hand-written */
    char **clauses;
    int nclauses;
    level_t level;
    unsigned requires;          /* ACC_CAP_* */
    unsigned splits;            /* SPLIT_* bits; 0: one run, as written, whatever --split */
    char area;                  /* 'L' 'D' 'T' 'P' 'M' 'E' */
    void *mem;                  /* what it owns, or NULL */
};

void test_from_case(test_t *t, const acc_case_t *c);
/* 0, or -1 out of memory. */
int test_from_handwritten(test_t *t, const handwritten_t *hw);
void test_free(test_t *t);

typedef struct {
    const test_t *t;
    int split;
    const char *backend;
    verdict_t verdict;          /* settled once, when the run ends (settle_verdict) */
    verdict_t expected;         /* V_PASS, or V_XFAIL from expectations */
    char *reason;               /* expectation or skip reason */
    char *message;              /* failure message */
    double seconds;
} plan_t;

/* A clause of the spec: its id, level, and the levels its text uses (a
 * MUST clause may hold a SHOULD or MAY sentence): bit 1 << level_t. */
typedef struct {
    char id[16];
    level_t level;
    unsigned says;
} spec_clause_t;

typedef struct {
    spec_clause_t *v;
    int n;
} spec_t;

/* Reads the clause headings "### <id> [<level>] <title>" of path: 0, or a
 * negative errno. */
int spec_load(const char *path, spec_t *sp);
const spec_clause_t *spec_find(const spec_t *sp, const char *id);
void spec_free(spec_t *sp);

typedef struct {
    const acc_impl_t *impl;
    plan_t *plans;
    int nplans;
    uint64_t seed;
    double seconds;             /* whole run */
    const char *argv0;
    const char *cases_dir;      /* non-default --cases, for repro */
    const char *spec;           /* docs/spec.md, for clause coverage */
    const spec_t *clauses;      /* its clauses; NULL if it cannot be read */
    const test_t *tests;        /* every loaded case, selected or not */
    int ntests;
    int strict;                 /* SHOULD/MAY failures fail the run */
    int jobs;                   /* runs at once */
} report_t;

const char *verdict_name(verdict_t v);
/* A FAIL that does not fail the run: a SHOULD or MAY case, not --strict. */
int plan_soft(const report_t *r, const plan_t *p);
/* "<argv0> --seed S --split X --backend B 'id'" */
void repro_command(const report_t *r, const plan_t *p, char *out, size_t cap);

/* verdict.c: the verdict of a run that ended as ran (PASS, FAIL, SKIP or
 * ERROR), given what the expectations say of it: an ERROR stays ERROR
 * whatever they say; only a failure can be expected. */
verdict_t settle_verdict(verdict_t ran, verdict_t expected);
/* Whether a run with verdict v, of a case at level, fails the whole run
 * (a SHOULD or MAY failure does not, unless strict). */
int verdict_fails_run(verdict_t v, level_t level, int strict);
/* The message of an ERROR run: what ended it (libcheck's ckmsg: a signal,
 * the timeout, an early exit) and where (w: the step line and its text). */
void error_message(const plan_t *p, const char *ckmsg, const exec_where_t *w,
                   double timeout, char *out, size_t cap);

void report_terminal(const report_t *r);
int report_tap(const report_t *r, const char *path);
int report_junit(const report_t *r, const char *path);
int report_json(const report_t *r, const char *path);
/* Prints every spec clause with the cases that check it; returns how many
 * MUST clauses no case covers (or -1 if the spec cannot be read). */
int report_coverage(const report_t *r, int print);
/* The ids of the loaded cases and hand-written tests that name clause id,
 * in the order of r->tests; *n gets their number.  Caller frees. */
const char **clause_cases(const report_t *r, const char *id, int *n);

/* A hand-written test's failure: the message into msg, returns 1. */
int hw_fail(char *msg, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A chat channel adopted on one end of a new socketpair in map (NULL: the
 * default); *peer is the suite's end.  0, or -1 with nothing left open. */
int hw_chat_pair(const acc_impl_t *im, void *map, void **ch, int *peer,
                 const acc_events_t *ev, void *ctx);

/* observer.c: what one channel's handlers saw, for the hand-written tests.
 * Every handler counts its calls; collect counts bytes in n and keeps the
 * first cap of them in buf when buf is set; accept closes the descriptor it
 * is given.  hw_obs_readable and hw_obs_writable answer rd and wr.  A test
 * that needs more puts an hw_obs_t first in a struct of its own (the
 * handlers below then work on it unchanged) and replaces the handlers it
 * changes in a table of its own. */
typedef struct {
    char *buf;
    size_t cap, n;
    int found, closes, errors, err, connects, accepts, reads, writes;
    int rd, wr;
} hw_obs_t;

void hw_obs_collect(void *obs, const void *data, size_t len);
void hw_obs_found(void *obs);
void hw_obs_close(void *obs);
void hw_obs_error(void *obs, int err);
void hw_obs_connect(void *obs);
void hw_obs_accept(void *obs, int fd);
void hw_obs_read(void *obs);
void hw_obs_write(void *obs);
int hw_obs_readable(void *obs);
int hw_obs_writable(void *obs);
/* Fixed answers, for a plain dispatcher that always reads and never asks
 * to write (it would be writable on every pass). */
int hw_obs_yes(void *obs);
int hw_obs_no(void *obs);

/* Every handler counting; predicates rd and wr (plain dispatchers). */
extern const acc_events_t hw_obs_events;
/* Every handler counting; a plain dispatcher that always reads and never
 * asks to write. */
extern const acc_events_t hw_obs_reader_events;
/* Every handler counting, no predicates: a chat keeps its own (with
 * ACC_CAP_CHAT_READABLE a readable here would gate its input too). */
extern const acc_events_t hw_obs_chat_events;

/* The handler calls an observer saw, a collect run counting once. */
int hw_obs_calls(const hw_obs_t *o);
/* A zeroed observer that keeps the first cap collected bytes in buf. */
void hw_obs_init(hw_obs_t *o, char *buf, size_t cap);
/* How many of the collected bytes buf holds. */
size_t hw_obs_kept(const hw_obs_t *o);

/* failalloc.c: fail the allocation n calls from now (0: the next one) made
 * by this thread through acc_fa_*; -1 disarms.  acc_fa_seen() counts the
 * allocations since arming. */
void acc_fa_arm(long n);
long acc_fa_seen(void);
void *acc_fa_malloc(size_t n);
void *acc_fa_calloc(size_t k, size_t n);
void *acc_fa_realloc(void *p, size_t n);

#endif /* ACC_RUNNER_H */
