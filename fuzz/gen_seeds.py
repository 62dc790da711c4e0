#!/usr/bin/env python3
"""gen_seeds.py: writes the seed inputs of the fuzz corpora, in each
harness's input language, under content-hash names (sha1, as libFuzzer
names its own finds).  Framing seeds come from the terminator vectors of
docs/cpython-3.11.md (CV1-CV50) and from the conformance cases in
conformance/cases/t/; the case-parser seeds are the case files themselves.
Existing files are never touched, so re-running only adds.

  gen_seeds.py [--repo DIR]        write the seeds
  gen_seeds.py explain FILE...     decode framing inputs, for debugging
"""
import argparse
import hashlib
import os
import sys

# ---------------------------------------------------------------- framing --
# The input language of fuzz_framing.c (its header comment is the
# reference): flags, [limit], action 0, {trigger action}, sizes, data.

TWO40 = 1 << 40


def enc_action(a):
    kind = a[0]
    if kind == 'string':
        b = a[1]
        if len(b) < 63:
            return bytes([len(b)]) + b
        if len(b) > 63 + 255:
            raise ValueError('terminator too long for the input language')
        return bytes([0x3F, len(b) - 63]) + b
    if kind == 'count':
        n = a[1]
        if n >= TWO40 and n - TWO40 < 256:
            return bytes([0x7F, n - TWO40])
        if n >= 0x3F00:
            raise ValueError('count not expressible')
        return bytes([0x40 | (n >> 8), n & 0xFF])
    if kind == 'none':
        return b'\x80'
    if kind == 'discard':
        return b'\xc0'
    if kind == 'reset':
        return b'\xc1'
    if kind == 'invalid':
        return bytes([0xC2 | (a[1] << 3)])
    if kind == 'null0':
        return b'\xc3'
    if kind == 'limit':
        return bytes([0xC4, a[1]])
    raise ValueError(kind)


def enc_framing(act0, chunks, found=(), feed=(), limit=None, sizes=None,
                bytewise=False):
    """found: [(n, action)] run inside found number n (1-based);
    feed: [(n, action)] run before feed number n (0-based);
    chunks: the reads; sizes overrides their lengths (None: as the chunks,
    [] one read)."""
    extra = [(n - 1, a) for n, a in found] + [(0x80 + n, a) for n, a in feed]
    if len(extra) > 7:
        raise ValueError('too many actions')
    data = b''.join(chunks)
    if sizes is None:
        sizes = []
        for c in chunks:
            while len(c) > 255:
                sizes.append(255)
                c = c[255:]
            sizes.append(len(c))
    if len(sizes) > 255:
        raise ValueError('too many reads')
    flags = len(extra) | (8 if limit else 0) | (16 if bytewise else 0)
    out = bytes([flags])
    if limit:
        out += bytes([limit - 1])
    out += enc_action(act0)
    for t, a in extra:
        out += bytes([t]) + enc_action(a)
    return out + bytes([len(sizes)]) + bytes(sizes) + data


S = lambda b: ('string', b)  # noqa: E731
C = lambda n: ('count', n)   # noqa: E731
NONE = ('none',)

