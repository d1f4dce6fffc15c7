"""End-to-end tests of the ``headers`` middleware: custom, CORS and security headers."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import Client, backends, edgeway, get

pytestmark = pytest.mark.anyio

MIDDLEWARES = {
    "custom": """{customRequestHeaders: {X-Added: "yes", X-Gone: "", X-Forwarded-For: "", Host: "rewritten.test"},
                  customResponseHeaders: {X-Resp: "r", X-Backend: ""}}""",
    "cors": """{accessControlAllowMethods: [GET, PUT], accessControlAllowHeaders: [X-A, X-B],
                accessControlAllowOriginList: ["https://a.test"], accessControlAllowOriginListRegex: ["^https://.*\\\\.r\\\\.test$"],
                accessControlExposeHeaders: [X-E], accessControlMaxAge: 600, addVaryHeader: true}""",
    "corscred": """{accessControlAllowCredentials: true, accessControlAllowMethods: ["*"], accessControlAllowHeaders: ["*"],
                    accessControlAllowOriginList: ["*"], accessControlExposeHeaders: ["*"]}""",
    "star": """{accessControlAllowOriginList: ["*"]}""",
    "secure": """{stsSeconds: 31536000, stsIncludeSubdomains: true, stsPreload: true, frameDeny: true,
                  contentTypeNosniff: true, browserXssFilter: true, contentSecurityPolicy: "default-src 'self'",
                  contentSecurityPolicyReportOnly: "script-src $NONCE", publicKey: "pin-sha256=x",
                  referrerPolicy: same-origin, permissionsPolicy: "camera=()", sslProxyHeaders: {X-Proto: https}}""",
    "secure2": """{stsSeconds: 60, forceSTSHeader: true, customFrameOptionsValue: SAMEORIGIN,
                   customBrowserXSSValue: "0", customResponseHeaders: {Referrer-Policy: ""}, referrerPolicy: no-referrer}""",
    "hosts": """{allowedHosts: [good.test], hostsProxyHeaders: [X-Host], customResponseHeaders: {X-Outer: "1"}}""",
    "devhosts": """{allowedHosts: [good.test], isDevelopment: true, stsSeconds: 5, forceSTSHeader: true}""",
    "deprecated": """{sslRedirect: true, sslHost: other.test, sslForceHost: true, featurePolicy: "x"}""",
    "empty": "{}",
    "badregex": """{accessControlAllowOriginListRegex: ["("]}""",
}


def config(url: str) -> str:
    lines = ["http:", "  middlewares:"]
    lines += [f"    {name}: {{headers: {body}}}" for name, body in MIDDLEWARES.items()]
    lines += ["  routers:"]
    for name in MIDDLEWARES:
        lines.append(
            f"    {name}: {{rule: 'PathPrefix(`/{name}`)', service: app, middlewares: [{name}]}}"
        )
    lines += ["  services:", f"    app: {{loadBalancer: {{servers: [{{url: '{url}'}}]}}}}"]
    return "\n".join(lines) + "\n"


async def test_headers_middleware(tmp_path: Path) -> None:
    async with backends("app") as (app,), edgeway(tmp_path, config(app.url)) as ew:
        port = ew.port()

        # Custom request headers: set, delete, no X-Forwarded-For, Host rewritten; response headers set/deleted.
        r = await get(port, "/custom", headers=[("X-Gone", "1"), ("X-Forwarded-For", "9.9.9.9")])
        rec = app.received[-1]
        assert (rec.header("X-Added"), rec.header("X-Gone"), rec.header("X-Forwarded-For")) == (
            "yes",
            None,
            None,
        )
        assert rec.header("Host") == "rewritten.test"
        assert r.header("X-Resp") == "r" and r.header("X-Backend") is None

        # CORS preflight answered by the proxy.
        before = len(app.received)
        c = await Client.connect(port)
        pre = await c.request(
            "OPTIONS",
            "/cors",
            headers=[("Origin", "https://a.test"), ("Access-Control-Request-Method", "PUT")],
        )
        await c.close()
        assert len(app.received) == before  # the backend never saw it
        assert pre.status == 200 and pre.body == b"" and pre.header("Content-Length") == "0"
        assert pre.header("Access-Control-Allow-Methods") == "GET,PUT"
        assert pre.header("Access-Control-Allow-Headers") == "X-A,X-B"
        assert pre.header("Access-Control-Allow-Origin") == "https://a.test"
        assert pre.header("Access-Control-Max-Age") == "600"
        assert pre.header("Access-Control-Expose-Headers") == "X-E"
        assert pre.header("Access-Control-Allow-Credentials") is None
        # Simple CORS request: origin from the regex, expose, Vary.
        r = await get(port, "/cors", headers=[("Origin", "https://x.r.test")])
        assert r.header("Access-Control-Allow-Origin") == "https://x.r.test"
        assert r.header("Access-Control-Expose-Headers") == "X-E" and r.header("Vary") == "Origin"
        r = await get(port, "/cors", headers=[("Origin", "https://evil.test")])
        assert r.header("Access-Control-Allow-Origin") is None
        # Wildcards with credentials echo the request instead.
        c = await Client.connect(port)
        pre = await c.request(
            "OPTIONS",
            "/corscred",
            headers=[
                ("Origin", "https://o.test"),
                ("Access-Control-Request-Method", "PATCH"),
                ("Access-Control-Request-Headers", "X-Q"),
            ],
        )
        await c.close()
        assert pre.header("Access-Control-Allow-Origin") == "https://o.test"
        assert pre.header("Access-Control-Allow-Methods") == "PATCH"
        assert pre.header("Access-Control-Allow-Headers") == "X-Q"
        assert pre.header("Access-Control-Allow-Credentials") == "true"
        assert pre.header("Access-Control-Expose-Headers") is None
        r = await get(port, "/star")
        assert r.header("Access-Control-Allow-Origin") == "*"

        # Security headers over plain HTTP: no STS or HPKP unless an SSL proxy header says https.
        r = await get(port, "/secure")
        assert r.header("Strict-Transport-Security") is None and r.header("Public-Key-Pins") is None
        assert (
            r.header("X-Frame-Options") == "DENY"
            and r.header("X-Content-Type-Options") == "nosniff"
        )
        assert r.header("X-Xss-Protection") == "1; mode=block"
        nonce1 = r.header("Content-Security-Policy-Report-Only")
        assert (
            nonce1 is not None
            and nonce1.startswith("script-src 'nonce-")
            and len(nonce1) == len("script-src 'nonce-'") + 22
        )
        # Go's Sprintf of a policy without the nonce appends it as an EXTRA argument, as Traefik does.
        assert (
            r.header("Content-Security-Policy")
            == f"default-src 'self'%!(EXTRA string={nonce1[18:40]})"
        )
        assert (
            r.header("Referrer-Policy") == "same-origin"
            and r.header("Permissions-Policy") == "camera=()"
        )
        r = await get(port, "/secure", headers=[("X-Proto", "https")])
        assert (
            r.header("Strict-Transport-Security") == "max-age=31536000; includeSubDomains; preload"
        )
        assert r.header("Public-Key-Pins") == "pin-sha256=x"
        assert r.header("Content-Security-Policy-Report-Only") != nonce1
        r = await get(port, "/secure2")
        assert r.header("Strict-Transport-Security") == "max-age=60"
        assert (r.header("X-Frame-Options"), r.header("X-Xss-Protection")) == ("SAMEORIGIN", "0")
        assert r.header("Referrer-Policy") is None  # a custom response header deletes it

        # Allowed hosts, through a proxy header; the refusal still gets the custom response headers.
        bad = await get(port, "/hosts", host="good.test", headers=[("X-Host", "evil.test")])
        assert (bad.status, bad.body, bad.header("X-Outer")) == (500, b"Bad Host\n", "1")
        assert (await get(port, "/hosts", host="good.test")).status in (200,)
        assert (await get(port, "/hosts", host="GOOD.test")).status == 200
        assert (
            await get(port, "/hosts", host="good.test:80")
        ).status == 500  # the port is part of the host
        r = await get(port, "/devhosts", host="evil.test")
        assert r.status == 200 and r.header("Strict-Transport-Security") is None

        # Deprecated options are accepted and do nothing.
        r = await get(port, "/deprecated")
        assert (
            r.status == 200 and r.header("Feature-Policy") is None and r.header("Location") is None
        )

        # Invalid configurations: the routers using them are in error.
        assert "headers configuration not valid" in " ".join(
            ew.runtime.middlewares["empty@file"].errors
        )
        assert "origin parsing" in " ".join(ew.runtime.middlewares["badregex@file"].errors)
        assert (await get(port, "/empty")).status == 404
