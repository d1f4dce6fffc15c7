"""Active ``healthCheck`` of a load balancer's servers, as Traefik's ``ServiceHealthChecker``.

A background task of the configuration checks the servers that are up every
``interval`` and those that are down every ``unhealthyInterval``; each result
sets the server's status in the balancer (which tells its parents when the
service as a whole goes up or down) and in the ``serverStatus`` the API shows.
The checks are control-plane traffic: they go through httpcore, with the TLS
settings of the service's ``serversTransport``; ``mode: grpc`` calls the gRPC
health service instead (:mod:`edgeway.services.grpchealth`).
"""

from __future__ import annotations

import base64
import logging
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import anyio
import httpcore

from edgeway.http.message import canonical_header_name
from edgeway.pipeline.runtime import ServiceInfo
from edgeway.services.balancer import Balancer
from edgeway.services.grpchealth import (
    NO_TRANSPORT_SECURITY,
    GrpcHealthError,
    check_grpc_health,
    grpc_address,
)

log = logging.getLogger("edgeway.healthcheck")

DEFAULT_INTERVAL = 30.0
DEFAULT_TIMEOUT = 5.0


def check_intervals(cfg: Any) -> tuple[float, float, float]:
    """``(interval, unhealthyInterval, timeout)`` of a health check with Traefik's
    defaults (HTTP and TCP checks alike): unset or non-positive means the default,
    and ``unhealthyInterval`` follows ``interval`` unless set."""
    interval = cfg.interval if cfg.interval and cfg.interval > 0 else DEFAULT_INTERVAL
    unhealthy = cfg.unhealthyInterval
    if unhealthy is None:
        unhealthy = interval
    elif unhealthy <= 0:
        unhealthy = DEFAULT_INTERVAL
    timeout = cfg.timeout if cfg.timeout and cfg.timeout > 0 else DEFAULT_TIMEOUT
    return interval, unhealthy, timeout
MAX_REDIRECTS = 10
_SENSITIVE = frozenset({b"authorization", b"www-authenticate", b"cookie", b"cookie2"})


@dataclass
class Target:
    name: str  # the server URL as configured: the balancer's child name and the serverStatus key
    url: str  # what is checked; "" when the configured path is unusable
    error: str = ""
    auth: bytes = b""  # Authorization from the URL's user:password
    host: str = ""  # mode grpc: where to dial
    port: int = 0


