#!/usr/bin/env python3
"""check_reports.py: checks the conformance runner's three report files.

JUnit XML (report.xml): well-formed XML 1.0 with no forbidden character, the
Ant/Jenkins shape testsuites > testsuite > testcase with at most one
failure, error or skipped child; every testcase has a name, a classname and
a numeric time, and sits in the suite of its case's area (the id prefix); each testsuite's (and the root's) tests, failures, errors
and skipped counts are those of its testcases.  TAP (report.tap): version
13, a plan 1..N and exactly N test lines numbered 1..N.  JSON (report.json):
the fields docs/case-format.md documents, one record per case x variant.
Across the files: the same runs in the same order, and every run's status
agrees (TAP ok/not ok and directives, JUnit children, JSON status).

A soft failure (a SHOULD or MAY case failing without --strict) passes the
run, so the files say so: TAP "not ok ... # TODO soft: ...", JUnit a
testcase with no <failure> but a <system-out>, JSON status FAIL, soft true.

--self-test first makes broken copies of the reports (a forbidden character,
a wrong count, a missing time, a lost TAP line, a duplicated JSON record...)
and asserts that each is refused; with --runner it also runs the runner on a
scratch suite (a soft failure, an XFAIL, a case that does not apply, a skip
reason full of control and non-UTF-8 bytes) and checks the exit code and the reports it writes,
and on cases that hang, listed XFAIL: each must be an ERROR that fails the
run and names the step line it stopped in.

Exit: 0 the reports are valid, 1 they are not, 2 usage, 99 harness error.
"""
import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import xml.etree.ElementTree as ET

from acclib import ROOT, VERDICTS, run_bounded

STATUSES = VERDICTS
LEVELS = ("MUST", "SHOULD", "MAY")
SPLITS = ("as-written", "one-shot", "bytewise", "random")
RESULT_FIELDS = {"id": str, "clauses": list, "level": str, "split": str, "backend": str,
                 "status": str, "expected": str, "soft": bool, "duration_ms": (int, float),
                 "message": str}
RUN_INFO_FIELDS = {"impl": str, "impl_version": str, "seed": int, "host": str,
                   "seconds": (int, float), "jobs": int}
# XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
CHILD_KINDS = ("failure", "error", "skipped")


class Problems(list):
    """Collected faults; the first few of each file are printed."""

    def add(self, where, what):
        self.append(f"{where}: {what}")


def is_number(s):
    try:
        v = float(s)
    except (TypeError, ValueError):
        return False
    return v >= 0 and v == v and v != float("inf")


def soft_fail(r):
    """A FAIL that does not fail the run (SHOULD/MAY, not --strict)."""
    return r["status"] == "FAIL" and r.get("soft") is True


# ------------------------------------------------------------------ JSON --

