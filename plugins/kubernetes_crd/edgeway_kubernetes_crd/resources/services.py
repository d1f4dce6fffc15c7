"""HTTP services: the load-balancer reference of routes, and the TraefikService kind.

Go: ``LoadBalancerSpec``, ``Service`` (ingressroute.go) and ``TraefikServiceSpec``
(service.go), with ``dynamic.Sticky`` and ``dynamic.Cookie``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from edgeway_kubernetes_crd.resources.base import CRDModel, Int64, IntOrString, Pointer
from edgeway_kubernetes_crd.resources.common import MiddlewareRef

__all__ = [
    "Cookie",
    "Failover",
    "FailoverError",
    "HighestRandomWeight",
    "LoadBalancerSpec",
    "MirrorService",
    "Mirroring",
    "PassiveServerHealthCheck",
    "ResponseForwarding",
    "ServerHealthCheck",
    "Service",
    "Sticky",
    "TraefikServiceSpec",
    "WeightedRoundRobin",
]


class Cookie(CRDModel):
    """The sticky-session cookie."""

    name: str | None = None
    """Cookie name (default: derived from the service name)."""
    secure: bool | None = None
    """Send the cookie over HTTPS only."""
    httpOnly: bool | None = None
    """Hide the cookie from client-side scripts."""
    sameSite: Literal["none", "lax", "strict", "None", "Lax", "Strict"] | None = None
    """The cookie's SameSite policy."""
    maxAge: int | None = None
    """Seconds until the cookie expires: negative expires it at once, 0 never."""
    path: Pointer[str] | None = None
    """URL path the cookie is sent for (default: every path)."""
    domain: str | None = None
    """Host the cookie is sent to."""


class Sticky(CRDModel):
    """Sticky sessions: a client keeps talking to the same server."""

    cookie: Pointer[Cookie] | None = None
    """Stickiness through a cookie."""


class ResponseForwarding(CRDModel):
    """How responses are copied back to the client."""

    flushInterval: str | None = None
    """Interval between flushes of the response body to the client (default 100ms; negative: flush after every write)."""


class ServerHealthCheck(CRDModel):
    """Active health check of the servers (for ExternalName services)."""

    scheme: str | None = None
    """Scheme used for the check instead of the server's."""
    mode: str | None = None
    """`http` (default) or `grpc` (the gRPC health-checking protocol)."""
    path: str | None = None
    """Path requested by the check."""
    method: str | None = None
    """HTTP method of the check request."""
    status: int | None = None
    """Expected response status code (default: any 2xx or 3xx)."""
    port: int | None = None
    """Port checked instead of the server's."""
    interval: Pointer[IntOrString] | None = None
    """Time between checks of a healthy server (default 30s)."""
    unhealthyInterval: Pointer[IntOrString] | None = None
    """Time between checks of an unhealthy server (default: `interval`)."""
    timeout: Pointer[IntOrString] | None = None
    """Time after which an unanswered check counts as failed (default 5s)."""
    hostname: str | None = None
    """Host header of the check request."""
    followRedirects: Pointer[bool] | None = None
    """Follow redirects returned to the check (default true)."""
    headers: dict[str, str] | None = None
    """Extra headers sent with the check request."""


class PassiveServerHealthCheck(CRDModel):
    """Passive health check: servers failing real requests are taken out for a while."""

    failureWindow: Pointer[IntOrString] | None = None
    """Window in which the failures are counted, and how long the server then stays out."""
    maxFailedAttempts: Pointer[int] | None = None
    """Consecutive failures within the window that mark the server unhealthy."""


