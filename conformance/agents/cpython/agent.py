#!/usr/bin/env python3
"""agent.py: a Python asyncore/asynchat as a conformance agent
(docs/agent-protocol.md), so the suite judges the copy a user runs: CPython's
standard library by default, or any other pair of modules named with
--asyncore/--asynchat (a PyPI backport, Supervisor's medusa copy, a user's
own module or file).

Each protocol request maps onto the modules the way a Python user would write
it: an async_chat subclass whose collect_incoming_data/found_terminator
forward to the suite, a dispatcher subclass for plain dispatchers and
listeners, poll/poll2/loop with map=..., socket.socket(fileno=fd) for
descriptors the suite passes, producers as objects with more().  A listener
takes connections the way that copy's users do: handle_accepted(sock, addr)
where the copy has it (3.2+), otherwise handle_accept() calling accept().
Nothing is corrected: where the copy departs from the spec, the suite sees
it depart.  Two rules make the C-shaped protocol fit Python faithfully:
  * an operation the suite runs from inside a handler (a reaction) that raises
    returns its errno to the suite AND the exception then propagates out of
    that handler, as it would from uncaught user code (this is how a spurious
    read reaches handle_error, CQ9);
  * a producer is "released" when the copy drops its last reference to it.
The name and version told to the suite (hence its expectations file,
conformance/expectations/<name>.txt) come from the modules: cpython-X.Y for
the standard library, the distribution that ships them otherwise.
Capability and errno names are acc_adapter.h's, read from the header at
start-up (agents/common/acc_vocab.py; make vocab-check holds that reading to
the C compiler's).
Stdlib only.  Run by the agent client with the connection on $ACC_AGENT_FD.
"""
import argparse
import collections
import errno
import importlib
import importlib.util
import os
import re
import resource
import select
import signal
import socket
import sys
import sysconfig
import traceback
import urllib.parse
import warnings

PROTO = 1
MAX_LINE = 32 << 20
EVENT_TIMEOUT = 60.0      # seconds the suite may take to answer an event
TRACE = int(os.environ.get("ACC_AGENT_TRACE") or 0)

CAPS = ("count", "producer", "dispatcher", "listen", "connect", "default-map",
        "threads", "bufsize", "exit",   # no input limit: asynchat has none (T16)
        "disp-connect")
BACKENDS = ("select", "poll")           # asyncore.poll and asyncore.poll2


