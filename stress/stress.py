#!/usr/bin/env python3
"""stress.py: runs the multi-thread stress driver (stress/, achat-stress)
under every detector and proves each detector can fire.

  check   the part of `make check`: clean runs under each detector (every
          backend), then each canary K times under each detector.  Every
          clean run must be clean; every canary run must be caught.
  matrix  threads x backends x detectors, --seconds each, printed as a table
          of ops/s and verdicts, then the canary table.
  run     one run of achat-stress under one detector (arguments after --).

Detectors: plain (gcc build), tsan (clang -fsanitize=thread), asan (ASan +
UBSan), helgrind and drd (valgrind on the plain build).  A canary is caught
by the detector's own report; under plain and asan, which cannot see races,
by the driver's integrity oracle (or an ASan memory error).  With --lenient
the oracle also counts for the race detectors.

Exit: 0 every verdict as expected, 1 a clean run reported something or a
canary was missed, 2 usage, 99 harness (missing build, a detector that is
not instrumented, TSan's "unexpected memory mapping" even under setarch -R).
"""
import argparse
import concurrent.futures
import os
import platform
import re
import shlex
import signal
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Detector exit codes, away from automake's 77 (skip) and 99 (hard error).
TSAN_CODE, ASAN_CODE, HG_CODE, DRD_CODE = 66, 86, 87, 89
VG_REPORT = re.compile(r"^==\d+== \S", re.M)  # with -q: only errors


def detectors(root):
    tsan_supp = os.path.join(root, "stress", "tsan.supp")
    vg_supp = os.path.join(root, "stress", "valgrind.supp")
    vg = ["valgrind", "-q", "--suppressions=" + vg_supp]
    return {
        "plain": dict(variant="plain", wrap=[], env={}, code=None,
                      report=None, races=False),
        "tsan": dict(variant="tsan", wrap=[], code=TSAN_CODE, races=True,
                     env={"TSAN_OPTIONS": "halt_on_error=1 exitcode=%d "
                          "second_deadlock_stack=1 suppressions=%s"
                          % (TSAN_CODE, tsan_supp)},
                     report=lambda e: "WARNING: ThreadSanitizer" in e),
        "asan": dict(variant="asan", wrap=[], code=ASAN_CODE, races=False,
                     env={"ASAN_OPTIONS": "exitcode=%d halt_on_error=1 "
                          "detect_leaks=1" % ASAN_CODE,
                          "UBSAN_OPTIONS": "halt_on_error=1 exitcode=%d "
                          "print_stacktrace=1" % ASAN_CODE},
                     report=lambda e: ("ERROR: AddressSanitizer" in e or
                                       "ERROR: LeakSanitizer" in e or
                                       "runtime error:" in e)),
        "helgrind": dict(variant="plain", env={}, code=HG_CODE, races=True,
                         wrap=vg + ["--tool=helgrind",
                                    "--error-exitcode=%d" % HG_CODE],
                         report=lambda e: bool(VG_REPORT.search(e))),
        "drd": dict(variant="plain", env={}, code=DRD_CODE, races=True,
                    wrap=vg + ["--tool=drd", "--error-exitcode=%d" % DRD_CODE],
                    report=lambda e: bool(VG_REPORT.search(e))),
    }


ALL_DETECTORS = ["plain", "tsan", "asan", "helgrind", "drd"]
# Allowances are what an implementation declares (achat-stress
# --list-allowances reads its capability bits), never keyed on its name.
# prime-default-map (ACC_CAP_DEFAULT_MAP_ONCE): map_default may be called
# once before the threads start under valgrind, because its lazy
# initialisation is a pthread_once whose fast path Helgrind and DRD cannot
# see.  Undeclared, a first-call race stays visible.
VALGRIND_ALLOWANCES = {"prime-default-map"}
CANARIES = ["shared-map", "cross-push"]


class Harness(Exception):
    """An infrastructure problem: exit 99, never a pass or a fail."""


