"""The built-in certificate store: the dynamic configuration's ``tls.certificates``.

Registered through ``register_tls_stores`` like any store plugin. Each entry's
``certFile``/``keyFile`` is a path or inline PEM (Traefik's ``FileOrContent``);
an entry that cannot be read is logged and skipped, as Traefik does.
Certificates for the ``acme-tls/1`` store are only accepted from the ACME
TLS-ALPN provider (pkg/server/aggregator.go), so they are dropped here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from edgeway import hookimpl
from edgeway.registry import TLSStoreContext, TLSStoreType

from .certificates import read_file_or_content
from .store import ACME_TLS_STORE

__all__ = ["ConfigurationStore"]

log = logging.getLogger("edgeway.tls")


class ConfigurationStore:
    def __init__(self, context: TLSStoreContext) -> None:
        self.context = context

    def certificates(self) -> Iterator[tuple[bytes, bytes, list[str]]]:
        for entry in self.context.configured_certificates():
            stores = list(entry.stores or [])
            if ACME_TLS_STORE in stores:
                continue
            try:
                cert, _ = read_file_or_content(entry.certFile or "", self.context.workdir)
                key, _ = read_file_or_content(entry.keyFile or "", self.context.workdir)
            except OSError as exc:
                log.error("Unable to parse certificate %s: %s", (entry.certFile or "")[:50], exc)
                continue
            yield cert, key, stores


@hookimpl
def register_tls_stores(register: Callable[[TLSStoreType], Any]) -> None:
    register(TLSStoreType(name="dynamic", factory=ConfigurationStore))