# docs/cpython-3.11.md (CV1-CV50), as far as C can express them (no negative
# counts, no type errors).  (name, initial terminator, reads, found actions,
# feed actions).
VECTORS = [
    ('CV1', S(b'\n'), [b'a\nb\n'], [], []),
    ('CV2', S(b'\n'), [b'a\n\nb\n'], [], []),
    ('CV3', S(b'\n'), [b'\n'], [], []),
    ('CV4', S(b'\n'), [b'\nabc'], [], []),
    ('CV5', S(b'\r\n'), [b'abc\r', b'\n'], [], []),
    ('CV6', S(b'\r\n'), [b'abc\r', b'x\n', b'\r\n'], [], []),
    ('CV7', S(b'\r\n'), [b'\r', b'\r', b'\n'], [], []),
    ('CV8', S(b'\r\n'), [b'a', b'\r', b'\n', b'b', b'\r', b'\n'], [], []),
    ('CV9', S(b'\r\n'), [b'\r'], [], []),
    ('CV10', S(b'\r\n'), [b'a\r\r\n'], [], []),
    ('CV11', S(b'qqq'), [b'aqq', b'q'], [], []),
    ('CV12', S(b'qqq'), [b'aq', b'qq', b'b'], [], []),
    ('CV13', S(b'qqq'), [b'qqqq'], [], []),
    ('CV14', S(b'qqq'), [b'qqqqqq'], [], []),
    ('CV15', S(b'aab'), [b'aa', b'ab'], [], []),
    ('CV16', S(b'abab'), [b'xaba', b'bab'], [], []),
    ('CV17', S(b'ab'), [b'a', b'a', b'b'], [], []),
    ('CV18', S(b'\r\n.\r\n'), [b'l1\r\nl2\r\n.', b'\r\n'], [], []),
    ('CV19', S(b'\r\n.\r\n'), [b'x\r\n.', b'y\r\n.\r\n'], [], []),
    ('CV20', S(b'\r\n'), [b'data-no-term'], [], []),
    ('CV21', S(b'\r\n'), [b'hell', b'o\r\nw', b'orld', b'\r\n'], [], []),
    ('CV22', S(b';'), [b'a;b;;c;d'], [], []),
    ('CV23', S(b''), [b'ab', b'c\n'], [], []),
    ('CV24', NONE, [b'ab', b'c\n'], [], []),
    ('CV25', S(b'\n'), [b'a\nb'], [], []),
    ('CV26', C(5), [b'12345'], [], []),
    ('CV27', C(5), [b'12', b'34', b'5678'], [], []),
    ('CV28', C(5), [b'1234567890'], [], []),
    ('CV29', C(5), [b'1234567890ab'], [(1, C(5)), (2, C(5))], []),
    ('CV30', C(1), [b'abc'], [(1, C(1)), (2, C(1)), (3, C(1))], []),
    ('CV31', C(0), [b'abc'], [], []),
    ('CV32', C(1), [b'abc'], [], []),
    ('CV34', C(TWO40), [b'abc', b'de'], [], []),
    ('CV35', S(b'\r\n'), [b'LEN\r\nbodyREST\r\n'],
     [(1, C(4)), (2, S(b'\r\n'))], []),
    ('CV36', S(b'\n'), [b'a\nrest\nmore'], [(1, NONE)], []),
    ('CV37', C(2), [b'ab\ncd\n'], [(1, S(b'\n'))], []),
    ('CV38', S(b'\r\n'), [b'abc\r', b'\nX'], [], [(1, S(b'X'))]),
    ('CV39', S(b'\n'), [b'a\nbc'], [], []),
    ('CV40', S(b'\r\n'), [b'a\r\nbc\r'], [], []),
    ('CV41', S(b'\n'), [b'a\nb\nc\n'], [], []),
    ('CV42', S(b'\n'), [b'a\nb\nc\n'], [(1, ('discard',))], []),
    ('CV44', S(b'\n'), [b'a\nb\n'], [], []),
    ('CV46', S(b'\r\n'), [b'a\r', b'\nb'], [], []),
    ('CV47', S(b'\n'), [b'x' * 3900], [], []),
    ('CV48', S(b'ABCDE'), [b'xAB', b'CD', b'Ey'], [], []),
    ('CV49', S(b'\r\n'), [b'ab\r', b''], [], [(1, NONE)]),
    ('CV50', S(b'\n'), [b'a\n'], [], []),
]

# Beyond the vectors: the other actions and the limit (T3, T14, T16).
EXTRA_FRAMING = [
    dict(act0=S(b'\r\n'), chunks=[b'ab\r', b'\ncd\r\n'],
         found=[(1, ('reset',)), (2, ('invalid', 0)), (3, ('invalid', 1))]),
    dict(act0=C(3), chunks=[b'abcdef'], found=[(1, ('reset',))]),
    dict(act0=S(b'\n'), chunks=[b'abc\n', b'abcd\n', b'ab'], limit=3),
    dict(act0=S(b'\n'), chunks=[b'abcdefg\n', b'x\n'], limit=4),
    dict(act0=S(b'\r\n'), chunks=[b'abc\r', b'\nd'], limit=3),
    dict(act0=C(5), chunks=[b'abcdefghij'], limit=4),
    dict(act0=S(b'\n'), chunks=[b'a\nbb\n'],
         found=[(1, ('limit', 1)), (2, ('limit', 0))]),
    dict(act0=S(b'\n'), chunks=[b'ab', b'c\n'], feed=[(1, ('discard',))]),
    dict(act0=S(b'\r\n'), chunks=[b'ab\r', b'\n'],
         feed=[(1, ('null0',))]),
    dict(act0=S(b'\x00'), chunks=[b'a\x00b\x00\x00']),
    dict(act0=S(b'\r\n\r\n'), chunks=[b'GET / HTTP/1.0\r\nHost: x\r\n\r',
                                       b'\nbody']),
    dict(act0=S(b'x' * 300), chunks=[b'abc' + b'x' * 150, b'x' * 150 + b'd']),
    dict(act0=S(b'abcabd'), chunks=[b'abcabcabd', b'abcab', b'd']),
]


