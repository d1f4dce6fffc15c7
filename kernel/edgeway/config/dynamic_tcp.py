"""The ``tcp`` section (pkg/config/dynamic/tcp_config.go, tcp_middlewares.go)."""

from __future__ import annotations

from typing import Annotated

from .durations import Duration
from .dynamic_base import AllowEmpty, StrList, TraefikModel
from .dynamic_http import HealthCheck, Spiffe
from .dynamic_tls import SAN, Certificate, Domain

__all__ = [
    "ProxyProtocol",
    "RouterTCPTLSConfig",
    "TCPConfiguration",
    "TCPIPAllowList",
    "TCPIPWhiteList",
    "TCPInFlightConn",
    "TCPMiddleware",
    "TCPRouter",
    "TCPServer",
    "TCPServerHealthCheck",
    "TCPServersLoadBalancer",
    "TCPServersTransport",
    "TCPService",
    "TCPWRRService",
    "TCPWeightedRoundRobin",
    "TLSClientConfig",
]

# --------------------------------------------------------------------------- routers


class RouterTCPTLSConfig(TraefikModel):
    """TCP router TLS: terminate with ``options``/``certResolver``, or pass through."""

    passthrough: bool | None = None
    options: str | None = None
    certResolver: str | None = None
    domains: list[Domain] | None = None


class TCPRouter(TraefikModel):
    """A TCP router: an SNI/ClientIP/ALPN rule on entry points to a service."""

    entryPoints: StrList | None = None
    middlewares: StrList | None = None
    service: str | None = None
    rule: str | None = None
    ruleSyntax: str | None = None  # deprecated (v2 rule syntax)
    priority: int | None = None
    tls: Annotated[RouterTCPTLSConfig | None, AllowEmpty] = None


# --------------------------------------------------------------------------- services


class ProxyProtocol(TraefikModel):
    """Send a PROXY protocol header to the backend (ProxyProtocol.SetDefaults: version 2)."""

    version: int | None = 2


class TCPServer(TraefikModel):
    """A backend ``host:port``; ``tls`` dials it with TLS."""

    _internal_keys = frozenset({"port"})  # provider-internal, no JSON key

    address: str | None = None
    tls: bool | None = None


class TCPServerHealthCheck(TraefikModel):
    """Active TCP health check (TCPServerHealthCheck.SetDefaults: every 30s, 5s timeout)."""

    port: int | None = None
    send: str | None = None
    expect: str | None = None
    interval: Duration | None = 30.0
    unhealthyInterval: Duration | None = None
    timeout: Duration | None = 5.0


class TCPServersLoadBalancer(TraefikModel):
    """Round robin over TCP servers; ``proxyProtocol``/``terminationDelay`` are deprecated here."""

    servers: list[TCPServer] | None = None
    serversTransport: str | None = None
    proxyProtocol: Annotated[ProxyProtocol | None, AllowEmpty] = None
    terminationDelay: int | None = None  # milliseconds
    healthCheck: Annotated[TCPServerHealthCheck | None, AllowEmpty] = None


class TCPWRRService(TraefikModel):
    """A child of a weighted TCP service; weight 1 by default (TCPWRRService.SetDefaults)."""

    name: str | None = None
    weight: int | None = 1


class TCPWeightedRoundRobin(TraefikModel):
    """Weighted round robin over TCP services."""

    services: list[TCPWRRService] | None = None
    healthCheck: Annotated[HealthCheck | None, AllowEmpty] = None


_TCP_SERVICE_KINDS = ("loadBalancer", "weighted")


class TCPService(TraefikModel):
    """A TCP service; exactly one kind must be set, which the kernel checks at runtime."""

    loadBalancer: TCPServersLoadBalancer | None = None
    weighted: TCPWeightedRoundRobin | None = None

    def kinds(self) -> list[str]:
        """Keys of the service kinds that are set."""
        return self._set_fields(_TCP_SERVICE_KINDS)


# --------------------------------------------------------------------------- middlewares


class TCPInFlightConn(TraefikModel):
    """Limit simultaneous connections per client IP."""

    amount: int | None = None


class TCPIPAllowList(TraefikModel):
    """Accept connections only from ``sourceRange``."""

    sourceRange: StrList | None = None


class TCPIPWhiteList(TraefikModel):
    """Deprecated name of :class:`TCPIPAllowList`."""

    sourceRange: StrList | None = None


_TCP_MIDDLEWARE_KINDS = ("inFlightConn", "ipWhiteList", "ipAllowList")


class TCPMiddleware(TraefikModel):
    """A TCP middleware; exactly one type must be set, which the kernel checks at runtime."""

    inFlightConn: TCPInFlightConn | None = None
    ipWhiteList: TCPIPWhiteList | None = None  # deprecated, use ipAllowList
    ipAllowList: TCPIPAllowList | None = None

    def kinds(self) -> list[str]:
        """Keys of the middleware types that are set."""
        return self._set_fields(_TCP_MIDDLEWARE_KINDS)


# --------------------------------------------------------------------------- transports


class TLSClientConfig(TraefikModel):
    """TLS towards TCP backends."""

    serverName: str | None = None
    insecureSkipVerify: bool | None = None
    rootCAs: StrList | None = None
    certificates: list[Certificate] | None = None
    peerCertURI: str | None = None  # deprecated, use peerCertSANs
    peerCertSANs: list[SAN] | None = None
    spiffe: Annotated[Spiffe | None, AllowEmpty] = None


class TCPServersTransport(TraefikModel):
    """How Traefik dials TCP backends (TCPServersTransport.SetDefaults: 30s dial, 15s keep-alive, 100ms termination)."""

    dialKeepAlive: Duration | None = 15.0
    dialTimeout: Duration | None = 30.0
    proxyProtocol: Annotated[ProxyProtocol | None, AllowEmpty] = None
    terminationDelay: Duration | None = 0.1
    tls: Annotated[TLSClientConfig | None, AllowEmpty] = None


# --------------------------------------------------------------------------- section


class TCPConfiguration(TraefikModel):
    """The ``tcp`` section."""

    _internal_keys = frozenset({"models"})  # built from static entry-point config only

    routers: dict[str, TCPRouter] | None = None
    services: dict[str, TCPService] | None = None
    middlewares: dict[str, TCPMiddleware] | None = None
    serversTransports: dict[str, TCPServersTransport] | None = None
