"""Merging the providers' snapshots into one configuration.

Every object becomes ``name@provider``; objects of different providers never
collide. References inside an object stay as written and are resolved in the
referring object's provider when compiled (see :func:`runtime.qualify`), which
is also how Traefik's API shows them. Routers without entry points get the
default ones (UDP routers excepted, see compile_udp). TLS ``default`` options or store defined by two providers is an
error and neither is used, as in Traefik's aggregator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from edgeway.config.dynamic import Configuration


@dataclass
class Merged:
    """Qualified name -> (provider, object), per kind."""

    routers: dict[str, tuple[str, Any]] = field(default_factory=dict)
    services: dict[str, tuple[str, Any]] = field(default_factory=dict)
    middlewares: dict[str, tuple[str, Any]] = field(default_factory=dict)
    transports: dict[str, tuple[str, Any]] = field(default_factory=dict)
    tcp_routers: dict[str, tuple[str, Any]] = field(default_factory=dict)
    tcp_services: dict[str, tuple[str, Any]] = field(default_factory=dict)
    tcp_middlewares: dict[str, tuple[str, Any]] = field(default_factory=dict)
    tcp_transports: dict[str, tuple[str, Any]] = field(default_factory=dict)
    udp_routers: dict[str, tuple[str, Any]] = field(default_factory=dict)
    udp_services: dict[str, tuple[str, Any]] = field(default_factory=dict)
    tls_certificates: list[tuple[str, Any]] = field(default_factory=list)
    tls_options: dict[str, tuple[str, Any]] = field(default_factory=dict)
    tls_stores: dict[str, tuple[str, Any]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def merge(snapshots: Mapping[str, Configuration], default_entrypoints: Sequence[str]) -> Merged:
    out = Merged()
    defaults = list(default_entrypoints)
    tls_default_owners: dict[str, list[str]] = {"options": [], "stores": []}
    for provider in sorted(snapshots):
        cfg = snapshots[provider]
        if cfg.http is not None:
            for name, router in (cfg.http.routers or {}).items():
                if not router.entryPoints and not router.parentRefs:
                    router = router.model_copy(update={"entryPoints": defaults})
                out.routers[f"{name}@{provider}"] = (provider, router)
            _add(out.services, cfg.http.services, provider)
            _add(out.middlewares, cfg.http.middlewares, provider)
            _add(out.transports, cfg.http.serversTransports, provider)
        if cfg.tcp is not None:
            for name, tcp_router in (cfg.tcp.routers or {}).items():
                if not tcp_router.entryPoints:
                    tcp_router = tcp_router.model_copy(update={"entryPoints": defaults})
                out.tcp_routers[f"{name}@{provider}"] = (provider, tcp_router)
            _add(out.tcp_services, cfg.tcp.services, provider)
            _add(out.tcp_middlewares, cfg.tcp.middlewares, provider)
            _add(out.tcp_transports, cfg.tcp.serversTransports, provider)
        if cfg.udp is not None:
            # UDP routers keep no entryPoints: they are then on every UDP entry point.
            _add(out.udp_routers, cfg.udp.routers, provider)
            _add(out.udp_services, cfg.udp.services, provider)
        if cfg.tls is not None:
            out.tls_certificates.extend((provider, c) for c in cfg.tls.certificates or [])
            for kind, table, target in (
                ("options", cfg.tls.options, out.tls_options),
                ("stores", cfg.tls.stores, out.tls_stores),
            ):
                for name, obj in (table or {}).items():
                    if name == "default":
                        tls_default_owners[kind].append(provider)
                        target["default"] = (provider, obj)
                    else:
                        target[f"{name}@{provider}"] = (provider, obj)
    for kind, owners in tls_default_owners.items():
        if len(owners) > 1:
            target = out.tls_options if kind == "options" else out.tls_stores
            del target["default"]
            out.errors.append(
                f"TLS {kind} 'default' is defined by several providers ({', '.join(owners)}): none of them is used"
            )
    return out


def _add(target: dict[str, tuple[str, Any]], table: Mapping[str, Any] | None, provider: str) -> None:
    for name, obj in (table or {}).items():
        target[f"{name}@{provider}"] = (provider, obj)
