"""TCP routers, services and middlewares end to end: raw TCP and TLS clients connect to
edgeway's own TCP entry points (TLS terminated with the dynamic configuration's
certificates and options), raw TCP and TLS backends on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from edgeway.proxyprotocol import ProxyHeader, parse
from support import Edgeway, edgeway
from tcp_support import converse, read_until, refused, talk, tcp_backends

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "uvloop"])
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    """Both event loops (production runs uvloop, whose transports differ)."""
    return ("asyncio", {"use_uvloop": True}) if request.param == "uvloop" else "asyncio"


STATIC = """
entryPoints:
  web: {address: "127.0.0.1:0"}
  tcp: {address: "127.0.0.1:0"}
"""
#: A transport that lets the reply direction finish after the client's FIN.
HALF_CLOSE = "serversTransports: {halfclose: {terminationDelay: -1s}}"


@contextlib.asynccontextmanager
async def serving(
    tmp: Path, dynamic: str, static: str = STATIC
) -> AsyncIterator[tuple[Edgeway, int]]:
    """edgeway on ``dynamic``, and the port of its ``tcp`` entry point."""
    async with edgeway(tmp, dynamic, static) as ew:
        yield ew, ew.port("tcp")


def lb(*addresses: str, extra: str = "") -> str:
    servers = ", ".join(f'{{address: "{a}"}}' for a in addresses)
    return f"{{loadBalancer: {{servers: [{servers}]{extra}}}}}"


def status(ew: Edgeway, table: str, name: str) -> tuple[str, list[str]]:
    info = getattr(ew.runtime, table)[name]
    return info.status, info.errors


# --- plain TCP -------------------------------------------------------------------------


async def test_catch_all_serves_before_the_client_speaks(tmp_path: Path) -> None:
    async with tcp_backends("a") as (a,):
        dyn = f"""
        tcp:
          routers: {{r: {{entryPoints: [tcp], rule: "HostSNI(`*`)", service: s}}}}
          services: {{s: {lb(a.address)}}}
        """
        async with serving(tmp_path, dyn) as (ew, port):
            assert ew.kernel.entrypoints["tcp"].routing.tcp.catch_all_plain is not None
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert await read_until(reader, b"a:") == b"a:"  # server speaks first
            writer.write(b"ping")
            assert await read_until(reader, b"ping") == b"ping"
            writer.close()
            assert ew.runtime.tcp_routers["r@file"].priority == -1
            assert ew.runtime.tcp_services["s@file"].server_status == {a.address: "UP"}


async def test_default_transport_cuts_the_reply_after_client_fin(tmp_path: Path) -> None:
    """Traefik: without a named serversTransport the termination delay is 0."""
    async with tcp_backends("a", at_eof=True) as (a,):
        dyn = f"""
        tcp:
          routers: {{r: {{entryPoints: [tcp], rule: "HostSNI(`*`)", service: s, priority: 5}}}}
          services:
            s: {lb(a.address)}
            t: {lb(a.address, extra=", serversTransport: halfclose")}
          {HALF_CLOSE}
        """
        async with serving(tmp_path, dyn) as (ew, port):
            assert await talk(port, b"hi") == b""  # the reply comes after the FIN: cut
            ew.write_dynamic(dyn.replace("service: s,", "service: t,"))
            await ew.wait_applied(ew.kernel.state.reloads)
            assert await talk(port, b"hi") == b"a:hi"


async def test_round_robin_and_weighted(tmp_path: Path) -> None:
    async with tcp_backends("a", "b", "c") as (a, b, c):
        dyn = f"""
        tcp:
          routers:
            rr: {{entryPoints: [tcp], rule: "ClientIP(`127.0.0.1`)", service: ab}}
          services:
            ab: {lb(a.address, b.address)}
            only_c: {lb(c.address)}
            w: {{weighted: {{services: [{{name: ab, weight: 3}}, {{name: only_c, weight: 1}}]}}}}
        """
        async with serving(tmp_path, dyn) as (ew, port):
            for _ in range(4):
                assert (await converse(port, b"x", b"x"))[-1:] == b"x"
            assert (a.connections, b.connections) == (2, 2)
            ew.write_dynamic(dyn.replace("service: ab", "service: w"))
            await ew.wait_applied(ew.kernel.state.reloads)
            before = a.connections + b.connections
            for _ in range(8):
                await converse(port, b"x", b"x")
            assert (a.connections + b.connections - before, c.connections) == (6, 2)


async def test_dial_failure_closes_the_client(tmp_path: Path) -> None:
    dyn = f"""
    tcp:
      routers: {{r: {{entryPoints: [tcp], rule: "HostSNI(`*`)", service: s}}}}
      services: {{s: {lb("127.0.0.1:1")}}}
    """
    async with serving(tmp_path, dyn) as (_, port):
        assert await refused(port)


async def test_invalid_server_address_is_skipped(tmp_path: Path) -> None:
    async with tcp_backends("a") as (a,):
        dyn = f"""
        tcp:
          routers: {{r: {{entryPoints: [tcp], rule: "HostSNI(`*`)", service: s}}}}
          services: {{s: {lb("no-port", a.address)}}}
        """
        async with serving(tmp_path, dyn) as (ew, port):
            for _ in range(2):
                assert await converse(port, b"x", b"a:x") == b"a:x"
            assert ew.runtime.tcp_services["s@file"].server_status == {a.address: "UP"}


async def test_dial_timeout(tmp_path: Path) -> None:
    """A server that never completes the handshake: dialTimeout closes the client."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    for _ in range(4):  # fill the accept queue so further SYNs are dropped
        s = socket.socket()
        s.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            s.connect(listener.getsockname())
        fillers.append(s)
    address = f"127.0.0.1:{listener.getsockname()[1]}"
    dyn = f"""
    tcp:
      routers: {{r: {{entryPoints: [tcp], rule: "HostSNI(`*`)", service: s}}}}
      services: {{s: {lb(address, extra=", serversTransport: quick")}}}
      serversTransports: {{quick: {{dialTimeout: 200ms}}}}
    """
    try:
        async with serving(tmp_path, dyn) as (_, port):
            loop = asyncio.get_running_loop()
            start = loop.time()
            assert await refused(port, timeout=5)
            assert loop.time() - start < 3
    finally:
        for s in fillers:
            s.close()
        listener.close()


