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
touched.

Every mutant is compiled into one binary (mutant schemata,
conformance/tools/schemata.py): each function body holding mutants becomes a switch over
copies of it, one per mutant, and the runner's process chooses the copy from
AC_MUTANT, read once at start.  The original copy carries a marker at every
mutation point; one whole-suite run of the unmutated build with
AC_MUT_COVERAGE set records which conformance runs (case x split x backend,
named by the runner's ACC_RUN_ID) reach which points.  A mutant then runs
only on the runs that reach its point, cheapest first, each stage stopped at
its first failing run (acc-run --max-failures 1 --strict): the as-written
split, then the other read-chunking splits, then, for a survivor, the
as-written runs under AddressSanitizer in one process (a leak or a use
after free shows nowhere else; the spec forbids both, E2 and E7), on an ASan
twin of the schemata build made when the first survivor needs it.  A
mutant no run reaches is NoCoverage: a survivor without a run.  A mutant is
killed when a run FAILs, ERRORs or XPASSes that passed on the unmutated build
(twice, by default: a run whose status differs between the two never
counts), when the runner dies or the sanitizer reports (and does not on the
unmutated build for the same runs), or when a stage exceeds its time bound (a
multiple of the baseline's time for the same runs).  The runs go in a seeded
random order of the mutants, so a campaign cut short is a seeded sample
(--report-only reports it).

Trivial compiler equivalence is decided after the runs, for the mutants no
run told apart only (a killed mutant cannot be equivalent): each is compiled
alone with -O2; one whose object is byte-identical to the reference's is
equivalent, one identical to a lower-numbered survivor's a duplicate; a copy
that does not compile is stillborn: none of them counts.  A mutant the
schemata cannot hold (outside a function body, or in one with goto labels)
is built alone and runs on every run.

A reviewed list (conformance/tools/reviewed-mutants.txt) names the
mutants read and found equivalent beyond what the compiler proves (no input
tells them apart) or different only in cost (time or memory, which the
suite does not time).  Each entry is keyed by file, function, operator,
replacement and source line, not by id, so it survives edits elsewhere.
The mutants it names still run every stage: one that survives is left out
of the rate as Reviewed, with the entry's reason; one that is killed makes
the entry wrong, which the report names and which fails the campaign (exit
1), as does, in a whole campaign, an entry that names no mutant (stale).

Only the conformance suite counts for the score; --unit also runs the
reference's unit tests against the survivors, as information.  The report
also gives the rate within the adapter's reach: the suite drives the
reference only through conformance/adapters/ref/adapter.c, so a mutant in a
function no path from that table calls (an accessor, ac_strerror) cannot be
killed by any case; those are counted and named, not hidden.

Exit: 0 the rate within the adapter's reach >= --min-score (or no
--min-score) and the reviewed list holds, 1 otherwise, 2 usage, 99 harness
error (the unmutated reference does not build or run).
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

import schemata
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
# Mutants read and found equivalent, or different only in cost.
REVIEWED = os.path.join(ROOT, "conformance", "tools", "reviewed-mutants.txt")
REVIEW_KINDS = ("equivalent", "cost")


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
        # "(void)x;" only silences a warning: deleting it is equivalent by
        # construction, so it is no mutant.
        ok = (re.match(r"^[A-Za-z_(*][^;{}]*;$", s) and s.count("(") == s.count(")")
              and re.match(r"[A-Za-z_]*", s).group() not in STMT_KEYWORDS_SKIP
              and not DECL_RE.match(s)
              and not re.match(r"^\(void\)\s*\w+(\s*,\s*\(void\)\s*\w+)*;$", s))
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


def run_parts(name):
    """'id@split/backend' -> (id, split, backend)."""
    cid, _, rest = name.rpartition("@")
    split, _, backend = rest.partition("/")
    return cid, split, backend


class TceCache:
    """Object digests of compiled sources, by the digest of the source text
    and of the compiler and flags: a second campaign (or the sample that
    make check runs) does not compile the same mutants again."""

    def __init__(self, path):
        self.path, self.lock = path, threading.Lock()
        ver = subprocess.run([CC, "--version"], capture_output=True, text=True).stdout
        self.salt = hashlib.sha256((ver + " ".join(OBJ_FLAGS + ALLOC_RENAMES)).encode()).hexdigest()
        try:
            with open(path, encoding="utf-8") as f:
                self.data = json.load(f)
        except (OSError, ValueError):
            self.data = {}

    def key(self, text):
        return hashlib.sha256((self.salt + text).encode()).hexdigest()

    def get(self, text):
        with self.lock:
            return self.data.get(self.key(text))

    def put(self, text, value):
        with self.lock:
            self.data[self.key(text)] = value

    def save(self):
        with self.lock:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            tmp = f"{self.path}.{os.getpid()}"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(self.data, f)
            os.replace(tmp, self.path)


class Campaign:
    def __init__(self, args, sources):
        self.args = args
        self.sources = sources
        self.build = args.build
        self.cases = os.path.join(args.build, "cases")
        self.base_objs = {}
        self.base_digest = {}
        self.suite_objs = []
        self.san_suite_objs = []
        self.lock = threading.Lock()
        self.seen = {}          # object digest -> first mutant id
        self.cache = TceCache(os.path.join(ROOT, "build", "mutation-tce-cache.json"))
        self.excluded = set()   # runs that fail or are unstable on the baseline
        self.base_ms = {}       # run name -> the baseline's duration in ms
        self.variants = {}      # case id -> its runs that may count
        self.reach = {}         # mutant number -> runs that reach its point
        self.runner = self.san_runner = self.san_error = None
        self.san_lock = threading.Lock()
        self.san_held = set()
        self.held = set()       # mutant ids in the schemata build
        self.schemata_objs = None

    def compile_suite(self, extra=(), sub="suite"):
        """The suite's own objects (runner and the reference's adapter),
        compiled once: every runner of the campaign links the same ones, and
        a campaign is not disturbed by edits to conformance/src under it.
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
    # reference's (schemata or mutated) objects, with the Makefile's own
    # link flags.  `make acc-run IMPL=<dir>` with the same impl.mk rebuilds it.
    def make_runner(self, impl_dir, objs, san=False):
        extra_libs = " ".join(SAN_FLAGS) if san else ""
        suite = self.san_suite_objs if san else self.suite_objs
        libs = " ".join(rel(o) for o in [*suite, *objs])
        write_impl_mk(impl_dir, deps=libs, libs=f"{libs} {extra_libs}".strip(),
                      comment="Written by conformance/tools/mutate.py: the suite's objects and the "
                              "reference's adapter\nlinked with a mutant-schemata (or one "
                              "mutant's) build of the reference;\nbuild with ACC_SRC= on "
                              "make's command line.")
        for _ in range(2):   # parallel makes read each other's .d files: retry once
            ok, runner, log = build_runner(impl_dir, build=rel(os.path.join(self.build, "b")),
                                           make_vars=["ACC_SRC="], timeout=600)
            if ok:
                break
        return ok, runner, log

    def stage_args(self, globs=(), split=(), san=False, jobs=1, first_kill=True):
        """The runner's arguments for the given ID-GLOBs (every run when
        empty).  A mutant's stage stops at the first run that goes wrong
        (--max-failures 1; --strict so that a SHOULD or MAY failure counts
        too).  The memcheck build runs every case in one process
        (--no-fork): one leak check at its exit covers them all, and any
        memory error ends the process with SAN_EXIT."""
        a = ["--cases", self.cases, "--seed", str(self.args.seed),
             "--timeout", str(self.args.run_timeout), "--expectations", os.devnull,
             "--jobs", str(jobs)]
        if first_kill and not san:
            a += ["--max-failures", "1", "--strict"]
        if san:
            a.append("--no-fork")
        for sp in split:
            a += ["--split", sp]
        return a + list(globs)

    def run_stage(self, runner, name, outdir, bound, globs=(), split=(), san=False,
                  mutant=0, jobs=1, first_kill=True, env=None):
        """Returns (rc or None, results or None, stdout+stderr tail, seconds)."""
        os.makedirs(outdir, exist_ok=True)
        report = os.path.join(outdir, f"{name}.json")
        if os.path.exists(report):
            os.unlink(report)
        e = {k: v for k, v in (SAN_ENV if san else os.environ).items()
             if k not in ("AC_MUT_COVERAGE", "AC_MUTANT")}
        e.update(env or {}, AC_MUTANT=str(mutant))
        rc, out, err, secs = run_bounded(
            [runner, "--json", report, *self.stage_args(globs, split, san, jobs, first_kill)],
            timeout=bound, env=e)
        results = None
        if rc in (RUN_OK, RUN_FAILURES) and os.path.exists(report):
            try:
                results = load_report(report)["results"]
            except (OSError, ValueError):
                results = None
        return rc, results, (out + err)[-1500:], secs

    def bound(self, runs, deadline):
        """The time bound of one stage: --timeout-factor times what the
        baseline's runs took, plus --timeout-extra (the runner's start and
        its forks), capped by the mutant's absolute deadline.  As mutation
        tools do (Stryker's timeoutFactor): a stage that slow is a hang."""
        # Each run also costs the runner a fork and a wait that its own
        # duration does not show: 5 ms is generous on a loaded machine.
        est = sum(self.base_ms.get(r, 0.0) for r in runs) / 1000.0 + 0.005 * len(runs)
        return min(max(1.0, deadline - time.time()),
                   self.args.timeout_factor * est + self.args.timeout_extra)

    def globs(self, runs):
        """ID-GLOBs naming exactly these runs: a case's id when every run of
        it that may count is there, else each run's full name."""
        by_case = {}
        for r in runs:
            by_case.setdefault(run_parts(r)[0], set()).add(r)
        out = []
        for cid, rs in sorted(by_case.items()):
            out += [cid] if rs == self.variants.get(cid) else sorted(rs)
        return out

    # ---------------------------------------------------------- stage 0 --

    def prepare(self):
        """The case files and the suite's objects, once (a campaign takes
        long enough for the tree to move under it, and a case edited half-way
        would read as kills), and the reference's objects, whose digests tell
        an equivalent mutant."""
        shutil.rmtree(self.cases, ignore_errors=True)
        shutil.copytree(os.path.join(ROOT, "conformance", "cases"), self.cases)
        self.suite_objs = self.compile_suite()
        base_dir = os.path.join(self.build, "base", "obj")
        shutil.rmtree(os.path.join(self.build, "base"), ignore_errors=True)
        for fname, text in self.sources.items():
            obj, log = compile_obj(text, fname, base_dir)
            if obj is None:
                raise RuntimeError(f"the reference's {fname} does not compile:\n{log}")
            self.base_objs[fname] = obj
            self.base_digest[fname] = digest(obj)

    def tce_digest(self, m):
        """Compiles the mutant's file alone (or finds it in the cache);
        returns the object's digest or 'stillborn: <first error>'."""
        text = apply(self.sources[m["file"]], m["edits"])
        h = self.cache.get(text)
        if h is None:
            d = os.path.join(self.build, "tce", m["id"])
            obj, log = compile_obj(text, m["file"], d)
            h = digest(obj) if obj else "stillborn: " + (log.strip().splitlines() or [""])[0]
            shutil.rmtree(d, ignore_errors=True)
            self.cache.put(text, h)
        return h

    def classify(self, m):
        """Trivial compiler equivalence: sets m's status to Stillborn,
        Equivalent or Duplicate (of the lowest-numbered mutant with the same
        object code) when it is one; returns True then."""
        h = self.tce_digest(m)
        if h.startswith("stillborn"):
            m["status"], m["detail"] = "Stillborn", h[len("stillborn: "):]
        elif h == self.base_digest[m["file"]]:
            m["status"], m["detail"] = "Equivalent", "object code identical to the reference's"
        else:
            with self.lock:
                first = self.seen.setdefault(h, m["id"])
            if first == m["id"]:
                return False
            m["status"], m["detail"] = "Duplicate", f"duplicate of {first}"
        m["killers"] = []
        return True

    # ---------------------------------------------------------- schemata --

    def build_schemata(self, live, nmax):
        """Compiles one schemata copy of ref/src holding every live mutant
        (and its ASan twin when memcheck is on); returns the mutants it could
        not hold, {id: reason}."""
        d = os.path.join(self.build, "schemata")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        with open(os.path.join(d, "ac_mut.h"), "w", encoding="utf-8") as f:
            f.write(schemata.RUNTIME_H)
        with open(os.path.join(d, "ac_mut.c"), "w", encoding="utf-8") as f:
            f.write(schemata.RUNTIME_C % {"n": nmax})
        left = {}
        by_file = {f: [m for m in live if m["file"] == f] for f in self.sources}

        def one(fname, extra, sub):
            ms, coarse = list(by_file[fname]), set()
            for _ in range(6):
                text, held, out, spans = schemata.build_file(
                    self.sources[fname], tokens(self.sources[fname]), ms, coarse)
                obj, log = compile_obj(text, fname, os.path.join(d, sub), [*extra, "-I" + d])
                if obj:
                    return obj, held, out
                lines = schemata.error_lines(log, fname)
                bad = {mid for a, b, mid in spans if any(a <= n <= b for n in lines)}
                if not bad and not lines:
                    raise RuntimeError(f"the schemata copy of {fname} does not compile:\n{log}")
                if None in bad or not bad:   # a marker: coarser markers for the file
                    coarse = {fn for fn, _, _ in schemata.functions(
                        [t for t in tokens(self.sources[fname]) if t[0] != "comment"])}
                ms = [m for m in ms if m["id"] not in bad]
                out.update({mid: "its copy does not compile in the schemata" for mid in bad
                            if mid})
                left.update(out)
            raise RuntimeError(f"the schemata copy of {fname} does not compile:\n{log}")

        def build(extra, sub):
            objs, held = [], set()
            with concurrent.futures.ThreadPoolExecutor(max_workers=self.args.jobs) as ex:
                for obj, h, out in ex.map(lambda f: one(f, extra, sub), sorted(self.sources)):
                    objs.append(obj)
                    held.update(h)
                    left.update(out)
            rt = os.path.join(d, sub, "ac_mut.o")
            p = subprocess.run([CC, "-std=c11", "-D_GNU_SOURCE", "-O2", "-w", *extra,
                                "-c", os.path.join(d, "ac_mut.c"), "-o", rt],
                               capture_output=True, text=True)
            if p.returncode != 0:
                raise RuntimeError(f"ac_mut.c does not compile:\n{p.stderr}")
            return objs + [rt], held

        progress(PROG, f"schemata: one copy of ref/src holding {len(live)} mutant(s)")
        objs, self.held = build((), "obj")
        self.schemata_objs = objs
        ok, self.runner, log = self.make_runner(os.path.join(self.build, "impl", "schemata"),
                                                objs)
        if not ok:
            raise RuntimeError(f"the schemata runner does not build:\n{log}")
        self._build_san = lambda: build(SAN_FLAGS, "san")
        return left

    def ensure_san(self):
        """The memcheck stage's runner, built when a first mutant survives
        the runs: the schemata build again under AddressSanitizer.  Returns
        it, or None when it does not build (the stage is then skipped and
        the report says so)."""
        with self.san_lock:
            if self.san_runner is None and self.san_error is None:
                progress(PROG, "schemata: the same under AddressSanitizer, for the memcheck "
                               "stage")
                try:
                    self.san_suite_objs = self.compile_suite(SAN_FLAGS, "suite-san")
                    objs, self.san_held = self._build_san()
                    ok, runner, log = self.make_runner(
                        os.path.join(self.build, "impl", "schemata-san"), objs, san=True)
                    if not ok:
                        raise RuntimeError(log)
                    self.san_runner = runner
                except RuntimeError as e:
                    self.san_error = str(e)[-300:]
                    progress(PROG, f"memcheck stage off: the ASan build failed: {e}")
            return self.san_runner

    def baseline(self):
        """The whole suite (twice by default) on the schemata build with no mutant
        chosen: the first run records, per run, the mutation points it
        reaches; a run that fails in either, or whose status differs between
        the two, never counts as a kill (nor runs for a mutant)."""
        cov = os.path.join(self.build, "coverage")
        shutil.rmtree(cov, ignore_errors=True)
        os.makedirs(cov)
        runs = []
        for rep in range(self.args.baseline_runs):
            progress(PROG, f"baseline: the whole suite, run {rep + 1} of "
                           f"{self.args.baseline_runs}"
                           f"{' (recording which runs reach which mutation points)' if not rep else ''}")
            rc, results, tail, secs = self.run_stage(
                self.runner, f"baseline-{rep}", os.path.join(self.build, "base"),
                self.args.timeout * 6, jobs=self.args.jobs, first_kill=False,
                env={"AC_MUT_COVERAGE": cov} if rep == 0 else None)
            if results is None:
                raise RuntimeError(f"the baseline runner failed (exit {rc}):\n{tail}")
            runs.append(results)
        names = [{"@".join([r["id"], f"{r['split']}/{r['backend']}"]): r for r in rs}
                 for rs in runs]
        names.append(names[-1])     # one run: nothing to compare
        for name, r in names[0].items():
            r2 = names[1].get(name)
            self.base_ms[name] = max(r.get("duration_ms", 0), (r2 or {}).get("duration_ms", 0))
            if r["status"] in BAD or r2 is None or r2["status"] != r["status"] \
                    or r["status"] not in ("PASS",):
                self.excluded.add(name)
        for name in names[0]:
            if name not in self.excluded:
                self.variants.setdefault(run_parts(name)[0], set()).add(name)
        if self.excluded:
            progress(PROG, f"note: {len(self.excluded)} run(s) fail, skip or are unstable on "
                           "the unmutated reference; they never run for a mutant")
        for path in glob.glob(os.path.join(cov, "*.hits")):
            with open(path, encoding="utf-8") as f:
                lines = f.read().split()
            if lines:
                for n in lines[1:]:
                    self.reach.setdefault(int(n), set()).add(lines[0])
        progress(PROG, f"coverage: {len(glob.glob(os.path.join(cov, '*.hits')))} process(es) "
                       f"recorded; {len(self.reach)} mutation point(s) reached")
    def kills(self, results):
        return sorted({variant(r) for r in results if r["status"] in BAD
                       and "@".join([r["id"], f"{r['split']}/{r['backend']}"])
                       not in self.excluded})

    # ----------------------------------------------------------- mutants --

    def run_mutant(self, m):
        """Fills m with status (Killed, Survived, Timeout, NoCoverage),
        detail and killers."""
        t0 = time.time()
        mdir = os.path.join(self.build, "m", m["id"])
        shutil.rmtree(mdir, ignore_errors=True)
        try:
            m["killers"] = []
            if m["id"] in self.held:
                return self._run_held(m, mdir)
            return self._run_alone(m, mdir)
        finally:
            m["seconds"] = round(time.time() - t0, 1)
            if not self.args.keep:
                shutil.rmtree(mdir, ignore_errors=True)
                shutil.rmtree(os.path.join(self.build, "b", "conformance", m["id"]),
                              ignore_errors=True)

    def _judge(self, m, rc, results, bound, what):
        """Sets m's status from one stage; True when the stage decided."""
        if rc is None:
            m["status"], m["detail"] = "Timeout", f"{what}: over {bound:.0f} s"
            return True
        if results is None:
            m["status"], m["detail"] = "Killed", f"{what}: the runner exited {rc}"
            m["killers"] = [f"(runner exit {rc})"]
            return True
        k = self.kills(results)
        if k:
            m["status"], m["detail"] = "Killed", f"{what}: {len(k)} run(s)"
            m["killers"] = sorted({v[0] for v in k})
            m["kill_runs"] = ["@".join([v[0], f"{v[1]}/{v[2]}"]) for v in k]
            return True
        return False

    def _run_held(self, m, mdir):
        """A mutant of the schemata build: the runs that reach its point,
        as written first, then the other splits, then (for a survivor) the
        as-written ones under AddressSanitizer."""
        n = schemata.number(m["id"])
        runs = self.reach.get(n, set()) - self.excluded
        m["runs"] = len(runs)
        if not runs:
            m["status"], m["detail"] = "NoCoverage", "no run reaches this mutation point"
            return m
        deadline = time.time() + self.args.timeout
        first = sorted(r for r in runs if run_parts(r)[1] == "as-written")
        rest = sorted(r for r in runs if run_parts(r)[1] in self.args.other_splits)
        for name, sel in (("as-written", first), ("other-splits", rest)):
            if not sel:
                continue
            bound = self.bound(sel, deadline)
            rc, results, tail, secs = self.run_stage(self.runner, name, mdir, bound,
                                                     self.globs(sel), mutant=n)
            what = f"{len(sel)} run(s) reaching it, {name}"
            if self._judge(m, rc, results, bound, what):
                return m
        if self.args.memcheck and self.ensure_san() and m["id"] in self.san_held:
            sel = first or rest
            what = f"{len(sel)} run(s) reaching it, under AddressSanitizer"
            bound = max(1.0, deadline - time.time())
            rc, results, tail, _ = self.run_stage(self.san_runner, "memcheck", mdir, bound,
                                                  self.globs(sel), san=True, mutant=n)
            if rc is None:
                m["status"], m["detail"] = "Timeout", f"{what}: over {bound:.0f} s"
                return m
            k = self.kills(results) if results is not None else []
            if rc == SAN_EXIT or results is None or k:
                # The same runs on the unmutated build: a report there is the
                # suite's or the reference's, not the mutant's.  A run that
                # fails there too (one timing-bound run of a thousand in one
                # slow process on a loaded machine) proves nothing either
                # way, and does not hide the mutant's own sanitizer report or
                # crash, which the unmutated build did not have.
                rc0, res0, _, _ = self.run_stage(self.san_runner, "memcheck-ref", mdir,
                                                 self.args.timeout, self.globs(sel), san=True)
                sound = rc0 in (RUN_OK, RUN_FAILURES) and res0 is not None
                if sound:
                    on_ref = set(self.kills(res0))
                    k = [v for v in k if v not in on_ref]
                if sound and (rc == SAN_EXIT or results is None or k):
                    report = re.search(r"(ERROR: \w+Sanitizer: [^\n]*|SUMMARY: [^\n]*)", tail)
                    m["status"] = "Killed"
                    m["detail"] = f"{what}: " + (f"{len(k)} run(s)" if k else
                                                 report.group(1) if report
                                                 else f"the runner exited {rc}")
                    m["killers"] = sorted({v[0] for v in k}) or ["(memcheck)"]
                    return m
                m["status"], m["detail"] = "Survived", f"every run reaching it as on the " \
                    f"reference; {what}: the unmutated build fails the same (exit {rc0})"
                return m
        m["status"], m["detail"] = "Survived", "every run reaching it as on the reference"
        return m

    def _run_alone(self, m, mdir):
        """A mutant the schemata could not hold: built on its own, run on
        every run that may count (no coverage is known for it)."""
        text = apply(self.sources[m["file"]], m["edits"])
        obj, log = compile_obj(text, m["file"], os.path.join(mdir, "obj"))
        if obj is None:
            m["status"], m["detail"] = "Stillborn", log.strip().splitlines()[0]
            return m
        objs = [obj if f == m["file"] else o for f, o in self.base_objs.items()]
        ok, runner, log = self.make_runner(mdir, objs)
        if not ok:
            m["status"], m["detail"] = "Harness", "runner build failed: " + log[-300:]
            return m
        deadline = time.time() + self.args.timeout
        every = sorted(r for rs in self.variants.values() for r in rs)
        for name, split in (("as-written", ("as-written",)),
                            ("other-splits", tuple(self.args.other_splits))):
            sel = [r for r in every if run_parts(r)[1] in split]
            bound = self.bound(sel, deadline)
            rc, results, tail, _ = self.run_stage(runner, name, mdir, bound,
                                                  self.globs(sel))
            if self._judge(m, rc, results, bound,
                           f"built alone ({m.get('alone', '')}), {len(sel)} run(s), {name}"):
                return m
        m["status"], m["detail"] = "Survived", f"built alone ({m.get('alone', '')}): " \
                                               "every run as on the reference"
        return m

    # -------------------------------------------------------------- unit --

    def unit_prepare(self):
        """Compiles ref/tests/test_*.c once and links each test twice: with
        the schemata build, where a survivor it holds is chosen at run time
        like the runner's (no compile per survivor), and with the unmutated
        objects, for a survivor built alone.  Keeps the tests that pass on
        the unmutated build: only those can tell a survivor apart."""
        d = os.path.join(self.build, "unit")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        check = subprocess.run(["pkg-config", "--cflags", "--libs", "check"],
                               capture_output=True, text=True).stdout.split()
        self.check_flags = [f for f in check if not f.startswith("-I")]
        self.unit_objs, self.unit_exes = [], []
        for t in sorted(glob.glob(os.path.join(ROOT, "ref", "tests", "test_*.c"))):
            obj = os.path.join(d, os.path.basename(t)[:-2] + ".o")
            p = subprocess.run([CC, "-std=c11", "-D_GNU_SOURCE", "-O0", "-w",
                                "-I" + os.path.join(ROOT, "ref", "include"), "-I" + SRC_DIR,
                                "-I" + os.path.join(ROOT, "ref", "tests"),
                                *[f for f in check if f.startswith("-I")], "-c", t, "-o", obj],
                               capture_output=True, text=True)
            exe = p.returncode == 0 and self._unit_link(
                obj, self.schemata_objs or list(self.base_objs.values()),
                os.path.join(d, "schemata"))
            if exe and not self._unit_fails(exe):
                self.unit_objs.append(obj)
                self.unit_exes.append(exe)
            else:
                progress(PROG, f"unit: {os.path.basename(t)} left out (does not build or "
                               "fails on the reference)")

    def _unit_link(self, test_obj, objs, d):
        """The test linked with objs into d; its path, or None."""
        os.makedirs(d, exist_ok=True)
        exe = os.path.join(d, os.path.basename(test_obj)[:-2])
        # The reference objects call the suite's allocator and syscall
        # interposer (ALLOC_RENAMES).
        fa = [o for o in self.suite_objs
              if os.path.basename(o) in ("failalloc.o", "failsys.o")]
        p = subprocess.run([CC, test_obj, *objs, *fa, *self.check_flags, "-pthread", "-o", exe],
                           capture_output=True, text=True)
        return exe if p.returncode == 0 else None

    def _unit_fails(self, exe, mutant=None):
        env = {k: v for k, v in os.environ.items()
               if k not in ("AC_MUT_COVERAGE", "AC_MUTANT")}
        env["CK_DEFAULT_TIMEOUT"] = "10"
        if mutant is not None:
            env["AC_MUTANT"] = str(mutant)
        rc, _, _, _ = run_bounded([exe], timeout=120, cwd=ROOT, env=env)
        return rc != 0

    def unit_kills(self, m):
        """Information only: which unit tests fail on a survivor."""
        name = lambda exe: os.path.basename(exe)
        if m["id"] in self.held:
            n = schemata.number(m["id"])
            return [name(e) for e in self.unit_exes if self._unit_fails(e, n)]
        mdir = os.path.join(self.build, "unit", m["id"])
        text = apply(self.sources[m["file"]], m["edits"])
        obj, _ = compile_obj(text, m["file"], mdir)
        if obj is None:
            return []
        objs = [obj if f == m["file"] else o for f, o in self.base_objs.items()]
        try:
            exes = [self._unit_link(t, objs, mdir) for t in self.unit_objs]
            return [name(e) for e in exes if e is None or self._unit_fails(e)]
        finally:
            shutil.rmtree(mdir, ignore_errors=True)


# --------------------------------------------------------- reviewed list --

def load_reviewed(path):
    """The reviewed list: one entry per line, seven fields separated by
    ' | ': file, function, operator, replacement, the mutated source line
    (stripped), kind (equivalent or cost) and the reason (which must not
    hold ' | ').  Raises
    ValueError naming the line of a malformed entry."""
    entries = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            # The source line may hold " | " itself: four fields from the
            # left, two from the right, and the line is what is between.
            parts = [p.strip() for p in line.split(" | ")]
            if len(parts) > 7:
                parts = parts[:4] + [" | ".join(parts[4:-2])] + parts[-2:]
            if len(parts) != 7 or parts[5] not in REVIEW_KINDS or not parts[6]:
                raise ValueError(f"{rel(path)}:{n}: expected 'file | function | op | "
                                 f"replacement | line | {' or '.join(REVIEW_KINDS)} | "
                                 f"reason'")
            entries.append({"line": n, "key": tuple(parts[:5]), "kind": parts[5],
                            "reason": parts[6]})
    return entries


def review_keys(sources, muts):
    """Sets each mutant's reviewed-list key (rkey), over the whole list of
    generated mutants so a sample keys its mutants as a full campaign does.
    A line whose text recurs in its function is told apart by its rank
    there ("return 0; #2"), a replacement made twice on one line by its
    rank from the left ("0 -> 1 @2"): those ranks move only when the
    function itself changes, unlike line numbers and ids."""
    lines = {f: t.split("\n") for f, t in sources.items()}
    by_line = {}
    for m in muts:
        by_line.setdefault((m["file"], m["line"], m["op"], m["desc"]), []).append(m)
    for same in by_line.values():
        same.sort(key=lambda m: m["col"])
        for k, m in enumerate(same, 1):
            m["rkey_desc"] = m["desc"] + (f" @{k}" if len(same) > 1 else "")
    ranks = {}
    for m in muts:
        key = (m["file"], m["line"])
        if key not in ranks:
            src = lines[m["file"]]
            text = src[m["line"] - 1].strip()
            at = [i for i, l in enumerate(src, 1) if l.strip() == text
                  and function_at(src, i) == m["function"]]
            ranks[key] = text + (f" #{at.index(m['line']) + 1}" if len(at) > 1 else "")
        m["rkey"] = (m["file"], m["function"], m["op"], m.pop("rkey_desc"), ranks[key])


def apply_reviewed(sources, muts, entries, complete):
    """Marks the survivors an entry names as Reviewed; returns what the list
    did: the entries that named a killed mutant (wrong), those that named
    none (stale; only said of a complete campaign), and counts by kind."""
    by_key = {}
    for e in entries:
        by_key.setdefault(e["key"], e)
    used, wrong, kinds = set(), [], {}
    for m in muts:
        if m["status"] == "Reviewed":    # a report rewritten: judge it afresh
            m["status"] = m.pop("was")
            m.pop("review", None)
        e = by_key.get(tuple(m["rkey"]))
        if e is None:
            continue
        used.add(e["line"])
        if m["status"] in ("Survived", "NoCoverage"):
            m["was"], m["status"] = m["status"], "Reviewed"
            m["detail"] = f"reviewed, {e['kind']}: {e['reason']}"
            m["review"] = e["kind"]
            kinds[e["kind"]] = kinds.get(e["kind"], 0) + 1
        elif m["status"] == "Killed" or (m["status"] == "Timeout" and e["kind"] != "cost"):
            # A cost-only mutant that runs out of time is what its entry
            # says it is: it stays a kill by timeout, and the entry stands.
            wrong.append((e, m))
    stale = [e for e in entries if e["line"] not in used] if complete else []
    return {"entries": len(entries), "wrong": wrong, "stale": stale, "kinds": kinds}


def review_or_fail(args, sources, muts, complete):
    """Applies the reviewed list (--reviewed); returns its summary, or None
    when there is none.  Raises ValueError for a malformed list."""
    if not args.reviewed:
        return None
    return apply_reviewed(sources, muts, load_reviewed(args.reviewed), complete)


def review_failed(review):
    if review and (review["wrong"] or review["stale"]):
        print(f"{PROG}: the reviewed list is out of step with the suite or the sources: "
              f"{len(review['wrong'])} wrong entr(y/ies) (their mutant was killed), "
              f"{len(review['stale'])} stale (no mutant); see the report",
              file=sys.stderr)
        return True
    return False


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
                  "Equivalent": "Ignored", "Duplicate": "Ignored", "Reviewed": "Ignored",
                  "Harness": "RuntimeError"}
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


