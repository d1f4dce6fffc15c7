"""Where each key of a configuration file is, so errors can point at a line.

Validation reports a key path (``http.routers.app.rul``); a user needs
``app.yml:12``. :class:`LineMap` records the line of every mapping key and
sequence item. YAML (and JSON, which is YAML for this purpose) gets exact lines
from PyYAML's composer; TOML gets them from a small scanner of table headers and
``key =`` lines, because ``tomllib`` keeps no positions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

__all__ = ["LineMap", "YAMLDuplicateKey", "json_lines", "load_yaml", "toml_lines"]

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class LineMap:
    """A tree of lines keyed like the document: mapping keys by name, items by index."""

    line: int | None = None
    children: dict[str | int, LineMap] = field(default_factory=dict)

    def child(self, key: str | int) -> LineMap | None:
        """The entry for ``key``; names also match case-insensitively, as Traefik's decoder does."""
        found = self.children.get(key)
        if found is None and isinstance(key, str):
            lower = key.lower()
            for name, entry in self.children.items():
                if isinstance(name, str) and name.lower() == lower:
                    return entry
        if found is None and not isinstance(key, str):
            found = self.children.get(str(key))
        return found

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """Line of the deepest part of ``path`` the document has (a missing key: its parent's)."""
        entry, line = self, self.line
        for key in path:
            entry = entry.child(key)  # type: ignore[assignment]
            if entry is None:
                break
            if entry.line is not None:
                line = entry.line
        return line

    def ensure(self, path: Sequence[str | int], line: int) -> LineMap:
        """The entry at ``path``, created with ``line`` where missing (first definition wins)."""
        entry = self
        for key in path:
            nxt = entry.children.get(key)
            if nxt is None:
                nxt = entry.children[key] = LineMap(line)
            entry = nxt
        return entry


@dataclass(frozen=True)
class YAMLDuplicateKey:
    """A key defined twice in one mapping: Traefik's YAML decoder rejects the file."""

    path: tuple[str | int, ...]
    line: int
    first_line: int


def _build(
    node: yaml.Node,
    entry: LineMap,
    path: tuple[str | int, ...],
    dups: list[YAMLDuplicateKey],
    seen: set[int],
) -> None:
    if id(node) in seen:  # an alias of an ancestor: recursive document
        return
    seen = seen | {id(node)}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "<<":
                continue
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in entry.children:
                dups.append(YAMLDuplicateKey((*path, key), line, entry.children[key].line or 0))
                continue
            child = entry.children[key] = LineMap(line)
            _build(value_node, child, (*path, key), dups, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = entry.children[index] = LineMap(item.start_mark.line + 1)
            _build(item, child, (*path, index), dups, seen)


def load_yaml(text: str) -> tuple[Any, LineMap, list[YAMLDuplicateKey]]:
    """Parse one YAML document; raises ``yaml.YAMLError`` (with marks) on bad syntax."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, LineMap(1), []
        data = loader.construct_document(node)
    finally:
        loader.dispose()
    lines = LineMap(node.start_mark.line + 1)
    dups: list[YAMLDuplicateKey] = []
    _build(node, lines, (), dups, set())
    return data, lines, dups


def json_lines(text: str) -> LineMap:
    """Lines of a JSON document read as YAML; best effort, since a few JSON texts are not YAML."""
    try:
        return load_yaml(text)[1]
    except yaml.YAMLError:
        return LineMap(1)


_KEY_PART = re.compile(r"""\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*""")
_AOT = re.compile(r"^\s*\[\[(.+)\]\]\s*(?:#.*)?$")
_TABLE = re.compile(r"^\s*\[(.+)\]\s*(?:#.*)?$")
_ASSIGN = re.compile(r"""^\s*((?:"(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_.\s-])+?)\s*=""")


def _toml_key(text: str) -> list[str] | None:
    """Split a dotted TOML key (``a."b.c".d``) into its parts; None if it is not one."""
    parts, pos = [], 0
    while True:
        m = _KEY_PART.match(text, pos)
        if not m or m.end() == pos:
            return None
        parts.append(next(g for g in m.groups() if g is not None))
        pos = m.end()
        if pos == len(text):
            return parts
        if text[pos] != ".":
            return None
        pos += 1


def toml_lines(text: str) -> LineMap:
    """Lines of table headers and ``key =`` lines of a TOML document (inline values not entered)."""
    root = LineMap(1)
    table: list[str | int] = []
    aot_counts: dict[tuple[str, ...], int] = {}
    in_string: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        if in_string:
            if raw.count(in_string) % 2 == 1:
                in_string = None
            continue
        m = _AOT.match(raw) or _TABLE.match(raw)
        if m:
            parts = _toml_key(m.group(1))
            if parts is None:
                continue
            path: list[str | int] = []
            for i in range(len(parts)):
                path.append(parts[i])
                key = tuple(parts[: i + 1])
                if m.re is _AOT and i == len(parts) - 1:
                    aot_counts[key] = aot_counts.get(key, 0) + 1
                if key in aot_counts:
                    root.ensure(path, number)
                    path.append(aot_counts[key] - 1)
            root.ensure(path, number)
            table = path
            continue
        m = _ASSIGN.match(raw)
        if m:
            parts = _toml_key(m.group(1))
            if parts is not None:
                root.ensure([*table, *parts], number)
            rest = raw[m.end() :]
            for quote in ('"""', "'''"):
                if rest.count(quote) % 2 == 1:
                    in_string = quote
    return root
