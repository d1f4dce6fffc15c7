"""Helpers to run the Traefik conformance data set (``../shared/conformance``) in tests.

The comparison rules of ``conformance/README.md`` (and its reference
``tools/compare.py``): an empty map or list equals an absent one, durations
compare by value, ``exact_unordered_servers`` compares ``servers`` as
multisets, ``assertions`` check a few paths. Both Kubernetes providers' test
suites use this; the data is read in place, never copied.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "ConformanceCase",
    "check_assertion",
    "conformance_dir",
    "diff",
    "exact_problems",
    "failed_assertions",
    "load_cases",
    "missing_reason",
    "normalize_document",
    "require_data",
    "status_matches",
]

ENV_VAR = "EDGEWAY_CONFORMANCE_DIR"


def conformance_dir(repo_root: Path) -> Path:
    """``$EDGEWAY_CONFORMANCE_DIR``, else ``<repo>/../shared/conformance``."""
    configured = os.environ.get(ENV_VAR)
    return (
        Path(configured) if configured else (repo_root / ".." / "shared" / "conformance").resolve()
    )


def missing_reason(root: Path) -> str | None:
    """Why the data cannot be used (None when it is there)."""
    if not (root / "index.json").is_file():
        return f"conformance data not found at {root} (set {ENV_VAR})"
    return None


@dataclass(frozen=True)
class ConformanceCase:
    directory: Path
    case: dict[str, Any]

    @property
    def id(self) -> str:
        return self.directory.name

    @property
    def comparison(self) -> str:
        return str(self.case["comparison"])

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.case.get("options") or {})

    @property
    def input_path(self) -> Path:
        return self.directory / "input.yml"

    def expected(self) -> Any:
        return json.loads((self.directory / "expected.json").read_text())


def load_cases(root: Path, provider: str) -> list[ConformanceCase]:
    """Every case of ``provider`` (``kubernetes_ingress``, ``kubernetes_crd``), in order."""
    return [
        ConformanceCase(d, json.loads((d / "case.json").read_text()))
        for d in sorted((root / provider).iterdir())
        if (d / "case.json").is_file()
    ]


# -- comparison ----------------------------------------------------------------------

_NS = re.compile(r"^(-?\d+)ns$")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {
    "ns": 1,
    "us": 10**3,
    "µs": 10**3,
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}


def _duration_ns(text: str) -> int:
    m = _NS.match(text)
    if m:
        return int(m.group(1))
    negative = text.startswith("-")
    parts = _PART.findall(text.lstrip("-"))
    if not parts:
        raise ValueError(text)
    total = int(sum(float(n) * _UNITS[u] for n, u in parts))
    return -total if negative else total


@cache
def _schema_fields(schema_path: Path) -> tuple[frozenset[str], frozenset[str]]:
    """(duration field names, map/list field names) from ``dynamic_schema.json``."""
    durations: set[str] = set()
    collections: set[str] = set()
    if schema_path.is_file():
        for fields in json.loads(schema_path.read_text())["types"].values():
            for name, f in fields.items():
                if f["json"] == "duration" or f.get("pointee") == "duration":
                    durations.add(name)
                if f["json"] in ("map", "list"):
                    collections.add(name)
    return frozenset(durations), frozenset(collections)


def _normalize(
    value: Any, durations: frozenset[str], key: str | None = None, sort_servers: bool = False
) -> Any:
    if isinstance(value, dict):
        return {k: _normalize(v, durations, k, sort_servers) for k, v in value.items()}
    if isinstance(value, list):
        items = [_normalize(v, durations, None, sort_servers) for v in value]
        if sort_servers and key == "servers":
            items.sort(key=lambda s: json.dumps(s, sort_keys=True))
        return items
    if key in durations and isinstance(value, str):
        try:
            return _duration_ns(value)
        except ValueError:
            return value
    return value


def normalize_document(doc: Any, root: Path, unordered_servers: bool = False) -> Any:
    durations, _ = _schema_fields(root / "dynamic_schema.json")
    return _normalize(doc, durations, None, unordered_servers)


def diff(expected: Any, actual: Any, root: Path, path: str = "$") -> Iterator[str]:
    """Differences between two normalised documents (empty maps/lists = absent)."""
    _, collections = _schema_fields(root / "dynamic_schema.json")

    def empty_ok(name: str, value: Any, where: str) -> bool:
        return value in ({}, []) and (name in collections or where == "$")

    def walk(a: Any, b: Any, where: str) -> Iterator[str]:
        if type(a) is not type(b):
            yield f"{where}: expected {json.dumps(a)[:300]}, got {json.dumps(b)[:300]}"
        elif isinstance(a, dict):
            for k in sorted(set(a) | set(b)):
                if k not in a:
                    if not empty_ok(k, b[k], where):
                        yield f"{where}.{k}: unexpected {json.dumps(b[k])[:300]}"
                elif k not in b:
                    if not empty_ok(k, a[k], where):
                        yield f"{where}.{k}: missing, expected {json.dumps(a[k])[:300]}"
                else:
                    yield from walk(a[k], b[k], f"{where}.{k}")
        elif isinstance(a, list):
            if len(a) != len(b):
                yield f"{where}: expected {len(a)} items, got {len(b)}"
            for i, (x, y) in enumerate(zip(a, b, strict=False)):
                yield from walk(x, y, f"{where}[{i}]")
        elif a != b:
            yield f"{where}: expected {json.dumps(a)}, got {json.dumps(b)}"

    yield from walk(expected, actual, path)


def check_assertion(doc: Any, assertion: dict[str, Any]) -> bool:
    cur, found = doc, True
    for part in assertion["path"]:
        if not isinstance(cur, dict) or part not in cur:
            found, cur = False, None
            break
        cur = cur[part]
    op = assertion["op"]
    if op == "present":
        return found
    if op == "absent":
        return not found
    if op == "empty":
        return not found or cur in (None, {}, [])
    if op == "not_empty":
        return found and cur not in (None, {}, [])
    if op == "equals":
        return found and cur == assertion["value"]
    raise ValueError(f"unknown assertion op {op!r}")


def status_matches(
    expected: list[dict[str, Any]] | None, actual: list[dict[str, Any]] | None
) -> bool:
    """``ingress_status``: unordered comparison; missing and empty lists are equal."""

    def key(items: list[dict[str, Any]] | None) -> list[str]:
        return sorted(json.dumps(i, sort_keys=True) for i in items or ())

    return key(expected) == key(actual)


# -- what both providers' conformance tests check ----------------------------------------


def require_data(root: Path, cases: list[ConformanceCase], count: int) -> None:
    """Fail (``CI=true``) or skip when the data is missing; else check the case count."""
    import pytest

    reason = missing_reason(root)
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    assert len(cases) == count


def exact_problems(case: ConformanceCase, actual: Any, root: Path) -> list[str]:
    """``exact``/``exact_unordered_servers``: the differences from ``expected.json``."""
    unordered = case.comparison == "exact_unordered_servers"
    expected = normalize_document(case.expected(), root, unordered)
    return list(diff(expected, normalize_document(actual, root, unordered), root))


def failed_assertions(case: ConformanceCase, actual: Any) -> list[dict[str, Any]]:
    """``assertions``: the listed facts ``actual`` does not satisfy."""
    return [a for a in case.case["assertions"] if not check_assertion(actual, a)]