# --- middlewares -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["ipAllowList", "ipWhiteList"])
async def test_ip_allow_list(tmp_path: Path, kind: str) -> None:
    async with tcp_backends("a") as (a,):
        dyn = f"""
        tcp:
          routers:
            r: {{entryPoints: [tcp], rule: "HostSNI(`*`)", service: s, middlewares: [deny]}}
          middlewares:
            deny: {{{kind}: {{sourceRange: ["10.0.0.0/8"]}}}}
            allow: {{{kind}: {{sourceRange: ["192.0.2.1", "127.0.0.1/32"]}}}}
          services: {{s: {lb(a.address)}}}
        """
        async with serving(tmp_path, dyn) as (ew, port):
            assert await refused(port)
            assert a.connections == 0
            ew.write_dynamic(dyn.replace("middlewares: [deny]", "middlewares: [allow]"))
            await ew.wait_applied(ew.kernel.state.reloads)
            assert await converse(port, b"x", b"a:x") == b"a:x"


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ("ipAllowList: {sourceRange: []}", "sourceRange is empty, IPAllowLister not created"),
        ("ipWhiteList: {}", "sourceRange is empty, IPWhiteLister not created"),
        (
            'ipAllowList: {sourceRange: ["10.0.0.0/33"]}',
            "cannot parse CIDRs [10.0.0.0/33]: parsing CIDR trusted IPs <nil>: invalid CIDR address: 10.0.0.0/33",
        ),
        (
            'ipWhiteList: {sourceRange: ["nope"]}',
            "cannot parse CIDR whitelist [nope]: parsing CIDR trusted IPs <nil>: invalid CIDR address: nope",
        ),
    ],
)
async def test_middleware_errors(tmp_path: Path, options: str, error: str) -> None:
    dyn = f"""
    tcp:
      routers: {{r: {{entryPoints: [tcp], rule: "HostSNI(`*`)", service: s, middlewares: [m]}}}}
      middlewares: {{m: {{{options}}}}}
      services: {{s: {lb("127.0.0.1:1")}}}
    """
    async with serving(tmp_path, dyn) as (ew, _):
        assert status(ew, "tcp_middlewares", "m@file") == ("disabled", [error])
        assert status(ew, "tcp_routers", "r@file") == ("disabled", [error])