def _vocab():
    """acc_adapter.h's names (agents/common/acc_vocab.py reads the header),
    loaded by path: no module search that a --path could redirect."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "common", "acc_vocab.py")
    spec = importlib.util.spec_from_file_location("acc_vocab", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.load()


VOCAB = _vocab()
_UNCARRIED = set(CAPS) - set(VOCAB.wire_caps())
if _UNCARRIED:      # a misspelt name would silently turn its cases into SKIPs
    raise SystemExit("agent.py: CAPS names %s, which the protocol does not carry"
                     % ", ".join(sorted(_UNCARRIED)))

_UNSAFE = re.compile(r"[^!-$&-~]")      # escaped on the wire: space, %, controls, >= 0x7f
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_LINE = re.compile(r"[!-~]+(?: [!-~]+)*")


class ProtocolError(Exception):
    pass


def esc(data):
    """bytes -> '=' + %-escaped token."""
    text = bytes(data).decode("latin-1")
    return "=" + _UNSAFE.sub(lambda m: "%%%02X" % ord(m.group()), text)


def unesc(tok):
    if not tok.startswith("=") or _BAD_ESCAPE.search(tok):
        raise ProtocolError("bad bytes token %r" % tok[:40])
    return urllib.parse.unquote_to_bytes(tok[1:])


def errname(exc):
    """The errno name the suite gets for an exception."""
    if isinstance(exc, OSError) and exc.errno in errno.errorcode:
        return VOCAB.errno_name(exc.errno)
    if isinstance(exc, (TypeError, ValueError)):
        return "EINVAL"
    return "EPROTO"     # an exception with no errno (AttributeError, ...)


def describe(exc):
    return esc(("%s: %s" % (type(exc).__name__, exc)).encode("utf-8", "replace")[:200])


class Msg:
    def __init__(self, kind, seq, tok, fds, line):
        self.kind, self.seq, self.tok, self.fds, self.line = kind, seq, tok, fds, line


class Conn:
    """One protocol connection: codec and re-entrant pump."""

    def __init__(self, sock, agent):
        self.sock = sock
        self.agent = agent
        self.buf = bytearray()
        self.base = 0           # stream offset of buf[0]
        self.fdq = []           # (fd, stream offset where its read ended)
        self.next_seq = 1
        self.peer_seq = 0

    def fail(self, why):
        # The suite is gone or broken: nothing sensible is left to do here.
        sys.stderr.write("python agent (%s): %s\n" % (self.agent.impl.name, why))
        sys.stderr.flush()
        os._exit(3)

    # -- reading
    def _read_some(self, timeout):
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            raise ProtocolError("no message from the suite for %s s" % timeout)
        data, anc, flags, _ = self.sock.recvmsg(1 << 20, socket.CMSG_SPACE(4 * 16))
        end = self.base + len(self.buf) + len(data)
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                n = len(payload) // 4
                for fd in memoryview(payload)[:n * 4].cast("i"):
                    self.fdq.append((fd, end))
        if flags & socket.MSG_CTRUNC:
            raise ProtocolError("descriptors truncated")
        if not data:
            if self.buf:
                raise ProtocolError("connection closed in the middle of a line")
            return False
        self.buf += data
        return True

    def read_msg(self, timeout):
        """The next message, or None at a clean end of stream."""
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                break
            if len(self.buf) > MAX_LINE:
                raise ProtocolError("line too long")
            if not self._read_some(timeout):
                return None
        if i > MAX_LINE:
            raise ProtocolError("line too long")
        raw = bytes(self.buf[:i])
        start, last = self.base, self.base + i
        del self.buf[:i + 1]
        self.base += i + 1
        try:
            line = raw.decode("ascii")
        except UnicodeDecodeError:
            raise ProtocolError("non-ASCII byte in a line") from None
        if TRACE > 1:
            sys.stderr.write("[agent] <- %s\n" % line[:150])
        if not _LINE.fullmatch(line):
            raise ProtocolError("malformed line %r" % line[:60])
        tok = line.split(" ")
        kind = tok[0]
        if kind in ("Q", "R"):
            if len(tok) < 3 or not tok[1].isdigit() or tok[1].startswith("0"):
                raise ProtocolError("bad sequence number in %r" % line[:60])
            seq, rest = int(tok[1]), tok[2:]
        elif kind == "N" and len(tok) >= 2:
            seq, rest = 0, tok[1:]
        else:
            raise ProtocolError("bad line kind in %r" % line[:60])
        mine = [f for f in self.fdq if f[1] - 1 <= last]
        if mine and mine[0][1] - 1 < start:
            raise ProtocolError("descriptor no line announced")
        if len(mine) != rest.count("@"):
            raise ProtocolError("%d descriptor(s) announced, %d came"
                                % (rest.count("@"), len(mine)))
        del self.fdq[:len(mine)]
        return Msg(kind, seq, rest, [f[0] for f in mine], line)

    # -- writing
    def send_line(self, line, fd=None, hook=True):
        if hook:
            self.agent.before_send()
        if TRACE > 1:
            sys.stderr.write("[agent] -> %s\n" % line[:150])
        data = line.encode("ascii") + b"\n"
        if fd is None:
            self.sock.sendall(data)
            return
        # The descriptor rides on the line's first byte.
        anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                fd.to_bytes(4, sys.byteorder, signed=True))]
        k = self.sock.sendmsg([data], anc)
        if k < len(data):
            self.sock.sendall(data[k:])

    def reply(self, q, body, fd=None):
        self.send_line("R %d %s" % (q.seq, body), fd)

    def notify(self, body):
        self.send_line("N " + body, hook=False)

    def call(self, body, fd=None, timeout=EVENT_TIMEOUT):
        """Sends a request, serves the suite until its reply; the reply."""
        # The hook first: it may send requests of its own (a producer's
        # release), which must take their numbers, and reach the suite,
        # before this one does (numbers strictly increase on the wire).
        self.agent.before_send()
        seq = self.next_seq
        self.next_seq += 1
        self.send_line("Q %d %s" % (seq, body), fd, hook=False)
        while True:
            m = self.read_msg(timeout)
            if m is None:
                raise ProtocolError("the suite closed the connection")
            if m.kind == "R":
                if m.seq != seq:
                    raise ProtocolError("reply %d while waiting for %d" % (m.seq, seq))
                return m
            self.dispatch(m)

    def dispatch(self, m):
        if m.kind == "Q":
            if m.seq <= self.peer_seq:
                raise ProtocolError("request %d after %d" % (m.seq, self.peer_seq))
            self.peer_seq = m.seq
            return self.agent.serve(m)
        if m.kind == "N":
            raise ProtocolError("unexpected notification %r" % m.line[:60])
        raise ProtocolError("reply %d with nothing outstanding" % m.seq)


# ---------------------------------------------------------------- channels

def channel_classes(core, chat):
    """The handler classes (Chat, Disp) built on the copy's own
    async_chat and dispatcher."""

    class Forward:
        """Handlers shared by chat channels and plain dispatchers: each
        forwards to the suite, then does what the copy's default does."""

        def handle_connect(self):
            self._agent.event("connect", self)

        def handle_close(self):
            self._agent.event("close", self)
            super().handle_close()          # the copy's default

        def handle_error(self):
            exc = sys.exc_info()[1]
            self._agent.event("error", self, errname(exc), describe(exc))
            super().handle_error()          # the copy's default

    class Chat(Forward, chat.async_chat):
        def __init__(self, agent, cid, sock=None, map=None):
            self._agent, self._cid = agent, cid
            chat.async_chat.__init__(self, sock, map)

        def collect_incoming_data(self, data):
            self._agent.event("collect", self, esc(data))

        def found_terminator(self):
            self._agent.event("found", self)

    class Disp(Forward, core.dispatcher):
        def __init__(self, agent, cid, sock=None, map=None):
            self._agent, self._cid = agent, cid
            core.dispatcher.__init__(self, sock, map)

        def readable(self):
            return self._agent.event("readable", self) > 0

        def writable(self):
            return self._agent.event("writable", self) > 0

        def handle_read(self):
            self._agent.event("read", self)

        def handle_write(self):
            self._agent.event("write", self)

        def _accepted(self, sock):
            # The accepted socket goes to the suite, which owns it from now on.
            self._agent.event("accept", self, "@", fd=sock)

        if hasattr(core.dispatcher, "handle_accepted"):
            # 3.2 and later: the copy accepts and hands the socket over.
            def handle_accepted(self, sock, addr):
                self._accepted(sock)
        else:
            # Older copies only announce the connection; their users accept
            # it themselves, and accept() gives None when there was none.
            def handle_accept(self):
                pair = self.accept()
                if pair is not None:
                    self._accepted(pair[0])

    return Chat, Disp


