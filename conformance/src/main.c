/* main.c: the conformance runner.  It loads the case files, plans every
 * case x read-chunking variant x backend, runs each as an isolated libcheck
 * test in fork mode (a crash or hang fails that run, not the suite), applies
 * the implementation's expectations file, and writes the reports.
 * Exit: 0 as expected, 1 failures, 2 usage, 77 nothing ran, 99 harness. */
#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runner.h"

/* Built with AddressSanitizer (make SAN=address), every run that passed is
 * also checked for leaked memory: E2 and E7 ask for a memory checker to
 * find nothing, and a leak is invisible on the wire. */
#if defined(__SANITIZE_ADDRESS__)
#define ACC_LEAK_CHECK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ACC_LEAK_CHECK 1
#endif
#endif
#ifdef ACC_LEAK_CHECK
#include <sanitizer/lsan_interface.h>
#endif

#define EXIT_USAGE 2
#define EXIT_NOTHING 77
#define EXIT_HARNESS 99

typedef struct {
    const char *cases_dir;
    const char *expect_file;
    const char *tap, *junit, *json;
    const char *spec;
    unsigned splits;            /* 0: all */
    const char *backend;        /* NULL: all the implementation has */
    char area;                  /* upper case; 0: every area */
    char clause[16];            /* upper case; "": every clause */
    char **globs;
    int nglobs;
    uint64_t seed;
    int list, verbose, coverage, strict, nofork, max_failures;
    int jobs;                   /* 0: as many as online CPUs */
    double timeout;
} opts_t;

/* The runner's own tables: one process, used by the forked tests. */
static acc_case_t *cases;
static int ncases;
static test_t *tests;             /* the cases, then the hand-written tests */
static int ntests;
static plan_t *plans;
static int nplans;
static exec_opts_t base_opts;
static int in_process;            /* --no-fork: every run in this process */
static pid_t run_parent;          /* the process that forks the runs */

static void usage(FILE *f)
{
    fprintf(f,
"usage: acc-run [options] [ID-GLOB ...]\n"
"Runs the achat conformance suite against the linked implementation.\n"
"An ID-GLOB matches a case id, or one run's id@split/backend.\n"
"  --cases DIR          case files (default conformance/cases)\n"
"  --list               list the selected runs and exit\n"
"  --split NAME         as-written, one-shot, bytewise, random (repeatable)\n"
"  --backend NAME       only this backend (default: every one declared)\n"
"  --area X             only cases of area X (L D T P M E, either case): case\n"
"                       files in cases/x/, hand-written tests with ids x.*\n"
"  --clause ID          only cases that check clause ID (either case)\n"
"  --seed N             seed of the random split (default: today's date)\n"
"  --expectations FILE  XFAIL/SKIP list (default conformance/expectations/<impl>.txt)\n"
"  --tap F --junit F --json F   write reports\n"
"  --spec FILE          spec for clause coverage (default docs/spec.md)\n"
"  --coverage           fail if a MUST clause has no case\n"
"  --strict             SHOULD/MAY failures fail the run too\n"
"  --timeout SEC        per-run timeout, > 0 (default 10)\n"
"  --no-fork            run in-process (for gdb); a crash ends the run\n"
"  -j, --jobs N         runs at once (default: online CPUs; 1 with -v,\n"
"                       --no-fork, or an agent that is not spawned per run);\n"
"                       the reports are the same whatever N\n"
"  --max-failures N     stop after N >= 1 failed runs (the rest: SKIP)\n"
"  -v, --verbose        print every step and event of each run\n"
"Exit: 0 as expected, 1 failures, 2 usage, 77 nothing ran, 99 harness error.\n");
}

/* Option values are checked whole: a typo must not silently become 0 (no
 * timeout: a hanging case would never end). */
static int bad_value(const char *opt, const char *val, const char *want)
{
    fprintf(stderr, "acc-run: %s '%s': %s\n", opt, val, want);
    return -1;
}

