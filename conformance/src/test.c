/* test.c: the two kinds of case, a case file and a hand-written test, made
 * into one test_t when they are loaded, so that planning, selection and the
 * reports read fields and never ask which kind they hold.  Only running
 * and saying where a run stopped differ, through the kind's test_ops_t. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"

/* Line `line` of file, white space at both ends dropped; "" if unreadable. */
static void file_line(const char *file, int line, char *out, size_t cap)
{
    out[0] = '\0';
    FILE *f = fopen(file, "r");
    if (f == NULL)
        return;
    char buf[1024];
    for (int n = 1; fgets(buf, sizeof(buf), f); ) {
        int whole = strchr(buf, '\n') != NULL;
        if (n == line) {
            char *s = buf + strspn(buf, " \t");
            size_t k = strcspn(s, "\r\n");
            while (k > 0 && (s[k - 1] == ' ' || s[k - 1] == '\t'))
                k--;
            snprintf(out, cap, "%.*s%s", (int)k, s, whole ? "" : " ...");
            break;
        }
        n += whole;
    }
    fclose(f);
}

/* " in step line 14 `expect a found`", or the phase the run was in. */
static void case_where(const test_t *t, const exec_where_t *w, char *out, size_t cap)
{
    char text[300];
    switch (w ? w->phase : -1) {
    case -1:
        out[0] = '\0';
        break;
    case EXEC_AT_STEP:
        file_line(t->file, w->line, text, sizeof(text));
        snprintf(out, cap, " in step line %d `%s`", w->line, text);
        break;
    case EXEC_AT_END:
        snprintf(out, cap, " after the last step, while settling to check for "
                 "unexpected events");
        break;
    case EXEC_AT_TEARDOWN:
        snprintf(out, cap, " after the steps, while freeing the case's channels and maps");
        break;
    default:
        snprintf(out, cap, " before the first step, while making the case's maps");
        break;
    }
}

static verdict_t case_run(const test_t *t, const exec_opts_t *o, char *msg, size_t cap)
{
    o->where->phase = EXEC_AT_START;
    return exec_case(t->body, o, msg, cap);
}

/* A hand-written test does not report its steps: its id is the place. */
static void hw_where(const test_t *t, const exec_where_t *w, char *out, size_t cap)
{
    (void)w;
    snprintf(out, cap, " in hand-written test %s", t->id);
}

static verdict_t hw_run(const test_t *t, const exec_opts_t *o, char *msg, size_t cap)
{
    const handwritten_t *hw = t->body;
    o->where->phase = EXEC_AT_HANDWRITTEN;
    return hw->fn(o, msg, cap) ? V_FAIL : V_PASS;
}

static const test_ops_t case_ops = {case_run, case_where};
static const test_ops_t hw_ops = {hw_run, hw_where};

/* The area a case belongs to is where it lives: name, the directory of a
 * case file (conformance/cases/<area>/) or the id's prefix "x." of a
 * hand-written test.  Only a case outside an area falls back to its first
 * clause. */
static char area_of(const test_t *t, const char *name)
{
    int a = name ? toupper((unsigned char)name[0]) : 0;
    if (a && strchr(ACC_AREAS, a))
        return (char)a;
    return t->nclauses ? (char)toupper((unsigned char)t->clauses[0][0]) : 0;
}

void test_from_case(test_t *t, const acc_case_t *c)
{
    *t = (test_t){.ops = &case_ops, .body = c, .id = c->id, .file = c->file,
                  .clauses = c->clauses, .nclauses = c->nclauses, .level = c->level,
                  .requires = c->requires, .splits = c->splits};
    const char *slash = strrchr(c->file, '/');
    const char *dir = slash ? slash : c->file;
    while (dir > c->file && dir[-1] != '/')
        dir--;
    t->area = area_of(t, slash && slash - dir == 1 ? dir : NULL);
}

int test_from_handwritten(test_t *t, const handwritten_t *hw)
{
    size_t len = strlen(hw->clauses) + 1, most = len / 2 + 1;
    char **v = malloc(most * sizeof(*v) + len);
    if (v == NULL)
        return -1;
    char *s = memcpy(v + most, hw->clauses, len);
    int n = 0;
    for (s = strtok(s, " "); s; s = strtok(NULL, " "))
        v[n++] = s;
    *t = (test_t){.ops = &hw_ops, .body = hw, .id = hw->id, .clauses = v, .nclauses = n,
                  .level = hw->level, .requires = hw->requires, .mem = v};
    t->area = area_of(t, hw->id[0] && hw->id[1] == '.' ? hw->id : NULL);
    return 0;
}

void test_free(test_t *t)
{
    free(t->mem);
}
