"""TraefikServices to HTTP services: ``buildTraefikService`` and friends (``crd/kubernetes_http.go``).

A TraefikService ``Normalize(namespace-name)`` is a ``weighted``,
``mirroring``, ``highestRandomWeight`` or ``failover`` service over
references (Kubernetes Services get their own ``loadBalancer`` service, as in
IngressRoutes). Traefik builds these without ``nativeLBByDefault``. As in
Traefik, member services written before a refused reference stay.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edgeway_kubernetes import normalize
from edgeway_kubernetes.objects import name, namespace, spec

from edgeway_kubernetes_crd import fields
from edgeway_kubernetes_crd.builder import Builder
from edgeway_kubernetes_crd.load_balancers import ConfigBuilder
from edgeway_kubernetes_crd.references import InvalidSpec, ReferenceError, make_id

__all__ = ["build_traefik_service", "build_traefik_services"]

Obj = Mapping[str, Any]


def build_traefik_services(b: Builder) -> None:
    """Every TraefikService (the loop of ``loadConfigurationFromCRD``)."""
    for traefik_service in b.view.list("TraefikService"):
        b.process(traefik_service)
        try:
            build_traefik_service(ConfigBuilder(b), traefik_service)
        except ReferenceError as exc:
            b.fail(traefik_service, exc.reason, f"Error while building TraefikService: {exc}")


def build_traefik_service(cb: ConfigBuilder, traefik_service: Obj) -> None:
    """``buildTraefikService``: the first of weighted, mirroring, highestRandomWeight, failover."""
    ns = namespace(traefik_service)
    service_id = normalize(make_id(ns, name(traefik_service)))
    s = spec(traefik_service)
    if (weighted := fields.mapping_ptr(s, "weighted")) is not None:
        cb.build_services_lb(ns, weighted, service_id)
    elif (mirroring := fields.mapping_ptr(s, "mirroring")) is not None:
        _build_mirroring(cb, ns, mirroring, service_id)
    elif (hrw := fields.mapping_ptr(s, "highestRandomWeight")) is not None:
        _build_hrw(cb, ns, hrw, service_id)
    elif (failover := fields.mapping_ptr(s, "failover")) is not None:
        _build_failover(cb, ns, failover, service_id)
    else:
        raise InvalidSpec("unspecified service type")


def _add(cb: ConfigBuilder, ns: str, ref: Obj) -> str:
    """``nameAndService``, storing a Kubernetes Service's load-balancer; returns the reference's name."""
    full_name, service = cb.name_and_service(ns, ref)
    if service is not None:
        cb.b.http["services"][full_name] = service
    return full_name


def _build_mirroring(cb: ConfigBuilder, ns: str, mirroring: Obj, service_id: str) -> None:
    """``buildMirroring``: the main service and its mirrors (``percent``)."""
    out: dict[str, Any] = {"service": _add(cb, ns, mirroring)}
    mirrors = []
    for mirror in fields.list_of(mirroring, "mirrors"):
        entry: dict[str, Any] = {"name": _add(cb, ns, mirror)}
        if percent := fields.int_value(mirror, "percent"):
            entry["percent"] = percent
        mirrors.append(entry)
    if mirrors:
        out["mirrors"] = mirrors
    mirror_body = fields.bool_ptr(mirroring, "mirrorBody")
    if mirror_body is not None:
        out["mirrorBody"] = mirror_body
    max_body_size = fields.int_ptr(mirroring, "maxBodySize")
    if max_body_size is not None:
        out["maxBodySize"] = max_body_size
    cb.b.http["services"][service_id] = {"mirroring": out}


def _build_hrw(cb: ConfigBuilder, ns: str, hrw: Obj, service_id: str) -> None:
    """``buildHRW``: weighted members (weight 1 when unset)."""
    members = []
    for ref in fields.list_of(hrw, "services"):
        full_name = _add(cb, ns, ref)
        weight = fields.int_ptr(ref, "weight")
        members.append({"name": full_name, "weight": 1 if weight is None else weight})
    cb.b.http["services"][service_id] = {
        "highestRandomWeight": {"services": members} if members else {}
    }


def _build_failover(cb: ConfigBuilder, ns: str, failover: Obj, service_id: str) -> None:
    """``buildFailover``: service, fallback and the errors that switch to it."""
    try:
        service_name, service = cb.name_and_service(ns, fields.mapping(failover, "service"))
    except ReferenceError as exc:
        raise ReferenceError(f"getting service: {exc}", exc.reason) from None
    try:
        fallback_name, fallback = cb.name_and_service(ns, fields.mapping(failover, "fallback"))
    except ReferenceError as exc:
        raise ReferenceError(f"getting fallback service: {exc}", exc.reason) from None
    errors_spec = fields.mapping(failover, "errors")
    errors: dict[str, Any] = {}
    if status := fields.string_list(errors_spec, "status"):
        errors["status"] = status
    if (max_bytes := fields.int_ptr(errors_spec, "maxRequestBodyBytes")) is not None:
        errors["maxRequestBodyBytes"] = max_bytes
    out: dict[str, Any] = {"errors": errors}
    if service_name:
        out["service"] = service_name
    if fallback_name:
        out["fallback"] = fallback_name
    services = cb.b.http["services"]
    services[service_id] = {"failover": out}
    if service is not None:
        services[service_name] = service
    if fallback is not None:
        services[fallback_name] = fallback
