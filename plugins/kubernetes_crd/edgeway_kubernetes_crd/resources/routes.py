"""The router kinds: IngressRoute (HTTP), IngressRouteTCP and IngressRouteUDP.

Go: ingressroute.go, ingressroutetcp.go, ingressrouteudp.go.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from edgeway_kubernetes_crd.resources.base import CRDModel, IntOrString, Pointer
from edgeway_kubernetes_crd.resources.common import (
    Domain,
    IngressRouteRef,
    MiddlewareRef,
    ObjectReference,
    ProxyProtocol,
    TLSOptionRef,
    TLSStoreRef,
)
from edgeway_kubernetes_crd.resources.services import Service

__all__ = [
    "TLS",
    "TLSTCP",
    "IngressRouteSpec",
    "IngressRouteTCPSpec",
    "IngressRouteUDPSpec",
    "Route",
    "RouteTCP",
    "RouteUDP",
    "RouterObservabilityConfig",
    "ServiceTCP",
    "ServiceUDP",
]

#: Go's ``+kubebuilder:validation:Maximum`` on route priorities.
MAX_PRIORITY = 9223372036854774807


class RouterObservabilityConfig(CRDModel):
    """Per-router switches for access logs, metrics and tracing."""

    accessLogs: Pointer[bool] | None = None
    """Write access logs for this router."""
    metrics: Pointer[bool] | None = None
    """Record metrics for this router."""
    tracing: Pointer[bool] | None = None
    """Trace requests of this router."""
    traceVerbosity: Literal["minimal", "detailed"] = "minimal"
    """How much detail the traces of this router carry."""


class TLS(CRDModel):
    """TLS termination of an IngressRoute's routers."""

    secretName: str | None = None
    """Secret holding the certificate and key."""
    options: Pointer[TLSOptionRef] | None = None
    """The TLSOption applied (default: the `default` TLSOption)."""
    store: Pointer[TLSStoreRef] | None = None
    """The TLSStore the certificate goes to (only `default` is supported)."""
    certResolver: str | None = None
    """Certificate resolver (from the static configuration) that obtains the certificates."""
    domains: list[Domain] | None = None
    """Domains the certificate resolver obtains certificates for."""


class Route(CRDModel):
    """An HTTP route: a rule, and the middlewares and services of the requests it matches."""

    match: str
    """The rule, e.g. Host(`example.com`) && PathPrefix(`/api`)."""
    kind: Literal["Rule"] | None = None
    """Always `Rule` (the default)."""
    priority: Annotated[int, Field(le=MAX_PRIORITY)] | None = None
    """Router priority (default: the length of the rule)."""
    syntax: str | None = None
    """Rule syntax (deprecated: write rules in the v3 syntax)."""
    services: list[Service] | None = None
    """Services the requests are sent to: Kubernetes Services and/or TraefikServices."""
    middlewares: list[MiddlewareRef] | None = None
    """Middlewares applied to the requests, in order."""
    observability: Pointer[RouterObservabilityConfig] | None = None
    """Access logs, metrics and tracing of this router."""


class IngressRouteSpec(CRDModel):
    """HTTP routers: rules matched against requests and where they go."""

    ingressClassName: Pointer[str] | None = None
    """Name of the IngressClass this object belongs to."""
    entryPoints: list[str] | None = None
    """Entry points (from the static configuration) the routes listen on (default: all)."""
    routes: list[Route]
    """The routes."""
    tls: Pointer[TLS] | None = None
    """TLS termination of the routers."""
    parentRefs: list[IngressRouteRef] | None = None
    """Parent IngressRoutes whose routers this one's become children of (multi-layer routing)."""


