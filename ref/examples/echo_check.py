#!/usr/bin/env python3
"""echo_check.py: byte-exact checks of the achat-echo line server over
loopback, on two backends in turn (--backend, then --also-backend): the
first server ends with SIGTERM, the second with SIGINT, and each must exit
0 (under --wrap valgrind: with nothing reported).  Beside them: achat-rawecho's
raw echo, and achat-get against a one-shot HTTP/1.0 server in this script.

Exit status: 0 every check passed, 1 a check failed, 2 usage or setup error.
Progress goes to stderr; replay a run with the --seed it printed.
"""
import argparse
import fcntl
import os
import random
import re
import selectors
import shlex
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time

CRLF = b"\r\n"


class CheckFailed(Exception):
    pass


class SetupError(Exception):
    pass


def log(msg):
    print(f"echo_check: {msg}", file=sys.stderr, flush=True)


class Deadline:
    """A time budget every wait draws from; a check's own budget ends no
    later than the overall one (so one stuck check leaves time to others)."""

    def __init__(self, seconds, within=None):
        self.end = time.monotonic() + seconds
        if within is not None:
            self.end = min(self.end, within.end)

    def grace(self, floor=5.0, cap=60.0):
        """Time for a cleanup wait: never below floor, even once expired."""
        return min(cap, max(floor, self.end - time.monotonic()))

    def left(self):
        left = self.end - time.monotonic()
        if left <= 0:
            raise CheckFailed("time limit reached (--timeout)")
        return left


# ------------------------------------------------------------- servers --

class Server:
    def __init__(self, argv, deadline):
        self.argv = argv
        timeout = min(20.0, deadline.left())  # raises before any start
        log("starting " + " ".join(shlex.quote(a) for a in argv))
        try:
            self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                         stdin=subprocess.DEVNULL)
        except OSError as e:
            raise SetupError(f"cannot start {argv[0]}: {e}")
        try:
            self.addr = self._read_listening(timeout)
        except BaseException:
            self.kill()  # never leave a server behind
            raise

    def _read_listening(self, timeout):
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        end, line = time.monotonic() + timeout, b""
        while not line.endswith(b"\n"):
            left = end - time.monotonic()
            if left <= 0 or not sel.select(left):
                self.kill()
                raise SetupError("no 'listening on' line within "
                                 f"{timeout:.0f} s")
            chunk = os.read(self.proc.stdout.fileno(), 1)
            if not chunk:
                self.kill()
                raise SetupError(f"server exited (status {self.proc.wait()}) "
                                 "before listening")
            line += chunk
        sel.close()
        m = re.fullmatch(rb"listening on \[?([^\]]*)\]?:(\d+)\n", line)
        if not m:
            self.kill()
            raise SetupError(f"unexpected first line {line!r}")
        log(line.decode().strip())
        return (m.group(1).decode(), int(m.group(2)))

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout, sig=signal.SIGTERM):
        """sig (SIGTERM or SIGINT, both documented to end the server
        cleanly) to this pid only; returns the exit status.  A few clients
        stay connected meanwhile (a half line, unread replies) so the exit
        has live connections to free."""
        idle = []
        try:
            if self.alive():
                for data in (b"half a line", b"unread reply\r\n" * 2000):
                    s = socket.create_connection(self.addr, timeout=10)
                    s.sendall(data)
                    idle.append(s)
                time.sleep(0.3)  # let the server take them in
        except OSError as e:
            log(f"could not leave idle clients before SIGTERM: {e}")
        if self.alive():
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise CheckFailed(f"no exit within {timeout:.0f} s of "
                              f"{signal.Signals(sig).name}")
        finally:
            self.proc.stdout.close()
            for s in idle:
                s.close()

    def kill(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()


# ------------------------------------------------------------- clients --

def split_random(rng, data, small=False):
    """Cuts data into random-sized pieces, from 1 byte up."""
    pieces, i = [], 0
    while i < len(data):
        n = rng.randint(1, 16) if small or rng.random() < 0.3 \
            else rng.randint(1, 8192)
        pieces.append(data[i:i + n])
        i += n
    return pieces


def exchange(addr, jobs, deadline, gap=0.0):
    """Runs every job (pieces to send, exact reply expected) on its own
    connection, all at once over one selector, sending while reading so
    neither side's buffers can fill up.  gap: seconds between two pieces of
    a job, so the server sees them in separate reads.  Returns each job's
    reply, cut short at the first wrong byte or when the server closed."""
    sel = selectors.DefaultSelector()
    states = []
    try:
        for pieces, expect in jobs:
            s = socket.create_connection(addr, timeout=deadline.left())
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.setblocking(False)
            st = {"sock": s, "pieces": list(reversed(pieces)), "exp": expect,
                  "got": bytearray(), "at": 0.0, "open": True}
            states.append(st)
            sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, st)
        pending = len(states)
        while pending:
            now = time.monotonic()
            wake = deadline.left()
            for st in states:  # a job waiting out its gap resumes writing
                if st["open"] and st["pieces"] and st["at"] > 0:
                    if st["at"] <= now:
                        st["at"] = 0.0
                        sel.modify(st["sock"], selectors.EVENT_READ |
                                   selectors.EVENT_WRITE, st)
                    else:
                        wake = min(wake, st["at"] - now)
            for key, mask in sel.select(wake):
                st, s = key.data, key.fileobj
                if mask & selectors.EVENT_WRITE and st["pieces"]:
                    piece = st["pieces"].pop()
                    try:
                        n = s.send(piece)
                    except BlockingIOError:
                        n = 0
                    if n < len(piece):
                        st["pieces"].append(piece[n:])
                    elif not st["pieces"] or gap:
                        st["at"] = time.monotonic() + gap if st["pieces"] else 0
                        sel.modify(s, selectors.EVENT_READ, st)
                if mask & selectors.EVENT_READ:
                    try:
                        data = s.recv(1 << 20)
                    except BlockingIOError:
                        continue
                    n = len(st["got"])
                    st["got"] += data
                    wrong = data != st["exp"][n:n + len(data)]
                    if not data or wrong or len(st["got"]) >= len(st["exp"]):
                        st["open"] = False
                        sel.unregister(s)
                        pending -= 1
    finally:
        for st in states:
            st["sock"].close()
        sel.close()
    return [bytes(st["got"]) for st in states]


