"""``serversTransports`` and HTTP/2 upstreams, end to end over real sockets.

TLS backends use certificates from a trustme CA; the HTTP/2 side of a backend
is a small ``h2`` server (ALPN ``h2`` on TLS, or h2c with prior knowledge), the
HTTP/1.1 side is ``support.Backend``. Status codes for failed handshakes follow
Traefik's ``ComputeStatusCode``: an alert from the server is a network error
(502), a certificate edgeway itself rejects is not (500).
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import h2.config
import h2.connection
import h2.events
import pytest
import trustme
from support import Backend, Client, Received, edgeway, get

pytestmark = pytest.mark.anyio


# --- backends -------------------------------------------------------------------------


@dataclass
class H2Exchange:
    """What an HTTP/2 request looks like on the backend, and how to answer it."""

    received: Received
    stream_id: int


@dataclass
class DualBackend(Backend):
    """HTTP/1.1 (support.Backend) and HTTP/2 on one port: TLS with ALPN, or h2c only.

    HTTP/2 paths: ``/trailers`` (body then trailers), ``/slow/<ms>``,
    ``/hang`` (stops reading the connection: no more frames, no ping answers),
    anything else echoes the request as JSON. ``closed`` counts connections ended.
    """

    ssl_context: ssl.SSLContext | None = None
    h2c: bool = False
    sni: list[str | None] = field(default_factory=list)
    peer_certs: list[Any] = field(default_factory=list)
    closed: int = 0

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "h2c" if self.h2c else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    async def start(self) -> DualBackend:
        ctx = self.ssl_context
        if ctx is not None:
            ctx.sni_callback = lambda sock, name, _ctx: self.sni.append(name)  # type: ignore[assignment,misc]
        self._server = await asyncio.start_server(self._dispatch, "127.0.0.1", 0, ssl=ctx)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _dispatch(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sslobj = writer.get_extra_info("ssl_object")
        if sslobj is not None:
            self.peer_certs.append(sslobj.getpeercert())
        try:
            if self.h2c or (sslobj is not None and sslobj.selected_alpn_protocol() == "h2"):
                await self._serve_h2(reader, writer)
            else:
                await self._serve(reader, writer)
        finally:
            self.closed += 1

    async def _serve_h2(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding=None)
        )
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        requests: dict[int, tuple[list[tuple[bytes, bytes]], bytearray]] = {}
        tasks: set[asyncio.Task[None]] = set()
        hang = asyncio.Event()
        try:
            while not hang.is_set():
                data = await reader.read(65536)
                if not data:
                    break
                for ev in conn.receive_data(data):
                    if isinstance(ev, h2.events.RequestReceived):
                        requests[ev.stream_id] = (ev.headers, bytearray())
                    elif isinstance(ev, h2.events.DataReceived):
                        requests[ev.stream_id][1].extend(ev.data)
                        conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    elif isinstance(ev, h2.events.StreamEnded):
                        headers, body = requests.pop(ev.stream_id)
                        task = asyncio.create_task(
                            self._answer_h2(conn, writer, ev.stream_id, headers, bytes(body), hang)
                        )
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)
                writer.write(conn.data_to_send())
            if hang.is_set():
                await asyncio.sleep(3600)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _answer_h2(
        self,
        conn: h2.connection.H2Connection,
        writer: asyncio.StreamWriter,
        sid: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        hang: asyncio.Event,
    ) -> None:
        pseudo = {n: v for n, v in headers if n.startswith(b":")}
        path = pseudo[b":path"].decode()
        rec = Received(
            pseudo[b":method"].decode(),
            path,
            [(n.decode(), v.decode("latin-1")) for n, v in headers if not n.startswith(b":")]
            + [(":authority", pseudo[b":authority"].decode())],
            body,
            "2",
        )
        self.received.append(rec)
        if path == "/hang":
            hang.set()
            return
        if path.startswith("/slow/"):
            await asyncio.sleep(int(path[6:]) / 1000)
        if path == "/trailers":
            conn.send_headers(sid, [(b":status", b"200"), (b"content-type", b"text/plain")])
            conn.send_data(sid, b"hello")
            conn.send_headers(
                sid, [(b"x-checksum", b"abc"), (b"grpc-status", b"0")], end_stream=True
            )
        else:
            out = json.dumps(
                {"backend": self.name, "method": rec.method, "path": path, "size": len(body)}
            ).encode()
            conn.send_headers(
                sid,
                [(b":status", b"200"), (b"content-type", b"application/json"), (b"x-proto", b"h2")],
            )
            conn.send_data(sid, out, end_stream=True)
        writer.write(conn.data_to_send())


@dataclass
class PKI:
    ca: trustme.CA
    server: trustme.LeafCert
    dir: Path

    def server_context(
        self,
        *,
        alpn: tuple[str, ...] = ("http/1.1",),
        client_ca: trustme.CA | None = None,
        max_version: ssl.TLSVersion | None = None,
        ciphers: str | None = None,
    ) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server.configure_cert(ctx)
        ctx.set_alpn_protocols(list(alpn))
        if client_ca is not None:
            client_ca.configure_trust(ctx)
            ctx.verify_mode = ssl.CERT_REQUIRED
        if max_version is not None:
            ctx.maximum_version = max_version
        if ciphers is not None:
            ctx.set_ciphers(ciphers)
        return ctx


@pytest.fixture
def pki(tmp_path: Path) -> PKI:
    ca = trustme.CA()
    server = ca.issue_cert("backend.test", "127.0.0.1")
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    return PKI(ca, server, tmp_path)


@asynccontextmanager
async def dual(
    ctx: ssl.SSLContext | None = None, *, h2c: bool = False, name: str = "b"
) -> AsyncIterator[DualBackend]:
    b = await DualBackend(name=name, ssl_context=ctx, h2c=h2c).start()
    try:
        yield b
    finally:
        await b.stop()


def config(url: str, transport: str | None = None, *, service_extra: str = "") -> str:
    st = "serversTransport: t" if transport is not None else ""
    transports = (
        f"  serversTransports:\n    t:\n{_indent(transport, 6)}" if transport is not None else ""
    )
    return f"""
