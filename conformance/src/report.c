/* report.c: the runner's outputs: a terminal summary per area and clause
 * with every failure and its one-line reproduction, TAP 13, JUnit XML, JSON
 * (one record per case x variant), and the clause coverage of the spec. */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/utsname.h>

#include "runner.h"

static const char areas[] = ACC_AREAS;
#define NAREAS ((int)sizeof(areas) - 1)
#define ACC_AREA_TITLE_(letter, title) #letter " " title,
static const char *const area_names[] = {ACC_AREA_LIST(ACC_AREA_TITLE_)};
#undef ACC_AREA_TITLE_

const char *verdict_name(verdict_t v)
{
#define ACC_VERDICT_NAME_(name) #name,
    static const char *const n[] = {ACC_VERDICT_LIST(ACC_VERDICT_NAME_)};
#undef ACC_VERDICT_NAME_
    return n[v];
}

void repro_command(const report_t *r, const plan_t *p, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s%s --seed %llu --split %s --backend %s '%s'",
             r->argv0, r->cases_dir ? " --cases " : "",
             r->cases_dir ? r->cases_dir : "", (unsigned long long)r->seed,
             acc_split_name(p->split), p->backend, p->t->id);
}

static int area_of(const plan_t *p)
{
    const char *a = strchr(areas, p->t->area);
    return a && *a ? (int)(a - areas) : 0;
}

int plan_soft(const report_t *r, const plan_t *p)
{
    return p->verdict == V_FAIL && !verdict_fails_run(p->verdict, p->t->level, r->strict);
}

/* n[verdict] for the plans of an area (-1: all); n[N_SOFT] counts the soft
 * ones among the FAILs. */
#define N_SOFT V__COUNT
static void count(const report_t *r, int area, int *n)
{
    memset(n, 0, (N_SOFT + 1) * sizeof(int));
    for (int i = 0; i < r->nplans; i++)
        if (area < 0 || area_of(&r->plans[i]) == area) {
            n[r->plans[i].verdict]++;
            n[N_SOFT] += plan_soft(r, &r->plans[i]);
        }
}

/* Every run that count() counted, whatever its verdict. */
static int runs_of(const int *n)
{
    int k = 0;
    for (int v = 0; v < V__COUNT; v++)
        k += n[v];
    return k;
}

void report_terminal(const report_t *r)
{
    int n[N_SOFT + 1];
    int nfail = 0;
    for (int i = 0; i < r->nplans; i++) {
        const plan_t *p = &r->plans[i];
        if (p->verdict != V_FAIL && p->verdict != V_ERROR && p->verdict != V_XPASS)
            continue;
        char cmd[1024];
        repro_command(r, p, cmd, sizeof(cmd));
        printf("%s %s [%s/%s] (%s%s)\n    %s\n    reproduce: %s\n",
               verdict_name(p->verdict), p->t->id, acc_split_name(p->split),
               p->backend, acc_level_name(p->t->level),
               plan_soft(r, p) ? ": soft, the run still passes" : "",
               p->message ? p->message : "passed, but listed as an expected failure",
               cmd);
        nfail++;
    }
    printf("\n%-42s %6s %6s %6s %6s %6s %6s\n", "area", "pass", "fail", "xfail",
           "xpass", "skip", "error");
    for (int a = 0; a < NAREAS; a++) {
        count(r, a, n);
        printf("%-42s %6d %6d %6d %6d %6d %6d\n", area_names[a], n[V_PASS],
               n[V_FAIL], n[V_XFAIL], n[V_XPASS], n[V_SKIP], n[V_ERROR]);
    }
    count(r, -1, n);
    printf("%-42s %6d %6d %6d %6d %6d %6d\n", "total", n[V_PASS], n[V_FAIL],
           n[V_XFAIL], n[V_XPASS], n[V_SKIP], n[V_ERROR]);
    printf("\n%d passed, %d failed", n[V_PASS] + n[V_XFAIL],
           n[V_FAIL] + n[V_XPASS] + n[V_ERROR]);
    if (n[N_SOFT])
        printf(" (%d of them soft: SHOULD/MAY)", n[N_SOFT]);
    printf(", %d skipped (%d runs in %.1f s, %d job%s, %s)\n", n[V_SKIP], r->nplans,
           r->seconds, r->jobs, r->jobs == 1 ? "" : "s", r->impl->name);
}