def expect_equal(what, got, want):
    if got == want:
        return
    i = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b),
             min(len(got), len(want)))
    raise CheckFailed(f"{what}: {len(got)} bytes back, {len(want)} expected; "
                      f"first difference at offset {i}: got "
                      f"{got[i:i + 16]!r}, expected {want[i:i + 16]!r}")


def random_line(rng, n):
    """n random bytes, NUL, lone CR and lone LF included, never CR LF."""
    alphabet = bytes(range(256)) + b"\0\r\n" * 8
    line = bytes(rng.choices(alphabet, k=n))
    while CRLF in line:  # each swap moves an LF left: this terminates
        line = line.replace(CRLF, b"\n\r")
    return line


def line_echo(addr, deadline, lines, pieces_of, gap=0.0, what="echo"):
    """Sends each list of lines on its own connection and checks the reply."""
    wire = [b"".join(l + CRLF for l in ls) for ls in lines]
    got = exchange(addr, [(pieces_of(w), w) for w in wire], deadline, gap)
    for i, (g, w) in enumerate(zip(got, wire)):
        expect_equal(f"{what}, connection {i}", g, w)


# -------------------------------------------------------------- checks --

def check_concurrent(ctx):
    n_clients, n_lines = (10, 50) if ctx.quick else (50, 200)
    rng = ctx.rng
    lines = [[random_line(rng, rng.choice((0, 1, 2, rng.randint(0, 200),
                                           rng.randint(0, 200),
                                           rng.randint(0, 3000))))
              for _ in range(n_lines)] for _ in range(n_clients)]
    line_echo(ctx.addr, ctx.deadline, lines,
              lambda w: split_random(rng, w), what="pipelined client")
    return f"{n_clients} clients x {n_lines} lines"


