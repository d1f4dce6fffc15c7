"""traefik.io/v1alpha1 objects (+ Services, EndpointSlices, Secrets, ConfigMaps, Nodes) to dynamic configuration.

``loadConfigurationFromCRD`` in Traefik's ``pkg/provider/kubernetes/crd/kubernetes.go``,
in its order: TLS stores, IngressRoutes, IngressRouteTCPs, IngressRouteUDPs,
TLS options, the certificates collected on the way, Middlewares,
MiddlewareTCPs, TraefikServices, ServersTransports, ServersTransportTCPs. The
result is the provider's own view in Traefik's JSON encoding (unqualified names,
``omitempty`` fields left out, durations as ``"<n>ns"``): what the provider
emits, what ``edgeway render --provider kubernetescrd`` prints and what the
conformance data compares.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from edgeway_kubernetes_crd import (
    http_routes,
    middlewares,
    tcp_routes,
    tls_config,
    traefik_services,
    transports,
    udp_routes,
)
from edgeway_kubernetes_crd.builder import Builder, ObjectKey, Problem
from edgeway_kubernetes_crd.options import KubernetesCRDOptions
from edgeway_kubernetes_crd.view import CRDView

__all__ = ["Translation", "translate"]

Obj = Mapping[str, Any]


@dataclass
class Translation:
    """The provider's configuration, what went wrong, and which objects it handles."""

    configuration: dict[str, Any]
    errors: list[str] = field(default_factory=list)
    problems: dict[ObjectKey, list[Problem]] = field(default_factory=dict)
    processed: dict[ObjectKey, Obj] = field(default_factory=dict)
    #: Which object wrote each router, service and middleware (see :class:`Builder`).
    owners: dict[str, dict[str, ObjectKey]] = field(default_factory=dict)


def translate(
    source: CRDView | Iterable[Obj], options: KubernetesCRDOptions | None = None
) -> Translation:
    """Translate a view (live) or plain objects (manifests, conformance data)."""
    if isinstance(source, CRDView):
        view = source
    else:
        view = CRDView.from_objects(source, options or KubernetesCRDOptions())
    b = Builder(view, view.options)
    stores = tls_config.build_tls_stores(b)
    http_routes.load_ingress_routes(b)
    tcp_routes.load_ingress_route_tcps(b)
    udp_routes.load_ingress_route_udps(b)
    tls: dict[str, Any] = {}
    options_ = tls_config.build_tls_options(b)
    if options_:
        tls["options"] = options_
    if stores:
        tls["stores"] = stores
    certificates = [b.tls_configs[key] for key in sorted(b.tls_configs)]
    if certificates:
        tls["certificates"] = certificates
    b.conf["tls"] = tls
    middlewares.build_middlewares(b)
    middlewares.build_tcp_middlewares(b)
    traefik_services.build_traefik_services(b)
    transports.build_servers_transports(b)
    transports.build_servers_transports_tcp(b)
    return Translation(b.conf, b.errors, b.problems, b.processed, b.owners)
