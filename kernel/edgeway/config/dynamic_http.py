"""The ``http`` section: routers, services, servers transports (pkg/config/dynamic/http_config.go).

Defaults are the ones Traefik's ``SetDefaults`` methods set when the struct
is present in the input; a pydantic field default has exactly that effect.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from .durations import Duration
from .dynamic_base import AllowEmpty, StrList, TraefikModel
from .dynamic_middlewares import Middleware
from .dynamic_tls import SAN, Certificate, Domain

__all__ = [
    "Cookie",
    "Failover",
    "FailoverError",
    "ForwardingTimeouts",
    "HRWService",
    "HTTPConfiguration",
    "HealthCheck",
    "HighestRandomWeight",
    "MirrorService",
    "Mirroring",
    "Model",
    "ModelObservabilityConfig",
    "PassiveServerHealthCheck",
    "ResponseForwarding",
    "Router",
    "RouterObservabilityConfig",
    "RouterTLSConfig",
    "Server",
    "ServerHealthCheck",
    "ServersLoadBalancer",
    "ServersTransport",
    "Service",
    "Spiffe",
    "Sticky",
    "WRRService",
    "WeightedRoundRobin",
]

# --------------------------------------------------------------------------- routers


class RouterTLSConfig(TraefikModel):
    """Router TLS; ``tls: {}`` (or ``tls: true``) alone makes the router HTTPS-only."""

    _internal_keys = frozenset({"resolvedoptions"})

    options: str | None = None
    certResolver: str | None = None
    domains: list[Domain] | None = None


class RouterObservabilityConfig(TraefikModel):
    """Per-router switches for access logs, metrics and tracing."""

    _internal_keys = frozenset({"metadata"})  # set by the Kubernetes Ingress provider only

    accessLogs: bool | None = None
    metrics: bool | None = None
    tracing: bool | None = None
    traceVerbosity: str | None = "minimal"


class ModelObservabilityConfig(RouterObservabilityConfig):
    """A model's observability: a plain Go struct, so ``SetDefaults`` never runs on it."""

    traceVerbosity: str | None = None


class Router(TraefikModel):
    """An HTTP router: a rule on entry points sending matches through middlewares to a service."""

    _internal_keys = frozenset({"defaultrule", "deniedencodedpathcharacters"})

    entryPoints: StrList | None = None
    middlewares: StrList | None = None
    service: str | None = None
    rule: str | None = None
    parentRefs: StrList | None = None
    ruleSyntax: str | None = None  # deprecated (v2 rule syntax)
    priority: int | None = None
    tls: Annotated[RouterTLSConfig | None, AllowEmpty] = None
    observability: RouterObservabilityConfig | None = None


class Model(TraefikModel):
    """Router template applied to routers of an entry point (normally built from static config)."""

    _internal_keys = frozenset({"deniedencodedpathcharacters", "defaultrulesyntax"})

    middlewares: StrList | None = None
    tls: Annotated[RouterTLSConfig | None, AllowEmpty] = None
    observability: ModelObservabilityConfig = Field(default_factory=ModelObservabilityConfig)


# --------------------------------------------------------------------------- services


class HealthCheck(TraefikModel):
    """Empty marker: a weighted/mirroring/failover/HRW service propagates child health."""


class Cookie(TraefikModel):
    """Sticky-session cookie; ``path`` defaults to ``/`` (Cookie.SetDefaults)."""

    _internal_keys = frozenset({"expires"})  # ingress-nginx only

    name: str | None = None
    secure: bool | None = None
    httpOnly: bool | None = None
    sameSite: str | None = None
    maxAge: int | None = None
    path: str | None = "/"
    domain: str | None = None


class Sticky(TraefikModel):
    """Sticky sessions; only cookie-based stickiness exists."""

    cookie: Annotated[Cookie | None, AllowEmpty] = None


class Server(TraefikModel):
    """A backend URL. ``weight`` has no ``SetDefaults``: the load balancer treats None as 1."""

    _internal_keys = frozenset({"scheme", "port"})

    url: str | None = None
    weight: int | None = None
    preservePath: bool | None = None
    #: A terminating Kubernetes endpoint: it keeps its sticky sessions, gets no new ones.
    fenced: bool | None = None


class ServerHealthCheck(TraefikModel):
    """Active health check of a load balancer's servers (ServerHealthCheck.SetDefaults)."""

    scheme: str | None = None
    mode: str | None = "http"
    path: str | None = None
    method: str | None = None
    status: int | None = None
    port: int | None = None
    interval: Duration | None = 30.0
    unhealthyInterval: Duration | None = None
    timeout: Duration | None = 5.0
    hostname: str | None = None
    followRedirects: bool | None = True
    headers: dict[str, str] | None = None


class PassiveServerHealthCheck(TraefikModel):
    """Mark a server down after failed requests (PassiveServerHealthCheck.SetDefaults)."""

    failureWindow: Duration | None = 10.0
    maxFailedAttempts: int | None = 1


class ResponseForwarding(TraefikModel):
    """How responses are streamed back; flushed every 100ms by default."""

    flushInterval: Duration | None = 0.1