class Runner:
    def __init__(self, args):
        self.args = args
        self.dets = detectors(ROOT)
        self.prefix = {}  # detector -> extra command prefix (setarch)
        self.logdir = os.path.join(args.build, "logs")
        os.makedirs(self.logdir, exist_ok=True)
        self.lock = threading.Lock()
        self.done = 0
        self.total = 0
        self.t0 = time.monotonic()
        self.procs = set()
        self.allowances = set()

    def binary(self, det):
        return os.path.join(self.args.build, self.dets[det]["variant"],
                            self.args.impl, "achat-stress")

    def preflight(self, dets):
        """Every binary exists and is instrumented as its detector needs,
        valgrind is there, and TSan can start (else retry without ASLR)."""
        for d in dets:
            b = self.binary(d)
            if not os.access(b, os.X_OK):
                raise Harness("missing %s (run: make stress-build)" % b)
            want = {"tsan": b"__tsan_init", "asan": b"__asan_init"}.get(d)
            if want:
                with open(b, "rb") as f:
                    if want not in f.read():
                        raise Harness("%s is not instrumented (%s absent): "
                                      "a detector that cannot fire proves "
                                      "nothing" % (b, want.decode()))
            if self.dets[d]["wrap"] and not self.which("valgrind"):
                raise Harness("valgrind is not installed "
                              "(scripts/ensure-deps.sh check)")
            if self.dets[d]["wrap"]:
                self.allowances = self.read_allowances(d)
        if "tsan" in dets:
            env = dict(os.environ, **self.dets["tsan"]["env"])
            for prefix in ([], ["setarch", platform.machine(), "-R"]):
                p = subprocess.run(prefix + [self.binary("tsan"), "--version"],
                                   env=env, capture_output=True, text=True,
                                   timeout=60)
                if "unexpected memory mapping" not in p.stderr and \
                        p.returncode == 0:
                    self.prefix["tsan"] = prefix
                    if prefix:
                        self.say("tsan: 'unexpected memory mapping'; running "
                                 "TSan under %s" % " ".join(prefix))
                    break
            else:
                raise Harness("ThreadSanitizer cannot start on this kernel "
                              "(unexpected memory mapping, also under "
                              "setarch -R): %s" % p.stderr.strip()[:300])

    def declared_backends(self, det):
        """The backends the implementation declares (its adapter's list),
        asked of the binary itself, so no backend goes unstressed."""
        cmd = self.prefix.get(det, []) + [self.binary(det), "--list-backends"]
        p = subprocess.run(cmd, env=dict(os.environ, **self.dets[det]["env"]),
                           capture_output=True, text=True, timeout=60)
        names = p.stdout.split()
        if p.returncode != 0 or not names:
            raise Harness("%s --list-backends failed (exit %d): %s" % (
                self.binary(det), p.returncode, p.stderr.strip()[:300]))
        return names

    def read_allowances(self, det):
        """What the implementation declares it needs (its capability bits,
        printed by the binary): the same adapter is in every variant."""
        b = self.binary(det)
        p = subprocess.run([b, "--list-allowances"], capture_output=True,
                           text=True, timeout=60)
        if p.returncode != 0:
            raise Harness("%s --list-allowances failed (exit %d): %s" % (
                b, p.returncode, p.stderr.strip()[:300]))
        allow = set(p.stdout.split())
        unknown = allow - VALGRIND_ALLOWANCES
        if unknown:
            raise Harness("unknown allowance(s) %s declared by %s" % (
                ", ".join(sorted(unknown)), b))
        return allow

    @staticmethod
    def which(prog):
        return any(os.access(os.path.join(p, prog), os.X_OK)
                   for p in os.environ.get("PATH", "").split(os.pathsep))

    def say(self, msg):
        with self.lock:
            print(msg, flush=True)

    def command(self, det, drv_args, canary):
        d = self.dets[det]
        wrap = list(d["wrap"])
        if wrap and canary:
            wrap.append("--exit-on-first-error=yes")  # the first is enough
        prime = ["--prime-default-map"] if wrap and \
            "prime-default-map" in self.allowances else []
        return self.prefix.get(det, []) + wrap + [self.binary(det)] + \
            prime + drv_args

    def repro(self, det, drv_args, canary):
        """One shell line that repeats a run with its detector's setup (the
        sanitizer options, setarch, the valgrind wrapper) and the driver's
        progress lines, which the run itself had turned off."""
        d = self.dets[det]
        cmd = self.command(det, [x for x in drv_args if x != "--quiet"],
                           canary)
        return " ".join(["%s=%s" % (k, shlex.quote(v))
                         for k, v in sorted(d["env"].items())] +
                        [shlex.quote(c) for c in cmd])

    def run(self, name, det, drv_args, seconds, canary=False):
        d = self.dets[det]
        cmd = self.command(det, drv_args, canary)
        env = dict(os.environ, **d["env"])
        seed = drv_args[drv_args.index("--seed") + 1]
        repro = self.repro(det, drv_args, canary)
        # The driver's own grace bounds every ending; this only catches a
        # process that hangs past all of it.
        limit = seconds * (4 if d["wrap"] else 2) + self.args.grace * 2 + 60
        t = time.monotonic()
        timed_out = False
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             errors="replace", start_new_session=True)
        with self.lock:
            self.procs.add(p)
        try:
            out, err = p.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(p.pid, signal.SIGKILL)  # our own child's group only
            out, err = p.communicate()
        finally:
            with self.lock:
                self.procs.discard(p)
        took = time.monotonic() - t
        rc = p.returncode
        verdict = self.classify(det, rc, err, timed_out)
        m = re.search(r"ops/s=(\d+)", out)
        ops = int(m.group(1)) if m else None
        log = os.path.join(self.logdir, name + ".log")
        with open(log, "w", encoding="utf-8") as f:
            f.write("# %s\n" % " ".join(
                ["%s=%s" % (k, shlex.quote(v)) for k, v in d["env"].items()] +
                [shlex.quote(c) for c in cmd]))
            f.write("# seed %s; reproduce with: %s\n" % (seed, repro))
            f.write("# exit %s, %.1fs, verdict %s\n" % (rc, took, verdict))
            f.write(out + "\n" + err)
        with self.lock:
            self.done += 1
            n, total = self.done, self.total
        self.say("[%3d/%d %5.0fs] %-34s %-8s %5.1fs  %s%s" % (
            n, total, time.monotonic() - self.t0, name, det, took, verdict,
            "  ops/s=%d" % ops if ops is not None and not canary else ""))
        return dict(name=name, det=det, verdict=verdict, ops=ops, rc=rc,
                    log=log, err=err, canary=canary, seed=seed, repro=repro)

    def classify(self, det, rc, err, timed_out):
        d = self.dets[det]
        if timed_out:
            return "timeout"
        if "unexpected memory mapping" in err:
            return "infra"
        if rc == 0:
            return "clean"
        if d["code"] is not None and rc == d["code"] and d["report"](err):
            return det
        if rc == 1 and "VIOLATION" in err:
            return "oracle"
        if rc == 2:
            return "usage"
        if rc == 99:
            return "harness"
        if rc is not None and rc < 0:
            return "signal %d" % -rc
        return "exit %s" % rc

    def caught(self, det, verdict):
        ok = {det, "oracle"} if (not self.dets[det]["races"] or
                                 self.args.lenient) else {det}
        return verdict in ok

    def kill_all(self):
        with self.lock:
            for p in list(self.procs):
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def drv_args(a, threads, backend, seconds, seed, mode="clean"):
    args = ["--threads", str(threads), "--channels", str(a.channels),
            "--seconds", "%g" % seconds, "--seed", "0x%016x" % seed,
            "--mode", mode, "--grace", "%g" % a.grace, "--quiet"]
    if backend:
        args += ["--backend", backend]
    return args