/* ------------------------------------------------------------- escaping */

/* Length of the valid UTF-8 sequence at s (1 to 4), or 0: an invalid one,
 * or a character XML 1.0 forbids (surrogates, U+FFFE, U+FFFF). */
static int utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    int n = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? (s[0] < 0xF0 ? 3 : 0) :
            s[0] >= 0xC2 ? 2 : 0;
    uint32_t cp = s[0] & (0x7F >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (n == 0 || cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) ||
        cp == 0xFFFE || cp == 0xFFFF)
        return 0;
    return n;
}

/* XML 1.0 forbids most control characters even as character references
 * (&#x1; is not well-formed), so they, and bytes that are not UTF-8, are
 * written as visible text \xNN.  Messages are already escaped by the
 * executor; reasons and ids come from files and could hold anything. */
static void put_xml(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (p && *p) {
        int n = utf8_len(p);
        if (*p == '<') fputs("&lt;", f);
        else if (*p == '>') fputs("&gt;", f);
        else if (*p == '&') fputs("&amp;", f);
        else if (*p == '"') fputs("&quot;", f);
        else if (*p < 0x20 || *p == 0x7F || n == 0) fprintf(f, "\\x%02X", *p);
        else fwrite(p, 1, (size_t)n, f);
        p += n ? n : 1;
    }
}

/* JSON strings: control bytes as \u00NN, bytes that are not UTF-8 as the
 * text \xNN (a strict reader refuses them raw). */
static void put_json(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', f);
    while (p && *p) {
        int n = utf8_len(p);
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else if (n == 0) fprintf(f, "\\\\x%02X", *p);
        else fwrite(p, 1, (size_t)n, f);
        p += n ? n : 1;
    }
    fputc('"', f);
}

/* TAP: one line, UTF-8. */
static void put_line(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (p && *p) {
        int n = utf8_len(p);
        if (*p < 0x20 || *p == 0x7F) fputc(' ', f);
        else if (n == 0) fprintf(f, "\\x%02X", *p);
        else fwrite(p, 1, (size_t)n, f);
        p += n ? n : 1;
    }
}

static FILE *open_out(const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (f == NULL)
        perror(path);
    return f;
}

static int close_out(FILE *f)
{
    return f == stdout ? fflush(f) : fclose(f);
}

/* ----------------------------------------------------------------- TAP */

int report_tap(const report_t *r, const char *path)
{
    FILE *f = open_out(path);
    if (f == NULL)
        return -1;
    fprintf(f, "TAP version 13\n1..%d\n", r->nplans);
    for (int i = 0; i < r->nplans; i++) {
        const plan_t *p = &r->plans[i];
        /* A failure that does not fail the run is "not ok # TODO": TAP
         * consumers then count it as a known failure, as the exit code does. */
        int ok = p->verdict == V_PASS || p->verdict == V_SKIP;
        int soft = plan_soft(r, p);
        fprintf(f, "%s %d - %s [%s/%s]", ok ? "ok" : "not ok", i + 1, p->t->id,
                acc_split_name(p->split), p->backend);
        if (p->verdict == V_SKIP) {
            fputs(" # SKIP ", f);
            put_line(f, p->reason);
        } else if (p->verdict == V_XFAIL) {
            fputs(" # TODO expected failure: ", f);
            put_line(f, p->reason);
        } else if (soft) {
            fprintf(f, " # TODO soft: %s clause not met (the run passes without --strict)",
                    acc_level_name(p->t->level));
        }
        fputc('\n', f);
        if (!ok) {
            char cmd[1024];
            repro_command(r, p, cmd, sizeof(cmd));
            fprintf(f, "  ---\n  verdict: %s%s\n  level: %s\n  message: ",
                    verdict_name(p->verdict), soft ? " (soft)" : "", acc_level_name(p->t->level));
            put_json(f, p->message ? p->message : "unexpected pass");
            fprintf(f, "\n  reproduce: ");
            put_json(f, cmd);
            fprintf(f, "\n  duration_ms: %.1f\n  ...\n", p->seconds * 1000);
        }
    }
    return close_out(f);
}