def check_json(path, probs):
    try:
        with open(path, encoding="utf-8") as f:
            rep = json.load(f)
    except (OSError, ValueError) as e:
        probs.add(path, f"not JSON: {e}")
        return None
    if not isinstance(rep, dict):
        probs.add(path, "the top level is not an object")
        return None
    for k in ("suite_version", "spec_version"):
        if not isinstance(rep.get(k), str):
            probs.add(path, f"'{k}' missing or not a string")
    info = rep.get("run_info")
    if not isinstance(info, dict):
        probs.add(path, "'run_info' missing")
    else:
        for k, t in RUN_INFO_FIELDS.items():
            if not isinstance(info.get(k), t) or isinstance(info.get(k), bool):
                probs.add(path, f"run_info.{k} missing or of the wrong type")
    results = rep.get("results")
    if not isinstance(results, list):
        probs.add(path, "'results' missing or not a list")
        return None
    seen = set()
    for i, r in enumerate(results):
        where = f"{path}: results[{i}]"
        if not isinstance(r, dict):
            probs.add(where, "not an object")
            continue
        bad = [k for k, t in RESULT_FIELDS.items()
               if k not in r or not isinstance(r[k], t)
               or (t is not bool and isinstance(r[k], bool))]
        if bad:
            probs.add(where, f"fields missing or of the wrong type: {', '.join(bad)}")
            continue
        if r["status"] not in STATUSES or r["expected"] not in STATUSES:
            probs.add(where, f"status {r['status']!r} / expected {r['expected']!r} unknown")
        if r["level"] not in LEVELS:
            probs.add(where, f"level {r['level']!r} unknown")
        if r["split"] not in SPLITS:
            probs.add(where, f"split {r['split']!r} unknown")
        if not r["clauses"] or not all(isinstance(c, str) for c in r["clauses"]):
            probs.add(where, "clauses empty or not strings")
        if r["soft"] and (r["status"] != "FAIL" or r["level"] == "MUST"):
            probs.add(where, "soft is true on a run that is not a SHOULD/MAY FAIL")
        if r["duration_ms"] < 0:
            probs.add(where, "negative duration")
        key = (r["id"], r["split"], r["backend"])
        if key in seen:
            probs.add(where, f"a second record for {key}")
        seen.add(key)
    cov = rep.get("coverage")
    if not isinstance(cov, list):
        probs.add(path, "'coverage' missing or not a list")
    else:
        for i, c in enumerate(cov):
            if not (isinstance(c, dict) and isinstance(c.get("clause"), str)
                    and c.get("level") in LEVELS and isinstance(c.get("cases"), list)
                    and all(isinstance(x, str) for x in c["cases"])):
                probs.add(path, f"coverage[{i}] is not {{clause, level, cases}}")
        # Every clause a run names is in the coverage, with that run's case.
        covered = {c.get("clause"): set(c.get("cases", [])) for c in cov if isinstance(c, dict)}
        for r in results:
            if not isinstance(r, dict) or not isinstance(r.get("clauses"), list):
                continue
            for cl in r["clauses"]:
                if cov and r["id"] not in covered.get(cl, ()):
                    probs.add(path, f"coverage of {cl} does not list {r['id']}")
    return results


# ------------------------------------------------------------------- TAP --

TAP_LINE = re.compile(r"^(ok|not ok) (\d+) - (.*?)(?: # (SKIP|TODO)\b(.*))?$")


def check_tap(path, results, probs):
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
    except (OSError, UnicodeDecodeError) as e:
        probs.add(path, f"unreadable: {e}")
        return
    if not lines or lines[0] != "TAP version 13":
        probs.add(path, "the first line is not 'TAP version 13'")
    plan = [ln for ln in lines if re.fullmatch(r"1\.\.\d+", ln)]
    if len(plan) != 1:
        probs.add(path, f"{len(plan)} plan lines, want 1")
        return
    n = int(plan[0][3:])
    tests = []
    for no, ln in enumerate(lines, 1):
        if ln.startswith(("ok ", "not ok ")):
            m = TAP_LINE.match(ln)
            if not m:
                probs.add(f"{path}:{no}", f"malformed test line {ln[:80]!r}")
                continue
            tests.append((no, m))
        elif ln and not ln.startswith(("TAP version", "1..", "  ", "#")):
            probs.add(f"{path}:{no}", f"unexpected line {ln[:80]!r}")
    if len(tests) != n:
        probs.add(path, f"plan 1..{n} but {len(tests)} test lines")
    for k, (no, m) in enumerate(tests, 1):
        if int(m.group(2)) != k:
            probs.add(f"{path}:{no}", f"test number {m.group(2)}, want {k}")
            break
    if results is None:
        return
    if len(tests) != len(results):
        probs.add(path, f"{len(tests)} test lines but {len(results)} JSON records")
        return
    oks = sum(m.group(1) == "ok" for _, m in tests)
    want_oks = sum(r["status"] in ("PASS", "SKIP") for r in results)
    if oks != want_oks:
        probs.add(path, f"{oks} 'ok' lines, the JSON has {want_oks} PASS or SKIP runs")
    for k, ((no, m), r) in enumerate(zip(tests, results), 1):
        name = f"{r['id']} [{r['split']}/{r['backend']}]"
        if m.group(3) != name:
            probs.add(f"{path}:{no}", f"test {m.group(3)!r}, the JSON's run {k} is {name!r}")
            return
        ok, directive = m.group(1) == "ok", m.group(4)
        want = {"PASS": (True, None), "SKIP": (True, "SKIP"), "XFAIL": (False, "TODO"),
                "XPASS": (False, None), "ERROR": (False, None),
                "FAIL": (False, "TODO" if soft_fail(r) else None)}[r["status"]]
        if (ok, directive) != want:
            probs.add(f"{path}:{no}", f"{r['status']}{' (soft)' if soft_fail(r) else ''} "
                      f"written as {m.group(1)!r} with directive {directive}")


