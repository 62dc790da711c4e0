#!/usr/bin/env python3
"""selftest.py: proves the conformance suite rejects the bugs real ports make.
Builds the runner against the reference with one planted bug at a time (the
catalogue conformance/selftest/mutants.txt: each entry a patch to ref/src
named after the porting mistake it models) and runs only the case(s) the
entry names as its catchers; each must reject it.  The same cases must pass
on the unpatched reference first, or a "catch" would prove nothing.

Fast by construction: the suite's objects and the reference's are compiled
once; a bug recompiles only the files its patch touches and links.

Exit: 0 every entry applied, compiled and was rejected by its named cases
(known survivors are listed, never counted as caught), 1 an entry was not
rejected, 2 usage, 99 harness error (a patch that does not apply or compile,
a catching case that fails on the reference).
"""
import argparse
import concurrent.futures
import glob
import json
import os
import shutil
import subprocess
import sys
import time

from acclib import ROOT, AREAS, BAD, run_bounded

CC = os.environ.get("CC", "cc")
# The Makefile's flags for the library, -Werror included: a patch must build
# where the reference builds.  No -g: nothing here is debugged.
REF_FLAGS = ["-std=c11", "-D_GNU_SOURCE", "-O2", "-Wall", "-Wextra", "-Wstrict-prototypes",
             "-Wwrite-strings", "-Wno-missing-field-initializers", "-Werror"]
# As conformance/adapters/ref/impl.mk does to the library: its allocations
# and syscalls go through the suite's failing allocator and interposer
# (capabilities alloc-fail, sys-fail), by the rename lists the suite ships.
RENAMES = [f"--redefine-syms={p}" for p in
           sorted(glob.glob(os.path.join(ROOT, "conformance", "src", "*.syms")))]
KEYS = ("area", "models", "catch", "survivor", "san")
# "san: address": a bug whose only symptom is a use after free or an
# overflow is built and run under AddressSanitizer (suite and reference
# alike); a report aborts the run, which the runner counts as an ERROR.
SAN_FLAGS = ["-fsanitize=address", "-fno-omit-frame-pointer", "-O1"]
SAN_ENV = dict(os.environ, ASAN_OPTIONS="abort_on_error=1:detect_leaks=1")


# ------------------------------------------------------------ catalogue --

def parse(path):
    """The catalogue: a list of dicts with name, area, models, catch (a list
    of case ids), survivor (why no case catches it, or ""), edits."""
    entries, cur = [], None
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            where = f"{path}:{n}"
            if line.startswith("[") and line.endswith("]"):
                cur = {"name": line[1:-1], "line": n, "edits": [],
                       **{k: "" for k in KEYS}}
                entries.append(cur)
            elif cur is None:
                raise ValueError(f"{where}: text before the first [name]")
            elif any(line.startswith(k + ":") for k in KEYS):
                k, v = line.split(":", 1)
                cur[k] = (cur[k] + " " + v.strip()).strip()
            elif line.startswith("file:"):
                cur["edits"].append([line[5:].strip(), None, None])
            elif line.startswith("- ") and cur["edits"] and cur["edits"][-1][1] is None:
                cur["edits"][-1][1] = line[2:].replace("\\n", "\n")
            elif line.startswith("+ ") and cur["edits"] and cur["edits"][-1][2] is None:
                cur["edits"][-1][2] = line[2:].replace("\\n", "\n")
            elif line in ("+", "+ ") and cur["edits"] and cur["edits"][-1][2] is None:
                cur["edits"][-1][2] = ""
            else:
                raise ValueError(f"{where}: cannot read '{line}'")
    names = set()
    for e in entries:
        where = f"{path}:{e['line']}: [{e['name']}]"
        if e["name"] in names:
            raise ValueError(f"{where}: a second entry of that name")
        names.add(e["name"])
        if not e["edits"] or any(x[1] is None or x[2] is None for x in e["edits"]):
            raise ValueError(f"{where}: an incomplete edit (file:, '- old', '+ new')")
        if e["area"] not in AREAS or len(e["area"]) != 1:
            raise ValueError(f"{where}: area must be one of {AREAS}")
        if not e["models"]:
            raise ValueError(f"{where}: no 'models:' (the mistake and its source)")
        e["catch"] = e["catch"].split()
        if e["survivor"]:
            if e["catch"]:
                raise ValueError(f"{where}: a known survivor names no catching case")
        elif not e["catch"]:
            raise ValueError(f"{where}: no 'catch:' case id (or 'survivor:' reason)")
        if e["san"] not in ("", "address"):
            raise ValueError(f"{where}: 'san:' takes only 'address'")
        if any(any(ch in c for ch in "*?[") for c in e["catch"]):
            raise ValueError(f"{where}: 'catch:' takes case ids, not globs")
    return entries


