"""Differential tests of basicAuth, digestAuth and forwardAuth: real Traefik vs edgeway.

One pair of proxies on one dynamic configuration; the same auth server and
backends behind both. For each scenario the same request goes to both proxies
and what the client gets, what the backend received and what the auth server
received must be equal, apart from the differences listed with their reason.
Digest nonces are random per proxy, so each proxy's challenge is answered on
its own and the nonce and opaque values are masked.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from typing import Any

import bcrypt
import pytest
from differential_support import (
    BackendPool,
    Pair,
    Reply,
    differences,
    digest,
    exchange,
    header_multiset,
    require_traefik,
    traefik_and_edgeway,
)
from support import Received, free_port

TRAEFIK = require_traefik()

IGNORED_RESPONSE_HEADERS = {"date", "server", "connection", "keep-alive"}
#: Intended differences in what the backend and the auth server receive: header -> reason.
INTENDED_UPSTREAM = {
    "accept-encoding": (
        "Go's transport adds `Accept-Encoding: gzip` when the client sent none (and then "
        "decompresses); edgeway forwards the client's as is, toward backends and auth servers alike"
    ),
    "connection": "hop-by-hop: connection management is each client's own business",
}
BCRYPT = bcrypt.hashpw(b"bpass", bcrypt.gensalt(4)).decode()
APR1 = "$apr1$saltsalt$S6D2MtcWGkSu2W25x9Erb."  # p@ss wörd
SHA = "{SHA}" + base64.b64encode(hashlib.sha1(b"spass").digest()).decode()
HA1 = hashlib.md5(b"u:traefik:pw").hexdigest()


def auth_server(rec: Received) -> tuple[int, list[tuple[str, str]], bytes]:
    path = rec.target.split("?")[0]
    answers: dict[str, tuple[int, list[tuple[str, str]], bytes]] = {
        "/ok": (
            200,
            [
                ("X-User", "alice"),
                ("X-Group", "a"),
                ("X-Group", "b"),
                ("X-Auth-Role", "r"),
                ("Content-Length", "2"),
            ],
            b"ok",
        ),
        "/cookies": (
            200,
            [
                ("Set-Cookie", "session=abc; Path=/; HttpOnly"),
                ("Set-Cookie", "other=1"),
                ("Content-Length", "0"),
            ],
            b"",
        ),
        "/deny": (
            403,
            [
                ("X-Reason", "nope"),
                ("Set-Cookie", "t=1; Path=/"),
                ("Content-Type", "text/plain"),
                ("Content-Length", "6"),
            ],
            b"denied",
        ),
        "/login": (302, [("Location", "../login?next=%2Fx"), ("Content-Length", "0")], b""),
        "/401": (401, [("WWW-Authenticate", "Bearer"), ("Content-Length", "3")], b"who"),
        "/big": (200, [("Content-Length", "100")], b"x" * 100),
    }
    return answers.get(path, (200, [("Content-Length", "0")], b""))


def backend_cookies(rec: Received) -> tuple[int, list[tuple[str, str]], bytes]:
    return (
        200,
        [
            ("Set-Cookie", "session=backend"),
            ("Set-Cookie", "keep=1;  path=/x; Foo=bar"),
            ("Set-Cookie", 'n="a b"; Expires=Wed, 21-Oct-2015 07:28:00 GMT; Max-Age=05'),
            ("Content-Length", "2"),
        ],
        b"hi",
    )


def middlewares(auth: str) -> dict[str, Any]:
    fa = {"address": f"{auth}/ok"}
    return {
        "basic": {"basicAuth": {"users": [f"b:{BCRYPT}", f"a:{APR1}", f"s:{SHA}", "plain:plain"]}},
        "basic-opts": {
            "basicAuth": {
                "users": [f"s:{SHA}"],
                "realm": "my realm",
                "removeHeader": True,
                "headerField": "X-WebAuth-User",
            }
        },
        "digest": {"digestAuth": {"users": [f"u:traefik:{HA1}"], "headerField": "X-Digest-User"}},
        "fa": {"forwardAuth": {**fa, "authResponseHeaders": ["X-User", "x-group"]}},
        "fa-regex": {"forwardAuth": {**fa, "authResponseHeadersRegex": "^X-Auth"}},
        "fa-trust": {"forwardAuth": {**fa, "trustForwardHeader": True}},
        "fa-distrust": {"forwardAuth": {**fa, "trustForwardHeader": False}},
        "fa-filter": {
            "forwardAuth": {
                **fa,
                "trustForwardHeader": True,
                "authRequestHeaders": ["Accept", "X-Keep"],
            }
        },
        "fa-body": {
            "forwardAuth": {
                **fa,
                "forwardBody": True,
                "maxBodySize": 8,
                "preserveRequestMethod": True,
            }
        },
        "fa-method": {"forwardAuth": {**fa, "preserveRequestMethod": True}},
        "fa-deny": {"forwardAuth": {"address": f"{auth}/deny"}},
        "fa-login": {"forwardAuth": {"address": f"{auth}/login"}},
        "fa-keep": {"forwardAuth": {"address": f"{auth}/login", "preserveLocationHeader": True}},
        "fa-401": {"forwardAuth": {"address": f"{auth}/401"}},
        "fa-signin": {"forwardAuth": {"address": f"{auth}/401", "authSigninURL": "../signin?r=1"}},
        "fa-cookies": {
            "forwardAuth": {"address": f"{auth}/cookies", "addAuthCookiesToResponse": ["session"]}
        },
        "fa-big": {"forwardAuth": {"address": f"{auth}/big", "maxResponseBodySize": 10}},
        "fa-dead": {"forwardAuth": {"address": f"http://127.0.0.1:{free_port()}/"}},
        "fa-scheme": {"forwardAuth": {"address": "ftp://nowhere/"}},
    }


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    assert TRAEFIK is not None
    tmp = tmp_path_factory.mktemp("differential-auth")
    pool = BackendPool()
    try:
        auth = pool.add("auth", auth_server)
        backend = pool.add("backend")
        cookies = pool.add("cookies", backend_cookies)
        mws = middlewares(auth.url)
        routers: dict[str, Any] = {"ready": {"rule": "Path(`/__ready`)", "service": "backend"}}
        for name in mws:
            service = "cookies" if name == "fa-cookies" else "backend"
            routers[name] = {
                "rule": f"Host(`{name}.test`)",
                "service": service,
                "middlewares": [name],
            }
        services = {
            n: {"loadBalancer": {"servers": [{"url": b.url}]}}
            for n, b in (("backend", backend), ("cookies", cookies))
        }
        config = {"http": {"routers": routers, "services": services, "middlewares": mws}}
        probes = [("traefik", "localhost", "/ping", 200), ("web", "ready.test", "/__ready", 200)]
        with traefik_and_edgeway(tmp, TRAEFIK, config, probes) as (traefik, edgeway):
            yield Pair(traefik, edgeway, pool)
    finally:
        pool.close()


_NONCE = re.compile(r'(nonce|opaque)="[^"]*"')


def observe(reply: Reply, received: list[tuple[str, Received]]) -> dict[str, Any]:
    def keep_response(name: str) -> bool:
        return name not in IGNORED_RESPONSE_HEADERS

    def keep_upstream(name: str) -> bool:
        return name not in INTENDED_UPSTREAM

    headers = [(n, _NONCE.sub(r'\1="*"', v)) for n, v in reply.headers]
    return {
        "response": {
            "status": reply.status,
            "headers": header_multiset(headers, keep_response),
            "body": digest(reply.body),
        },
        "upstream": [
            {
                "to": name,
                "method": rec.method,
                "target": rec.target,
                "body": digest(rec.body),
                "headers": header_multiset(rec.headers, keep_upstream),
            }
            for name, rec in received
        ],
    }


def run(
    pair: Pair,
    host: str,
    method: str = "GET",
    target: str = "/",
    headers: list[tuple[str, str]] | None = None,
    body: bytes | None = None,
    port: str = "web",
) -> tuple[dict[str, Any], dict[str, Any]]:
    results = []
    for proxy in (pair.traefik, pair.edgeway):
        snap = pair.pool.snapshot()
        reply = exchange(proxy.port(port), method, target, [("Host", host), *(headers or [])], body)
        results.append(observe(reply, pair.pool.since(snap)))
    return results[0], results[1]


def basic(user: str, password: str) -> tuple[str, str]:
    return ("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())


SCENARIOS: list[Any] = [
    pytest.param("basic.test", "GET", "/", [], None, id="basic-none"),
    pytest.param("basic.test", "GET", "/", [basic("b", "bpass")], None, id="basic-bcrypt"),
    pytest.param("basic.test", "GET", "/", [basic("a", "p@ss wörd")], None, id="basic-apr1"),
    pytest.param("basic.test", "GET", "/", [basic("s", "spass")], None, id="basic-sha"),
    pytest.param("basic.test", "GET", "/", [basic("s", "wrong")], None, id="basic-wrong"),
    pytest.param("basic.test", "GET", "/", [basic("nobody", "x")], None, id="basic-unknown"),
    pytest.param("basic.test", "GET", "/", [basic("plain", "plain")], None, id="basic-plaintext"),
    pytest.param(
        "basic.test", "GET", "/", [("Authorization", "Basic %%%")], None, id="basic-garbage"
    ),
    pytest.param("basic-opts.test", "GET", "/", [], None, id="basic-realm"),
    pytest.param(
        "basic-opts.test",
        "GET",
        "/",
        [basic("s", "spass"), ("X-WebAuth-User", "forged")],
        None,
        id="basic-header-field",
    ),
    pytest.param(
        "fa.test", "GET", "/p?q=1", [("X-User", "forged"), ("User-Agent", "ua/1")], None, id="fa-ok"
    ),
    pytest.param("fa.test", "GET", "/", [], None, id="fa-no-user-agent"),
    pytest.param(
        "fa-regex.test", "GET", "/", [("X-Auth-Old", "x"), ("X-Other", "o")], None, id="fa-regex"
    ),
    pytest.param(
        "fa-trust.test", "GET", "/t", [("X-Forwarded-Prefix", "/pre")], None, id="fa-trust"
    ),
    pytest.param(
        "fa-distrust.test:8080", "GET", "/d", [("X_Forwarded_Uri", "/x")], None, id="fa-distrust"
    ),
    pytest.param(
        "fa-filter.test",
        "GET",
        "/",
        [("Accept", "a/b"), ("X-Keep", "k"), ("X-Drop", "d")],
        None,
        id="fa-filter",
    ),
    pytest.param("fa-body.test", "POST", "/", [], b"12345678", id="fa-body"),
    pytest.param("fa-body.test", "POST", "/", [], b"123456789", id="fa-body-too-large"),
    pytest.param(
        "fa-body.test",
        "POST",
        "/",
        [("Transfer-Encoding", "chunked")],
        [b"ab", b"c"],
        id="fa-body-chunked",
    ),
    pytest.param("fa-method.test", "DELETE", "/", [], None, id="fa-method-delete"),
    pytest.param("fa-method.test", "POST", "/", [], b"data", id="fa-method-post"),
    pytest.param("fa-method.test", "PUT", "/", [], None, id="fa-method-put-no-body"),
    pytest.param("fa-body.test", "POST", "/", [], b"", id="fa-body-empty"),
    pytest.param("fa-body.test", "GET", "/", [], None, id="fa-body-none"),
    pytest.param("fa-deny.test", "GET", "/", [], None, id="fa-deny"),
    pytest.param("fa-login.test", "GET", "/", [], None, id="fa-location"),
    pytest.param("fa-keep.test", "GET", "/", [], None, id="fa-preserve-location"),
    pytest.param("fa-401.test", "GET", "/", [], None, id="fa-401"),
    pytest.param("fa-signin.test", "GET", "/a/b/c", [], None, id="fa-signin"),
    pytest.param("fa-signin.test", "HEAD", "/a/", [], None, id="fa-signin-head"),
    pytest.param("fa-cookies.test", "GET", "/", [], None, id="fa-cookies"),
    pytest.param("fa-big.test", "GET", "/", [], None, id="fa-response-too-large"),
    pytest.param("fa-dead.test", "GET", "/", [], None, id="fa-unreachable"),
    pytest.param("fa-scheme.test", "GET", "/", [], None, id="fa-bad-scheme"),
]


@pytest.mark.parametrize(("host", "method", "target", "headers", "body"), SCENARIOS)
def test_same_as_traefik(
    pair: Pair, host: str, method: str, target: str, headers: list[tuple[str, str]], body: Any
) -> None:
    traefik, edgeway = run(pair, host, method, target, headers, body)
    assert edgeway == traefik, differences(traefik, edgeway)


def digest_answer(
    challenge: str, user: str, password: str, uri: str, nc: str = "00000001", ha1: str | None = None
) -> str:
    fields = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    h1 = (
        ha1
        if ha1 is not None
        else hashlib.md5(f"{user}:{fields['realm']}:{password}".encode()).hexdigest()
    )
    h2 = hashlib.md5(f"GET:{uri}".encode()).hexdigest()
    resp = hashlib.md5(f"{h1}:{fields['nonce']}:{nc}:cn:auth:{h2}".encode()).hexdigest()
    return (
        f'Digest username="{user}", realm="{fields["realm"]}", nonce="{fields["nonce"]}", uri="{uri}", '
        f'qop=auth, nc={nc}, cnonce="cn", response="{resp}", opaque="{fields["opaque"]}", algorithm=MD5'
    )


def digest_flow(pair: Pair, steps: list[dict[str, Any]]) -> tuple[list[Any], list[Any]]:
    """Per proxy: get a challenge, then send each step's answer computed from it."""
    out: list[list[Any]] = []
    for proxy in (pair.traefik, pair.edgeway):
        observed = []
        snap = pair.pool.snapshot()
        first = exchange(proxy.port(), "GET", "/", [("Host", "digest.test")])
        observed.append(observe(first, pair.pool.since(snap)))
        challenge = first.header("WWW-Authenticate") or ""
        for step in steps:
            snap = pair.pool.snapshot()
            header = step.get("raw") or digest_answer(challenge, **step["answer"])
            reply = exchange(
                proxy.port(),
                "GET",
                step.get("target", "/"),
                [("Host", "digest.test"), ("Authorization", header)],
            )
            obs = observe(reply, pair.pool.since(snap))
            for rec in obs["upstream"]:  # the Authorization header carries the proxy's own nonce
                rec["headers"] = [
                    (n, _NONCE.sub(r'\1="*"', v) if n == "authorization" else v)
                    for n, v in rec["headers"]
                ]
                rec["headers"] = [
                    (n, re.sub(r'response="[^"]*"', 'response="*"', v)) for n, v in rec["headers"]
                ]
            observed.append(obs)
        out.append(observed)
    return out[0], out[1]


