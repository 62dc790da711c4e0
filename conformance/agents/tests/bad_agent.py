#!/usr/bin/env python3
"""bad_agent.py: a deliberately broken agent, for the robustness tests of the
agent client (agents_check.py).  It speaks the protocol well enough to pass
the handshake and to create maps and channels, then misbehaves at the first
loop pass ("poll"), in the way its one argument names:

  crash      exits at once (status 5)
  segv       dies of SIGSEGV
  hang       never answers (sleeps)
  garbage    answers with binary junk
  badseq     answers with the wrong sequence number
  nofd       sends an accept event that announces a descriptor it does not send
  unknown    sends an event the protocol does not have
  overlong   sends a line longer than the protocol allows
  truncated  sends half a line, then exits
  badhello   refuses the handshake (protocol version)
  killrun    kills the run that started it with SIGSEGV (a crash of the
             implementation inside the runner's process, as it looks there)

Each must give the run an ERROR with a clear message on stderr, at once
(hang: after the client's timeout), and the next run a fresh agent.
Stdlib only; no fork feature, so every run spawns its own copy.
"""
import os
import signal
import socket
import sys
import time

MODE = sys.argv[1] if len(sys.argv) > 1 else "crash"


def main():
    sock = socket.socket(fileno=int(os.environ.get("ACC_AGENT_FD", "3")))
    buf = b""
    out_seq = 0
    while True:
        while b"\n" not in buf:
            data, anc, _, _ = sock.recvmsg(1 << 20, socket.CMSG_SPACE(64))
            for _, _, payload in anc:       # descriptors: dropped (closed with us)
                for i in range(0, len(payload) - 3, 4):
                    os.close(int.from_bytes(payload[i:i + 4], sys.byteorder))
            if not data:
                return 0
            buf += data
        line, buf = buf.split(b"\n", 1)
        tok = line.decode().split(" ")
        seq, verb = tok[1], tok[2]
        if verb == "hello":
            if MODE == "badhello":
                sock.sendall(b"R %s -EPROTONOSUPPORT\n" % seq.encode())
                continue
            sock.sendall(b"R %s 0 proto=1 name=bad-agent version=1 backends=select "
                         b"caps=dispatcher\n" % seq.encode())
            continue
        if verb != "poll":
            sock.sendall(b"R %s 0\n" % seq.encode())
            continue
        out_seq += 1
        if MODE == "crash":
            os._exit(5)
        if MODE == "segv":
            signal.signal(signal.SIGSEGV, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGSEGV)
        if MODE == "hang":
            time.sleep(3600)
        if MODE == "killrun":
            os.kill(os.getppid(), signal.SIGSEGV)
        if MODE == "garbage":
            sock.sendall(b"\x16\x03\x01\x00\xff garbage\r\n")
        if MODE == "badseq":
            sock.sendall(b"R %d 0\n" % (int(seq) + 7))
        if MODE == "nofd":
            sock.sendall(b"Q %d accept c2 @\n" % out_seq)
        if MODE == "unknown":
            sock.sendall(b"Q %d frobnicate c2\n" % out_seq)
        if MODE == "overlong":
            chunk = b"x" * (1 << 20)
            try:
                for _ in range(40):
                    sock.sendall(chunk)
            except OSError:
                pass
        if MODE == "truncated":
            sock.sendall(b"R %s 0 =half-a-li" % seq.encode())
            os._exit(0)
        time.sleep(3600)   # whatever the client does next, do not help it


if __name__ == "__main__":
    sys.exit(main())
