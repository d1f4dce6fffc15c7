"""Go's ``encoding/json`` for the Traefik types the CRD provider reads and writes.

Traefik's client decodes every ``traefik.io`` object into Go structs (unknown
keys dropped, keys matched case-insensitively, a value of the wrong JSON type
refused), the provider copies parts of them into ``dynamic`` structs, and the
result is marshalled with the structs' ``json`` tags (``omitempty`` leaves out
``false``, ``0``, ``""``, nil pointers and empty lists/maps; a set pointer is
kept even when it points at a zero value). :func:`decode` and :func:`encode`
do the same over a small description of those structs (:class:`Struct`,
:class:`Ptr`, :class:`Slice`, :class:`Map` and the scalars), so a field the
provider passes through (``headers``, ``ipAllowList``...) comes out exactly as
Traefik writes it. Decoded structs are plain dicts holding every field, missing
ones at their Go zero value (``None`` for nil pointers, slices and maps).

Also here: ``time.ParseDuration`` and paerser's ``Duration.Set`` (durations
are kept as integer nanoseconds and written as ``"<n>ns"``), and the
``String()`` of Kubernetes' ``IntOrString``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from edgeway_kubernetes import go_quote

from edgeway_kubernetes_crd.references import InvalidSpec

__all__ = [
    "ANY",
    "BOOL",
    "DURATION",
    "INT",
    "INT_OR_STRING",
    "MILLISECOND",
    "OBJECT",
    "SECOND",
    "STRING",
    "Field",
    "Map",
    "Ptr",
    "Scalar",
    "Slice",
    "Struct",
    "decode",
    "duration_set",
    "encode",
    "format_ns",
    "json_kind",
    "parse_go_duration",
]


@dataclass(frozen=True)
class Scalar:
    """A Go scalar: ``string``, ``bool``, ``int`` (any width), a duration, ``IntOrString`` or ``any``."""

    go: str


STRING = Scalar("string")
BOOL = Scalar("bool")
INT = Scalar("int")
#: ``paerser/types.Duration``: integer nanoseconds; JSON accepts a number (seconds) or a string.
DURATION = Scalar("Duration")
#: ``intstr.IntOrString``, decoded to its ``String()``; the zero value is ``"0"``.
INT_OR_STRING = Scalar("IntOrString")
#: ``any`` / ``apiextensionv1.JSON``: kept as decoded.
ANY = Scalar("any")
#: A struct read elsewhere (by the code that owns it): any JSON object, kept as it is.
OBJECT = Scalar("object")


@dataclass(frozen=True)
class Ptr:
    elem: Any


@dataclass(frozen=True)
class Slice:
    elem: Any


@dataclass(frozen=True)
class Map:
    """``map[string]T``."""

    elem: Any


@dataclass(frozen=True)
class Field:
    json: str
    type: Any
    omitempty: bool = True


@dataclass(frozen=True)
class Struct:
    name: str
    fields: tuple[Field, ...]

    def field(self, key: str) -> Field | None:
        """``encoding/json``'s field lookup: the exact name, else a case-insensitive match."""
        folded = None
        for f in self.fields:
            if f.json == key:
                return f
            if folded is None and f.json.lower() == key.lower():
                folded = f
        return folded


def json_kind(value: Any) -> str:
    """The JSON type of a value, as Go's decoding errors name it."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _type_name(t: Any) -> str:
    if isinstance(t, Scalar):
        return t.go
    if isinstance(t, Ptr):
        return "*" + _type_name(t.elem)
    if isinstance(t, Slice):
        return "[]" + _type_name(t.elem)
    if isinstance(t, Map):
        return "map[string]" + _type_name(t.elem)
    return str(t.name)


def _refuse(value: Any, t: Any, where: str) -> InvalidSpec:
    return InvalidSpec(
        f"json: cannot unmarshal {json_kind(value)} into Go struct field {where} of type {_type_name(t)}"
    )


def zero(t: Any) -> Any:
    """Go's zero value of ``t`` in the decoded representation."""
    if isinstance(t, Struct):
        return {f.json: zero(f.type) for f in t.fields}
    if t is STRING:
        return ""
    if t is BOOL:
        return False
    if t in (INT, DURATION):
        return 0
    if t is INT_OR_STRING:
        return "0"
    return None


def _map_key(key: Any) -> str:
    """YAML keys that are not strings, as sigs.k8s.io/yaml turns them into JSON keys."""
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def decode(t: Any, value: Any, where: str = "") -> Any:
    """``json.Unmarshal`` of ``value`` (plain YAML/JSON data) into a ``t``; raises :class:`InvalidSpec`."""
    where = where or getattr(t, "name", _type_name(t))
    if value is None:  # JSON null leaves the Go value at zero
        return zero(t)
    if isinstance(t, Struct):
        if not isinstance(value, Mapping):
            raise _refuse(value, t, where)
        out = zero(t)
        for key, item in value.items():
            f = t.field(_map_key(key))
            if f is not None:
                out[f.json] = decode(f.type, item, f"{where}.{f.json}")
        return out
    if isinstance(t, Ptr):
        return decode(t.elem, value, where)
    if isinstance(t, Slice):
        if not isinstance(value, list | tuple):
            raise _refuse(value, t, where)
        return [decode(t.elem, item, where) for item in value]
    if isinstance(t, Map):
        if not isinstance(value, Mapping):
            raise _refuse(value, t, where)
        return {_map_key(k): decode(t.elem, v, where) for k, v in value.items()}
    return _decode_scalar(t, value, where)


