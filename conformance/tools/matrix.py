#!/usr/bin/env python3
"""matrix.py: runs the conformance suite against every shipped implementation
(conformance/implementations.ini) and writes the conformance matrix: cases x
implementations, grouped by area and clause, with the counts per
implementation and every failure with its expected and actual events, as
Markdown (docs/conformance-matrix.md) and as one self-contained HTML page
(docs/conformance-matrix.html).

A case's verdict for an implementation is the worst status over its variants
(split x backend), worst first: ERROR, FAIL, XPASS, XFAIL, SKIP, PASS.

An implementation whose `probe` command fails (one that this machine may lack
by design, like a backport of another Python version) is shown as SKIP with
the probe's last line as the reason; that is not an error.

Exit: 0 every implementation as its expectations say, 1 an implementation
deviates from them (a FAIL of a MUST case, an ERROR or an XPASS), 2 usage,
99 harness error (a runner did not build, did not run or wrote no report).
"""
import argparse
import configparser
import fnmatch
import html
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

from acclib import (ROOT, AREAS, BAD, RUN_FAILURES, RUN_OK, SEVERITY, deviates, kill_session,
                    load_report, progress, worst)

PROG = "matrix"
CONFIG = os.path.join(ROOT, "conformance", "implementations.ini")
SPLIT_ORDER = ("as-written", "one-shot", "bytewise", "random")
# Columns of every count table; NONE is a case the implementation did not run
# (an older runner, or a case another implementation has and it lacks).
COUNTED = SEVERITY + ("NONE",)


# -------------------------------------------------------------- the spec --