# ------------------------------------------------------------- building --

def run(cmd, cwd=None):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return p.returncode, (p.stdout + p.stderr)[-2000:]


def compile_ref(src_path, obj, extra=()):
    """One reference source to an object whose allocations and syscalls fail
    on demand."""
    rc, log = run([CC, *REF_FLAGS, *extra, "-I" + os.path.join(ROOT, "ref", "include"),
                   "-I" + os.path.join(ROOT, "ref", "src"), "-c", src_path, "-o", obj])
    if rc != 0:
        return log
    rc, log = run(["objcopy", *RENAMES, obj])
    return log if rc != 0 else ""


def compile_suite(build, extra=(), sub="suite"):
    """The runner's objects and the reference's adapter, and the unpatched
    reference's objects: compiled once, shared by every entry."""
    check = subprocess.run(["pkg-config", "--cflags", "check"], capture_output=True,
                           text=True).stdout.split()
    d = os.path.join(build, sub)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    srcs = sorted(glob.glob(os.path.join(ROOT, "conformance", "src", "*.c")))
    srcs.append(os.path.join(ROOT, "conformance", "adapters", "ref", "adapter.c"))

    def suite_obj(src):
        obj = os.path.join(d, os.path.basename(src)[:-2] + ".o")
        rc, log = run([CC, "-std=c11", "-D_GNU_SOURCE", "-O2", "-w", *extra,
                       "-I" + os.path.join(ROOT, "ref", "include"),
                       "-I" + os.path.join(ROOT, "conformance", "include"),
                       "-I" + os.path.join(ROOT, "conformance", "src"), *check,
                       "-c", src, "-o", obj])
        return obj, log if rc != 0 else ""

    def ref_obj(src):
        obj = os.path.join(d, "ref_" + os.path.basename(src)[:-2] + ".o")
        return obj, compile_ref(src, obj, extra)

    refs = sorted(glob.glob(os.path.join(ROOT, "ref", "src", "*.c")))
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
        suite = list(ex.map(suite_obj, srcs))
        ref = dict(zip((os.path.basename(s) for s in refs), ex.map(ref_obj, refs)))
    for obj, log in [*suite, *ref.values()]:
        if log:
            raise RuntimeError(f"{os.path.basename(obj)} does not compile:\n{log}")
    return [o for o, _ in suite], {k: o for k, (o, _) in ref.items()}


CHECK_LIBS = []


def link(suite, ref, out, extra=()):
    if not CHECK_LIBS:
        CHECK_LIBS.extend(subprocess.run(["pkg-config", "--libs", "check"],
                                         capture_output=True, text=True).stdout.split())
    return run([CC, *extra, *suite, *ref, "-o", out, *CHECK_LIBS, "-pthread"])


def patched(entry):
    """{file name: patched text}; raises ValueError if an edit does not apply."""
    texts = {}
    for fname, old, new in entry["edits"]:
        base = os.path.basename(fname)
        if base not in texts:
            with open(os.path.join(ROOT, "ref", "src", base), encoding="utf-8") as f:
                texts[base] = f.read()
        n = texts[base].count(old)
        if n != 1:
            raise ValueError(f"the text to replace occurs {n} times in {fname}: "
                             f"{old.splitlines()[0][:60]!r}")
        texts[base] = texts[base].replace(old, new)
    return texts