def _decode_scalar(t: Scalar, value: Any, where: str) -> Any:
    if t is ANY:
        return value
    if t is OBJECT:
        if isinstance(value, Mapping):
            return value
    elif t is STRING:
        if isinstance(value, str):
            return value
    elif t is BOOL:
        if isinstance(value, bool):
            return value
    elif t is INT:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif t is INT_OR_STRING:
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    elif t is DURATION:
        if isinstance(value, int) and not isinstance(value, bool):
            return _int64(value * 10**9)
        if isinstance(value, str):
            try:
                return parse_go_duration(value)
            except ValueError as exc:
                raise InvalidSpec(str(exc)) from None
    raise _refuse(value, t, where)


def _empty(t: Any, value: Any) -> bool:
    """``omitempty``: false, 0, "", nil pointer/interface, empty slice/map (never a struct)."""
    if isinstance(t, Struct):
        return False
    if isinstance(t, Ptr) or t is ANY:
        return value is None
    if isinstance(t, Slice | Map):
        return not value
    if t is INT_OR_STRING:
        return False
    return value is None or value is False or value == 0 or value == ""


def encode(t: Any, value: Any) -> Any:
    """``json.Marshal`` of a decoded ``t``: the JSON data Traefik writes."""
    if value is None:
        return None
    if isinstance(t, Struct):
        out: dict[str, Any] = {}
        for f in t.fields:
            item = value.get(f.json, zero(f.type))
            if f.omitempty and _empty(f.type, item):
                continue
            out[f.json] = encode(f.type, item)
        return out
    if isinstance(t, Ptr):
        return encode(t.elem, value)
    if isinstance(t, Slice):
        return [encode(t.elem, item) for item in value]
    if isinstance(t, Map):
        return {k: encode(t.elem, v) for k, v in value.items()}
    if t is DURATION:
        return format_ns(value)
    if t is ANY:
        return _go_any(value)
    return value


def _go_any(value: Any) -> Any:
    """An ``any`` round-tripped through Go: numbers are float64, so ``1.0`` is written ``1``."""
    if isinstance(value, Mapping):
        return {_map_key(k): _go_any(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_go_any(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    return value


# -- durations ------------------------------------------------------------------------

MILLISECOND = 10**6
SECOND = 10**9

_INT64 = 2**64


def _int64(value: int) -> int:
    """Go's int64 arithmetic wraps around."""
    value %= _INT64
    return value - _INT64 if value >= 2**63 else value


_UNITS = {
    "ns": 1,
    "us": 10**3,
    "µs": 10**3,  # U+00B5
    "μs": 10**3,  # U+03BC
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}
_NUMBER = re.compile(r"(\d*)(?:\.(\d*))?")
_UNIT = re.compile(r"[^\d.]*")


def parse_go_duration(text: str) -> int:
    """``time.ParseDuration`` in nanoseconds; raises ``ValueError`` with Go's message."""
    orig = text
    invalid = ValueError(f"time: invalid duration {go_quote(orig)}")
    negative = False
    if text[:1] in ("-", "+"):
        negative = text[0] == "-"
        text = text[1:]
    if text == "0":
        return 0
    if not text:
        raise invalid
    total = Fraction(0)
    while text:
        m = _NUMBER.match(text)
        assert m is not None
        whole, frac = m.group(1), m.group(2)
        if not whole and not frac:
            raise invalid
        text = text[m.end() :]
        unit_match = _UNIT.match(text)
        assert unit_match is not None
        unit = unit_match.group(0)
        if not unit:
            raise ValueError(f"time: missing unit in duration {go_quote(orig)}")
        if unit not in _UNITS:
            raise ValueError(f"time: unknown unit {go_quote(unit)} in duration {go_quote(orig)}")
        text = text[unit_match.end() :]
        number = Fraction(int(whole or "0"))
        if frac:
            number += Fraction(int(frac), 10 ** len(frac))
        total += number * _UNITS[unit]
    ns = int(total)
    if ns > 2**63 - 1 + (1 if negative else 0):
        raise invalid
    return -ns if negative else ns


def duration_set(text: str) -> int:
    """paerser ``Duration.Set``: whole seconds when ``text`` is an integer, else ``time.ParseDuration``.

    Raises ``ValueError``; Traefik's field is then left at 0 (``Set`` stores the failed parse).
    """
    if re.fullmatch(r"[+-]?\d+", text):
        value = int(text)
        if -(2**63) <= value < 2**63:
            return _int64(value * 10**9)
    return parse_go_duration(text)


def format_ns(ns: int) -> str:
    """A duration as the conformance data writes it: whole nanoseconds, ``"<n>ns"``."""
    return f"{ns}ns"
