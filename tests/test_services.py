"""Every HTTP service kind end to end: balancers, sticky cookies, health checks,
weighted, mirroring, failover and highest random weight, with real backends."""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml
from support import Backend, Client, Received, Reply, backends, edgeway, free_port, get

pytestmark = pytest.mark.anyio


# --- helpers ------------------------------------------------------------------------------


def dynamic(services: dict[str, Any], service: str = "app") -> str:
    """A router per service (``Host(`name`)``), and ``service`` for any other host."""
    routers: dict[str, Any] = {f"r-{n}": {"rule": f"Host(`{n}`)", "service": n} for n in services}
    routers["r"] = {"rule": "PathPrefix(`/`)", "service": service, "priority": 1}
    return yaml.safe_dump({"http": {"routers": routers, "services": services}})


def lb(*urls: str, **options: Any) -> dict[str, Any]:
    return {"loadBalancer": {"servers": [{"url": u} for u in urls], **options}}


async def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.02)


async def names(port: int, n: int, target: str = "/", **kw: Any) -> list[str]:
    client = await Client.connect(port)
    try:
        return [(await client.request("GET", target, **kw)).json()["server"] for _ in range(n)]
    finally:
        await client.close()


class Health:
    """A responder whose ``/health`` answers ``status`` (others: the usual JSON)."""

    def __init__(self, name: str, status: int = 200) -> None:
        self.name = name
        self.status = status
        self.checks: list[Received] = []

    def __call__(self, rec: Received) -> tuple[int, list[tuple[str, str]], bytes]:
        if rec.target.startswith("/health"):
            self.checks.append(rec)
            return self.status, [("Content-Length", "0")], b""
        body = f'{{"server": "{self.name}"}}'.encode()
        return 200, [("Content-Length", str(len(body)))], body


def health_backends(*names_: str) -> tuple[list[Backend], list[Health]]:
    hs = [Health(n) for n in names_]
    return [Backend(name=h.name, respond=h) for h in hs], hs


def status_of(ew: Any, service: str = "app@file") -> dict[str, str]:
    return dict(ew.runtime.services[service].server_status)


def errors_of(ew: Any, service: str) -> list[str]:
    return list(ew.runtime.services[service].errors)


FAST_HC = {"path": "/health", "interval": "50ms", "timeout": "1s"}


# --- load balancer strategies -------------------------------------------------------------


async def test_unknown_strategy_is_rejected(tmp_path: Path) -> None:
    async with (
        backends("a") as (a,),
        edgeway(tmp_path, dynamic({"app": lb(a.url, strategy="fastest")})) as ew,
    ):
        assert (await get(ew.port())).status == 404
        assert errors_of(ew, "app@file") == ['unsupported load-balancer strategy "fastest"']


async def test_empty_and_all_down_answer_no_available_server(tmp_path: Path) -> None:
    async with backends("a") as (a,):
        services = {"app": lb(), "down": lb(a.url, healthCheck={**FAST_HC, "path": "/status/500"})}
        async with edgeway(tmp_path, dynamic(services)) as ew:
            reply = await get(ew.port())
            assert (reply.status, reply.body) == (503, b"no available server\n")
            assert reply.header("Content-Type") == "text/plain; charset=utf-8"
            await eventually(lambda: status_of(ew, "down@file") == {a.url: "DOWN"})
            reply = await get(ew.port(), host="down")
            assert (reply.status, reply.body) == (503, b"no available server\n")


async def test_p2c_spreads_and_prefers_the_server_with_fewer_requests_in_flight(
    tmp_path: Path,
) -> None:
    release = asyncio.Event()

    def responder(name: str) -> Callable[[Received], Any]:
        async def respond(rec: Received) -> tuple[int, list[tuple[str, str]], bytes]:
            if rec.target == "/hold":
                await release.wait()
            body = f'{{"server": "{name}"}}'.encode()
            return 200, [("Content-Length", str(len(body)))], body

        return respond

    a, b = Backend(name="a", respond=responder("a")), Backend(name="b", respond=responder("b"))
    await a.start()
    await b.start()
    try:
        async with edgeway(tmp_path, dynamic({"app": lb(a.url, b.url, strategy="p2c")})) as ew:
            spread = await names(ew.port(), 40)
            assert 0 < spread.count("a") < 40  # both get some (both are always the two choices)
            held = asyncio.ensure_future(get(ew.port(), "/hold"))
            await eventually(lambda: any(r.target == "/hold" for r in a.received + b.received))
            busy = "a" if any(r.target == "/hold" for r in a.received) else "b"
            assert set(await names(ew.port(), 10)) == {"b" if busy == "a" else "a"}
            release.set()
            assert (await held).status == 200
    finally:
        await a.stop()
        await b.stop()


