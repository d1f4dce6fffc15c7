"""Differential tests of TCP and UDP routing: real Traefik and edgeway on one dynamic
configuration, the same raw TCP, TLS and UDP backends.

Traefik runs as a subprocess; edgeway runs in-process, clients connect to its own
TCP and UDP entry points. What each client observes (bytes received until the
proxy closes, TLS handshakes, the PROXY header the backend got, what a
connection no TCP route takes gets from the entry point's HTTP or HTTPS
handler) and the runtime status and errors of every TCP and UDP router must be
equal.

Intended differences: none so far (see ``INTENDED``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml
from differential_support import Proxy, require_traefik, running
from edgeway.proxyprotocol import ProxyHeader, parse
from support import edgeway, free_port
from tcp_support import TCPBackend, ThreadBackends, converse, read_until, talk, udp_client

TRAEFIK = require_traefik()
pytestmark = pytest.mark.anyio

#: Scenario -> why edgeway differs from Traefik, and the two observed values.
INTENDED: dict[str, tuple[str, Any, Any]] = {}


@dataclass
class Env:
    traefik: dict[str, int]
    api: int
    dynamic: str
    ca: trustme.CA
    backends: dict[str, Any]


EPS = ("tcp", "cut", "tls", "deny", "pp")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("differential-tcp")
    ca = trustme.CA()
    pool = ThreadBackends()
    try:
        tls = {}
        for name in ("A", "B"):
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ca.issue_cert(f"{name.lower()}.test").configure_cert(ctx)
            tls[name] = pool.tcp(name, ssl_context=ctx)
        leaf = ca.issue_cert("t.test", "m.test")
        leaf.cert_chain_pems[0].write_to_path(str(tmp / "t.crt"))
        leaf.private_key_pem.write_to_path(str(tmp / "t.key"))
        backends = {
            "echo": pool.tcp("e"),
            "late": pool.tcp("l", at_eof=True),
            "pp": pool.tcp("pp", greet=False),
            "udp": pool.udp("u"),
            **tls,
        }
        lb = lambda b, **kw: {"loadBalancer": {"servers": [{"address": b.address}], **kw}}  # noqa: E731
        dynamic = {
            "tcp": {
                "routers": {
                    "plain": {
                        "entryPoints": ["tcp"],
                        "rule": "HostSNI(`*`)",
                        "service": "echo-half",
                    },
                    "cut": {"entryPoints": ["cut"], "rule": "HostSNI(`*`)", "service": "late"},
                    "t": {
                        "entryPoints": ["tls"],
                        "rule": "HostSNI(`t.test`)",
                        "service": "echo",
                        "tls": {},
                    },
                    "m": {
                        "entryPoints": ["tls"],
                        "rule": "HostSNI(`m.test`)",
                        "service": "echo",
                        "tls": {"options": "modern"},
                    },
                    "a": {
                        "entryPoints": ["tls"],
                        "rule": "HostSNI(`a.test`)",
                        "service": "A",
                        "tls": {"passthrough": True},
                    },
                    "b": {
                        "entryPoints": ["tls"],
                        "rule": "HostSNIRegexp(`^b\\.te`) || ALPN(`x-b`)",
                        "service": "B",
                        "tls": {"passthrough": True},
                    },
                    "deny": {
                        "entryPoints": ["deny"],
                        "rule": "HostSNI(`*`)",
                        "service": "echo",
                        "middlewares": ["deny"],
                    },
                    "pp": {"entryPoints": ["pp"], "rule": "HostSNI(`*`)", "service": "pp"},
                    # Errors, compared through the API.
                    "err-nosni": {
                        "entryPoints": ["tcp"],
                        "rule": "HostSNI(`x.test`)",
                        "service": "echo",
                    },
                    "err-rule": {"entryPoints": ["tcp"], "rule": "Host(`x`)", "service": "echo"},
                    "err-svc": {
                        "entryPoints": ["tcp"],
                        "rule": "ClientIP(`10.0.0.1`)",
                        "service": "ghost",
                    },
                    "err-nosvc": {"entryPoints": ["tcp"], "rule": "ClientIP(`10.0.0.2`)"},
                    "err-ep": {"entryPoints": ["nope"], "rule": "HostSNI(`*`)", "service": "echo"},
                    "err-mw": {
                        "entryPoints": ["tcp"],
                        "rule": "ClientIP(`10.0.0.3`)",
                        "service": "echo",
                        "middlewares": ["ghost"],
                    },
                    "err-emptymw": {
                        "entryPoints": ["tcp"],
                        "rule": "ClientIP(`10.0.0.4`)",
                        "service": "echo",
                        "middlewares": ["empty"],
                    },
                    "err-options": {
                        "entryPoints": ["tls"],
                        "rule": "HostSNI(`o.test`)",
                        "service": "echo",
                        "tls": {"options": "nope"},
                    },
                    "err-transport": {
                        "entryPoints": ["tcp"],
                        "rule": "ClientIP(`10.0.0.5`)",
                        "service": "bad-transport",
                    },
                    "err-multi": {
                        "entryPoints": ["tcp"],
                        "rule": "ClientIP(`10.0.0.6`)",
                        "service": "multi",
                    },
                    "err-pp3": {
                        "entryPoints": ["tcp"],
                        "rule": "ClientIP(`10.0.0.7`)",
                        "service": "pp3",
                    },
                },
                "services": {
                    "echo": lb(backends["echo"]),
                    "late": lb(backends["late"]),
                    "echo-half": lb(backends["echo"], serversTransport="half"),
                    "A": lb(tls["A"]),
                    "B": lb(tls["B"]),
                    "pp": lb(backends["pp"], serversTransport="pp1"),
                    "bad-transport": lb(backends["echo"], serversTransport="ghost"),
                    "multi": {
                        "loadBalancer": {"servers": []},
                        "weighted": {"services": [{"name": "echo"}]},
                    },
                    "pp3": lb(backends["echo"], proxyProtocol={"version": 3}),
                },
                "middlewares": {
                    "deny": {"ipAllowList": {"sourceRange": ["10.0.0.0/8"]}},
                    "empty": {"ipAllowList": {"sourceRange": []}},
                },
                "serversTransports": {
                    "half": {"terminationDelay": "-1s"},
                    "pp1": {"proxyProtocol": {"version": 1}, "terminationDelay": "-1s"},
                },
            },
            "tls": {
                "certificates": [{"certFile": str(tmp / "t.crt"), "keyFile": str(tmp / "t.key")}],
                "options": {"modern": {"minVersion": "VersionTLS13"}},
            },
            "udp": {
                "routers": {
                    "u": {"entryPoints": ["udp"], "service": "u"},
                    "err-udp-svc": {"entryPoints": ["udp2"], "service": "ghost"},
                    "err-udp-ep": {"entryPoints": ["tcp"], "service": "u"},
                },
                "services": {
                    "u": {"loadBalancer": {"servers": [{"address": backends["udp"].address}]}}
                },
            },
        }
        dynamic_text = yaml.safe_dump(dynamic, sort_keys=False)
        (tmp / "dynamic.yml").write_text(dynamic_text)
        ports = {ep: free_port() for ep in (*EPS, "udp", "udp2", "traefik")}
        static = {
            "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
            "entryPoints": {
                **{ep: {"address": f"127.0.0.1:{ports[ep]}"} for ep in (*EPS, "traefik")},
                "udp": {"address": f"127.0.0.1:{ports['udp']}/udp"},
                "udp2": {"address": f"127.0.0.1:{ports['udp2']}/udp"},
            },
            "api": {"insecure": True},
            "ping": {},
            "log": {"level": "ERROR"},
            "providers": {"file": {"filename": str(tmp / "dynamic.yml"), "watch": False}},
        }
        workdir = tmp / "traefik"
        workdir.mkdir()
        (workdir / "traefik.yml").write_text(yaml.safe_dump(static))
        traefik = Proxy(
            "traefik", [TRAEFIK, f"--configFile={workdir / 'traefik.yml'}"], workdir, ports
        )
        with running([traefik]):
            traefik.wait_ready([("traefik", "localhost", "/ping", 200)], time.monotonic() + 20)
            _wait_tcp_ready(ports["tcp"])
            yield Env(ports, ports["traefik"], dynamic_text, ca, backends)
    finally:
        pool.close()


def _wait_tcp_ready(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=1) as s,
        ):
            s.settimeout(1)
            if s.recv(10) == b"e:":
                return
        time.sleep(0.1)
    raise TimeoutError("Traefik's TCP router never answered")


STATIC = (
    """