# ----------------------------------------------------------------- JUnit --

def count_attr(el, name, where, probs):
    v = el.get(name)
    if v is None or not re.fullmatch(r"\d+", v):
        probs.add(where, f"<{el.tag}> {name}={v!r}, want a count")
        return None
    return int(v)


def check_junit(path, results, probs):
    try:
        with open(path, "rb") as f:
            raw = f.read()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        probs.add(path, f"unreadable or not UTF-8: {e}")
        return
    for m in FORBIDDEN.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        probs.add(f"{path}:{line}", f"character U+{ord(m.group()):04X} is forbidden in XML 1.0")
        break
    for m in re.finditer(r"&#(x[0-9a-fA-F]+|[0-9]+);", text):
        v = m.group(1)
        cp = int(v[1:], 16) if v[0] == "x" else int(v)
        if FORBIDDEN.match(chr(cp) if cp <= 0x10FFFF else "\ufffe"):
            line = text.count("\n", 0, m.start()) + 1
            probs.add(f"{path}:{line}", f"reference {m.group()} names a character XML 1.0 forbids")
            break
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as e:
        probs.add(path, f"not well-formed XML: {e}")
        return
    if root.tag != "testsuites":
        probs.add(path, f"root <{root.tag}>, want <testsuites>")
        return
    cases = []
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    names = set()
    for suite in root:
        if suite.tag != "testsuite":
            probs.add(path, f"<{suite.tag}> inside <testsuites>")
            continue
        sname = suite.get("name")
        where = f"{path}: testsuite {sname!r}"
        if not sname:
            probs.add(where, "no name")
        if not is_number(suite.get("time")):
            probs.add(where, f"time={suite.get('time')!r}")
        got = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for tc in suite:
            if tc.tag in ("properties", "system-out", "system-err"):
                continue
            if tc.tag != "testcase":
                probs.add(where, f"<{tc.tag}> inside <testsuite>")
                continue
            name, cls, t = tc.get("name"), tc.get("classname"), tc.get("time")
            if not name or not cls:
                probs.add(where, f"a testcase without name or classname ({name!r}, {cls!r})")
            if not is_number(t):
                probs.add(where, f"testcase {name!r}: time={t!r}, want a number")
            # A run belongs to its case's area: the directory of the case
            # file, the id prefix of a hand-written test (ids start with it).
            if name and cls and (cls != f"conformance.{sname}"
                                 or name.split(".", 1)[0].upper() != sname):
                probs.add(where, f"testcase {name!r} (classname {cls}) is not in its "
                          "area's suite")
            if (cls, name) in names:
                probs.add(where, f"testcase {cls}.{name} twice")
            names.add((cls, name))
            kinds = [c.tag for c in tc]
            for k in kinds:
                if k not in CHILD_KINDS + ("system-out", "system-err"):
                    probs.add(where, f"testcase {name!r}: unexpected <{k}>")
            verdicts = [k for k in kinds if k in CHILD_KINDS]
            if len(verdicts) > 1:
                probs.add(where, f"testcase {name!r}: {len(verdicts)} of failure/error/skipped")
            for c in tc:
                if c.tag in CHILD_KINDS and c.tag != "skipped" and not c.get("message"):
                    probs.add(where, f"testcase {name!r}: <{c.tag}> without a message")
            got["tests"] += 1
            for k, key in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
                got[key] += k in verdicts
            cases.append((name, cls, verdicts[0] if verdicts else None,
                          "system-out" in kinds))
        for key, v in got.items():
            want = count_attr(suite, key, where, probs)
            if want is not None and want != v:
                probs.add(where, f"{key}=\"{want}\" but its testcases give {v}")
            totals[key] += v
    for key, v in totals.items():
        if root.get(key) is not None:
            want = count_attr(root, key, f"{path}: testsuites", probs)
            if want is not None and want != v:
                probs.add(f"{path}: testsuites", f"{key}=\"{want}\" but the testcases give {v}")
    if results is None:
        return
    if len(cases) != len(results):
        probs.add(path, f"{len(cases)} testcases but {len(results)} JSON records")
        return
    byname = {}
    for r in results:
        byname[f"{r['id']} [{r['split']}/{r['backend']}]"] = r
    for name, cls, verdict, has_out in cases:
        r = byname.get(name)
        if r is None:
            probs.add(path, f"testcase {name!r} has no JSON record")
            continue
        want = {"PASS": None, "XFAIL": None, "SKIP": "skipped", "ERROR": "error",
                "XPASS": "failure", "FAIL": None if soft_fail(r) else "failure"}[r["status"]]
        if verdict != want:
            probs.add(path, f"testcase {name!r}: <{verdict}> for a {r['status']}"
                      f"{' (soft)' if soft_fail(r) else ''} run, want <{want}>")
        if soft_fail(r) and not has_out:
            probs.add(path, f"testcase {name!r}: a soft failure without <system-out>")


