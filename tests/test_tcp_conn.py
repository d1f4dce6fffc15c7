"""TCPConnection and splice on real loopback sockets: half-close, termination delay,
flow control both ways, resets, TLS transports."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator

import pytest
import trustme
from edgeway.tcp import TCPConnection, splice
from edgeway.tcp.conn import READ_HIGH_WATER
from tcp_support import TCPBackend, read_until, talk

pytestmark = pytest.mark.anyio


@contextlib.asynccontextmanager
async def spliced(
    backend_port: int, delay: float, accepted: list[TCPConnection] | None = None
) -> AsyncIterator[int]:
    """A listener splicing each connection to ``backend_port`` (what a loadBalancer server does)."""
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()

    async def serve(conn: TCPConnection) -> None:
        _, server = await loop.create_connection(TCPConnection, "127.0.0.1", backend_port)
        await splice(conn, server, delay)

    def factory() -> TCPConnection:
        conn = TCPConnection()
        if accepted is not None:
            accepted.append(conn)
        loop.call_soon(lambda: tasks.add(asyncio.ensure_future(serve(conn))))
        return conn

    server = await loop.create_server(factory, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in tasks:
            task.cancel()


async def test_half_close_keeps_the_other_direction_open() -> None:
    backend = await TCPBackend("srv").start()
    async with spliced(backend.port, -1) as port:
        assert await talk(port, b"hello") == b"srv:hello"
    await backend.stop()


async def slow_answer(delay: float) -> tuple[asyncio.Server, int]:
    """A server that answers "late" ``delay`` seconds after the client's FIN."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        await asyncio.sleep(delay)
        with contextlib.suppress(ConnectionError):
            writer.write(b"late")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


@pytest.mark.parametrize(("delay", "expected"), [(0.0, b""), (2.0, b"late"), (-1.0, b"late")])
async def test_termination_delay_bounds_the_other_direction(delay: float, expected: bytes) -> None:
    server, backend_port = await slow_answer(0.3)
    async with spliced(backend_port, delay) as port:
        assert await talk(port, b"question") == expected
    server.close()


async def test_large_transfer_both_ways_with_backpressure() -> None:
    backend = await TCPBackend("b", greet=False).start()
    accepted: list[TCPConnection] = []
    async with spliced(backend.port, -1, accepted) as port:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        sock.connect(("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock)
        payload = bytes(range(256)) * (16 * 1024)  # 4 MiB, echoed back
        writer.write(payload)
        # Not reading: the echo fills the buffers, the proxy waits to write to the client.
        async with asyncio.timeout(5):
            while not _paused(accepted):
                await asyncio.sleep(0.01)
        got = b""
        async with asyncio.timeout(10):
            while len(got) < len(payload):
                got += await reader.read(1 << 20)
        assert got == payload
        writer.close()
    await backend.stop()


def _paused(conns: list[TCPConnection]) -> bool:
    return any(c._writing_paused or c._reading_paused for c in conns)


async def test_reader_pauses_transport_above_high_water() -> None:
    loop = asyncio.get_running_loop()
    made: list[TCPConnection] = []
    server = await loop.create_server(
        lambda: made.append(TCPConnection()) or made[-1], "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"x" * (READ_HIGH_WATER * 4))
    async with asyncio.timeout(5):
        while not made or not made[0]._reading_paused:
            await asyncio.sleep(0.01)
    conn = made[0]
    total = 0
    async with asyncio.timeout(5):
        while total < READ_HIGH_WATER * 4:
            total += len(await conn.read())
    assert not conn._reading_paused
    writer.write_eof()
    assert await conn.read() == b""
    writer.close()
    server.close()


async def test_client_reset_ends_the_splice() -> None:
    backend = await TCPBackend("b").start()
    async with spliced(backend.port, -1) as port:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"partial")
        await asyncio.sleep(0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()  # RST
        await backend.wait_received(1)
    await backend.stop()


async def test_write_after_close_raises_and_read_after_reset() -> None:
    loop = asyncio.get_running_loop()
    made: list[TCPConnection] = []
    server = await loop.create_server(
        lambda: made.append(TCPConnection()) or made[-1], "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    sock = socket.create_connection(("127.0.0.1", port))
    async with asyncio.timeout(5):
        while not made:
            await asyncio.sleep(0.01)
    conn = made[0]
    assert conn.peer[0] == "127.0.0.1" and conn.local[1] == port
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()
    with pytest.raises(ConnectionError):
        async with asyncio.timeout(5):
            while True:
                if not await conn.read():
                    raise ConnectionResetError  # a plain EOF is acceptable on some kernels
    await conn.wait_closed()
    with pytest.raises(ConnectionError):
        conn.write(b"x")
    conn.write_eof()  # no-op once closed
    server.close()


async def test_read_deadline() -> None:
    loop = asyncio.get_running_loop()
    made: list[TCPConnection] = []
    server = await loop.create_server(
        lambda: made.append(TCPConnection()) or made[-1], "127.0.0.1", 0
    )
    _, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
    async with asyncio.timeout(5):
        while not made:
            await asyncio.sleep(0.01)
    made[0].set_read_deadline(0.05)
    with pytest.raises(TimeoutError):
        await made[0].read()
    writer.close()
    server.close()


async def test_tls_transports_on_both_sides(tmp_path: object) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("backend.test")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    backend = await TCPBackend("tls", ssl_context=server_ctx).start()
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(
        TCPConnection, "127.0.0.1", backend.port, ssl=client_ctx, server_hostname="backend.test"
    )
    assert conn.tls is not None and conn.tls.version() is not None
    assert await read_until_conn(conn, b"tls:") == b"tls:"
    conn.write(b"ping")
    await conn.drain()
    assert await read_until_conn(conn, b"ping") == b"ping"
    conn.write_eof()  # TLS cannot half-close: nothing happens
    conn.close()
    await conn.wait_closed()
    await backend.stop()


async def read_until_conn(conn: TCPConnection, expected: bytes) -> bytes:
    out = b""
    async with asyncio.timeout(5):
        while not out.endswith(expected):
            out += await conn.read()
    return out


async def test_initial_bytes_and_given_addresses_come_first() -> None:
    loop = asyncio.get_running_loop()
    made: list[TCPConnection] = []

    def factory() -> TCPConnection:
        made.append(
            TCPConnection(
                initial=b"early:", peer=("203.0.113.9", 4242), local=("198.51.100.1", 443)
            )
        )
        return made[-1]

    server = await loop.create_server(factory, "127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
    writer.write(b"late")
    async with asyncio.timeout(5):
        while not made:
            await asyncio.sleep(0.01)
    conn = made[0]
    assert (conn.peer, conn.local) == (("203.0.113.9", 4242), ("198.51.100.1", 443))
    assert await read_until_conn(conn, b"late") == b"early:late"
    conn.write(b"bye")
    conn.close()
    assert await read_until(reader, b"bye") == b"bye"
    writer.close()
    server.close()
