"""Ingresses (+ IngressClasses, Services, EndpointSlices, Secrets, Nodes) to dynamic configuration.

A line-by-line rendition of ``loadConfigurationFromIngresses``, ``loadService``
and ``loadRouter`` in Traefik's ``pkg/provider/kubernetes/ingress/kubernetes.go``:
same names, same rules, same skips. The result is the provider's own view in
Traefik's JSON encoding (unqualified names, ``omitempty`` fields left out,
pointer fields kept, durations as ``"<n>ns"``), which is what the provider emits
and what ``edgeway render --provider kubernetes`` prints. What Traefik logs as an
error is collected in :attr:`Translation.errors`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from edgeway_kubernetes import (
    ObjectStore,
    ServiceError,
    endpoint_slice_servers,
    external_name_server,
    go_quote,
    native_lb_server,
    node_port_servers,
    normalize,
    server_scheme,
    service_port,
    short_hash,
    tls_certificate,
)
from edgeway_kubernetes.objects import annotations_of, name, namespace, spec

from edgeway_kubernetes_ingress.annotations import parse_router_config, parse_service_config
from edgeway_kubernetes_ingress.labels import LabelError
from edgeway_kubernetes_ingress.options import KubernetesIngressOptions
from edgeway_kubernetes_ingress.view import IngressView

__all__ = [
    "DEFAULT_BACKEND",
    "DEFAULT_ROUTER",
    "INGRESS_CLASS_ANNOTATION",
    "Translation",
    "should_process_ingress",
    "translate",
]

INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
TRAEFIK_DEFAULT_INGRESS_CLASS = "traefik"
DEFAULT_ROUTER = "default-router"
DEFAULT_BACKEND = "default-backend"
MIN_INT32 = -(2**31)
#: ``dynamic.DefaultFlushInterval`` (100ms) as Traefik's duration type marshals it.
DEFAULT_FLUSH_INTERVAL = "100000000ns"

Obj = Mapping[str, Any]


@dataclass
class Translation:
    """The provider's configuration, what went wrong, and the Ingresses it serves."""

    configuration: dict[str, Any]
    #: Messages Traefik logs at error level, each naming the Ingress or Service.
    errors: list[str] = field(default_factory=list)
    #: Ingresses selected by class (their status is written, see :mod:`.status`).
    processed: list[Obj] = field(default_factory=list)


class _Skip(ValueError):
    """This path / backend / Ingress is left out (Traefik logs and continues)."""


def should_process_ingress(
    ingress: Obj, ingress_classes: Iterable[Obj], options: KubernetesIngressOptions
) -> bool:
    """``shouldProcessIngress``: ``spec.ingressClassName`` or the class annotation."""
    class_name = spec(ingress).get("ingressClassName")
    if class_name is not None:
        return any(name(ic) == class_name for ic in ingress_classes)
    annotated = annotations_of(ingress).get(INGRESS_CLASS_ANNOTATION, "")
    return options.ingressClass == annotated or (
        not options.ingressClass and annotated == TRAEFIK_DEFAULT_INGRESS_CLASS
    )


def _port_string(port: Obj) -> str:
    """``portString``: the port's name, else its number."""
    return str(port.get("name") or "") or str(int(port.get("number") or 0))


def _backend_port(backend_service: Obj) -> Obj:
    port = backend_service.get("port")
    return port if isinstance(port, Mapping) else {}


