#!/usr/bin/env python3
"""vocab_check.py: the Python side of the suite reads acc_adapter.h's
vocabulary exactly as the C side compiles it (make vocab-check, part of make
agents-check).  Fails, naming the difference, if:
  * agents/common/acc_vocab.py's reading of the header differs from what
    vocab_dump (the header compiled) prints: a capability, errno, verdict or
    area written in a form the Python parser misreads, or an errno whose
    value differs between Python's errno module and the C library;
  * the CPython agent declares a capability the protocol does not carry, or
    a name the header does not define;
  * agents_check.py's verdicts or areas are not the header's.
Stdlib only.
"""
import argparse
import ast
import difflib
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
AGENTS = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(AGENTS, "common"))
import acc_vocab  # noqa: E402


def python_lines(v):
    out = ["cap %d %s %d" % (c.value, c.name, c.where) for c in v.caps]
    out += ["errno %s %d %d" % (name, getattr(acc_vocab.errno, name), int(cases))
            for name, cases in v.errnos]
    out.append("flags %d %d" % (v.in_cases, v.on_wire))
    out += ["verdict %s" % name for name in v.verdicts]
    out += ["area %s %s" % (letter, title) for letter, title in v.areas]
    out.append("areas %s" % v.area_letters())
    return out


def agent_caps():
    """CAPS as agent.py declares it (read, not imported: no side effects)."""
    path = os.path.join(AGENTS, "cpython", "agent.py")
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "CAPS" for t in node.targets):
            return list(ast.literal_eval(node.value))
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dump", required=True, help="the built vocab_dump")
    a = ap.parse_args()
    probs = []
    c_lines = subprocess.run([a.dump], check=True, capture_output=True,
                             text=True).stdout.splitlines()
    try:
        v = acc_vocab.Vocab()
        py_lines = python_lines(v)
    except acc_vocab.VocabError as e:
        print("vocab-check: acc_vocab.py cannot read the header: %s" % e)
        return 1
    for line in difflib.ndiff(c_lines, py_lines):
        if line[:1] in "+-":
            probs.append("%s: %s" % ("only C reads" if line[0] == "-" else "only Python reads",
                                     line[2:]))
    caps = agent_caps()
    if caps is None:
        probs.append("agent.py: no CAPS tuple")
    for name in caps or ():
        if name not in v.wire_caps():
            probs.append("agent.py declares %r, not a capability the protocol carries "
                         "(%s)" % (name, ", ".join(v.wire_caps())))
    sys.path.insert(0, HERE)
    import agents_check
    if tuple(agents_check.STATUSES) != tuple(v.verdicts):
        probs.append("agents_check.py's verdicts %r are not the header's %r"
                     % (agents_check.STATUSES, v.verdicts))
    for p in probs:
        print("vocab-check: " + p)
    if probs:
        return 1
    print("vocab-check: %d entries read alike by C and Python; the CPython agent's %d "
          "capabilities are the protocol's" % (len(c_lines), len(caps)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
