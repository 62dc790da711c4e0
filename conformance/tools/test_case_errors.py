#!/usr/bin/env python3
"""test_case_errors.py: the runner's answer to bad case files and bad options.

Each bad file below goes alone into a scratch cases directory; the runner
must refuse it before running anything (exit 99) with a message that names
the file, the line and the fault.  A parser that crashes, hangs, accepts the
file or blames the wrong line fails here.  Each bad option value must be
refused as a usage error (exit 2) with a message naming the option, before
anything runs; the same options with good values (either case for --area
and --clause) must select what they name.

Exit: 0 every bad input refused as expected, 1 one was not, 2 usage,
99 harness error (no runner).
"""
import argparse
import os
import sys
import tempfile

from acclib import ROOT, run_bounded

HEAD = "id: t.bad.x\nclause: T1\ndescription: A bad case.\n---\n"
SYSF = "id: t.bad.x\nclause: T1\nrequires: sys-fail\n---\n"
MISU = "id: t.bad.x\nclause: T1\nrequires: misuse\n---\n"

# (name, file text, line the message must name, substring it must hold)
BAD = [
    ("unknown step", HEAD + "chat a unix\nfrobnicate a\n", 6, "frobnicate"),
    ("undeclared channel", HEAD + "chat a unix\nsend b \"x\"\n", 6, "unknown channel 'b'"),
    ("raw CR", HEAD + "chat a unix\nsend a \"x\r\"\n", 6, "raw CR"),
    ("raw TAB", HEAD + "chat a unix\nsend\ta \"x\"\n", 6, "raw CR or TAB"),
    ("unterminated string", HEAD + "chat a unix\nsend a \"abc\n", 6, ""),
    ("bad escape", HEAD + "chat a unix\nsend a \"\\q\"\n", 6, ""),
    ("zero repetition", HEAD + "chat a unix\nsend a \"ab\" * 0\n", 6, "repetition out of range"),
    ("huge repetition", HEAD + "chat a unix\nsend a \"ab\" * 99999999999\n", 6,
     "repetition out of range"),
    ("literals too large in all", HEAD + "chat a unix\n" +
     "push a \"abcdefgh\" * 8000000\n" * 5, 10, "exceed 256 MiB"),
    ("missing clause", "id: t.bad.x\ndescription: x.\n---\nchat a unix\n", 0, "clause"),
    ("missing separator", "id: t.bad.x\nclause: T1\nchat a unix\n", 0, ""),
    ("unknown capability", "id: t.bad.x\nclause: T1\nrequires: teleport\n---\nchat a unix\n",
     3, "teleport"),
    ("unknown errno", HEAD + "chat a unix\nclose a -> EWHATEVER\n", 6, "EWHATEVER"),
    ("channel declared twice", HEAD + "chat a unix\nchat a unix\n", 6, ""),
    ("expect without event", HEAD + "chat a unix\nexpect a\n", 6, ""),
    ("or without skip", HEAD + "chat a unix\nterm a \"x\" -> 0 or EINVAL\n", 6,
     "'or' needs 'skip ERRNO'"),
    ("or skip the expected result", HEAD + "chat a unix\nterm a \"x\" -> EINVAL or skip EINVAL\n",
     6, "other than the expected result"),
    ("misuse without misuse", HEAD + "chat a unix\nmisuse push null-arg a -> EINVAL\n", 6,
     "needs 'requires: misuse'"),
    ("unknown misuse operation", MISU + "misuse frob plain\n", 5, "expected a misuse operation"),
    ("unknown misuse form", MISU + "misuse push sideways\n", 5, "expected a misuse form"),
    ("misuse without its channel", MISU + "misuse push null-arg -> EINVAL\n", 5,
     "needs a channel"),
    ("misuse null-handle with a channel", MISU + "chat a unix\nmisuse push null-handle a\n", 6,
     "takes no channel"),
    ("fault without sys-fail", HEAD + "chat a unix\nfault recv EAGAIN\n", 6,
     "needs 'requires: sys-fail'"),
    ("error mode without error-modes", HEAD + "chat a unix error keep\n", 5,
     "needs 'requires: error-modes'"),
    ("unknown error mode", HEAD + "chat a unix error ignore\n", 5, "close, keep or default"),
    ("expt on a chat", HEAD + "chat a unix expt\n", 5, "unexpected 'expt'"),
    ("expt event without expt", HEAD + "chat a unix\nexpect a expt\n", 6,
     "needs 'requires: expt'"),
    ("chat readable without chat-readable", HEAD + "chat a unix\nreadable a 0\n", 6,
     "needs 'requires: chat-readable'"),
    ("fault that does not apply", SYSF + "fault wait EAGAIN\n", 5, "wait calls cannot fail"),
    ("unknown fault kind", SYSF + "fault read EINTR\n", 5, "syscall kind"),
    ("unknown fault", SYSF + "fault recv ENOSPC\n", 5, "expected a fault"),
    ("zero fault count", SYSF + "fault recv EAGAIN 0\n", 5, "a fault count is 1 to"),
    ("expect-faulted without count", SYSF + "expect-faulted recv\n", 5, "expected a number"),
    # Checked against docs/spec.md: T1 is MUST and states no MAY requirement.
    ("level no clause states", "id: t.bad.x\nclause: T1\nlevel: MAY\n---\nchat a unix\n", 0,
     "level MAY, but none of its clauses (T1)"),
    ("clause not in the spec", "id: t.bad.x\nclause: T1 Q77\n---\nchat a unix\n", 0,
     "clause Q77 is not in the spec"),
]


