"""What the provider writes into ``status.loadBalancer.ingress`` of the Ingresses it serves.

``updateIngressStatus`` in Traefik's ``pkg/provider/kubernetes/ingress/kubernetes.go``
as pure functions: the live status writer computes the list here, compares it
with the Ingress's current status (:func:`load_balancer_equal`, Traefik's
``isLoadBalancerIngressEquals``) and updates the ``status`` subresource when
they differ. ``None`` means "write nothing".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from edgeway_kubernetes.objects import spec, status
from edgeway_kubernetes.servers import node_addresses

from edgeway_kubernetes_ingress.options import KubernetesIngressOptions
from edgeway_kubernetes_ingress.view import IngressView

__all__ = ["StatusError", "ingress_status", "load_balancer_equal", "node_internal_ip_status"]

Obj = Mapping[str, Any]
LoadBalancerIngress = dict[str, Any]


class StatusError(ValueError):
    """The status cannot be computed (the published Service is missing...)."""


def node_internal_ip_status(nodes: Sequence[Obj]) -> list[LoadBalancerIngress]:
    """``reportNodeInternalIPs``: one entry per node InternalIP, in node order."""
    return [{"ip": ip} for node in nodes for ip in node_addresses(node, "InternalIP")]


def _ports(service: Obj, field: str) -> list[dict[str, Any]]:
    return [
        {"port": int(p.get(field) or 0), "protocol": str(p.get("protocol") or "")}
        for p in spec(service).get("ports") or ()
    ]


def _entry(ip: str = "", hostname: str = "", ports: list[dict[str, Any]] | None = None) -> LoadBalancerIngress:
    out: LoadBalancerIngress = {}
    if ip:
        out["ip"] = ip
    if hostname:
        out["hostname"] = hostname
    if ports:
        out["ports"] = ports
    return out


def ingress_status(
    view: IngressView, node_status: Sequence[LoadBalancerIngress] = ()
) -> list[LoadBalancerIngress] | None:
    """The ``status.loadBalancer.ingress`` list for every served Ingress, or None.

    ``node_status`` is :func:`node_internal_ip_status` when ``reportNodeInternalIPs``
    is on. Raises :class:`StatusError` with Traefik's messages.
    """
    options: KubernetesIngressOptions = view.options
    if node_status:
        return list(node_status)
    endpoint = options.ingressEndpoint
    if endpoint is None:
        return None
    if not endpoint.publishedService:
        if not endpoint.ip and not endpoint.hostname:
            raise StatusError("publishedService or ip or hostname must be defined")
        return [_entry(endpoint.ip, endpoint.hostname)]
    parts = endpoint.publishedService.split("/")
    if len(parts) != 2:
        raise StatusError(
            f"invalid publishedService format (expected 'namespace/service' format): {endpoint.publishedService}"
        )
    service = view.service(parts[0], parts[1])
    if service is None:
        raise StatusError(f"missing service: {endpoint.publishedService}")
    svc_type = spec(service).get("type") or ""
    if svc_type == "LoadBalancer":
        current = (status(service).get("loadBalancer") or {}).get("ingress")
        if current is None:
            return None  # the Service has no load-balancer status yet
        return [
            _entry(
                str(lb.get("ip") or ""),
                str(lb.get("hostname") or ""),
                [
                    {k: v for k, v in (("port", p.get("port") or 0), ("protocol", p.get("protocol") or ""), ("error", p.get("error"))) if v is not None}
                    for p in lb.get("ports") or ()
                ],
            )
            for lb in current
        ]
    if svc_type == "ClusterIP":
        ports = _ports(service, "port")
        return [_entry(str(ip), ports=ports) for ip in spec(service).get("externalIPs") or ()]
    if svc_type == "NodePort":
        if options.disableClusterScopeResources:
            raise StatusError("node port service type is not supported when cluster scope resources lookup is disabled")
        ports = _ports(service, "nodePort")
        return [_entry(ip, ports=ports) for node in view.nodes() for ip in node_addresses(node, "ExternalIP")]
    if svc_type == "ExternalName":
        return [_entry(hostname=str(spec(service).get("externalName") or ""))]
    raise StatusError(f"unsupported service type: {svc_type}")


def load_balancer_equal(current: Sequence[Obj] | None, wanted: Sequence[Obj] | None) -> bool:
    """Traefik's comparison: same length and the same ``hostname+ip`` keys (ports ignored)."""
    current, wanted = current or (), wanted or ()
    if len(current) != len(wanted):
        return False
    keys = {f"{a.get('hostname') or ''}{a.get('ip') or ''}" for a in current}
    return all(f"{b.get('hostname') or ''}{b.get('ip') or ''}" in keys for b in wanted)
