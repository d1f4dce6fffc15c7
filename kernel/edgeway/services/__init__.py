"""HTTP services: how each kind of ``http.services`` entry becomes a handler.

``SERVICE_BUILDERS`` maps a service kind (``loadBalancer``, ``weighted``...) to
``build(info, options, ctx) -> Handler``. Builders run when a configuration is
applied; ``ctx.service(name)`` gives the handler of another service (for
services made of services), ``ctx.add_task`` registers background work such as
health checks, which runs while the configuration is live.

Health propagates upwards as in Traefik (``healthcheck.StatusUpdater``): every
service that can report its health registers a :class:`StatusUpdater` under its
qualified name in ``ctx.status_updaters``; a parent with ``healthCheck: {}``
registers a callback there, called with ``True``/``False`` when the child as a
whole goes up or down. The handler itself stays a plain callable, so the
middlewares compiled around a service do not hide it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from edgeway.http.message import Handler

if TYPE_CHECKING:
    from edgeway.metrics import Metrics
    from edgeway.pipeline.runtime import RuntimeConfiguration, ServiceInfo
    from edgeway.services.pools import PoolManager
    from edgeway.services.transports import Transports


class BuildError(Exception):
    """An object cannot be built; the message is what its status shows."""


class StatusUpdater(Protocol):
    def register_status_updater(self, fn: Callable[[bool], None]) -> None:
        """Call ``fn(up)`` when the service as a whole changes status; BuildError if it cannot."""


@dataclass
class ServiceContext:
    #: Handler of another service by qualified name; raises BuildError.
    service: Callable[[str], Handler]
    pools: PoolManager
    transports: Transports
    #: Register background work (e.g. a health checker) for this configuration.
    add_task: Callable[[Callable[[], Awaitable[None]]], None]
    runtime: RuntimeConfiguration
    #: Services able to report their health, by qualified name (see module doc).
    status_updaters: dict[str, StatusUpdater] = field(default_factory=dict)
    #: The access logger (an ``edgeway.accesslog.AccessLogger``): servers record
    #: the service fields its lines show (None: no access log).
    access_log: Any = None
    #: Some router turns metrics off: service meters skip its requests (see ``metrics.gated``).
    metrics_gated: bool = False
    #: Servers make the tracing spans (see :mod:`edgeway.tracing`); None: no tracing.
    tracing: Any = None
    #: Some router has detailed traces: servers make ``Service`` spans too.
    detailed_tracing: bool = False
    #: Prometheus metrics: each server is counted for its service (None: off).
    metrics: Metrics | None = None


ServiceBuilder = Callable[["ServiceInfo", Any, ServiceContext], Handler]


def _builders() -> dict[str, ServiceBuilder]:
    from edgeway.services.failover import build_failover
    from edgeway.services.loadbalancer import build_load_balancer
    from edgeway.services.mirroring import build_mirroring
    from edgeway.services.weighted import build_highest_random_weight, build_weighted

    return {
        "loadBalancer": build_load_balancer,
        "weighted": build_weighted,
        "highestRandomWeight": build_highest_random_weight,
        "mirroring": build_mirroring,
        "failover": build_failover,
    }


SERVICE_BUILDERS: dict[str, ServiceBuilder] = _builders()
