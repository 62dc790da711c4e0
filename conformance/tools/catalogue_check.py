#!/usr/bin/env python3
"""catalogue_check.py: every citation of CPython's behaviour points into the
catalogue the project ships (docs/cpython-3.11.md), and no expected failure
of an implementation hides behind another clause (make catalogue-check).

Fails (exit 1) when a tracked file:
  * cites "semantics.md", or a catalogue id in the old form ("semantics L9",
    a bare "Q1" or "V41"), which the project does not ship;
  * cites a catalogue id (CL, CD, CT, CP, CM, CE, CQ, CV + number) that the
    catalogue does not define;
  * cites a spec-shaped id (L, D, T, P, M, E + number) that docs/spec.md has
    no clause for: usually an old catalogue id that lost its "C";
and when a line of an expectations file (conformance/expectations/*.txt)
says an expected failure is "masked" by another clause: each line must name
the implementation's own deviation from the clause its case checks.  For the
same reason a case file outside conformance/cases/t/ must set the terminator
of every chat channel it creates (docs/case-format.md), or an implementation
without T2's default would fail it on T2 instead of on its own clauses.
The catalogue itself must define each id once, within the ranges its prefix
table states.  Before scanning, the detectors are run on planted lines, so a
detector that finds nothing cannot pass unnoticed.

Exit: 0 clean, 1 findings, 2 usage, 99 the tree or the catalogue cannot be
read.  Stdlib only.
"""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CATALOGUE = "docs/cpython-3.11.md"
SPEC = "docs/spec.md"
SELF = "conformance/tools/catalogue_check.py"   # its own text names what it refuses
# Fuzz corpora are inputs (the case-parser seeds are old copies of case
# files, kept byte for byte), not documents that cite anything.
SKIP_DIRS = ("fuzz/corpus/",)
# Tokens that look like old catalogue or spec ids but are data, per file:
# a protocol line under test, a clause the runner must refuse.
NOT_CITATIONS = {
    "conformance/agents/tests/test_proto.c": {"Q1"},
    "conformance/tools/test_case_errors.py": {"Q77"},
}
CAT_ID = re.compile(r"(?<![A-Za-z0-9_])(C[LDTPMEQV]\d+)(?![A-Za-z0-9_])")
OLD_ID = re.compile(r"(?<![A-Za-z0-9_-])([QV]\d+)(?![A-Za-z0-9_])")
# Spec clause numbers have one or two digits; longer ones are other things
# (mutant numbers M0001, linter codes E731).
SPEC_ID = re.compile(r"(?<![A-Za-z0-9_-])([LDTPME][1-9]\d?)(?![A-Za-z0-9_])")
OLD_DOC = re.compile(r"semantics\.md|\bsemantics\s+(?:§|[A-Z]\d)")
MASKED = re.compile(r"\bmask(?:s|ed|ing)?\b", re.I)


def catalogue_ids(text):
    """{id: line} of the definitions: `### CL9 title` headings and the first
    cell of `| CQ1 |` / `| CV1 |` table rows; problems found on the way."""
    ids, problems = {}, []
    for n, line in enumerate(text.splitlines(), 1):
        m = (re.match(r"^### (C[LDTPME]\d+) \S", line) or
             re.match(r"^\| (C[QV]\d+) \|", line))
        if not m:
            continue
        if m.group(1) in ids:
            problems.append("%s:%d: %s defined twice (first on line %d)"
                            % (CATALOGUE, n, m.group(1), ids[m.group(1)]))
        ids.setdefault(m.group(1), n)
    ranges = re.findall(r"^\| `(C[A-Z])` \| [^|]+\| (C[A-Z])(\d+)–(C[A-Z])(\d+) \|$",
                        text, re.M)
    if len(ranges) != 8:
        problems.append("%s: the prefix table should state 8 ranges, found %d"
                        % (CATALOGUE, len(ranges)))
    for prefix, p1, lo, p2, hi in ranges:
        want = {"%s%d" % (prefix, i) for i in range(int(lo), int(hi) + 1)}
        have = {i for i in ids if re.match(prefix + r"\d+$", i)}
        if p1 != prefix or p2 != prefix or want != have:
            problems.append("%s: %s should define %s%s-%s%s exactly; missing %s, extra %s"
                            % (CATALOGUE, prefix, prefix, lo, prefix, hi,
                               sorted(want - have) or "none", sorted(have - want) or "none"))
    return ids, problems


def spec_clauses(text):
    return set(re.findall(r"^### ([A-Z]\d+) \[", text, re.M))


def scan_text(path, text, cat, spec):
    """[(line, message)] of the citation problems in one file's text."""
    out = []
    allowed = NOT_CITATIONS.get(path, set())
    expectations = path.startswith("conformance/expectations/") and path.endswith(".txt")
    for n, line in enumerate(text.splitlines(), 1):
        m = OLD_DOC.search(line)
        if m:
            out.append((n, "cites '%s': the project's catalogue is %s" % (m.group(0), CATALOGUE)))
        for i in CAT_ID.findall(line):
            if i not in cat:
                out.append((n, "cites %s, which %s does not define" % (i, CATALOGUE)))
        for i in OLD_ID.findall(line):
            if i not in allowed:
                out.append((n, "cites %s: catalogue ids carry a C (C%s in %s)" % (i, i, CATALOGUE)))
        for i in SPEC_ID.findall(line):
            if i not in spec and i not in allowed:
                out.append((n, "cites %s, which is no clause of %s (a catalogue id is C%s)"
                            % (i, SPEC, i)))
        if expectations and not line.lstrip().startswith("#") and MASKED.search(line):
            out.append((n, "an expected failure 'masked' by another clause: name the "
                           "deviation of the clause the case checks"))
    return out


