"""Accessors for Kubernetes objects held as plain dicts.

Missing fields read as Go's zero values (``""``, ``{}``, ``[]``), which is how
Traefik's Go code sees them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["annotations_of", "kind", "labels", "meta", "name", "namespace", "spec", "status"]

Obj = Mapping[str, Any]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def kind(obj: Obj) -> str:
    return str(obj.get("kind") or "")


def meta(obj: Obj) -> Mapping[str, Any]:
    return _mapping(obj.get("metadata"))


def name(obj: Obj) -> str:
    return str(meta(obj).get("name") or "")


def namespace(obj: Obj) -> str:
    return str(meta(obj).get("namespace") or "")


def labels(obj: Obj) -> Mapping[str, str]:
    return _mapping(meta(obj).get("labels"))


def annotations_of(obj: Obj) -> Mapping[str, str]:
    return _mapping(meta(obj).get("annotations"))


def spec(obj: Obj) -> Mapping[str, Any]:
    return _mapping(obj.get("spec"))


def status(obj: Obj) -> Mapping[str, Any]:
    return _mapping(obj.get("status"))
