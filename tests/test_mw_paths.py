"""The path, redirect, contentType and passTLSClientCert middlewares, end to end
(in-process edgeway, real sockets, recording backends) and their Go-semantics helpers."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from edgeway.config.dynamic import ContentType, PassTLSClientCert
from edgeway.http.message import Headers, Request, Response
from edgeway.middlewares.contenttype import build_content_type
from edgeway.middlewares.goregexp import compile_capturing
from edgeway.middlewares.gourl import join_path, parse
from edgeway.middlewares.passtlsclientcert import build_pass_tls_client_cert
from edgeway.middlewares.sniff import detect_content_type
from edgeway.registry import BuildContext
from support import Backend, Client, backends, edgeway, get

pytestmark = pytest.mark.anyio

CONFIG = """
http:
  routers:
{routers}
  middlewares:
    add: {{addPrefix: {{prefix: /pre}}}}
    add-empty: {{addPrefix: {{prefix: ""}}}}
    strip: {{stripPrefix: {{prefixes: ["/api", "/a"]}}}}
    strip-force: {{stripPrefix: {{prefixes: ["/sf"], forceSlash: true}}}}
    sr: {{stripPrefixRegex: {{regex: ["^/sr/[0-9]+"]}}}}
    sr-bad: {{stripPrefixRegex: {{regex: ["(("]}}}}
    rp: {{replacePath: {{path: /new}}}}
    rp-bad: {{replacePath: {{path: "/x%4"}}}}
    rpr: {{replacePathRegex: {{regex: "^/rpr/(\\\\w+)/(?P<tail>.*)", replacement: "/$1-${{tail}}/$$"}}}}
    rpr-dots: {{replacePathRegex: {{regex: "^/rprd", replacement: "/a/.."}}}}
    rpr-bad-regex: {{replacePathRegex: {{regex: "a(", replacement: "/"}}}}
    enc: {{encodedCharacters: {{allowEncodedHash: false}}}}
    enc-slash: {{encodedCharacters: {{allowEncodedSlash: true}}}}
    https: {{redirectScheme: {{scheme: https, port: "8443"}}}}
    https-perm: {{redirectScheme: {{scheme: https, permanent: true}}}}
    no-scheme: {{redirectScheme: {{port: "1"}}}}
    rr: {{redirectRegex: {{regex: "^http://([^/]+)/rr/(.*)$", replacement: "http://$1/moved/$2"}}}}
    rr-perm: {{redirectRegex: {{regex: "/rrp/", replacement: "/p/", permanent: true}}}}
    rr-bad: {{redirectRegex: {{regex: "[", replacement: "/"}}}}
    ct: {{contentType: {{}}}}
    ct-off: {{contentType: {{autoDetect: false}}}}
  services:
    s: {{loadBalancer: {{servers: [{{url: "{url}"}}]}}}}
