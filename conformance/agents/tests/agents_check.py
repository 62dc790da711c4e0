#!/usr/bin/env python3
"""agents_check.py: the agent part of `make check` (make agents-check).

  1. The reference through the agent protocol gives the same verdict as the
     in-process reference on every run (case x split x backend), same seed:
     that proves the protocol path.
  2. CPython 3.11's asyncore/asynchat through its agent runs the whole suite
     with conformance/expectations/cpython-3.11.txt and exits 0 (every
     deviation expected, no unexpected pass); every line of that file names,
     before its first colon, only clauses that the runs it matches check,
     and none says its failure is "masked" by another clause.
  3. The same agent on a module-swapped copy of the standard library
     (asyncore.py/asynchat.py copied under build/ as other module names,
     while `import asyncore`/`import asynchat` would fail): one split and
     one backend, with CPython's expectations, exits 0, and the agent names
     the copy by its own modules, not cpython-*.  The agent depends on no
     module name.
  4. The agent's own request order (tests/agent_order.py): a producer's
     release due in the same pass as an event goes first, numbered first.
     And the names it reports (--describe): cpython-X.Y for the stdlib, the
     distributions' names for a package laid out as the PyPI backports are
     (made here from the stdlib's files, with their metadata), and a refusal
     (exit 4) for a chat module built on another asyncore than the one named.
  5. Broken agents (tests/bad_agent.py: crash, SIGSEGV, hang, garbage, wrong
     sequence number, missing descriptor, unknown event, overlong and
     truncated lines), one that kills its run with SIGSEGV, and one that
     hangs past the runner's timeout give ERROR on the run with a clear
     message that names the step line it stopped in, quickly, even though
     the expectations list the cases XFAIL (an ERROR is never expected), and
     the next run starts a fresh agent; a refused handshake stops the
     runner with a message (exit 99).

Prints the verdict counts and timings.  Stdlib only.
"""
import argparse
import collections
import concurrent.futures
import fnmatch
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "common"))
import acc_vocab  # noqa: E402  (acc_adapter.h's verdicts and areas)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
STATUSES = tuple(acc_vocab.load().verdicts)
CLAUSE = re.compile(r"\b[%s]\d+\b" % acc_vocab.load().area_letters())


def run(runner, args, env_extra=None, timeout=900):
    env = dict(os.environ)
    env.update(env_extra or {})
    t0 = time.monotonic()
    p = subprocess.run([runner] + args, cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=timeout)
    return p, time.monotonic() - t0


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def counts(report):
    c = collections.Counter(r["status"] for r in report["results"])
    return " ".join("%s %d" % (s, c.get(s, 0)) for s in STATUSES)


# Tests an agent cannot take: they need the implementation inside the
# runner's process (alloc-fail makes the runner's own allocator fail,
# sys-fail its own socket calls) or a table entry the protocol has no
# message for (misuse, state, ...): every capability acc_adapter.h does not
# mark ACC_ON_WIRE, which no agent can declare, so over the protocol they
# are SKIP by design, not a difference.  Case files say so in their
# requires: line.
VOCAB = acc_vocab.load()
IN_PROCESS_CAPS = tuple(c.name for c in VOCAB.caps if not c.where & VOCAB.on_wire)


# An entry of the hand-written table in conformance/src/handwritten.c:
# {"id", "clauses", LEVEL_X, caps expression, function}.
HW_ENTRY = re.compile(r'\{"([a-z0-9.-]+)",\s*"[^"]*",\s*LEVEL_\w+,\s*([^,]+),')


def hand_written_in_process():
    """The hand-written tests whose table entry requires a capability the
    protocol does not carry, read from the table itself, so a new test
    cannot be forgotten here."""
    with open(os.path.join(ROOT, "conformance", "src", "handwritten.c"), encoding="utf-8") as f:
        text = f.read()
    local = {"ACC_CAP_" + c.ident for c in VOCAB.caps if not c.where & VOCAB.on_wire}
    return {m.group(1) for m in HW_ENTRY.finditer(text)
            if local & set(re.findall(r"ACC_CAP_\w+", m.group(2)))}