def _cuts(msg):
    return [[msg[:k], msg[k:]] for k in range(len(msg) + 1)]


def check_split_points(ctx):
    msg = b"one\r\ntwo\r\nthree\r\n"
    jobs = [([p for p in ps if p], msg) for ps in _cuts(msg)]
    got = exchange(ctx.addr, jobs, ctx.deadline, gap=0.05)
    for k, g in enumerate(got):
        expect_equal(f"split at offset {k}", g, msg)
    return f"{len(jobs)} split points of a 3-line message"


def check_empty(ctx):
    lines = [[b""] * 100, [b"", b"x", b"", b"", b"y", b""]]
    line_echo(ctx.addr, ctx.deadline, lines, lambda w: [w], what="empty lines")
    line_echo(ctx.addr, ctx.deadline, lines,
              lambda w: [w[i:i + 1] for i in range(len(w))],
              what="empty lines, bytewise")
    return "100 empty lines and a mix, whole and bytewise"


def check_nul(ctx):
    lines = [[b"\0", b"\0\0\0", b"a\0b", b"\0" * 10000, b"\0\r\0\n\0"]]
    line_echo(ctx.addr, ctx.deadline, lines, lambda w: [w], what="NUL lines")
    line_echo(ctx.addr, ctx.deadline, lines,
              lambda w: split_random(ctx.rng, w, small=True),
              what="NUL lines, small pieces")
    return "NUL-only and embedded NUL lines"


def check_big(ctx):
    lines = [[random_line(ctx.rng, 300 * 1024)], [random_line(ctx.rng, 1 << 20)]]
    line_echo(ctx.addr, ctx.deadline, lines,
              lambda w: split_random(ctx.rng, w), what="big line")
    return "300 KB and 1 MB lines"


def check_resets(ctx):
    socks = []
    try:
        for _ in range(20):
            s = socket.create_connection(ctx.addr, timeout=ctx.deadline.left())
            s.sendall(b"half a line, no terminator")
            socks.append(s)
        time.sleep(0.2)  # let the server buffer the half lines first
    finally:
        for s in socks:  # SO_LINGER 0: close sends RST, not FIN
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
            s.close()
    time.sleep(0.2)
    if not ctx.server.alive():
        raise CheckFailed("server died after client resets")
    line_echo(ctx.addr, ctx.deadline, [[b"after the resets", b""]],
              lambda w: [w], what="fresh client after resets")
    return "20 resets, then a fresh client echoes"


def flood_until_closed(addr, nbytes, deadline, out):
    """Sends nbytes with no CRLF, then waits for the server to close the
    connection; out gets what happened.  Runs in a thread of its own, beside
    well-behaved clients."""
    chunk = b"x" * 65536
    sent, back = 0, b""
    try:
        with socket.create_connection(addr, timeout=deadline.left()) as s:
            try:
                while sent < nbytes:
                    s.settimeout(deadline.left())
                    sent += s.send(chunk[:nbytes - sent])
                while True:
                    s.settimeout(deadline.left())
                    data = s.recv(65536)
                    if not data:
                        out["end"] = "end of stream"
                        break
                    back += data
            except (ConnectionResetError, BrokenPipeError) as e:
                out["end"] = type(e).__name__
    except (OSError, CheckFailed) as e:  # a timeout: never closed
        out["error"] = f"{e or type(e).__name__}"
    out["sent"], out["back"] = sent, back


