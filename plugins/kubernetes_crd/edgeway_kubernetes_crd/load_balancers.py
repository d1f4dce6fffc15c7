"""Service references to load-balancers: Traefik's ``configBuilder`` (``crd/kubernetes_http.go``).

A ``LoadBalancerSpec`` (an IngressRoute's service, a TraefikService's member,
an errors middleware's service) names a Kubernetes Service, which becomes a
``loadBalancer`` of servers, or a TraefikService, which is only referenced.
Every refusal raises :class:`~edgeway_kubernetes_crd.references.ReferenceError`
(``.reason`` for the object's status, the message is Traefik's error text); the
caller reports it against its own object and skips what Traefik skips.

Traefik builds two flavours of ``configBuilder``: the one of IngressRoutes
honours ``nativeLBByDefault`` (and ``disableClusterScopeResources``), the one of
TraefikServices and errors middlewares does not. :func:`name_and_service` is
the latter; IngressRoutes use :meth:`ConfigBuilder.for_routes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edgeway_kubernetes import (
    endpoint_slice_servers,
    external_name_server,
    go_quote,
    node_port_servers,
    normalize,
)
from edgeway_kubernetes.objects import spec as spec_of

from edgeway_kubernetes_crd import fields
from edgeway_kubernetes_crd.builder import Builder
from edgeway_kubernetes_crd.references import (
    PROVIDER_NAME,
    InvalidSpec,
    ReferenceError,
    cross_provider_allowed,
    make_id,
    namespace_allowed,
    namespace_or_parent,
    resolve_with_options,
)
from edgeway_kubernetes_crd.services import (
    core_int,
    get_service_port,
    native_service_address,
    port_string,
    slice_port,
)

__all__ = [
    "ConfigBuilder",
    "full_service_name",
    "make_middleware_keys",
    "name_and_service",
    "parse_service_protocol",
    "split_svc_name_provider",
]

Obj = Mapping[str, Any]

#: ``dynamic.DefaultFlushInterval`` (100ms), ``DefaultHealthCheckInterval`` (30s),
#: ``DefaultHealthCheckTimeout`` (5s) and the passive check's failure window (10s), in ns.
DEFAULT_FLUSH_INTERVAL_NS = 100_000_000
DEFAULT_HEALTH_CHECK_INTERVAL_NS = 30_000_000_000
DEFAULT_HEALTH_CHECK_TIMEOUT_NS = 5_000_000_000
DEFAULT_FAILURE_WINDOW_NS = 10_000_000_000
STRATEGIES = ("wrr", "p2c", "hrw", "leasttime")


def ns(value: int) -> str:
    """A ``ptypes.Duration`` in the JSON encoding of the conformance data."""
    return f"{value}ns"


def parse_service_protocol(scheme: str, port_name: str, port_number: int) -> str:
    """``parseServiceProtocol``: the explicit scheme, else https for 443 or ``https*`` port names."""
    if scheme in ("http", "https", "h2c"):
        return scheme
    if scheme == "":
        if port_number == 443 or port_name.startswith("https"):
            return "https"
        return "http"
    raise InvalidSpec(f'invalid scheme "{scheme}" specified')


def split_svc_name_provider(name: str) -> tuple[str, str]:
    """``splitSvcNameProvider``: ``a@b@p`` -> ``("a@b", "p")``."""
    svc, _, pvd = name.rpartition("@")
    return svc, pvd


def full_service_name(service: Obj, port: int | str) -> str:
    """``fullServiceName``: the configuration name of a referenced (Kubernetes or Traefik) service."""
    ns_ = fields.string(service, "namespace")
    name = fields.string(service, "name")
    if port not in (0, ""):
        return normalize(f"{ns_}-{name}-{port_string(port)}")
    if "@" not in name:
        return normalize(f"{ns_}-{name}")
    svc, pvd = split_svc_name_provider(name)
    if pvd == PROVIDER_NAME:
        return normalize(f"{ns_}-{svc}")
    return f"{normalize(svc)}@{pvd}"


def make_middleware_keys(b: Builder, namespace: str, refs: list[Obj]) -> list[str]:
    """``makeMiddlewareKeys``: the names of referenced Middlewares (raises on the first refused one)."""
    keys = []
    for ref in refs:
        name = fields.string(ref, "name")
        keys.append(
            resolve_with_options(
                b.options,
                namespace,
                fields.string(ref, "namespace"),
                name,
                f"invalid reference to middleware {name}",
            )
        )
    return keys


def _sticky(sticky: Obj | None) -> dict[str, Any] | None:
    """A ``dynamic.Sticky`` from a CRD's ``sticky`` (cookie path defaulting to ``/``); None without a cookie."""
    cookie = fields.mapping_ptr(sticky, "cookie") if sticky is not None else None
    if cookie is None:
        return None
    out: dict[str, Any] = {}
    for key in ("name", "sameSite", "domain"):
        if value := fields.string(cookie, key):
            out[key] = value
    for key in ("secure", "httpOnly"):
        if fields.bool_ptr(cookie, key):
            out[key] = True
    if max_age := fields.int_value(cookie, "maxAge"):
        out["maxAge"] = max_age
    path = cookie.get("path")
    out["path"] = "/" if path is None else fields.string(cookie, "path")
    return {"cookie": out}