def in_process_only():
    # the hand-written tests that need a capability the protocol does not
    # carry (alloc-fail, sys-fail, ABI 2 and 3 entries: docs/agent-protocol.md),
    # and the cases that require one
    ids = hand_written_in_process()
    for d, _, files in os.walk(os.path.join(ROOT, "conformance", "cases")):
        for name in files:
            if not name.endswith(".case"):
                continue
            with open(os.path.join(d, name), encoding="utf-8") as f:
                head = f.read().split("\n---", 1)[0].splitlines()
            req = [w for l in head if l.startswith("requires:") for w in l[9:].split()]
            cid = [l[3:].strip() for l in head if l.startswith("id:")]
            if cid and any(c in req for c in IN_PROCESS_CAPS):
                ids.add(cid[0])
    return ids


IN_PROCESS_ONLY = in_process_only()


def key(r):
    return (r["id"], r["split"], r["backend"])


def check_protocol(a, tmp, seed, problems, print=print):
    inproc = os.path.join(tmp, "inproc.json")
    agent = os.path.join(tmp, "agent.json")
    p1, t1 = run(a.inproc, ["--seed", seed, "--json", inproc] + a.split_args)
    print("reference, in-process: exit %d, %.1f s: %s" % (p1.returncode, t1, counts(load(inproc))))
    # The per-run timeout only guards against hangs.  Through an agent every
    # event is a round trip: m.threads.own-maps (48,000 records) takes ~3 s
    # on a quiet machine and once took more than the default 10 on a
    # loaded CI machine, an ERROR the in-process run did not have.
    p2, t2 = run(a.client, ["--seed", seed, "--timeout", "60", "--json", agent] + a.split_args,
                 {"ACC_AGENT": a.ref_agent})
    print("reference, agent:      exit %d, %.1f s: %s" % (p2.returncode, t2, counts(load(agent))))
    ra = {key(r): r for r in load(inproc)["results"]}
    rb = {key(r): r for r in load(agent)["results"]}
    named = []
    for k in sorted(set(ra) | set(rb)):
        sa = ra.get(k, {}).get("status", "absent")
        sb = rb.get(k, {}).get("status", "absent")
        if k[0] in IN_PROCESS_ONLY and sb == "SKIP":
            continue
        if sa != sb:
            line = ("%s [%s/%s]: in-process %s, agent %s: %s"
                    % (k + (sa, sb, (rb.get(k) or ra.get(k) or {}).get("message", "")[:200])))
            named.append(line)
            if len(named) <= 20:
                print("  differs: " + line)
    if named:
        # the summary at the end of a long log is often all a CI page keeps:
        # it names the runs itself
        problems.append("%d runs differ between the in-process and the agent reference (%s%s)"
                        % (len(named), "; ".join(named[:3]), "; ..." if len(named) > 3 else ""))
    elif p1.returncode != p2.returncode:
        problems.append("exit codes differ: in-process %d, agent %d" % (p1.returncode, p2.returncode))
    else:
        print("  same verdict on all %d runs" % len(ra))


CPYTHON_EXPECTATIONS = os.path.join("conformance", "expectations", "cpython-3.11.txt")


