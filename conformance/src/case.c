/* case.c: the parser of conformance case files (docs/case-format.md): a
 * header of "key: value" lines, a "---" line, then one step per line.  Every
 * error names the file and line; nothing in a bad file reaches the
 * executor. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "acc_adapter.h"
#include "case.h"
#include "failsys.h"

#define MAX_TOKENS 64
#define MAX_BYTES (64u << 20) /* largest literal after repetition */
/* All of a case's literals together: a file of many large repetitions
 * must fail to parse, not exhaust the runner's memory. */
#define MAX_CASE_BYTES (256u << 20)

typedef struct {
    int str;              /* 1: a quoted string (bytes in s, n) */
    char *s;
    size_t n;
} token_t;

typedef struct {
    acc_case_t *c;
    const char *file;
    int line;
    char *err;
    size_t errlen;
    token_t tok[MAX_TOKENS];
    int ntok;
    size_t nbytes;        /* literal bytes so far, against MAX_CASE_BYTES */
    char chat[CASE_MAX_NAMES]; /* 1: the channel of that name is a chat */
} parser_t;

static int fail(parser_t *p, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errlen, "%s:%d: %s", p->file, p->line, msg);
    return -1;
}

static void free_tokens(parser_t *p)
{
    for (int i = 0; i < p->ntok; i++)
        free(p->tok[i].s);
    p->ntok = 0;
}

/* Reads a quoted string at *sp (past the opening quote) into t. */
static int lex_string(parser_t *p, const char **sp, token_t *t)
{
    const char *s = *sp;
    size_t cap = strlen(s) + 1, n = 0;
    char *out = malloc(cap);
    if (out == NULL)
        return fail(p, "out of memory");
    for (;;) {
        int ch = (unsigned char)*s++;
        if (ch == '\0') {
            free(out);
            return fail(p, "unterminated string");
        }
        if (ch == '"')
            break;
        if (ch != '\\') {
            out[n++] = (char)ch;
            continue;
        }
        ch = (unsigned char)*s++;
        switch (ch) {
        case 'r': out[n++] = '\r'; break;
        case 'n': out[n++] = '\n'; break;
        case 't': out[n++] = '\t'; break;
        case '0': out[n++] = '\0'; break;
        case '\\': out[n++] = '\\'; break;
        case '"': out[n++] = '"'; break;
        case 'x': {
            int hi = acc_hexval(s[0]), lo = hi < 0 ? -1 : acc_hexval(s[1]);
            if (lo < 0) {
                free(out);
                return fail(p, "bad \\x escape (two hex digits needed)");
            }
            out[n++] = (char)(hi * 16 + lo);
            s += 2;
            break;
        }
        default:
            free(out);
            return fail(p, "unknown escape \\%c", ch ? ch : '0');
        }
    }
    out[n] = '\0'; /* bytes may hold NULs, but messages print it as text */
    t->str = 1;
    t->s = out;
    t->n = n;
    *sp = s;
    return 0;
}

/* Splits a step line into words, quoted strings and ':' tokens; '#' starts
 * a comment outside strings. */
static int lex(parser_t *p, const char *s)
{
    free_tokens(p);
    while (*s) {
        if (isspace((unsigned char)*s)) {
            s++;
            continue;
        }
        if (*s == '#')
            break;
        if (p->ntok == MAX_TOKENS)
            return fail(p, "too many tokens on one line");
        token_t *t = &p->tok[p->ntok];
        memset(t, 0, sizeof(*t));
        if (*s == '"') {
            s++;
            if (lex_string(p, &s, t) < 0)
                return -1;
        } else if (*s == ':') {
            t->s = strdup(":");
            t->n = 1;
            s++;
        } else {
            const char *b = s;
            while (*s && !isspace((unsigned char)*s) && *s != '"' &&
                   *s != ':' && *s != '#')
                s++;
            t->s = strndup(b, (size_t)(s - b));
            t->n = (size_t)(s - b);
        }
        if (t->s == NULL)
            return fail(p, "out of memory");
        p->ntok++;
    }
    return 0;
}

static int word_is(const parser_t *p, int i, const char *w)
{
    return i < p->ntok && !p->tok[i].str && strcmp(p->tok[i].s, w) == 0;
}

static int find_name(char **names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

/* A name token: declared ones resolve; declare=1 adds a new one. */
static int name_at(parser_t *p, int i, char **names, int *n, int declare,
                   const char *what)
{
    if (i >= p->ntok || p->tok[i].str)
        return fail(p, "expected a %s name", what), -2;
    const char *s = p->tok[i].s;
    int k = find_name(names, *n, s);
    if (declare) {
        if (k >= 0)
            return fail(p, "%s '%s' declared twice", what, s), -2;
        if (*n == CASE_MAX_NAMES)
            return fail(p, "too many %s names", what), -2;
        names[*n] = strdup(s);
        return (*n)++;
    }
    if (k < 0)
        return fail(p, "unknown %s '%s'", what, s), -2;
    return k;
}

static int chan_at(parser_t *p, int i, int declare)
{
    return name_at(p, i, p->c->names, &p->c->nnames, declare, "channel");
}

static int parse_u64(parser_t *p, int i, uint64_t *out)
{
    if (i >= p->ntok || p->tok[i].str)
        return fail(p, "expected a number");
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p->tok[i].s, &end, 0);
    if (errno || *end || p->tok[i].s[0] == '-')
        return fail(p, "bad number '%s'", p->tok[i].s);
    *out = v;
    return 0;
}

