"""Go's ``regexp`` replacement (``ReplaceAllString``) on top of the rules' RE2 translator.

``edgeway.rules.compile_go_regexp`` turns every group into ``(?:...)`` (rules only
match); replacements need the captures, so :func:`compile_capturing` runs the same
translator keeping each capturing group as a plain ``(...)`` and remembers Go's
``SubexpNames`` itself (Go allows names Python does not, such as ``1a``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from edgeway.rules.regexp import RegexpError, Translator

__all__ = ["GoRegexp", "compile_capturing"]


class _CaptureOut(list[str]):
    """The translator's output list; keeps capture openings it would reset to ``(?:``."""

    def __init__(self) -> None:
        super().__init__()
        self.captures: set[int] = set()

    def __setitem__(self, index: int, value: str) -> None:  # type: ignore[override]
        if value == "(?:" and index in self.captures:
            value = "("
        super().__setitem__(index, value)


class _CapturingTranslator(Translator):
    def __init__(self, pattern: str) -> None:
        super().__init__(pattern)
        self.out = _CaptureOut()
        self.subexp_names: list[str] = [""]

    def open_group(self) -> None:
        p, i = self.p, self.i
        self.pending: str | None = None  # the name of the capture being opened
        if not p.startswith("(?", i):
            self.pending = ""
        elif p.startswith("(?P<", i) or p.startswith("(?<", i):
            begin = i + (4 if p[i + 2] == "P" else 3)
            self.pending = p[begin : p.find(">", begin)]
        super().open_group()

    def push_group(self) -> None:
        start = len(self.out)
        super().push_group()
        if getattr(self, "pending", None) is not None:
            assert isinstance(self.out, _CaptureOut)
            self.out.captures.add(start)
            self.out[start] = "("
            self.subexp_names.append(self.pending or "")
            self.pending = None


@dataclass(frozen=True)
class GoRegexp:
    """A compiled Go regexp with its captures: ``search`` and ``replace_all``."""

    pattern: re.Pattern[str]
    subexp_names: tuple[str, ...]

    def search(self, s: str) -> re.Match[str] | None:
        return self.pattern.search(s)

    def replace_all(self, src: str, template: str) -> str:
        """Go's ``ReplaceAllString``: ``$1``, ``${1}``, ``$name``, ``${name}``, ``$$``.

        An empty match right after the previous match is not replaced (Go's rule,
        unlike Python's ``re.sub``).
        """
        out: list[str] = []
        last_end = 0
        pos = 0
        n = len(src)
        while pos <= n:
            m = self.pattern.search(src, pos)
            if m is None:
                break
            a0, a1 = m.span()
            out.append(src[last_end:a0])
            if a1 > last_end or a0 == 0:
                out.append(self._expand(template, m))
            last_end = a1
            pos = pos + 1 if pos + 1 > a1 else a1
        out.append(src[last_end:])
        return "".join(out)

    def _expand(self, template: str, m: re.Match[str]) -> str:
        out: list[str] = []
        while template:
            before, dollar, after = template.partition("$")
            if not dollar:
                break
            out.append(before)
            template = after
            if template.startswith("$"):
                out.append("$")
                template = template[1:]
                continue
            parsed = _extract(template)
            if parsed is None:
                out.append("$")  # malformed: the $ is text
                continue
            name, num, template = parsed
            if num >= 0:
                if num <= self.pattern.groups and m.group(num) is not None:
                    out.append(m.group(num))
            else:
                for i, subname in enumerate(self.subexp_names):
                    if subname == name and m.group(i) is not None:
                        out.append(m.group(i))
                        break
        out.append(template)
        return "".join(out)


def _is_name_char(ch: str) -> bool:
    return ch == "_" or ch.isalpha() or unicodedata.category(ch) == "Nd"


def _extract(s: str) -> tuple[str, int, str] | None:
    """Go's ``regexp.extract``: the name after ``$``, its number (-1) and the rest."""
    brace = s.startswith("{")
    body = s[1:] if brace else s
    i = 0
    while i < len(body) and _is_name_char(body[i]):
        i += 1
    if i == 0:
        return None
    name = body[:i]
    if brace:
        if i >= len(body) or body[i] != "}":
            return None
        i += 1
    num = -1
    if name.isascii() and name.isdigit() and not (name[0] == "0" and len(name) > 1) and len(name) <= 8:
        num = int(name)
    return name, num, body[i:]


def compile_capturing(pattern: str) -> GoRegexp:
    """Compile ``pattern`` with Go (RE2) semantics, keeping capturing groups."""
    t = _CapturingTranslator(pattern)
    src = t.run()
    try:
        compiled = re.compile(src)
    except (re.error, RecursionError, OverflowError) as exc:  # pragma: no cover - defensive
        raise RegexpError("unsupported in edgeway", pattern) from exc
    return GoRegexp(compiled, tuple(t.subexp_names))
