"""The internal provider and the ``x@internal`` services (ping, API, prometheus, noop).

A built-in plugin like any other: it registers the ``internal`` provider type,
whose snapshot is derived from the static configuration exactly as Traefik's
``pkg/provider/traefik/internal.go`` derives it, so the routers it creates
(``ping@internal``, ``api@internal``, ``dashboard@internal``) show up in the API with Traefik's names.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import TYPE_CHECKING, Any

import anyio
from pydantic import BaseModel

from edgeway import hookimpl
from edgeway.http.message import Handler, Headers, Request, Response
from edgeway.http.status import status_text
from edgeway.registry import ProviderType

if TYPE_CHECKING:
    from edgeway.kernel import Kernel

MAX_INT = sys.maxsize  # Go's math.MaxInt on 64-bit

log = logging.getLogger("edgeway")


class InternalOptions(BaseModel):
    """The internal provider takes no options; it reads the static configuration."""


class InternalProvider:
    def __init__(self, static: Any) -> None:
        self.static = static

    def configuration(self) -> dict[str, Any]:
        routers: dict[str, Any] = {}
        services: dict[str, Any] = {}
        middlewares: dict[str, Any] = {}
        api = getattr(self.static, "api", None)
        ping = getattr(self.static, "ping", None)
        if api is not None:
            if api.insecure:
                base = api.basePath.rstrip("/")
                routers["api"] = {
                    "entryPoints": ["traefik"],
                    "service": "api@internal",
                    "priority": MAX_INT - 1,
                    "rule": f"PathPrefix(`{base}/api`)",
                    "ruleSyntax": "default",
                }
                if api.dashboard:
                    self._dashboard(routers, middlewares)
            services["api"] = {}
            if api.dashboard:
                services["dashboard"] = {}
        if ping is not None:
            if not ping.manualRouting:
                routers["ping"] = {
                    "entryPoints": [ping.entryPoint],
                    "service": "ping@internal",
                    "priority": MAX_INT,
                    "rule": "PathPrefix(`/ping`)",
                    "ruleSyntax": "default",
                }
            services["ping"] = {}
        self._prometheus(routers, services)
        self._redirections(routers, middlewares)
        self._acme(routers, services)
        services["noop"] = {}
        return {"http": {"routers": routers, "services": services, "middlewares": middlewares}}

    @staticmethod
    def _dashboard(routers: dict[str, Any], middlewares: dict[str, Any]) -> None:
        """Insecure mode's dashboard router on ``traefik`` (``apiConfiguration``):
        ``/`` redirects to ``/dashboard/``, whose prefix is stripped before
        ``dashboard@internal`` serves the files."""
        routers["dashboard"] = {
            "entryPoints": ["traefik"],
            "service": "dashboard@internal",
            "priority": MAX_INT - 2,
            "rule": "PathPrefix(`/`)",
            "ruleSyntax": "default",
            "middlewares": ["dashboard_redirect@internal", "dashboard_stripprefix@internal"],
        }
        middlewares["dashboard_redirect"] = {
            "redirectRegex": {
                "regex": r"^(http:\/\/(\[[\w:.]+\]|[\w\._-]+)(:\d+)?)\/$",
                "replacement": "${1}/dashboard/",
                "permanent": True,
            }
        }
        middlewares["dashboard_stripprefix"] = {
            "stripPrefix": {"prefixes": ["/dashboard/", "/dashboard"]}
        }

    def _prometheus(self, routers: dict[str, Any], services: dict[str, Any]) -> None:
        """``prometheusConfiguration``: ``/metrics`` on the configured entry point."""
        metrics = getattr(self.static, "metrics", None)
        prometheus = metrics.prometheus if metrics is not None else None
        if prometheus is None:
            return
        if not prometheus.manualRouting:
            routers["prometheus"] = {
                "entryPoints": [prometheus.entryPoint],
                "service": "prometheus@internal",
                "priority": MAX_INT,
                "rule": "PathPrefix(`/metrics`)",
                "ruleSyntax": "default",
            }
        services["prometheus"] = {}

    def _acme(self, routers: dict[str, Any], services: dict[str, Any]) -> None:
        """The HTTP-01 challenge routers (``acme`` in internal.go): priority MaxInt
        so they outrank redirections, except on ``allowACMEByPass`` entry points."""
        eps = getattr(self.static, "entryPoints", None) or {}
        normal: list[str] = []
        bypass: list[str] = []
        for resolver in (getattr(self.static, "certificatesResolvers", None) or {}).values():
            challenge = resolver.acme.httpChallenge if resolver.acme is not None else None
            if (
                challenge is None
                or not challenge.entryPoint
                or challenge.entryPoint in normal + bypass
            ):
                continue
            ep = eps.get(challenge.entryPoint)
            (bypass if ep is not None and ep.allowACMEByPass else normal).append(
                challenge.entryPoint
            )
        rule = "PathPrefix(`/.well-known/acme-challenge/`)"
        if normal:
            routers["acme-http"] = {
                "rule": rule, "ruleSyntax": "default", "entryPoints": normal,
                "service": "acme-http@internal", "priority": MAX_INT,
            }  # fmt: skip
        if bypass:
            routers["acme-http-bypass"] = {
                "rule": rule,
                "entryPoints": bypass,
                "service": "acme-http@internal",
            }
        if normal or bypass:
            services["acme-http"] = {}

    def _redirections(self, routers: dict[str, Any], middlewares: dict[str, Any]) -> None:
        """``entryPoints.<ep>.http.redirections.entryPoint``: a catch-all router per
        entry point through a redirectScheme middleware (``redirection`` in internal.go)."""
        eps = getattr(self.static, "entryPoints", None) or {}
        for name, ep in eps.items():
            redirect = ep.http.redirections.entryPoint if ep.http.redirections is not None else None
            if redirect is None:
                continue
            if not redirect.to:
                log.error(
                    "entry point %s: Unable to create redirection: the entry point or the port is missing",
                    name,
                )
                continue
            port = _redirect_port(redirect.to, eps)
            if port is None:
                log.error(
                    "entry point %s: 'to' entry point field references a non-existing entry point: %s",
                    name,
                    redirect.to,
                )
                continue
            router = _normalize(f"{name}-to-{redirect.to}")
            middleware = f"redirect-{router}"
            routers[router] = {
                "rule": "HostRegexp(`^.+$`)",
                "ruleSyntax": "default",
                "entryPoints": [name],
                "middlewares": [middleware],
                "service": "noop@internal",
                "priority": redirect.priority,
            }
            middlewares[middleware] = {
                "redirectScheme": {
                    "scheme": redirect.scheme,
                    "port": port,
                    "permanent": redirect.permanent,
                }
            }

    async def snapshot(self) -> dict[str, Any]:
        return self.configuration()

    async def run(self, emit: Any) -> None:
        emit(self.configuration())
        await anyio.sleep_forever()


def _redirect_port(to: str, entrypoints: Any) -> str | None:
    """``getRedirectPort``: ``:port`` as given, else the target entry point's port."""
    if re.fullmatch(r":\d+", to):
        return to[1:]
    target = entrypoints.get(to)
    return None if target is None else str(target.port)