def check_line_limit(ctx):
    """The server's memory must not grow without bound for a client that
    never sends CRLF: past the line limit its connection is closed, while
    the others (one with a line of exactly the limit) are served."""
    limit = ctx.args.line_limit
    out = {}
    flood = threading.Thread(target=flood_until_closed,
                             args=(ctx.addr, limit + (1 << 20), ctx.deadline,
                                   out), daemon=True)
    flood.start()
    try:
        rng = ctx.rng
        lines = [[random_line(rng, rng.randint(0, 3000)) for _ in range(50)]
                 for _ in range(4)] + [[b"y" * limit, b"after"]]
        line_echo(ctx.addr, ctx.deadline, lines,
                  lambda w: split_random(rng, w), what="beside the flood")
    finally:
        flood.join(ctx.deadline.grace())
    if flood.is_alive():
        raise CheckFailed("the flooding client is still connected")
    if "error" in out or "end" not in out:
        raise CheckFailed(f"a client sending {limit + (1 << 20)} bytes "
                          "without CRLF was not disconnected "
                          f"({out.get('error', 'no end seen')}; "
                          f"{out.get('sent', 0)} bytes sent)")
    if out["back"]:
        raise CheckFailed(f"the flooding client got {len(out['back'])} bytes"
                          " back for a line it never ended")
    if not ctx.server.alive():
        raise CheckFailed("server died on the over-long line")
    return (f"{out['sent']} bytes without CRLF: closed ({out['end']}); "
            f"a {limit}-byte line and 4 clients beside it echoed")


def unread_bytes(sock):
    """Bytes in sock's receive queue that the application has not read."""
    return struct.unpack("i", fcntl.ioctl(sock, termios.FIONREAD,
                                          b"\0" * 4))[0]


def tcp_queues(pairs):
    """For each (local port, remote port) of a TCP socket, its (tx_queue,
    rx_queue) as the kernel reports them in /proc/net/tcp (tcp6): bytes sent
    and not yet acknowledged, and bytes received and not yet read by the
    socket's owner.  One read of the tables for all: they are long."""
    text = ""
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name, encoding="ascii") as f:
                text += f.read()
        except OSError:
            pass
    found = []
    for lp, rp in pairs:
        m = re.search(rf"^ *\d+: [0-9A-F]+:{lp:04X} [0-9A-F]+:{rp:04X} "
                      r"[0-9A-F]{2} ([0-9A-F]+):([0-9A-F]+) ", text, re.M)
        if m is None:
            raise CheckFailed(f"no TCP socket {lp} -> {rp} in /proc/net/tcp*")
        found.append((int(m.group(1), 16), int(m.group(2), 16)))
    return found


def replies_in_server(sock, sent, server_port):
    """A lower bound on the replies sitting in the server process itself
    (its output queue, or read and not yet answered) for a client that sent
    `sent` bytes of whole lines and read nothing.  Each byte sent is in one
    of: the client's send queue, the server's receive queue, the server
    process, the server's send queue, or the client's receive queue.  The
    kernel's queues are read first and the client's own last: bytes moving
    meanwhile are counted twice, never missed, so the bound holds."""
    port = sock.getsockname()[1]
    (client_tx, _), (server_tx, server_rx) = tcp_queues(
        [(port, server_port), (server_port, port)])
    return sent - client_tx - server_rx - server_tx - unread_bytes(sock)


def reset_owing(addr, n, deadline, rng, out):
    """n clients send lines and read none of the replies until the server
    holds replies for each of them in its own output queue (its socket
    buffers full, a send cut short); then each resets (SO_LINGER 0) at its
    own random moment, with lines still in its own send queue.  Runs in
    a thread beside clients that are being served; out gets the figures per
    client, or the error."""
    line = 1024  # fixed, so that whole lines sent are sent - sent % line
    block = b"".join(random_line(rng, line - 2) + CRLF for _ in range(64))
    socks = []
    try:
        for _ in range(n):
            s = socket.create_connection(addr, timeout=deadline.left())
            s.setblocking(False)
            socks.append([s, 0, 0])  # socket, bytes sent, checked at
        waiting = list(socks)
        while waiting:
            deadline.left()  # raises once the time is up
            moved = False
            for st in list(waiting):
                try:
                    st[1] += st[0].send(block)
                    moved, stalled = True, False
                except BlockingIOError:
                    stalled = True
                # the kernel's tables are long to read: only on a stall
                # (the server stops reading a client owed 1 MiB of replies)
                if stalled and st[1] > st[2]:
                    st[2] = st[1]
                    held = replies_in_server(st[0], st[1] - st[1] % line,
                                             addr[1])
                    if held >= 64 << 10:
                        waiting.remove(st)
                    elif st[1] > 64 << 20:
                        raise CheckFailed(f"{st[1]} bytes sent, and still "
                                          "no replies queued in the server")
            if not moved:
                time.sleep(0.005)
        out["queued"] = time.monotonic()
        rng.shuffle(socks)
        for st in socks:
            time.sleep(rng.uniform(0.0, 0.1))
            # Meanwhile the kernel may have grown the server's socket
            # buffer and taken the queue in: top it up until the server
            # holds replies again, then reset at once.
            while True:
                held = replies_in_server(st[0], st[1] - st[1] % line,
                                         addr[1])
                if held >= 64 << 10:
                    break
                deadline.left()
                try:
                    while True:
                        st[1] += st[0].send(block)
                except BlockingIOError:
                    time.sleep(0.01)
            out.setdefault("figures", []).append((st[1], held))
            st[0].setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack("ii", 1, 0))
            st[0].close()
    except (OSError, CheckFailed) as e:
        out["error"] = f"{e or type(e).__name__}"
    finally:
        for s, _, _ in socks:
            s.close()


