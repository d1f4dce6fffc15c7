"""The v3 rule grammar: a Go expression as ``vulcand/predicate`` evaluates it.

Traefik hands the rule to ``go/parser.ParseExpr`` and walks the AST with
predicate: only calls of known matcher identifiers with string-literal arguments,
``!``, ``&&``, ``||`` and parentheses survive. This module accepts exactly that
language, with Go's lexical rules (backtick raw strings with CRs dropped, Go
escapes in double quotes, comments, semicolon insertion at newlines, trailing
commas and a trailing ``...`` in argument lists), so a rule that parses here parses
in Traefik. Syntax errors carry Go's ``line:col`` (columns count bytes).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "And",
    "Matcher",
    "Node",
    "Not",
    "Or",
    "RuleError",
    "format_rule",
    "go_quote",
    "parse_rule",
]


class RuleError(ValueError):
    """An invalid rule; the message follows Traefik's wording where it has one."""


@dataclass(frozen=True, slots=True)
class Matcher:
    """A matcher call; ``name`` is canonical (``PathPrefix`` even if written ``pathprefix``)."""

    name: str
    args: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


@dataclass(frozen=True, slots=True)
class And:
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Or:
    left: Node
    right: Node


Node = Matcher | Not | And | Or

HTTP_MATCHERS = (
    "ClientIP",
    "Method",
    "Host",
    "HostRegexp",
    "Path",
    "PathRegexp",
    "PathPrefix",
    "Header",
    "HeaderRegexp",
    "Query",
    "QueryRegexp",
)


def name_variants(names: Iterable[str]) -> dict[str, str]:
    """Spellings Traefik registers per matcher: as written, lower, UPPER, Title (rules.NewParser)."""
    out: dict[str, str] = {}
    for name in names:
        low = name.lower()
        for spelling in (name, low, name.upper(), low[:1].upper() + low[1:]):
            out[spelling] = name
    return out


_HTTP_NAMES = name_variants(HTTP_MATCHERS)

# Token kinds.
_IDENT, _STRING, _CHAR, _NUMBER, _OP, _SEMI, _EOF = range(7)
_TOKEN_TEXT = {_EOF: "'EOF'"}
# Go operators and delimiters, longest first, so error messages name them as Go does.
_OPERATORS = sorted(
    [
        "+",
        "-",
        "*",
        "/",
        "%",
        "&",
        "|",
        "^",
        "<<",
        ">>",
        "&^",
        "+=",
        "-=",
        "*=",
        "/=",
        "%=",
        "&=",
        "|=",
        "^=",
        "<<=",
        ">>=",
        "&^=",
        "&&",
        "||",
        "<-",
        "++",
        "--",
        "==",
        "<",
        ">",
        "=",
        "!",
        "~",
        "!=",
        "<=",
        ">=",
        ":=",
        "...",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ",",
        ";",
        ".",
        ":",
    ],
    key=len,
    reverse=True,
)
# A newline after these tokens ends the Go "statement" (automatic semicolon).
_SEMI_AFTER_OPS = frozenset({")", "]", "}", "++", "--"})


@dataclass(slots=True)
class _Token:
    kind: int
    text: str  # source text (operators, identifiers, literals)
    value: str  # decoded value of a string literal
    pos: str  # Go "line:col"


