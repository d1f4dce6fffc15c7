"""Runtime status of every object: what the API, ``render`` and the dashboard show.

Mirrors Traefik's ``pkg/config/runtime``: each router, service and middleware
carries ``status`` (``enabled``, ``warning``, ``disabled``) and its error messages.
A critical error disables that one object; nothing else is affected.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from typing import Any

ENABLED, WARNING, DISABLED = "enabled", "warning", "disabled"


@dataclass
class Info:
    """One object of the merged configuration and how it fared."""

    name: str  # qualified: name@provider
    provider: str
    config: Any
    status: str = ENABLED
    errors: list[str] = field(default_factory=list)

    def add_error(self, message: str, critical: bool) -> None:
        if message in self.errors:
            return
        self.errors.append(message)
        if critical:
            self.status = DISABLED
        elif self.status != DISABLED:
            self.status = WARNING


@dataclass
class RouterInfo(Info):
    using: list[str] = field(default_factory=list)
    priority: int = 0

    def use_entrypoints(self, names: Iterable[str], known: Container[str]) -> list[str]:
        """Traefik's entry-point check of a router: the ``known`` entry points among
        ``names`` join ``using`` (those newly added are returned); an unknown one is
        an error, and no known one at all disables the router."""
        added: list[str] = []
        valid = False
        for ep in names:
            if ep not in known:
                self.add_error(f'entryPoint "{ep}" doesn\'t exist', False)
                continue
            valid = True
            if ep not in self.using:
                self.using.append(ep)
                added.append(ep)
        self.using.sort()
        if not valid:
            self.add_error("no valid entryPoint for this router", True)
        return added


@dataclass
class ServiceInfo(Info):
    used_by: list[str] = field(default_factory=list)
    server_status: dict[str, str] = field(default_factory=dict)


@dataclass
class MiddlewareInfo(Info):
    used_by: list[str] = field(default_factory=list)


@dataclass
class RuntimeConfiguration:
    """Everything one apply produced, keyed by qualified name."""

    routers: dict[str, RouterInfo] = field(default_factory=dict)
    services: dict[str, ServiceInfo] = field(default_factory=dict)
    middlewares: dict[str, MiddlewareInfo] = field(default_factory=dict)
    tcp_routers: dict[str, RouterInfo] = field(default_factory=dict)
    tcp_services: dict[str, ServiceInfo] = field(default_factory=dict)
    tcp_middlewares: dict[str, MiddlewareInfo] = field(default_factory=dict)
    udp_routers: dict[str, RouterInfo] = field(default_factory=dict)
    udp_services: dict[str, ServiceInfo] = field(default_factory=dict)
    #: The merged dynamic configuration the runtime was built from.
    tls: Any = None
    #: Errors not tied to one object (e.g. a TLS "default" defined twice).
    errors: list[str] = field(default_factory=list)

    def tables(self) -> list[dict[str, Any]]:
        return [
            self.routers,
            self.services,
            self.middlewares,
            self.tcp_routers,
            self.tcp_services,
            self.tcp_middlewares,
            self.udp_routers,
            self.udp_services,
        ]

    def any_disabled(self) -> bool:
        return any(i.status == DISABLED for t in self.tables() for i in t.values())

    def populate_used_by(self) -> None:
        """Fill ``usedBy`` of services and middlewares from the routers, sorted as Traefik."""
        for table in (self.services, self.middlewares, self.tcp_services, self.tcp_middlewares, self.udp_services):
            for info in table.values():
                info.used_by = []  # type: ignore[attr-defined]
        for routers, services, middlewares in (
            (self.routers, self.services, self.middlewares),
            (self.tcp_routers, self.tcp_services, self.tcp_middlewares),
            (self.udp_routers, self.udp_services, None),
        ):
            for name, r in routers.items():
                svc = getattr(r.config, "service", None)
                if svc:
                    q = qualify(svc, r.provider)
                    if q in services:
                        services[q].used_by.append(name)
                if middlewares is not None:
                    for m in getattr(r.config, "middlewares", None) or []:
                        q = qualify(m, r.provider)
                        if q in middlewares:
                            middlewares[q].used_by.append(name)
        for table in (self.services, self.middlewares, self.tcp_services, self.tcp_middlewares, self.udp_services):
            for info in table.values():
                info.used_by = sorted(set(info.used_by))  # type: ignore[attr-defined]


def qualify(name: str, provider: str) -> str:
    """``name@provider`` for a reference made inside ``provider``."""
    return name if "@" in name else f"{name}@{provider}"


def split_name(qualified: str) -> tuple[str, str]:
    name, _, provider = qualified.rpartition("@")
    return (name, provider) if name else (qualified, "")
