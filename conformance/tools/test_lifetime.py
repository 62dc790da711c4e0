#!/usr/bin/env python3
"""test_lifetime.py: the runner's processes die with it.

Starts a runner in a session of its own on a scratch case that waits 60 s
in a loop pass, waits until its forked workers, their runs and (through the
agent client) the agents are all up, SIGKILLs the runner's main process
alone, and asserts that every other process of that session is gone within
a few seconds.  Three shapes: the in-process reference with two workers;
the agent client with the reference agent as a zygote that forks each
run's agent; the agent client spawning an agent per run, two workers; the
CPython agent as a zygote (when the interpreter has asyncore).
Every process the test starts is in that session, and only that session is
killed at the end, by pid, whatever happened.

Exit: 0 nothing survived, 1 a process outlived the runner, 2 usage,
99 harness error (no runner, or the runs never came up).
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

from acclib import ROOT, kill_session, progress, session_pids

# A pass of 60 s over a listener nobody dials: nothing of the run's (a
# peer socket closing when the run dies) wakes an agent blocked in it.
CASE = ("id: l.scratch.slow\nclause: L5\nrequires: listen\n"
        "description: A pass that outlasts the test.\n---\nlisten l\npass 60000\n")
UP_S = 30       # bound on the runs coming up
GONE_S = 10     # bound on the rest dying after the runner


def live(sid):
    """The session's processes that are not zombies: (pid, comm)."""
    out = []
    for pid in session_pids(sid):
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
                st = f.read()
        except OSError:
            continue
        if st[st.rfind(")") + 2:].split()[0] != "Z":
            out.append((pid, st[st.find("(") + 1:st.rfind(")")]))
    return out


def one(name, cmd, env, want, tmp):
    """Runs cmd, waits for `want` processes in its session besides the
    runner, kills the runner alone, and returns the survivors (or None when
    the session never grew to want, with its listing as a second value)."""
    log = open(os.path.join(tmp, f"{name}.log"), "wb")
    p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True)
    sid = p.pid
    try:
        deadline = time.time() + UP_S
        procs = []
        while time.time() < deadline:
            procs = live(sid)
            if len(procs) >= want + 1 or p.poll() is not None:
                break
            time.sleep(0.1)
        if len(procs) < want + 1:
            return None, procs
        time.sleep(0.3)  # every run inside its pass, not between steps
        before = live(sid)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        deadline = time.time() + GONE_S
        left = live(sid)
        while left and time.time() < deadline:
            time.sleep(0.1)
            left = live(sid)
        return left, before
    finally:
        kill_session(sid)
        if p.poll() is None:
            p.kill()
            p.wait()
        log.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build", help="the build directory (default build)")
    ap.add_argument("--python", default="python3",
                    help="the interpreter of the CPython agent (default python3)")
    a = ap.parse_args()
    b = os.path.join(ROOT, a.build)
    inproc = os.path.join(b, "conformance", "ref", "acc-run")
    client = os.path.join(b, "conformance", "client", "acc-run")
    agent = os.path.join(b, "agents", "reference-agent")
    for f in (inproc, client, agent):
        if not os.access(f, os.X_OK):
            print(f"test_lifetime: no {f} (make agents first)", file=sys.stderr)
            return 99
    faults = []
    with tempfile.TemporaryDirectory(prefix="acc-lifetime-") as tmp:
        os.makedirs(os.path.join(tmp, "cases", "l"))
        with open(os.path.join(tmp, "cases", "l", "slow.case"), "w", encoding="utf-8") as f:
            f.write(CASE)
        common = ["--cases", os.path.join(tmp, "cases"), "--expectations", os.devnull,
                  "--timeout", "120", "--split", "as-written", "l.scratch.*"]
        env = dict(os.environ)
        env.pop("ACC_AGENT_MODE", None)
        # (name, command, environment, processes besides the runner):
        # 3 runs (one per backend) on 2 workers: 2 workers + 2 runs;
        # one job (runs share the zygote): the zygote, the run, its agent;
        # agents spawned per run, 2 workers: 2 workers, 2 runs, 2 agents.
        shapes = [
            ("in-process, 2 workers", [inproc, "-j", "2"] + common, env, 4),
            ("agent client, zygote agent", [client] + common, dict(env, ACC_AGENT=agent), 3),
            ("agent client, spawned agents, 2 workers", [client, "-j", "2"] + common,
             dict(env, ACC_AGENT=agent, ACC_AGENT_MODE="spawn"), 6),
        ]
        py_agent = f"{a.python} {os.path.join(ROOT, 'conformance', 'agents', 'cpython', 'agent.py')}"
        if subprocess.run([a.python, "-c", "import asyncore, asynchat"], capture_output=True,
                          check=False).returncode == 0:
            shapes.append(("agent client, CPython zygote agent", [client] + common,
                           dict(env, ACC_AGENT=py_agent), 3))
        else:
            print(f"skip CPython zygote agent: {a.python} has no asyncore/asynchat")
        for name, cmd, e, want in shapes:
            progress("test_lifetime", f"{name}: start, wait for {want} processes, kill the runner")
            left, before = one(name.split(",")[0].replace(" ", "-"), cmd, e, want, tmp)
            if left is None:
                print(f"HARNESS {name}: the session never had {want} processes besides the "
                      f"runner: {before}")
                return 99
            shown = ", ".join(f"{pid} {comm}" for pid, comm in before)
            if left:
                faults.append(name)
                print(f"FAIL {name}: {len(left)} of {len(before) - 1} processes outlived the "
                      f"runner by {GONE_S} s: " + ", ".join(f"{pid} {comm}" for pid, comm in left))
            else:
                print(f"ok   {name}: none of the {len(before) - 1} processes ({shown}) outlived "
                      "the runner")
    if faults:
        print(f"test_lifetime: {len(faults)} of {len(shapes)} shapes left processes behind")
        return 1
    print("test_lifetime: every worker, run and agent died with its runner")
    return 0


if __name__ == "__main__":
    sys.exit(main())