async def test_in_flight_conn(tmp_path: Path) -> None:
    async with tcp_backends("a") as (a,):
        dyn = f"""
        tcp:
          routers: {{r: {{entryPoints: [tcp], rule: "HostSNI(`*`)", service: s, middlewares: [one]}}}}
          middlewares: {{one: {{inFlightConn: {{amount: 1}}}}, none: {{inFlightConn: {{}}}}}}
          services: {{s: {lb(a.address)}}}
        """
        async with serving(tmp_path, dyn) as (ew, port):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert await read_until(reader, b"a:") == b"a:"
            assert await refused(port)  # the second one at the same time
            writer.close()
            await a.wait_received(1)
            async with asyncio.timeout(5):
                while not await converse(port, b"x", b"a:x"):
                    await asyncio.sleep(0.02)  # the first one is being torn down
            ew.write_dynamic(dyn.replace("middlewares: [one]", "middlewares: [none]"))
            await ew.wait_applied(ew.kernel.state.reloads)
            assert await refused(port)  # amount 0 refuses everything, as in Traefik


async def test_middleware_precedence_and_unknown(tmp_path: Path) -> None:
    dyn = f"""
    tcp:
      routers:
        r: {{entryPoints: [tcp], rule: "HostSNI(`*`)", service: s, middlewares: [both]}}
        missing: {{entryPoints: [tcp], rule: "ClientIP(`10.0.0.1`)", service: s, middlewares: [nope]}}
        empty: {{entryPoints: [tcp], rule: "ClientIP(`10.0.0.2`)", service: s, middlewares: [void]}}
      middlewares:
        both: {{inFlightConn: {{amount: 0}}, ipAllowList: {{sourceRange: ["127.0.0.1"]}}}}
        void: {{}}
      services: {{s: {lb("127.0.0.1:1")}}}
    """
    async with serving(tmp_path, dyn) as (ew, _):
        assert status(ew, "tcp_routers", "r@file") == ("enabled", [])  # ipAllowList wins, no error
        assert status(ew, "tcp_routers", "missing@file") == (
            "disabled",
            ['middleware "nope@file" does not exist'],
        )
        void = 'invalid middleware "void@file" configuration: invalid middleware type or middleware does not exist'
        assert status(ew, "tcp_middlewares", "void@file") == ("disabled", [void])


# --- PROXY protocol towards servers ----------------------------------------------------


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("where", ["transport", "deprecated"])
async def test_proxy_protocol_to_servers(tmp_path: Path, version: int, where: str) -> None:
    async with tcp_backends("a", greet=False) as (a,):
        if where == "transport":
            svc = lb(a.address, extra=", serversTransport: pp")
            extra = f"serversTransports: {{pp: {{proxyProtocol: {{version: {version}}}, terminationDelay: -1s}}}}"
        else:
            svc = lb(a.address, extra=f", proxyProtocol: {{version: {version}}}")
            extra = ""
        dyn = f"""
        tcp:
          routers: {{r: {{entryPoints: [tcp], rule: "HostSNI(`*`)", service: s}}}}
          services: {{s: {svc}}}
          {extra}
        """
        async with serving(tmp_path, dyn) as (_, port):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            client = writer.get_extra_info("sockname")
            writer.write(b"payload")
            await read_until(reader, b"payload")
            writer.close()
            await a.wait_received(1)
    header = parse(a.received[0])
    assert isinstance(header, ProxyHeader)
    assert (header.version, header.source, header.destination) == (
        version,
        tuple(client),
        ("127.0.0.1", port),
    )
    assert a.received[0][header.length :] == b"payload"


async def test_proxy_protocol_default_version_and_bad_version(tmp_path: Path) -> None:
    async with tcp_backends("a", greet=False) as (a,):
        dyn = f"""
        tcp:
          routers:
            r: {{entryPoints: [tcp], rule: "HostSNI(`*`)", service: s}}
            bad: {{entryPoints: [tcp], rule: "ClientIP(`10.0.0.1`)", service: v3}}
          services:
            s: {lb(a.address, extra=", proxyProtocol: {}")}
            v3: {lb(a.address, extra=", serversTransport: pp3")}
          serversTransports: {{pp3: {{proxyProtocol: {{version: 3}}}}}}
        """
        async with serving(tmp_path, dyn) as (ew, port):
            await converse(port, b"z", b"z")
            await a.wait_received(1)
            assert status(ew, "tcp_routers", "bad@file") == (
                "disabled",
                ["unknown proxyProtocol version: 3"],
            )
            # As Traefik, a service's build error goes to its routers only.
            assert status(ew, "tcp_services", "v3@file") == ("enabled", [])
    header = parse(a.received[0])
    assert isinstance(header, ProxyHeader) and header.version == 2


