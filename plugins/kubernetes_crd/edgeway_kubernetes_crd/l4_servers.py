"""Servers of a TCP or UDP route's Kubernetes Service, as Traefik's CRD provider finds them.

``loadTCPServers`` (``crd/kubernetes_tcp.go``) and ``loadUDPServers``
(``crd/kubernetes_udp.go``) are one function twice, but for the ``tls`` flag a
TCP server carries; here they are :func:`load_servers`, which gives addresses
(the Service lookups they share with HTTP are in
:mod:`~edgeway_kubernetes_crd.services`). :func:`load_route_services` is the
service loop both route kinds share.

Unlike HTTP (and the Ingress provider), an EndpointSlice endpoint counts only
when ``conditions.ready`` is ``true``; there are no fenced servers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from edgeway_kubernetes import join_host_port
from edgeway_kubernetes.objects import spec
from edgeway_kubernetes.servers import node_addresses

from edgeway_kubernetes_crd.builder import Builder
from edgeway_kubernetes_crd.references import ReferenceError
from edgeway_kubernetes_crd.services import (
    core_int,
    get_service_port,
    items,
    native_service_address,
    port_string,
    slice_port,
)

__all__ = [
    "load_route_services",
    "load_servers",
]

Obj = Mapping[str, Any]


def _endpoint_slice_addresses(slices: list[Obj], port_name: str) -> list[str]:
    """Ready endpoints' addresses on the slice port named like the Service port, first seen kept."""
    seen: set[str] = set()
    addresses: list[str] = []
    for endpoint_slice in slices:
        port = slice_port(endpoint_slice, port_name)
        if port == 0:
            continue
        for endpoint in items(endpoint_slice.get("endpoints")):
            conditions = endpoint.get("conditions")
            if not isinstance(conditions, Mapping) or conditions.get("ready") is not True:
                continue
            addresses_ = endpoint.get("addresses")
            for address in addresses_ if isinstance(addresses_, list) else ():
                if not isinstance(address, str) or address in seen:
                    continue
                seen.add(address)
                addresses.append(join_host_port(address, port))
    return addresses


def load_servers(b: Builder, ns: str, svc: Obj) -> list[str]:
    """``loadTCPServers``/``loadUDPServers``: the server addresses of a route's service in ``ns``.

    ``svc`` is the route's (type-checked) ``ServiceTCP``/``ServiceUDP``.
    Raises :class:`ReferenceError` with Traefik's error text.
    """
    svc_name = str(svc.get("name") or "")
    service = b.view.service(ns, svc_name)
    if service is None:
        raise ReferenceError("service not found", "ServiceNotFound")
    svc_type = spec(service).get("type")
    if svc_type == "ExternalName" and not b.options.allowExternalNameServices:
        raise ReferenceError(
            f"externalName services not allowed: {ns}/{svc_name}", "ExternalNameForbidden"
        )
    svc_port = get_service_port(service, svc.get("port"))

    if svc_type == "NodePort" and svc.get("nodePortLB"):
        # Traefik names the route's own (possibly empty) namespace in these messages.
        where = f"{svc.get('namespace') or ''}/{svc_name}"
        if b.options.disableClusterScopeResources:
            raise ReferenceError("nodes lookup is disabled", "NoEndpoints")
        nodes = b.view.nodes()
        if not nodes:
            raise ReferenceError(f"nodes not found for NodePort service {where}", "NoEndpoints")
        node_port = core_int(svc_port.get("nodePort"))
        servers = [
            join_host_port(ip, node_port)
            for node in nodes
            for ip in node_addresses(node, "InternalIP")
        ]
        if not servers:
            raise ReferenceError(f"no servers were generated for service {where}", "NoEndpoints")
        return servers

    if svc_type == "ExternalName":
        external_name = str(spec(service).get("externalName") or "")
        servers = [join_host_port(external_name, core_int(svc_port.get("port")))]
    else:
        native_lb = svc.get("nativeLB")
        if native_lb if native_lb is not None else b.options.nativeLBByDefault:
            return [native_service_address(service, svc_port)]
        slices = b.view.endpoint_slices(ns, svc_name)
        servers = _endpoint_slice_addresses(slices, str(svc_port.get("name") or ""))

    if not servers and not b.options.allowEmptyServices:
        raise ReferenceError(f"no servers found for {ns}/{svc_name}", "NoEndpoints")
    return servers


def load_route_services(
    b: Builder,
    route_obj: Obj,
    conf_services: dict[str, Any],
    service_name: str,
    services: Sequence[Obj],
    create: Callable[[Obj], dict[str, Any]],
) -> None:
    """The service loop of ``loadIngressRouteTCPConfiguration``/``loadIngressRouteUDPConfiguration``.

    ``create`` is ``createLoadBalancerServerTCP``/``UDP``. One service: the
    route's service is its load balancer. Several: each is
    ``<service_name>-<name>-<port>`` and ``service_name`` a weighted round robin
    over them (weight 1 unless given). A service that cannot be built is left out.
    """
    for service in services:
        try:
            balancer = create(service)
        except ReferenceError as exc:
            svc = f"{service.get('name') or ''} (port {port_string(service.get('port'))})"
            b.fail(route_obj, exc.reason, f"Cannot create service {svc}: {exc}")
            continue
        if len(services) == 1:
            conf_services[service_name] = balancer
            break
        service_key = (
            f"{service_name}-{service.get('name') or ''}-{port_string(service.get('port'))}"
        )
        conf_services[service_key] = balancer
        top = conf_services.setdefault(service_name, {"weighted": {}})
        if "weighted" not in top:
            # An earlier route of the same name made it a load balancer: Traefik panics here.
            b.fail(route_obj, "InvalidSpec", f"service {service_name} is defined twice")
            continue
        weight = service.get("weight")
        top["weighted"].setdefault("services", []).append(
            {"name": service_key, "weight": 1 if weight is None else weight}
        )
