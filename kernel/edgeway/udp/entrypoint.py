"""A UDP entry point: datagrams grouped into sessions per client address (pkg/udp/conn.go).

The first datagram from an address opens a :class:`UDPSession` handed to the
entry point's current handler (its one UDP router's service); the following
ones go to that session until it has been idle (no datagram read by the
handler, none sent back to the client) for ``entryPoints.<ep>.udp.timeout``.
The kernel swaps ``handler`` when a configuration is applied; sessions already
open keep the server they were given.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import anyio

if TYPE_CHECKING:
    from edgeway.config.static import EntryPoint as EntryPointConfig

__all__ = ["UDPEntryPoint", "UDPHandler", "UDPSession"]

log = logging.getLogger("edgeway.udp")

#: Datagrams queued for a session whose handler does not read them (then dropped).
MAX_QUEUED = 4096


class UDPSession:
    """The datagrams of one client address, and the way back to it."""

    def __init__(self, entrypoint: UDPEntryPoint, peer: tuple[str, int], addr: Any) -> None:
        self.entrypoint = entrypoint
        #: The client's ``(ip, port)``, IPv4-mapped addresses unmapped as Go shows them.
        self.peer = peer
        self._addr = addr
        self._queue: deque[bytes] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False
        self.last_activity = asyncio.get_running_loop().time()

    async def read(self) -> bytes | None:
        """The next datagram from the client; None once the session is closed."""
        while not self._queue:
            if self.closed:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self.closed:
            return None
        self.last_activity = asyncio.get_running_loop().time()
        return self._queue.popleft()

    def write(self, datagram: bytes) -> None:
        """Send one datagram to the client."""
        if self.closed:
            return
        self.last_activity = asyncio.get_running_loop().time()
        transport = self.entrypoint.transport
        if transport is not None and not transport.is_closing():
            transport.sendto(datagram, self._addr)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.entrypoint.sessions.pop(self.peer, None)
        self._wake()

    def _deliver(self, datagram: bytes) -> None:
        if len(self._queue) < MAX_QUEUED:
            self._queue.append(datagram)
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


#: A UDP router's handler: serves the session until it is closed; closes it itself.
UDPHandler = Callable[[UDPSession], Awaitable[None]]


class UDPEntryPoint(asyncio.DatagramProtocol):
    def __init__(self, name: str, config: EntryPointConfig) -> None:
        self.name = name
        self.config = config
        self.timeout = config.udp.timeout
        self.handler: UDPHandler | None = None
        self.sessions: dict[tuple[str, int], UDPSession] = {}
        self.transport: asyncio.DatagramTransport | None = None
        self.accepting = True
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    async def start(self) -> None:
        """Bind the socket; raises ``OSError`` with the address on failure."""
        loop = asyncio.get_running_loop()
        hosts = [self.config.host] if self.config.host else ["::", "0.0.0.0"]  # dual stack if possible
        error: OSError | None = None
        for host in hosts:
            try:
                await loop.create_datagram_endpoint(
                    lambda: self, local_addr=(host, self.config.port), reuse_port=self.config.reusePort or None
                )
                return
            except OSError as exc:
                error = exc
        assert error is not None
        raise OSError(
            error.errno, f"entry point {self.name!r}: cannot listen on {self.config.address}: {error.strerror}"
        ) from None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # 3.11: not a subclass

    def datagram_received(self, data: bytes, addr: Any) -> None:
        peer = (_unmapped(str(addr[0])), int(addr[1]))
        session = self.sessions.get(peer)
        if session is None:
            if not self.accepting:
                return
            session = self.sessions[peer] = UDPSession(self, peer, addr)
            self._serve(session)
        session._deliver(data)

    def _serve(self, session: UDPSession) -> None:
        handler = self.handler
        if handler is None:  # Traefik's HandlerSwitcher without a handler: close
            session.close()
            return
        task = asyncio.ensure_future(self._run(handler, session))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, handler: UDPHandler, session: UDPSession) -> None:
        try:
            await handler(session)
        except Exception:
            log.exception("UDP session from %s failed", session.peer)
        finally:
            session.close()

    async def sweep(self) -> None:
        """Close sessions idle for ``timeout`` (checked every tenth of it, as Traefik)."""
        interval = self.timeout / 10
        loop = asyncio.get_running_loop()
        while True:
            await anyio.sleep(interval)
            now = loop.time()
            for session in list(self.sessions.values()):
                if now - session.last_activity > self.timeout:
                    session.close()

    async def stop(self) -> None:
        """Stop accepting sessions, wait up to ``graceTimeOut`` for the open ones, close."""
        lifecycle = self.config.transport.lifeCycle
        if lifecycle.requestAcceptGraceTimeout > 0:
            await anyio.sleep(lifecycle.requestAcceptGraceTimeout)
        self.accepting = False
        with anyio.move_on_after(lifecycle.graceTimeOut):
            while self.sessions:
                await anyio.sleep(min(0.5, max(lifecycle.graceTimeOut, 0.01)))
        self.close()

    def close(self) -> None:
        for session in list(self.sessions.values()):
            session.close()
        for task in list(self._tasks):
            task.cancel()
        if self.transport is not None:
            self.transport.close()


def _unmapped(host: str) -> str:
    return host[7:] if host.startswith("::ffff:") and "." in host else host
