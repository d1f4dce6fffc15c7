"""The ``grpcWeb`` middleware against a real gRPC server (grpcio) behind ``h2c://``."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
from edgeway.middlewares.grpcweb import parse_header_list, trailer_frame
from support import Client, edgeway

pytestmark = pytest.mark.anyio

ORIGIN = "https://app.test"


def frame(message: bytes, flag: int = 0) -> bytes:
    return bytes([flag]) + len(message).to_bytes(4, "big") + message


def frames(body: bytes) -> list[tuple[int, bytes]]:
    out = []
    while body:
        n = int.from_bytes(body[1:5], "big")
        out.append((body[0], body[5 : 5 + n]))
        body = body[5 + n :]
    return out


def decode_text(body: bytes) -> bytes:
    """gRPC-Web text responses are base64 pieces, each padded: decode one by one."""
    out, i = b"", 0
    while i < len(body):
        j = body.find(b"=", i)
        end = len(body) if j < 0 else j + 1 + (body[j + 1 : j + 2] == b"=")
        out += base64.b64decode(body[i:end])
        i = end
    return out


async def _echo(request: bytes, context: Any) -> bytes:
    context.set_trailing_metadata((("x-trail", "yes"),))
    return b"echo:" + request


async def _fail(request: bytes, context: Any) -> bytes:
    await context.abort(grpc.StatusCode.NOT_FOUND, "nope")
    return b""


async def _stream(request: bytes, context: Any) -> AsyncIterator[bytes]:
    for i in range(3):
        yield b"part%d" % i


def handlers() -> grpc.GenericRpcHandler:
    return grpc.method_handlers_generic_handler(
        "test.Svc",
        {
            "Echo": grpc.unary_unary_rpc_method_handler(_echo),
            "Fail": grpc.unary_unary_rpc_method_handler(_fail),
            "Stream": grpc.unary_stream_rpc_method_handler(_stream),
        },
    )


@asynccontextmanager
async def grpc_server() -> AsyncIterator[int]:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handlers(),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield port
    finally:
        await server.stop(None)


def dynamic(port: int, origins: str = f'["{ORIGIN}"]') -> str:
    return f"""
    http:
      routers:
        app: {{rule: "PathPrefix(`/`)", service: app, middlewares: [gw]}}
      middlewares:
        gw:
          grpcWeb: {{allowOrigins: {origins}}}
      services:
        app:
          loadBalancer:
            servers: [{{url: "h2c://127.0.0.1:{port}"}}]
    """


def grpc_web_headers(
    content_type: str = "application/grpc-web+proto", origin: str = ORIGIN
) -> list[tuple[str, str]]:
    # grpcio (gRPC C-core) resets streams without ``te: trailers``; neither Traefik
    # nor edgeway adds it (Go's ReverseProxy only forwards the client's), so the
    # client sends it here. See test_grpcio_without_te_is_a_500.
    return [
        ("Content-Type", content_type),
        ("X-Grpc-Web", "1"),
        ("Origin", origin),
        ("TE", "trailers"),
    ]


async def test_unary_call_binary(tmp_path: Path) -> None:
    async with grpc_server() as port, edgeway(tmp_path, dynamic(port)) as ew:
        client = await Client.connect(ew.port())
        r = await client.request(
            "POST", "/test.Svc/Echo", body=frame(b"hi"), headers=grpc_web_headers()
        )
        await client.close()
        assert r.status == 200
        assert r.header("Content-Type") == "application/grpc-web"  # grpcio answers application/grpc
        assert r.header("Access-Control-Allow-Origin") == ORIGIN
        assert r.header("Access-Control-Allow-Credentials") == "true"
        assert r.header("Vary") == "Origin"
        exposed = (r.header("Access-Control-Expose-Headers") or "").split(", ")
        assert {
            "Content-Type",
            "Vary",
            "Access-Control-Allow-Origin",
            "grpc-status",
            "grpc-message",
        } <= set(exposed)
        got = frames(r.body)
        assert got[0] == (0, b"echo:hi")
        assert got[1][0] == 0x80
        trailers = got[1][1].decode()
        assert "grpc-status: 0\r\n" in trailers and "x-trail: yes\r\n" in trailers
        assert len(got) == 2


async def test_unary_call_text_and_server_streaming(tmp_path: Path) -> None:
    async with grpc_server() as port, edgeway(tmp_path, dynamic(port)) as ew:
        client = await Client.connect(ew.port())
        body = base64.b64encode(frame(b"txt"))
        r = await client.request(
            "POST",
            "/test.Svc/Echo",
            body=body,
            headers=grpc_web_headers("application/grpc-web-text"),
        )
        assert r.status == 200 and r.header("Content-Type") == "application/grpc-web-text"
        got = frames(decode_text(r.body))
        assert got[0] == (0, b"echo:txt") and got[-1][0] == 0x80
        r = await client.request(
            "POST", "/test.Svc/Stream", body=frame(b""), headers=grpc_web_headers()
        )
        await client.close()
        got = frames(r.body)
        assert [m for f, m in got if f == 0] == [b"part0", b"part1", b"part2"]
        assert b"grpc-status: 0" in got[-1][1]


async def test_error_status_travels_in_headers_when_trailers_only(tmp_path: Path) -> None:
    async with grpc_server() as port, edgeway(tmp_path, dynamic(port)) as ew:
        client = await Client.connect(ew.port())
        r = await client.request(
            "POST", "/test.Svc/Fail", body=frame(b""), headers=grpc_web_headers()
        )
        await client.close()
        assert r.status == 200
        assert r.header("Grpc-Status") == "5" and r.header("Grpc-Message") == "nope"
        assert r.body == b"\x80\x00\x00\x00\x00"  # the wrapper always ends with a trailers frame


async def test_grpcio_without_te_is_a_500(tmp_path: Path) -> None:
    """The server resets the stream (RST_STREAM): Go's StreamError is no net.Error -> 500."""
    async with grpc_server() as port, edgeway(tmp_path, dynamic(port)) as ew:
        client = await Client.connect(ew.port())
        headers = [h for h in grpc_web_headers() if h[0] != "TE"]
        r = await client.request("POST", "/test.Svc/Echo", body=frame(b"hi"), headers=headers)
        await client.close()
        assert r.status == 500 and r.body == b"Internal Server Error\x80\x00\x00\x00\x00"
        assert "Content-Type" in (r.header("Access-Control-Expose-Headers") or "")