# --- TLS towards servers ---------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_context(
    ca: trustme.CA, name: str, *, client_ca: trustme.CA | None = None
) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(ctx)
    if client_ca is not None:
        client_ca.configure_trust(ctx)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


@pytest.mark.parametrize(
    ("tls", "works"),
    [
        ("{serverName: backend.test, rootCAs: [ca.pem]}", True),
        ("{insecureSkipVerify: true}", True),
        ("{rootCAs: [ca.pem]}", False),  # Go: either ServerName or InsecureSkipVerify
        ("{serverName: other.test, rootCAs: [ca.pem]}", False),
        ("{serverName: backend.test}", False),  # system roots do not know the test CA
        (
            "{serverName: backend.test, rootCAs: [ca.pem], peerCertSANs: [{type: DNSName, value: backend.test}]}",
            True,
        ),
        (
            "{insecureSkipVerify: true, rootCAs: [ca.pem], peerCertSANs: [{type: DNSName, value: x.test}]}",
            False,
        ),
        (None, False),
    ],
)
async def test_tls_to_servers(tmp_path: Path, ca: trustme.CA, tls: str | None, works: bool) -> None:
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    async with tcp_backends("secure", ssl_context=server_context(ca, "backend.test")) as (a,):
        transport = (
            f"serversTransports: {{t: {{tls: {tls}, terminationDelay: -1s}}}}" if tls else ""
        )
        dyn = f"""
        tcp:
          routers: {{r: {{entryPoints: [tcp], rule: "HostSNI(`*`)", service: s}}}}
          services:
            s: {{loadBalancer: {{servers: [{{address: "{a.address}", tls: true}}]{", serversTransport: t" if tls else ""}}}}}
          {transport}
        """
        async with serving(tmp_path, dyn) as (_, port):
            if works:
                assert await converse(port, b"hello", b"secure:hello") == b"secure:hello"
            else:
                assert await refused(port)