def check_queued_resets(ctx):
    """Clients that reset while the server still has replies queued for them
    (or a send cut short) must cost only their own connection: clients
    served at the same moment keep getting byte-exact echoes."""
    n = 4 if ctx.quick else 10
    out = {}
    t = threading.Thread(target=reset_owing, daemon=True,
                         args=(ctx.addr, n, ctx.deadline,
                               random.Random(ctx.rng.random()), out))
    t.start()
    t0 = time.monotonic()
    rounds, rng = 0, ctx.rng
    lines = [[random_line(rng, rng.randint(0, 2000)) for _ in range(40)]
             for _ in range(5)]
    try:
        while rounds < 2 or t.is_alive():  # served during every reset
            line_echo(ctx.addr, ctx.deadline, lines,
                      lambda w: split_random(rng, w),
                      what=f"served beside the resets, round {rounds}")
            rounds += 1
            time.sleep(0.02)  # leave the resetting clients CPU time
    finally:
        t.join(ctx.deadline.grace())
    if t.is_alive() or "error" in out:
        raise CheckFailed("the resetting clients did not finish: "
                          f"{out.get('error', 'still running')}")
    figures = out.get("figures", [])
    if len(figures) != n:
        raise CheckFailed(f"{len(figures)} of {n} clients reset")
    if not ctx.server.alive():
        raise CheckFailed("server died after resets with replies queued")
    line_echo(ctx.addr, ctx.deadline, [[b"after the resets", b""]],
              lambda w: [w], what="fresh client after the resets")
    least = min(f[1] for f in figures)
    most = max(f[0] for f in figures)
    return (f"{n} resets, each with >= {least // 1024} KiB of replies "
            f"queued in the server (<= {most >> 20} MiB sent, queued in "
            f"{out['queued'] - t0:.1f} s); {rounds} rounds of 5 clients "
            "served beside them")


def one_http_reply(listener, reply, out):
    """Serves one HTTP/1.0 request on listener: records the request head,
    sends reply, closes (HTTP/1.0: the close ends the body)."""
    try:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(10)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                head += chunk
            out["request"] = head
            conn.sendall(reply)
    except OSError as e:
        out["error"] = str(e)