static int parse_u64(const char *opt, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    const char *sign = s;
    while (isspace((unsigned char)*sign))
        sign++;
    if (*sign == '-' || end == s || *end || errno)
        return bad_value(opt, s, "want a whole number from 0 to 2^64-1");
    *out = v;
    return 0;
}

/* A count option: a decimal integer in [lo, hi]. */
static int parse_count(const char *opt, const char *s, long lo, long hi,
                       const char *want, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi)
        return bad_value(opt, s, want);
    *out = (int)v;
    return 0;
}

/* The seed defaults to today's date (UTC): runs on one day agree. */
static void set_defaults(opts_t *o)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    o->seed = (uint64_t)((tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday);
    o->cases_dir = "conformance/cases";
    o->spec = "docs/spec.md";
    o->timeout = 10;
}

static int parse_timeout(const char *arg, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(arg, &end);
    if (end == arg || *end || errno || !(*out > 0 && *out <= 1e6))
        return bad_value("--timeout", arg, "want seconds, more than 0 and at most 1e6");
    return 0;
}

static int parse_opts(int argc, char **argv, opts_t *o)
{
    static const struct option lo[] = {
        {"cases", 1, 0, 'c'}, {"list", 0, 0, 'l'}, {"split", 1, 0, 's'},
        {"backend", 1, 0, 'b'}, {"area", 1, 0, 'a'}, {"clause", 1, 0, 'C'},
        {"seed", 1, 0, 'S'}, {"expectations", 1, 0, 'e'}, {"tap", 1, 0, 'T'},
        {"junit", 1, 0, 'J'}, {"json", 1, 0, 'O'}, {"spec", 1, 0, 'p'},
        {"jobs", 1, 0, 'j'},
        {"coverage", 0, 0, 'V'}, {"strict", 0, 0, 'x'}, {"timeout", 1, 0, 't'},
        {"no-fork", 0, 0, 'n'}, {"verbose", 0, 0, 'v'}, {"help", 0, 0, 'h'},
        {"max-failures", 1, 0, 'm'},
        {0, 0, 0, 0}};
    set_defaults(o);
    int ch;
    while ((ch = getopt_long(argc, argv, "vhj:", lo, NULL)) != -1) {
        switch (ch) {
        case 'c': o->cases_dir = optarg; break;
        case 'l': o->list = 1; break;
        case 's': {
            int s = acc_split_by_name(optarg);
            if (s < 0) {
                fprintf(stderr, "acc-run: unknown split '%s'\n", optarg);
                return -1;
            }
            o->splits |= 1u << s;
            break;
        }
        case 'b': o->backend = optarg; break;
        case 'a':
            if (strlen(optarg) != 1 || !strchr(ACC_AREAS, toupper((unsigned char)optarg[0])))
                return bad_value("--area", optarg, "want one of L D T P M E (either case)");
            o->area = (char)toupper((unsigned char)optarg[0]);
            break;
        case 'C':
            if (strlen(optarg) >= sizeof(o->clause) || !*optarg)
                return bad_value("--clause", optarg, "want a clause id such as T4");
            for (size_t k = 0; k <= strlen(optarg); k++)
                o->clause[k] = (char)toupper((unsigned char)optarg[k]);
            break;
        case 'S':
            if (parse_u64("--seed", optarg, &o->seed) < 0)
                return -1;
            break;
        case 'e': o->expect_file = optarg; break;
        case 'T': o->tap = optarg; break;
        case 'J': o->junit = optarg; break;
        case 'O': o->json = optarg; break;
        case 'j':
            if (parse_count("--jobs", optarg, 1, 1024, "want a count from 1 to 1024",
                            &o->jobs) < 0)
                return -1;
            break;
        case 'p': o->spec = optarg; break;
        case 'V': o->coverage = 1; break;
        case 'x': o->strict = 1; break;
        case 't':
            if (parse_timeout(optarg, &o->timeout) < 0)
                return -1;
            break;
        case 'n': o->nofork = 1; break;
        case 'm':
            if (parse_count("--max-failures", optarg, 1, 1000000000, "want a count from 1",
                            &o->max_failures) < 0)
                return -1;
            break;
        case 'v': o->verbose = 1; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    o->globs = argv + optind;
    o->nglobs = argc - optind;
    return 0;
}

/* ------------------------------------------------------------ loading -- */

static int load_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "acc-run: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL && rc == 0) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            rc = load_dir(path);
            continue;
        }
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 5, ".case") != 0)
            continue;
        acc_case_t *t = realloc(cases, (size_t)(ncases + 1) * sizeof(*t));
        if (t == NULL)
            return -1;
        cases = t;
        char err[512];
        if (case_load(&cases[ncases], path, err, sizeof(err)) < 0) {
            fprintf(stderr, "acc-run: %s\n", err);
            case_free(&cases[ncases]);
            rc = -1;
        } else {
            ncases++;
        }
    }
    closedir(d);
    return rc;
}