async def test_tls_client_certificate_to_servers(tmp_path: Path, ca: trustme.CA) -> None:
    client_ca = trustme.CA()
    client = client_ca.issue_cert("edgeway.client")
    client.cert_chain_pems[0].write_to_path(str(tmp_path / "client.pem"))
    client.private_key_pem.write_to_path(str(tmp_path / "client.key"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    ctx = server_context(ca, "backend.test", client_ca=client_ca)
    async with tcp_backends("mtls", ssl_context=ctx) as (a,):
        for certs, works in (
            ("[{certFile: client.pem, keyFile: client.key}]", True),
            ("[]", False),
        ):
            dyn = f"""
            tcp:
              routers: {{r: {{entryPoints: [tcp], rule: "HostSNI(`*`)", service: s}}}}
              services:
                s: {{loadBalancer: {{servers: [{{address: "{a.address}", tls: true}}], serversTransport: t}}}}
              serversTransports:
                t: {{tls: {{serverName: backend.test, rootCAs: [ca.pem], certificates: {certs}}}}}
            """
            async with serving(_fresh(tmp_path), dyn) as (_, port):
                got = await converse(port, b"hi", b"mtls:hi")
                assert (got == b"mtls:hi") is works, got


_counter = iter(range(1000))


def _fresh(tmp: Path) -> Path:
    """A new working directory sharing ``tmp``'s certificate files."""
    sub = tmp / f"run{next(_counter)}"
    sub.mkdir()
    for f in [*tmp.glob("*.pem"), *tmp.glob("*.key")]:
        (sub / f.name).write_bytes(f.read_bytes())
    return sub


async def test_static_tcp_servers_transport_is_the_default(tmp_path: Path, ca: trustme.CA) -> None:
    async with tcp_backends("secure", ssl_context=server_context(ca, "backend.test")) as (a,):
        dyn = f"""
        tcp:
          routers: {{r: {{entryPoints: [tcp], rule: "HostSNI(`*`)", service: s}}}}
          services:
            s: {{loadBalancer: {{servers: [{{address: "{a.address}", tls: true}}]}}}}
        """
        static = (
            STATIC + "tcpServersTransport: {dialTimeout: 5s, tls: {insecureSkipVerify: true}}\n"
        )
        async with serving(tmp_path, dyn, static) as (_, port):
            assert await converse(port, b"hi", b"secure:hi") == b"secure:hi"


# --- health checks ---------------------------------------------------------------------


async def test_health_check_marks_servers_down_and_up(tmp_path: Path) -> None:
    async with tcp_backends("a", "b") as (a, b):
        dyn = f"""
        tcp:
          routers: {{r: {{entryPoints: [tcp], rule: "HostSNI(`*`)", service: s}}}}
          services:
            s: {lb(a.address, b.address, "127.0.0.1:1", extra=", healthCheck: {interval: 50ms, timeout: 1s}")}
        """
        async with serving(tmp_path, dyn) as (ew, port):
            info = ew.runtime.tcp_services["s@file"]
            async with asyncio.timeout(5):
                while info.server_status.get("127.0.0.1:1") != "DOWN":
                    await asyncio.sleep(0.02)
            assert info.server_status[a.address] == info.server_status[b.address] == "UP"
            for _ in range(6):
                assert (await converse(port, b"x", b":x")).endswith(b":x")


@pytest.mark.parametrize(
    ("options", "up"),
    [
        ("send: hello, expect: 'a:'", True),
        ("expect: 'zz'", False),
        ("expect: 'a:more'", False),  # one short read fails, as Go's single Read
        ("port: 1", False),
        ("timeout: 0s", False),
    ],
)
async def test_health_check_options(tmp_path: Path, options: str, up: bool) -> None:
    async with tcp_backends("a") as (a,):
        dyn = f"""
        tcp:
          routers: {{r: {{entryPoints: [tcp], rule: "HostSNI(`*`)", service: s}}}}
          services:
            s: {lb(a.address, extra=f", healthCheck: {{interval: 50ms, unhealthyInterval: 50ms, {options}}}")}
        """
        async with serving(tmp_path, dyn) as (ew, port):
            info = ew.runtime.tcp_services["s@file"]
            before = a.connections
            async with asyncio.timeout(5):
                while a.connections < before + 2 and not (
                    options.startswith("port") or "0s" in options
                ):
                    await asyncio.sleep(0.02)
                while info.server_status[a.address] != ("UP" if up else "DOWN"):
                    await asyncio.sleep(0.02)
                if up:
                    await asyncio.sleep(0.2)
                    assert info.server_status[a.address] == "UP"
            if not up:
                assert await refused(port)  # no server up: closed


async def test_weighted_health_check_needs_children_with_health_check(tmp_path: Path) -> None:
    dyn = f"""
    tcp:
      routers:
        r: {{entryPoints: [tcp], rule: "HostSNI(`*`)", service: w}}
        ok: {{entryPoints: [tcp], rule: "ClientIP(`10.0.0.1`)", service: w2}}
      services:
        plain: {lb("127.0.0.1:1")}
        checked: {lb("127.0.0.1:1", extra=", healthCheck: {interval: 1h}")}
        w: {{weighted: {{services: [{{name: plain}}], healthCheck: {{}}}}}}
        w2: {{weighted: {{services: [{{name: checked}}], healthCheck: {{}}}}}}
    """
    async with serving(tmp_path, dyn) as (ew, _):
        assert status(ew, "tcp_routers", "r@file") == (
            "disabled",
            [
                "cannot register plain as updater for w@file: healthCheck not enabled in config for this weighted service"
            ],
        )
        assert status(ew, "tcp_routers", "ok@file") == ("enabled", [])


# --- routers: errors, priorities, TLS ----------------------------------------------------


async def test_router_errors(tmp_path: Path, ca: trustme.CA) -> None:
    dyn = f"""
    tcp:
      routers:
        nosni: {{entryPoints: [tcp], rule: "HostSNI(`a.test`)", service: s}}
        nosvc: {{entryPoints: [tcp], rule: "HostSNI(`*`)"}}
        norule: {{entryPoints: [tcp], service: s}}
        badrule: {{entryPoints: [tcp], rule: "Host(`x`)", service: s}}
        badsni: {{entryPoints: [tcp], rule: "HostSNI(`a b`)", service: s, tls: {{}}}}
        noep: {{entryPoints: [nope], rule: "HostSNI(`*`)", service: s}}
        someep: {{entryPoints: [nope, tcp], rule: "ClientIP(`10.1.1.1`)", service: s}}
        missing: {{entryPoints: [tcp], rule: "ClientIP(`10.0.0.1`)", service: ghost}}
        multi: {{entryPoints: [tcp], rule: "ClientIP(`10.0.0.2`)", service: both}}
        notype: {{entryPoints: [tcp], rule: "ClientIP(`10.0.0.3`)", service: empty}}
        transport: {{entryPoints: [tcp], rule: "ClientIP(`10.0.0.4`)", service: st}}
        options: {{entryPoints: [tcp], rule: "HostSNI(`o.test`)", service: s, tls: {{options: nope}}}}
        prio: {{entryPoints: [tcp], rule: "HostSNI(`*`)", service: s, priority: 9223372036854774808}}
        v2: {{entryPoints: [tcp], rule: "HostSNI(`*`)", service: s, ruleSyntax: v2}}
        rec: {{entryPoints: [tcp], rule: "ClientIP(`10.0.0.5`)", service: loop1}}
      services:
        s: {lb("127.0.0.1:1")}
        both: {{loadBalancer: {{servers: []}}, weighted: {{services: []}}}}
        empty: {{}}
        st: {lb("127.0.0.1:1", extra=", serversTransport: ghost")}
        loop1: {{weighted: {{services: [{{name: loop2}}]}}}}
        loop2: {{weighted: {{services: [{{name: loop1}}]}}}}
    """
    async with serving(tmp_path, dyn) as (ew, port):
        expected = {
            "nosni": 'invalid rule: "HostSNI(`a.test`)" , has HostSNI matcher, but no TLS on router',
            "nosvc": "the service is missing on the router",
            "norule": "router has no rule",
            "badrule": 'invalid rule: "Host(`x`)" , unsupported function: Host',
            "badsni": 'error while adding rule HostSNI(`a b`): invalid value for HostSNI matcher, "a b" is not a valid hostname',
            "noep": 'entryPoint "nope" doesn\'t exist',
            "missing": 'the service "ghost@file" does not exist',
            "multi": "cannot create service: multi-types service not supported, consider declaring two different pieces of service instead",
            "notype": 'the service "empty@file" does not have any type defined',
            "transport": 'no transport configuration found for "ghost@file"',
            "options": "unknown TLS options: nope@file",
            "prio": "the router priority 9223372036854774808 exceeds the max user-defined priority 9223372036854774807",
            "v2": "ruleSyntax v2 is not supported by this version of edgeway: use the v3 syntax",
            "rec": "recursion detected in service: loop1@file -> loop2@file -> loop1@file",
        }
        for name, error in expected.items():
            st, errors = status(ew, "tcp_routers", f"{name}@file")
            assert st == "disabled" and error in errors, (name, errors)
        assert status(ew, "tcp_routers", "someep@file") == (
            "warning",
            ['entryPoint "nope" doesn\'t exist'],
        )
        assert "no valid entryPoint for this router" in status(ew, "tcp_routers", "noep@file")[1]
        assert status(ew, "tcp_services", "both@file")[0] == "disabled"
        assert status(ew, "tcp_services", "s@file") == ("enabled", [])
        # The broken-TLS-options router still takes its SNI, and closes (brokenTLSRouter).
        route = ew.kernel.entrypoints["tcp"].routing.tcp.match_tls(_info("o.test"))
        assert route is not None and route.passthrough
        # Closed before the handshake (not a certificate the client rejects).
        assert (
            await tls_talk(ca, port, "o.test", check_hostname=False, verify_mode=ssl.CERT_NONE)
            is None
        )
        assert ew.runtime.tcp_services["s@file"].used_by  # populated as for HTTP


def _info(sni: str, ip: str = "127.0.0.1", alpn: tuple[str, ...] = ()) -> Any:
    from edgeway.tcp import ConnInfo

    return ConnInfo(sni, alpn, ip, True)


async def test_priorities_and_order(tmp_path: Path) -> None:
    async with tcp_backends("low", "high", "any") as (low, high, any_):
        dyn = f"""
        tcp:
          routers:
            all: {{entryPoints: [tcp], rule: "HostSNI(`*`)", service: any}}
            ip: {{entryPoints: [tcp], rule: "ClientIP(`127.0.0.0/8`)", service: low}}
            ip2: {{entryPoints: [tcp], rule: "ClientIP(`127.0.0.1`)", service: high, priority: 100}}
          services:
            any: {lb(any_.address)}
            low: {lb(low.address)}
            high: {lb(high.address)}
        """
        async with serving(tmp_path, dyn) as (ew, port):
            routing = ew.kernel.entrypoints["tcp"].routing.tcp
            assert routing.catch_all_plain is None  # a ClientIP route comes first
            assert await converse(port, b"x", b"high:x") == b"high:x"
            ew.write_dynamic(dyn.replace("priority: 100", "priority: 1"))
            await ew.wait_applied(ew.kernel.state.reloads)
            # ClientIP(`127.0.0.0/8`) is longer (priority 23) than the one with priority 1.
            assert await converse(port, b"x", b"low:x") == b"low:x"
            assert [ew.runtime.tcp_routers[f"{n}@file"].priority for n in ("all", "ip", "ip2")] == [
                -1,
                23,
                1,
            ]


async def test_tls_passthrough_by_sni_and_alpn(tmp_path: Path, ca: trustme.CA) -> None:
    ctx_a = server_context(ca, "a.test")
    ctx_b = server_context(ca, "b.other")
    async with (
        tcp_backends("A", ssl_context=ctx_a) as (a,),
        tcp_backends("B", ssl_context=ctx_b) as (b,),
    ):
        dyn = f"""
        tcp:
          routers:
            a: {{entryPoints: [tcp], rule: "HostSNI(`a.test`)", service: a, tls: {{passthrough: true}}}}
            b: {{entryPoints: [tcp], rule: "HostSNIRegexp(`^.+\\\\.other$`) && ALPN(`x-proto`)", service: b, tls: {{passthrough: true}}}}
          services:
            a: {lb(a.address)}
            b: {lb(b.address)}
        """
        async with serving(tmp_path, dyn) as (ew, port):
            routing = ew.kernel.entrypoints["tcp"].routing.tcp
            assert routing.has_tls_routes and routing.early_handler("127.0.0.1", False) is None
            assert await tls_talk(ca, port, "a.test") == b"A:hello"
            assert await tls_talk(ca, port, "b.other", alpn=["x-proto"]) == b"B:hello"
            assert (
                await tls_talk(ca, port, "b.other") is None
            )  # ALPN does not match: HTTPS 404, default cert
            # Not TLS and no plain TCP route: the entry point's HTTP handler (404), as Traefik.
            assert (await talk(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")).startswith(
                b"HTTP/1.1 404 Not Found\r\n"
            )


async def tls_talk(
    ca: trustme.CA, port: int, sni: str, alpn: list[str] | None = None, **client: Any
) -> bytes | None:
    """Send ``hello`` over TLS (verifying against ``ca``), read the echo; None if refused."""
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    for name, value in client.items():
        setattr(ctx, name, value)
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=ctx, server_hostname=sni
        )
    except (OSError, ssl.SSLError):
        return None
    try:
        writer.write(b"hello")
        return await read_until(reader, b"hello")
    except (OSError, ssl.SSLError):
        return None
    finally:
        writer.close()


async def test_tls_termination(tmp_path: Path, ca: trustme.CA) -> None:
    """Terminated by the entry point with the dynamic configuration's certificates (a
    file, inline PEM) and the route's TLS options; the backend gets the plain bytes."""
    leaf = ca.issue_cert("t.test", "c.test")
    leaf.cert_chain_pems[0].write_to_path(str(tmp_path / "t.crt"))
    leaf.private_key_pem.write_to_path(str(tmp_path / "t.key"))
    inline = ca.issue_cert("i.test")
    async with tcp_backends("plain", greet=False) as (a,):
        dyn = f"""
        tcp:
          routers:
            t: {{entryPoints: [tcp], rule: "HostSNI(`t.test`)", service: s, tls: {{}}}}
            c: {{entryPoints: [tcp], rule: "HostSNI(`c.test`)", service: s, tls: {{options: modern}}}}
            i: {{entryPoints: [tcp], rule: "HostSNI(`i.test`)", service: s, tls: {{}}}}
          services: {{s: {lb(a.address)}}}
        tls:
          certificates:
            - {{certFile: t.crt, keyFile: t.key}}
            - {{certFile: {json.dumps(inline.cert_chain_pems[0].bytes().decode())},
                keyFile: {json.dumps(inline.private_key_pem.bytes().decode())}}}
          options: {{modern: {{minVersion: VersionTLS13}}}}
        """
        async with serving(tmp_path, dyn) as (ew, port):
            route = ew.kernel.entrypoints["tcp"].routing.tcp.match_tls(_info("c.test"))
            assert route is not None and (route.passthrough, route.options, route.catch_all) == (
                False,
                "modern@file",
                False,
            )
            assert await tls_talk(ca, port, "t.test") == b"hello"
            assert await tls_talk(ca, port, "i.test") == b"hello"
            assert await tls_talk(ca, port, "c.test") == b"hello"
            assert (
                await tls_talk(ca, port, "c.test", maximum_version=ssl.TLSVersion.TLSv1_2) is None
            )
            assert (
                await tls_talk(ca, port, "t.test", maximum_version=ssl.TLSVersion.TLSv1_2)
                == b"hello"
            )
            # No route for the SNI: the HTTPS 404 handler's generated certificate.
            assert await tls_talk(ca, port, "x.test") is None
            await a.wait_received(4)
    assert a.received == [b"hello"] * 4


def test_conn_info_matches_like_traefik() -> None:
    """HTTPS routes with a specific SNI go first: TLSRoute tells catch-alls apart."""
    from edgeway.tcp.routing import Route, TCPRouting, TLSRoute, close_connection

    star = Route(lambda i: True, close_connection, True, True)
    routing = TCPRouting([star], [(star, TLSRoute(close_connection, True, None, True))])
    assert routing.catch_all_plain is None  # TLS routes exist: peek first
    assert routing.early_handler("1.2.3.4", False) is None
    tls = routing.match_tls(_info("x"))
    assert tls is not None and tls.catch_all
    only_plain = TCPRouting([star], [])
    assert only_plain.catch_all_plain is close_connection
    assert only_plain.early_handler("1.2.3.4", True) is None  # HTTPS routers: peek first


async def test_router_on_two_entry_points_and_reload(tmp_path: Path) -> None:
    static = STATIC + '  tcp2: {address: "127.0.0.1:0"}\n'
    async with tcp_backends("a") as (a,):
        dyn = f"""
        tcp:
          routers: {{r: {{entryPoints: [tcp, tcp2], rule: "HostSNI(`*`)", service: s}}}}
          services: {{s: {lb(a.address)}}}
        """
        async with edgeway(tmp_path, dyn, static) as ew:
            eps = ew.kernel.entrypoints
            assert eps["tcp"].routing.tcp is not None and eps["tcp2"].routing.tcp is not None
            assert eps["web"].routing.tcp is None
            assert ew.runtime.tcp_routers["r@file"].using == ["tcp", "tcp2"]
            for ep in ("tcp", "tcp2"):
                assert await converse(ew.port(ep), b"x", b"a:x") == b"a:x"
            ew.write_dynamic("tcp: {}\n")
            await ew.wait_applied(ew.kernel.state.reloads)
            assert eps["tcp"].routing.tcp is None


async def test_deprecated_termination_delay_is_nanoseconds(tmp_path: Path) -> None:
    """Traefik converts the load balancer's int milliseconds with time.Duration(int): ns."""
    async with tcp_backends("a", at_eof=True) as (a,):
        dyn = f"""
        tcp:
          routers: {{r: {{entryPoints: [tcp], rule: "HostSNI(`*`)", service: s}}}}
          services: {{s: {lb(a.address, extra=", terminationDelay: 100")}}}
        """
        async with serving(tmp_path, dyn) as (ew, port):
            svc = ew.kernel.entrypoints["tcp"].routing.tcp.catch_all_plain
            assert svc is not None
            assert await talk(port, b"hi") == b""  # 100 ns: the reply is cut
            ew.write_dynamic(dyn.replace("terminationDelay: 100", "terminationDelay: -1"))
            await ew.wait_applied(ew.kernel.state.reloads)
            assert await talk(port, b"hi") == b"a:hi"  # negative: never cut


async def test_weighted_follows_children_health(tmp_path: Path) -> None:
    async with tcp_backends("a") as (a,):
        check = ", healthCheck: {interval: 50ms}"
        dyn = f"""
        tcp:
          routers: {{r: {{entryPoints: [tcp], rule: "HostSNI(`*`)", service: w}}}}
          services:
            up: {lb(a.address, extra=check)}
            down: {lb("127.0.0.1:1", extra=check)}
            w: {{weighted: {{services: [{{name: down, weight: 5}}, {{name: up, weight: 1}}], healthCheck: {{}}}}}}
        """
        async with serving(tmp_path, dyn) as (ew, port):
            info = ew.runtime.tcp_services["down@file"]
            async with asyncio.timeout(5):
                while info.server_status.get("127.0.0.1:1") != "DOWN":
                    await asyncio.sleep(0.02)
            for _ in range(4):  # the down child is skipped despite its weight
                assert await converse(port, b"x", b"a:x") == b"a:x"
