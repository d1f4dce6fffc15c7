"""The connection layer end to end: what serves a connection on an entry point
shared by plain HTTP, HTTPS and TCP routes (Traefik's ``Router.ServeTCP`` order),
server-speaks-first TCP routes, the entry points' PROXY protocol, HTTP/2 and gRPC
over a TLS entry point, and UDP entry points next to TCP ones.

edgeway runs as its real binary (as in production, uvloop when installed) and, when
the binary is there, real Traefik 3.7 runs on the same static and dynamic
configuration: every scenario has an expected outcome both must give. Blocking
clients (sockets, ``ssl``, grpcio) run in the test thread; the backends run on a
background loop. A few cases need to look inside edgeway and run it in-process.

Intended differences: none.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from differential_support import Proxy, edgeway_binary, require_traefik, running, traefik_binary
from edgeway import proxyprotocol
from edgeway.proxyprotocol import format_header
from grpc_support import Stub, grpc_server
from h2_support import h2_client
from support import Received, backends, edgeway, free_port
from tcp_support import TCPBackend, ThreadBackends, udp_client
from tls_support import CA, insecure_context

#: The addresses a PROXY protocol header claims (a client behind a load balancer).
SOURCE = ("203.0.113.7", 56324)
DESTINATION = ("192.0.2.1", 8443)
PP1 = format_header(1, SOURCE, DESTINATION)
PP2 = format_header(2, SOURCE, DESTINATION)
#: A client the TCP routes' ClientIP() rules take.
TCP_SOURCE = ("203.0.113.9", 56325)
TCP_PP1 = format_header(1, TCP_SOURCE, DESTINATION)
TCP_PP2 = format_header(2, TCP_SOURCE, DESTINATION)
#: A second loopback address, for a client whose address no rule trusts.
OTHER = "127.0.0.2"

ENTRY_POINTS = (
    "mixed",
    "fallback",
    "https404",
    "pp",
    "ppopen",
    "speak",
    "speakpp",
    "dns",
    "traefik",
)


# --- configuration ------------------------------------------------------------------------


def static_config(ports: dict[str, int], dynamic: Path) -> dict[str, Any]:
    def ep(name: str, **kw: Any) -> dict[str, Any]:
        return {"address": f"127.0.0.1:{ports[name]}", **kw}

    return {
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "entryPoints": {
            # Plain HTTP, HTTPS, TCP (plain, passthrough, terminated) on one entry point.
            "mixed": ep("mixed"),
            # A TCP TLS catch-all and no HTTPS catch-all; a plain TCP catch-all.
            "fallback": ep("fallback"),
            # Only a specific HTTPS router and a passthrough route: the HTTPS 404.
            "https404": ep("https404"),
            "pp": ep("pp", proxyProtocol={"trustedIPs": ["127.0.0.1/32"]}),
            "ppopen": ep("ppopen", proxyProtocol={"insecure": True}),
            # Only non-TLS TCP routes: served before the client sends anything.
            "speak": ep("speak"),
            "speakpp": ep("speakpp", proxyProtocol={"insecure": True}),
            # TCP and UDP on the same port number.
            "dns": ep("dns"),
            "dnsudp": {"address": f"127.0.0.1:{ports['dns']}/udp"},
            "traefik": ep("traefik"),
        },
        "ping": {},
        "log": {"level": "ERROR"},
        "providers": {"file": {"filename": str(dynamic), "watch": False}},
    }


def dynamic_config(
    cert: Any, http: dict[str, Any], tcp: dict[str, TCPBackend], udp: str, grpc_port: int
) -> dict[str, Any]:
    def lb(address: str, **kw: Any) -> dict[str, Any]:
        return {"loadBalancer": {"servers": [{"address": address}], **kw}}

    def router(eps: list[str], rule: str, service: str, **kw: Any) -> dict[str, Any]:
        return {"entryPoints": eps, "rule": rule, "service": service, **kw}

    star = "HostSNI(`*`)"
    other = f"HostSNI(`*`) && ClientIP(`{OTHER}`)"
    return {
        "http": {
            "routers": {
                "plain": router(
                    ["mixed", "pp", "ppopen", "https404"], "Host(`plain.test`)", "plain"
                ),
                "secure": router(
                    ["mixed", "fallback", "https404", "pp"], "Host(`web.test`)", "secure", tls={}
                ),
                "both": router(["mixed"], "Host(`both.test`)", "secure", tls={}),
                "catchall": router(["mixed"], "PathPrefix(`/`)", "catchall", tls={}),
                "grpc": router(["mixed"], "Host(`grpc.test`)", "grpc", tls={}),
            },
            "services": {
                **{
                    name: {"loadBalancer": {"servers": [{"url": b.url}]}}
                    for name, b in http.items()
                },
                "grpc": {"loadBalancer": {"servers": [{"url": f"h2c://127.0.0.1:{grpc_port}"}]}},
            },
        },
        "tcp": {
            "routers": {
                "plain-other": router(["mixed"], other, "p"),
                "plain-any": router(["fallback", "speak", "dns"], star, "p"),
                "pass": router(
                    ["mixed", "https404"], "HostSNI(`pass.test`)", "P", tls={"passthrough": True}
                ),
                "pass-both": router(
                    ["mixed"], "HostSNI(`both.test`)", "P", tls={"passthrough": True}
                ),
                "term": router(["mixed"], "HostSNI(`term.test`)", "t", tls={}),
                "tls-other": router(["mixed"], other, "i", tls={}),
                "tls-any": router(["mixed", "fallback"], star, "a", tls={}),
                "pp-ip": router(["pp", "ppopen"], f"ClientIP(`{TCP_SOURCE[0]}`)", "o"),
                "pp-tls": router(
                    ["pp"], f"HostSNI(`pptls.test`) && ClientIP(`{TCP_SOURCE[0]}`)", "t", tls={}
                ),
                "speak-pp": router(["speakpp"], f"ClientIP(`{TCP_SOURCE[0]}`)", "p"),
            },
            "services": {
                **{name: lb(b.address) for name, b in tcp.items() if name != "o"},
                "o": lb(tcp["o"].address, serversTransport="pp1"),
            },
            "serversTransports": {"pp1": {"proxyProtocol": {"version": 1}}},
        },
        "udp": {
            "routers": {"u": {"entryPoints": ["dnsudp"], "service": "u"}},
            "services": {"u": {"loadBalancer": {"servers": [{"address": udp}]}}},
        },
        "tls": {"certificates": [{"certFile": str(cert.cert), "keyFile": str(cert.key)}]},
    }


def responder(name: str) -> Callable[[Received], Any]:
    """An HTTP backend telling who it is and which client address the proxy gave it."""

    def respond(rec: Received) -> Any:
        headers = [
            ("X-Backend", name),
            ("X-Seen-For", rec.header("x-forwarded-for") or "-"),
            ("X-Seen-Real", rec.header("x-real-ip") or "-"),
            ("X-Seen-Proto", rec.header("x-forwarded-proto") or "-"),
            ("Content-Length", "2"),
        ]
        return 200, headers, b"ok"

    return respond


@dataclass
class Setup:
    edgeway: Proxy
    traefik: Proxy | None
    ca: CA


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("connection-layer")
    ca = CA(tmp)
    cert = ca.issue("web.test", "both.test", "term.test", "pptls.test", "grpc.test")
    pool = ThreadBackends()
    try:
        with grpc_server() as (grpc_port, _), contextlib.ExitStack() as stack:
            passthrough = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ca.ca.issue_cert("pass.test").configure_cert(passthrough)
            http = {
                name: pool.http(name, responder(name)) for name in ("plain", "secure", "catchall")
            }
            tcp = {name: pool.tcp(name) for name in ("p", "t", "i", "a", "o")}
            tcp["P"] = pool.tcp("P", ssl_context=passthrough)
            udp = pool.udp("u")
            dynamic = tmp / "dynamic.yml"
            dynamic.write_text(
                yaml.safe_dump(
                    dynamic_config(cert, http, tcp, udp.address, grpc_port), sort_keys=False
                )
            )
            binaries = {"edgeway": edgeway_binary(), "traefik": traefik_binary()}
            proxies = {}
            for name, binary in binaries.items():
                if binary is None:
                    continue
                workdir = tmp / name
                workdir.mkdir()
                ports = {ep: free_port() for ep in ENTRY_POINTS}
                config = workdir / f"{name}.yml"
                config.write_text(yaml.safe_dump(static_config(ports, dynamic), sort_keys=False))
                proxies[name] = Proxy(name, [binary, f"--configFile={config}"], workdir, ports)
            stack.enter_context(running(list(proxies.values())))
            deadline = time.monotonic() + 20
            for proxy in proxies.values():
                proxy.wait_ready([("traefik", "localhost", "/ping", 200)], deadline)
                _wait_until(
                    lambda p=proxy: (
                        exchange(p.port("mixed"), sni="web.test") == "http 200 secure for 127.0.0.1"
                    ),
                    deadline,
                )
            yield Setup(proxies["edgeway"], proxies.get("traefik"), ca)
    finally:
        pool.close()


def _wait_until(ready: Callable[[], bool], deadline: float) -> None:
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError("the proxy never got ready")
        time.sleep(0.05)


def both(setup: Setup, observe: Callable[[Proxy], Any]) -> tuple[Any, Any]:
    """``observe`` against edgeway, and against Traefik (skipped without its binary)."""
    ours = observe(setup.edgeway)
    if setup.traefik is None:
        require_traefik()  # skips (fails under CI)
    assert setup.traefik is not None
    return ours, observe(setup.traefik)


# --- a blocking client ----------------------------------------------------------------------


def request(host: str) -> bytes:
    return f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()


def exchange(
    port: int,
    *,
    sni: str | None = None,
    tls: bool | None = None,
    source: str = "127.0.0.1",
    header: bytes = b"",
    host: str | None = None,
    send: bool = True,
    alpn: list[str] | None = None,
) -> str:
    """Connect (from ``source``), send ``header`` then, over TLS when ``sni`` or ``tls``,
    an HTTP request (unless ``send`` is False); describe what answered:

    ``http <status> [<backend> for <X-Forwarded-For>]``, ``tcp <echo backend> [<PROXY
    line the backend got>]``, ``closed``, ``handshake failed`` or ``timeout``.
    """
    data = request(host or sni or "plain.test") if send else b""
    got = b""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    except OSError:
        return "refused"
    with contextlib.closing(sock):
        try:
            sock.sendall(header)
            conn: socket.socket = sock
            if tls or (tls is None and sni is not None):
                try:
                    conn = insecure_context(alpn).wrap_socket(sock, server_hostname=sni)
                except (ssl.SSLError, OSError):
                    return "handshake failed"
            conn.sendall(data)
            while not (send and got.endswith(data)) and not (not send and got.endswith(b":")):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                got += chunk
        except TimeoutError:
            return "timeout"
        except (ssl.SSLError, ConnectionError):
            pass
    return describe(got)


def describe(got: bytes) -> str:
    if not got:
        return "closed"
    if got.startswith(b"HTTP/1.1 "):
        head = got.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        fields = dict(line.split(": ", 1) for line in head[1:])
        out = f"http {head[0].split(' ')[1]}"
        if "X-Backend" in fields:
            out += f" {fields['X-Backend']} for {fields['X-Seen-For']}"
            if fields["X-Seen-Real"] != fields["X-Seen-For"]:
                out += f" real {fields['X-Seen-Real']}"
        return out
    name, _, rest = got.partition(b":")
    out = f"tcp {name.decode('latin-1')}"
    if rest.startswith(b"PROXY"):
        out += " " + rest.split(b"\r\n", 1)[0].decode()
    return out


# --- (a) what serves a connection -------------------------------------------------------------


PRECEDENCE: dict[str, tuple[dict[str, Any], str]] = {
    # Plain bytes: a matching non-TLS TCP route, else HTTP.
    "plain-http": ({"ep": "mixed"}, "http 200 plain for 127.0.0.1"),
    "plain-tcp-route-by-client-ip": ({"ep": "mixed", "source": OTHER}, "tcp p"),
    "plain-tcp-catch-all-takes-http-too": ({"ep": "fallback"}, "tcp p"),
    "plain-no-router-404": ({"ep": "https404", "host": "nobody.test"}, "http 404"),
    # TLS: HTTPS with a specific SNI first, even over a TCP route for the same SNI.
    "https-specific": ({"ep": "mixed", "sni": "web.test"}, "http 200 secure for 127.0.0.1"),
    "https-specific-over-tcp-same-sni": (
        {"ep": "mixed", "sni": "both.test"},
        "http 200 secure for 127.0.0.1",
    ),
    "https-specific-over-tcp-non-catch-all": (
        {"ep": "mixed", "sni": "web.test", "source": OTHER},
        "http 200 secure for 127.0.0.2",
    ),
    # Then a TCP TLS route that is not exactly HostSNI(`*`).
    "tcp-passthrough-specific": ({"ep": "mixed", "sni": "pass.test"}, "tcp P"),
    "tcp-terminated-specific": ({"ep": "mixed", "sni": "term.test"}, "tcp t"),
    "tcp-star-and-client-ip-is-not-a-catch-all": (
        {"ep": "mixed", "sni": "x.test", "source": OTHER},
        "tcp i",
    ),
    # Then the HTTPS catch-all, then the TCP catch-all, then the HTTPS 404.
    "https-catch-all-over-tcp-catch-all": (
        {"ep": "mixed", "sni": "x.test"},
        "http 200 catchall for 127.0.0.1",
    ),
    "https-catch-all-without-sni": (
        {"ep": "mixed", "tls": True, "host": "x.test"},
        "http 200 catchall for 127.0.0.1",
    ),
    "tcp-catch-all": ({"ep": "fallback", "sni": "x.test"}, "tcp a"),
    "tcp-catch-all-after-https-specific": (
        {"ep": "fallback", "sni": "web.test"},
        "http 200 secure for 127.0.0.1",
    ),
    "https-404": ({"ep": "https404", "sni": "x.test"}, "http 404"),
    "https-404-passthrough-still-routed": ({"ep": "https404", "sni": "pass.test"}, "tcp P"),
}


def _observe(spec: dict[str, Any]) -> Callable[[Proxy], str]:
    spec = dict(spec)
    ep = spec.pop("ep")
    return lambda proxy: exchange(proxy.port(ep), **spec)


@pytest.mark.parametrize("case", list(PRECEDENCE))
def test_precedence(setup: Setup, case: str) -> None:
    spec, expected = PRECEDENCE[case]
    assert _observe(spec)(setup.edgeway) == expected


def test_precedence_as_traefik(setup: Setup) -> None:
    ours, traefik = both(
        setup, lambda proxy: {case: _observe(spec)(proxy) for case, (spec, _) in PRECEDENCE.items()}
    )
    assert ours == traefik == {case: expected for case, (_, expected) in PRECEDENCE.items()}


# --- (b) server speaks first, (e) UDP next to TCP ------------------------------------------------


SERVER_FIRST: dict[str, tuple[dict[str, Any], str]] = {
    "no-tls-route": ({"ep": "speak", "send": False}, "tcp p"),
    "after-a-proxy-header": ({"ep": "speakpp", "send": False, "header": TCP_PP1}, "tcp p"),
    "same-port-as-udp": ({"ep": "dns", "send": False}, "tcp p"),
}


def test_server_speaks_first(setup: Setup) -> None:
    """Served before the client sends a byte (the client only reads)."""
    ours, traefik = both(
        setup,
        lambda proxy: {case: _observe(spec)(proxy) for case, (spec, _) in SERVER_FIRST.items()},
    )
    assert ours == traefik == {case: expected for case, (_, expected) in SERVER_FIRST.items()}


@pytest.mark.anyio
async def test_udp_entry_point_next_to_tcp_ones(setup: Setup) -> None:
    """A ``/udp`` entry point on the port number of a TCP one, both from the static configuration."""
    port = setup.edgeway.port("dns")
    async with udp_client(port) as client:
        assert [await client.ask(b"1"), await client.ask(b"2")] == [b"u:1", b"u:2"]
    assert exchange(port, send=False) == "tcp p"


# --- (c) PROXY protocol on entry points --------------------------------------------------------


FROM_SOURCE = f"for {SOURCE[0]}"
TO_SERVER = f"PROXY TCP4 {TCP_SOURCE[0]} {DESTINATION[0]} {TCP_SOURCE[1]} {DESTINATION[1]}"
MALFORMED_V1 = b"PROXY TCP4 203.0.113.7 nope\r\n"
MALFORMED_V2 = PP2[:12] + b"\x99" + PP2[13:]  # unknown version and command

PROXY_PROTOCOL: dict[str, tuple[dict[str, Any], str]] = {
    "http-v1": ({"ep": "pp", "header": PP1}, f"http 200 plain {FROM_SOURCE}"),
    "http-v2": ({"ep": "pp", "header": PP2}, f"http 200 plain {FROM_SOURCE}"),
    "https-v1": ({"ep": "pp", "header": PP1, "sni": "web.test"}, f"http 200 secure {FROM_SOURCE}"),
    "https-v2": ({"ep": "pp", "header": PP2, "sni": "web.test"}, f"http 200 secure {FROM_SOURCE}"),
    # ClientIP() matches the header's source; the route's PROXY header toward its server carries it on.
    "tcp-client-ip-v1": ({"ep": "pp", "header": TCP_PP1}, f"tcp o {TO_SERVER}"),
    "tcp-client-ip-v2": ({"ep": "pp", "header": TCP_PP2}, f"tcp o {TO_SERVER}"),
    "tcp-tls-client-ip": ({"ep": "pp", "header": TCP_PP2, "sni": "pptls.test"}, "tcp t"),
    "tcp-tls-client-ip-without-header": ({"ep": "pp", "sni": "pptls.test"}, "http 404"),
    # Optional for trusted peers (go-proxyproto's USE policy).
    "trusted-without-header": ({"ep": "pp"}, "http 200 plain for 127.0.0.1"),
    "v2-local-keeps-the-address": (
        {"ep": "pp", "header": format_header(2, None, None)},
        "http 200 plain for 127.0.0.1",
    ),
    "v1-unknown-keeps-the-address": (
        {"ep": "pp", "header": b"PROXY UNKNOWN\r\n"},
        "http 200 plain for 127.0.0.1",
    ),
    # An untrusted peer's header is read and dropped (IGNORE): its own address stays.
    "untrusted-header-dropped": (
        {"ep": "pp", "header": PP1, "source": OTHER},
        "http 200 plain for 127.0.0.2",
    ),
    "untrusted-header-dropped-tls": (
        {"ep": "pp", "header": PP2, "source": OTHER, "sni": "web.test"},
        "http 200 secure for 127.0.0.2",
    ),
    "untrusted-header-no-client-ip-match": (
        {"ep": "pp", "header": TCP_PP1, "source": OTHER},
        "http 200 plain for 127.0.0.2",
    ),
    "untrusted-without-header": ({"ep": "pp", "source": OTHER}, "http 200 plain for 127.0.0.2"),
    "insecure-trusts-anyone": (
        {"ep": "ppopen", "header": PP1, "source": OTHER},
        f"http 200 plain {FROM_SOURCE}",
    ),
    "insecure-tcp-client-ip": (
        {"ep": "ppopen", "header": TCP_PP2, "source": OTHER},
        f"tcp o {TO_SERVER}",
    ),
    "malformed-v1-closes": ({"ep": "pp", "header": MALFORMED_V1}, "closed"),
    "malformed-v2-closes": ({"ep": "pp", "header": MALFORMED_V2}, "closed"),
    "malformed-from-untrusted-closes": (
        {"ep": "pp", "header": MALFORMED_V1, "source": OTHER},
        "closed",
    ),
}


@pytest.mark.parametrize("case", list(PROXY_PROTOCOL))
def test_proxy_protocol(setup: Setup, case: str) -> None:
    spec, expected = PROXY_PROTOCOL[case]
    assert _observe(spec)(setup.edgeway) == expected


def test_proxy_protocol_as_traefik(setup: Setup) -> None:
    def observe(proxy: Proxy) -> dict[str, str]:
        return {case: _observe(spec)(proxy) for case, (spec, _) in PROXY_PROTOCOL.items()}

    ours, traefik = both(setup, observe)
    assert ours == traefik == {case: expected for case, (_, expected) in PROXY_PROTOCOL.items()}


def test_proxy_protocol_without_trusted_ips_is_refused(tmp_path: Path) -> None:
    """``proxyProtocol: {}`` trusts nobody: neither proxy starts (Traefik: ``ip.NewChecker``)."""
    static = {
        "entryPoints": {"web": {"address": f"127.0.0.1:{free_port()}", "proxyProtocol": {}}},
        "log": {"level": "ERROR"},
    }
    config = tmp_path / "static.yml"
    config.write_text(yaml.safe_dump(static))
    outcomes = {}
    for name, binary in {"edgeway": edgeway_binary(), "traefik": traefik_binary()}.items():
        if binary is None:
            continue
        done = subprocess.run(
            [binary, f"--configFile={config}"],
            capture_output=True,
            text=True,
            timeout=20,
            cwd=tmp_path,
        )
        outcomes[name] = (
            done.returncode != 0,
            "no trusted IPs provided" in done.stdout + done.stderr,
        )
    assert set(outcomes.values()) == {(True, True)}, outcomes


# --- (d) HTTP/2 over a TLS entry point ------------------------------------------------------------


ALPN: dict[str, tuple[str, list[str] | None, str | None]] = {
    "h2-offered": ("web.test", ["h2", "http/1.1"], "h2"),
    "http11-only": ("web.test", ["http/1.1"], "http/1.1"),
    "no-alpn": ("web.test", None, None),
    "tcp-terminated-route": ("term.test", ["h2", "http/1.1"], "h2"),
}


def negotiated(port: int, sni: str, alpn: list[str] | None) -> str | None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        with insecure_context(alpn).wrap_socket(sock, server_hostname=sni) as tls:
            return tls.selected_alpn_protocol()


def test_alpn_as_traefik(setup: Setup) -> None:
    def observe(proxy: Proxy) -> dict[str, Any]:
        return {
            case: negotiated(proxy.port("mixed"), sni, offer)
            for case, (sni, offer, _) in ALPN.items()
        }

    ours, traefik = both(setup, observe)
    assert ours == traefik == {case: expected for case, (_, _, expected) in ALPN.items()}


def test_http11_when_the_client_offers_only_http11(setup: Setup) -> None:
    port = setup.edgeway.port("mixed")
    for alpn in (["http/1.1"], None):
        assert exchange(port, sni="web.test", alpn=alpn) == "http 200 secure for 127.0.0.1"


@pytest.mark.anyio
async def test_http2_over_the_tls_entry_point(setup: Setup) -> None:
    async def observe(port: int) -> list[tuple[int, str | None, str | None]]:
        out = []
        async with h2_client(
            port, ssl_context=setup.ca.client_context(alpn=["h2"]), server_hostname="web.test"
        ) as c:
            assert c.writer.get_extra_info("ssl_object").selected_alpn_protocol() == "h2"
            for authority in ("web.test", "other.test"):  # one TLS connection, two routers
                r = await c.request("GET", "/", authority=authority, scheme="https")
                out.append((r.status, r.header("x-backend"), r.header("x-seen-proto")))
        return out

    ours = await observe(setup.edgeway.port("mixed"))
    assert ours == [(200, "secure", "https"), (200, "catchall", "https")]
    if setup.traefik is not None:
        assert await observe(setup.traefik.port("mixed")) == ours


@pytest.mark.anyio
@pytest.mark.parametrize("tls", [True, False], ids=["h2", "h2c"])
async def test_http2_after_a_proxy_header(setup: Setup, tls: bool) -> None:
    """The PROXY header's source reaches the backend across the hand-over to HTTP/2."""

    async def observe(port: int) -> tuple[int, str | None]:
        ctx = setup.ca.client_context(alpn=["h2"]) if tls else None
        async with h2_client(port, ssl_context=ctx, server_hostname="web.test", preamble=PP2) as c:
            r = await c.request(
                "GET",
                "/",
                authority="web.test" if tls else "plain.test",
                scheme="https" if tls else "http",
            )
            return r.status, r.header("x-seen-for")

    ours = await observe(setup.edgeway.port("pp"))
    assert ours == (200, SOURCE[0])
    if setup.traefik is not None:
        assert await observe(setup.traefik.port("pp")) == ours


