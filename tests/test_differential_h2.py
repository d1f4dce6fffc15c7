"""Inbound HTTP/2 (h2c with prior knowledge): real Traefik and edgeway side by side.

One pair of proxies for the module, on the same backends: a recording HTTP/1.1
backend, a raw one answering with chunked trailers, an h2c backend with HTTP/2
trailers and a grpcio server. Each case sends the same HTTP/2 request to both on
a fresh connection and compares what a user would notice: status or stream
reset, response headers (minus ``date``), body, trailers, and what the backend
received. Differences that are intended are listed in ``INTENDED`` with their
reason.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import grpc
import pytest
from differential_support import (
    BackendPool,
    Proxy,
    differences,
    digest,
    header_multiset,
    require_traefik,
    traefik_and_edgeway,
)
from grpc_support import grpc_channel, grpc_server
from h2_support import h2_client
from test_transports import DualBackend

TRAEFIK = require_traefik()
pytestmark = pytest.mark.anyio

#: Intended differences, and why.
INTENDED = {
    "upstream accept-encoding": (
        "Go's transport adds `Accept-Encoding: gzip` toward the backend when the client sent "
        "none; edgeway forwards the client's as is (as in the HTTP/1.1 differential suite)"
    ),
    "upgrade-h2c": (
        "Traefik 3.7 serves h2c with net/http's UnencryptedHTTP2, prior knowledge only: an "
        "`Upgrade: h2c` request is answered over HTTP/1.1. The issue asks for the Upgrade as "
        "well, so edgeway switches as golang.org/x/net/http2/h2c does (101, then stream 1)"
    ),
    "content-length of streamed answers": (
        "Go's HTTP/2 server adds content-length when the handler finished before the first "
        "flush (a short answer, whatever its upstream framing); edgeway adds it when the "
        "answer reached it whole, so a chunked upstream answer may differ"
    ),
}

TRAILERS_ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
    b"Trailer: x-decl\r\n\r\n3\r\nabc\r\n0\r\nx-decl: d1\r\nX-Undecl: u1\r\n\r\n"
)


@dataclass
class Env:
    traefik: Proxy
    edgeway: Proxy
    pool: BackendPool

    def proxies(self) -> list[tuple[str, int]]:
        return [("traefik", self.traefik.port()), ("edgeway", self.edgeway.port())]


async def _raw_trailers_server() -> asyncio.Server:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(TRAILERS_ANSWER)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("differential-h2")
    pool = BackendPool()
    with grpc_server() as (grpc_port, _):
        try:
            a = pool.add("a")
            dual = DualBackend(name="h2", h2c=True)
            pool._call(dual.start())
            pool.backends["h2"] = dual
            raw = pool._call(_raw_trailers_server())
            raw_port = raw.sockets[0].getsockname()[1]

            def route(name: str, rule: str, url: str) -> tuple[dict[str, Any], dict[str, Any]]:
                return (
                    {"rule": rule, "service": name},
                    {"loadBalancer": {"servers": [{"url": url}]}},
                )

            routes = {
                "app": route("app", "Host(`app.test`)", a.url),
                "trail": route("trail", "Host(`trailers.test`)", f"http://127.0.0.1:{raw_port}"),
                "h2up": route("h2up", "Host(`h2.test`)", dual.url),
                "grpc": route("grpc", "PathPrefix(`/test.Svc/`)", f"h2c://127.0.0.1:{grpc_port}"),
            }
            config = {
                "http": {
                    "routers": {n: r for n, (r, _) in routes.items()},
                    "services": {n: s for n, (_, s) in routes.items()},
                }
            }
            with traefik_and_edgeway(tmp, TRAEFIK, config, [("web", "app.test", "/", 200)]) as (
                t,
                e,
            ):
                yield Env(t, e, pool)
        finally:
            pool.close()


@dataclass(frozen=True)
class Case:
    method: str = "GET"
    path: str = "/"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    authority: str = "app.test"
    raw: tuple[tuple[bytes, bytes], ...] | None = None


CASES = {
    "get": Case(headers=(("x-custom", "v"), ("user-agent", "t/1"))),
    "cookies-merged": Case(headers=(("cookie", "a=1"), ("cookie", "b=2"))),
    "untrusted-forwarded": Case(headers=(("x-forwarded-for", "6.6.6.6"), ("x-real-ip", "1.2.3.4"), ("x-forwarded-host", "evil"))),
    "te-trailers": Case(headers=(("te", "trailers"),)),
    "query-and-escapes": Case(path="/p/a%2Fb/%7Euser?x=1;y=2&z"),
    "dot-segments": Case(path="/a/../b/./c"),
    "empty-query": Case(path="/q?"),
    "authority-port": Case(authority="app.test:8443"),
    "post-length": Case("POST", "/post", (("content-length", "11"), ("content-type", "text/plain")), b"hello world"),
    "post-no-length": Case("POST", "/post", (("content-type", "text/plain"),), b"x" * 70000),
    "post-empty-end-stream": Case("POST", "/post"),
    "put-big": Case("PUT", "/big", (), bytes(range(256)) * 8000),
    "head": Case("HEAD", "/status/200"),
    "status-204": Case(path="/status/204"),
    "status-503": Case(path="/status/503"),
    "large-response": Case(path="/large/300000"),
    "no-route": Case(authority="nobody.test"),
    "options-star": Case("OPTIONS", "*"),
    "h1-trailers": Case(authority="trailers.test", headers=(("te", "trailers"),)),
    "h2-trailers": Case(path="/trailers", authority="h2.test", headers=(("te", "trailers"),)),
    "h2-upstream": Case(path="/echo", authority="h2.test", headers=(("x-a", "1"),)),
    "expect-continue": Case("POST", "/post", (("expect", "100-continue"), ("content-length", "3")), b"abc"),
    "host-header-no-authority": Case(
        raw=((b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/h"), (b"host", b"app.test"))
    ),
    "bad-connection-header": Case(headers=(("connection", "keep-alive"),)),
    "bad-te": Case(headers=(("te", "gzip"),)),
    "bad-te-twice": Case(headers=(("te", "trailers"), ("te", "trailers"))),
    "bad-transfer-encoding": Case(headers=(("transfer-encoding", "chunked"), ("upgrade", "x"))),
    "bad-keep-alive": Case(headers=(("keep-alive", "1"),)),
    "bad-uppercase": Case(raw=((b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"app.test"), (b":path", b"/"), (b"X-Up", b"1"))),
    "bad-no-path": Case(raw=((b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"app.test"))),
    "bad-scheme": Case(raw=((b":method", b"GET"), (b":scheme", b"ftp"), (b":authority", b"app.test"), (b":path", b"/"))),
}  # fmt: skip


async def _send(port: int, case: Case) -> Any:
    async with h2_client(port) as c:
        if case.raw is not None:
            sid = c.open(raw=list(case.raw))
        else:
            sid = c.open(
                case.method,
                case.path,
                case.headers,
                authority=case.authority,
                end_stream=case.body is None,
            )
        if case.body is not None:
            await c.send(sid, case.body)
        reply = await c.reply(sid, timeout=10)
        return reply, dict(c.remote_settings)


def _upstream(received: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "backend": name,
            "method": rec.method,
            "target": rec.target,
            "version": rec.http_version,
            "headers": header_multiset(
                rec.headers, lambda n: n not in ("accept-encoding", "connection")
            ),
            "body": digest(rec.body),
        }
        for name, rec in received
    ]


async def _observe(env: Env, port: int, case: Case) -> dict[str, Any]:
    snap = env.pool.snapshot()
    reply, settings = await _send(port, case)
    with anyio.move_on_after(0.5):  # a reset stream's request may still be on its way
        while (
            case.raw is None
            and reply.reset is None
            and not env.pool.since(snap)
            and case.authority != "nobody.test"
        ):
            await anyio.sleep(0.01)
    return {
        "status": reply.status,
        "reset": reply.reset,
        "informational": reply.informational,
        "headers": header_multiset(reply.headers, lambda n: n not in ("date", "content-length")),
        "content-length": reply.header("content-length")
        if "large" not in str(case.path)
        else "n/a",
        "body": digest(reply.body),
        "trailers": sorted(reply.trailers),
        "upstream": _upstream(env.pool.since(snap)),
    }


@pytest.mark.parametrize("name", list(CASES))
async def test_same_as_traefik(env: Env, name: str) -> None:
    case = CASES[name]
    results = {proxy: await _observe(env, port, case) for proxy, port in env.proxies()}
    if name in ("h1-trailers", "h2-upstream", "post-no-length"):
        # INTENDED["content-length of streamed answers"]
        for r in results.values():
            r.pop("content-length")
    assert results["edgeway"] == results["traefik"], differences(
        results["traefik"], results["edgeway"]
    )


async def test_settings_as_traefik(env: Env) -> None:
    seen = {proxy: (await _send(port, CASES["get"]))[1] for proxy, port in env.proxies()}
    keys = (0x1, 0x3, 0x4)  # HEADER_TABLE_SIZE, MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE
    assert {k: seen["edgeway"].get(k) for k in keys} == {k: seen["traefik"].get(k) for k in keys}


async def test_grpc_as_traefik(env: Env) -> None:
    def calls(port: int) -> list[Any]:
        out: list[Any] = []
        with grpc_channel(port) as stub:
            reply, call = stub.echo.with_call(b"hi", metadata=(("x-in", "m"),), timeout=5)
            out.append((reply, call.code(), sorted(call.trailing_metadata())))
            out.append(list(stub.count(b"5", timeout=5)))
            out.append(list(stub.chat(iter([b"a", b"b", b"c"]), timeout=5)))
            try:
                stub.fail(b"", timeout=5)
            except grpc.RpcError as err:
                # Trailers-only error: its metadata holds the response's Date, which
                # differs whenever the two calls straddle a second.
                trailers = sorted(m for m in err.trailing_metadata() or () if m.key != "date")
                out.append((err.code(), err.details(), trailers))
        return out

    results = {proxy: await anyio.to_thread.run_sync(calls, port) for proxy, port in env.proxies()}
    assert results["edgeway"] == results["traefik"]


async def test_trailers_to_an_http11_client_as_traefik(env: Env) -> None:
    """Chunked HTTP/1.1 answers carry the trailers after the last chunk, as Go writes them."""
    seen: dict[str, Any] = {}
    for proxy, port in env.proxies():
        for host in ("trailers.test", "h2.test"):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                b"GET /trailers HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host.encode()
            )
            raw = await reader.read(-1)
            writer.close()
            head, _, rest = raw.partition(b"\r\n\r\n")
            lines = sorted(
                line for line in head.split(b"\r\n")[1:] if not line.lower().startswith(b"date:")
            )
            seen[f"{proxy} {host}"] = (head.split(b"\r\n")[0], lines, rest)
    for host in ("trailers.test", "h2.test"):
        assert seen[f"edgeway {host}"] == seen[f"traefik {host}"]


async def test_upgrade_h2c_is_an_intended_difference(env: Env) -> None:
    """INTENDED["upgrade-h2c"]: Traefik answers over HTTP/1.1, edgeway switches."""
    settings = base64.urlsafe_b64encode(b"\x00\x03\x00\x00\x00\x64").rstrip(b"=").decode()
    head = (
        "GET / HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        f"Upgrade: h2c\r\nHTTP2-Settings: {settings}\r\n\r\n"
    ).encode()
    first: dict[str, bytes] = {}
    for proxy, port in env.proxies():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(head)
        first[proxy] = (await reader.readuntil(b"\r\n")).strip()
        writer.close()
    assert first == {"traefik": b"HTTP/1.1 200 OK", "edgeway": b"HTTP/1.1 101 Switching Protocols"}