def build_entry(entry, build, suite, ref):
    """Returns (runner path, "") or (None, why).  suite and ref are the
    objects of the entry's build (plain, or ASan for "san: address")."""
    extra = SAN_FLAGS if entry["san"] else []
    d = os.path.join(build, "bugs", entry["name"])
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    try:
        texts = patched(entry)
    except (OSError, ValueError) as e:
        return None, f"does not apply: {e}"
    objs = dict(ref)
    for base, text in texts.items():
        src = os.path.join(d, base)
        with open(src, "w", encoding="utf-8") as f:
            f.write(text)
        obj = src[:-2] + ".o"
        log = compile_ref(src, obj, extra)
        if log:
            return None, f"does not compile:\n{log}"
        objs[base] = obj
    runner = os.path.join(d, "acc-run")
    rc, log = link(suite, list(objs.values()), runner, extra)
    return (runner, "") if rc == 0 else (None, f"does not link:\n{log}")


# -------------------------------------------------------------- running --

def run_cases(runner, ids, out, args, full=False, jobs=1, san=False):
    """Runs the given case ids (all of the suite when full) and returns
    (results or None, why).  --max-failures 1: one failed run rejects."""
    report = out + ".json"
    if os.path.exists(report):
        os.unlink(report)
    cmd = [runner, "--json", report, "--timeout", str(args.timeout), "--seed", "1",
           "--expectations", os.devnull, "--jobs", str(jobs)]
    if not full:
        cmd += ["--max-failures", "1", *ids]
    else:
        cmd += ["--max-failures", str(args.full_max_failures)]
    rc, stdout, stderr, _ = run_bounded(cmd, timeout=args.entry_timeout, cwd=ROOT,
                                        env=SAN_ENV if san else None)
    if rc is None:
        return None, f"the runner took over {args.entry_timeout:g} s"
    if rc not in (0, 1) or not os.path.exists(report):
        return None, f"the runner exited {rc}:\n{(stdout + stderr)[-1500:]}"
    with open(report, encoding="utf-8") as f:
        return json.load(f)["results"], ""


def bad_ids(results):
    return sorted({r["id"] for r in results if r["status"] in BAD})


def check_entry(entry, build, builds, args):
    """Returns (status, caught-by list, detail).  Statuses: caught,
    not-caught, caught-elsewhere (with --full: rejected, but not by a named
    case), survivor (known; with --full also survivor-caught when a case
    rejects it after all), harness."""
    san = bool(entry["san"])
    runner, why = build_entry(entry, build, *builds[san])
    if runner is None:
        return "harness", [], why
    out = os.path.join(build, "bugs", entry["name"], "report")
    if entry["survivor"] and not args.full:
        return "survivor", [], ""
    results, why = run_cases(runner, entry["catch"], out, args, full=args.full, san=san)
    if results is None:
        return "harness", [], why
    caught = bad_ids(results)
    if entry["survivor"]:
        return ("survivor-caught" if caught else "survivor"), caught, ""
    named = [c for c in caught if c in entry["catch"]]
    if not named:
        return ("caught-elsewhere" if caught else "not-caught"), caught, ""
    return "caught", caught if args.full else named, ""


def baseline(ids, build, suite, ref, args, san=False):
    """The catching cases must pass on the unpatched reference built the same
    way: returns an error text or ""."""
    runner = os.path.join(build, "suite-asan" if san else "suite", "acc-run")
    rc, log = link(suite, list(ref.values()), runner, SAN_FLAGS if san else ())
    if rc != 0:
        return f"the unpatched reference does not link:\n{log}"
    known = subprocess.run([runner, "--list"], capture_output=True, text=True, cwd=ROOT)
    listed = {ln.split()[0] for ln in known.stdout.splitlines() if ln.strip()}
    unknown = sorted(set(ids) - listed)
    if unknown:
        return "catch: names cases the suite does not have: " + " ".join(unknown)
    # Nothing else runs yet: the baseline may use every job.
    results, why = run_cases(runner, sorted(ids),
                             os.path.join(build, "baseline-asan" if san else "baseline"), args,
                             jobs=args.jobs, san=san)
    if results is None:
        return why
    bad = bad_ids(results)
    passed = {r["id"] for r in results if r["status"] == "PASS"}
    never = sorted(set(ids) - passed)
    if bad:
        return "catching cases fail on the reference: " + " ".join(bad)
    if never:
        return "catching cases never PASS on the reference (skipped?): " + " ".join(never)
    return ""