/* --------------------------------------------------------------- JUnit */

int report_junit(const report_t *r, const char *path)
{
    FILE *f = open_out(path);
    if (f == NULL)
        return -1;
    int tot[N_SOFT + 1];
    double ttot = 0;
    count(r, -1, tot);
    for (int i = 0; i < r->nplans; i++)
        ttot += r->plans[i].seconds;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"achat-conformance\" "
            "tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" time=\"%.3f\">\n",
            r->nplans, tot[V_FAIL] - tot[N_SOFT] + tot[V_XPASS], tot[V_ERROR], tot[V_SKIP],
            ttot);
    for (int a = 0; a < NAREAS; a++) {
        int n[N_SOFT + 1];
        double t = 0;
        count(r, a, n);
        for (int i = 0; i < r->nplans; i++)
            if (area_of(&r->plans[i]) == a)
                t += r->plans[i].seconds;
        fprintf(f, "  <testsuite name=\"%c\" tests=\"%d\" failures=\"%d\" errors=\"%d\" "
                "skipped=\"%d\" time=\"%.3f\">\n", areas[a],
                runs_of(n), n[V_FAIL] - n[N_SOFT] + n[V_XPASS],
                n[V_ERROR], n[V_SKIP], t);
        for (int i = 0; i < r->nplans; i++) {
            const plan_t *p = &r->plans[i];
            if (area_of(p) != a)
                continue;
            fprintf(f, "    <testcase name=\"");
            put_xml(f, p->t->id);
            fprintf(f, " [%s/%s]\" classname=\"conformance.%c\" time=\"%.3f\"",
                    acc_split_name(p->split), p->backend, areas[a], p->seconds);
            if (p->verdict == V_PASS || p->verdict == V_XFAIL) {
                fprintf(f, "/>\n");
                continue;
            }
            /* A soft failure passes the run: no <failure>, which CI would
             * count, but the message where a reader of the test looks. */
            if (plan_soft(r, p)) {
                fprintf(f, ">\n      <system-out>soft failure (%s clause not met; the run "
                        "passes without --strict): ", acc_level_name(p->t->level));
                put_xml(f, p->message);
                fprintf(f, "</system-out>\n    </testcase>\n");
                continue;
            }
            fprintf(f, ">\n      <%s message=\"",
                    p->verdict == V_SKIP ? "skipped" : p->verdict == V_ERROR ? "error" : "failure");
            put_xml(f, p->verdict == V_SKIP ? p->reason :
                       p->message ? p->message : "unexpected pass (XPASS)");
            fprintf(f, "\"/>\n    </testcase>\n");
        }
        fprintf(f, "  </testsuite>\n");
    }
    fprintf(f, "</testsuites>\n");
    return close_out(f);
}

/* ---------------------------------------------------------------- JSON */

int report_json(const report_t *r, const char *path)
{
    FILE *f = open_out(path);
    if (f == NULL)
        return -1;
    struct utsname u;
    uname(&u);
    fprintf(f, "{\"suite_version\": \"1\", \"spec_version\": \"2\",\n \"run_info\": {\"impl\": ");
    put_json(f, r->impl->name);
    fprintf(f, ", \"impl_version\": ");
    put_json(f, r->impl->version);
    fprintf(f, ", \"seed\": %llu, \"host\": ", (unsigned long long)r->seed);
    put_json(f, u.machine);
    fprintf(f, ", \"seconds\": %.3f, \"jobs\": %d},\n \"results\": [\n", r->seconds, r->jobs);
    for (int i = 0; i < r->nplans; i++) {
        const plan_t *p = &r->plans[i];
        fprintf(f, "  {\"id\": ");
        put_json(f, p->t->id);
        fprintf(f, ", \"clauses\": [");
        for (int k = 0; k < p->t->nclauses; k++) {
            fprintf(f, k ? ", " : "");
            put_json(f, p->t->clauses[k]);
        }
        fprintf(f, "], \"level\": \"%s\", \"split\": \"%s\", \"backend\": \"%s\", "
                "\"status\": \"%s\", \"soft\": %s, \"expected\": \"%s\", \"duration_ms\": %.2f, "
                "\"message\": ",
                acc_level_name(p->t->level), acc_split_name(p->split), p->backend,
                verdict_name(p->verdict), plan_soft(r, p) ? "true" : "false",
                verdict_name(p->expected == V_XFAIL ? V_FAIL : p->expected),
                p->seconds * 1000);
        put_json(f, p->message ? p->message : p->reason ? p->reason : "");
        fprintf(f, "}%s\n", i + 1 < r->nplans ? "," : "");
    }
    /* Clause -> level -> every case that names it (selected or not). */
    fprintf(f, " ],\n \"coverage\": [");
    for (int c = 0; r->clauses && c < r->clauses->n; c++) {
        const spec_clause_t *cl = &r->clauses->v[c];
        int n;
        const char **ids = clause_cases(r, cl->id, &n);
        fprintf(f, "%s\n  {\"clause\": ", c ? "," : "");
        put_json(f, cl->id);
        fprintf(f, ", \"level\": \"%s\", \"cases\": [", acc_level_name(cl->level));
        for (int k = 0; k < n; k++) {
            fprintf(f, k ? ", " : "");
            put_json(f, ids[k]);
        }
        fprintf(f, "]}");
        free(ids);
    }
    fprintf(f, "\n ]\n}\n");
    return close_out(f);
}