class ServersLoadBalancer(TraefikModel):
    """Load balancer over servers (ServersLoadBalancer.SetDefaults).

    Traefik's ``SetDefaults`` also creates ``responseForwarding`` with its own
    defaults, so it is present even when the user did not write it.
    """

    _internal_keys = frozenset({"nginxupstreamhashby"})

    sticky: Annotated[Sticky | None, AllowEmpty] = None
    servers: list[Server] | None = None
    strategy: str | None = "wrr"
    healthCheck: ServerHealthCheck | None = None
    passiveHealthCheck: PassiveServerHealthCheck | None = None
    passHostHeader: bool | None = True
    responseForwarding: ResponseForwarding | None = Field(default_factory=ResponseForwarding)
    serversTransport: str | None = None


class WRRService(TraefikModel):
    """A child of a weighted service; weight 1 by default (WRRService.SetDefaults)."""

    _internal_keys = frozenset({"headers", "status", "grpcstatus"})  # Knative / Gateway API

    name: str | None = None
    weight: int | None = 1


class WeightedRoundRobin(TraefikModel):
    """Weighted round robin over services."""

    services: list[WRRService] | None = None
    sticky: Sticky | None = None
    healthCheck: Annotated[HealthCheck | None, AllowEmpty] = None


class HRWService(TraefikModel):
    """A child of a highest-random-weight service; weight 1 by default."""

    name: str | None = None
    weight: int | None = 1


class HighestRandomWeight(TraefikModel):
    """Rendezvous hashing over services (sticky per client IP)."""

    services: list[HRWService] | None = None
    healthCheck: Annotated[HealthCheck | None, AllowEmpty] = None


class MirrorService(TraefikModel):
    """A mirror target and the percentage of requests copied to it."""

    name: str | None = None
    percent: int | None = None


class Mirroring(TraefikModel):
    """Send to ``service`` and copy to mirrors (Mirroring.SetDefaults: body mirrored, no size limit)."""

    service: str | None = None
    mirrorBody: bool | None = True
    maxBodySize: int | None = -1
    mirrors: list[MirrorService] | None = None
    healthCheck: Annotated[HealthCheck | None, AllowEmpty] = None


class FailoverError(TraefikModel):
    """Fail over on these response statuses too (FailoverError.SetDefaults: no body limit)."""

    maxRequestBodyBytes: int | None = -1
    status: StrList | None = None


class Failover(TraefikModel):
    """Use ``fallback`` while ``service`` is down."""

    service: str | None = None
    fallback: str | None = None
    healthCheck: Annotated[HealthCheck | None, AllowEmpty] = None
    errors: FailoverError | None = None


_SERVICE_KINDS = ("loadBalancer", "highestRandomWeight", "weighted", "mirroring", "failover")


class Service(TraefikModel):
    """An HTTP service; exactly one kind must be set, which the kernel checks at runtime."""

    middlewares: StrList | None = None
    loadBalancer: ServersLoadBalancer | None = None
    highestRandomWeight: HighestRandomWeight | None = None
    weighted: WeightedRoundRobin | None = None
    mirroring: Mirroring | None = None
    failover: Failover | None = None

    def kinds(self) -> list[str]:
        """Keys of the service kinds that are set (``middlewares`` is not a kind)."""
        return self._set_fields(_SERVICE_KINDS)


# --------------------------------------------------------------------------- transports


class Spiffe(TraefikModel):
    """SPIFFE identities a backend must present."""

    ids: StrList | None = None
    trustDomain: str | None = None


class ForwardingTimeouts(TraefikModel):
    """Backend timeouts (ForwardingTimeouts.SetDefaults: dial 30s, idle 90s, ping 15s)."""

    _internal_keys = frozenset({"readtimeout", "writetimeout"})  # ingress-nginx only, no JSON key

    dialTimeout: Duration | None = 30.0
    responseHeaderTimeout: Duration | None = None
    idleConnTimeout: Duration | None = 90.0
    readIdleTimeout: Duration | None = None
    pingTimeout: Duration | None = 15.0


class ServersTransport(TraefikModel):
    """How Traefik talks to HTTP backends (TLS, pooling, timeouts).

    It has no ``SetDefaults``: ``maxIdleConnsPerHost: 200`` and default
    timeouts belong to the static ``serversTransport`` (``default@internal``).
    """

    serverName: str | None = None
    insecureSkipVerify: bool | None = None
    rootCAs: StrList | None = None
    certificates: list[Certificate] | None = None
    cipherSuites: StrList | None = None
    minVersion: str | None = None
    maxVersion: str | None = None
    maxIdleConnsPerHost: int | None = None
    forwardingTimeouts: ForwardingTimeouts | None = None
    disableHTTP2: bool | None = None
    peerCertURI: str | None = None  # deprecated, use peerCertSANs
    peerCertSANs: list[SAN] | None = None
    spiffe: Annotated[Spiffe | None, AllowEmpty] = None


# --------------------------------------------------------------------------- section


class HTTPConfiguration(TraefikModel):
    """The ``http`` section."""

    routers: dict[str, Router] | None = None
    services: dict[str, Service] | None = None
    middlewares: dict[str, Middleware] | None = None
    models: dict[str, Model] | None = None
    serversTransports: dict[str, ServersTransport] | None = None
