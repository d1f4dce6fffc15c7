"""TCP routers, services and middlewares → one :class:`TCPRouting` per entry point.

Follows Traefik's ``Manager.addTCPHandlers`` (pkg/server/router/tcp/manager.go)
for the checks and their messages, in its order: service, rule, HostSNI
without TLS, priority, then the handler (service first, then the middleware
chain), then the route. A router with broken TLS options still gets a route,
which closes connections (``brokenTLSRouter``). Handlers are built once per
router and shared by its entry points; services once per configuration.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from edgeway.pipeline.runtime import (
    DISABLED,
    RouterInfo,
    RuntimeConfiguration,
    ServiceInfo,
    qualify,
)
from edgeway.rules import (
    Matcher,
    RuleError,
    compile_tcp_rule,
    default_tcp_priority,
    parse_rule,
    route_sort_key,
    rule_hosts,
    tcp_is_catch_all,
)
from edgeway.rules.parser import go_quote
from edgeway.services import BuildError
from edgeway.services.transports import TransportDefaults, Transports
from edgeway.tcp.conn import TCPHandler
from edgeway.tcp.dialer import DialerManager, TCPTransportDefaults
from edgeway.tcp.middlewares import PRECEDENCE, TCP_MIDDLEWARE_BUILDERS
from edgeway.tcp.routing import Route, TCPRouting, TLSRoute, close_connection
from edgeway.tcp.services import TCP_SERVICE_BUILDERS, TCPServiceContext

__all__ = ["TCPCompileInput", "compile_tcp"]

log = logging.getLogger("edgeway.config")

DEFAULT_TLS_OPTIONS = "default"


@dataclass
class TCPCompileInput:
    """What the TCP compiler needs of the merged configuration and the static one."""

    routers: Mapping[str, RouterInfo]
    entrypoints: Sequence[str]
    transports: Mapping[str, tuple[str, Any]]
    tls_options: Mapping[str, Any]
    defaults: TCPTransportDefaults = field(default_factory=TCPTransportDefaults)
    providers_precedence: Sequence[str] = ()
    workdir: str = "."
    max_user_priority: int = 2**63 - 1 - 1000
    #: Why TLS options ``name`` cannot be used (None when they can); default: they must exist.
    tls_options_error: Callable[[str], str | None] | None = None


def compile_tcp(
    given: TCPCompileInput, rt: RuntimeConfiguration, add_task: Callable[[Callable[[], Awaitable[None]]], None]
) -> dict[str, TCPRouting]:
    return _TCPCompiler(given, rt, add_task).run()


class _TCPCompiler:
    def __init__(
        self, given: TCPCompileInput, rt: RuntimeConfiguration, add_task: Callable[[Callable[[], Awaitable[None]]], None]
    ) -> None:
        self.given = given
        self.rt = rt
        transports = Transports({}, TransportDefaults(), given.workdir)
        self.services = TCPServiceContext(
            service=self._service,
            dialers=DialerManager(given.transports, given.defaults, transports),
            add_task=add_task,
            runtime=rt,
        )
        self.service_handlers: dict[str, TCPHandler] = {}
        self.building: list[str] = []
        #: Router name -> (plain route, or TLS route) built once for all its entry points.
        self.built: dict[str, tuple[Route, TLSRoute | None] | None] = {}

    def run(self) -> dict[str, TCPRouting]:
        by_ep: dict[str, list[RouterInfo]] = {ep: [] for ep in self.given.entrypoints}
        for info in self.rt.tcp_routers.values():
            for ep in info.use_entrypoints(info.config.entryPoints or [], by_ep):
                by_ep[ep].append(info)
        out: dict[str, TCPRouting] = {}
        for ep, routers in by_ep.items():
            if routers:
                out[ep] = self._routing(routers)
        return out

    def _routing(self, routers: list[RouterInfo]) -> TCPRouting:
        plain: list[tuple[Any, Route]] = []
        tls: list[tuple[Any, Route, TLSRoute]] = []
        for info in sorted(routers, key=lambda i: i.name):
            if info.status == DISABLED and info.name not in self.built:
                continue
            if info.name not in self.built:
                self.built[info.name] = self._router(info)
            built = self.built[info.name]
            if built is None:
                continue
            route, tls_route = built
            key = route_sort_key(info.priority, info.name, self.given.providers_precedence)
            if tls_route is None:
                plain.append((key, route))
            else:
                tls.append((key, route, tls_route))
        plain.sort(key=lambda r: r[0])
        tls.sort(key=lambda r: r[0])
        return TCPRouting([r for _, r in plain], [(r, t) for _, r, t in tls])

    # -- routers ------------------------------------------------------------

    def _router(self, info: RouterInfo) -> tuple[Route, TLSRoute | None] | None:
        cfg = info.config
        rule = cfg.rule or ""
        info.priority = cfg.priority or default_tcp_priority(rule)
        if not cfg.service:
            info.add_error("the service is missing on the router", True)
            return None
        if not rule:
            info.add_error("router has no rule", True)
            return None
        try:
            domains = rule_hosts(rule, tcp=True)
        except RuleError as exc:
            info.add_error(f"invalid rule: {go_quote(rule)} , {exc}", True)
            return None
        tls = cfg.tls
        if domains and tls is None and domains[0] != "*":
            info.add_error(f"invalid rule: {go_quote(rule)} , has HostSNI matcher, but no TLS on router", True)
            return None
        if info.priority > self.given.max_user_priority and not info.name.endswith("@internal"):
            info.add_error(
                f"the router priority {info.priority} exceeds the max user-defined priority {self.given.max_user_priority}",
                True,
            )
            return None
        if cfg.ruleSyntax == "v2":
            info.add_error("ruleSyntax v2 is not supported by this version of edgeway: use the v3 syntax", True)
            return None
        try:
            if tls is None or tls.passthrough:
                handler = self._router_handler(info)
                route = self._route(info, rule, handler)
                if tls is None:
                    return route, None
                return route, TLSRoute(handler, True, None, route.catch_all)
            return self._terminating(info, rule, domains)
        except (BuildError, RuleError) as exc:
            info.add_error(str(exc), True)
            return None

    def _terminating(self, info: RouterInfo, rule: str, domains: list[str]) -> tuple[Route, TLSRoute]:
        for domain in domains:
            if not domain.isascii():
                info.add_error(f'invalid domain name value "{domain}", non-ASCII characters are not allowed', True)
        options = info.config.tls.options or DEFAULT_TLS_OPTIONS
        if options != DEFAULT_TLS_OPTIONS:
            options = qualify(options, info.provider)
        problem = self._tls_options_error(options)
        if problem is not None:
            info.add_error(problem, True)
            route = self._route(info, rule, close_connection)
            return route, TLSRoute(close_connection, True, None, route.catch_all)
        handler = self._router_handler(info)
        route = self._route(info, rule, handler)
        return route, TLSRoute(handler, False, options, route.catch_all)

    def _tls_options_error(self, name: str) -> str | None:
        check = self.given.tls_options_error
        if check is not None:
            return check(name)
        if name == DEFAULT_TLS_OPTIONS or name in self.given.tls_options:
            return None
        return f"unknown TLS options: {name}"

    def _route(self, info: RouterInfo, rule: str, handler: TCPHandler) -> Route:
        try:
            match = compile_tcp_rule(rule)
        except RuleError as exc:
            raise RuleError(f"error while adding rule {rule}: {exc}") from None
        return Route(match, handler, tcp_is_catch_all(rule), _matches_all(rule))

    def _router_handler(self, info: RouterInfo) -> TCPHandler:
        """Service first, then the middlewares around it (``Chain.Then`` order)."""
        handler = self._service(qualify(info.config.service, info.provider), info.config.service)
        for name in reversed(info.config.middlewares or []):
            handler = self._middleware(qualify(name, info.provider), handler)
        return handler

    def _middleware(self, qname: str, next_: TCPHandler) -> TCPHandler:
        info = self.rt.tcp_middlewares.get(qname)
        if info is None:
            raise BuildError(f'middleware "{qname}" does not exist')
        kinds = info.config.kinds()
        kind = next((k for k in PRECEDENCE if k in kinds), None)
        if kind is None:
            err = f'invalid middleware "{qname}" configuration: invalid middleware type or middleware does not exist'
            info.add_error(err, True)
            raise BuildError(err)
        try:
            return TCP_MIDDLEWARE_BUILDERS[kind](getattr(info.config, kind), next_, qname)
        except ValueError as exc:
            info.add_error(str(exc), True)
            raise BuildError(str(exc)) from None

    # -- services -----------------------------------------------------------

    def _service(self, qname: str, as_written: str) -> TCPHandler:
        cached = self.service_handlers.get(qname)
        if cached is not None:
            return cached
        info = self.rt.tcp_services.get(qname)
        if info is None:
            raise BuildError(f'the service "{qname}" does not exist')
        if qname in self.building:
            err = f"recursion detected in service: {' -> '.join([*self.building, qname])}"
            info.add_error(err, True)
            raise BuildError(err)
        self.building.append(qname)
        try:
            handler = self._build_service(info)
        finally:
            self.building.pop()
        self.service_handlers[qname] = handler
        return handler

    def _build_service(self, info: ServiceInfo) -> TCPHandler:
        kinds = info.config.kinds()
        if len(kinds) > 1:
            err = (
                "cannot create service: multi-types service not supported, "
                "consider declaring two different pieces of service instead"
            )
            info.add_error(err, True)
            raise BuildError(err)
        if not kinds:
            err = f'the service "{info.name}" does not have any type defined'
            info.add_error(err, True)
            raise BuildError(err)
        return TCP_SERVICE_BUILDERS[kinds[0]](info, getattr(info.config, kinds[0]), self.services)


def _matches_all(rule: str) -> bool:
    """Whether the rule is the non-negated ``HostSNI(`*`)``, true for every connection."""
    try:
        node = parse_rule(rule, ("HostSNI",))
    except RuleError:
        return False
    return isinstance(node, Matcher) and node.args == ("*",)