async def test_leasttime_prefers_the_faster_server(tmp_path: Path) -> None:
    async def slow(rec: Received) -> tuple[int, list[tuple[str, str]], bytes]:
        await asyncio.sleep(0.05)
        return 200, [("Content-Length", "17")], b'{"server": "slow"}'[:17]

    s = Backend(name="slow", respond=slow)
    await s.start()
    try:
        async with (
            backends("fast") as (f,),
            edgeway(tmp_path, dynamic({"app": lb(s.url, f.url, strategy="leasttime")})) as ew,
        ):
            for _ in range(10):
                await get(ew.port())
            assert len(s.received) <= 2 and len(f.received) >= 8
    finally:
        await s.stop()


def hrw_pick(ip: str, names_: list[str]) -> str:
    """Traefik's rendezvous score, computed independently of edgeway's code."""

    def fnv1a(data: bytes) -> int:
        h = 14695981039346656037
        for byte in data:
            h = ((h ^ byte) * 1099511628211) % 2**64
        return h

    return max(names_, key=lambda n: 1.0 / -math.log(fnv1a((ip + n).encode()) / 2**64))


async def from_ip(port: int, ip: str) -> Reply:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(ip, 0))
    client = Client(reader, writer)
    try:
        return await client.request()
    finally:
        await client.close()


async def test_highest_random_weight_sticks_each_client_ip_to_one_service(tmp_path: Path) -> None:
    async with backends("one", "two") as (one, two):
        services = {
            "app": {"highestRandomWeight": {"services": [{"name": "one"}, {"name": "two"}]}},
            "one": lb(one.url),
            "two": lb(two.url),
        }
        async with edgeway(tmp_path, dynamic(services)) as ew:
            seen = set()
            for i in range(1, 9):
                ip = f"127.0.0.{i}"
                got = {(await from_ip(ew.port(), ip)).json()["server"] for _ in range(3)}
                assert got == {hrw_pick(ip, ["one", "two"])}
                seen |= got
            assert seen == {"one", "two"}


async def test_hrw_strategy_and_failover_when_the_chosen_server_goes_down(tmp_path: Path) -> None:
    (a, b), (ha, hb) = health_backends("a", "b")
    for x in (a, b):
        await x.start()
    try:
        async with edgeway(
            tmp_path, dynamic({"app": lb(a.url, b.url, strategy="hrw", healthCheck=FAST_HC)})
        ) as ew:
            first = {(await get(ew.port())).json()["server"] for _ in range(4)}
            assert len(first) == 1
            chosen = first.pop()
            (ha if chosen == "a" else hb).status = 500
            await eventually(lambda: "DOWN" in status_of(ew).values())
            assert {(await get(ew.port())).json()["server"] for _ in range(3)} == {
                "b" if chosen == "a" else "a"
            }
    finally:
        await a.stop()
        await b.stop()


# --- sticky cookies -----------------------------------------------------------------------


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


async def test_sticky_cookie_default_name_value_and_stickiness(tmp_path: Path) -> None:
    async with backends("a", "b") as (a, b):
        cfg = dynamic({"app": lb(a.url, b.url, sticky={"cookie": {}})})
        async with edgeway(tmp_path, cfg) as ew:
            name = "_" + hashlib.sha1(b"_TRAEFIK_BACKEND_app@file").hexdigest()[:5]
            first = await get(ew.port())
            server = first.json()["server"]
            url = a.url if server == "a" else b.url
            assert first.header("Set-Cookie") == f"{name}={sha(url)}; Path=/"
            for _ in range(4):
                again = await get(ew.port(), headers=[("Cookie", f"other=1; {name}={sha(url)}")])
                assert again.json()["server"] == server
                assert again.header("Set-Cookie") is None
            # An unknown value: a new pick, and a cookie for it.
            other = await get(ew.port(), headers=[("Cookie", f"{name}=nope")])
            assert (other.header("Set-Cookie") or "").startswith(f"{name}=")