async def test_cors_preflight(tmp_path: Path) -> None:
    async with grpc_server() as port, edgeway(tmp_path, dynamic(port)) as ew:
        client = await Client.connect(ew.port())
        pre = [
            ("Origin", ORIGIN),
            ("Access-Control-Request-Method", "post"),
            ("Access-Control-Request-Headers", "x-grpc-web,content-type, x-user_agent"),
        ]
        r = await client.request("OPTIONS", "/test.Svc/Echo", headers=pre)
        assert r.status == 200 and r.body == b""
        assert r.header("Access-Control-Allow-Origin") == ORIGIN
        assert r.header("Access-Control-Allow-Methods") == "POST"
        assert r.header("Access-Control-Allow-Headers") == "X-Grpc-Web, Content-Type, X-User_Agent"
        assert r.header("Access-Control-Allow-Credentials") == "true"
        assert r.header("Access-Control-Max-Age") == "600"
        assert [v for n, v in r.headers if n.lower() == "vary"] == [
            "Origin",
            "Access-Control-Request-Method",
            "Access-Control-Request-Headers",
        ]
        # An origin not allowed, or a method rs/cors does not allow: only Vary.
        for origin, method in (("https://evil.test", "POST"), (ORIGIN, "PUT")):
            headers = [("Origin", origin), ("Access-Control-Request-Method", method), pre[2]]
            r = await client.request("OPTIONS", "/test.Svc/Echo", headers=headers)
            assert r.status == 200 and r.header("Access-Control-Allow-Origin") is None
            assert r.header("Access-Control-Allow-Methods") is None
        await client.close()


async def test_allow_any_origin_and_origin_not_allowed(tmp_path: Path) -> None:
    async with grpc_server() as port, edgeway(tmp_path, dynamic(port, '["*"]')) as ew:
        client = await Client.connect(ew.port())
        r = await client.request(
            "POST",
            "/test.Svc/Echo",
            body=frame(b"a"),
            headers=grpc_web_headers(origin="https://x.test"),
        )
        assert r.header("Access-Control-Allow-Origin") == "https://x.test"  # echoed, never "*"
        await client.close()
    async with grpc_server() as port, edgeway(tmp_path, dynamic(port, "[]")) as ew:
        client = await Client.connect(ew.port())
        r = await client.request(
            "POST", "/test.Svc/Echo", body=frame(b"a"), headers=grpc_web_headers()
        )
        await client.close()
        assert r.status == 200 and r.header("Access-Control-Allow-Origin") is None
        # No CORS headers, but the call still goes through.
        assert frames(r.body)[0] == (0, b"echo:a")


async def test_other_requests_pass_through(tmp_path: Path) -> None:
    async with grpc_server() as port, edgeway(tmp_path, dynamic(port)) as ew:
        client = await Client.connect(ew.port())
        # Not gRPC-Web: forwarded as is (plain HTTP/2 to a gRPC server -> its own answer).
        r = await client.request("GET", "/", headers=[("Origin", ORIGIN)])
        await client.close()
        assert (
            r.header("Access-Control-Allow-Origin") is None
            and r.header("Access-Control-Expose-Headers") is None
        )


def test_parse_header_list_as_rs_cors() -> None:
    assert parse_header_list(b"x-grpc-web,content-type") == [b"X-Grpc-Web", b"Content-Type"]
    assert parse_header_list(b" X-CUSTOM  ,  a_b.c ") == [b"X-Custom", b"A_Bc"]
    assert parse_header_list(b"") == []


def test_trailer_frame_sorts_and_lower_cases() -> None:
    frame_ = trailer_frame([(b"Grpc-Status", b"0"), (b"Grpc-Message", b" a\nb ")])
    assert frame_ == b"\x80\x00\x00\x00\x23grpc-message: a b\r\ngrpc-status: 0\r\n"
    assert trailer_frame([]) == b"\x80\x00\x00\x00\x00"
