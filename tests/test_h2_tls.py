"""HTTP/2 over TLS: ``H2ServerProtocol(ep)`` as the protocol of a TLS connection
that chose ALPN ``h2`` (how the connection layer uses it).

Until the TLS entry points land, the test opens its own TLS listener whose
protocol factory is the one the connection layer calls, bound to edgeway's
entry point (same handler, same X-Forwarded policy).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import grpc
import pytest
import trustme
from edgeway.http.h2server import H2ServerProtocol
from grpc_support import Stub, grpc_server
from h2_support import h2_client
from support import backends, edgeway
from test_transports import config as plain_config

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def tls_listener(ep: Any, ca: trustme.CA, **kw: Any) -> AsyncIterator[int]:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("app.test", "127.0.0.1").configure_cert(ctx)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    server = await ep.loop.create_server(lambda: H2ServerProtocol(ep, **kw), "127.0.0.1", 0, ssl=ctx)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


def config(url: str) -> str:
    """The routers as TLS routers: TLS connections are routed by them."""
    return plain_config(url).replace("service: app}", "service: app, tls: {}}")


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    ctx.set_alpn_protocols(["h2"])
    return ctx


async def test_https_request_over_h2(tmp_path: Path) -> None:
    ca = trustme.CA()
    async with backends("a") as (a,), edgeway(tmp_path, config(a.url)) as ew:
        ep = ew.kernel.entrypoints["web"]
        async with tls_listener(ep, ca) as port, h2_client(port, ssl_context=client_context(ca)) as c:
            assert c.writer.get_extra_info("ssl_object").selected_alpn_protocol() == "h2"
            r = await c.request("GET", "/x", authority="app.test", scheme="https")
            assert r.status == 200
        rec = a.received[-1]
        assert rec.header("x-forwarded-proto") == "https" and rec.header("x-forwarded-port") == "443"
        assert rec.header("host") == "app.test"


async def test_scheme_and_tls_object_can_be_given(tmp_path: Path) -> None:
    """``scheme=``/``tls=`` override what the transport tells (a wrapped transport)."""
    ca = trustme.CA()
    seen: list[Any] = []
    async with backends("a") as (a,), edgeway(tmp_path, config(a.url)) as ew:
        ep = ew.kernel.entrypoints["web"]
        inner = ep.https_handler

        async def spy(req: Any) -> Any:
            seen.append((req.scheme, req.tls))
            return await inner(req)

        ep.https_handler = spy
        marker = object()
        async with tls_listener(ep, ca, scheme="https", tls=marker) as port:
            async with h2_client(port, ssl_context=client_context(ca)) as c:
                assert (await c.request("GET", "/")).status == 200
        assert seen == [("https", marker)]


async def test_grpc_over_tls(tmp_path: Path) -> None:
    ca = trustme.CA()
    with grpc_server() as (gport, _):
        async with edgeway(tmp_path, config(f"h2c://127.0.0.1:{gport}")) as ew:
            ep = ew.kernel.entrypoints["web"]
            async with tls_listener(ep, ca) as port:

                def calls() -> None:
                    creds = grpc.ssl_channel_credentials(root_certificates=ca.cert_pem.bytes())
                    options = [("grpc.ssl_target_name_override", "app.test")]
                    with grpc.secure_channel(f"127.0.0.1:{port}", creds, options=options) as channel:
                        stub = Stub(channel)
                        reply, call = stub.echo.with_call(b"tls", timeout=5)
                        assert reply == b"echo:tls" and dict(call.trailing_metadata())["x-trail"] == "yes"
                        assert list(stub.count(b"3", timeout=5)) == [b"n0", b"n1", b"n2"]
                        with pytest.raises(grpc.RpcError) as err:
                            stub.fail(b"", timeout=5)
                        assert err.value.code() == grpc.StatusCode.NOT_FOUND

                await anyio.to_thread.run_sync(calls)


async def test_no_h2c_switch_on_a_tls_http11_connection(tmp_path: Path) -> None:
    """Without ALPN h2 a TLS connection stays HTTP/1.1: the preface is a bad request
    and ``Upgrade: h2c`` an ordinary request (h2c is cleartext only)."""
    from edgeway.http.server import PREFACE, ServerProtocol

    ca = trustme.CA()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("app.test").configure_cert(ctx)
    async with backends("a") as (a,), edgeway(tmp_path, config(a.url)) as ew:
        ep = ew.kernel.entrypoints["web"]
        server = await ep.loop.create_server(lambda: ServerProtocol(ep), "127.0.0.1", 0, ssl=ctx)
        port = server.sockets[0].getsockname()[1]
        client = ssl.create_default_context()
        ca.configure_trust(client)
        try:
            for data, expected in (
                (PREFACE, b"HTTP/1.1 400 Bad Request\r\n"),
                (
                    b"GET / HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                    b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n\r\n",
                    b"HTTP/1.1 200 OK\r\n",
                ),
            ):
                reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client, server_hostname="app.test")
                writer.write(data)
                assert (await reader.readuntil(b"\r\n")) == expected
                writer.close()
        finally:
            server.close()