# -------------------------------------------------------------- reports --

def write_doc(entries, path, src):
    """docs/bug-catalogue.md, generated from the catalogue."""
    counts = {}
    for e in entries:
        c = counts.setdefault(e["area"], [0, 0])
        c[1 if e["survivor"] else 0] += 1
    names = {"L": "loop", "D": "dispatcher", "T": "terminators and framing",
             "P": "producers and output", "M": "maps", "E": "errors and misuse"}
    lines = [
        "# Realistic-bug catalogue",
        "",
        f"Generated from `{src}` by `python3 conformance/tools/selftest.py --doc {path}`;",
        "do not edit by hand. `make selftest` plants each bug in the reference, one",
        "at a time, and runs only the case(s) named as its catchers, which must",
        "reject it (and pass on the unpatched reference). The bugs are porting",
        "mistakes, not operator swaps: what CPython's asyncore/asynchat, medusa and",
        "libevent got wrong over the years, and what a sentence of docs/spec.md",
        "invites an implementer to get wrong. `python3 conformance/tools/selftest.py --full`",
        "runs the whole suite against each bug instead and lists every case that",
        "rejects it. The entry format is at the head of the catalogue file. A bug",
        "no case rejects yet stays listed as a known survivor with the reason, and",
        "the self-test reports it as not caught, never as passing.",
        "",
        "| area | | caught by a named case | known survivors |",
        "|---|---|---|---|",
    ]
    for a in AREAS:
        if a in counts:
            lines.append(f"| {a} | {names[a]} | {counts[a][0]} | {counts[a][1]} |")
    tot = [sum(c[i] for c in counts.values()) for i in (0, 1)]
    lines += [f"| all | | {tot[0]} | {tot[1]} |", ""]
    for a in AREAS:
        group = [e for e in entries if e["area"] == a]
        if not group:
            continue
        lines += [f"## {a}: {names[a]}", "", "| bug | models | caught by |", "|---|---|---|"]
        for e in group:
            by = ("**survives**: " + e["survivor"]) if e["survivor"] else \
                ", ".join(f"`{c}`" for c in e["catch"])
            lines.append(f"| `{e['name']}` | {e['models']} | {by} |")
        lines.append("")
    text = "\n".join(lines)
    return text


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mutants", default=os.path.join(ROOT, "conformance", "selftest",
                                                      "mutants.txt"),
                    help="the catalogue (default conformance/selftest/mutants.txt)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "selftest"))
    ap.add_argument("--jobs", type=int, default=2, help="entries built and run at once")
    ap.add_argument("--timeout", type=float, default=5, help="per-run timeout of the suite")
    ap.add_argument("--entry-timeout", type=float, default=120,
                    help="bound on one entry's runner, in seconds (default 120)")
    ap.add_argument("--full", action="store_true",
                    help="run the whole suite against each entry, known survivors "
                         "included, and list every case that rejects it (slow)")
    ap.add_argument("--full-max-failures", type=int, default=1000,
                    help="with --full: failed runs after which a runner stops")
    ap.add_argument("--doc", metavar="FILE",
                    help="write the catalogue's page (docs/bug-catalogue.md) and exit")
    ap.add_argument("--check-doc", metavar="FILE",
                    help="exit 1 if FILE is not what --doc would write")
    ap.add_argument("names", nargs="*", help="only these entries")
    args = ap.parse_args()
    try:
        entries = parse(args.mutants)
    except (OSError, ValueError) as e:
        print(f"selftest: {e}", file=sys.stderr)
        return 99
    src = os.path.relpath(args.mutants, ROOT)
    if args.doc or args.check_doc:
        text = write_doc(entries, os.path.relpath(args.doc or args.check_doc, ROOT), src)
        if args.doc:
            with open(args.doc, "w", encoding="utf-8") as f:
                f.write(text + "\n")
            return 0
        with open(args.check_doc, encoding="utf-8") as f:
            if f.read() != text + "\n":
                print(f"selftest: {args.check_doc} is stale: run conformance/tools/selftest.py "
                      f"--doc {args.check_doc}", file=sys.stderr)
                return 1
        return 0
    if args.names:
        entries = [e for e in entries if e["name"] in args.names]
        if not entries:
            print("selftest: no entry by those names", file=sys.stderr)
            return 2
    os.makedirs(args.build, exist_ok=True)
    t0 = time.time()
    print(f"selftest: compiling the suite and the reference once", file=sys.stderr, flush=True)
    builds = {}
    try:
        builds[False] = compile_suite(args.build)
        if any(e["san"] for e in entries):
            builds[True] = compile_suite(args.build, SAN_FLAGS, "suite-asan")
        print(f"selftest: compiled in {time.time() - t0:.1f} s", file=sys.stderr, flush=True)
    except RuntimeError as e:
        print(f"selftest: {e}", file=sys.stderr)
        return 99
    nids = 0
    for san in builds:
        ids = {c for e in entries if bool(e["san"]) == san for c in e["catch"]}
        why = baseline(ids, args.build, *builds[san], args, san=san) if ids else ""
        if why:
            print(f"selftest: baseline{' (ASan)' if san else ''}: {why}", file=sys.stderr)
            return 99
        nids += len(ids)
    print(f"selftest: {nids} catching cases pass on the reference "
          f"({time.time() - t0:.1f} s); {len(entries)} entries", file=sys.stderr, flush=True)
    rows = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as ex:
        def timed(e):
            t = time.time()
            return (*check_entry(e, args.build, builds, args), time.time() - t)

        futs = {ex.submit(timed, e): e for e in entries}
        for k, fut in enumerate(concurrent.futures.as_completed(futs), 1):
            e = futs[fut]
            try:
                status, caught, detail, secs = fut.result()
            except (OSError, ValueError, RuntimeError) as exc:
                status, caught, detail, secs = "harness", [], str(exc), 0.0
            print(f"selftest: [{k}/{len(entries)}] {e['name']}: {status} ({secs:.1f} s)",
                  file=sys.stderr, flush=True)
            rows.append((e["area"], e["name"], status, caught, detail, e))
    print(f"\n{'area':4} {'bug':44} {'verdict':16} rejected by")
    for area, name, status, caught, detail, e in sorted(rows, key=lambda r: r[:2]):
        shown = " ".join(caught[:4]) + (f" (+{len(caught) - 4} more)" if len(caught) > 4 else "")
        if status == "survivor" and not caught:
            shown = "NOTHING (known survivor: " + e["survivor"] + ")"
        elif status in ("not-caught", "caught-elsewhere"):
            shown = f"not {' '.join(e['catch'])}" + (f"; only {shown}" if caught else "")
        print(f"{area:4} {name:44} {status:16} {shown}")
        if detail:
            print("     " + detail.strip().replace("\n", "\n     "))
    n = {s: sum(1 for r in rows if r[2] == s) for s in
         ("caught", "not-caught", "caught-elsewhere", "survivor", "survivor-caught", "harness")}
    n["not-caught"] += n["caught-elsewhere"]
    print(f"\nselftest: {n['caught']} of {len(rows) - n['survivor'] - n['survivor-caught']} "
          f"bugs rejected by their named cases; {n['not-caught']} not rejected; "
          f"{n['survivor'] + n['survivor-caught']} known survivors NOT caught by any named "
          f"case (listed above); {n['harness']} harness errors "
          f"({len(rows)} entries, {time.time() - t0:.1f} s)")
    if n["survivor-caught"]:
        print("selftest: a known survivor is rejected now: name its case in 'catch:'")
    if n["harness"]:
        return 99
    return 1 if n["not-caught"] or n["survivor-caught"] else 0


if __name__ == "__main__":
    sys.exit(main())