def expectation_problems(path, results):
    """Lines of an expectations file that do not name a deviation of the
    clause their case checks: a reason must start with the clause(s) it
    departs from ("D6: ..."), each a clause of every run the line matches,
    and must not put the failure on another clause ("masked by")."""
    out = []
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        lines = f.read().splitlines()
    for n, line in enumerate(lines, 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        parts = s.split(None, 2)
        if len(parts) < 3 or parts[1] not in ("XFAIL", "SKIP"):
            continue
        glob, why = parts[0], parts[2]
        where = "%s:%d: %s" % (path, n, glob)
        if re.search(r"\bmask(?:s|ed|ing)?\b", why, re.I):
            out.append("%s: says the failure is masked by another clause" % where)
        named = CLAUSE.findall(why.split(":", 1)[0])
        if not named:
            out.append("%s: the reason names no clause before its colon" % where)
            continue
        for r in results:
            full = "%s@%s/%s" % (r["id"], r["split"], r["backend"])
            if not (fnmatch.fnmatchcase(r["id"], glob) or fnmatch.fnmatchcase(full, glob)):
                continue
            missing = [c for c in named if c not in r["clauses"]]
            if missing:
                out.append("%s: names %s, which %s does not check (its clauses: %s)"
                           % (where, " ".join(missing), r["id"], " ".join(r["clauses"])))
                break
    return out


def check_expectations(a, tmp, seed, problems, print=print):
    out = os.path.join(tmp, "cpython.json")
    agent = "%s %s" % (a.python, os.path.join("conformance", "agents", "cpython", "agent.py"))
    # CPython's own framing is quadratic (T15) and m.threads.own-maps sends
    # 12,000 records on each of 4 threads through the protocol: about 30 s on an idle
    # machine, over 60 s on a loaded one.  The per-run bound is 120 s.
    p, t = run(a.client, ["--seed", seed, "--timeout", "120", "--json", out] + a.split_args,
               {"ACC_AGENT": agent})
    print("cpython, agent:        exit %d, %.1f s: %s" % (p.returncode, t, counts(load(out))))
    for line in p.stderr.splitlines():
        if "stale expectation" in line:
            print("  warning: " + line)
    if p.returncode < 0:
        # The verdicts above come from the report it wrote before dying.
        print("  the runner itself died of signal %d after writing its report: %s"
              % (-p.returncode, p.stderr.strip().splitlines()[-1:] or ""))
    if p.returncode != 0:
        for r in load(out)["results"]:
            if r["status"] in ("FAIL", "XPASS", "ERROR"):
                print("  %s %s [%s/%s]: %s" % (r["status"], r["id"], r["split"],
                                              r["backend"], r["message"][:200]))
        problems.append("the CPython agent's run did not go as expected (exit %d)" % p.returncode)
    bad = expectation_problems(CPYTHON_EXPECTATIONS, load(out)["results"])
    for b in bad:
        print("  " + b)
    if bad:
        problems.append("%d line(s) of %s do not name a deviation of the case's own clauses"
                        % (len(bad), CPYTHON_EXPECTATIONS))
    else:
        print("  every expectation names a clause its case checks; none is masked")


SWAP_CORE, SWAP_CHAT = "acc_swapped_core", "acc_swapped_chat"
SWAP_SPLIT, SWAP_BACKEND = "as-written", "poll"
# Left out of the swapped run to keep it short: CPython's framing is
# quadratic (T15), these take most of its time and say nothing about names.
SWAP_LEAVE_OUT = ("t.linear.",)


def make_swapped(tmp, python):
    """The interpreter's asyncore.py and asynchat.py copied into tmp/swapped
    under other names (the copy of asynchat imports the copy of asyncore),
    and tmp/poison holding an asyncore and an asynchat that refuse to load.
    Returns (swapped dir, poison dir) or raises RuntimeError."""
    p = subprocess.run([python, "-W", "ignore", "-c",
                        "import asyncore, asynchat; print(asyncore.__file__); "
                        "print(asynchat.__file__)"], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("this interpreter has no asyncore/asynchat to copy: "
                           + (p.stderr.strip().splitlines() or ["?"])[-1])
    core, chat = p.stdout.split()
    swapped, poison = os.path.join(tmp, "swapped"), os.path.join(tmp, "poison")
    os.makedirs(swapped)
    os.makedirs(poison)
    with open(core, encoding="utf-8") as f:
        core_src = f.read()
    with open(chat, encoding="utf-8") as f:
        chat_src = f.read()
    if chat_src.count("\nimport asyncore\n") != 1:
        raise RuntimeError("%s does not import asyncore the way this check expects" % chat)
    chat_src = chat_src.replace("\nimport asyncore\n", "\nimport %s as asyncore\n" % SWAP_CORE)
    for name, src in ((SWAP_CORE, core_src), (SWAP_CHAT, chat_src)):
        with open(os.path.join(swapped, name + ".py"), "w", encoding="utf-8") as f:
            f.write(src)
    for name in ("asyncore", "asynchat"):
        with open(os.path.join(poison, name + ".py"), "w", encoding="utf-8") as f:
            f.write("raise ImportError('agents-check: the agent imported the name %s')\n" % name)
    return swapped, poison


def check_swapped(a, tmp, seed, problems, print=print):
    out = os.path.join(tmp, "swapped.json")
    try:
        swapped, poison = make_swapped(tmp, a.python)
    except (RuntimeError, OSError) as e:
        print("swapped stdlib copy:   cannot be made: %s" % e)
        problems.append("the module-swapped stdlib copy cannot be made: %s" % e)
        return
    agent = "%s %s --path %s --asyncore %s --asynchat %s" % (
        a.python, os.path.join("conformance", "agents", "cpython", "agent.py"), swapped,
        SWAP_CORE, SWAP_CHAT)
    # PYTHONPATH puts the refusing asyncore/asynchat before the stdlib's.
    env = {"ACC_AGENT": agent, "PYTHONPATH": poison}
    sel = ["--split", SWAP_SPLIT, "--backend", SWAP_BACKEND]
    p, _ = run(a.client, ["--list"] + sel, env)
    ids = sorted({line.split()[0] for line in p.stdout.splitlines() if line.strip()})
    ids = [i for i in ids if not i.startswith(SWAP_LEAVE_OUT)]
    if p.returncode != 0 or not ids:
        print("swapped stdlib copy:   --list failed (exit %d): %s"
              % (p.returncode, p.stderr.strip().splitlines()[-3:]))
        problems.append("the agent on the swapped stdlib copy did not start (exit %d)"
                        % p.returncode)
        return
    p, t = run(a.client, ["--seed", seed, "--timeout", "120", "--expectations",
                          os.path.join("conformance", "expectations", "cpython-3.11.txt"),
                          "--json", out] + sel + ids, env)
    if not os.path.exists(out):
        print("swapped stdlib copy:   exit %d, no report: %s"
              % (p.returncode, p.stderr.strip().splitlines()[-3:]))
        problems.append("the agent on the swapped stdlib copy did not run (exit %d)" % p.returncode)
        return
    rep = load(out)
    name = rep.get("run_info", {}).get("impl", "")
    print("swapped stdlib copy:   exit %d, %.1f s, agent named %s: %s"
          % (p.returncode, t, name, counts(rep)))
    if p.returncode != 0:
        for r in rep["results"]:
            if r["status"] in ("FAIL", "XPASS", "ERROR"):
                print("  %s %s [%s/%s]: %s" % (r["status"], r["id"], r["split"],
                                              r["backend"], r["message"][:200]))
        problems.append("the agent on the swapped stdlib copy did not run as CPython's "
                        "expectations say (exit %d)" % p.returncode)
    if name != "%s+%s" % (SWAP_CORE, SWAP_CHAT):
        problems.append("the agent on the swapped copy calls itself %r, not after its modules"
                        % name)


def check_naming(a, tmp, problems):
    agent = [a.python, os.path.join(ROOT, "conformance", "agents", "cpython", "agent.py")]

    def describe(*args):
        p = subprocess.run(agent + ["--describe"] + list(args), cwd=ROOT, capture_output=True,
                           text=True, timeout=60)
        return p.returncode, (p.stdout + p.stderr).strip()

    try:
        swapped = os.path.join(tmp, "swapped")
        if not os.path.isdir(swapped):
            make_swapped(tmp, a.python)
        bp = os.path.join(tmp, "backport-layout")
        for dist, mod, src in (("pyasyncore", "asyncore", SWAP_CORE),
                               ("pyasynchat", "asynchat", SWAP_CHAT)):
            os.makedirs(os.path.join(bp, mod))
            with open(os.path.join(swapped, src + ".py"), encoding="utf-8") as f:
                text = f.read().replace("import %s as asyncore" % SWAP_CORE, "import asyncore")
            with open(os.path.join(bp, mod, "__init__.py"), "w", encoding="utf-8") as f:
                f.write(text)
            info = os.path.join(bp, "%s-1.0.5.dist-info" % dist)
            os.makedirs(info)
            with open(os.path.join(info, "METADATA"), "w", encoding="utf-8") as f:
                f.write("Metadata-Version: 2.1\nName: %s\nVersion: 1.0.5\n" % dist)
            with open(os.path.join(info, "top_level.txt"), "w", encoding="utf-8") as f:
                f.write(mod + "\n")
    except (RuntimeError, OSError) as e:
        problems.append("the naming check cannot set up its modules: %s" % e)
        return
    v = "%d.%d" % sys.version_info[:2]
    checks = [
        ((), 0, "cpython-"),
        (("--path", bp, "--want", "pyasyncore+pyasynchat"), 0, "pyasyncore+pyasynchat 1.0.5 "),
        (("--want", "pyasyncore+pyasynchat"), 1, "give cpython-"),
        (("--path", swapped, "--asyncore", SWAP_CORE), 4, "not on %s.dispatcher" % SWAP_CORE),
        (("--name", "mine", "--version", "7"), 0, "mine 7 "),
    ]
    bad = 0
    for args, want_rc, want_text in checks:
        rc, out = describe(*args)
        if rc != want_rc or want_text not in out:
            bad += 1
            print("  --describe %s: exit %d, %r (want exit %d and %r)"
                  % (" ".join(args), rc, out[-200:], want_rc, want_text))
    print("agent naming:          %d of %d --describe checks as expected (python %s)"
          % (len(checks) - bad, len(checks), v))
    if bad:
        problems.append("the Python agent named %d cop%s wrongly" % (bad, "y" if bad == 1 else "ies"))


def check_order(a, problems):
    p = subprocess.run([a.python, os.path.join(ROOT, "conformance", "agents", "tests",
                                               "agent_order.py"),
                        "--agent", "%s conformance/agents/cpython/agent.py" % a.python],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    print("agent request order:   exit %d: %s" % (p.returncode, p.stdout.strip().splitlines()[-1:]))
    if p.returncode != 0:
        print("  " + "\n  ".join((p.stdout + p.stderr).strip().splitlines()[-25:]))
        problems.append("the Python agent's own requests are out of order (agent_order.py)")


BAD = [  # mode, what stderr must say
    ("crash", "the agent exited with status 5"),
    ("segv", "killed by signal 11"),
    ("hang", "no message from the peer within 1000 ms"),
    ("garbage", "malformed line"),
    ("badseq", "while waiting for the reply to"),
    ("nofd", "but 0 came"),
    ("unknown", "unknown event 'frobnicate'"),
    ("overlong", "longer than"),
    ("truncated", "closed the connection in the middle of a line"),
]
BAD_CASES = ["t.vector.01-basic-lf", "t.vector.02-empty-line"]
# Each broken agent also runs with an expectations file that lists both
# cases XFAIL: an ERROR is never an expected failure, so the verdicts stay
# ERROR, the run still fails, and each message names the step it stopped in.
STEP_LINE = re.compile(r"\.case:\d+: .* in step line \d+ `[^`]+`")
# (mode, what the report's message must say, client timeout ms, runner
# options): a run killed by a signal, and one past the runner's timeout
# (long enough for the agent to start on a loaded machine first).
BAD_RUNS = [
    ("killrun", "signal 11 (SIGSEGV) in step line", 1000, []),
    ("hang", "timeout after 6 s in step line", 60000, ["--timeout", "6"]),
]


def bad_run(a, bad, mode, out, exp, client_ms, extra):
    return run(a.client, ["--split", "as-written", "--json", out, "--expectations", exp] +
               extra + BAD_CASES, {"ACC_AGENT": "%s %s" % (bad, mode),
                                   "ACC_AGENT_TIMEOUT_MS": str(client_ms)}, timeout=120)


def check_bad_agents(a, tmp, problems):
    bad = "%s %s" % (a.python, os.path.join("conformance", "agents", "tests", "bad_agent.py"))
    exp = os.path.join(tmp, "bad-expect.txt")
    with open(exp, "w", encoding="utf-8") as f:
        f.write("".join("%s XFAIL listed to prove it covers no ERROR\n" % c for c in BAD_CASES))
    t_all = time.monotonic()
    for mode, phrase, client_ms, extra in BAD_RUNS:
        out = os.path.join(tmp, "bad-run-%s.json" % mode)
        p, t = bad_run(a, bad, mode, out, exp, client_ms, extra)
        res = load(out)["results"] if os.path.exists(out) else []
        ok = (p.returncode == 1 and len(res) == len(BAD_CASES) and
              all(r["status"] == "ERROR" and phrase in r["message"] and
                  STEP_LINE.search(r["message"]) for r in res))
        print("  bad agent %-9s: exit %d, %s, %.1f s%s" % (
            mode, p.returncode, ", ".join(r["status"] for r in res), t,
            "" if ok else "  <-- expected ERROR twice, listed XFAIL, saying \"%s\"" % phrase))
        if not ok:
            print("    messages: " + "\n    ".join(r["message"][:200] for r in res))
            problems.append("bad agent '%s' not reported as an ERROR naming its step" % mode)
    for mode, phrase in BAD:
        out = os.path.join(tmp, "bad-%s.json" % mode)
        # 40 MiB from a Python agent on a loaded machine take more than the
        # 1 s the silent modes get; the limit, not the clock, must end it.
        p, t = bad_run(a, bad, mode, out, exp, 15000 if mode == "overlong" else 1000, [])
        res = load(out)["results"] if os.path.exists(out) else []
        ok = (p.returncode == 1 and len(res) == len(BAD_CASES) and
              all(r["status"] == "ERROR" and STEP_LINE.search(r["message"]) for r in res) and
              p.stderr.count(phrase) == len(BAD_CASES))
        slow = [r for r in res if r["duration_ms"] > 8000]
        print("  bad agent %-9s: exit %d, %s, %.1f s%s" % (
            mode, p.returncode, ", ".join(r["status"] for r in res), t,
            "" if ok else "  <-- expected ERROR twice (listed XFAIL), naming its step, "
            "and \"%s\" on stderr" % phrase))
        if not ok:
            print("    stderr: " + "\n    ".join(p.stderr.strip().splitlines()[-6:]))
            print("    messages: " + "\n    ".join(r["message"][:200] for r in res))
            problems.append("bad agent '%s' not handled as expected" % mode)
        if slow:
            problems.append("bad agent '%s': a run took %.0f ms" % (mode, slow[0]["duration_ms"]))
    p, t = run(a.client, ["--list"], {"ACC_AGENT": "%s badhello" % bad})
    ok = p.returncode == 99 and "handshake refused" in p.stderr
    print("  bad agent %-9s: exit %d, %.1f s%s" % ("badhello", p.returncode, t,
                                                  "" if ok else "  <-- expected exit 99"))
    if not ok:
        problems.append("a refused handshake was not reported (exit %d)" % p.returncode)
    print("broken agents: %.1f s" % (time.monotonic() - t_all))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--seed", default="20240601")
    ap.add_argument("--python", default="python3")
    ap.add_argument("--split", action="append", default=[],
                    choices=["as-written", "one-shot", "bytewise", "random"],
                    help="read chunkings to compare (repeatable; default: all four)")
    ap.add_argument("--skip", action="append", default=[],
                    choices=["protocol", "expectations", "swapped", "order", "bad"],
                    help="leave out one of this check's own parts (repeatable), "
                         "as this file's docstring numbers them: protocol (1, the "
                         "protocol path gives the in-process verdicts), expectations "
                         "(2), swapped (3), order (4), bad (5)")
    a = ap.parse_args()
    a.split_args = [x for sp in a.split for x in ("--split", sp)]
    b = os.path.join(ROOT, a.build)
    a.inproc = os.path.join(b, "conformance", "ref", "acc-run")
    a.client = os.path.join(b, "conformance", "client", "acc-run")
    a.ref_agent = os.path.join(b, "agents", "reference-agent")
    problems = []
    with tempfile.TemporaryDirectory(prefix="agents-check-") as tmp:
        # The two long parts wait on process ping-pong more than on the CPU:
        # side by side they take about as long as the longer one.
        jobs = []
        # The swapped copy's short run goes alongside.
        with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
            for name, fn in (("protocol", check_protocol), ("expectations", check_expectations),
                             ("swapped", check_swapped)):
                if name in a.skip:
                    continue
                lines = []
                jobs.append((lines, pool.submit(fn, a, tmp, a.seed, problems, lines.append)))
        for lines, job in jobs:
            job.result()
            for line in lines:
                print(line)
        if "order" not in a.skip:
            check_order(a, problems)
            check_naming(a, tmp, problems)
        if "bad" not in a.skip:
            check_bad_agents(a, tmp, problems)
    for p in problems:
        print("agents-check: " + p, file=sys.stderr)
    print("agents-check: %s" % ("FAILED" if problems else "all passed"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