def read_spec(path):
    """Areas {letter: title} and clauses {id: (level, title, order)} from the
    spec's `## L — title` and `### ID [LEVEL] title` headings."""
    areas, clauses = {}, {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^## ([A-Z]) [—-]+ (.+?)\s*$", line)
            if m:
                areas[m.group(1)] = m.group(2)
                continue
            m = re.match(r"^### ([A-Z]\d+) \[([A-Z]+)\] (.+?)\s*$", line)
            if m:
                clauses[m.group(1)] = (m.group(2), m.group(3), len(clauses))
    return areas, clauses


# ------------------------------------------------------ implementations --

def read_config(path):
    cp = configparser.ConfigParser(interpolation=None)
    if not cp.read(path, encoding="utf-8"):
        raise ValueError(f"{path}: cannot read")
    impls = []
    for name in cp.sections():
        s = cp[name]
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", name):
            raise ValueError(f"{path}: [{name}]: names are letters, digits, '.', '_', '-'")
        if "run" not in s and "report" not in s:
            raise ValueError(f"{path}: [{name}] has neither run nor report")
        impls.append({
            "name": name, "title": s.get("title", name), "path": s.get("path", ""),
            "build": s.get("build", ""), "run": s.get("run", ""),
            "report": os.path.join(ROOT, s.get("report", f"build/matrix/{name}.json")),
            "expectations": s.get("expectations", ""),
            "requires": s.get("requires", "").split(),
            "probe": s.get("probe", ""),
            "timeout": float(s.get("timeout", "1800")),
        })
    if not impls:
        raise ValueError(f"{path}: no implementation")
    return impls


def run_logged(cmd, log, timeout, what, impl):
    """Runs a shell command with its output in log, a progress line every
    15 s; returns the exit code, or None when the time bound expired."""
    t0 = time.time()
    with open(log, "a", encoding="utf-8") as lf:
        lf.write(f"$ {cmd}\n")
        lf.flush()
        p = subprocess.Popen(cmd, shell=True, cwd=ROOT, stdout=lf, stderr=subprocess.STDOUT,
                             start_new_session=True)
        last = t0
        while True:
            try:
                rc = p.wait(timeout=1)
                kill_session(p.pid)     # a forked run left behind
                return rc
            except subprocess.TimeoutExpired:
                pass
            now = time.time()
            if now - t0 > timeout:
                kill_session(p.pid)
                p.wait()
                return None
            if now - last >= 15:
                progress(PROG, f"{impl}: still {what} ({now - t0:.0f} s)")
                last = now


def run_probe(im, log):
    """None when the implementation can run here; else why not (the probe's
    last output line), which makes its column SKIP rather than an error."""
    if not im["probe"]:
        return None
    progress(PROG, f"{im['name']}: probing")
    start = os.path.getsize(log)
    rc = run_logged(im["probe"], log, im["timeout"], "probing", im["name"])
    if rc == 0:
        return None
    with open(log, encoding="utf-8", errors="replace") as f:
        f.seek(start)
        out = [x.strip() for x in f.read().splitlines()[1:] if x.strip()]
    why = out[-1] if out else "no output"
    return f"probe exited {rc}: {why}" if rc is not None else "the probe did not finish"


def run_impl(im, seed, logdir):
    """Builds and runs one implementation; returns None or an error string
    (im["skipped"] set: the probe says it cannot run here)."""
    for req in im["requires"]:
        if shutil.which(req) is None:
            return f"requires '{req}', which is not installed"
    log = os.path.join(logdir, f"{im['name']}.log")
    open(log, "w").close()
    deadline = time.time() + im["timeout"]
    why = run_probe(im, log)
    if why:
        im["skipped"] = why
        return None
    if im["build"]:
        progress(PROG, f"{im['name']}: building")
        rc = run_logged(im["build"], log, im["timeout"], "building", im["name"])
        if rc != 0:
            return f"build failed (exit {rc}); see {os.path.relpath(log, ROOT)}"
    if not im["run"]:
        return None
    if os.path.exists(im["report"]):
        os.unlink(im["report"])
    os.makedirs(os.path.dirname(im["report"]), exist_ok=True)
    cmd = im["run"].replace("{report}", shlex.quote(im["report"])).replace("{seed}", str(seed))
    progress(PROG, f"{im['name']}: running the suite")
    t0 = time.time()
    rc = run_logged(cmd, log, max(1.0, deadline - time.time()), "running", im["name"])
    if rc is None:
        return f"the run exceeded {im['timeout']:g} s; see {os.path.relpath(log, ROOT)}"
    if rc not in (RUN_OK, RUN_FAILURES):
        # A runner that dies after writing its whole report (a crash in its
        # clean-up) still measured the implementation: the matrix shows the
        # results, flags the crash, and the run ends as a harness error.
        msg = f"the runner exited {rc}; see {os.path.relpath(log, ROOT)}"
        if os.path.exists(im["report"]):
            im["warning"] = msg + " (after writing its report: its results are shown)"
            return None
        return msg
    if not os.path.exists(im["report"]):
        return f"the runner wrote no report at {os.path.relpath(im['report'], ROOT)}"
    im["seconds"] = time.time() - t0
    im["exit"] = rc
    return None


def read_expectations(path):
    """[(glob, kind, reason)] of an expectations file, for quoting reasons."""
    out = []
    full = os.path.join(ROOT, path) if path else ""
    if not full or not os.path.exists(full):
        return out
    with open(full, encoding="utf-8") as f:
        for line in f:
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            parts = s.split(None, 2)
            if len(parts) >= 2 and parts[1] in ("XFAIL", "SKIP"):
                out.append((parts[0], parts[1], parts[2] if len(parts) > 2 else ""))
    return out


def reason_for(exps, r):
    full = f"{r['id']}@{r['split']}/{r['backend']}"
    for g, kind, why in exps:
        if fnmatch.fnmatchcase(r["id"], g) or fnmatch.fnmatchcase(full, g):
            return kind, why
    return None, ""


# ------------------------------------------------------------- the model --

def split_message(msg):
    """(location, expected, actual) from a runner's failure message; the
    executor writes "FILE:LINE: expected X, got Y" and a few other shapes."""
    loc = ""
    m = re.match(r"^(\S+\.case(?::\d+)?): (.*)$", msg, re.S)
    if m:
        loc, msg = m.group(1), m.group(2)
    m = re.match(r"^(\S+\.case(?::\d+)?): (.*)$", msg, re.S)   # "file: ... at the end"
    if m:
        loc, msg = m.group(1), m.group(2)
    pats = [
        (r"^unexpected events at the end on (\S+): (.*)$", lambda m: (f"no more events on {m[1]}", m[2])),
        (r"^(.*?)expected no more events on (\S+), got: (.*)$",
         lambda m: (f"{m[1]}no more events on {m[2]}", m[3])),
        (r"^(.*?)expected (.+?), got:? (.*)$", lambda m: (f"{m[1]}{m[2]}", m[3])),
        (r"^(.*?) returned (.+?), expected (.*)$", lambda m: (m[3], f"{m[1]} returned {m[2]}")),
        (r"^expected (.+?), it (.*)$", lambda m: (m[1], f"it {m[2]}")),
        (r"^(.*), want (.*)$", lambda m: (m[2], m[1])),
        (r"^expected (\S+) to be (\S+)$", lambda m: (f"{m[1]} {m[2]}", f"{m[1]} not {m[2]}")),
    ]
    # An ERROR: libcheck's own words, or the runner's (conformance/src/verdict.c).
    if re.match(r"^(Received signal|Test timeout expired|Early exit|timeout after |"
                r"signal \d+ \(|the run exited early)", msg):
        return loc, "the case runs to its end", msg.strip()
    for pat, f in pats:
        mm = re.match(pat, msg, re.S)
        if mm:
            e, a = f(mm)
            return loc, e.strip(), a.strip()
    return loc, "", msg.strip()


def case_step(loc):
    """The case file's line a failure points at: the step it was running."""
    m = re.match(r"^(\S+\.case):(\d+)$", loc)
    if not m:
        return ""
    path = m.group(1) if os.path.isabs(m.group(1)) else os.path.join(ROOT, m.group(1))
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        return lines[int(m.group(2)) - 1].strip()
    except (OSError, IndexError):
        return ""


def build_model(impls, spec_areas, spec_clauses):
    """cases {id: {clauses, level, area, clause, per: {impl: [results]}}} and
    the per-implementation counts."""
    cases = {}
    for im in impls:
        for r in im.get("results", []):
            c = cases.setdefault(r["id"], {"id": r["id"], "clauses": r["clauses"],
                                           "level": r["level"], "per": {}})
            c["per"].setdefault(im["name"], []).append(r)
    for c in cases.values():
        first = c["clauses"][0] if c["clauses"] else "?"
        c["clause"] = first
        c["area"] = first[0] if first[:1] in AREAS else "?"
        for name, rs in c["per"].items():
            rs.sort(key=lambda r: (SPLIT_ORDER.index(r["split"]) if r["split"] in SPLIT_ORDER
                                   else 9, r["split"], r["backend"]))
    for im in impls:
        n_cases = {k: 0 for k in COUNTED}
        n_runs = {k: 0 for k in SEVERITY}
        for c in cases.values():
            rs = c["per"].get(im["name"])
            if not rs:
                n_cases["NONE"] += 1
                continue
            n_cases[worst({r["status"] for r in rs})] += 1
            for r in rs:
                n_runs[r["status"]] = n_runs.get(r["status"], 0) + 1
        im["n_cases"], im["n_runs"] = n_cases, n_runs
        im["deviations"] = sum(1 for r in im.get("results", []) if deviates(r))
    order = {k: v[2] for k, v in spec_clauses.items()}

    def key(c):
        return (AREAS.index(c["area"]) if c["area"] in AREAS else 99,
                order.get(c["clause"], 10 ** 6), c["clause"], c["id"])
    return sorted(cases.values(), key=key)


def cell(c, im):
    """(verdict, 'k/n' of the variants at that verdict, tooltip)."""
    rs = c["per"].get(im["name"])
    if not rs:
        return "NONE", "", "not run"
    v = worst({r["status"] for r in rs})
    k = sum(1 for r in rs if r["status"] == v)
    tip = "\n".join(f"{r['split']}/{r['backend']}: {r['status']}" for r in rs)
    return v, (f"{k}/{len(rs)}" if k != len(rs) else ""), tip


def failures(c, im, exps):
    """Groups of a case's failing variants with one message: [(status,
    [variants], message, reason)].  XFAILs are failures too (known ones)."""
    groups = {}
    for r in c["per"].get(im["name"], []):
        if r["status"] not in ("FAIL", "ERROR", "XPASS", "XFAIL"):
            continue
        msg = r.get("message", "") or ("passed, but the expectations say it fails"
                                        if r["status"] == "XPASS" else "")
        _, why = reason_for(exps, r)
        g = groups.setdefault((r["status"], msg), [r["status"], [], msg, why])
        g[1].append(f"{r['split']}/{r['backend']}")
    sev = {s: i for i, s in enumerate(SEVERITY)}
    return sorted(groups.values(), key=lambda g: (sev[g[0]], -len(g[1])))


# -------------------------------------------------------------- Markdown --

def md_code(s):
    """s as a Markdown code span: backslashes are literal there, and a
    backtick inside needs a longer fence."""
    s = s.replace("\n", " ")
    fence = "``" if "`" in s else "`"
    return f"{fence} {s} {fence}" if fence == "``" else f"`{s}`"


def md_escape(s):
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def write_markdown(path, impls, cases, spec_areas, spec_clauses, seed, errors, skipped=None):
    skipped = skipped or {}
    L = ["# Conformance matrix", "",
         f"Generated by `python3 conformance/tools/matrix.py` (seed {seed}) from the implementations in",
         "`conformance/implementations.ini`; do not edit by hand. The same matrix as one page:",
         "[conformance-matrix.html](conformance-matrix.html).", "",
         "A case's verdict for an implementation is the worst status over its variants (read",
         "split x backend), worst first: ERROR, FAIL, XPASS, XFAIL, SKIP, PASS; `FAIL 2/12` means",
         "2 of its 12 variants failed. XFAIL is an expected failure listed, with its reason, in",
         "the implementation's expectations file. `—` is a case the implementation did not run.",
         "", "## Counts", "",
         "| implementation | path | version | cases | " + " | ".join(COUNTED[:-1]) +
         " | not run | runs | runs FAIL/ERROR/XPASS | as expected |",
         "| --- | --- | --- | ---: | " + " | ".join("---:" for _ in COUNTED) +
         " | ---: | ---: | --- |"]
    for im in impls:
        if im["name"] in errors:
            L.append(f"| {im['title']} | {im['path']} | | harness error: {md_escape(errors[im['name']])} |"
                     + " |" * (len(COUNTED) + 3))
            continue
        if im["name"] in skipped:
            L.append(f"| {im['title']} | {im['path']} | | SKIP: {md_escape(skipped[im['name']])} |"
                     + " |" * (len(COUNTED) + 3))
            continue
        nc, nr = im["n_cases"], im["n_runs"]
        ran = sum(nc[k] for k in SEVERITY)
        runs = sum(nr.values())
        nbad = sum(nr.get(s, 0) for s in BAD)
        L.append(f"| {im['title']} | {im['path']} | {md_escape(im.get('version', ''))} | {ran} | "
                 + " | ".join(str(nc[k]) for k in COUNTED) + f" | {runs} | {nbad} | "
                 + ("yes" if im["deviations"] == 0 else f"**no: {im['deviations']} run(s) deviate**")
                 + (f"; **harness error**: {md_escape(im['warning'])}" if im.get("warning") else "")
                 + " |")
    ok_impls = [im for im in impls if im["name"] not in errors and im["name"] not in skipped]
    for a in AREAS + "?":
        group = [c for c in cases if c["area"] == a]
        if not group:
            continue
        L += ["", f"## {a} — {spec_areas.get(a, 'other')}" if a != "?" else "## Other", "",
              "| clause | case | level | " + " | ".join(
                  im["title"] + (f" ({im['path']})" if im["path"] else "") for im in ok_impls) + " |",
              "| --- | --- | --- | " + " | ".join("---" for _ in ok_impls) + " |"]
        last = None
        for c in group:
            cl = c["clause"]
            head = ""
            if cl != last:
                lv, title, _ = spec_clauses.get(cl, ("", "not in the spec", 0))
                head = f"**{cl}** {md_escape(title)}"
                last = cl
            cells = []
            for im in ok_impls:
                v, frac, _ = cell(c, im)
                txt = "—" if v == "NONE" else v + (f" {frac}" if frac else "")
                if v in BAD:
                    txt = f"**{txt}**"
                cells.append(txt)
            also = [x for x in c["clauses"][1:]]
            L.append(f"| {head} | `{c['id']}`" + (f" (also {' '.join(also)})" if also else "")
                     + f" | {c['level']} | " + " | ".join(cells) + " |")
    L += ["", "## Failures", "",
          "Every failing variant, grouped by message: the expected and the actual events are",
          "the runner's own words; *step* is the case line that was running.", ""]
    for im in ok_impls:
        items = [(c, failures(c, im, im["exps"])) for c in cases]
        items = [(c, g) for c, g in items if g]
        L += [f"### {im['title']}" + (f" ({im['path']})" if im["path"] else ""), ""]
        if not items:
            L += ["No failure.", ""]
            continue
        for c, groups in items:
            v, _, _ = cell(c, im)
            n = len(c["per"][im["name"]])
            L.append(f"- **`{c['id']}`** ({' '.join(c['clauses'])}, {c['level']}): {v}")
            for status, vars_, msg, why in groups:
                loc, exp, act = split_message(msg)
                step = case_step(loc)
                L.append(f"  - {status} in {len(vars_)} of {n} variants: {', '.join(vars_)}")
                if step:
                    L.append(f"    - step: {md_code(step)} ({loc})")
                elif loc:
                    L.append(f"    - at: {loc}")
                if exp:
                    L.append(f"    - expected: {md_escape(exp)}")
                L.append(f"    - actual: {md_escape(act) if act else '(no message)'}")
                if why:
                    L.append(f"    - why expected: {md_escape(why)}")
        L.append("")
    if errors:
        L += ["## Harness errors", ""] + [f"- {n}: {md_escape(e)}" for n, e in errors.items()] + [""]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(L).rstrip("\n") + "\n")