class Producer:
    """The suite's chunks, then exhaustion (b'')."""

    def __init__(self, agent, pid, chunks):
        self._agent, self._pid, self._chunks = agent, pid, collections.deque(chunks)

    def more(self):
        return self._chunks.popleft() if self._chunks else b""

    def __del__(self):
        # Only noted here: the release is reported before the agent's next
        # message, never from inside a garbage collection.
        try:
            self._agent.released.append(self._pid)
        except Exception:
            pass


# ------------------------------------------------------------------- agent

def _place(fd, want):
    """The received descriptor at the number the suite knows it by, when that
    number is free here (a socket above FD_SETSIZE stays above it, L13)."""
    if want == fd or want < 0 or want >= resource.getrlimit(resource.RLIMIT_NOFILE)[0]:
        return fd
    try:
        os.fstat(want)
        return fd               # taken here: keep the kernel's number
    except OSError:
        pass
    os.dup2(fd, want, inheritable=False)
    os.close(fd)
    return want


def _addr(tok):
    if tok.startswith("inet:"):
        host, port = tok[5:].rsplit(":", 1)
        return socket.AF_INET, (host, int(port))
    if tok.startswith("inet6:["):
        host, port = tok[7:].split("]:", 1)
        return socket.AF_INET6, (host, int(port))
    if tok.startswith("unix:"):
        return socket.AF_UNIX, os.fsdecode(unesc(tok[5:]))
    raise ValueError("bad address %r" % tok)


