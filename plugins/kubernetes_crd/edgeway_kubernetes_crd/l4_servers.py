"""Servers of a TCP or UDP route's Kubernetes Service, as Traefik's CRD provider finds them.

``loadTCPServers`` (``crd/kubernetes_tcp.go``) and ``loadUDPServers``
(``crd/kubernetes_udp.go``) are one function twice, but for the ``tls`` flag a
TCP server carries; here they are :func:`load_servers`, which gives addresses.
With them ``getServicePort`` and ``getNativeServiceAddress`` of
``crd/kubernetes.go`` (the CRD flavour: a port must be given, and an
ExternalName Service accepts any port number), and the ``intstr.IntOrString`` port
of a route's service.

Unlike HTTP (and the Ingress provider), an EndpointSlice endpoint counts only
when ``conditions.ready`` is ``true``; there are no fenced servers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from edgeway_kubernetes import join_host_port
from edgeway_kubernetes.objects import name, namespace, spec
from edgeway_kubernetes.servers import node_addresses

from edgeway_kubernetes_crd.builder import Builder

__all__ = [
    "ServersError",
    "load_route_services",
    "load_servers",
    "port_string",
]

Obj = Mapping[str, Any]


class ServersError(ValueError):
    """No servers for a route's service; ``reason`` is the CamelCase status reason."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def port_string(port: int | str | None) -> str:
    """``IntOrString.String()``: the name, else the number (``0`` when unset)."""
    return port if isinstance(port, str) else str(port or 0)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _items(value: Any) -> list[Mapping[str, Any]]:
    """The objects of a list field (a malformed core object gives nothing instead of a crash)."""
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def get_service_port(service: Obj, port: int | str | None) -> Obj:
    """``getServicePort``: the Service port a route names, by number or by name.

    An ExternalName Service with no such port still gives ``{"port": number}``
    (a port *number* is required for that).
    """
    if not port:
        raise ServersError("ingressRoute service port not defined", "InvalidSpec")
    svc_spec = spec(service)
    for p in _items(svc_spec.get("ports")):
        if isinstance(port, int) and port == _int(p.get("port")):
            return p
        if isinstance(port, str) and port == (p.get("name") or ""):
            return p
    if svc_spec.get("type") != "ExternalName" or isinstance(port, str):
        raise ServersError(f"service port not found: {port_string(port)}", "ServicePortNotFound")
    return {"port": port}


def native_service_address(service: Obj, svc_port: Obj) -> str:
    """``getNativeServiceAddress``: the ClusterIP and the Service port."""
    cluster_ip = str(spec(service).get("clusterIP") or "")
    where = f"{namespace(service)}/{name(service)}"
    if cluster_ip == "None":
        raise ServersError(f"no clusterIP on headless service: {where}", "NoEndpoints")
    if not cluster_ip:
        raise ServersError(f"no clusterIP found for service: {where}", "NoEndpoints")
    return join_host_port(cluster_ip, _int(svc_port.get("port")))


def _endpoint_slice_addresses(slices: list[Obj], port_name: str) -> list[str]:
    """Ready endpoints' addresses on the slice port named like the Service port, first seen kept."""
    seen: set[str] = set()
    addresses: list[str] = []
    for endpoint_slice in slices:
        port = 0
        for p in _items(endpoint_slice.get("ports")):
            if p.get("name") is not None and p.get("name") == port_name:
                port = _int(p.get("port"))
                break
        if port == 0:
            continue
        for endpoint in _items(endpoint_slice.get("endpoints")):
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
    Raises :class:`ServersError` with Traefik's error text.
    """
    svc_name = str(svc.get("name") or "")
    service = b.view.service(ns, svc_name)
    if service is None:
        raise ServersError("service not found", "ServiceNotFound")
    svc_type = spec(service).get("type")
    if svc_type == "ExternalName" and not b.options.allowExternalNameServices:
        raise ServersError(
            f"externalName services not allowed: {ns}/{svc_name}", "ExternalNameForbidden"
        )
    svc_port = get_service_port(service, svc.get("port"))

    if svc_type == "NodePort" and svc.get("nodePortLB"):
        # Traefik names the route's own (possibly empty) namespace in these messages.
        where = f"{svc.get('namespace') or ''}/{svc_name}"
        if b.options.disableClusterScopeResources:
            raise ServersError("nodes lookup is disabled", "NoEndpoints")
        nodes = b.view.nodes()
        if not nodes:
            raise ServersError(f"nodes not found for NodePort service {where}", "NoEndpoints")
        node_port = _int(svc_port.get("nodePort"))
        servers = [
            join_host_port(ip, node_port)
            for node in nodes
            for ip in node_addresses(node, "InternalIP")
        ]
        if not servers:
            raise ServersError(f"no servers were generated for service {where}", "NoEndpoints")
        return servers

    if svc_type == "ExternalName":
        external_name = str(spec(service).get("externalName") or "")
        servers = [join_host_port(external_name, _int(svc_port.get("port")))]
    else:
        native_lb = svc.get("nativeLB")
        if native_lb if native_lb is not None else b.options.nativeLBByDefault:
            try:
                return [native_service_address(service, svc_port)]
            except ServersError as exc:
                raise ServersError(
                    f"getting native Kubernetes Service address: {exc}", exc.reason
                ) from None
        slices = b.view.endpoint_slices(ns, svc_name)
        servers = _endpoint_slice_addresses(slices, str(svc_port.get("name") or ""))

    if not servers and not b.options.allowEmptyServices:
        raise ServersError(f"no servers found for {ns}/{svc_name}", "NoEndpoints")
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
        except ServersError as exc:
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
