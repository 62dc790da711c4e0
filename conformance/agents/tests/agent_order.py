#!/usr/bin/env python3
"""agent_order.py: a protocol test of a Python agent's own requests
(make agents-check).  It plays the suite by hand over a socketpair and makes
a producer's release fall due in the same handler pass as the next event:
a producer yields one chunk, close_when_done follows, and the next pass
finds the producer exhausted (its release) and then the close marker (the
close event).  The agent must send the `released` request before the
`close` event and number them in that order (docs/agent-protocol.md,
section 3: each side's requests strictly increase); an agent that numbers
the event before running its pre-send hook sends "Q n+1 released" then
"Q n close", which the agent client refuses.

Exit 0 the order is right, 1 it is not (the lines are printed), 2 usage,
3 the agent did not take part (died, silent, refused the handshake).
Stdlib only.
"""
import argparse
import os
import select
import shlex
import socket
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
TIMEOUT = 20.0


class Broken(Exception):
    """The agent did not take part in the conversation."""


class Suite:
    """The suite's side of one connection: requests out, the agent's own
    requests answered with 0, every line kept."""

    def __init__(self, sock):
        self.sock, self.buf, self.seq, self.log = sock, b"", 0, []

    def line(self):
        while b"\n" not in self.buf:
            r, _, _ = select.select([self.sock], [], [], TIMEOUT)
            if not r:
                raise Broken("the agent said nothing for %g s" % TIMEOUT)
            data = self.sock.recv(1 << 16)
            if not data:
                raise Broken("the agent closed the connection")
            self.buf += data
        raw, self.buf = self.buf.split(b"\n", 1)
        text = raw.decode("ascii", "replace")
        self.log.append("<- " + text)
        return text.split(" ")

    def call(self, body, fd=None):
        """Sends a request; answers the agent's requests until its reply."""
        self.seq += 1
        data = ("Q %d %s\n" % (self.seq, body)).encode()
        self.log.append("-> " + data.decode().rstrip())
        if fd is None:
            self.sock.sendall(data)
        else:
            anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                    fd.to_bytes(4, sys.byteorder, signed=True))]
            k = self.sock.sendmsg([data], anc)
            self.sock.sendall(data[k:])
        while True:
            tok = self.line()
            if tok[0] == "R" and tok[1] == str(self.seq):
                return tok[2:]
            if tok[0] == "R":
                raise Broken("reply %s while waiting for %d" % (tok[1], self.seq))
            if tok[0] == "Q":
                reply = "R %s 0\n" % tok[1]
                self.log.append("-> " + reply.rstrip())
                self.sock.sendall(reply.encode())


def agent_requests(log):
    """[(seq, verb)] of the agent's requests, in wire order."""
    out = []
    for entry in log:
        tok = entry.split(" ")
        if tok[0] == "<-" and tok[1] == "Q":
            out.append((int(tok[2]), tok[3]))
    return out


def run(agent_cmd):
    """The conversation; returns (problems, log)."""
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    chan, peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    env = dict(os.environ, ACC_AGENT_FD=str(theirs.fileno()))
    p = subprocess.Popen(agent_cmd, shell=True, cwd=ROOT, env=env, pass_fds=(theirs.fileno(),),
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    theirs.close()
    s = Suite(mine)
    try:
        hello = s.call("hello 1")
        if hello[0] != "0":
            raise Broken("handshake refused: %s" % " ".join(hello))
        s.call("map_new m1")
        rc = s.call("chat_adopt c1 m1 @ fd=%d" % chan.fileno(), fd=chan.fileno())
        if rc[0] != "0":
            raise Broken("chat_adopt: %s" % " ".join(rc))
        s.call("term c1 =%0A")
        s.call("producer c1 p1 =ab")        # the chunk goes out at once
        s.call("close_when_done c1")
        s.call("poll m1 select 1000")       # exhausted, released; then the close marker
        s.call("poll m1 select 0")
    except Broken as e:
        return ["the agent did not take part: %s" % e], s.log, True
    finally:
        mine.close()
        chan.close()
        peer.close()
        try:
            p.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    reqs = agent_requests(s.log)
    problems = []
    seqs = [q for q, _ in reqs]
    if any(b <= a for a, b in zip(seqs, seqs[1:])):
        problems.append("the agent's request numbers do not increase on the wire: %s"
                        % ", ".join("%d %s" % r for r in reqs))
    verbs = [v for _, v in reqs]
    if "released" not in verbs or "close" not in verbs:
        problems.append("expected a released and a close request, got: %s" % (verbs or "none"))
    elif verbs.index("released") > verbs.index("close"):
        problems.append("the release came after the close event")
    return problems, s.log, False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0].split(": ", 1)[1],
                                 epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agent", default="%s conformance/agents/cpython/agent.py"
                    % shlex.quote(sys.executable),
                    help="the agent's command line, run from the top directory "
                         "(default: the Python agent with this interpreter)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every line")
    a = ap.parse_args()
    problems, log, broken = run(a.agent)
    if a.verbose or problems:
        print("\n".join("  " + x for x in log))
    for p in problems:
        print("agent_order: " + p, file=sys.stderr)
    print("agent_order: %s" % ("FAILED" if problems else
                               "released before the close event, numbers increasing"))
    return 3 if broken else (1 if problems else 0)


if __name__ == "__main__":
    sys.exit(main())
