#!/usr/bin/env python3
"""test_case_errors.py: the case parser's answer to bad case files.

Each bad file below goes alone into a scratch cases directory; the runner
must refuse it before running anything (exit 99) with a message that names
the file, the line and the fault.  A parser that crashes, hangs, accepts the
file or blames the wrong line fails here.

Exit: 0 every bad file refused as expected, 1 one was not, 2 usage,
99 harness error (no runner).
"""
import argparse
import os
import sys
import tempfile

from acclib import ROOT, run_bounded

HEAD = "id: t.bad.x\nclause: T1\ndescription: A bad case.\n---\n"

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
]


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
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
