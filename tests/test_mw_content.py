"""End-to-end tests of the ``compress``, ``buffering`` and ``errors`` middlewares."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path
from typing import Any

import brotli
import pytest
import zstandard
from support import Backend, Client, Received, edgeway, get

pytestmark = pytest.mark.anyio

TEXT = b"The quick brown fox jumps over the lazy dog. " * 100  # 4500 bytes


async def respond(rec: Received) -> Any:
    """The content backend: the path says what to answer."""
    path = rec.target.split("?")[0]
    parts = path.split("/")
    kind = parts[2] if len(parts) > 2 else ""
    if kind == "text":  # /x/text/<n>[/<content-type>]: n bytes with Content-Length
        n = int(parts[3])
        ctype = "/".join(parts[4:6]) if len(parts) > 5 else "text/plain"
        body = TEXT[:n] if rec.method != "HEAD" else b""
        return (
            200,
            [("Content-Type", ctype), ("Content-Length", str(n)), ("Accept-Ranges", "bytes")],
            body,
        )
    if kind == "chunked":  # no Content-Length: Traefik flushes after every write
        return 200, [("Content-Type", "text/plain")], TEXT[: int(parts[3])]
    if kind == "encoded":
        return 200, [("Content-Encoding", "custom"), ("Content-Length", str(len(TEXT)))], TEXT
    if kind == "untyped":  # no Content-Type: gzip sniffs it
        return 200, [("Content-Length", str(len(TEXT)))], TEXT
    if kind == "status":
        code = int(parts[3])
        body = f"original {code}".encode()
        return code, [("Content-Length", str(len(body))), ("X-Original", "1")], body
    if kind == "page" or path == "/":  # the error page service
        body = json.dumps({"target": rec.target, "headers": rec.headers}).encode()
        return 200, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body
    if kind == "count":  # /x/count/<code>: answers <code> until the third attempt
        attempts = sum(1 for r in APP.received if r.target == rec.target)
        code = int(parts[3]) if attempts < 3 else 200
        return code, [("Content-Length", "2")], b"ok"
    if kind == "echo":
        body = json.dumps(
            {
                "len": len(rec.body),
                "te": rec.header("Transfer-Encoding"),
                "cl": rec.header("Content-Length"),
            }
        )
        return 200, [("Content-Length", str(len(body)))], body.encode()
    return 404, [("Content-Length", "0")], b""


APP = Backend("app", respond=respond)

MIDDLEWARES = {
    "c": "{compress: {}}",
    "cmin": "{compress: {minResponseBodyBytes: 100}}",
    "corder": "{compress: {encodings: [zstd, br, gzip]}}",
    "cdefault": "{compress: {defaultEncoding: gzip}}",
    "cdefaultbr": "{compress: {encodings: [br, gzip], defaultEncoding: br}}",
    "cexcl": "{compress: {excludedContentTypes: [text/plain]}}",
    "cincl": "{compress: {includedContentTypes: [application/json]}}",
    "cinclhtml": "{compress: {includedContentTypes: [text/html]}}",
    "cbad1": "{compress: {excludedContentTypes: [a/b], includedContentTypes: [c/d]}}",
    "cbad2": "{compress: {encodings: [deflate]}}",
    "cbad3": "{compress: {encodings: [gzip], defaultEncoding: br}}",
    "cbad4": "{compress: {excludedContentTypes: ['text/']}}",
    "b": "{buffering: {maxRequestBodyBytes: 2000, memRequestBodyBytes: 100, maxResponseBodyBytes: 3000, memResponseBodyBytes: 10}}",
    "bretry": "{buffering: {retryExpression: 'IsNetworkError() && Attempts() < 5 || ResponseCode() == 503'}}",
    "bretry418": "{buffering: {retryExpression: 'ResponseCode() == 418'}}",
    "bbad1": "{buffering: {retryExpression: '!IsNetworkError()'}}",
    "bbad2": "{buffering: {maxRequestBodyBytes: -1}}",
    "e": "{errors: {status: ['500-599', '404'], service: pages, query: '/x/page/{status}?o={originalStatus}&u={url}'}}",
    "erewrite": "{errors: {status: ['418'], statusRewrites: {'418': 404, '400-499': 410}, service: pages@file, query: '/x/page/{status}'}}",
    "eheaders": "{errors: {status: ['500'], service: pages, errorRequestHeaders: [X-Keep]}}",
    "ebadquery": "{errors: {status: ['500'], service: pages, query: '/%zz'}}",
    "ebad1": "{errors: {status: ['404,418'], service: pages}}",
    "ebad2": "{errors: {status: ['500'], service: missing}}",
}


def config(url: str, dead: str) -> str:
    lines = ["http:", "  middlewares:"]
    lines += [f"    {name}: {body}" for name, body in MIDDLEWARES.items()]
    lines += ["  routers:"]
    for name in MIDDLEWARES:
        lines.append(
            f"    {name}: {{rule: 'PathPrefix(`/{name}/`)', service: app, middlewares: [{name}]}}"
        )
    lines.append("    dead: {rule: 'PathPrefix(`/dead/`)', service: dead, middlewares: [bretry]}")
    lines += [
        "  services:",
        f"    app: {{loadBalancer: {{servers: [{{url: '{url}'}}]}}}}",
        f"    pages: {{loadBalancer: {{servers: [{{url: '{url}'}}]}}}}",
        f"    dead: {{loadBalancer: {{servers: [{{url: '{dead}'}}]}}}}",
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture
async def ew(tmp_path: Path) -> Any:
    APP.received.clear()
    await APP.start()
    try:
        async with edgeway(tmp_path, config(APP.url, "http://127.0.0.1:1")) as e:
            yield e
    finally:
        await APP.stop()


def decode(encoding: str | None, body: bytes) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "br":
        return brotli.decompress(body)
    if encoding == "zstd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(body)
    assert encoding is None
    return body


async def fetch(
    port: int, target: str, ae: str | None = None, method: str = "GET"
) -> tuple[int, str | None, bytes, Any]:
    headers = [("Accept-Encoding", ae)] if ae is not None else []
    c = await Client.connect(port)
    try:
        r = await c.request(method, target, headers=headers)
    finally:
        await c.close()
    enc = r.header("Content-Encoding")
    return r.status, enc, decode(enc, r.body) if enc in ("gzip", "br", "zstd", None) else r.body, r


async def test_compress_negotiation_and_sizes(ew: Any) -> None:
    port = ew.port()
    for ae, want in [
        ("gzip", "gzip"),
        ("br", "br"),
        ("zstd", "zstd"),
        ("gzip, br, zstd", "gzip"),  # equal weights: the encodings order
        ("gzip;q=0.5, br;q=0.8", "br"),
        ("br;q=0, gzip", "gzip"),
        ("*", None),  # picks gzip, which gzhttp then refuses: "*" is not "gzip"
        ("identity", None),
        ("deflate", None),
        ("", None),
        ("gzip;q=abc", None),  # an unparsable weight is 0
    ]:
        status, enc, body, r = await fetch(port, "/c/text/4500", ae)
        assert (status, enc, body) == (200, want, TEXT), ae
        if want:
            assert r.header("Content-Length") is None or int(r.header("Content-Length")) == len(
                r.body
            )
            assert r.header("Vary") == "Accept-Encoding"
    # zstd first in the preference order; wildcard picks it too.
    assert (await fetch(port, "/corder/text/4500", "gzip, br, zstd"))[1] == "zstd"
    assert (await fetch(port, "/corder/text/4500", "*"))[1] == "zstd"
    # No Accept-Encoding: nothing, unless defaultEncoding (gzip is negotiated again by gzhttp: still nothing).
    status, enc, _, r = await fetch(port, "/c/text/4500")
    assert enc is None and r.header("Vary") is None
    assert (await fetch(port, "/cdefault/text/4500"))[1] is None
    assert (await fetch(port, "/cdefaultbr/text/4500"))[1] == "br"
    assert (await fetch(port, "/cdefault/text/4500", "*"))[1] is None
    # Under the minimum size: as is, but Vary is set; the minimum is configurable.
    status, enc, body, r = await fetch(port, "/c/text/1023", "br")
    assert (enc, body, r.header("Vary")) == (None, TEXT[:1023], "Accept-Encoding")
    assert (await fetch(port, "/c/text/1024", "br"))[1] == "br"
    assert (await fetch(port, "/cmin/text/100", "gzip"))[1] == "gzip"
    assert (await fetch(port, "/cmin/text/99", "zstd"))[1] is None
    # gzip drops Accept-Ranges, br keeps it.
    assert (await fetch(port, "/c/text/4500", "gzip"))[3].header("Accept-Ranges") is None
    assert (await fetch(port, "/c/text/4500", "br"))[3].header("Accept-Ranges") == "bytes"
    # HEAD is never compressed; nor an already encoded body.
    status, enc, body, r = await fetch(port, "/c/text/4500", "gzip", method="HEAD")
    assert (status, enc, body, r.header("Content-Length")) == (200, None, b"", "4500")
    for ae in ("gzip", "br", "zstd"):
        status, enc, body, r = await fetch(port, "/c/encoded/", ae)
        assert (enc, r.body) == ("custom", TEXT)


async def test_compress_content_types_and_streams(ew: Any) -> None:
    port = ew.port()
    for ae in ("gzip", "br", "zstd"):
        assert (await fetch(port, "/cexcl/text/4500", ae))[1] is None
        assert (await fetch(port, "/cexcl/text/4500/text/html", ae))[1] == ae
        assert (await fetch(port, "/cincl/text/4500/application/json", ae))[1] == ae
        assert (await fetch(port, "/cincl/text/4500", ae))[1] is None
        assert (await fetch(port, "/c/text/4500/application/grpc", ae))[
            1
        ] is None  # always excluded
        # Streamed (no Content-Length): compressed on the fly, even a short body.
        status, enc, body, r = await fetch(port, "/c/chunked/50", ae)
        assert (enc, body, r.header("Content-Length")) == (ae, TEXT[:50], None)
    # gzip sniffs an untyped body to apply includedContentTypes; br/zstd compress it.
    assert (await fetch(port, "/cinclhtml/untyped/", "gzip"))[1] is None
    assert (await fetch(port, "/cinclhtml/untyped/", "br"))[
        1
    ] == "br"  # Traefik's writer only checks a set type
    assert (await fetch(port, "/c/untyped/", "gzip"))[1] == "gzip"
    # A request with an excluded Content-Type is not compressed at all.
    c = await Client.connect(port)
    r = await c.request(
        "GET",
        "/c/text/4500",
        headers=[("Accept-Encoding", "gzip"), ("Content-Type", "application/grpc")],
    )
    await c.close()
    assert r.header("Content-Encoding") is None and r.header("Vary") is None
    for bad, msg in [
        ("cbad1", "mutually exclusive"),
        ("cbad2", "unsupported encoding: deflate"),
        ("cbad3", "unsupported default encoding: br"),
        ("cbad4", "parsing excluded media type"),
    ]:
        assert msg in " ".join(ew.runtime.middlewares[f"{bad}@file"].errors)


async def test_compress_large_stream_is_not_buffered(tmp_path: Path) -> None:
    """A long streamed body comes out compressed piece by piece, before the backend ends."""
    release = asyncio.Event()
    server = await asyncio.start_server(lambda r, w: _stream_until(r, w, release), "127.0.0.1", 0)
    port_s = server.sockets[0].getsockname()[1]
    dyn = f"""
    http:
      middlewares: {{c: {{compress: {{}}}}}}
      routers: {{r: {{rule: 'PathPrefix(`/`)', service: s, middlewares: [c]}}}}
      services: {{s: {{loadBalancer: {{servers: [{{url: 'http://127.0.0.1:{port_s}'}}]}}}}}}
    """
    try:
        async with edgeway(tmp_path, dyn) as e:
            reader, writer = await asyncio.open_connection("127.0.0.1", e.port())
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert b"Content-Encoding: gzip" in head and b"Transfer-Encoding: chunked" in head
            size = int(await asyncio.wait_for(reader.readuntil(b"\r\n"), 5), 16)
            first = await reader.readexactly(size)
            assert zlib_stream().decompress(first).startswith(b"part0")  # decodable before the end
            release.set()
            writer.close()
    finally:
        server.close()


def zlib_stream() -> Any:
    import zlib

    return zlib.decompressobj(31)


async def _stream_until(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, release: asyncio.Event
) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"part0" + b"x" * 2000
    writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    await writer.drain()
    await release.wait()
    writer.write(b"0\r\n\r\n")
    writer.close()


async def test_buffering(ew: Any) -> None:
    port = ew.port()
    c = await Client.connect(port)
    # A chunked request body is buffered (to a temp file past 100 bytes) and sent with a Content-Length.
    r = await c.request(
        "POST", "/b/echo/", headers=[("Transfer-Encoding", "chunked")], body=b"a" * 1500
    )
    assert r.status == 200 and json.loads(r.body) == {"len": 1500, "te": None, "cl": "1500"}
    r = await c.request("POST", "/b/echo/", body=b"")
    assert json.loads(r.body)["cl"] == "0"
    await c.close()
    c = await Client.connect(port)
    r = await c.request("POST", "/b/echo/", body=b"a" * 2001)  # Content-Length over the maximum
    assert (r.status, r.body) == (413, b"Request Entity Too Large")
    await c.close()
    c = await Client.connect(port)
    r = await c.request(
        "POST", "/b/echo/", headers=[("Transfer-Encoding", "chunked")], body=b"a" * 2001
    )
    assert r.status == 413
    await c.close()
    # Responses: within the maximum (spilled past 10 bytes), over it -> 500.
    r = await get(port, "/b/text/3000")
    assert (r.status, r.body) == (200, TEXT[:3000])
    r = await get(port, "/b/text/3001")
    assert (r.status, r.body) == (500, b"Internal Server Error")
    # Retries: network errors up to the 4th attempt, 503 until the backend recovers.
    r = await get(port, "/bretry/count/503")
    assert r.status == 200 and sum(1 for x in APP.received if x.target == "/bretry/count/503") == 3
    r = await get(port, "/bretry418/count/418")
    assert r.status == 200
    assert (await get(port, "/dead/x")).status == 502
    assert "! is not supported" in " ".join(ew.runtime.middlewares["bbad1@file"].errors)
    assert "max bytes should be >= 0 got -1" in " ".join(
        ew.runtime.middlewares["bbad2@file"].errors
    )


async def test_errors(ew: Any) -> None:
    port = ew.port()
    r = await get(port, "/e/status/502?a=b", headers=[("X-Client", "c")])
    assert r.status == 502 and r.header("X-Original") is None
    page = json.loads(r.body)
    assert (
        page["target"] == "/x/page/502?o=502&u=http%3A%2F%2Fexample.com%2Fe%2Fstatus%2F502%3Fa%3Db"
    )
    hdrs = {n.lower(): v for n, v in page["headers"]}
    assert (
        hdrs["x-client"] == "c" and hdrs["host"] == "example.com" and "x-forwarded-for" not in hdrs
    )
    assert (await get(port, "/e/status/404")).status == 404
    r = await get(port, "/e/status/403")
    assert (r.status, r.body) == (403, b"original 403")
    # Rewrites: the first matching key, in order; the query uses the new status.
    r = await get(port, "/erewrite/status/418")
    assert r.status == 404, (r.status, r.body, APP.received[-1])
    assert json.loads(r.body)["target"] == "/x/page/404", (r.body, APP.received[-1])
    # Only the listed headers go to the page service; no query: "/".
    r = await get(port, "/eheaders/status/500", headers=[("X-Keep", "k"), ("X-Drop", "d")])
    page = json.loads(r.body)
    hdrs = {n.lower(): v for n, v in page["headers"]}
    assert page["target"] == "/" and hdrs.get("x-keep") == "k" and "x-drop" not in hdrs
    r = await get(port, "/ebadquery/status/500")
    assert (r.status, r.body) == (500, b"Internal Server Error\n")
    assert "invalid syntax" in " ".join(ew.runtime.middlewares["ebad1@file"].errors)
    assert "missing" in " ".join(ew.runtime.middlewares["ebad2@file"].errors)
