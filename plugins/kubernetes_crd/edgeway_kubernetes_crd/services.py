"""The Kubernetes Service lookups of Traefik's ``crd/kubernetes.go``, shared by HTTP, TCP and UDP.

``getServicePort`` (the CRD flavour: a port must be given, and an ExternalName
Service accepts any port number), ``getNativeServiceAddress``, the port of an
EndpointSlice named like the Service port (``loadServers``' and
``loadTCPServers``' filter) and ``IntOrString.String()``. Refusals raise
:class:`~edgeway_kubernetes_crd.references.ReferenceError` with the status
reason; a malformed core object gives nothing instead of a crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edgeway_kubernetes import join_host_port
from edgeway_kubernetes.objects import name, namespace, spec

from edgeway_kubernetes_crd.references import InvalidSpec, ReferenceError

__all__ = [
    "core_int",
    "get_service_port",
    "items",
    "native_service_address",
    "port_string",
    "slice_port",
]

Obj = Mapping[str, Any]


def port_string(port: int | str | None) -> str:
    """``IntOrString.String()``: the name, else the number (``0`` when unset)."""
    return port if isinstance(port, str) else str(port or 0)


def core_int(value: Any) -> int:
    """An integer field of a core object (Service, EndpointSlice): 0 when unset or malformed."""
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def items(value: Any) -> list[Obj]:
    """The objects of a core object's list field (anything else in it is left out)."""
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def get_service_port(service: Obj, port: int | str | None) -> Obj:
    """``getServicePort``: the Service port a reference names, by number or by name.

    An ExternalName Service with no such port still gives ``{"port": number}``
    (a port *number* is required for that).
    """
    if not port:
        raise InvalidSpec("ingressRoute service port not defined")
    svc_spec = spec(service)
    for p in items(svc_spec.get("ports")):
        if isinstance(port, int) and port == core_int(p.get("port")):
            return p
        if isinstance(port, str) and port == (p.get("name") or ""):
            return p
    if svc_spec.get("type") != "ExternalName" or isinstance(port, str):
        raise ReferenceError(f"service port not found: {port_string(port)}", "ServicePortNotFound")
    return {"port": port}


def native_service_address(service: Obj, svc_port: Obj) -> str:
    """``getNativeServiceAddress``: the ClusterIP and the Service port, errors wrapped as the callers do."""
    cluster_ip = str(spec(service).get("clusterIP") or "")
    where = f"{namespace(service)}/{name(service)}"
    if cluster_ip == "None":
        problem = f"no clusterIP on headless service: {where}"
    elif not cluster_ip:
        problem = f"no clusterIP found for service: {where}"
    else:
        return join_host_port(cluster_ip, core_int(svc_port.get("port")))
    raise ReferenceError(f"getting native Kubernetes Service address: {problem}", "NoEndpoints")


def slice_port(endpoint_slice: Obj, port_name: str) -> int:
    """The number of the EndpointSlice's first port named ``port_name`` (0: none, the slice is skipped)."""
    for p in items(endpoint_slice.get("ports")):
        if p.get("name") is not None and p.get("name") == port_name:
            return core_int(p.get("port"))
    return 0