def check_get(ctx):
    """achat-get HOST PORT PATH prints the whole reply of a loopback
    HTTP/1.0 server; a refused connection exits 1 with a message."""
    a = ctx.args
    if not os.path.exists(a.get_binary):
        raise CheckFailed(f"{a.get_binary} not found")
    body = bytes(ctx.rng.getrandbits(8) for _ in range(100000))
    reply = (b"HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n"
             b"Content-Length: %d\r\n\r\n" % len(body)) + body
    out = {}
    family = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as lst:
        lst.bind((a.host, 0))
        lst.listen(1)
        lst.settimeout(ctx.deadline.left())
        port = lst.getsockname()[1]
        t = threading.Thread(target=one_http_reply, args=(lst, reply, out),
                             daemon=True)
        t.start()
        try:
            p = subprocess.run(ctx.wrap + [a.get_binary, a.host, str(port),
                                           "/echo/check?x=1"],
                               stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=ctx.deadline.left())
        except subprocess.TimeoutExpired:
            raise CheckFailed("achat-get did not finish in time")
        finally:
            if t.is_alive() and "request" not in out:
                try:  # never connected: wake the accept (Linux)
                    lst.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        t.join(ctx.deadline.grace())
    host = f"[{a.host}]" if family == socket.AF_INET6 else a.host
    want_req = (f"GET /echo/check?x=1 HTTP/1.0\r\nHost: {host}\r\n\r\n"
                .encode())
    if out.get("request") != want_req:
        raise CheckFailed(f"request {out.get('request')!r}, expected "
                          f"{want_req!r} ({out.get('error', '')})")
    if p.returncode != 0:
        raise CheckFailed(f"achat-get exited {p.returncode}: "
                          f"{p.stderr.decode(errors='replace').strip()}")
    expect_equal("achat-get's output", p.stdout, reply)
    # the port is free again: a refused connect must fail cleanly
    p = subprocess.run(ctx.wrap + [a.get_binary, a.host, str(port), "/"],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=ctx.deadline.left())
    err = p.stderr.decode(errors="replace")
    if p.returncode != 1 or "cannot connect" not in err or p.stdout:
        raise CheckFailed(f"achat-get to a closed port exited "
                          f"{p.returncode}, stderr {err.strip()!r}, "
                          f"{len(p.stdout)} bytes on stdout")
    return (f"{len(reply)}-byte reply printed byte-exact, exit 0; "
            "a refused connect exits 1")


def check_rawecho(ctx):
    if not os.path.exists(ctx.args.raw_binary):
        raise CheckFailed(f"{ctx.args.raw_binary} not found")
    a = ctx.args
    raw = Server(ctx.wrap + [a.raw_binary, "--host", a.host, "--port", "0",
                             "--backend", a.backend], ctx.deadline)
    try:
        rng = ctx.rng
        blobs = [bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 20000)))
                 for _ in range(10)] + [b"\r\n\0" * 100, os.urandom(1 << 20)]
        jobs = [(split_random(rng, b), b) for b in blobs]
        got = exchange(raw.addr, jobs, ctx.deadline)
        for i, (g, b) in enumerate(zip(got, blobs)):
            expect_equal(f"rawecho connection {i}", g, b)
    finally:
        status = raw.stop(ctx.deadline.grace())
    if status != 0:
        raise CheckFailed(f"achat-rawecho exited {status} after SIGTERM")
    return f"{len(blobs)} raw connections, exit status 0"


# Run against each achat-echo server (one per backend).
ECHO_CHECKS = [
    ("a concurrent pipelined clients", check_concurrent),
    ("b every split point", check_split_points),
    ("c empty lines", check_empty),
    ("d NUL bytes", check_nul),
    ("e big lines", check_big),
    ("f client resets", check_resets),
    ("f2 resets with replies queued", check_queued_resets),
    ("f3 line limit", check_line_limit),
]
# Run once, with the first server.
OTHER_CHECKS = [
    ("g rawecho", check_rawecho),
    ("h achat-get", check_get),
]


class Ctx:
    pass


def run_server(ctx, backend, sig, checks, overall):
    """Starts achat-echo on backend, runs checks against it, ends it with
    sig.  Returns (passed, failed)."""
    a = ctx.args
    ctx.deadline = Deadline(max(30.0, a.timeout / 2), overall)
    try:
        ctx.server = Server(ctx.wrap + [a.binary, "--host", a.host, "--port",
                                        "0", "--backend", backend],
                            ctx.deadline)
    except (SetupError, CheckFailed) as e:
        raise SetupError(f"{backend}: {e}")
    ctx.addr = ctx.server.addr
    passed = failed = 0
    signame = signal.Signals(sig).name
    try:
        for name, fn in checks + [(f"z clean exit on {signame}", None)]:
            t0 = time.monotonic()
            ctx.deadline = Deadline(max(30.0, a.timeout / 2), overall)
            try:
                if fn is None:
                    status = ctx.server.stop(ctx.deadline.grace(), sig)
                    if status != 0:
                        raise CheckFailed(f"achat-echo exited {status} "
                                          f"after {signame}")
                    detail = "exit status 0"
                else:
                    detail = fn(ctx)
                passed += 1
                log(f"PASS {backend}: {name}: {detail} "
                    f"({time.monotonic() - t0:.2f} s)")
            except (CheckFailed, SetupError, OSError) as e:
                failed += 1
                log(f"FAIL {backend}: {name}: {e} "
                    f"({time.monotonic() - t0:.2f} s)")
    finally:
        ctx.server.kill()  # only if a check left it running
    return passed, failed


