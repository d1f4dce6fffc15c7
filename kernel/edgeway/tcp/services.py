"""TCP services: how each kind of ``tcp.services`` entry becomes a :data:`TCPHandler`
(Traefik's pkg/server/service/tcp/service.go).

``TCP_SERVICE_BUILDERS`` maps a kind to ``build(info, options, ctx) -> handler``,
run when the configuration is applied. As in Traefik, a service's build errors
go to the routers that use it (only "multi-types" and "no type" are recorded
on the service itself); servers are shuffled once per build, and each starts UP.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgeway.pipeline.runtime import qualify
from edgeway.services import BuildError
from edgeway.tcp.conn import TCPConnection, TCPHandler, splice
from edgeway.tcp.dialer import Dialer, DialerManager, split_host_port
from edgeway.tcp.healthcheck import Target, TCPHealthChecker
from edgeway.tcp.wrr import WeightedRoundRobin

if TYPE_CHECKING:
    from edgeway.pipeline.runtime import RuntimeConfiguration, ServiceInfo

__all__ = ["TCP_SERVICE_BUILDERS", "Balancer", "Proxy", "TCPServiceContext"]

log = logging.getLogger("edgeway.tcp")


@dataclass
class TCPServiceContext:
    #: Handler of another TCP service by qualified name (``as_written`` for messages); raises BuildError.
    service: Callable[[str, str], TCPHandler]
    dialers: DialerManager
    add_task: Callable[[Callable[[], Awaitable[None]]], None]
    runtime: RuntimeConfiguration


class Proxy:
    """One server of a load balancer: dial it, then splice (pkg/tcp/proxy.go)."""

    def __init__(self, address: str, dialer: Dialer) -> None:
        self.address = address
        self.dialer = dialer

    async def __call__(self, conn: TCPConnection) -> None:
        try:
            server = await self.dialer.dial(self.address, conn)
        except OSError as exc:
            log.error("Error while dialing backend %s: %s", self.address, exc)
            conn.close()
            return
        await splice(conn, server, self.dialer.termination_delay)


class Balancer(WeightedRoundRobin[TCPHandler]):
    """A TCP service: the next up child serves the connection; none: it is closed."""

    async def __call__(self, conn: TCPConnection) -> None:
        handler = self.next()
        if handler is None:
            conn.close()
            return
        await handler(conn)


def build_load_balancer(info: ServiceInfo, cfg: Any, ctx: TCPServiceContext) -> TCPHandler:
    name = info.name
    if cfg.terminationDelay is not None:
        log.warning(
            "Service %r load balancer uses `TerminationDelay`, but this option is deprecated, "
            "please use ServersTransport configuration instead.", name,
        )
    if cfg.proxyProtocol is not None:
        log.warning(
            "Service %r load balancer uses `ProxyProtocol`, but this option is deprecated, "
            "please use ServersTransport configuration instead.", name,
        )
    balancer = Balancer(cfg.healthCheck is not None)
    targets: dict[str, Target] = {}
    servers = list(cfg.servers or [])
    random.shuffle(servers)
    for server in servers:
        address = server.address or ""
        if split_host_port(address) is None:
            log.error("Failed to split host port %r of service %s", address, name)
            continue
        dialer = ctx.dialers.build(cfg, info.provider, bool(server.tls))
        balancer.add(address, Proxy(address, dialer))
        info.server_status[address] = "UP"
        targets[address] = Target(address, dialer)
    if cfg.healthCheck is not None:
        checker = TCPHealthChecker(cfg.healthCheck, balancer, info, list(targets.values()))
        ctx.add_task(checker.run)
    return balancer


def build_weighted(info: ServiceInfo, cfg: Any, ctx: TCPServiceContext) -> TCPHandler:
    balancer = Balancer(cfg.healthCheck is not None)
    children = list(cfg.services or [])
    random.shuffle(children)
    for child in children:
        child_name = child.name or ""
        handler = ctx.service(qualify(child_name, info.provider), child_name)
        balancer.add(child_name, handler, child.weight)
        if cfg.healthCheck is None:
            continue
        if not isinstance(handler, WeightedRoundRobin):
            raise BuildError(f"child service {child_name} of {info.name} not a healthcheck.StatusUpdater")
        try:
            handler.register_status_updater(lambda up, n=child_name: balancer.set_status(n, up))
        except BuildError as exc:
            raise BuildError(f"cannot register {child_name} as updater for {info.name}: {exc}") from None
    return balancer


TCP_SERVICE_BUILDERS: dict[str, Callable[[ServiceInfo, Any, TCPServiceContext], TCPHandler]] = {
    "loadBalancer": build_load_balancer,
    "weighted": build_weighted,
}