class _Translator:
    def __init__(self, view: IngressView, default_rule_syntax: str) -> None:
        self.view = view
        self.options = view.options
        self.default_rule_syntax = default_rule_syntax
        self.routers: dict[str, dict[str, Any]] = {}
        self.services: dict[str, dict[str, Any]] = {}
        self.certificates: dict[str, dict[str, str]] = {}
        self.errors: list[str] = []
        self.processed: list[Obj] = []

    def run(self) -> Translation:
        opts = self.options
        classes: list[Obj] = []
        if opts.ingress_class_lookup:
            classes = self.view.ingress_classes()
            if opts.ingressClass:
                classes = [ic for ic in classes if name(ic) == opts.ingressClass]
        for ingress in self.view.ingresses():
            if should_process_ingress(ingress, classes, opts):
                self.processed.append(ingress)
                self._ingress(ingress)
        http: dict[str, Any] = {"routers": self.routers, "middlewares": {}, "services": self.services}
        config: dict[str, Any] = {"http": http}
        if self.certificates:
            config["tls"] = {"certificates": [self.certificates[k] for k in sorted(self.certificates)]}
        return Translation(config, self.errors, self.processed)

    def _error(self, ingress: Obj, message: str) -> None:
        self.errors.append(f"ingress {namespace(ingress)}/{name(ingress)}: {message}")

    # -- one Ingress -------------------------------------------------------------

    def _ingress(self, ingress: Obj) -> None:
        ns = namespace(ingress)
        try:
            rt_config = parse_router_config(annotations_of(ingress))
        except LabelError as exc:
            self._error(ingress, f"failed to parse annotations: {exc}")
            return
        allowed = self.options.crossProviderNamespaces
        if rt_config is not None and allowed is not None and ns not in allowed:
            # Middlewares and TLS options always are cross-provider references.
            if rt_config.get("middlewares"):
                self._error(ingress, f"skipping Ingress: cross-provider middleware reference is not allowed from namespace {ns!r}")
                return
            if (rt_config.get("tls") or {}).get("options"):
                self._error(ingress, f"skipping Ingress: cross-provider TLS option reference is not allowed from namespace {ns!r}")
                return
        self._certificates(ingress)
        ing_spec = spec(ingress)
        default_backend = ing_spec.get("defaultBackend")
        if not ing_spec.get("rules") and default_backend is not None:
            self._default_backend(ingress, default_backend, rt_config)
        grouped: dict[str, list[dict[str, Any]]] = {}
        for rule in ing_spec.get("rules") or ():
            if rule.get("http") is None:
                continue
            for path in rule["http"].get("paths") or ():
                try:
                    key, router = self._path(ingress, rule, path, rt_config)
                except _Skip as exc:
                    self._error(ingress, str(exc))
                    continue
                grouped.setdefault(key, []).append(router)
        for key, routers in grouped.items():
            if len(routers) == 1:
                self.routers[key] = routers[0]
                continue
            for router in routers:
                self.routers[f"{key}-{short_hash(router['rule'])}"] = router

    def _default_backend(self, ingress: Obj, backend: Obj, rt_config: dict[str, Any] | None) -> None:
        if DEFAULT_BACKEND in self.services:
            self._error(ingress, "the default backend already exists")
            return
        if backend.get("resource") is not None:
            self._error(ingress, "resource is not supported for default backend")
            return
        backend_service = backend.get("service")
        if backend_service is None:
            self._error(ingress, "default backend is missing service definition")
            return
        try:
            service = self._service(namespace(ingress), backend_service)
        except _Skip as exc:
            self._error(ingress, str(exc))
            return
        router: dict[str, Any] = {
            "service": DEFAULT_BACKEND,
            "rule": 'PathPrefix("/")',
            "ruleSyntax": "default",
            "priority": MIN_INT32,
            "observability": self._observability(ingress, backend_service),
        }
        if rt_config is not None:
            self._apply_router_annotations(router, rt_config, full=False)
        self.routers[DEFAULT_ROUTER] = router
        self.services[DEFAULT_BACKEND] = service

    def _path(
        self, ingress: Obj, rule: Obj, path: Obj, rt_config: dict[str, Any] | None
    ) -> tuple[str, dict[str, Any]]:
        backend = path.get("backend") or {}
        if backend.get("resource") is not None:
            raise _Skip("resource backends are not supported")
        backend_service = backend.get("service")
        if backend_service is None:
            raise _Skip("missing service definition")
        ns = namespace(ingress)
        service_name = normalize(f"{ns}-{backend_service.get('name') or ''}-{_port_string(_backend_port(backend_service))}")
        if service_name not in self.services:
            self.services[service_name] = self._service(ns, backend_service)
        router = self._router(ingress, rule, path, backend_service, rt_config, service_name)
        host = str(rule.get("host") or "")
        key = normalize(f"{ns}-{name(ingress)}-{host}{path.get('path') or ''}")
        return key.removeprefix("-"), router

    # -- services ----------------------------------------------------------------

    def _service(self, ns: str, backend_service: Obj) -> dict[str, Any]:
        """``loadService`` plus the empty-service check of its callers."""
        svc_name = str(backend_service.get("name") or "")
        port_ref = _backend_port(backend_service)
        where = f"service {ns}/{svc_name} port {_port_string(port_ref)}"
        try:
            service = self._load_service(ns, svc_name, port_ref)
        except (ServiceError, LabelError) as exc:
            raise _Skip(f"cannot create {where}: {exc}") from None
        if not service["loadBalancer"].get("servers") and not self.options.allowEmptyServices:
            raise _Skip(f"skipping {where}: no endpoints found")
        return service

    def _load_service(self, ns: str, svc_name: str, port_ref: Obj) -> dict[str, Any]:
        opts = self.options
        service = self.view.service(ns, svc_name)
        if service is None:
            raise ServiceError("service not found")
        svc_spec = spec(service)
        svc_type = svc_spec.get("type") or ""
        if not opts.allowExternalNameServices and svc_type == "ExternalName":
            raise ServiceError(f"externalName services not allowed: {ns}/{svc_name}")
        port = service_port(service, int(port_ref.get("number") or 0), str(port_ref.get("name") or ""))
        if port is None:
            raise ServiceError("service port not found")
        port_name = str(port.get("name") or "")

        lb: dict[str, Any] = {"strategy": "wrr", "passHostHeader": True, "responseForwarding": {"flushInterval": DEFAULT_FLUSH_INTERVAL}}
        middlewares: list[str] | None = None
        svc_config = parse_service_config(annotations_of(service))
        native_lb = opts.nativeLBByDefault
        scheme = server_scheme(port, port_name, (svc_config or {}).get("serversScheme") or "")
        if svc_config is not None:
            if svc_config.get("sticky") is not None:
                lb["sticky"] = svc_config["sticky"]
            middlewares = svc_config.get("middlewares")
            if svc_config.get("passHostHeader") is not None:
                lb["passHostHeader"] = svc_config["passHostHeader"]
            if svc_config.get("serversTransport"):
                allowed = opts.crossProviderNamespaces
                if allowed is not None and ns not in allowed:
                    raise ServiceError(f"cross-provider serversTransport reference is not allowed from namespace {ns!r}")
                lb["serversTransport"] = svc_config["serversTransport"]
            if svc_config.get("nativeLB") is not None:
                native_lb = svc_config["nativeLB"]
            if svc_config.get("nodePortLB") and svc_type == "NodePort":
                if opts.disableClusterScopeResources:
                    raise ServiceError("nodes lookup is disabled")
                nodes = self.view.nodes()
                if not nodes:
                    raise ServiceError(f"nodes not found in namespace {ns}")
                servers = node_port_servers(nodes, port, scheme)
                if not servers:
                    raise ServiceError(f"no servers were generated for service {svc_name} in namespace")
                return _service_json(lb, servers, middlewares)

        if svc_type == "ExternalName":
            servers = [external_name_server(service, port, scheme)]
        elif native_lb:
            try:
                servers = [native_lb_server(service, port, scheme)]
            except ServiceError as exc:
                raise ServiceError(f"getting native Kubernetes Service address: {exc}") from None
        else:
            servers = endpoint_slice_servers(self.view.endpoint_slices(ns, svc_name), port_name, scheme)
        return _service_json(lb, servers, middlewares)

    # -- routers -----------------------------------------------------------------

    def _observability(self, ingress: Obj, backend_service: Obj) -> dict[str, Any]:
        metadata = {
            "namespace": namespace(ingress),
            "ingressName": name(ingress),
            "serviceName": str(backend_service.get("name") or ""),
            "servicePort": _port_string(_backend_port(backend_service)),
        }
        return {"metadata": {"ingress": {k: v for k, v in metadata.items() if v}}}

    def _apply_router_annotations(self, router: dict[str, Any], rt: dict[str, Any], full: bool) -> None:
        if full:
            if rt.get("ruleSyntax"):
                router["ruleSyntax"] = rt["ruleSyntax"]
            if rt.get("priority"):
                router["priority"] = rt["priority"]
        for key in ("entryPoints", "middlewares"):
            if rt.get(key):
                router[key] = rt[key]
        if rt.get("tls") is not None:
            router["tls"] = rt["tls"]
        observability = rt.get("observability")
        if observability is not None:
            for key in ("accessLogs", "metrics", "tracing"):
                if observability.get(key) is not None:
                    router["observability"][key] = observability[key]
            if observability.get("traceVerbosity"):
                router["observability"]["traceVerbosity"] = observability["traceVerbosity"]

    def _router(
        self,
        ingress: Obj,
        rule: Obj,
        path: Obj,
        backend_service: Obj,
        rt_config: dict[str, Any] | None,
        service_name: str,
    ) -> dict[str, Any]:
        """``loadRouter``."""
        router: dict[str, Any] = {"service": service_name, "observability": self._observability(ingress, backend_service)}
        if rt_config is not None:
            self._apply_router_annotations(router, rt_config, full=True)
        rules: list[str] = []
        host = str(rule.get("host") or "")
        if host:
            syntax = router.get("ruleSyntax", "")
            if syntax == "v2" or (not syntax and self.default_rule_syntax == "v2"):
                rules.append(_host_rule_v2(host))
            else:
                rules.append(f"Host({go_quote(host)})")
        path_value = str(path.get("path") or "")
        if path_value:
            matcher = "PathPrefix"
            path_type = path.get("pathType") or ""
            if path_type in ("", "ImplementationSpecific"):
                wanted = (rt_config or {}).get("pathMatcher") or ""
                if wanted:
                    if wanted not in ("Path", "PathPrefix", "PathRegexp"):
                        raise _Skip(
                            f"skipping path {path_value!r}: invalid router path matcher {go_quote(wanted)}: "
                            "must be one of Path, PathPrefix, PathRegexp"
                        )
                    matcher = wanted
            elif path_type == "Exact":
                matcher = "Path"
            rules.append(_path_rule(self.options.strictPrefixMatching, matcher, path_value))
        router["rule"] = " && ".join(rules)
        return _router_json(router)

    # -- TLS -----------------------------------------------------------------------

    def _certificates(self, ingress: Obj) -> None:
        """``getCertificates``: the first problem stops this Ingress's TLS entries."""
        ns = namespace(ingress)
        for entry in spec(ingress).get("tls") or ():
            secret_name = str(entry.get("secretName") or "")
            if not secret_name:
                continue
            key = f"{ns}-{secret_name}"
            if key in self.certificates:
                continue
            secret = self.view.secret(ns, secret_name)
            if secret is None:
                self._error(ingress, f"error configuring TLS: secret {ns}/{secret_name} does not exist")
                return
            try:
                self.certificates[key] = tls_certificate(secret, ns, secret_name)
            except ValueError as exc:
                self._error(ingress, f"error configuring TLS: {exc}")
                return