# ------------------------------------------------------------------ HTML --

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1b1b1b;background:#fff}
h1{font-size:1.5em;margin:0 0 .3em}h2{font-size:1.2em;margin:1.4em 0 .4em}
h3{font-size:1.05em;margin:1em 0 .3em}
table{border-collapse:collapse;margin:.4em 0}
th,td{border:1px solid #c9c9c9;padding:2px 7px;text-align:left;vertical-align:top}
th{background:#eef0f3;position:sticky;top:0}
tr.area th{background:#dde3ec;font-size:1.05em;position:static}
tr.clause td{background:#f6f7f9;font-weight:600}
td.id{font-family:ui-monospace,monospace;font-size:13px}
td.v{text-align:center;font-weight:600;white-space:nowrap;cursor:help}
.v-PASS{background:#d9f2d9;color:#145214}.v-FAIL{background:#f8d0d0;color:#7a0b0b}
.v-ERROR{background:#e89a9a;color:#4d0000}.v-XPASS{background:#f6ddb0;color:#6b4100}
.v-XFAIL{background:#fff2bf;color:#5c4a00}.v-SKIP{background:#e4e4e4;color:#444}
.v-NONE{background:#fff;color:#999}
td.v a{color:inherit;text-decoration:none}
small{font-weight:400}
#counts td{font-variant-numeric:tabular-nums}
tr#summary-row td{background:#eef0f3;font-weight:600;font-size:12px;position:static}
.mismatch{color:#b00;font-weight:700}
details.failure{margin:.3em 0 .6em;border-left:4px solid #d88;padding-left:.6em}
details.failure.XFAIL{border-color:#e0c060}
details.failure summary{cursor:pointer;font-family:ui-monospace,monospace}
dl{margin:.2em 0 .2em 1em}dt{font-weight:600;float:left;clear:left;width:6.5em}
dd{margin-left:7em;font-family:ui-monospace,monospace;white-space:pre-wrap;word-break:break-word}
.muted{color:#666}
"""

# Recounts the verdicts from the table's cells, so that a test can compare
# what the browser rendered with the reports, and flags any disagreement with
# the counts written when the page was generated.
JS = """
(function () {
  var impls = JSON.parse(document.getElementById('impls').textContent);
  var verdicts = ['ERROR', 'FAIL', 'XPASS', 'XFAIL', 'SKIP', 'PASS', 'NONE'];
  var rows = document.querySelectorAll('#matrix tbody tr.case');
  var ok = true;
  impls.forEach(function (im) {
    var n = {}, runs = {};
    verdicts.forEach(function (v) { n[v] = 0; runs[v] = 0; });
    rows.forEach(function (tr) {
      var td = tr.querySelector('td.v[data-impl="' + im + '"]');
      if (!td) return;
      n[td.dataset.verdict] += 1;
      (td.dataset.runs || '').split(' ').forEach(function (kv) {
        if (!kv) return;
        var p = kv.split(':');
        runs[p[0]] += parseInt(p[1], 10);
      });
    });
    verdicts.forEach(function (v) {
      var out = document.getElementById('js-count-' + im + '-' + v);
      if (out) out.textContent = String(n[v]);
      var st = document.getElementById('count-' + im + '-' + v);
      if (st && parseInt(st.textContent, 10) !== n[v]) { ok = false; st.classList.add('mismatch'); }
      var ro = document.getElementById('js-runs-' + im + '-' + v);
      if (ro) ro.textContent = String(runs[v]);
    });
    var sum = document.getElementById('summary-' + im);
    if (sum) sum.textContent = n.PASS + ' pass, ' + (n.FAIL + n.ERROR + n.XPASS) + ' failing, ' +
        n.XFAIL + ' xfail, ' + n.SKIP + ' skip' + (n.NONE ? ', ' + n.NONE + ' not run' : '');
  });
  var body = document.body;
  body.setAttribute('data-js-rows', String(rows.length));
  body.setAttribute('data-js-check', ok ? 'ok' : 'mismatch');
})();
"""


def slug(name):
    return re.sub(r"[^a-z0-9-]", "-", name.lower())


def write_html(path, impls, cases, spec_areas, spec_clauses, seed, errors, skipped=None):
    skipped = skipped or {}
    e = html.escape
    ok_impls = [im for im in impls if im["name"] not in errors and im["name"] not in skipped]
    H = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
         "<title>achat conformance matrix</title>",
         '<meta name="viewport" content="width=device-width, initial-scale=1">',
         f"<style>{CSS}</style></head>",
         f'<body data-seed="{seed}" data-cases="{len(cases)}">',
         "<h1>achat conformance matrix</h1>",
         f'<p class="muted">Generated by <code>python3 conformance/tools/matrix.py</code> (seed {seed}) from '
         "<code>conformance/implementations.ini</code>. A case's verdict is the worst status over "
         "its variants (split &times; backend): ERROR, FAIL, XPASS, XFAIL, SKIP, PASS; "
         "<i>2/12</i> counts the variants at that verdict. Hover a cell for every variant; "
         "click a failing one for its expected and actual events.</p>"]
    # Counts per implementation: the generated numbers beside the ones the
    # page's script recounts from the table.
    H += ['<h2 id="counts-title">Counts per implementation</h2>', '<table id="counts">',
          "<thead><tr><th>implementation</th><th>path</th><th>version</th><th>counted</th>"
          + "".join(f"<th>{v if v != 'NONE' else 'not run'}</th>" for v in COUNTED)
          + "<th>runs</th><th>as expected</th></tr></thead><tbody>"]
    for im in impls:
        s = slug(im["name"])
        if im["name"] in errors:
            H.append(f'<tr class="impl-error" data-impl="{s}"><td>{e(im["title"])}</td>'
                     f'<td>{e(im["path"])}</td><td colspan="{len(COUNTED) + 4}" class="mismatch">'
                     f'harness error: {e(errors[im["name"]])}</td></tr>')
            continue
        if im["name"] in skipped:
            H.append(f'<tr class="impl-skip" data-impl="{s}"><td>{e(im["title"])}</td>'
                     f'<td>{e(im["path"])}</td><td colspan="{len(COUNTED) + 4}">'
                     f'SKIP: {e(skipped[im["name"]])}</td></tr>')
            continue
        nc, nr = im["n_cases"], im["n_runs"]
        runs = sum(nr.values())
        H.append(f'<tr class="impl" data-impl="{s}"><td rowspan="2">{e(im["title"])}</td>'
                 f'<td rowspan="2">{e(im["path"])}</td><td rowspan="2">{e(im.get("version", ""))}</td>'
                 "<td>cases (generated)</td>"
                 + "".join(f'<td id="count-{s}-{v}" class="n n-{v}">{nc[v]}</td>' for v in COUNTED)
                 + f'<td rowspan="2" id="runs-{s}">{runs}</td><td rowspan="2" id="ok-{s}">'
                 + ("yes" if im["deviations"] == 0 else
                    f'<span class="mismatch">no: {im["deviations"]} run(s) deviate</span>')
                 + (f'<br><span class="mismatch harness">harness error: {e(im["warning"])}</span>'
                    if im.get("warning") else "")
                 + "</td></tr>")
        H.append(f'<tr class="impl-js" data-impl="{s}"><td>cases (recounted)</td>'
                 + "".join(f'<td id="js-count-{s}-{v}" class="n js-n-{v}">?</td>' for v in COUNTED)
                 + "</tr>")
    H.append("</tbody></table>")
    H.append('<p class="muted">Runs per status: ' + "; ".join(
        f'{e(im["title"])} ({e(im["path"])}): ' + ", ".join(
            f'{v} <span id="run-{slug(im["name"])}-{v}">{im["n_runs"].get(v, 0)}</span>'
            f'/<span id="js-runs-{slug(im["name"])}-{v}">?</span>' for v in SEVERITY)
        for im in ok_impls) + " (generated/recounted)</p>")

    # The matrix.
    H += ['<h2>Cases &times; implementations</h2>', '<table id="matrix">',
          "<thead><tr><th>case</th><th>clauses</th><th>level</th>"
          + "".join(f'<th data-impl="{slug(im["name"])}">{e(im["title"])}<br><small>'
                    f'{e(im["path"])}</small></th>' for im in ok_impls) + "</tr>",
          # The summary row sits under the headings, where a reader looks
          # first; the page's script fills it from the rows below.
          '<tr id="summary-row"><td colspan="3">summary (cases, recounted)</td>'
          + "".join(f'<td id="summary-{slug(im["name"])}" data-impl="{slug(im["name"])}"></td>'
                    for im in ok_impls) + "</tr></thead><tbody>"]
    ncol = 3 + len(ok_impls)
    last_area = last_clause = None
    for c in cases:
        if c["area"] != last_area:
            last_area = c["area"]
            H.append(f'<tr class="area" id="area-{e(c["area"])}"><th colspan="{ncol}">'
                     f'{e(c["area"])} — {e(spec_areas.get(c["area"], "other"))}</th></tr>')
        if c["clause"] != last_clause:
            last_clause = c["clause"]
            lv, title, _ = spec_clauses.get(c["clause"], ("", "not in the spec", 0))
            H.append(f'<tr class="clause" id="clause-{e(c["clause"])}"><td colspan="{ncol}">'
                     f'{e(c["clause"])} [{e(lv)}] {e(title)}</td></tr>')
        tds = []
        for im in ok_impls:
            v, frac, tip = cell(c, im)
            runs = {}
            for r in c["per"].get(im["name"], []):
                runs[r["status"]] = runs.get(r["status"], 0) + 1
            rattr = " ".join(f"{k}:{n}" for k, n in sorted(runs.items()))
            label = "—" if v == "NONE" else v
            inner = label + (f" <small>{frac}</small>" if frac else "")
            if v in ("FAIL", "ERROR", "XPASS", "XFAIL"):
                inner = f'<a href="#f-{slug(im["name"])}-{e(c["id"])}">{inner}</a>'
            tds.append(f'<td class="v v-{v}" data-impl="{slug(im["name"])}" data-verdict="{v}" '
                       f'data-runs="{rattr}" title="{e(tip)}">{inner}</td>')
        H.append(f'<tr class="case" data-case="{e(c["id"])}" data-area="{e(c["area"])}" '
                 f'data-clause="{e(c["clause"])}"><td class="id">{e(c["id"])}</td>'
                 f'<td>{e(" ".join(c["clauses"]))}</td><td>{e(c["level"])}</td>' + "".join(tds)
                 + "</tr>")
    H.append("</tbody></table>")

    # Every failure with its expected and actual events.
    H.append('<h2 id="failures">Failures</h2>')
    for im in ok_impls:
        s = slug(im["name"])
        H.append(f'<section class="impl-failures" data-impl="{s}"><h3>{e(im["title"])} '
                 f'<small>{e(im["path"])}</small></h3>')
        any_ = False
        for c in cases:
            groups = failures(c, im, im["exps"])
            if not groups:
                continue
            any_ = True
            v, _, _ = cell(c, im)
            n = len(c["per"][im["name"]])
            H.append(f'<details class="failure {v}" id="f-{s}-{e(c["id"])}" data-impl="{s}" '
                     f'data-case="{e(c["id"])}" open><summary>{e(c["id"])} — {v} '
                     f'<span class="muted">({e(" ".join(c["clauses"]))}, {e(c["level"])})</span>'
                     "</summary>")
            for status, vars_, msg, why in groups:
                loc, exp, act = split_message(msg)
                step = case_step(loc)
                H.append(f'<dl class="group"><dt>{e(status)}</dt><dd>{len(vars_)} of {n} variants: '
                         f'{e(", ".join(vars_))}</dd>')
                if step:
                    H.append(f"<dt>step</dt><dd>{e(step)}  <span class='muted'>({e(loc)})</span></dd>")
                elif loc:
                    H.append(f"<dt>at</dt><dd>{e(loc)}</dd>")
                H.append(f'<dt>expected</dt><dd class="expected">{e(exp) if exp else "(see actual)"}</dd>')
                H.append(f'<dt>actual</dt><dd class="actual">{e(act) if act else "(no message)"}</dd>')
                if why:
                    H.append(f'<dt>why</dt><dd class="why">{e(why)}</dd>')
                H.append("</dl>")
            H.append("</details>")
        if not any_:
            H.append('<p class="none">No failure.</p>')
        H.append("</section>")
    H.append('<script type="application/json" id="impls">'
             + json.dumps([slug(im["name"]) for im in ok_impls]) + "</script>")
    H.append(f"<script>{JS}</script></body></html>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(H) + "\n")


# ------------------------------------------------------------------ main --

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0].split(": ", 1)[1],
                                 epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=CONFIG, help="implementations (default %(default)s)")
    ap.add_argument("--only", nargs="*", default=[], metavar="NAME",
                    help="only these implementations (sections of the config)")
    ap.add_argument("--seed", type=int, default=1,
                    help="seed of the random split, the same for every implementation (default 1)")
    ap.add_argument("--no-run", action="store_true",
                    help="do not build or run: regenerate the matrix from the reports on disk")
    ap.add_argument("--spec", default=os.path.join(ROOT, "docs", "spec.md"))
    ap.add_argument("--markdown", default=os.path.join(ROOT, "docs", "conformance-matrix.md"))
    ap.add_argument("--html", default=os.path.join(ROOT, "docs", "conformance-matrix.html"))
    ap.add_argument("--logs", default=os.path.join(ROOT, "build", "matrix"),
                    help="where build and run logs go (default build/matrix)")
    ap.add_argument("--list", action="store_true", help="list the implementations and exit")
    args = ap.parse_args()
    try:
        impls = read_config(args.config)
        spec_areas, spec_clauses = read_spec(args.spec)
    except (OSError, ValueError, configparser.Error) as ex:
        print(f"{PROG}: {ex}", file=sys.stderr)
        return 2
    if args.only:
        unknown = set(args.only) - {im["name"] for im in impls}
        if unknown:
            ap.error(f"no implementation named {', '.join(sorted(unknown))}")
        impls = [im for im in impls if im["name"] in args.only]
    if args.list:
        for im in impls:
            print(f"{im['name']:20} {im['path']:10} {im['title']}\n    build: {im['build']}\n"
                  f"    run:   {im['run']}\n    report: {os.path.relpath(im['report'], ROOT)}")
        return 0
    os.makedirs(args.logs, exist_ok=True)
    errors, skipped = {}, {}
    t0 = time.time()
    for i, im in enumerate(impls, 1):
        progress(PROG, f"[{i}/{len(impls)}] {im['name']} ({im['path'] or 'unknown path'})")
        if args.no_run:
            # Reports on disk, but a probe still says which cannot run here:
            # a skipped implementation has no report and is no error.
            err = None
            why = run_probe(im, os.path.join(args.logs, f"{im['name']}.log"))
            if why:
                im["skipped"] = why
        else:
            err = run_impl(im, args.seed, args.logs)
        if im.get("skipped"):
            skipped[im["name"]] = im["skipped"]
            progress(PROG, f"{im['name']}: SKIP: {im['skipped']}")
            continue
        if err is None:
            try:
                rep = load_report(im["report"])
                im["results"] = rep["results"]
                im["version"] = rep.get("run_info", {}).get("impl_version", "")
                im["impl_id"] = rep.get("run_info", {}).get("impl", "")
            except (OSError, ValueError) as ex:
                err = f"unreadable report: {ex}"
        if err:
            errors[im["name"]] = err
            progress(PROG, f"{im['name']}: HARNESS ERROR: {err}")
            continue
        if im.get("warning"):
            progress(PROG, f"{im['name']}: HARNESS ERROR: {im['warning']}")
        im["exps"] = read_expectations(im["expectations"])
        bad = sum(1 for r in im["results"] if deviates(r))
        progress(PROG, f"{im['name']}: {len(im['results'])} runs, "
                       f"{sum(1 for r in im['results'] if r['status'] in BAD)} failing, "
                       f"{bad} deviating from the expectations")
    cases = build_model(impls, spec_areas, spec_clauses)
    for p in (args.markdown, args.html):
        os.makedirs(os.path.dirname(os.path.abspath(p)), exist_ok=True)
    write_markdown(args.markdown, impls, cases, spec_areas, spec_clauses, args.seed, errors,
                   skipped)
    write_html(args.html, impls, cases, spec_areas, spec_clauses, args.seed, errors, skipped)
    print(f"\n{'implementation':24} {'cases':>6} " + " ".join(f"{v:>6}" for v in COUNTED[:-1])
          + f" {'notrun':>6}  as expected")
    for im in impls:
        if im["name"] in errors:
            print(f"{im['name']:24} harness error: {errors[im['name']]}")
            continue
        if im["name"] in skipped:
            print(f"{im['name']:24} SKIP: {skipped[im['name']]}")
            continue
        nc = im["n_cases"]
        print(f"{im['name']:24} {sum(nc[k] for k in SEVERITY):6d} "
              + " ".join(f"{nc[v]:6d}" for v in COUNTED)
              + ("  yes" if im["deviations"] == 0 else f"  NO ({im['deviations']} runs)")
              + (f"  HARNESS: {im['warning']}" if im.get("warning") else ""))
    print(f"\nwrote {os.path.relpath(args.markdown, ROOT)} and {os.path.relpath(args.html, ROOT)} "
          f"({len(cases)} cases, {time.time() - t0:.0f} s)")
    if errors or any(im.get("warning") for im in impls):
        return 99
    return 1 if any(im["deviations"] for im in impls) else 0


if __name__ == "__main__":
    sys.exit(main())
