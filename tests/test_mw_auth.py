"""basicAuth, digestAuth and forwardAuth end to end: real entry point, backends and auth server."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import bcrypt
import h11
import pytest
import trustme
import yaml
from edgeway.middlewares.auth_cookies import parse_set_cookie
from edgeway.middlewares.auth_passwords import check_secret, md5_crypt
from support import Backend, Client, Received, backends, edgeway, free_port, get

pytestmark = pytest.mark.anyio

BCRYPT = bcrypt.hashpw(b"bpass", bcrypt.gensalt(4)).decode()
# Reference values from `openssl passwd -apr1` / `-1` (Apache's and crypt(3)'s MD5).
APR1 = "$apr1$saltsalt$S6D2MtcWGkSu2W25x9Erb."  # p@ss wörd
MD5_1 = "$1$abc$iCQ2D3nhptRYi27fDYv2s1"  # secret
SHA = "{SHA}" + base64.b64encode(hashlib.sha1(b"spass").digest()).decode()


def basic(user: str, password: str) -> tuple[str, str]:
    return ("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())


def test_password_schemes() -> None:
    assert check_secret("p@ss wörd", APR1) and not check_secret("p@ss word", APR1)
    assert check_secret("secret", MD5_1) and not check_secret("Secret", MD5_1)
    assert check_secret("", "$apr1$xyz$Pix4eE3fQHxJjb6LqtyMK1")
    assert md5_crypt(b"p@ss w\xc3\xb6rd", b"", b"$apr1$") == b"$apr1$$q8iupXxfFXIosMdffMvOg."
    assert check_secret("spass", SHA) and not check_secret("x", SHA)
    assert check_secret("bpass", BCRYPT) and not check_secret("bpas", BCRYPT)
    for minor in "axy":  # every bcrypt minor version reads the same, as in Go
        assert check_secret("bpass", BCRYPT.replace("$2b$", f"$2{minor}$"))
    long = bcrypt.hashpw(b"p" * 72, bcrypt.gensalt(4)).decode()
    assert check_secret("p" * 80, long)  # Go reads at most 72 bytes
    assert not check_secret("plain", "plain")  # no plain-text scheme
    assert not check_secret("x", "$2y$garbage")


# --- a configuration builder --------------------------------------------------------------


def config(backend: Backend, middlewares: dict[str, Any], routers: dict[str, list[str]]) -> str:
    """One router per host ``<name>.test`` with the given middleware chain."""
    return yaml.safe_dump(
        {
            "http": {
                "routers": {
                    name: {"rule": f"Host(`{name}.test`)", "service": "svc", "middlewares": chain}
                    for name, chain in routers.items()
                },
                "middlewares": middlewares,
                "services": {"svc": {"loadBalancer": {"servers": [{"url": backend.url}]}}},
            }
        }
    )


# --- basicAuth ----------------------------------------------------------------------------


async def test_basic_auth(tmp_path: Path) -> None:
    (tmp_path / "users").write_text(f"# comment\n\n  file:{SHA}  \nboth:{SHA}\n")
    mws = {
        "all": {
            "basicAuth": {
                "users": [f"b:{BCRYPT}", f"a:{APR1}", f"m:{MD5_1}", f"s:{SHA}", "plain:plain"]
            }
        },
        "opts": {
            "basicAuth": {
                "users": [f"s:{SHA}"],
                "realm": "my realm",
                "removeHeader": True,
                "headerField": "X-WebAuth-User",
            }
        },
        "file": {"basicAuth": {"usersFile": "users", "users": [f"both:{MD5_1}"]}},
        "lower": {
            "basicAuth": {
                "users": [f"s:{SHA}"],
                "removeHeader": True,
                "headerField": "authorization",
            }
        },
    }
    async with backends("b") as (b,):
        routers = {"all": ["all"], "opts": ["opts"], "file": ["file"], "lower": ["lower"]}
        async with edgeway(tmp_path, config(b, mws, routers)) as ew:
            port = ew.port()
            r = await get(port, host="all.test")
            assert r.status == 401
            assert r.header("WWW-Authenticate") == 'Basic realm="traefik"'
            assert r.header("Content-Type") == "text/plain"
            assert r.body == b"401 Unauthorized\n"
            for user, pw in (("b", "bpass"), ("a", "p@ss wörd"), ("m", "secret"), ("s", "spass")):
                r = await get(port, host="all.test", headers=[basic(user, pw)])
                assert r.status == 200, user
                assert b.received[-1].header("Authorization") == basic(user, pw)[1]
                assert (
                    await get(port, host="all.test", headers=[basic(user, pw + "x")])
                ).status == 401
            for header in (
                basic("nobody", "bpass"),
                basic("plain", "plain"),
                ("Authorization", "Basic !!!"),
                ("Authorization", "Basic " + base64.b64encode(b"nocolon").decode()),
                ("Authorization", "Bearer x"),
            ):
                assert (await get(port, host="all.test", headers=[header])).status == 401, header
            # the scheme name is case-insensitive, as in Go
            token = base64.b64encode(b"s:spass").decode()
            assert (
                await get(port, host="all.test", headers=[("Authorization", "bAsIc " + token)])
            ).status == 200

            r = await get(port, host="opts.test")
            assert r.header("WWW-Authenticate") == 'Basic realm="my realm"'
            r = await get(
                port, host="opts.test", headers=[basic("s", "spass"), ("X-WebAuth-User", "forged")]
            )
            assert r.status == 200
            rec = b.received[-1]
            assert rec.header("Authorization") is None
            assert rec.header_all("X-WebAuth-User") == ["s"]

            assert (
                await get(port, host="file.test", headers=[basic("file", "spass")])
            ).status == 200
            # `users` come after the file: their entry for the same name wins
            assert (
                await get(port, host="file.test", headers=[basic("both", "spass")])
            ).status == 401
            assert (
                await get(port, host="file.test", headers=[basic("both", "secret")])
            ).status == 200

            # headerField "authorization" (not Go's canonical spelling) survives removeHeader
            assert (await get(port, host="lower.test", headers=[basic("s", "spass")])).status == 200
            assert b.received[-1].header_all("authorization") == ["s"]


async def test_basic_auth_concurrent_checks(tmp_path: Path) -> None:
    """bcrypt runs off the event loop: many checks at once all complete correctly."""
    mws = {"a": {"basicAuth": {"users": [f"b:{BCRYPT}"]}}}
    async with backends("b") as (b,), edgeway(tmp_path, config(b, mws, {"a": ["a"]})) as ew:
        good = [get(ew.port(), host="a.test", headers=[basic("b", "bpass")]) for _ in range(10)]
        bad = [get(ew.port(), host="a.test", headers=[basic("b", "nope")]) for _ in range(10)]
        results = await asyncio.gather(*good, *bad)
        assert [r.status for r in results] == [200] * 10 + [401] * 10


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"users": ["a:b:c"]}, "error parsing BasicUser: a:b:c"),
        ({"users": []}, "no users found in"),
        ({"usersFile": "missing"}, "open missing"),
    ],
)
async def test_basic_auth_config_errors(
    tmp_path: Path, options: dict[str, Any], error: str
) -> None:
    async with backends("b") as (b,):
        mws = {"bad": {"basicAuth": options}, "ok": {"basicAuth": {"users": [f"s:{SHA}"]}}}
        async with edgeway(tmp_path, config(b, mws, {"bad": ["bad"], "ok": ["ok"]})) as ew:
            assert any(error in e for e in ew.runtime.middlewares["bad@file"].errors)
            assert (await get(ew.port(), host="bad.test")).status == 404
            assert (await get(ew.port(), host="ok.test")).status == 401  # the rest still went live


# --- digestAuth ---------------------------------------------------------------------------


def ha1(user: str, realm: str, password: str) -> str:
    return hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()


def parse_challenge(value: str) -> dict[str, str]:
    assert value.startswith("Digest ")
    return {k.strip(): v.strip('"') for k, v in (p.split("=", 1) for p in value[7:].split(", "))}


def digest_header(
    ch: dict[str, str],
    user: str,
    password: str,
    uri: str,
    nc: str = "00000001",
    method: str = "GET",
    realm: str | None = None,
    **extra: str,
) -> tuple[str, str]:
    realm = realm or ch["realm"]
    h1 = ha1(user, realm, password)
    h2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    resp = hashlib.md5(f"{h1}:{ch['nonce']}:{nc}:cn:auth:{h2}".encode()).hexdigest()
    fields = {
        "username": user,
        "realm": realm,
        "nonce": ch["nonce"],
        "uri": uri,
        "qop": "auth",
        "nc": nc,
        "cnonce": "cn",
        "response": resp,
        "opaque": ch["opaque"],
        "algorithm": "MD5",
        **extra,
    }
    return ("Authorization", "Digest " + ", ".join(f'{k}="{v}"' for k, v in fields.items()))


async def test_digest_auth(tmp_path: Path) -> None:
    (tmp_path / "digest").write_text(f"# users\nf:traefik:{ha1('f', 'traefik', 'fpw')}\n")
    mws = {
        "d": {
            "digestAuth": {
                "users": [
                    f"u:traefik:{ha1('u', 'traefik', 'pw')}",
                    f"x:other:{ha1('x', 'other', 'pw')}",
                ],
                "usersFile": "digest",
            }
        },
        "opts": {
            "digestAuth": {
                "users": [f"u:r2:{ha1('u', 'r2', 'pw')}"],
                "realm": "r2",
                "removeHeader": True,
                "headerField": "X-User",
            }
        },
    }
    async with (
        backends("b") as (b,),
        edgeway(tmp_path, config(b, mws, {"d": ["d"], "opts": ["opts"]})) as ew,
    ):
        c = await Client.connect(ew.port())
        r = await c.request(host="d.test", target="/p?q=1")
        assert (
            r.status == 401
            and r.body == b"401 Unauthorized\n"
            and r.header("Content-Type") == "text/plain"
        )
        www = r.header("WWW-Authenticate") or ""
        assert www.endswith('algorithm="MD5", qop="auth"') and 'realm="traefik"' in www
        ch = parse_challenge(www)
        assert len(ch["nonce"]) == 16 and len(ch["opaque"]) == 16

        r = await c.request(
            host="d.test", target="/p?q=1", headers=[digest_header(ch, "u", "pw", "/p?q=1")]
        )
        assert r.status == 200
        assert (
            b.received[-1]
            .header(
                "Authorization",
            )
            .startswith("Digest ")
        )  # type: ignore[union-attr]
        # the same count again is a replay; a higher one is fine; a lower one is stale
        r = await c.request(
            host="d.test", target="/p?q=1", headers=[digest_header(ch, "u", "pw", "/p?q=1")]
        )
        assert r.status == 401 and "stale" not in (r.header("WWW-Authenticate") or "")
        hdr = digest_header(ch, "u", "pw", "/p?q=1", nc="00000003")
        assert (await c.request(host="d.test", target="/p?q=1", headers=[hdr])).status == 200
        r = await c.request(
            host="d.test",
            target="/p?q=1",
            headers=[digest_header(ch, "u", "pw", "/p?q=1", nc="00000002")],
        )
        assert r.status == 401 and 'stale="true", algorithm="MD5"' in (
            r.header("WWW-Authenticate") or ""
        )
        # a uri that is a path prefix of the request's is accepted (go-http-auth)
        hdr = digest_header(ch, "u", "pw", "/p", nc="00000010")
        assert (await c.request(host="d.test", target="/p/deeper", headers=[hdr])).status == 200
        hdr = digest_header(ch, "u", "pw", "/other", nc="00000011")
        assert (await c.request(host="d.test", target="/p", headers=[hdr])).status == 401
        # users from the file; a user of another realm is not one of ours
        r = await c.request(
            host="d.test", headers=[digest_header(ch, "f", "fpw", "/", nc="00000012")]
        )
        assert r.status == 200
        r = await c.request(
            host="d.test", headers=[digest_header(ch, "x", "pw", "/", nc="00000013", realm="other")]
        )
        assert r.status == 401
        # wrong password, wrong opaque, unknown nonce, bad nc, other algorithm
        bad = [
            digest_header(ch, "u", "nope", "/", nc="00000020"),
            digest_header({**ch, "opaque": "x"}, "u", "pw", "/", nc="00000021"),
            digest_header({**ch, "nonce": "AAAAAAAAAAAAAAAA"}, "u", "pw", "/"),
            digest_header(ch, "u", "pw", "/", nc="0x22"),
            digest_header(ch, "u", "pw", "/", nc="00000023", algorithm="SHA-256"),
            ("Authorization", "digest " + digest_header(ch, "u", "pw", "/", nc="00000024")[1][7:]),
        ]
        for header in bad:
            assert (await c.request(host="d.test", headers=[header])).status == 401, header
        # an unknown user whose response is computed from an empty HA1 is refused
        h2 = hashlib.md5(b"GET:/").hexdigest()
        forged = hashlib.md5(f":{ch['nonce']}:00000030:cn:auth:{h2}".encode()).hexdigest()
        hdr = (
            "Authorization",
            f'Digest username="ghost", nonce="{ch["nonce"]}", uri="/", qop=auth, nc=00000030, '
            f'cnonce="cn", response="{forged}", opaque="{ch["opaque"]}"',
        )
        assert (await c.request(host="d.test", headers=[hdr])).status == 401
        # an empty value is a wrong answer; a lone quote makes go-http-auth panic: 500
        assert (
            await c.request(host="d.test", headers=[("Authorization", "Digest username=")])
        ).status == 401
        r = await c.request(host="d.test", headers=[("Authorization", 'Digest username="')])
        assert r.status == 500 and r.body == b"Internal Server Error\n"

        r = await c.request(host="opts.test")
        ch2 = parse_challenge(r.header("WWW-Authenticate") or "")
        assert ch2["realm"] == "r2" and ch2["opaque"] != ch["opaque"]  # one opaque per middleware
        r = await c.request(
            host="opts.test", headers=[digest_header(ch2, "u", "pw", "/"), ("X-User", "forged")]
        )
        assert r.status == 200
        assert b.received[-1].header("Authorization") is None
        assert b.received[-1].header_all("X-User") == ["u"]
        await c.close()


async def test_digest_auth_config_error(tmp_path: Path) -> None:
    async with backends("b") as (b,):
        mws = {"bad": {"digestAuth": {"users": ["u:pw"]}}}
        async with edgeway(tmp_path, config(b, mws, {"bad": ["bad"]})) as ew:
            assert any(
                "error parsing DigestUser: u:pw" in e
                for e in ew.runtime.middlewares["bad@file"].errors
            )


# --- forwardAuth --------------------------------------------------------------------------


def auth_responder(rec: Received) -> tuple[int, list[tuple[str, str]], bytes]:
    """The auth server: the path after /auth/ picks the answer."""
    path = rec.target.split("?")[0]
    if path == "/auth/ok":
        return (
            200,
            [
                ("X-User", "alice"),
                ("X-Group", "a"),
                ("X-Group", "b"),
                ("X-Auth-Extra", "e"),
                ("X-Other", "o"),
                ("Content-Length", "2"),
            ],
            b"ok",
        )
    if path == "/auth/cookies":
        return (
            200,
            [
                ("Set-Cookie", "session=abc; Path=/; HttpOnly"),
                ("Set-Cookie", "other=1"),
                ("Content-Length", "0"),
            ],
            b"",
        )
    if path == "/auth/deny":
        return (
            403,
            [
                ("X-Reason", "nope"),
                ("Set-Cookie", "t=1; Path=/"),
                ("Keep-Alive", "timeout=5"),
                ("Content-Type", "text/plain"),
                ("Content-Length", "6"),
            ],
            b"denied",
        )
    if path == "/auth/login":
        return 302, [("Location", "../login?next=1"), ("Content-Length", "0")], b""
    if path == "/auth/401":
        return 401, [("WWW-Authenticate", "Bearer"), ("Content-Length", "3")], b"who"
    if path == "/auth/big":
        return 200, [("Content-Length", "100")], b"x" * 100
    return 200, [("Content-Length", "0")], b""


@asynccontextmanager
async def forward_setup(
    tmp_path: Path, middlewares: dict[str, Any], static: str | None = None
) -> AsyncIterator[Any]:
    async with backends("b", "auth") as (b, auth):
        auth.respond = auth_responder
        resolved = json.loads(json.dumps(middlewares).replace("AUTH", auth.url))
        routers = {name: [name] for name in resolved}
        async with edgeway(tmp_path, config(b, resolved, routers), static) as ew:
            yield ew, b, auth


async def test_forward_auth_success_and_headers(tmp_path: Path) -> None:
    mws = {
        "plain": {
            "forwardAuth": {"address": "AUTH/auth/ok", "authResponseHeaders": ["x-user", "X-Group"]}
        },
        "regex": {
            "forwardAuth": {
                "address": "AUTH/auth/ok",
                "authResponseHeadersRegex": "^X-(Auth|Other)",
            }
        },
    }
    async with forward_setup(tmp_path, mws) as (ew, b, auth):
        port = ew.port()
        r = await get(
            port,
            "/some/path?x=1",
            host="plain.test",
            headers=[("X-User", "forged"), ("Content-Type", "text/x"), ("User-Agent", "ua/1")],
        )
        assert r.status == 200
        sent = auth.received[-1]
        assert (sent.method, sent.target) == ("GET", "/auth/ok")
        assert sent.header("Host") == auth.url.removeprefix("http://")
        assert sent.header("X-Forwarded-Uri") == "/some/path?x=1"
        assert sent.header("X-Forwarded-Method") == "GET"
        assert sent.header("X-Forwarded-Host") == "plain.test"
        assert sent.header("X-Forwarded-Proto") == "http"
        assert sent.header("X-Forwarded-For") == "127.0.0.1"
        assert sent.header("X-Forwarded-Port") == "80"  # from the entry point, passed on
        assert sent.header("User-Agent") == "ua/1"
        assert sent.header("Content-Type") == "text/x"
        assert sent.header("Content-Length") is None
        rec = b.received[-1]
        assert rec.header_all("X-User") == ["alice"]
        assert rec.header_all("X-Group") == ["a", "b"]
        assert rec.header("X-Auth-Extra") is None  # not listed

        await get(port, host="regex.test", headers=[("X-Auth-Old", "gone"), ("X-Other", "mine")])
        rec = b.received[-1]
        assert rec.header("X-Auth-Old") is None
        assert rec.header("X-Auth-Extra") == "e" and rec.header_all("X-Other") == ["o"]
        assert rec.header("X-User") is None
        # without a User-Agent (trustForwardHeader unset) Go's client sends its own
        c = await Client.connect(port)
        await c.request(host="regex.test")
        await c.close()
        assert auth.received[-1].header("User-Agent") == "Go-http-client/1.1"


async def test_forward_auth_trust_forward_header(tmp_path: Path) -> None:
    mws = {
        "trust": {"forwardAuth": {"address": "AUTH/auth/ok", "trustForwardHeader": True}},
        "distrust": {"forwardAuth": {"address": "AUTH/auth/ok", "trustForwardHeader": False}},
        "filter": {
            "forwardAuth": {
                "address": "AUTH/auth/ok",
                "trustForwardHeader": True,
                "authRequestHeaders": ["Accept", "x-keep"],
            }
        },
        "oldfilter": {"forwardAuth": {"address": "AUTH/auth/ok", "authRequestHeaders": ["Accept"]}},
    }
    static = """
        entryPoints:
          web: {address: "127.0.0.1:0", forwardedHeaders: {trustedIPs: ["127.0.0.1/32"]}}
    """
    async with forward_setup(tmp_path, mws, static) as (ew, b, auth):
        port = ew.port()
        xf = [
            ("X-Forwarded-For", "10.0.0.1"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Prefix", "/pre"),
            ("X-Forwarded-Uri", "/orig"),
            ("X_Forwarded_Method", "PUT"),
        ]
        await get(port, "/t", host="trust.test", headers=xf)
        sent = auth.received[-1]
        assert sent.header("X-Forwarded-For") == "10.0.0.1, 127.0.0.1"
        assert sent.header("X-Forwarded-Proto") == "https"
        assert sent.header("X-Forwarded-Uri") == "/orig"
        assert sent.header("X-Forwarded-Port") == "443"
        assert sent.header("X-Forwarded-Prefix") == "/pre"
        assert sent.header("User-Agent") is None  # none came in: none goes out

        await get(port, "/d", host="distrust.test:8443", headers=xf)
        sent = auth.received[-1]
        assert sent.header("X-Forwarded-For") == "127.0.0.1"
        assert sent.header("X-Forwarded-Proto") == "http"
        assert sent.header("X-Forwarded-Uri") == "/d"
        assert sent.header("X-Forwarded-Port") == "8443"
        assert sent.header("X-Forwarded-Host") == "distrust.test:8443"
        assert (
            sent.header("X-Forwarded-Prefix") is None and sent.header("X_Forwarded_Method") is None
        )
        assert sent.header("X-Forwarded-Server") is None and sent.header("X-Real-Ip") is None

        await get(
            port,
            host="filter.test",
            headers=[*xf, ("Accept", "a/b"), ("X-Keep", "k"), ("X-Drop", "d")],
        )
        sent = auth.received[-1]
        assert (
            sent.header("Accept") == "a/b"
            and sent.header("X-Keep") == "k"
            and sent.header("X-Drop") is None
        )
        assert sent.header("X-Forwarded-Prefix") == "/pre"  # X headers join the filter when trusted
        assert sent.header("User-Agent") == "Go-http-client/1.1"  # filtered out: Go's default

        await get(port, host="oldfilter.test", headers=[*xf, ("Accept", "a/b")])
        sent = auth.received[-1]
        assert sent.header("Accept") == "a/b" and sent.header("X-Forwarded-Prefix") is None
        assert (
            sent.header("X-Forwarded-For") == "127.0.0.1"
            and sent.header("X-Forwarded-Port") is None
        )


async def test_forward_auth_refusals(tmp_path: Path) -> None:
    mws = {
        "deny": {"forwardAuth": {"address": "AUTH/auth/deny"}},
        "login": {"forwardAuth": {"address": "AUTH/auth/login"}},
        "keep": {"forwardAuth": {"address": "AUTH/auth/login", "preserveLocationHeader": True}},
        "unauth": {"forwardAuth": {"address": "AUTH/auth/401"}},
        "signin": {
            "forwardAuth": {"address": "AUTH/auth/401", "authSigninURL": "https://login.test/?r=1"}
        },
        "signinrel": {"forwardAuth": {"address": "AUTH/auth/401", "authSigninURL": "../in"}},
        "signindeny": {
            "forwardAuth": {"address": "AUTH/auth/deny", "authSigninURL": "https://login.test/"}
        },
    }
    async with forward_setup(tmp_path, mws) as (ew, b, auth):
        port = ew.port()
        before = len(b.received)
        r = await get(port, host="deny.test")
        assert (r.status, r.body) == (403, b"denied")
        assert r.header("X-Reason") == "nope" and r.header("Set-Cookie") == "t=1; Path=/"
        assert r.header("Keep-Alive") is None and r.header("Content-Type") == "text/plain"
        r = await get(port, host="login.test")
        assert r.status == 302 and r.header("Location") == auth.url + "/login?next=1"
        r = await get(port, host="keep.test")
        assert r.header("Location") == "../login?next=1"
        r = await get(port, host="unauth.test")
        assert (r.status, r.body, r.header("WWW-Authenticate")) == (401, b"who", "Bearer")
        r = await get(port, host="signin.test")
        assert r.status == 302 and r.header("Location") == "https://login.test/?r=1"
        assert r.body == b"" and r.header("Content-Type") is None
        assert r.header("WWW-Authenticate") is None
        r = await get(port, "/a/b/c", host="signinrel.test")
        assert r.header("Location") == "/a/in"
        assert (await get(port, host="signindeny.test")).status == 403
        assert len(b.received) == before


async def test_forward_auth_cookies(tmp_path: Path) -> None:
    mws = {
        "add": {
            "forwardAuth": {"address": "AUTH/auth/cookies", "addAuthCookiesToResponse": ["session"]}
        },
        "none": {"forwardAuth": {"address": "AUTH/auth/cookies"}},
    }
    async with forward_setup(tmp_path, mws) as (ew, b, auth):

        def backend_cookies(rec: Received) -> tuple[int, list[tuple[str, str]], bytes]:
            return (
                200,
                [
                    ("Set-Cookie", "session=backend"),
                    ("Set-Cookie", "keep=1;  path=/x; Foo=bar"),
                    ("Set-Cookie", "bad cookie"),
                    ("Content-Length", "0"),
                ],
                b"",
            )

        b.respond = backend_cookies
        r = await get(ew.port(), host="add.test")
        cookies = [v for n, v in r.headers if n.lower() == "set-cookie"]
        assert cookies == ["keep=1; Path=/x", "session=abc; Path=/; HttpOnly"]
        r = await get(ew.port(), host="none.test")
        # the auth server set cookies: the backend's are rewritten the Go way even so
        assert [v for n, v in r.headers if n.lower() == "set-cookie"] == [
            "session=backend",
            "keep=1; Path=/x",
        ]


def test_cookie_rewriting() -> None:
    c = parse_set_cookie(
        'n="a b"; Expires=Wed, 21-Oct-2015 07:28:00 GMT; Max-Age=05; SameSite=weird; Domain=bad_domain; Secure'
    )
    assert c is not None and str(c) == 'n="a b"; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Secure'
    assert (
        parse_set_cookie("=1") is None
        and parse_set_cookie("") is None
        and parse_set_cookie('a=b"c') is None
    )
    c = parse_set_cookie(
        "a=1; Domain=.example.com; Max-Age=0; SameSite=None; Partitioned; HttpOnly"
    )
    assert str(c) == "a=1; Domain=example.com; Max-Age=0; HttpOnly; SameSite=None; Partitioned"


async def test_forward_auth_bodies_and_methods(tmp_path: Path) -> None:
    mws = {
        "body": {
            "forwardAuth": {
                "address": "AUTH/auth/ok",
                "forwardBody": True,
                "preserveRequestMethod": True,
            }
        },
        "limit": {
            "forwardAuth": {"address": "AUTH/auth/ok", "forwardBody": True, "maxBodySize": 4}
        },
        "nobody": {"forwardAuth": {"address": "AUTH/auth/ok"}},
        "method": {"forwardAuth": {"address": "AUTH/auth/ok", "preserveRequestMethod": True}},
        "resplimit": {"forwardAuth": {"address": "AUTH/auth/big", "maxResponseBodySize": 99}},
        "respok": {"forwardAuth": {"address": "AUTH/auth/big", "maxResponseBodySize": 100}},
    }
    async with forward_setup(tmp_path, mws) as (ew, b, auth):
        port = ew.port()
        c = await Client.connect(port)
        r = await c.request("POST", "/p", host="body.test", body=b"hello")
        assert r.status == 200
        assert (auth.received[-1].method, auth.received[-1].body) == ("POST", b"hello")
        assert auth.received[-1].header("Content-Length") == "5"
        assert (b.received[-1].method, b.received[-1].body) == ("POST", b"hello")
        r = await c.request(
            "PUT", "/p", host="body.test", body=b"abc", headers=[("Transfer-Encoding", "chunked")]
        )
        assert (
            auth.received[-1].body == b"abc"
            and auth.received[-1].header("Transfer-Encoding") == "chunked"
        )
        assert b.received[-1].body == b"abc"
        await c.close()

        c = await Client.connect(port)
        assert (await c.request("POST", host="limit.test", body=b"1234")).status == 200
        assert (auth.received[-1].method, auth.received[-1].body) == ("GET", b"1234")
        r = await c.request("POST", host="limit.test", body=b"12345")
        assert (r.status, r.body) == (401, b"")
        await c.close()

        c = await Client.connect(port)
        await c.request("POST", host="nobody.test", body=b"data")
        assert auth.received[-1].body == b"" and auth.received[-1].header("Content-Length") is None
        assert b.received[-1].body == b"data"
        await c.request("DELETE", host="method.test")
        assert (
            auth.received[-1].method == "DELETE"
            and auth.received[-1].header("Content-Length") is None
        )
        await c.request("POST", host="method.test", body=b"data")
        assert (
            auth.received[-1].method == "POST" and auth.received[-1].header("Content-Length") == "0"
        )
        assert auth.received[-1].body == b""
        await c.close()

        r = await get(port, host="resplimit.test")
        assert (r.status, r.body) == (401, b"")
        assert (await get(port, host="respok.test")).status == 200


async def test_forward_auth_errors(tmp_path: Path) -> None:
    dead = free_port()
    mws = {
        "dead": {"forwardAuth": {"address": f"http://127.0.0.1:{dead}/"}},
        "scheme": {"forwardAuth": {"address": "ftp://x/"}},
        "empty": {"forwardAuth": {"address": ""}},
        "badre": {"forwardAuth": {"address": "AUTH/", "authResponseHeadersRegex": "("}},
        "badtls": {"forwardAuth": {"address": "AUTH/", "tls": {"cert": "only-a-cert"}}},
        "badca": {"forwardAuth": {"address": "AUTH/", "tls": {"ca": "not a pem"}}},
    }
    async with forward_setup(tmp_path, mws) as (ew, b, auth):
        for name in ("dead", "scheme", "empty"):
            r = await get(ew.port(), host=f"{name}.test")
            assert (r.status, r.body) == (500, b""), name
        errors = {
            n: ew.runtime.middlewares[f"{n}@file"].errors for n in ("badre", "badtls", "badca")
        }
        assert any("error compiling regular expression (" in e for e in errors["badre"])
        assert any("both TLS cert and key must be defined" in e for e in errors["badtls"])
        assert any("failed to parse CA" in e for e in errors["badca"])
        assert b.received == []


# --- forwardAuth over TLS -----------------------------------------------------------------


@asynccontextmanager
async def tls_auth_server(
    ca: trustme.CA, require_client_cert: bool
) -> AsyncIterator[tuple[int, list[dict[str, Any]]]]:
    """An HTTPS auth server answering 200 and recording the peer certificate."""
    seen: list[dict[str, Any]] = []
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    if require_client_cert:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ca.configure_trust(ctx)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = await reader.read(65536)
                    if not data:
                        return
                    conn.receive_data(data)
                    continue
                if isinstance(event, h11.Request):
                    seen.append({"cert": writer.get_extra_info("peercert")})
                elif isinstance(event, h11.EndOfMessage):
                    writer.write(
                        conn.send(h11.Response(status_code=200, headers=[("Content-Length", "0")]))
                    )
                    writer.write(conn.send(h11.EndOfMessage()))
                    await writer.drain()
                    conn.start_next_cycle()
        except (ConnectionError, h11.RemoteProtocolError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=ctx)
    try:
        yield server.sockets[0].getsockname()[1], seen
    finally:
        server.close()


async def test_forward_auth_tls(tmp_path: Path) -> None:
    ca = trustme.CA()
    client = ca.issue_cert("client.test")
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    client.cert_chain_pems[0].write_to_path(str(tmp_path / "client.pem"))
    client.private_key_pem.write_to_path(str(tmp_path / "client.key"))
    async with tls_auth_server(ca, True) as (port, seen), backends("b") as (b,):
        addr = f"https://127.0.0.1:{port}/"
        mws = {
            "files": {
                "forwardAuth": {
                    "address": addr,
                    "tls": {"ca": "ca.pem", "cert": "client.pem", "key": "client.key"},
                }
            },
            "pem": {
                "forwardAuth": {
                    "address": addr,
                    "tls": {
                        "ca": ca.cert_pem.bytes().decode(),
                        "cert": client.cert_chain_pems[0].bytes().decode(),
                        "key": client.private_key_pem.bytes().decode(),
                    },
                }
            },
            "nocert": {"forwardAuth": {"address": addr, "tls": {"ca": "ca.pem"}}},
            "untrusted": {"forwardAuth": {"address": addr}},
        }
        routers = {name: [name] for name in mws}
        async with edgeway(tmp_path, config(b, mws, routers)) as ew:
            assert (await get(ew.port(), host="files.test")).status == 200
            assert (await get(ew.port(), host="pem.test")).status == 200
            assert len(seen) == 2 and all(s["cert"] for s in seen)
            assert (
                await get(ew.port(), host="nocert.test")
            ).status == 500  # the server wants a client cert
            assert (await get(ew.port(), host="untrusted.test")).status == 500  # unknown CA
    async with tls_auth_server(ca, False) as (port, seen), backends("b") as (b,):
        mws = {
            "insecure": {
                "forwardAuth": {
                    "address": f"https://127.0.0.1:{port}/",
                    "tls": {"insecureSkipVerify": True},
                }
            }
        }
        async with edgeway(tmp_path, config(b, mws, {"insecure": ["insecure"]})) as ew:
            assert (await get(ew.port(), host="insecure.test")).status == 200


async def test_forward_auth_pool_reused_across_reloads(tmp_path: Path) -> None:
    mws = {"fa": {"forwardAuth": {"address": "AUTH/auth/ok"}}}
    async with forward_setup(tmp_path, mws) as (ew, b, auth):
        assert (await get(ew.port(), host="fa.test")).status == 200
        reloads = ew.kernel.state.reloads
        text = (tmp_path / "dynamic.yml").read_text().replace("fa.test", "fb.test")
        ew.write_dynamic(text)
        await ew.wait_applied(reloads)
        assert (await get(ew.port(), host="fb.test")).status == 200
        assert auth.connections == 1  # the warm connection survived the reload