/* Large literals (a few cases push megabytes; 34 MB in all) live in shared
 * read-only mappings: fork copies no page table entries for them, so the
 * process the runner forks for every run stays cheap, and a run that wrote
 * into one would crash rather than change the next run's case. */
#define LIT_SHARED_MIN (64u << 10)

static struct lit {
    void *p;
    size_t n;
} *lits;
static size_t nlits;

static unsigned char *lit_alloc(size_t n)
{
    if (n < LIT_SHARED_MIN)
        return malloc(n ? n : 1);
    struct lit *t = realloc(lits, (nlits + 1) * sizeof(*t));
    if (t == NULL)
        return NULL;
    lits = t;
    void *m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    lits[nlits++] = (struct lit){m, n};
    return m;
}

/* Filled: from here on the literal is read-only. */
static void lit_seal(unsigned char *p, size_t n)
{
    if (n >= LIT_SHARED_MIN)
        mprotect(p, n, PROT_READ);
}

static void lit_free(unsigned char *p)
{
    for (size_t i = 0; p && i < nlits; i++)
        if (lits[i].p == p) {
            munmap(p, lits[i].n);
            lits[i] = lits[--nlits];
            return;
        }
    free(p);
}

/* BYTES := STRING [ '*' COUNT ] */
static int parse_bytes(parser_t *p, int *i, unsigned char **out, size_t *n)
{
    if (*i >= p->ntok || !p->tok[*i].str)
        return fail(p, "expected a quoted string");
    token_t *t = &p->tok[(*i)++];
    uint64_t rep = 1;
    if (word_is(p, *i, "*")) {
        if (parse_u64(p, *i + 1, &rep) < 0)
            return -1;
        *i += 2;
    }
    if (rep == 0 || (t->n && rep > MAX_BYTES / t->n))
        return fail(p, "repetition out of range");
    size_t total = t->n * (size_t)rep;
    if (total > MAX_CASE_BYTES - p->nbytes)
        return fail(p, "the case's byte strings exceed %u MiB in all",
                    MAX_CASE_BYTES >> 20);
    p->nbytes += total;
    *out = lit_alloc(total);
    if (*out == NULL)
        return fail(p, "out of memory");
    for (uint64_t k = 0; k < rep; k++)
        memcpy(*out + k * t->n, t->s, t->n);
    lit_seal(*out, total);
    *n = total;
    return 0;
}

static int parse_rc(parser_t *p, int *i, step_t *st)
{
    if (!word_is(p, *i, "->"))
        return 0;
    if (*i + 1 >= p->ntok)
        return fail(p, "'->' needs a result (0, any or an errno name)");
    const char *s = p->tok[*i + 1].s;
    if (strcmp(s, "any") == 0) {
        st->rc = RC_ANY;
    } else {
        int e = acc_errno_by_name(s);
        if (e < 0)
            return fail(p, "unknown result '%s'", s);
        st->rc = -e;
    }
    *i += 2;
    /* "-> 0 or skip EINVAL": a result the spec allows, after which the rest
     * of the case does not apply (T3: a cap on long terminators, which an
     * implementation may set higher: "-> EINVAL or skip 0"). */
    if (word_is(p, *i, "or")) {
        if (!word_is(p, *i + 1, "skip") || *i + 2 >= p->ntok)
            return fail(p, "'or' needs 'skip ERRNO' or 'skip 0'");
        int e = acc_errno_by_name(p->tok[*i + 2].s);
        if (e < 0 || -e == st->rc || st->rc == RC_ANY)
            return fail(p, "'or skip' needs 0 or an errno name other than the expected "
                           "result");
        st->has_skip = 1;
        st->skip_rc = -e;
        *i += 3;
    }
    return 0;
}

/* [in MAP] */
static int parse_in(parser_t *p, int *i, step_t *st)
{
    if (!word_is(p, *i, "in"))
        return 0;
    int m = name_at(p, *i + 1, p->c->maps, &p->c->nmaps, 0, "map");
    if (m < 0)
        return -1;
    st->map = m;
    *i += 2;
    return 0;
}

/* A step that needs a capability the header has not declared: the case
 * would otherwise FAIL where the implementation merely lacks it. */
static int needs(parser_t *p, unsigned cap, const char *what)
{
    if (p->c->requires & cap)
        return 0;
    char name[64];
    acc_cap_csv(name, sizeof(name), cap, ACC_IN_CASES);
    return fail(p, "%s needs 'requires: %s' (before '---')", what, name);
}

/* Options of a new channel, after its name and kind, in any order:
 * [in MAP] [error close|keep|default] [expt] (expt: plain only). */
