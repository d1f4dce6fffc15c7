"""Reads of single CRD spec fields, decoded as Go decodes them (:mod:`~edgeway_kubernetes_crd.gotypes`).

Whole specs are decoded with :func:`~edgeway_kubernetes_crd.structs.decode_spec`;
these readers serve code that walks a spec field by field (service references,
TraefikServices). A missing (or ``null``) field reads as Go's zero value; a
field of the wrong JSON type raises :class:`~edgeway_kubernetes_crd.references.InvalidSpec`
(``json: cannot unmarshal ...``), which callers report with ``Builder.fail``
before skipping what Traefik skips.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edgeway_kubernetes_crd.gotypes import (
    BOOL,
    INT,
    INT_OR_STRING,
    OBJECT,
    STRING,
    Ptr,
    Slice,
    decode,
    duration_set,
)
from edgeway_kubernetes_crd.references import InvalidSpec

__all__ = [
    "bool_ptr",
    "duration",
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


def string(obj: Obj, key: str) -> str:
    return decode(STRING, obj.get(key), key)


def bool_ptr(obj: Obj, key: str) -> bool | None:
    """A ``*bool``: None when unset."""
    return decode(Ptr(BOOL), obj.get(key), key)


def int_ptr(obj: Obj, key: str) -> int | None:
    """An ``*int``: None when unset."""
    return decode(Ptr(INT), obj.get(key), key)


def int_value(obj: Obj, key: str) -> int:
    return decode(INT, obj.get(key), key)


def mapping_ptr(obj: Obj, key: str) -> Obj | None:
    """A pointer to a struct: None when unset."""
    return decode(Ptr(OBJECT), obj.get(key), key)


def mapping(obj: Obj, key: str) -> Obj:
    """A struct (never nil in Go): ``{}`` when unset."""
    return mapping_ptr(obj, key) or {}


def list_of(obj: Obj, key: str) -> list[Obj]:
    """A list of structs: ``[]`` when unset, a ``null`` item is a zero struct (``{}``)."""
    return [item or {} for item in decode(Slice(OBJECT), obj.get(key), key) or ()]


def string_list(obj: Obj, key: str) -> list[str]:
    return decode(Slice(STRING), obj.get(key), key) or []


def int_or_string(obj: Obj, key: str) -> int | str:
    """An ``intstr.IntOrString`` kept as given: a number is an int, a string a string (even ``"80"``); unset is 0."""
    value = obj.get(key)
    decode(INT_OR_STRING, value, key)
    return 0 if value is None else value


def duration(text: str) -> int:
    """paerser's ``Duration.Set`` in nanoseconds (bare integers are seconds); a bad value is invalid."""
    try:
        return duration_set(text)
    except ValueError as exc:
        raise InvalidSpec(str(exc)) from None