class HealthChecker:
    def __init__(
        self,
        cfg: Any,
        balancer: Balancer,
        info: ServiceInfo,
        servers: list[str],
        ssl_context: ssl.SSLContext | None,
        server_name: str = "",
    ) -> None:
        self.grpc = cfg.mode == "grpc"  # Traefik: any other mode is HTTP
        self.balancer = balancer
        self.info = info
        self.interval, self.unhealthy_interval, self.timeout = check_intervals(cfg)
        self.method = (cfg.method or "GET").encode()
        self.status = cfg.status or 0
        self.hostname = (cfg.hostname or "").encode("latin-1")
        self.follow = cfg.followRedirects is not False
        self.headers = [(canonical_header_name(k), v.encode("latin-1")) for k, v in (cfg.headers or {}).items()]
        self.ssl_context = ssl_context
        self.server_name = server_name
        make = _grpc_target if self.grpc else _target
        self.healthy = [make(cfg, url) for url in dict.fromkeys(servers)]
        self.unhealthy: list[Target] = []

    async def run(self) -> None:
        pool_options: dict[str, Any] = {"retries": 0}
        if self.ssl_context is not None:
            pool_options["ssl_context"] = self.ssl_context
        async with httpcore.AsyncConnectionPool(**pool_options) as http, anyio.create_task_group() as tg:
            tg.start_soon(self._loop, http, False)
            await self._loop(http, True)

    async def _loop(self, http: httpcore.AsyncConnectionPool, healthy: bool) -> None:
        """Go's ticker: every interval, check the targets of this list, once each."""
        interval = self.interval if healthy else self.unhealthy_interval
        next_tick = anyio.current_time() + interval
        while True:
            await anyio.sleep(max(0.0, next_tick - anyio.current_time()))
            next_tick = max(next_tick + interval, anyio.current_time())
            source = self.healthy if healthy else self.unhealthy
            batch, source[:] = list(source), []
            for target in batch:
                error = await self.check(http, target)
                up = error is None
                if error is not None:
                    log.warning("Health check failed for %s of %s: %s", target.name, self.info.name, error)
                self.balancer.set_status(target.name, up)
                (self.healthy if up else self.unhealthy).append(target)
                self.info.server_status[target.name] = "UP" if up else "DOWN"

    async def check(self, http: httpcore.AsyncConnectionPool, target: Target) -> str | None:
        """None when the server is healthy, else why not."""
        if target.error:
            return target.error
        if self.grpc:
            try:
                await check_grpc_health(target.host, target.port, target.url, self.timeout)
            except GrpcHealthError as exc:
                return f"checking gRPC health: {exc}"
            return None
        error = await self._check_http(http, target)
        return None if error is None else f"checking HTTP health: {error}"

    async def _check_http(self, http: httpcore.AsyncConnectionPool, target: Target) -> str | None:
        try:
            with anyio.fail_after(self.timeout):
                status = await self._exchange(http, target.url, target.auth)
        except TimeoutError:
            return "HTTP request failed: context deadline exceeded"
        except _TooManyRedirects:
            return f"HTTP request failed: stopped after {MAX_REDIRECTS} redirects"
        except Exception as exc:  # connection refused, TLS, protocol errors...
            return f"HTTP request failed: {exc or type(exc).__name__}"
        if self.status == 0 and not 200 <= status < 400:
            return f"received error status code: {status}"
        if self.status and status != self.status:
            return f"received error status code: {status} expected status code: {self.status}"
        return None

    async def _exchange(self, http: httpcore.AsyncConnectionPool, url: str, auth: bytes) -> int:
        method = self.method
        headers = list(self.headers)
        if auth and not any(n.lower() == b"authorization" for n, _ in headers):
            headers.append((b"Authorization", auth))
        host = self.hostname
        for redirects in range(MAX_REDIRECTS + 1):
            netloc = urlsplit(url).netloc.encode("idna")
            request_headers = [(b"Host", host or netloc)]
            if not any(n.lower() == b"user-agent" for n, _ in headers):
                request_headers.append((b"User-Agent", b"Go-http-client/1.1"))
            request_headers += headers
            extensions: dict[str, Any] = {}
            if self.server_name:
                extensions["sni_hostname"] = self.server_name
            resp = await http.request(method, url, headers=request_headers, extensions=extensions)
            location = _header(resp.headers, b"location")
            if not self.follow or resp.status not in (301, 302, 303, 307, 308) or location is None:
                return resp.status
            if redirects == MAX_REDIRECTS:
                raise _TooManyRedirects
            # Go's http.Client redirect rules.
            next_url = urljoin(url, location.decode("latin-1"))
            if resp.status in (301, 302, 303) and method not in (b"GET", b"HEAD"):
                method = b"GET"
            if host and urlsplit(location.decode("latin-1")).scheme:
                host = b""  # a custom Host survives only relative redirects
            if urlsplit(next_url).hostname != urlsplit(url).hostname:
                headers = [(n, v) for n, v in headers if n.lower() not in _SENSITIVE]
            url = next_url
        raise _TooManyRedirects  # pragma: no cover - the loop returns or raises


class _TooManyRedirects(Exception):
    pass


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for n, v in headers:
        if n.lower() == name:
            return v
    return None


def _target(cfg: Any, server_url: str) -> Target:
    """The URL checked for a server: its URL with ``path``, ``scheme`` and ``port`` applied."""
    path = cfg.path or ""
    ref = urlsplit(path)
    if ref.scheme or ref.netloc:
        return Target(server_url, "", f"checking HTTP health: create HTTP request: health check path must be a relative URL, got: \"{path}\"")
    parts = urlsplit(urljoin(server_url, path))
    scheme = cfg.scheme or parts.scheme
    userinfo, _, netloc = parts.netloc.rpartition("@")
    if cfg.port:
        host = parts.hostname or ""
        netloc = f"[{host}]:{cfg.port}" if ":" in host else f"{host}:{cfg.port}"
    auth = b""
    if userinfo:  # Go's client turns the URL's user:password into basic auth
        user, _, password = userinfo.partition(":")
        auth = b"Basic " + base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode())
    return Target(server_url, urlunsplit((scheme, netloc, parts.path or "/", parts.query, "")), auth=auth)


def _grpc_target(cfg: Any, server_url: str) -> Target:
    """Traefik's ``checkHealthGRPC`` dials the URL's host and port (``port`` wins),
    in cleartext; another ``scheme`` leaves grpc-go without credentials."""
    host, port, address = grpc_address(server_url, cfg.port)
    target = Target(server_url, address, host=host, port=port)
    if (cfg.scheme or "") not in ("http", "h2c", ""):
        target.error = f"checking gRPC health: fail to connect to {address}: {NO_TRANSPORT_SECURITY}"
    return target


def uses_tls(cfg: Any, servers: list[str]) -> bool:
    """Whether some check goes over TLS (the transport's TLS context is then needed)."""
    return any((cfg.scheme or urlsplit(url).scheme) == "https" for url in servers)
