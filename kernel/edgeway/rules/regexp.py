"""Go RE2 patterns (``regexp/syntax`` with Perl flags) translated to Python ``re``.

Traefik compiles every ``*Regexp`` matcher argument with Go's ``regexp.Compile``
and matches unanchored. The two dialects differ in ways that change results
(``$`` before a final newline, Unicode ``\\d``/``\\w``/``\\s``/``\\b``, ``\\z``,
octal escapes vs backreferences, ``{,n}``, ``(?U)``, mid-pattern flags), so the
pattern is parsed with Go's grammar and re-emitted as an equivalent Python
pattern. Anything Go rejects is rejected with Go's message, so a rule valid here
is valid in Traefik; the few RE2 features Python cannot express (``\\pN``
Unicode classes, a repetition right after a flag group) are rejected too.
"""

from __future__ import annotations

import re

__all__ = ["RegexpError", "compile_go_regexp", "translate"]


class RegexpError(ValueError):
    """Go's ``error parsing regexp: <code>: `<expr>``` message."""

    def __init__(self, code: str, expr: str) -> None:
        super().__init__(f"error parsing regexp: {code}: `{expr}`")


MAX_CODEPOINT = 0x10FFFF
_DIGIT = [(0x30, 0x39)]
_SPACE = [(0x09, 0x0A), (0x0C, 0x0D), (0x20, 0x20)]
_WORD = [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]
_PERL = {"d": _DIGIT, "s": _SPACE, "w": _WORD}
_POSIX = {
    "alnum": [(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)],
    "alpha": [(0x41, 0x5A), (0x61, 0x7A)],
    "ascii": [(0x00, 0x7F)],
    "blank": [(0x09, 0x09), (0x20, 0x20)],
    "cntrl": [(0x00, 0x1F), (0x7F, 0x7F)],
    "digit": _DIGIT,
    "graph": [(0x21, 0x7E)],
    "lower": [(0x61, 0x7A)],
    "print": [(0x20, 0x7E)],
    "punct": [(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)],
    "space": [(0x09, 0x0D), (0x20, 0x20)],
    "upper": [(0x41, 0x5A)],
    "word": _WORD,
    "xdigit": [(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)],
}
_SIMPLE = {"a": 7, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11}
_WORD_CLASS = "[0-9A-Za-z_]"
# ASCII word boundary, as Go's \b (Python's is Unicode-aware); immune to (?i).
_BOUNDARY = f"(?-i:(?<={_WORD_CLASS})(?!{_WORD_CLASS})|(?<!{_WORD_CLASS})(?={_WORD_CLASS}))"
_NOT_BOUNDARY = f"(?-i:(?<={_WORD_CLASS})(?={_WORD_CLASS})|(?<!{_WORD_CLASS})(?!{_WORD_CLASS}))"


