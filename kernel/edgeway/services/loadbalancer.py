"""The ``loadBalancer`` service: servers behind a balancer, each with its pool."""

from __future__ import annotations

from typing import Any

from edgeway.http.message import Handler
from edgeway.pipeline.runtime import ServiceInfo
from edgeway.services import BuildError, ServiceContext
from edgeway.services.servers import server_handler_for
from edgeway.services.wrr import WeightedRoundRobin


def build_load_balancer(info: ServiceInfo, lb: Any, ctx: ServiceContext) -> Handler:
    for option in ("sticky", "healthCheck", "passiveHealthCheck"):
        if getattr(lb, option, None) is not None:
            raise BuildError(f"loadBalancer.{option} is not supported by this version of edgeway yet")
    if (lb.strategy or "wrr") != "wrr":
        raise BuildError(f'load-balancer strategy "{lb.strategy}" is not supported by this version of edgeway yet')
    transport = ctx.transports.resolve(lb.serversTransport, info.provider)
    entries: list[tuple[Handler, int]] = []
    for server in lb.servers or []:
        url = server.url or ""
        handler = server_handler_for(
            url,
            transport,
            ctx,
            pass_host_header=lb.passHostHeader is not False,
            preserve_path=bool(server.preservePath),
        )
        entries.append((handler, 1 if server.weight is None else server.weight))
        info.server_status[url] = "UP"
    live = [h for h, w in entries if w > 0]
    if len(live) == 1:
        return live[0]  # nothing to balance: one less hop per request
    return WeightedRoundRobin(entries)
