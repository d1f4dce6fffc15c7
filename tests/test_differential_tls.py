"""TLS differential tests: real Traefik and edgeway on the same configuration and
certificates, compared on what a TLS client sees (certificate chosen, handshake
outcome, version, cipher, ALPN), what requests get (status, body, redirects,
421) and what the backend receives (X-Forwarded-Proto/Port, client certificate).

Intended differences:

* the generated "TRAEFIK DEFAULT CERT" is random on both sides: only its
  common name is compared;
* a handshake OpenSSL refuses (version, cipher) ends with an alert from Go but
  a bare close from edgeway (asyncio/uvloop do not flush OpenSSL's alert):
  only "refused" is compared, not the alert.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h11
import pytest
import yaml
from differential_support import (
    BackendPool,
    Proxy,
    edgeway_binary,
    require_traefik,
    running,
)
from support import free_port
from tls_support import CA

TRAEFIK = require_traefik()


@dataclass
class Setup:
    traefik: Proxy
    edgeway: Proxy
    pool: BackendPool
    ca: CA
    clients: CA
    foreign: CA


def _static(ports: dict[str, int], dynamic: Path) -> dict[str, Any]:
    return {
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "entryPoints": {
            "web": {
                "address": f"127.0.0.1:{ports['web']}",
                "http": {"redirections": {"entryPoint": {"to": "websecure"}}},
            },
            "websecure": {"address": f"127.0.0.1:{ports['websecure']}"},
            "secured": {
                "address": f"127.0.0.1:{ports['secured']}",
                "http": {"tls": {"options": "modern"}},
            },
            "traefik": {"address": f"127.0.0.1:{ports['traefik']}"},
        },
        "ping": {},
        "log": {"level": "ERROR"},
        "providers": {"file": {"filename": str(dynamic), "watch": False}},
    }


def _dynamic(tmp: Path, ca: CA, clients: CA, backend_url: str) -> dict[str, Any]:
    certs = [
        ca.issue(*n)
        for n in (("a.example.com",), ("*.example.com",), ("127.0.0.1",), ("m.example.com",))
    ]
    route = {"service": "app", "entryPoints": ["websecure"]}
    return {
        "http": {
            "routers": {
                "a": {**route, "rule": "Host(`a.example.com`)", "tls": {}},
                "wild": {**route, "rule": "Host(`w.example.com`)", "tls": {}},
                "strict": {**route, "rule": "Host(`s.example.com`)", "tls": {"options": "strict"}},
                "modern": {**route, "rule": "Host(`v.example.com`)", "tls": {"options": "modern"}},
                "mtls": {
                    **route,
                    "rule": "Host(`m.example.com`)",
                    "tls": {"options": "mtls"},
                    "middlewares": ["pass"],
                },
                "optional": {
                    **route,
                    "rule": "Host(`o.example.com`)",
                    "tls": {"options": "optional"},
                    "middlewares": ["pass"],
                },
                "h11": {**route, "rule": "Host(`h.example.com`)", "tls": {"options": "h11"}},
                "secured": {
                    "service": "app",
                    "entryPoints": ["secured"],
                    "rule": "PathPrefix(`/`)",
                },
                "ready": {
                    "service": "app",
                    "entryPoints": ["websecure"],
                    "rule": "Path(`/__ready`)",
                },
            },
            "middlewares": {
                "pass": {
                    "passTLSClientCert": {"pem": True, "info": {"sans": True, "serialNumber": True}}
                }
            },
            "services": {"app": {"loadBalancer": {"servers": [{"url": backend_url}]}}},
        },
        "tls": {
            "certificates": [{"certFile": str(c.cert), "keyFile": str(c.key)} for c in certs],
            "options": {
                "strict": {"sniStrict": True},
                "modern": {"minVersion": "VersionTLS13"},
                "mtls": {"clientAuth": {"caFiles": [str(clients.path)]}},
                "optional": {
                    "clientAuth": {
                        "caFiles": [str(clients.path)],
                        "clientAuthType": "VerifyClientCertIfGiven",
                    }
                },
                "h11": {
                    "alpnProtocols": ["http/1.1"],
                    "maxVersion": "VersionTLS12",
                    "cipherSuites": [
                        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
                        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                    ],
                },
            },  # fmt: skip
        },
    }


def _proxy(name: str, binary: str, tmp: Path, dynamic: Path) -> Proxy:
    workdir = tmp / name
    workdir.mkdir()
    ports = {ep: free_port() for ep in ("web", "websecure", "secured", "traefik")}
    config = workdir / f"{name}.yml"
    config.write_text(yaml.safe_dump(_static(ports, dynamic), sort_keys=False))
    return Proxy(name, [binary, f"--configFile={config}"], workdir, ports)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("differential-tls")
    pool = BackendPool()
    backend = pool.add("app")
    ca, clients, foreign = CA(tmp, "ca"), CA(tmp, "clients"), CA(tmp, "foreign")
    dynamic = tmp / "dynamic.yml"
    dynamic.write_text(yaml.safe_dump(_dynamic(tmp, ca, clients, backend.url), sort_keys=False))
    traefik = _proxy("traefik", TRAEFIK, tmp, dynamic)
    edgeway = _proxy("edgeway", edgeway_binary(), tmp, dynamic)
    try:
        with running([traefik, edgeway]):
            deadline = time.monotonic() + 20
            for proxy in (traefik, edgeway):
                proxy.wait_ready([("traefik", "localhost", "/ping", 200)], deadline)
                _wait_tls(proxy, deadline)
            yield Setup(traefik, edgeway, pool, ca, clients, foreign)
    finally:
        pool.close()


def _wait_tls(proxy: Proxy, deadline: float) -> None:
    while True:
        result = tls_exchange(
            proxy.port("websecure"), "a.example.com", "a.example.com", "/__ready", _insecure()
        )
        if result.get("status") == 200:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{proxy.name} never served HTTPS: {result}\n{proxy.log()}")
        time.sleep(0.05)


def _insecure(**kw: Any) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(kw.pop("alpn", ["http/1.1"]))
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


def tls_exchange(
    port: int, sni: str | None, host: str | None, path: str | None, ctx: ssl.SSLContext
) -> dict[str, Any]:
    """Handshake (and one GET when ``path``): what the client saw."""
    out: dict[str, Any] = {}
    try:
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError as exc:
        return {"connect": type(exc).__name__}
    with contextlib.closing(raw):
        try:
            tls = ctx.wrap_socket(raw, server_hostname=sni)
        except (ssl.SSLError, OSError):
            return {"handshake": "refused"}
        with contextlib.closing(tls):
            der = tls.getpeercert(binary_form=True) or b""
            from cryptography import x509

            cert = x509.load_der_x509_certificate(der)
            cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
            out["cert"] = (
                "TRAEFIK DEFAULT CERT"
                if cn and cn[0].value == "TRAEFIK DEFAULT CERT"
                else hashlib.sha256(der).hexdigest()[:16]
            )
            out.update(
                version=tls.version(), cipher=tls.cipher()[0], alpn=tls.selected_alpn_protocol()
            )
            if path is None:
                return out
            conn = h11.Connection(h11.CLIENT)
            headers = [("Host", host)] if host else []
            try:
                tls.sendall(
                    conn.send(h11.Request(method="GET", target=path, headers=headers))
                    + conn.send(h11.EndOfMessage())
                )
                body = b""
                while True:
                    event = conn.next_event()
                    if event is h11.NEED_DATA:
                        conn.receive_data(tls.recv(65536))
                    elif isinstance(event, h11.Response):
                        out["status"] = event.status_code
                        out["location"] = dict(event.headers).get(b"location")
                        out["content-type"] = dict(event.headers).get(b"content-type")
                    elif isinstance(event, h11.Data):
                        body += event.data
                    elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                        break
                out["body"] = body if out.get("status") != 200 else b"<backend>"
            except (ssl.SSLError, OSError, h11.RemoteProtocolError):
                out["request"] = "refused"
    return out


def both(
    setup: Setup, entrypoint: str, *args: Any, ctx: Any = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    results = []
    for proxy in (setup.traefik, setup.edgeway):
        context = ctx() if callable(ctx) else _insecure()
        results.append(tls_exchange(proxy.port(entrypoint), *args, context))
    return results[0], results[1]


@pytest.mark.parametrize(
    ("sni", "host"),
    [
        ("a.example.com", "a.example.com"),
        ("A.EXAMPLE.com", "a.example.com"),
        ("w.example.com", "w.example.com"),  # wildcard certificate
        ("deep.w.example.com", "w.example.com"),  # wildcards cover one label
        ("unknown.org", "a.example.com"),  # generated default certificate
        (None, "a.example.com"),  # no SNI: the local IP's certificate
    ],
)
def test_certificate_selection(setup: Setup, sni: str | None, host: str) -> None:
    traefik, edgeway = both(setup, "websecure", sni, host, "/")
    assert edgeway == traefik


@pytest.mark.parametrize(
    ("name", "sni", "host", "client"),
    [
        ("sni-strict known", "s.example.com", "s.example.com", {}),
        ("sni-strict unknown via host route", "s.example.com", "x.example.com", {}),
        (
            "tls13 only, tls12 client",
            "v.example.com",
            "v.example.com",
            {"maximum_version": ssl.TLSVersion.TLSv1_2},
        ),
        ("tls13 only, tls13 client", "v.example.com", "v.example.com", {}),
        (
            "tls12 cipher order",
            "a.example.com",
            "a.example.com",
            {"maximum_version": ssl.TLSVersion.TLSv1_2},
        ),
        ("options cipher suites", "h.example.com", "h.example.com", {"alpn": ["h2", "http/1.1"]}),
        (
            "default is tls12+",
            "a.example.com",
            "a.example.com",
            {"maximum_version": ssl.TLSVersion.TLSv1_1},
        ),
        ("misdirected", "v.example.com", "a.example.com", {}),
        (
            "entry point tls options",
            "a.example.com",
            "a.example.com",
            {"maximum_version": ssl.TLSVersion.TLSv1_2},
        ),
    ],
)
def test_options(setup: Setup, name: str, sni: str, host: str, client: dict[str, Any]) -> None:
    ep = "secured" if name.startswith("entry point") else "websecure"

    def ctx() -> ssl.SSLContext:
        c = _insecure(**client)
        if client.get("maximum_version") == ssl.TLSVersion.TLSv1_1:
            c.minimum_version = ssl.TLSVersion.TLSv1
            c.set_ciphers("DEFAULT:@SECLEVEL=0")
        return c

    traefik, edgeway = both(setup, ep, sni, host, "/", ctx=ctx)
    assert edgeway == traefik


@pytest.mark.parametrize(
    ("host", "cert"),
    [("m.example.com", None), ("m.example.com", "clients"), ("m.example.com", "foreign"),
     ("o.example.com", None), ("o.example.com", "clients"), ("o.example.com", "foreign")],
)  # fmt: skip
def test_client_auth(setup: Setup, host: str, cert: str | None) -> None:
    issuer = {"clients": setup.clients, "foreign": setup.foreign}.get(cert or "")
    leaf = issuer.ca.issue_cert("client@example.com") if issuer else None

    def ctx() -> ssl.SSLContext:
        c = _insecure()
        if leaf is not None:
            leaf.configure_cert(c)
        return c

    before = len(setup.pool.backends["app"].received)
    traefik, edgeway = both(setup, "websecure", host, host, "/", ctx=ctx)
    assert edgeway == traefik
    received = setup.pool.backends["app"].received[before:]
    if traefik.get("status") == 200:
        assert len(received) == 2
        names = (
            "X-Forwarded-Tls-Client-Cert",
            "X-Forwarded-Tls-Client-Cert-Info",
            "X-Forwarded-Proto",
            "X-Forwarded-Port",
        )
        assert [received[1].header(n) for n in names] == [received[0].header(n) for n in names]


def test_redirection(setup: Setup) -> None:
    from differential_support import exchange

    replies = [
        exchange(p.port("web"), "GET", "/some/path?x=1", [("Host", "r.example.com")])
        for p in (setup.traefik, setup.edgeway)
    ]
    t, e = replies
    assert (e.status, e.header("Location")) == (t.status, t.header("Location").replace(
        str(setup.traefik.port("websecure")), str(setup.edgeway.port("websecure"))))  # fmt: skip