entryPoints:
  web: {address: "127.0.0.1:0"}
"""
    + "".join(f'  {ep}: {{address: "127.0.0.1:0"}}\n' for ep in EPS)
    + """
  udp: {address: "127.0.0.1:0/udp"}
  udp2: {address: "127.0.0.1:0/udp"}
"""
)


# --- what a client observes -------------------------------------------------------------


async def tls_exchange(
    ca: trustme.CA,
    port: int,
    sni: str,
    alpn: list[str] | None = None,
    data: bytes = b"hello",
    **client: Any,
) -> bytes | str:
    """Send ``data`` over TLS, read until it comes back (or the proxy closes)."""
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    ctx.check_hostname = False
    if alpn:
        ctx.set_alpn_protocols(alpn)
    for name, value in client.items():
        setattr(ctx, name, value)
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=ctx, server_hostname=sni
        )
    except (OSError, ssl.SSLError):
        return "handshake failed"
    try:
        writer.write(data)
        return await read_until(reader, data)
    except (OSError, ssl.SSLError):
        return "broken"
    finally:
        writer.close()


HTTP_GET = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


async def http_status_line(port: int, sni: str | None = None) -> bytes | str:
    """The status line the entry point's HTTP (HTTPS when ``sni``) handler answers."""
    if sni is None:
        answer = await talk(port, HTTP_GET, half_close=False)
    else:
        insecure = {"verify_mode": ssl.CERT_NONE}
        got = await tls_exchange(trustme.CA(), port, sni, data=HTTP_GET, **insecure)
        if isinstance(got, str):
            return got
        answer = got
    return answer.split(b"\r\n", 1)[0]