@pytest.mark.parametrize("strategy", ["wrr", "p2c", "hrw", "leasttime"])
async def test_fenced_servers_keep_their_sticky_sessions_only(
    tmp_path: Path, strategy: str
) -> None:
    """A fenced server (a terminating Kubernetes endpoint) gets no new requests; a
    sticky cookie for it still reaches it (Traefik's ``fenced``); all fenced: 503."""
    async with backends("a", "b") as (a, b):
        fenced = {
            "loadBalancer": {
                "strategy": strategy,
                "servers": [{"url": a.url, "fenced": True}, {"url": b.url}],
            }
        }
        sticky = {
            "loadBalancer": {
                "servers": [{"url": a.url, "fenced": True}, {"url": b.url}],
                "sticky": {"cookie": {"name": "s"}},
            }
        }
        plain = {
            "loadBalancer": {
                "servers": [{"url": a.url, "fenced": True}, {"url": b.url, "fenced": True}]
            }
        }
        cfg = dynamic({"app": fenced, "sticky": sticky, "gone": plain})
        async with edgeway(tmp_path, cfg) as ew:
            assert set(await names(ew.port(), 6)) == {"b"}
            assert set(await names(ew.port(), 4, headers=[("Host", "sticky")])) == {"b"}
            to_a = await get(ew.port(), headers=[("Host", "sticky"), ("Cookie", f"s={sha(a.url)}")])
            assert to_a.json()["server"] == "a" and to_a.header("Set-Cookie") is None
            assert (await get(ew.port(), headers=[("Host", "gone")])).status == 503


def fnv1(text: str) -> str:
    h = 14695981039346656037
    for byte in text.encode():
        h = (h * 1099511628211) % 2**64
        h ^= byte
    return format(h, "x")


@pytest.mark.parametrize("legacy", ["raw", "fnv", "double-fnv"])
async def test_sticky_legacy_cookie_values_are_honoured_and_rewritten(
    tmp_path: Path, legacy: str
) -> None:
    async with backends("a", "b") as (a, b):
        cfg = dynamic({"app": lb(a.url, b.url, sticky={"cookie": {"name": "s"}})})
        async with edgeway(tmp_path, cfg) as ew:
            value = {"raw": b.url, "fnv": fnv1(b.url), "double-fnv": fnv1(fnv1(b.url))}[legacy]
            for _ in range(2):
                reply = await get(ew.port(), headers=[("Cookie", f"s={value}")])
                assert reply.json()["server"] == "b"
                assert reply.header("Set-Cookie") == f"s={sha(b.url)}; Path=/"


async def test_sticky_cookie_attributes(tmp_path: Path) -> None:
    async def with_cookie(rec: Received) -> tuple[int, list[tuple[str, str]], bytes]:
        return 200, [("Set-Cookie", "backend=1"), ("Content-Length", "2")], b"ok"

    a = Backend(name="a", respond=with_cookie)
    await a.start()
    try:
        cookie = {
            "name": "my cookie;x",
            "secure": True,
            "httpOnly": True,
            "sameSite": "STRICT",
            "maxAge": 60,
            "path": "/app",
            "domain": ".example.com",
        }
        async with edgeway(tmp_path, dynamic({"app": lb(a.url, sticky={"cookie": cookie})})) as ew:
            reply = await get(ew.port())
            cookies = [v for n, v in reply.headers if n.lower() == "set-cookie"]
            assert cookies == [
                f"my_cookie_x={sha(a.url)}; Path=/app; Domain=example.com; Max-Age=60; HttpOnly; Secure; SameSite=Strict",
                "backend=1",
            ]
            ew.write_dynamic(
                dynamic(
                    {
                        "app": lb(
                            a.url,
                            sticky={
                                "cookie": {"name": "n", "maxAge": -1, "sameSite": "lax", "path": ""}
                            },
                        )
                    }
                )
            )
            await ew.wait_applied(ew.kernel.state.reloads)
            reply = await get(ew.port())
            assert reply.header("Set-Cookie") == f"n={sha(a.url)}; Max-Age=0; SameSite=Lax"
            ew.write_dynamic(
                dynamic({"app": lb(a.url, sticky={"cookie": {"name": "n", "sameSite": "none"}})})
            )
            await ew.wait_applied(ew.kernel.state.reloads)
            assert (await get(ew.port())).header(
                "Set-Cookie"
            ) == f"n={sha(a.url)}; Path=/; SameSite=None"
    finally:
        await a.stop()


async def test_sticky_cookie_to_a_down_server_picks_another_and_rewrites(tmp_path: Path) -> None:
    (a, b), (ha, _) = health_backends("a", "b")
    for x in (a, b):
        await x.start()
    try:
        cfg = dynamic(
            {"app": lb(a.url, b.url, sticky={"cookie": {"name": "s"}}, healthCheck=FAST_HC)}
        )
        async with edgeway(tmp_path, cfg) as ew:
            assert (await get(ew.port(), headers=[("Cookie", f"s={sha(a.url)}")])).json()[
                "server"
            ] == "a"
            ha.status = 503
            await eventually(lambda: status_of(ew) == {a.url: "DOWN", b.url: "UP"})
            reply = await get(ew.port(), headers=[("Cookie", f"s={sha(a.url)}")])
            assert reply.json()["server"] == "b"
            assert reply.header("Set-Cookie") == f"s={sha(b.url)}; Path=/"
    finally:
        await a.stop()
        await b.stop()


