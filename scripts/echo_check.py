#!/usr/bin/env python3
"""echo_check.py: byte-exact checks of the achat-echo line server (and of
achat-rawecho's raw echo) over loopback, ending with SIGTERM and a check
that each server exits 0 (under --wrap valgrind: with nothing reported).

Exit status: 0 every check passed, 1 a check failed, 2 usage or setup error.
Progress goes to stderr; replay a run with the --seed it printed.
"""
import argparse
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

    def stop(self, timeout):
        """SIGTERM to this pid only; returns the exit status.  A few clients
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
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise CheckFailed(f"no exit within {timeout:.0f} s of SIGTERM")
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


CHECKS = [
    ("a concurrent pipelined clients", check_concurrent),
    ("b every split point", check_split_points),
    ("c empty lines", check_empty),
    ("d NUL bytes", check_nul),
    ("e big lines", check_big),
    ("f client resets", check_resets),
    ("f2 line limit", check_line_limit),
    ("g rawecho", check_rawecho),
]


class Ctx:
    pass


def main():
    ap = argparse.ArgumentParser(
        description="Byte-exact echo checks of achat-echo and achat-rawecho "
                    "on loopback.  Exit 0: all passed, 1: a check failed, "
                    "2: usage or setup error.")
    ap.add_argument("--binary", default="build/bin/achat-echo",
                    help="the line-echo server (default %(default)s)")
    ap.add_argument("--raw-binary", default=None,
                    help="the raw echo server (default: achat-rawecho "
                         "beside --binary)")
    ap.add_argument("--host", default="127.0.0.1",
                    choices=("127.0.0.1", "::1"),
                    help="loopback address the servers listen on "
                         "(default %(default)s)")
    ap.add_argument("--backend", default="poll", choices=("poll", "select"),
                    help="passed through to the servers (default %(default)s)")
    ap.add_argument("--line-limit", type=int, default=4 << 20,
                    help="the server's longest line in bytes: one byte more "
                         "closes the connection (default %(default)s, "
                         "achat-echo's)")
    ap.add_argument("--wrap", default="",
                    help="command prefix for the servers, e.g. "
                         "'valgrind -q --error-exitcode=88 --leak-check=full'")
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="overall time limit in seconds (default %(default)s)")
    ap.add_argument("--seed", type=int, default=None,
                    help="random seed (default: a fresh one, printed)")
    ap.add_argument("--quick", action="store_true",
                    help="fewer concurrent clients and lines (for valgrind)")
    args = ap.parse_args()
    if args.raw_binary is None:
        args.raw_binary = os.path.join(os.path.dirname(args.binary) or ".",
                                       "achat-rawecho")
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
    overall = ctx.deadline = Deadline(args.timeout)
    ctx.wrap = shlex.split(args.wrap)
    passed = failed = 0
    try:
        ctx.server = Server(ctx.wrap + [args.binary, "--host", args.host,
                                        "--port", "0", "--backend",
                                        args.backend], ctx.deadline)
    except (SetupError, CheckFailed) as e:
        log(f"setup error: {e}")
        return 2
    ctx.addr = ctx.server.addr
    try:
        for name, fn in CHECKS + [("h clean exit on SIGTERM", None)]:
            t0 = time.monotonic()
            ctx.deadline = Deadline(max(30.0, args.timeout / 2), overall)
            try:
                if fn is None:
                    status = ctx.server.stop(ctx.deadline.grace())
                    if status != 0:
                        raise CheckFailed(f"achat-echo exited {status}")
                    detail = "exit status 0"
                else:
                    detail = fn(ctx)
                passed += 1
                log(f"PASS {name}: {detail} ({time.monotonic() - t0:.2f} s)")
            except (CheckFailed, SetupError, OSError) as e:
                failed += 1
                log(f"FAIL {name}: {e} ({time.monotonic() - t0:.2f} s)")
    finally:
        ctx.server.kill()  # only if a check left it running
    print(f"echo_check: {passed} passed, {failed} failed (seed {args.seed})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