static int cmp_case(const void *a, const void *b)
{
    return strcmp(((const acc_case_t *)a)->id, ((const acc_case_t *)b)->id);
}

static int check_unique_ids(void)
{
    for (int i = 1; i < ncases; i++)
        if (strcmp(cases[i - 1].id, cases[i].id) == 0) {
            fprintf(stderr, "acc-run: id '%s' used by %s and %s\n", cases[i].id,
                    cases[i - 1].file, cases[i].file);
            return -1;
        }
    return 0;
}

/* The case files under dir in id order, then the hand-written tests, as
 * tests: 0, or -1. */
static int load_tests(const char *dir)
{
    if (load_dir(dir) < 0)
        return -1;
    qsort(cases, (size_t)ncases, sizeof(*cases), cmp_case);
    tests = calloc((size_t)(ncases + nhandwritten), sizeof(*tests));
    if (tests == NULL)
        return -1;
    for (int i = 0; i < ncases; i++)
        test_from_case(&tests[ntests++], &cases[i]);
    for (int i = 0; i < nhandwritten; i++)
        if (test_from_handwritten(&tests[ntests++], &handwritten[i]) < 0)
            return -1;
    return 0;
}

static void free_all(void)
{
    for (int i = 0; i < nplans; i++) {
        free(plans[i].reason);
        free(plans[i].message);
    }
    free(plans);
    for (int i = 0; i < ntests; i++)
        test_free(&tests[i]);
    free(tests);
    for (int i = 0; i < ncases; i++)
        case_free(&cases[i]);
    free(cases);
}

/* ----------------------------------------------------------- planning -- */

/* A case's level must be one its clauses have or state (spec §1: a clause's
 * level is its strongest requirement; a MUST clause may hold a SHOULD or MAY
 * sentence, which a case may check alone), and every clause it names must
 * exist.  Returns how many cases are wrong, each reported on stderr. */
static int check_levels(const spec_t *sp)
{
    int bad = 0;
    for (int i = 0; i < ntests; i++) {
        const test_t *t = &tests[i];
        const char *who = t->file ? t->file : t->id;
        unsigned says = 0;
        char list[256] = "";
        for (int k = 0; k < t->nclauses; k++) {
            const char *id = t->clauses[k];
            const spec_clause_t *cl = spec_find(sp, id);
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", k ? " " : "", id);
            if (cl == NULL) {
                fprintf(stderr, "acc-run: %s: clause %s is not in the spec\n", who, id);
                bad++;
                continue;
            }
            says |= cl->says;
        }
        if (says && !(says & 1u << t->level)) {
            fprintf(stderr, "acc-run: %s: level %s, but none of its clauses (%s) is or "
                    "states a %s requirement\n", who, acc_level_name(t->level), list,
                    acc_level_name(t->level));
            bad++;
        }
    }
    return bad;
}