CHAT_STEPS = ("chat", "connect", "adopt")
TERM_STEPS = ("term", "count", "none")


def case_problems(path, text):
    """[(line, message)]: chat channels of a case outside cases/t/ whose
    terminator the case never sets."""
    if not (path.startswith("conformance/cases/") and path.endswith(".case")) or \
            path.startswith("conformance/cases/t/"):
        return []
    made, termed = [], set()
    body = text.split("\n---\n", 1)[-1]
    first = text.count("\n", 0, len(text) - len(body)) + 1
    for n, line in enumerate(body.splitlines(), first):
        tok = line.split("#", 1)[0].split()
        # A creation expected to fail ("connect a -> ECONNREFUSED") makes
        # no channel to set a terminator on.
        fails = "->" in tok and tok[tok.index("->") + 1:tok.index("->") + 2] != ["0"]
        if len(tok) > 1 and tok[0] in CHAT_STEPS and not fails:
            made.append((n, tok[1]))
        elif len(tok) > 1 and tok[0] in TERM_STEPS:
            termed.add(tok[1])
    return [(n, "chat channel '%s' never gets a terminator (term, count or none): "
                "the case would rest on T2's default" % ch)
            for n, ch in made if ch not in termed]


def self_test(cat, spec):
    """Each detector must fire on its planted line and stay quiet on a clean
    one; returns the problems (empty when the detectors work)."""
    some_cat = sorted(cat)[0] if cat else "CL1"
    some_spec = sorted(spec)[0] if spec else "L1"
    planted = [
        ("docs/x.md", "see " + "semantics" + ".md for details", "semantics"),
        ("docs/x.md", "(" + "semantics" + " L9, bpo-30931)", "semantics"),
        ("docs/x.md", "quirk " + "Q" + "17 applies", "carry a C"),
        ("docs/x.md", "vector " + "V" + "41 shows it", "carry a C"),
        ("docs/x.md", "catalogue " + "CL" + "999 does not exist", "does not define"),
        ("docs/x.md", "old clause " + "D" + "99 lost its C", "no clause of"),
        ("conformance/expectations/x.txt",
         "a.b  XFAIL  T2 (" + "masks" + " D4): no terminator", "masked"),
    ]
    problems = []
    for path, line, phrase in planted:
        found = scan_text(path, line, cat, spec)
        if not any(phrase in msg for _, msg in found):
            problems.append("self-test: no '%s' finding for planted line %r" % (phrase, line))
    case = "id: d.x.y\nclause: D6\n---\nchat a unix\nchat b unix\nnone b\n"
    if len(case_problems("conformance/cases/d/x.case", case)) != 1 or \
            case_problems("conformance/cases/t/x.case", case):
        problems.append("self-test: the terminator rule does not find exactly chat a")
    clean = "%s and %s, bpo-30931; E2BIG, V4L2, UTF-8, x86-64" % (some_cat, some_spec)
    found = scan_text("conformance/expectations/x.txt", "a.b  XFAIL  " + clean, cat, spec)
    if found:
        problems.append("self-test: findings on a clean line: %s" % found)
    return problems


def tracked_files():
    p = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True)
    if p.returncode != 0:
        raise OSError("git ls-files failed: " + p.stderr.decode(errors="replace").strip())
    return [f for f in p.stdout.decode().split("\0") if f]


def read_text(path):
    with open(os.path.join(ROOT, path), "rb") as f:
        data = f.read()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*",
                    help="files to scan, relative to the top directory (default: every tracked file)")
    ap.add_argument("--quiet", action="store_true", help="print only the findings")
    a = ap.parse_args()
    try:
        cat_text = read_text(CATALOGUE)
        spec_text = read_text(SPEC)
        files = a.files or tracked_files()
    except OSError as e:
        print("catalogue-check: %s" % e, file=sys.stderr)
        return 99
    if cat_text is None or spec_text is None:
        print("catalogue-check: %s or %s is not UTF-8 text" % (CATALOGUE, SPEC), file=sys.stderr)
        return 99
    cat, problems = catalogue_ids(cat_text)
    spec = spec_clauses(spec_text)
    problems += self_test(cat, spec)
    scanned = 0
    for f in files:
        if f in (CATALOGUE, SELF) or f.startswith(SKIP_DIRS) or not os.path.isfile(os.path.join(ROOT, f)):
            continue
        text = read_text(f)
        if text is None:
            continue
        scanned += 1
        for n, msg in scan_text(f, text, cat, spec) + case_problems(f, text):
            problems.append("%s:%d: %s" % (f, n, msg))
    for p in problems:
        print(p, file=sys.stderr)
    if not a.quiet or problems:
        print("catalogue-check: %d ids in %s, %d spec clauses, %d files scanned: %s"
              % (len(cat), CATALOGUE, len(spec), scanned,
                 "%d problem(s)" % len(problems) if problems else "clean"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
