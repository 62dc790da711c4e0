/* test_framer.c: unit tests of the socket-free framing core (ac_framer_*).
 * The 50 framing vectors CV1-CV50 of docs/cpython-3.11.md, as our normative
 * behaviour reads them, run as written, whole, byte by byte and cut at every
 * offset; the rest covers NULs, long and self-overlapping terminators, counts, the limit. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>

#include "check_util.h"

/* ------------------------------------------------------------- buffers -- */

static void buf_fill(buf_t *b, int c, size_t n)
{
    while (n > 0) {
        unsigned char tmp[4096];
        size_t k = n < sizeof(tmp) ? n : sizeof(tmp);
        memset(tmp, c, k);
        buf_put(b, tmp, k);
        n -= k;
    }
}

static void buf_fmt(buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void buf_fmt(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        ck_abort_msg("bad format %s", fmt);
    size_t at = b->n;
    buf_fill(b, 0, (size_t)n); /* room for the text and its NUL */
    va_start(ap, fmt);
    vsnprintf((char *)b->p + at, (size_t)n + 1, fmt, ap);
    va_end(ap);
}

/* Quoted, escaped, runs of 8+ equal bytes as x{n}, so that one failing
 * line shows a whole 100 KB record readably; '"' and '{' are escaped, so
 * equal renderings mean equal bytes. */
static void render(buf_t *out, const void *data, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = data;
    buf_put(out, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        size_t run = 1;
        while (i + run < n && p[i + run] == c)
            run++;
        if (c == '\r')
            buf_put(out, "\\r", 2);
        else if (c == '\n')
            buf_put(out, "\\n", 2);
        else if (c >= 0x20 && c < 0x7f && c != '{' && c != '"' && c != '\\')
            buf_put(out, &c, 1);
        else { /* by hand: per byte, and vsnprintf is slow under valgrind */
            char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
            buf_put(out, esc, 4);
        }
        if (run >= 8) {
            buf_fmt(out, "{%zu}", run);
            i += run;
        } else {
            i++;
        }
    }
    buf_put(out, "\"", 1);
}

/* ------------------------------------------------------ vector tables -- */

/* Bytes of a table cell: literal (NULs allowed) or n copies of one byte. */
typedef struct {
    const char *p;
    size_t n;
    char fill;
} bytes_t;

#define B(s) {(s), sizeof(s) - 1, 0}
#define R(c, k) {NULL, (k), (c)}

static void buf_bytes(buf_t *b, bytes_t x)
{
    if (x.p)
        buf_put(b, x.p, x.n);
    else
        buf_fill(b, x.fill, x.n);
}

/* What a test does to the framer: set a terminator, discard, or "close"
 * (discard, and no feed ever again: how a closed chat looks to its framer).
 * BAD_* are the C forms of the terminators CQ17 says to refuse when set. */
typedef enum {
    OP_END = 0, OP_STRING, OP_COUNT, OP_NONE, OP_DISCARD, OP_CLOSE,
    OP_BAD_NULL, OP_BAD_LONG
} op_t;

typedef struct {
    op_t op;
    bytes_t str;
    uint64_t count;
} act_t;

#define STR(s) {.op = OP_STRING, .str = B(s)}
#define CNT(k) {.op = OP_COUNT, .count = (k)}
#define NONE {.op = OP_NONE}
#define DISCARD {.op = OP_DISCARD}
#define CLOSE {.op = OP_CLOSE}
#define BAD_NULL {.op = OP_BAD_NULL}
#define BAD_LONG {.op = OP_BAD_LONG}

typedef struct {
    const char *id;
    act_t term;               /* set before any input */
    bytes_t chunk[8];         /* the feeds as written; ends at {0} */
    struct {
        int at;               /* on the at-th found call; 0: on every one */
        act_t act;
    } react[4];               /* the "reaction program" inside found */
    act_t mid;                /* applied after the first feed */
    act_t post;               /* applied after all the input */
    int written_only;         /* the outcome depends on the feed cuts */
    size_t limit;
    int nrec;
    bytes_t rec[4];
    bytes_t pending, held;
    act_t after;              /* the terminator at the end */
} vec_t;

/* CV1-CV50 of docs/cpython-3.11.md.  CPython's outcome is kept except where
 * our normative behaviour departs; each departure says why.  Records, pending,
 * held and the final terminator are compared; how a record is split into
 * collect calls is not (it depends on read sizes by design). */
static const vec_t vectors[] = {
    {"CV1", STR("\n"), {B("a\nb\n")}, .nrec = 2, .rec = {B("a"), B("b")},
     .after = STR("\n")},
    {"CV2", STR("\n"), {B("a\n\nb\n")}, .nrec = 3,
     .rec = {B("a"), B(""), B("b")}, .after = STR("\n")},
    {"CV3", STR("\n"), {B("\n")}, .nrec = 1, .rec = {B("")},
     .after = STR("\n")},
    {"CV4", STR("\n"), {B("\nabc")}, .nrec = 1, .rec = {B("")},
     .pending = B("abc"), .after = STR("\n")},
    {"CV5", STR("\r\n"), {B("abc\r"), B("\n")}, .nrec = 1, .rec = {B("abc")},
     .after = STR("\r\n")},
    {"CV6", STR("\r\n"), {B("abc\r"), B("x\n"), B("\r\n")}, .nrec = 1,
     .rec = {B("abc\rx\n")}, .after = STR("\r\n")},
    {"CV7", STR("\r\n"), {B("\r"), B("\r"), B("\n")}, .nrec = 1,
     .rec = {B("\r")}, .after = STR("\r\n")},
    {"CV8", STR("\r\n"), {B("a"), B("\r"), B("\n"), B("b"), B("\r"), B("\n")},
     .nrec = 2, .rec = {B("a"), B("b")}, .after = STR("\r\n")},
    {"CV9", STR("\r\n"), {B("\r")}, .held = B("\r"), .after = STR("\r\n")},
    {"CV10", STR("\r\n"), {B("a\r\r\n")}, .nrec = 1, .rec = {B("a\r")},
     .after = STR("\r\n")},
    {"CV11", STR("qqq"), {B("aqq"), B("q")}, .nrec = 1, .rec = {B("a")},
     .after = STR("qqq")},
    {"CV12", STR("qqq"), {B("aq"), B("qq"), B("b")}, .nrec = 1,
     .rec = {B("a")}, .pending = B("b"), .after = STR("qqq")},
    {"CV13", STR("qqq"), {B("qqqq")}, .nrec = 1, .rec = {B("")},
     .held = B("q"), .after = STR("qqq")},
    {"CV14", STR("qqq"), {B("qqqqqq")}, .nrec = 2, .rec = {B(""), B("")},
     .after = STR("qqq")},
    {"CV15", STR("aab"), {B("aa"), B("ab")}, .nrec = 1, .rec = {B("a")},
     .after = STR("aab")},
    {"CV16", STR("abab"), {B("xaba"), B("bab")}, .nrec = 1, .rec = {B("x")},
     .held = B("ab"), .after = STR("abab")},
    {"CV17", STR("ab"), {B("a"), B("a"), B("b")}, .nrec = 1, .rec = {B("a")},
     .after = STR("ab")},
    {"CV18", STR("\r\n.\r\n"), {B("l1\r\nl2\r\n."), B("\r\n")}, .nrec = 1,
     .rec = {B("l1\r\nl2")}, .after = STR("\r\n.\r\n")},
    {"CV19", STR("\r\n.\r\n"), {B("x\r\n."), B("y\r\n.\r\n")}, .nrec = 1,
     .rec = {B("x\r\n.y")}, .after = STR("\r\n.\r\n")},
    {"CV20", STR("\r\n"), {B("data-no-term")}, .pending = B("data-no-term"),
     .after = STR("\r\n")},
    /* The 4-byte recv cap is a chat knob; here it is 4-byte feeds. */
    {"CV21", STR("\r\n"), {B("hell"), B("o\r\nw"), B("orld"), B("\r\n")},
     .nrec = 2, .rec = {B("hello"), B("world")}, .after = STR("\r\n")},
    {"CV22", STR(";"), {B("a;b;;c;d")}, .nrec = 4,
     .rec = {B("a"), B("b"), B(""), B("c")}, .pending = B("d"),
     .after = STR(";")},
    {"CV23", STR(""), {B("ab"), B("c\n")}, .pending = B("abc\n"),
     .after = NONE},
    {"CV24", NONE, {B("ab"), B("c\n")}, .pending = B("abc\n"), .after = NONE},
    /* bytearray: C has only bytes. */
    {"CV25", STR("\n"), {B("a\nb")}, .nrec = 1, .rec = {B("a")},
     .pending = B("b"), .after = STR("\n")},
    {"CV26", CNT(5), {B("12345")}, .nrec = 1, .rec = {B("12345")},
     .after = NONE},
    {"CV27", CNT(5), {B("12"), B("34"), B("5678")}, .nrec = 1,
     .rec = {B("12345")}, .pending = B("678"), .after = NONE},
    {"CV28", CNT(5), {B("1234567890")}, .nrec = 1, .rec = {B("12345")},
     .pending = B("67890"), .after = NONE},
    {"CV29", CNT(5), {B("1234567890ab")}, .react = {{0, CNT(5)}}, .nrec = 2,
     .rec = {B("12345"), B("67890")}, .pending = B("ab"), .after = CNT(3)},
    {"CV30", CNT(1), {B("abc")}, .react = {{0, CNT(1)}}, .nrec = 3,
     .rec = {B("a"), B("b"), B("c")}, .after = CNT(1)},
    {"CV31", CNT(0), {B("abc")}, .pending = B("abc"), .after = NONE},
    /* bool True: C has no bool terminator; it is the count 1. */
    {"CV32", CNT(1), {B("abc")}, .nrec = 1, .rec = {B("a")},
     .pending = B("bc"), .after = NONE},
    /* A negative count cannot be expressed (the count is a uint64_t); the
     * largest one is used instead and must just count down. */
    {"CV33", CNT(UINT64_MAX), {B("abcd")}, .pending = B("abcd"),
     .after = CNT(UINT64_MAX - 4)},
    {"CV34", CNT(1099511627776), {B("abc"), B("de")}, .pending = B("abcde"),
     .after = CNT(1099511627771)},
    {"CV35", STR("\r\n"), {B("LEN\r\nbodyREST\r\n")},
     .react = {{1, CNT(4)}, {2, STR("\r\n")}, {3, CNT(4)}}, .nrec = 3,
     .rec = {B("LEN"), B("body"), B("REST")}, .after = CNT(4)},
    {"CV36", STR("\n"), {B("a\nrest\nmore")}, .react = {{1, NONE}}, .nrec = 1,
     .rec = {B("a")}, .pending = B("rest\nmore"), .after = NONE},
    {"CV37", CNT(2), {B("ab\ncd\n")}, .react = {{1, STR("\n")}}, .nrec = 3,
     .rec = {B("ab"), B(""), B("cd")}, .after = STR("\n")},
    /* Only as written: the change happens between two given feeds. */
    {"CV38", STR("\r\n"), {B("abc\r"), B("\nX")}, .mid = STR("X"),
     .written_only = 1, .nrec = 1, .rec = {B("abc\r\n")}, .after = STR("X")},
    /* CV39, CV40, CV50: EOF is the chat's business; no flush (CQ12). */
    {"CV39", STR("\n"), {B("a\nbc")}, .nrec = 1, .rec = {B("a")},
     .pending = B("bc"), .after = STR("\n")},
    {"CV40", STR("\r\n"), {B("a\r\nbc\r")}, .nrec = 1, .rec = {B("a")},
     .pending = B("bc"), .held = B("\r"), .after = STR("\r\n")},
    /* CQ11: framing stops at close (CPython delivers b and c after it). */
    {"CV41", STR("\n"), {B("a\nb\nc\n")}, .react = {{1, CLOSE}}, .nrec = 1,
     .rec = {B("a")}, .after = STR("\n")},
    /* Only as written: discard drops the rest of the current feed, so
     * what later feeds bring depends on the cuts (see discard_scope). */
    {"CV42", STR("\n"), {B("a\nb\nc\n")}, .react = {{1, DISCARD}},
     .written_only = 1, .nrec = 1, .rec = {B("a")}, .after = STR("\n")},
    /* CV43 (str) and CV45 (float): C has neither type.  Their C analogue is
     * a terminator the setter can only refuse (a NULL pointer, a length
     * over AC_TERMINATOR_MAX); CQ17: refused when set, never at the first
     * data.  The framer keeps NONE and collects everything. */
    {"CV43", BAD_NULL, {B("a\nb")}, .pending = B("a\nb"), .after = NONE},
    /* use_encoding: C strings are bytes already. */
    {"CV44", STR("\n"), {B("a\nb\n")}, .nrec = 2, .rec = {B("a"), B("b")},
     .after = STR("\n")},
    {"CV45", BAD_LONG, {B("abc")}, .pending = B("abc"), .after = NONE},
    /* memoryview: C has only bytes. */
    {"CV46", STR("\r\n"), {B("a\r"), B("\nb")}, .nrec = 1, .rec = {B("a")},
     .pending = B("b"), .after = STR("\r\n")},
    {"CV47", STR("\n"), {R('x', 65536), R('x', 34464)},
     .pending = R('x', 100000), .after = STR("\n")},
    {"CV48", STR("ABCDE"), {B("xAB"), B("CD"), B("Ey")}, .nrec = 1,
     .rec = {B("x")}, .pending = B("y"), .after = STR("ABCDE")},
    /* The EOF and the close are the chat's; CPython's c('\r') after the
     * close cannot happen here (CQ11).  The held byte stays held: only the
     * next feed would read it again, under the new terminator (CV38). */
    {"CV49", STR("\r\n"), {B("ab\r")}, .post = NONE, .pending = B("ab"),
     .held = B("\r"), .after = NONE},
    {"CV50", STR("\n"), {B("a\n")}, .nrec = 1, .rec = {B("a")},
     .after = STR("\n")},
};

#define NVECTORS ((int)(sizeof(vectors) / sizeof(vectors[0])))

/* ------------------------------------------------------------ the run -- */

typedef struct {
    ac_framer_t *f;
    const vec_t *v;      /* NULL: no reactions */
    const char *label;
    buf_t cur;           /* collected since the last found */
    buf_t recs;          /* the record stream, rendered */
    size_t collected;    /* every byte collected, for large inputs */
    int ncollect, nfound;
    int closed;
    int keep;            /* keep bytes (0: only count them) */
} run_t;

static const unsigned char too_long[AC_TERMINATOR_MAX + 1];

static int set_term(ac_framer_t *f, const act_t *a)
{
    switch (a->op) {
    case OP_STRING:
        return ac_framer_set_terminator(f, a->str.p, a->str.n);
    case OP_COUNT:
        return ac_framer_set_count(f, a->count);
    case OP_NONE:
        return ac_framer_set_none(f);
    case OP_BAD_NULL:
        return ac_framer_set_terminator(f, NULL, 1);
    case OP_BAD_LONG:
        return ac_framer_set_terminator(f, too_long, sizeof(too_long));
    default:
        ck_abort_msg("not a terminator: op %d", (int)a->op);
        return -1;
    }
}

static void apply(run_t *r, const act_t *a)
{
    if (a->op == OP_DISCARD || a->op == OP_CLOSE) {
        ac_framer_discard(r->f);
        r->closed |= a->op == OP_CLOSE;
        return;
    }
    if (set_term(r->f, a) != 0)
        ck_abort_msg("%s: set op %d refused", r->label, (int)a->op);
}

static void on_collect(void *ud, const void *data, size_t len)
{
    run_t *r = ud;
    /* T9: an empty record is a found with no collect, never collect(""). */
    if (len == 0)
        ck_abort_msg("%s: empty collect", r->label);
    r->ncollect++;
    r->collected += len;
    if (r->keep)
        buf_put(&r->cur, data, len);
}

static void on_found(void *ud)
{
    run_t *r = ud;
    if (r->recs.n)
        buf_put(&r->recs, ", ", 2);
    if (r->keep)
        render(&r->recs, r->cur.p, r->cur.n);
    r->cur.n = 0;
    r->nfound++;
    if (r->v == NULL)
        return;
    for (int i = 0; i < 4 && r->v->react[i].act.op != OP_END; i++)
        if (r->v->react[i].at == 0 || r->v->react[i].at == r->nfound)
            apply(r, &r->v->react[i].act);
}

static void run_init(run_t *r, const vec_t *v, const char *label)
{
    memset(r, 0, sizeof(*r));
    r->v = v;
    r->label = label;
    r->keep = 1;
    ac_framer_cbs_t cbs = {on_collect, on_found};
    ck_assert_int_eq(ac_framer_new(&r->f, &cbs, r), 0);
}

static void run_free(run_t *r)
{
    ac_framer_free(r->f);
    buf_free(&r->cur);
    buf_free(&r->recs);
}

static void feed(run_t *r, const void *p, size_t n)
{
    if (r->closed)
        return; /* a closed channel reads nothing more */
    int rc = ac_framer_feed(r->f, p, n);
    if (rc != 0)
        ck_abort_msg("%s: feed of %zu bytes returned %d (%s)", r->label, n,
                     rc, ac_strerror(rc));
}

static void describe_term(buf_t *out, ac_term_kind_t kind, const void *b,
                          size_t len, uint64_t count)
{
    if (kind == AC_TERM_STRING) {
        buf_put(out, "string(", 7);
        render(out, b, len);
        buf_put(out, ")", 1);
    } else if (kind == AC_TERM_COUNT) {
        buf_fmt(out, "count(%" PRIu64 ")", count);
    } else if (kind == AC_TERM_NONE) {
        buf_put(out, "none", 4);
    } else {
        buf_fmt(out, "kind %d", (int)kind);
    }
}

/* "label: records [...] pending "..." held "..." term ..." */
static void describe(run_t *r, buf_t *out)
{
    const void *held, *tb;
    size_t nheld = ac_framer_held(r->f, &held), tlen;
    uint64_t count;
    ac_term_kind_t kind = ac_framer_terminator(r->f, &tb, &tlen, &count);
    buf_fmt(out, "%s: records [", r->label);
    buf_put(out, r->recs.p, r->recs.n);
    buf_put(out, "] pending ", 10);
    render(out, r->cur.p, r->cur.n);
    buf_put(out, " held ", 6);
    render(out, held, nheld);
    buf_put(out, " term ", 6);
    describe_term(out, kind, tb, tlen, count);
}

/* The outcome v's table row expects, as describe() words it (no label). */
static void describe_want(const vec_t *v, buf_t *out)
{
    buf_t tmp = {0};
    buf_put(out, "records [", 9);
    for (int i = 0; i < v->nrec; i++) {
        if (i)
            buf_put(out, ", ", 2);
        tmp.n = 0;
        buf_bytes(&tmp, v->rec[i]);
        render(out, tmp.p, tmp.n);
    }
    buf_put(out, "] pending ", 10);
    tmp.n = 0;
    buf_bytes(&tmp, v->pending);
    render(out, tmp.p, tmp.n);
    buf_put(out, " held ", 6);
    tmp.n = 0;
    buf_bytes(&tmp, v->held);
    render(out, tmp.p, tmp.n);
    buf_put(out, " term ", 6);
    if (v->after.op == OP_STRING)
        describe_term(out, AC_TERM_STRING, v->after.str.p, v->after.str.n, 0);
    else if (v->after.op == OP_COUNT)
        describe_term(out, AC_TERM_COUNT, NULL, 0, v->after.count);
    else
        describe_term(out, AC_TERM_NONE, NULL, 0, 0);
    buf_free(&tmp);
}

enum { M_WRITTEN, M_WHOLE, M_BYTES, M_SPLIT };

/* One way of cutting the input of v into feeds; the outcome as text. */
static void run_mode(const vec_t *v, const buf_t *in, int mode, size_t cut,
                     const char *label, buf_t *out)
{
    run_t r;
    run_init(&r, v, label);
    ck_assert_int_eq(ac_framer_set_limit(r.f, v->limit), 0);
    int bad = v->term.op == OP_BAD_NULL || v->term.op == OP_BAD_LONG;
    ck_assert_int_eq(set_term(r.f, &v->term), bad ? -EINVAL : 0);
    switch (mode) {
    case M_WRITTEN: {
        buf_t chunk = {0};
        for (int i = 0; i < 8 && (v->chunk[i].p || v->chunk[i].n); i++) {
            chunk.n = 0;
            buf_bytes(&chunk, v->chunk[i]);
            feed(&r, chunk.p ? chunk.p : (const unsigned char *)"", chunk.n);
            if (i == 0 && v->mid.op != OP_END)
                apply(&r, &v->mid);
        }
        buf_free(&chunk);
        break;
    }
    case M_WHOLE:
        feed(&r, in->p, in->n);
        break;
    case M_BYTES:
        for (size_t i = 0; i < in->n; i++)
            feed(&r, in->p + i, 1);
        break;
    default:
        feed(&r, in->p, cut);
        feed(&r, in->p + cut, in->n - cut);
        break;
    }
    if (v->post.op != OP_END)
        apply(&r, &v->post);
    describe(&r, out);
    run_free(&r);
}

/* Every cut of long inputs costs a full pass; past 4 KB, cuts near both
 * ends and on a prime stride keep the suite fast under valgrind. */
static int cut_wanted(size_t i, size_t n)
{
    return n <= 4096 || i < 512 || n - i < 512 || i % 487 == 0;
}

/* Runs v in every mode and compares each outcome with want_body (the text
 * after the label).  input is the concatenation of v's chunks. */
static void check_modes(const vec_t *v, const buf_t *in, const char *want_body)
{
    char label[96];
    buf_t got = {0}, want = {0};
    int modes = v->written_only ? 1 : 3;
    for (int m = 0; m < modes; m++) {
        static const char *const names[] = {"as written", "whole",
                                            "bytewise"};
        snprintf(label, sizeof(label), "%s %s", v->id, names[m]);
        got.n = want.n = 0;
        run_mode(v, in, m, 0, label, &got);
        buf_fmt(&want, "%s: %s", label, want_body);
        ck_assert_str_eq((char *)got.p, (char *)want.p);
    }
    for (size_t i = 0; !v->written_only && i <= in->n; i++) {
        if (!cut_wanted(i, in->n))
            continue;
        snprintf(label, sizeof(label), "%s split@%zu", v->id, i);
        got.n = want.n = 0;
        run_mode(v, in, M_SPLIT, i, label, &got);
        buf_fmt(&want, "%s: %s", label, want_body);
        ck_assert_str_eq((char *)got.p, (char *)want.p);
    }
    buf_free(&got);
    buf_free(&want);
}

static void input_of(const vec_t *v, buf_t *in)
{
    for (int i = 0; i < 8 && (v->chunk[i].p || v->chunk[i].n); i++)
        buf_bytes(in, v->chunk[i]);
    buf_put(in, "", 0); /* never NULL, even when empty */
}

static void check_vector(const vec_t *v)
{
    buf_t in = {0}, want = {0};
    input_of(v, &in);
    describe_want(v, &want);
    check_modes(v, &in, (char *)want.p);
    buf_free(&in);
    buf_free(&want);
}

START_TEST(cpython_vector)
{
    check_vector(&vectors[_i]);
}
END_TEST

/* --------------------------------------------- terminator switching -- */

/* The length consumed for a match is the terminator that matched, not the
 * one found_terminator installed. */
static const vec_t switches[] = {
    {"grow", STR("\n"), {B("a\nb\r\nc\r\n")}, .react = {{1, STR("\r\n")}},
     .nrec = 3, .rec = {B("a"), B("b"), B("c")}, .after = STR("\r\n")},
    {"shrink", STR("\r\n"), {B("a\r\nb\nc\n")}, .react = {{1, STR("\n")}},
     .nrec = 3, .rec = {B("a"), B("b"), B("c")}, .after = STR("\n")},
    {"long-short-long", STR("<END>"), {B("x<END>y;z<END>w<EN")},
     .react = {{1, STR(";")}, {2, STR("<END>")}}, .nrec = 3,
     .rec = {B("x"), B("y"), B("z")}, .pending = B("w"), .held = B("<EN"),
     .after = STR("<END>")},
    {"count-to-string", CNT(2), {B("ab\r\ncd\r\n")},
     .react = {{1, STR("\r\n")}}, .nrec = 3, .rec = {B("ab"), B(""), B("cd")},
     .after = STR("\r\n")},
    {"string-to-count", STR("\r\n"), {B("LEN\r\n\r\n\r\nxy")},
     .react = {{1, CNT(4)}}, .nrec = 2, .rec = {B("LEN"), B("\r\n\r\n")},
     .pending = B("xy"), .after = NONE},
    {"qqq-to-q", STR("qqq"), {B("aqqqqqb")}, .react = {{1, STR("q")}},
     .nrec = 3, .rec = {B("a"), B(""), B("")}, .pending = B("b"),
     .after = STR("q")},
    /* Held bytes re-read under a count set between feeds: the record ends
     * inside the held bytes and the rest of them goes on (only as
     * written, like CV38). */
    {"held-to-count", STR("abcd"), {B("xabc"), B("Z")}, .mid = CNT(1),
     .written_only = 1, .nrec = 1, .rec = {B("xa")}, .pending = B("bcZ"),
     .after = NONE},
    {"held-to-count-to-string", STR("abcd"), {B("xabc"), B("Z")},
     .mid = CNT(1), .react = {{1, STR("c")}}, .written_only = 1, .nrec = 2,
     .rec = {B("xa"), B("b")}, .pending = B("Z"), .after = STR("c")},
};

START_TEST(switch_vector)
{
    check_vector(&switches[_i]);
}
END_TEST

/* ------------------------------------------------ NUL bytes, limits -- */

static const vec_t extras[] = {
    {"nul-term", STR("\0"), {B("a\0b\0\0c")}, .nrec = 3,
     .rec = {B("a"), B("b"), B("")}, .pending = B("c"), .after = STR("\0")},
    {"nul-inside-term", STR("\0\r\n\0"), {B("x\0\r\n\0y\0\0\r\n\0\0\r\n")},
     .nrec = 2, .rec = {B("x"), B("y\0")}, .held = B("\0\r\n"),
     .after = STR("\0\r\n\0")},
    {"nul-data", STR("\r\n"), {B("\0\0\r\n\0\r\0\r\n\0")}, .nrec = 2,
     .rec = {B("\0\0"), B("\0\r\0")}, .pending = B("\0"),
     .after = STR("\r\n")},
    /* A record of exactly the limit passes, whatever the cuts. */
    {"limit-exact", STR("\n"), {B("abcde\nfghij\n\n")}, .limit = 5, .nrec = 3,
     .rec = {B("abcde"), B("fghij"), B("")}, .after = STR("\n")},
    {"limit-exact-held", STR("\r\n"), {B("abcde\r\nvwxyz\r")}, .limit = 5,
     .nrec = 1, .rec = {B("abcde")}, .pending = B("vwxyz"), .held = B("\r"),
     .after = STR("\r\n")},
    {"limit-exact-count", CNT(5), {B("1234567890")}, .react = {{0, CNT(5)}},
     .limit = 5, .nrec = 2, .rec = {B("12345"), B("67890")},
     .after = CNT(5)},
    {"limit-exact-none", NONE, {B("abcde")}, .limit = 5,
     .pending = B("abcde"), .after = NONE},
};

START_TEST(extra_vector)
{
    check_vector(&extras[_i]);
}
END_TEST

/* -------------------------------------------- model-checked framing -- */

/* T9 and T10 stated directly: leftmost match from where the last one
 * ended; of the tail, the longest proper terminator prefix it ends with is
 * held and the rest is pending.  Naive on purpose. */
static void model(const unsigned char *in, size_t n, const unsigned char *t,
                  size_t tl, buf_t *out)
{
    size_t pos = 0, i = 0;
    int first = 1;
    buf_put(out, "records [", 9);
    for (; i + tl <= n; i++) {
        if (memcmp(in + i, t, tl) != 0)
            continue;
        if (!first)
            buf_put(out, ", ", 2);
        first = 0;
        render(out, in + pos, i - pos);
        pos = i + tl;
        i = pos - 1;
    }
    size_t k = n - pos < tl - 1 ? n - pos : tl - 1;
    while (k > 0 && memcmp(in + n - k, t, k) != 0)
        k--;
    buf_put(out, "] pending ", 10);
    render(out, in + pos, n - pos - k);
    buf_put(out, " held ", 6);
    render(out, in + n - k, k);
    buf_put(out, " term ", 6);
    describe_term(out, AC_TERM_STRING, t, tl, 0);
}

static void check_model(const char *id, const void *term, size_t tl,
                        const void *input, size_t n)
{
    vec_t v = {.id = id, .term = {.op = OP_STRING, .str = {term, tl, 0}},
               .chunk = {{input, n, 0}}};
    buf_t in = {0}, want = {0};
    buf_put(&in, input, n);
    model(input, n, term, tl, &want);
    check_modes(&v, &in, (char *)want.p);
    buf_free(&in);
    buf_free(&want);
}

/* Self-overlapping terminators (T11), by hand first: each outcome was
 * worked out from the leftmost-match rule. */
START_TEST(overlapping_terminators)
{
    static const struct {
        const char *term, *in;
        const char *want;
    } rows[] = {
        {"aab", "aaab", "records [\"a\"] pending \"\" held \"\" term "
                        "string(\"aab\")"},
        {"aab", "aabaab", "records [\"\", \"\"] pending \"\" held \"\" term "
                          "string(\"aab\")"},
        {"aab", "xaaaa", "records [] pending \"xaa\" held \"aa\" term "
                         "string(\"aab\")"},
        {"abab", "abababab", "records [\"\", \"\"] pending \"\" held \"\" "
                             "term string(\"abab\")"},
        {"abab", "ababab", "records [\"\"] pending \"\" held \"ab\" term "
                           "string(\"abab\")"},
        {"abab", "aabababx", "records [\"a\"] pending \"abx\" held \"\" "
                             "term string(\"abab\")"},
        {"abab", "abaabab", "records [\"aba\"] pending \"\" held \"\" "
                            "term string(\"abab\")"},
        {"qqq", "aqqxqqqq", "records [\"aqqx\"] pending \"\" held \"q\" "
                            "term string(\"qqq\")"},
        {"qqq", "qqqqqqqq", "records [\"\", \"\"] pending \"\" held \"qq\" "
                            "term string(\"qqq\")"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char id[64];
        buf_t in = {0}, want = {0};
        snprintf(id, sizeof(id), "%s/%s", rows[i].term, rows[i].in);
        buf_put(&in, rows[i].in, strlen(rows[i].in));
        /* The model must agree with the hand-worked outcome ... */
        model(in.p, in.n, (const unsigned char *)rows[i].term,
              strlen(rows[i].term), &want);
        ck_assert_str_eq((char *)want.p, rows[i].want);
        /* ... and the framer with both, however the input is cut. */
        vec_t v = {.id = id,
                   .term = {.op = OP_STRING,
                            .str = {rows[i].term, strlen(rows[i].term), 0}},
                   .chunk = {{rows[i].in, in.n, 0}}};
        check_modes(&v, &in, rows[i].want);
        buf_free(&in);
        buf_free(&want);
    }
}
END_TEST

/* Random inputs over a small alphabet make partial matches, overlaps and
 * false prefixes common; every cut must give the model's outcome. */
START_TEST(random_against_model)
{
    static const char *const terms[] = {"aab", "abab", "qqq", "aba", "ab",
                                        "a", "abaab", "\0a\0"};
    static const size_t tlens[] = {3, 4, 3, 3, 2, 1, 5, 3};
    const uint32_t seed = 0x5eed1234u;
    uint32_t s = seed;
    for (int round = 0; round < 400; round++) {
        int t = round % 8;
        unsigned char in[48];
        size_t n = lcg(&s) % (sizeof(in) + 1);
        for (size_t i = 0; i < n; i++)
            in[i] = "abq\0"[lcg(&s) % 4];
        char id[64];
        snprintf(id, sizeof(id), "seed %#x round %d", (unsigned)seed, round);
        check_model(id, terms[t], tlens[t], in, n);
    }
}
END_TEST

/* A terminator of len bytes: '<' once, then bytes that are never '<' (NULs
 * included), so matches can start only at a '<'. */
static void long_term(unsigned char *t, size_t len)
{
    uint32_t s = (uint32_t)len;
    t[0] = '<';
    for (size_t i = 1; i < len; i++) {
        t[i] = (unsigned char)lcg(&s);
        if (t[i] == '<')
            t[i] = 0;
    }
    t[len - 1] = '>';
}

static void check_long(size_t tl)
{
    unsigned char *t = malloc(tl);
    ck_assert_ptr_nonnull(t);
    long_term(t, tl);
    /* rec1 T | T[:tl-1] z T | tail T[:tl/2]: a near-complete terminator
     * inside a record, and a long held prefix at the end. */
    buf_t in = {0};
    buf_put(&in, "rec1", 4);
    buf_put(&in, t, tl);
    buf_put(&in, t, tl - 1);
    buf_put(&in, "z", 1);
    buf_put(&in, t, tl);
    buf_put(&in, "tail", 4);
    buf_put(&in, t, tl / 2);

    run_t r;
    run_init(&r, NULL, "long whole");
    ck_assert_int_eq(ac_framer_set_terminator(r.f, t, tl), 0);
    feed(&r, in.p, in.n);
    ck_assert_int_eq(r.nfound, 2);
    ck_assert_str_eq((char *)r.cur.p, "tail");
    const void *held;
    ck_assert_uint_eq(ac_framer_held(r.f, &held), tl / 2);
    ck_assert_mem_eq(held, t, tl / 2);
    run_free(&r);

    char id[32];
    snprintf(id, sizeof(id), "term%zu", tl);
    check_model(id, t, tl, in.p, in.n);
    buf_free(&in);
    free(t);
}

START_TEST(long_terminator_300)
{
    check_long(300);
}
END_TEST

START_TEST(long_terminator_max)
{
    check_long(AC_TERMINATOR_MAX);
}
END_TEST

/* ------------------------------------------------------------- counts -- */

START_TEST(count_across_feeds)
{
    unsigned char in[1500];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (unsigned char)('a' + i % 26);
    run_t r;
    run_init(&r, NULL, "count 1000 in 7s");
    ck_assert_int_eq(ac_framer_set_count(r.f, 1000), 0);
    for (size_t fed = 0; fed < sizeof(in);) {
        size_t k = sizeof(in) - fed < 7 ? sizeof(in) - fed : 7;
        feed(&r, in + fed, k);
        fed += k;
        uint64_t count = 99;
        ac_term_kind_t kind = ac_framer_terminator(r.f, NULL, NULL, &count);
        if (fed < 1000) {
            ck_assert_int_eq(kind, AC_TERM_COUNT);
            ck_assert_uint_eq(count, 1000 - fed);
            ck_assert_int_eq(r.nfound, 0);
        } else {
            ck_assert_int_eq(kind, AC_TERM_NONE);
            ck_assert_uint_eq(count, 0);
            ck_assert_int_eq(r.nfound, 1);
        }
    }
    ck_assert_uint_eq(r.collected, sizeof(in));
    ck_assert_uint_eq(r.cur.n, sizeof(in) - 1000);
    ck_assert_mem_eq(r.cur.p, in + 1000, sizeof(in) - 1000);
    run_free(&r);
}
END_TEST

START_TEST(huge_count_decrements_exactly)
{
    const uint64_t huge = UINT64_C(1) << 40;
    const size_t mib = 1 << 20;
    unsigned char *blk = malloc(mib);
    ck_assert_ptr_nonnull(blk);
    memset(blk, 'h', mib);
    run_t r;
    run_init(&r, NULL, "count 1<<40");
    r.keep = 0;
    ck_assert_int_eq(ac_framer_set_count(r.f, huge), 0);
    uint64_t fed = 0;
    for (int i = 0; i < 5; i++) {
        feed(&r, blk, mib);
        fed += mib;
    }
    feed(&r, blk, 3);
    fed += 3;
    uint64_t count = 0;
    ck_assert_int_eq(ac_framer_terminator(r.f, NULL, NULL, &count),
                     AC_TERM_COUNT);
    ck_assert_uint_eq(count, huge - fed);
    ck_assert_uint_eq(r.collected, fed);
    ck_assert_int_eq(r.nfound, 0);
    /* Counts past 32 bits end exactly too. */
    ck_assert_int_eq(ac_framer_set_count(r.f, (UINT64_C(1) << 32) + 2), 0);
    for (int i = 0; i < 4096; i++)
        feed(&r, blk, mib);
    ck_assert_int_eq(ac_framer_terminator(r.f, NULL, NULL, &count),
                     AC_TERM_COUNT);
    ck_assert_uint_eq(count, 2);
    ck_assert_int_eq(r.nfound, 0);
    feed(&r, "xyz", 3);
    ck_assert_int_eq(r.nfound, 1);
    ck_assert_int_eq(ac_framer_terminator(r.f, NULL, NULL, &count),
                     AC_TERM_NONE);
    run_free(&r);
    free(blk);
}
END_TEST

/* -------------------------------------------------------- input limit -- */

/* "ab\ncdefgh\nij\n" with limit 5: the second record is one byte over.
 * Whatever the cut, the feed holding its 6th byte ('h', offset 8) fails,
 * every later feed fails the same way, and what was delivered of it is at
 * most its first 5 bytes: nothing past the limit, nothing of "ij". */
START_TEST(limit_overflow_every_cut)
{
    static const char in[] = "ab\ncdefgh\nij\n";
    const size_t n = sizeof(in) - 1, over = 8;
    for (size_t cut = 0; cut <= n; cut++) {
        char label[32];
        snprintf(label, sizeof(label), "limit split@%zu", cut);
        run_t r;
        run_init(&r, NULL, label);
        ck_assert_int_eq(ac_framer_set_terminator(r.f, "\n", 1), 0);
        ck_assert_int_eq(ac_framer_set_limit(r.f, 5), 0);
        int rc1 = ac_framer_feed(r.f, in, cut);
        int rc2 = ac_framer_feed(r.f, in + cut, n - cut);
        ck_assert_int_eq(rc1, cut > over ? AC_ETOOBIG : 0);
        ck_assert_int_eq(rc2, AC_ETOOBIG);
        ck_assert_str_eq((char *)r.recs.p, "\"ab\"");
        ck_assert_uint_le(r.cur.n, 5);
        ck_assert_mem_eq(r.cur.p, "cdefg", r.cur.n);
        ck_assert_uint_eq(ac_framer_held(r.f, NULL), 0);
        /* Sticky: nothing is framed until discard. */
        int before = r.ncollect + r.nfound;
        ck_assert_int_eq(ac_framer_feed(r.f, "k\n", 2), AC_ETOOBIG);
        ck_assert_int_eq(ac_framer_set_terminator(r.f, "\n", 1), 0);
        ck_assert_int_eq(ac_framer_feed(r.f, "k\n", 2), AC_ETOOBIG);
        ck_assert_int_eq(r.ncollect + r.nfound, before);
        ac_framer_discard(r.f);
        r.cur.n = 0;
        ck_assert_int_eq(ac_framer_feed(r.f, "xy\n", 3), 0);
        ck_assert_str_eq((char *)r.recs.p, "\"ab\", \"xy\"");
        run_free(&r);
    }
}
END_TEST

START_TEST(limit_counts_held_bytes_once_known)
{
    run_t r;
    run_init(&r, NULL, "limit held");
    ck_assert_int_eq(ac_framer_set_terminator(r.f, "\r\n", 2), 0);
    ck_assert_int_eq(ac_framer_set_limit(r.f, 3), 0);
    ck_assert_int_eq(ac_framer_feed(r.f, "abc\r", 4), 0);
    ck_assert_uint_eq(ac_framer_held(r.f, NULL), 1);
    /* The held \r turns out to be data: the record is 4 bytes. */
    ck_assert_int_eq(ac_framer_feed(r.f, "x", 1), AC_ETOOBIG);
    ck_assert_uint_eq(ac_framer_held(r.f, NULL), 0);
    ck_assert_int_eq(r.nfound, 0);
    ck_assert_uint_eq(r.cur.n, 3);
    ck_assert_mem_eq(r.cur.p, "abc", 3);
    run_free(&r);
}
END_TEST

START_TEST(limit_count_and_none)
{
    run_t r;
    run_init(&r, NULL, "limit count");
    ck_assert_int_eq(ac_framer_set_limit(r.f, 5), 0);
    ck_assert_int_eq(ac_framer_set_count(r.f, 6), 0);
    ck_assert_int_eq(ac_framer_feed(r.f, "abcdef", 6), AC_ETOOBIG);
    ck_assert_int_eq(r.nfound, 0);
    ck_assert_uint_le(r.collected, 5);
    run_free(&r);

    run_init(&r, NULL, "limit none");
    ck_assert_int_eq(ac_framer_set_limit(r.f, 4), 0);
    ck_assert_int_eq(ac_framer_feed(r.f, "abcd", 4), 0);
    ck_assert_int_eq(ac_framer_feed(r.f, "e", 1), AC_ETOOBIG);
    ck_assert_uint_eq(r.collected, 4);
    run_free(&r);

    /* Limit 0 lifts the limit. */
    run_init(&r, NULL, "limit lifted");
    ck_assert_int_eq(ac_framer_set_limit(r.f, 4), 0);
    ck_assert_int_eq(ac_framer_set_limit(r.f, 0), 0);
    ck_assert_int_eq(ac_framer_feed(r.f, "abcdefghij", 10), 0);
    ck_assert_uint_eq(r.collected, 10);
    run_free(&r);
}
END_TEST

/* T16 (spec 2): an overflow ends the record.  A count left over from it
 * becomes none, so a stale count never frames later input as the tail of a
 * lost record; a count set after the overflow (and the discard) frames the
 * next input from its first byte, its length counted from 0. */
START_TEST(limit_overflow_ends_count_record)
{
    static const char in[] = "abcdefg";
    for (int cut = 0; cut <= 3; cut++) {
        run_t r;
        run_init(&r, NULL, "overflow count");
        uint64_t left = 99;
        ck_assert_int_eq(ac_framer_set_limit(r.f, 4), 0);
        ck_assert_int_eq(ac_framer_set_count(r.f, 10), 0);
        if (cut > 0)
            ck_assert_int_eq(ac_framer_feed(r.f, in, (size_t)cut), 0);
        ck_assert_int_eq(ac_framer_feed(r.f, in + cut, (size_t)(7 - cut)), AC_ETOOBIG);
        ck_assert_int_eq(ac_framer_terminator(r.f, NULL, NULL, &left), AC_TERM_NONE);
        ck_assert_uint_eq(left, 0);
        ck_assert_int_eq(r.nfound, 0);
        ac_framer_discard(r.f);
        ck_assert_int_eq(ac_framer_terminator(r.f, NULL, NULL, NULL), AC_TERM_NONE);
        ck_assert_int_eq(ac_framer_set_count(r.f, 4), 0);
        r.cur.n = 0;
        ck_assert_int_eq(ac_framer_feed(r.f, "wxyz", 4), 0);
        ck_assert_int_eq(r.nfound, 1);
        ck_assert_str_eq((char *)r.recs.p, "\"wxyz\"");
        run_free(&r);
    }
}
END_TEST

/* ---------------------------------------------- discard and re-entry -- */

/* Discard inside found stops this feed only: the next feed frames from
 * scratch (the reason CV42 runs only as written). */
START_TEST(discard_scope)
{
    static const vec_t v = {.id = "discard", .react = {{1, DISCARD}}};
    run_t r;
    run_init(&r, &v, "discard scope");
    ck_assert_int_eq(ac_framer_set_terminator(r.f, "\r\n", 2), 0);
    /* "c\r" would have been held: discard drops it with the rest. */
    ck_assert_int_eq(ac_framer_feed(r.f, "a\r\nb\r\nc\r", 8), 0);
    ck_assert_str_eq((char *)r.recs.p, "\"a\"");
    ck_assert_uint_eq(r.cur.n, 0);
    ck_assert_uint_eq(ac_framer_held(r.f, NULL), 0);
    ck_assert_int_eq(ac_framer_feed(r.f, "\nd\r\n", 4), 0);
    ck_assert_str_eq((char *)r.recs.p, "\"a\", \"\\nd\"");
    run_free(&r);

    /* The same when the match completes a held prefix. */
    run_init(&r, &v, "discard in held step");
    ck_assert_int_eq(ac_framer_set_terminator(r.f, "\r\n", 2), 0);
    ck_assert_int_eq(ac_framer_feed(r.f, "a\r", 2), 0);
    ck_assert_int_eq(ac_framer_feed(r.f, "\nb\r\nc\r", 6), 0);
    ck_assert_str_eq((char *)r.recs.p, "\"a\"");
    ck_assert_uint_eq(r.cur.n, 0);
    ck_assert_uint_eq(ac_framer_held(r.f, NULL), 0);
    run_free(&r);
}
END_TEST

typedef struct {
    ac_framer_t *f;
    int ncollect, nfound, busy;
    int discard_in_collect;
    buf_t got;
} reent_t;

static void reent_collect(void *ud, const void *data, size_t len)
{
    reent_t *x = ud;
    x->ncollect++;
    buf_put(&x->got, data, len);
    if (ac_framer_feed(x->f, "zz\n", 3) == -EBUSY)
        x->busy++;
    if (x->discard_in_collect)
        ac_framer_discard(x->f);
}

static void reent_found(void *ud)
{
    reent_t *x = ud;
    x->nfound++;
    buf_put(&x->got, "|", 1);
    if (ac_framer_feed(x->f, "zz\n", 3) == -EBUSY)
        x->busy++;
}

START_TEST(feed_inside_callback_is_busy)
{
    reent_t x = {0};
    ac_framer_cbs_t cbs = {reent_collect, reent_found};
    ck_assert_int_eq(ac_framer_new(&x.f, &cbs, &x), 0);
    ck_assert_int_eq(ac_framer_set_terminator(x.f, "\n", 1), 0);
    ck_assert_int_eq(ac_framer_feed(x.f, "ab\ncd\nef", 8), 0);
    /* Each refused feed delivered nothing; the outer one went on. */
    ck_assert_str_eq((char *)x.got.p, "ab|cd|ef");
    ck_assert_int_eq(x.busy, x.ncollect + x.nfound);
    ck_assert_int_eq(x.busy, 5);
    ac_framer_free(x.f);
    buf_free(&x.got);
}
END_TEST

/* Discard from collect must also drop the prefix the same step would
 * otherwise hold after collecting. */
START_TEST(discard_inside_collect_drops_held)
{
    reent_t x = {.discard_in_collect = 1};
    ac_framer_cbs_t cbs = {reent_collect, reent_found};
    ck_assert_int_eq(ac_framer_new(&x.f, &cbs, &x), 0);
    ck_assert_int_eq(ac_framer_set_terminator(x.f, "\r\n", 2), 0);
    ck_assert_int_eq(ac_framer_feed(x.f, "abc\r", 4), 0);
    ck_assert_uint_eq(ac_framer_held(x.f, NULL), 0);
    x.discard_in_collect = 0;
    /* Had the \r survived, this would end a record. */
    ck_assert_int_eq(ac_framer_feed(x.f, "\n", 1), 0);
    ck_assert_int_eq(x.nfound, 0);
    ck_assert_str_eq((char *)x.got.p, "abc\n");
    ac_framer_free(x.f);
    buf_free(&x.got);
}
END_TEST

/* ac_framer_terminator's bytes are valid until the next set, so handing
 * them (or part of them) back to the setter must work. */
START_TEST(set_terminator_from_own_bytes)
{
    run_t r;
    run_init(&r, NULL, "own bytes");
    ck_assert_int_eq(ac_framer_set_terminator(r.f, "<<ab", 4), 0);
    const void *b;
    size_t len;
    ck_assert_int_eq(ac_framer_terminator(r.f, &b, &len, NULL),
                     AC_TERM_STRING);
    ck_assert_int_eq(ac_framer_set_terminator(r.f, b, len), 0);
    ac_framer_terminator(r.f, &b, &len, NULL);
    ck_assert_int_eq(ac_framer_set_terminator(r.f, (const char *)b + 1,
                                              len - 1), 0);
    ck_assert_int_eq(ac_framer_terminator(r.f, &b, &len, NULL),
                     AC_TERM_STRING);
    ck_assert_uint_eq(len, 3);
    ck_assert_mem_eq(b, "<ab", 3);
    feed(&r, "x<aby<<ab", 9);
    ck_assert_str_eq((char *)r.recs.p, "\"x\", \"y<\"");
    run_free(&r);
}
END_TEST

/* --------------------------------------------------------- storage -- */

/* A framer keeps short terminators inline and long ones in a block sized
 * for them; a terminator set inside found_terminator while held bytes are
 * being framed again moves that storage under the running step.  Each test
 * switches between the two and checks the records; under valgrind and ASan
 * (make memcheck, make sanitize) a use of the old storage is an error. */
typedef struct {
    run_t r;
    const char *next[4]; /* terminators set in found 1..4 ("" = none) */
    size_t next_len[4];
} switch_t;

static void switch_found(void *ud)
{
    switch_t *w = ud;
    on_found(&w->r);
    unsigned k = w->r.nfound;
    if (k >= 1 && k <= 4 && w->next[k - 1] != NULL)
        ck_assert_int_eq(ac_framer_set_terminator(w->r.f, w->next[k - 1],
                                                  w->next_len[k - 1]), 0);
}

static void switch_init(switch_t *w, const char *label)
{
    memset(w, 0, sizeof(*w));
    w->r.label = label;
    w->r.keep = 1;
    ac_framer_cbs_t cbs = {on_collect, switch_found};
    ck_assert_int_eq(ac_framer_new(&w->r.f, &cbs, w), 0);
}

static const char *pending(run_t *r)
{
    buf_put(&r->cur, "", 1);
    r->cur.n--;
    return (const char *)r->cur.p;
}

/* T11 between feeds: 25 held bytes of a 31-byte terminator are framed
 * again under "AA", which needs the held bytes kept beyond inline size. */
START_TEST(storage_long_held_under_short_terminator)
{
    switch_t w;
    switch_init(&w, "long held, short terminator");
    char t[32], a[25];
    memset(t, 'A', 30);
    t[30] = 'B';
    memset(a, 'A', sizeof(a));
    ck_assert_int_eq(ac_framer_set_terminator(w.r.f, t, 31), 0);
    feed(&w.r, "xyz", 3);
    feed(&w.r, a, sizeof(a));
    ck_assert_uint_eq(ac_framer_held(w.r.f, NULL), 25);
    ck_assert_int_eq(ac_framer_set_terminator(w.r.f, "AA", 2), 0);
    feed(&w.r, "Q", 1);
    ck_assert_uint_eq(w.r.nfound, 12);
    ck_assert_str_eq(pending(&w.r), "AQ");
    run_free(&w.r);
}
END_TEST

/* Inside found, during a held step over inline storage: short to long. */
START_TEST(storage_short_to_long_in_found)
{
    switch_t w;
    switch_init(&w, "short to long in found");
    char l[40];
    memset(l, 'L', sizeof(l));
    w.next[0] = l;
    w.next_len[0] = sizeof(l);
    ck_assert_int_eq(ac_framer_set_terminator(w.r.f, "ab", 2), 0);
    feed(&w.r, "a", 1);
    feed(&w.r, "bcd", 3);
    feed(&w.r, l, sizeof(l));
    ck_assert_str_eq((char *)w.r.recs.p, "\"\", \"cd\"");
    run_free(&w.r);
}
END_TEST

/* Inside found, during a held step over a heap block: long to short, with
 * 20 held bytes still to frame again, which must survive the block. */
START_TEST(storage_long_to_short_in_found_keeps_held)
{
    switch_t w;
    switch_init(&w, "long to short in found");
    char t[24], in[23];
    memcpy(t, "qAB", 3);
    memset(t + 3, 'z', 20);
    t[23] = '!';
    memcpy(in, t, sizeof(in));
    ck_assert_int_eq(ac_framer_set_terminator(w.r.f, t, sizeof(t)), 0);
    feed(&w.r, in, sizeof(in));
    ck_assert_uint_eq(ac_framer_held(w.r.f, NULL), 23);
    ck_assert_int_eq(ac_framer_set_terminator(w.r.f, "AB", 2), 0);
    w.next[0] = "z";
    w.next_len[0] = 1;
    feed(&w.r, "w", 1);
    ck_assert_uint_eq(w.r.nfound, 21);
    ck_assert_str_eq(pending(&w.r), "w");
    run_free(&w.r);
}
END_TEST

/* ----------------------------------------------------------- bad input -- */

START_TEST(bad_input_changes_nothing)
{
    ac_framer_cbs_t cbs = {on_collect, on_found};
    ck_assert_int_eq(ac_framer_new(NULL, &cbs, NULL), -EINVAL);
    ck_assert_int_eq(ac_framer_set_terminator(NULL, "x", 1), -EINVAL);
    ck_assert_int_eq(ac_framer_set_count(NULL, 1), -EINVAL);
    ck_assert_int_eq(ac_framer_set_none(NULL), -EINVAL);
    ck_assert_int_eq(ac_framer_set_limit(NULL, 1), -EINVAL);
    ck_assert_int_eq(ac_framer_feed(NULL, "x", 1), -EINVAL);
    ck_assert_int_eq(ac_framer_terminator(NULL, NULL, NULL, NULL),
                     AC_TERM_NONE);
    const void *p = "sentinel";
    ck_assert_uint_eq(ac_framer_held(NULL, &p), 0);
    ac_framer_discard(NULL);
    ac_framer_free(NULL);

    run_t r;
    run_init(&r, NULL, "bad input");
    ck_assert_int_eq(ac_framer_set_terminator(r.f, "\r\n", 2), 0);
    feed(&r, "ab\r", 3);
    buf_t before = {0}, after = {0};
    describe(&r, &before);
    int calls = r.ncollect + r.nfound;

    ck_assert_int_eq(ac_framer_feed(r.f, NULL, 5), -EINVAL);
    ck_assert_int_eq(ac_framer_set_terminator(r.f, NULL, 3), -EINVAL);
    ck_assert_int_eq(ac_framer_set_terminator(r.f, too_long,
                                              AC_TERMINATOR_MAX + 1),
                     -EINVAL);
    ck_assert_int_eq(ac_framer_feed(r.f, NULL, 0), 0);
    describe(&r, &after);
    ck_assert_str_eq((char *)after.p, (char *)before.p);
    ck_assert_int_eq(r.ncollect + r.nfound, calls);

    /* The bound itself is accepted. */
    ck_assert_int_eq(ac_framer_set_terminator(r.f, too_long,
                                              AC_TERMINATOR_MAX), 0);
    size_t len;
    ck_assert_int_eq(ac_framer_terminator(r.f, NULL, &len, NULL),
                     AC_TERM_STRING);
    ck_assert_uint_eq(len, AC_TERMINATOR_MAX);
    buf_free(&before);
    buf_free(&after);
    run_free(&r);
}
END_TEST

/* --------------------------------------------------------- linearity -- */

/* Correctness only (no timed asserts): a quadratic framer would time out
 * here long before it got a count wrong. */
static void check_big(const char *unit, size_t ulen, const char *term,
                      size_t tl)
{
    const size_t total = (size_t)8 << 20;
    size_t units = total / ulen;
    unsigned char *in = malloc(units * ulen);
    ck_assert_ptr_nonnull(in);
    for (size_t i = 0; i < units; i++)
        memcpy(in + i * ulen, unit, ulen);
    run_t r;
    run_init(&r, NULL, unit);
    r.keep = 0;
    ck_assert_int_eq(ac_framer_set_terminator(r.f, term, tl), 0);
    feed(&r, in, units * ulen);
    ck_assert_uint_eq((size_t)r.nfound, units);
    ck_assert_uint_eq(r.collected, units * (ulen - tl));
    ck_assert_uint_eq(ac_framer_held(r.f, NULL), 0);
    run_free(&r);
    free(in);
}

START_TEST(linear_one_byte_records)
{
    check_big("x\n", 2, "\n", 1);
}
END_TEST

START_TEST(linear_two_byte_terminator)
{
    check_big("y\r\n", 3, "\r\n", 2);
}
END_TEST

/* 8 MiB of terminator prefixes that never complete until the last byte. */
START_TEST(linear_false_prefixes)
{
    const size_t n = (size_t)8 << 20;
    unsigned char *in = malloc(n);
    ck_assert_ptr_nonnull(in);
    memset(in, '\r', n - 1);
    in[n - 1] = '\n';
    run_t r;
    run_init(&r, NULL, "false prefixes");
    r.keep = 0;
    ck_assert_int_eq(ac_framer_set_terminator(r.f, "\r\n", 2), 0);
    feed(&r, in, n);
    ck_assert_int_eq(r.nfound, 1);
    ck_assert_uint_eq(r.collected, n - 2);
    run_free(&r);
    free(in);
}
END_TEST

/* ---------------------------------------------------- the fast path -- */

/* Records that lie whole in one feed go to the callbacks straight from the
 * caller's buffer (run_short); these inputs are long enough to hold many
 * of them, so every cut mixes that path with the held-bytes one. */
START_TEST(fast_path_against_model)
{
    static const char *const terms[] = {"\r\n", "\n", "abab", "qqq", "aab",
                                        "0123456789abcdef", "0123456789abcdefg"};
    const uint32_t seed = 0xfa57u;
    uint32_t s = seed;
    for (int round = 0; round < 28; round++) {
        const char *t = terms[round % 7];
        size_t tl = strlen(t);
        unsigned char in[300];
        size_t n = 0;
        /* records of 0..80 bytes over a small alphabet (false prefixes and
         * overlaps), each ended by the terminator, then a random tail */
        while (n + 80 + tl < sizeof(in)) {
            size_t len = lcg(&s) % 81;
            for (size_t i = 0; i < len; i++)
                in[n++] = (unsigned char)"abq\r\n0"[lcg(&s) % 6];
            memcpy(in + n, t, tl);
            n += tl;
        }
        size_t tail = lcg(&s) % (sizeof(in) - n + 1);
        for (size_t i = 0; i < tail; i++)
            in[n++] = (unsigned char)t[lcg(&s) % tl];
        char id[64];
        snprintf(id, sizeof(id), "fast seed %#x round %d", (unsigned)seed,
                 round);
        check_model(id, t, tl, in, n);
    }
}
END_TEST

/* Short and long records mixed, so that the fast path goes from its
 * 64-byte windows to memchr and back, with terminators across window
 * edges and first bytes that start no terminator. */
START_TEST(fast_path_mixed_lengths)
{
    static const char *const terms[] = {"\r\n", "qqq", "abab", "aab"};
    uint32_t s = 0x31415926u;
    for (int round = 0; round < 8; round++) {
        const char *t = terms[round % 4];
        size_t tl = strlen(t);
        unsigned char in[1500];
        size_t n = 0;
        for (;;) {
            static const size_t lens[] = {0, 3, 14, 61, 62, 63, 64, 65, 130, 300};
            size_t len = lens[lcg(&s) % 10];
            if (n + len + tl > sizeof(in))
                break;
            for (size_t i = 0; i < len; i++)
                in[n++] = (unsigned char)"xyzabq\r"[lcg(&s) % 7];
            memcpy(in + n, t, tl);
            n += tl;
        }
        char id[64];
        snprintf(id, sizeof(id), "mixed round %d", round);
        check_model(id, t, tl, in, n);
    }
}
END_TEST

/* The outcome of framing in[0:n] under t until the k-th record, then
 * under a (string, count or none) set inside that found.  Naive. */
static void model_switch(const unsigned char *in, size_t n, const char *t,
                         int k, const act_t *a, buf_t *out)
{
    size_t tl = strlen(t), pos = 0;
    buf_put(out, "records [", 9);
    for (int r = 0; r < k; r++) {
        size_t i = pos;
        while (memcmp(in + i, t, tl) != 0)
            i++;
        if (r)
            buf_put(out, ", ", 2);
        render(out, in + pos, i - pos);
        pos = i + tl;
    }
    if (a->op == OP_STRING) {
        buf_t rest = {0};
        model(in + pos, n - pos, (const unsigned char *)a->str.p, a->str.n,
              &rest);
        /* "records [" + what model found after the switch */
        const char *body = (const char *)rest.p + 9;
        if (body[0] != ']')
            buf_put(out, ", ", 2);
        buf_put(out, body, strlen(body));
        buf_free(&rest);
        return;
    }
    uint64_t left = 0;
    if (a->op == OP_COUNT && n - pos >= a->count) {
        buf_put(out, ", ", 2);
        render(out, in + pos, (size_t)a->count);
        pos += (size_t)a->count;
    } else if (a->op == OP_COUNT) {
        left = a->count - (n - pos);
    }
    buf_put(out, "] pending ", 10);
    render(out, in + pos, n - pos);
    buf_put(out, " held \"\" term ", 14);
    describe_term(out, left ? AC_TERM_COUNT : AC_TERM_NONE, NULL, 0, left);
}

/* found_terminator setting another terminator, a count or none in the
 * middle of a run of records: the new setting frames the bytes right after
 * the record, whatever the cuts.  "\r\n" to "\n" rewrites the terminator in
 * the same storage; to 17 bytes it leaves the fast path. */
START_TEST(fast_path_switch_in_found)
{
    static const act_t acts[] = {
        STR("\n"), STR("\r\n"), STR("c\r"), STR("0123456789abcdefg"),
        CNT(5), CNT(1), CNT(100000), NONE,
    };
    buf_t in = {0};
    for (int r = 0; r < 30; r++)
        buf_fmt(&in, "rec%02d-abc\r\n", r); /* 12 bytes, NUL cut below */
    in.n = strlen((char *)in.p);
    for (size_t a = 0; a < sizeof(acts) / sizeof(acts[0]); a++) {
        for (int k = 1; k <= 7; k += 3) {
            vec_t v = {.id = "switch in found",
                       .term = STR("\r\n"),
                       .chunk = {{(const char *)in.p, in.n, 0}},
                       .react = {{k, acts[a]}}};
            char id[48];
            snprintf(id, sizeof(id), "switch %zu at %d", a, k);
            v.id = id;
            buf_t want = {0};
            model_switch(in.p, in.n, "\r\n", k, &acts[a], &want);
            buf_put(&want, "", 1);
            check_modes(&v, &in, (char *)want.p);
            buf_free(&want);
        }
    }
    buf_free(&in);
}
END_TEST

/* A record within the limit goes by, the first one over it fails the feed
 * (nothing of it past the limit delivered), however the input is cut. */
START_TEST(fast_path_limit)
{
    buf_t in = {0};
    for (int r = 0; r < 20; r++)
        buf_put(&in, "0123456789\r\n", 12); /* exactly the limit */
    buf_put(&in, "0123456789X\r\nyz\r\n", 17);
    for (size_t cut = 0; cut <= in.n; cut++) {
        run_t r;
        run_init(&r, NULL, "fast limit");
        ck_assert_int_eq(ac_framer_set_terminator(r.f, "\r\n", 2), 0);
        ck_assert_int_eq(ac_framer_set_limit(r.f, 10), 0);
        int rc1 = ac_framer_feed(r.f, in.p, cut);
        int rc2 = ac_framer_feed(r.f, in.p + cut, in.n - cut);
        ck_assert_int_eq(rc1, cut > 20 * 12 + 10 ? AC_ETOOBIG : 0);
        ck_assert_int_eq(rc2, AC_ETOOBIG);
        ck_assert_int_eq(r.nfound, 20);
        ck_assert_uint_le(r.cur.n, 10);
        ck_assert_mem_eq(r.cur.p, "0123456789", r.cur.n);
        run_free(&r);
    }
    buf_free(&in);
}
END_TEST

typedef struct {
    run_t r;
    int at_collect, at_found; /* discard on the n-th call (0: never) */
    int limit_at;             /* set_limit(3) in the n-th found */
    int term_at;              /* set_terminator("\n") in the n-th collect */
} disc_t;

static void disc_collect(void *ud, const void *data, size_t len)
{
    disc_t *d = ud;
    on_collect(&d->r, data, len);
    if (d->r.ncollect == d->at_collect)
        ac_framer_discard(d->r.f);
    if (d->r.ncollect == d->term_at)
        ck_assert_int_eq(ac_framer_set_terminator(d->r.f, "\n", 1), 0);
}

static void disc_found(void *ud)
{
    disc_t *d = ud;
    on_found(&d->r);
    if (d->r.nfound == d->at_found)
        ac_framer_discard(d->r.f);
    if (d->r.nfound == d->limit_at)
        ck_assert_int_eq(ac_framer_set_limit(d->r.f, 3), 0);
}

static void disc_init(disc_t *d, const char *label)
{
    memset(d, 0, sizeof(*d));
    d->r.label = label;
    d->r.keep = 1;
    ac_framer_cbs_t cbs = {disc_collect, disc_found};
    ck_assert_int_eq(ac_framer_new(&d->r.f, &cbs, d), 0);
    ck_assert_int_eq(ac_framer_set_terminator(d->r.f, "\r\n", 2), 0);
}

/* Discard from either callback in the middle of a run stops that feed
 * there (the rest of it is dropped, held bytes too); the next feed frames
 * from scratch.  A limit lowered in found fails the next record. */
START_TEST(fast_path_discard_and_limit_in_callbacks)
{
    static const char in[] = "aa\r\nbb\r\ncc\r\ndd\r\nee\r\nff\r\ngg\r";
    disc_t d;
    disc_init(&d, "discard in collect");
    d.at_collect = 3;
    ck_assert_int_eq(ac_framer_feed(d.r.f, in, sizeof(in) - 1), 0);
    ck_assert_str_eq((char *)d.r.recs.p, "\"aa\", \"bb\"");
    ck_assert_int_eq(d.r.ncollect, 3);
    ck_assert_uint_eq(ac_framer_held(d.r.f, NULL), 0);
    d.r.cur.n = 0;
    ck_assert_int_eq(ac_framer_feed(d.r.f, "\nhh\r\n", 5), 0);
    ck_assert_str_eq((char *)d.r.recs.p, "\"aa\", \"bb\", \"\\nhh\"");
    run_free(&d.r);

    disc_init(&d, "discard in found");
    d.at_found = 3;
    ck_assert_int_eq(ac_framer_feed(d.r.f, in, sizeof(in) - 1), 0);
    ck_assert_str_eq((char *)d.r.recs.p, "\"aa\", \"bb\", \"cc\"");
    ck_assert_int_eq(d.r.ncollect, 3);
    ck_assert_uint_eq(ac_framer_held(d.r.f, NULL), 0);
    ck_assert_uint_eq(d.r.cur.n, 0);
    run_free(&d.r);

    /* A terminator set in collect: that record is still found, and the
     * new terminator frames what follows it. */
    disc_init(&d, "terminator in collect");
    d.term_at = 2;
    ck_assert_int_eq(ac_framer_feed(d.r.f, in, sizeof(in) - 1), 0);
    ck_assert_str_eq((char *)d.r.recs.p,
                     "\"aa\", \"bb\", \"cc\\r\", \"dd\\r\", \"ee\\r\", "
                     "\"ff\\r\"");
    ck_assert_int_eq(d.r.nfound, 6);
    run_free(&d.r);

    disc_init(&d, "limit in found");
    d.limit_at = 2;
    ck_assert_int_eq(ac_framer_feed(d.r.f, "a\r\nbcd\r\nefg\r\nhijk\r\n", 19),
                     AC_ETOOBIG);
    ck_assert_str_eq((char *)d.r.recs.p, "\"a\", \"bcd\", \"efg\"");
    ck_assert_uint_eq(d.r.cur.n, 0);
    run_free(&d.r);
}
END_TEST

/* Records ending exactly at the end of a feed, and a feed of nothing but
 * terminators: nothing held, nothing pending. */
START_TEST(fast_path_edges)
{
    run_t r;
    run_init(&r, NULL, "edges");
    ck_assert_int_eq(ac_framer_set_terminator(r.f, "\r\n", 2), 0);
    feed(&r, "a\r\nb\r\n", 6);
    ck_assert_str_eq((char *)r.recs.p, "\"a\", \"b\"");
    ck_assert_uint_eq(ac_framer_held(r.f, NULL), 0);
    ck_assert_uint_eq(r.cur.n, 0);
    feed(&r, "\r\n\r\n\r\n", 6);
    ck_assert_str_eq((char *)r.recs.p, "\"a\", \"b\", \"\", \"\", \"\"");
    ck_assert_int_eq(r.ncollect, 2);
    feed(&r, "c\r", 2);
    ck_assert_uint_eq(ac_framer_held(r.f, NULL), 1);
    feed(&r, "\nd\r\n", 4);
    ck_assert_str_eq((char *)r.recs.p,
                     "\"a\", \"b\", \"\", \"\", \"\", \"c\", \"d\"");
    run_free(&r);
}
END_TEST

/* --------------------------------------------------------------- main -- */

static Suite *framer_suite(void)
{
    Suite *s = suite_create("framer");
    TCase *tc = tcase_create("vectors");
    tcase_set_timeout(tc, 120); /* CV47 cut at ~1400 offsets under valgrind */
    tcase_add_loop_test(tc, cpython_vector, 0, NVECTORS);
    tcase_add_loop_test(tc, switch_vector, 0,
                        (int)(sizeof(switches) / sizeof(switches[0])));
    tcase_add_loop_test(tc, extra_vector, 0,
                        (int)(sizeof(extras) / sizeof(extras[0])));
    suite_add_tcase(s, tc);

    tc = tcase_create("shapes");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, overlapping_terminators);
    tcase_add_test(tc, random_against_model);
    tcase_add_test(tc, long_terminator_300);
    tcase_add_test(tc, long_terminator_max);
    suite_add_tcase(s, tc);

    tc = tcase_create("counts");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, count_across_feeds);
    tcase_add_test(tc, huge_count_decrements_exactly);
    suite_add_tcase(s, tc);

    tc = tcase_create("limit");
    tcase_add_test(tc, limit_overflow_every_cut);
    tcase_add_test(tc, limit_counts_held_bytes_once_known);
    tcase_add_test(tc, limit_count_and_none);
    tcase_add_test(tc, limit_overflow_ends_count_record);
    suite_add_tcase(s, tc);

    tc = tcase_create("reentry");
    tcase_add_test(tc, discard_scope);
    tcase_add_test(tc, feed_inside_callback_is_busy);
    tcase_add_test(tc, discard_inside_collect_drops_held);
    tcase_add_test(tc, set_terminator_from_own_bytes);
    tcase_add_test(tc, storage_long_held_under_short_terminator);
    tcase_add_test(tc, storage_short_to_long_in_found);
    tcase_add_test(tc, storage_long_to_short_in_found_keeps_held);
    tcase_add_test(tc, bad_input_changes_nothing);
    suite_add_tcase(s, tc);

    tc = tcase_create("linear");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, linear_one_byte_records);
    tcase_add_test(tc, linear_two_byte_terminator);
    tcase_add_test(tc, linear_false_prefixes);
    suite_add_tcase(s, tc);

    tc = tcase_create("fast path");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, fast_path_against_model);
    tcase_add_test(tc, fast_path_mixed_lengths);
    tcase_add_test(tc, fast_path_switch_in_found);
    tcase_add_test(tc, fast_path_limit);
    tcase_add_test(tc, fast_path_discard_and_limit_in_callbacks);
    tcase_add_test(tc, fast_path_edges);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(framer_suite());
}