def check_all(tap, junit, js):
    probs = Problems()
    results = check_json(js, probs)
    check_tap(tap, results, probs)
    check_junit(junit, results, probs)
    return probs


# ------------------------------------------------------------- self-test --

def mutants(tap, junit, js):
    """(what, file kind, function text -> text): each breaks one rule."""
    def sub(pat, rep, count=1):
        return lambda t: re.sub(pat, rep, t, count=count)

    def dup_record(t):
        rep = json.loads(t)
        rep["results"].append(dict(rep["results"][0]))
        return json.dumps(rep)

    def drop_field(t):
        rep = json.loads(t)
        del rep["results"][-1]["duration_ms"]
        return json.dumps(rep)

    return [
        ("a raw control character in the XML", "junit", sub(r'name="', 'name="\x01')),
        ("a reference to a forbidden character", "junit", sub(r'name="', 'name="&#x1B;')),
        ("not well-formed XML", "junit", sub(r"</testsuites>", "</testsuite>")),
        ("a testcase without time", "junit", sub(r' time="[0-9.]+"/>', "/>")),
        ("a non-numeric time", "junit", sub(r'(<testcase [^>]*time=")[0-9.]+', r"\1fast")),
        ("a testcase without classname", "junit", sub(r' classname="[^"]*"', "")),
        ("a wrong tests count", "junit", sub(r'(<testsuite [^>]*tests=")(\d+)',
                                             lambda m: m.group(1) + str(int(m.group(2)) + 1))),
        ("a wrong failures count", "junit", sub(r'(<testsuite [^>]*failures=")(\d+)',
                                                lambda m: m.group(1) + str(int(m.group(2)) + 1))),
        ("a testcase outside a testsuite", "junit",
         sub(r"</testsuites>", '<testcase name="x" classname="y" time="0"/></testsuites>')),
        ("a passed run written as a failure", "junit",
         sub(r'(<testcase [^>]*)/>', r'\1><failure message="m"/></testcase>')),
        ("a testcase in another area's suite", "junit",
         sub(r'classname="conformance\.(\w)"', 'classname="conformance.Q"')),
        ("a lost TAP line", "tap", sub(r"\nok \d+ - [^\n]*", "")),
        ("a wrong TAP plan", "tap", sub(r"\n1\.\.(\d+)", lambda m: f"\n1..{int(m.group(1)) + 1}")),
        ("a passed run written as not ok", "tap", sub(r"\nok (\d+) - ([^\n#]*)\n",
                                                      r"\nnot ok \1 - \2\n")),
        ("a duplicated JSON record", "json", dup_record),
        ("a JSON record without a documented field", "json", drop_field),
    ]


def self_test(tap, junit, js, runner):
    """Every broken copy must be refused.  Returns a list of faults."""
    faults = []
    with tempfile.TemporaryDirectory(prefix="acc-reports-") as tmp:
        files = {"tap": tap, "junit": junit, "json": js}
        for what, kind, fn in mutants(tap, junit, js):
            paths = {k: os.path.join(tmp, os.path.basename(v)) for k, v in files.items()}
            for k, v in files.items():
                shutil.copyfile(v, paths[k])
            with open(files[kind], encoding="utf-8") as f:
                text = f.read()
            broken = fn(text)
            if broken == text:
                faults.append(f"self-test: '{what}': the reports have nothing to break")
                continue
            with open(paths[kind], "w", encoding="utf-8") as f:
                f.write(broken)
            probs = check_all(paths["tap"], paths["junit"], paths["json"])
            print(f"  {'refused ' if probs else 'ACCEPTED'} {what}"
                  f"{': ' + probs[0][len(tmp) + 1:][:90] if probs else ''}")
            if not probs:
                faults.append(f"self-test: '{what}' was accepted")
        if runner:
            faults += control_bytes(runner, tmp)
            faults += same_whatever_jobs(runner, tmp)
            faults += errors_stay_errors(runner, tmp)
    return faults


