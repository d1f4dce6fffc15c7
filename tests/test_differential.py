"""Differential tests: the same requests through real Traefik and through edgeway.

One pair of proxies (subprocesses) serves every scenario: same dynamic
configuration file, same backends. For each scenario the same request goes to
both, and what a user would notice must be equal: the status, the response
headers (minus ``Date``, ``Server`` and hop-by-hop ones), the body, and what the
backend received (method, target, HTTP version, headers, body). Differences
that are intended are listed in ``INTENDED`` with their reason; everything else
is a bug in edgeway (or a new intended difference to document here).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from differential_support import (
    BackendPool,
    Proxy,
    Reply,
    differences,
    digest,
    edgeway_binary,
    exchange,
    expect_continue,
    header_multiset,
    make_proxy,
    raw_request,
    require_traefik,
    running,
)
from support import Received, free_port

TRAEFIK = require_traefik()


# --- intended differences -----------------------------------------------------------------

#: Headers never compared, on either side, and why.
IGNORED_RESPONSE_HEADERS = {
    "date": "set by each server at its own time",
    "server": "neither sets one, but a backend's would be passed through identically",
    "connection": "hop-by-hop: connection management is each server's own business",
    "keep-alive": "hop-by-hop",
}
IGNORED_UPSTREAM_HEADERS = {
    "connection": "hop-by-hop: connection management toward the backend",
    "keep-alive": "hop-by-hop",
}

#: Intended differences in what is compared for every scenario: (where, header) -> reason.
INTENDED = {
    ("upstream", "accept-encoding"): (
        "Go's transport adds `Accept-Encoding: gzip` toward the backend when the client "
        "sent none (and then transparently decompresses the answer); edgeway forwards the "
        "client's Accept-Encoding as is and never decompresses"
    ),
    ("response", "content-length|transfer-encoding"): (
        "framing of a response the backend sent chunked: Traefik (httputil, which flushes "
        "every write of an unknown-length body) keeps it chunked; edgeway answers with a "
        "Content-Length when the whole body came in with the head (it never waits for it). "
        "Length headers are compared only when neither side answered chunked; bodies always"
    ),
}

#: Intended differences of single scenarios: id -> (reason, {path: (traefik, edgeway)}),
#: ``path`` naming a field of the observation (``response.status``). Both values are
#: checked, then the field is taken as equal.
INTENDED_SCENARIOS: dict[str, tuple[str, dict[str, tuple[Any, Any]]]] = {
    "long-url": (
        "a request line longer than maxHeaderBytes: Go has one limit for the whole head "
        "and answers 431; edgeway tells the URI apart and answers 414 URI Too Long",
        {
            "response.status": (431, 414),
            "response.body": (b"431 Request Header Fields Too Large", b"414 Request URI Too Long"),
        },
    ),
}

#: Differences that are edgeway bugs, to be fixed in the engine: id -> description.
#: Their tests are ``xfail(strict=True)``: fixing a bug makes its test pass, and fail
#: here until it is removed from this table.
#: Requests edgeway refuses on purpose where Traefik serves them (xfail, strict).
REFUSED_ON_PURPOSE: dict[str, str] = {
    "content-length-and-chunked": (
        "both Content-Length and Transfer-Encoding: chunked is how request smuggling starts; "
        "RFC 9112 §6.3 allows rejecting it and edgeway's parser (llhttp) answers 400, where "
        "Go drops Content-Length and reads the chunked body"
    ),
    "method-lowercase": (
        "llhttp, edgeway's parser, accepts only the registered methods (GET, PUT, PROPFIND, "
        "... 34 of them) spelled in upper case; `put` gets 400 where Go accepts any token"
    ),
    "unknown-method": (
        "llhttp accepts only registered methods; the extension method `FOO` gets 400 where "
        "Go forwards any token"
    ),
}

KNOWN_BUGS: dict[str, str] = {
    "space-before-colon": (
        "header `X-Bad : 1`: both 400, but Traefik's body is "
        "`400 Bad Request: invalid header name`; edgeway's is `400 Bad Request`"
    ),
}


def check(scenario_id: str, traefik: dict[str, Any], edgeway: dict[str, Any]) -> None:
    """Apply the scenario's intended differences (checking them), then require equality."""
    reason, fields = INTENDED_SCENARIOS.get(scenario_id, ("", {}))
    for path, (t_value, e_value) in fields.items():
        *parents, leaf = path.split(".")
        t_node, e_node = traefik, edgeway
        for key in parents:
            t_node, e_node = t_node[key], e_node[key]
        assert (t_node[leaf], e_node[leaf]) == (t_value, e_value), (
            f"intended difference changed ({reason})"
        )
        e_node[leaf] = t_node[leaf]
    assert edgeway == traefik, differences(traefik, edgeway)


