"""From the merged configuration to live handlers, one routing table per entry point.

Everything the request path will call is built here, once per applied
configuration: rule matchers, middleware chains (through the registry),
balancers and upstream pools. Each object's failure is recorded on that object
(and on the routers that use it); the rest of the configuration still goes live.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from edgeway.accesslog import observe_router
from edgeway.http.message import Handler, Request, Response
from edgeway.http.status import not_found
from edgeway.metrics import Metrics, OnResponse, hoist, request_protocol, unmetered, wrap_optional
from edgeway.pipeline.compile_tcp import TCPCompileInput, compile_tcp
from edgeway.pipeline.compile_udp import compile_udp
from edgeway.pipeline.isolation import guard_plugin
from edgeway.pipeline.merge import Merged
from edgeway.pipeline.models import EntryPointModel, apply_models
from edgeway.pipeline.observability import Switches, switches
from edgeway.pipeline.runtime import (
    DISABLED,
    MiddlewareInfo,
    RouterInfo,
    RuntimeConfiguration,
    ServiceInfo,
    qualify,
)
from edgeway.pipeline.tls_routers import configured_options, resolve_tls_options, tls_hosts
from edgeway.registry import BuildContext, Registry
from edgeway.rules import RuleError, compile_http_rule, default_priority, route_sort_key
from edgeway.services import SERVICE_BUILDERS, BuildError, ServiceContext
from edgeway.services.pools import PoolManager
from edgeway.services.transports import TransportDefaults, Transports
from edgeway.tcp.dialer import TCPTransportDefaults
from edgeway.tcp.routing import TCPRouting
from edgeway.tls.hosts import TLSHosts
from edgeway.tls.manager import TLSManager
from edgeway.tls.options import DEFAULT_OPTIONS_NAME
from edgeway.udp.entrypoint import UDPHandler

if TYPE_CHECKING:
    from edgeway.accesslog import AccessLogger
    from edgeway.tracing import Tracing

log = logging.getLogger("edgeway.config")

MAX_USER_PRIORITY = 2**63 - 1 - 1000  # Traefik's maxUserPriority (MaxInt64 - 1000)

#: Traefik's default ``providers.precedence``: breaks ties between equal priorities.
DEFAULT_PROVIDERS_PRECEDENCE = (
    "kubernetesgateway",
    "kubernetescrd",
    "kubernetes",
    "kubernetesingressnginx",
    "swarm",
    "docker",
    "file",
    "redis",
    "knative",
    "consul",
    "consulcatalog",
    "nomad",
    "etcd",
    "ecs",
    "http",
    "zookeeper",
    "rest",
)


@dataclass
class EntryPointSpec:
    """What the compiler needs to know of a static entry point."""

    name: str
    middlewares: Sequence[str] = ()
    #: The static ``http.tls`` (default TLS for the routers on this entry point).
    tls: Any = None
    #: The static ``observability`` (its routers' defaults, and its 404's switches).
    observability: Any = None


@dataclass
class CompileContext:
    registry: Registry
    pools: PoolManager
    entrypoints: Mapping[str, EntryPointSpec]
    transport_defaults: TransportDefaults = field(default_factory=TransportDefaults)
    #: Handlers of ``x@internal`` services (api, ping, dashboard, noop...).
    internal_services: Mapping[str, Handler] = field(default_factory=dict)
    providers_precedence: Sequence[str] = DEFAULT_PROVIDERS_PRECEDENCE
    workdir: str = "."
    #: TLS options and certificates (None: TLS routers are refused).
    tls: TLSManager | None = None
    #: TCP and UDP (see compile_tcp / compile_udp): the static ``tcpServersTransport``
    #: and the UDP entry points.
    tcp_transport_defaults: TCPTransportDefaults = field(default_factory=TCPTransportDefaults)
    udp_entrypoints: Sequence[str] = ()
    #: The static ``accessLog``'s logger: routers whose ``observability`` keeps
    #: access logs are wrapped with it, and record their names for it (None:
    #: nothing of it is compiled in and requests do nothing for it).
    access_log: AccessLogger | None = None
    #: The static ``tracing`` is set: handlers are wrapped with its spans (None:
    #: nothing is wrapped and requests do nothing for it).
    tracing: Tracing | None = None
    #: Prometheus metrics (None: off, and nothing of it is compiled in).
    metrics: Metrics | None = None
    #: Certificate resolvers by name: None when usable, else why not.
    cert_resolvers: Mapping[str, str | None] = field(default_factory=dict)


@dataclass
class Compiled:
    runtime: RuntimeConfiguration
    handlers: dict[str, Handler]
    #: Per entry point: the TLS routers' handler and the SNI -> TLS options table.
    https_handlers: dict[str, Handler] = field(default_factory=dict)
    tls_hosts: dict[str, TLSHosts] = field(default_factory=dict)
    #: Background work of this configuration (active health checks...): the
    #: kernel runs each while the configuration is live and cancels it after.
    tasks: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    #: TCP routing table of each TCP entry point that has TCP routers.
    tcp: dict[str, TCPRouting] = field(default_factory=dict)
    #: Handler of each UDP entry point (None: no usable UDP router).
    udp: dict[str, UDPHandler | None] = field(default_factory=dict)


def compile_configuration(merged: Merged, ctx: CompileContext) -> Compiled:
    return _Compiler(merged, ctx).run()


class _Compiler:
    def __init__(self, merged: Merged, ctx: CompileContext) -> None:
        # Entry-point models, then TLS options conflicts (Traefik's configuration watcher).
        models = {
            name: EntryPointModel(spec.middlewares, spec.tls, spec.observability)
            for name, spec in ctx.entrypoints.items()
        }
        routers, self.resolved_tls = resolve_tls_options(apply_models(merged.routers, models))
        merged = dataclasses.replace(merged, routers=routers)
        self.m = merged
        self.ctx = ctx
        # A router that turns metrics off must not be counted by the services it
        # shares with others: their meters check for its mark (only then).
        metrics_gated = ctx.metrics is not None and any(
            not switches(cfg.observability).metrics for _, cfg in routers.values()
        )
        #: Routers with detailed traces: only their middlewares (and, if there is
        #: any, the servers) are compiled with the detailed spans' wrappers.
        self.detailed: set[str] = {
            name
            for name, (provider, cfg) in routers.items()
            if self._switches(
                cfg.observability, qualify(cfg.service or "", provider).endswith("@internal")
            ).detailed
        }
        self.rt = RuntimeConfiguration(errors=list(merged.errors))
        self.service_handlers: dict[str, Handler] = {}
        self.building_services: list[str] = []
        self.tasks: list[Callable[[], Awaitable[None]]] = []
        self.services = ServiceContext(
            service=self._service,
            pools=ctx.pools,
            transports=Transports(merged.transports, ctx.transport_defaults, ctx.workdir),
            add_task=self.tasks.append,
            runtime=self.rt,
            access_log=ctx.access_log,
            metrics_gated=metrics_gated,
            tracing=ctx.tracing,
            detailed_tracing=bool(self.detailed),
            metrics=ctx.metrics,
        )
        #: Router handlers are built once and shared by the router's entry points.
        self.router_handlers: dict[str, tuple[Callable[[Request], bool], Handler]] = {}
        rt = self.rt
        info_tables: list[tuple[Mapping[str, tuple[str, Any]], dict[str, Any], type]] = [
            (merged.routers, rt.routers, RouterInfo),
            (merged.services, rt.services, ServiceInfo),
            (merged.middlewares, rt.middlewares, MiddlewareInfo),
            (merged.tcp_routers, rt.tcp_routers, RouterInfo),
            (merged.tcp_services, rt.tcp_services, ServiceInfo),
            (merged.tcp_middlewares, rt.tcp_middlewares, MiddlewareInfo),
            (merged.udp_routers, rt.udp_routers, RouterInfo),
            (merged.udp_services, rt.udp_services, ServiceInfo),
        ]
        for source, target, info_type in info_tables:
            for qname, (provider, config) in source.items():
                target[qname] = info_type(qname, provider, config)

    def run(self) -> Compiled:
        rt = self.rt
        unsupported = "{} are not supported by this version of edgeway yet"
        ctx = self.ctx
        tcp = compile_tcp(
            TCPCompileInput(
                routers=rt.tcp_routers,
                entrypoints=list(ctx.entrypoints),
                transports=self.m.tcp_transports,
                tls_options=self.m.tls_options,
                defaults=ctx.tcp_transport_defaults,
                providers_precedence=ctx.providers_precedence,
                workdir=ctx.workdir,
                max_user_priority=MAX_USER_PRIORITY,
                tls_options_error=self._options_error,
            ),
            rt,
            self.tasks.append,
        )
        udp = compile_udp(rt, ctx.udp_entrypoints)

        by_ep: dict[str, list[RouterInfo]] = {name: [] for name in self.ctx.entrypoints}
        by_ep_tls: dict[str, list[RouterInfo]] = {name: [] for name in self.ctx.entrypoints}
        for info in rt.routers.values():
            cfg = info.config
            if cfg.tls is not None and cfg.tls.certResolver:
                resolver_error = self._resolver_error(cfg.tls.certResolver)
                if resolver_error is not None:
                    info.add_error(resolver_error, False)
            if cfg.parentRefs:
                info.add_error(unsupported.format("child routers (parentRefs)"), True)
                continue
            for ep in info.use_entrypoints(cfg.entryPoints or [], by_ep):
                (by_ep if cfg.tls is None else by_ep_tls)[ep].append(info)

        handlers: dict[str, Handler] = {}
        https: dict[str, Handler] = {}
        hosts: dict[str, TLSHosts] = {}
        for ep, routers in by_ep.items():
            handlers[ep] = self._entrypoint_handler(ep, routers)
            https[ep] = self._entrypoint_handler(ep, by_ep_tls[ep])
            hosts[ep] = tls_hosts(by_ep_tls[ep], self.resolved_tls, self._options_error)
        rt.populate_used_by()
        return Compiled(
            rt, handlers, https_handlers=https, tls_hosts=hosts, tasks=self.tasks, tcp=tcp, udp=udp
        )

    def _resolver_error(self, name: str) -> str | None:
        """Why a router's ``certResolver`` gives it no certificate (it is still
        served with the TLS stores' certificates, as Traefik does)."""
        resolvers = self.ctx.cert_resolvers
        if name not in resolvers:
            return f'certificate resolver "{name}" does not exist (see the static certificatesResolvers)'
        error = resolvers[name]
        return None if error is None else f'certificate resolver "{name}" is not available: {error}'

    def _options_error(self, name: str) -> str | None:
        tls = self.ctx.tls
        return tls.options_error(name) if tls is not None else "TLS termination is not available"

    # -- routers ------------------------------------------------------------

    def _entrypoint_handler(self, ep: str, routers: list[RouterInfo]) -> Handler:
        routes: list[tuple[Any, Callable[[Request], bool], Handler, OnResponse | None]] = []
        built = self.router_handlers
        metrics = self.ctx.metrics
        for info in sorted(routers, key=lambda i: i.name):
            if info.status == DISABLED:
                continue
            cfg = info.config
            rule = cfg.rule or ""
            priority = cfg.priority or default_priority(rule)
            info.priority = priority
            if priority > MAX_USER_PRIORITY and not info.name.endswith("@internal"):
                info.add_error(
                    f"the router priority {priority} exceeds the max user-defined priority {MAX_USER_PRIORITY}",
                    True,
                )
                continue
            service = qualify(cfg.service or "", info.provider)
            on = self._switches(cfg.observability, service.endswith("@internal"))
            try:
                if info.name in built:
                    matcher, handler = built[info.name]
                else:
                    matcher = compile_http_rule(rule)
                    handler = self._router_handler(info, ep)
                    if on.access_logs:
                        handler = observe_router(info.name, handler)
                    if on.metrics:
                        assert metrics is not None
                        handler = wrap_optional(metrics.router(info.name, service), handler)
                    built[info.name] = (matcher, handler)
                handler, on_response = self._observed_entrypoint(ep, on, handler)
            except RuleError as exc:
                info.add_error(f"error while parsing rule {rule}: {exc}", True)
                continue
            except BuildError as exc:
                info.add_error(str(exc), True)
                continue
            key = route_sort_key(priority, info.name, self.ctx.providers_precedence)
            routes.append((key, matcher, handler, on_response))
        routes.sort(key=lambda r: r[0])
        spec = self.ctx.entrypoints[ep]
        default = self._observed_entrypoint(ep, self._switches(spec.observability, False), _not_found)
        return _dispatcher([(m, h, o) for _, m, h, o in routes], default)

    def _switches(self, observability: Any, internal: bool) -> Switches:
        """What a router gives (Traefik's ``shouldAccessLog``/``shouldMeter``/
        ``shouldTrace``): a configured signal, on in its ``observability``, and
        for ``@internal`` services only with that signal's ``addInternals``."""
        ctx, on = self.ctx, switches(observability)
        logger, metrics, tracing = ctx.access_log, ctx.metrics, ctx.tracing
        traced = tracing is not None and on.tracing and (tracing.add_internals or not internal)
        return Switches(
            access_logs=logger is not None and on.access_logs and (logger.add_internals or not internal),
            metrics=metrics is not None and on.metrics and (metrics.add_internals or not internal),
            tracing=traced,
            detailed=traced and on.detailed,
        )

    def _observed_entrypoint(
        self, ep: str, on: Switches, handler: Handler
    ) -> tuple[Handler, OnResponse | None]:
        """Traefik's per-router entry point chain (``BuildEPChain``): the entry point
        span, then the access log, then the entry point's meter, each only if on.

        The route's outermost meters are returned apart, for the dispatcher to
        hand to the server (see :func:`edgeway.metrics.hoist`): only the access log
        and tracing, which keep the response as it is, are outside them."""
        ctx = self.ctx
        on_response = None
        if on.metrics:
            assert ctx.metrics is not None
            handler, on_response = hoist(wrap_optional(ctx.metrics.entrypoint(ep), handler))
        elif self.services.metrics_gated:
            handler = unmetered(handler)
        if on.access_logs:
            assert ctx.access_log is not None
            handler = ctx.access_log.wrap(handler, ep)
        if on.tracing:
            assert ctx.tracing is not None
            handler = ctx.tracing.entry_point(ep, handler, on.detailed)
        return handler, on_response

    def _router_handler(self, info: RouterInfo, ep: str) -> Handler:
        cfg = info.config
        if cfg.tls is not None:  # buildRouterHandler: the router's own options must build
            error = self._options_error(configured_options(info.name, cfg.tls))
            if error is not None:
                raise BuildError(f"building router handler: {error}")
        if not cfg.service:
            raise BuildError("router has no service and no child routers")
        handler = self._service(qualify(cfg.service, info.provider))
        handler = self._chain(cfg.middlewares or [], info.provider, handler, info.name, [])
        if cfg.tls is not None:
            handler = sni_check(self.resolved_tls.get(info.name, DEFAULT_OPTIONS_NAME), handler)
        if self.ctx.tracing is not None and info.name in self.detailed:
            service = qualify(cfg.service, info.provider)
            handler = self.ctx.tracing.router(info.name, cfg.rule or "", service, handler)
        return handler

    # -- middlewares --------------------------------------------------------

    def _chain(
        self, names: Sequence[str], provider: str, handler: Handler, owner: str, stack: list[str]
    ) -> Handler:
        for name in reversed(names):
            handler = self._middleware(qualify(name, provider), handler, owner, stack)
        return handler

    def _middleware(self, qname: str, next_: Handler, owner: str, stack: list[str]) -> Handler:
        info = self.rt.middlewares.get(qname)
        if info is None:
            raise BuildError(f'middleware "{qname}" does not exist')
        if qname in stack:
            cycle = " -> ".join([*stack[stack.index(qname) :], qname])
            err = f"recursion detected in chain: {cycle}"
            info.add_error(err, True)
            raise BuildError(err)
        if info.status == DISABLED:
            raise BuildError(f'middleware "{qname}": {"; ".join(info.errors)}')
        cfg = info.config
        kinds = cfg.kinds()
        try:
            if len(kinds) != 1:
                if kinds:
                    raise BuildError(
                        "cannot create middleware: multi-types middleware not supported, "
                        "consider declaring two different pieces of middleware instead"
                    )
                raise BuildError(
                    f'invalid middleware "{qname}" configuration: invalid middleware type or middleware does not exist'
                )
            kind = kinds[0]
            if kind == "chain":
                return self._chain(
                    cfg.chain.middlewares or [], info.provider, next_, owner, [*stack, qname]
                )
            if kind == "plugin":
                handler = self._plugin_middleware(qname, cfg.plugin, next_, owner)
            else:
                mtype = self.ctx.registry.middlewares.get(kind)
                if mtype is None or mtype.plugin:
                    raise BuildError(
                        f'middleware type "{kind}" is not available: no installed plugin provides it'
                    )
                handler = mtype.build(getattr(cfg, kind), next_, self._build_context(qname, owner))
            tracing = self.ctx.tracing
            # Spans for detailed routers' middlewares (a service's: if any router is detailed).
            detailed = owner in self.detailed if owner in self.rt.routers else bool(self.detailed)
            return tracing.middleware(kind, qname, handler) if tracing and detailed else handler
        except BuildError as exc:
            if not str(exc).startswith("middleware "):
                info.add_error(str(exc), True)
            raise
        except ValueError as exc:
            info.add_error(str(exc), True)
            raise BuildError(f'middleware "{qname}": {exc}') from exc

    def _plugin_middleware(
        self, qname: str, plugin: Mapping[str, Any], next_: Handler, owner: str
    ) -> Handler:
        if len(plugin) != 1:
            raise BuildError("a plugin middleware must name exactly one plugin")
        ((pname, options),) = plugin.items()
        mtype = self.ctx.registry.middlewares.get(pname)
        if mtype is None or not mtype.plugin:
            raise BuildError(
                f'plugin "{pname}" is not installed (pip install the package that provides it)'
            )
        try:
            opts = mtype.options_model.model_validate(options or {})
        except ValidationError as exc:
            raise BuildError(f"plugin {pname}: {_validation_message(exc)}") from exc
        return guard_plugin(mtype, opts, next_, self._build_context(qname, owner), self.rt)

    def _build_context(self, qname: str, owner: str) -> BuildContext:
        return BuildContext(
            name=qname,
            router=owner,
            service_handler=self._service,
            workdir=self.ctx.workdir,
            pools=self.ctx.pools,
            retried=self._retry_meter(owner),
        )

    def _retry_meter(self, owner: str) -> Callable[[], None] | None:
        """What a retry middleware of ``owner`` (a router, or a service) counts its
        retries on: the service's ``traefik_service_retries_total``."""
        metrics = self.ctx.metrics
        if metrics is None:
            return None
        router = self.rt.routers.get(owner)
        service = (
            qualify(router.config.service or "", router.provider) if router is not None else owner
        )
        meter = metrics.service(service)
        return meter.retried if meter is not None else None

    # -- services -----------------------------------------------------------

    def _service(self, qname: str) -> Handler:
        cached = self.service_handlers.get(qname)
        if cached is not None:
            return cached
        internal = self.ctx.internal_services.get(qname)
        if internal is not None:
            return internal
        info = self.rt.services.get(qname)
        if info is None:
            raise BuildError(f'the service "{qname}" does not exist')
        if info.status == DISABLED:
            raise BuildError("; ".join(info.errors))
        if qname in self.building_services:
            err = f"recursion detected in service: {' -> '.join([*self.building_services, qname])}"
            info.add_error(err, True)
            raise BuildError(err)
        self.building_services.append(qname)
        try:
            handler = self._build_service(info)
            if info.config.middlewares:
                handler = self._chain(info.config.middlewares, info.provider, handler, qname, [])
        except BuildError as exc:
            info.add_error(str(exc), True)
            raise
        finally:
            self.building_services.pop()
        self.service_handlers[qname] = handler
        return handler

    def _build_service(self, info: ServiceInfo) -> Handler:
        kinds = info.config.kinds()
        if len(kinds) > 1:
            raise BuildError(
                "cannot create service: multi-types service not supported, "
                "consider declaring two different pieces of service instead"
            )
        if not kinds:
            raise BuildError(f'the service "{info.name}" does not have any type defined')
        builder = SERVICE_BUILDERS.get(kinds[0])
        if builder is None:
            raise BuildError(
                f'"{kinds[0]}" services are not supported by this version of edgeway yet'
            )
        return builder(info, getattr(info.config, kinds[0]), self.services)