class LoadBalancerSpec(CRDModel):
    """A reference to a Kubernetes Service (load-balancing its endpoints) or a TraefikService."""

    name: str
    """Name of the Kubernetes Service or TraefikService."""
    kind: Literal["Service", "TraefikService"] | None = None
    """What `name` refers to (default: Service)."""
    namespace: str | None = None
    """Namespace of the Service or TraefikService (default: the referring object's namespace)."""
    middlewares: list[MiddlewareRef] | None = None
    """Middlewares applied in front of this service."""
    sticky: Pointer[Sticky] | None = None
    """Sticky sessions between the servers."""
    port: IntOrString | None = None
    """Port of the Kubernetes Service: a number or a port name."""
    scheme: str | None = None
    """Scheme used to reach the servers (default: https for port 443, else http)."""
    strategy: Literal["wrr", "p2c", "hrw", "leasttime", "RoundRobin"] | None = None
    """Load-balancing strategy between the servers (`RoundRobin` is the deprecated name of `wrr`)."""
    passHostHeader: Pointer[bool] | None = None
    """Forward the client's Host header to the servers (default true)."""
    responseForwarding: Pointer[ResponseForwarding] | None = None
    """How responses are copied back to the client."""
    serversTransport: str | None = None
    """Name of the ServersTransport used to reach the servers (Kubernetes Services only)."""
    weight: Pointer[Annotated[int, Field(ge=0)]] | None = None
    """Weight of this service inside a weighted TraefikService."""
    nativeLB: Pointer[bool] | None = None
    """Send to the Service's cluster IP rather than to its endpoints."""
    nodePortLB: bool | None = None
    """For a NodePort Service, send to the nodes' addresses on the node port."""
    healthCheck: Pointer[ServerHealthCheck] | None = None
    """Active health check (ExternalName services)."""
    passiveHealthCheck: Pointer[PassiveServerHealthCheck] | None = None
    """Passive health check (ExternalName services)."""


class Service(LoadBalancerSpec):
    """An upstream HTTP service: a Kubernetes Service or a TraefikService."""


class WeightedRoundRobin(CRDModel):
    """Weighted round robin between services."""

    services: list[Service] | None = None
    """The services and their weights."""
    sticky: Pointer[Sticky] | None = None
    """Sticky sessions between the services."""


class HighestRandomWeight(CRDModel):
    """Highest-random-weight (rendezvous hashing) between services."""

    services: list[Service] | None = None
    """The services and their weights."""


class MirrorService(LoadBalancerSpec):
    """A service receiving a copy of the traffic."""

    percent: int | None = None
    """Share of the requests copied to this mirror (0 to 100)."""


class Mirroring(LoadBalancerSpec):
    """Sends requests to a main service and copies of them to mirrors."""

    mirrorBody: Pointer[bool] | None = None
    """Copy the request body to the mirrors too (default true)."""
    maxBodySize: Pointer[Int64] | None = None
    """Largest body mirrored; larger requests are not mirrored (default -1: no limit)."""
    mirrors: list[MirrorService] | None = None
    """The mirrors."""


class FailoverError(CRDModel):
    """Which responses make a failover service use its fallback."""

    status: list[str] | None = None
    """Status codes or ranges (e.g. `500-599`) that trigger the fallback."""
    maxRequestBodyBytes: Pointer[Int64] | None = None
    """Largest request body kept for replay to the fallback (default -1: no limit)."""


class Failover(CRDModel):
    """A main service with a fallback used when it is down or answers with an error."""

    service: LoadBalancerSpec
    """The main service."""
    fallback: LoadBalancerSpec
    """The service used when the main one fails."""
    errors: FailoverError
    """The errors that trigger the fallback."""


class TraefikServiceSpec(CRDModel):
    """A service built from other services: exactly one of its fields is set."""

    weighted: Pointer[WeightedRoundRobin] | None = None
    """Weighted round robin between services."""
    mirroring: Pointer[Mirroring] | None = None
    """Traffic mirroring."""
    highestRandomWeight: Pointer[HighestRandomWeight] | None = None
    """Highest-random-weight between services."""
    failover: Pointer[Failover] | None = None
    """Failover to a fallback service."""
