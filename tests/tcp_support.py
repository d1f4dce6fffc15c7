"""TCP/UDP test helpers: raw backends, and a stand-in for the connection layer.

:class:`Harness` plays the entry point's part for TCP routing until the real
connection layer calls :class:`edgeway.tcp.TCPRouting`: it accepts, peeks the
first bytes (a small ClientHello reader gives SNI and ALPN), asks the routing
table in Traefik's ``Router.ServeTCP`` order, terminates TLS when the route
says so, and hands a :class:`TCPConnection` to the route's handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import cast

from edgeway.rules import canonical_sni
from edgeway.tcp import ConnInfo, TCPConnection, TCPRouting


def client_hello_info(data: bytes) -> tuple[bool, str, tuple[str, ...]] | None:
    """``(is_tls, sni, alpn)`` from the first bytes; None when more bytes are needed."""
    if not data:
        return None
    if data[0] != 0x16:
        return (data[0] == 0x80, "", ())
    if len(data) < 5:
        return None
    (length,) = struct.unpack_from("!H", data, 3)
    if len(data) < 5 + length:
        return None
    body = data[5 : 5 + length]
    sni, alpn = "", ()
    try:
        pos = 4 + 2 + 32  # handshake header, version, random
        pos += 1 + body[pos]  # session id
        (n,) = struct.unpack_from("!H", body, pos)
        pos += 2 + n  # cipher suites
        pos += 1 + body[pos]  # compression methods
        (ext_len,) = struct.unpack_from("!H", body, pos)
        pos += 2
        end = pos + ext_len
        while pos + 4 <= end:
            kind, size = struct.unpack_from("!HH", body, pos)
            ext = body[pos + 4 : pos + 4 + size]
            pos += 4 + size
            if kind == 0 and len(ext) > 5:
                (name_len,) = struct.unpack_from("!H", ext, 3)
                sni = ext[5 : 5 + name_len].decode("ascii", "replace")
            elif kind == 16:
                protos, i = [], 2
                while i < len(ext):
                    protos.append(ext[i + 1 : i + 1 + ext[i]].decode("ascii", "replace"))
                    i += 1 + ext[i]
                alpn = tuple(protos)
    except (IndexError, struct.error):
        pass
    return (True, sni, alpn)


@dataclass
class Harness:
    """Serves TCP connections on 127.0.0.1 with ``routing()``'s table."""

    routing: Callable[[], TCPRouting | None]
    #: Server context for terminated routes, by TLS options name ("default"...).
    tls_contexts: dict[str, ssl.SSLContext] = field(default_factory=dict)
    #: An HTTPS router exists on the entry point (disables the early path).
    has_https_routes: bool = False
    port: int = 0
    _sock: socket.socket | None = None
    _task: asyncio.Task[None] | None = None
    _conns: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> Harness:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        sock.setblocking(False)
        self._sock = sock
        self.port = sock.getsockname()[1]
        self._task = asyncio.ensure_future(self._accept())
        return self

    async def stop(self) -> None:
        for task in [self._task, *self._conns]:
            if task is not None:
                task.cancel()
        if self._sock is not None:
            self._sock.close()

    async def _accept(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._sock is not None
        while True:
            sock, _ = await loop.sock_accept(self._sock)
            task = asyncio.ensure_future(self._serve(sock))
            self._conns.add(task)
            task.add_done_callback(self._conns.discard)

    async def _serve(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        routing = self.routing()
        ip = sock.getpeername()[0]
        if routing is None:
            sock.close()
            return
        early = routing.early_handler(ip, self.has_https_routes)
        if early is not None:
            await self._run(early, sock)
            return
        hello = None
        while hello is None:
            await _readable(loop, sock)
            data = sock.recv(16384, socket.MSG_PEEK)
            if not data:
                sock.close()
                return
            hello = client_hello_info(data)
            if hello is None:
                await asyncio.sleep(0.005)  # the rest of the record is on its way
        is_tls, sni, alpn = hello
        info = ConnInfo(canonical_sni(sni), alpn, ip, is_tls)
        if not is_tls:
            handler = routing.match_plain(info)
            if handler is None:
                sock.close()
                return
            await self._run(handler, sock)
            return
        route = routing.match_tls(info)
        if route is None:
            sock.close()
            return
        if route.passthrough:
            await self._run(route.handler, sock, sni=sni, alpn=alpn)
            return
        context = self.tls_contexts.get(route.options or "default")
        if context is None:
            sock.close()
            return
        await self._run(route.handler, sock, sni=sni, alpn=alpn, context=context)

    async def _run(self, handler, sock, *, sni=None, alpn=(), context=None) -> None:  # type: ignore[no-untyped-def]
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.connect_accepted_socket(
                lambda: TCPConnection(sni=sni, alpn=alpn), sock, ssl=context
            )
        except (OSError, ssl.SSLError):
            sock.close()
            return
        try:
            await handler(conn)
        finally:
            conn.close()


async def _readable(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
    fut = loop.create_future()
    loop.add_reader(sock.fileno(), lambda: fut.done() or fut.set_result(None))
    try:
        await fut
    finally:
        loop.remove_reader(sock.fileno())


@contextlib.asynccontextmanager
async def harness(routing: Callable[[], TCPRouting | None], **kw: object) -> AsyncIterator[Harness]:
    h = await Harness(routing, **kw).start()  # type: ignore[arg-type]
    try:
        yield h
    finally:
        await h.stop()


# --- backends -----------------------------------------------------------------------


@dataclass
class TCPBackend:
    """Answers ``<name>:`` then echoes; half-closes after the client's FIN.

    ``received`` keeps every connection's bytes (PROXY header included) once it ended.
    """

    name: str = "b"
    greet: bool = True
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
            if self.greet:
                writer.write(f"{self.name}:".encode())
            while data := await reader.read(65536):
                got += data
                writer.write(data)
                await writer.drain()
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


async def talk(port: int, data: bytes = b"", *, half_close: bool = True, timeout: float = 5.0) -> bytes:
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
        _, proto = await loop.create_datagram_endpoint(lambda n=name: UDPBackend(n), local_addr=("127.0.0.1", 0))
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
