/* verdict.c: how one run's outcome becomes its verdict and message.  An
 * ERROR (a fatal signal, a timeout, an early exit such as an agent's
 * protocol exit) is never an expected failure, and it says where the run
 * stopped: the case file's step line and its text, read from the file. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "runner.h"

verdict_t settle_verdict(const plan_t *p, int rtype)
{
    if (rtype == CK_ERROR)
        return V_ERROR; /* whatever the expectations say: see docs/case-format.md */
    if (p->expected == V_XFAIL)
        return rtype == CK_PASS ? V_XPASS : V_XFAIL;
    return rtype == CK_PASS ? V_PASS : V_FAIL;
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
static void where_text(const plan_t *p, const exec_where_t *w, char *out, size_t cap)
{
    char text[300];
    switch (w->phase) {
    case EXEC_AT_STEP:
        file_line(p->c->file, w->line, text, sizeof(text));
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
    if (p->hw)
        snprintf(where, sizeof(where), " in hand-written test %s", p->hw->id);
    else if (w)
        where_text(p, w, where, sizeof(where));
    if (p->c && w && w->phase == EXEC_AT_STEP)
        snprintf(out, cap, "%s:%d: %s%s", p->c->file, w->line, what, where);
    else
        snprintf(out, cap, "%s%s%s%s", p->c ? p->c->file : "", p->c ? ": " : "", what, where);
    if (p->expected == V_XFAIL) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, " [listed XFAIL (%s), but an expected failure covers a "
                 "failed check, never a crash, a hang or an early exit]",
                 p->reason ? p->reason : "");
    }
}