def seed_of(base, i):
    return (base * 0x9E3779B97F4A7C15 + i * 0xBF58476D1CE4E5B9) % (1 << 64)


def execute(r, jobs, plan):
    r.total = len(plan)
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        futs = [ex.submit(r.run, *p) for p in plan]
        try:
            return [f.result() for f in futs]
        except KeyboardInterrupt:
            r.kill_all()
            raise


def canary_plan(a, dets, k, seconds, t_canary):
    plan = []
    for det in dets:
        for mode in CANARIES:
            for i in range(k):
                s = seed_of(a.seed, 1000 + 97 * i + len(plan))
                be = a.backends[i % len(a.backends)]
                plan.append(("canary-%s-%s-%d" % (mode, det, i + 1), det,
                             drv_args(a, t_canary, be, seconds, s, mode),
                             seconds, True))
    return plan


def judge(r, results):
    """Returns (bad results, canary table {mode: {det: [verdicts]}})."""
    bad, table = [], {}
    for res in results:
        if res["canary"]:
            mode = res["name"].split("-")[1] + "-" + res["name"].split("-")[2]
            table.setdefault(mode, {}).setdefault(res["det"], []).append(
                res["verdict"])
            if not r.caught(res["det"], res["verdict"]):
                bad.append(res)
        elif res["verdict"] != "clean":
            bad.append(res)
    return bad, table


