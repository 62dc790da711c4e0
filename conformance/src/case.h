/* case.h: the in-memory form of a conformance case file (docs/case-format.md)
 * and the parser that builds it.  Names of channels, maps and producers are
 * resolved to small indexes at parse time, so the executor never looks up
 * strings and a typo is a parse error with a line number. */
#ifndef ACC_CASE_H
#define ACC_CASE_H

#include <stddef.h>
#include <stdint.h>

#include "acc_common.h" /* acc_escape, for the case's users */

#define CASE_MAX_NAMES 16
#define RC_ANY 1 /* expected result: anything (never a real return) */

typedef enum {
    /* creation */
    OP_MAP, OP_CHAT_UNIX, OP_CHAT_TCP, OP_CONNECT, OP_CONNECT_REFUSED,
    OP_DCONNECT, OP_DCONNECT_REFUSED,
    OP_DISP_UNIX, OP_LISTEN, OP_DIAL, OP_ADOPT,
    /* peer side */
    OP_SEND, OP_SHUT, OP_PEER_CLOSE, OP_RESET, OP_URGENT,
    /* implementation operations */
    OP_TERM, OP_COUNT, OP_NONE, OP_LIMIT, OP_BUFSIZE, OP_PUSH, OP_PRODUCER,
    OP_CLOSE_WHEN_DONE, OP_DISCARD, OP_CLOSE, OP_FREE, OP_READABLE,
    OP_WRITABLE, OP_SENDRAW, OP_CLOSE_ALL, OP_EXIT, OP_CLOSE_FD,
    OP_PEER_STALL,
    /* one call made the wrong way (misuse) */
    OP_MISUSE,
    /* syscall faults (sys-fail) */
    OP_FAULT,
    /* loop */
    OP_PASS, OP_RUN, OP_LOOP,
    /* expectations */
    OP_EXPECT, OP_EXPECT_PEER, OP_EXPECT_PEER_EOF, OP_EXPECT_SIZE,
    OP_EXPECT_CLOSED, OP_EXPECT_OPEN, OP_EXPECT_QUIET,
    /* expectations that run no pass (OP_EXPECT_NOW and after) */
    OP_EXPECT_NOW, OP_EXPECT_QUIET_NOW, OP_EXPECT_PREDICATES,
    OP_EXPECT_ELAPSED, OP_EXPECT_PEER_SENT, OP_EXPECT_BLOCKED, OP_EXPECT_EITHER,
    OP_EXPECT_FAULTED, OP_EXPECT_TERMINATOR
} op_t;

/* Event kinds, as recorded from callbacks and named in expectations. */
typedef enum {
    EV_DATA, EV_FOUND, EV_CLOSE, EV_ERROR, EV_CONNECT, EV_ACCEPT, EV_READ,
    EV_READ_EAGAIN, EV_WRITE, EV_RELEASED, EV_EXPT, EV__COUNT
} ev_kind_t;

typedef struct step {
    int line;
    op_t op;
    int ch, ch2;          /* channel indexes (-1: none) */
    int map;              /* map index (0: the case's main map) */
    unsigned char *bytes; /* string argument (owned) */
    size_t nbytes;
    uint64_t num, num2;
    int rc;               /* expected result of an operation */
    int has_skip;         /* skip_rc is set */
    int skip_rc;          /* a result that ends the case as SKIP */
    ev_kind_t ev;         /* OP_EXPECT, and reaction triggers */
    int prod;             /* producer name index */
    unsigned char **chunks;
    size_t *lens;
    size_t nchunks;
    size_t slow;          /* OP_EXPECT_PEER: bytes per read, 0 = all */
    int has_sent;         /* OP_SENDRAW "sent N": num2 is the exact count */
    int fs_kind, fs_fault; /* OP_FAULT (fs_fault -1: off), OP_EXPECT_FAULTED */
    int mis_op, mis_form;  /* OP_MISUSE: ACC_MISUSE_* operation and form */
    /* Creation options: the new channel's handle_error (ACC_ERROR_*) and
     * whether its handle_expt reports to the suite (acc_events_t). */
    int error_mode;
    int expt;
    int term_kind;        /* OP_EXPECT_TERMINATOR: ACC_TERM_* (num, bytes) */
} step_t;

typedef struct reaction {
    int ch;
    ev_kind_t ev;
    uint64_t nth;         /* 0: every time */
    step_t action;
} reaction_t;

typedef enum { LEVEL_MUST, LEVEL_SHOULD, LEVEL_MAY } level_t;

/* Read-chunking variants; a case may restrict them (variants:). */
enum {
    SPLIT_AS_WRITTEN, SPLIT_ONE_SHOT, SPLIT_BYTEWISE, SPLIT_RANDOM,
    SPLIT__COUNT
};

typedef struct acc_case {
    char *file;
    char *id;
    char **clauses;
    int nclauses;
    level_t level;
    unsigned requires;    /* ACC_CAP_* bits */
    unsigned splits;      /* bit per SPLIT_* allowed */
    char *description;
    char *names[CASE_MAX_NAMES];  /* channels */
    /* Bit per chat channel with a readable of the suite's (readable or
     * expect-predicates names it): the others keep the library's own. */
    unsigned own_readable;
    int nnames;
    char *maps[CASE_MAX_NAMES];   /* maps[0] = "main" */
    int nmaps;
    char *prods[CASE_MAX_NAMES];
    int nprods;
    step_t *steps;
    int nsteps;
    reaction_t *reactions;
    int nreactions;
} acc_case_t;

/* Parses text (a whole file) into *c.  On error returns -1 and writes a
 * message "file:line: what" into err. */
int case_parse(acc_case_t *c, const char *file, const char *text, char *err,
               size_t errlen);
int case_load(acc_case_t *c, const char *path, char *err, size_t errlen);
void case_free(acc_case_t *c);

const char *acc_split_name(int split);
int acc_split_by_name(const char *s);
const char *acc_level_name(level_t l);
const char *acc_ev_name(ev_kind_t e);
/* The step keyword of an operation ("close-when-done"), for messages. */
const char *acc_op_word(op_t op);
/* An errno a case file may name ("EPIPE"), 0 for "0"; -1 if unknown. */
int acc_errno_by_name(const char *s);
/* Positive errno -> "EPIPE"; "0" for 0, "E?" if a case could not name it. */
const char *acc_errno_name(int err);
/* A misuse step's operation and form as case files spell them. */
const char *acc_misuse_op_name(int op);
const char *acc_misuse_form_name(int form);

#endif /* ACC_CASE_H */
