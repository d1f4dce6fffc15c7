"""The ``loadBalancer`` service: servers behind a balancer, each with its pool.

A plain ``wrr`` balancer (no sticky cookie, no health check) keeps the fast
path: a bare round-robin schedule, or the one server's handler itself. Anything
that needs per-request status goes through the full balancer of its strategy
(Traefik's ``getLoadBalancerServiceHandler``).
"""

from __future__ import annotations

from typing import Any

from edgeway.http.message import Handler
from edgeway.metrics import gated, wrap_optional
from edgeway.pipeline.runtime import ServiceInfo
from edgeway.services import BuildError, ServiceContext
from edgeway.services.balancer import Balancer, NoHealthCheck
from edgeway.services.healthcheck import HealthChecker, uses_tls
from edgeway.services.hrw import HrwBalancer
from edgeway.services.leasttime import LeastTimeBalancer
from edgeway.services.p2c import P2cBalancer
from edgeway.services.passive import PassiveHealthCheck
from edgeway.services.servers import server_handler_for
from edgeway.services.wrr import WeightedRoundRobin, WrrBalancer

STRATEGIES: dict[str, type[Balancer]] = {
    "wrr": WrrBalancer,
    "p2c": P2cBalancer,
    "hrw": HrwBalancer,
    "leasttime": LeastTimeBalancer,
}


def build_load_balancer(info: ServiceInfo, lb: Any, ctx: ServiceContext) -> Handler:
    strategy = lb.strategy or "wrr"  # "" from providers without defaults, as Traefik
    balancer_type = STRATEGIES.get(strategy)
    if balancer_type is None:
        raise BuildError(f'unsupported load-balancer strategy "{strategy}"')
    transport = ctx.transports.resolve(lb.serversTransport, info.provider)
    cookie = lb.sticky.cookie if lb.sticky is not None and balancer_type is not HrwBalancer else None
    hc = lb.healthCheck
    passive_cfg = lb.passiveHealthCheck

    if balancer_type is WrrBalancer and cookie is None and hc is None and passive_cfg is None:
        ctx.status_updaters[info.name] = NoHealthCheck("WRR")
        return _plain(info, lb, transport, ctx)

    balancer = balancer_type(hc is not None, cookie, info.name)
    passive = None
    if passive_cfg is not None:
        passive = PassiveHealthCheck(
            balancer,
            1 if passive_cfg.maxFailedAttempts is None else passive_cfg.maxFailedAttempts,
            passive_cfg.failureWindow or 0.0,
            hc is not None,
        )
    urls: list[str] = []
    for server in lb.servers or []:
        url = server.url or ""
        handler = _server(info, url, lb, server, transport, ctx)
        if passive is not None:
            handler = passive.wrap(handler, url)
        balancer.add(url, handler, server.weight, bool(server.fenced))
        info.server_status[url] = "UP"
        urls.append(url)
    if hc is not None:
        ssl_context = ctx.transports.ssl_context(transport) if uses_tls(hc, urls) else None
        checker = HealthChecker(hc, balancer, info, urls, ssl_context, transport.server_name)
        ctx.add_task(checker.run)
    ctx.status_updaters[info.name] = balancer
    return balancer


def _plain(info: ServiceInfo, lb: Any, transport: Any, ctx: ServiceContext) -> Handler:
    entries: list[tuple[Handler, float]] = []
    for server in lb.servers or []:
        url = server.url or ""
        weight = 0 if server.fenced else 1 if server.weight is None else server.weight  # fenced: no new requests
        entries.append((_server(info, url, lb, server, transport, ctx), weight))
        info.server_status[url] = "UP"
    live = [h for h, w in entries if w > 0]
    if len(live) == 1:
        return live[0]  # nothing to balance: one less hop per request
    return WeightedRoundRobin(entries)


def _server(info: ServiceInfo, url: str, lb: Any, server: Any, transport: Any, ctx: ServiceContext) -> Handler:
    handler = server_handler_for(
        url,
        transport,
        ctx,
        pass_host_header=lb.passHostHeader is not False,
        preserve_path=bool(server.preservePath),
    )
    if ctx.metrics is not None:
        metered = wrap_optional(ctx.metrics.service(info.name), handler)
        handler = gated(metered, handler) if ctx.metrics_gated and metered is not handler else metered
    if ctx.tracing is not None:
        handler = ctx.tracing.server(
            info.name, url, bool(server.preservePath), handler, detailed=ctx.detailed_tracing
        )
    return handler if ctx.access_log is None else ctx.access_log.observe_server(info.name, url, handler)