def _negate(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out, lo = [], 0
    for a, b in sorted(ranges):
        if a > lo:
            out.append((lo, a - 1))
        lo = max(lo, b + 1)
    if lo <= MAX_CODEPOINT:
        out.append((lo, MAX_CODEPOINT))
    return out


def _char(cp: int) -> str:
    """One code point as a Python pattern atom, safe inside and outside classes."""
    c = chr(cp)
    if c.isascii() and c.isalnum():
        return c
    if cp < 0x100:
        return f"\\x{cp:02x}"
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


def _class(ranges: list[tuple[int, int]], negated: bool = False) -> str:
    parts = [_char(a) if a == b else f"{_char(a)}-{_char(b)}" for a, b in ranges]
    if not parts:  # an empty class matches nothing (Go allows e.g. [^\x00-\x{10FFFF}])
        return "(?!)" if not negated else "(?s:.)"
    return f"[{'^' if negated else ''}{''.join(parts)}]"


class _Frame:
    """One open group: flags at entry and how many flag scopes we opened inside it."""

    __slots__ = ("flags", "scopes", "size", "start")

    def __init__(self, flags: frozenset[str], start: int = 0) -> None:
        self.flags = flags
        self.start = start  # index in the output of the group's opening
        self.scopes = 0
        self.size = 1  # largest nested {n,m} product inside (Go's repeatIsValid)


class Translator:
    """Go regexp syntax -> Python ``re`` source, group by group.

    Groups come out non-capturing (rules only need a match); the rewrite
    middlewares subclass it to keep captures (``middlewares/goregexp.py``).
    """

    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0
        self.out: list[str] = []
        self.flags: frozenset[str] = frozenset()
        self.stack: list[_Frame] = [_Frame(self.flags)]
        self.names: set[str] = set()
        # State of the last item, for repetition checks: None (nothing repeatable),
        # "atom", or "repeat" (just repeated: Go forbids stacking operators).
        self.last: str | None = None
        self.last_start = 0  # index in out where the last atom begins
        self.last_size = 1
        self.last_repeat_src = ""

    # -- helpers ---------------------------------------------------------------
    def error(self, code: str, expr: str) -> RegexpError:
        return RegexpError(code, expr)

    def scope(self) -> str:
        on = "".join(f for f in "ims" if f in self.flags)
        off = "".join(f for f in "ims" if f not in self.flags)
        return f"(?{on}-{off}:" if off else f"(?{on}:"

    def atom(self, text: str, size: int = 1) -> None:
        self.last_start = len(self.out)
        self.out.append(text)
        self.last = "atom"
        self.last_size = size
        self.stack[-1].size = max(self.stack[-1].size, size)

    def marker(self, text: str) -> None:
        """Zero-width assertion: Go allows repeating it, Python does not."""
        self.atom(text)
        self.last = "assert"

    # -- main loop -------------------------------------------------------------
    def run(self) -> str:
        p = self.p
        if any("\ud800" <= ch <= "\udfff" for ch in p):
            raise self.error("invalid UTF-8", p)
        while self.i < len(p):
            c = p[self.i]
            start = self.i
            if c == "(":
                self.open_group()
            elif c == "|":
                self.close_scopes()
                self.out.append("|")
                self.reopen_scopes()
                self.last = None
                self.i += 1
            elif c == ")":
                if len(self.stack) == 1:
                    raise self.error("unexpected )", p)
                self.close_scopes()
                frame = self.stack.pop()
                self.flags = frame.flags
                self.out.append(")")
                # The whole group is the last atom now.
                self.out[frame.start] = "(?:"
                k = frame.start
                self.last_start = k
                self.last = "atom"
                self.last_size = frame.size
                self.stack[-1].size = max(self.stack[-1].size, frame.size)
                self.i += 1
            elif c in "*+?":
                self.i += 1
                self.repeat(c, 0, 0, start)
            elif c == "{":
                parsed = self.parse_repeat()
                if parsed is None:
                    self.atom("\\{")
                    self.i += 1
                else:
                    lo, hi, end = parsed
                    self.i = end
                    self.repeat("{", lo, hi, start)
            elif c == ".":
                self.atom(".")
                self.i += 1
            elif c == "^":
                self.marker("^")
                self.i += 1
            elif c == "$":
                self.marker("$" if "m" in self.flags else "\\Z")
                self.i += 1
            elif c == "[":
                self.atom(self.parse_class())
            elif c == "\\":
                self.escape()
            else:
                self.atom(_char(ord(c)))
                self.i += 1
        if len(self.stack) > 1:
            raise self.error("missing closing )", p)
        self.close_scopes()
        return "".join(self.out)

    def close_scopes(self) -> None:
        self.out.append(")" * self.stack[-1].scopes)

    def reopen_scopes(self) -> None:
        """After ``|`` Go keeps the flags set earlier in the group: reopen one scope."""
        if self.stack[-1].scopes:
            self.out.append(self.scope())
            self.stack[-1].scopes = 1

    # -- groups and flags ------------------------------------------------------
    def open_group(self) -> None:
        p, i = self.p, self.i
        if not p.startswith("(?", i):
            self.push_group()
            self.i = i + 1
            return
        t = p[i:]
        if (len(t) > 4 and t[2] == "P" and t[3] == "<") or (len(t) > 3 and t[2] == "<"):
            begin = 4 if t[2] == "P" else 3
            end = t.find(">")
            if end < 0:
                raise self.error("invalid named capture", t)
            name = t[begin:end]
            if not name or not all(ch == "_" or (ch.isascii() and ch.isalnum()) for ch in name):
                raise self.error("invalid named capture", t[: end + 1])
            if name in self.names:
                raise self.error("duplicate capture group name", t[: end + 1])
            self.names.add(name)
            self.push_group()
            self.i = i + end + 1
            return
        flags = set(self.flags)
        sign, saw = 1, False
        k = 2
        while k < len(t):
            ch = t[k]
            k += 1
            if ch in "imsU":
                (flags.add if sign > 0 else flags.discard)(ch)
                saw = True
            elif ch == "-":
                if sign < 0:
                    break
                sign, saw = -1, False
            elif ch in ":)":
                if sign < 0 and not saw:
                    break
                self.i = i + k
                if ch == ":":
                    self.push_group()
                    self.flags = frozenset(flags)
                    self.out.append(self.scope())
                    self.stack[-1].scopes += 1
                else:
                    self.flags = frozenset(flags)
                    self.out.append(self.scope())
                    self.stack[-1].scopes += 1
                    self.last = "flags"
                return
            else:
                break
        raise self.error("invalid or unsupported Perl syntax", t[:k])

    def push_group(self) -> None:
        self.stack.append(_Frame(self.flags, len(self.out)))
        self.out.append("(?:")
        self.last = None

    # -- repetition ------------------------------------------------------------
    def parse_repeat(self) -> tuple[int, int, int] | None:
        """Go's parseRepeat: ``{n}``, ``{n,}``, ``{n,m}``; anything else is a literal ``{``."""
        m = re.compile(r"\{([0-9]+)(,([0-9]*))?\}").match(self.p, self.i)
        if m is None:
            return None
        lo_s, comma, hi_s = m.group(1), m.group(2), m.group(3)
        for s in (lo_s, hi_s):
            if s and len(s) >= 2 and s[0] == "0":
                return None  # Go disallows leading zeros: literal
        lo = int(lo_s) if len(lo_s) <= 8 else -1
        if comma is None:
            hi = lo
        elif not hi_s:
            hi = -1
        else:
            hi = int(hi_s) if len(hi_s) <= 8 else -2
        if hi == -2:
            lo = -1
        return lo, hi, m.end()

    def repeat(self, op: str, lo: int, hi: int, start: int) -> None:
        p = self.p
        lazy = False
        if self.i < len(p) and p[self.i] == "?":
            lazy = True
            self.i += 1
        src = p[start : self.i]
        if self.last == "repeat":
            raise self.error("invalid nested repetition operator", self.last_repeat_src + src)
        if op == "{" and (lo < 0 or lo > 1000 or hi > 1000 or (hi >= 0 and lo > hi)):
            raise self.error("invalid repeat count", src)
        if self.last is None:
            raise self.error("missing argument to repetition operator", src)
        if self.last in ("flags", "assert"):
            raise self.error("unsupported in edgeway: repetition of an empty-width item", src)
        size = self.last_size
        if op == "{":
            m = hi if hi > 0 else (lo if hi < 0 else 0)
            size = size * m if m > 0 else 1
            if (lo >= 2 or hi >= 2) and size > 1000:
                raise self.error("invalid repeat count", src)
        if "U" in self.flags:
            lazy = not lazy
        if op != "{":
            text = op
        else:
            text = f"{{{lo}}}" if lo == hi else f"{{{lo},{'' if hi < 0 else hi}}}"
        # Wrap the atom so the quantifier applies to it alone.
        atom = "".join(self.out[self.last_start :])
        del self.out[self.last_start :]
        self.out.append(f"(?:{atom}){text}{'?' if lazy else ''}")
        self.last = "repeat"
        self.last_repeat_src = src
        self.last_size = size
        self.stack[-1].size = max(self.stack[-1].size, size)

    # -- escapes ---------------------------------------------------------------
    def escape(self) -> None:
        p, i = self.p, self.i
        if i + 1 >= len(p):
            raise self.error("trailing backslash at end of expression", "")
        c = p[i + 1]
        if c == "A":
            self.marker("\\A")
            self.i += 2
        elif c == "z":
            self.marker("\\Z")
            self.i += 2
        elif c == "b":
            self.marker(_BOUNDARY)
            self.i += 2
        elif c == "B":
            self.marker(_NOT_BOUNDARY)
            self.i += 2
        elif c == "Q":
            end = p.find("\\E", i + 2)
            lit = p[i + 2 :] if end < 0 else p[i + 2 : end]
            self.i = len(p) if end < 0 else end + 2
            for ch in lit:
                self.atom(_char(ord(ch)))
        elif c in "pP":
            raise self.error("unsupported in edgeway: Unicode class", p[i : i + 2])
        elif c in "dswDSW":
            ranges = _PERL[c.lower()]
            self.atom(_class(ranges if c.islower() else _negate(ranges)))
            self.i += 2
        else:
            cp, self.i = self.parse_escape(i)
            self.atom(_char(cp))

    def parse_escape(self, i: int) -> tuple[int, int]:
        """Go's parseEscape: a single escaped code point; returns (cp, next index)."""
        p = self.p
        if i + 1 >= len(p):
            raise self.error("trailing backslash at end of expression", "")
        c = p[i + 1]
        j = i + 2
        if c in "1234567" and not (j < len(p) and p[j] in "01234567"):
            raise self.error("invalid escape sequence", p[i:j])
        if c in "01234567":
            value = int(c)
            for _ in range(2):
                if j < len(p) and p[j] in "01234567":
                    value = value * 8 + int(p[j])
                    j += 1
            return value, j
        if c == "x":
            if j < len(p) and p[j] == "{":
                end = p.find("}", j)
                digits = p[j + 1 : end] if end > 0 else ""
                if end < 0 or not digits or not _is_hex(digits):
                    raise self.error(
                        "invalid escape sequence", p[i : (end + 1 if end > 0 else len(p))]
                    )
                value = int(digits, 16)
                if value > MAX_CODEPOINT:
                    raise self.error("invalid escape sequence", p[i : end + 1])
                return value, end + 1
            digits = p[j : j + 2]
            if len(digits) < 2 or not _is_hex(digits):
                raise self.error("invalid escape sequence", p[i : j + len(digits)])
            return int(digits, 16), j + 2
        if c in _SIMPLE:
            return _SIMPLE[c], j
        if c.isascii() and not c.isalnum():
            return ord(c), j
        raise self.error("invalid escape sequence", p[i:j])

    # -- classes ---------------------------------------------------------------
    def parse_class(self) -> str:
        p, start = self.p, self.i
        i = start + 1
        negated = i < len(p) and p[i] == "^"
        if negated:
            i += 1
        ranges: list[tuple[int, int]] = []
        first = True
        while i >= len(p) or p[i] != "]" or first:
            if i >= len(p):
                raise self.error("missing closing ]", p[start:])
            first = False
            if p.startswith("[:", i):
                end = p.find(":]", i + 2)
                if end >= 0:
                    name = p[i + 2 : end]
                    neg = name.startswith("^")
                    cls = _POSIX.get(name[1:] if neg else name)
                    if cls is None:
                        raise self.error("invalid character class range", p[i : end + 2])
                    ranges += _negate(cls) if neg else cls
                    i = end + 2
                    continue
            if p.startswith("\\", i) and i + 1 < len(p):
                c = p[i + 1]
                if c in "pP":
                    raise self.error("unsupported in edgeway: Unicode class", p[i : i + 2])
                if c in "dswDSW":
                    cls = _PERL[c.lower()]
                    ranges += cls if c.islower() else _negate(cls)
                    i += 2
                    continue
            rng_start = i
            lo, i = self.class_char(i, start)
            hi = lo
            if i + 1 < len(p) and p[i] == "-" and p[i + 1] != "]":
                hi, i = self.class_char(i + 1, start)
                if hi < lo:
                    raise self.error("invalid character class range", p[rng_start:i])
            ranges.append((lo, hi))
        self.i = i + 1
        merged = _negate(_negate(ranges))
        return _class(merged, negated)

    def class_char(self, i: int, class_start: int) -> tuple[int, int]:
        p = self.p
        if i >= len(p):
            raise self.error("missing closing ]", p[class_start:])
        if p[i] == "\\":
            return self.parse_escape(i)
        return ord(p[i]), i + 1


def _is_hex(s: str) -> bool:
    return all(ch in "0123456789abcdefABCDEF" for ch in s)


def translate(pattern: str) -> str:
    """The Python ``re`` source equivalent to Go ``pattern`` (raises RegexpError)."""
    t = Translator(pattern)
    return t.run()


def compile_go_regexp(pattern: str) -> re.Pattern[str]:
    """Compile ``pattern`` with Go semantics; use ``.search`` (Go matches unanchored)."""
    src = translate(pattern)
    try:
        return re.compile(src)
    except (re.error, RecursionError, OverflowError) as exc:  # pragma: no cover - defensive
        raise RegexpError("unsupported in edgeway", pattern) from exc