def _host_rule_v2(host: str) -> str:
    if host.startswith("*."):
        return f"HostRegexp({go_quote(host.replace('*.', '{subdomain:[a-zA-Z0-9-]+}.', 1))})"
    return f"Host({go_quote(host)})"


def _path_rule(strict_prefix: bool, matcher: str, path: str) -> str:
    """``buildRule``: with ``strictPrefixMatching`` a prefix matches whole path elements."""
    if strict_prefix and matcher == "PathPrefix":
        if path == "/":
            return 'PathPrefix("/")'
        path = path.removesuffix("/")
        return f"(Path({go_quote(path)}) || PathPrefix({go_quote(path + '/')}))"
    return f"{matcher}({go_quote(path)})"


_ROUTER_ORDER = ("entryPoints", "middlewares", "service", "rule", "ruleSyntax", "priority", "tls", "observability")
_LB_ORDER = ("sticky", "servers", "strategy", "passHostHeader", "responseForwarding", "serversTransport")


def _router_json(router: dict[str, Any]) -> dict[str, Any]:
    """Fields in ``dynamic.Router`` order (as Go's encoder writes them)."""
    return {k: router[k] for k in _ROUTER_ORDER if k in router}


def _service_json(lb: dict[str, Any], servers: list[dict[str, Any]], middlewares: list[str] | None) -> dict[str, Any]:
    if servers:
        lb["servers"] = servers
    out: dict[str, Any] = {}
    if middlewares:
        out["middlewares"] = middlewares
    out["loadBalancer"] = {k: lb[k] for k in _LB_ORDER if k in lb}
    return out


def translate(
    objects: Iterable[Obj] | ObjectStore | IngressView,
    options: KubernetesIngressOptions | None = None,
    *,
    default_rule_syntax: str = "",
) -> Translation:
    """The provider's configuration for these objects (a store, a view or a list of dicts).

    ``default_rule_syntax`` is Traefik's global ``core.defaultRuleSyntax``,
    which Traefik copies into the provider (``v2`` turns wildcard hosts into
    ``HostRegexp``).
    """
    options = options or KubernetesIngressOptions()
    if isinstance(objects, IngressView):
        view = objects
    elif isinstance(objects, ObjectStore):
        view = IngressView(objects, options)
    else:
        view = IngressView.from_objects(objects, options)
    return _Translator(view, default_rule_syntax).run()
