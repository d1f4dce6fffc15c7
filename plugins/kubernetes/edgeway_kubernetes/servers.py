"""Service + EndpointSlices (or ClusterIP, node ports, ExternalName) to server URLs.

The rules of Traefik's ``loadService`` (``pkg/provider/kubernetes/ingress/kubernetes.go``)
and ``loadServers`` (``crd/kubernetes_http.go``), shared by both providers:

* EndpointSlices contribute the port whose *name* equals the Service port's name
  (a slice port without a name, or with port 0, contributes nothing);
* an endpoint with ``conditions.serving == false`` is skipped (unset counts as
  true); a ``terminating`` one becomes a ``fenced`` server (kept for sticky
  sessions only); an address seen before is dropped;
* scheme: an explicit one, else ``https`` for port 443 or a port name starting
  with ``https``, else ``http``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from edgeway_kubernetes.naming import join_host_port
from edgeway_kubernetes.objects import name, namespace, spec, status

__all__ = [
    "ServiceError",
    "endpoint_slice_servers",
    "external_name_server",
    "native_lb_server",
    "node_port_servers",
    "server_scheme",
    "service_port",
]

Obj = Mapping[str, Any]


class ServiceError(ValueError):
    """A Service cannot give servers (headless with native LB, no node address...)."""


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def service_port(service: Obj, number: int = 0, port_name: str = "") -> Obj | None:
    """The Service port a backend names, by number or by (non-empty) name."""
    for port in spec(service).get("ports") or ():
        pname = port.get("name") or ""
        if (number and number == _int(port.get("port"))) or (port_name and port_name == pname):
            return port
    return None


def server_scheme(port: Obj, port_name: str, explicit: str = "") -> str:
    """``getProtocol``: the explicit scheme, else https for 443 / ``https*`` port names."""
    if explicit:
        return explicit
    if _int(port.get("port")) == 443 or port_name.startswith("https"):
        return "https"
    return "http"


def external_name_server(service: Obj, port: Obj, scheme: str) -> dict[str, Any]:
    """The one server of an ExternalName Service: ``scheme://externalName:port``."""
    host = str(spec(service).get("externalName") or "")
    return {"url": f"{scheme}://{join_host_port(host, _int(port.get('port')))}"}


def native_lb_server(service: Obj, port: Obj, scheme: str) -> dict[str, Any]:
    """The one server of native load-balancing: the ClusterIP and the Service port."""
    cluster_ip = str(spec(service).get("clusterIP") or "")
    where = f"{namespace(service)}/{name(service)}"
    if cluster_ip == "None":
        raise ServiceError(f"no clusterIP on headless service: {where}")
    if not cluster_ip:
        raise ServiceError(f"no clusterIP found for service: {where}")
    return {"url": f"{scheme}://{join_host_port(cluster_ip, _int(port.get('port')))}"}


def node_addresses(node: Obj, address_type: str) -> list[str]:
    """A Node's addresses of one type (``InternalIP``, ``ExternalIP``), in order."""
    return [
        str(a.get("address") or "")
        for a in status(node).get("addresses") or ()
        if a.get("type") == address_type
    ]


def node_port_servers(nodes: Iterable[Obj], port: Obj, scheme: str) -> list[dict[str, Any]]:
    """One server per node InternalIP on the port's ``nodePort``, in node order."""
    node_port = _int(port.get("nodePort"))
    return [
        {"url": f"{scheme}://{join_host_port(ip, node_port)}"}
        for node in nodes
        for ip in node_addresses(node, "InternalIP")
    ]


def endpoint_slice_servers(slices: Iterable[Obj], port_name: str, scheme: str) -> list[dict[str, Any]]:
    """Servers from a Service's EndpointSlices for the Service port named ``port_name``."""
    seen: set[str] = set()
    servers: list[dict[str, Any]] = []
    for endpoint_slice in slices:
        port = 0
        for p in endpoint_slice.get("ports") or ():
            if p.get("name") is not None and p.get("name") == port_name:
                port = _int(p.get("port"))
                break
        if port == 0:
            continue
        for endpoint in endpoint_slice.get("endpoints") or ():
            conditions = endpoint.get("conditions") or {}
            if conditions.get("serving") is False:
                continue
            fenced = conditions.get("terminating") is True
            for address in endpoint.get("addresses") or ():
                if address in seen:
                    continue
                seen.add(address)
                server: dict[str, Any] = {"url": f"{scheme}://{join_host_port(address, port)}"}
                if fenced:
                    server["fenced"] = True
                servers.append(server)
    return servers