def write_reports(args, sources, muts, elapsed, review=None):
    """Writes report.txt, mutation-report.json and mutants.json; returns
    the text and the rate within the adapter's reach."""
    n, killed, live, score = tally(muts)
    lines = [f"mutation campaign of ref/src against the conformance suite "
             f"(seed {args.seed}{f', sample {args.sample}' if args.sample else ''}, "
             f"{elapsed:.0f} s)", ""]
    lines.append(f"mutants generated        {args.generated}")
    lines.append(f"mutants examined         {len(muts)}")
    for s in ("Equivalent", "Reviewed", "Duplicate", "Stillborn", "Killed", "Timeout",
              "Survived", "NoCoverage", "Harness"):
        lines.append(f"  {s:22} {n.get(s, 0)}")
    lines.append(f"kill rate                {killed}/{live} = {score:.1f}% of non-equivalent "
                 f"mutants (killed + timeout over killed + timeout + survived + no coverage)")
    covered_live = live - n.get("NoCoverage", 0)
    if covered_live:
        lines.append(f"kill rate, reached points {killed}/{covered_live} = "
                     f"{100.0 * killed / covered_live:.1f}%")
    reach = reachable(sources, ADAPTER)
    out = [m for m in muts if m["status"] in LIVE and m["function"] not in reach]
    k_out = sum(m["status"] in ("Killed", "Timeout") for m in out)
    in_reach = 100.0 * (killed - k_out) / max(1, live - len(out))
    if out:
        fns = sorted({m["function"] for m in out})
        lines.append(f"outside adapter reach   {len(out)} live mutant(s) in functions "
                     f"{rel(ADAPTER)} cannot reach ({k_out} killed anyway): {', '.join(fns)}")
    lines.append(f"kill rate, within reach  {killed - k_out}/{live - len(out)} = "
                 f"{in_reach:.1f}%")
    if review is not None:
        rv = [m for m in muts if m["status"] == "Reviewed"]
        rv_in = [m for m in rv if m["function"] in reach]
        cost_in = sum(m.get("review") == "cost" for m in rv_in)
        kinds = review["kinds"]
        lines.append(f"reviewed list            {review['entries']} entries; left out as "
                     f"Reviewed: {kinds.get('equivalent', 0)} equivalent, "
                     f"{kinds.get('cost', 0)} cost-only; {len(review['wrong'])} wrong, "
                     f"{len(review['stale'])} stale")
        d = live - len(out)
        lines.append(f"  within reach, cost-only counted as survivors  {killed - k_out}/"
                     f"{d + cost_in} = {100.0 * (killed - k_out) / max(1, d + cost_in):.1f}%")
        lines.append(f"  within reach, no reviewed list                {killed - k_out}/"
                     f"{d + len(rv_in)} = "
                     f"{100.0 * (killed - k_out) / max(1, d + len(rv_in)):.1f}%")
        for e, m in review["wrong"]:
            lines.append(f"  WRONG entry at line {e['line']}: {m['id']} was killed by "
                         f"{', '.join(m.get('killers', [])) or '?'}; remove the entry")
        for e in review["stale"]:
            lines.append(f"  STALE entry at line {e['line']}: names no mutant of ref/src "
                         f"({' | '.join(e['key'])})")
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
    return text, in_reach


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
    review_keys(sources, fresh)
    muts = []
    for m in fresh:
        if m["id"] in done:
            m.update({k: v for k, v in done[m["id"]].items() if k not in ("edits", "rkey")})
            muts.append(m)
    # A campaign cut short never reached its equivalence step: done here.
    surv = [m for m in muts if m["status"] in ("Survived", "NoCoverage")]
    if surv and not os.path.exists(os.path.join(args.build, "mutants.json")):
        camp = Campaign(args, sources)
        for fname, text in sources.items():
            obj, log = compile_obj(text, fname, os.path.join(args.build, "tce", "base"))
            if obj is None:
                print(f"{PROG}: {fname} does not compile:\n{log}", file=sys.stderr)
                return 99
            camp.base_digest[fname] = digest(obj)
        progress(PROG, f"equivalence: compiling {len(surv)} surviving mutant(s) alone")
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as ex:
            list(ex.map(camp.tce_digest, surv))
        for m in sorted(surv, key=lambda m: m["id"]):
            camp.classify(m)
        camp.cache.save()
    try:
        review = review_or_fail(args, sources, muts, len(muts) == args.generated)
    except (OSError, ValueError) as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    text, score = write_reports(args, sources, muts, 0, review)
    print(text)
    return 1 if review_failed(review) else 0


