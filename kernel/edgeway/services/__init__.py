"""HTTP services: how each kind of ``http.services`` entry becomes a handler.

``SERVICE_BUILDERS`` maps a service kind (``loadBalancer``, ``weighted``...) to
``build(info, options, ctx) -> Handler``. Builders run when a configuration is
applied; ``ctx.service(name)`` gives the handler of another service (for
services made of services), ``ctx.add_task`` registers background work such as
health checks, which runs while the configuration is live.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgeway.http.message import Handler

if TYPE_CHECKING:
    from edgeway.pipeline.runtime import RuntimeConfiguration, ServiceInfo
    from edgeway.services.pools import PoolManager
    from edgeway.services.transports import Transports


class BuildError(Exception):
    """An object cannot be built; the message is what its status shows."""


@dataclass
class ServiceContext:
    #: Handler of another service by qualified name; raises BuildError.
    service: Callable[[str], Handler]
    pools: PoolManager
    transports: Transports
    #: Register background work (e.g. a health checker) for this configuration.
    add_task: Callable[[Callable[[], Awaitable[None]]], None]
    runtime: RuntimeConfiguration


ServiceBuilder = Callable[["ServiceInfo", Any, ServiceContext], Handler]


def _builders() -> dict[str, ServiceBuilder]:
    from edgeway.services.loadbalancer import build_load_balancer

    return {"loadBalancer": build_load_balancer}


SERVICE_BUILDERS: dict[str, ServiceBuilder] = _builders()
