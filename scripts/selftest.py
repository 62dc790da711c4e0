#!/usr/bin/env python3
"""selftest.py: proves the conformance suite can fail.  Builds the suite
against deliberately broken copies of the reference (conformance/selftest/
mutants.txt, one planted bug each) and asserts that every one is rejected,
naming the cases that caught it.

Exit: 0 every mutant caught, 1 a mutant survived, 2 usage, 99 harness error.
"""
import argparse
import concurrent.futures
import fnmatch
import json
import os
import shutil
import sys
import time

from acclib import ROOT, BAD, build_runner, run_bounded, write_impl_mk


def parse(path):
    """Returns a list of mutants: dicts with name, area, catch, edits."""
    mutants, cur = [], None
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            if line.startswith("[") and line.endswith("]"):
                cur = {"name": line[1:-1], "area": "", "catch": "*", "edits": []}
                mutants.append(cur)
            elif cur is None:
                raise ValueError(f"{path}:{n}: text before the first [name]")
            elif line.startswith("area:"):
                cur["area"] = line[5:].strip()
            elif line.startswith("catch:"):
                cur["catch"] = line[6:].strip()
            elif line.startswith("file:"):
                cur["edits"].append([line[5:].strip(), None, None])
            elif line.startswith("- ") and cur["edits"]:
                cur["edits"][-1][1] = line[2:].replace("\\n", "\n")
            elif line.startswith("+ ") and cur["edits"]:
                cur["edits"][-1][2] = line[2:].replace("\\n", "\n")
            else:
                raise ValueError(f"{path}:{n}: cannot read '{line}'")
    for m in mutants:
        if not m["edits"] or any(e[1] is None or e[2] is None for e in m["edits"]):
            raise ValueError(f"{path}: mutant {m['name']} has an incomplete edit")
    return mutants


def materialise(m, build):
    """Copies ref/src, applies the edits, writes the impl.mk the Makefile reads."""
    d = os.path.join(build, m["name"])
    src = os.path.join(d, "src")
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, "ref", "src"), src)
    for fname, old, new in m["edits"]:
        path = os.path.join(src, os.path.basename(fname))
        text = open(path, encoding="utf-8").read()
        if text.count(old) != 1:
            raise ValueError(f"mutant {m['name']}: the text to replace occurs "
                             f"{text.count(old)} times in {fname}")
        open(path, "w", encoding="utf-8").write(text.replace(old, new))
    rel = os.path.relpath(d, ROOT)
    write_impl_mk(d, srcs=f"conformance/adapters/ref/adapter.c $(wildcard {rel}/src/*.c)",
                  cflags=f"-Iref/include -I{rel}/src")
    return d


def run_mutant(m, build, args):
    impl = materialise(m, build)
    name = m["name"]
    ok, runner, log = build_runner(impl)
    if not ok:
        return name, "build-failed", [], log[-2000:]
    report = os.path.join(build, name, "report.json")
    # One backend and a bounded number of failures: a mutant is rejected as
    # soon as a few cases catch it, and one that breaks every case (a chat
    # ignoring its map) must not cost 2 s of waiting per run.
    # One job per runner: the mutants already run --jobs at a time.
    cmd = [runner, "--json", report, "--timeout", str(args.timeout),
           "--expectations", os.devnull, "--backend", args.backend,
           "--max-failures", str(args.max_failures), "--jobs", "1"]
    # The per-run timeout bounds each case; this bounds the whole runner,
    # and run_bounded also ends forked runs a killed runner leaves behind.
    rc, out, err, _ = run_bounded(cmd, timeout=args.mutant_timeout)
    if rc is None:
        return name, "harness", [], f"the runner took over {args.mutant_timeout:g} s"
    if rc not in (0, 1):
        return name, "harness", [], out[-2000:] + err[-2000:]
    with open(report, encoding="utf-8") as f:
        results = json.load(f)["results"]
    caught = sorted({r["id"] for r in results if r["status"] in BAD})
    if rc == 0 or not caught:
        return name, "survived", caught, ""
    if not any(fnmatch.fnmatch(c, m["catch"]) for c in caught):
        return name, "caught-elsewhere", caught, ""
    return name, "caught", caught, ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mutants", default=os.path.join(ROOT, "conformance", "selftest", "mutants.txt"))
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "selftest"))
    ap.add_argument("--jobs", type=int, default=2, help="mutants built and run at once")
    ap.add_argument("--timeout", type=float, default=5, help="per-run timeout of the suite")
    ap.add_argument("--mutant-timeout", type=float, default=600,
                    help="bound on one mutant's whole runner, in seconds (default 600)")
    ap.add_argument("--backend", default="poll", help="backend the suite runs on")
    ap.add_argument("--max-failures", type=int, default=25,
                    help="failed runs after which a mutant counts as caught")
    ap.add_argument("names", nargs="*", help="only these mutants")
    args = ap.parse_args()
    try:
        mutants = parse(args.mutants)
    except (OSError, ValueError) as e:
        print(f"selftest: {e}", file=sys.stderr)
        return 99
    if args.names:
        mutants = [m for m in mutants if m["name"] in args.names]
        if not mutants:
            print("selftest: no mutant by those names", file=sys.stderr)
            return 2
    os.makedirs(args.build, exist_ok=True)
    t0 = time.time()
    rows, bad = [], 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as ex:
        futs = {ex.submit(run_mutant, m, args.build, args): m for m in mutants}
        for fut in concurrent.futures.as_completed(futs):
            m = futs[fut]
            try:
                name, status, caught, detail = fut.result()
            except (OSError, ValueError) as e:
                name, status, caught, detail = m["name"], "harness", [], str(e)
            print(f"selftest: {name}: {status} ({len(caught)} cases)", file=sys.stderr, flush=True)
            rows.append((m["area"], name, status, caught, detail))
            bad += status != "caught"
    print(f"\n{'area':4} {'mutant':36} {'verdict':16} caught by")
    for area, name, status, caught, detail in sorted(rows):
        shown = " ".join(caught[:4]) + (f" (+{len(caught) - 4} more)" if len(caught) > 4 else "")
        print(f"{area:4} {name:36} {status:16} {shown}")
        if detail:
            print("     " + detail.strip().replace("\n", "\n     "))
    print(f"\nselftest: {len(rows) - bad} passed, {bad} failed "
          f"({len(rows)} mutants, {time.time() - t0:.1f} s)")
    if any(r[2] in ("harness", "build-failed") for r in rows):
        return 99
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