/* A --backend, or a --clause, that names nothing is a usage error (exit 2),
 * not "nothing ran" (77): the user mistyped, the suite did not come up empty. */
static int check_selectors(const opts_t *o, const acc_impl_t *im, const spec_t *sp)
{
    if (o->backend) {
        int b = 0;
        while (im->backends[b] && strcmp(im->backends[b], o->backend) != 0)
            b++;
        if (im->backends[b] == NULL) {
            fprintf(stderr, "acc-run: --backend '%s': %s has no such backend; it has:",
                    o->backend, im->name);
            for (b = 0; im->backends[b]; b++)
                fprintf(stderr, " %s", im->backends[b]);
            fputc('\n', stderr);
            return -1;
        }
    }
    if (o->clause[0]) {
        int known = sp && spec_find(sp, o->clause);
        for (int i = 0; i < ntests && !known; i++)
            for (int k = 0; k < tests[i].nclauses; k++)
                known |= strcmp(tests[i].clauses[k], o->clause) == 0;
        if (!known)
            return bad_value("--clause", o->clause, sp ? "the spec has no such clause"
                             : "no case names it (and the spec cannot be read)");
    }
    return 0;
}

/* One run's full name, "id@split/backend": what an ID-GLOB or an
 * expectation line may match to pick a single variant. */
static void run_name(const plan_t *p, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s@%s/%s", p->t->id, acc_split_name(p->split), p->backend);
}

static int has_clause(const plan_t *p, const char *want)
{
    for (int i = 0; i < p->t->nclauses; i++)
        if (strcmp(p->t->clauses[i], want) == 0)
            return 1;
    return 0;
}

static int selected(const opts_t *o, const plan_t *p)
{
    if (o->area && p->t->area != o->area)
        return 0;
    if (o->clause[0] && !has_clause(p, o->clause))
        return 0;
    if (o->nglobs == 0)
        return 1;
    char full[600];
    run_name(p, full, sizeof(full));
    for (int i = 0; i < o->nglobs; i++)
        if (fnmatch(o->globs[i], p->t->id, 0) == 0 || fnmatch(o->globs[i], full, 0) == 0)
            return 1;
    return 0;
}

static void add_plan(const plan_t *p)
{
    plan_t *t = realloc(plans, (size_t)(nplans + 1) * sizeof(*t));
    if (t == NULL)
        abort();
    plans = t;
    plans[nplans++] = *p;
}

static void skip_if_missing(plan_t *p, unsigned requires, unsigned caps)
{
    if ((requires & caps) == requires)
        return;
    p->verdict = p->expected = V_SKIP;
    p->reason = strdup("the implementation does not declare a required capability");
}

static void plan_backend(const opts_t *o, const acc_impl_t *im, plan_t *p)
{
    for (int b = 0; im->backends[b]; b++) {
        if (o->backend && strcmp(o->backend, im->backends[b]) != 0)
            continue;
        p->backend = im->backends[b];
        if (selected(o, p)) {
            plan_t q = *p;
            if (q.reason)
                q.reason = strdup(q.reason); /* each plan owns its reason */
            add_plan(&q);
        }
    }
}

static void make_plans(const opts_t *o, const acc_impl_t *im)
{
    for (int i = 0; i < ntests; i++) {
        const test_t *t = &tests[i];
        unsigned splits = t->splits ? t->splits : 1u << SPLIT_AS_WRITTEN;
        unsigned want = t->splits && o->splits ? o->splits : ~0u;
        for (int s = 0; s < SPLIT__COUNT; s++) {
            if (!(splits & want & (1u << s)))
                continue;
            plan_t p = {.t = t, .split = s};
            skip_if_missing(&p, t->requires, im->caps);
            plan_backend(o, im, &p);
            free(p.reason);
        }
    }
}

/* ------------------------------------------------------- expectations -- */

/* Lines: "<id-glob> XFAIL|SKIP <reason>"; '#' comments.  The glob matches
 * the case id, or "id@split/backend" for one variant. */