class TLSTCP(CRDModel):
    """TLS of an IngressRouteTCP's routers: terminated, or passed through."""

    secretName: str | None = None
    """Secret holding the certificate and key."""
    passthrough: bool | None = None
    """Pass the TLS connection to the servers as it is (no termination)."""
    options: Pointer[ObjectReference] | None = None
    """The TLSOption applied (default: the `default` TLSOption)."""
    store: Pointer[ObjectReference] | None = None
    """The TLSStore the certificate goes to (only `default` is supported)."""
    certResolver: str | None = None
    """Certificate resolver (from the static configuration) that obtains the certificates."""
    domains: list[Domain] | None = None
    """Domains the certificate resolver obtains certificates for."""


class ServiceTCP(CRDModel):
    """An upstream TCP service: a port of a Kubernetes Service."""

    name: str
    """Name of the Kubernetes Service."""
    namespace: str | None = None
    """Namespace of the Service (default: the IngressRouteTCP's namespace)."""
    port: IntOrString
    """Port of the Service: a number or a port name."""
    weight: Pointer[Annotated[int, Field(ge=0)]] | None = None
    """Weight of this service among the route's services."""
    terminationDelay: Pointer[int] | None = None
    """Milliseconds to wait, once a side closed its writes, before closing the other (deprecated: use a ServersTransportTCP)."""
    proxyProtocol: Pointer[ProxyProtocol] | None = None
    """PROXY protocol sent to the servers (deprecated: use a ServersTransportTCP)."""
    serversTransport: str | None = None
    """Name of the ServersTransportTCP used to reach the servers."""
    tls: bool | None = None
    """Connect to the servers over TLS."""
    nativeLB: Pointer[bool] | None = None
    """Send to the Service's cluster IP rather than to its endpoints."""
    nodePortLB: bool | None = None
    """For a NodePort Service, send to the nodes' addresses on the node port."""


class RouteTCP(CRDModel):
    """A TCP route: a rule, and the middlewares and services of the connections it matches."""

    match: str
    """The rule, e.g. HostSNI(`example.com`)."""
    priority: Annotated[int, Field(le=MAX_PRIORITY)] | None = None
    """Router priority (default: the length of the rule)."""
    syntax: Literal["v3", "v2"] | None = None
    """Rule syntax (deprecated: write rules in the v3 syntax)."""
    services: list[ServiceTCP] | None = None
    """Services the connections are sent to."""
    middlewares: list[ObjectReference] | None = None
    """MiddlewareTCPs applied to the connections, in order."""


class IngressRouteTCPSpec(CRDModel):
    """TCP routers: rules matched against connections and where they go."""

    ingressClassName: Pointer[str] | None = None
    """Name of the IngressClass this object belongs to."""
    entryPoints: list[str] | None = None
    """Entry points (from the static configuration) the routes listen on (default: all)."""
    routes: list[RouteTCP]
    """The routes."""
    tls: Pointer[TLSTCP] | None = None
    """TLS of the routers."""


class ServiceUDP(CRDModel):
    """An upstream UDP service: a port of a Kubernetes Service."""

    name: str
    """Name of the Kubernetes Service."""
    namespace: str | None = None
    """Namespace of the Service (default: the IngressRouteUDP's namespace)."""
    port: IntOrString
    """Port of the Service: a number or a port name."""
    weight: Pointer[Annotated[int, Field(ge=0)]] | None = None
    """Weight of this service among the route's services."""
    nativeLB: Pointer[bool] | None = None
    """Send to the Service's cluster IP rather than to its endpoints."""
    nodePortLB: bool | None = None
    """For a NodePort Service, send to the nodes' addresses on the node port."""


class RouteUDP(CRDModel):
    """A UDP route: the services the datagrams go to."""

    services: list[ServiceUDP] | None = None
    """Services the datagrams are sent to."""


class IngressRouteUDPSpec(CRDModel):
    """UDP routers: where the datagrams of entry points go."""

    ingressClassName: Pointer[str] | None = None
    """Name of the IngressClass this object belongs to."""
    entryPoints: list[str] | None = None
    """Entry points (from the static configuration) the routes listen on (default: all)."""
    routes: list[RouteUDP]
    """The routes."""
