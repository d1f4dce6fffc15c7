"""IngressRouteTCPs to TCP routers and services (and the certificates of their ``tls.secretName``).

``loadIngressRouteTCPConfiguration``, ``makeMiddlewareTCPKeys``,
``createLoadBalancerServerTCP``, ``makeTCPServersTransportKey`` and ``getTLSTCP``
of Traefik's ``pkg/provider/kubernetes/crd/kubernetes_tcp.go``, in their order
and with their skips:

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

from edgeway_kubernetes import go_quote, normalize, short_hash
from edgeway_kubernetes.objects import meta, name, namespace, spec

from edgeway_kubernetes_crd import structs
from edgeway_kubernetes_crd.builder import Builder
from edgeway_kubernetes_crd.l4_servers import (
    ServersError,
    load_route_services,
    load_servers,
)
from edgeway_kubernetes_crd.references import (
    PROVIDER_NAME,
    ReferenceError,
    cross_provider_allowed,
    get_tls,
    make_id,
    namespace_allowed,
    namespace_or_parent,
    resolve_reference,
    should_process,
)

__all__ = ["load_ingress_route_tcps", "tls_config_key"]

Obj = Mapping[str, Any]


def tls_config_key(ns: str, secret_name: str) -> str:
    """The ``tlsConfigs`` key of a Secret: ``namespace/secretName`` (certificates are sorted by it)."""
    return f"{ns}/{secret_name}"


def load_ingress_route_tcps(b: Builder) -> None:
    """``loadIngressRouteTCPConfiguration``: every IngressRouteTCP of the provider's class."""
    for route_tcp in b.view.list("IngressRouteTCP"):
        if not should_process(b.options.ingressClass, route_tcp):
            continue
        b.process(route_tcp)
        if structs.decode_spec(b, route_tcp, structs.INGRESS_ROUTE_TCP_SPEC) is None:
            continue
        _load_ingress_route_tcp(b, route_tcp)


def _load_ingress_route_tcp(b: Builder, route_tcp: Obj) -> None:
    ns = namespace(route_tcp)
    route_spec = spec(route_tcp)
    tls = route_spec.get("tls")
    if tls is not None and not tls.get("passthrough"):
        _get_tls_tcp(b, route_tcp, tls)

    ingress_name = name(route_tcp) or str(meta(route_tcp).get("generateName") or "")
    for route in route_spec.get("routes") or ():
        route = route or {}
        match = route.get("match") or ""
        if not match:
            b.fail(route_tcp, "InvalidSpec", "Empty match rule")
            continue

        service_name = make_id(ns, f"{ingress_name}-{short_hash(match)}")
        try:
            middlewares = _make_middleware_tcp_keys(b, ns, route.get("middlewares") or ())
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
                router["tls"] = _router_tls(b, ns, tls)
            except ReferenceError as exc:
                options_name = go_quote(str((tls.get("options") or {}).get("name")))
                b.fail(
                    route_tcp, exc.reason, f"Invalid reference to TLSOption {options_name}: {exc}"
                )
                continue
        b.tcp["routers"][service_name] = router


def _make_middleware_tcp_keys(b: Builder, ns: str, references: Any) -> list[str]:
    """``makeMiddlewareTCPKeys``: the route's middleware references, resolved."""
    keys = []
    for ref in references:
        ref = ref or {}
        ref_name = str(ref.get("name") or "")
        try:
            keys.append(
                resolve_reference(
                    ns,
                    str(ref.get("namespace") or ""),
                    ref_name,
                    b.options.crossProviderNamespaces,
                    b.options.allowCrossNamespace,
                )
            )
        except ReferenceError as exc:
            raise ReferenceError(
                f"invalid reference to middleware {ref_name}: {exc}", exc.reason
            ) from None
    return keys


def _create_load_balancer_server_tcp(b: Builder, parent_ns: str, service: Obj) -> dict[str, Any]:
    """``createLoadBalancerServerTCP``: a ``TCPService`` with a load balancer of the Service's servers."""
    svc_name = str(service.get("name") or "")
    ns = namespace_or_parent(str(service.get("namespace") or ""), parent_ns)
    if not namespace_allowed(b.options.allowCrossNamespace, parent_ns, ns):
        raise ServersError(
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
        load_balancer["serversTransport"] = _make_tcp_servers_transport_key(
            b, parent_ns, servers_transport
        )
    return {"loadBalancer": load_balancer}


def _make_tcp_servers_transport_key(b: Builder, parent_ns: str, transport: str) -> str:
    """``makeTCPServersTransportKey``: ``name@provider`` kept (when allowed), else ``Normalize(ns-name)``."""
    if "@" in transport:
        if not b.options.allowCrossNamespace and transport.endswith("@" + PROVIDER_NAME):
            raise ServersError(
                f"invalid reference to serversTransport {transport}: namespace-name@kubernetescrd "
                "format is not allowed when crossnamespace is disallowed",
                "CrossNamespaceForbidden",
            )
        if not cross_provider_allowed(b.options.crossProviderNamespaces, parent_ns):
            raise ServersError(
                f"serversTransport {go_quote(transport)} reference is not allowed: "
                f"namespace {go_quote(parent_ns)} is not in crossProviderNamespaces",
                "CrossProviderForbidden",
            )
        return transport
    return normalize(make_id(parent_ns, transport))


def _router_tls(b: Builder, ns: str, tls: Obj) -> dict[str, Any]:
    """The router's ``RouterTCPTLSConfig``; raises :class:`ReferenceError` for a refused TLS option."""
    router_tls: dict[str, Any] = {"passthrough": bool(tls.get("passthrough"))}
    if tls.get("certResolver"):
        router_tls["certResolver"] = tls["certResolver"]
    domains = [_domain(d or {}) for d in tls.get("domains") or ()]
    if domains:
        router_tls["domains"] = domains
    options = tls.get("options") or {}
    if options.get("name"):
        router_tls["options"] = resolve_reference(
            ns,
            str(options.get("namespace") or ""),
            options["name"],
            b.options.crossProviderNamespaces,
            b.options.allowCrossNamespace,
        )
    return router_tls


def _domain(domain: Obj) -> dict[str, Any]:
    """A ``types.Domain`` in JSON (``main``, ``sans``; both omitempty)."""
    out: dict[str, Any] = {}
    if domain.get("main"):
        out["main"] = domain["main"]
    if domain.get("sans"):
        out["sans"] = list(domain["sans"])
    return out


def _get_tls_tcp(b: Builder, route_tcp: Obj, tls: Obj) -> None:
    """``getTLSTCP``: the certificate of ``tls.secretName`` into ``b.tls_configs`` (once per Secret)."""
    secret_name = str(tls.get("secretName") or "")
    if not secret_name:
        return
    ns = namespace(route_tcp)
    key = tls_config_key(ns, secret_name)
    if key in b.tls_configs:
        return
    try:
        b.tls_configs[key] = get_tls(b.view, secret_name, ns)
    except ReferenceError as exc:
        b.fail(route_tcp, exc.reason, f"Error configuring TLS: {exc}")
