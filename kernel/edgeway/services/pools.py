"""Upstream connection pools, shared by every configuration that names the same server.

A pool is keyed by what makes its connections interchangeable: address, TLS
settings and timeouts. When a new configuration is applied, pools whose key is
unchanged are reused (their warm keep-alive connections survive the reload);
the others are retired once the new configuration is live.
"""

from __future__ import annotations

import ssl
from collections.abc import Hashable
from dataclasses import dataclass

from edgeway.http.upstream import ServerPool


@dataclass(frozen=True)
class PoolKey:
    scheme: str
    host: str
    port: int
    server_name: str
    tls: Hashable
    max_idle: int
    dial_timeout: float
    idle_timeout: float
    response_header_timeout: float


class PoolManager:
    def __init__(self) -> None:
        self._live: dict[PoolKey, ServerPool] = {}
        self._next: dict[PoolKey, ServerPool] = {}

    def get(self, key: PoolKey, ssl_context: ssl.SSLContext | None = None) -> ServerPool:
        """The pool for ``key`` in the configuration being built."""
        pool = self._next.get(key) or self._live.get(key)
        if pool is None:
            pool = ServerPool(
                key.host,
                key.port,
                ssl=ssl_context,
                server_hostname=key.server_name or key.host,
                max_idle=key.max_idle,
                dial_timeout=key.dial_timeout,
                idle_timeout=key.idle_timeout,
                response_header_timeout=key.response_header_timeout,
            )
        self._next[key] = pool
        return pool

    def commit(self) -> None:
        """The configuration built since the last commit is live: retire unused pools."""
        for key, pool in self._live.items():
            if key not in self._next:
                pool.retire()
        self._live, self._next = self._next, {}

    def discard(self) -> None:
        """The configuration being built was abandoned."""
        for key, pool in self._next.items():
            if key not in self._live:
                pool.retire()
        self._next = {}

    def close(self) -> None:
        for pool in self._live.values():
            pool.retire()
        self._live = {}