def framing_variants(act0, chunks, found=(), feed=(), limit=None):
    """The reads as written, one byte per read, and all in one."""
    out = []
    for sizes, bw in ((None, False), ([1], True), ([], False)):
        try:
            b = enc_framing(act0, chunks, found, feed, limit, sizes, bw)
        except ValueError:
            continue
        if len(b) <= 4096:
            out.append(b)
    return out


# A small reader for conformance case files (docs/case-format.md), enough
# to pull the terminator program and the reads of the first chat channel.
def lex(line):
    toks, i, n = [], 0, len(line)
    while i < n:
        c = line[i]
        if c.isspace():
            i += 1
        elif c == '#':
            break
        elif c == '"':
            i += 1
            b = bytearray()
            while i < n and line[i] != '"':
                if line[i] == '\\' and i + 1 < n:
                    e = line[i + 1]
                    if e == 'x':
                        b.append(int(line[i + 2:i + 4], 16))
                        i += 4
                        continue
                    b += {'r': b'\r', 'n': b'\n', 't': b'\t', '0': b'\0',
                          '\\': b'\\', '"': b'"'}.get(e, b'?')
                    i += 2
                else:
                    b += line[i].encode()
                    i += 1
            i += 1
            toks.append(bytes(b))
        elif c == ':':
            toks.append(':')
            i += 1
        else:
            j = i
            while j < n and not line[j].isspace() and line[j] not in '":#':
                j += 1
            toks.append(line[i:j])
            i = j
    # STRING * COUNT repetition
    out = []
    for t in toks:
        if len(out) >= 2 and isinstance(out[-2], bytes) and out[-1] == '*' \
                and isinstance(t, str) and t.isdigit():
            out[-2:] = [out[-2] * int(t)]
        else:
            out.append(t)
    return out


def step_action(toks, ch):
    """The framing action of a step on channel ch, or None."""
    if len(toks) < 2 or toks[1] != ch:
        return None
    w = toks[0]
    if w == 'term' and len(toks) >= 3 and isinstance(toks[2], bytes):
        return S(toks[2])
    if w == 'count' and len(toks) >= 3 and toks[2].isdigit():
        return C(int(toks[2]))
    if w == 'none':
        return NONE
    if w == 'discard':
        return ('discard',)
    if w == 'limit' and len(toks) >= 3 and toks[2].isdigit():
        return ('limit', min(int(toks[2]), 255))
    return None


def case_to_framing(text):
    ch, act0, limit, reads, found, feed = None, NONE, None, [], [], []
    bufsize, body = None, False
    for line in text.split('\n'):
        if not body:
            body = line.strip() == '---'
            continue
        toks = lex(line)
        if not toks:
            continue
        if toks[0] == 'chat' and ch is None and len(toks) > 1:
            ch = toks[1]
            continue
        if ch is None:
            continue
        if toks[0] == 'on' and len(toks) >= 5 and toks[1] == ch and \
                toks[2] == 'found':
            nth = toks[3] if toks[3] != ':' else None
            step = toks[toks.index(':') + 1:] if ':' in toks else []
            a = step_action(step, ch)
            if a is None:
                continue
            for n in ([int(nth)] if nth and nth.isdigit() else range(1, 4)):
                found.append((n, a))
            continue
        if toks[0] == 'send' and len(toks) >= 3 and toks[1] == ch and \
                isinstance(toks[2], bytes):
            data = toks[2]
            step = bufsize or len(data) or 1
            reads += [data[i:i + step] for i in range(0, len(data), step)]
            continue
        if toks[0] == 'bufsize' and len(toks) >= 3 and toks[1] == ch:
            bufsize = int(toks[2]) if toks[2].isdigit() else None
            continue
        a = step_action(toks, ch)
        if a is None:
            continue
        if not reads and a[0] == 'limit':
            limit = a[1] or None
        elif not reads and not feed:
            act0 = a
        else:
            feed.append((len(reads), a))
    if ch is None or not reads:
        return None
    return dict(act0=act0, chunks=reads, found=found[:7 - len(feed[:7])],
                feed=feed[:7], limit=limit)


