"""One side of a proxied TCP connection, and the splice that joins two of them.

:class:`TCPConnection` is an asyncio protocol with a small stream API
(``read``/``write``/``drain``/``write_eof``/``close``) used for the client side
(created by the entry point, raw or after TLS termination) and for the server
side (created by the dialer). Flow control goes both ways: a reader that does
not keep up pauses the transport, a writer waits in ``drain`` while the peer's
window is full.

:func:`splice` is Traefik's ``Proxy.ServeTCP`` copy loop (pkg/tcp/proxy.go):
when one direction ends, the other peer gets a FIN (``CloseWrite``) and, unless
``terminationDelay`` is negative, whatever it still sends is read for at most
that long.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import Any, cast

__all__ = ["TCPConnection", "TCPHandler", "splice"]

log = logging.getLogger("edgeway.tcp")

#: Buffered unread bytes above which the transport stops reading.
READ_HIGH_WATER = 256 * 1024


class TCPConnection(asyncio.Protocol):
    """One side of a spliced TCP connection (client or server), raw or TLS.

    ``peer`` and ``local`` are ``(host, port)``; the entry point passes them
    when the PROXY protocol gave other addresses than the socket's. ``initial``
    is data already taken off the socket that the reader must see first.
    """

    def __init__(
        self,
        *,
        peer: tuple[str, int] | None = None,
        local: tuple[str, int] | None = None,
        sni: str | None = None,
        alpn: tuple[str, ...] = (),
        initial: bytes = b"",
    ) -> None:
        self.peer: tuple[str, int] = peer or ("", 0)
        self.local: tuple[str, int] = local or ("", 0)
        self._addresses_given = (peer is not None, local is not None)
        self.sni = sni
        self.alpn = alpn
        self.tls: ssl.SSLObject | None = None
        self.transport: asyncio.Transport | None = None
        self._loop = asyncio.get_event_loop()
        self._buffer = bytearray(initial)
        self._eof = False
        self._lost = False
        self._error: BaseException | None = None
        self._reading_paused = False
        self._writing_paused = False
        self._read_waiter: asyncio.Future[None] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._deadline_passed = False
        self._closed: asyncio.Future[None] = self._loop.create_future()

    # -- asyncio.Protocol ----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: no isinstance check.
        self.transport = cast(asyncio.Transport, transport)
        peer_given, local_given = self._addresses_given
        if not peer_given:
            self.peer = _host_port(transport.get_extra_info("peername"))
        if not local_given:
            self.local = _host_port(transport.get_extra_info("sockname"))
        self.tls = transport.get_extra_info("ssl_object")

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._wake_reader()
        if len(self._buffer) > READ_HIGH_WATER and not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake_reader()
        return True  # keep the write side open: half-close

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = self._eof = True
        if exc is not None and self._error is None:
            self._error = exc
        self._wake_reader()
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self._deadline is not None:
            self._deadline.cancel()
        if not self._closed.done():
            self._closed.set_result(None)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- stream API ----------------------------------------------------------

    async def read(self) -> bytes:
        """What has arrived (at least one byte), ``b""`` at EOF.

        Raises ``ConnectionResetError`` (and the like) when the connection
        broke, ``TimeoutError`` once the read deadline has passed.
        """
        while True:
            if self._deadline_passed:
                raise TimeoutError("i/o timeout")
            if self._buffer:
                data = bytes(self._buffer)
                self._buffer.clear()
                if self._reading_paused and self.transport is not None and not self._lost:
                    self._reading_paused = False
                    self.transport.resume_reading()
                return data
            if self._error is not None:
                raise _as_connection_error(self._error)
            if self._eof:
                return b""
            self._read_waiter = self._loop.create_future()
            try:
                await self._read_waiter
            finally:
                self._read_waiter = None

    def write(self, data: bytes) -> None:
        """Queue ``data``; raises ``ConnectionError`` once the connection is closed."""
        transport = self.transport
        if transport is None or self._lost or transport.is_closing():
            raise _as_connection_error(self._error) if self._error else BrokenPipeError("use of closed network connection")
        transport.write(data)

    async def drain(self) -> None:
        """Wait while the peer is not taking data as fast as it is written."""
        while self._writing_paused and not self._lost:
            self._drain_waiter = self._loop.create_future()
            await self._drain_waiter
        if self._lost and self._error is not None:
            raise _as_connection_error(self._error)

    def write_eof(self) -> None:
        """Send FIN after the queued data (``CloseWrite``).

        A TLS transport cannot half-close in asyncio: nothing is sent then, the
        connection ends with :meth:`close` (which sends ``close_notify``).
        """
        transport = self.transport
        if transport is None or self._lost or transport.is_closing():
            return
        if transport.can_write_eof():
            with contextlib.suppress(OSError):  # ENOTCONN after a reset: as Traefik, nothing to report
                transport.write_eof()

    def set_read_deadline(self, delay: float) -> None:
        """Reads fail with ``TimeoutError`` from ``delay`` seconds on (Go's ``SetReadDeadline``)."""
        if self._deadline is not None:
            self._deadline.cancel()
        if delay <= 0:
            self._expire()
        else:
            self._deadline = self._loop.call_later(delay, self._expire)

    def close(self) -> None:
        """Close after the queued data has been written; idempotent."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
        if self._deadline is not None:
            self._deadline.cancel()

    def abort(self) -> None:
        """Close now, dropping queued data (the peer sees a reset)."""
        if self.transport is not None:
            self.transport.abort()

    async def wait_closed(self) -> None:
        await asyncio.shield(self._closed)

    @property
    def closed(self) -> bool:
        return self._lost

    # -- internals -----------------------------------------------------------

    def _wake_reader(self) -> None:
        waiter = self._read_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _expire(self) -> None:
        self._deadline = None
        self._deadline_passed = True
        self._wake_reader()


#: A TCP router's handler: serves the connection until done; closes it itself.
TCPHandler = Callable[[TCPConnection], Awaitable[None]]


def _host_port(name: Any) -> tuple[str, int]:
    """``(host, port)`` of a socket address, IPv4-mapped IPv6 unmapped as Go does."""
    if not isinstance(name, tuple) or len(name) < 2:
        return ("", 0)
    host = str(name[0])
    if host.startswith("::ffff:") and "." in host:
        host = host[7:]
    return host, int(name[1])


def _as_connection_error(exc: BaseException) -> BaseException:
    if isinstance(exc, OSError | ssl.SSLError):
        return exc
    return ConnectionResetError(errno.ECONNRESET, str(exc) or "connection reset by peer")


async def splice(client: TCPConnection, server: TCPConnection, termination_delay: float) -> None:
    """Copy both ways until both directions have ended (Traefik's ``ServeTCP``).

    When ``src`` → ``dst`` ends (EOF or error), ``dst`` gets ``write_eof`` and,
    if ``termination_delay`` ≥ 0, a read deadline that far away, which ends the
    other direction. Both connections are closed on return.
    """

    async def copy(src: TCPConnection, dst: TCPConnection) -> BaseException | None:
        error: BaseException | None = None
        try:
            while True:
                data = await src.read()
                if not data:
                    break
                dst.write(data)
                await dst.drain()
        except (OSError, ssl.SSLError) as exc:
            error = exc
        dst.write_eof()
        if termination_delay >= 0:
            dst.set_read_deadline(termination_delay)
        return error

    try:
        forward = asyncio.ensure_future(copy(client, server))
        backward = await copy(server, client)
        first = await forward
        for error in (first, backward):
            if error is None or isinstance(error, TimeoutError):
                continue
            if isinstance(error, ConnectionResetError):
                log.debug("Error while handling TCP connection: %s", error)
            else:
                log.error("Error while handling TCP connection: %s", error)
            break
    finally:
        client.close()
        server.close()
