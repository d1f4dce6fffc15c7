"""An HTTP entry point: its listening socket, its connections and its current router.

The kernel swaps ``handler`` when a configuration is applied: one attribute
assignment, so a request started on the old routing table finishes on it and
the next one uses the new table. Timeouts are enforced by one sweeper per entry
point rather than a timer per request (cheaper, and precise to a fraction of
the shortest timeout, which is plenty for 60 s/180 s defaults).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import TYPE_CHECKING

import anyio

from edgeway.http.forwarded import hostname, ip_checker
from edgeway.http.message import Handler, Request, Response
from edgeway.http.server import ServerProtocol

if TYPE_CHECKING:
    from edgeway.http.h2server import H2ServerProtocol
from edgeway.http.status import not_found

if TYPE_CHECKING:
    from edgeway.config.static import EntryPoint as EntryPointConfig

log = logging.getLogger("edgeway.entrypoint")


async def _not_found(req: Request) -> Response:
    return not_found()


class EntryPoint:
    def __init__(self, name: str, config: EntryPointConfig) -> None:
        self.name = name
        self.config = config
        self.loop = asyncio.get_running_loop()
        self.handler: Handler = _not_found
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
        self.stopping = False
        self.server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The bound port (useful with ``:0``)."""
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Bind the listening socket; raises ``OSError`` with the address on failure."""
        host = self.config.host or None
        try:
            self.server = await self.loop.create_server(
                lambda: ServerProtocol(self),
                host=host,
                port=self.config.port,
                reuse_port=self.config.reusePort or None,
                backlog=1024,
            )
        except OSError as exc:
            raise OSError(exc.errno, f"entry point {self.name!r}: cannot listen on {self.config.address}: {exc.strerror}") from None
        for sock in self.server.sockets:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

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
        if self.server is not None:
            self.server.close()
        for conn in list(self.connections):
            conn.close_if_idle()
        with anyio.move_on_after(self.grace_timeout):
            while self.connections:
                for conn in list(self.connections):
                    conn.close_if_idle()
                await anyio.sleep(0.02)
        for conn in list(self.connections):
            conn._close()
        if self.connections:
            log.info("entry point %s: closed %d connections still open after graceTimeOut", self.name, len(self.connections))
