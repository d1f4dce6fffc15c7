"""ipAllowList/ipWhiteList, inFlightReq, rateLimit (memory and Redis), circuitBreaker, retry.

End to end through edgeway with real backends; Redis tests start a real
``redis-server`` (installed by ``scripts/test-deps.sh``) on a free loopback port.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import h11
import pytest
import yaml
from edgeway.config.dynamic import IPStrategy, RateLimit
from edgeway.http.message import Headers, Request
from edgeway.middlewares.cbexpr import parse_expression
from edgeway.middlewares.cbmetrics import RollingCounter, highest_equivalent, value_at_quantile
from edgeway.middlewares.ipstrategy import IPChecker, ip_strategy
from edgeway.middlewares.ratelimit import limiter_parameters
from edgeway.middlewares.tokenbucket import TokenBucket, TTLMap
from support import Backend, Client, Received, backends, edgeway, free_port, get

pytestmark = pytest.mark.anyio

TRUSTING = """
entryPoints:
  web:
    address: 127.0.0.1:0
    forwardedHeaders: {insecure: true}
"""


def dynamic(routers: dict[str, Any], middlewares: dict[str, Any], services: dict[str, Any]) -> str:
    for router in routers.values():
        router.setdefault("entryPoints", ["web"])
    return yaml.safe_dump(
        {"http": {"routers": routers, "middlewares": middlewares, "services": services}}
    )


def lb(*urls: str) -> dict[str, Any]:
    return {"loadBalancer": {"servers": [{"url": u} for u in urls]}}


def errors(ew: Any, name: str) -> list[str]:
    return list(ew.runtime.middlewares[f"{name}@file"].errors)


# --------------------------------------------------------------------------- ipAllowList


async def test_ip_allow_list(tmp_path: Path) -> None:
    async with backends("app") as (app,):
        routers = {
            n: {"rule": f"PathPrefix(`/{n}`)", "service": "app", "middlewares": [n]}
            for n in (
                "allow",
                "deny",
                "teapot",
                "white",
                "depth",
                "deep",
                "excluded",
                "v6",
                "mapped",
            )
        }
        routers["bad-code"] = {
            "rule": "PathPrefix(`/bad-code`)",
            "service": "app",
            "middlewares": ["bad-code"],
        }
        routers["bad-cidr"] = {
            "rule": "PathPrefix(`/bad-cidr`)",
            "service": "app",
            "middlewares": ["bad-cidr"],
        }
        routers["empty"] = {
            "rule": "PathPrefix(`/empty`)",
            "service": "app",
            "middlewares": ["empty"],
        }
        routers["bad-subnet"] = {
            "rule": "PathPrefix(`/bad-subnet`)",
            "service": "app",
            "middlewares": ["bad-subnet"],
        }
        mws = {
            "allow": {"ipAllowList": {"sourceRange": ["10.0.0.0/8", "127.0.0.1"]}},
            "deny": {"ipAllowList": {"sourceRange": ["10.0.0.0/8"]}},
            "teapot": {"ipAllowList": {"sourceRange": ["10.0.0.0/8"], "rejectStatusCode": 418}},
            "white": {"ipWhiteList": {"sourceRange": ["10.0.0.0/8"]}},
            "depth": {"ipAllowList": {"sourceRange": ["10.0.0.0/8"], "ipStrategy": {"depth": 2}}},
            "deep": {"ipAllowList": {"sourceRange": ["10.0.0.0/8"], "ipStrategy": {"depth": 5}}},
            "excluded": {
                "ipAllowList": {
                    "sourceRange": ["10.0.0.0/8"],
                    "ipStrategy": {"excludedIPs": ["192.168.0.0/16"]},
                }
            },
            "v6": {
                "ipAllowList": {
                    "sourceRange": ["2001:db8:1::"],
                    "ipStrategy": {"depth": 1, "ipv6Subnet": 48},
                }
            },
            "mapped": {"ipAllowList": {"sourceRange": ["10.0.0.0/8"], "ipStrategy": {"depth": 1}}},
            "bad-code": {"ipAllowList": {"sourceRange": ["10.0.0.0/8"], "rejectStatusCode": 999}},
            "bad-cidr": {"ipAllowList": {"sourceRange": ["10.0.0.0/33"]}},
            "empty": {"ipAllowList": {"sourceRange": []}},
            "bad-subnet": {
                "ipAllowList": {"sourceRange": ["10.0.0.0/8"], "ipStrategy": {"ipv6Subnet": 129}}
            },
        }
        async with edgeway(tmp_path, dynamic(routers, mws, {"app": lb(app.url)}), TRUSTING) as ew:
            port = ew.port()
            assert (await get(port, "/allow")).status == 200
            denied = await get(port, "/deny")
            assert (denied.status, denied.body, denied.header("Content-Type")) == (
                403,
                b"Forbidden",
                None,
            )
            teapot = await get(port, "/teapot")
            assert (teapot.status, teapot.body) == (418, b"I'm a teapot")
            assert (await get(port, "/white")).status == 403
            xff = [("X-Forwarded-For", "10.1.2.3, 8.8.8.8")]
            assert (await get(port, "/depth", headers=xff)).status == 200
            assert (
                await get(port, "/depth", headers=[("X-Forwarded-For", "8.8.8.8, 10.1.2.3")])
            ).status == 403
            assert (await get(port, "/deep", headers=xff)).status == 403  # fewer entries than depth
            assert (await get(port, "/depth")).status == 403  # no X-Forwarded-For at all
            chain = [("X-Forwarded-For", "8.8.8.8, 10.9.9.9, 192.168.1.1 ,, 192.168.7.7")]
            assert (await get(port, "/excluded", headers=chain)).status == 200
            chain = [("X-Forwarded-For", "10.9.9.9, 8.8.8.8, 192.168.1.1")]
            assert (await get(port, "/excluded", headers=chain)).status == 403
            # ipv6Subnet: 2001:db8:1:2::5 counts as 2001:db8:1:: (its /48)
            assert (
                await get(port, "/v6", headers=[("X-Forwarded-For", "2001:db8:1:2::5")])
            ).status == 200
            assert (
                await get(port, "/v6", headers=[("X-Forwarded-For", "2001:db8:2::5")])
            ).status == 403
            # an IPv4-mapped IPv6 address is the IPv4 address; a port is ignored
            assert (
                await get(port, "/mapped", headers=[("X-Forwarded-For", "::ffff:10.0.0.1")])
            ).status == 200
            assert (
                await get(port, "/mapped", headers=[("X-Forwarded-For", "10.0.0.1:4567")])
            ).status == 200
            assert (
                await get(port, "/mapped", headers=[("X-Forwarded-For", "garbage")])
            ).status == 403
            for name in ("bad-code", "bad-cidr", "empty", "bad-subnet"):
                assert (await get(port, f"/{name}")).status == 404
            assert errors(ew, "bad-code") == ["invalid HTTP status code 999"]
            assert "cannot parse CIDRs [10.0.0.0/33]" in errors(ew, "bad-cidr")[0]
            assert errors(ew, "empty") == ["sourceRange is empty, IPAllowLister not created"]
            assert "invalid IPv6 subnet 129" in errors(ew, "bad-subnet")[0]
        assert [r.target for r in app.received] == [
            "/allow",
            "/depth",
            "/excluded",
            "/v6",
            "/mapped",
            "/mapped",
        ]


def _request(client_ip: str = "127.0.0.1", xff: str | None = None) -> Request:
    headers = Headers([(b"X-Forwarded-For", xff.encode())] if xff is not None else [])
    return Request("GET", "/", "", headers, authority="h", client_ip=client_ip)


def test_ip_strategies() -> None:
    assert ip_strategy(None)(_request("10.0.0.1")) == "10.0.0.1"
    subnet = ip_strategy(IPStrategy(ipv6Subnet=64))
    assert subnet(_request("2001:db8:1:2:3:4:5:6")) == "2001:db8:1:2::"
    assert subnet(_request("10.0.0.1")) == "10.0.0.1"
    depth = ip_strategy(IPStrategy(depth=1, excludedIPs=["1.1.1.1"]))  # depth wins
    assert depth(_request(xff="1.1.1.1, 2.2.2.2")) == "2.2.2.2"
    pool = ip_strategy(IPStrategy(excludedIPs=["2.2.2.2", "3.3.3.0/24"], ipv6Subnet=64))
    assert pool(_request(xff="1.1.1.1, 2.2.2.2, 3.3.3.3")) == "1.1.1.1"
    assert pool(_request(xff="2.2.2.2")) == ""
    checker = IPChecker(["10.0.0.0/8", "::1", "2001:db8::/32"])
    assert checker.authorized("[::1]:80") and checker.authorized("::ffff:10.1.1.1")
    assert not checker.authorized("::ffff:8.8.8.8") and not checker.authorized("")
    with pytest.raises(ValueError):
        IPChecker([])
    with pytest.raises(ValueError):
        IPChecker(["10.0.0.0/255.0.0.0"])


# --------------------------------------------------------------------------- inFlightReq


@asynccontextmanager
async def gated_backend() -> AsyncIterator[tuple[Backend, asyncio.Event, list[str]]]:
    """A backend that holds every request until the gate opens; ``arrived`` lists their paths."""
    gate = asyncio.Event()
    arrived: list[str] = []

    async def respond(rec: Received) -> tuple[int, list[tuple[str, str]], bytes]:
        arrived.append(rec.target)
        await gate.wait()
        return 200, [("Content-Length", "2")], b"ok"

    backend = await Backend(name="gated", respond=respond).start()
    try:
        yield backend, gate, arrived
    finally:
        gate.set()
        await backend.stop()


async def wait_for(predicate: Any, what: str, timeout: float = 5.0) -> None:
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.005)


async def test_in_flight_req(tmp_path: Path) -> None:
    async with gated_backend() as (app, gate, arrived):
        routers = {
            "host": {"rule": "PathPrefix(`/host`)", "service": "app", "middlewares": ["by-host"]},
            "hdr": {"rule": "PathPrefix(`/hdr`)", "service": "app", "middlewares": ["by-header"]},
            "zero": {"rule": "PathPrefix(`/zero`)", "service": "app", "middlewares": ["zero"]},
            "both": {"rule": "PathPrefix(`/both`)", "service": "app", "middlewares": ["both"]},
        }
        mws = {
            "by-host": {"inFlightReq": {"amount": 1}},
            "by-header": {
                "inFlightReq": {"amount": 2, "sourceCriterion": {"requestHeaderName": "X-User"}}
            },
            "zero": {"inFlightReq": {"amount": 0}},
            "both": {
                "inFlightReq": {
                    "amount": 1,
                    "sourceCriterion": {"requestHost": True, "requestHeaderName": "X"},
                }
            },
        }
        async with edgeway(tmp_path, dynamic(routers, mws, {"app": lb(app.url)})) as ew:
            port = ew.port()
            async with anyio.create_task_group() as tg:
                tg.start_soon(get, port, "/host/1")
                await wait_for(lambda: len(arrived) == 1, "first request at the backend")
                busy = await get(port, "/host/2")
                assert (busy.status, busy.body, busy.header("Content-Type")) == (
                    429,
                    b"max connections reached: 1",
                    None,
                )
                tg.start_soon(lambda: get(port, "/host/3", host="other.example"))  # another source
                await wait_for(lambda: len(arrived) == 2, "other host passes")
                for _ in range(2):
                    tg.start_soon(lambda: get(port, "/hdr", headers=[("X-User", "a")]))
                await wait_for(lambda: len(arrived) == 4, "two of user a")
                assert (await get(port, "/hdr", headers=[("X-User", "a")])).status == 429
                tg.start_soon(lambda: get(port, "/hdr", headers=[("X-User", "b")]))
                await wait_for(lambda: len(arrived) == 5, "user b passes")
                gate.set()
            # all released once the responses are over
            assert (await get(port, "/host/4")).status == 200
            assert (await get(port, "/zero")).status == 429
            assert (await get(port, "/both")).status == 404
            assert errors(ew, "both") == [
                "requestHost and RequestHeaderName are mutually exclusive"
            ]


async def test_in_flight_req_holds_streamed_responses(tmp_path: Path) -> None:
    async with backends("app") as (app,):
        routers = {"r": {"rule": "PathPrefix(`/`)", "service": "app", "middlewares": ["one"]}}
        mws = {"one": {"inFlightReq": {"amount": 1}}}
        async with edgeway(tmp_path, dynamic(routers, mws, {"app": lb(app.url)})) as ew:
            client = await Client.connect(ew.port())
            try:
                # a large streamed body not yet read by the client keeps its slot
                head = b"GET /large/8000000 HTTP/1.1\r\nHost: example.com\r\n\r\n"
                client.writer.write(head)
                await client.reader.readexactly(64)
                assert (await get(ew.port(), "/")).status == 429
            finally:
                await client.close()
            with anyio.fail_after(5):
                while (await get(ew.port(), "/")).status != 200:
                    await anyio.sleep(0.01)


# --------------------------------------------------------------------------- rateLimit


def test_rate_limit_parameters() -> None:
    assert limiter_parameters(RateLimit(average=100)) == (100.0, 1, 5_000_000, 2)
    assert limiter_parameters(RateLimit(average=1, period=10.0, burst=0)) == (
        0.1,
        1,
        500_000_000,
        11,
    )
    assert limiter_parameters(RateLimit(average=3, period=0.0, burst=5)) == (3.0, 5, 166_666_666, 2)
    rate, *_ = limiter_parameters(RateLimit(average=0))
    assert rate == float("inf")
    with pytest.raises(ValueError, match="negative value not valid for period: -1s"):
        limiter_parameters(RateLimit(average=1, period=-1.0))


def test_token_bucket_and_ttl_map() -> None:
    bucket = TokenBucket(2.0, 2)  # 2 tokens/s, full at first
    assert bucket.reserve(0, 250_000_000) == 0
    assert bucket.reserve(0, 250_000_000) == 0
    assert bucket.reserve(0, 250_000_000) == 500_000_000  # cancelled: token given back
    assert bucket.reserve(300_000_000, 250_000_000) == 200_000_000  # 0.6 tokens there: wait 0.2s
    assert bucket.reserve(300_000_000, 10**9) == 700_000_000
    buckets = TTLMap(2)
    a, b, c = TokenBucket(1, 1), TokenBucket(1, 1), TokenBucket(1, 1)
    buckets.add("a", a, 2, 100)
    buckets.add("b", b, 2, 100)
    assert buckets.touch("a", 2, 101) is a  # a used again: b is now closest to expiry
    buckets.add("c", c, 2, 101)  # full: b goes
    assert (buckets.touch("a", 2, 101), buckets.touch("b", 2, 101), buckets.touch("c", 2, 101)) == (
        a,
        None,
        c,
    )
    assert buckets.touch("a", 2, 103) is None and len(buckets) == 1  # expired at 103


async def test_rate_limit(tmp_path: Path) -> None:
    async with backends("app") as (app,):
        routers = {
            "burst": {"rule": "PathPrefix(`/burst`)", "service": "app", "middlewares": ["burst"]},
            "burst2": {"rule": "PathPrefix(`/again`)", "service": "app", "middlewares": ["burst"]},
            "user": {"rule": "PathPrefix(`/user`)", "service": "app", "middlewares": ["user"]},
            "free": {"rule": "PathPrefix(`/free`)", "service": "app", "middlewares": ["free"]},
            "delay": {"rule": "PathPrefix(`/delay`)", "service": "app", "middlewares": ["delay"]},
            "xff": {"rule": "PathPrefix(`/xff`)", "service": "app", "middlewares": ["xff"]},
            "negative": {
                "rule": "PathPrefix(`/negative`)",
                "service": "app",
                "middlewares": ["negative"],
            },
            "both": {"rule": "PathPrefix(`/both`)", "service": "app", "middlewares": ["both"]},
        }
        mws = {
            "burst": {"rateLimit": {"average": 1, "period": "10s", "burst": 2}},
            "user": {
                "rateLimit": {
                    "average": 1,
                    "period": "1m",
                    "sourceCriterion": {"requestHeaderName": "X-User"},
                }
            },
            "free": {"rateLimit": {"average": 0, "burst": 1}},
            "delay": {"rateLimit": {"average": 2, "period": "1s", "burst": 1}},
            "xff": {
                "rateLimit": {
                    "average": 1,
                    "period": "1m",
                    "sourceCriterion": {"ipStrategy": {"depth": 1}},
                }
            },
            "negative": {"rateLimit": {"average": 1, "period": "-1s"}},
            "both": {
                "rateLimit": {
                    "average": 1,
                    "sourceCriterion": {"ipStrategy": {}, "requestHost": True},
                }
            },
        }
        async with edgeway(tmp_path, dynamic(routers, mws, {"app": lb(app.url)}), TRUSTING) as ew:
            port = ew.port()
            assert [(await get(port, "/burst")).status for _ in range(2)] == [200, 200]
            limited = await get(port, "/burst")
            assert (limited.status, limited.body, limited.header("Content-Type")) == (
                429,
                b"Too Many Requests",
                None,
            )
            assert limited.header("Retry-After") == "10"
            assert re.fullmatch(r"9\.\d+s|10s", limited.header("X-Retry-In") or ""), limited.header(
                "X-Retry-In"
            )
            # the same middleware on another router has its own buckets
            assert (await get(port, "/again")).status == 200
            a = [("X-User", "a")]
            assert [(await get(port, "/user", headers=a)).status for _ in range(2)] == [200, 429]
            assert (await get(port, "/user", headers=[("X-User", "b")])).status == 200
            assert (await get(port, "/user")).status == 200  # no header: the "" source
            assert {(await get(port, "/free")).status for _ in range(5)} == {200}
            assert (await get(port, "/xff", headers=[("X-Forwarded-For", "1.1.1.1")])).status == 200
            assert (await get(port, "/xff", headers=[("X-Forwarded-For", "1.1.1.1")])).status == 429
            assert (await get(port, "/xff", headers=[("X-Forwarded-For", "2.2.2.2")])).status == 200
            # 2 per second: a request 0.3s after the previous one waits for its token (0.2s)
            # instead of being refused (maxDelay is 0.25s)
            assert (await get(port, "/delay")).status == 200
            first = time.monotonic()
            assert (await get(port, "/delay")).status == 429
            await anyio.sleep(0.3 - (time.monotonic() - first))  # the spacing under test
            sent = time.monotonic()
            assert (await get(port, "/delay")).status == 200
            assert time.monotonic() - sent > 0.1
            assert (await get(port, "/negative")).status == 404
            assert errors(ew, "negative") == ["negative value not valid for period: -1s"]
            assert errors(ew, "both") == ["iPStrategy and RequestHost are mutually exclusive"]


# --------------------------------------------------------------------------- rateLimit on Redis


class RedisServer:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, tls_port: int = 0) -> None:
        self.proc = proc
        self.port = port
        self.tls_port = tls_port

    def clients(self) -> list[Any]:
        import redis

        client = redis.Redis(
            host="127.0.0.1", port=self.port, username="admin", password="admin-pw"
        )
        try:
            return list(client.client_list())
        finally:
            client.close()

    def cli(self, *args: str) -> str:
        import redis

        client = redis.Redis(
            host="127.0.0.1",
            port=self.port,
            username="admin",
            password="admin-pw",
            decode_responses=True,
        )
        try:
            return str(client.execute_command(*args))
        finally:
            client.close()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RedisServer, Any]]:
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail(
                "redis-server is missing (scripts/test-deps.sh installs it); required under CI"
            )
        pytest.skip("redis-server is missing: run scripts/test-deps.sh (as root) to install it")
    import trustme

    tmp = tmp_path_factory.mktemp("redis")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp / "server.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp / "server.crt"))
    cert.private_key_pem.write_to_path(str(tmp / "server.key"))
    ca.cert_pem.write_to_path(str(tmp / "ca.pem"))
    port, tls_port = free_port(), free_port()
    conf = tmp / "redis.conf"
    conf.write_text(
        "\n".join(
            [
                f"port {port}",
                "bind 127.0.0.1",
                f"dir {tmp}",
                "save ''",
                "appendonly no",
                f"tls-port {tls_port}",
                f"tls-cert-file {tmp / 'server.crt'}",
                f"tls-key-file {tmp / 'server.key'}",
                f"tls-ca-cert-file {tmp / 'ca.pem'}",
                "tls-auth-clients optional",
                "user default on nopass ~* &* +@all",
                "user admin on >admin-pw ~* &* +@all",
                "",
            ]
        )
    )
    proc = subprocess.Popen(
        [binary, str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, cwd=tmp
    )
    server = RedisServer(proc, port, tls_port)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                if server.cli("PING") == "True":
                    break
            except Exception:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
            time.sleep(0.02)
        yield server, ca
    finally:
        proc.terminate()
        proc.wait(5)


def redis_limit(server: RedisServer, **redis: Any) -> dict[str, Any]:
    options = {"endpoints": [f"127.0.0.1:{server.port}"], **redis}
    return {"rateLimit": {"average": 1, "period": "1m", "burst": 2, "redis": options}}


async def test_redis_rate_limit_is_shared_by_replicas(
    tmp_path: Path, redis_server: tuple[RedisServer, Any]
) -> None:
    server, _ = redis_server
    server.cli("FLUSHALL")
    async with backends("app") as (app,):
        routers = {"r": {"rule": "PathPrefix(`/`)", "service": "app", "middlewares": ["shared"]}}
        # (different pool sizes: in one process, equal options would share one Redis client)
        texts = [
            dynamic(
                routers,
                {"shared": redis_limit(server, poolSize=size, minIdleConns=2)},
                {"app": lb(app.url)},
            )
            for size in (4, 5)
        ]
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        async with (
            edgeway(tmp_path / "a", texts[0]) as one,
            edgeway(tmp_path / "b", texts[1]) as two,
        ):
            assert (await get(one.port(), "/")).status == 200
            assert (await get(two.port(), "/")).status == 200
            for replica in (one, two):
                limited = await get(replica.port(), "/")
                assert (limited.status, limited.body) == (429, b"Too Many Requests")
                assert limited.header("Retry-After") in ("60", "59")
            assert server.cli("EXISTS", "rate:shared@file:127.0.0.1") == "1"
            # minIdleConns: each replica keeps 2 connections open (plus this check's own)
            with anyio.fail_after(5):
                while len(server.clients()) < 5:
                    await anyio.sleep(0.01)
            ttl = int(server.cli("TTL", "rate:shared@file:127.0.0.1"))
            assert 0 < ttl <= 61  # 1 + 1/rate seconds
        assert len(app.received) == 2


async def test_redis_options(tmp_path: Path, redis_server: tuple[RedisServer, Any]) -> None:
    server, ca = redis_server
    server.cli("FLUSHALL")
    silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)  # accepts, never answers
    silent_port = silent.sockets[0].getsockname()[1]
    tls_endpoint = [f"127.0.0.1:{server.tls_port}"]
    ca_pem = ca.cert_pem.bytes().decode()
    mws = {
        "auth": redis_limit(server, username="admin", password="admin-pw", db=3),
        "bad-auth": redis_limit(server, username="admin", password="wrong"),
        "down": redis_limit(server, endpoints=[f"127.0.0.1:{free_port()}"]),
        "silent": redis_limit(
            server,
            endpoints=[f"127.0.0.1:{silent_port}"],
            readTimeout="200ms",
            writeTimeout="200ms",
        ),
        "tls": redis_limit(server, endpoints=tls_endpoint, tls={"ca": ca_pem}),
        "tls-insecure": redis_limit(
            server, endpoints=tls_endpoint, tls={"insecureSkipVerify": True}
        ),
        "tls-untrusted": redis_limit(server, endpoints=tls_endpoint, tls={}),
        "one-conn": redis_limit(server, maxActiveConns=1, dialTimeout="1s"),
        "unlimited": {
            "rateLimit": {"average": 0, "redis": {"endpoints": [f"127.0.0.1:{server.port}"]}}
        },
        "bad-endpoint": redis_limit(server, endpoints=["nohost"]),
        "bad-tls": redis_limit(server, tls={"cert": "only-a-cert"}),
    }
    routers = {
        n: {"rule": f"PathPrefix(`/{n}/`)", "service": "app", "middlewares": [n]} for n in mws
    }
    try:
        async with backends("app") as (app,):
            async with edgeway(tmp_path, dynamic(routers, mws, {"app": lb(app.url)})) as ew:
                port = ew.port()
                assert (await get(port, "/auth/")).status == 200
                assert (
                    server.cli("SELECT", "3") == "True"
                )  # (per connection: just checks the db exists)
                import redis

                db3 = redis.Redis(port=server.port, db=3, username="admin", password="admin-pw")
                assert db3.exists("rate:auth@file:127.0.0.1") == 1
                db3.close()
                for name in ("bad-auth", "down", "tls-untrusted"):
                    failed = await get(port, f"/{name}/")
                    assert (failed.status, failed.body) == (
                        500,
                        b"Could not insert/update bucket\n",
                    ), name
                started = time.monotonic()
                assert (await get(port, "/silent/")).status == 500
                assert time.monotonic() - started < 2
                assert (await get(port, "/tls/")).status == 200
                assert (await get(port, "/tls-insecure/")).status == 200
                async with anyio.create_task_group() as tg:
                    for _ in range(2):
                        tg.start_soon(get, port, "/one-conn/")
                assert (await get(port, "/one-conn/")).status == 429
                # Traefik's redis limiter answers every request 429 when there is no limit
                unlimited = await get(port, "/unlimited/")
                assert (unlimited.status, unlimited.body) == (429, b"No bursty traffic allowed\n")
                assert "expected host:port" in errors(ew, "bad-endpoint")[0]
                assert "both TLS cert and key must be defined" in errors(ew, "bad-tls")[0]
    finally:
        silent.close()


# --------------------------------------------------------------------------- circuitBreaker


def test_expressions() -> None:
    class Metrics:
        def network_error_ratio(self) -> float:
            return 0.25

        def response_code_ratio(self, a: int, b: int, c: int, d: int) -> float:
            return 0.5 if (a, b, c, d) == (500, 600, 0, 600) else 0.0

        def latency_at_quantile_ms(self, q: float) -> int:
            return 120 if q == 50.0 else 0

        def total_count(self) -> int:
            return 7

    m = Metrics()
    assert parse_expression("NetworkErrorRatio() > 0.2")(m)
    assert not parse_expression("NetworkErrorRatio() >= 0.5 || LatencyAtQuantileMS(50.0) < 100")(m)
    assert parse_expression(
        "(ResponseCodeRatio(500, 600, 0, 600) == 0.5 && RequestThreshold() != 6)"
    )(m)
    assert parse_expression("LatencyAtQuantileMS(50.0) <= 120 && RequestThreshold() > 6")(m)
    for bad, message in [
        ("", "expected operand"),
        ("NetworkErrorRatio() > 1", "expected int, got int"),
        ("LatencyAtQuantileMS(50) > 1", "as type float64"),
        ("RequestThreshold() > 1.5", "expected int"),
        ("!(NetworkErrorRatio() > 0.5)", "! is not supported"),
        ("0.5 < NetworkErrorRatio()", "lt: unsupported argument: float64"),
        ("NetworkErrorRatio()", "expected predicate"),
        ("Foo() > 1", "unsupported function: Foo"),
        ("x > 1", "x is not defined"),
        ("NetworkErrorRatio() + 0.5 > 1.0", "+ is not supported"),
        ("NetworkErrorRatio() > 0.5 && RequestThreshold()", "hpredicate"),
        ("ResponseCodeRatio(500, 600, 0) > 0.5", "expected 4 arguments"),
        ("NetworkErrorRatio() > 0.5 )", "expected 'EOF'"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)):
            parse_expression(bad)


def test_metrics_helpers() -> None:
    assert highest_equivalent(100) == 100  # exact below 256 µs
    assert highest_equivalent(100_000) == 100_351  # 2 significant digits
    from collections import Counter

    assert value_at_quantile(Counter({100: 1, 200_000: 1}), 50.0) == 100
    assert value_at_quantile(Counter({100: 1, 200_000: 1}), 99.0) == highest_equivalent(200_000)
    assert value_at_quantile(Counter(), 50.0) == 0
    counter = RollingCounter()
    counter.inc()
    counter.inc(2)
    assert counter.count() == 3


async def test_circuit_breaker(tmp_path: Path) -> None:
    async with backends("app") as (app,):
        dead = f"http://127.0.0.1:{free_port()}"
        fast = {"checkPeriod": "1ms", "fallbackDuration": "200ms", "recoveryDuration": "200ms"}
        mws = {
            "codes": {
                "circuitBreaker": {
                    "expression": "ResponseCodeRatio(500, 600, 0, 600) > 0.5",
                    **fast,
                }
            },
            "net": {
                "circuitBreaker": {
                    "expression": "NetworkErrorRatio() > 0.5",
                    "responseCode": 418,
                    **fast,
                }
            },
            "slow": {
                "circuitBreaker": {
                    "expression": "LatencyAtQuantileMS(50.0) > 100",
                    "fallbackDuration": "1m",
                }
            },
            "count": {
                "circuitBreaker": {
                    "expression": "RequestThreshold() >= 2",
                    "checkPeriod": "1ns",
                    "fallbackDuration": "1m",
                }
            },
            "bad": {"circuitBreaker": {"expression": "NetworkErrorRatio() > 1"}},
            "bad-code": {
                "circuitBreaker": {"expression": "NetworkErrorRatio() > 0.5", "responseCode": 99}
            },
        }
        routers = {
            n: {"rule": f"PathPrefix(`/{n}/`)", "service": "app", "middlewares": [n, "strip"]}
            for n in mws
        }
        mws["strip"] = {"stripPrefix": {"prefixes": [f"/{n}" for n in mws]}}
        routers["net"]["service"] = "dead"
        services = {"app": lb(app.url), "dead": lb(dead)}
        async with edgeway(tmp_path, dynamic(routers, mws, services)) as ew:
            port = ew.port()
            # standby: a 500 goes through, trips the breaker (first check is at once)
            assert (await get(port, "/codes/status/500")).status == 500
            tripped = await get(port, "/codes/")
            assert (tripped.status, tripped.body, tripped.header("Content-Type")) == (
                503,
                b"Service Unavailable",
                None,
            )
            hits = len(app.received)
            # after fallbackDuration: recovering lets a growing share through, then standby
            with anyio.fail_after(5):
                statuses: list[int] = []
                while statuses[-5:] != [200] * 5:
                    statuses.append((await get(port, "/codes/")).status)
                    await anyio.sleep(0.005)
            assert 503 in statuses and len(app.received) > hits
            assert (await get(port, "/net/")).status == 502
            teapot = await get(port, "/net/")
            assert (teapot.status, teapot.body) == (418, b"I'm a teapot")
            assert (await get(port, "/slow/slow/150")).status == 200
            assert (await get(port, "/slow/")).status == 503
            assert [(await get(port, "/count/")).status for _ in range(3)] == [200, 200, 503]
            assert errors(ew, "bad") == ["expected int, got int"]
            assert "invalid responseCode 99" in errors(ew, "bad-code")[0]


# --------------------------------------------------------------------------- retry


def failing(times: int, status: int = 500) -> Any:
    """A responder failing ``times`` times with ``status``, then answering 200 with the body."""
    calls = {"n": 0}

    def respond(rec: Received) -> tuple[int, list[tuple[str, str]], bytes]:
        calls["n"] += 1
        if calls["n"] <= times:
            return status, [("Content-Length", "4")], b"fail"
        return 200, [("Content-Length", str(len(rec.body) + 3))], b"ok:" + rec.body

    return respond


async def truncating_server() -> tuple[asyncio.Server, list[int]]:
    """Answers 200 with a Content-Length of 100, sends 3 bytes and closes."""
    hits: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        hits.append(1)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, hits


async def test_retry(tmp_path: Path) -> None:
    flaky = await Backend(name="flaky", respond=failing(2)).start()
    always = await Backend(name="always", respond=failing(10**6, 503)).start()
    truncating, truncated_hits = await truncating_server()
    dead = f"http://127.0.0.1:{free_port()}"
    servers = {
        "flaky": flaky.url,
        "always": always.url,
        "truncating": f"http://127.0.0.1:{truncating.sockets[0].getsockname()[1]}",
    }
    mws = {
        "status": {"retry": {"attempts": 3, "status": ["500-599"]}},
        "post": {
            "retry": {"attempts": 3, "status": ["500", "503"], "retryNonIdempotentMethod": True}
        },
        "small": {"retry": {"attempts": 3, "status": ["500"], "maxRequestBodyBytes": 5}},
        "net": {"retry": {"attempts": 4}},
        "net-off": {
            "retry": {"attempts": 4, "status": ["500"], "disableRetryOnNetworkError": True}
        },
        "backoff": {"retry": {"attempts": 2, "status": ["503"], "initialInterval": "200ms"}},
        "timeout": {"retry": {"attempts": 5, "status": ["503"], "timeout": "1ns"}},
        "once": {"retry": {"attempts": 1, "status": ["503"]}},
        "zero": {"retry": {"attempts": 0}},
        "no-criteria": {"retry": {"attempts": 2, "disableRetryOnNetworkError": True}},
        "bad-status": {"retry": {"attempts": 2, "status": ["5xx"]}},
    }
    routers: dict[str, Any] = {}
    for name in mws:
        routers[name] = {
            "rule": f"PathPrefix(`/{name}/`)",
            "service": "always",
            "middlewares": [name],
        }
    routers["status"]["service"] = "flaky"
    routers["post"]["service"] = "flaky"
    routers["net"]["service"] = "dead"
    routers["net-off"]["service"] = "dead"
    routers["stream"] = {
        "rule": "PathPrefix(`/stream/`)",
        "service": "truncating",
        "middlewares": ["status"],
    }
    services = {name: lb(url) for name, url in servers.items()}
    services["dead"] = lb(dead)
    try:
        async with edgeway(tmp_path, dynamic(routers, mws, services)) as ew:
            port = ew.port()
            ok = await get(port, "/status/")
            assert (ok.status, ok.body, len(flaky.received)) == (200, b"ok:", 3)
            # POST is retried only with retryNonIdempotentMethod; its body is replayed
            flaky.respond = failing(1)
            client = await Client.connect(port)
            reply = await client.request("POST", "/status/", body=b"payload")
            assert (reply.status, len(flaky.received)) == (500, 4)
            flaky.respond = failing(1)
            reply = await client.request("POST", "/post/", body=b"payload")
            assert (reply.status, reply.body) == (200, b"ok:payload")
            assert [r.body for r in flaky.received[4:]] == [b"payload", b"payload"]
            # a body over maxRequestBodyBytes goes through once, whole, without status retries
            before = len(always.received)
            reply = await client.request("PUT", "/small/", body=b"0123456789")
            assert reply.status == 503 and len(always.received) == before + 1
            assert always.received[-1].body == b"0123456789"
            reply = await client.request(
                "PUT", "/status/", body=b"0123456789"
            )  # under 2 MiB: retried
            await client.close()
            assert len(always.received) == before + 1  # (flaky serves /status/)
            # network errors: the server cannot be reached at all
            started = time.monotonic()
            assert (await get(port, "/net/")).status == 502
            assert (await get(port, "/net-off/")).status == 502
            # the attempt counts are observable on status retries
            before = len(always.received)
            assert (await get(port, "/backoff/")).status == 503
            assert len(always.received) == before + 2
            assert time.monotonic() - started > 0.1  # one wait of 200ms ±50%
            before = len(always.received)
            assert (await get(port, "/timeout/")).status == 503
            assert (await get(port, "/once/")).status == 503
            assert len(always.received) == before + 2
            # a response being streamed is never retried, even if it fails mid-way
            with pytest.raises((ConnectionError, h11.RemoteProtocolError)):
                await get(port, "/stream/")
            assert truncated_hits == [1]
            assert errors(ew, "zero") == ["incorrect (or empty) value for attempt (0)"]
            assert errors(ew, "no-criteria") == [
                "retry middleware requires at least HTTP status codes or retry on TCP"
            ]
            assert 'parsing "5xx": invalid syntax' in errors(ew, "bad-status")[0]
    finally:
        for backend in (flaky, always):
            await backend.stop()
        truncating.close()


async def test_retry_network_errors_reach_another_server(tmp_path: Path) -> None:
    async with backends("app") as (app,):
        dead = f"http://127.0.0.1:{free_port()}"
        mws = {
            "net": {"retry": {"attempts": 2}},
            "off": {
                "retry": {"attempts": 2, "status": ["599"], "disableRetryOnNetworkError": True}
            },
        }
        routers = {
            "net": {"rule": "PathPrefix(`/net`)", "service": "pair", "middlewares": ["net"]},
            "off": {"rule": "PathPrefix(`/off`)", "service": "pair", "middlewares": ["off"]},
        }
        async with edgeway(tmp_path, dynamic(routers, mws, {"pair": lb(dead, app.url)})) as ew:
            assert {(await get(ew.port(), "/net")).status for _ in range(6)} == {200}
            assert {(await get(ew.port(), "/off")).status for _ in range(6)} == {200, 502}
