"""Inline the PEM files a configuration refers to, as Traefik's ``loadFileConfig`` does.

Traefik's ``types.FileOrContent`` is a path when it names an existing file and
the content itself otherwise; the file provider reads those files at load time
(so a change to a referenced PEM is picked up only when the configuration file
itself changes). A file that exists but cannot be read is logged and its entry
dropped, as Traefik does. The fields are Traefik's: ``tls.certificates``,
``tls.options.*.clientAuth.caFiles``, ``tls.stores.*.defaultCertificate``,
``http.serversTransports.*.{certificates,rootCAs}`` and
``tcp.serversTransports.*.tls.{certificates,rootCAs}``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from edgeway_file.errors import format_path

__all__ = ["inline_file_references"]

Path = tuple[str | int, ...]
#: Where a key path is, for log messages: ``file:line``.
Locate = Callable[[Path], str]


def _get(mapping: Any, name: str) -> tuple[str | None, Any]:
    """Key and value of ``name`` in ``mapping``, matched case-insensitively like Traefik's decoder."""
    if not isinstance(mapping, Mapping):
        return None, None
    if name in mapping:
        return name, mapping[name]
    lower = name.lower()
    for key, value in mapping.items():
        if isinstance(key, str) and key.lower() == lower:
            return key, value
    return None, None


def _items(mapping: Any) -> list[tuple[str, Any]]:
    return list(mapping.items()) if isinstance(mapping, Mapping) else []


class _Inliner:
    def __init__(self, workdir: str, locate: Locate, log: logging.Logger) -> None:
        self.workdir = workdir
        self.locate = locate
        self.log = log

    def read(self, value: Any, path: Path) -> tuple[bool, Any]:
        """``(ok, content)``: the file's text if ``value`` names a file, else ``value`` itself."""
        if not isinstance(value, str) or not value:
            return True, value
        candidate = os.path.join(self.workdir, value)
        if not os.path.exists(candidate):
            return True, value
        try:
            with open(candidate, encoding="utf-8") as fh:
                return True, fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            self.log.error(
                "%s: %s: cannot read %s: %s; skipping it",
                self.locate(path),
                format_path(path),
                candidate,
                exc,
            )
            return False, value

    def certificate(self, cert: Any, path: Path) -> bool:
        """Inline ``certFile``/``keyFile`` in place; False when one could not be read."""
        for field in ("certFile", "keyFile"):
            key, value = _get(cert, field)
            if key is None:
                continue
            ok, content = self.read(value, (*path, key))
            if not ok:
                return False
            cert[key] = content
        return True

    def certificates(self, parent: Any, field: str, path: Path) -> None:
        key, certs = _get(parent, field)
        if key is None or not isinstance(certs, list):
            return
        parent[key] = [c for i, c in enumerate(certs) if self.certificate(c, (*path, key, i))]

    def files(self, parent: Any, field: str, path: Path) -> None:
        key, values = _get(parent, field)
        if isinstance(values, str):  # paerser reads a lone string as a one-element list
            values = [values]
        if key is None or not isinstance(values, list):
            return
        kept = []
        for i, value in enumerate(values):
            ok, content = self.read(value, (*path, key, i))
            if ok:
                kept.append(content)
        parent[key] = kept


def inline_file_references(
    data: dict[str, Any], workdir: str, locate: Locate, log: logging.Logger
) -> None:
    """Replace file paths by file contents in ``data`` (a freshly parsed document) in place."""
    inliner = _Inliner(workdir, locate, log)

    tls_key, tls = _get(data, "tls")
    if isinstance(tls, dict):
        root: Path = (tls_key or "tls",)
        inliner.certificates(tls, "certificates", root)
        opts_key, options = _get(tls, "options")
        for name, opts in _items(options):
            auth_key, auth = _get(opts, "clientAuth")
            if isinstance(auth, dict):
                inliner.files(auth, "caFiles", (*root, opts_key or "", name, auth_key or ""))
        stores_key, stores = _get(tls, "stores")
        for name, store in _items(stores):
            cert_key, cert = _get(store, "defaultCertificate")
            if isinstance(cert, dict):
                inliner.certificate(cert, (*root, stores_key or "", name, cert_key or ""))

    for section in ("http", "tcp"):
        sec_key, sec = _get(data, section)
        st_key, transports = _get(sec, "serversTransports")
        for name, st in _items(transports):
            path: Path = (sec_key or section, st_key or "", name)
            if section == "tcp":
                tls_key, st = _get(st, "tls")
                path = (*path, tls_key or "tls")
            if isinstance(st, dict):
                inliner.certificates(st, "certificates", path)
                inliner.files(st, "rootCAs", path)
