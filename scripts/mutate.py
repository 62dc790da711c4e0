#!/usr/bin/env python3
"""mutate.py: mutation testing of the reference against the conformance suite.

Makes mutants of ref/src/*.c, one small change each:
  ROR  relational operators   == <-> !=, < <-> <=, > <-> >=
  AOR  arithmetic operators   + <-> -, += <-> -=
  LCR  logical connectors     && <-> ||
  CRP  integer constants      0 -> 1, 1 -> 0, n -> n+1
  SDL  deleted statements     a whole one-line expression statement, break or
                              continue becomes ';' (declarations and returns
                              are left alone)
  CFL  flipped conditions     if (c) / while (c) -> if (!(c)) / while (!(c))
Comments, strings, character literals and preprocessor lines are never
touched.  Each mutant's file is compiled to an object with -O2; a mutant whose
object is byte-identical to the original's is equivalent (trivial compiler
equivalence), one identical to an earlier mutant's is a duplicate, one that
does not compile is stillborn: none of them counts.  Lines the suite never
executes (gcov) are NoCoverage: survivors without a run.  Every other mutant
gets its own conformance runner, built through the top-level Makefile with
IMPL=<dir> like scripts/selftest.py's planted bugs, and is run with a time
bound, cheapest first: the as-written split, then the other splits, of the
cases (and the backend, when only one reaches it) that execute the mutated
line (per-case gcov coverage; every case when the line has no count; the
whole suite again for a survivor with --confirm), and last the covering
cases as written under AddressSanitizer, in one process (a leak or a use
after free shows nowhere else; the spec forbids both, E2 and E7).  A mutant
is killed when a run FAILs, ERRORs or XPASSes that passed on the unmutated
reference built the same way, when the runner dies or the sanitizer reports,
or when a stage exceeds its time bound (a multiple of the baseline's time for
the same runs).

Only the conformance suite counts for the score; --unit also runs the
reference's unit tests against the survivors, as information.  The report
also gives the rate within the adapter's reach: the suite drives the
reference only through conformance/adapters/ref/adapter.c, so a mutant in a
function no path from that table calls (an accessor, ac_strerror) cannot be
killed by any case; those are counted and named, not hidden.

Exit: 0 score >= --min-score (or no --min-score), 1 below it, 2 usage,
99 harness error (the unmutated reference does not build or run).
"""
import argparse
import concurrent.futures
import difflib
import fnmatch
import glob
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time

from acclib import (ROOT, BAD, RUN_FAILURES, RUN_OK, build_runner, load_report,
                    progress, rel, run_bounded, variant, write_impl_mk)

PROG = "mutate"
SRC_DIR = os.path.join(ROOT, "ref", "src")
# The object-file flags: the Makefile's CFLAGS_ALL without -g (debug line
# tables would make every moved token look like a change to TCE) and without
# -Werror (a deleted statement may leave an unused variable: that is still a
# valid mutant).
CC = os.environ.get("CC", "cc")
OBJ_FLAGS = ["-std=c11", "-D_GNU_SOURCE", "-O2", "-w",
             "-I" + os.path.join(ROOT, "ref", "include"), "-I" + SRC_DIR]
# The memcheck stage's build: AddressSanitizer with LeakSanitizer, whose
# reports end the runner with a code of its own.
SAN_FLAGS = ["-fsanitize=address", "-fno-omit-frame-pointer"]
SAN_EXIT = 86
SAN_ENV = dict(os.environ, ASAN_OPTIONS=f"exitcode={SAN_EXIT}:detect_leaks=1",
               LSAN_OPTIONS=f"exitcode={SAN_EXIT}")
# The suite reaches the reference only through this adapter's table.
ADAPTER = os.path.join(ROOT, "conformance", "adapters", "ref", "adapter.c")


# ------------------------------------------------------------------ lexer --

TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>/\*.*?\*/|//[^\n]*)
  | (?P<string>"(?:\\.|[^"\\\n])*")
  | (?P<char>'(?:\\.|[^'\\\n])*')
  | (?P<number>(?:0[xX][0-9a-fA-F]+|\d+\.\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|\d+(?:[eE][-+]?\d+)?)[uUlLfF]*)
  | (?P<ident>[A-Za-z_]\w*)
  | (?P<punct>\.\.\.|<<=|>>=|->|\+\+|--|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^!=<>]=|[-+*/%&|^!~<>=?:;,.(){}\[\]#])
""", re.S | re.X)


def tokens(text):
    """C tokens of text as (kind, value, offset), preprocessor lines left
    out: they hold include paths and macro text that no mutation should
    touch.  Comments and literals are returned (kinds comment, string, char)
    so that callers can see them, but no operator inside them is a token."""
    out, pos, bol = [], 0, True
    while pos < len(text):
        if bol:
            # A directive runs to the end of the line, continued by '\'.
            m = re.compile(r"[ \t]*#").match(text, pos)
            if m:
                end = pos
                while True:
                    nl = text.find("\n", end)
                    if nl < 0:
                        end = len(text)
                        break
                    if text[nl - 1] != "\\":
                        end = nl
                        break
                    end = nl + 1
                pos = end
                continue
        m = TOKEN_RE.match(text, pos)
        if m is None:
            raise ValueError(f"cannot lex at offset {pos}: {text[pos:pos + 20]!r}")
        kind = m.lastgroup
        if kind != "ws":
            out.append((kind, m.group(), pos))
        # Whitespace holding a newline also eats the next line's indent, so
        # the directive check above sees the line right at its '#'.
        bol = kind == "ws" and "\n" in m.group()
        pos = m.end()
    return out


# -------------------------------------------------------------- mutations --

SWAPS = {"==": ("!=", "ROR"), "!=": ("==", "ROR"), "<": ("<=", "ROR"),
         "<=": ("<", "ROR"), ">": (">=", "ROR"), ">=": (">", "ROR"),
         "+": ("-", "AOR"), "-": ("+", "AOR"), "+=": ("-=", "AOR"),
         "-=": ("+=", "AOR"), "&&": ("||", "LCR"), "||": ("&&", "LCR")}
STMT_KEYWORDS_SKIP = {"return", "goto", "case", "default", "typedef", "static",
                      "const", "struct", "union", "enum", "extern", "if",
                      "else", "for", "while", "do", "switch", "sizeof"}
DECL_RE = re.compile(r"^(?:(?:const|static|volatile|unsigned|signed|struct|union|enum)\s+)*"
                     r"[A-Za-z_]\w*[\s*]+[A-Za-z_]\w*\s*(?:[=;\[,)]|$)")


def const_mutant(lit):
    """n -> n+1, with 0 <-> 1; the suffix and the base are kept."""
    m = re.match(r"(0[xX][0-9a-fA-F]+|\d+)([uUlL]*)$", lit)
    if m is None:
        return None            # floats: the reference has none worth it
    body, suffix = m.groups()
    base = 16 if body[:2] in ("0x", "0X") else 8 if len(body) > 1 and body[0] == "0" else 10
    n = int(body, base)
    new = 1 if n == 0 else 0 if n == 1 else n + 1
    text = hex(new) if base == 16 else (oct(new).replace("0o", "0") if base == 8 else str(new))
    return text + suffix


def code_lines(text, toks):
    """Every line's code with comments and directives blanked, so that line
    heuristics (statement deletion) never see comment text."""
    chars = [" " if c != "\n" else "\n" for c in text]
    for kind, val, off in toks:
        if kind != "comment":
            chars[off:off + len(val)] = list(val)
    return "".join(chars).split("\n")


def line_of(text, off):
    return text.count("\n", 0, off) + 1


def col_of(text, off):
    return off - (text.rfind("\n", 0, off) + 1) + 1


def statement_lines(lines):
    """Line numbers (1-based) of one-line expression statements, break and
    continue: the lines statement deletion may blank."""
    out, prev, prev_line = [], "", ""
    for i, ln in enumerate(lines, 1):
        s = ln.strip()
        if not s:
            continue
        ok = (re.match(r"^[A-Za-z_(*][^;{}]*;$", s) and s.count("(") == s.count(")")
              and re.match(r"[A-Za-z_]*", s).group() not in STMT_KEYWORDS_SKIP
              and not DECL_RE.match(s))
        # The statement must start on this line: the previous code line ends
        # one (;, {, }, a label's :, else) or is a brace-less control header.
        starts = (prev.endswith((";", "{", "}", ":")) or prev.endswith("else")
                  or (prev.endswith(")") and re.match(r"^(}\s*)?(else\s+)?(if|for|while)\b", prev_line)))
        if ok and starts:
            out.append(i)
        prev, prev_line = s, s
    return out


def call_graph(sources):
    """{name: set of names it references} for every function and file-scope
    object of the sources, from their tokens: a function's body, an
    object's initializer (the backend tables name their functions).
    Same-named statics of two files merge: an over-approximation."""
    edges = {}
    for text in sources.values():
        toks = [(k, v) for k, v, _ in tokens(text) if k in ("ident", "punct")]
        i, n = 0, len(toks)
        while i < n:
            # One top-level item: up to ';' at depth 0, or a function body.
            item, depth, paren, name, body = [], 0, 0, None, False
            while i < n:
                k, v = toks[i]
                i += 1
                item.append((k, v))
                if v == "(":
                    if paren == 0 and depth == 0 and name is None and len(item) > 1 \
                            and item[-2][0] == "ident":
                        name = item[-2][1]
                    paren += 1
                elif v == ")":
                    paren -= 1
                elif v == "{":
                    if depth == 0 and paren == 0 and len(item) > 1 and item[-2][1] == ")":
                        body = True
                    depth += 1
                elif v == "}":
                    depth -= 1
                    if depth == 0 and body:
                        break
                elif v == ";" and depth == 0 and paren == 0:
                    break
            idents = [v for k, v in item if k == "ident"]
            if body and name:
                edges.setdefault(name, set()).update(idents)
            elif not body and "=" in [v for _, v in item]:
                eq = [v for _, v in item].index("=")
                lhs = [v for k, v in item[:eq] if k == "ident"]
                if lhs:
                    edges.setdefault(lhs[-1], set()).update(
                        v for k, v in item[eq:] if k == "ident")
    return {f: {x for x in refs if x in edges and x != f} for f, refs in edges.items()}


def reachable(sources, adapter_path):
    """The functions and objects the adapter can reach: the closure of the
    call graph from the names adapter.c uses.  A mutant outside it cannot be
    killed through the adapter's table whatever the cases do."""
    graph = call_graph(sources)
    with open(adapter_path, encoding="utf-8") as f:
        roots = {v for k, v, _ in tokens(f.read()) if k == "ident" and v in graph}
    seen, todo = set(roots), list(roots)
    while todo:
        for g in graph.get(todo.pop(), ()):
            if g not in seen:
                seen.add(g)
                todo.append(g)
    return seen


def function_at(lines, lineno):
    """The function whose body holds lineno: the last line before it that
    starts a definition at column 0."""
    for i in range(lineno - 1, -1, -1):
        m = re.match(r"^[A-Za-z_][\w \*]*?\b([A-Za-z_]\w*)\s*\(", lines[i])
        if m and not lines[i].startswith(("typedef", "struct", "#")):
            return m.group(1)
    return "?"


def generate(path):
    """The mutants of one file: dicts with file, line, col, op, desc and
    edits [(offset, old, new)] (applied right to left)."""
    text = open(path, encoding="utf-8").read()
    toks = tokens(text)
    code = [t for t in toks if t[0] not in ("comment",)]
    lines = code_lines(text, toks)
    fname = os.path.basename(path)
    muts = []

    def add(op, off, edits, desc):
        muts.append({"file": fname, "line": line_of(text, off), "col": col_of(text, off),
                     "op": op, "desc": desc, "edits": edits})

    for k, (kind, val, off) in enumerate(code):
        if kind == "punct" and val in SWAPS:
            new, op = SWAPS[val]
            add(op, off, [(off, val, new)], f"'{val}' -> '{new}'")
        elif kind == "number":
            new = const_mutant(val)
            if new is not None:
                add("CRP", off, [(off, val, new)], f"{val} -> {new}")
        elif kind == "ident" and val in ("if", "while") and k + 1 < len(code) \
                and code[k + 1][1] == "(":
            # The do-while's closing `while (c);` is a condition too.
            depth, j = 0, k + 1
            while j < len(code):
                if code[j][1] == "(":
                    depth += 1
                elif code[j][1] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if j < len(code):
                o1, o2 = code[k + 1][2], code[j][2]
                add("CFL", off, [(o1, "(", "(!("), (o2, ")", "))")], f"{val} (c) -> {val} (!(c))")
    src_lines = text.split("\n")
    starts = [0]
    for ln in src_lines:
        starts.append(starts[-1] + len(ln) + 1)
    for n in statement_lines(lines):
        raw = src_lines[n - 1]
        stmt = lines[n - 1].strip()
        off = starts[n - 1] + raw.index(stmt)
        add("SDL", off, [(off, stmt, ";")], f"delete '{stmt}'")
    for i, m in enumerate(sorted(muts, key=lambda m: (m["line"], m["col"], m["op"]))):
        m["function"] = function_at(src_lines, m["line"])
    muts.sort(key=lambda m: (m["line"], m["col"], m["op"]))
    return text, muts


def apply(text, edits):
    for off, old, new in sorted(edits, reverse=True):
        if text[off:off + len(old)] != old:
            raise ValueError(f"edit at {off} expects {old!r}")
        text = text[:off] + new + text[off + len(old):]
    return text


def all_mutants(files):
    """(sources by file name, mutants numbered M0001... in file order)."""
    sources, muts = {}, []
    for path in files:
        text, ms = generate(path)
        sources[os.path.basename(path)] = text
        muts += ms
    for i, m in enumerate(muts, 1):
        m["id"] = f"M{i:04d}"
    return sources, muts


def diff_of(sources, m):
    old = sources[m["file"]]
    new = apply(old, m["edits"])
    return "".join(difflib.unified_diff(
        old.splitlines(True), new.splitlines(True), f"a/ref/src/{m['file']}",
        f"b/ref/src/{m['file']}", n=1))


# --------------------------------------------------------------- building --

# As conformance/adapters/ref/impl.mk does to the library: the reference's
# allocations go through the suite's failing allocator (alloc-fail), its
# socket and wait calls through the syscall interposer (sys-fail).
ALLOC_RENAMES = ["--redefine-syms=" + os.path.join(ROOT, "conformance", "src", f)
                 for f in ("failalloc.syms", "failsys.syms")]


def rename_alloc(obj, cwd=None):
    """Renames obj's allocator calls in place; returns objcopy's error."""
    p = subprocess.run(["objcopy", *ALLOC_RENAMES, obj], cwd=cwd, capture_output=True,
                       text=True)
    return (p.stderr[-1500:] or f"objcopy exited {p.returncode}") if p.returncode != 0 else ""


def compile_obj(src_text, fname, workdir, extra=()):
    """Compiles one source to workdir/<name>.o from inside workdir, so that
    the object names the same file however deep the copy lies (the STT_FILE
    symbol holds the name as given).  Returns (obj path or None, log)."""
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, fname), "w", encoding="utf-8") as f:
        f.write(src_text)
    obj = fname[:-2] + ".o"
    p = subprocess.run([CC, *OBJ_FLAGS, *extra, "-c", fname, "-o", obj], cwd=workdir,
                       capture_output=True, text=True)
    if p.returncode != 0:
        return None, p.stderr[-1500:]
    err = rename_alloc(obj, cwd=workdir)
    if err:
        raise RuntimeError(f"objcopy failed on {fname}:\n{err}")
    return os.path.join(workdir, obj), ""


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Campaign:
    def __init__(self, args, sources):
        self.args = args
        self.sources = sources
        self.build = args.build
        self.cases = os.path.join(args.build, "cases")
        self.base_objs = {}
        self.suite_objs = []
        self.san_base_objs = {}  # the memcheck stage's build of the same
        self.san_suite_objs = []
        self.lock = threading.Lock()
        self.seen = {}          # object digest -> first mutant id
        self.baseline = set()   # variants that fail on the unmutated reference
        self.unstable = set()   # variants whose baseline status changed between runs
        self.base_secs = 0.0    # the slower of the baseline's two whole-suite runs
        self.base_variants = []
        self.case_ids = []
        self.line_backends = {}  # (file, line) -> backends whose runs execute it

    def compile_suite(self, extra=(), sub="suite"):
        """The suite's own objects (runner and the reference's adapter),
        compiled once: every mutant's runner links the same ones, and a
        campaign is not disturbed by edits to conformance/src under it.
        The flags are the Makefile's for the runner, without -g."""
        objs = []
        d = os.path.join(self.build, sub)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        check = subprocess.run(["pkg-config", "--cflags", "check"], capture_output=True,
                               text=True).stdout.split()
        srcs = sorted(glob.glob(os.path.join(ROOT, "conformance", "src", "*.c")))
        srcs.append(os.path.join(ROOT, "conformance", "adapters", "ref", "adapter.c"))
        for src in srcs:
            obj = os.path.join(d, os.path.basename(src)[:-2] + ".o")
            p = subprocess.run([CC, "-std=c11", "-D_GNU_SOURCE", self.args.opt, "-w", *extra,
                                "-I" + os.path.join(ROOT, "ref", "include"),
                                "-I" + os.path.join(ROOT, "conformance", "include"),
                                "-I" + os.path.join(ROOT, "conformance", "src"), *check,
                                "-c", src, "-o", obj], capture_output=True, text=True)
            if p.returncode != 0:
                raise RuntimeError(f"{rel(src)} does not compile:\n{p.stderr[-1500:]}")
            objs.append(obj)
        return objs

    # The runner the Makefile builds for IMPL=dir.  Everything is already
    # compiled, so ACC_SRC is emptied on make's command line and the rule
    # only links: the suite's objects, the reference's adapter and the
    # (possibly mutated) reference objects, with the Makefile's own link
    # flags.  `make acc-run IMPL=<dir>` with the same impl.mk rebuilds it.
    def make_runner(self, impl_dir, objs, extra_libs="", san=False):
        if san:
            extra_libs = " ".join([*SAN_FLAGS, extra_libs]).strip()
        suite = self.san_suite_objs if san else self.suite_objs
        libs = " ".join(rel(o) for o in [*suite, *objs])
        write_impl_mk(impl_dir, deps=libs, libs=f"{libs} {extra_libs}".strip(),
                      comment="Written by scripts/mutate.py: the suite's objects and the "
                              "reference's adapter\nlinked with (possibly mutated) reference "
                              "objects; build with ACC_SRC= on make's command line.")
        for _ in range(2):   # parallel makes read each other's .d files: retry once
            ok, runner, log = build_runner(impl_dir, build=rel(os.path.join(self.build, "b")),
                                           make_vars=["ACC_SRC="], timeout=300)
            if ok:
                break
        return ok, runner, log

    def stage_args(self, ids=(), split=(), backend=None, san=False):
        """The runner's arguments for the given case ids (all when empty)
        and splits (all when empty).  The memcheck build runs every case in
        one process (--no-fork): one leak check at its exit covers them all,
        and any memory error ends the process with SAN_EXIT."""
        a = ["--cases", self.cases, "--seed", str(self.args.seed),
             "--timeout", str(self.args.run_timeout), "--expectations", os.devnull]
        if san:
            a.append("--no-fork")
        for sp in split or ():
            a += ["--split", sp]
        if backend:
            a += ["--backend", backend]
        return a + list(ids)

    def run_stage(self, runner, name, outdir, bound, ids=(), split=(), backend=None,
                  san=False):
        """Returns (rc or None, results or None, stdout+stderr tail, seconds)."""
        report = os.path.join(outdir, f"{name}.json")
        if os.path.exists(report):
            os.unlink(report)
        rc, out, err, secs = run_bounded([runner, "--json", report,
                                          *self.stage_args(ids, split, backend, san)],
                                         timeout=bound, env=SAN_ENV if san else None)
        results = None
        if rc in (RUN_OK, RUN_FAILURES) and os.path.exists(report):
            try:
                results = load_report(report)["results"]
            except (OSError, ValueError):
                results = None
        return rc, results, (out + err)[-1500:], secs

    def bound(self, ids, split, deadline, backend=None):  # split: names, () for all
        """The time bound of one stage: --timeout-factor times what the
        baseline spent on the same share of its runs, plus --timeout-extra,
        capped by the mutant's absolute deadline.  As mutation tools do
        (Stryker's timeoutFactor): a stage that slow is a hang, and without
        the bound one mutant that stalls every run would cost its runs x the
        per-run timeout."""
        sel = set(ids)
        n = sum(1 for v in self.base_variants
                if (not sel or v[0] in sel) and (not split or v[1] in split)
                and (not backend or v[2] == backend))
        est = self.base_secs * n / max(1, len(self.base_variants))
        return min(max(1.0, deadline - time.time()),
                   self.args.timeout_factor * est + self.args.timeout_extra)

    def prepare(self):
        """Base objects, the baseline runner and its failing runs (the whole
        suite, twice: a run whose status differs between the two is unstable
        and never counts as a kill)."""
        base_dir = os.path.join(self.build, "base")
        shutil.rmtree(base_dir, ignore_errors=True)
        # The case files are read once, like the sources: a campaign takes
        # long enough for the tree to move under it, and a case edited
        # half-way would read as kills.
        shutil.rmtree(self.cases, ignore_errors=True)
        shutil.copytree(os.path.join(ROOT, "conformance", "cases"), self.cases)
        self.suite_objs = self.compile_suite()
        for fname, text in self.sources.items():
            obj, log = compile_obj(text, fname, os.path.join(base_dir, "obj"))
            if obj is None:
                raise RuntimeError(f"the reference's {fname} does not compile:\n{log}")
            self.base_objs[fname] = obj
        impl = os.path.join(self.build, "impl", "baseline")
        ok, runner, log = self.make_runner(impl, self.base_objs.values())
        if not ok:
            raise RuntimeError(f"the baseline runner does not build:\n{log}")
        runs = []
        for rep in range(2):
            progress(PROG, f"baseline: the whole suite, run {rep + 1} of 2")
            rc, results, tail, secs = self.run_stage(runner, "baseline", base_dir,
                                                     self.args.timeout * 3)
            if results is None:
                raise RuntimeError(f"the baseline runner failed (exit {rc}):\n{tail}")
            runs.append({variant(r): r["status"] for r in results})
            self.base_secs = max(self.base_secs, secs)
        self.baseline = {v for r in runs for v, s in r.items() if s in BAD}
        self.unstable = {v for v in runs[0] if runs[0][v] != runs[1].get(v)}
        self.base_variants = sorted(runs[0])
        self.case_ids = sorted({v[0] for v in runs[0]})
        if self.baseline:
            progress(PROG, f"note: the unmutated reference already fails {len(self.baseline)} "
                           "run(s); those never count as kills")
        if self.unstable:
            progress(PROG, f"note: {len(self.unstable)} run(s) are unstable on the baseline "
                           "and never count as kills")
        if self.args.memcheck:
            self.prepare_memcheck()

    def prepare_memcheck(self):
        """The memcheck stage's baseline: the unmutated reference under
        AddressSanitizer must pass the as-written split with no report, or
        the stage could not tell a mutant's memory error from the suite's."""
        progress(PROG, "baseline: the as-written split under AddressSanitizer")
        self.san_suite_objs = self.compile_suite(SAN_FLAGS, "suite-san")
        d = os.path.join(self.build, "base", "san")
        for fname, text in self.sources.items():
            obj, log = compile_obj(text, fname, d, SAN_FLAGS)
            if obj is None:
                raise RuntimeError(f"the reference's {fname} does not compile with ASan:\n{log}")
            self.san_base_objs[fname] = obj
        impl = os.path.join(self.build, "impl", "baseline-san")
        ok, runner, log = self.make_runner(impl, self.san_base_objs.values(), san=True)
        if not ok:
            raise RuntimeError(f"the ASan baseline runner does not build:\n{log}")
        rc, results, tail, _ = self.run_stage(runner, "baseline-san", d, self.args.timeout * 3,
                                              split=("as-written",), san=True)
        if rc != RUN_OK or results is None:
            raise RuntimeError(f"the unmutated reference fails under AddressSanitizer "
                               f"(exit {rc}):\n{tail}")

    def coverage(self, per_case):
        """gcov over a coverage build of the reference: returns (lines no
        case executes {file: set}, cases executing each line {(file, line):
        set of ids} or None).  Per case, the suite runs once for each case
        id (slower, but a mutant then runs only the cases that reach it)."""
        cov_dir = os.path.join(self.build, "cov")
        shutil.rmtree(cov_dir, ignore_errors=True)
        d = os.path.join(cov_dir, "obj")
        os.makedirs(d)
        objs = []
        for fname, text in self.sources.items():
            with open(os.path.join(d, fname), "w", encoding="utf-8") as f:
                f.write(text)
            o = fname[:-2] + ".o"
            p = subprocess.run([CC, *OBJ_FLAGS, "-O0", "--coverage", "-c", fname, "-o", o],
                               cwd=d, capture_output=True, text=True)
            err = p.stderr if p.returncode != 0 else rename_alloc(o, cwd=d)
            if err:
                raise RuntimeError(f"coverage build of {fname} failed:\n{err}")
            objs.append(os.path.join(d, o))
        ok, runner, log = self.make_runner(os.path.join(self.build, "impl", "coverage"), objs,
                                           extra_libs="--coverage")
        if not ok:
            raise RuntimeError(f"the coverage runner does not build:\n{log}")

        def gcov():
            """{file: (executed lines, unexecuted executable lines)}."""
            p = subprocess.run(["gcov", "-t", "-o", ".", *self.sources], cwd=d,
                               capture_output=True, text=True)
            out, cur = {}, None
            for ln in p.stdout.splitlines():
                parts = ln.split(":", 3)
                if len(parts) < 3:
                    continue
                count, num = parts[0].strip(), parts[1].strip()
                if num == "0" and parts[2] == "Source":
                    cur = os.path.basename(parts[3].strip())
                    out[cur] = (set(), set())
                elif cur and num.isdigit() and count != "-":
                    hit = count not in ("#####", "=====")
                    out[cur][0 if hit else 1].add(int(num))
            return out

        def clear():
            for g in glob.glob(os.path.join(d, "*.gcda")):
                os.unlink(g)

        base = self.stage_args()
        if not per_case:
            progress(PROG, "coverage: running the whole suite on a gcov build")
            clear()
            rc, out, err, _ = run_bounded([runner, *base], timeout=self.args.timeout * 6)
            if rc not in (RUN_OK, RUN_FAILURES):
                raise RuntimeError(f"the coverage run failed (exit {rc}):\n{(out + err)[-1500:]}")
            return {f: v[1] - v[0] for f, v in gcov().items()}, None
        by_line, hit_any, unhit = {}, {}, {}
        t0 = time.time()
        for i, cid in enumerate(self.case_ids, 1):
            if time.time() - t0 > 15 or i == len(self.case_ids):
                progress(PROG, f"coverage: case {i} of {len(self.case_ids)} ({cid})")
                t0 = time.time()
            clear()
            rc, out, err, _ = run_bounded([runner, *base, cid], timeout=self.args.timeout * 3)
            if rc not in (RUN_OK, RUN_FAILURES, None):
                raise RuntimeError(f"the coverage run of {cid} failed (exit {rc}):\n"
                                   f"{(out + err)[-1500:]}")
            for f, (hit, miss) in gcov().items():
                hit_any.setdefault(f, set()).update(hit)
                unhit.setdefault(f, set()).update(miss)
                for n in hit:
                    by_line.setdefault((f, n), set()).add(cid)
        # Which backends reach each line: a line that only one backend's runs
        # execute (the backend's own code, mostly) needs only that backend's
        # variants.  One whole-suite run per backend.
        backends = sorted({v[2] for v in self.base_variants})
        for b in backends:
            progress(PROG, f"coverage: the whole suite on the {b} backend")
            clear()
            rc, out, err, _ = run_bounded([runner, *base, "--backend", b],
                                          timeout=self.args.timeout * 6)
            if rc not in (RUN_OK, RUN_FAILURES):
                raise RuntimeError(f"the coverage run on {b} failed (exit {rc}):\n"
                                   f"{(out + err)[-1500:]}")
            for f, (hit, _) in gcov().items():
                for n in hit:
                    self.line_backends.setdefault((f, n), set()).add(b)
        return {f: unhit[f] - hit_any.get(f, set()) for f in unhit}, by_line

    def tce(self, m, mdir):
        """Compiles the mutant: (status, obj).  status is None (a live
        mutant), 'equivalent', 'duplicate of Mxxxx' or 'stillborn'."""
        text = apply(self.sources[m["file"]], m["edits"])
        obj, log = compile_obj(text, m["file"], os.path.join(mdir, "obj"))
        if obj is None:
            return "stillborn", None, log
        h = digest(obj)
        if h == digest(self.base_objs[m["file"]]):
            return "equivalent", obj, ""
        with self.lock:
            first = self.seen.setdefault(h, m["id"])
        if first != m["id"]:
            return f"duplicate of {first}", obj, ""
        return None, obj, ""

    def kills(self, results):
        return sorted({variant(r) for r in results if r["status"] in BAD
                       and variant(r) not in self.baseline and variant(r) not in self.unstable})

    def run_mutant(self, m):
        """Fills m with status (Killed, Survived, Timeout, Equivalent,
        Duplicate, Stillborn, NoCoverage), detail and killers."""
        t0 = time.time()
        mdir = os.path.join(self.build, "m", m["id"])
        shutil.rmtree(mdir, ignore_errors=True)
        try:
            return self._run_mutant(m, mdir)
        finally:
            m["seconds"] = round(time.time() - t0, 1)
            if not self.args.keep and m.get("status") not in ("Survived", "NoCoverage"):
                shutil.rmtree(mdir, ignore_errors=True)
            for name in (m["id"], m["id"] + "-san"):
                shutil.rmtree(os.path.join(self.build, "b", "conformance", name),
                              ignore_errors=True)

    def _run_mutant(self, m, mdir):
        m["killers"] = []
        tce, obj, log = self.tce(m, mdir)
        if tce == "stillborn":
            m["status"], m["detail"] = "Stillborn", log.strip().splitlines()[0] if log.strip() else ""
            return m
        if tce == "equivalent":
            m["status"], m["detail"] = "Equivalent", "object code identical to the reference's"
            return m
        if tce:
            m["status"], m["detail"] = "Duplicate", tce
            return m
        if m.get("uncovered"):
            m["status"], m["detail"] = "NoCoverage", "no case executes this line"
            return m
        objs = [obj if f == m["file"] else o for f, o in self.base_objs.items()]
        ok, runner, log = self.make_runner(mdir, objs)
        if not ok:
            m["status"], m["detail"] = "Harness", "runner build failed: " + log[-300:]
            return m
        deadline = time.time() + self.args.timeout
        ids = sorted(m.get("cases") or ())
        bks = self.line_backends.get((m["file"], m["line"]), set()) if ids else set()
        backend = next(iter(bks)) if len(bks) == 1 else None
        # Cheapest first: most mutants fall to the as-written split alone.
        # With per-case coverage only the cases (and backends) that execute
        # the line can see the mutant; --confirm reruns a survivor on the
        # whole suite, in case the coverage run missed a timing-dependent
        # path (off by default: it doubles a survivor's cost, and it can
        # only turn a survivor into a kill, so the score without it is a
        # lower bound).
        rest = ("one-shot", "bytewise", "random")
        stages = [("as-written", ids, ("as-written",), backend),
                  ("other-splits", ids, rest, backend)]
        if ids and self.args.confirm:
            stages.append(("confirm", (), (), None))
        for name, sel, split, bk in stages:
            bound = self.bound(sel, split, deadline, bk)
            rc, results, tail, secs = self.run_stage(runner, name, mdir, bound, sel, split, bk)
            what = (f"{len(sel)} covering case(s)" if sel else "every case") + \
                (f", {' '.join(split)} split(s)" if split else ", every split") + \
                (f", {bk} only" if bk else "")
            if rc is None:
                m["status"], m["detail"] = "Timeout", f"{what}: over {bound:.0f} s"
                return m
            if results is None:
                m["status"], m["detail"] = "Killed", f"{what}: the runner exited {rc}"
                m["killers"] = [f"(runner exit {rc})"]
                return m
            k = self.kills(results)
            if k:
                m["status"], m["detail"] = "Killed", f"{what}: {len(k)} run(s)"
                m["killers"] = sorted({v[0] for v in k})
                m["kill_runs"] = len(k)
                if name == "confirm":
                    m["detail"] += " (not by the covering cases: coverage missed a path)"
                return m
        if self.args.memcheck and self.memcheck(m, mdir, ids, backend, deadline):
            return m
        m["status"], m["detail"] = "Survived", "every run as on the reference"
        return m

    def memcheck(self, m, mdir, ids, backend, deadline):
        """The last stage for a mutant every run let through: the covering
        cases, as written, under AddressSanitizer.  A leak or a use after
        free is invisible on the wire, and the spec forbids both (E2, E7).
        Returns True when it killed m."""
        text = apply(self.sources[m["file"]], m["edits"])
        obj, log = compile_obj(text, m["file"], os.path.join(mdir, "san"), SAN_FLAGS)
        if obj is None:
            return False
        objs = [obj if f == m["file"] else o for f, o in self.san_base_objs.items()]
        # The runner's path follows the impl dir's name: one per mutant, or
        # parallel mutants would link and run each other's.
        ok, runner, log = self.make_runner(os.path.join(mdir, m["id"] + "-san"), objs,
                                           san=True)
        if not ok:
            return False
        bound = max(1.0, deadline - time.time())
        rc, results, tail, _ = self.run_stage(runner, "memcheck", mdir, bound, ids,
                                              ("as-written",), backend, san=True)
        what = (f"{len(ids)} covering case(s)" if ids else "every case") + \
            ", as written, under AddressSanitizer"
        if rc is None:
            m["status"], m["detail"] = "Timeout", f"{what}: over {bound:.0f} s"
            return True
        k = self.kills(results) if results is not None else []
        if rc == SAN_EXIT or results is None or k:
            report = re.search(r"(ERROR: \w+Sanitizer: [^\n]*|SUMMARY: [^\n]*)", tail)
            m["status"] = "Killed"
            m["detail"] = f"{what}: " + (f"{len(k)} run(s)" if k else
                                         report.group(1) if report else f"the runner exited {rc}")
            m["killers"] = sorted({v[0] for v in k}) or ["(memcheck)"]
            return True
        return False

    def unit_prepare(self):
        """Compiles ref/tests/test_*.c once and keeps the tests that pass on
        the unmutated objects: only those can tell a survivor apart."""
        d = os.path.join(self.build, "unit")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        check = subprocess.run(["pkg-config", "--cflags", "--libs", "check"],
                               capture_output=True, text=True).stdout.split()
        self.check_flags = [f for f in check if not f.startswith("-I")]
        self.unit_objs = []
        for t in sorted(glob.glob(os.path.join(ROOT, "ref", "tests", "test_*.c"))):
            obj = os.path.join(d, os.path.basename(t)[:-2] + ".o")
            p = subprocess.run([CC, "-std=c11", "-D_GNU_SOURCE", "-O0", "-w",
                                "-I" + os.path.join(ROOT, "ref", "include"), "-I" + SRC_DIR,
                                "-I" + os.path.join(ROOT, "ref", "tests"),
                                *[f for f in check if f.startswith("-I")], "-c", t, "-o", obj],
                               capture_output=True, text=True)
            if p.returncode == 0 and not self._unit_fails(obj, list(self.base_objs.values()), d):
                self.unit_objs.append(obj)
            else:
                progress(PROG, f"unit: {os.path.basename(t)} left out (does not build or "
                               "fails on the reference)")

    def _unit_fails(self, test_obj, objs, d):
        exe = os.path.join(d, os.path.basename(test_obj)[:-2])
        # The reference objects call the suite's allocator and syscall
        # interposer (ALLOC_RENAMES).
        fa = [o for o in self.suite_objs
              if os.path.basename(o) in ("failalloc.o", "failsys.o")]
        p = subprocess.run([CC, test_obj, *objs, *fa, *self.check_flags, "-pthread", "-o", exe],
                           capture_output=True, text=True)
        if p.returncode != 0:
            return True
        rc, _, _, _ = run_bounded([exe], timeout=120, cwd=ROOT,
                                  env=dict(os.environ, CK_DEFAULT_TIMEOUT="10"))
        return rc != 0

    def unit_kills(self, m):
        """Information only: which unit tests fail on a survivor."""
        mdir = os.path.join(self.build, "m", m["id"])
        obj = os.path.join(mdir, "obj", m["file"][:-2] + ".o")
        objs = [obj if f == m["file"] else o for f, o in self.base_objs.items()]
        return [os.path.basename(t)[:-2] for t in self.unit_objs
                if self._unit_fails(t, objs, mdir)]