def same_whatever_jobs(runner, tmp):
    """The same runs with 1 and with 3 jobs: identical reports but for the
    durations (times in JUnit and TAP, duration_ms, seconds, jobs).  The
    scratch suite (control_bytes, run first) mixes PASS, soft FAIL, XFAIL and
    SKIP, so results landing in another run's slot would show."""
    scratch = ["--cases", os.path.join(tmp, "cases"), "--expectations",
               os.path.join(tmp, "expect.txt"), "t.scratch.*"]
    faults = []
    for name, sel in (("suite", ["l.*", "m.fd-reuse.*", "m.threads.*"]), ("scratch", scratch)):
        texts = []
        for jobs in (1, 3):
            out = {k: os.path.join(tmp, f"j{jobs}-{name}.{k}") for k in ("tap", "xml", "json")}
            rc, so, se, _ = run_bounded([runner, "--jobs", str(jobs), "--tap", out["tap"],
                                         "--junit", out["xml"], "--json", out["json"]] + sel,
                                        timeout=300)
            if rc != 0:
                return [f"self-test: the runner with --jobs {jobs} exited {rc}: {(so + se)[-300:]}"]
            with open(out["json"], encoding="utf-8") as f:
                used = json.load(f).get("run_info", {}).get("jobs")
            if used != jobs:
                faults.append(f"self-test: --jobs {jobs} ran with {used} job(s)")
            t = {}
            for k, p in out.items():
                with open(p, encoding="utf-8") as f:
                    t[k] = re.sub(r'(time="|duration_ms": |duration_ms: |seconds": |jobs": )[0-9.]+',
                                  r"\1", f.read())
            texts.append(t)
        diff = [k for k in ("tap", "xml", "json") if texts[0][k] != texts[1][k]]
        print(f"  {'DIFFER  ' if diff else 'same    '} reports of the same {name} runs with 1 and 3 jobs")
        faults += [f"self-test: the {k} report of the {name} runs with 3 jobs differs from the one "
                   f"with 1" for k in diff]
    return faults


SCRATCH_CASES = {
    # A SHOULD case that fails: a soft failure, the run still passes.
    "soft.case": "id: t.scratch.soft\nclause: T16\nlevel: SHOULD\nrequires: input-limit\n"
                 "description: Fails on purpose.\n---\nchat a unix\nterm a \"\\n\"\n"
                 "send a \"abc\\n\"\nexpect a data \"xyz\"\n",
    # A MUST case that fails, listed XFAIL.
    "xfail.case": "id: t.scratch.xfail\nclause: T4\ndescription: Fails on purpose.\n---\n"
                  "chat a unix\nterm a \"\\n\"\nsend a \"abc\\n\"\nexpect a data \"xyz\"\n",
    # The reference caps terminators at 4096 bytes, which T3 allows: SKIP.
    "capped.case": "id: t.scratch.capped\nclause: T3 T4\ndescription: Refused terminator.\n"
                   "---\nchat a unix\nterm a \"x\" * 5000 -> 0 or skip EINVAL\n"
                   "send a \"abc\"\nexpect a data \"nothing of this runs\"\n",
    # Passes; listed SKIP with a reason full of bytes XML forbids.
    "skip.case": "id: t.scratch.skip\nclause: T4\ndescription: Passes.\n---\nchat a unix\n"
                 "term a \"\\n\"\nsend a \"abc\\n\"\nexpect a data \"abc\"\nexpect a found\n",
}
EXPECT = (b"t.scratch.xfail XFAIL known\n"
          b"t.scratch.skip SKIP reason\x01with\x1b[31m control \x7f bytes \xff\xfe\n")