def test_digest_same_as_traefik(pair: Pair) -> None:
    steps = [
        {"answer": {"user": "u", "password": "pw", "uri": "/"}},
        {"answer": {"user": "u", "password": "pw", "uri": "/"}},  # replayed count
        {"answer": {"user": "u", "password": "pw", "uri": "/", "nc": "00000005"}},
        {"answer": {"user": "u", "password": "pw", "uri": "/", "nc": "00000003"}},  # stale
        {"answer": {"user": "u", "password": "wrong", "uri": "/", "nc": "00000006"}},
        {
            "answer": {"user": "u", "password": "pw", "uri": "/a", "nc": "00000007"},
            "target": "/a/b",
        },
        {"answer": {"user": "u", "password": "pw", "uri": "/z", "nc": "00000008"}, "target": "/a"},
        {"raw": "Digest username="},
        {"raw": 'Digest username="'},
        {"raw": "Basic dTpwdw=="},
        # an unknown user answering with a digest computed from an empty HA1
        {"answer": {"user": "ghost", "password": "", "uri": "/", "nc": "00000009", "ha1": ""}},
    ]
    traefik, edgeway = digest_flow(pair, steps)
    assert edgeway == traefik, differences(traefik, edgeway)


XF = [
    ("X-Forwarded-For", "10.0.0.1"),
    ("X-Forwarded-Proto", "https"),
    ("X-Forwarded-Host", "orig.test"),
    ("X-Forwarded-Uri", "/orig"),
    ("X-Real-Ip", "10.0.0.2"),
    ("X-Forwarded-Prefix", "/pre"),
]


@pytest.mark.parametrize("host", ["fa.test", "fa-trust.test", "fa-distrust.test", "fa-filter.test"])
def test_forwarded_headers_from_trusted_peer(pair: Pair, host: str) -> None:
    """On an entry point that trusts the client's X-Forwarded-* headers."""
    traefik, edgeway = run(
        pair, host, "GET", "/x?y", [*XF, ("Connection", "X-Hop"), ("X-Hop", "h")], port="trusted"
    )
    assert edgeway == traefik, differences(traefik, edgeway)