def framing_seeds(repo):
    seeds = []
    for _, act0, chunks, found, feed in VECTORS:
        seeds += framing_variants(act0, chunks, found, feed)
    for e in EXTRA_FRAMING:
        seeds += framing_variants(**e)
    tdir = os.path.join(repo, 'conformance', 'cases', 't')
    for name in sorted(os.listdir(tdir)) if os.path.isdir(tdir) else []:
        if name.endswith('.case'):
            with open(os.path.join(tdir, name), encoding='utf-8',
                      errors='replace') as f:
                prog = case_to_framing(f.read())
            if prog:
                seeds += framing_variants(**prog)
    return seeds


# ------------------------------------------------------------------- fifo --
# fuzz_fifo.c's ops: push, producer, close marker, discard, send, drain.
def f_push(b):
    assert len(b) < 256
    return bytes([0, len(b)]) + b


def f_prod(chunks, fail=False):
    out = bytes([1 | (len(chunks) << 3) | (0x40 if fail else 0)])
    for c in chunks:
        out += bytes([len(c)]) + c
    return out


F_CWD, F_DISCARD, F_DRAIN = b'\x02', b'\x03', b'\x07'


def f_send(maxb, maxiov, take):
    return bytes([4, maxb, maxiov - 1, take])


FIFO_SEEDS = [
    f_push(b'hello') + f_push(b' world') + F_DRAIN,
    f_prod([b'ab', b'cde', b'f']) + f_push(b'tail') + F_CWD +
    f_push(b'late') + F_DRAIN,
    f_push(b'x' * 100) + f_send(10, 1, 3) + f_send(10, 2, 0) +
    f_send(0, 64, 255) + F_CWD + F_DRAIN,
    f_push(b'a') + f_prod([b'bb'], fail=True) + f_push(b'c') + F_DRAIN,
    f_prod([b'p1', b'p2']) + f_prod([b'q1']) + f_send(3, 4, 2) + F_DISCARD +
    f_push(b'after') + F_DRAIN,
    f_prod([]) + F_CWD + f_send(1, 1, 0) + F_DRAIN,
    f_push(b'abc') + F_CWD + f_push(b'def') + F_CWD + F_DRAIN,
    f_push(b'') + F_DRAIN + f_prod([b'z' * 200, b'y' * 200]) +
    f_send(255, 1, 7) + f_send(255, 64, 255) + F_DRAIN,
    bytes([0x80, 0x10, 0x03]) + b'w' * 784 + f_send(0, 64, 255) + F_DRAIN,
]


# ------------------------------------------------------------------- loop --
# fuzz_loop.c's ops: code | flag << 4 | slot << 5, then the arguments.
(L_CHAT, L_DISP, L_CLOSE, L_FREE, L_SEND, L_SHUT, L_PCLOSE, L_DRAIN, L_PUSH,
 L_CWD, L_DISCARD, L_PASS, L_CLOSE_ALL, L_EXIT, L_REUSE, L_ARM) = range(16)


def op(code, slot=0, flag=0, arg=None, data=None):
    out = bytes([code | (flag << 4) | (slot << 5)])
    if arg is not None:
        out += bytes([arg])
    if data is not None:
        out += bytes([len(data)]) + data
    return out


EPOLL = 3  # the slot bits of a pass that pick epoll


def passes(n, select=False, epoll=False):
    if epoll:
        return op(L_PASS, EPOLL) * n
    return b''.join(op(L_PASS, flag=int(select and i % 2 == 0))
                    for i in range(n))


LF, CRLF, CNT3 = 1, 2, 3
BIG = 15 << 2  # read and send 16 bytes at a time