def control_bytes(runner, tmp):
    """The runner's own writers on a scratch suite: a soft failure, an
    expected failure and a skip reason with control and non-UTF-8 bytes.
    The run passes (exit 0) and every report is valid and says so."""
    d = os.path.join(tmp, "cases", "t")
    os.makedirs(d)
    for name, text in SCRATCH_CASES.items():
        with open(os.path.join(d, name), "w", encoding="utf-8") as f:
            f.write(text)
    exp = os.path.join(tmp, "expect.txt")
    with open(exp, "wb") as f:
        f.write(EXPECT)
    out = {k: os.path.join(tmp, f"ctl.{k}") for k in ("tap", "xml", "json")}
    rc, so, se, _ = run_bounded([runner, "--cases", os.path.dirname(d), "--expectations", exp,
                                 "--split", "as-written", "--tap", out["tap"], "--junit",
                                 out["xml"], "--json", out["json"], "t.scratch.*"], timeout=120)
    if rc != 0:
        return [f"self-test: a run with only a soft failure and an XFAIL exited {rc}, "
                f"want 0: {(so + se)[-300:]}"]
    probs = check_all(out["tap"], out["xml"], out["json"])
    texts = {}
    for k, p in out.items():
        with open(p, encoding="utf-8") as f:
            texts[k] = f.read()
    if "\\x01" not in texts["xml"] or "\\x1B" not in texts["xml"] or "\\xFF" not in texts["xml"]:
        probs.add(out["xml"], "the control bytes of the skip reason are not written as \\xNN")
    if not re.search(r"\nnot ok \d+ - t\.scratch\.soft \[[^]]*\] # TODO soft", texts["tap"]):
        probs.add(out["tap"], "the soft failure is not 'not ok ... # TODO soft'")
    if not re.search(r"\nnot ok \d+ - t\.scratch\.xfail \[[^]]*\] # TODO", texts["tap"]):
        probs.add(out["tap"], "the expected failure is not 'not ok ... # TODO'")
    if "<failure" in texts["xml"] or "<system-out>soft failure" not in texts["xml"]:
        probs.add(out["xml"], "the soft failure is a <failure>, or has no <system-out>")
    soft = [r for r in json.loads(texts["json"])["results"] if r["id"] == "t.scratch.soft"]
    if not soft or any(r["status"] != "FAIL" or not r["soft"] for r in soft):
        probs.add(out["json"], "the soft failure is not status FAIL with soft true")
    capped = [r for r in json.loads(texts["json"])["results"] if r["id"] == "t.scratch.capped"]
    if not capped or any(r["status"] != "SKIP" or "EINVAL" not in r["message"] for r in capped):
        probs.add(out["json"], "a terminator refused with EINVAL under 'or skip EINVAL' "
                  "is not a SKIP that names EINVAL")
    if "soft" not in so:
        probs.add("terminal", "the soft failure is not called soft")
    print(f"  {'FAILED  ' if probs else 'valid   '} reports of a scratch run: a soft failure, "
          "an XFAIL, a skip reason with control and non-UTF-8 bytes")
    return [f"self-test: {p}" for p in probs]


# A case that hangs in a loop pass (line 7), listed XFAIL, and one that
# hangs inside a reaction (line 8: a pass on another, empty map waits its
# timeout out), run from the step on line 10.
HUNG_CASES = {
    "hang.case": "id: t.hung.pass\nclause: T4\ndescription: Outlasts its timeout.\n---\n"
                 "chat a unix\nterm a \"\\n\"\npass 60000\nexpect a found\n",
    "react.case": "id: t.hung.reaction\nclause: T4\ndescription: Hangs in a handler.\n---\n"
                  "map b\nchat a unix\nterm a \"\\n\"\non a found: pass b 60000\n"
                  "send a \"x\\n\"\n"
                  "expect a found\n",
}
HUNG_WHERE = {"t.hung.pass": "timeout after 1 s in step line 7 `pass 60000`",
              "t.hung.reaction": "timeout after 1 s in step line 8 `on a found: pass b 60000`"}