static int load_expectations(const char *path, int required)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (!required)
            return 0;
        fprintf(stderr, "acc-run: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[1024];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof(line), f) && rc == 0) {
        lineno++;
        char *s = line + strspn(line, " \t");
        if (*s == '#' || *s == '\n' || *s == '\0')
            continue;
        char glob[512], kind[16];
        int off = 0;
        if (sscanf(s, "%511s %15s %n", glob, kind, &off) < 2 ||
            (strcmp(kind, "XFAIL") && strcmp(kind, "SKIP"))) {
            fprintf(stderr, "acc-run: %s:%d: expected '<id-glob> XFAIL|SKIP <reason>'\n",
                    path, lineno);
            rc = -1;
            break;
        }
        char *reason = s + off;
        reason[strcspn(reason, "\n")] = '\0';
        int matched = 0;
        for (int i = 0; i < nplans; i++) {
            char full[600];
            run_name(&plans[i], full, sizeof(full));
            if (fnmatch(glob, plans[i].t->id, 0) && fnmatch(glob, full, 0))
                continue;
            matched++;
            if (plans[i].verdict == V_SKIP)
                continue;
            free(plans[i].reason);
            plans[i].reason = strdup(reason);
            plans[i].expected = kind[0] == 'X' ? V_XFAIL : V_SKIP;
            if (kind[0] == 'S')
                plans[i].verdict = V_SKIP;
        }
        if (!matched && nplans && required)
            fprintf(stderr, "acc-run: %s:%d: stale expectation '%s' matches no run\n",
                    path, lineno, glob);
    }
    fclose(f);
    return rc;
}

/* ------------------------------------------------------------ running -- */

/* One run's outcome, in memory shared by the runner, its workers and the
 * runs they fork: a run that ends writes its own verdict (PASS, FAIL, SKIP)
 * and duration; the worker that waited for it settles the verdict, which
 * only it can make ERROR (a crash, a hang).  The runner reads them all once
 * the runs are over, so the reports do not depend on which worker ran
 * what, or when. */
enum { SLOT_TODO, SLOT_DONE, SLOT_NOT_RUN };
typedef struct {
    int state;
    verdict_t verdict;          /* the run's, then (SLOT_DONE) settled */
    double seconds;
    exec_where_t where;         /* the run's step or phase, for an ERROR's message */
    char msg[4200];             /* failure message, or skip reason */
} slot_t;

typedef struct {
    int next;                   /* the next plan to take */
    int failures;               /* runs gone wrong, for --max-failures */
    slot_t slot[];
} shared_t;

static shared_t *shared;

/* A forked worker or run ends when the process it was forked from ends: a
 * runner killed with SIGKILL cannot end them itself, and they would run on
 * (libcheck puts each run in a process group of its own, out of reach of a
 * signal to the runner's group).  parent: the pid that forked us; if it is
 * already gone, the death signal will never come. */
static void die_with(pid_t parent)
{
#ifdef __linux__
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
    if (getppid() != parent)
        _exit(EXIT_HARNESS);
}

START_TEST(t_plan)
{
    plan_t *p = &plans[_i];
    slot_t *sl = &shared->slot[_i];
    if (!in_process)
        die_with(run_parent);
    char msg[4096];
    /* The run's name in its own environment, so that an implementation's
     * tracing (coverage of a mutation campaign, logs) can tell runs apart;
     * nothing in the suite reads it back. */
    run_name(p, msg, sizeof(msg));
    setenv("ACC_RUN_ID", msg, 1);
    exec_opts_t o = base_opts;
    o.backend = p->backend;
    o.split = p->split;
    o.where = &sl->where;
    double t0 = acc_mono_s();
    verdict_t v = p->t->ops->run(p->t, &o, msg, sizeof(msg));
    sl->seconds = acc_mono_s() - t0;
#ifdef ACC_LEAK_CHECK
    /* In-process (--no-fork) the check at exit covers every run at once;
     * a forked run must check before its process ends.  A leak fails a
     * run that skipped, too. */
    if (v != V_FAIL && !in_process && __lsan_do_recoverable_leak_check()) {
        v = V_FAIL;
        snprintf(msg, sizeof(msg), "memory leaked during the run (E2, E7): "
                 "LeakSanitizer's report is on stderr");
    }
#endif
    snprintf(sl->msg, sizeof(sl->msg), "%s", msg);
    sl->verdict = v;
}
END_TEST