static int parse_chan_opts(parser_t *p, int *i, step_t *st, int plain)
{
    static const char *const modes[] = {"close", "keep", "default"};
    while (*i < p->ntok && !word_is(p, *i, "->")) {
        if (word_is(p, *i, "in")) {
            if (parse_in(p, i, st) < 0)
                return -1;
        } else if (word_is(p, *i, "error")) {
            int m = 0;
            while (m < 3 && !word_is(p, *i + 1, modes[m]))
                m++;
            if (m == 3)
                return fail(p, "error needs close, keep or default");
            if (needs(p, ACC_CAP_ERROR_MODES, "an error mode") < 0)
                return -1;
            st->error_mode = m; /* ACC_ERROR_CLOSE, _KEEP, _DEFAULT */
            *i += 2;
        } else if (word_is(p, *i, "expt") && plain) {
            if (needs(p, ACC_CAP_EXPT, "expt") < 0)
                return -1;
            st->expt = 1;
            (*i)++;
        } else {
            return fail(p, "unexpected '%s': a new channel takes in MAP, error "
                        "MODE%s", p->tok[*i].s, plain ? " and expt" : "");
        }
    }
    return 0;
}

/* Optional leading map name for loop-level steps (pass, run, ...). */
static void opt_map(parser_t *p, int *i, step_t *st)
{
    if (*i < p->ntok && !p->tok[*i].str) {
        int m = find_name(p->c->maps, p->c->nmaps, p->tok[*i].s);
        if (m >= 0) {
            st->map = m;
            (*i)++;
        }
    }
}

static const struct {
    const char *name;
    ev_kind_t ev;
} ev_names[] = {
    {"data", EV_DATA}, {"found", EV_FOUND}, {"close", EV_CLOSE},
    {"error", EV_ERROR}, {"connect", EV_CONNECT}, {"accept", EV_ACCEPT},
    {"read", EV_READ}, {"read-eagain", EV_READ_EAGAIN}, {"write", EV_WRITE},
    {"released", EV_RELEASED}, {"expt", EV_EXPT},
};

const char *acc_ev_name(ev_kind_t e)
{
    for (size_t k = 0; k < sizeof(ev_names) / sizeof(ev_names[0]); k++)
        if (ev_names[k].ev == e)
            return ev_names[k].name;
    return "?";
}

static int ev_at(parser_t *p, int i, ev_kind_t *out)
{
    for (size_t k = 0; i < p->ntok && k < sizeof(ev_names) / sizeof(ev_names[0]); k++)
        if (word_is(p, i, ev_names[k].name)) {
            *out = ev_names[k].ev;
            return *out == EV_EXPT ? needs(p, ACC_CAP_EXPT, "the expt event") : 0;
        }
    return fail(p, "expected an event name (data, found, close, error, ...)");
}

/* expect CH EVENT [ARG] */
static int parse_expect(parser_t *p, int *i, step_t *st)
{
    if ((st->ch = chan_at(p, (*i)++, 0)) < 0 || ev_at(p, *i, &st->ev) < 0)
        return -1;
    (*i)++;
    if (st->ev == EV_DATA || st->ev == EV_READ)
        return parse_bytes(p, i, &st->bytes, &st->nbytes);
    if (st->ev == EV_ERROR) {
        int e = *i < p->ntok ? acc_errno_by_name(p->tok[*i].s) : -1;
        if (e <= 0)
            return fail(p, "expect error needs an errno name");
        st->num = (uint64_t)e;
        (*i)++;
    }
    if (st->ev == EV_RELEASED) {
        int k = name_at(p, (*i)++, p->c->prods, &p->c->nprods, 0, "producer");
        if (k < 0)
            return -1;
        st->prod = k;
    }
    if (word_is(p, *i, "*")) { /* expect CH EVENT [ARG] * N: N in a row */
        if (parse_u64(p, *i + 1, &st->num2) < 0 || st->num2 == 0)
            return fail(p, "'* N' needs a count >= 1");
        *i += 2;
    }
    return 0;
}

static int parse_producer(parser_t *p, int *i, step_t *st)
{
    if ((st->ch = chan_at(p, (*i)++, 0)) < 0)
        return -1;
    int k = name_at(p, (*i)++, p->c->prods, &p->c->nprods, 1, "producer");
    if (k < 0)
        return -1;
    st->prod = k;
    while (*i < p->ntok && p->tok[*i].str) {
        unsigned char **c = realloc(st->chunks, (st->nchunks + 1) * sizeof(*c));
        size_t *l = c ? realloc(st->lens, (st->nchunks + 1) * sizeof(*l)) : NULL;
        if (c) st->chunks = c;
        if (l) st->lens = l;
        if (!c || !l)
            return fail(p, "out of memory");
        /* "" is an empty chunk with a non-NULL pointer: P4 makes it the
         * producer's exhaustion, so later chunks must never be asked for. */
        if (parse_bytes(p, i, &st->chunks[st->nchunks], &st->lens[st->nchunks]) < 0)
            return -1;
        st->nchunks++;
    }
    return 0;
}

/* A chat's readable is the suite's only with chat-readable (P11); without
 * it, setting or counting it on a chat would test nothing. */
static int chat_predicate(parser_t *p, int ch)
{
    if (!p->chat[ch])
        return 0;
    p->c->own_readable |= 1u << ch;
    return needs(p, ACC_CAP_CHAT_READABLE, "a chat's readable");
}

/* expect-predicates CH readable N writable M */
static int parse_predicates(parser_t *p, int *i, step_t *st)
{
    if ((st->ch = chan_at(p, (*i)++, 0)) < 0 || chat_predicate(p, st->ch) < 0)
        return -1;
    if (!word_is(p, *i, "readable") || parse_u64(p, *i + 1, &st->num) < 0 ||
        !word_is(p, *i + 2, "writable") || parse_u64(p, *i + 3, &st->num2) < 0)
        return fail(p, "expect-predicates CH readable N writable M");
    *i += 4;
    return 0;
}

