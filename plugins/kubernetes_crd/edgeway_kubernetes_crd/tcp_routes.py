"""IngressRouteTCPs to TCP routers and services (and the certificates of their ``tls.secretName``).

``loadIngressRouteTCPConfiguration`` and ``createLoadBalancerServerTCP`` of
Traefik's ``pkg/provider/kubernetes/crd/kubernetes_tcp.go``, in their order and
with their skips (``makeMiddlewareTCPKeys`` and ``makeTCPServersTransportKey``
are the HTTP ones of :mod:`~edgeway_kubernetes_crd.load_balancers`, ``getTLSTCP``
and the router's TLS are in :mod:`~edgeway_kubernetes_crd.tls_config`):

* router and service ``namespace-<name>-<20 hex of sha256(match)>`` (not
  normalised); a route without ``match`` is skipped, a later route with the
  same match replaces an earlier one;
* one service: the route's service is that load balancer; several: each is
  ``<route service>-<name>-<port>`` and the route's service a weighted round
  robin over them (weight 1 unless given);
* a service Traefik cannot build is left out, the router is kept; a bad
  middleware reference drops the route; a bad TLS option reference drops the
  router after its services were added (as Traefik's ``continue`` does).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edgeway_kubernetes import short_hash
from edgeway_kubernetes.objects import meta, name, namespace, spec

from edgeway_kubernetes_crd import fields, structs
from edgeway_kubernetes_crd.builder import Builder
from edgeway_kubernetes_crd.l4_servers import (
    load_route_services,
    load_servers,
)
from edgeway_kubernetes_crd.load_balancers import ConfigBuilder, make_middleware_keys
from edgeway_kubernetes_crd.references import (
    ReferenceError,
    make_id,
    namespace_allowed,
    namespace_or_parent,
)
from edgeway_kubernetes_crd.tls_config import load_route_certificate, router_tls

__all__ = ["load_ingress_route_tcps"]

Obj = Mapping[str, Any]


def load_ingress_route_tcps(b: Builder) -> None:
    """``loadIngressRouteTCPConfiguration``: every IngressRouteTCP of the provider's class."""
    for route_tcp, _ in structs.decoded_objects(
        b, "IngressRouteTCP", structs.INGRESS_ROUTE_TCP_SPEC, routes=True
    ):
        _load_ingress_route_tcp(b, route_tcp)


def _load_ingress_route_tcp(b: Builder, route_tcp: Obj) -> None:
    ns = namespace(route_tcp)
    route_spec = spec(route_tcp)
    tls = route_spec.get("tls")
    if tls is not None and not tls.get("passthrough"):
        load_route_certificate(b, route_tcp, tls)

    ingress_name = name(route_tcp) or str(meta(route_tcp).get("generateName") or "")
    for route in route_spec.get("routes") or ():
        route = route or {}
        match = route.get("match") or ""
        if not match:
            b.fail(route_tcp, "InvalidSpec", "Empty match rule")
            continue

        service_name = make_id(ns, f"{ingress_name}-{short_hash(match)}")
        try:
            middlewares = make_middleware_keys(b, ns, fields.list_of(route, "middlewares"))
        except ReferenceError as exc:
            b.fail(route_tcp, exc.reason, f"Failed to create middleware keys: {exc}")
            continue

        load_route_services(
            b,
            route_tcp,
            b.tcp["services"],
            service_name,
            [s or {} for s in route.get("services") or ()],
            lambda service: _create_load_balancer_server_tcp(b, ns, service),
        )

        router: dict[str, Any] = {"service": service_name, "rule": match}
        if route_spec.get("entryPoints"):
            router["entryPoints"] = list(route_spec["entryPoints"])
        if middlewares:
            router["middlewares"] = middlewares
        if route.get("priority"):
            router["priority"] = route["priority"]
        if route.get("syntax"):
            router["ruleSyntax"] = route["syntax"]
        if tls is not None:
            try:
                router["tls"] = {
                    "passthrough": bool(tls.get("passthrough")),
                    **router_tls(b, ns, tls),
                }
            except ReferenceError as exc:
                b.fail(route_tcp, exc.reason, str(exc))
                continue
        b.tcp["routers"][service_name] = router


def _create_load_balancer_server_tcp(b: Builder, parent_ns: str, service: Obj) -> dict[str, Any]:
    """``createLoadBalancerServerTCP``: a ``TCPService`` with a load balancer of the Service's servers."""
    svc_name = str(service.get("name") or "")
    ns = namespace_or_parent(str(service.get("namespace") or ""), parent_ns)
    if not namespace_allowed(b.options.allowCrossNamespace, parent_ns, ns):
        raise ReferenceError(
            f"tcp service {ns}/{svc_name} is not in the parent resource namespace {parent_ns}",
            "CrossNamespaceForbidden",
        )
    tls = bool(service.get("tls"))
    servers = [
        {"address": address, "tls": True} if tls else {"address": address}
        for address in load_servers(b, ns, service)
    ]
    load_balancer: dict[str, Any] = {"servers": servers}
    proxy_protocol = service.get("proxyProtocol")
    if proxy_protocol is not None:
        load_balancer["proxyProtocol"] = {"version": proxy_protocol.get("version") or 2}
    servers_transport = str(service.get("serversTransport") or "")
    if not servers_transport and service.get("terminationDelay") is not None:
        load_balancer["terminationDelay"] = service["terminationDelay"]
    if servers_transport:
        load_balancer["serversTransport"] = ConfigBuilder(b).make_servers_transport_key(
            parent_ns, servers_transport
        )
    return {"loadBalancer": load_balancer}
