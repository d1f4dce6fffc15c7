"""``weighted`` (round robin over services) and ``highestRandomWeight`` (rendezvous over services).

Children are named as written in the configuration: that name is what the
sticky cookie hashes and what rendezvous hashing scores, as in Traefik. With
``healthCheck: {}`` a child going down as a whole leaves the rotation.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from edgeway.http.message import Handler
from edgeway.pipeline.runtime import ServiceInfo
from edgeway.services import BuildError, ServiceContext
from edgeway.services.balancer import Balancer
from edgeway.services.children import child_handler, follow_child
from edgeway.services.hrw import HrwBalancer
from edgeway.services.wrr import WrrBalancer


def build_weighted(info: ServiceInfo, cfg: Any, ctx: ServiceContext) -> Handler:
    cookie = cfg.sticky.cookie if cfg.sticky is not None else None
    balancer = WrrBalancer(cfg.healthCheck is not None, cookie, info.name)
    return _fill(balancer, info, cfg, ctx, wrap_errors=True)


def build_highest_random_weight(info: ServiceInfo, cfg: Any, ctx: ServiceContext) -> Handler:
    return _fill(HrwBalancer(cfg.healthCheck is not None), info, cfg, ctx, wrap_errors=False)


def _fill(balancer: Balancer, info: ServiceInfo, cfg: Any, ctx: ServiceContext, *, wrap_errors: bool) -> Balancer:
    for svc in cfg.services or []:
        name = svc.name or ""
        try:
            handler = child_handler(ctx, info, name)
        except BuildError as exc:
            if wrap_errors:  # Traefik's getServiceHandler (weighted only)
                raise BuildError(f'building HTTP service "{name}": {exc}') from None
            raise
        balancer.add(name, handler, svc.weight)
        if cfg.healthCheck is not None:
            follow_child(ctx, info, name, partial(balancer.set_status, name))
    ctx.status_updaters[info.name] = balancer
    return balancer