def param(case_id: str, *values: Any) -> Any:
    reason = KNOWN_BUGS.get(case_id) or REFUSED_ON_PURPOSE.get(case_id)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(*(values or (case_id,)), id=case_id, marks=marks)


# --- the shared configuration -------------------------------------------------------------


def redirect(rec: Received) -> tuple[int, list[tuple[str, str]], bytes]:
    return (
        302,
        [
            ("Location", "/login?next=%2Fadmin"),
            ("Set-Cookie", "a=1; Path=/"),
            ("Set-Cookie", "b=2; Path=/"),
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", "0"),
        ],
        b"",
    )


#: router name -> router options; each router gets a service and a backend of its name
#: unless it names its own service.
ROUTERS: dict[str, dict[str, Any]] = {
    "ready": {"rule": "Path(`/__ready`)"},
    # matchers
    "host": {"rule": "Host(`host.test`)"},
    "host-wild": {"rule": "Host(`*.wild.test`)"},
    "hostregexp": {"rule": r"HostRegexp(`^[a-z]+\.re\.test$`)"},
    "path": {"rule": "Path(`/p/exact`)"},
    "pathprefix": {"rule": "PathPrefix(`/pp/`)"},
    "pathregexp": {"rule": "PathRegexp(`^/pr/[0-9]+$`)"},
    "method": {"rule": "Method(`PUT`) && PathPrefix(`/method`)"},
    "method-any": {"rule": "PathPrefix(`/method`)"},
    "header": {"rule": "Header(`X-Env`, `prod`) && PathPrefix(`/hdr`)"},
    "headerregexp": {"rule": "HeaderRegexp(`X-Env`, `^stag.*$`) && PathPrefix(`/hdr`)"},
    "query": {"rule": "Query(`mode`, `fast`) && PathPrefix(`/q`)"},
    "query-key": {"rule": "Query(`flag`) && PathPrefix(`/qk`)"},
    "queryregexp": {"rule": "QueryRegexp(`id`, `^[0-9]+$`) && PathPrefix(`/qr`)"},
    "clientip": {"rule": "ClientIP(`127.0.0.1`) && PathPrefix(`/cip/local`)"},
    "clientip-other": {"rule": "ClientIP(`10.0.0.0/8`) && PathPrefix(`/cip/ten`)"},
    "or": {"rule": "Path(`/or1`) || Path(`/or2`)"},
    "not": {"rule": "PathPrefix(`/negation`) && !Header(`X-Block`, `1`)"},
    "parens": {"rule": "(Path(`/par/a`) || Path(`/par/b`)) && Method(`GET`)"},
    # priorities
    "len-short": {"rule": "PathPrefix(`/len`)"},
    "len-long": {"rule": "PathPrefix(`/len/long`)"},
    "exp-high": {"rule": "PathPrefix(`/exp`)", "priority": 100},
    "exp-low": {"rule": "PathPrefix(`/exp/deeper`)", "priority": 10},
    "host-and-path": {"rule": "Host(`host.test`) && PathPrefix(`/hp`)"},
    # errors
    "dead": {"rule": "PathPrefix(`/dead`)", "service": "dead"},
    "empty": {"rule": "PathPrefix(`/empty`)", "service": "empty"},
    "slow": {"rule": "PathPrefix(`/slow`)", "service": "slow"},
    # middlewares
    "strip": {"rule": "PathPrefix(`/strip`)", "middlewares": ["strip"]},
    "add": {"rule": "PathPrefix(`/add`)", "middlewares": ["add"]},
    "swap": {"rule": "PathPrefix(`/swap`)", "middlewares": ["strip-swap", "add-new"]},
    "headers": {"rule": "PathPrefix(`/headers`)", "middlewares": ["custom-headers"]},
    # services
    "nohost": {"rule": "PathPrefix(`/nohost`)", "service": "nohost"},
    "redirect": {"rule": "PathPrefix(`/redirect`)"},
    "hop": {"rule": "PathPrefix(`/hop`)"},
    "ws": {"rule": "PathPrefix(`/ws`)", "service": "ws"},
    "any": {"rule": "PathPrefix(`/any`)"},
    # support.Backend's own paths (/chunked, /large/<n>, /status/<code>)
    "special": {"rule": "Path(`/chunked`) || PathPrefix(`/large/`) || PathPrefix(`/status/`)"},
}