typedef struct {
    const char *word;
    op_t op;
    enum { A_NONE, A_CH, A_CH_BYTES, A_CH_NUM, A_CH_NUM2, A_MAPOPT, A_SPECIAL } args;
} opdef_t;

static const opdef_t ops[] = {
    {"send", OP_SEND, A_CH_BYTES},     {"urgent", OP_URGENT, A_CH_BYTES},
    {"shut", OP_SHUT, A_CH},
    {"peer-close", OP_PEER_CLOSE, A_CH}, {"reset", OP_RESET, A_CH},
    {"term", OP_TERM, A_CH_BYTES},     {"count", OP_COUNT, A_CH_NUM},
    {"none", OP_NONE, A_CH},           {"limit", OP_LIMIT, A_CH_NUM},
    {"bufsize", OP_BUFSIZE, A_CH_NUM2}, {"push", OP_PUSH, A_CH_BYTES},
    {"close-when-done", OP_CLOSE_WHEN_DONE, A_CH},
    {"discard", OP_DISCARD, A_CH},     {"close", OP_CLOSE, A_CH},
    {"free", OP_FREE, A_CH},           {"readable", OP_READABLE, A_CH_NUM},
    {"writable", OP_WRITABLE, A_CH_NUM}, {"sendraw", OP_SENDRAW, A_SPECIAL},
    {"close-fd", OP_CLOSE_FD, A_CH},   {"close-all", OP_CLOSE_ALL, A_MAPOPT},
    {"peer-stall", OP_PEER_STALL, A_CH},
    {"expect-now", OP_EXPECT_NOW, A_SPECIAL},
    {"expect-quiet-now", OP_EXPECT_QUIET_NOW, A_CH},
    {"expect-predicates", OP_EXPECT_PREDICATES, A_SPECIAL},
    {"expect-elapsed", OP_EXPECT_ELAPSED, A_SPECIAL},
    {"expect-peer-sent", OP_EXPECT_PEER_SENT, A_CH},
    {"expect-blocked", OP_EXPECT_BLOCKED, A_CH},
    {"expect-either", OP_EXPECT_EITHER, A_SPECIAL},
    {"exit", OP_EXIT, A_MAPOPT},       {"pass", OP_PASS, A_MAPOPT},
    {"run", OP_RUN, A_MAPOPT},         {"loop", OP_LOOP, A_MAPOPT},
    {"expect-peer-eof", OP_EXPECT_PEER_EOF, A_CH},
    {"expect-closed", OP_EXPECT_CLOSED, A_CH},
    {"expect-open", OP_EXPECT_OPEN, A_CH},
    {"expect-quiet", OP_EXPECT_QUIET, A_CH},
    {"expect-size", OP_EXPECT_SIZE, A_MAPOPT},
    {"expect-peer", OP_EXPECT_PEER, A_SPECIAL},
    {"expect", OP_EXPECT, A_SPECIAL},  {"producer", OP_PRODUCER, A_SPECIAL},
    {"chat", OP_CHAT_UNIX, A_SPECIAL}, {"disp", OP_DISP_UNIX, A_SPECIAL},
    {"connect", OP_CONNECT, A_SPECIAL}, {"listen", OP_LISTEN, A_SPECIAL},
    {"dconnect", OP_DCONNECT, A_SPECIAL},
    {"dial", OP_DIAL, A_SPECIAL},      {"adopt", OP_ADOPT, A_SPECIAL},
    {"map", OP_MAP, A_SPECIAL},        {"fault", OP_FAULT, A_SPECIAL},
    {"misuse", OP_MISUSE, A_SPECIAL},
    {"expect-faulted", OP_EXPECT_FAULTED, A_SPECIAL},
    {"expect-terminator", OP_EXPECT_TERMINATOR, A_SPECIAL},
};

static int fs_kind_at(parser_t *p, int i)
{
    for (int k = 0; k < ACC_FS__KINDS; k++)
        if (word_is(p, i, acc_fs_kind_names[k]))
            return k;
    return fail(p, "expected a syscall kind: recv, send, accept, connect, wait, "
                   "getsockopt, setsockopt, listen or fcntl");
}

/* fault KIND FAULT [N | always] [after K]  |  fault KIND off
 * expect-faulted KIND N */
