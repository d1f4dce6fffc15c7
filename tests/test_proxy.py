"""The HTTP/1.1 data path end to end: client -> edgeway -> backend, over real sockets."""

from __future__ import annotations

import asyncio
from pathlib import Path

import anyio
import pytest
from support import Client, backends, edgeway, free_port, get, raw_exchange

pytestmark = pytest.mark.anyio


def simple(url: str) -> str:
    return f"""
    http:
      routers:
        app:
          rule: "PathPrefix(`/`)"
          service: app
      services:
        app:
          loadBalancer:
            servers:
              - url: {url}
    """


async def test_round_robin_over_two_servers_and_keep_alive(tmp_path: Path) -> None:
    async with backends("a", "b") as (a, b):
        dyn = f"""
        http:
          routers:
            app: {{rule: "PathPrefix(`/`)", service: app}}
          services:
            app:
              loadBalancer:
                servers: [{{url: "{a.url}"}}, {{url: "{b.url}"}}]
        """
        async with edgeway(tmp_path, dyn) as ew:
            client = await Client.connect(ew.port())
            names = [(await client.request("GET", f"/r{i}")).json()["server"] for i in range(6)]
            await client.close()
            assert names == ["a", "b", "a", "b", "a", "b"]
            # Upstream keep-alive: one connection per backend served all requests.
            assert a.connections == 1 and b.connections == 1


async def test_weights_follow_smooth_weighted_round_robin(tmp_path: Path) -> None:
    async with backends("a", "b") as (a, b):
        dyn = f"""
        http:
          routers:
            app: {{rule: "PathPrefix(`/`)", service: app}}
          services:
            app:
              loadBalancer:
                servers: [{{url: "{a.url}", weight: 3}}, {{url: "{b.url}", weight: 1}}, {{url: "http://127.0.0.1:1", weight: 0}}]
        """
        async with edgeway(tmp_path, dyn) as ew:
            client = await Client.connect(ew.port())
            names = [(await client.request()).json()["server"] for _ in range(8)]
            await client.close()
            assert names.count("a") == 6 and names.count("b") == 2
            assert "bb" not in "".join(n for n in names)


async def test_what_the_backend_receives(tmp_path: Path) -> None:
    async with backends("a") as (a,), edgeway(tmp_path, simple(a.url)) as ew:
        reply = await get(
            ew.port(),
            "/p/a%20b?x=1;y=2",
            host="example.com:8443",
            headers=[
                ("X-Forwarded-For", "1.2.3.4"),
                ("X-Real-Ip", "6.6.6.6"),
                ("Connection", "X-Secret"),
                ("X-Secret", "hop"),
                ("Keep-Alive", "timeout=5"),
                ("X-Custom", "kept"),
            ],
        )
        assert reply.status == 200
        rec = a.received[-1]
        assert rec.target == "/p/a%20b?x=1&y=2"  # Traefik rewrites ';' in queries
        assert rec.header("Host") == "example.com:8443"
        # The client is not trusted: its X-Forwarded-* are replaced.
        assert rec.header("X-Forwarded-For") == "127.0.0.1"
        assert rec.header("X-Real-Ip") == "127.0.0.1"
        assert rec.header("X-Forwarded-Host") == "example.com:8443"
        assert rec.header("X-Forwarded-Port") == "8443"
        assert rec.header("X-Forwarded-Proto") == "http"
        assert rec.header("X-Forwarded-Server")
        # Hop-by-hop headers and those listed in Connection are not forwarded.
        assert rec.header("X-Secret") is None and rec.header("Keep-Alive") is None
        assert rec.header("X-Custom") == "kept"


async def test_trusted_forwarded_headers_are_kept_and_appended(tmp_path: Path) -> None:
    async with backends("a") as (a,):
        static = """
        entryPoints:
          web:
            address: "127.0.0.1:0"
            forwardedHeaders:
              trustedIPs: ["127.0.0.1/32"]
        """
        async with edgeway(tmp_path, simple(a.url), static) as ew:
            await get(
                ew.port(),
                headers=[
                    ("X-Forwarded-For", "1.2.3.4"),
                    ("X-Forwarded-For", "5.6.7.8"),
                    ("X-Forwarded-Proto", "https"),
                ],
            )
            rec = a.received[-1]
            assert rec.header("X-Forwarded-For") == "1.2.3.4, 5.6.7.8, 127.0.0.1"
            assert rec.header("X-Forwarded-Proto") == "https"
            assert rec.header("X-Forwarded-Port") == "443"