def test_grpc_over_the_tls_entry_point(setup: Setup) -> None:
    def calls(proxy: Proxy) -> list[Any]:
        creds = grpc.ssl_channel_credentials(root_certificates=setup.ca.path.read_bytes())
        options = [("grpc.ssl_target_name_override", "grpc.test")]
        with grpc.secure_channel(
            f"127.0.0.1:{proxy.port('mixed')}", creds, options=options
        ) as channel:
            stub = Stub(channel)
            reply, call = stub.echo.with_call(b"tls", timeout=5)
            with pytest.raises(grpc.RpcError) as err:
                stub.fail(b"", timeout=5)
            return [
                reply,
                dict(call.trailing_metadata())["x-trail"],
                list(stub.count(b"2", timeout=5)),
                err.value.code(),
            ]

    ours, traefik = both(setup, calls)
    assert ours == traefik == [b"echo:tls", "yes", [b"n0", b"n1"], grpc.StatusCode.NOT_FOUND]


# --- in-process: what only the inside shows ---------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("header", [PP1, PP2], ids=["v1", "v2"])
async def test_proxy_header_split_across_packets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, header: bytes
) -> None:
    """The entry point waits for the rest of a header that arrives in pieces (checked:
    the first piece alone was seen as incomplete)."""
    seen: list[Any] = []
    parse = proxyprotocol.parse

    def spy(data: Any) -> Any:
        seen.append(result := parse(data))
        return result

    monkeypatch.setattr(proxyprotocol, "parse", spy)
    static = (
        'entryPoints: {web: {address: "127.0.0.1:0", proxyProtocol: {trustedIPs: ["127.0.0.1"]}}}'
    )
    async with backends("a") as (a,):
        dynamic = f'http: {{routers: {{r: {{rule: "PathPrefix(`/`)", service: s}}}}, services: {{s: {{loadBalancer: {{servers: [{{url: "{a.url}"}}]}}}}}}}}'
        async with edgeway(tmp_path, dynamic, static) as ew:
            reader, writer = await asyncio.open_connection("127.0.0.1", ew.port())
            try:
                writer.write(header[:9])
                async with asyncio.timeout(5):
                    while proxyprotocol.NEED_MORE not in seen:
                        await asyncio.sleep(0.005)
                writer.write(header[9:] + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                async with asyncio.timeout(5):
                    status = await reader.readline()
            finally:
                writer.close()
    assert status == b"HTTP/1.1 200 OK\r\n"
    assert a.received[-1].header("X-Forwarded-For") == SOURCE[0]