def main():
    backends = ("poll", "select", "epoll")
    ap = argparse.ArgumentParser(
        description="Byte-exact echo checks of achat-echo (two backends, "
                    "SIGTERM and SIGINT), achat-rawecho and achat-get on "
                    "loopback.  Exit 0: all passed, 1: a check failed, "
                    "2: usage or setup error.")
    ap.add_argument("--binary", default="build/bin/achat-echo",
                    help="the line-echo server (default %(default)s)")
    ap.add_argument("--raw-binary", default=None,
                    help="the raw echo server (default: achat-rawecho "
                         "beside --binary)")
    ap.add_argument("--get-binary", default=None,
                    help="the HTTP/1.0 client (default: achat-get beside "
                         "--binary)")
    ap.add_argument("--host", default="127.0.0.1",
                    choices=("127.0.0.1", "::1"),
                    help="loopback address the servers listen on "
                         "(default %(default)s)")
    ap.add_argument("--backend", default="poll", choices=backends,
                    help="backend of the first achat-echo, ended with "
                         "SIGTERM, and of achat-rawecho (default "
                         "%(default)s)")
    ap.add_argument("--also-backend", default="epoll",
                    choices=backends + ("none",),
                    help="backend of the second achat-echo, ended with "
                         "SIGINT (default %(default)s)")
    ap.add_argument("--line-limit", type=int, default=4 << 20,
                    help="the server's longest line in bytes: one byte more "
                         "closes the connection (default %(default)s, "
                         "achat-echo's)")
    ap.add_argument("--wrap", default="",
                    help="command prefix for the examples, e.g. "
                         "'valgrind -q --error-exitcode=88 --leak-check=full'")
    ap.add_argument("--timeout", type=float, default=180.0,
                    help="overall time limit in seconds (default %(default)s)")
    ap.add_argument("--seed", type=int, default=None,
                    help="random seed (default: a fresh one, printed)")
    ap.add_argument("--quick", action="store_true",
                    help="fewer concurrent clients and lines (for valgrind)")
    args = ap.parse_args()
    here = os.path.dirname(args.binary) or "."
    if args.raw_binary is None:
        args.raw_binary = os.path.join(here, "achat-rawecho")
    if args.get_binary is None:
        args.get_binary = os.path.join(here, "achat-get")
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 32)
    if args.timeout <= 0:
        ap.error("--timeout must be positive")
    if not os.path.exists(args.binary):
        log(f"{args.binary} not found (run make)")
        return 2
    log(f"seed {args.seed} (replay with --seed {args.seed})")

    ctx = Ctx()
    ctx.args, ctx.quick = args, args.quick
    ctx.rng = random.Random(args.seed)
    overall = Deadline(args.timeout)
    ctx.wrap = shlex.split(args.wrap)
    runs = [(args.backend, signal.SIGTERM, ECHO_CHECKS + OTHER_CHECKS)]
    if args.also_backend != "none":
        runs.append((args.also_backend, signal.SIGINT, ECHO_CHECKS))
    passed = failed = 0
    for backend, sig, checks in runs:
        try:
            p, f = run_server(ctx, backend, sig, checks, overall)
        except SetupError as e:
            log(f"setup error: {e}")
            return 2
        passed, failed = passed + p, failed + f
    print(f"echo_check: {passed} passed, {failed} failed (seed {args.seed})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
