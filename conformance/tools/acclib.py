"""acclib.py: helpers shared by the drivers that build and run the conformance
runner (selftest.py, mutate.py, matrix.py): where the tree is, how an IMPL
directory with its impl.mk is laid out, how a runner is built through the
top-level Makefile and run, and how its JSON report is read.

Kept in one place so that every driver builds a runner exactly the way
`make conformance IMPL=<dir>` does; stdlib only.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# The verdicts and areas as conformance/include/acc_adapter.h defines them
# (make vocab-check holds this reading to the C compiler's).
sys.path.insert(0, os.path.join(ROOT, "conformance", "agents", "common"))
import acc_vocab  # noqa: E402

VERDICTS = tuple(acc_vocab.load().verdicts)
AREAS = acc_vocab.load().area_letters()

# Statuses a runner reports that mean "this run did not go as expected".
BAD = ("FAIL", "ERROR", "XPASS")
# Worst first: a case's verdict over its variants is the first status of this
# list that any variant has.  ERROR (crash, hang, protocol violation) hides
# more than a FAIL; an XPASS is a deviation from the expectations; an XFAIL
# still a failure, but a known one; SKIP says nothing about behaviour.
SEVERITY = ("ERROR", "FAIL", "XPASS", "XFAIL", "SKIP", "PASS")
if sorted(SEVERITY) != sorted(VERDICTS) or not set(BAD) <= set(VERDICTS):
    raise ImportError("acclib: SEVERITY/BAD name verdicts acc_adapter.h does "
                      "not define (or miss one): " + ", ".join(VERDICTS))

# The runner's exit codes (conformance/src/main.c).
RUN_OK, RUN_FAILURES, RUN_USAGE, RUN_NOTHING, RUN_HARNESS = 0, 1, 2, 77, 99


def rel(path):
    """path relative to ROOT, as the Makefile wants IMPL."""
    return os.path.relpath(os.path.abspath(path), ROOT)


def write_impl_mk(impl_dir, srcs="", cflags="", deps="", libs="", comment=""):
    """Writes the impl.mk the top-level Makefile includes for IMPL=impl_dir.
    Paths inside are relative to ROOT, where make runs."""
    os.makedirs(impl_dir, exist_ok=True)
    with open(os.path.join(impl_dir, "impl.mk"), "w", encoding="utf-8") as f:
        if comment:
            f.write("".join(f"# {c}\n" for c in comment.splitlines()))
        f.write(f"IMPL_SRCS := {srcs}\nIMPL_CFLAGS := {cflags}\n"
                f"IMPL_DEPS := {deps}\nIMPL_LIBS := {libs}\n")


def runner_path(impl_dir, build="build"):
    """Where `make acc-run IMPL=impl_dir BUILD=build` puts the runner."""
    name = os.path.basename(os.path.abspath(impl_dir))
    return os.path.join(ROOT, build, "conformance", name, "acc-run")


def build_runner(impl_dir, build="build", make_vars=(), timeout=None):
    """Builds the runner for IMPL=impl_dir through the top-level Makefile.
    Names the runner's file as the target (not the phony `acc-run`) so that
    many builds can run at once without each re-running `deps`.
    Returns (ok, runner path, the tail of make's stderr)."""
    runner = runner_path(impl_dir, build)
    cmd = ["make", "--no-print-directory", "-s", rel(runner),
           f"IMPL={rel(impl_dir)}", f"BUILD={build}", *make_vars]
    try:
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, runner, "make timed out"
    return p.returncode == 0, runner, (p.stdout + p.stderr)[-3000:]


def session_pids(sid):
    """Processes of session sid.  A runner starts its own session (see
    run_bounded); libcheck puts each forked test in a process group of its
    own, so the session, not the group, is what holds all of them."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", encoding="ascii", errors="replace") as f:
                st = f.read()
        except OSError:
            continue
        # After "pid (comm) ": state ppid pgrp session ...; comm may hold spaces.
        fields = st[st.rfind(")") + 2:].split()
        if len(fields) > 3 and fields[3] == str(sid):
            pids.append(int(d))
    return pids


def kill_session(sid):
    """SIGKILLs every process of session sid (zombies stay until reaped by
    their parent; they hold nothing)."""
    for _ in range(5):
        live = [p for p in session_pids(sid) if p != os.getpid()]
        if not live:
            return
        for pid in live:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.05)


def run_bounded(cmd, timeout, cwd=ROOT, env=None):
    """Runs cmd in a session of its own and kills the whole session when the
    time bound expires, or leftovers when it ends: the runner forks a child
    per run, in a process group of its own, and a hung child outlives its
    killed parent.  Output goes through files, not pipes, so that such a
    child can never keep the caller waiting for end-of-file.  Returns
    (rc or None on timeout, stdout, stderr, seconds)."""
    t0 = time.time()
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=fo, stderr=fe,
                             start_new_session=True)
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
        kill_session(p.pid)
        if rc is None:
            p.wait()
        secs = time.time() - t0
        fo.seek(0)
        fe.seek(0)
        out = fo.read().decode("utf-8", "replace")
        err = fe.read().decode("utf-8", "replace")
    return rc, out, err, secs


def load_report(path):
    """The runner's JSON report: a dict with run_info and results."""
    with open(path, encoding="utf-8") as f:
        rep = json.load(f)
    if not isinstance(rep, dict) or not isinstance(rep.get("results"), list):
        raise ValueError(f"{path}: not a conformance report (no results list)")
    for r in rep["results"]:
        for k in ("id", "clauses", "level", "split", "backend", "status"):
            if k not in r:
                raise ValueError(f"{path}: a result lacks '{k}'")
    return rep


def variant(r):
    """The key of one run: case id, split, backend."""
    return (r["id"], r["split"], r["backend"])


def worst(statuses):
    """The case verdict over its variants' statuses (see SEVERITY)."""
    for s in SEVERITY:
        if s in statuses:
            return s
    return "PASS" if not statuses else sorted(statuses)[0]


def deviates(r, strict=False):
    """True if a run breaks the runner's notion of success (main.c
    exit_code): ERROR and XPASS always, FAIL of a MUST case (any level under
    --strict)."""
    s = r["status"]
    return s in ("ERROR", "XPASS") or (s == "FAIL" and (strict or r["level"] == "MUST"))


def progress(prog, msg):
    """A progress line on stderr, flushed at once so that a long run shows
    it is alive."""
    print(f"{prog}: {msg}", file=sys.stderr, flush=True)