static int parse_fault(parser_t *p, int *i, step_t *st)
{
    if (!(p->c->requires & ACC_CAP_SYSCALL_FAULTS))
        return fail(p, "a case with fault steps needs 'requires: sys-fail' (before '---')");
    if ((st->fs_kind = fs_kind_at(p, (*i)++)) < 0)
        return -1;
    if (st->op == OP_EXPECT_FAULTED)
        return parse_u64(p, (*i)++, &st->num);
    st->fs_fault = -1;
    if (word_is(p, *i, "off")) {
        (*i)++;
        return 0;
    }
    for (int f = 0; f < ACC_FS__FAULTS; f++)
        if (word_is(p, *i, acc_fs_fault_names[f]))
            st->fs_fault = f;
    if (st->fs_fault < 0)
        return fail(p, "expected a fault (EINTR, EAGAIN, short, ECONNABORTED, EMFILE, "
                    "ECONNREFUSED, ETIMEDOUT, ENOMEM, EBADF, EINVAL, ENOBUFS) or off");
    if (!acc_fs_applies((acc_fs_kind_t)st->fs_kind, (acc_fs_fault_t)st->fs_fault))
        return fail(p, "%s calls cannot fail with %s", acc_fs_kind_names[st->fs_kind],
                    acc_fs_fault_names[st->fs_fault]);
    (*i)++;
    st->num = 1;
    if (word_is(p, *i, "always")) {
        st->num = UINT64_MAX;
        (*i)++;
    } else if (*i < p->ntok && !word_is(p, *i, "after") && !word_is(p, *i, "->")) {
        if (parse_u64(p, (*i)++, &st->num) < 0 || st->num == 0 || st->num > 1000000)
            return fail(p, "a fault count is 1 to 1000000, or always");
    }
    if (word_is(p, *i, "after")) {
        if (parse_u64(p, *i + 1, &st->num2) < 0 || st->num2 > 1000000)
            return fail(p, "'after K' needs K from 0 to 1000000");
        *i += 2;
    }
    return 0;
}

#define MISUSE_NAME_(id, name) name,
static const char *const misuse_ops[] = {ACC_MISUSE_OP_LIST(MISUSE_NAME_)};
static const char *const misuse_forms[] = {ACC_MISUSE_FORM_LIST(MISUSE_NAME_)};
#undef MISUSE_NAME_

const char *acc_misuse_op_name(int op)
{
    return op >= 0 && op < ACC_MISUSE_NOPS ? misuse_ops[op] : "?";
}

const char *acc_misuse_form_name(int form)
{
    return form >= 0 && form < ACC_MISUSE_NFORMS ? misuse_forms[form] : "?";
}

static int word_in(parser_t *p, int i, const char *const *names, int n)
{
    for (int k = 0; k < n; k++)
        if (word_is(p, i, names[k]))
            return k;
    return -1;
}

/* The constructors make their own handle: no case channel to name. */
static int misuse_takes_channel(int op, int form)
{
    return form != ACC_MISUSE_NULL_HANDLE && op != ACC_MISUSE_MAP_NEW &&
           op != ACC_MISUSE_CHAT_NEW && op != ACC_MISUSE_DISP_NEW;
}

/* misuse OP FORM [CH]: CH absent for the null-handle form and the
 * constructors, required otherwise. */
static int parse_misuse(parser_t *p, int *i, step_t *st)
{
    if (!(p->c->requires & ACC_CAP_MISUSE))
        return fail(p, "a case with misuse steps needs 'requires: misuse' (before '---')");
    if ((st->mis_op = word_in(p, (*i)++, misuse_ops, ACC_MISUSE_NOPS)) < 0)
        return fail(p, "expected a misuse operation (map-new, chat-new, push, ...: "
                       "ACC_MISUSE_OP_LIST)");
    if ((st->mis_form = word_in(p, (*i)++, misuse_forms, ACC_MISUSE_NFORMS)) < 0)
        return fail(p, "expected a misuse form: null-handle, null-arg, zero-length or plain");
    if (!misuse_takes_channel(st->mis_op, st->mis_form))
        return *i < p->ntok && !word_is(p, *i, "->")
                   ? fail(p, "misuse %s %s takes no channel", misuse_ops[st->mis_op],
                          misuse_forms[st->mis_form])
                   : 0;
    if (*i >= p->ntok || word_is(p, *i, "->"))
        return fail(p, "misuse %s %s needs a channel", misuse_ops[st->mis_op],
                    misuse_forms[st->mis_form]);
    return (st->ch = chan_at(p, (*i)++, 0)) < 0 ? -1 : 0;
}

/* expect-terminator CH none | count N | string BYTES */
static int parse_expect_terminator(parser_t *p, int *i, step_t *st)
{
    if (!(p->c->requires & ACC_CAP_TERMINATOR))
        return fail(p, "expect-terminator needs 'requires: terminator' (before '---')");
    if ((st->ch = chan_at(p, (*i)++, 0)) < 0)
        return -1;
    if (word_is(p, *i, "none")) {
        st->term_kind = ACC_TERM_NONE;
        (*i)++;
        return 0;
    }
    if (word_is(p, *i, "count")) {
        st->term_kind = ACC_TERM_COUNT;
        if (parse_u64(p, *i + 1, &st->num) < 0 || st->num == 0)
            return fail(p, "expect-terminator CH count N needs N >= 1 (a count of 0 is none)");
        *i += 2;
        return 0;
    }
    if (!word_is(p, *i, "string"))
        return fail(p, "expect-terminator CH none | count N | string BYTES");
    st->term_kind = ACC_TERM_STRING;
    (*i)++;
    if (parse_bytes(p, i, &st->bytes, &st->nbytes) < 0)
        return -1;
    return st->nbytes ? 0 : fail(p, "expect-terminator CH string needs >= 1 byte (an "
                                    "empty string is none)");
}

const char *acc_op_word(op_t op)
{
    if (op == OP_CHAT_TCP)
        return "chat";
    if (op == OP_CONNECT_REFUSED)
        return "connect";
    if (op == OP_DCONNECT_REFUSED)
        return "dconnect";
    for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
        if (ops[k].op == op)
            return ops[k].word;
    return "?";
}

