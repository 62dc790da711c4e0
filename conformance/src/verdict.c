/* verdict.c: how one run's outcome becomes its verdict and message.  An
 * ERROR (a fatal signal, a timeout, an early exit such as an agent's
 * protocol exit) is never an expected failure, and it says where the run
 * stopped, as the case's kind tells (test.c). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "runner.h"

verdict_t settle_verdict(verdict_t ran, verdict_t expected)
{
    if (ran == V_ERROR || ran == V_SKIP)
        return ran; /* whatever the expectations say: see docs/case-format.md */
    if (expected == V_XFAIL)
        return ran == V_PASS ? V_XPASS : V_XFAIL;
    return ran;
}

int verdict_fails_run(verdict_t v, level_t level, int strict)
{
    return v == V_XPASS || v == V_ERROR || (v == V_FAIL && (level == LEVEL_MUST || strict));
}

static const char *sig_abbrev(int sig)
{
    static const struct {
        int sig;
        const char *name;
    } t[] = {{SIGSEGV, "SIGSEGV"}, {SIGBUS, "SIGBUS"}, {SIGABRT, "SIGABRT"},
             {SIGFPE, "SIGFPE"}, {SIGILL, "SIGILL"}, {SIGKILL, "SIGKILL"},
             {SIGPIPE, "SIGPIPE"}, {SIGTERM, "SIGTERM"}, {SIGALRM, "SIGALRM"},
             {SIGTRAP, "SIGTRAP"}, {SIGSYS, "SIGSYS"}, {SIGXCPU, "SIGXCPU"},
             {SIGXFSZ, "SIGXFSZ"}, {SIGINT, "SIGINT"}, {SIGHUP, "SIGHUP"},
             {SIGQUIT, "SIGQUIT"}, {SIGUSR1, "SIGUSR1"}, {SIGUSR2, "SIGUSR2"}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (t[i].sig == sig)
            return t[i].name;
    return "unnamed";
}

void error_message(const plan_t *p, const char *ckmsg, const exec_where_t *w,
                   double timeout, char *out, size_t cap)
{
    char what[256], where[400] = "";
    int sig = 0, code = 0;
    if (strcmp(ckmsg, "Test timeout expired") == 0)
        snprintf(what, sizeof(what), "timeout after %g s", timeout);
    else if (sscanf(ckmsg, "Received signal %d", &sig) == 1)
        snprintf(what, sizeof(what), "signal %d (%s)", sig, sig_abbrev(sig));
    else if (sscanf(ckmsg, "Early exit with return value %d", &code) == 1)
        snprintf(what, sizeof(what), "the run exited early with status %d (its reason, "
                 "if it gave one, is on stderr)", code);
    else
        snprintf(what, sizeof(what), "%s", ckmsg);
    const test_t *t = p->t;
    t->ops->where(t, w, where, sizeof(where));
    if (t->file && w && w->phase == EXEC_AT_STEP)
        snprintf(out, cap, "%s:%d: %s%s", t->file, w->line, what, where);
    else
        snprintf(out, cap, "%s%s%s%s", t->file ? t->file : "", t->file ? ": " : "", what, where);
    if (p->expected == V_XFAIL) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, " [listed XFAIL (%s), but an expected failure covers a "
                 "failed check, never a crash, a hang or an early exit]",
                 p->reason ? p->reason : "");
    }
}