class Agent:
    def __init__(self, impl):
        self.impl = impl
        self.core = impl.core
        self.Chat, self.Disp = channel_classes(impl.core, impl.chat)
        self.conn = None
        self.maps = {}
        self.chans = {}
        self.gone = set()
        self.released = []
        self.frames = []        # one list per handler running: exceptions to raise

    # -- events
    def event(self, verb, ch, *args, fd=None):
        """A handler of ch ran: tell the suite and wait for its answer.  An
        operation the suite ran meanwhile that raised is raised here."""
        body = " ".join((verb, ch._cid) + args)
        frame = []
        self.frames.append(frame)
        try:
            r = self.conn.call(body, None if fd is None else fd.fileno())
        except (ProtocolError, OSError) as e:
            self.conn.fail(str(e))
        finally:
            self.frames.pop()
            if fd is not None:
                fd.close()
        if frame:
            raise frame[0]
        rc = r.tok[0]
        return int(rc) if rc.isdigit() else -1

    def before_send(self):
        for cid, ch in list(self.chans.items()):
            if cid in self.gone:
                continue
            sock = getattr(ch, "socket", None)
            if sock is None or sock.fileno() < 0:
                self.gone.add(cid)
                self.conn.notify("gone " + cid)
        while self.released:
            pid = self.released.pop(0)
            try:
                self.conn.call("released " + pid)
            except (ProtocolError, OSError) as e:
                self.conn.fail(str(e))

    # -- requests
    def serve(self, q):
        verb, args = q.tok[0], q.tok[1:]
        fds = list(q.fds)
        fn = getattr(self, "op_" + verb, None)
        fd_out, extra = None, ""
        try:
            if fn is None:
                raise ProtocolError("unknown request %r" % verb)
            res = fn(args, fds)
            if isinstance(res, tuple):
                rc, extra, fd_out = res
            else:
                rc = res if res is not None else 0
        except ProtocolError as e:
            self.conn.fail("%s in %r" % (e, q.line[:80]))
        except SwitchConnection:
            raise
        except BaseException as exc:       # noqa: B902 -- ExitNow, KeyboardInterrupt too
            if TRACE:
                traceback.print_exc(file=sys.stderr)
            rc = "-" + errname(exc)
            if self.frames and not self.frames[-1]:
                self.frames[-1].append(exc)
        finally:
            for fd in fds:
                if fd is not None and fd >= 0:
                    os.close(fd)
        if isinstance(rc, int):
            rc = str(rc) if rc >= 0 else "-" + VOCAB.errno_name(-rc)
        self.conn.reply(q, rc + (" " + extra if extra else ""), fd_out)

    def chan(self, cid):
        ch = self.chans.get(cid)
        if ch is None:
            raise ProtocolError("no channel %r" % cid)
        return ch

    def map(self, mid):
        if mid not in self.maps:
            raise ProtocolError("no map %r" % mid)
        return self.maps[mid]

    def op_hello(self, args, fds):
        if args != [str(PROTO)]:
            return -errno.EPROTONOSUPPORT
        fields = {"name": self.impl.name, "version": self.impl.version,
                  "backends": ",".join(BACKENDS), "caps": ",".join(CAPS),
                  "features": "fork"}
        return 0, " ".join(["proto=%d" % PROTO] +
                           [k + esc(val.encode()) for k, val in fields.items()]), None

    def op_fork(self, args, fds):
        if len(fds) != 1 or self.maps or self.chans:
            return -errno.EINVAL
        zygote = os.getpid()
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            die_with(zygote)
            fd = fds.pop()
            raise SwitchConnection(fd)
        return pid

    # maps
    def op_map_new(self, args, fds):
        self.maps[args[0]] = {}

    def op_map_default(self, args, fds):
        # asyncore has one process-wide default map, whatever the thread
        # (CL1, CM3): every suite thread gets the same one.
        self.maps[args[0]] = self.core.socket_map

    def op_map_existing(self, args, fds):
        # The thread's default map if it has one, making none (M1): the
        # module's socket_map always exists, for every thread, and
        # map_free only empties it (close_all), so it is always there.
        self.maps[args[0]] = self.core.socket_map

    def op_map_free(self, args, fds):
        # close_all is how a Python user ends a map; the dict itself stays
        # usable, as a map freed from inside its own pass is in CPython.
        self.core.close_all(map=self.map(args[0]))

    def op_thread_end(self, args, fds):
        # asyncore's default map is process-wide: a thread's end changes
        # nothing (CL1; spec M10).
        return 0

    def op_nofile(self, args, fds):
        # The suite's descriptor headroom, mirrored (agent-protocol.md).
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        lowest = 0
        while lowest < soft:
            try:
                os.fstat(lowest)
            except OSError:
                break
            lowest += 1
        want = lowest + int(args[0])
        if hard != resource.RLIM_INFINITY:
            want = min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    def op_map_size(self, args, fds):
        return len(self.map(args[0]))

    def op_close_all(self, args, fds):
        self.core.close_all(map=self.map(args[0]))

    def op_map_exit(self, args, fds):
        # asyncore's exit request is raising ExitNow from a handler; outside
        # any handler there is nothing to ask.
        self.map(args[0])
        if self.frames and not self.frames[-1]:
            self.frames[-1].append(self.core.ExitNow())

    @staticmethod
    def _timeout(ms):
        ms = int(ms)
        return None if ms == -1 else ms / 1000.0

    def op_poll(self, args, fds):
        m, backend, t = self.map(args[0]), args[1], self._timeout(args[2])
        if backend not in BACKENDS + ("-",):
            return -errno.EINVAL
        try:
            if backend == "poll":
                self.core.poll2(t, m)
            else:
                self.core.poll(t, m)
        except self.core.ExitNow:
            pass

    def op_loop(self, args, fds):
        m, backend, t, count = (self.map(args[0]), args[1], self._timeout(args[2]),
                                int(args[3]))
        if backend not in BACKENDS + ("-",):
            return -errno.EINVAL
        try:
            self.core.loop(t, use_poll=backend == "poll", map=m,
                          count=None if count == 0 else count)
        except self.core.ExitNow:
            pass

    # channels
    def _adopt(self, cls, args, fds):
        cid, m = args[0], self.map(args[1])
        if cid in self.chans:
            raise ProtocolError("channel %r exists" % cid)
        if len(args) == 3 and args[2].startswith("fdof=") and not fds:
            # The suite adopts a descriptor one of our channels holds: a
            # Python user would pass that very number again (M3).
            fd = self.chan(args[2][5:]).socket.fileno()
            if fd < 0:
                return -errno.EBADF
        elif len(fds) == 1 and len(args) == 4 and args[2] == "@" and args[3].startswith("fd="):
            fd = _place(fds[0], int(args[3][3:]))
            fds[0] = None
        else:
            raise ProtocolError("bad adopt request")
        sock = socket.socket(fileno=fd)     # the socket object owns fd now
        try:
            self.chans[cid] = cls(self, cid, sock, m)
        except BaseException:
            if not args[2].startswith("fdof="):
                sock.close()
            else:
                sock.detach()
            raise

    def op_chat_adopt(self, args, fds):
        self._adopt(self.Chat, args, fds)

    def op_disp_adopt(self, args, fds):
        self._adopt(self.Disp, args, fds)

    def op_chat_connect(self, args, fds):
        cid, m = args[0], self.map(args[1])
        family, addr = _addr(args[2])
        ch = self.Chat(self, cid, map=m)
        self.chans[cid] = ch    # kept even if connect raises: CPython keeps it registered (D7)
        ch.create_socket(family, socket.SOCK_STREAM)
        ch.connect(addr)
        return 0, "@", ch.socket.fileno()

    def op_disp_connect(self, args, fds):
        cid, m = args[0], self.map(args[1])
        family, addr = _addr(args[2])
        d = self.Disp(self, cid, map=m)
        self.chans[cid] = d     # kept even if connect raises, as op_chat_connect
        d.create_socket(family, socket.SOCK_STREAM)
        d.connect(addr)
        return 0, "@", d.socket.fileno()

    def op_listen(self, args, fds):
        cid, m = args[0], self.map(args[1])
        family, addr = _addr(args[2])
        d = self.Disp(self, cid, map=m)
        self.chans[cid] = d
        d.create_socket(family, socket.SOCK_STREAM)
        try:
            d.set_reuse_addr()
            d.bind(addr)
            d.listen(16)
        except OSError:
            # The socket is this adapter's own, made just above: closing it
            # is ours to do (docs/implementing.md, "When a constructor fails").
            d.close()
            raise
        return 0, "@", d.socket.fileno()

    def op_close(self, args, fds):
        self.chan(args[0]).close()

    def op_free(self, args, fds):
        # A Python user frees a channel by closing it and dropping it.
        ch = self.chans.pop(args[0], None)
        if ch is not None:
            ch.close()

    def op_closefd(self, args, fds):
        # The suite closed its view of the socket behind the implementation's
        # back (close-fd): do the same to the descriptor CPython holds.
        sock = self.chan(args[0]).socket
        if sock is not None and sock.fileno() >= 0:
            os.close(sock.fileno())

    def op_recv(self, args, fds):
        data = self.chan(args[0]).recv(int(args[1]))
        return (len(data), esc(data), None) if data else 0

    def op_send(self, args, fds):
        return self.chan(args[0]).send(unesc(args[1]))

    def op_term(self, args, fds):
        self.chan(args[0]).set_terminator(unesc(args[1]))

    def op_count(self, args, fds):
        self.chan(args[0]).set_terminator(int(args[1]))

    def op_none(self, args, fds):
        self.chan(args[0]).set_terminator(None)

    def op_limit(self, args, fds):
        return -errno.EOPNOTSUPP

    def op_bufsize(self, args, fds):
        ch = self.chan(args[0])
        ch.ac_in_buffer_size = int(args[1])
        ch.ac_out_buffer_size = int(args[2])

    def op_push(self, args, fds):
        self.chan(args[0]).push(unesc(args[1]))

    def op_producer(self, args, fds):
        ch = self.chan(args[0])
        ch.push_with_producer(Producer(self, args[1], [unesc(t) for t in args[2:]]))

    def op_close_when_done(self, args, fds):
        self.chan(args[0]).close_when_done()

    def op_discard(self, args, fds):
        self.chan(args[0]).discard_buffers()