/* The timeout libcheck applies: --timeout times its CK_TIMEOUT_MULTIPLIER
 * (when that is a positive number), so that a message names the real one. */
static double ck_timeout(const opts_t *o)
{
    const char *m = getenv("CK_TIMEOUT_MULTIPLIER");
    char *end;
    double k = m && *m ? strtod(m, &end) : 1;
    return m && *m && *end == '\0' && k > 0 ? o->timeout * k : o->timeout;
}

/* What the run did as libcheck saw it: its own verdict if it ended, else
 * ERROR and what ended it. */
static verdict_t ran_verdict(const opts_t *o, int i, SRunner *sr)
{
    slot_t *sl = &shared->slot[i];
    TestResult **res = srunner_results(sr);
    verdict_t v = V_ERROR;
    if (srunner_ntests_run(sr) != 1)
        snprintf(sl->msg, sizeof(sl->msg), "libcheck ran no test for this run");
    else if (tr_rtype(res[0]) == CK_ERROR)
        error_message(&plans[i], tr_msg(res[0]), &sl->where, ck_timeout(o), sl->msg,
                      sizeof(sl->msg));
    else
        v = sl->verdict; /* t_plan asserts nothing: libcheck saw it end */
    free(res);
    return v;
}

/* Runs one plan as its own libcheck test in fork mode: a crash or a hang
 * (timeout) fails that run alone.  Fills the plan's slot. */
static void run_one(const opts_t *o, int i)
{
    slot_t *sl = &shared->slot[i];
    char name[16];
    snprintf(name, sizeof(name), "%d", i);
    Suite *s = suite_create("conformance");
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, o->timeout);
    tcase_add_loop_test(tc, t_plan, i, i + 1);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, o->nofork ? CK_NOFORK : CK_FORK);
    double t0 = acc_mono_s();
    run_parent = getpid();
    srunner_run_all(sr, CK_SILENT);
    verdict_t ran = ran_verdict(o, i, sr);
    if ((ran == V_FAIL || ran == V_ERROR) && sl->seconds == 0)
        sl->seconds = acc_mono_s() - t0; /* crashed or timed out: the whole wait */
    sl->verdict = settle_verdict(ran, plans[i].expected);
    sl->state = SLOT_DONE;
    srunner_free(sr);
}

/* Takes plans from the shared counter until none is left. */
static void work(const opts_t *o)
{
    for (;;) {
        int i = __atomic_fetch_add(&shared->next, 1, __ATOMIC_SEQ_CST);
        if (i >= nplans)
            return;
        if (plans[i].verdict == V_SKIP)
            continue;
        if (o->max_failures &&
            __atomic_load_n(&shared->failures, __ATOMIC_SEQ_CST) >= o->max_failures) {
            shared->slot[i].state = SLOT_NOT_RUN;
            continue;
        }
        run_one(o, i);
        /* Counts toward --max-failures what fails the run. */
        if (verdict_fails_run(shared->slot[i].verdict, plans[i].t->level, o->strict))
            __atomic_fetch_add(&shared->failures, 1, __ATOMIC_SEQ_CST);
    }
}

/* The plan's verdict and its message or reason, from its slot; returns
 * whether it ran. */