class _Scanner:
    """go/scanner, reduced to what an expression can contain."""

    def __init__(self, src: str) -> None:
        self.src = src
        self.i = 1 if src.startswith("\ufeff") else 0
        self.insert_semi = False

    def pos(self, i: int) -> str:
        line_start = self.src.rfind("\n", 0, i) + 1
        line = self.src.count("\n", 0, i) + 1
        col = len(self.src[line_start:i].encode("utf-8", "surrogatepass")) + 1
        return f"{line}:{col}"

    def fail(self, i: int, msg: str) -> RuleError:
        return RuleError(f"{self.pos(i)}: {msg}")

    def tokens(self) -> list[_Token]:
        out: list[_Token] = []
        while True:
            tok = self.next()
            out.append(tok)
            if tok.kind == _EOF:
                return out

    def next(self) -> _Token:
        src, n = self.src, len(self.src)
        while True:
            i = self.i
            if i >= n:
                if self.insert_semi:
                    self.insert_semi = False
                    return _Token(_SEMI, "\n", "", self.pos(i))
                return _Token(_EOF, "", "", self.pos(i))
            c = src[i]
            if c == "\n" and self.insert_semi:
                self.insert_semi = False
                self.i = i + 1
                return _Token(_SEMI, "\n", "", self.pos(i))
            if c in " \t\r\n":
                self.i = i + 1
                continue
            if src.startswith("//", i):
                if self.insert_semi:  # a line comment ends the line
                    self.insert_semi = False
                    return _Token(_SEMI, "\n", "", self.pos(i))
                end = src.find("\n", i)
                self.i = n if end < 0 else end
                continue
            if src.startswith("/*", i):
                end = src.find("*/", i + 2)
                if end < 0:
                    raise self.fail(i, "comment not terminated")
                if self.insert_semi and "\n" in src[i:end]:
                    self.insert_semi = False
                    self.i = end + 2
                    return _Token(_SEMI, "\n", "", self.pos(i))
                self.i = end + 2
                continue
            break
        start = i
        self.insert_semi = False
        if c == "_" or c.isalpha():
            while i < n and _is_ident_char(src[i]):
                i += 1
            self.i = i
            self.insert_semi = True
            return _Token(_IDENT, src[start:i], "", self.pos(start))
        if c.isdecimal() or (c == "." and i + 1 < n and src[i + 1].isdecimal()):
            while i < n and (_is_ident_char(src[i]) or src[i] == "."):
                i += 1
            self.i = i
            self.insert_semi = True
            return _Token(_NUMBER, src[start:i], "", self.pos(start))
        if c == "`":
            end = src.find("`", i + 1)
            if end < 0:
                raise self.fail(start, "raw string literal not terminated")
            body = src[i + 1 : end]
            self._check_chars(body, i + 1)
            self.i = end + 1
            self.insert_semi = True
            return _Token(_STRING, src[start : end + 1], body.replace("\r", ""), self.pos(start))
        if c == '"':
            value = self._interpreted(i)
            self.insert_semi = True
            return _Token(_STRING, src[start : self.i], value, self.pos(start))
        if c == "'":
            end = src.find("'", i + 1)
            nl = src.find("\n", i + 1)
            if end < 0 or 0 <= nl < end:
                raise self.fail(start, "rune literal not terminated")
            self.i = end + 1
            self.insert_semi = True
            return _Token(_CHAR, src[start : end + 1], "", self.pos(start))
        for op in _OPERATORS:
            if src.startswith(op, i):
                self.i = i + len(op)
                self.insert_semi = op in _SEMI_AFTER_OPS
                return _Token(_OP, op, "", self.pos(start))
        raise self.fail(start, _illegal(c))

    def _check_chars(self, text: str, offset: int) -> None:
        for k, ch in enumerate(text):
            if ch == "\x00" or ch == "\ufeff" or "\ud800" <= ch <= "\udfff":
                raise self.fail(offset + k, _illegal(ch))

    def _interpreted(self, start: int) -> str:
        """Scan a double-quoted literal; return its value (bytes kept via surrogateescape)."""
        src, n = self.src, len(self.src)
        out = bytearray()
        i = start + 1
        while True:
            if i >= n or src[i] == "\n":
                raise self.fail(start, "string literal not terminated")
            c = src[i]
            if c == '"':
                self.i = i + 1
                return out.decode("utf-8", "surrogateescape")
            if c != "\\":
                self._check_chars(c, i)
                out += c.encode()
                i += 1
                continue
            esc_at = i
            i += 1
            e = src[i] if i < n else ""
            simple = _SIMPLE_ESCAPES.get(e)
            if simple is not None:
                out.append(simple)
                i += 1
                continue
            if e in "01234567" and e:
                digits, base, width, limit = src[i : i + 3], 8, 3, 255
            elif e in ("x", "u", "U") and e:
                width = {"x": 2, "u": 4, "U": 8}[e]
                digits, base, limit = src[i + 1 : i + 1 + width], 16, 0x10FFFF
                i += 1
            else:
                if i >= n:
                    raise self.fail(esc_at, "escape sequence not terminated")
                raise self.fail(esc_at, "unknown escape sequence")
            for k in range(width):
                d = digits[k] if k < len(digits) else ""
                if d not in _DIGITS[base] or not d:
                    if not d:
                        raise self.fail(i + k, "escape sequence not terminated")
                    raise self.fail(i + k, _illegal(d) + " in escape sequence")
            value = int(digits, base)
            if value > limit or (e in "uU" and 0xD800 <= value <= 0xDFFF):
                raise self.fail(esc_at, "escape sequence is invalid Unicode code point")
            i += width
            if e in "uU":
                out += chr(value).encode()
            else:
                out.append(value)


_SIMPLE_ESCAPES = {
    "a": 7,
    "b": 8,
    "f": 12,
    "n": 10,
    "r": 13,
    "t": 9,
    "v": 11,
    "\\": 92,
    '"': 34,
}
_DIGITS = {8: frozenset("01234567"), 16: frozenset("0123456789abcdefABCDEF")}


def _is_ident_char(c: str) -> bool:
    return c == "_" or c.isalpha() or c.isdecimal()