PR_SET_PDEATHSIG = 1


def die_with(parent):
    """A run's agent ends with its zygote, which ends with the runner (the
    client sets the same on the zygote): an implementation that hangs must
    not outlive either.  Linux only (prctl through ctypes); elsewhere the
    agent ends when its connection closes."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(1)


class SwitchConnection(Exception):
    """Raised in a forked child: serve the new connection instead."""

    def __init__(self, fd):
        super().__init__(fd)
        self.fd = fd


def serve_forever(fd, impl):
    agent = Agent(impl)
    sock = socket.socket(fileno=fd)
    agent.conn = Conn(sock, agent)
    while True:
        try:
            m = agent.conn.read_msg(None)
            if m is None:
                return 0
            agent.conn.dispatch(m)
        except SwitchConnection as sw:
            sock.detach()       # the zygote's connection: leave it to the zygote
            os.close(fd)
            return serve_forever(sw.fd, impl)
        except (ProtocolError, OSError) as e:
            agent.conn.fail(str(e))


# ------------------------------------------------------ the copy under test

class Impl:
    """The copy under test: its two modules, and the name and version told
    to the suite."""

    def __init__(self, core, chat, name, version):
        self.core, self.chat, self.name, self.version = core, chat, name, version


def load_module(what):
    """A module named by dotted name, or by file (a path with a '/' or
    ending in .py; a package directory means its __init__.py).  A file is
    loaded under its own base name, so a sibling module importing it by that
    name gets this very copy."""
    if not (what.endswith(".py") or os.sep in what):
        return importlib.import_module(what)
    path = os.path.abspath(what)
    if os.path.isdir(path):
        path = os.path.join(path, "__init__.py")
    name = os.path.splitext(os.path.basename(path))[0]
    if name == "__init__":
        name = os.path.basename(os.path.dirname(path))
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or not os.path.isfile(path):
        raise ImportError("%s: no such Python file" % path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        del sys.modules[name]
        raise
    return mod


def _in_stdlib(path):
    lib = os.path.realpath(sysconfig.get_paths()["stdlib"])
    parts = path.split(os.sep)
    return (path.startswith(lib + os.sep) and "site-packages" not in parts
            and "dist-packages" not in parts)


def source_of(mod):
    """(name, version) of where a module comes from: cpython-X.Y for the
    standard library; the distribution that ships its top-level package
    (plus the subpackage holding it, e.g. supervisor-medusa); else the
    module's own name and __version__."""
    path = os.path.realpath(getattr(mod, "__file__", None) or "")
    if path and _in_stdlib(path):
        v = sys.version_info
        return "cpython-%d.%d" % (v.major, v.minor), "%d.%d.%d" % (v.major, v.minor, v.micro)
    top = mod.__name__.partition(".")[0]
    try:
        import importlib.metadata as md
        dists = md.packages_distributions().get(top, [])
        dist = md.distribution(dists[0]) if dists else None
    except (ImportError, AttributeError, OSError, ValueError):
        dist = None
    if dist is not None:
        name = re.sub(r"[^a-z0-9.]+", "-", dist.metadata["Name"].lower())
        parent = mod.__name__.rpartition(".")[0].rpartition(".")[2]
        if parent and parent != name:
            name += "-" + parent
        return name, dist.version
    return mod.__name__, str(getattr(mod, "__version__", "") or "unknown")


