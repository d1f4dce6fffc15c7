"""The circuit breaker's expression language (vulcand/predicate as oxy's cbreaker configures it).

An expression is Go syntax: ``NetworkErrorRatio() > 0.5 || LatencyAtQuantileMS(50.0) > 100``.
Metric functions compared with a literal of their own type (``float64`` for the
ratios, ``int`` for ``LatencyAtQuantileMS`` and ``RequestThreshold``), joined with
``&&``/``||`` and parentheses. Everything else Go's parser accepts is rejected
as predicate does: unary operators, arithmetic, a literal on the left, an int
where a float is expected and the other way round. The result is a predicate
over the breaker's metrics, built once when the configuration is applied.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Metrics", "Predicate", "parse_expression"]


class Metrics(Protocol):
    def network_error_ratio(self) -> float: ...
    def response_code_ratio(self, start_a: int, end_a: int, start_b: int, end_b: int) -> float: ...
    def latency_at_quantile_ms(self, quantile: float) -> int: ...
    def total_count(self) -> int: ...


Predicate = Callable[[Metrics], bool]


@dataclass(frozen=True)
class _Mapper:
    """A metric function applied to its arguments; ``kind`` is its Go result type."""

    kind: str  # "int", "int64" or "float64"
    fn: Callable[[Metrics], float]


@dataclass(frozen=True)
class _Pred:
    fn: Predicate


_FUNCTIONS: dict[str, tuple[tuple[type, ...], str, Callable[..., Callable[[Metrics], float]]]] = {
    "LatencyAtQuantileMS": ((float,), "int", lambda q: lambda m: m.latency_at_quantile_ms(q)),
    "NetworkErrorRatio": ((), "float64", lambda: lambda m: m.network_error_ratio()),
    "ResponseCodeRatio": ((int, int, int, int), "float64", lambda a, b, c, d: lambda m: m.response_code_ratio(a, b, c, d)),
    "RequestThreshold": ((), "int64", lambda: lambda m: m.total_count()),
}

_GO_TYPE = {int: "int", float: "float64", str: "string"}

_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<num>\.?[0-9][0-9A-Za-z_.]*(?:[eEpP][+-][0-9_]+)?)"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<str>\"(?:[^\"\\\n]|\\.)*\"|`[^`]*`)"
    r"|(?P<op>&&|\|\||==|!=|<=|>=|<<|>>|&\^|[-+*/%&|^<>!(),.])"
    r")"
)

_BINARY = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 3, "<=": 3, ">": 3, ">=": 3}
_BINARY.update({op: 4 for op in ("+", "-", "|", "^")})
_BINARY.update({op: 5 for op in ("*", "/", "%", "<<", ">>", "&", "&^")})


class _Parser:
    """A recursive-descent parser for the Go expression subset, evaluating as it goes."""

    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        text = text.rstrip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise ValueError(f"1:{pos + 1}: illegal character {text[pos]!r}")
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
        self.i = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.i] if self.i < len(self.tokens) else ("eof", "EOF")

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        kind, text = self.take()
        if text != value or kind != "op":
            raise ValueError(f"expected '{value}', found '{text}'")

    def parse(self) -> Any:
        value = self.binary(1)
        if self.peek()[0] != "eof":
            raise ValueError(f"expected 'EOF', found '{self.peek()[1]}'")
        return value

    def binary(self, min_prec: int) -> Any:
        left = self.unary()
        while True:
            kind, op = self.peek()
            prec = _BINARY.get(op, 0) if kind == "op" else 0
            if prec < min_prec:
                return left
            self.take()
            right = self.binary(prec + 1)
            left = _join(op, left, right)

    def unary(self) -> Any:
        kind, text = self.peek()
        if kind == "op" and text in ("!", "-", "+", "^", "*", "&"):
            self.take()
            self.unary()
            raise ValueError(f"{text} is not supported")
        return self.primary(top=True)

    def primary(self, top: bool) -> Any:
        kind, text = self.take()
        if kind == "op" and text == "(":
            if not top:
                raise ValueError("*ast.ParenExpr is not supported")
            inner = self.binary(1)
            self.expect(")")
            return inner
        if kind == "num":
            return _literal(text)
        if kind == "str":
            return _string(text)
        if kind == "ident":
            name = text
            while self.peek() == ("op", "."):
                self.take()
                k, t = self.take()
                if k != "ident":
                    raise ValueError(f"expected selector, found '{t}'")
                name += "." + t
            if self.peek() == ("op", "("):
                self.take()
                args = []
                while self.peek() != ("op", ")"):
                    args.append(self.argument())
                    if self.peek() == ("op", ","):
                        self.take()
                    elif self.peek() != ("op", ")"):
                        raise ValueError(f"expected ')', found '{self.peek()[1]}'")
                self.take()
                return _call(name, args)
            raise ValueError(f"{name} is not defined")
        raise ValueError(f"expected operand, found '{text}'")

    def argument(self) -> Any:
        kind, text = self.peek()
        if kind == "op" and text in ("!", "-", "+", "^", "*", "&"):
            raise ValueError("*ast.UnaryExpr is not supported")
        value = self.primary(top=False)
        kind, text = self.peek()
        if kind == "op" and text in _BINARY:
            raise ValueError("*ast.BinaryExpr is not supported")
        return value


def _literal(text: str) -> int | float:
    is_float = "." in text or (not text.lower().startswith("0x") and any(c in text for c in "eE"))
    try:
        if is_float:
            if "_" in text:
                raise ValueError
            return float(text)
        if not text.isdigit():
            raise ValueError
        return int(text)
    except ValueError:
        raise ValueError(f"failed to parse argument: {text}") from None


def _string(text: str) -> str:
    if text.startswith("`"):
        return text[1:-1]
    return str(ast.literal_eval(text))


def _describe(value: Any) -> str:
    if isinstance(value, _Mapper):
        return f"cbreaker.toType[{value.kind}]"
    if isinstance(value, _Pred):
        return "cbreaker.hpredicate"
    return _GO_TYPE.get(type(value), type(value).__name__)


def _call(name: str, args: list[Any]) -> _Mapper:
    spec = _FUNCTIONS.get(name)
    if spec is None:
        raise ValueError(f"unsupported function: {name}")
    types, kind, make = spec
    if len(args) != len(types):
        raise ValueError(f"{name}: expected {len(types)} arguments, got {len(args)}")
    for arg, want in zip(args, types, strict=True):
        if type(arg) is not want:
            raise ValueError(f"reflect: Call using {_describe(arg)} as type {_GO_TYPE[want]}")
    return _Mapper(kind, make(*args))


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_OP_NAME = {"==": "eq", "!=": "eq", "<": "lt", "<=": "lt", ">": "gt", ">=": "gt"}


def _join(op: str, left: Any, right: Any) -> _Pred:
    if op in ("&&", "||"):
        for side in (left, right):
            if not isinstance(side, _Pred):
                raise ValueError(f"reflect: Call using {_describe(side)} as type cbreaker.hpredicate")
        a, b = left.fn, right.fn
        if op == "&&":
            return _Pred(lambda m: a(m) and b(m))
        return _Pred(lambda m: a(m) or b(m))
    compare = _COMPARE.get(op)
    if compare is None:
        raise ValueError(f"{op} is not supported")
    if not isinstance(left, _Mapper):
        raise ValueError(f"{_OP_NAME[op]}: unsupported argument: {_describe(left)}")
    want = float if left.kind == "float64" else int
    if type(right) is not want:
        raise ValueError(f"expected int, got {_describe(right)}")
    fn, value = left.fn, right
    return _Pred(lambda m: compare(fn(m), value))


def parse_expression(text: str) -> Predicate:
    """The predicate for ``text``; ValueError says what is wrong with it."""
    result = _Parser(text).parse()
    if not isinstance(result, _Pred):
        raise ValueError(f"expected predicate, got {_describe(result)}")
    return result.fn