# ---------------------------------------------------------------- reports --

LIVE = ("Killed", "Timeout", "Survived", "NoCoverage")


def tally(muts):
    n = {}
    for m in muts:
        n[m["status"]] = n.get(m["status"], 0) + 1
    killed = n.get("Killed", 0) + n.get("Timeout", 0)
    live = sum(n.get(s, 0) for s in LIVE)
    return n, killed, live, (100.0 * killed / live if live else 100.0)


def stryker(sources, muts):
    """The mutation-testing-report-schema (Stryker) JSON, so that the usual
    HTML viewers can show the campaign."""
    files = {}
    status_map = {"Killed": "Killed", "Timeout": "Timeout", "Survived": "Survived",
                  "NoCoverage": "NoCoverage", "Stillborn": "CompileError",
                  "Equivalent": "Ignored", "Duplicate": "Ignored", "Harness": "RuntimeError"}
    for fname, text in sources.items():
        files[f"ref/src/{fname}"] = {"language": "c", "source": text, "mutants": []}
    for m in muts:
        if "status" not in m:
            continue
        first = min(m["edits"])
        last = max(m["edits"])
        end_line = line_of(sources[m["file"]], last[0] + len(last[1]))
        end_col = col_of(sources[m["file"]], last[0] + len(last[1]))
        files[f"ref/src/{m['file']}"]["mutants"].append({
            "id": m["id"], "mutatorName": m["op"], "replacement": m["desc"],
            "location": {"start": {"line": m["line"], "column": m["col"]},
                         "end": {"line": end_line, "column": end_col}},
            "status": status_map[m["status"]], "statusReason": m.get("detail", ""),
            "killedBy": m.get("killers", []), "static": False})
        del first
    return {"schemaVersion": "1", "thresholds": {"high": 90, "low": 80},
            "projectRoot": ROOT, "files": files}