def load_impl(a):
    """The copy the options name; ImportError or TypeError says why not."""
    sys.path[:0] = [os.path.abspath(p) for p in a.path]
    with warnings.catch_warnings():
        # asyncore/asynchat are deprecated in 3.11 (removed in 3.12, PEP 594).
        warnings.simplefilter("ignore", DeprecationWarning)
        core = load_module(a.asyncore)
        chat = load_module(a.asynchat)
    for mod, attrs in ((core, ("dispatcher", "poll", "poll2", "loop", "socket_map",
                               "close_all", "ExitNow")), (chat, ("async_chat",))):
        missing = [x for x in attrs if not hasattr(mod, x)]
        if missing:
            raise TypeError("%s (%s) has no %s" % (mod.__name__, getattr(mod, "__file__", "?"),
                                                  ", ".join(missing)))
    if not issubclass(chat.async_chat, core.dispatcher):
        base = chat.async_chat.__mro__[1]
        raise TypeError("%s.async_chat is built on %s.%s, not on %s.dispatcher: name the "
                        "asyncore module it imports" % (chat.__name__, base.__module__,
                                                        base.__name__, core.__name__))
    (n1, v1), (n2, v2) = source_of(core), source_of(chat)
    name = a.name or (n1 if n1 == n2 else n1 + "+" + n2)
    version = a.impl_version or (v1 if v1 == v2 else v1 + "+" + v2)
    return Impl(core, chat, name, version)


