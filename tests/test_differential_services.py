"""Differential tests of the HTTP service kinds: real Traefik and edgeway side by side.

One pair of proxies serves every scenario, on the same dynamic configuration and
the same backends. Only deterministic behaviour is compared (Traefik shuffles
servers and picks p2c candidates at random): sticky cookie names, attributes and
values; weighted counts over a whole cycle; rendezvous choices; failover on
status and on health; what mirrors receive; 503s when nothing is up. For each
scenario the same request goes to both proxies and the status, the response
headers (minus ``Date``), the body and what the backends received must be equal.

Intended differences: none in these scenarios. (Health-check requests are left
out of the comparison: they run on each proxy's own clock.)
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from differential_support import (
    BackendPool,
    Proxy,
    Reply,
    differences,
    digest,
    exchange,
    header_multiset,
    require_traefik,
    traefik_and_edgeway,
)
from support import Received

TRAEFIK = require_traefik()

IGNORED_RESPONSE_HEADERS = {"date", "connection", "keep-alive"}
IGNORED_UPSTREAM_HEADERS = {
    "connection",
    "keep-alive",
    # Go's transport adds `Accept-Encoding: gzip` when the client sent none (see test_differential).
    "accept-encoding",
}
HC = {"path": "/health", "interval": "100ms", "timeout": "1s"}


def sick(rec: Received) -> tuple[int, list[tuple[str, str]], bytes]:
    """A server whose health check always fails (it answers everything else)."""
    if rec.target.startswith("/health"):
        return 500, [("Content-Length", "0")], b""
    return 200, [("Content-Length", "4")], b"sick"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fnv1(text: str) -> str:
    h = 14695981039346656037
    for byte in text.encode():
        h = (h * 1099511628211) % 2**64
        h ^= byte
    return format(h, "x")


def lb(*urls: str, **options: Any) -> dict[str, Any]:
    return {"loadBalancer": {"servers": [{"url": u} for u in urls], **options}}


def dynamic_configuration(pool: BackendPool) -> dict[str, Any]:
    a, b = pool.add("a"), pool.add("b")
    s = pool.add("sick", sick)
    main, mirror, fb = pool.add("main"), pool.add("mirror"), pool.add("fb")
    cookie = {
        "name": "sess",
        "secure": True,
        "httpOnly": True,
        "sameSite": "lax",
        "maxAge": 30,
        "path": "/x",
        "domain": "example.com",
    }
    services: dict[str, Any] = {
        "ready": lb(a.url),
        "one": lb(a.url),
        "two": lb(b.url),
        "sticky": lb(a.url, sticky={"cookie": cookie}),
        "stickydefault": lb(a.url, sticky={"cookie": {}}),
        "stickyp2c": lb(
            b.url, strategy="p2c", sticky={"cookie": {"name": "p", "sameSite": "none"}}
        ),
        "repick": lb(s.url, a.url, sticky={"cookie": {"name": "s"}}, healthCheck=HC),
        "wsticky": {
            "weighted": {
                "services": [{"name": "one"}, {"name": "two"}],
                "sticky": {"cookie": {"name": "w"}},
            }
        },
        "weighted": {
            "weighted": {"services": [{"name": "one", "weight": 2}, {"name": "two", "weight": 1}]}
        },
        "hrw": {"highestRandomWeight": {"services": [{"name": "one"}, {"name": "two"}]}},
        "mainsvc": lb(main.url),
        "fbsvc": lb(fb.url),
        "sickhc": lb(s.url, healthCheck=HC),
        "sickhc2": lb(s.url, healthCheck=HC),
        "failstatus": {
            "failover": {
                "service": "mainsvc",
                "fallback": "fbsvc",
                "errors": {"status": ["500-504"]},
            }
        },
        "faillimit": {
            "failover": {
                "service": "mainsvc",
                "fallback": "fbsvc",
                "errors": {"status": ["500"], "maxRequestBodyBytes": 2},
            }
        },
        "failhealth": {"failover": {"service": "sickhc", "fallback": "fbsvc"}},
        "failboth": {"failover": {"service": "sickhc", "fallback": "sickhc2", "healthCheck": {}}},
        "mirror": {
            "mirroring": {"service": "mainsvc", "mirrors": [{"name": "mirrorsvc", "percent": 100}]}
        },
        "mirrorlimit": {
            "mirroring": {
                "service": "mainsvc",
                "maxBodySize": 3,
                "mirrors": [{"name": "mirrorsvc", "percent": 100}],
            }
        },
        "mirrorsvc": lb(mirror.url),
        "down": lb(s.url, healthCheck=HC),
        "empty": lb(),
        "badstrategy": lb(a.url, strategy="nope"),
        "badpercent": {
            "mirroring": {"service": "mainsvc", "mirrors": [{"name": "mirrorsvc", "percent": 120}]}
        },
    }
    routers = {name: {"rule": f"Host(`{name}.test`)", "service": name} for name in services}
    return {"http": {"routers": routers, "services": services}}


@dataclass
class Pair:
    traefik: Proxy
    edgeway: Proxy
    pool: BackendPool

    def url(self, name: str) -> str:
        return self.pool.backends[name].url


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    assert TRAEFIK is not None
    tmp = tmp_path_factory.mktemp("differential-services")
    pool = BackendPool()
    try:
        probes = [
            ("traefik", "localhost", "/ping", 200),
            ("web", "ready.test", "/", 200),
            # The health checks have run: the sick servers are out.
            ("web", "down.test", "/", 503),
            ("web", "failboth.test", "/", 503),
        ]
        with traefik_and_edgeway(tmp, TRAEFIK, dynamic_configuration(pool), probes) as (
            traefik,
            edgeway,
        ):
            yield Pair(traefik, edgeway, pool)
    finally:
        pool.close()


def observe(
    pair: Pair,
    proxy: Proxy,
    host: str,
    method: str = "GET",
    target: str = "/",
    headers: tuple[tuple[str, str], ...] = (),
    body: bytes | None = None,
    expect_upstream: int | None = None,
) -> dict[str, Any]:
    """One exchange and what the backends received (waiting for ``expect_upstream`` requests)."""
    snap = pair.pool.snapshot()
    reply: Reply = exchange(proxy.port(), method, target, [("Host", host), *headers], body)

    def received() -> list[tuple[str, Received]]:
        return [(n, r) for n, r in pair.pool.since(snap) if not r.target.startswith("/health")]

    deadline = time.monotonic() + 3
    while (
        expect_upstream is not None
        and len(received()) < expect_upstream
        and time.monotonic() < deadline
    ):
        time.sleep(0.02)
    if expect_upstream is not None:
        time.sleep(0.1)  # nothing more arrives

    def keep_response(name: str) -> bool:
        return name not in IGNORED_RESPONSE_HEADERS

    def keep_upstream(name: str) -> bool:
        return name not in IGNORED_UPSTREAM_HEADERS

    return {
        "status": reply.status,
        "headers": header_multiset(reply.headers, keep_response),
        "body": digest(reply.body),
        "upstream": [
            {
                "backend": name,
                "method": rec.method,
                "target": rec.target,
                "headers": header_multiset(rec.headers, keep_upstream),
                "body": digest(rec.body),
            }
            for name, rec in received()
        ],
    }


def compare(pair: Pair, host: str, **kw: Any) -> dict[str, Any]:
    t = observe(pair, pair.traefik, host, **kw)
    e = observe(pair, pair.edgeway, host, **kw)
    assert e == t, differences(t, e)
    return t


def set_cookies(observation: dict[str, Any]) -> list[str]:
    return [v for n, v in observation["headers"] if n == "set-cookie"]


# --- sticky cookies -----------------------------------------------------------------------


def test_sticky_cookie_attributes(pair: Pair) -> None:
    seen = compare(pair, "sticky.test")
    assert set_cookies(seen) == [
        f"sess={sha(pair.url('a'))}; Path=/x; Domain=example.com; Max-Age=30; HttpOnly; Secure; SameSite=Lax"
    ]


def test_sticky_cookie_default_name(pair: Pair) -> None:
    seen = compare(pair, "stickydefault.test")
    name = "_" + hashlib.sha1(b"_TRAEFIK_BACKEND_stickydefault@file").hexdigest()[:5]
    assert set_cookies(seen) == [f"{name}={sha(pair.url('a'))}; Path=/"]


def test_sticky_cookie_with_p2c(pair: Pair) -> None:
    seen = compare(pair, "stickyp2c.test")
    assert set_cookies(seen) == [f"p={sha(pair.url('b'))}; Path=/; SameSite=None"]


def test_sticky_cookie_kept_is_not_set_again(pair: Pair) -> None:
    seen = compare(pair, "sticky.test", headers=(("Cookie", f"sess={sha(pair.url('a'))}"),))
    assert set_cookies(seen) == []


@pytest.mark.parametrize("legacy", ["raw", "fnv", "double-fnv"])
def test_sticky_legacy_value_is_rewritten(pair: Pair, legacy: str) -> None:
    value = {"raw": "two", "fnv": fnv1("two"), "double-fnv": fnv1(fnv1("two"))}[legacy]
    seen = compare(pair, "wsticky.test", headers=(("Cookie", f"w={value}"),))
    assert set_cookies(seen) == [f"w={sha('two')}; Path=/"]
    assert [u["backend"] for u in seen["upstream"]] == ["b"]


def test_sticky_weighted_child(pair: Pair) -> None:
    seen = compare(pair, "wsticky.test", headers=(("Cookie", f"w={sha('one')}"),))
    assert set_cookies(seen) == [] and [u["backend"] for u in seen["upstream"]] == ["a"]


def test_sticky_cookie_to_a_down_server_is_rewritten(pair: Pair) -> None:
    seen = compare(pair, "repick.test", headers=(("Cookie", f"s={sha(pair.url('sick'))}"),))
    assert set_cookies(seen) == [f"s={sha(pair.url('a'))}; Path=/"]


# --- balancing ------------------------------------------------------------------------------


def test_weighted_counts_over_two_cycles(pair: Pair) -> None:
    counts = {}
    for proxy in (pair.traefik, pair.edgeway):
        got = [observe(pair, proxy, "weighted.test")["upstream"][0]["backend"] for _ in range(6)]
        counts[proxy.name] = (got.count("a"), got.count("b"))
    assert counts["edgeway"] == counts["traefik"] == (4, 2)


def test_highest_random_weight_choice(pair: Pair) -> None:
    for _ in range(3):
        compare(pair, "hrw.test")


def test_no_available_server(pair: Pair) -> None:
    for host in ("down.test", "empty.test"):
        seen = compare(pair, host)
        assert (seen["status"], seen["body"]) == (503, b"no available server\n")


def test_broken_services_disable_their_routers(pair: Pair) -> None:
    for host in ("badstrategy.test", "badpercent.test"):
        assert compare(pair, host)["status"] == 404


# --- failover -------------------------------------------------------------------------------


def test_failover_on_status_replays_the_body(pair: Pair) -> None:
    seen = compare(pair, "failstatus.test", method="POST", target="/status/502", body=b"payload")
    assert [u["backend"] for u in seen["upstream"]] == ["fb", "main"]
    compare(pair, "failstatus.test", target="/status/404")


def test_failover_body_limit(pair: Pair) -> None:
    seen = compare(pair, "faillimit.test", method="POST", target="/status/500", body=b"toolong")
    assert (seen["status"], seen["body"]) == (413, b"Request body too large\n")


def test_failover_on_health(pair: Pair) -> None:
    seen = compare(pair, "failhealth.test")
    assert [u["backend"] for u in seen["upstream"]] == ["fb"]


def test_failover_with_both_down(pair: Pair) -> None:
    seen = compare(pair, "failboth.test")
    assert (seen["status"], seen["body"]) == (503, b"Service Unavailable\n")


# --- mirroring ------------------------------------------------------------------------------


def test_mirror_receives_a_copy(pair: Pair) -> None:
    seen = compare(
        pair, "mirror.test", method="POST", target="/m?x=1", body=b"hello", expect_upstream=2
    )
    assert [u["backend"] for u in seen["upstream"]] == ["main", "mirror"]


def test_mirror_skipped_over_max_body_size(pair: Pair) -> None:
    seen = compare(pair, "mirrorlimit.test", method="POST", body=b"toolong", expect_upstream=1)
    assert [u["backend"] for u in seen["upstream"]] == ["main"]
    seen = compare(pair, "mirrorlimit.test", method="POST", body=b"ok", expect_upstream=2)
    assert [u["backend"] for u in seen["upstream"]] == ["main", "mirror"]
