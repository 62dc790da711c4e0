"""acc_vocab.py: the suite's vocabulary (capabilities, errno names, verdicts,
areas) as conformance/include/acc_adapter.h defines it, read from that header
at start-up so that Python code spells every name as the C code does.
agents/tests/vocab_check.py proves this reading equals the C compiler's.
Stdlib only.
"""
import errno
import os
import re

HEADER = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                      os.pardir, "include", "acc_adapter.h")

_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_LIST = re.compile(r"^#define ACC_(\w+)_LIST\(X\)(.*)$", re.M)
_DEFINE = re.compile(r"^#define (ACC_\w+) (\d+)$", re.M)
_ENTRY = re.compile(r'X\(((?:"[^"]*"|[^()"])*)\)')
_ARG = re.compile(r'\s*("[^"]*"|[^,]+?)\s*(?:,|$)')


class VocabError(Exception):
    pass


class Cap:
    def __init__(self, ident, bit, name, where):
        self.ident, self.bit, self.name, self.where = ident, bit, name, where

    @property
    def value(self):
        return 1 << self.bit


def _args(text):
    return [a[1:-1] if a.startswith('"') else a for a in _ARG.findall(text.strip())]


def _flags(expr, defines):
    """'ACC_IN_CASES | ACC_ON_WIRE' or '0' -> int; nothing else is read."""
    value = 0
    for word in expr.split("|"):
        word = word.strip()
        if word.isdigit():
            value |= int(word)
        elif word in defines:
            value |= defines[word]
        else:
            raise VocabError("unreadable flags %r" % expr)
    return value


def _int(text, what):
    if not text.isdigit():
        raise VocabError("%s %r is not a plain number" % (what, text))
    return int(text)


class Vocab:
    """The four lists of the header, in its order."""

    def __init__(self, path=HEADER):
        with open(path, encoding="utf-8") as f:
            text = _COMMENT.sub(" ", f.read()).replace("\\\n", " ")
        defines = {k: int(v) for k, v in _DEFINE.findall(text)}
        lists = {k: [_args(e) for e in _ENTRY.findall(body)]
                 for k, body in _LIST.findall(text)}
        missing = {"CAP", "ERRNO", "VERDICT", "AREA"} - set(lists)
        if missing:
            raise VocabError("%s: no ACC_%s_LIST" % (path, "/".join(sorted(missing))))
        self.in_cases = defines["ACC_IN_CASES"]
        self.on_wire = defines["ACC_ON_WIRE"]
        self.caps = [Cap(e[0], _int(e[1], "bit"), e[2], _flags(e[3], defines))
                     for e in self._rows(lists["CAP"], 4, "capability")]
        self.errnos = [(e[0], _int(e[1], "in-cases flag") != 0)
                       for e in self._rows(lists["ERRNO"], 2, "errno")]
        self.verdicts = [e[0] for e in self._rows(lists["VERDICT"], 1, "verdict")]
        self.areas = [(e[0], e[1]) for e in self._rows(lists["AREA"], 2, "area")]
        self._by_value = {}
        for name, _ in self.errnos:
            value = getattr(errno, name, None)
            if value is None:
                raise VocabError("errno %s: unknown to this Python" % name)
            self._by_value.setdefault(value, name)

    @staticmethod
    def _rows(rows, width, what):
        for row in rows:
            if len(row) != width:
                raise VocabError("%s entry %r: %d fields, want %d" % (what, row, len(row), width))
        return rows

    def wire_caps(self):
        return [c.name for c in self.caps if c.where & self.on_wire]

    def errno_name(self, value, default="EIO"):
        """The wire's name of a positive errno (the C agent's EIO otherwise)."""
        return self._by_value.get(value, default)

    def area_letters(self):
        return "".join(letter for letter, _ in self.areas)


_loaded = None


def load():
    """The header's vocabulary, read once."""
    global _loaded
    if _loaded is None:
        _loaded = Vocab()
    return _loaded
