"""TCP middlewares (pkg/middlewares/tcp): ``inFlightConn``, ``ipAllowList`` and its
deprecated name ``ipWhiteList``. A refused connection is closed without a byte.

``TCP_MIDDLEWARE_BUILDERS`` maps a type to ``build(options, next, name) ->
handler``; a ``ValueError`` carries Traefik's error for the middleware (and
its routers). When several types are set Traefik keeps the last one it checks
(ipAllowList, then ipWhiteList, then inFlightConn): :data:`PRECEDENCE`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from edgeway.middlewares.ipstrategy import IPChecker
from edgeway.tcp.conn import TCPConnection, TCPHandler

__all__ = ["PRECEDENCE", "TCP_MIDDLEWARE_BUILDERS"]

log = logging.getLogger("edgeway.tcp")

#: Which type wins when a middleware sets several (pkg/server/middleware/tcp/middlewares.go).
PRECEDENCE = ("ipAllowList", "ipWhiteList", "inFlightConn")


def build_in_flight_conn(options: Any, next_: TCPHandler, name: str) -> TCPHandler:
    """At most ``amount`` simultaneous connections per client IP (0 or unset: none)."""
    limit = options.amount or 0
    connections: dict[str, int] = {}

    async def in_flight_conn(conn: TCPConnection) -> None:
        ip = conn.peer[0]
        if connections.get(ip, 0) >= limit:
            log.error("%s: Connection rejected: max number of connections reached for %s", name, ip)
            conn.close()
            return
        connections[ip] = connections.get(ip, 0) + 1
        try:
            await next_(conn)
        finally:
            left = connections[ip] - 1
            if left > 0:
                connections[ip] = left
            else:
                del connections[ip]

    return in_flight_conn


def _ip_list(kind: str, error: str) -> Callable[[Any, TCPHandler, str], TCPHandler]:
    def build(options: Any, next_: TCPHandler, name: str) -> TCPHandler:
        source_range = list(options.sourceRange or [])
        if not source_range:
            raise ValueError(f"sourceRange is empty, {kind} not created")
        try:
            checker = IPChecker(source_range)
        except ValueError as exc:
            raise ValueError(f"{error} [{' '.join(source_range)}]: {exc}") from None

        async def ip_list(conn: TCPConnection) -> None:
            ip = conn.peer[0]
            try:
                allowed = checker.contains(ip)
            except ValueError:
                allowed = False
            if not allowed:
                log.error("%s: Connection from %s rejected", name, ip)
                conn.close()
                return
            await next_(conn)

        return ip_list

    return build


TCP_MIDDLEWARE_BUILDERS: dict[str, Callable[[Any, TCPHandler, str], TCPHandler]] = {
    "inFlightConn": build_in_flight_conn,
    "ipAllowList": _ip_list("IPAllowLister", "cannot parse CIDRs"),
    "ipWhiteList": _ip_list("IPWhiteLister", "cannot parse CIDR whitelist"),
}