def parse_args(argv):
    env = os.environ.get
    ap = argparse.ArgumentParser(
        description="Serves a Python asyncore/asynchat copy to the conformance suite "
                    "as an agent (docs/agent-protocol.md).",
        epilog="Each option's default comes from the environment variable in brackets, so "
               "a matrix can set it without changing the command.  Exit: 0 the suite "
               "closed the connection, 1 --describe --want: another copy, 2 usage, "
               "3 protocol failure, 4 the modules cannot be loaded.")
    ap.add_argument("--asyncore", default=env("ACC_AGENT_ASYNCORE") or "asyncore",
                    metavar="MODULE", help="the asyncore module: a dotted name "
                    "(supervisor.medusa.asyncore_25) or a .py file [ACC_AGENT_ASYNCORE; "
                    "default asyncore]")
    ap.add_argument("--asynchat", default=env("ACC_AGENT_ASYNCHAT") or "asynchat",
                    metavar="MODULE", help="the asynchat module, built on the asyncore one "
                    "[ACC_AGENT_ASYNCHAT; default asynchat]")
    ap.add_argument("--path", action="append", metavar="DIR",
                    default=[p for p in (env("ACC_AGENT_PATH") or "").split(os.pathsep) if p],
                    help="put DIR first on sys.path (repeatable) [ACC_AGENT_PATH, "
                         "%s-separated]" % os.pathsep)
    ap.add_argument("--name", default=env("ACC_AGENT_NAME"),
                    help="the name told to the suite, which picks conformance/expectations/"
                         "NAME.txt [ACC_AGENT_NAME; default: from the modules]")
    ap.add_argument("--version", dest="impl_version", default=env("ACC_AGENT_VERSION"),
                    help="the version told to the suite [ACC_AGENT_VERSION; default: from "
                         "the modules]")
    ap.add_argument("--describe", action="store_true",
                    help="print the name, version and files of the copy, and exit")
    ap.add_argument("--want", metavar="NAME",
                    help="with --describe: exit 1 unless the copy's name is NAME")
    return ap.parse_args(argv)


def main(argv=None):
    a = parse_args(argv)
    try:
        impl = load_impl(a)
    except (ImportError, TypeError, SyntaxError) as e:
        sys.stderr.write("python agent: cannot load %s/%s: %s\n" % (a.asyncore, a.asynchat, e))
        return 4
    if a.describe:
        print("%s %s (%s, %s)" % (impl.name, impl.version, impl.core.__file__,
                                   impl.chat.__file__))
        if a.want and a.want != impl.name:
            print("python agent: %s/%s give %s here, not %s" % (a.asyncore, a.asynchat,
                                                                impl.name, a.want))
            return 1
        return 0
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)   # as a zygote: children reap themselves
    return serve_forever(int(os.environ.get("ACC_AGENT_FD", "3")), impl)


if __name__ == "__main__":
    sys.exit(main())