def pick(args, muts):
    """The mutants to examine.  With --sample N: the first N of a seeded
    permutation; without, all of them (after --files / ids filters)."""
    if args.sample:
        rng = random.Random(args.seed)
        order = muts[:]
        rng.shuffle(order)
        return order[:args.sample]
    return list(muts)


def main():
    ap = argparse.ArgumentParser(
        description="Mutation testing of ref/src/*.c against the conformance suite.",
        epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--sample", type=int, default=0, metavar="N",
                    help="examine a seeded sample: the first N mutants of a seeded "
                         "permutation (equivalent and stillborn ones among them do not "
                         "count)")
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
                    help="run every mutant on every run, not only on the runs that reach "
                         "its mutation point (no NoCoverage)")
    ap.add_argument("--baseline-runs", type=int, choices=(1, 2), default=2,
                    help="whole-suite runs of the unmutated build: with 2 (default), a "
                         "run whose status differs between them is unstable and never "
                         "counts as a kill")
    ap.add_argument("--no-memcheck", dest="memcheck", action="store_false",
                    help="skip the last stage, which runs a survivor's covering cases "
                         "under AddressSanitizer (leaks, use after free)")
    ap.add_argument("--other-splits", nargs="*", default=["bytewise"], metavar="SPLIT",
                    help="the read-chunking splits run after as-written (default: bytewise, "
                         "every read one byte, the split least like as-written; in a campaign "
                         "of 938 mutants it was the only one of one-shot, bytewise and random "
                         "to kill a mutant as-written had not, at a third of their cost)")
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
    ap.add_argument("--reviewed", default=REVIEWED, metavar="FILE",
                    help=f"the reviewed list of equivalent and cost-only mutants (default "
                         f"{rel(REVIEWED)}; '' for none)")
    args = ap.parse_args()
    if args.jobs < 1 or args.timeout <= 0 or args.sample < 0:
        ap.error("--jobs, --timeout and --sample must be positive")
    args.build = os.path.abspath(args.build)
    if args.reviewed:
        try:   # a malformed list is said now, not after an hour's campaign
            load_reviewed(args.reviewed)
        except (OSError, ValueError) as e:
            ap.error(str(e))

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
    review_keys(sources, muts)
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
    live = pick(args, muts)
    try:
        camp.prepare()
        left = camp.build_schemata(live, max(schemata.number(m["id"]) for m in muts))
        # A mutant the schemata could not hold: stillborn, or built alone.
        for m in live:
            if m["id"] in left and not camp.classify(m):
                m["alone"] = left[m["id"]]
        alone = [m for m in live if "alone" in m]
        if alone:
            progress(PROG, f"schemata: {len(alone)} mutant(s) built alone: "
                           f"{', '.join(m['id'] for m in alone[:10])}"
                           f"{' ...' if len(alone) > 10 else ''}")
        camp.baseline()
        if args.no_coverage:
            every = {r for rs in camp.variants.values() for r in rs}
            camp.reach = {schemata.number(m["id"]): every for m in live}
    except RuntimeError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 99
    done = [m for m in live if "status" in m]
    live = [m for m in live if "status" not in m]
    open(os.path.join(args.build, "progress.jsonl"), "w").close()
    progress(PROG, f"{len(live)} live mutant(s) of {len(files)} file(s) to run, "
                   f"{args.jobs} at once, {args.timeout:g} s bound each "
                   f"(setup took {time.time() - t0:.0f} s)")
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as ex:
        # In a seeded random order: a campaign cut short is a seeded sample.
        order = sorted(live, key=lambda m: m["id"])
        random.Random(args.seed).shuffle(order)
        futs = [ex.submit(camp.run_mutant, m) for m in order]
        for i, fut in enumerate(concurrent.futures.as_completed(futs), 1):
            try:
                m = fut.result()
            except Exception as e:  # a harness bug must not lose the campaign
                print(f"{PROG}: harness error: {e!r}", file=sys.stderr)
                for f in futs:
                    f.cancel()
                return 99
            done.append(m)
            # One line per finished mutant: a campaign cut short can still
            # be reported (--report-only reads this file).
            with open(os.path.join(args.build, "progress.jsonl"), "a", encoding="utf-8") as pf:
                pf.write(json.dumps(m) + "\n")
            _, k, lv, sc = tally(done)
            progress(PROG, f"[{i}/{len(live)}] {m['id']} {m['file']}:{m['line']} {m['op']} "
                           f"{m['desc'][:40]}: {m['status']} ({m.get('detail', '')[:60]}) "
                           f"{m['seconds']}s | score {k}/{lv} = {sc:.1f}% "
                           f"| {time.time() - t0:.0f}s")

    # Trivial compiler equivalence, for the mutants that no run told apart:
    # a killed mutant cannot be equivalent, so only these are compiled
    # alone (the same object code as the reference's: Equivalent; as an
    # earlier survivor's: Duplicate; neither counts).
    surv = sorted((m for m in done if m["status"] in ("Survived", "NoCoverage")),
                  key=lambda m: m["id"])
    progress(PROG, f"equivalence: compiling {len(surv)} surviving mutant(s) alone")
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as ex:
        list(ex.map(camp.tce_digest, surv))
    for m in surv:
        camp.classify(m)
    camp.cache.save()
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
    complete = not (args.sample or args.ids or args.files) and len(done) == args.generated
    try:
        review = review_or_fail(args, sources, done, complete)
    except (OSError, ValueError) as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    text, score = write_reports(args, sources, done, time.time() - t0, review)
    print(text)
    progress(PROG, f"reports: {rel(os.path.join(args.build, 'report.txt'))}, "
                   f"{rel(os.path.join(args.build, 'mutation-report.json'))} (Stryker schema)")
    if any(m["status"] == "Harness" for m in done):
        return 99
    if args.min_score is not None and score < args.min_score:
        print(f"{PROG}: kill rate within the adapter's reach {score:.1f}% is below the "
              f"target {args.min_score:g}%", file=sys.stderr)
        return 1
    return 1 if review_failed(review) else 0


if __name__ == "__main__":
    sys.exit(main())