def hop_by_hop(rec: Received) -> tuple[int, list[tuple[str, str]], bytes]:
    return (
        200,
        [
            ("Connection", "X-Hop"),
            ("X-Hop", "secret"),
            ("Keep-Alive", "timeout=5"),
            ("Proxy-Authenticate", "Basic"),
            ("X-Multi", "1"),
            ("X-Multi", "2"),
            ("Content-Length", "2"),
        ],
        b"ok",
    )


RESPONDERS = {"redirect": redirect, "hop": hop_by_hop}
#: Services defined by hand in ``dynamic_configuration``.
SPECIAL_SERVICES = {"dead", "empty", "slow", "nohost", "ws"}

MIDDLEWARES: dict[str, Any] = {
    "strip": {"stripPrefix": {"prefixes": ["/strip"]}},
    "add": {"addPrefix": {"prefix": "/pre"}},
    "strip-swap": {"stripPrefix": {"prefixes": ["/swap"]}},
    "add-new": {"addPrefix": {"prefix": "/new"}},
    "custom-headers": {
        "headers": {
            "customRequestHeaders": {"X-Added": "yes", "X-Remove-Me": "", "X-Env": "overridden"},
            "customResponseHeaders": {"X-Resp": "r", "X-Backend": ""},
        }
    },
}


def dynamic_configuration(pool: BackendPool, dead_port: int) -> dict[str, Any]:
    routers: dict[str, Any] = {}
    services: dict[str, Any] = {}
    for name, options in ROUTERS.items():
        router = dict(options)
        router.setdefault("service", name)
        routers[name] = router
        if router["service"] == name and name not in SPECIAL_SERVICES:
            backend = pool.add(name, RESPONDERS.get(name))
            services[name] = {"loadBalancer": {"servers": [{"url": backend.url}]}}
    services["dead"] = {"loadBalancer": {"servers": [{"url": f"http://127.0.0.1:{dead_port}"}]}}
    services["empty"] = {"loadBalancer": {"servers": []}}
    slow = pool.add("slow")
    services["slow"] = {
        "loadBalancer": {"serversTransport": "fast", "servers": [{"url": slow.url}]}
    }
    nohost = pool.add("nohost")
    services["nohost"] = {
        "loadBalancer": {"passHostHeader": False, "servers": [{"url": nohost.url}]}
    }
    services["ws"] = {
        "loadBalancer": {"servers": [{"url": f"http://127.0.0.1:{pool.start_ws_echo()}"}]}
    }
    return {
        "http": {
            "routers": routers,
            "services": services,
            "middlewares": MIDDLEWARES,
            "serversTransports": {
                "fast": {"forwardingTimeouts": {"responseHeaderTimeout": "300ms"}}
            },
        }
    }


