"""TCP/UDP test helpers: raw TCP, TLS and UDP backends and clients on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import Any, cast

from support import Backend, Responder

# --- backends -----------------------------------------------------------------------


#: How long an ``at_eof`` backend takes to answer after the client's FIN.
AT_EOF_DELAY = 0.05


@dataclass
class TCPBackend:
    """Answers ``<name>:`` then echoes; half-closes after the client's FIN.

    ``received`` keeps every connection's bytes (PROXY header included) once it ended.
    ``at_eof``: a slow server: nothing is sent before the client's FIN, then greeting and
    echo at once, ``AT_EOF_DELAY`` after it (whether a proxy still forwards the reply then
    depends on its ``terminationDelay``, not on which of the FIN and the reply wins a race).
    """

    name: str = "b"
    greet: bool = True
    at_eof: bool = False
    ssl_context: ssl.SSLContext | None = None
    received: list[bytes] = field(default_factory=list)
    connections: int = 0
    port: int = 0
    _server: asyncio.Server | None = None
    _done: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> TCPBackend:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        got = b""
        try:
            if self.greet and not self.at_eof:
                writer.write(f"{self.name}:".encode())
            while data := await reader.read(65536):
                got += data
                if not self.at_eof:
                    writer.write(data)
                    await writer.drain()
            if self.at_eof:
                await asyncio.sleep(AT_EOF_DELAY)
                writer.write((f"{self.name}:".encode() if self.greet else b"") + got)
            if writer.can_write_eof():
                writer.write_eof()
            await writer.drain()
        except OSError:  # resets, ENOTCONN on write_eof, TLS errors
            pass
        finally:
            self.received.append(got)
            self._done.set()
            writer.close()

    async def wait_received(self, count: int, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.received) < count:
                self._done.clear()
                await self._done.wait()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()


@contextlib.asynccontextmanager
async def tcp_backends(*names: str, **kw: object) -> AsyncIterator[list[TCPBackend]]:
    started = [await TCPBackend(name=n, **kw).start() for n in names]  # type: ignore[arg-type]
    try:
        yield started
    finally:
        for b in started:
            await b.stop()


async def talk(
    port: int, data: bytes = b"", *, half_close: bool = True, timeout: float = 5.0
) -> bytes:
    """Connect, send ``data``, optionally half-close, read until the proxy closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    out = b""
    try:
        with contextlib.suppress(OSError):  # the proxy may have closed (or reset) already
            if data:
                writer.write(data)
            if half_close:
                writer.write_eof()
            async with asyncio.timeout(timeout):
                while chunk := await reader.read(65536):
                    out += chunk
        return out
    finally:
        writer.close()


async def read_until(reader: asyncio.StreamReader, expected: bytes, timeout: float = 5.0) -> bytes:
    out = b""
    async with asyncio.timeout(timeout):
        while not out.endswith(expected):
            chunk = await reader.read(65536)
            if not chunk:
                break
            out += chunk
    return out


async def converse(port: int, data: bytes, expected: bytes, timeout: float = 5.0) -> bytes:
    """Send ``data`` (no half-close), read until ``expected`` ends what came or the proxy closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        with contextlib.suppress(ConnectionError):
            return await read_until(reader, expected, timeout)
        return b""
    finally:
        writer.close()


async def refused(port: int, timeout: float = 5.0) -> bool:
    """Whether the proxy closes the connection without a byte."""
    return await converse(port, b"x", b"never", timeout) == b""


# --- backends outliving the tests' event loops --------------------------------------------


class ThreadBackends:
    """TCP, TLS, UDP and HTTP backends on a background loop, for module-scoped fixtures
    (pytest's anyio plugin gives each test its own loop)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="thread-backends", daemon=True
        )
        self.thread.start()

    def call(self, coro: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)  # type: ignore[arg-type]

    def tcp(self, name: str, **kw: Any) -> TCPBackend:
        return self.call(TCPBackend(name, **kw).start())

    def udp(self, name: str) -> UDPBackend:
        async def start() -> UDPBackend:
            _, proto = await self.loop.create_datagram_endpoint(
                lambda: UDPBackend(name), local_addr=("127.0.0.1", 0)
            )
            return proto

        return self.call(start())

    def http(self, name: str, respond: Responder | None = None) -> Backend:
        return self.call(Backend(name=name, respond=respond).start())

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


# --- UDP ------------------------------------------------------------------------------


class UDPBackend(asyncio.DatagramProtocol):
    """Answers each datagram with ``<name>:<datagram>``; records the sources it saw."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sources: list[tuple[str, int]] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # 3.11: not a subclass
        self.port = transport.get_extra_info("sockname")[1]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.sources.append(addr)
        assert self.transport is not None
        self.transport.sendto(self.name.encode() + b":" + data, addr)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def udp_backends(*names: str) -> AsyncIterator[list[UDPBackend]]:
    loop = asyncio.get_running_loop()
    started = []
    for name in names:
        _, proto = await loop.create_datagram_endpoint(
            lambda n=name: UDPBackend(n), local_addr=("127.0.0.1", 0)
        )
        started.append(proto)
    try:
        yield started
    finally:
        for b in started:
            if b.transport is not None:
                b.transport.close()


class UDPClient(asyncio.DatagramProtocol):
    """One client address: ``ask`` sends a datagram and waits for the answer."""

    def __init__(self) -> None:
        self.answers: asyncio.Queue[bytes] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # 3.11: not a subclass

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.answers.put_nowait(data)

    async def ask(self, data: bytes, timeout: float = 3.0) -> bytes | None:
        assert self.transport is not None
        self.transport.sendto(data)
        try:
            async with asyncio.timeout(timeout):
                return await self.answers.get()
        except TimeoutError:
            return None

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


@contextlib.asynccontextmanager
async def udp_client(port: int) -> AsyncIterator[UDPClient]:
    loop = asyncio.get_running_loop()
    _, client = await loop.create_datagram_endpoint(UDPClient, remote_addr=("127.0.0.1", port))
    try:
        yield client
    finally:
        client.close()
