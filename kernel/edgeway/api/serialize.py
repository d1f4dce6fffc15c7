"""Runtime objects as Traefik's API writes them (``/api/rawdata`` and the lists).

One place for the JSON shapes, shared by the API and ``edgeway render``.
"""

from __future__ import annotations

from typing import Any

from edgeway.pipeline.runtime import (
    Info,
    MiddlewareInfo,
    RouterInfo,
    RuntimeConfiguration,
    ServiceInfo,
)


def config_json(config: Any) -> dict[str, Any]:
    if config is None:
        return {}
    return config.model_dump(mode="json", exclude_none=True, by_alias=True)


def _common(info: Info, out: dict[str, Any]) -> dict[str, Any]:
    if info.errors:
        out["error"] = list(info.errors)
    out["status"] = info.status
    return out


def router_json(info: RouterInfo) -> dict[str, Any]:
    out = config_json(info.config)
    if info.priority:  # the computed priority, which Traefik writes back into the runtime router
        out["priority"] = info.priority
    _common(info, out)
    if info.using:
        out["using"] = list(info.using)
    return out


def service_json(info: ServiceInfo) -> dict[str, Any]:
    out = config_json(info.config)
    _common(info, out)
    if info.used_by:
        out["usedBy"] = list(info.used_by)
    if info.server_status:
        out["serverStatus"] = dict(info.server_status)
    return out


def middleware_json(info: MiddlewareInfo) -> dict[str, Any]:
    out = config_json(info.config)
    _common(info, out)
    if info.used_by:
        out["usedBy"] = list(info.used_by)
    return out


def rawdata(rt: RuntimeConfiguration) -> dict[str, Any]:
    """``/api/rawdata``: every object by qualified name; empty kinds left out."""
    out: dict[str, Any] = {}
    for key, table, fn in (
        ("routers", rt.routers, router_json),
        ("middlewares", rt.middlewares, middleware_json),
        ("services", rt.services, service_json),
        ("tcpRouters", rt.tcp_routers, router_json),
        ("tcpMiddlewares", rt.tcp_middlewares, middleware_json),
        ("tcpServices", rt.tcp_services, service_json),
        ("udpRouters", rt.udp_routers, router_json),
        ("udpServices", rt.udp_services, service_json),
    ):
        if table:
            out[key] = {name: fn(info) for name, info in sorted(table.items())}  # type: ignore[operator,arg-type]
    return out