def _duration_ns(obj: Obj, key: str, default: int) -> int:
    """An ``*intstr.IntOrString`` duration, read as ``Duration.Set(value.String())`` (bare integers: seconds)."""
    if obj.get(key) is None:
        return default
    return fields.duration(port_string(fields.int_or_string(obj, key)))


def _health_check(hc: Obj) -> dict[str, Any]:
    """The ``ServerHealthCheck`` of ``buildServersLB`` (its defaults, then the CRD's values)."""
    out: dict[str, Any] = {}
    for key in ("scheme", "path", "method", "hostname"):
        if value := fields.string(hc, key):
            out[key] = value
    for key in ("status", "port"):
        if value := fields.int_value(hc, key):
            out[key] = value
    headers = fields.mapping(hc, "headers")
    if headers:
        out["headers"] = dict(headers)
    follow = fields.bool_ptr(hc, "followRedirects")
    out["followRedirects"] = True if follow is None else follow
    # SetDefaults gives "http"; any other value, the empty one included, replaces it.
    mode = fields.string(hc, "mode")
    if mode:
        out["mode"] = mode
    interval = _duration_ns(hc, "interval", DEFAULT_HEALTH_CHECK_INTERVAL_NS)
    # Without unhealthyInterval, unhealthy servers are checked as often as healthy ones.
    unhealthy = _duration_ns(hc, "unhealthyInterval", interval)
    timeout = _duration_ns(hc, "timeout", DEFAULT_HEALTH_CHECK_TIMEOUT_NS)
    if interval:
        out["interval"] = ns(interval)
    out["unhealthyInterval"] = ns(unhealthy)
    if timeout:
        out["timeout"] = ns(timeout)
    return out


def _passive_health_check(phc: Obj) -> dict[str, Any]:
    """The ``PassiveServerHealthCheck``: defaults 10s and 1 attempt, then the CRD's values."""
    window = _duration_ns(phc, "failureWindow", DEFAULT_FAILURE_WINDOW_NS)
    attempts = fields.int_ptr(phc, "maxFailedAttempts")
    if attempts is None:
        attempts = 1
    out: dict[str, Any] = {}
    if window:
        out["failureWindow"] = ns(window)
    if attempts:
        out["maxFailedAttempts"] = attempts
    return out