static int take_outcome(plan_t *p, const slot_t *sl)
{
    if (p->verdict == V_SKIP)
        return 0; /* before running: a capability, an expectation */
    if (sl->state == SLOT_NOT_RUN) {
        p->verdict = p->expected = V_SKIP;
        free(p->reason);
        p->reason = strdup("not run: --max-failures reached");
        return 0;
    }
    p->seconds = sl->seconds;
    if (sl->state != SLOT_DONE) {
        p->verdict = V_ERROR;
        p->message = strdup("not run to the end: the worker running it died");
        return 1;
    }
    p->verdict = sl->verdict;
    if (p->verdict == V_SKIP) {
        free(p->reason);
        p->reason = strdup(sl->msg);
    } else if (p->verdict != V_PASS && p->verdict != V_XPASS) {
        p->message = strdup(sl->msg);
    }
    return 1;
}

/* Runs every plan, jobs at a time: each worker is a forked copy of the
 * runner that takes the next plan, runs it (forking again, as libcheck
 * does), and records the outcome in the shared slots.  With one job the
 * runner itself is the worker.  Returns how many plans ran, or -1. */
static int run_all(const opts_t *o, int jobs)
{
    size_t size = sizeof(shared_t) + (size_t)nplans * sizeof(slot_t);
    shared = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) {
        perror("acc-run: mmap");
        return -1;
    }
    if (jobs <= 1) {
        work(o);
    } else {
        pid_t *pids = calloc((size_t)jobs, sizeof(*pids));
        if (pids == NULL) {
            munmap(shared, size);
            shared = NULL;
            return -1;
        }
        fflush(NULL);
        pid_t runner = getpid();
        for (int w = 0; w < jobs; w++) {
            pids[w] = fork();
            if (pids[w] == 0) {
                die_with(runner);
                work(o);
                fflush(NULL);
                _exit(0); /* not exit: the parent's atexit handlers are its own */
            }
            if (pids[w] < 0)
                perror("acc-run: fork of a worker");
        }
        for (int w = 0; w < jobs; w++) {
            int st = 0;
            pid_t got;
            while (pids[w] > 0 && (got = waitpid(pids[w], &st, 0)) < 0 && errno == EINTR)
                ;
            if (pids[w] > 0 && (got < 0 || !(WIFEXITED(st) && WEXITSTATUS(st) == 0)))
                fprintf(stderr, "acc-run: worker %d ended with status 0x%x\n", w, st);
        }
        free(pids);
        /* Whatever the workers left (none came up, or one died before its
         * share was taken) runs here rather than not at all. */
        work(o);
    }
    int torun = 0;
    for (int i = 0; i < nplans; i++)
        torun += take_outcome(&plans[i], &shared->slot[i]);
    munmap(shared, size);
    shared = NULL;
    return torun;
}

/* How many runs at once.  Each run is a process of its own, so runs do not
 * share descriptors or threads; but -v output would interleave, --no-fork
 * has one process, and only the adapter knows whether its forked runs share
 * something (ACC_CAP_PARALLEL_RUNS). */
static int pick_jobs(const opts_t *o, const acc_impl_t *im)
{
    long n = o->jobs ? o->jobs : sysconf(_SC_NPROCESSORS_ONLN);
    const char *why = o->nofork ? "--no-fork" : o->verbose ? "-v" :
                      !(im->caps & ACC_CAP_PARALLEL_RUNS) ?
                      "the implementation does not declare parallel-runs" : NULL;
    if (why && n > 1) {
        if (o->jobs > 1)
            fprintf(stderr, "acc-run: --jobs %d: one job only (%s)\n", o->jobs, why);
        n = 1;
    }
    int torun = 0;
    for (int i = 0; i < nplans; i++)
        torun += plans[i].verdict != V_SKIP;
    return (int)(n < 1 ? 1 : n > torun && torun > 0 ? torun : n);
}