def _illegal(c: str) -> str:
    if c == "\x00":
        return "illegal character NUL"
    if c == "\ufeff":
        return "illegal byte order mark"
    if "\ud800" <= c <= "\udfff":
        return "illegal UTF-8 encoding"
    return f"illegal character U+{ord(c):04X}" + (f" '{c}'" if c.isprintable() else "")


def _describe(tok: _Token) -> str:
    """The ``found …`` part of a go/parser error."""
    if tok.kind == _EOF:
        return "'EOF'"
    if tok.kind == _SEMI:
        return "newline" if tok.text == "\n" else "';'"
    if tok.kind == _OP:
        return f"'{tok.text}'"
    return tok.text


class _Value:
    """A Go operand that is not a matcher call (literal, identifier, ...)."""

    __slots__ = ("desc", "error", "string")

    def __init__(self, desc: str, error: str, string: str | None = None) -> None:
        self.desc = desc
        self.error = error
        self.string = string  # decoded value when this is a bare string literal


class _Parser:
    """Recursive descent over Go's expression grammar, restricted to what predicate accepts.

    Go first parses the whole text (syntax errors win), then predicate evaluates
    left to right; semantic errors are therefore collected and the first one is
    raised only once parsing succeeded.
    """

    def __init__(self, text: str, names: dict[str, str]) -> None:
        self.scanner = _Scanner(text)
        self.toks = self.scanner.tokens()
        self.k = 0
        self.names = names
        self.deferred: list[str] = []

    @property
    def tok(self) -> _Token:
        return self.toks[self.k]

    def expected(self, what: str) -> RuleError:
        return RuleError(f"{self.tok.pos}: expected {what}, found {_describe(self.tok)}")

    def is_op(self, op: str) -> bool:
        return self.tok.kind == _OP and self.tok.text == op

    def parse(self) -> Node:
        if self.tok.kind == _EOF:
            raise RuleError(f"empty rule ({self.tok.pos}: expected operand, found 'EOF')")
        node = self.binary(1)
        if self.tok.kind == _SEMI and self.tok.text == "\n":
            self.k += 1
        if self.tok.kind != _EOF:
            raise self.expected("'EOF'")
        if self.deferred:
            raise RuleError(self.deferred[0])
        if isinstance(node, _Value):
            raise RuleError(node.error)
        return node

    def binary(self, min_prec: int) -> Node | _Value:
        left = self.unary()
        while True:
            tok = self.tok
            prec = _BINARY_PREC.get(tok.text, 0) if tok.kind == _OP else 0
            if prec < min_prec:
                return left
            self.k += 1
            right = self.binary(prec + 1)
            left = self.join(tok.text, left, right)

    def join(self, op: str, left: Node | _Value, right: Node | _Value) -> Node | _Value:
        if op not in ("&&", "||"):
            self.deferred.append(f"{op} is not supported")
            return _Value(op, "")
        for side in (left, right):
            if isinstance(side, _Value):
                self.deferred.append(f"operand {side.desc} of {op} is not a matcher")
                return _Value(op, "")
        assert not isinstance(left, _Value) and not isinstance(right, _Value)
        return And(left, right) if op == "&&" else Or(left, right)

    def unary(self) -> Node | _Value:
        tok = self.tok
        if tok.kind == _OP and tok.text in _UNARY:
            self.k += 1
            operand = self.unary()
            if tok.text != "!":
                self.deferred.append(f"{tok.text} is not supported")
                return _Value(tok.text, "")
            if isinstance(operand, _Value):
                self.deferred.append(f"operand {operand.desc} of ! is not a matcher")
                return operand
            return Not(operand)
        return self.primary()

    def primary(self) -> Node | _Value:
        tok = self.tok
        if self.is_op("("):
            self.k += 1
            inner = self.binary(1)
            if not self.is_op(")"):
                raise self.expected("')'")
            self.k += 1
            if isinstance(inner, _Value):  # predicate rejects *ast.ParenExpr operands
                inner = _Value(f"({inner.desc})", "rule is not a matcher expression")
            return self.suffixes(inner, None)
        if tok.kind == _IDENT:
            self.k += 1
            return self.suffixes(_Value(tok.text, f"{tok.text} is not defined"), tok.text)
        if tok.kind in (_STRING, _CHAR, _NUMBER):
            self.k += 1
            value = tok.value if tok.kind == _STRING else None
            operand = _Value(tok.text, "rule is not a matcher expression", value)
            if tok.kind == _CHAR:
                operand.error = f"unsupported argument {tok.text}: single quotes are not allowed"
            return self.suffixes(operand, None)
        raise self.expected("operand")

    def suffixes(self, operand: Node | _Value, ident: str | None) -> Node | _Value:
        """Calls, selectors and indexes after an operand; only ``Ident(args)`` is a matcher."""
        while True:
            if self.is_op("("):
                operand = self.call(ident)
            elif self.is_op("."):
                self.k += 1
                if self.tok.kind != _IDENT:
                    raise self.expected("selector or type assertion")
                sel = self.tok.text
                self.k += 1
                desc = f"{ident}.{sel}" if ident else sel
                operand = _Value(desc, f"{desc} is not defined")
                ident = None
                if self.is_op("("):
                    self.deferred.append(f"unsupported function: {desc}")
                    self.call(None, record=False)
                    operand = _Value(desc, "")
            elif self.is_op("["):
                self.k += 1
                depth = 1
                while depth and self.tok.kind != _EOF:
                    depth += self.is_op("[") - self.is_op("]")
                    self.k += 1
                if depth:
                    raise self.expected("']'")
                self.deferred.append("index expressions are not supported")
                operand = _Value("index", "")
                ident = None
            else:
                return operand

    def call(self, ident: str | None, record: bool = True) -> Node | _Value:
        canonical = self.names.get(ident) if ident else None
        if record:
            if ident is None:
                self.deferred.append("expected identifier as matcher name")
            elif canonical is None:
                self.deferred.append(f"unsupported function: {ident}")
        self.k += 1  # (
        args: list[str] = []
        ellipsis = False
        while not self.is_op(")") and self.tok.kind != _EOF and not ellipsis:
            arg = self.binary(1)
            if isinstance(arg, _Value) and arg.string is not None:
                args.append(arg.string)
            elif isinstance(arg, _Value) and arg.error.endswith(("is not defined", "not allowed")):
                self.deferred.append(arg.error)
            else:
                desc = arg.desc if isinstance(arg, _Value) else "a matcher"
                self.deferred.append(
                    f"unsupported argument {desc} for {ident}: "
                    "arguments are strings in backticks or double quotes"
                )
            if self.is_op("..."):
                ellipsis = True
                self.k += 1
            if not self.is_op(","):
                if self.is_op(")"):
                    break
                if self.tok.kind == _SEMI and self.tok.text == "\n":
                    raise RuleError(f"{self.tok.pos}: missing ',' before newline in argument list")
                raise RuleError(f"{self.tok.pos}: missing ',' in argument list")
            self.k += 1
        if not self.is_op(")"):
            raise self.expected("')'")
        self.k += 1
        if canonical is None:
            return _Value(f"{ident}(...)", "")
        return Matcher(canonical, tuple(args))