async def test_pass_host_header_false_and_preserve_path(tmp_path: Path) -> None:
    async with backends("a") as (a,):
        dyn = f"""
        http:
          routers:
            app: {{rule: "PathPrefix(`/`)", service: app}}
          services:
            app:
              loadBalancer:
                passHostHeader: false
                servers: [{{url: "{a.url}/base", preservePath: true}}]
        """
        async with edgeway(tmp_path, dyn) as ew:
            await get(ew.port(), "/x?q=1", host="front.example")
            rec = a.received[-1]
            assert rec.header("Host") == f"127.0.0.1:{a.port}"
            assert rec.target == "/base/x?q=1"


async def test_bodies_stream_both_ways(tmp_path: Path) -> None:
    async with backends("a") as (a,), edgeway(tmp_path, simple(a.url)) as ew:
        client = await Client.connect(ew.port())
        big = bytes(range(256)) * 20000  # 5 MB
        reply = await client.request("POST", "/upload", body=big)
        assert reply.json()["body_len"] == len(big)
        assert a.received[-1].body == big
        reply = await client.request("GET", "/chunked")
        assert reply.body == b"chunk0;chunk1;chunk2;chunk3;chunk4;"
        reply = await client.request("GET", "/large/10000000")
        assert len(reply.body) == 10_000_000
        assert reply.header("Content-Length") == "10000000"
        await client.close()


async def test_chunked_request_body(tmp_path: Path) -> None:
    async with backends("a") as (a,):
        async with edgeway(tmp_path, simple(a.url)) as ew:
            raw = (
                b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
            )
            out = await raw_exchange(ew.port(), raw)
            assert out.startswith(b"HTTP/1.1 200 OK")
            assert a.received[-1].body == b"hello world"
            assert a.received[-1].header("Transfer-Encoding") == "chunked"