# (runner options, substring the message must hold): each must exit 2.
BAD_OPTIONS = [
    (["--timeout", "abc"], "--timeout 'abc'"),
    (["--timeout", "0"], "--timeout '0'"),
    (["--timeout", "-5"], "--timeout '-5'"),
    (["--timeout", "2s"], "--timeout '2s'"),
    (["--timeout", "nan"], "--timeout 'nan'"),
    (["--seed", "abc"], "--seed 'abc'"),
    (["--seed", "-1"], "--seed '-1'"),
    (["--seed", "123456789012345678901234567890"], "--seed"),
    (["--max-failures", "x"], "--max-failures 'x'"),
    (["--max-failures", "0"], "--max-failures '0'"),
    (["--max-failures", "3.5"], "--max-failures '3.5'"),
    (["--backend", "kqueue"], "--backend 'kqueue'"),
    (["--area", "q"], "--area 'q'"),
    (["--area", "tt"], "--area 'tt'"),
    (["--clause", "Z99"], "--clause 'Z99'"),
    (["--split", "sideways"], "sideways"),
    (["--jobs", "0"], "--jobs '0'"),
    (["-j", "many"], "--jobs 'many'"),
]

# (runner options, what every listed run must satisfy, its description)
GOOD_OPTIONS = [
    (["--area", "t"], lambda ln: ln.startswith("t."), "ids in t."),
    (["--area", "M"], lambda ln: ln.startswith("m."), "ids in m."),
    (["--clause", "t4"], lambda ln: "T4" in ln.split()[4:], "naming T4"),
    (["--backend", "poll", "--timeout", "2.5", "--seed", "0x10", "--max-failures", "3"],
     lambda ln: ln.split()[2] == "poll", "backend poll"),
]


def check_option(runner, args, want):
    rc, out, err, _ = run_bounded([runner, *args, "--list"], timeout=30)
    msg = (out + err).strip()
    problems = []
    if rc != 2:
        problems.append(f"exit {rc}, want 2 (usage)")
    if want not in err:
        problems.append(f"stderr does not say {want!r}")
    if out.strip():
        problems.append("it listed runs anyway")
    return problems, msg.splitlines()[-1] if msg else "(no message)"


def check_good_option(runner, args, ok, what):
    rc, out, err, _ = run_bounded([runner, *args, "--list"], timeout=30)
    lines = [ln for ln in out.splitlines() if ln.strip()]
    problems = []
    if rc != 0:
        problems.append(f"exit {rc}, want 0: {err.strip()[-200:]}")
    if not lines:
        problems.append("nothing listed")
    bad = [ln for ln in lines if not ok(ln)]
    if bad:
        problems.append(f"{len(bad)} listed run(s) not {what}, e.g. {bad[0][:70]!r}")
    return problems, f"{len(lines)} runs, all {what}"


def check(runner, name, text, line, want, tmp):
    d = os.path.join(tmp, name.replace(" ", "-"), "t")
    os.makedirs(d)
    path = os.path.join(d, "bad.case")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    rc, out, err, _ = run_bounded([runner, "--cases", os.path.dirname(d), "--list"],
                                  timeout=30)
    msg = (out + err).strip()
    where = f"{path}:{line}:" if line else f"{path}"
    problems = []
    if rc != 99:
        problems.append(f"exit {rc}, want 99")
    if where not in msg:
        problems.append(f"the message does not name {where}")
    if want and want not in msg:
        problems.append(f"the message does not say {want!r}")
    return problems, msg.splitlines()[-1] if msg else "(no message)"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runner", default=os.path.join(ROOT, "build", "conformance", "ref",
                                                     "acc-run"),
                    help="the conformance runner (default: the reference's)")
    args = ap.parse_args()
    if not os.access(args.runner, os.X_OK):
        print(f"test_case_errors: no runner at {args.runner} (make acc-run)", file=sys.stderr)
        return 99
    failed = 0
    with tempfile.TemporaryDirectory(prefix="acc-bad-cases-") as tmp:
        for name, text, line, want in BAD:
            problems, last = check(args.runner, name, text, line, want, tmp)
            print(f"{'ok  ' if not problems else 'FAIL'} {name:28s} {last[:90]}")
            for p in problems:
                print(f"     {p}")
            failed += bool(problems)
    print(f"test_case_errors: {len(BAD) - failed} of {len(BAD)} bad case files refused "
          "as expected")
    ofailed = 0
    runner = args.runner
    for opts, want in BAD_OPTIONS:
        problems, last = check_option(runner, opts, want)
        print(f"{'ok  ' if not problems else 'FAIL'} {' '.join(opts):28s} {last[:90]}")
        for p in problems:
            print(f"     {p}")
        ofailed += bool(problems)
    for opts, ok, what in GOOD_OPTIONS:
        problems, last = check_good_option(runner, opts, ok, what)
        print(f"{'ok  ' if not problems else 'FAIL'} {' '.join(opts):28s} {last[:90]}")
        for p in problems:
            print(f"     {p}")
        ofailed += bool(problems)
    nopt = len(BAD_OPTIONS) + len(GOOD_OPTIONS)
    print(f"test_case_errors: {nopt - ofailed} of {nopt} option checks as expected")
    return 1 if failed or ofailed else 0


if __name__ == "__main__":
    sys.exit(main())
