/* fuzz_case_parser.c: fuzzes the conformance suite's case-file parser
 * (conformance/src/case.c, compiled in) with arbitrary file contents.  A
 * file either parses into a case that holds together, or fails with a
 * "file:line: what" message; never a crash, a leak or an unterminated
 * message, and freeing the result is always safe. */
#include <string.h>

#include "case.h"
#include "fuzz_common.h"

#define FILE_NAME "fuzz.case"

/* What case_parse promises about a case it accepted (docs/case-format.md). */
static void check_case(const acc_case_t *c)
{
    FUZZ_CHECK(c->id != NULL && c->nclauses > 0, "accepted without id: or "
               "clause:");
    FUZZ_CHECK(c->nnames <= CASE_MAX_NAMES && c->nmaps <= CASE_MAX_NAMES &&
                   c->nprods <= CASE_MAX_NAMES, "too many names");
    for (int i = 0; i < c->nsteps; i++) {
        const step_t *st = &c->steps[i];
        FUZZ_CHECK(st->ch >= -1 && st->ch < c->nnames && st->ch2 >= -1 &&
                       st->ch2 < c->nnames, "step %d: channel index out of "
                   "range", i);
        FUZZ_CHECK(st->map >= 0 && st->map < c->nmaps, "step %d: map index",
                   i);
        FUZZ_CHECK(st->nbytes == 0 || st->bytes != NULL, "step %d: bytes",
                   i);
        /* An empty chunk ("") is a step of its own since the language
         * grew producers that yield one (docs/case-format.md); any other
         * chunk has its bytes. */
        for (size_t k = 0; k < st->nchunks; k++)
            FUZZ_CHECK(st->lens[k] == 0 || st->chunks[k] != NULL,
                       "step %d: producer chunk %zu has no bytes", i, k);
    }
    for (int i = 0; i < c->nreactions; i++)
        FUZZ_CHECK(c->reactions[i].ch >= 0 &&
                       c->reactions[i].ch < c->nnames,
                   "reaction %d: channel index out of range", i);
}

#ifndef FUZZ_CAMPAIGN
#define FUZZ_CAMPAIGN 0
#endif

/* Campaign builds (FUZZ_CAMPAIGN) skip a case whose repetitions ("x" * N)
 * would build more than REPEAT_BUDGET bytes in all.  This is for speed, not
 * around a bug: case.c refuses a case once its literals pass 256 MiB
 * together (MAX_CASE_BYTES), but a 3 KB file still gets to allocate and
 * copy those 256 MiB first, about a second of CPU under ASan where a
 * typical input takes well under a millisecond, and every mutation of such
 * an input pays it again.  The standalone replay runs everything
 * (regressions/case_parser keeps a case that reaches the budget). */
#define REPEAT_BUDGET (1u << 20)
#define LITERAL_MAX (64u << 20) /* case.c's MAX_BYTES: refused unbuilt */

/* The bytes the repetitions of text would build, as case.c's lexer sees
 * them: a '*' repeats the line's last quoted string (its decoded length),
 * '#' outside a string starts a comment. */
static int too_costly(const char *text)
{
    unsigned long long total = 0;
    size_t last = 0;
    for (const char *s = text; FUZZ_CAMPAIGN && *s; s++) {
        if (*s == '\n') {
            last = 0;
        } else if (*s == '#') {
            while (s[1] && s[1] != '\n')
                s++;
        } else if (*s == '"') {
            last = 0;
            while (s[1] && s[1] != '"' && s[1] != '\n') {
                s++;
                if (*s == '\\' && s[1])
                    for (int k = s[1] == 'x' ? 3 : 1; k > 0 && s[1]; k--)
                        s++;
                last++;
            }
            if (s[1] == '"')
                s++;
        } else if (*s == '*' && last > 0) {
            unsigned long long n = strtoull(s + 1, NULL, 0);
            if (n > 0 && n <= LITERAL_MAX / last)
                total += n * last;
            if (total > REPEAT_BUDGET)
                return 1;
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* case_load reads a file into a NUL-terminated buffer and refuses one
     * with a NUL inside; case_parse gets the text. */
    if (memchr(data, '\0', size) != NULL)
        return 0;
    char *text = malloc(size + 1);
    FUZZ_CHECK(text != NULL, "out of memory");
    memcpy(text, data, size);
    text[size] = '\0';
    if (too_costly(text)) {
        free(text);
        return 0;
    }
    acc_case_t c;
    char err[512];
    memset(err, 0x55, sizeof(err)); /* an unwritten message shows */
    int rc = case_parse(&c, FILE_NAME, text, err, sizeof(err));
    if (rc == 0) {
        check_case(&c);
    } else {
        FUZZ_CHECK(rc == -1, "case_parse returned %d", rc);
        FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL,
                   "error message not terminated");
        FUZZ_CHECK(strncmp(err, FILE_NAME ":", strlen(FILE_NAME) + 1) == 0 &&
                       strlen(err) > strlen(FILE_NAME) + 3,
                   "error message is not 'file:line: what': %.80s", err);
    }
    case_free(&c); /* as main.c does, after a failure too */
    free(text);
    return 0;
}