def print_canaries(table, dets, r):
    print("\ncanaries (caught in K of K runs; by what)")
    print("%-11s| " % "canary" + "".join("%-22s" % d for d in dets))
    print("-" * 11 + "+" + "-" * (22 * len(dets)))
    for mode in CANARIES:
        row = table.get(mode, {})
        cells = []
        for d in dets:
            v = row.get(d, [])
            if not v:
                cells.append("%-22s" % "-")
                continue
            n = sum(r.caught(d, x) for x in v)
            by = sorted(set(v))
            cells.append("%-22s" % ("%d/%d %s" % (n, len(v), ",".join(by))))
        print("%-11s| " % mode + "".join(cells))


def report_bad(bad):
    for res in bad:
        print("\nstress: %s under %s: %s (log %s)" % (
            res["name"], res["det"], "canary NOT caught" if res["canary"]
            else "expected clean, got " + res["verdict"], res["log"]))
        tail = [l for l in res["err"].splitlines() if l.strip()][-12:]
        for line in tail:
            print("    " + line)
        print("  seed %s; reproduce with:\n    %s" % (res["seed"],
                                                     res["repro"]))


def resolve_backends(r, a):
    if a.backends is None:
        a.backends = r.declared_backends(a.detectors[0])
    print("stress: backends %s" % ",".join(a.backends), flush=True)


def cmd_check(r, a):
    dets = a.detectors
    r.preflight(dets)
    resolve_backends(r, a)
    plan = []
    for det in dets:
        for i, be in enumerate(a.backends):
            s = seed_of(a.seed, len(plan))
            plan.append(("clean-%s-%s-t%d" % (det, be, a.threads), det,
                         drv_args(a, a.threads, be, a.seconds, s),
                         a.seconds, False))
    plan += canary_plan(a, dets, a.canary_runs, a.canary_seconds,
                        a.canary_threads)
    # Slow legs first, so the parallel slots stay busy to the end.
    plan.sort(key=lambda p: (p[4], p[1] not in ("helgrind", "drd")))
    results = execute(r, a.jobs, plan)
    bad, table = judge(r, results)
    print("\nclean runs (%gs, %d threads, %d channels each)"
          % (a.seconds, a.threads, a.channels))
    for res in results:
        if not res["canary"]:
            print("  %-30s %-9s %-8s ops/s=%s" % (
                res["name"], res["det"], res["verdict"], res["ops"]))
    print_canaries(table, dets, r)
    return finish(r, results, bad)


def cmd_canaries(r, a):
    """Only the canaries, K runs each per detector: the catch-rate figure
    (stress/README.md quotes K=30)."""
    dets = a.detectors
    r.preflight(dets)
    resolve_backends(r, a)
    plan = canary_plan(a, dets, a.canary_runs, a.canary_seconds,
                       a.canary_threads)
    plan.sort(key=lambda p: p[1] not in ("helgrind", "drd"))
    results = execute(r, a.jobs, plan)
    bad, table = judge(r, results)
    print_canaries(table, dets, r)
    return finish(r, results, bad)