@dataclass
class Pair:
    traefik: Proxy
    edgeway: Proxy
    pool: BackendPool


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    assert TRAEFIK is not None
    tmp = tmp_path_factory.mktemp("differential")
    pool = BackendPool()
    try:
        dynamic = tmp / "dynamic.yml"
        dynamic.write_text(
            yaml.safe_dump(dynamic_configuration(pool, free_port()), sort_keys=False)
        )
        traefik = make_proxy("traefik", TRAEFIK, tmp / "traefik", dynamic)
        edgeway = make_proxy("edgeway", edgeway_binary(), tmp / "edgeway", dynamic)
        with running([traefik, edgeway]):
            deadline = time.monotonic() + 20
            probes = [
                ("traefik", "localhost", "/ping", 200),
                ("web", "ready.test", "/__ready", 200),
                ("trusted", "ready.test", "/__ready", 200),
            ]
            for proxy in (traefik, edgeway):
                proxy.wait_ready(probes, deadline)
            yield Pair(traefik, edgeway, pool)
    finally:
        pool.close()


# --- observing one exchange ---------------------------------------------------------------


def _chunked(reply: Reply) -> bool:
    return (reply.header("Transfer-Encoding") or "").lower() == "chunked"


def observe_response(reply: Reply, framing: bool) -> dict[str, Any]:
    def keep(name: str) -> bool:
        if name in IGNORED_RESPONSE_HEADERS:
            return False
        return framing or name not in ("content-length", "transfer-encoding")

    return {
        "status": reply.status,
        "informational": reply.informational,
        "headers": header_multiset(reply.headers, keep),
        "body": digest(reply.body),
    }


def observe_upstream(received: list[tuple[str, Received]]) -> list[dict[str, Any]]:
    def keep(name: str) -> bool:
        return name not in IGNORED_UPSTREAM_HEADERS and ("upstream", name) not in INTENDED

    return [
        {
            "backend": name,
            "method": rec.method,
            "target": rec.target,
            "version": rec.http_version,
            "headers": header_multiset(rec.headers, keep),
            "body": digest(rec.body),
        }
        for name, rec in received
    ]


