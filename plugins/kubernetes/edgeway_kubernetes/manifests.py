"""Kubernetes manifests (multi-document YAML or JSON) to plain dict objects.

``kubectl apply -f`` semantics where they matter offline: a directory means its
``.yaml``/``.yml``/``.json`` files in name order (not recursive, like kubectl
without ``-R``); ``kind: List`` documents are expanded; empty documents are
skipped. Timestamps stay strings (as the API's JSON gives them), and label and
annotation values must be strings, as the API server requires. Every error
names the file and the document number.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import yaml

__all__ = ["MANIFEST_EXTENSIONS", "ManifestError", "load_manifests", "parse_manifests"]

MANIFEST_EXTENSIONS = (".yaml", ".yml", ".json")


class ManifestError(ValueError):
    """A manifest file cannot be read or holds something that is not an object."""


class _Loader(yaml.SafeLoader):
    """SafeLoader without the timestamp resolver: ``creationTimestamp`` stays a string."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def parse_manifests(text: str, source: str = "<manifests>") -> list[dict[str, Any]]:
    """The objects of one YAML/JSON stream, in document order."""
    try:
        documents = list(yaml.load_all(text, Loader=_Loader))  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ManifestError(f"{source}: invalid YAML: {exc}") from None
    objects: list[dict[str, Any]] = []
    for index, doc in enumerate(documents, start=1):
        if doc is None:
            continue
        where = f"{source}: document {index}"
        if not isinstance(doc, dict):
            raise ManifestError(f"{where}: expected a Kubernetes object (a mapping), got {type(doc).__name__}")
        if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            for n, item in enumerate(doc["items"]):
                objects.append(_check(item, f"{where}, item {n}"))
        else:
            objects.append(_check(doc, where))
    return objects


def _check(obj: Any, where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ManifestError(f"{where}: expected a Kubernetes object (a mapping), got {type(obj).__name__}")
    for key in ("kind", "apiVersion"):
        if not isinstance(obj.get(key), str) or not obj[key]:
            raise ManifestError(f"{where}: missing {key}")
    meta = obj.get("metadata")
    if meta is None:
        meta = {}
    if not isinstance(meta, Mapping):
        raise ManifestError(f"{where}: {obj['kind']}: metadata must be a mapping")
    label = f"{obj['kind']} {meta.get('namespace') or ''}/{meta.get('name') or ''}".replace(" /", " ")
    for field in ("labels", "annotations"):
        values = meta.get(field)
        if values is None:
            continue
        if not isinstance(values, Mapping):
            raise ManifestError(f"{where}: {label}: metadata.{field} must be a mapping")
        for key, value in values.items():
            if not isinstance(value, str):
                raise ManifestError(
                    f"{where}: {label}: metadata.{field}.{key} must be a string (quote it), got {value!r}"
                )
    return obj


def load_manifests(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Objects from a manifest file, or from every manifest file of a directory."""
    path = os.fspath(path)
    if os.path.isdir(path):
        files = sorted(
            os.path.join(path, entry)
            for entry in os.listdir(path)
            if entry.endswith(MANIFEST_EXTENSIONS) and os.path.isfile(os.path.join(path, entry))
        )
    elif os.path.exists(path):
        files = [path]
    else:
        raise ManifestError(f"{path}: no such file or directory")
    objects: list[dict[str, Any]] = []
    for file in files:
        try:
            with open(file, encoding="utf-8") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise ManifestError(f"{file}: cannot read: {exc}") from None
        objects.extend(parse_manifests(text, file))
    return objects
