"""Merge the files of a directory with Traefik's skip-duplicates rule.

Traefik's file provider merges a directory with
``provider.Merge(ctx, configurations, provider.ResourceStrategySkipDuplicates)``
(``pkg/provider/merge.go``): files in sorted order, every named object of every
section (``http.routers``, ``tls.options``...) kept from the first file that
defines it and later definitions skipped with a warning; TLS certificates with
the same ``certFile``/``keyFile`` kept once. The merged mapping remembers where
each object came from so that validation errors still point at a file and line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from edgeway_file.errors import Problem
from edgeway_file.source import Source

__all__ = ["merge_sources"]

Path = tuple[str | int, ...]

_SECTIONS = ("http", "tcp", "udp", "tls")
_KINDS = (
    "routers",
    "services",
    "middlewares",
    "serversTransports",
    "models",
    "certificates",
    "options",
    "stores",
)
_LABELS = {"serversTransports": "servers transport", "options": "options"}


def _canonical(key: Any, names: Sequence[str]) -> Any:
    """Traefik's decoder matches keys case-insensitively; merge ``HTTP`` with ``http``."""
    if isinstance(key, str):
        for name in names:
            if name.lower() == key.lower():
                return name
    return key


def _label(section: str, kind: str) -> str:
    noun = _LABELS.get(kind, kind[:-1] if kind.endswith("s") else kind)
    return f"{section.upper()} {noun}"


def _cert_identity(cert: Any) -> Any:
    if not isinstance(cert, Mapping):
        return repr(cert)
    low = {str(k).lower(): v for k, v in cert.items()}
    return (low.get("certfile"), low.get("keyfile"))


def merge_sources(
    sources: Sequence[Source], directory: str, log: logging.Logger
) -> tuple[dict[str, Any], Callable[[Path, str], Problem]]:
    """The merged mapping, and a function placing a merged key path in its source file."""
    merged: dict[str, Any] = {}
    origins: dict[Path, tuple[Source, Path]] = {}

    for src in sources:
        for section_key, section in src.data.items():
            sname = _canonical(section_key, _SECTIONS)
            if sname not in _SECTIONS or not isinstance(section, Mapping):
                continue  # anchors' holders (ignored by Traefik), or null
            out = merged.setdefault(sname, {})
            for kind_key, value in section.items():
                kname = _canonical(kind_key, _KINDS)
                here: Path = (section_key, kind_key)
                if isinstance(value, Mapping):
                    table = out.setdefault(kname, {})
                    for name, obj in value.items():
                        key = (sname, kname, name)
                        if name in table:
                            first, first_path = origins[key]
                            log.warning(
                                "%s %r in %s is already defined in %s; skipping it "
                                "(the first definition wins)",
                                _label(sname, kname),
                                name,
                                src.where((*here, name)),
                                first.where(first_path),
                            )
                            continue
                        table[name] = obj
                        origins[key] = (src, (*here, name))
                elif isinstance(value, list):
                    items = out.setdefault(kname, [])
                    for index, item in enumerate(value):
                        if (sname, kname) == ("tls", "certificates"):
                            ident = _cert_identity(item)
                            dup = next(
                                (i for i, c in enumerate(items) if _cert_identity(c) == ident), None
                            )
                            if dup is not None:
                                first, first_path = origins[(sname, kname, dup)]
                                log.warning(
                                    "TLS certificate in %s is already configured in %s; skipping it",
                                    src.where((*here, index)),
                                    first.where(first_path),
                                )
                                continue
                        origins[(sname, kname, len(items))] = (src, (*here, index))
                        items.append(item)

    def locate(path: Path, message: str) -> Problem:
        found = origins.get(tuple(path[:3]))
        if found:
            src, prefix = found
            return src.problem((*prefix, *path[3:]), message)
        return Problem(directory, message, path=tuple(path))

    return merged, locate