def errors_stay_errors(runner, tmp):
    """An ERROR is never an expected failure: a hung run listed XFAIL reports
    ERROR, fails the run (exit 1), names the step line and text it stopped
    in, and says the listing does not cover it; TAP has it as plain 'not ok',
    JUnit as <error>."""
    d = os.path.join(tmp, "hung", "t")
    os.makedirs(d)
    for name, text in HUNG_CASES.items():
        with open(os.path.join(d, name), "w", encoding="utf-8") as f:
            f.write(text)
    exp = os.path.join(tmp, "hung-expect.txt")
    with open(exp, "w", encoding="utf-8") as f:
        f.write("t.hung.* XFAIL known to hang\n")
    out = {k: os.path.join(tmp, f"hung.{k}") for k in ("tap", "xml", "json")}
    rc, so, se, _ = run_bounded([runner, "--cases", os.path.dirname(d), "--expectations", exp,
                                 "--split", "as-written", "--backend", "poll", "--timeout", "1",
                                 "--tap", out["tap"], "--junit", out["xml"], "--json",
                                 out["json"], "t.hung.*"], timeout=120)
    if rc != 1:
        return [f"self-test: a run whose only cases hang, listed XFAIL, exited {rc}, want 1: "
                f"{(so + se)[-300:]}"]
    probs = check_all(out["tap"], out["xml"], out["json"])
    with open(out["json"], encoding="utf-8") as f:
        results = json.load(f)["results"]
    with open(out["tap"], encoding="utf-8") as f:
        tap = f.read()
    with open(out["xml"], encoding="utf-8") as f:
        xml = f.read()
    for r in results:
        want = HUNG_WHERE.get(r["id"], "?")
        if r["status"] != "ERROR":
            probs.add(out["json"], f"{r['id']}: a hung run listed XFAIL is {r['status']}, "
                      "not ERROR")
        if want not in r["message"] or "listed XFAIL" not in r["message"]:
            probs.add(out["json"], f"{r['id']}: the message does not say '{want}' and that "
                      f"the XFAIL listing does not cover it: {r['message'][:200]!r}")
    if len(results) != len(HUNG_CASES):
        probs.add(out["json"], f"{len(results)} runs, want {len(HUNG_CASES)}")
    if "# TODO" in tap or xml.count("<error ") != len(HUNG_CASES):
        probs.add(out["tap"], "a hung run is a TAP TODO, or not a JUnit <error>")
    print(f"  {'FAILED  ' if probs else 'valid   '} a hang listed XFAIL is an ERROR that fails "
          "the run and names its step line")
    return [f"self-test: {p}" for p in probs]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default=os.path.join(ROOT, "build", "conformance", "ref"),
                    help="where report.tap, report.xml and report.json are "
                         "(default: the reference's)")
    ap.add_argument("--tap", help="the TAP file (default DIR/report.tap)")
    ap.add_argument("--junit", help="the JUnit file (default DIR/report.xml)")
    ap.add_argument("--json", help="the JSON file (default DIR/report.json)")
    ap.add_argument("--self-test", action="store_true",
                    help="first check that broken copies of the reports are refused")
    ap.add_argument("--runner", help="with --self-test: the runner whose escaping to check")
    a = ap.parse_args()
    tap = a.tap or os.path.join(a.dir, "report.tap")
    junit = a.junit or os.path.join(a.dir, "report.xml")
    js = a.json or os.path.join(a.dir, "report.json")
    for p in (tap, junit, js):
        if not os.path.isfile(p):
            print(f"check_reports: no {p} (make conformance first)", file=sys.stderr)
            return 99
    if a.runner and not os.access(a.runner, os.X_OK):
        print(f"check_reports: no runner at {a.runner}", file=sys.stderr)
        return 99
    probs = check_all(tap, junit, js)
    for p in probs[:20]:
        print(f"FAIL {p}")
    if len(probs) > 20:
        print(f"... and {len(probs) - 20} more")
    if probs:
        print(f"check_reports: {len(probs)} problem(s) in the reports")
        return 1
    if a.self_test:
        print("check_reports: self-test (each broken copy must be refused):")
        faults = self_test(tap, junit, js, a.runner)
        for f in faults:
            print(f"FAIL {f}")
        if faults:
            return 1
    with open(js, encoding="utf-8") as f:
        n = len(json.load(f)["results"])
    print(f"check_reports: {n} runs; TAP, JUnit XML and JSON valid and in agreement")
    return 0


if __name__ == "__main__":
    sys.exit(main())