def cmd_matrix(r, a):
    dets = a.detectors
    r.preflight(dets)
    resolve_backends(r, a)
    plan = []
    for det in dets:
        for t in a.thread_list:
            for j, be in enumerate(a.backends):
                # One seed per cell across detectors: same workload per row.
                s = seed_of(a.seed, 100 * t + j)
                plan.append(("matrix-%s-%s-t%d" % (det, be, t), det,
                             drv_args(a, t, be, a.seconds, s), a.seconds,
                             False))
    plan += canary_plan(a, dets, a.canary_runs, a.canary_seconds,
                        a.canary_threads)
    results = execute(r, a.jobs, plan)
    bad, table = judge(r, results)
    cell = {(res["det"], res["name"].split("-")[2], res["name"].split("-t")[-1]):
            res for res in results if not res["canary"]}
    print("\nstress matrix: impl=%s seconds=%g channels=%d seed=0x%016x "
          "(ops/s and verdict per run)" % (a.impl, a.seconds, a.channels,
                                            a.seed))
    print("%7s %-8s| " % ("threads", "backend") +
          "".join("%-20s" % d for d in dets))
    print("-" * 17 + "+" + "-" * (20 * len(dets)))
    for t in a.thread_list:
        for be in a.backends:
            cells = []
            for d in dets:
                res = cell.get((d, be, str(t)))
                cells.append("%-20s" % ("%s %s" % (
                    res["ops"] if res["ops"] is not None else "-",
                    res["verdict"]) if res else "-"))
            print("%7d %-8s| " % (t, be) + "".join(cells))
    print_canaries(table, dets, r)
    return finish(r, results, bad)


def finish(r, results, bad):
    report_bad(bad)
    took = time.monotonic() - r.t0
    print("\nstress: %d runs in %.0fs; seed 0x%016x; logs in %s" % (
        len(results), took, r.args.seed, r.logdir))
    # The plain closing line CI reads.
    print("stress: %d passed, %d failed" % (len(results) - len(bad), len(bad)))
    if any(x["verdict"] in ("infra", "harness", "usage") for x in bad):
        return 99
    return 1 if bad else 0


def cmd_run(r, a):
    det = a.detector
    r.preflight([det])
    d = r.dets[det]
    cmd = r.command(det, a.rest, canary=False)
    env = dict(os.environ, **d["env"])
    print("stress: %s" % " ".join(
        ["%s=%s" % (k, shlex.quote(v)) for k, v in sorted(d["env"].items())] +
        [shlex.quote(c) for c in cmd]), flush=True)
    p = subprocess.run(cmd, env=env, stderr=subprocess.PIPE, text=True,
                       errors="replace")
    sys.stderr.write(p.stderr)
    v = r.classify(det, p.returncode, p.stderr, False)
    print("stress: verdict %s (exit %d)" % (v, p.returncode))
    return 0 if v == "clean" else 99 if v in ("infra", "harness") else \
        2 if v == "usage" else 1


def csv(kind, allowed=None):
    def parse(s):
        items = [x for x in s.split(",") if x]
        if not items:
            raise argparse.ArgumentTypeError("empty list")
        for x in items:
            if allowed and x not in allowed:
                raise argparse.ArgumentTypeError(
                    "%s: '%s' is not one of %s" % (kind, x, ",".join(allowed)))
            if not allowed:
                int(x)
        return items if allowed else [int(x) for x in items]
    return parse


