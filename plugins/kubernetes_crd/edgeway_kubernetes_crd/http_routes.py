"""IngressRoutes to HTTP routers and services: ``loadIngressRouteConfiguration`` (``crd/kubernetes_http.go``).

Each route of an IngressRoute becomes a router named
``Normalize(namespace-name-<20 hex of sha256(match)>)`` (``makeServiceKey``);
one Kubernetes Service reference gives a ``loadBalancer`` service of that same
name, several give a ``weighted`` one (with a service per member), a
TraefikService reference is used by name. A route Traefik refuses (kind, empty
match, middleware/service/TLS option reference) is reported and left out; an
IngressRoute whose parents cannot be resolved is left out whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edgeway_kubernetes import normalize, short_hash
from edgeway_kubernetes.objects import meta, name, namespace, spec

from edgeway_kubernetes_crd import fields, structs
from edgeway_kubernetes_crd.builder import Builder
from edgeway_kubernetes_crd.load_balancers import ConfigBuilder, make_middleware_keys
from edgeway_kubernetes_crd.references import (
    ReferenceError,
    make_id,
    namespace_allowed,
)
from edgeway_kubernetes_crd.tls_config import load_route_certificate, router_tls

__all__ = ["load_ingress_routes", "make_service_key", "resolve_parent_router_names"]

Obj = Mapping[str, Any]


def make_service_key(rule: str, ingress_name: str) -> str:
    """``makeServiceKey``: ``name-<first 10 bytes of sha256(rule) in hex>``."""
    return f"{ingress_name}-{short_hash(rule)}"


def _router_name(ns: str, ingress_name: str, match: str) -> str:
    return normalize(make_id(ns, make_service_key(match, ingress_name)))


def resolve_parent_router_names(b: Builder, ingress_route: Obj) -> list[str]:
    """``resolveParentRouterNames``: the router names of every route of the parent IngressRoutes."""
    ns = namespace(ingress_route)
    names: list[str] = []
    for ref in fields.list_of(spec(ingress_route), "parentRefs"):
        ref_name = fields.string(ref, "name")
        parent_ns = fields.string(ref, "namespace") or ns
        if not namespace_allowed(b.options.allowCrossNamespace, ns, parent_ns):
            raise ReferenceError(
                f"cross-namespace reference to parent IngressRoute {parent_ns}/{ref_name} not allowed",
                "CrossNamespaceForbidden",
            )
        parent = next(
            (
                ir
                for ir in b.view.list("IngressRoute")
                if name(ir) == ref_name and namespace(ir) == parent_ns
            ),
            None,
        )
        if parent is None:
            raise ReferenceError(
                f"parent IngressRoute {parent_ns}/{ref_name} does not exist", "ParentNotFound"
            )
        for route in fields.list_of(spec(parent), "routes"):
            names.append(_router_name(parent_ns, name(parent), fields.string(route, "match")))
    return names


def _observability(config: Obj) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("accessLogs", "metrics", "tracing"):
        value = fields.bool_ptr(config, key)
        if value is not None:
            out[key] = value
    if verbosity := fields.string(config, "traceVerbosity"):
        out["traceVerbosity"] = verbosity
    return out


def load_ingress_routes(b: Builder) -> None:
    """``loadIngressRouteConfiguration``: every IngressRoute of the provider's class."""
    for ingress_route, _ in structs.decoded_objects(
        b, "IngressRoute", structs.INGRESS_ROUTE_SPEC, routes=True
    ):
        _load_ingress_route(b, ingress_route)


def _load_ingress_route(b: Builder, ingress_route: Obj) -> None:
    s = spec(ingress_route)
    ns = namespace(ingress_route)
    tls = fields.mapping_ptr(s, "tls")
    if tls is not None:
        load_route_certificate(b, ingress_route, tls)

    ingress_name = name(ingress_route) or str(meta(ingress_route).get("generateName") or "")
    cb = ConfigBuilder.for_routes(b)
    try:
        parent_refs = resolve_parent_router_names(b, ingress_route)
    except ReferenceError as exc:
        b.fail(ingress_route, exc.reason, f"Error resolving parent routers: {exc}")
        return

    for route in fields.list_of(s, "routes"):
        kind = fields.string(route, "kind")
        if kind and kind != "Rule":
            b.fail(
                ingress_route,
                "InvalidSpec",
                f'Unsupported match kind: {kind}. Only "Rule" is supported for now.',
            )
            continue
        match = fields.string(route, "match")
        if not match:
            b.fail(ingress_route, "InvalidSpec", "Empty match rule")
            continue

        router_name = _router_name(ns, ingress_name, match)
        try:
            middlewares = make_middleware_keys(b, ns, fields.list_of(route, "middlewares"))
        except ReferenceError as exc:
            b.fail(ingress_route, exc.reason, f"Failed to create middleware keys: {exc}")
            continue

        refs = fields.list_of(route, "services")
        service_name = router_name
        try:
            if len(refs) > 1:
                cb.build_services_lb(ns, {"services": refs}, service_name)
            elif len(refs) == 1:
                full_name, service = cb.name_and_service(ns, refs[0])
                if service is not None:
                    b.http["services"][service_name] = service
                else:
                    service_name = full_name
            else:  # a route without services leaves the router's service empty
                service_name = ""
        except ReferenceError as exc:
            b.fail(ingress_route, exc.reason, str(exc))
            continue

        router: dict[str, Any] = {}
        for key, value in (
            ("entryPoints", fields.string_list(s, "entryPoints")),
            ("middlewares", middlewares),
            ("service", service_name),
            ("rule", match),
            ("parentRefs", parent_refs),
            ("ruleSyntax", fields.string(route, "syntax")),
            ("priority", fields.int_value(route, "priority")),
        ):
            if value:
                router[key] = value
        observability = fields.mapping_ptr(route, "observability")
        if observability is not None:
            router["observability"] = _observability(observability)
        if tls is not None:
            try:
                router["tls"] = router_tls(b, ns, tls)
            except ReferenceError as exc:
                b.fail(ingress_route, exc.reason, str(exc))
                continue
        b.http["routers"][router_name] = router