def write_reports(args, sources, muts, elapsed):
    n, killed, live, score = tally(muts)
    lines = [f"mutation campaign of ref/src against the conformance suite "
             f"(seed {args.seed}{f', sample {args.sample}' if args.sample else ''}, "
             f"{elapsed:.0f} s)", ""]
    lines.append(f"mutants generated        {args.generated}")
    lines.append(f"mutants examined         {len(muts)}")
    for s in ("Equivalent", "Duplicate", "Stillborn", "Killed", "Timeout", "Survived",
              "NoCoverage", "Harness"):
        lines.append(f"  {s:22} {n.get(s, 0)}")
    lines.append(f"kill rate                {killed}/{live} = {score:.1f}% of non-equivalent "
                 f"mutants (killed + timeout over killed + timeout + survived + no coverage)")
    covered_live = live - n.get("NoCoverage", 0)
    if covered_live:
        lines.append(f"kill rate, covered lines {killed}/{covered_live} = "
                     f"{100.0 * killed / covered_live:.1f}%")
    reach = reachable(sources, ADAPTER)
    out = [m for m in muts if m["status"] in LIVE and m["function"] not in reach]
    if out:
        k_out = sum(m["status"] in ("Killed", "Timeout") for m in out)
        fns = sorted({m["function"] for m in out})
        lines.append(f"outside adapter reach   {len(out)} live mutant(s) in functions "
                     f"{rel(ADAPTER)} cannot reach ({k_out} killed anyway): {', '.join(fns)}")
        lines.append(f"kill rate, within reach  {killed - k_out}/{live - len(out)} = "
                     f"{100.0 * (killed - k_out) / max(1, live - len(out)):.1f}%")
    by_op = {}
    for m in muts:
        if m["status"] in LIVE:
            k, t = by_op.get(m["op"], (0, 0))
            by_op[m["op"]] = (k + (m["status"] in ("Killed", "Timeout")), t + 1)
    lines.append("by operator              " + ", ".join(
        f"{op} {k}/{t}" for op, (k, t) in sorted(by_op.items())))
    by_file = {}
    for m in muts:
        if m["status"] in LIVE:
            k, t = by_file.get(m["file"], (0, 0))
            by_file[m["file"]] = (k + (m["status"] in ("Killed", "Timeout")), t + 1)
    lines.append("by file                  " + ", ".join(
        f"{f} {k}/{t}" for f, (k, t) in sorted(by_file.items())))
    surv = [m for m in muts if m["status"] in ("Survived", "NoCoverage", "Harness")]
    # Where the survivors cluster says which behaviour no case pins down.
    by_fn = {}
    for m in surv:
        k = (m["file"], m["function"])
        by_fn.setdefault(k, [0, 0])[0 if m["status"] == "Survived" else 1] += 1
    if by_fn:
        lines.append("")
        lines.append("survivors by function (survived + no coverage):")
        for (f, fn), (a, b) in sorted(by_fn.items(), key=lambda kv: -sum(kv[1])):
            lines.append(f"  {f:18} {fn:28} {a:3d} + {b:3d}")
    lines.append("")
    if surv:
        lines.append("surviving mutants:")
    for m in sorted(surv, key=lambda m: (m["file"], m["line"], m["col"])):
        extra = f"; unit tests that kill it: {', '.join(m['unit']) or 'none'}" if "unit" in m else ""
        lines.append(f"\n{m['id']} {m['status']} {m['file']}:{m['line']} in {m['function']}() "
                     f"{m['op']} {m['desc']} ({m.get('detail', '')}{extra})")
        lines.append(diff_of(sources, m).rstrip("\n"))
    text = "\n".join(lines) + "\n"
    os.makedirs(args.build, exist_ok=True)
    with open(os.path.join(args.build, "report.txt"), "w", encoding="utf-8") as f:
        f.write(text)
    with open(os.path.join(args.build, "mutation-report.json"), "w", encoding="utf-8") as f:
        json.dump(stryker(sources, muts), f, indent=1)
    with open(os.path.join(args.build, "mutants.json"), "w", encoding="utf-8") as f:
        json.dump(muts, f, indent=1)
    return text, score


