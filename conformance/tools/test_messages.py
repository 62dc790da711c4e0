#!/usr/bin/env python3
"""test_messages.py: failure messages name what the implementation did.

Builds the suite against copies of the reference with one planted bug each
and checks the words of the failure, not only that there is one: two bugs
that fail l.eintr.resumed for different reasons (a wait that ends on EINTR;
a chat that is always writable, so every pass spins) must get different
messages, neither blaming the harness; an input limit that refuses a record
of exactly the limit must show, in t.limit.exact's message, the error event
and the close the implementation reported, not only the peer's failed send.

Exit: 0 every message as expected, 1 one was not, 2 usage, 99 harness error.
"""
import argparse
import json
import os
import re
import shutil
import sys

from acclib import ROOT, build_runner, progress, run_bounded, write_impl_mk

# name, edits (file in ref/src, text that occurs once, its replacement),
# runner selection, a pattern the message must match, one it must not.
BUGS = [
    ("eintr-ends-pass",
     [("backend_poll.c", "           errno == EINTR)", "           errno == EINTR && 0)")],
     ["--backend", "poll", "l.eintr.resumed"],
     r"a 60 ms pass returned -?\d+ after [\d.]+ ms, after \d+ signal\(s\) had interrupted its "
     r"wait: the interrupted wait ended it instead of resuming", r"harness"),
    ("chat-always-writable",
     [("chat.c", "return d->connected && !ac__fifo_empty(&chat_of(d)->fifo);",
       "return 1 || (d->connected && !ac__fifo_empty(&chat_of(d)->fifo));")],
     ["--backend", "select", "l.eintr.resumed"],
     r"with no signal at all, a 30 ms pass on an idle channel returned \d+ after [\d.]+ ms.*"
     r"the wait does not block", r"harness|interrupted its wait"),
    ("limit-refuses-exact",
     [("framer.c", "n > f->limit - f->reclen", "n >= f->limit - f->reclen"),
      ("framer.c", "i > f->limit - f->reclen", "i >= f->limit - f->reclen")],
     ["--backend", "poll", "--split", "as-written", "t.limit.exact"],
     r"peer of a: .*the implementation has closed its socket; events on a so far: .*"
     r"error EMSGSIZE, close", r"^$"),
]


def materialise(build, name, edits):
    """A copy of ref/src with the edits, and the impl.mk the Makefile reads."""
    d = os.path.join(build, name)
    src = os.path.join(d, "src")
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, "ref", "src"), src)
    for fname, old, new in edits:
        path = os.path.join(src, fname)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if text.count(old) != 1:
            raise ValueError(f"{name}: '{old}' occurs {text.count(old)} times in {fname}")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace(old, new))
    rel = os.path.relpath(d, ROOT)
    write_impl_mk(d, srcs=f"conformance/adapters/ref/adapter.c $(wildcard {rel}/src/*.c)",
                  cflags=f"-Iref/include -I{rel}/src",
                  comment=f"test_messages.py: the reference with the bug '{name}'")
    return d


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build",
                    help="make's BUILD directory (default build); the broken copies go "
                         "in BUILD/messages")
    a = ap.parse_args()
    copies = os.path.join(ROOT, a.build, "messages")
    os.makedirs(copies, exist_ok=True)
    faults = []
    for name, edits, sel, want, unwanted in BUGS:
        progress("test_messages", f"{name}: build and run {sel[-1]}")
        try:
            impl = materialise(copies, name, edits)
        except (OSError, ValueError) as e:
            print(f"test_messages: {e}", file=sys.stderr)
            return 99
        ok, runner, log = build_runner(impl, build=a.build)
        if not ok:
            print(f"test_messages: {name}: the build failed:\n{log}", file=sys.stderr)
            return 99
        report = os.path.join(copies, name, "report.json")
        rc, out, err, _ = run_bounded([runner, "--expectations", os.devnull, "--json", report,
                                       "--strict"] + sel, timeout=120)
        if rc not in (0, 1):
            print(f"test_messages: {name}: the runner exited {rc}: {(out + err)[-500:]}",
                  file=sys.stderr)
            return 99
        with open(report, encoding="utf-8") as f:
            msgs = [r["message"] for r in json.load(f)["results"] if r["status"] == "FAIL"]
        good = [m for m in msgs if re.search(want, m, re.S) and not re.search(unwanted, m)]
        if rc != 1 or not msgs or len(good) != len(msgs):
            faults.append(name)
            print(f"FAIL {name}: exit {rc}; want every failure to match /{want}/ and not "
                  f"/{unwanted}/; got: " + (" | ".join(m[:300] for m in msgs) or "no failure"))
        else:
            print(f"ok   {name}: {msgs[0][:240]}")
    if faults:
        print(f"test_messages: {len(faults)} of {len(BUGS)} messages do not say what the "
              "implementation did")
        return 1
    print(f"test_messages: all {len(BUGS)} messages say what the implementation did")
    return 0


if __name__ == "__main__":
    sys.exit(main())
