"""Inbound HTTP/2 (h2c here; the same protocol serves TLS connections after ALPN).

Frame-level clients (``h2_support.H2Client``) check what Go's HTTP/2 server does:
stream errors for malformed requests and streams over the limit, resets that end
one stream only, flow control both ways, GOAWAY on stop, idle and keep-alive
limits, per-stream timeouts, and the h2c hand-over from the HTTP/1.1 protocol
(connection preface, ``Upgrade: h2c``).
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import anyio
import h2.errors
import h2.settings
import pytest
from h2_support import H2Client, h2_client
from support import Client, backends, edgeway, raw_exchange
from test_transports import config, dual

pytestmark = pytest.mark.anyio

PROTOCOL_ERROR = h2.errors.ErrorCodes.PROTOCOL_ERROR
REFUSED = h2.errors.ErrorCodes.REFUSED_STREAM


def static(extra: str = "", transport: str = "", http: str = "") -> str:
    return f"""
entryPoints:
  web:
    address: "127.0.0.1:0"
    {extra}
    transport: {{{transport}}}
    http: {{{http}}}
"""


async def eventually(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.01)


# --- requests and responses ----------------------------------------------------------


async def test_request_reaches_the_backend_as_traefik_forwards_it(tmp_path: Path) -> None:
    async with (
        backends("a") as (a,),
        edgeway(tmp_path, config(a.url)) as ew,
        h2_client(ew.port()) as c,
    ):
        r = await c.request(
            "GET",
            "/p/a%2Fb?x=1&y",
            [
                ("x-custom", "v"),
                ("cookie", "a=1"),
                ("cookie", "b=2"),
                ("x-forwarded-for", "6.6.6.6"),
                ("te", "trailers"),
            ],
            authority="app.test:8080",
        )
        assert r.status == 200 and r.ended and r.header("x-backend") == "a"
        assert r.header("content-length") == str(len(r.body)) and r.header("date")
        assert r.header("connection") is None
        rec = a.received[-1]
        assert (rec.method, rec.target, rec.http_version) == ("GET", "/p/a%2Fb?x=1&y", "1.1")
        assert rec.header("host") == "app.test:8080"
        assert (
            rec.header("x-custom") == "v" and ("X-Custom", "v") in rec.headers
        )  # canonical, as Go
        assert rec.header_all("cookie") == ["a=1; b=2"]
        assert rec.header("x-forwarded-for") == "127.0.0.1"  # untrusted: replaced
        assert (
            rec.header("x-forwarded-proto") == "http" and rec.header("x-forwarded-port") == "8080"
        )
        assert (
            rec.header("x-forwarded-host") == "app.test:8080"
            and rec.header("x-real-ip") == "127.0.0.1"
        )
        assert rec.header("te") == "trailers"
        # Another stream of the same connection naming another port: its own X-Forwarded-*.
        assert (await c.request("GET", "/", authority="other.test:9443")).status == 200
        rec = a.received[-1]
        assert (rec.header("x-forwarded-host"), rec.header("x-forwarded-port")) == (
            "other.test:9443",
            "9443",
        )


async def test_trusted_forwarded_headers_are_kept(tmp_path: Path) -> None:
    st = static('forwardedHeaders: {trustedIPs: ["127.0.0.1"]}')
    async with (
        backends("a") as (a,),
        edgeway(tmp_path, config(a.url), st) as ew,
        h2_client(ew.port()) as c,
    ):
        r = await c.request(
            "GET", "/", [("x-forwarded-for", "6.6.6.6"), ("x-forwarded-proto", "https")]
        )
        assert r.status == 200
        rec = a.received[-1]
        assert rec.header("x-forwarded-for") == "6.6.6.6, 127.0.0.1"
        assert (
            rec.header("x-forwarded-proto") == "https" and rec.header("x-forwarded-port") == "443"
        )


async def test_host_header_stands_in_for_a_missing_authority(tmp_path: Path) -> None:
    dyn = config("http://127.0.0.1:1").replace("PathPrefix(`/`)", "Host(`h.test`)")
    async with backends("a") as (a,):
        dyn = dyn.replace("http://127.0.0.1:1", a.url)
        async with edgeway(tmp_path, dyn) as ew, h2_client(ew.port()) as c:
            raw = [
                (b":method", b"GET"),
                (b":scheme", b"http"),
                (b":path", b"/"),
                (b"host", b"h.test"),
            ]
            r = await c.reply(c.open(raw=raw))
            assert r.status == 200 and a.received[-1].header("host") == "h.test"
            assert (await c.request("GET", "/", authority="other.test")).status == 404


async def test_bodies_both_ways_beyond_the_windows(tmp_path: Path) -> None:
    big = bytes(range(256)) * 12000  # 3 MiB: several stream windows
    async with (
        backends("a") as (a,),
        edgeway(tmp_path, config(a.url)) as ew,
        h2_client(ew.port()) as c,
    ):
        r = await c.request("PUT", "/up", body=big)
        assert r.status == 200 and a.received[-1].body == big
        assert a.received[-1].header("transfer-encoding") == "chunked"  # no content-length sent
        r = await c.request("POST", "/up", [("content-length", "5")], body=b"hello")
        assert a.received[-1].header("content-length") == "5" and a.received[-1].body == b"hello"
        r = await c.request("GET", "/large/3000000")
        assert r.status == 200 and len(r.body) == 3000000


async def test_head_204_and_options_star(tmp_path: Path) -> None:
    async with (
        backends("a") as (a,),
        edgeway(tmp_path, config(a.url)) as ew,
        h2_client(ew.port()) as c,
    ):
        r = await c.request("HEAD", "/status/200")
        assert r.status == 200 and r.body == b"" and r.ended
        r = await c.request("GET", "/status/204")
        assert r.status == 204 and r.body == b"" and r.header("content-length") is None
        r = await c.request("OPTIONS", "*")
        assert r.status == 200 and r.header("content-length") == "0"


async def test_expect_continue_is_answered_when_the_body_is_read(tmp_path: Path) -> None:
    async with (
        backends("a") as (a,),
        edgeway(tmp_path, config(a.url)) as ew,
        h2_client(ew.port()) as c,
    ):
        sid = c.open(
            "POST", "/", [("expect", "100-continue"), ("content-length", "3")], end_stream=False
        )
        await eventually(lambda: c.streams[sid].reply.informational == [100])
        await c.send(sid, b"abc")
        r = await c.reply(sid)
        assert r.status == 200 and a.received[-1].body == b"abc"
        assert a.received[-1].header("expect") is None


async def test_http2_upstream_trailers_reach_the_http2_client(tmp_path: Path) -> None:
    async with (
        dual(h2c=True) as b,
        edgeway(tmp_path, config(b.url)) as ew,
        h2_client(ew.port()) as c,
    ):
        r = await c.request("GET", "/trailers", [("te", "trailers")])
        assert r.status == 200 and r.body == b"hello"
        assert r.trailers == [("x-checksum", "abc"), ("grpc-status", "0")]
        assert r.header("content-length") is None


# --- malformed requests: stream errors, the connection goes on ------------------------

BASE = [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"x"), (b":path", b"/")]


@pytest.mark.parametrize(
    "fields",
    [
        BASE + [(b"X-Upper", b"1")],
        BASE + [(b"x-bad", b"a\x01b")],
        [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"x")],
        [(b":scheme", b"http"), (b":authority", b"x"), (b":path", b"/")],
        [(b":method", b"GET"), (b":scheme", b"ftp"), (b":authority", b"x"), (b":path", b"/")],
        [(b":method", b"GET"), (b"x-a", b"1"), (b":scheme", b"http"), (b":path", b"/")],
        BASE + [(b":status", b"200")],
        BASE + [(b":path", b"/again")],
        BASE + [(b":protocol", b"websocket")],
        [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"x"), (b":path", b"rel")],
        [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"x"), (b":path", b"/%zz")],
        [(b":method", b"CONNECT"), (b":authority", b"x:443")],
    ],
    ids=[
        "uppercase-name", "control-char", "no-path", "no-method", "bad-scheme",
        "pseudo-after-regular", "response-pseudo", "duplicate-pseudo", "extended-connect", "relative-path",
        "bad-escape", "connect",
    ],
)  # fmt: skip
async def test_malformed_request_is_a_stream_error(
    tmp_path: Path, fields: list[tuple[bytes, bytes]]
) -> None:
    async with (
        backends("a") as (a,),
        edgeway(tmp_path, config(a.url)) as ew,
        h2_client(ew.port()) as c,
    ):
        r = await c.reply(c.open(raw=fields))
        assert r.reset == PROTOCOL_ERROR and r.status == 0
        assert (await c.request("GET", "/")).status == 200  # the connection goes on
        assert len(a.received) == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([(b"connection", b"keep-alive")], 'request header "Connection" is not valid in HTTP/2'),
        ([(b"keep-alive", b"1")], 'request header "Keep-Alive" is not valid in HTTP/2'),
        ([(b"proxy-connection", b"x")], 'request header "Proxy-Connection" is not valid in HTTP/2'),
        (
            [(b"transfer-encoding", b"chunked")],
            'request header "Transfer-Encoding" is not valid in HTTP/2',
        ),
        (
            [(b"upgrade", b"x"), (b"connection", b"y")],
            'request header "Connection" is not valid in HTTP/2',
        ),
        ([(b"te", b"gzip")], 'request header "TE" may only be "trailers" in HTTP/2'),
        (
            [(b"te", b"trailers"), (b"te", b"trailers")],
            'request header "TE" may only be "trailers" in HTTP/2',
        ),
    ],
    ids=[
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "first-in-go-order",
        "te-gzip",
        "te-twice",
    ],
)
async def test_connection_specific_headers_get_go_400(
    tmp_path: Path, fields: list[tuple[bytes, bytes]], message: str
) -> None:
    async with (
        backends("a") as (a,),
        edgeway(tmp_path, config(a.url)) as ew,
        h2_client(ew.port()) as c,
    ):
        r = await c.reply(c.open(raw=BASE + fields))
        assert r.status == 400 and r.body == message.encode() + b"\n"
        assert r.header("content-type") == "text/plain; charset=utf-8"
        assert a.received == []


async def test_header_list_over_max_header_bytes_gets_431(tmp_path: Path) -> None:
    st = static(http="maxHeaderBytes: 1000")
    async with (
        backends("a") as (a,),
        edgeway(tmp_path, config(a.url), st) as ew,
        h2_client(ew.port()) as c,
    ):
        r = await c.request("GET", "/", [("x-big", "v" * 1400)])
        assert r.status == 431 and b"Request Header Field(s) Too Large" in r.body
        assert r.header("content-type") == "text/html; charset=utf-8"
        assert (await c.request("GET", "/", [("x-small", "v" * 500)])).status == 200
        assert c.remote_settings[h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE] == 1320


# --- settings, limits, flow control ----------------------------------------------------


async def test_settings_advertise_the_entry_point_http2_options(tmp_path: Path) -> None:
    st = static(
        "http2: {maxConcurrentStreams: 7, maxDecoderHeaderTableSize: 1024, maxEncoderHeaderTableSize: 128}"
    )
    async with (
        backends("a") as (a,),
        edgeway(tmp_path, config(a.url), st) as ew,
        h2_client(ew.port()) as c,
    ):
        headers = [(f"x-h{i}", "v" * 50) for i in range(10)]
        assert (await c.request("GET", "/", headers)).status == 200
        codes = h2.settings.SettingCodes
        assert c.remote_settings[codes.MAX_CONCURRENT_STREAMS] == 7
        assert c.remote_settings[codes.HEADER_TABLE_SIZE] == 1024
        assert c.remote_settings[codes.INITIAL_WINDOW_SIZE] == 1 << 20
        # Our encoder keeps to 128 bytes although the client allows 4096.
        assert c.conn.decoder.header_table.maxsize <= 128


async def test_defaults_and_zero_mean_go_defaults(tmp_path: Path) -> None:
    st = static("http2: {maxConcurrentStreams: 0}")
    async with (
        backends("a") as (a,),
        edgeway(tmp_path, config(a.url), st) as ew,
        h2_client(ew.port()) as c,
    ):
        assert (await c.request("GET", "/")).status == 200
        assert c.remote_settings[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] == 250
        assert c.remote_settings[h2.settings.SettingCodes.HEADER_TABLE_SIZE] == 4096


@pytest.mark.parametrize(
    "key", ["maxConcurrentStreams", "maxDecoderHeaderTableSize", "maxEncoderHeaderTableSize"]
)
async def test_negative_http2_options_are_refused(tmp_path: Path, key: str) -> None:
    from edgeway.config.static import EntryPoint

    with pytest.raises(ValueError, match=key):
        EntryPoint.model_validate({"address": ":80", "http2": {key: -1}})


async def test_streams_over_max_concurrent_streams_are_refused(tmp_path: Path) -> None:
    st = static("http2: {maxConcurrentStreams: 2}")
    async with (
        backends("a") as (a,),
        edgeway(tmp_path, config(a.url), st) as ew,
        h2_client(ew.port()) as c,
    ):
        assert (await c.request("GET", "/")).status == 200  # our SETTINGS are acknowledged
        slow = [c.open("GET", "/slow/400") for _ in range(2)]
        third = c.open("GET", "/")
        r = await c.reply(third)
        assert r.reset == PROTOCOL_ERROR
        assert [(await c.reply(s)).status for s in slow] == [200, 200]
        assert (await c.request("GET", "/")).status == 200


async def test_reset_cancels_only_its_stream_and_its_upstream_exchange(tmp_path: Path) -> None:
    async with (
        backends("a") as (a,),
        edgeway(tmp_path, config(a.url)) as ew,
        h2_client(ew.port()) as c,
    ):
        doomed = c.open("GET", "/slow/3000")
        other = c.open("GET", "/slow/300")
        await eventually(lambda: len(a.received) == 2)
        conns = a.connections
        c.reset(doomed)
        r = await c.reply(other)
        assert r.status == 200 and r.body == b"slow"
        assert (await c.request("GET", "/")).status == 200
        # The reset stream's upstream connection was closed, not kept busy: the
        # next request needed no new connection beyond the one freed by "other".
        assert a.connections == conns


async def test_response_waits_for_the_client_window(tmp_path: Path) -> None:
    async with backends("a") as (a,), edgeway(tmp_path, config(a.url)) as ew:
        c = await H2Client.connect(ew.port(), window=16384)
        try:
            c.auto_ack = False
            sid = c.open("GET", "/large/200000")
            await c.head(sid)
            await eventually(lambda: len(c.streams[sid].reply.body) == 16384)
            await anyio.sleep(0.1)
            assert len(c.streams[sid].reply.body) == 16384  # nothing beyond the window
            c.auto_ack = True
            c.conn.acknowledge_received_data(16384, sid)
            c.conn.increment_flow_control_window(1 << 20, sid)
            c.conn.increment_flow_control_window(1 << 20)
            c.flush()
            r = await c.reply(sid)
            assert len(r.body) == 200000
        finally:
            await c.close()


async def test_request_body_is_read_as_the_upstream_takes_it(tmp_path: Path) -> None:
    """A server not reading: the client's window closes at about one stream window
    (plus what the sockets buffer), and opens again once the server reads."""
    release = asyncio.Event()
    got = bytearray()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await release.wait()
        while not got.endswith(b"0\r\n\r\n"):
            got.extend(await reader.read(65536))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        async with edgeway(tmp_path, config(url)) as ew, h2_client(ew.port()) as c:
            big = b"z" * (24 << 20)
            sid = c.open("POST", "/", end_stream=False)
            sender = asyncio.create_task(c.send(sid, big))
            await eventually(lambda: c.conn.local_flow_control_window(sid) == 0)
            await anyio.sleep(0.2)
            assert not sender.done() and c.conn.local_flow_control_window(sid) == 0
            release.set()
            await sender
            r = await c.reply(sid, timeout=20)
            assert r.status == 200 and r.body == b"ok"
    finally:
        server.close()


# --- GOAWAY and timeouts ---------------------------------------------------------------


async def test_graceful_stop_sends_goaway_and_lets_streams_finish(tmp_path: Path) -> None:
    async with (
        backends("a") as (a,),
        edgeway(tmp_path, config(a.url)) as ew,
        h2_client(ew.port()) as c,
    ):
        sid = c.open("GET", "/slow/500")
        await eventually(lambda: len(a.received) == 1)
        stopping = asyncio.create_task(ew.kernel.entrypoints["web"].stop())
        await eventually(lambda: c.goaway is not None)
        assert c.goaway.error_code == 0 and c.goaway.last_stream_id == sid
        r = await c.reply(sid)
        assert r.status == 200 and r.body == b"slow"
        await c.wait_closed()
        await stopping


async def test_keep_alive_max_requests_ends_with_goaway(tmp_path: Path) -> None:
    st = static(transport="keepAliveMaxRequests: 2")
    async with (
        backends("a") as (a,),
        edgeway(tmp_path, config(a.url), st) as ew,
        h2_client(ew.port()) as c,
    ):
        assert (await c.request("GET", "/")).status == 200
        assert c.goaway is None
        assert (await c.request("GET", "/")).status == 200
        await eventually(lambda: c.goaway is not None)
        assert c.goaway.error_code == 0 and c.goaway.last_stream_id == 3
        await c.wait_closed()


async def test_keep_alive_max_time_ends_with_goaway(tmp_path: Path) -> None:
    st = static(transport="keepAliveMaxTime: 200ms")
    async with (
        backends("a") as (a,),
        edgeway(tmp_path, config(a.url), st) as ew,
        h2_client(ew.port()) as c,
    ):
        assert (await c.request("GET", "/")).status == 200
        assert c.goaway is None
        await anyio.sleep(0.25)
        assert (await c.request("GET", "/")).status == 200
        await eventually(lambda: c.goaway is not None)


async def test_idle_connection_gets_goaway_then_closes(tmp_path: Path) -> None:
    st = static(transport="respondingTimeouts: {idleTimeout: 300ms}")
    async with (
        backends("a") as (a,),
        edgeway(tmp_path, config(a.url), st) as ew,
        h2_client(ew.port()) as c,
    ):
        assert (await c.request("GET", "/")).status == 200
        await eventually(lambda: c.goaway is not None)
        assert c.goaway.error_code == 0
        await c.wait_closed()


async def test_write_timeout_resets_the_stream(tmp_path: Path) -> None:
    st = static(transport="respondingTimeouts: {writeTimeout: 300ms}")
    async with (
        backends("a") as (a,),
        edgeway(tmp_path, config(a.url), st) as ew,
        h2_client(ew.port()) as c,
    ):
        r = await c.request("GET", "/slow/2000")
        assert r.reset == h2.errors.ErrorCodes.INTERNAL_ERROR
        assert (await c.request("GET", "/")).status == 200


async def test_read_timeout_fails_a_body_still_arriving(tmp_path: Path) -> None:
    st = static(transport="respondingTimeouts: {readTimeout: 300ms}")
    async with (
        backends("a") as (a,),
        edgeway(tmp_path, config(a.url), st) as ew,
        h2_client(ew.port()) as c,
    ):
        sid = c.open("POST", "/", end_stream=False)
        await c.send(sid, b"part", end_stream=False)
        r = await c.reply(sid)
        assert r.status == 502
        assert a.received == []


# --- h2c hand-over ------------------------------------------------------------------


def _settings_header() -> str:
    return base64.urlsafe_b64encode(b"\x00\x03\x00\x00\x00\x64").rstrip(b"=").decode()


async def _upgrade(port: int, head: bytes) -> tuple[bytes, H2Client]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head)
    first = await reader.readuntil(b"\r\n\r\n")
    client = H2Client(reader, writer)
    if first.startswith(b"HTTP/1.1 101 "):
        client.conn.initiate_upgrade_connection()
        client.streams[1] = __import__("h2_support")._State()
        client.start()
    return first, client


async def test_upgrade_h2c_serves_the_request_as_stream_1(tmp_path: Path) -> None:
    async with backends("a") as (a,), edgeway(tmp_path, config(a.url)) as ew:
        head = (
            "POST /up HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade, HTTP2-Settings\r\n"
            f"Upgrade: h2c\r\nHTTP2-Settings: {_settings_header()}\r\nContent-Length: 5\r\n\r\nhello"
        ).encode()
        first, c = await _upgrade(ew.port(), head)
        try:
            assert (
                first
                == b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
            )
            r = await c.reply(1)
            assert r.status == 200 and json.loads(r.body)["body_len"] == 5
            rec = a.received[-1]
            assert (
                rec.body == b"hello"
                and rec.header("http2-settings") is None
                and rec.header("upgrade") is None
            )
            assert (await c.request("GET", "/next", authority="a.test")).status == 200
        finally:
            await c.close()


async def test_upgrade_h2c_with_bad_settings_gets_500(tmp_path: Path) -> None:
    async with backends("a") as (a,), edgeway(tmp_path, config(a.url)) as ew:
        for settings in ("not base64!", "AAMAAABkAAQAAP__="):
            head = (
                "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                f"Upgrade: h2c\r\nHTTP2-Settings: {settings}\r\n\r\n"
            ).encode()
            raw = await raw_exchange(ew.port(), head)
            assert raw.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
        assert a.received == []


async def test_websocket_style_upgrade_is_not_h2c(tmp_path: Path) -> None:
    async with backends("a") as (a,), edgeway(tmp_path, config(a.url)) as ew:
        # Without HTTP2-Settings in Connection it is an ordinary request.
        head = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nUpgrade: h2c\r\n\r\n"
        raw = await raw_exchange(ew.port(), head)
        assert raw.startswith(b"HTTP/1.1 200 OK\r\n")


async def test_preface_after_an_http11_request_is_a_bad_request(tmp_path: Path) -> None:
    async with backends("a") as (a,), edgeway(tmp_path, config(a.url)) as ew:
        client = await Client.connect(ew.port())
        try:
            assert (await client.request("GET", "/")).status == 200
            client.writer.write(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            data = await client.reader.read(65536)
            assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n")
        finally:
            await client.close()


@pytest.mark.parametrize("cut", [1, 3, 16, 18, 20, 24])
async def test_preface_split_anywhere_is_recognised(tmp_path: Path, cut: int) -> None:
    import h2_support

    async with backends("a") as (a,), edgeway(tmp_path, config(a.url)) as ew:
        reader, writer = await asyncio.open_connection("127.0.0.1", ew.port())
        c = h2_support.H2Client(reader, writer)
        c.conn.initiate_connection()
        data = c.conn.data_to_send()
        writer.write(data[:cut])
        await writer.drain()
        await anyio.sleep(0.05)
        writer.write(data[cut:])
        c.start()
        try:
            assert (await c.request("GET", "/")).status == 200
        finally:
            await c.close()