async def test_expect_100_continue(tmp_path: Path) -> None:
    async with backends("a") as (a,), edgeway(tmp_path, simple(a.url)) as ew:
        reader, writer = await asyncio.open_connection("127.0.0.1", ew.port())
        writer.write(
            b"PUT /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        with anyio.fail_after(5):
            line = await reader.readuntil(b"\r\n\r\n")
        assert line.startswith(b"HTTP/1.1 100 Continue")
        writer.write(b"hello")
        with anyio.fail_after(5):
            head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK")
        writer.close()
        assert a.received[-1].body == b"hello"


async def test_limits_answer_431_414_400(tmp_path: Path) -> None:
    async with backends("a") as (a,):
        static = """
        entryPoints:
          web:
            address: "127.0.0.1:0"
            http:
              maxHeaderBytes: 4096
        """
        async with edgeway(tmp_path, simple(a.url), static) as ew:
            big_header = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8000 + b"\r\n\r\n"
            assert (await raw_exchange(ew.port(), big_header)).startswith(b"HTTP/1.1 431 ")
            long_url = b"GET /" + b"a" * 8000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
            assert (await raw_exchange(ew.port(), long_url)).startswith(b"HTTP/1.1 414 ")
            assert (await raw_exchange(ew.port(), b"GARBAGE\r\n\r\n")).startswith(b"HTTP/1.1 400 ")
            assert (
                await raw_exchange(ew.port(), b"GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n")
            ).startswith(b"HTTP/1.1 400 ")
            no_host = await raw_exchange(ew.port(), b"GET / HTTP/1.1\r\n\r\n")
            assert no_host.startswith(b"HTTP/1.1 400 ")
            assert a.received == []


async def test_read_and_idle_timeouts_close_connections(tmp_path: Path) -> None:
    async with backends("a") as (a,):
        static = """
        entryPoints:
          web:
            address: "127.0.0.1:0"
            transport:
              respondingTimeouts: {readTimeout: 0.3s, idleTimeout: 0.3s}
        """
        async with edgeway(tmp_path, simple(a.url), static) as ew:
            # A client that never finishes its headers is cut off.
            reader, writer = await asyncio.open_connection("127.0.0.1", ew.port())
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
            with anyio.fail_after(5):
                assert await reader.read() == b""
            writer.close()
            # An idle keep-alive connection is closed after idleTimeout.
            client = await Client.connect(ew.port())
            assert (await client.request()).status == 200
            with anyio.fail_after(5):
                assert await client.reader.read() == b""
            await client.close()


async def test_error_statuses(tmp_path: Path) -> None:
    async with backends("a") as (a,):
        dead = f"http://127.0.0.1:{free_port()}"
        dyn = f"""
        http:
          routers:
            empty: {{rule: "Path(`/empty`)", service: empty}}
            dead: {{rule: "Path(`/dead`)", service: dead}}
            slow: {{rule: "PathPrefix(`/slow`)", service: slow}}
          services:
            empty:
              loadBalancer: {{servers: []}}
            dead:
              loadBalancer: {{servers: [{{url: "{dead}"}}]}}
            slow:
              loadBalancer:
                serversTransport: fast
                servers: [{{url: "{a.url}"}}]
          serversTransports:
            fast:
              forwardingTimeouts: {{responseHeaderTimeout: 200ms}}
        """
        async with edgeway(tmp_path, dyn) as ew:
            r = await get(ew.port(), "/nothing-here")
            assert (r.status, r.body) == (404, b"404 page not found\n")
            r = await get(ew.port(), "/empty")
            assert (r.status, r.body) == (503, b"no available server\n")
            r = await get(ew.port(), "/dead")
            assert (r.status, r.body) == (502, b"Bad Gateway")
            r = await get(ew.port(), "/slow/2000")
            assert (r.status, r.body) == (504, b"Gateway Timeout")


async def test_client_gone_cancels_the_upstream_request(tmp_path: Path) -> None:
    """A client that hangs up mid-request makes edgeway close the upstream exchange."""
    started, upstream_closed = anyio.Event(), anyio.Event()

    async def never_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        started.set()
        if await reader.read() == b"":  # edgeway closed its side
            upstream_closed.set()
        writer.close()

    server = await asyncio.start_server(never_answers, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with edgeway(tmp_path, simple(f"http://127.0.0.1:{port}")) as ew:
        reader, writer = await asyncio.open_connection("127.0.0.1", ew.port())
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        with anyio.fail_after(5):
            await started.wait()
        writer.close()
        with anyio.fail_after(5):
            await upstream_closed.wait()
    server.close()


async def test_stale_pooled_connection_is_retried_for_idempotent_requests(tmp_path: Path) -> None:
    """A server that closes a kept-alive connection when the next request arrives
    (what a server's idle timeout looks like from the proxy, racing a request)."""
    served: list[str] = []

    async def one_request_per_connection(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        served.append(head.split(b" ")[0].decode())
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        await reader.read(1)  # the next request on this connection: hang up instead
        writer.close()

    server = await asyncio.start_server(one_request_per_connection, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with edgeway(tmp_path, simple(f"http://127.0.0.1:{port}")) as ew:
        client = await Client.connect(ew.port())
        assert (await client.request("GET")).status == 200
        assert (await client.request("GET")).status == 200  # retried on a new connection
        assert served == ["GET", "GET"]
        # A POST is not replayed: on the (stale) pooled connection it fails.
        assert (await client.request("POST", body=b"x")).status == 502
        assert served == ["GET", "GET"]
        await client.close()
    server.close()


async def test_websocket_upgrade_is_spliced(tmp_path: Path) -> None:
    import websockets

    async def echo(ws: websockets.ServerConnection) -> None:
        async for message in ws:
            await ws.send(f"echo:{message}")

    async with websockets.serve(echo, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with (
            edgeway(tmp_path, simple(f"http://127.0.0.1:{port}")) as ew,
            websockets.connect(f"ws://127.0.0.1:{ew.port()}/ws") as ws,
        ):
            for i in range(3):
                await ws.send(f"m{i}")
                assert await ws.recv() == f"echo:m{i}"
            big = "x" * 300_000
            await ws.send(big)
            assert await ws.recv() == "echo:" + big


async def test_head_and_no_body_responses(tmp_path: Path) -> None:
    async with backends("a") as (a,), edgeway(tmp_path, simple(a.url)) as ew:
        client = await Client.connect(ew.port())
        r = await client.request("HEAD", "/")
        assert r.status == 200 and r.body == b""
        assert r.header("Content-Length") is not None
        r = await client.request("GET", "/status/204")
        assert r.status == 204 and r.header("Content-Length") is None
        r = await client.request("GET", "/status/418")
        assert (r.status, r.body) == (418, b"status 418")
        await client.close()


async def test_graceful_stop_finishes_in_flight_and_refuses_new(tmp_path: Path) -> None:
    async with backends("a") as (a,):
        static = """
        entryPoints:
          web:
            address: "127.0.0.1:0"
            transport:
              lifeCycle: {graceTimeOut: 5s}
        """
        async with edgeway(tmp_path, simple(a.url), static) as ew:
            port = ew.port()
            client = await Client.connect(port)
            pending = asyncio.ensure_future(client.request("GET", "/slow/500"))
            with anyio.fail_after(5):
                while not a.received:
                    await anyio.sleep(0.01)
            ew.kernel.stop()
            reply = await pending
            assert (reply.status, reply.body) == (200, b"slow")
            assert reply.header("Connection") == "close"
            with pytest.raises(OSError):
                await asyncio.open_connection("127.0.0.1", port)
            await client.close()


async def test_garbage_pipelined_after_a_request_ends_the_connection_after_its_answer(
    tmp_path: Path,
) -> None:
    async with backends("a") as (a,):
        async with edgeway(tmp_path, simple(a.url)) as ew:
            out = await raw_exchange(
                ew.port(), b"GET /slow/100 HTTP/1.1\r\nHost: x\r\n\r\nNOT HTTP AT ALL\r\n\r\n"
            )
            assert out.startswith(b"HTTP/1.1 200 OK")
            assert b"Connection: close" in out and out.endswith(b"slow")


async def test_pipelined_requests_are_answered_in_order(tmp_path: Path) -> None:
    async with backends("a") as (a,):
        async with edgeway(tmp_path, simple(a.url)) as ew:
            reqs = (
                b"".join(
                    b"GET /%s HTTP/1.1\r\nHost: x\r\n\r\n" % p
                    for p in (b"slow/150", b"first", b"second")
                )
                + b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            out = await raw_exchange(ew.port(), reqs)
            assert out.count(b"HTTP/1.1 200 OK") == 4
            order = [out.find(t) for t in (b"slow", b'"/first"', b'"/second"', b'"/last"')]
            assert order == sorted(order) and -1 not in order


async def test_entrypoint_http_and_transport_options(tmp_path: Path) -> None:
    """keepAliveMaxRequests, writeTimeout, encodeQuerySemicolons, forwardedHeaders.connection."""
    async with backends("a") as (a,):
        dyn = f"""
        http:
          routers:
            kept: {{rule: "Header(`X-Keep`, `1`)", service: s, priority: 100}}
            all: {{rule: "PathPrefix(`/`)", service: s}}
          services:
            s: {{loadBalancer: {{servers: [{{url: "{a.url}"}}]}}}}
        """
        static = """
        entryPoints:
          web:
            address: "127.0.0.1:0"
            forwardedHeaders: {connection: [X-Keep]}
            http: {encodeQuerySemicolons: true}
            transport:
              keepAliveMaxRequests: 2
              respondingTimeouts: {writeTimeout: 300ms}
        """
        async with edgeway(tmp_path, dyn, static) as ew:
            client = await Client.connect(ew.port())
            r1 = await client.request("GET", "/q?a=1;b=2")
            assert r1.header("Connection") is None
            assert a.received[-1].target == "/q?a=1%3Bb=2"
            r2 = await client.request("GET", "/")
            assert r2.header("Connection") == "close"  # the second request was the last
            await client.close()
            # Unlisted, X-Keep is forwarded; listed in Connection and in
            # forwardedHeaders.connection, it is seen by routing, then removed before
            # forwarding (even though the proxy has just forwarded that name).
            await get(ew.port(), "/", headers=[("X-Keep", "1")])
            assert a.received[-1].header("X-Keep") == "1"
            await get(ew.port(), "/", headers=[("Connection", "X-Keep"), ("X-Keep", "1")])
            assert ew.runtime.routers["kept@file"].status == "enabled"
            assert a.received[-1].header("X-Keep") is None
            # A response slower than writeTimeout: the connection is closed.
            reader, writer = await asyncio.open_connection("127.0.0.1", ew.port())
            writer.write(b"GET /slow/2000 HTTP/1.1\r\nHost: x\r\n\r\n")
            with anyio.fail_after(5):
                assert await reader.read() == b""
            writer.close()


async def test_an_unread_small_body_is_dropped_and_the_connection_kept(tmp_path: Path) -> None:
    """A 404 for a POST whose body nobody reads: Go's server drops up to 256 KiB and
    keeps the connection; larger: it closes it."""
    async with edgeway(tmp_path, "http: {}\n") as ew:
        reader, writer = await asyncio.open_connection("127.0.0.1", ew.port())
        writer.write(b"POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        with anyio.fail_after(5):
            head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 404") and b"Connection: close" not in head
        await reader.readexactly(19)
        writer.write(b"x" * 100000 + b"GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
        with anyio.fail_after(5):
            head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 404")
        writer.close()
        out = await raw_exchange(
            ew.port(), b"POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n"
        )
        assert out.startswith(b"HTTP/1.1 404") and b"Connection: close" in out