def _normalize(name: str) -> str:
    """``provider.Normalize``: runs of characters other than letters and digits become one ``-``."""
    return "-".join(part for part in re.split(r"[^\w]|_", name) if part)


@hookimpl
def register_providers(register: Any) -> None:
    register(
        ProviderType(
            name="internal",
            config_key="",
            options_model=InternalOptions,
            factory=lambda _options, ctx: InternalProvider(ctx.static),
        )
    )


def internal_services(kernel: Kernel) -> dict[str, Handler]:
    """Handlers of the ``x@internal`` services for ``kernel``."""
    from edgeway.api.handler import api_handler
    from edgeway.dashboard import dashboard_handler

    static = kernel.static
    ping = static.ping
    terminating = ping.terminatingStatusCode if ping is not None else 503

    async def ping_handler(req: Request) -> Response:
        status = terminating if kernel.stopping else (200 if kernel.ready else 503)
        h = Headers([(b"Content-Type", b"text/plain; charset=utf-8")])
        return Response(status, h, status_text(status).encode())

    async def noop(req: Request) -> Response:
        return Response(200)

    handlers: dict[str, Handler] = {
        "ping@internal": ping_handler,
        "api@internal": api_handler(kernel),
        "noop@internal": noop,
    }
    handlers.update(kernel.internal_handlers)
    api = static.api
    if api is not None and api.dashboard:
        handlers["dashboard@internal"] = dashboard_handler(api.basePath)
    if kernel.metrics is not None:
        handlers["prometheus@internal"] = kernel.metrics.handler()
    return handlers