def _validation_message(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()
    )


async def _not_found(req: Request) -> Response:
    return not_found()


def sni_check(options: str, next_: Handler) -> Handler:
    """Traefik's snicheck middleware: a request on a TLS connection negotiated with
    other options than the router's gets 421 (its Host was not the SNI's)."""
    misdirected = Response.text(421, "Misdirected Request")

    def check(req: Request) -> Awaitable[Response]:
        tls = req.tls
        if tls is not None and getattr(tls, "tls_options", DEFAULT_OPTIONS_NAME) != options:
            return _answer(misdirected)
        return next_(req)

    return check


async def _answer(template: Response) -> Response:
    return Response(template.status, template.headers.copy(), template.body)


def _dispatcher(
    routes: list[tuple[Callable[[Request], bool], Handler, OnResponse | None]],
    default: tuple[Handler, OnResponse | None] = (_not_found, None),
) -> Handler:
    """The entry point's handler: first matching route, else ``default`` (Go's 404).

    A plain function returning the route's awaitable, not a coroutine of its
    own: one frame less per request. A route's hoisted meters are handed to the
    server with the time the request was taken (``Request.on_response``).
    """
    perf = time.perf_counter

    def dispatch(req: Request) -> Awaitable[Response]:
        for match, handler, on_response in routes:  # noqa: B007 (the route found is used below)
            if match(req):
                break
        else:
            handler, on_response = default
        if on_response is not None:
            req.on_response = on_response
            req.started = perf()
            if req.protocol is None:  # (HTTP/2) labelled as it arrives, as HTTP/1.1
                request_protocol(req)
        return handler(req)

    return dispatch
