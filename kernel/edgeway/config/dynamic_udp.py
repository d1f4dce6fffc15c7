"""The ``udp`` section (pkg/config/dynamic/udp_config.go)."""

from __future__ import annotations

from .dynamic_base import StrList, TraefikModel

__all__ = [
    "UDPConfiguration",
    "UDPRouter",
    "UDPServer",
    "UDPServersLoadBalancer",
    "UDPService",
    "UDPWRRService",
    "UDPWeightedRoundRobin",
]


class UDPRouter(TraefikModel):
    """A UDP router: every datagram of its entry points goes to its service."""

    entryPoints: StrList | None = None
    service: str | None = None


class UDPServer(TraefikModel):
    """A backend ``host:port``."""

    _internal_keys = frozenset({"port"})  # provider-internal

    address: str | None = None


class UDPServersLoadBalancer(TraefikModel):
    """Round robin over UDP servers."""

    servers: list[UDPServer] | None = None


class UDPWRRService(TraefikModel):
    """A child of a weighted UDP service; weight 1 by default (UDPWRRService.SetDefaults)."""

    name: str | None = None
    weight: int | None = 1


class UDPWeightedRoundRobin(TraefikModel):
    """Weighted round robin over UDP services."""

    services: list[UDPWRRService] | None = None


_UDP_SERVICE_KINDS = ("loadBalancer", "weighted")


class UDPService(TraefikModel):
    """A UDP service; exactly one kind must be set, which the kernel checks at runtime."""

    loadBalancer: UDPServersLoadBalancer | None = None
    weighted: UDPWeightedRoundRobin | None = None

    def kinds(self) -> list[str]:
        """Keys of the service kinds that are set."""
        return self._set_fields(_UDP_SERVICE_KINDS)


class UDPConfiguration(TraefikModel):
    """The ``udp`` section."""

    routers: dict[str, UDPRouter] | None = None
    services: dict[str, UDPService] | None = None