# ------------------------------------------------------------------- main --

def report_only(args, muts):
    """Rewrites the reports from a finished campaign's mutants.json; the
    sources are the campaign's own copies (build/mutation/base/obj), so the
    ids and diffs match even if ref/src moved since."""
    base = os.path.join(args.build, "base", "obj")
    try:
        sources, fresh = all_mutants(sorted(glob.glob(os.path.join(base, "*.c"))))
        path = os.path.join(args.build, "mutants.json")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                done = {m["id"]: m for m in json.load(f)}
        else:   # a campaign cut short: what it finished
            with open(os.path.join(args.build, "progress.jsonl"), encoding="utf-8") as f:
                done = {m["id"]: m for m in map(json.loads, f)}
    except (OSError, ValueError) as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 99
    args.generated = len(fresh)
    muts = []
    for m in fresh:
        if m["id"] in done:
            m.update({k: v for k, v in done[m["id"]].items() if k != "edits"})
            muts.append(m)
    text, score = write_reports(args, sources, muts, 0)
    print(text)
    return 0


def pick(args, muts):
    """The mutants to examine.  With --sample N: the first N of a seeded
    permutation; without, all of them (after --files / ids filters)."""
    if args.sample:
        rng = random.Random(args.seed)
        order = muts[:]
        rng.shuffle(order)
        return order
    return muts