async def server_first(port: int) -> bytes:
    """The greeting, read before the client sends anything."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        return await read_until(reader, b":", timeout=3)
    finally:
        writer.close()


async def proxy_header(env: Env, port: int) -> Any:
    pp: TCPBackend = env.backends["pp"]
    before = len(pp.received)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    client_port = writer.get_extra_info("sockname")[1]
    writer.write(b"data")
    await read_until(reader, b"data")
    writer.close()
    async with asyncio.timeout(5):
        while len(pp.received) <= before:
            await asyncio.sleep(0.02)
    header = parse(pp.received[before])
    assert isinstance(header, ProxyHeader)
    return {
        "version": header.version,
        "source": header.source == ("127.0.0.1", client_port),
        "destination": header.destination == ("127.0.0.1", port),
        "payload": pp.received[before][header.length :],
    }


async def echo_cut(port: int) -> bool:
    return not (await talk(port, b"ping")).endswith(b"ping")


Scenario = Callable[[Env, Callable[[str], int]], Awaitable[Any]]

SCENARIOS: dict[str, Scenario] = {
    "server-speaks-first": lambda env, port: server_first(port("tcp")),
    "half-close-echo": lambda env, port: talk(port("tcp"), b"ping"),
    "echo-without-fin": lambda env, port: converse(port("tcp"), b"ping", b"ping"),
    # Whether the greeting gets out before the FIN is seen is a race in both: compare the echo.
    "default-transport-cuts-after-fin": lambda env, port: echo_cut(port("cut")),
    "passthrough-a": lambda env, port: tls_exchange(env.ca, port("tls"), "a.test"),
    "passthrough-b-regexp": lambda env, port: tls_exchange(env.ca, port("tls"), "b.test"),
    "passthrough-b-alpn": lambda env, port: tls_exchange(env.ca, port("tls"), "zzz.test", ["x-b"]),
    "passthrough-unknown-sni": lambda env, port: tls_exchange(env.ca, port("tls"), "c.test"),
    "terminated": lambda env, port: tls_exchange(env.ca, port("tls"), "t.test"),
    "terminated-options": lambda env, port: tls_exchange(env.ca, port("tls"), "m.test"),
    "terminated-options-refuse-tls12": lambda env, port: tls_exchange(
        env.ca, port("tls"), "m.test", maximum_version=ssl.TLSVersion.TLSv1_2
    ),
    # No TCP route takes the connection: the entry point's HTTP and HTTPS handlers (404).
    "plain-http-without-plain-route": lambda env, port: http_status_line(port("tls")),
    "https-404-for-unknown-sni": lambda env, port: http_status_line(port("tls"), "c.test"),
    "broken-tls-options": lambda env, port: tls_exchange(env.ca, port("tls"), "o.test"),
    "ip-allow-list-refuses": lambda env, port: talk(port("deny"), b"ping"),
    "proxy-protocol-v1": lambda env, port: proxy_header(env, port("pp")),
}


async def test_tcp_scenarios(env: Env, tmp_path: Path) -> None:
    traefik = {sid: await run(env, lambda ep: env.traefik[ep]) for sid, run in SCENARIOS.items()}
    async with edgeway(tmp_path, env.dynamic, STATIC) as ew:
        ours = {sid: await run(env, ew.port) for sid, run in SCENARIOS.items()}
    for sid, (_, t, e) in INTENDED.items():
        assert (traefik[sid], ours[sid]) == (t, e)
        traefik[sid] = ours[sid]
    assert ours == traefik


async def test_udp(env: Env, tmp_path: Path) -> None:
    async def observe(port: int) -> list[bytes | None]:
        async with udp_client(port) as c:
            return [await c.ask(b"1"), await c.ask(b"2")]

    traefik = await observe(env.traefik["udp"])
    async with edgeway(tmp_path, env.dynamic, STATIC) as ew:
        ours = await observe(ew.kernel.udp_entrypoints["udp"].port)
    assert ours == traefik == [b"u:1", b"u:2"]


def _api(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
        return json.load(resp)


async def test_router_statuses_and_errors(env: Env, tmp_path: Path) -> None:
    def traefik_view(kind: str) -> dict[str, Any]:
        items = _api(env.api, f"/api/{kind}/routers?per_page=100")
        return {
            i["name"]: (i.get("status"), sorted(i.get("error") or []), i.get("priority"))
            for i in items
        }

    traefik = {"tcp": traefik_view("tcp"), "udp": traefik_view("udp")}
    async with edgeway(tmp_path, env.dynamic, STATIC) as ew:
        rt = ew.runtime
        ours = {
            "tcp": {n: (i.status, sorted(i.errors), i.priority) for n, i in rt.tcp_routers.items()},
            "udp": {n: (i.status, sorted(i.errors), None) for n, i in rt.udp_routers.items()},
        }
    for kind in ("tcp", "udp"):
        for name, (status, errors, priority) in traefik[kind].items():
            assert ours[kind].get(name, (None, None, None))[:2] == (status, errors), name
            if kind == "tcp" and priority is not None:
                assert ours[kind][name][2] == priority, name
        assert set(ours[kind]) == set(traefik[kind])
