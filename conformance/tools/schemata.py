"""schemata.py: mutant schemata for conformance/tools/mutate.py.  Turns ref/src/*.c and
a set of mutants into one instrumented copy of the sources (a test artefact
in build/, never the shipped library) that holds every mutant at once; the
one that acts is chosen at run time, so one binary serves the campaign.

How: each function body that holds mutants becomes a switch on the process's
mutant id, read once from AC_MUTANT when the process starts.  Each case is a
copy of the body with one mutant's edit applied; the default case is the
original body, in which a marker is planted where each mutation point is
reached (before the simple statement that holds it, or inside the condition
of the if, while, for or switch that holds it).  With AC_MUT_COVERAGE=DIR
set, the markers record which points a process reached, and at exit the
process writes them to DIR under the name of the conformance run it served
(ACC_RUN_ID, which the runner sets in every run's process).  Copying whole
bodies, not rewriting expressions, means that the text compiled for a mutant
is exactly the text of the mutant: no operand of an operator has to be
found, and no mutant can come out different from its diff.

A mutant the schemata cannot hold (outside any function body: a file-scope
initializer or array size; a body with goto labels, which the copies would
duplicate) is returned in `left_out`: mutate.py builds those one by one.
Stdlib only.
"""
import os
import re

RUNTIME_H = """\
/* ac_mut.h: written by conformance/tools/schemata.py.  The run-time choice of the
 * mutant and the coverage markers of a mutant-schemata build of the
 * reference (a test artefact; the shipped library has neither). */
#ifndef AC_MUT_H
#define AC_MUT_H
extern int ac__mut_id;           /* AC_MUTANT, read once at start; 0: none */
extern int ac__mut_cov;          /* AC_MUT_COVERAGE set: markers record */
extern unsigned char ac__mut_hits[];
#define AC__HIT(n) (ac__mut_cov ? (void)(ac__mut_hits[(n)] = 1) : (void)0)
#endif
"""

RUNTIME_C = """\
/* ac_mut.c: written by conformance/tools/schemata.py.  Reads the mutant id once, when
 * the process starts (the conformance runner forks every run from it, so
 * every run sees the same id), and with AC_MUT_COVERAGE=DIR writes, at each
 * process's exit, the mutation points it reached under the name of the run
 * it served (ACC_RUN_ID). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define AC__MUT_N %(n)d

int ac__mut_id;
int ac__mut_cov;
unsigned char ac__mut_hits[AC__MUT_N + 1];
static const char *cov_dir;

static void dump(void)
{
    const char *run = getenv("ACC_RUN_ID");
    int any = 0;
    for (int i = 0; i <= AC__MUT_N && !any; i++)
        any = ac__mut_hits[i];
    if (run == NULL || !any)
        return;
    char path[4096];
    int fd = -1;
    for (int k = 0; fd < 0 && k < 1000; k++) {
        snprintf(path, sizeof(path), "%%s/%%ld-%%d.hits", cov_dir, (long)getpid(), k);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0 && errno != EEXIST)
            return;
    }
    FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
    if (f == NULL)
        return;
    fprintf(f, "%%s\\n", run);
    for (int i = 1; i <= AC__MUT_N; i++)
        if (ac__mut_hits[i])
            fprintf(f, "%%d\\n", i);
    fclose(f);
}

__attribute__((constructor)) static void ac__mut_init(void)
{
    const char *s = getenv("AC_MUTANT");
    ac__mut_id = s ? atoi(s) : 0;
    cov_dir = getenv("AC_MUT_COVERAGE");
    if (cov_dir && *cov_dir) {
        ac__mut_cov = 1;
        atexit(dump);
    }
}
"""


def number(mid):
    """M0123 -> 123: the value of AC_MUTANT for that mutant."""
    return int(mid.lstrip("M"))