_BINARY_PREC = {"||": 1, "&&": 2}
for _op in ["==", "!=", "<", "<=", ">", ">="]:
    _BINARY_PREC[_op] = 3
for _op in ["+", "-", "|", "^"]:
    _BINARY_PREC[_op] = 4
for _op in ["*", "/", "%", "<<", ">>", "&", "&^"]:
    _BINARY_PREC[_op] = 5
_UNARY = frozenset({"!", "-", "+", "^", "*", "&", "<-", "~"})


def parse_rule(text: str, matchers: Iterable[str] = HTTP_MATCHERS) -> Node:
    """Parse ``text`` into a tree whose leaves are ``matchers`` (canonical names).

    Only syntax and matcher names are checked here; argument counts and values
    are the business of the HTTP/TCP compilers, as in Traefik.
    """
    if not isinstance(text, str):
        raise RuleError("rule must be a string")
    names = _HTTP_NAMES if matchers is HTTP_MATCHERS else name_variants(matchers)
    return _Parser(text, names).parse()


def go_quote(s: str) -> str:
    """A Go double-quoted literal for ``s`` (what ``%q``/strconv.Quote prints)."""
    out = ['"']
    for ch in s:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif "\udc80" <= ch <= "\udcff":
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        elif ch in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[ch])
        elif ch.isprintable() and unicodedata.category(ch) != "Cs":
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


_QUOTE_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def _literal(arg: str) -> str:
    if (
        "`" in arg
        or "\r" in arg
        or "\x00" in arg
        or "\ufeff" in arg
        or any("\ud800" <= ch <= "\udfff" for ch in arg)
    ):
        return go_quote(arg)
    return f"`{arg}`"


def format_rule(node: Node) -> str:
    """Print a tree as rule text that parses back to the same tree."""
    if isinstance(node, Matcher):
        return f"{node.name}({', '.join(_literal(a) for a in node.args)})"
    if isinstance(node, Not):
        inner = format_rule(node.operand)
        return f"!({inner})" if isinstance(node.operand, And | Or) else f"!{inner}"
    prec = 2 if isinstance(node, And) else 1
    op = " && " if prec == 2 else " || "
    left, right = format_rule(node.left), format_rule(node.right)
    if _prec(node.left) < prec:
        left = f"({left})"
    if _prec(node.right) <= prec:
        right = f"({right})"
    return left + op + right


def _prec(node: Node) -> int:
    return 2 if isinstance(node, And) else 1 if isinstance(node, Or) else 3