async def test_sticky_p2c_and_sticky_weighted_with_nested_cookies(tmp_path: Path) -> None:
    async with backends("a", "b") as (a, b):
        services = {
            "app": {
                "weighted": {
                    "services": [{"name": "s1"}, {"name": "s2"}],
                    "sticky": {"cookie": {"name": "w"}},
                }
            },
            "s1": lb(a.url, sticky={"cookie": {"name": "inner"}}, strategy="p2c"),
            "s2": lb(b.url),
        }
        async with edgeway(tmp_path, dynamic(services)) as ew:
            for _ in range(3):
                reply = await get(ew.port(), headers=[("Cookie", f"w={sha('s1')}")])
                assert reply.json()["server"] == "a"
                # The parent's cookie is not rewritten; the inner one is set (no inner cookie sent).
                assert [v for n, v in reply.headers if n.lower() == "set-cookie"] == [
                    f"inner={sha(a.url)}; Path=/"
                ]
            reply = await get(ew.port(), headers=[("Cookie", f"w={sha('s2')}")])
            assert reply.json()["server"] == "b" and reply.header("Set-Cookie") is None
            first = await get(ew.port())
            assert [v for n, v in first.headers if n.lower() == "set-cookie"][0].startswith("w=")


# --- active health checks -----------------------------------------------------------------


async def test_health_check_takes_a_server_out_and_back_in(tmp_path: Path) -> None:
    (a, b), (ha, hb) = health_backends("a", "b")
    for x in (a, b):
        await x.start()
    try:
        async with edgeway(tmp_path, dynamic({"app": lb(a.url, b.url, healthCheck=FAST_HC)})) as ew:
            assert status_of(ew) == {a.url: "UP", b.url: "UP"}
            await eventually(lambda: len(ha.checks) >= 1 and len(hb.checks) >= 1)
            check = ha.checks[0]
            assert (check.method, check.target) == ("GET", "/health")
            assert check.header("Host") == f"127.0.0.1:{a.port}"
            assert check.header("User-Agent") == "Go-http-client/1.1"
            ha.status = 500
            await eventually(lambda: status_of(ew) == {a.url: "DOWN", b.url: "UP"})
            assert set(await names(ew.port(), 6)) == {"b"}
            # What the API shows.
            api = ew.kernel.state.runtime.services["app@file"]
            assert api.server_status[a.url] == "DOWN"
            ha.status = 200
            await eventually(lambda: status_of(ew) == {a.url: "UP", b.url: "UP"})
            assert set(await names(ew.port(), 6)) == {"a", "b"}
    finally:
        await a.stop()
        await b.stop()


async def test_health_check_options(tmp_path: Path) -> None:
    (a,), (ha,) = health_backends("a")
    await a.start()
    try:
        hc = {
            **FAST_HC,
            "path": "/health/deep?x=1",
            "method": "HEAD",
            "hostname": "health.example",
            "headers": {"x-probe": "yes"},
            "status": 204,
        }
        async with edgeway(
            tmp_path, dynamic({"app": lb(a.url + "/ignored", healthCheck=hc)})
        ) as ew:
            await eventually(lambda: len(ha.checks) >= 1)
            check = ha.checks[0]
            assert (check.method, check.target) == ("HEAD", "/health/deep?x=1")
            assert check.header("Host") == "health.example"
            assert check.header("X-Probe") == "yes"
            # 200 is not the expected 204: down.
            await eventually(lambda: status_of(ew) == {a.url + "/ignored": "DOWN"})
            ha.status = 204
            await eventually(lambda: status_of(ew) == {a.url + "/ignored": "UP"})
    finally:
        await a.stop()


async def test_health_check_sends_the_url_credentials_as_basic_auth(tmp_path: Path) -> None:
    (a,), (ha,) = health_backends("a")
    await a.start()
    try:
        url = f"http://us%20er:pw@127.0.0.1:{a.port}"
        async with edgeway(tmp_path, dynamic({"app": lb(url, healthCheck=FAST_HC)})):
            await eventually(lambda: len(ha.checks) >= 1)
            check = ha.checks[0]
            assert check.header("Host") == f"127.0.0.1:{a.port}"
            assert check.header("Authorization") == "Basic dXMgZXI6cHc="  # "us er:pw"
    finally:
        await a.stop()


