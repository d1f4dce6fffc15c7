"""Differential tests of ``headers``, ``compress``, ``buffering`` and ``errors`` against real Traefik.

One Traefik and one edgeway serve the same dynamic configuration and backends.
For each scenario the same request goes to both; compared are the status, the
response headers (minus ``Date``, hop-by-hop and framing headers), the body —
decoded when compressed, since compressors differ byte for byte — and what the
backends received. Intended differences are listed with their reason.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import brotli
import pytest
import zstandard
from differential_support import (
    BackendPool,
    Pair,
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

#: Response headers never compared, and why.
IGNORED_RESPONSE = {
    "date": "each server's own clock",
    "connection": "hop-by-hop",
    "keep-alive": "hop-by-hop",
    "content-length": "framing: Traefik's writers flush (chunked) where edgeway may know the length; bodies are compared",
    "transfer-encoding": "framing, as content-length",
}
#: Upstream headers never compared, and why.
IGNORED_UPSTREAM = {
    "connection": "hop-by-hop",
    "keep-alive": "hop-by-hop",
    "accept-encoding": "Go's transport adds `gzip` when the client sent none (see test_differential)",
}
#: The CSP nonce, random on each request: compared by shape.
NONCE = re.compile(r"(?<=nonce-)[A-Za-z0-9+/]{22}(?=')|(?<=EXTRA string=)[A-Za-z0-9+/]{22}(?=\))")

TEXT = b"The quick brown fox jumps over the lazy dog. " * 100


def respond(rec: Received) -> tuple[int, list[tuple[str, str]], bytes]:
    parts = rec.target.split("?")[0].split("/")
    kind = parts[2] if len(parts) > 2 else ""
    head = rec.method == "HEAD"
    if kind == "text":
        n = int(parts[3])
        ctype = "/".join(parts[4:6]) if len(parts) > 5 else "text/plain"
        return 200, [("Content-Type", ctype), ("Content-Length", str(n))], b"" if head else TEXT[:n]
    if kind == "chunked":
        return 200, [("Content-Type", "text/plain")], TEXT[: int(parts[3])]
    if kind == "untyped":
        return 200, [("Content-Length", str(len(TEXT)))], TEXT
    if kind == "encoded":
        return 200, [("Content-Encoding", "custom"), ("Content-Length", str(len(TEXT)))], TEXT
    if kind == "status":
        code = int(parts[3])
        body = f"original {code}".encode()
        return code, [("Content-Length", str(len(body))), ("X-Original", "1")], body
    if kind == "vary":
        return 200, [("Vary", "Accept-Language"), ("Content-Length", "2")], b"ok"
    body = f"page {rec.method} {rec.target}".encode()
    return 200, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))], body


MIDDLEWARES: dict[str, Any] = {
    "custom": {"headers": {"customRequestHeaders": {"X-Added": "yes", "X-Gone": "", "X-Forwarded-For": ""},
                           "customResponseHeaders": {"X-Resp": "r", "X-Original": ""}}},
    "cors": {"headers": {"accessControlAllowMethods": ["GET", "PUT"], "accessControlAllowHeaders": ["X-A"],
                         "accessControlAllowOriginList": ["https://a.test"],
                         "accessControlAllowOriginListRegex": [r"^https://.*\.r\.test$"],
                         "accessControlExposeHeaders": ["X-E"], "accessControlMaxAge": 600, "addVaryHeader": True}},
    "corscred": {"headers": {"accessControlAllowCredentials": True, "accessControlAllowMethods": ["*"],
                             "accessControlAllowHeaders": ["*"], "accessControlAllowOriginList": ["*"],
                             "accessControlExposeHeaders": ["*"]}},
    "secure": {"headers": {"stsSeconds": 315, "stsIncludeSubdomains": True, "stsPreload": True, "frameDeny": True,
                           "contentTypeNosniff": True, "browserXssFilter": True,
                           "contentSecurityPolicy": "default-src 'self'",
                           "contentSecurityPolicyReportOnly": "script-src $NONCE", "publicKey": "pin",
                           "referrerPolicy": "same-origin", "permissionsPolicy": "camera=()",
                           "sslProxyHeaders": {"X-Proto": "https"}}},
    "secure2": {"headers": {"stsSeconds": 60, "forceSTSHeader": True, "customFrameOptionsValue": "SAMEORIGIN",
                            "customBrowserXSSValue": "0", "referrerPolicy": "no-referrer",
                            "customResponseHeaders": {"Referrer-Policy": ""}}},
    "hosts": {"headers": {"allowedHosts": ["good.test"], "hostsProxyHeaders": ["X-Host"],
                          "customResponseHeaders": {"X-Outer": "1"}}},
    "deprecated": {"headers": {"sslRedirect": True, "sslHost": "other.test", "featurePolicy": "x"}},
    "c": {"compress": {}},
    "cmin": {"compress": {"minResponseBodyBytes": 100}},
    "corder": {"compress": {"encodings": ["zstd", "br", "gzip"]}},
    "cdefault": {"compress": {"encodings": ["br", "gzip"], "defaultEncoding": "br"}},
    "cdefaultgz": {"compress": {"defaultEncoding": "gzip"}},
    "cexcl": {"compress": {"excludedContentTypes": ["text/plain"]}},
    "cincl": {"compress": {"includedContentTypes": ["text/html"]}},
    "b": {"buffering": {"maxRequestBodyBytes": 2000, "memRequestBodyBytes": 100,
                        "maxResponseBodyBytes": 3000, "memResponseBodyBytes": 10}},
    "bretry": {"buffering": {"retryExpression": "IsNetworkError() && Attempts() < 3"}},
    "e": {"errors": {"status": ["500-599", "404"], "service": "app", "query": "/x/page/{status}?u={url}"}},
    "erewrite": {"errors": {"status": ["418"], "statusRewrites": {"418": 404}, "service": "app",
                            "query": "/x/page/{status}/{originalStatus}"}},
    "eheaders": {"errors": {"status": ["500"], "service": "app", "errorRequestHeaders": ["X-Keep"]}},
    "tag": {"headers": {"customRequestHeaders": {"X-Order": "outer"}, "customResponseHeaders": {"X-Order": "outer"}}},
    "tag2": {"headers": {"customRequestHeaders": {"X-Order": "inner"}, "customResponseHeaders": {"X-Order": "inner", "X-Inner": "1"}}},
}  # fmt: skip

#: Routers with several middlewares: the order in which response work happens
#: (edgeway defers it to the server when nothing around reads the response).
CHAINS = {
    "order": ["tag", "tag2"],
    "tag-errors": ["tag", "e"],
    "errors-tag": ["e", "tag"],
    "errors-secure": ["e", "secure2"],
    "errors-cors": ["e", "cors"],
    "limit-tag": ["tag", "strip", "tag2"],
}


def dynamic_configuration(pool: BackendPool, dead_port: int) -> dict[str, Any]:
    app = pool.add("app", respond)
    routers: dict[str, Any] = {"ready": {"rule": "Path(`/__ready`)", "service": "app"}}
    for name in MIDDLEWARES:
        routers[name] = {"rule": f"PathPrefix(`/{name}/`)", "service": "app", "middlewares": [name]}
    routers["dead"] = {"rule": "PathPrefix(`/dead/`)", "service": "dead", "middlewares": ["bretry"]}
    for name, chain in CHAINS.items():
        routers[name] = {"rule": f"PathPrefix(`/{name}/`)", "service": "app", "middlewares": chain}
    return {
        "http": {
            "routers": routers,
            "middlewares": {**MIDDLEWARES, "strip": {"stripPrefix": {"prefixes": ["/limit-tag"]}}},
            "services": {
                "app": {"loadBalancer": {"servers": [{"url": app.url}]}},
                "dead": {"loadBalancer": {"servers": [{"url": f"http://127.0.0.1:{dead_port}"}]}},
            },
        }
    }


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    assert TRAEFIK is not None
    from support import free_port

    tmp = tmp_path_factory.mktemp("differential-content")
    pool = BackendPool()
    try:
        probes = [("traefik", "localhost", "/ping", 200), ("web", "ready.test", "/__ready", 200)]
        config = dynamic_configuration(pool, free_port())
        with traefik_and_edgeway(tmp, TRAEFIK, config, probes) as (traefik, edgeway):
            yield Pair(traefik, edgeway, pool)
    finally:
        pool.close()


def decoded(reply: Reply) -> bytes:
    enc = reply.header("Content-Encoding")
    if enc == "gzip":
        return gzip.decompress(reply.body)
    if enc == "br":
        return brotli.decompress(reply.body)
    if enc == "zstd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(reply.body)
    return reply.body


def observe(reply: Reply) -> dict[str, Any]:
    headers = [
        (n, NONCE.sub("<nonce>", v) if n.startswith("content-security-policy") else v)
        for n, v in header_multiset(reply.headers, lambda n: n not in IGNORED_RESPONSE)
    ]
    return {"status": reply.status, "headers": headers, "body": digest(decoded(reply))}


def observe_upstream(received: list[tuple[str, Received]]) -> list[dict[str, Any]]:
    return [
        {
            "method": rec.method,
            "target": rec.target,
            "headers": header_multiset(rec.headers, lambda n: n not in IGNORED_UPSTREAM),
            "body": digest(rec.body),
        }
        for _, rec in received
    ]


@dataclass(frozen=True)
class Case:
    id: str
    target: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | tuple[bytes, ...] | None = None
    host: str = "example.com"


CASES = [
    Case("custom", "/custom/x", headers=(("X-Gone", "1"), ("X-Forwarded-For", "9.9.9.9"))),
    Case(
        "cors-preflight",
        "/cors/x",
        "OPTIONS",
        (("Origin", "https://a.test"), ("Access-Control-Request-Method", "PUT")),
    ),
    Case("cors-regex", "/cors/vary/", headers=(("Origin", "https://x.r.test"),)),
    Case("cors-refused", "/cors/x", headers=(("Origin", "https://evil.test"),)),
    Case("cors-no-origin", "/cors/x"),
    Case(
        "cors-credentials-preflight",
        "/corscred/x",
        "OPTIONS",
        (
            ("Origin", "https://o.test"),
            ("Access-Control-Request-Method", "PATCH"),
            ("Access-Control-Request-Headers", "X-Q"),
        ),
    ),
    Case("cors-credentials", "/corscred/x", headers=(("Origin", "https://o.test"),)),
    Case("cors-credentials-no-origin", "/corscred/x"),
    Case("secure-http", "/secure/x"),
    Case("secure-ssl-header", "/secure/x", headers=(("X-Proto", "https"),)),
    Case("secure-forced", "/secure2/x"),
    Case("hosts-bad", "/hosts/x", host="good.test", headers=(("X-Host", "evil.test"),)),
    Case("hosts-good", "/hosts/x", host="GOOD.test"),
    Case("hosts-port", "/hosts/x", host="good.test:80"),
    Case("deprecated", "/deprecated/x"),
    *[
        Case(f"compress-{ae or 'empty'}", "/c/text/4500", headers=(("Accept-Encoding", ae),))
        for ae in (
            "gzip",
            "br",
            "zstd",
            "gzip, br, zstd",
            "gzip;q=0.5, br;q=0.8",
            "br;q=0, gzip",
            "*",
            "identity",
            "deflate",
            "",
            "gzip;q=abc",
        )
    ],
    Case("compress-none", "/c/text/4500"),
    Case("compress-order", "/corder/text/4500", headers=(("Accept-Encoding", "gzip, br, zstd"),)),
    Case("compress-order-wildcard", "/corder/text/4500", headers=(("Accept-Encoding", "*"),)),
    Case("compress-default", "/cdefault/text/4500"),
    Case("compress-default-gzip", "/cdefaultgz/text/4500"),
    Case("compress-small", "/c/text/1023", headers=(("Accept-Encoding", "br"),)),
    Case("compress-min", "/c/text/1024", headers=(("Accept-Encoding", "gzip"),)),
    Case("compress-min-configured", "/cmin/text/100", headers=(("Accept-Encoding", "zstd"),)),
    Case("compress-head", "/c/text/4500", "HEAD", (("Accept-Encoding", "gzip"),)),
    Case("compress-encoded", "/c/encoded/", headers=(("Accept-Encoding", "br"),)),
    Case("compress-grpc", "/c/text/4500/application/grpc", headers=(("Accept-Encoding", "gzip"),)),
    Case(
        "compress-request-grpc",
        "/c/text/4500",
        headers=(("Accept-Encoding", "gzip"), ("Content-Type", "application/grpc")),
    ),
    *[
        Case(f"compress-chunked-{ae}", "/c/chunked/50", headers=(("Accept-Encoding", ae),))
        for ae in ("gzip", "br", "zstd")
    ],
    *[
        Case(f"compress-excluded-{ae}", "/cexcl/text/4500", headers=(("Accept-Encoding", ae),))
        for ae in ("gzip", "br")
    ],
    Case(
        "compress-excluded-other",
        "/cexcl/text/4500/text/html",
        headers=(("Accept-Encoding", "zstd"),),
    ),
    *[
        Case(f"compress-untyped-{ae}", "/cincl/untyped/", headers=(("Accept-Encoding", ae),))
        for ae in ("gzip", "br")
    ],
    Case("compress-untyped", "/c/untyped/", headers=(("Accept-Encoding", "gzip"),)),
    Case(
        "buffer-chunked",
        "/b/x",
        "POST",
        (("Transfer-Encoding", "chunked"),),
        (b"a" * 700, b"b" * 800),
    ),
    Case("buffer-empty", "/b/x", "POST", body=b""),
    Case("buffer-too-large", "/b/x", "POST", body=b"a" * 2001),
    Case(
        "buffer-too-large-chunked",
        "/b/x",
        "POST",
        (("Transfer-Encoding", "chunked"),),
        (b"a" * 1000, b"b" * 1001),
    ),
    Case("buffer-response", "/b/text/3000"),
    Case("buffer-response-too-large", "/b/text/3001"),
    Case("buffer-retry", "/dead/x"),
    Case("errors-502", "/e/status/502?a=b", headers=(("X-Client", "c"),)),
    Case("errors-404", "/e/status/404"),
    Case("errors-uncaught", "/e/status/403"),
    Case("errors-rewrite", "/erewrite/status/418"),
    Case("errors-headers", "/eheaders/status/500", headers=(("X-Keep", "k"), ("X-Drop", "d"))),
    Case("chain-order", "/order/x"),
    Case("chain-headers-around-errors", "/tag-errors/status/500"),
    Case("chain-headers-around-ok", "/tag-errors/x"),
    Case("chain-errors-around-headers", "/errors-tag/status/500"),
    Case("chain-errors-around-headers-ok", "/errors-tag/x"),
    Case("chain-errors-around-secure", "/errors-secure/status/502"),
    Case("chain-errors-around-secure-ok", "/errors-secure/x"),
    Case(
        "chain-errors-around-cors-preflight",
        "/errors-cors/x",
        "OPTIONS",
        (("Origin", "https://a.test"), ("Access-Control-Request-Method", "PUT")),
    ),
    Case("chain-errors-around-cors", "/errors-cors/x", headers=(("Origin", "https://a.test"),)),
    Case("chain-strip-between-headers", "/limit-tag/x"),
]

#: Scenario -> (reason, {path: (traefik, edgeway)}) for differences that are intended.
INTENDED: dict[str, tuple[str, dict[str, tuple[Any, Any]]]] = {}


def send(proxy: Proxy, case: Case) -> Reply:
    headers = [("Host", case.host), *case.headers]
    body = list(case.body) if isinstance(case.body, tuple) else case.body
    return exchange(proxy.port("web"), case.method, case.target, headers, body)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_same_as_traefik(pair: Pair, case: Case) -> None:
    out = {}
    for proxy in (pair.traefik, pair.edgeway):
        snap = pair.pool.snapshot()
        reply = send(proxy, case)
        out[proxy.name] = {
            "response": observe(reply),
            "upstream": observe_upstream(pair.pool.since(snap)),
        }
    reason, fields = INTENDED.get(case.id, ("", {}))
    for path, (t_value, e_value) in fields.items():
        *parents, leaf = path.split(".")
        t_node, e_node = out["traefik"], out["edgeway"]
        for key in parents:
            t_node, e_node = t_node[key], e_node[key]
        assert (t_node[leaf], e_node[leaf]) == (t_value, e_value), (
            f"intended difference changed ({reason})"
        )
        e_node[leaf] = t_node[leaf]
    assert out["edgeway"] == out["traefik"], differences(out["traefik"], out["edgeway"])
