/* oracle_framing.h: the terminator program a framing fuzz input decodes to,
 * and a deliberately naive model of the spec's T clauses that predicts what
 * the framing core must deliver for it.  The model shares no code with
 * ref/src/framer.c: it keeps the whole input and searches it afresh. */
#ifndef ACHAT_ORACLE_FRAMING_H
#define ACHAT_ORACLE_FRAMING_H

#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"

/* One action of the program: a terminator to set, or another framing call. */
typedef enum {
    PA_STRING,  /* set_terminator(bytes, len); len 0 means none (T1) */
    PA_COUNT,   /* set_count(count); 0 means none (T1) */
    PA_NONE,    /* set_none() */
    PA_NULL0,   /* set_terminator(NULL, 0): none */
    PA_DISCARD, /* discard(): stops the current feed (T14) */
    PA_RESET,   /* set the current terminator again, from its own getter */
    PA_INVALID, /* an invalid set: -EINVAL and no change (T3) */
    PA_LIMIT    /* set_limit(count); 0 means no limit (T16) */
} pa_kind_t;

/* When a non-initial action runs: inside the n-th found_terminator of the
 * whole run (1-based, T10), or just before feed number n (0-based), which
 * is a change outside found_terminator (T11). */
typedef enum { PT_FOUND, PT_FEED } pt_kind_t;

typedef struct {
    pa_kind_t kind;
    const uint8_t *bytes; /* PA_STRING: points into the fuzz input */
    size_t len;
    uint64_t count;       /* PA_COUNT, PA_LIMIT */
    int alt;              /* PA_INVALID: 0 = NULL with len 5, 1 = too long */
    pt_kind_t when;
    unsigned at;
} prog_action_t;

#define PROG_MAX 8

typedef struct {
    prog_action_t act[PROG_MAX]; /* act[0] runs before the first feed */
    int nact;
    size_t limit;                /* initial input limit, 0 = none */
} prog_t;

/* The oracle's verdict after each feed, in the same terms the harness
 * records for the real framer. */
typedef struct {
    const uint8_t *in;   /* the whole data part of the input */
    size_t inlen;
    const prog_t *prog;
    size_t fed;          /* bytes of in given to feeds so far */
    size_t pos;          /* first byte not yet delivered or consumed */
    /* The terminator in force. */
    int kind;            /* 0 none, 1 string, 2 count (as ac_term_kind_t) */
    const uint8_t *term;
    size_t tlen;
    uint64_t count;
    size_t limit, reclen;
    int failed;          /* sticky overflow until a discard (T16) */
    int stop;            /* a discard inside found ended this feed */
    unsigned nfound;     /* found_terminator calls so far */
    unsigned nfeed;      /* feeds so far */
    int discarded;       /* a discard ran at some point */
    /* What was delivered: every collected byte in order, and the length of
     * that stream at each found_terminator. */
    uint8_t *data;
    size_t ndata;
    size_t *rec_end;
    size_t nrec;
    size_t cap;          /* capacity of data and rec_end */
} oracle_t;

#define ORACLE_TOOBIG (-1)

/* in/inlen: the bytes to be fed.  o starts zeroed or as a previous
 * oracle_init left it (its buffers are reused); oracle_free releases. */
int oracle_init(oracle_t *o, const prog_t *prog, const uint8_t *in,
                size_t inlen);
void oracle_free(oracle_t *o);
/* Applies the program's PT_FEED actions for the next feed, then frames the
 * next n bytes.  Returns 0 or ORACLE_TOOBIG. */
int oracle_feed(oracle_t *o, size_t n);
/* Bytes held back: in[pos, fed). */
size_t oracle_held(const oracle_t *o, const uint8_t **bytes);
/* What the harness does after an overflow: the partial record is dropped,
 * discard, terminator none, then the program's first action again. */
void oracle_recover(oracle_t *o);

/* Decodes an input's flags and terminator program (the layout is in
 * fuzz_framing.c's header); *bytewise is the differential replay's flag. */
void prog_decode(fuzz_in_t *in, prog_t *prog, int *bytewise);

#endif /* ACHAT_ORACLE_FRAMING_H */
