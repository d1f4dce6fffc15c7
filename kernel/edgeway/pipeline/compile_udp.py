"""UDP routers and services → the handler of each UDP entry point.

As Traefik (pkg/server/router/udp/router.go, pkg/config/runtime/runtime_udp.go):
a router without ``entryPoints`` is on every UDP entry point; an entry point
serves one router only — of several, every one is built (their errors
recorded), a warning is logged, and the one whose name sorts last among those
that built is used. Services are built once per configuration.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from edgeway.pipeline.runtime import DISABLED, RouterInfo, RuntimeConfiguration, qualify
from edgeway.services import BuildError
from edgeway.udp.entrypoint import UDPHandler
from edgeway.udp.services import UDP_SERVICE_BUILDERS

__all__ = ["compile_udp"]

log = logging.getLogger("edgeway.config")


def compile_udp(rt: RuntimeConfiguration, entrypoints: Sequence[str]) -> dict[str, UDPHandler | None]:
    """The handler of every UDP entry point (None: no usable router)."""
    return _UDPCompiler(rt).run(entrypoints)


class _UDPCompiler:
    def __init__(self, rt: RuntimeConfiguration) -> None:
        self.rt = rt
        self.services: dict[str, UDPHandler] = {}
        self.building: list[str] = []
        self.routers: dict[str, UDPHandler | None] = {}

    def run(self, entrypoints: Sequence[str]) -> dict[str, UDPHandler | None]:
        by_ep: dict[str, list[RouterInfo]] = {ep: [] for ep in entrypoints}
        for info in self.rt.udp_routers.values():
            for ep in info.use_entrypoints(info.config.entryPoints or list(entrypoints), by_ep):
                by_ep[ep].append(info)
        out: dict[str, UDPHandler | None] = {}
        for ep, routers in by_ep.items():
            if len(routers) > 1:
                log.warning("entry point %s: config has more than one udp router for a given entrypoint", ep)
            handlers = [h for info in sorted(routers, key=lambda i: i.name, reverse=True) if (h := self._router(info))]
            out[ep] = handlers[0] if handlers else None
        return out

    def _router(self, info: RouterInfo) -> UDPHandler | None:
        if info.name in self.routers:
            return self.routers[info.name]
        handler: UDPHandler | None = None
        if info.status == DISABLED:
            pass
        elif not info.config.service:
            info.add_error("the service is missing on the udp router", True)
        else:
            try:
                handler = self._service(qualify(info.config.service, info.provider))
            except BuildError as exc:
                info.add_error(str(exc), True)
        self.routers[info.name] = handler
        return handler

    def _service(self, qname: str) -> UDPHandler:
        cached = self.services.get(qname)
        if cached is not None:
            return cached
        info = self.rt.udp_services.get(qname)
        if info is None:
            raise BuildError(f'the UDP service "{qname}" does not exist')
        if qname in self.building:
            err = f"recursion detected in service: {' -> '.join([*self.building, qname])}"
            info.add_error(err, True)
            raise BuildError(err)
        kinds = info.config.kinds()
        if len(kinds) != 1:
            err = (
                "cannot create service: multi-types service not supported, "
                "consider declaring two different pieces of service instead"
                if kinds
                else f'the UDP service "{qname}" does not have any type defined'
            )
            info.add_error(err, True)
            raise BuildError(err)
        self.building.append(qname)
        try:
            handler = UDP_SERVICE_BUILDERS[kinds[0]](info, getattr(info.config, kinds[0]), self._service)
        finally:
            self.building.pop()
        self.services[qname] = handler
        return handler