async def test_health_check_port_scheme_timeout_and_bad_path(tmp_path: Path) -> None:
    (a, probe), (_, hprobe) = health_backends("a", "probe")
    for x in (a, probe):
        await x.start()

    async def hang(rec: Received) -> tuple[int, list[tuple[str, str]], bytes]:
        await asyncio.sleep(5)
        return 200, [], b""

    slow = Backend(name="slow", respond=hang)
    await slow.start()
    try:
        services = {
            "app": lb(a.url, healthCheck={**FAST_HC, "port": probe.port}),
            "tls": lb(probe.url, healthCheck={**FAST_HC, "scheme": "https"}),
            "slow": lb(slow.url, healthCheck={**FAST_HC, "timeout": "100ms"}),
            "abs": lb(probe.url, healthCheck={**FAST_HC, "path": "http://elsewhere/health"}),
        }
        async with edgeway(tmp_path, dynamic(services)) as ew:
            await eventually(lambda: len(hprobe.checks) >= 1)  # the port's server got the check
            assert status_of(ew) == {a.url: "UP"}
            hprobe.status = 500  # ... and decides for the server
            await eventually(lambda: status_of(ew) == {a.url: "DOWN"})
            await eventually(
                lambda: status_of(ew, "tls@file") == {probe.url: "DOWN"}
            )  # TLS to a plain server
            await eventually(lambda: status_of(ew, "slow@file") == {slow.url: "DOWN"})
            await eventually(lambda: status_of(ew, "abs@file") == {probe.url: "DOWN"})
    finally:
        for x in (a, probe, slow):
            await x.stop()


async def test_health_check_redirects(tmp_path: Path) -> None:
    def redirecting(rec: Received) -> tuple[int, list[tuple[str, str]], bytes]:
        if rec.target == "/health":
            return 302, [("Location", "/status/500"), ("Content-Length", "0")], b""
        return 500, [("Content-Length", "0")], b""

    a = Backend(name="a", respond=redirecting)
    await a.start()
    try:
        services = {
            "follow": lb(a.url + "/f", healthCheck=FAST_HC),
            "nofollow": lb(a.url + "/n", healthCheck={**FAST_HC, "followRedirects": False}),
        }
        async with edgeway(tmp_path, dynamic(services, "follow")) as ew:
            await eventually(lambda: status_of(ew, "follow@file") == {a.url + "/f": "DOWN"})
            await eventually(lambda: sum(r.target == "/health" for r in a.received) >= 6)
            assert status_of(ew, "nofollow@file") == {a.url + "/n": "UP"}  # a 302 is healthy
    finally:
        await a.stop()


async def test_unhealthy_interval_governs_the_checks_of_down_servers(tmp_path: Path) -> None:
    (a,), (ha,) = health_backends("a")
    await a.start()
    try:
        ha.status = 500
        hc = {**FAST_HC, "unhealthyInterval": "1h"}
        async with edgeway(tmp_path, dynamic({"app": lb(a.url, healthCheck=hc)})) as ew:
            await eventually(lambda: status_of(ew) == {a.url: "DOWN"})
            ha.status = 200
            seen = len(ha.checks)
            await anyio.sleep(0.3)  # six healthy intervals: no check of the down server
            assert len(ha.checks) == seen and status_of(ew) == {a.url: "DOWN"}
    finally:
        await a.stop()


async def test_health_checks_stop_with_their_configuration(tmp_path: Path) -> None:
    (a,), (ha,) = health_backends("a")
    await a.start()
    try:
        async with edgeway(tmp_path, dynamic({"app": lb(a.url, healthCheck=FAST_HC)})) as ew:
            await eventually(lambda: len(ha.checks) >= 1)
            reloads = ew.kernel.state.reloads
            ew.write_dynamic(dynamic({"app": lb(a.url)}))
            await ew.wait_applied(reloads)
            await anyio.sleep(0.1)
            seen = len(ha.checks)
            await anyio.sleep(0.2)
            assert len(ha.checks) == seen
    finally:
        await a.stop()


# --- passive health checks ----------------------------------------------------------------