static void list_plans(void)
{
    for (int i = 0; i < nplans; i++) {
        const plan_t *p = &plans[i];
        printf("%-48s %-10s %-6s %-6s", p->t->id, acc_split_name(p->split),
               p->backend, acc_level_name(p->t->level));
        for (int k = 0; k < p->t->nclauses; k++)
            printf(" %s", p->t->clauses[k]);
        printf("%s\n", p->verdict == V_SKIP ? "  (skip)" : "");
    }
}

static int exit_code(const report_t *r, int uncovered)
{
    int bad = uncovered > 0;
    for (int i = 0; i < r->nplans; i++) {
        const plan_t *p = &r->plans[i];
        bad |= verdict_fails_run(p->verdict, p->t->level, r->strict);
    }
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    opts_t o = {0};
    if (parse_opts(argc, argv, &o) < 0)
        return EXIT_USAGE;
    /* The suite's own copy of the table: an older adapter's is shorter, and
     * what it lacks reads as NULL here, never past its end. */
    static acc_impl_t table;
    const acc_impl_t *raw = acc_get_impl();
    if (acc_impl_adopt(&table, raw) < 0) {
        fprintf(stderr, "acc-run: the adapter's table has ABI version %d; this runner "
                "knows versions 1 to %d (conformance/include/acc_adapter.h, "
                "docs/implementing.md)\n", raw ? raw->abi_version : -1, ACC_ABI_VERSION);
        return EXIT_HARNESS;
    }
    const acc_impl_t *im = &table;
    if (load_tests(o.cases_dir) < 0)
        return EXIT_HARNESS;
    spec_t spec;
    int spec_rc = spec_load(o.spec, &spec), have_spec = spec_rc == 0;
    if (check_selectors(&o, im, have_spec ? &spec : NULL) < 0)
        return EXIT_USAGE;
    if (!have_spec)
        fprintf(stderr, "acc-run: %s: %s; case levels not checked against the spec\n",
                o.spec, strerror(-spec_rc));
    else if (check_levels(&spec) > 0)
        return EXIT_HARNESS;
    if (check_unique_ids() < 0)
        return EXIT_HARNESS;
    make_plans(&o, im);
    char defexp[512];
    snprintf(defexp, sizeof(defexp), "conformance/expectations/%s.txt", im->name);
    if (load_expectations(o.expect_file ? o.expect_file : defexp, o.expect_file != NULL) < 0)
        return EXIT_HARNESS;
    if (o.list) {
        list_plans();
        return nplans ? 0 : EXIT_NOTHING;
    }
    base_opts = (exec_opts_t){.impl = im, .seed = o.seed, .verbose = o.verbose};
    in_process = o.nofork;
    int jobs = pick_jobs(&o, im);
    printf("acc-run: %s %s, %d cases + %d hand-written, %d runs, seed %llu, %d job%s\n",
           im->name, im->version, ncases, nhandwritten, nplans,
           (unsigned long long)o.seed, jobs, jobs == 1 ? "" : "s");
    fflush(stdout);
    double t0 = acc_mono_s();
    int ran = run_all(&o, jobs);
    if (ran < 0)
        return EXIT_HARNESS;
    report_t r = {im, plans, nplans, o.seed, acc_mono_s() - t0, argv[0],
                  strcmp(o.cases_dir, "conformance/cases") ? o.cases_dir : NULL,
                  o.spec, have_spec ? &spec : NULL, tests, ntests, o.strict, jobs};
    report_terminal(&r);
    int filtered = o.nglobs || o.area || o.clause[0] || o.splits || o.backend;
    int uncovered = report_coverage(&r, !filtered || o.coverage);
    if (uncovered < 0 && o.coverage)
        return EXIT_HARNESS;
    if ((o.tap && report_tap(&r, o.tap) < 0) || (o.junit && report_junit(&r, o.junit) < 0) ||
        (o.json && report_json(&r, o.json) < 0))
        return EXIT_HARNESS;
    int code = ran == 0 ? EXIT_NOTHING : exit_code(&r, o.coverage ? uncovered : 0);
    if (have_spec)
        spec_free(&spec);
    free_all();
    return code;
}