"""

ROUTES = {
    "add": "PathPrefix(`/add`)",
    "add-empty": "PathPrefix(`/emptyprefix`)",
    "strip": "PathPrefix(`/a`)",
    "strip-force": "PathPrefix(`/sf`)",
    "sr": "PathPrefix(`/sr`)",
    "sr-bad": "PathPrefix(`/srbad`)",
    "rp": "PathPrefix(`/rp/`)",
    "rp-bad": "PathPrefix(`/rpbad`)",
    "rpr": "PathPrefix(`/rpr/`)",
    "rpr-dots": "PathPrefix(`/rprd`)",
    "rpr-bad-regex": "PathPrefix(`/rprbad`)",
    "enc": "PathPrefix(`/enc/`)",
    "enc-slash": "PathPrefix(`/encs/`)",
    "https": "PathPrefix(`/https`)",
    "https-perm": "PathPrefix(`/perm`)",
    "no-scheme": "PathPrefix(`/noscheme`)",
    "rr": "PathPrefix(`/rr/`)",
    "rr-perm": "PathPrefix(`/rrp/`)",
    "rr-bad": "PathPrefix(`/rrbad`)",
    "ct": "PathPrefix(`/ct`)",
    "ct-off": "PathPrefix(`/off`)",
}


def config(url: str) -> str:
    lines = [
        f'    {name}: {{rule: "{rule}", service: s, middlewares: [{name}]}}'
        for name, rule in ROUTES.items()
    ]
    return CONFIG.format(routers="\n".join(lines), url=url)


def untyped(rec: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """Answers without Content-Type; ``/ct/<kind>`` picks the body."""
    kind = rec.target.rsplit("/", 1)[-1]
    body = {"html": b"\n<HTML><p>x", "gif": b"GIF89a....", "empty": b""}.get(kind, b"plain words")
    status = 204 if kind == "nocontent" else 200
    headers = [("Content-Length", str(len(body)))] if status != 204 else []
    if kind == "typed":
        headers.append(("Content-Type", "application/x-mine"))
    return status, headers, b"" if status == 204 or rec.method == "HEAD" else body


@pytest.fixture
async def proxy(tmp_path: Path) -> Any:
    async with backends("b") as (backend,):
        backend.respond = None
        async with edgeway(tmp_path, config(backend.url)) as ew:
            yield ew, backend


async def fetch(port: int, target: str, **kw: Any) -> Any:
    return await get(port, target, **kw)


def last(backend: Backend) -> Any:
    return backend.received[-1]


async def test_add_prefix(proxy: Any) -> None:
    ew, b = proxy
    assert (await fetch(ew.port(), "/add/x%2Fy?q=1")).status == 200
    assert last(b).target == "/pre/add/x%2Fy?q=1"


async def test_strip_prefix_first_match_header_and_encoded_rest(proxy: Any) -> None:
    ew, b = proxy
    await fetch(ew.port(), "/api/v%2F1")
    assert (last(b).target, last(b).header_all("X-Forwarded-Prefix")) == ("/v%2F1", ["/api"])
    await fetch(ew.port(), "/abc")
    assert (last(b).target, last(b).header("X-Forwarded-Prefix")) == ("/bc", "/a")
    await fetch(ew.port(), "/api")
    assert last(b).target == "/"


async def test_strip_prefix_refuses_a_path_that_would_clean_differently(proxy: Any) -> None:
    ew, b = proxy
    n = len(b.received)
    r = await fetch(ew.port(), "/a../etc")  # stripped: /../etc
    assert (r.status, r.body, r.header("Content-Type")) == (
        400,
        b"Bad Request\n",
        "text/plain; charset=utf-8",
    )
    assert len(b.received) == n
    await fetch(ew.port(), "/a/..%2Fetc")  # an encoded slash is not a separator: passes
    assert last(b).target == "/..%2Fetc"


async def test_strip_prefix_force_slash(proxy: Any) -> None:
    ew, b = proxy
    await fetch(ew.port(), "/sf")
    assert last(b).target == "/"
    await fetch(ew.port(), "/sfx")
    assert last(b).target == "/x"


async def test_strip_prefix_regex(proxy: Any) -> None:
    ew, b = proxy
    await fetch(ew.port(), "/sr/123/x")
    assert (last(b).target, last(b).header("X-Forwarded-Prefix")) == ("/x", "/sr/123")
    await fetch(ew.port(), "/sr/abc")
    assert (last(b).target, last(b).header("X-Forwarded-Prefix")) == ("/sr/abc", None)


async def test_replace_path(proxy: Any) -> None:
    ew, b = proxy
    await fetch(ew.port(), "/rp/o%2Fld?k=v")
    assert (last(b).target, last(b).header("X-Replaced-Path")) == ("/new?k=v", "/rp/o%2Fld")
    r = await fetch(ew.port(), "/rpbad")
    assert (r.status, r.body) == (500, b'invalid URL escape "%4"\n')


async def test_replace_path_regex(proxy: Any) -> None:
    ew, b = proxy
    await fetch(ew.port(), "/rpr/abc/d/e")
    assert (last(b).target, last(b).header("X-Replaced-Path")) == ("/abc-d/e/$", "/rpr/abc/d/e")
    await fetch(ew.port(), "/rpr/-/x")  # no match: untouched
    assert (last(b).target, last(b).header("X-Replaced-Path")) == ("/rpr/-/x", None)
    assert (await fetch(ew.port(), "/rprd/x")).status == 400


async def test_invalid_options_disable_their_routers(proxy: Any) -> None:
    ew, _ = proxy
    rt = ew.runtime
    for name, text in [
        ("add-empty", "prefix cannot be empty"),
        ("sr-bad", "missing closing )"),
        ("rpr-bad-regex", "error compiling regular expression a("),
        ("no-scheme", "you must provide a target scheme"),
        ("rr-bad", "missing closing ]"),
    ]:
        assert any(text in e for e in rt.middlewares[f"{name}@file"].errors), (
            name,
            rt.middlewares[f"{name}@file"].errors,
        )
    assert (await fetch(ew.port(), "/emptyprefix")).status == 404


@pytest.mark.parametrize(
    ("target", "status"),
    [
        ("/enc/a", 200), ("/enc/a%2Fb", 400), ("/enc/a%2fb", 400), ("/enc/a%5Cb", 400), ("/enc/a%00", 400),
        ("/enc/a%3B", 400), ("/enc/a%25", 400), ("/enc/a%3F", 400), ("/enc/a%23", 400), ("/enc/a%20%41", 200),
        ("/encs/a%2Fb", 200), ("/encs/a%5Cb", 400),
    ],
)  # fmt: skip
async def test_encoded_characters(proxy: Any, target: str, status: int) -> None:
    ew, _ = proxy
    r = await fetch(ew.port(), target)
    assert r.status == status
    if status == 400:
        assert (r.body, r.header("Content-Type")) == (b"", None)


async def test_redirect_scheme(proxy: Any) -> None:
    ew, b = proxy
    n = len(b.received)
    r = await fetch(ew.port(), "/https/x?y=1", host="example.com:8080")
    assert (r.status, r.header("Location"), r.body, r.header("Content-Type")) == (
        302, "https://example.com:8443/https/x?y=1", b"Found", None,
    )  # fmt: skip
    client_post = await _request(ew.port(), "POST", "/perm/x")
    assert (client_post.status, client_post.header("Location")) == (
        308,
        "https://example.com/perm/x",
    )
    r = await fetch(ew.port(), "/perm/x")
    assert (r.status, r.body) == (301, b"Moved Permanently")
    assert (await _request(ew.port(), "PUT", "/https/x")).status == 307
    assert len(b.received) == n


async def test_redirect_regex(proxy: Any) -> None:
    ew, b = proxy
    r = await fetch(ew.port(), "/rr/a b".replace(" ", "%20"))
    assert (r.status, r.header("Location")) == (302, "http://example.com/moved/a%20b")
    r = await fetch(ew.port(), "/rrp/x")
    assert (r.status, r.header("Location")) == (301, "http://example.com/p/x")
    assert (await _request(ew.port(), "DELETE", "/rrp/x")).status == 308


async def test_content_type_sniffs_untyped_responses(proxy: Any) -> None:
    ew, b = proxy
    b.respond = untyped
    cases = {
        "/ct/html": "text/html; charset=utf-8",
        "/ct/gif": "image/gif",
        "/ct/text": "text/plain; charset=utf-8",
        "/ct/typed": "application/x-mine",
        "/ct/empty": None,
        "/ct/nocontent": None,
        "/off/html": None,
    }
    for target, expected in cases.items():
        r = await fetch(ew.port(), target)
        assert r.header("Content-Type") == expected, target
    r = await _request(ew.port(), "HEAD", "/ct/html")
    assert r.header("Content-Type") is None


async def test_content_type_sniffs_the_first_chunk_of_a_stream() -> None:
    async def chunks() -> Any:
        for part in (b"", b"<html>", b" rest"):
            yield part

    async def backend(req: Request) -> Response:
        return Response(200, stream=chunks())

    handler = build_content_type(ContentType(), backend, BuildContext("c@file", "r@file"))
    resp = await handler(Request("GET", "/", "", Headers()))
    assert resp.headers.get(b"content-type") == b"text/html; charset=utf-8"
    assert resp.stream is not None
    assert b"".join([c async for c in resp.stream]) == b"<html> rest"


async def _request(port: int, method: str, target: str) -> Any:
    client = await Client.connect(port)
    try:
        return await client.request(method, target, body=b"" if method in ("POST", "PUT") else None)
    finally:
        await client.close()


# --- Go semantics of the helpers -------------------------------------------------------------


def test_detect_content_type_table() -> None:
    cases = {
        b"": "text/plain; charset=utf-8",
        b"  <!doctype HTML>": "text/html; charset=utf-8",
        b"<?xml version": "text/xml; charset=utf-8",
        b"%PDF-1.4": "application/pdf",
        b"\xff\xd8\xff\xe0": "image/jpeg",
        b"\x89PNG\r\n\x1a\n": "image/png",
        b"RIFF\x00\x00\x00\x00WEBPVP8": "image/webp",
        b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom": "video/mp4",
        b"\x1f\x8b\x08\x00": "application/x-gzip",
        b"PK\x03\x04": "application/zip",
        b"\x00\x61\x73\x6d": "application/wasm",
        b"\xef\xbb\xbfhello": "text/plain; charset=utf-8",
        b"\x01\x02": "application/octet-stream",
        b"<a href": "text/html; charset=utf-8",
        b"<ab": "text/plain; charset=utf-8",
    }
    for data, expected in cases.items():
        assert detect_content_type(data) == expected, data


def test_go_replace_all_and_templates() -> None:
    r = compile_capturing(r"a(x*)")
    assert r.replace_all("-ab-axxb-", "[$1]") == "-[]b-[xx]b-"
    assert r.replace_all("ax", "${1}1|$1x|$$|$") == "x1||$|$"
    assert compile_capturing("x*").replace_all("abc", "-") == "-a-b-c-"
    assert compile_capturing("(?P<n>b)").replace_all("abc", "<$n>") == "a<b>c"


def test_url_parse_and_string() -> None:
    assert parse("https://h:1/a b?q=1#f g").string() == "https://h:1/a%20b?q=1#f%20g"
    assert parse("http://u@h/").string() == "http://u@h/"
    for bad in ("http://h:x/", "http://::1:80/", "/a%zz", ":x", "http://h/\x7f"):
        with pytest.raises(ValueError):
            parse(bad)
    assert join_path("/a/./b/", "") == ("/a/b/", "")
    assert join_path("a/../..", "") == ("", "")


# --- passTLSClientCert ---------------------------------------------------------------------


class FakeTLS:
    def __init__(self, der: bytes | None) -> None:
        self.der = der

    def getpeercert(self, binary_form: bool = False) -> bytes | None:
        assert binary_form
        return self.der


def make_cert() -> tuple[bytes, x509.Certificate]:
    ca = trustme.CA()
    issuer = x509.load_pem_x509_certificate(ca.cert_pem.bytes()).subject
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.DOMAIN_COMPONENT, "org"),
            x509.NameAttribute(NameOID.DOMAIN_COMPONENT, "cheese"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "Some-State"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "Toulouse"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Cheese"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Cheese 2"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Simple Cheese"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, "1234"),
            x509.NameAttribute(NameOID.COMMON_NAME, "client.test"),
        ]
    )
    ca_key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), None)
    san = x509.SubjectAlternativeName(
        [
            x509.DNSName("a.test"),
            x509.RFC822Name("me@a.test"),
            x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::ffff:10.0.0.2")),
            x509.UniformResourceIdentifier("spiffe://a.test/x y"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(123456789)
        .not_valid_before(datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC))
        .not_valid_after(datetime.datetime(2034, 1, 1, tzinfo=datetime.UTC))
        .add_extension(san, critical=False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return cert.public_bytes(serialization.Encoding.DER), cert


async def _through(options: dict[str, Any], tls: Any) -> Request:
    seen: list[Request] = []

    async def backend(req: Request) -> Response:
        seen.append(req)
        return Response(200)

    handler = build_pass_tls_client_cert(
        PassTLSClientCert(**options), backend, BuildContext("p@file", "r@file")
    )
    await handler(
        Request("GET", "/", "", Headers([(b"X-Forwarded-Tls-Client-Cert", b"spoofed")]), tls=tls)
    )
    return seen[0]


async def test_pass_tls_client_cert_pem() -> None:
    der, cert = make_cert()
    req = await _through({"pem": True}, FakeTLS(der))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    expected = (
        pem.replace("-----BEGIN CERTIFICATE-----", "")
        .replace("-----END CERTIFICATE-----", "")
        .replace("\n", "")
    )
    assert req.headers.getlist(b"x-forwarded-tls-client-cert") == [expected.encode()]


async def test_pass_tls_client_cert_info_all_fields() -> None:
    der, cert = make_cert()
    dn = {
        k: True
        for k in (
            "country",
            "province",
            "locality",
            "organization",
            "commonName",
            "serialNumber",
            "domainComponent",
        )
    }
    info = {"notAfter": True, "notBefore": True, "sans": True, "serialNumber": True,
            "subject": {**dn, "organizationalUnit": True}, "issuer": dn}  # fmt: skip
    req = await _through({"info": info}, FakeTLS(der))
    raw = req.headers.get(b"x-forwarded-tls-client-cert-info")
    assert raw is not None and b" " not in raw and b"%3D" in raw
    issuer_cn = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    issuer_o = cert.issuer.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    issuer = ",".join([*(f"O={a.value}" for a in issuer_o), *(f"CN={a.value}" for a in issuer_cn)])
    assert unquote_plus(raw.decode()) == (
        'Subject="DC=org,DC=cheese,C=FR,ST=Some-State,L=Toulouse,O=Cheese,O=Cheese 2,OU=Simple Cheese,'
        'SN=1234,CN=client.test";'
        f'Issuer="{issuer}";SerialNumber="123456789";NB="1704067200";NA="2019686400";'
        'SAN="a.test,me@a.test,10.0.0.1,10.0.0.2,spiffe://a.test/x%20y"'
    )
    assert req.headers.get(b"x-forwarded-tls-client-cert") == b"spoofed"


async def test_pass_tls_client_cert_partial_info_and_no_certificate() -> None:
    der, _ = make_cert()
    req = await _through(
        {"info": {"subject": {"commonName": True}, "notBefore": True}}, FakeTLS(der)
    )
    assert unquote_plus(req.headers.get(b"x-forwarded-tls-client-cert-info", b"").decode()) == (
        'Subject="CN=client.test";NB="1704067200"'
    )
    for tls in (None, FakeTLS(None)):
        req = await _through({"pem": True, "info": {"sans": True}}, tls)
        assert req.headers.getlist(b"x-forwarded-tls-client-cert") == [b"spoofed"]
        assert b"x-forwarded-tls-client-cert-info" not in req.headers
