"""Traefik's label decoder (``github.com/traefik/paerser/parser``), for annotations.

Traefik decodes Ingress and Service annotations by turning them into labels
(``traefik.router.tls.certresolver``) and filling Go structs with paerser. This
is that decoder, driven by a small schema of the structs the Ingress provider
fills, with paerser's observable rules:

* keys are filtered by prefix (case-insensitively) and sorted; ``a.b[0].c``
  indexes a list of structs, in the sorted order of the keys;
* field names match case-insensitively; an unknown one is an error
  (``field not found, node: x``), as is an empty key segment;
* a struct given as a bare value is an error unless its field is tagged
  ``allowEmpty``; then ``"true"`` or ``""`` creates it empty and any other value
  leaves it unset;
* a pointer to a struct is created with the struct's ``SetDefaults``;
* lists of scalars are comma-separated and trimmed; booleans follow Go's
  ``strconv.ParseBool``, integers ``strconv.ParseInt``.

The result is a plain dict keyed by the JSON names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Field", "LabelError", "Struct", "decode_labels"]


class LabelError(ValueError):
    """An annotation that Traefik's decoder rejects."""


@dataclass(frozen=True)
class Field:
    """One Go struct field: its JSON name and its kind.

    ``kind``: ``str``, ``bool``, ``int``, ``ptrbool``, ``ptrstr``, ``strlist``,
    ``ptrstruct`` (``struct`` names the :class:`Struct`), ``structlist`` or
    ``ignored`` (tag ``label:"-"``).
    """

    json: str
    kind: str
    struct: Struct | None = None
    allow_empty: bool = False


@dataclass(frozen=True)
class Struct:
    """A Go struct: fields by Go name (matched case-insensitively) and ``SetDefaults`` values."""

    name: str
    fields: dict[str, Field]
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def find(self, node_name: str) -> Field | None:
        lower = node_name.lower()
        for go_name, f in self.fields.items():
            if go_name.lower() == lower:
                return f
        return None


class _Node:
    __slots__ = ("children", "name", "value")

    def __init__(self, name: str) -> None:
        self.name = name
        self.value = ""
        self.children: list[_Node] = []

    def child(self, name: str) -> _Node:
        lower = name.lower()
        for c in self.children:
            if c.name.lower() == lower:
                return c
        c = _Node(name)
        self.children.append(c)
        return c


_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def _parse_bool(value: str) -> bool:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise LabelError(f'strconv.ParseBool: parsing "{value}": invalid syntax')


def _parse_int(value: str) -> int:
    text = value[1:] if value[:1] in "+-" else value
    if not text.isascii() or not text.isdigit():
        raise LabelError(f'strconv.ParseInt: parsing "{value}": invalid syntax')
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise LabelError(f'strconv.ParseInt: parsing "{value}": value out of range')
    return number


def _tree(labels: Mapping[str, str], root: str, prefix: str) -> _Node | None:
    keys = sorted(k for k in labels if k[: len(prefix)].lower() == prefix.lower())
    if not keys:
        return None
    top = _Node(root)
    for key in keys:
        split = key.split(".")
        if split[0] != root:
            raise LabelError(f"invalid label root {split[0]}")
        parts: list[str] = []
        for part in split:
            if not part:
                raise LabelError(f"invalid element: {key}")
            if part[0] == "[":
                raise LabelError(
                    f"invalid leading character '[' in field name (bracket is a slice delimiter): {part}"
                )
            if part.endswith("]"):
                left = part.index("[")
                parts.extend((part[:left], part[left:]))
            else:
                parts.append(part)
        node = top
        for part in parts[1:]:
            node = node.child(part)
        node.value = labels[key]
    return top


def _fill_struct(struct: Struct, node: _Node) -> dict[str, Any]:
    out: dict[str, Any] = dict(struct.defaults)
    for child in node.children:
        f = struct.find(child.name)
        if f is None:
            raise LabelError(f"field not found, node: {child.name}")
        value = _fill_field(f, child)
        if value is not _UNSET:
            out[f.json] = value
    return out


_UNSET = object()


def _fill_field(f: Field, node: _Node) -> Any:
    if f.kind == "ignored":
        return _UNSET
    if f.kind in ("ptrstruct", "structlist"):
        assert f.struct is not None
        if f.kind == "ptrstruct":
            if not node.children and not f.allow_empty:
                raise LabelError(f"{node.name} cannot be a standalone element (type *{f.struct.name})")
            if f.allow_empty and node.value and node.value.lower() != "true":
                return _UNSET  # paerser marks the node disabled: the field stays nil
            return _fill_struct(f.struct, node)
        # An empty list is what omitempty drops from Traefik's JSON: leave it out.
        return [_fill_struct(f.struct, child) for child in node.children] or _UNSET
    if node.children:
        raise LabelError(f"invalid node {node.name}: {f.kind}")
    value = node.value
    if f.kind in ("str", "ptrstr"):
        return value
    if f.kind in ("bool", "ptrbool"):
        return _parse_bool(value)
    if f.kind == "int":
        return _parse_int(value)
    if f.kind == "strlist":
        if not value:
            return _UNSET
        return [part.strip() for part in value.split(",")]
    raise AssertionError(f.kind)


def decode_labels(labels: Mapping[str, str], prefix: str, root: Struct) -> dict[str, Any] | None:
    """Decode the labels under ``prefix`` (``traefik.router.``) into ``root``'s shape.

    Returns None when no label has the prefix (paerser then leaves the element
    untouched).
    """
    tree = _tree(labels, "traefik", prefix)
    if tree is None:
        return None
    return _fill_struct(root, tree)