/* The steps that make a channel: its new name, then how. */
static int parse_constructor(parser_t *p, int *i, step_t *st)
{
    switch (st->op) {
    case OP_CHAT_UNIX:
        if ((st->ch = chan_at(p, (*i)++, 1)) < 0)
            return -1;
        if (word_is(p, *i, "tcp"))
            st->op = OP_CHAT_TCP;
        else if (!word_is(p, *i, "unix"))
            return fail(p, "chat NAME unix|tcp");
        (*i)++;
        p->chat[st->ch] = 1;
        return parse_chan_opts(p, i, st, 0);
    case OP_DISP_UNIX:
        if ((st->ch = chan_at(p, (*i)++, 1)) < 0)
            return -1;
        if (!word_is(p, (*i)++, "unix"))
            return fail(p, "disp NAME unix");
        return parse_chan_opts(p, i, st, 1);
    case OP_CONNECT: case OP_DCONNECT:
        if ((st->ch = chan_at(p, (*i)++, 1)) < 0)
            return -1;
        p->chat[st->ch] = st->op == OP_CONNECT;
        if (word_is(p, *i, "refused")) {
            st->op = st->op == OP_CONNECT ? OP_CONNECT_REFUSED : OP_DCONNECT_REFUSED;
            (*i)++;
        }
        return parse_chan_opts(p, i, st, !p->chat[st->ch]);
    case OP_LISTEN: /* a listener has no urgent data: no expt */
        if ((st->ch = chan_at(p, (*i)++, 1)) < 0)
            return -1;
        return parse_chan_opts(p, i, st, 0);
    case OP_DIAL: /* dial LISTENER NEWCHANNEL */
        if ((st->ch2 = chan_at(p, (*i)++, 0)) < 0 ||
            (st->ch = chan_at(p, (*i)++, 1)) < 0)
            return -1;
        return 0;
    case OP_ADOPT: /* adopt CHANNEL LISTENER */
        if ((st->ch = chan_at(p, (*i)++, 0)) < 0 ||
            (st->ch2 = chan_at(p, (*i)++, 0)) < 0)
            return -1;
        p->chat[st->ch] = 1;
        return parse_chan_opts(p, i, st, 0);
    default:
        return fail(p, "internal: no parser for this step");
    }
}

static int parse_special(parser_t *p, int *i, step_t *st)
{
    switch (st->op) {
    case OP_EXPECT: case OP_EXPECT_NOW:
        return parse_expect(p, i, st);
    case OP_EXPECT_EITHER: /* expect-either CH1 CH2 EVENT [ARG] */
        if ((st->ch2 = chan_at(p, (*i)++, 0)) < 0)
            return -1;
        return parse_expect(p, i, st);
    case OP_EXPECT_PREDICATES:
        return parse_predicates(p, i, st);
    case OP_EXPECT_ELAPSED: /* expect-elapsed MIN_MS MAX_MS */
        if (parse_u64(p, *i, &st->num) < 0 || parse_u64(p, *i + 1, &st->num2) < 0 ||
            st->num > st->num2)
            return fail(p, "expect-elapsed MIN_MS MAX_MS (MIN <= MAX)");
        *i += 2;
        return 0;
    case OP_SENDRAW: /* sendraw CH BYTES [sent N] */
        if ((st->ch = chan_at(p, (*i)++, 0)) < 0 ||
            parse_bytes(p, i, &st->bytes, &st->nbytes) < 0)
            return -1;
        if (word_is(p, *i, "sent")) {
            if (parse_u64(p, *i + 1, &st->num2) < 0)
                return -1;
            st->has_sent = 1;
            *i += 2;
        }
        return 0;
    case OP_EXPECT_PEER:
        if ((st->ch = chan_at(p, (*i)++, 0)) < 0 ||
            parse_bytes(p, i, &st->bytes, &st->nbytes) < 0)
            return -1;
        if (word_is(p, *i, "slow")) {
            uint64_t v;
            if (parse_u64(p, *i + 1, &v) < 0 || v == 0)
                return fail(p, "slow needs a byte count >= 1");
            st->slow = (size_t)v;
            *i += 2;
        }
        return 0;
    case OP_PRODUCER:
        return parse_producer(p, i, st);
    case OP_MAP:
        return name_at(p, (*i)++, p->c->maps, &p->c->nmaps, 1, "map") < 0 ? -1 : 0;
    case OP_FAULT: case OP_EXPECT_FAULTED:
        return parse_fault(p, i, st);
    case OP_MISUSE:
        return parse_misuse(p, i, st);
    case OP_EXPECT_TERMINATOR:
        return parse_expect_terminator(p, i, st);
    case OP_CHAT_UNIX: case OP_DISP_UNIX: case OP_CONNECT: case OP_DCONNECT:
    case OP_LISTEN: case OP_DIAL: case OP_ADOPT:
        return parse_constructor(p, i, st);
    default:
        return fail(p, "internal: no parser for this step");
    }
}