def main():
    ap = argparse.ArgumentParser(
        description="Mutation testing of ref/src/*.c against the conformance suite.",
        epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--sample", type=int, default=0, metavar="N",
                    help="examine a seeded sample: mutants of a seeded permutation until N "
                         "non-equivalent, compilable ones have run")
    ap.add_argument("--seed", type=int, default=1,
                    help="seed of the sample and of the suite's random split (default 1)")
    ap.add_argument("--jobs", type=int, default=2, help="mutants at once (default 2)")
    ap.add_argument("--timeout", type=float, default=300,
                    help="absolute time bound per mutant in seconds; over it (or over the "
                         "scaled baseline time, below) the mutant counts as killed by "
                         "timeout (default 300)")
    ap.add_argument("--timeout-factor", type=float, default=4,
                    help="a stage over FACTOR x the baseline's time + --timeout-extra is a "
                         "timeout (default 4)")
    ap.add_argument("--timeout-extra", type=float, default=10,
                    help="seconds added to the scaled baseline time (default 10)")
    ap.add_argument("--run-timeout", type=float, default=3,
                    help="the runner's per-run timeout, acc-run --timeout (default 3)")
    ap.add_argument("--files", nargs="*", default=[], metavar="GLOB",
                    help="only these files of ref/src (e.g. framer.c)")
    ap.add_argument("--ids", nargs="*", default=[], metavar="ID",
                    help="only these mutants (ids from --list)")
    ap.add_argument("--no-coverage", action="store_true",
                    help="run mutants of unexecuted lines too instead of marking them NoCoverage")
    ap.add_argument("--per-case", choices=("auto", "yes", "no"), default="auto",
                    help="per-case coverage: run each mutant on the cases that execute its "
                         "line only (auto: for campaigns of more than 100 mutants)")
    ap.add_argument("--confirm", action="store_true",
                    help="with per-case coverage, rerun each survivor on the whole suite")
    ap.add_argument("--no-memcheck", dest="memcheck", action="store_false",
                    help="skip the last stage, which runs a survivor's covering cases "
                         "under AddressSanitizer (leaks, use after free)")
    ap.add_argument("--unit", action="store_true",
                    help="also run the reference's unit tests on the survivors (information)")
    ap.add_argument("--min-score", type=float, default=None, metavar="PCT",
                    help="exit 1 if the kill rate is below PCT")
    ap.add_argument("--opt", default="-O2",
                    help="optimisation of the suite's own objects, compiled once "
                         "(default -O2, as the Makefile; the reference is always -O2)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "mutation"),
                    help="work and report directory (default build/mutation)")
    ap.add_argument("--keep", action="store_true", help="keep every mutant's directory")
    ap.add_argument("--report-only", action="store_true",
                    help="only rewrite the reports of the campaign in --build")
    args = ap.parse_args()
    if args.jobs < 1 or args.timeout <= 0 or args.sample < 0:
        ap.error("--jobs, --timeout and --sample must be positive")
    args.build = os.path.abspath(args.build)

    files = sorted(glob.glob(os.path.join(SRC_DIR, "*.c")))
    if args.files:
        files = [f for f in files if any(fnmatch.fnmatch(os.path.basename(f), g)
                                         for g in args.files)]
        if not files:
            ap.error("no file of ref/src matches --files")
    try:
        sources, muts = all_mutants(files)
    except (OSError, ValueError) as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 99
    args.generated = len(muts)
    if args.report_only:
        return report_only(args, muts)
    if args.ids:
        muts = [m for m in muts if m["id"] in args.ids]
        if not muts:
            ap.error("no mutant has those ids")
    if args.list:
        for m in muts:
            print(f"{m['id']} {m['file']}:{m['line']}:{m['col']} {m['op']} {m['desc']} "
                  f"[{m['function']}]")
        by = {}
        for m in muts:
            by[m["op"]] = by.get(m["op"], 0) + 1
        print(f"{len(muts)} mutants: " + ", ".join(f"{k} {v}" for k, v in sorted(by.items())))
        return 0

    t0 = time.time()
    camp = Campaign(args, sources)
    try:
        camp.prepare()
        if not args.no_coverage:
            per_case = args.per_case == "yes" or (args.per_case == "auto" and not args.sample
                                                  and len(muts) > 100)
            unexec, by_line = camp.coverage(per_case)
            for m in muts:
                m["uncovered"] = m["line"] in unexec.get(m["file"], ())
                if by_line is not None:
                    m["cases"] = sorted(by_line.get((m["file"], m["line"]), ()))
            progress(PROG, f"coverage: {sum(len(v) for v in unexec.values())} executable "
                           f"line(s) never run; {sum(1 for m in muts if m['uncovered'])} "
                           "mutant(s) on them")
    except RuntimeError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 99

    order = pick(args, muts)
    done, live_done = [], 0
    open(os.path.join(args.build, "progress.jsonl"), "w").close()
    want = args.sample or len(order)
    progress(PROG, f"{len(order)} candidate mutants of {len(files)} file(s); "
                   f"{'sample of ' + str(args.sample) + ' live ones, ' if args.sample else ''}"
                   f"{args.jobs} at once, {args.timeout:g} s bound each")
    it = iter(order)
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as ex:
        running = set()

        def feed():
            # Keep the pool full, but in sample mode stop submitting once
            # enough live mutants are done or running.
            while len(running) < args.jobs:
                if args.sample and live_done + len(running) >= want:
                    return
                m = next(it, None)
                if m is None:
                    return
                running.add(ex.submit(camp.run_mutant, m))

        feed()
        while running:
            fin, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
            for fut in fin:
                running.discard(fut)
                try:
                    m = fut.result()
                except Exception as e:  # a harness bug must not lose the campaign
                    print(f"{PROG}: harness error: {e!r}", file=sys.stderr)
                    return 99
                done.append(m)
                # One line per finished mutant: a campaign cut short can
                # still be reported (--report-only reads this file).
                with open(os.path.join(args.build, "progress.jsonl"), "a",
                          encoding="utf-8") as pf:
                    pf.write(json.dumps(m) + "\n")
                if m["status"] in LIVE:
                    live_done += 1
                _, k, lv, sc = tally(done)
                progress(PROG, f"[{len(done)}/{len(order) if not args.sample else want}] "
                               f"{m['id']} {m['file']}:{m['line']} {m['op']} {m['desc'][:40]}: "
                               f"{m['status']} ({m.get('detail', '')[:60]}) {m['seconds']}s "
                               f"| score {k}/{lv} = {sc:.1f}%")
            feed()

    if args.unit:
        surv = [m for m in done if m["status"] in ("Survived", "NoCoverage")]
        progress(PROG, f"unit: running the reference's unit tests on {len(surv)} survivor(s)")
        camp.unit_prepare()
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as ex:
            for i, (m, k) in enumerate(zip(surv, ex.map(camp.unit_kills, surv)), 1):
                m["unit"] = k
                progress(PROG, f"unit [{i}/{len(surv)}] {m['id']}: "
                               f"{', '.join(k) if k else 'no unit test fails'}")
    done.sort(key=lambda m: m["id"])
    text, score = write_reports(args, sources, done, time.time() - t0)
    print(text)
    progress(PROG, f"reports: {rel(os.path.join(args.build, 'report.txt'))}, "
                   f"{rel(os.path.join(args.build, 'mutation-report.json'))} (Stryker schema)")
    if any(m["status"] == "Harness" for m in done):
        return 99
    if args.min_score is not None and score < args.min_score:
        print(f"{PROG}: kill rate {score:.1f}% is below the target {args.min_score:g}%",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