/* ------------------------------------------------------------ coverage */

const char **clause_cases(const report_t *r, const char *id, int *n)
{
    const char **ids = malloc((size_t)(r->ntests + 1) * sizeof(*ids));
    *n = 0;
    if (ids == NULL)
        return NULL;
    /* Every loaded case, selected or not. */
    for (int i = 0; i < r->ntests; i++) {
        const test_t *t = &r->tests[i];
        for (int k = 0; k < t->nclauses; k++)
            if (strcmp(t->clauses[k], id) == 0) {
                ids[(*n)++] = t->id;
                break;
            }
    }
    return ids;
}

/* Whether a run of a case naming clause id went wrong in this run. */
static int clause_failing(const report_t *r, const char *id)
{
    int bad = 0;
    for (int i = 0; i < r->nplans; i++) {
        const plan_t *p = &r->plans[i];
        for (int k = 0; k < p->t->nclauses; k++)
            if (strcmp(p->t->clauses[k], id) == 0)
                bad += p->verdict == V_FAIL || p->verdict == V_ERROR ||
                       p->verdict == V_XPASS;
    }
    return bad;
}

/* Names after a prefix of width indent, wrapped before column width. */
static void print_wrapped(const char **names, int n, int indent, int width)
{
    int col = indent;
    for (int i = 0; i < n; i++) {
        int len = (int)strlen(names[i]);
        if (i > 0 && col + 1 + len > width) {
            printf("\n%*s", indent, "");
            col = indent;
        } else if (i > 0) {
            putchar(' ');
            col++;
        }
        fputs(names[i], stdout);
        col += len;
    }
}

int report_coverage(const report_t *r, int print)
{
    if (r->clauses == NULL) {
        fprintf(stderr, "acc-run: %s: cannot read the spec's clauses\n", r->spec);
        return -1;
    }
    int uncovered = 0;
    if (print)
        printf("\nclause coverage (%s):\n", r->spec);
    for (int c = 0; c < r->clauses->n; c++) {
        const spec_clause_t *cl = &r->clauses->v[c];
        int n;
        const char **ids = clause_cases(r, cl->id, &n);
        if (ids == NULL)
            return -1;
        int must = cl->level == LEVEL_MUST;
        uncovered += n == 0 && must;
        if (print) {
            int indent = printf("  %-4s %-6s %3d case%s ", cl->id, acc_level_name(cl->level), n,
                                n == 1 ? " " : "s");
            if (clause_failing(r, cl->id)) {
                fputs("FAILING ", stdout);
                indent += 8;
            }
            if (n == 0)
                fputs(must ? "UNCOVERED" : "(none)", stdout);
            print_wrapped(ids, n, indent, 100);
            putchar('\n');
        }
        free(ids);
    }
    if (print)
        printf("%d clauses, %d MUST clause(s) without a case\n", r->clauses->n, uncovered);
    return uncovered;
}