static int parse_args(parser_t *p, const opdef_t *d, int *i, step_t *st)
{
    switch (d->args) {
    case A_NONE:
        return 0;
    case A_CH:
        return (st->ch = chan_at(p, (*i)++, 0)) < 0 ? -1 : 0;
    case A_CH_BYTES:
        if ((st->ch = chan_at(p, (*i)++, 0)) < 0)
            return -1;
        return parse_bytes(p, i, &st->bytes, &st->nbytes);
    case A_CH_NUM:
        if ((st->ch = chan_at(p, (*i)++, 0)) < 0 ||
            (st->op == OP_READABLE && chat_predicate(p, st->ch) < 0))
            return -1;
        return parse_u64(p, (*i)++, &st->num);
    case A_CH_NUM2:
        if ((st->ch = chan_at(p, (*i)++, 0)) < 0 ||
            parse_u64(p, (*i)++, &st->num) < 0)
            return -1;
        return parse_u64(p, (*i)++, &st->num2);
    case A_MAPOPT:
        opt_map(p, i, st);
        if ((st->op == OP_PASS || st->op == OP_LOOP || st->op == OP_EXPECT_SIZE) &&
            *i < p->ntok && !p->tok[*i].str && !word_is(p, *i, "->")) {
            if (parse_u64(p, (*i)++, &st->num) < 0)
                return -1;
            /* loop [M] COUNT [TIMEOUT_MS]: the timeout of every pass */
            if (st->op == OP_LOOP && *i < p->ntok && !p->tok[*i].str &&
                !word_is(p, *i, "->"))
                return parse_u64(p, (*i)++, &st->num2);
            return 0;
        }
        if (st->op == OP_LOOP || st->op == OP_EXPECT_SIZE)
            return fail(p, "%s needs a number", d->word);
        return 0;
    case A_SPECIAL:
        return parse_special(p, i, st);
    }
    return fail(p, "internal: bad argument kind");
}

/* One step from the tokens starting at *i. */
static int parse_step(parser_t *p, int *i, step_t *st)
{
    memset(st, 0, sizeof(*st));
    st->line = p->line;
    st->ch = st->ch2 = -1;
    if (*i >= p->ntok || p->tok[*i].str)
        return fail(p, "expected a step keyword");
    for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
        if (!word_is(p, *i, ops[k].word))
            continue;
        st->op = ops[k].op;
        (*i)++;
        if (parse_args(p, &ops[k], i, st) < 0 || parse_rc(p, i, st) < 0)
            return -1;
        if (*i != p->ntok)
            return fail(p, "unexpected '%s' after the step", p->tok[*i].s);
        return 0;
    }
    return fail(p, "unknown step '%s'", p->tok[*i].s);
}

static void step_free(step_t *st)
{
    lit_free(st->bytes);
    for (size_t k = 0; k < st->nchunks; k++)
        lit_free(st->chunks[k]);
    free(st->chunks);
    free(st->lens);
}

/* on CH EVENT [NTH] : STEP */
static int parse_reaction(parser_t *p)
{
    acc_case_t *c = p->c;
    reaction_t r = {0};
    int i = 1;
    if ((r.ch = chan_at(p, i++, 0)) < 0 || ev_at(p, i++, &r.ev) < 0)
        return -1;
    if (!word_is(p, i, ":") && parse_u64(p, i++, &r.nth) < 0)
        return -1;
    if (!word_is(p, i++, ":"))
        return fail(p, "reaction needs ':' before its step");
    if (parse_step(p, &i, &r.action) < 0) {
        step_free(&r.action);
        return -1;
    }
    reaction_t *t = realloc(c->reactions, (size_t)(c->nreactions + 1) * sizeof(*t));
    if (t == NULL)
        return fail(p, "out of memory");
    c->reactions = t;
    c->reactions[c->nreactions++] = r;
    return 0;
}

static int add_step(parser_t *p)
{
    acc_case_t *c = p->c;
    step_t st;
    int i = 0;
    if (parse_step(p, &i, &st) < 0) {
        step_free(&st);
        return -1;
    }
    step_t *t = realloc(c->steps, (size_t)(c->nsteps + 1) * sizeof(*t));
    if (t == NULL) {
        step_free(&st);
        return fail(p, "out of memory");
    }
    c->steps = t;
    c->steps[c->nsteps++] = st;
    return 0;
}

static int header_list(parser_t *p, char *v, int (*each)(parser_t *, const char *))
{
    for (char *save, *w = strtok_r(v, " \t,", &save); w;
         w = strtok_r(NULL, " \t,", &save))
        if (each(p, w) < 0)
            return -1;
    return 0;
}

static int add_clause(parser_t *p, const char *w)
{
    acc_case_t *c = p->c;
    char **t = realloc(c->clauses, (size_t)(c->nclauses + 1) * sizeof(*t));
    if (t == NULL)
        return fail(p, "out of memory");
    c->clauses = t;
    c->clauses[c->nclauses++] = strdup(w);
    return 0;
}

static int add_require(parser_t *p, const char *w)
{
    unsigned cap = acc_cap_by_name(w, ACC_IN_CASES);
    if (cap == 0)
        return fail(p, "unknown capability '%s'", w);
    p->c->requires |= cap;
    return 0;
}

static int add_variant(parser_t *p, const char *w)
{
    int s = acc_split_by_name(w);
    if (s < 0)
        return fail(p, "unknown variant '%s'", w);
    p->c->splits |= 1u << s;
    return 0;
}

