"""Differential tests of the path, redirect and small middlewares against real Traefik.

One Traefik and one edgeway on the same dynamic configuration and backends; every
scenario sends the same request to both and compares status, response headers
(minus Date), body, and what the backend received. passTLSClientCert needs TLS
entry points and is covered by unit tests in ``test_mw_paths.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

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
from support import Received

TRAEFIK = require_traefik()

IGNORED = {"date", "connection", "keep-alive"}
#: Intended differences: none. (The request-target of an absolute-form request is
#: not exercised: edgeway's server keeps only its path.)


def untyped(body: bytes) -> Any:
    """A backend answering without Content-Type (for contentType)."""
    return lambda rec: (200, [("Content-Length", str(len(body)))], body)


MIDDLEWARES: dict[str, Any] = {
    "add": {"addPrefix": {"prefix": "/pre"}},
    "add-noslash": {"addPrefix": {"prefix": "pre"}},
    "strip": {"stripPrefix": {"prefixes": [" /strip ", "/s2"]}},
    "strip-force": {"stripPrefix": {"prefixes": ["/sf"], "forceSlash": True}},
    "strip-empty": {"stripPrefix": {"prefixes": [""]}},
    "strip-regex": {"stripPrefixRegex": {"regex": ["/nomatch", "^/sr/[a-z]+"]}},
    "replace": {"replacePath": {"path": "/new/p%2Fq"}},
    "replace-bad": {"replacePath": {"path": "/bad%zz"}},
    "rpr": {"replacePathRegex": {"regex": "^/rpr/(?P<rest>.*)", "replacement": "/x/${rest}/$1"}},
    "rpr-dots": {"replacePathRegex": {"regex": "^/rprd/(.*)", "replacement": "/x/../$1"}},
    "rpr-bad": {"replacePathRegex": {"regex": "^/rprb/(.*)", "replacement": "/%zz$1"}},
    "enc": {"encodedCharacters": {"allowEncodedHash": False}},
    "enc-allow": {
        "encodedCharacters": {
            "allowEncodedSlash": True,
            "allowEncodedBackSlash": True,
            "allowEncodedNullCharacter": True,
            "allowEncodedSemicolon": True,
            "allowEncodedPercent": True,
            "allowEncodedQuestionMark": True,
            "allowEncodedHash": True,
        }
    },
    "to-https": {"redirectScheme": {"scheme": "https", "port": "8443"}},
    "to-https-perm": {"redirectScheme": {"scheme": "https", "port": "443", "permanent": True}},
    "to-http": {"redirectScheme": {"scheme": "http"}},
    "rr": {
        "redirectRegex": {
            "regex": "^http://([^/:]+)(:[0-9]+)?/rr/(.*)",
            "replacement": "https://$1/new/${3} x",
        }
    },
    "rr-perm": {"redirectRegex": {"regex": "/rrp/", "replacement": "/moved/", "permanent": True}},
    "rr-same": {"redirectRegex": {"regex": "^(.*/rrs/.*)$", "replacement": "$1"}},
    "rr-bad": {
        "redirectRegex": {"regex": "^http://[^/]+/rrb/(.*)", "replacement": "http://h:port/$1"}
    },
    "ct": {"contentType": {}},
    "ct-off": {"contentType": {"autoDetect": False}},
}

#: router -> (rule, middlewares, backend responder or None)
ROUTERS: dict[str, tuple[str, list[str], Any]] = {
    "ready": ("Path(`/__ready`)", [], None),
    "add": ("PathPrefix(`/add`)", ["add"], None),
    "add-noslash": ("PathPrefix(`/ans`)", ["add-noslash"], None),
    "strip": ("PathPrefix(`/strip`) || PathPrefix(`/s2`)", ["strip"], None),
    "strip-force": ("PathPrefix(`/sf`)", ["strip-force"], None),
    "strip-empty": ("PathPrefix(`/se`)", ["strip-empty"], None),
    "strip-regex": ("PathPrefix(`/sr`)", ["strip-regex"], None),
    "strip-add": ("PathPrefix(`/s2a`)", ["strip", "add"], None),
    "replace": ("PathPrefix(`/rp`)", ["replace"], None),
    "replace-bad": ("PathPrefix(`/bad`)", ["replace-bad"], None),
    "rpr": ("PathPrefix(`/rpr/`)", ["rpr"], None),
    "rpr-dots": ("PathPrefix(`/rprd/`)", ["rpr-dots"], None),
    "rpr-bad": ("PathPrefix(`/rprb/`)", ["rpr-bad"], None),
    "enc": ("PathPrefix(`/enc/`)", ["enc"], None),
    "enc-allow": ("PathPrefix(`/enca/`)", ["enc-allow"], None),
    "to-https": ("PathPrefix(`/tohttps`)", ["to-https"], None),
    "to-https-perm": ("PathPrefix(`/perm`)", ["to-https-perm"], None),
    "to-http": ("PathPrefix(`/tohttp/`)", ["to-http"], None),
    "rr": ("PathPrefix(`/rr/`)", ["rr"], None),
    "rr-perm": ("PathPrefix(`/rrp/`)", ["rr-perm"], None),
    "rr-same": ("PathPrefix(`/rrs/`)", ["rr-same"], None),
    "rr-bad": ("PathPrefix(`/rrb/`)", ["rr-bad"], None),
    "ct-html": (
        "PathPrefix(`/ct/html`)",
        ["ct"],
        untyped(b"  <!DOCTYPE html><html><body>hi</body></html>"),
    ),
    "ct-png": ("PathPrefix(`/ct/png`)", ["ct"], untyped(b"\x89PNG\r\n\x1a\n" + bytes(20))),
    "ct-bin": ("PathPrefix(`/ct/bin`)", ["ct"], untyped(b"\x00\x01\x02binary")),
    "ct-text": ("PathPrefix(`/ct/text`)", ["ct"], untyped(b"just text")),
    "ct-typed": ("PathPrefix(`/ct/typed`)", ["ct"], None),
    "ct-redirect": ("PathPrefix(`/ct/redirect`)", ["ct", "rr-perm"], None),
    "ct-off": ("PathPrefix(`/ct/off`)", ["ct-off"], untyped(b"<html>")),
    "no-ct": ("PathPrefix(`/noct`)", [], untyped(b"<html>")),
}


def dynamic_configuration(pool: BackendPool) -> dict[str, Any]:
    routers: dict[str, Any] = {}
    services: dict[str, Any] = {}
    for name, (rule, middlewares, responder) in ROUTERS.items():
        backend = pool.add(name, responder)
        routers[name] = {"rule": rule, "service": name, "middlewares": middlewares}
        services[name] = {"loadBalancer": {"servers": [{"url": backend.url}]}}
    return {"http": {"routers": routers, "services": services, "middlewares": MIDDLEWARES}}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    assert TRAEFIK is not None
    tmp = tmp_path_factory.mktemp("differential-paths")
    pool = BackendPool()
    try:
        probes = [("traefik", "localhost", "/ping", 200), ("web", "ready.test", "/__ready", 200)]
        with traefik_and_edgeway(tmp, TRAEFIK, dynamic_configuration(pool), probes) as (
            traefik,
            edgeway,
        ):
            yield Pair(traefik, edgeway, pool)
    finally:
        pool.close()


def observe(reply: Reply, received: list[tuple[str, Received]]) -> dict[str, Any]:
    return {
        "status": reply.status,
        "headers": header_multiset(reply.headers, lambda n: n not in IGNORED),
        "body": digest(reply.body),
        "upstream": [
            {
                "backend": name,
                "method": rec.method,
                "target": rec.target,
                "headers": header_multiset(
                    rec.headers, lambda n: n not in IGNORED and n != "accept-encoding"
                ),
            }
            for name, rec in received
        ],
    }


@dataclass(frozen=True)
class Scenario:
    id: str
    target: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    entrypoint: str = "web"
    host: str = "example.com"


SCENARIOS = [
    Scenario("addprefix", "/add/x?q=1"),
    Scenario("addprefix-encoded", "/add/a%2Fb%20c"),
    Scenario("addprefix-no-slash", "/ans/x"),
    Scenario("stripprefix", "/strip/x/y?z=1"),
    Scenario("stripprefix-second", "/s2/x"),
    Scenario("stripprefix-exact", "/strip"),
    Scenario("stripprefix-no-boundary", "/stripper"),
    Scenario("stripprefix-encoded", "/strip/a%2Fb%20c"),
    Scenario("stripprefix-encoded-in-prefix", "/s%32/x"),
    Scenario("stripprefix-double-slash", "/strip//x"),
    Scenario("stripprefix-dotdot-encoded", "/strip/..%2Fx"),
    Scenario("stripprefix-spoofed-header", "/strip/x", headers=(("X-Forwarded-Prefix", "/evil"),)),
    Scenario("stripprefix-forceslash", "/sf"),
    Scenario("stripprefix-forceslash-rest", "/sf/x"),
    Scenario("stripprefix-forceslash-double", "/sf//x"),
    Scenario("stripprefix-empty-prefix", "/se/x"),
    Scenario("strip-then-add", "/s2a/x"),
    Scenario("stripprefixregex", "/sr/abc/def"),
    Scenario("stripprefixregex-encoded", "/sr/abc/d%2Fe%3F"),
    Scenario("stripprefixregex-digits", "/sr/1/x"),
    Scenario("replacepath", "/rp/old?k=v"),
    Scenario("replacepath-encoded-old", "/rp/o%2Fld"),
    Scenario("replacepath-bad-escape", "/bad"),
    Scenario("replacepathregex", "/rpr/a/b?x=1"),
    Scenario("replacepathregex-encoded", "/rpr/a%2Fb%25"),
    Scenario("replacepathregex-dots", "/rprd/y"),
    Scenario("replacepathregex-bad-escape", "/rprb/y"),
    Scenario("encoded-plain", "/enc/a/b"),
    Scenario("encoded-slash", "/enc/a%2Fb"),
    Scenario("encoded-slash-lower", "/enc/a%2fb"),
    Scenario("encoded-backslash", "/enc/a%5Cb"),
    Scenario("encoded-null", "/enc/a%00b"),
    Scenario("encoded-semicolon", "/enc/a%3Bb"),
    Scenario("encoded-percent", "/enc/a%25b"),
    Scenario("encoded-question", "/enc/a%3Fb"),
    Scenario("encoded-hash", "/enc/a%23b"),
    Scenario("encoded-other", "/enc/a%20b%40"),
    Scenario("encoded-unreserved", "/enc/%41b"),
    Scenario("encoded-allowed", "/enca/a%2Fb%5C%00%3B%25%3F%23"),
    Scenario("redirectscheme-get", "/tohttps/x?y=1"),
    Scenario("redirectscheme-post", "/tohttps/x", method="POST"),
    Scenario("redirectscheme-head", "/tohttps/x", method="HEAD"),
    Scenario("redirectscheme-host-port", "/tohttps/x", host="example.com:8080"),
    Scenario("redirectscheme-ipv6", "/tohttps/x", host="[::1]:8080"),
    Scenario("redirectscheme-permanent", "/perm/x"),
    Scenario("redirectscheme-permanent-put", "/perm/x", method="PUT"),
    Scenario(
        "redirectscheme-untrusted-proto", "/perm/x", headers=(("X-Forwarded-Proto", "https"),)
    ),
    Scenario("redirectscheme-to-http-already", "/tohttp/x"),
    Scenario("redirectscheme-to-http-port80", "/tohttp/x", host="example.com:80"),
    Scenario("redirectregex", "/rr/a/b?c=d", host="example.com:81"),
    Scenario("redirectregex-post", "/rr/a", method="POST"),
    Scenario("redirectregex-permanent", "/rrp/a"),
    Scenario("redirectregex-permanent-delete", "/rrp/a", method="DELETE"),
    Scenario("redirectregex-same-url", "/rrs/a"),
    Scenario("redirectregex-unparsable", "/rrb/a"),
    Scenario("redirectregex-control-char", "/rrb/a%0Ab"),
    Scenario("contenttype-html", "/ct/html"),
    Scenario("contenttype-png", "/ct/png"),
    Scenario("contenttype-binary", "/ct/bin"),
    Scenario("contenttype-text", "/ct/text"),
    Scenario("contenttype-typed", "/ct/typed"),
    Scenario("contenttype-head", "/ct/html", method="HEAD"),
    Scenario("contenttype-redirect-body", "/ct/redirect/rrp/x"),
    Scenario("contenttype-autodetect-false", "/ct/off"),
    Scenario("contenttype-absent", "/noct"),
]


@pytest.mark.parametrize("scenario", [pytest.param(s, id=s.id) for s in SCENARIOS])
def test_same_as_traefik(pair: Pair, scenario: Scenario) -> None:
    seen: dict[str, Any] = {}
    for proxy in (pair.traefik, pair.edgeway):
        snap = pair.pool.snapshot()
        headers = [("Host", scenario.host), *scenario.headers]
        body = b"" if scenario.method in ("POST", "PUT") else None
        reply = exchange(
            proxy.port(scenario.entrypoint), scenario.method, scenario.target, headers, body
        )
        seen[proxy.name] = observe(reply, pair.pool.since(snap))
    assert seen["edgeway"] == seen["traefik"], differences(seen["traefik"], seen["edgeway"])
