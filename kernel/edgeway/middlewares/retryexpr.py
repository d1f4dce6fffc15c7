"""The ``retryExpression`` language of the buffering middleware (vulcand/oxy ``buffer/threshold.go``).

oxy parses it as a Go expression (``go/parser``) and maps it with
``vulcand/predicate``: ``&&``, ``||``, ``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``
and parentheses over the functions ``Attempts()``, ``ResponseCode()`` (ints),
``RequestMethod()`` (a string) and ``IsNetworkError()`` (502 or 504). A
comparison takes a function on the left and a literal on the right; anything
else (``!``, arithmetic, identifiers, arguments) is an error, as there.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RetryContext", "parse_retry_expression"]


@dataclass(frozen=True)
class RetryContext:
    method: str
    attempt: int
    status: int


Predicate = Callable[[RetryContext], bool]

_FUNCTIONS: dict[str, tuple[str, Callable[[RetryContext], object]]] = {
    "RequestMethod": ("str", lambda c: c.method),
    "Attempts": ("int", lambda c: c.attempt),
    "ResponseCode": ("int", lambda c: c.status),
    "IsNetworkError": ("pred", lambda c: c.status in (502, 504)),
}
_TOKEN = re.compile(
    r"""\s*(?:
    (?P<float>(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)
    |(?P<int>0[xXoObB][0-9a-fA-F_]+|\d[\d_]*)
    |(?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<string>"(?:[^"\\\n]|\\.)*"|`[^`]*`)
    |(?P<char>'(?:[^'\\\n]|\\.)*')
    |(?P<op>&&|\|\||==|!=|<=|>=|<<|>>|&\^|[-+*/%&|^<>!(),.\[\]{}:=])
    )""",
    re.VERBOSE,
)
# Go's binary operator precedences (the_spec: 5 * / % << >> & &^, 4 + - | ^, 3 comparisons, 2 &&, 1 ||).
_PRECEDENCE = {
    "||": 1, "&&": 2, "==": 3, "!=": 3, "<": 3, "<=": 3, ">": 3, ">=": 3,
    "+": 4, "-": 4, "|": 4, "^": 4, "*": 5, "/": 5, "%": 5, "<<": 5, ">>": 5, "&": 5, "&^": 5,
}  # fmt: skip


class _Value:
    """A parsed node: a predicate, a function of the request (``int``/``str``) or a literal."""

    def __init__(
        self, kind: str, fn: Callable[[RetryContext], object] | None = None, literal: object = None
    ) -> None:
        self.kind = kind
        self.fn = fn
        self.literal = literal


def parse_retry_expression(text: str) -> Predicate:
    """Compile ``text``; ValueError with oxy's message when it is not a predicate."""
    tokens = _tokenize(text)
    parser = _Parser(tokens)
    node = parser.expression(1)
    if parser.pos != len(tokens):
        raise ValueError(f"1:{parser.pos + 1}: expected 'EOF', found {tokens[parser.pos][1]!r}")
    if node.kind != "pred":
        raise ValueError(f"expected predicate, got {node.kind}")
    fn = node.fn
    assert fn is not None
    return lambda ctx: bool(fn(ctx))


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"1:{pos + 1}: illegal character {text[pos : pos + 1]!r}")
        kind = m.lastgroup
        assert kind is not None
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    if not tokens:
        raise ValueError("1:1: expected operand, found 'EOF'")
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise ValueError("expected operand, found 'EOF'")
        self.pos += 1
        return tok

    def expression(self, min_prec: int) -> _Value:
        left = self.unary()
        while True:
            tok = self.peek()
            if tok is None or tok[0] != "op" or _PRECEDENCE.get(tok[1], 0) < min_prec:
                return left
            self.pos += 1
            right = self.expression(_PRECEDENCE[tok[1]] + 1)
            left = _join(tok[1], left, right)

    def unary(self) -> _Value:
        kind, text = self.take()
        if kind == "op" and text in ("!", "-", "+", "^", "&", "<-", "*"):
            self.unary()
            raise ValueError(f"{text} is not supported")
        if kind == "op" and text == "(":
            inner = self.expression(1)
            self.expect(")")
            return inner
        if kind == "ident":
            nxt = self.peek()
            if nxt == ("op", "("):
                self.pos += 1
                args = 0
                if self.peek() != ("op", ")"):
                    while True:
                        self.expression(1)
                        args += 1
                        if self.peek() != ("op", ","):
                            break
                        self.pos += 1
                self.expect(")")
                if text not in _FUNCTIONS:
                    raise ValueError(f"unsupported function: {text}")
                if args:
                    raise ValueError(f"{text} takes no arguments, got {args}")
                rkind, fn = _FUNCTIONS[text]
                return _Value(rkind, fn)
            raise ValueError(f"{text} is not defined")
        if kind == "int":
            if not text.isdigit():
                raise ValueError(f"failed to parse argument: {text}")
            return _Value("literal int", literal=int(text))
        if kind == "float":
            return _Value("literal float64", literal=float(text))
        if kind == "string":
            value = text[1:-1] if text[0] == "`" else ast.literal_eval(text)
            return _Value("literal string", literal=value)
        if kind == "char":
            raise ValueError("unsupported function argument type: 'CHAR'")
        raise ValueError(f"expected operand, found {text!r}")

    def expect(self, op: str) -> None:
        if self.take() != ("op", op):
            raise ValueError(f"expected {op!r}")


def _join(op: str, a: _Value, b: _Value) -> _Value:
    """predicate ``joinPredicates`` with oxy's operators."""
    fa, fb = a.fn, b.fn
    if op in ("&&", "||"):
        if a.kind != "pred" or b.kind != "pred" or fa is None or fb is None:
            raise ValueError(f"{op} needs predicates on both sides")
        if op == "&&":
            return _Value("pred", lambda c: bool(fa(c)) and bool(fb(c)))
        return _Value("pred", lambda c: bool(fa(c)) or bool(fb(c)))
    if op not in ("==", "!=", "<", "<=", ">", ">="):
        raise ValueError(f"{op} is not supported")
    if fa is None or a.kind not in ("int", "str") or (a.kind == "str" and op not in ("==", "!=")):
        raise ValueError(f"unsupported argument: {a.kind}")
    want = "literal int" if a.kind == "int" else "literal string"
    if b.kind != want:
        raise ValueError(f"expected {want.split()[1]}, got {b.kind.split()[-1]}")
    v = b.literal
    compare: Callable[[object], bool] = {
        "==": lambda x: x == v,
        "!=": lambda x: x != v,
        "<": lambda x: x < v,  # type: ignore[operator]
        "<=": lambda x: x <= v,  # type: ignore[operator]
        ">": lambda x: x > v,  # type: ignore[operator]
        ">=": lambda x: x >= v,  # type: ignore[operator]
    }[op]
    return _Value("pred", lambda c: compare(fa(c)))