@dataclass(frozen=True)
class ConfigBuilder:
    """``configBuilder``: turns ``LoadBalancerSpec`` references into services."""

    b: Builder
    native_lb_by_default: bool = False
    disable_cluster_scope_resources: bool = False

    @classmethod
    def for_routes(cls, b: Builder) -> ConfigBuilder:
        """The IngressRoutes' builder: with ``nativeLBByDefault`` and ``disableClusterScopeResources``."""
        return cls(b, b.options.nativeLBByDefault, b.options.disableClusterScopeResources)

    def name_and_service(
        self, parent_namespace: str, spec: Obj
    ) -> tuple[str, dict[str, Any] | None]:
        """``nameAndService``: the name a reference goes by, and the load-balancer of a Kubernetes Service.

        The service is None for a TraefikService reference (it is built on its own).
        """
        b = self.b
        name = fields.string(spec, "name")
        if "@" not in name:
            spec = {
                **spec,
                "namespace": namespace_or_parent(
                    fields.string(spec, "namespace"), parent_namespace
                ),
            }
            if not namespace_allowed(
                b.options.allowCrossNamespace, parent_namespace, spec["namespace"]
            ):
                raise ReferenceError(
                    f"service {spec['namespace']}/{name} not in the parent resource namespace {parent_namespace}",
                    "CrossNamespaceForbidden",
                )
        elif not cross_provider_allowed(b.options.crossProviderNamespaces, parent_namespace):
            raise ReferenceError(
                f'service "{name}" reference is not allowed: namespace "{parent_namespace}" is not in crossProviderNamespaces',
                "CrossProviderForbidden",
            )
        kind = fields.string(spec, "kind")
        if kind in ("", "Service"):
            service = self.build_servers_lb(spec)
            return full_service_name(spec, fields.int_or_string(spec, "port")), service
        if kind == "TraefikService":
            return full_service_name(spec, 0), None
        raise InvalidSpec(f"unsupported service kind {kind}")

    def build_servers_lb(self, svc: Obj) -> dict[str, Any]:
        """``buildServersLB``: the ``loadBalancer`` service of a Kubernetes Service reference."""
        lb: dict[str, Any] = {"strategy": "wrr"}
        strategy = fields.string(svc, "strategy")
        if strategy in STRATEGIES:
            lb["strategy"] = strategy
        elif strategy not in ("", "RoundRobin"):  # RoundRobin: deprecated spelling of the default
            raise InvalidSpec(f"load-balancer strategy {strategy} is not supported")

        servers = self.load_servers(svc)
        if servers:
            lb["servers"] = servers

        hc = fields.mapping_ptr(svc, "healthCheck")
        if hc is not None:
            lb["healthCheck"] = _health_check(hc)
        phc = fields.mapping_ptr(svc, "passiveHealthCheck")
        if phc is not None:
            lb["passiveHealthCheck"] = _passive_health_check(phc)

        pass_host_header = fields.bool_ptr(svc, "passHostHeader")
        lb["passHostHeader"] = True if pass_host_header is None else pass_host_header

        flush = DEFAULT_FLUSH_INTERVAL_NS
        forwarding = fields.mapping_ptr(svc, "responseForwarding")
        if forwarding is not None and (text := fields.string(forwarding, "flushInterval")):
            try:
                flush = fields.duration(text)
            except InvalidSpec as exc:
                raise InvalidSpec(f"unable to parse flushInterval: {exc}") from None
        lb["responseForwarding"] = {"flushInterval": ns(flush)} if flush else {}

        sticky = _sticky(fields.mapping_ptr(svc, "sticky"))
        if sticky is not None:
            lb["sticky"] = sticky

        namespace = fields.string(svc, "namespace")
        transport = self.make_servers_transport_key(
            namespace, fields.string(svc, "serversTransport")
        )
        if transport:
            lb["serversTransport"] = transport

        service: dict[str, Any] = {"loadBalancer": lb}
        refs = fields.list_of(svc, "middlewares")
        if refs:
            try:
                service["middlewares"] = make_middleware_keys(self.b, namespace, refs)
            except ReferenceError as exc:
                raise ReferenceError(
                    f"could not create middleware keys: {exc}", exc.reason
                ) from None
        return service

    def make_servers_transport_key(self, parent_namespace: str, name: str) -> str:
        """``makeServersTransportKey``: the ServersTransport's configuration name ("" for none)."""
        if not name:
            return ""
        options = self.b.options
        if "@" in name:
            if not options.allowCrossNamespace and name.endswith("@" + PROVIDER_NAME):
                raise ReferenceError(
                    f"invalid reference to serversTransport {name}: namespace-name@kubernetescrd format "
                    "is not allowed when crossnamespace is disallowed",
                    "CrossNamespaceForbidden",
                )
            if not cross_provider_allowed(options.crossProviderNamespaces, parent_namespace):
                raise ReferenceError(
                    f"serversTransport {go_quote(name)} reference is not allowed: "
                    f"namespace {go_quote(parent_namespace)} is not in crossProviderNamespaces",
                    "CrossProviderForbidden",
                )
            return name
        return normalize(make_id(parent_namespace, name))

    def load_servers(self, svc: Obj) -> list[dict[str, Any]]:
        """``loadServers``: ExternalName, native (ClusterIP), NodePort or EndpointSlice servers."""
        b = self.b
        namespace, name = fields.string(svc, "namespace"), fields.string(svc, "name")
        where = f"{namespace}/{name}"
        service = b.view.service(namespace, name)
        if service is None:
            raise ReferenceError(f"kubernetes service not found: {where}", "ServiceNotFound")
        port = get_service_port(service, fields.int_or_string(svc, "port"))
        port_name = str(port.get("name") or "")
        port_number = core_int(port.get("port"))
        scheme = fields.string(svc, "scheme")
        service_type = spec_of(service).get("type")

        if service_type != "ExternalName" and fields.mapping_ptr(svc, "healthCheck") is not None:
            raise InvalidSpec(f"healthCheck allowed only for ExternalName services: {where}")

        if service_type == "ExternalName":
            if not b.options.allowExternalNameServices:
                raise ReferenceError(
                    f"externalName services not allowed: {where}", "ExternalNameForbidden"
                )
            protocol = parse_service_protocol(scheme, port_name, port_number)
            return [external_name_server(service, port, protocol)]

        native_lb = fields.bool_ptr(svc, "nativeLB")
        if self.native_lb_by_default if native_lb is None else native_lb:
            # The address is checked before the scheme, as in Traefik.
            address = native_service_address(service, port)
            return [
                {"url": f"{parse_service_protocol(scheme, port_name, port_number)}://{address}"}
            ]

        if service_type == "NodePort" and fields.bool_ptr(svc, "nodePortLB"):
            if self.disable_cluster_scope_resources:
                raise InvalidSpec("nodes lookup is disabled")
            nodes = b.view.nodes()
            if not nodes:
                raise ReferenceError(f"nodes not found for NodePort service {where}", "NoEndpoints")
            protocol = parse_service_protocol(scheme, port_name, port_number)
            servers = node_port_servers(nodes, port, protocol)
            if not servers:
                raise ReferenceError(
                    f"no servers were generated for service {name} in namespace", "NoEndpoints"
                )
            return servers

        slices = b.view.endpoint_slices(namespace, name)
        # The scheme is only checked once a slice has the port.
        if any(slice_port(endpoint_slice, port_name) for endpoint_slice in slices):
            protocol = parse_service_protocol(scheme, port_name, port_number)
            servers = endpoint_slice_servers(slices, port_name, protocol)
        else:
            servers = []
        if not servers and not b.options.allowEmptyServices:
            raise ReferenceError(f"no servers found for {where}", "NoEndpoints")
        return servers

    def build_services_lb(self, namespace: str, weighted: Obj, service_id: str) -> None:
        """``buildServicesLB``: a ``weighted`` service ``service_id`` over references (written as it goes)."""
        services = self.b.http["services"]
        wrr = []
        for ref in fields.list_of(weighted, "services"):
            full_name, k8s_service = self.name_and_service(namespace, ref)
            if k8s_service is not None:
                services[full_name] = k8s_service
            weight = fields.int_ptr(ref, "weight")
            wrr.append({"name": full_name, "weight": 1 if weight is None else weight})
        out: dict[str, Any] = {}
        if wrr:
            out["services"] = wrr
        sticky = _sticky(fields.mapping_ptr(weighted, "sticky"))
        if sticky is not None:
            out["sticky"] = sticky
        services[service_id] = {"weighted": out}


def name_and_service(
    b: Builder, parent_namespace: str, spec: Obj
) -> tuple[str, dict[str, Any] | None]:
    """``nameAndService`` with the builder of TraefikServices and errors middlewares (no ``nativeLBByDefault``).

    Returns the name the reference goes by and, for a Kubernetes Service, its
    ``loadBalancer`` service (the caller stores it); raises ``ReferenceError``.
    """
    return ConfigBuilder(b).name_and_service(parent_namespace, spec)