http:
  routers:
    app: {{rule: "PathPrefix(`/`)", service: app}}
  services:
    app:
      loadBalancer:
        {st}
        servers: [{{url: "{url}"}}]
        {service_extra}
{transports}
"""


def _indent(text: str, n: int) -> str:
    return "".join(" " * n + line + "\n" for line in text.strip("\n").splitlines())


async def reconfigure(ew: Any, dynamic: str) -> None:
    before = ew.kernel.state.reloads
    ew.write_dynamic(dynamic)
    await ew.wait_applied(before)


def service_error(ew: Any) -> str:
    return " ".join(ew.runtime.services["app@file"].errors)


# --- TLS verification ----------------------------------------------------------------


async def test_root_cas_server_name_and_insecure_skip_verify(tmp_path: Path, pki: PKI) -> None:
    async with dual(pki.server_context()) as b:
        async with edgeway(tmp_path, config(b.url, "rootCAs: [ca.pem]")) as ew:
            r = await get(ew.port())
            assert r.status == 200 and b.received[-1].http_version == "1.1"
            assert b.sni[-1] is None  # an IP address is not sent as SNI
            # No rootCAs: the system roots do not know the test CA -> Go's 500.
            await reconfigure(ew, config(b.url, "serverName: backend.test"))
            r = await get(ew.port())
            assert r.status == 500 and r.body == b"Internal Server Error"
            await reconfigure(ew, config(b.url, "insecureSkipVerify: true"))
            assert (await get(ew.port())).status == 200
            # serverName is what the certificate must match, and the SNI sent.
            ca_pem = pki.ca.cert_pem.bytes().decode()
            inline = "rootCAs:\n  - |\n" + _indent(ca_pem, 4)
            await reconfigure(
                ew,
                config(
                    b.url.replace("127.0.0.1", "localhost"), inline + "serverName: backend.test"
                ),
            )
            assert (await get(ew.port())).status == 200
            assert b.sni[-1] == "backend.test"
            await reconfigure(ew, config(b.url, inline + "serverName: other.test"))
            assert (await get(ew.port())).status == 500


async def test_mutual_tls_to_a_server_requiring_client_certificates(
    tmp_path: Path, pki: PKI
) -> None:
    client_ca = trustme.CA()
    client = client_ca.issue_cert("edgeway-client.test")
    client.cert_chain_pems[0].write_to_path(str(tmp_path / "client.pem"))
    client.private_key_pem.write_to_path(str(tmp_path / "client.key"))
    async with dual(pki.server_context(client_ca=client_ca)) as b:
        async with edgeway(tmp_path, config(b.url, "rootCAs: [ca.pem]")) as ew:
            # The server's "certificate required" alert: a network error, 502.
            assert (await get(ew.port())).status == 502
            files = (
                "rootCAs: [ca.pem]\ncertificates:\n  - {certFile: client.pem, keyFile: client.key}"
            )
            await reconfigure(ew, config(b.url, files))
            assert (await get(ew.port())).status == 200
            assert ("DNS", "edgeway-client.test") in b.peer_certs[-1]["subjectAltName"]
            other = client_ca.issue_cert("inline-client.test")
            inline = (
                "rootCAs: [ca.pem]\ncertificates:\n  - certFile: |\n"
                + _indent(other.cert_chain_pems[0].bytes().decode(), 6)
                + "    keyFile: |\n"
                + _indent(other.private_key_pem.bytes().decode(), 6)
            )
            await reconfigure(ew, config(b.url, inline))
            assert (await get(ew.port())).status == 200
            assert ("DNS", "inline-client.test") in b.peer_certs[-1]["subjectAltName"]
            assert not list(tmp_path.glob("edgeway-cert-*"))
            await reconfigure(
                ew, config(b.url, "certificates:\n  - {certFile: missing.pem, keyFile: client.key}")
            )
            assert "cannot load 'missing.pem'" in service_error(ew)


async def test_tls_versions(tmp_path: Path, pki: PKI) -> None:
    async with dual(pki.server_context(max_version=ssl.TLSVersion.TLSv1_2)) as b:
        async with edgeway(
            tmp_path, config(b.url, "rootCAs: [ca.pem]\nminVersion: VersionTLS13")
        ) as ew:
            # A version mismatch: Go decides it itself (not a network error), 500.
            assert (await get(ew.port())).status == 500
            cases = [
                ("minVersion: VersionTLS12\nmaxVersion: VersionTLS12", None),
                ("minVersion: VersionTLS09", "invalid TLS minimum version: VersionTLS09"),
                ("maxVersion: VersionTLS16", "invalid TLS maximum version: VersionTLS16"),
                (
                    "minVersion: VersionTLS13\nmaxVersion: VersionTLS12",
                    "TLS minimum version VersionTLS13 is above the maximum version VersionTLS12",
                ),
            ]
            for options, error in cases:
                await reconfigure(ew, config(b.url, "rootCAs: [ca.pem]\n" + options))
                if error is None:
                    assert (await get(ew.port())).status == 200
                else:
                    assert error in service_error(ew)
                    assert (await get(ew.port())).status == 404


async def test_cipher_suites(tmp_path: Path, pki: PKI) -> None:
    ctx = pki.server_context(
        max_version=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE-ECDSA-AES128-GCM-SHA256"
    )
    async with dual(ctx) as b:
        ok = "rootCAs: [ca.pem]\ncipherSuites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]"
        async with edgeway(tmp_path, config(b.url, ok)) as ew:
            assert (await get(ew.port())).status == 200
            for suites, status in (
                ("[TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]", 502),  # handshake_failure alert
                ("[TLS_AES_128_GCM_SHA256]", 502),  # TLS 1.3 only: no TLS 1.2 suite offered
            ):
                await reconfigure(ew, config(b.url, f"rootCAs: [ca.pem]\ncipherSuites: {suites}"))
                assert (await get(ew.port())).status == status, suites
            await reconfigure(
                ew, config(b.url, "cipherSuites: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA385]")
            )
            assert "invalid CipherSuite: TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA385" in service_error(ew)


async def test_peer_cert_sans(tmp_path: Path, pki: PKI) -> None:
    async with dual(pki.server_context()) as b:
        sans = "rootCAs: [ca.pem]\ninsecureSkipVerify: true\npeerCertSANs: [{type: DNSName, value: backend.test}]"
        async with edgeway(tmp_path, config(b.url, sans)) as ew:
            assert (await get(ew.port())).status == 200
            for options, status in (
                (
                    "insecureSkipVerify: true\npeerCertSANs: [{type: DNSName, value: other.test}]",
                    500,
                ),
                ("insecureSkipVerify: true\npeerCertURI: spiffe://backend.test/app", 500),
                ("peerCertSANs: [{type: DNSName, value: 127.0.0.1}]", 200),
                # The chain is still verified with insecureSkipVerify.
                (
                    "insecureSkipVerify: true\npeerCertSANs: [{type: DNSName, value: backend.test}]",
                    500,
                ),
            ):
                roots = "rootCAs: [ca.pem]\n" if "value: backend.test" not in options else ""
                await reconfigure(ew, config(b.url, roots + options))
                assert (await get(ew.port())).status == status, options
            await reconfigure(ew, config(b.url, "peerCertSANs: [{type: Email, value: a@b}]"))
            assert "unknown SAN type 'Email'" in service_error(ew)


async def test_spiffe_and_unknown_transport_are_errors(tmp_path: Path) -> None:
    async with edgeway(
        tmp_path, config("http://127.0.0.1:1", "spiffe: {ids: [spiffe://a/b]}")
    ) as ew:
        assert "spiffe is not supported" in service_error(ew)
        await reconfigure(
            ew,
            config("http://127.0.0.1:1").replace(
                "loadBalancer:", "loadBalancer:\n        serversTransport: nope"
            ),
        )
        assert 'serversTransport "nope@file" does not exist' in service_error(ew)


# --- HTTP/2 --------------------------------------------------------------------------


async def test_https_speaks_h2_when_the_server_offers_it(tmp_path: Path, pki: PKI) -> None:
    async with dual(pki.server_context(alpn=("h2", "http/1.1"))) as b:
        async with edgeway(tmp_path, config(b.url, "rootCAs: [ca.pem]")) as ew:
            client = await Client.connect(ew.port())
            for _ in range(3):
                r = await client.request(
                    "POST", "/x?a=1", body=b"payload", headers=[("Host", "app.test")]
                )
                assert r.status == 200 and r.header("X-Proto") == "h2"
            await client.close()
            rec = b.received[-1]
            assert rec.http_version == "2" and rec.target == "/x?a=1" and rec.body == b"payload"
            assert (
                rec.header(":authority") == "app.test"
                and rec.header("x-forwarded-for") == "127.0.0.1"
            )
            assert b.connections == 1  # one multiplexed connection
            await reconfigure(ew, config(b.url, "rootCAs: [ca.pem]\ndisableHTTP2: true"))
            r = await get(ew.port())
            assert r.status == 200 and b.received[-1].http_version == "1.1"


async def test_https_falls_back_to_http1_per_connection(tmp_path: Path, pki: PKI) -> None:
    async with dual(pki.server_context(alpn=("http/1.1",))) as b:
        async with edgeway(tmp_path, config(b.url, "rootCAs: [ca.pem]")) as ew:
            for _ in range(3):
                assert (await get(ew.port())).status == 200
            assert [r.http_version for r in b.received] == ["1.1"] * 3
            assert b.connections == 1  # the ALPN connection went on in the HTTP/1.1 pool


async def test_h2c_with_trailers_and_streamed_bodies(tmp_path: Path) -> None:
    async with dual(h2c=True) as b:
        async with edgeway(tmp_path, config(b.url)) as ew:
            client = await Client.connect(ew.port())
            r = await client.request("GET", "/trailers")
            assert r.status == 200 and r.body == b"hello"
            big = bytes(range(256)) * 8192  # 2 MiB: beyond the initial flow-control windows
            r = await client.request("PUT", "/echo", body=big)
            assert r.status == 200 and b.received[-1].body == big
            await client.close()
            rec = b.received[-1]
            assert rec.http_version == "2" and rec.header("x-forwarded-for") == "127.0.0.1"
            client = await Client.connect(ew.port())
            r = await client.request("POST", "/empty")
            await client.close()
            assert r.status == 200 and b.received[-1].header("content-length") == "0"


async def test_h2_response_trailers_reach_the_response(tmp_path: Path) -> None:
    """Trailers are on ``Response.trailers`` once the body is read (what the
    gRPC-Web middleware and the server side read)."""
    from edgeway.http.bodies import read_response_body
    from edgeway.http.message import Headers, Request, Response
    from edgeway.middlewares.grpcweb import trailer_frame

    seen: list[Any] = []

    async def capture(req: Request, next_: Any) -> Response:
        resp = await next_(req)
        body = await read_response_body(resp, -1)
        assert resp.trailers is not None
        seen.append((body, resp.trailers.raw))
        return Response(200, Headers(), body)

    async with dual(h2c=True) as b:
        from edgeway.services import ServiceContext
        from edgeway.services.pools import PoolManager
        from edgeway.services.servers import server_handler_for
        from edgeway.services.transports import TransportDefaults, Transports, TransportSettings

        pools = PoolManager()
        ctx = ServiceContext(
            lambda n: None, pools, Transports({}, TransportDefaults(), "."), lambda t: None, None
        )  # type: ignore[arg-type,return-value]
        handler = server_handler_for(b.url, TransportSettings(), ctx)
        req = Request(
            "GET", "/trailers", "", Headers([(b"Host", b"x")]), authority="x", client_ip="10.0.0.1"
        )
        await capture(req, handler)
        pools.commit()
        pools.close()
    assert seen == [(b"hello", [(b"X-Checksum", b"abc"), (b"Grpc-Status", b"0")])]
    assert trailer_frame(seen[0][1]) == b"\x80\x00\x00\x00\x21grpc-status: 0\r\nx-checksum: abc\r\n"


# --- timeouts ------------------------------------------------------------------------


async def test_response_header_timeout_and_idle_timeout(tmp_path: Path) -> None:
    async with dual(h2c=True) as b:
        timeouts = "forwardingTimeouts: {responseHeaderTimeout: 200ms, idleConnTimeout: 300ms}"
        async with edgeway(tmp_path, config(b.url, timeouts)) as ew:
            r = await get(ew.port(), "/slow/2000")
            assert r.status == 504 and r.body == b"Gateway Timeout"
            assert (await get(ew.port(), "/slow/10")).status == 200
            with anyio.fail_after(5):  # the idle connection is closed after 300 ms
                while b.closed < b.connections:
                    await anyio.sleep(0.02)


async def test_read_idle_ping_closes_an_unresponsive_connection(tmp_path: Path) -> None:
    async with dual(h2c=True) as b:
        timeouts = "forwardingTimeouts: {readIdleTimeout: 200ms, pingTimeout: 200ms}"
        async with edgeway(tmp_path, config(b.url, timeouts)) as ew:
            with anyio.fail_after(5):
                r = await get(ew.port(), "/hang")
            assert r.status == 502


async def test_dial_failure_is_502(tmp_path: Path) -> None:
    async with dual(h2c=True) as b:
        url = b.url
    async with edgeway(tmp_path, config(url)) as ew:
        assert (await get(ew.port())).status == 502