LOOP_SEEDS = [
    op(L_CHAT, 0, arg=LF | BIG) + op(L_SEND, 0, data=b'ab\ncd\n') +
    passes(3) + op(L_DRAIN, 0),
    op(L_CHAT, 0, arg=LF) + op(L_CHAT, 1, arg=LF) + op(L_ARM) +
    op(L_CLOSE, 1) + op(L_SEND, 0, data=b'x\n') + op(L_SEND, 1, data=b'y\n')
    + passes(2),
    op(L_CHAT, 0, arg=CRLF) + op(L_CHAT, 1, arg=CRLF) + op(L_ARM) +
    op(L_REUSE, 1, arg=CRLF) + op(L_SEND, 0, data=b'a\r\n') +
    op(L_SEND, 1, data=b'b\r\n') + passes(3, select=True),
    op(L_DISP, 0, arg=1) + op(L_PCLOSE, 0) + passes(2),
    op(L_DISP, 0, arg=3) + op(L_SEND, 0, data=b'hi') + op(L_PCLOSE, 0) +
    passes(3),
    op(L_CHAT, 0, arg=CNT3) + op(L_PUSH, 0, data=b'hello') + op(L_CWD, 0) +
    op(L_PUSH, 0, data=b'refused') + passes(4) + op(L_DRAIN, 0),
    op(L_CHAT, 0, arg=LF) + op(L_ARM) + op(L_PASS) +
    op(L_SEND, 0, data=b'a\n') + passes(1),
    op(L_CHAT, 0, arg=LF) + op(L_DISP, 1, arg=2) + op(L_ARM) +
    op(L_CLOSE_ALL) + op(L_SEND, 0, data=b'a\n') + passes(2),
    op(L_CHAT, 0, arg=LF) + op(L_ARM) + op(L_FREE, 0) +
    op(L_SEND, 0, data=b'a\nb\n') + passes(2),
    op(L_CHAT, 0, arg=LF | BIG) + op(L_SEND, 0, data=b'one\ntwo') +
    op(L_SHUT, 0) + passes(4),
    op(L_CHAT, 0, arg=0x80) + op(L_SEND, 0, data=b'0123456789') + passes(3),
    op(L_CHAT, 0, arg=LF) + op(L_DISP, 1, arg=1) + op(L_ARM) +
    op(L_EXIT) + op(L_SEND, 0, data=b'q\n') + op(L_SEND, 1, data=b'r') +
    passes(3),
    op(L_DISP, 0, arg=2 | BIG) + op(L_SEND, 0, data=b'abc') + op(L_ARM) +
    op(L_EXIT, flag=1) + passes(2) + op(L_DRAIN, 0) + op(L_CLOSE, 0) +
    op(L_CLOSE, 0),
    op(L_CHAT, 0, arg=LF) + op(L_PUSH, 0, data=b'x') + op(L_DISCARD, 0) +
    op(L_CLOSE, 0) + op(L_PUSH, 0, data=b'y') + op(L_CWD, 0) + passes(1),
    # epoll keeps registrations from pass to pass: a descriptor closed or
    # reused between two epoll passes, or from inside a callback of one.
    op(L_CHAT, 0, arg=LF) + op(L_CHAT, 1, arg=LF) + passes(1, epoll=True) +
    op(L_SEND, 1, data=b'y\n') + op(L_REUSE, 1, arg=LF) +
    op(L_SEND, 0, data=b'x\n') + passes(3, epoll=True),
    op(L_CHAT, 0, arg=CRLF) + op(L_CHAT, 1, arg=CRLF) + op(L_ARM) +
    op(L_REUSE, 1, flag=1, arg=CRLF) + op(L_SEND, 0, data=b'a\r\n') +
    op(L_SEND, 1, data=b'b\r\n') + passes(3, epoll=True),
    op(L_DISP, 0, arg=1) + op(L_DISP, 1, arg=0) + passes(1, epoll=True) +
    op(L_ARM) + op(L_CLOSE, 1) + op(L_SEND, 1, data=b'z') +
    passes(2, epoll=True) + passes(1),
    op(L_CHAT, 0, arg=LF) + passes(1, epoll=True) + op(L_SEND, 0,
                                                      data=b'a\n') +
    op(L_ARM) + op(L_EXIT, EPOLL, flag=1) + passes(2, epoll=True) +
    op(L_CLOSE_ALL) + op(L_CHAT, 2, arg=LF) + passes(1, epoll=True),
    op(L_CHAT, 0, arg=LF | BIG) + op(L_SEND, 0, data=b'one\ntwo') +
    op(L_SHUT, 0) + passes(2, epoll=True) + passes(1, select=True) +
    passes(2, epoll=True),
]


