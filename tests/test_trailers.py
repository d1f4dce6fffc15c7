"""Response trailers from HTTP/1.1 and HTTP/2 servers, as HTTP/1.1 clients get them.

Go's ReverseProxy announces the names a server declared (``Trailer: ...``),
flushes (so the answer is chunked even when short) and its server writes the
trailers after the last chunk, sorted by name; HTTP/1.0 clients get none.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from support import edgeway, raw_exchange
from test_transports import config, dual

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def raw_backend(answer: bytes, *, split: bool = False) -> AsyncIterator[str]:
    """A server answering every request with ``answer`` (the head and the rest
    in two writes, some time apart, when ``split``)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if not head:
                    return
                if split:
                    cut = answer.index(b"\r\n\r\n") + 4
                    writer.write(answer[:cut])
                    await writer.drain()
                    await asyncio.sleep(0.05)
                    writer.write(answer[cut:])
                else:
                    writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


CHUNKED = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
    b"Trailer: x-decl\r\n\r\n3\r\nabc\r\n0\r\nx-decl: d1\r\nX-Undecl: u1\r\nB-First: b\r\n\r\n"
)


def split_response(raw: bytes) -> tuple[bytes, bytes]:
    head, _, rest = raw.partition(b"\r\n\r\n")
    return head, rest


@pytest.mark.parametrize("split", [False, True], ids=["whole", "streamed"])
async def test_declared_and_undeclared_trailers_follow_the_last_chunk(
    tmp_path: Path, split: bool
) -> None:
    async with raw_backend(CHUNKED, split=split) as url, edgeway(tmp_path, config(url)) as ew:
        raw = await raw_exchange(
            ew.port(), b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        )
    head, rest = split_response(raw)
    assert b"\r\nTrailer: X-Decl\r\n" in head + b"\r\n"
    assert b"\r\nTransfer-Encoding: chunked" in head and b"Content-Length" not in head
    # Sorted by name, canonical as Go's ReadMIMEHeader keeps them.
    assert rest == b"3\r\nabc\r\n0\r\nB-First: b\r\nX-Decl: d1\r\nX-Undecl: u1\r\n\r\n"


async def test_an_http10_client_gets_the_body_without_trailers(tmp_path: Path) -> None:
    async with raw_backend(CHUNKED) as url, edgeway(tmp_path, config(url)) as ew:
        raw = await raw_exchange(ew.port(), b"GET / HTTP/1.0\r\nHost: a\r\n\r\n")
    head, rest = split_response(raw)
    assert b" 200 OK" in head and b"Trailer: X-Decl" in head and b"chunked" not in head
    assert rest == b"abc"


async def test_a_declared_trailer_never_sent_still_forces_chunking(tmp_path: Path) -> None:
    answer = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: a, b ,, A\r\n\r\n"
        b"2\r\nhi\r\n0\r\n\r\n"
    )
    async with raw_backend(answer) as url, edgeway(tmp_path, config(url)) as ew:
        raw = await raw_exchange(
            ew.port(), b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        )
    head, rest = split_response(raw)
    assert b"\r\nTrailer: A, B" in head and b"chunked" in head
    assert rest == b"2\r\nhi\r\n0\r\n\r\n"


async def test_a_trailer_header_without_chunking_is_dropped(tmp_path: Path) -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTrailer: X-A\r\n\r\nhi"
    async with raw_backend(answer) as url, edgeway(tmp_path, config(url)) as ew:
        raw = await raw_exchange(
            ew.port(), b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        )
    head, rest = split_response(raw)
    assert b"Trailer" not in head and b"Content-Length: 2" in head and rest == b"hi"


@pytest.mark.parametrize("name", [b"Content-Length", b"transfer-encoding", b"Trailer"])
async def test_a_bad_declared_trailer_name_is_a_bad_gateway(tmp_path: Path, name: bytes) -> None:
    answer = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-A, %s\r\n\r\n0\r\n\r\n" % name
    )
    async with raw_backend(answer) as url, edgeway(tmp_path, config(url)) as ew:
        raw = await raw_exchange(
            ew.port(), b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        )
    assert raw.startswith(b"HTTP/1.1 502 Bad Gateway\r\n")


async def test_head_request_gets_no_trailers(tmp_path: Path) -> None:
    answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-A\r\n\r\n"
    async with raw_backend(answer) as url, edgeway(tmp_path, config(url)) as ew:
        raw = await raw_exchange(
            ew.port(), b"HEAD / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        )
    head, rest = split_response(raw)
    assert head.startswith(b"HTTP/1.1 200") and rest == b""


async def test_http2_server_trailers_reach_an_http11_client(tmp_path: Path) -> None:
    async with dual(h2c=True) as b, edgeway(tmp_path, config(b.url)) as ew:
        raw = await raw_exchange(
            ew.port(), b"GET /trailers HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        )
    head, rest = split_response(raw)
    assert b"chunked" in head and b"Trailer" not in head  # undeclared: not announced
    assert rest == b"5\r\nhello\r\n0\r\nGrpc-Status: 0\r\nX-Checksum: abc\r\n\r\n"
