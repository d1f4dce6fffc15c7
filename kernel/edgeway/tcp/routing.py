"""An entry point's TCP routing table: what the connection layer asks once it
knows the SNI, the ALPN offer and the client IP of a connection.

Traefik keeps two muxers per entry point (pkg/server/router/tcp/router.go):
``muxerTCP`` for routers without ``tls`` and ``muxerTCPTLS`` for TLS routers
(passthrough or terminated). Routes are tried by descending priority, then
provider precedence, then name; the first match wins. A TLS route whose rule is
exactly ``HostSNI(`*`)`` is a catch-all: the connection layer ranks it after
HTTPS routes that name a host (see :class:`TLSRoute`).

The connection layer's order, as ``Router.ServeTCP``:

1. :meth:`TCPRouting.early_handler` — routes without TLS only and no HTTPS
   router: serve before reading anything (server-speaks-first protocols).
2. Peek; not TLS → :meth:`match_plain`, else the HTTP handler, else close.
3. TLS → an HTTPS route with a specific SNI, else :meth:`match_tls` unless
   ``catch_all``, else the HTTPS catch-all, else the TCP catch-all, else HTTPS 404.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from edgeway.tcp.conn import TCPConnection, TCPHandler

__all__ = ["ConnInfo", "TCPRouting", "TLSRoute", "close_connection"]


@dataclass(frozen=True)
class ConnInfo:
    """What TCP rules match on."""

    sni: str  # lower-cased (rules.canonical_sni), "" when none / not TLS
    alpn: tuple[str, ...]
    client_ip: str
    is_tls: bool


@dataclass(frozen=True)
class TLSRoute:
    handler: TCPHandler
    #: Hand the raw connection over (no TLS termination by edgeway).
    passthrough: bool
    #: Qualified TLS options name to terminate with ("default" when unset).
    options: str | None
    #: ``HostSNI(`*`)``: ranks after HTTPS routes with a specific SNI.
    catch_all: bool


@dataclass(frozen=True)
class Route:
    match: Callable[[ConnInfo], bool]
    handler: TCPHandler
    catch_all: bool
    #: The non-negated ``HostSNI(`*`)``: matches every connection.
    matches_all: bool = False


async def close_connection(conn: TCPConnection) -> None:
    """Traefik's ``brokenTLSRouter``: the route's TLS options are broken, close at once."""
    conn.close()


class TCPRouting:
    """One entry point's TCP routes, each list already in match order."""

    def __init__(self, plain: Sequence[Route], tls: Sequence[tuple[Route, TLSRoute]]) -> None:
        self._plain = tuple(plain)
        self._tls = tuple(tls)
        self.has_plain_routes = bool(self._plain)
        self.has_tls_routes = bool(self._tls)
        first = self._plain[0] if self._plain else None
        #: Served without peeking when no TLS route exists: the first plain route
        #: takes every connection (the entry point must have no HTTPS router either).
        self.catch_all_plain: TCPHandler | None = (
            first.handler if first is not None and first.matches_all and not self._tls else None
        )

    def match_plain(self, info: ConnInfo) -> TCPHandler | None:
        for route in self._plain:
            if route.match(info):
                return route.handler
        return None

    def match_tls(self, info: ConnInfo) -> TLSRoute | None:
        for route, tls_route in self._tls:
            if route.match(info):
                return tls_route
        return None

    def early_handler(self, client_ip: str, has_https_routes: bool) -> TCPHandler | None:
        """The handler serving a connection before any byte is read, if any.

        Traefik does this when the entry point has routes without TLS and
        neither TLS routes nor HTTPS routers: the connection is matched with
        an empty SNI; no match means "peek as usual".
        """
        if not self._plain or self._tls or has_https_routes:
            return None
        if self.catch_all_plain is not None:
            return self.catch_all_plain
        return self.match_plain(ConnInfo("", (), client_ip, False))