# ----------------------------------------------------------- case parser --
BROKEN_CASES = [
    b'id: t.x\nclause: T4\n---\nchat a unix\nterm a "\\r\\n\n',
    b'id: t.x\nclause: T4\n---\nchat a unix\nterm b "x"\n',
    b'id: t.x\nclause: T4\n---\nchat a unix\nsend a "\\q"\n',
    b'id: t.x\nclause: T4\n---\nchat a unix\nsend a "\\x4"\n',
    b'id: t.x\nclause: T4\n---\nchat a unix\ncount a -1\n',
    b'id: t.x\nclause: T4\n---\nchat a unix\nsend a "ab" * 0\n',
    b'id: t.x\nclause: T4\nlevel: SOMETIMES\n---\n',
    b'id: t.x\nclause: T4\nrequires: telepathy\n---\n',
    b'id: t.x\n---\nchat a unix\n',
    b'id: t.x\nclause: T4\n---\nchat a unix\non a found 1 count a 3\n',
    b'id: t.x\nclause: T4\n---\nchat a unix\nchat a unix\n',
    b'id: t.x\nclause: T4\n---\nmap m\nchat a unix in n\n',
    b'id: t.x\nclause: T4\n---\nchat a unix\nexpect a error EWHAT\n',
    b'id: t.x\nclause: T4\n---\nchat a unix\nproducer a p "a" ""\n',
    b'id: t.x\nclause: T4\n---\nchat a unix\npass 10 -> any\n',
    b'id: t.x\nclause: T4\nvariants: as-written bytewise\n---\n'
    b'chat a tcp\nconnect b refused\nlisten l\ndial l c\nadopt d l\n'
    b'expect-peer a "x" slow 3\nexpect-size 2\nloop main 5\n',
]


def case_seeds(repo):
    seeds = list(BROKEN_CASES)
    cdir = os.path.join(repo, 'conformance', 'cases')
    for root, _, files in sorted(os.walk(cdir)):
        for name in sorted(files):
            if name.endswith('.case'):
                with open(os.path.join(root, name), 'rb') as f:
                    data = f.read()
                if len(data) <= 4096:
                    seeds.append(data)
    return seeds


# ------------------------------------------------------------------ main --
def write(dirpath, seeds):
    os.makedirs(dirpath, exist_ok=True)
    new = 0
    for s in seeds:
        path = os.path.join(dirpath, hashlib.sha1(s).hexdigest())
        if not os.path.exists(path):
            with open(path, 'wb') as f:
                f.write(s)
            new += 1
    return new


def explain(data):
    """A readable account of a framing input."""
    pos = 0

    def u8():
        nonlocal pos
        if pos < len(data):
            pos += 1
            return data[pos - 1]
        return 0

    def take(n):
        nonlocal pos
        b = data[pos:pos + n]
        pos += len(b)
        return b

    def action():
        k = u8()
        if k < 0x40:
            return ('string', take(63 + u8() if k == 0x3F else k))
        if k < 0x80:
            hi, lo = k & 0x3F, u8()
            return ('count', TWO40 + lo if hi == 0x3F else hi << 8 | lo)
        if k < 0xC0:
            return ('none',)
        sub = ['discard', 'reset', 'invalid', 'null0', 'limit', 'none',
               'none', 'none'][k & 7]
        if sub == 'limit':
            return ('limit', u8())
        if sub == 'invalid':
            return ('invalid', 'too long' if k & 8 else 'NULL')
        return (sub,)

    flags = u8()
    lines = ['flags 0x%02x: %d extra actions, differential %s' % (
        flags, flags & 7, 'bytewise' if flags & 16 else 'one-shot')]
    if flags & 8:
        lines.append('limit %d' % (u8() + 1))
    lines.append('initial: %r' % (action(),))
    for _ in range(flags & 7):
        t = u8()
        a = action()
        when = ('inside found #%d' % (t + 1) if t < 0x80
                else 'before feed %d' % (t - 0x80))
        lines.append('%s: %r' % (when, a))
    sizes = list(take(u8()))
    lines.append('read sizes %r (cycled)' % sizes if sizes else 'one read')
    lines.append('data (%d bytes) %r' % (len(data) - pos, data[pos:]))
    return '\n'.join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('command', nargs='?', default='generate',
                    choices=['generate', 'explain'])
    ap.add_argument('files', nargs='*', help='inputs to explain')
    ap.add_argument('--repo', default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), '..'))
    args = ap.parse_args()
    if args.command == 'explain':
        for f in args.files:
            with open(f, 'rb') as fh:
                print('%s:\n%s\n' % (f, explain(fh.read())))
        return 0
    corpus = os.path.join(args.repo, 'fuzz', 'corpus')
    for h, seeds in (('framing', framing_seeds(args.repo)),
                     ('fifo', FIFO_SEEDS), ('loop', LOOP_SEEDS),
                     ('case_parser', case_seeds(args.repo))):
        n = write(os.path.join(corpus, h), seeds)
        print('gen_seeds: %-12s %3d seeds, %3d new' % (h, len(set(seeds)), n))
    return 0


if __name__ == '__main__':
    sys.exit(main())