def _match(code, i):
    """Index of the bracket closing the one at code[i]."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    want, depth = pairs[code[i][1]], 0
    for j in range(i, len(code)):
        v = code[j][1]
        if v in pairs:
            depth += 1
        elif v in (")", "]", "}"):
            depth -= 1
            if depth == 0:
                if v != want:
                    raise ValueError(f"unbalanced {code[i][1]!r} at offset {code[i][2]}")
                return j
    raise ValueError(f"unclosed {code[i][1]!r} at offset {code[i][2]}")


def functions(code):
    """(name, index of the body's '{', index of its '}') of every function
    definition: a '{' at file scope right after a ')'."""
    out, i, n, item_start = [], 0, len(code), 0
    while i < n:
        v = code[i][1]
        if v in ("(", "["):
            i = _match(code, i) + 1
            continue
        if v == "{":
            close = _match(code, i)
            if i > 0 and code[i - 1][1] == ")":
                name = None
                for j in range(item_start, i):
                    if code[j][1] == "(" and j > item_start and code[j - 1][0] == "ident":
                        name = code[j - 1][1]
                        break
                out.append((name or "?", i, close))
                item_start = close + 1
            i = close + 1
            continue
        if v == ";":
            item_start = i + 1
        i += 1
    return out


class Body:
    """The statements of one function body, as sites where a marker can go:
    ('stmt', lo, hi, braceless): a simple statement, code[lo..hi] ending in
    its ';' (braceless: the whole body of an if, else, while, for or do, so
    that a marker before it needs braces around both);
    ('cond', lp, rp): the parentheses of an if, while, do-while or switch;
    ('for', lp, s1, s2, rp): a for header and its two ';';
    ('case', lo, colon, switch_lp): a case label, reached when its switch's
    condition is.  labels: the goto labels defined in the body."""

    def __init__(self, code, lo, hi):
        self.code, self.sites, self.labels, self.switches = code, [], [], []
        i = lo + 1
        while i < hi:
            i = self.stmt(i, False)

    def stmt(self, i, braceless):
        c = self.code
        v = c[i][1]
        if v == "{":
            j, end = i + 1, _match(c, i)
            while j < end:
                j = self.stmt(j, False)
            return end + 1
        if v in ("if", "while", "switch") and c[i + 1][1] == "(":
            rp = _match(c, i + 1)
            self.sites.append(("cond", i + 1, rp))
            if v == "switch":
                self.switches.append(i + 1)
            j = self.stmt(rp + 1, True)
            if v == "switch":
                self.switches.pop()
            if v == "if" and j < len(c) and c[j][1] == "else":
                j = self.stmt(j + 1, True)
            return j
        if v == "for" and c[i + 1][1] == "(":
            lp, rp = i + 1, _match(c, i + 1)
            semis, j = [], lp + 1
            while j < rp:
                if c[j][1] in ("(", "[", "{"):
                    j = _match(c, j) + 1
                    continue
                if c[j][1] == ";":
                    semis.append(j)
                j += 1
            if len(semis) != 2:
                raise ValueError(f"for header at offset {c[i][2]} has {len(semis)} ';'")
            self.sites.append(("for", lp, semis[0], semis[1], rp))
            return self.stmt(rp + 1, True)
        if v == "do":
            j = self.stmt(i + 1, True)
            if c[j][1] != "while" or c[j + 1][1] != "(":
                raise ValueError(f"do at offset {c[i][2]} without its while")
            rp = _match(c, j + 1)
            self.sites.append(("cond", j + 1, rp))
            return rp + 2
        if v == "case" or (v == "default" and c[i + 1][1] == ":"):
            j = i
            while c[j][1] != ":":
                j = _match(c, j) + 1 if c[j][1] in ("(", "[") else j + 1
            self.sites.append(("case", i, j, self.switches[-1] if self.switches else None))
            return self.stmt(j + 1, False)
        if c[i][0] == "ident" and c[i + 1][1] == ":" and v not in ("default",):
            self.labels.append(v)
            return self.stmt(i + 2, False)
        if v == ";":
            return i + 1
        j = i
        while c[j][1] != ";":
            j = _match(c, j) + 1 if c[j][1] in ("(", "[", "{") else j + 1
        self.sites.append(("stmt", i, j, braceless))
        return j + 1

    def site_of(self, t):
        """The innermost site holding token index t, or None."""
        best, width = None, None
        for s in self.sites:
            lo, hi = s[1], s[4] if s[0] == "for" else s[2]
            if lo <= t <= hi and (best is None or hi - lo < width):
                best, width = s, hi - lo
        return best


def _marker_edits(code, body, marks):
    """Insertions (offset, '', text) planting AC__HIT(n) for every
    (token index, n) of marks in the original body.  Returns (edits, the
    numbers no site holds)."""
    at_stmt, at_after, lost = {}, {}, []
    wraps = {}
    for t, n in marks:
        s = body.site_of(t)
        if s is None:
            lost.append(n)
            continue
        kind = s[0]
        if kind == "stmt":
            at_stmt.setdefault(s[1], []).append(n)
            if s[3]:
                wraps[s[1]] = s[2]
        elif kind == "cond":
            at_after.setdefault(s[1], []).append(n)
        elif kind == "for":
            _, lp, s1, s2, rp = s
            if t > s2 and t < rp:
                at_after.setdefault(s2, []).append(n)     # the step
            else:
                at_after.setdefault(s1, []).append(n)     # init and condition
        elif kind == "case":
            if s[3] is None:
                lost.append(n)
            else:
                at_after.setdefault(s[3], []).append(n)
    edits = []
    for lo, ns in at_stmt.items():
        pre = "{ " if lo in wraps else ""
        edits.append((code[lo][2], "", pre + " ".join(f"AC__HIT({n});" for n in sorted(ns)) + " "))
    for lo, hi in wraps.items():
        edits.append((code[hi][2] + 1, "", " }"))
    for i, ns in at_after.items():
        hits = ", ".join(f"AC__HIT({n})" for n in sorted(ns))
        # An empty for condition means "forever": (hits, 1) keeps it so.
        empty_cond = code[i][1] == ";" and code[i + 1][1] == ";" and \
            any(s[0] == "for" and s[2] == i for s in body.sites)
        edits.append((code[i][2] + 1, "", f" {hits}, 1" if empty_cond else f" {hits}, "))
    return edits, lost


def _apply(text, edits):
    """Applies (offset, old, new) edits, right to left; insertions at one
    offset keep their given order."""
    for k, (off, old, new) in sorted(enumerate(edits), key=lambda e: (e[1][0], e[0]),
                                     reverse=True):
        if text[off:off + len(old)] != old:
            raise ValueError(f"edit at {off} expects {old!r}")
        text = text[:off] + new + text[off + len(old):]
    return text


def build_file(text, toks, muts, coarse=()):
    """One file's schemata text.  muts: the file's mutants to hold (dicts
    with id and edits).  coarse: function names whose markers all go at the
    body's start (a fallback when a finer marker does not compile).
    Returns (text, held ids, {id: reason} left out, [(first line, last line,
    id or None for the original body)] of the copies in the output)."""
    code = [t for t in toks if t[0] != "comment"]
    by_off = {t[2]: k for k, t in enumerate(code)}
    fns = functions(code)
    left_out, held, plan = {}, [], {}
    for m in muts:
        first = min(e[0] for e in m["edits"])
        last = max(e[0] + len(e[1]) for e in m["edits"])
        home = [f for f in fns if code[f[1]][2] < first and last <= code[f[2]][2]]
        if not home:
            left_out[m["id"]] = "outside every function body"
            continue
        plan.setdefault(home[0], []).append(m)
    out, pos, spans = [], 0, []
    for fn in fns:
        if fn not in plan:
            continue
        name, lo, hi = fn
        body = Body(code, lo, hi)
        ms = plan[fn]
        if body.labels:
            for m in ms:
                left_out[m["id"]] = f"{name}() has goto labels"
            continue
        b0, b1 = code[lo][2] + 1, code[hi][2]        # the body's inner text
        marks = []
        for m in ms:
            off = min(e[0] for e in m["edits"])
            t = by_off.get(off)
            if t is None:   # a statement deletion starts at its first token
                t = min(k for k, c in enumerate(code) if c[2] >= off)
            marks.append((t, number(m["id"])))
        if name in coarse:
            edits = [(b0, "", " " + " ".join(f"AC__HIT({n});" for _, n in marks) + " ")]
        else:
            edits, lost = _marker_edits(code, body, marks)
            if lost:     # no site: mark at the body's start (over-approximation)
                edits.append((b0, "", " " + " ".join(f"AC__HIT({n});" for n in lost) + " "))
        orig = _apply(text, edits)[b0:b1 + sum(len(e[2]) for e in edits)]
        copies = []
        for m in ms:
            mtext = _apply(text, m["edits"])
            copies.append((m["id"], mtext[b0:b1 + len(mtext) - len(text)]))
            held.append(m["id"])
        copies.append((None, orig))
        out.append(text[pos:b0])
        pos = b1
        out.append("\n    switch (ac__mut_id) {\n")
        for mid, inner in copies:
            # Lines counted in the output (the #include line is line 1).
            start = 2 + sum(x.count("\n") for x in out)
            out.append((f"    case {number(mid)}: {{" if mid else "    default: {") + inner +
                       "}\n    break;\n")
            spans.append((start, 1 + sum(x.count("\n") for x in out), mid))
        out.append("    }\n")
    out.append(text[pos:])
    return '#include "ac_mut.h"\n' + "".join(out), held, left_out, spans


ERR_RE = re.compile(r"^([^:\n]+\.c):(\d+):(?:\d+:)? error:", re.M)


def error_lines(log, fname):
    """Line numbers of compiler errors in fname."""
    return sorted({int(m.group(2)) for m in ERR_RE.finditer(log)
                   if os.path.basename(m.group(1)) == fname})