static int parse_header(parser_t *p, char *line)
{
    acc_case_t *c = p->c;
    char *colon = strchr(line, ':');
    if (colon == NULL)
        return fail(p, "header lines are 'key: value'");
    *colon = '\0';
    char *v = colon + 1;
    while (isspace((unsigned char)*v))
        v++;
    for (char *e = v + strlen(v); e > v && isspace((unsigned char)e[-1]);)
        *--e = '\0';
    if (strcmp(line, "id") == 0) {
        if (c->id)
            return fail(p, "id: given twice");
        c->id = strdup(v);
    } else if (strcmp(line, "clause") == 0) {
        return header_list(p, v, add_clause);
    } else if (strcmp(line, "level") == 0) {
        if (strcmp(v, "MUST") == 0) c->level = LEVEL_MUST;
        else if (strcmp(v, "SHOULD") == 0) c->level = LEVEL_SHOULD;
        else if (strcmp(v, "MAY") == 0) c->level = LEVEL_MAY;
        else return fail(p, "level is MUST, SHOULD or MAY");
    } else if (strcmp(line, "requires") == 0) {
        return header_list(p, v, add_require);
    } else if (strcmp(line, "variants") == 0) {
        c->splits = 0;
        return header_list(p, v, add_variant);
    } else if (strcmp(line, "description") == 0) {
        free(c->description);
        c->description = strdup(v);
    } else {
        return fail(p, "unknown header key '%s'", line);
    }
    return 0;
}

int case_parse(acc_case_t *c, const char *file, const char *text, char *err,
               size_t errlen)
{
    memset(c, 0, sizeof(*c));
    c->file = strdup(file);
    c->maps[0] = strdup("main");
    c->nmaps = 1;
    c->splits = (1u << SPLIT__COUNT) - 1;
    c->level = LEVEL_MUST;
    parser_t p = {.c = c, .file = file, .err = err, .errlen = errlen};
    int in_body = 0, rc = 0;
    const char *s = text;
    while (*s && rc == 0) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        char *line = strndup(s, n);
        p.line++;
        s += n + (nl ? 1 : 0);
        if (line == NULL)
            return fail(&p, "out of memory");
        if (memchr(line, '\r', n) || memchr(line, '\t', n))
            rc = fail(&p, "raw CR or TAB in a case file: write \\r or \\t");
        else if (!in_body && strcmp(line, "---") == 0)
            in_body = 1;
        else if (!in_body)
            rc = (line[0] == '#' || line[strspn(line, " ")] == '\0')
                     ? 0 : parse_header(&p, line);
        else if ((rc = lex(&p, line)) == 0 && p.ntok > 0)
            rc = word_is(&p, 0, "on") ? parse_reaction(&p) : add_step(&p);
        free(line);
    }
    free_tokens(&p);
    if (rc == 0 && strlen(text) != (size_t)(s - text))
        rc = fail(&p, "NUL byte in a case file");
    if (rc == 0 && (c->id == NULL || c->nclauses == 0 || !in_body))
        rc = fail(&p, "a case needs id:, clause: and a '---' line");
    return rc;
}

int case_load(acc_case_t *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        memset(c, 0, sizeof(*c));
        return -1;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t k;
    while (buf && (k = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (cap - n - 1 == 0) {
            char *b = realloc(buf, cap *= 2);
            if (b == NULL) {
                free(buf);
                buf = NULL;
            }
            buf = b;
        }
    }
    fclose(f);
    if (buf == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        memset(c, 0, sizeof(*c));
        return -1;
    }
    buf[n] = '\0';
    int rc;
    if (strlen(buf) != n) {
        memset(c, 0, sizeof(*c));
        snprintf(err, errlen, "%s: NUL byte in a case file", path);
        rc = -1;
    } else {
        rc = case_parse(c, path, buf, err, errlen);
    }
    free(buf);
    return rc;
}

void case_free(acc_case_t *c)
{
    free(c->file);
    free(c->id);
    for (int i = 0; i < c->nclauses; i++)
        free(c->clauses[i]);
    free(c->clauses);
    free(c->description);
    for (int i = 0; i < c->nnames; i++)
        free(c->names[i]);
    for (int i = 0; i < c->nmaps; i++)
        free(c->maps[i]);
    for (int i = 0; i < c->nprods; i++)
        free(c->prods[i]);
    for (int i = 0; i < c->nsteps; i++)
        step_free(&c->steps[i]);
    free(c->steps);
    for (int i = 0; i < c->nreactions; i++)
        step_free(&c->reactions[i].action);
    free(c->reactions);
    memset(c, 0, sizeof(*c));
}

static const char *const split_names[SPLIT__COUNT] = {
    "as-written", "one-shot", "bytewise", "random"};

const char *acc_split_name(int split)
{
    return split >= 0 && split < SPLIT__COUNT ? split_names[split] : "?";
}

int acc_split_by_name(const char *s)
{
    for (int k = 0; k < SPLIT__COUNT; k++)
        if (strcmp(split_names[k], s) == 0)
            return k;
    return -1;
}

const char *acc_level_name(level_t l)
{
    return l == LEVEL_MUST ? "MUST" : l == LEVEL_SHOULD ? "SHOULD" : "MAY";
}

int acc_errno_by_name(const char *s)
{
    if (strcmp(s, "0") == 0)
        return 0;
    int e = acc_errno_value(s, 1);
    return e ? e : -1;
}

const char *acc_errno_name(int err)
{
    const char *name = acc_errno_lookup(err, 1);
    return name ? name : err == 0 ? "0" : "E?";
}
