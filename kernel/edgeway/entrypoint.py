"""An entry point: its listening sockets, its connections and its current routing.

The kernel swaps ``routing`` (:class:`~edgeway.connection.dispatch.Routing`:
plain and TLS HTTP handlers, TLS hosts, TCP routes) when a configuration is
applied, with :meth:`EntryPoint.use`: a request started on the old routing
table finishes on it and the next one uses the new table; a connection is
dispatched (HTTP, HTTPS with which TLS options, TCP) with the routing current
when its first bytes arrive (:mod:`edgeway.connection`). Timeouts are enforced by one sweeper per entry
point rather than a timer per request (cheaper, and precise to a fraction of
the shortest timeout, which is plenty for 60 s/180 s defaults).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio

from edgeway.connection.dispatch import Routing
from edgeway.connection.listener import Listener, bind
from edgeway.http.forwarded import hostname, ip_checker
from edgeway.http.message import Handler, Request, Response
from edgeway.http.server import ServerProtocol
from edgeway.http.status import not_found
from edgeway.tls.hosts import TLSHosts

if TYPE_CHECKING:
    from edgeway.config.static import EntryPoint as EntryPointConfig
    from edgeway.http.h2server import H2ServerProtocol

log = logging.getLogger("edgeway.entrypoint")


async def _not_found(req: Request) -> Response:
    return not_found()


class EntryPoint:
    def __init__(self, name: str, config: EntryPointConfig) -> None:
        self.name = name
        self.config = config
        self.loop = asyncio.get_running_loop()
        self.routing = Routing(_not_found, _not_found, TLSHosts())
        #: The routing's HTTP handlers, read per request by the server protocols.
        self.handler: Handler = _not_found
        self.https_handler: Handler = _not_found
        timeouts = config.transport.respondingTimeouts
        self.read_timeout = timeouts.readTimeout
        self.idle_timeout = timeouts.idleTimeout
        self.write_timeout = timeouts.writeTimeout
        self.encode_query_semicolons = config.http.encodeQuerySemicolons
        self.max_header_bytes = config.http.maxHeaderBytes or (1 << 20)
        self.sanitize_path = config.http.sanitizePath
        fh = config.forwardedHeaders
        self.insecure = fh.insecure
        self.trusted = ip_checker(fh.trustedIPs)
        self.connection_keep = frozenset(h.lower().encode() for h in fh.connection)
        self.server_name = hostname()
        self.keep_alive_max_requests = config.transport.keepAliveMaxRequests
        self.keep_alive_max_time = config.transport.keepAliveMaxTime
        self.grace_timeout = config.transport.lifeCycle.graceTimeOut
        self.accept_grace_timeout = config.transport.lifeCycle.requestAcceptGraceTimeout
        h2c = config.http2  # 0 is Go's default, the same as Traefik's
        self.h2_max_concurrent_streams = h2c.maxConcurrentStreams or 250
        self.h2_max_decoder_table_size = h2c.maxDecoderHeaderTableSize or 4096
        self.h2_max_encoder_table_size = h2c.maxEncoderHeaderTableSize or 4096
        self.connections: set[ServerProtocol | H2ServerProtocol] = set()
        #: Tasks connecting an accepted socket to its protocol (TLS handshakes).
        self.starting: set[asyncio.Task[None]] = set()
        pp = config.proxyProtocol
        #: Whose PROXY protocol header gives the connection its addresses (None: the
        #: feature is off; else every peer's header is read, untrusted ones dropped).
        self.proxy_protocol: Callable[[str], bool] | None = (
            None if pp is None else (lambda ip: True) if pp.insecure else ip_checker(pp.trustedIPs)
        )
        self.stopping = False
        self.listener: Listener | None = None

    def use(self, routing: Routing) -> None:
        """Switch to a new configuration's routing."""
        self.routing = routing
        self.handler = routing.http
        self.https_handler = routing.https

    @property
    def port(self) -> int:
        """The bound port (useful with ``:0``)."""
        assert self.listener is not None
        return int(self.listener.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Bind the listening sockets; raises ``OSError`` with the address on failure."""
        try:
            sockets = await bind(
                self.loop, self.config.host or None, self.config.port, reuse_port=self.config.reusePort
            )
        except OSError as exc:
            raise OSError(exc.errno, f"entry point {self.name!r}: cannot listen on {self.config.address}: {exc.strerror}") from None
        self.listener = Listener(self, sockets)

    def close(self) -> None:
        """Stop accepting (idempotent)."""
        if self.listener is not None:
            self.listener.close()

    async def sweep(self) -> None:
        """Close connections whose read or idle timeout has passed."""
        shortest = min(t for t in (self.read_timeout, self.idle_timeout, self.write_timeout, 4.0) if t > 0)
        interval = max(0.05, min(1.0, shortest / 4))
        while True:
            await anyio.sleep(interval)
            now = self.loop.time()
            for conn in list(self.connections):
                if conn.deadline and now >= conn.deadline:
                    conn.on_deadline()

    async def stop(self) -> None:
        """Graceful stop: keep accepting for ``requestAcceptGraceTimeout``, then stop
        accepting, let in-flight requests finish for up to ``graceTimeOut``, then
        close what is left."""
        if self.accept_grace_timeout > 0:
            await anyio.sleep(self.accept_grace_timeout)
        self.stopping = True
        self.close()
        for conn in list(self.connections):
            conn.close_if_idle()
        with anyio.move_on_after(self.grace_timeout):
            while self.connections:
                for conn in list(self.connections):
                    conn.close_if_idle()
                await anyio.sleep(0.02)
        for task in list(self.starting):
            task.cancel()
        for conn in list(self.connections):
            conn._close()
        if self.connections:
            log.info("entry point %s: closed %d connections still open after graceTimeOut", self.name, len(self.connections))
