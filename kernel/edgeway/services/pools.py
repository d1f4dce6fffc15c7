"""Upstream connection pools, shared by every configuration that names the same server.

A pool is keyed by what makes its connections interchangeable: kind, address,
TLS settings and timeouts. When a new configuration is applied, pools whose key
is unchanged are reused (their warm keep-alive connections survive the reload);
the others are retired once the new configuration is live. HTTP/1.1
``ServerPool``s are the default kind; other kinds (HTTP/2) come from the
``factory`` given to :meth:`PoolManager.get` and live the same life.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Protocol, TypeVar, cast, overload

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
    #: HTTP/2 connection health (``readIdleTimeout``, ``pingTimeout``); 0 for HTTP/1.1.
    read_idle_timeout: float = 0.0
    ping_timeout: float = 0.0


class Pool(Protocol):
    def retire(self) -> None:
        """No new exchanges: idle connections close now, busy ones when done."""


P = TypeVar("P", bound=Pool)
PoolFactory = Callable[[PoolKey, "ssl.SSLContext | None"], P]


def server_pool(key: PoolKey, ssl_context: ssl.SSLContext | None) -> ServerPool:
    """The default kind: an HTTP/1.1 keep-alive pool."""
    return ServerPool(
        key.host,
        key.port,
        ssl=ssl_context,
        server_hostname=key.server_name or key.host,
        max_idle=key.max_idle,
        dial_timeout=key.dial_timeout,
        idle_timeout=key.idle_timeout,
        response_header_timeout=key.response_header_timeout,
    )


class PoolManager:
    def __init__(self) -> None:
        self._live: dict[PoolKey, Pool] = {}
        self._next: dict[PoolKey, Pool] = {}

    @overload
    def get(self, key: PoolKey, ssl_context: ssl.SSLContext | None = None) -> ServerPool: ...

    @overload
    def get(
        self, key: PoolKey, ssl_context: ssl.SSLContext | None, factory: PoolFactory[P]
    ) -> P: ...

    def get(
        self,
        key: PoolKey,
        ssl_context: ssl.SSLContext | None = None,
        factory: PoolFactory[Pool] | None = None,
    ) -> Pool:
        """The pool for ``key`` in the configuration being built, made by ``factory``
        (default: an HTTP/1.1 ``ServerPool``) unless an equal key already has one.
        A key's ``scheme`` names its kind: one key, one factory."""
        pool = self._next.get(key) or self._live.get(key)
        if pool is None:
            pool = (factory or server_pool)(key, ssl_context)
        self._next[key] = pool
        return cast(Pool, pool)

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
