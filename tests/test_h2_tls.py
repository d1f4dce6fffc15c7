"""HTTP/2 over a real TLS entry point: routers with ``tls: {}``, the certificate in the
dynamic configuration; a client negotiating ALPN ``h2`` is served by
``H2ServerProtocol``, any other by HTTP/1.1 (h2c stays cleartext-only).
Both event loops: production runs uvloop, whose TLS transports differ."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import anyio
import grpc
import pytest
from grpc_support import Stub, grpc_server
from h2_support import h2_client
from support import Client, backends, edgeway
from test_transports import config as plain_config
from tls_support import CA, https

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "uvloop"])
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    return ("asyncio", {"use_uvloop": True}) if request.param == "uvloop" else "asyncio"


@pytest.fixture
def ca(tmp_path: Path) -> CA:
    ca = CA(tmp_path)
    ca.issue("app.test")
    return ca


def config(url: str, options: str = "") -> str:
    """The routers as TLS routers (``options``: their TLS options), the certificate
    from the files ``ca`` wrote in edgeway's working directory."""
    routers = plain_config(url).replace("service: app}", "service: app, tls: {}}")
    if options:  # TLS options apply to the hosts a rule names
        routers = routers.replace("PathPrefix(`/`)", "Host(`app.test`)").replace(
            "tls: {}", f"tls: {{options: {options}}}"
        )
    return (
        routers
        + """
tls:
  certificates:
    - {certFile: app.test.crt, keyFile: app.test.key}
  options:
    h11: {alpnProtocols: [http/1.1]}
"""
    )


def h2_context(ca: CA) -> ssl.SSLContext:
    return ca.client_context(alpn=["h2"])


async def test_https_request_over_h2(tmp_path: Path, ca: CA) -> None:
    async with backends("a") as (a,), edgeway(tmp_path, config(a.url)) as ew:
        async with h2_client(
            ew.port(), ssl_context=h2_context(ca), server_hostname="app.test"
        ) as c:
            assert c.writer.get_extra_info("ssl_object").selected_alpn_protocol() == "h2"
            r = await c.request("GET", "/x", authority="app.test", scheme="https")
            assert r.status == 200
            assert (
                await c.request("GET", "/y", authority="app.test", scheme="https")
            ).status == 200
        rec = a.received[-1]
        assert (
            rec.header("x-forwarded-proto") == "https" and rec.header("x-forwarded-port") == "443"
        )
        assert rec.header("host") == "app.test"
        assert [r.target for r in a.received] == ["/x", "/y"]  # two streams, one TLS connection


async def test_handler_sees_https_and_the_connection_tls_object(tmp_path: Path, ca: CA) -> None:
    seen: list[Any] = []
    async with backends("a") as (a,), edgeway(tmp_path, config(a.url)) as ew:
        ep = ew.kernel.entrypoints["web"]
        inner = ep.https_handler

        async def spy(req: Any) -> Any:
            seen.append((req.scheme, req.tls.selected_alpn_protocol(), req.tls.version()))
            return await inner(req)

        ep.https_handler = spy
        async with h2_client(
            ew.port(), ssl_context=h2_context(ca), server_hostname="app.test"
        ) as c:
            assert (await c.request("GET", "/", authority="app.test", scheme="https")).status == 200
    assert seen == [("https", "h2", "TLSv1.3")]


@pytest.mark.parametrize(
    ("offer", "options", "protocol"),
    [
        (["h2", "http/1.1"], "", "h2"),
        (["http/1.1"], "", "http/1.1"),
        (None, "", None),
        (["h2", "http/1.1"], "h11", "http/1.1"),  # alpnProtocols without h2
    ],
)
async def test_alpn_choice(
    tmp_path: Path, ca: CA, offer: list[str] | None, options: str, protocol: str | None
) -> None:
    """Without ``h2`` negotiated, the TLS connection is served by HTTP/1.1."""
    async with backends("a") as (a,), edgeway(tmp_path, config(a.url, options)) as ew:
        if protocol == "h2":
            async with h2_client(
                ew.port(), ssl_context=ca.client_context(alpn=offer), server_hostname="app.test"
            ) as c:
                assert (
                    await c.request("GET", "/", authority="app.test", scheme="https")
                ).status == 200
            assert a.received[-1].http_version == "1.1"  # towards the backend, as configured
            return
        client, tls = await https(ew.port(), "app.test", ca.client_context(alpn=offer))
        try:
            assert tls.selected_alpn_protocol() == protocol
            r = await client.request(target="/", host="app.test")
            assert r.status == 200 and a.received[-1].header("x-forwarded-proto") == "https"
        finally:
            await client.close()


async def test_grpc_over_tls(tmp_path: Path, ca: CA) -> None:
    with grpc_server() as (gport, _):
        async with edgeway(tmp_path, config(f"h2c://127.0.0.1:{gport}")) as ew:
            port = ew.port()

            def calls() -> None:
                creds = grpc.ssl_channel_credentials(root_certificates=ca.path.read_bytes())
                options = [("grpc.ssl_target_name_override", "app.test")]
                with grpc.secure_channel(f"127.0.0.1:{port}", creds, options=options) as channel:
                    stub = Stub(channel)
                    reply, call = stub.echo.with_call(b"tls", timeout=5)
                    assert (
                        reply == b"echo:tls" and dict(call.trailing_metadata())["x-trail"] == "yes"
                    )
                    assert list(stub.count(b"3", timeout=5)) == [b"n0", b"n1", b"n2"]
                    assert list(stub.chat(iter([b"a", b"b"]), timeout=5)) == [b"re:a", b"re:b"]
                    with pytest.raises(grpc.RpcError) as err:
                        stub.fail(b"", timeout=5)
                    assert err.value.code() == grpc.StatusCode.NOT_FOUND

            await anyio.to_thread.run_sync(calls)


async def test_no_h2c_switch_on_a_tls_http11_connection(tmp_path: Path, ca: CA) -> None:
    """Without ALPN h2 a TLS connection stays HTTP/1.1: the preface is a bad request
    and ``Upgrade: h2c`` an ordinary request (h2c is cleartext only)."""
    from edgeway.http.server import PREFACE

    async with backends("a") as (a,), edgeway(tmp_path, config(a.url)) as ew:
        for data, expected in (
            (PREFACE, b"HTTP/1.1 400 Bad Request\r\n"),
            (
                b"GET / HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n\r\n",
                b"HTTP/1.1 200 OK\r\n",
            ),
        ):
            client, _ = await https(ew.port(), "app.test", ca.client_context(alpn=["http/1.1"]))
            assert isinstance(client, Client)
            client.writer.write(data)
            assert await asyncio.wait_for(client.reader.readuntil(b"\r\n"), 5) == expected
            await client.close()
