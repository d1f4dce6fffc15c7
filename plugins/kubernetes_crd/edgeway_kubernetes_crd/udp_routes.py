"""IngressRouteUDPs to UDP routers and services.

``loadIngressRouteUDPConfiguration`` and ``createLoadBalancerServerUDP`` of
Traefik's ``pkg/provider/kubernetes/crd/kubernetes_udp.go`` (``loadUDPServers``
is :func:`~edgeway_kubernetes_crd.l4_servers.load_servers`): router and service
``namespace-<name>-<route index>``; one service is the route's load balancer,
several are ``<route service>-<name>-<port>`` under a weighted round robin
(weight 1 unless given). A service Traefik cannot build is left out; the
router is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edgeway_kubernetes.objects import meta, name, namespace, spec

from edgeway_kubernetes_crd import structs
from edgeway_kubernetes_crd.builder import Builder
from edgeway_kubernetes_crd.l4_servers import (
    load_route_services,
    load_servers,
)
from edgeway_kubernetes_crd.references import (
    ReferenceError,
    make_id,
    namespace_allowed,
)

__all__ = ["load_ingress_route_udps"]

Obj = Mapping[str, Any]


def load_ingress_route_udps(b: Builder) -> None:
    """``loadIngressRouteUDPConfiguration``: every IngressRouteUDP of the provider's class."""
    for route_udp, _ in structs.decoded_objects(
        b, "IngressRouteUDP", structs.INGRESS_ROUTE_UDP_SPEC, routes=True
    ):
        _load_ingress_route_udp(b, route_udp)


def _load_ingress_route_udp(b: Builder, route_udp: Obj) -> None:
    ns = namespace(route_udp)
    route_spec = spec(route_udp)
    ingress_name = name(route_udp) or str(meta(route_udp).get("generateName") or "")
    for i, route in enumerate(route_spec.get("routes") or ()):
        service_name = make_id(ns, f"{ingress_name}-{i}")
        load_route_services(
            b,
            route_udp,
            b.udp["services"],
            service_name,
            [s or {} for s in (route or {}).get("services") or ()],
            lambda service: _create_load_balancer_server_udp(b, ns, service),
        )
        router: dict[str, Any] = {"service": service_name}
        if route_spec.get("entryPoints"):
            router["entryPoints"] = list(route_spec["entryPoints"])
        b.udp["routers"][service_name] = router


def _create_load_balancer_server_udp(b: Builder, parent_ns: str, service: Obj) -> dict[str, Any]:
    """``createLoadBalancerServerUDP``: a ``UDPService`` with a load balancer of the Service's servers."""
    ns = parent_ns
    svc_ns = str(service.get("namespace") or "")
    if svc_ns:
        if not namespace_allowed(b.options.allowCrossNamespace, parent_ns, svc_ns):
            raise ReferenceError(
                f"udp service {svc_ns}/{service.get('name') or ''} is not in the parent resource namespace {ns}",
                "CrossNamespaceForbidden",
            )
        ns = svc_ns
    servers = [{"address": address} for address in load_servers(b, ns, service)]
    return {"loadBalancer": {"servers": servers}}