async def test_passive_health_check(tmp_path: Path) -> None:
    failing = {"on": True}

    def flaky(rec: Received) -> tuple[int, list[tuple[str, str]], bytes]:
        if failing["on"]:
            return 500, [("Content-Length", "0")], b""
        return 200, [("Content-Length", "15")], b'{"server": "a"}'

    a = Backend(name="a", respond=flaky)
    await a.start()
    try:
        async with backends("b") as (b,):
            passive = {"maxFailedAttempts": 2, "failureWindow": "400ms"}
            async with edgeway(
                tmp_path, dynamic({"app": lb(a.url, b.url, passiveHealthCheck=passive)})
            ) as ew:
                client = await Client.connect(ew.port())
                statuses = [(await client.request()).status for _ in range(4)]
                assert statuses == [500, 200, 500, 200]  # the second failure takes "a" out
                t0 = time.monotonic()
                assert {(await client.request()).json()["server"] for _ in range(4)} == {"b"}
                assert status_of(ew) == {a.url: "UP", b.url: "UP"}  # as Traefik: not shown
                failing["on"] = False
                while len(a.received) == 2:
                    await client.request()
                    await anyio.sleep(0.02)
                    assert time.monotonic() - t0 < 3
                assert time.monotonic() - t0 >= 0.3  # back after the failure window
                await client.close()
    finally:
        await a.stop()


