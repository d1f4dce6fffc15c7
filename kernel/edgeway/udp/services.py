"""UDP services (pkg/server/service/udp/service.go): ``loadBalancer`` over server
addresses and ``weighted`` over other UDP services, both Traefik's weighted round
robin (no health checks for UDP). A session is given one server for its whole life.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from edgeway.pipeline.runtime import qualify
from edgeway.tcp.dialer import split_host_port
from edgeway.tcp.wrr import WeightedRoundRobin
from edgeway.udp.entrypoint import UDPHandler, UDPSession

if TYPE_CHECKING:
    from edgeway.pipeline.runtime import ServiceInfo

__all__ = ["UDP_SERVICE_BUILDERS", "UDPProxy"]

log = logging.getLogger("edgeway.udp")

#: ``service(qualified_name)``: another UDP service's handler; raises BuildError.
ServiceLookup = Callable[[str], UDPHandler]


class _Backend(asyncio.DatagramProtocol):
    """The connected socket towards the server: its datagrams go back to the client."""

    def __init__(self, session: UDPSession) -> None:
        self.session = session

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.session.write(data)

    def error_received(self, exc: Exception) -> None:
        # Go's read on the connected socket fails (e.g. ICMP port unreachable):
        # the copy ends and the session is closed.
        log.debug("UDP server error for %s: %s", self.session.peer, exc)
        self.session.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.session.close()


class UDPProxy:
    """One server: a connected UDP socket per session (pkg/udp/proxy.go)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.host, self.port = split_host_port(address) or ("", 0)

    async def __call__(self, session: UDPSession) -> None:
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Backend(session), remote_addr=(self.host, self.port)
            )
        except OSError as exc:
            log.error("Error while dialing backend %s: %s", self.address, exc)
            session.close()
            return
        try:
            while (datagram := await session.read()) is not None:
                transport.sendto(datagram)
        finally:
            transport.close()
            session.close()


class UDPBalancer(WeightedRoundRobin[UDPHandler]):
    async def __call__(self, session: UDPSession) -> None:
        handler = self.next()
        if handler is None:
            log.error("Error during load balancing: no servers in the pool")
            session.close()
            return
        await handler(session)


def build_load_balancer(info: ServiceInfo, cfg: Any, service: ServiceLookup) -> UDPHandler:
    balancer = UDPBalancer()
    servers = list(cfg.servers or [])
    random.shuffle(servers)
    for server in servers:
        address = server.address or ""
        if split_host_port(address) is None:
            log.error("Failed to split host port %r of UDP service %s", address, info.name)
            continue
        balancer.add(address, UDPProxy(address))
    return balancer


def build_weighted(info: ServiceInfo, cfg: Any, service: ServiceLookup) -> UDPHandler:
    balancer = UDPBalancer()
    children = list(cfg.services or [])
    random.shuffle(children)
    for child in children:
        name = child.name or ""
        balancer.add(name, service(qualify(name, info.provider)), child.weight)
    return balancer


UDP_SERVICE_BUILDERS: dict[str, Callable[[ServiceInfo, Any, ServiceLookup], UDPHandler]] = {
    "loadBalancer": build_load_balancer,
    "weighted": build_weighted,
}