def add_common(p, defaults):
    """The options every subcommand shares.  They are accepted before and
    after the subcommand (make appends STRESS_ARGS after it); the copy on
    the subcommands has no defaults (SUPPRESS), so an option given before
    the subcommand is not reset by the subcommand's parser."""
    def d(v):
        return v if defaults else argparse.SUPPRESS
    p.add_argument("--build", default=d(os.path.join(ROOT, "build", "stress")),
                   help="root of the stress builds (default build/stress)")
    p.add_argument("--impl", default=d("ref"),
                   help="implementation name: the IMPL directory's basename")
    p.add_argument("--jobs", type=int, default=d(None),
                   help="runs in parallel (default: the CPU count; matrix: "
                        "1, so ops/s are comparable)")
    p.add_argument("--seed", type=lambda s: int(s, 0), default=d(None),
                   help="base seed (default: from the clock; printed)")
    p.add_argument("--detectors", type=csv("detector", ALL_DETECTORS),
                   default=d(ALL_DETECTORS),
                   help="subset of " + ",".join(ALL_DETECTORS))
    p.add_argument("--backends", type=lambda s: [x for x in s.split(",")
                                                 if x],
                   default=d(None),
                   help="loop backends (default: every backend the "
                        "implementation declares, e.g. select,poll,epoll "
                        "for the reference; the driver refuses names its "
                        "implementation lacks)")
    p.add_argument("--channels", type=int, default=d(8),
                   help="slots per thread (default 8)")
    p.add_argument("--grace", type=float, default=d(30),
                   help="seconds a channel may take to close (default 30)")
    p.add_argument("--canary-runs", type=int, default=d(3),
                   help="K: runs of each canary per detector (default 3)")
    p.add_argument("--canary-seconds", type=float, default=d(8),
                   help="length of a canary run if nothing catches it")
    p.add_argument("--canary-threads", type=int, default=d(4))
    p.add_argument("--lenient", action="store_true",
                   default=d(False),
                   help="the oracle also catches canaries for tsan, "
                        "helgrind and drd")


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Exit: 0 as expected, 1 a clean run reported or a canary was "
               "missed, 2 usage, 99 harness.  Options may come before or "
               "after the subcommand.")
    add_common(ap, True)
    common = argparse.ArgumentParser(add_help=False)
    add_common(common, False)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", parents=[common],
                       help="the make check part (about 1 minute on 2 "
                            "cores; budget 2 minutes)")
    c.add_argument("--seconds", type=float, default=3)
    c.add_argument("--threads", type=int, default=4)
    m = sub.add_parser("matrix", parents=[common],
                       help="threads x backends x detectors table")
    m.add_argument("--seconds", type=float, default=5)
    m.add_argument("--threads", dest="thread_list", type=csv("threads"),
                   default=[1, 2, 4, 8])
    sub.add_parser("canaries", parents=[common],
                   help="only the canaries, --canary-runs K each per "
                        "detector (catch rates)")
    rn = sub.add_parser("run", parents=[common],
                        help="one run under one detector")
    rn.add_argument("--detector", choices=ALL_DETECTORS, default="plain")
    rn.add_argument("rest", nargs=argparse.REMAINDER,
                    help="achat-stress arguments (after --)")
    a = ap.parse_args(argv)
    # Absolute, so the printed reproduce commands work from any directory.
    a.build = os.path.abspath(a.build)
    if a.seed is None:
        a.seed = int(time.time() * 1000) & ((1 << 64) - 1)
    if a.jobs is None:
        a.jobs = 1 if a.cmd == "matrix" else (os.cpu_count() or 2)
    if a.cmd == "run" and a.rest and a.rest[0] == "--":
        a.rest = a.rest[1:]
    if a.jobs < 1 or a.canary_runs < 1 or a.channels < 1:
        ap.error("--jobs, --canary-runs and --channels must be >= 1")
    r = Runner(a)
    try:
        if a.cmd == "check":
            print("stress check: impl=%s detectors=%s seed=0x%016x jobs=%d"
                  % (a.impl, ",".join(a.detectors), a.seed, a.jobs),
                  flush=True)
            return cmd_check(r, a)
        if a.cmd == "matrix":
            print("stress matrix: impl=%s detectors=%s threads=%s seconds=%g "
                  "seed=0x%016x" % (a.impl, ",".join(a.detectors),
                                    ",".join(map(str, a.thread_list)),
                                    a.seconds, a.seed), flush=True)
            return cmd_matrix(r, a)
        if a.cmd == "canaries":
            print("stress canaries: impl=%s detectors=%s runs=%d seed=0x%016x"
                  % (a.impl, ",".join(a.detectors), a.canary_runs, a.seed),
                  flush=True)
            return cmd_canaries(r, a)
        return cmd_run(r, a)
    except Harness as e:
        print("stress: harness error: %s" % e, file=sys.stderr)
        return 99
    except KeyboardInterrupt:
        r.kill_all()
        return 99


if __name__ == "__main__":
    sys.exit(main())
