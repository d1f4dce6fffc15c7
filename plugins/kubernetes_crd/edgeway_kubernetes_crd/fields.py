"""Typed reads of CRD spec fields, as Go's JSON decoding into Traefik's CRD types sees them.

A missing (or ``null``) field reads as Go's zero value; a field of the wrong
type (a list where a string belongs, ``true`` for a port...) is something the
API server's decoding would refuse, so it raises :class:`SpecError` (reason
``InvalidSpec``), which callers report with ``Builder.fail`` and then skip the
object or the part of it concerned, instead of crashing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edgeway.config.durations import parse_duration

from edgeway_kubernetes_crd.references import ReferenceError

__all__ = [
    "SpecError",
    "bool_ptr",
    "go_duration_ns",
    "int_or_string",
    "int_ptr",
    "int_value",
    "list_of",
    "mapping",
    "mapping_ptr",
    "string",
    "string_list",
]

Obj = Mapping[str, Any]


class SpecError(ReferenceError):
    """A field whose type Traefik's CRD types cannot decode."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "InvalidSpec")


def _wrong(key: str, value: Any, expected: str) -> SpecError:
    return SpecError(f"invalid {key} {value!r}: expected {expected}")


def string(obj: Obj, key: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _wrong(key, value, "a string")
    return value


def bool_ptr(obj: Obj, key: str) -> bool | None:
    """A ``*bool``: None when unset."""
    value = obj.get(key)
    if value is not None and not isinstance(value, bool):
        raise _wrong(key, value, "a boolean")
    return value


def int_ptr(obj: Obj, key: str) -> int | None:
    """An ``*int``: None when unset."""
    value = obj.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise _wrong(key, value, "an integer")
    return value


def int_value(obj: Obj, key: str) -> int:
    value = int_ptr(obj, key)
    return 0 if value is None else value


def mapping_ptr(obj: Obj, key: str) -> Obj | None:
    """A pointer to a struct: None when unset."""
    value = obj.get(key)
    if value is not None and not isinstance(value, Mapping):
        raise _wrong(key, value, "an object")
    return value


def mapping(obj: Obj, key: str) -> Obj:
    """A struct (never nil in Go): ``{}`` when unset."""
    value = mapping_ptr(obj, key)
    return {} if value is None else value


def list_of(obj: Obj, key: str) -> list[Obj]:
    """A list of structs: ``[]`` when unset."""
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise _wrong(key, value, "a list of objects")
    return value


def string_list(obj: Obj, key: str) -> list[str]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _wrong(key, value, "a list of strings")
    return value


def int_or_string(obj: Obj, key: str) -> int | str:
    """An ``intstr.IntOrString``: a JSON number is an int, a JSON string a string (even ``"80"``); unset is 0."""
    value = obj.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _wrong(key, value, "an integer or a string")
    return value


def go_duration_ns(text: str) -> int:
    """``ptypes.Duration.Set``: whole nanoseconds of a Go duration or of bare integer seconds."""
    try:
        return round(parse_duration(text) * 1_000_000_000)
    except ValueError:
        raise SpecError(f'time: invalid duration "{text}"') from None