async def test_passive_health_check_counts_unreachable_servers(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    async with backends("b") as (b,):
        async with edgeway(
            tmp_path, dynamic({"app": lb(dead, b.url, passiveHealthCheck={})})
        ) as ew:
            assert (await get(ew.port())).status == 502
            assert set(await names(ew.port(), 4)) == {"b"}


# --- weighted -----------------------------------------------------------------------------


async def test_weighted_follows_weights(tmp_path: Path) -> None:
    async with backends("a", "b", "c") as (a, b, c):
        services = {
            "app": {
                "weighted": {
                    "services": [
                        {"name": "s1", "weight": 3},
                        {"name": "s2"},
                        {"name": "s3", "weight": 0},
                    ]
                }
            },
            "s1": lb(a.url),
            "s2": lb(b.url),
            "s3": lb(c.url),
        }
        async with edgeway(tmp_path, dynamic(services)) as ew:
            got = await names(ew.port(), 8)
            assert (got.count("a"), got.count("b"), got.count("c")) == (6, 2, 0)


async def test_weighted_errors(tmp_path: Path) -> None:
    async with backends("a") as (a,):
        services = {
            "missing": {"weighted": {"services": [{"name": "nope"}]}},
            "nohc": {"weighted": {"services": [{"name": "plain"}], "healthCheck": {}}},
            "internal": {"weighted": {"services": [{"name": "noop@internal"}], "healthCheck": {}}},
            "plain": lb(a.url),
        }
        async with edgeway(tmp_path, dynamic(services, "missing")) as ew:
            assert errors_of(ew, "missing@file") == [
                'building HTTP service "nope": the service "nope@file" does not exist'
            ]
            assert errors_of(ew, "nohc@file") == [
                "cannot register plain as updater for nohc@file: healthCheck not enabled in config for this WRR service"
            ]
            assert errors_of(ew, "internal@file") == [
                "child service noop@internal of internal@file not a healthcheck.StatusUpdater (internal service)"
            ]


async def test_health_propagates_through_weighted_and_mirroring(tmp_path: Path) -> None:
    (a, b), (ha, _) = health_backends("a", "b")
    for x in (a, b):
        await x.start()
    try:
        services = {
            "app": {"weighted": {"services": [{"name": "m"}, {"name": "s2"}], "healthCheck": {}}},
            "m": {"mirroring": {"service": "s1", "healthCheck": {}}},
            "s1": lb(a.url, healthCheck=FAST_HC, strategy="p2c"),
            "s2": lb(b.url, healthCheck=FAST_HC),
        }
        async with edgeway(tmp_path, dynamic(services)) as ew:
            assert sorted(await names(ew.port(), 4)) == ["a", "a", "b", "b"]
            ha.status = 500
            await eventually(lambda: status_of(ew, "s1@file") == {a.url: "DOWN"})
            assert set(await names(ew.port(), 4)) == {"b"}
            ha.status = 200
            await eventually(lambda: status_of(ew, "s1@file") == {a.url: "UP"})
            assert sorted(await names(ew.port(), 4)) == ["a", "a", "b", "b"]
    finally:
        await a.stop()
        await b.stop()


# --- mirroring ----------------------------------------------------------------------------


def mirroring(**options: Any) -> dict[str, Any]:
    return {
        "mirroring": {"service": "main", "mirrors": [{"name": "mirror", "percent": 100}], **options}
    }


async def test_mirror_receives_copies_with_the_body(tmp_path: Path) -> None:
    async with backends("main", "mirror") as (m, mi):
        services = {"app": mirroring(), "main": lb(m.url), "mirror": lb(mi.url)}
        async with edgeway(tmp_path, dynamic(services)) as ew:
            client = await Client.connect(ew.port())
            reply = await client.request("POST", "/p?q=1", body=b"hello", headers=[("X-Test", "1")])
            assert reply.json()["server"] == "main"
            await eventually(lambda: len(mi.received) == 1)
            main_rec, copy = m.received[0], mi.received[0]
            assert (copy.method, copy.target, copy.body) == ("POST", "/p?q=1", b"hello")
            assert (main_rec.body, copy.header("X-Test"), copy.header("Content-Length")) == (
                b"hello",
                "1",
                "5",
            )
            # Chunked bodies stay chunked.
            await client.request(
                "PUT", "/c", body=b"abc", headers=[("Transfer-Encoding", "chunked")]
            )
            await eventually(lambda: len(mi.received) == 2)
            assert mi.received[1].body == b"abc" and m.received[1].body == b"abc"
            await client.close()


async def test_mirror_percentage_is_respected(tmp_path: Path) -> None:
    async with backends("main", "m1", "m2") as (m, m1, m2):
        services = {
            "app": {
                "mirroring": {
                    "service": "main",
                    "mirrors": [{"name": "m1", "percent": 30}, {"name": "m2", "percent": 0}],
                }
            },
            "main": lb(m.url),
            "m1": lb(m1.url),
            "m2": lb(m2.url),
        }
        async with edgeway(tmp_path, dynamic(services)) as ew:
            await names(ew.port(), 20)
            await eventually(lambda: len(m1.received) == 6)
            await anyio.sleep(0.05)
            assert (len(m.received), len(m1.received), len(m2.received)) == (20, 6, 0)


async def test_slow_mirror_does_not_delay_the_main_response(tmp_path: Path) -> None:
    async def slow(rec: Received) -> tuple[int, list[tuple[str, str]], bytes]:
        await asyncio.sleep(2)
        return 200, [("Content-Length", "0")], b""

    mi = Backend(name="mirror", respond=slow)
    await mi.start()
    try:
        async with backends("main") as (m,):
            services = {"app": mirroring(), "main": lb(m.url), "mirror": lb(mi.url)}
            async with edgeway(tmp_path, dynamic(services)) as ew:
                t0 = time.monotonic()
                client = await Client.connect(ew.port())
                for _ in range(3):
                    assert (await client.request()).json()["server"] == "main"
                assert time.monotonic() - t0 < 1.0
                await client.close()
                await eventually(lambda: len(mi.received) >= 1)
    finally:
        await mi.stop()


async def test_mirror_body_limits(tmp_path: Path) -> None:
    async with backends("main", "mirror", "main2", "mirror2") as (m, mi, m2, mi2):
        services = {
            "app": mirroring(maxBodySize=4),
            "main": lb(m.url),
            "mirror": lb(mi.url),
            "nobody": {
                "mirroring": {
                    "service": "main2",
                    "mirrors": [{"name": "mirror2", "percent": 100}],
                    "mirrorBody": False,
                }
            },
            "main2": lb(m2.url),
            "mirror2": lb(mi2.url),
        }
        async with edgeway(tmp_path, dynamic(services)) as ew:
            client = await Client.connect(ew.port())
            assert (await client.request("POST", "/big", body=b"0123456789")).status == 200
            assert (await client.request("POST", "/small", body=b"0123")).status == 200
            await eventually(lambda: len(mi.received) == 1)
            assert [r.body for r in m.received] == [b"0123456789", b"0123"]
            assert (mi.received[0].target, mi.received[0].body) == ("/small", b"0123")
            assert (await client.request("POST", "/nb", body=b"data", host="nobody")).status == 200
            await eventually(lambda: len(mi2.received) == 1)
            assert m2.received[0].body == b"data"
            assert mi2.received[0].body == b"" and mi2.received[0].header("Content-Length") in (
                None,
                "0",
            )
            await client.close()


async def test_mirroring_errors(tmp_path: Path) -> None:
    async with backends("a") as (a,):
        services = {
            "bad": {"mirroring": {"service": "s", "mirrors": [{"name": "s", "percent": 101}]}},
            "parent": {"weighted": {"services": [{"name": "nohc"}], "healthCheck": {}}},
            "nohc": {"mirroring": {"service": "s"}},
            "parent2": {"weighted": {"services": [{"name": "lbnohc"}], "healthCheck": {}}},
            "lbnohc": {"mirroring": {"service": "s", "healthCheck": {}}},
            "s": lb(a.url),
        }
        async with edgeway(tmp_path, dynamic(services, "bad")) as ew:
            assert errors_of(ew, "bad@file") == ["percent must be between 0 and 100"]
            assert errors_of(ew, "parent@file") == [
                "cannot register nohc as updater for parent@file: healthCheck not enabled in config for this mirroring service"
            ]
            assert errors_of(ew, "parent2@file") == [
                "cannot register lbnohc as updater for parent2@file: cannot register service of mirroring as updater: "
                "healthCheck not enabled in config for this WRR service"
            ]


# --- failover -----------------------------------------------------------------------------


async def test_failover_on_health(tmp_path: Path) -> None:
    (a, b), (ha, hb) = health_backends("a", "b")
    for x in (a, b):
        await x.start()
    try:
        services = {
            "app": {"failover": {"service": "main", "fallback": "backup", "healthCheck": {}}},
            "main": lb(a.url, healthCheck=FAST_HC),
            "backup": lb(b.url, healthCheck=FAST_HC),
            "top": {"weighted": {"services": [{"name": "app"}], "healthCheck": {}}},
        }
        async with edgeway(tmp_path, dynamic(services)) as ew:
            assert set(await names(ew.port(), 3)) == {"a"}
            ha.status = 500
            await eventually(lambda: status_of(ew, "main@file") == {a.url: "DOWN"})
            assert set(await names(ew.port(), 3)) == {"b"}
            hb.status = 500
            await eventually(lambda: status_of(ew, "backup@file") == {b.url: "DOWN"})
            reply = await get(ew.port())
            assert (reply.status, reply.body) == (503, b"Service Unavailable\n")
            top = await get(ew.port(), host="top")  # the failover reported itself down
            assert (top.status, top.body) == (503, b"no available server\n")
            ha.status = 200
            await eventually(lambda: status_of(ew, "main@file") == {a.url: "UP"})
            assert set(await names(ew.port(), 3, host="top")) == {"a"}
    finally:
        await a.stop()
        await b.stop()


async def test_failover_on_status_replays_the_body(tmp_path: Path) -> None:
    b = Backend(name="b", respond=Health("b"))
    await b.start()
    try:
        await _failover_on_status(tmp_path, b)
    finally:
        await b.stop()


async def _failover_on_status(tmp_path: Path, b: Backend) -> None:
    async with backends("a") as (a,):
        services = {
            "app": {
                "failover": {
                    "service": "main",
                    "fallback": "backup",
                    "errors": {"status": ["500-502", "504"]},
                }
            },
            "limited": {
                "failover": {
                    "service": "main",
                    "fallback": "backup",
                    "errors": {"status": ["503"], "maxRequestBodyBytes": 3},
                }
            },
            "main": lb(a.url),
            "backup": lb(b.url),
        }
        async with edgeway(tmp_path, dynamic(services)) as ew:
            client = await Client.connect(ew.port())
            reply = await client.request("POST", "/status/502", body=b"payload")
            assert reply.json()["server"] == "b"
            assert [(r.target, r.body) for r in b.received] == [("/status/502", b"payload")]
            assert a.received[-1].body == b"payload"
            assert (await client.request("GET", "/status/503")).status == 503  # not listed
            assert (await client.request("GET", "/status/504")).json()["server"] == "b"
            reply = await client.request("POST", "/x", body=b"toolong", host="limited")
            assert (reply.status, reply.body) == (413, b"Request body too large\n")
            assert (
                await client.request("POST", "/status/503", body=b"abc", host="limited")
            ).json()["server"] == "b"
            await client.close()


async def test_failover_errors(tmp_path: Path) -> None:
    async with backends("a") as (a,):
        services = {
            "nohc": {"failover": {"service": "s", "fallback": "s"}},
            "badcode": {
                "failover": {"service": "s", "fallback": "s", "errors": {"status": ["5xx"]}}
            },
            "internal": {"failover": {"service": "noop@internal", "fallback": "s"}},
            "fallbacknohc": {"failover": {"service": "hc", "fallback": "s", "healthCheck": {}}},
            "s": lb(a.url),
            "hc": lb(a.url, healthCheck={"path": "/"}),
        }
        async with edgeway(tmp_path, dynamic(services, "nohc")) as ew:
            assert errors_of(ew, "nohc@file") == [
                "cannot register s as updater for nohc@file: healthCheck not enabled in config for this WRR service"
            ]
            assert errors_of(ew, "badcode@file") == [
                'error creating failover service badcode@file: creating HTTP code ranges: strconv.Atoi: parsing "5xx": invalid syntax'
            ]
            assert errors_of(ew, "internal@file") == [
                "child service noop@internal of internal@file not a healthcheck.StatusUpdater (internal service)"
            ]
            assert errors_of(ew, "fallbacknohc@file") == [
                "cannot register s as updater for fallbacknohc@file: healthCheck not enabled in config for this WRR service"
            ]