def compare(pair: Pair, send: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``send(proxy) -> Reply`` against both; returns (traefik, edgeway) observations."""
    replies: dict[str, Reply | str] = {}
    upstream: dict[str, list[dict[str, Any]]] = {}
    for proxy in (pair.traefik, pair.edgeway):
        snap = pair.pool.snapshot()
        try:
            replies[proxy.name] = send(proxy)
        except (OSError, ConnectionError) as exc:
            replies[proxy.name] = f"{type(exc).__name__}: {exc}"
        upstream[proxy.name] = observe_upstream(pair.pool.since(snap))
    t, e = replies["traefik"], replies["edgeway"]
    framing = not (isinstance(t, Reply) and _chunked(t)) and not (
        isinstance(e, Reply) and _chunked(e)
    )
    out = []
    for name in ("traefik", "edgeway"):
        reply = replies[name]
        response = observe_response(reply, framing) if isinstance(reply, Reply) else reply
        out.append({"response": response, "upstream": upstream[name]})
    return out[0], out[1]


# --- scenarios ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    id: str
    target: str = "/"
    host: str = "example.com"
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | tuple[bytes, ...] | None = None
    entrypoint: str = "web"

    def send(self, proxy: Proxy) -> Reply:
        headers = (
            [("Host", self.host), *self.headers] if self.host is not None else list(self.headers)
        )
        body = list(self.body) if isinstance(self.body, tuple) else self.body
        return exchange(proxy.port(self.entrypoint), self.method, self.target, headers, body)


SPOOFED = (
    ("X-Forwarded-For", "1.2.3.4"),
    ("X-Forwarded-For", "5.6.7.8"),
    ("X-Forwarded-Host", "spoofed.example"),
    ("X-Forwarded-Proto", "https"),
    ("X-Forwarded-Port", "4443"),
    ("X-Forwarded-Server", "evil"),
    ("X-Forwarded-Prefix", "/evil"),
    ("X-Forwarded-Uri", "/evil"),
    ("X-Forwarded-Method", "DELETE"),
    ("X-Forwarded-Ssl", "on"),
    ("X-Real-Ip", "6.6.6.6"),
    ("Forwarded", "for=9.9.9.9"),
)

BIG = bytes(range(256)) * 12_000  # 3 MB

SCENARIOS = [
    # matchers
    Scenario("host", host="host.test"),
    Scenario("host-with-port", host="host.test:8080"),
    Scenario("host-upper-case", host="HOST.TEST"),
    Scenario("host-trailing-dot", host="host.test."),
    Scenario("host-other", host="other.test"),
    Scenario("host-wildcard-sub", host="a.wild.test"),
    Scenario("host-wildcard-deep", host="a.b.wild.test"),
    Scenario("host-wildcard-apex", host="wild.test"),
    Scenario("hostregexp", host="abc.re.test"),
    Scenario("hostregexp-no", host="ab1.re.test"),
    Scenario("hostregexp-upper-case", host="ABC.re.test"),
    Scenario("path-case-sensitive", target="/P/exact"),
    Scenario("path", target="/p/exact"),
    Scenario("path-trailing-slash", target="/p/exact/"),
    Scenario("pathprefix", target="/pp/a/b?x=1"),
    Scenario("pathprefix-no-slash", target="/pp"),
    Scenario("pathregexp", target="/pr/123"),
    Scenario("pathregexp-no", target="/pr/12a"),
    Scenario("method-put", method="PUT", target="/method", body=b"x"),
    Scenario("method-get", target="/method"),
    Scenario("method-lowercase", method="put", target="/method", body=b"x"),
    Scenario("header", target="/hdr", headers=(("X-Env", "prod"),)),
    Scenario("header-case", target="/hdr", headers=(("x-env", "prod"),)),
    Scenario("headerregexp", target="/hdr", headers=(("X-Env", "staging"),)),
    Scenario("header-none", target="/hdr", headers=(("X-Env", "dev"),)),
    Scenario("query", target="/q?mode=fast"),
    Scenario("query-other-value", target="/q?mode=slow"),
    Scenario("query-repeated", target="/q?mode=slow&mode=fast"),
    Scenario("query-encoded-value", target="/q?mode=f%61st"),
    Scenario("query-plus-space", target="/q?mode=fast+"),
    Scenario("query-key-only", target="/qk?flag"),
    Scenario("query-key-empty-value", target="/qk?flag="),
    Scenario("queryregexp", target="/qr?id=42"),
    Scenario("queryregexp-no", target="/qr?id=4x2"),
    Scenario("clientip", target="/cip/local"),
    Scenario("clientip-other", target="/cip/ten"),
    Scenario(
        "clientip-trusted-xff",
        target="/cip/ten",
        entrypoint="trusted",
        headers=(("X-Forwarded-For", "10.1.2.3"),),
    ),
    Scenario("or-left", target="/or1"),
    Scenario("or-right", target="/or2"),
    Scenario("not", target="/negation"),
    Scenario("not-blocked", target="/negation", headers=(("X-Block", "1"),)),
    Scenario("parens", target="/par/b"),
    Scenario("parens-wrong-method", method="POST", target="/par/b", body=b""),
    # priorities
    Scenario("priority-length-short", target="/len/x"),
    Scenario("priority-length-long", target="/len/long/x"),
    Scenario("priority-explicit", target="/exp/deeper/x"),
    Scenario("priority-host-and-path", target="/hp/x", host="host.test"),
    # errors
    Scenario("404", target="/nothing-here"),
    Scenario("404-head", method="HEAD", target="/nothing-here"),
    Scenario("502", target="/dead"),
    Scenario("503", target="/empty"),
    Scenario("504", target="/slow/2000"),
    Scenario("slow-but-in-time", target="/slow/10"),
    # middlewares
    Scenario("stripprefix", target="/strip/x/y?z=1"),
    Scenario("stripprefix-exact", target="/strip"),
    Scenario("stripprefix-no-boundary", target="/stripper"),
    Scenario("stripprefix-encoded", target="/strip/a%2Fb%20c"),
    Scenario(
        "stripprefix-spoofed-prefix", target="/strip/x", headers=(("X-Forwarded-Prefix", "/evil"),)
    ),
    Scenario("addprefix", target="/add/x?y=2"),
    Scenario("strip-then-add", target="/swap/x"),
    Scenario(
        "headers",
        target="/headers",
        headers=(("X-Remove-Me", "secret"), ("X-Env", "client"), ("X-Kept", "1")),
    ),
    # forwarded headers
    Scenario("forwarded-untrusted", target="/any/xf", host="front.example:8443", headers=SPOOFED),
    Scenario(
        "forwarded-trusted",
        target="/any/xf",
        host="front.example:8443",
        headers=SPOOFED,
        entrypoint="trusted",
    ),
    Scenario(
        "forwarded-trusted-none", target="/any/xf", host="front.example", entrypoint="trusted"
    ),
    Scenario(
        "hop-by-hop-request",
        target="/any/hop",
        headers=(
            ("Connection", "X-Secret, keep-alive"),
            ("X-Secret", "hop"),
            ("Keep-Alive", "timeout=5"),
            ("Proxy-Connection", "keep-alive"),
            ("TE", "trailers"),
            ("X-Custom", "kept"),
        ),
    ),
    Scenario("user-agent", target="/any/ua", headers=(("User-Agent", "curl/8.0"),)),
    Scenario("accept-encoding", target="/any/ae", headers=(("Accept-Encoding", "gzip, br"),)),
    Scenario("default-entrypoint-excludes-traefik", target="/any/x", entrypoint="traefik"),
    # services
    Scenario("passhostheader-false", target="/nohost/x", host="front.example"),
    Scenario("redirect-location-cookies", target="/redirect"),
    Scenario("hop-by-hop-response", target="/hop"),
    Scenario(
        "repeated-request-headers",
        target="/any/multi",
        headers=(("X-Multi", "1"), ("X-Multi", "2"), ("Cookie", "a=1"), ("Cookie", "b=2")),
    ),
    # paths and queries
    Scenario("encoded-slash", target="/any/a%2Fb"),
    Scenario("encoded-space", target="/any/a%20b"),
    Scenario("encoded-unreserved", target="/any/%7Euser/%41"),
    Scenario("encoded-slash-in-prefix", target="/pp%2Fx"),
    Scenario("dot-segments", target="/pp/../p/exact"),
    Scenario("double-slash", target="/pp//x"),
    Scenario("query-semicolon", target="/any/s?a=1;b=2"),
    Scenario("query-encoded", target="/any/s?q=a%20b&r=%2F&s=a+b"),
    Scenario("query-empty", target="/any/s?"),
    Scenario("absolute-form-target", target="http://host.test/any/abs"),
    # bodies
    Scenario("post-body", method="POST", target="/any/post", body=b"hello=world"),
    Scenario(
        "chunked-request",
        method="POST",
        target="/any/chunked",
        headers=(("Transfer-Encoding", "chunked"),),
        body=(b"hello", b" ", b"world"),
    ),
    Scenario("large-request", method="POST", target="/any/upload", body=BIG),
    Scenario(
        "large-chunked-request",
        method="POST",
        target="/any/upload",
        headers=(("Transfer-Encoding", "chunked"),),
        body=tuple(BIG[i : i + 100_000] for i in range(0, len(BIG), 100_000)),
    ),
    Scenario("large-response", target="/large/4000000"),
    Scenario("chunked-response", target="/chunked"),
    Scenario("head", method="HEAD", target="/any/head"),
    Scenario("head-large", method="HEAD", target="/large/100000"),
    Scenario("status-204", target="/status/204"),
    Scenario("status-304", target="/status/304"),
    Scenario("status-418", target="/status/418"),
    Scenario("status-500", target="/status/500"),
    Scenario("options", method="OPTIONS", target="/any/opt"),
    Scenario("delete-with-body", method="DELETE", target="/any/del", body=b"gone"),
]


@pytest.mark.parametrize("scenario", [param(sc.id, sc) for sc in SCENARIOS])
def test_same_as_traefik(pair: Pair, scenario: Scenario) -> None:
    traefik, edgeway = compare(pair, scenario.send)
    check(scenario.id, traefik, edgeway)


RAW_CASES = {
    "expect-100-continue": (b"/any/expect", b"hello"),
    "expect-100-continue-no-route": (b"/nothing-here", b"hello"),
}


@pytest.mark.parametrize("case", [param(c) for c in RAW_CASES])
def test_expect_100_continue(pair: Pair, case: str) -> None:
    path, body = RAW_CASES[case]
    head = (
        b"PUT "
        + path
        + b" HTTP/1.1\r\nHost: example.com\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
    )
    traefik, edgeway = compare(pair, lambda proxy: expect_continue(proxy.port(), head, body))
    check(case, traefik, edgeway)
    # Guard the scenario itself: a routed request gets its interim 100, then the answer.
    if case == "expect-100-continue":
        assert traefik["response"]["informational"] == [100]
        assert traefik["upstream"][0]["body"] == body


RAW_REQUESTS = {
    "http10": (b"GET /any/h10 HTTP/1.0\r\nHost: example.com\r\n\r\n", "GET"),
    "http10-no-host": (b"GET /any/h10 HTTP/1.0\r\n\r\n", "GET"),
    "no-host-http11": (b"GET /any/x HTTP/1.1\r\nConnection: close\r\n\r\n", "GET"),
    "bad-percent-encoding": (
        b"GET /any/%zz HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
        "GET",
    ),
    "two-host-headers": (
        b"GET /any/x HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\nConnection: close\r\n\r\n",
        "GET",
    ),
    "content-length-and-chunked": (
        b"POST /any/x HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "POST",
    ),
    "space-before-colon": (
        b"GET /any/x HTTP/1.1\r\nHost: example.com\r\nX-Bad : 1\r\nConnection: close\r\n\r\n",
        "GET",
    ),
    "options-asterisk": (
        b"OPTIONS * HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
        "OPTIONS",
    ),
    "long-url": (
        b"GET /any/"
        + b"a" * 1_100_000
        + b" HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
        "GET",
    ),
    "big-header": (
        b"GET /any/x HTTP/1.1\r\nHost: example.com\r\nX-Big: "
        + b"a" * 1_100_000
        + b"\r\nConnection: close\r\n\r\n",
        "GET",
    ),
    "unknown-method": (
        b"FOO /any/x HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
        "FOO",
    ),
}


@pytest.mark.parametrize("case", [param(c) for c in RAW_REQUESTS])
def test_raw_requests(pair: Pair, case: str) -> None:
    head, method = RAW_REQUESTS[case]
    traefik, edgeway = compare(pair, lambda proxy: raw_request(proxy.port(), head, method))
    check(case, traefik, edgeway)


def test_websocket_echo(pair: Pair) -> None:
    from websockets.sync.client import connect

    results: dict[str, Any] = {}
    for proxy in (pair.traefik, pair.edgeway):
        before = len(pair.pool.ws_received)
        with connect(
            f"ws://127.0.0.1:{proxy.port()}/ws/chat?room=1",
            additional_headers={"X-Forwarded-For": "1.2.3.4"},
            open_timeout=5,
        ) as ws:
            echoes = []
            for message in ("m0", "m1", "x" * 300_000):
                ws.send(message)
                echoes.append(digest(str(ws.recv(timeout=5)).encode()))
            response = ws.response
            assert response is not None
            status = response.status_code
            headers = header_multiset(
                list(response.headers.raw_items()),
                lambda n: n not in IGNORED_RESPONSE_HEADERS or n == "connection",
            )
        received = pair.pool.ws_received[before:]
        port = str(proxy.port())
        results[proxy.name] = {
            "status": status,
            "headers": headers,
            "echoes": echoes,
            "backend": [
                (
                    r.path,
                    [
                        (n, v.replace(port, "<proxy port>"))
                        for n, v in header_multiset(
                            r.headers,
                            lambda n: (
                                n not in IGNORED_UPSTREAM_HEADERS
                                and n not in ("sec-websocket-key",)
                                and ("upstream", n) not in INTENDED
                            ),
                        )
                    ],
                )
                for r in received
            ],
        }
    # The handshake's key differs per connection, so its answer does too.
    for result in results.values():
        result["headers"] = [(n, v) for n, v in result["headers"] if n != "sec-websocket-accept"]
    assert results["edgeway"] == results["traefik"], differences(
        results["traefik"], results["edgeway"]
    )
