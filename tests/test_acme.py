"""ACME certificate resolvers against a real CA: Debian's pebble, on loopback.

pebble validates HTTP-01 and TLS-ALPN-01 on edgeway's entry points (its
``httpPort``/``tlsPort`` are edgeway's ports) and resolves every name to
127.0.0.1 through pebble-challtestsrv, which also serves the DNS-01 TXT records
the ``exec`` DNS provider sets through its management API.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import stat
import sys
from pathlib import Path
from typing import Any

import acme_support
import anyio
import pytest
import trustme
from acme_support import Pebble, https_get, needs_pebble, wait_served
from cryptography import x509
from edgeway.acme import resolver as resolver_mod
from edgeway.acme.resolver import delete_unnecessary_domains, renew_durations
from support import backends, edgeway

pytestmark = [pytest.mark.anyio, needs_pebble]

#: The module's pebble (a fixture shared with the other ACME tests).
pebble = acme_support.pebble


def _dynamic(port: int, tls: str, rule: str = "Host(`a.test`)") -> str:
    return f"""
http:
  routers:
    app:
      rule: "{rule}"
      entryPoints: [websecure]
      service: app
      tls:
{tls}
  services:
    app:
      loadBalancer:
        servers: [{{url: "http://127.0.0.1:{port}"}}]
"""


def _stored(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


# --- HTTP-01 -------------------------------------------------------------------------


async def test_http01_issuance_outranks_redirect_and_serves_verified_https(
    tmp_path: Path, pebble: Pebble
) -> None:
    storage = tmp_path / "acme.json"
    acme = "      keyType: EC256\n      httpChallenge:\n        entryPoint: web"
    # Every request on web is redirected to HTTPS, except the challenge router's.
    web = "    http:\n      redirections:\n        entryPoint:\n          to: websecure\n          scheme: https"
    async with backends("app") as (app,):
        tls = "        certResolver: le"
        async with edgeway(
            tmp_path, _dynamic(app.port, tls), pebble.static(storage, acme, web_extra=web)
        ) as ew:
            root = pebble.root_pem()
            cert = await wait_served(pebble.tls_port, "a.test", root)
            assert cert.extensions.get_extension_for_class(
                x509.SubjectAlternativeName
            ).value.get_values_for_type(x509.DNSName) == ["a.test"]
            assert await anyio.to_thread.run_sync(https_get, pebble.tls_port, "a.test", root) == 200
            assert ew.runtime.routers["app@file"].errors == []
            assert "acme-http@internal" in ew.runtime.routers
    assert stat.S_IMODE(storage.stat().st_mode) == 0o600
    data = _stored(storage)
    account = data["le"]["Account"]
    assert account["Email"] == "admin@example.com"
    assert account["Registration"]["uri"].startswith(f"https://127.0.0.1:{pebble.acme_port}/")
    assert account["Registration"]["body"]["status"] == "valid"
    [entry] = data["le"]["Certificates"]
    assert entry["domain"] == {"main": "a.test"} and entry["Store"] == "default"
    assert base64.b64decode(entry["certificate"]).startswith(b"-----BEGIN CERTIFICATE-----")
    assert b"PRIVATE KEY" in base64.b64decode(entry["key"])


async def test_http01_answers_tokens_only_for_their_domain(tmp_path: Path, pebble: Pebble) -> None:
    from edgeway.acme.challenges import MemoryChallenges, http01_handler
    from edgeway.http.message import Headers, Request

    board = MemoryChallenges()
    board.publish_http01("a.test", "tok", "tok.thumb")
    serve = http01_handler(board.http01)

    async def req(path: str, host: str) -> Any:
        return await serve(
            Request("GET", path, "", Headers([(b"host", host.encode())]), authority=host)
        )

    ok = await req("/.well-known/acme-challenge/tok", "a.test:80")
    assert (ok.status, ok.body, ok.headers.get(b"content-type")) == (
        200,
        b"tok.thumb",
        b"text/plain; charset=utf-8",
    )
    assert (await req("/.well-known/acme-challenge/tok/", "a.test")).status == 200
    assert (await req("/.well-known/acme-challenge/tok", "b.test")).status == 404
    assert (await req("/.well-known/acme-challenge/other", "a.test")).status == 404
    board.withdraw_http01("a.test", "tok")
    assert (await req("/.well-known/acme-challenge/tok", "a.test")).status == 404


# --- TLS-ALPN-01 ---------------------------------------------------------------------


async def test_tlsalpn01_issuance_for_tls_domains(tmp_path: Path, pebble: Pebble) -> None:
    storage = tmp_path / "acme.json"
    async with backends("app") as (app,):
        tls = "        certResolver: le\n        domains:\n          - main: b.test\n            sans: [c.test]"
        dynamic = _dynamic(app.port, tls, "Host(`b.test`) || Host(`c.test`)")
        async with edgeway(tmp_path, dynamic, pebble.static(storage, "      tlsChallenge: {}")):
            root = pebble.root_pem()
            cert = await wait_served(pebble.tls_port, "c.test", root)
            names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            assert sorted(names.get_values_for_type(x509.DNSName)) == ["b.test", "c.test"]
            assert await anyio.to_thread.run_sync(https_get, pebble.tls_port, "b.test", root) == 200
    [entry] = _stored(storage)["le"]["Certificates"]
    assert entry["domain"] == {"main": "b.test", "sans": ["c.test"]}


async def test_store_default_generated_cert_is_ordered_and_served_as_default(
    tmp_path: Path, pebble: Pebble
) -> None:
    """``tls.stores.default.defaultGeneratedCert``: the resolver orders the domain and the
    store serves it to clients whose SNI matches nothing (Traefik's resolveDefaultCertificate)."""
    storage = tmp_path / "acme.json"
    async with backends("app") as (app,):
        dynamic = (
            _dynamic(app.port, "        certResolver: le", "Host(`a.test`)")
            + """
tls:
  stores:
    default:
      defaultGeneratedCert:
        resolver: le
        domain: {main: fallback.test}
"""
        )
        async with edgeway(tmp_path, dynamic, pebble.static(storage, "      tlsChallenge: {}")):
            root = pebble.root_pem()

            def default_names() -> list[str] | None:
                ctx = ssl.create_default_context(cadata=root)
                ctx.check_hostname = (
                    False  # the SNI matches no certificate: the store's default answers
                )
                try:
                    with socket.create_connection(("127.0.0.1", pebble.tls_port), timeout=3) as raw:
                        with ctx.wrap_socket(raw, server_hostname="nothing.test") as tls:
                            der = tls.getpeercert(binary_form=True)
                except (ssl.SSLError, OSError):
                    return None
                cert = x509.load_der_x509_certificate(der)
                return cert.extensions.get_extension_for_class(
                    x509.SubjectAlternativeName
                ).value.get_values_for_type(x509.DNSName)

            with anyio.fail_after(60):
                while await anyio.to_thread.run_sync(default_names) != ["fallback.test"]:
                    await anyio.sleep(0.2)
    domains = sorted(e["domain"]["main"] for e in _stored(storage)["le"]["Certificates"])
    assert "fallback.test" in domains


# --- DNS-01 --------------------------------------------------------------------------

_EXEC = """#!{python}
import json, sys, urllib.request
action, fqdn, value = sys.argv[1:4]
body = {{"host": fqdn, "value": value}} if action == "present" else {{"host": fqdn}}
path = "/set-txt" if action == "present" else "/clear-txt"
req = urllib.request.Request("http://127.0.0.1:{port}" + path, data=json.dumps(body).encode(), method="POST")
urllib.request.urlopen(req, timeout=5).read()
with open({log!r}, "a") as f:
    f.write(action + " " + fqdn + "\\n")
"""


async def test_dns01_wildcard_through_exec_provider(
    tmp_path: Path, pebble: Pebble, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "dns.py"
    calls = tmp_path / "calls.log"
    script.write_text(_EXEC.format(python=sys.executable, port=pebble.chall_port, log=str(calls)))
    script.chmod(0o700)
    monkeypatch.setenv("EXEC_PATH", str(script))
    monkeypatch.setenv("EXEC_POLLING_INTERVAL", "1")
    storage = tmp_path / "acme.json"
    acme = f"""      dnsChallenge:
        provider: exec
        resolvers: ["127.0.0.1:{pebble.dns_port}"]
        propagation:
          disableANSChecks: true
          requireAllRNS: true"""
    async with backends("app") as (app,):
        tls = "        certResolver: le\n        domains:\n          - main: '*.w.test'"
        async with edgeway(
            tmp_path, _dynamic(app.port, tls, "HostRegexp(`.+`)"), pebble.static(storage, acme)
        ):
            root = pebble.root_pem()
            cert = await wait_served(pebble.tls_port, "x.w.test", root)
            names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            assert names.get_values_for_type(x509.DNSName) == ["*.w.test"]
    assert calls.read_text().splitlines() == [
        "present _acme-challenge.w.test.",
        "cleanup _acme-challenge.w.test.",
    ]


# --- renewal and restart ---------------------------------------------------------------


async def test_renewal_serves_new_certificate_without_dropping_keepalive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Certificates valid 10 minutes, certificatesDuration 1 hour: the renew period
    # (20 minutes, Traefik's) always covers them; the check interval is shortened.
    short = Pebble(tmp_path, validity=600).start()
    try:
        monkeypatch.setattr(
            resolver_mod, "renew_durations", lambda hours: (renew_durations(hours)[0], 0.5)
        )
        storage = tmp_path / "acme.json"
        acme = "      certificatesDuration: 1\n      tlsChallenge: {}"
        async with backends("app") as (app,):
            async with edgeway(
                tmp_path,
                _dynamic(app.port, "        certResolver: le"),
                short.static(storage, acme),
            ):
                root = short.root_pem()
                first = await wait_served(short.tls_port, "a.test", root)
                ctx = ssl.create_default_context(cadata=root)

                def connect() -> ssl.SSLSocket:
                    raw = socket.create_connection(("127.0.0.1", short.tls_port), timeout=5)
                    return ctx.wrap_socket(raw, server_hostname="a.test")

                def exchange(conn: ssl.SSLSocket) -> bytes:
                    conn.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
                    return conn.recv(65536)

                conn = await anyio.to_thread.run_sync(connect)
                try:
                    assert (await anyio.to_thread.run_sync(exchange, conn)).startswith(
                        b"HTTP/1.1 200"
                    )
                    second = await wait_served(
                        short.tls_port, "a.test", root, other_than=first.serial_number
                    )
                    assert second.serial_number != first.serial_number
                    # The connection made before the renewal still works.
                    assert (await anyio.to_thread.run_sync(exchange, conn)).startswith(
                        b"HTTP/1.1 200"
                    )
                finally:
                    conn.close()
        assert len(_stored(storage)["le"]["Certificates"]) == 1
    finally:
        short.stop()


async def test_restart_with_same_acme_json_places_no_new_order(
    tmp_path: Path, pebble: Pebble
) -> None:
    storage = tmp_path / "acme.json"
    static = pebble.static(storage, "      tlsChallenge: {}")
    async with backends("app") as (app,):
        dynamic = _dynamic(app.port, "        certResolver: le", "Host(`r.test`)")
        async with edgeway(tmp_path, dynamic, static):
            root = pebble.root_pem()
            first = await wait_served(pebble.tls_port, "r.test", root)
        saved = storage.read_bytes()
        orders = pebble.orders()
        async with edgeway(tmp_path, dynamic, static) as ew:
            again = await wait_served(pebble.tls_port, "r.test", root, limit=10)
            assert again.serial_number == first.serial_number
            assert ew.kernel.tls.sources["acme"].resolvers["le"].orders == 0
    assert pebble.orders() == orders
    assert storage.read_bytes() == saved


# --- acme.json -------------------------------------------------------------------------


async def test_traefik_acme_json_is_read_as_is(tmp_path: Path, pebble: Pebble) -> None:
    """A file written by Traefik (its field names and base64 PEM) is served without ordering."""
    ca = trustme.CA()
    leaf = ca.issue_cert("t.test")
    storage = tmp_path / "acme.json"
    storage.write_text(json.dumps({
        "le": {
            "Account": {
                "Email": "admin@example.com",
                "Registration": {"body": {"status": "valid", "contact": ["mailto:admin@example.com"]},
                                 "uri": f"https://127.0.0.1:{pebble.acme_port}/my-account/1"},
                "PrivateKey": base64.b64encode(b"not used: nothing is ordered").decode(),
                "KeyType": "4096",
            },
            "Certificates": [{
                "domain": {"main": "t.test"},
                "certificate": base64.b64encode(leaf.cert_chain_pems[0].bytes()).decode(),
                "key": base64.b64encode(leaf.private_key_pem.bytes()).decode(),
                "Store": "default",
            }],
        },
        "other": {"Account": None, "Certificates": None},
    }, indent=2))  # fmt: skip
    storage.chmod(0o600)
    async with backends("app") as (app,):
        dynamic = _dynamic(app.port, "        certResolver: le", "Host(`t.test`)")
        async with edgeway(
            tmp_path, dynamic, pebble.static(storage, "      tlsChallenge: {}")
        ) as ew:
            root = ca.cert_pem.bytes().decode()
            await wait_served(pebble.tls_port, "t.test", root, limit=10)
            assert ew.kernel.tls.sources["acme"].resolvers["le"].orders == 0
    assert "other" in _stored(storage)


async def test_acme_json_readable_by_others_is_refused(tmp_path: Path, pebble: Pebble) -> None:
    storage = tmp_path / "acme.json"
    storage.write_text("")
    storage.chmod(0o644)
    async with backends("app") as (app,):
        dynamic = _dynamic(app.port, "        certResolver: le")
        async with edgeway(
            tmp_path, dynamic, pebble.static(storage, "      tlsChallenge: {}")
        ) as ew:
            [error] = ew.runtime.routers["app@file"].errors
    assert "permissions 644" in error and "too open, please use 600" in error


# --- configuration errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("acme", "message"),
    [
        (
            "      dnsChallenge:\n        provider: route53",
            "unrecognized DNS provider: route53 (edgeway has: exec)",
        ),
        ("      dnsChallenge:\n        provider: exec", "EXEC_PATH"),
        ("      tlsChallenge: {}\n      preferredChain: X", "acme.preferredChain is not supported"),
        ("      tlsChallenge: {}\n      profile: short", "acme.profile is not supported"),
        ("      tlsChallenge: {}\n      certificatesDuration: 0", "duration lower than 1 hour"),
        ("      email: x@example.com", "ACME challenge not specified"),
        ("      httpChallenge:\n        entryPoint: nope", "'nope' is not an entry point"),
        (
            "      dnsChallenge:\n        provider: exec\n      tlsChallenge: {}",
            "authoritative nameservers is not supported",
        ),
    ],
)
async def test_unusable_resolver_is_reported_on_its_routers(
    tmp_path: Path, pebble: Pebble, monkeypatch: pytest.MonkeyPatch, acme: str, message: str
) -> None:
    if "EXEC_PATH" not in message:
        monkeypatch.setenv("EXEC_PATH", "/bin/true")
    else:
        monkeypatch.delenv("EXEC_PATH", raising=False)
    async with backends("app") as (app,):
        dynamic = _dynamic(app.port, "        certResolver: le")
        async with edgeway(tmp_path, dynamic, pebble.static(tmp_path / "acme.json", acme)) as ew:
            [error] = ew.runtime.routers["app@file"].errors
    assert message in error


async def test_unknown_resolver_and_key_type(tmp_path: Path, pebble: Pebble) -> None:
    async with backends("app") as (app,):
        dynamic = _dynamic(app.port, "        certResolver: nope")
        async with edgeway(
            tmp_path, dynamic, pebble.static(tmp_path / "acme.json", "      tlsChallenge: {}")
        ) as ew:
            [error] = ew.runtime.routers["app@file"].errors
    assert 'certificate resolver "nope" does not exist' in error
    with pytest.raises(Exception, match="unknown key type 'RSA1024'"):
        async with edgeway(
            tmp_path, "{}", pebble.static(tmp_path / "acme.json", "      keyType: RSA1024")
        ):
            pass


# --- Traefik's rules ---------------------------------------------------------------------


def test_renew_durations_are_traefiks() -> None:
    h, d = 3600.0, 86400.0
    assert renew_durations(90 * 24) == (30 * d, d)
    assert renew_durations(365 * 24) == (120 * d, 7 * d)
    assert renew_durations(30 * 24) == (10 * d, 12 * h)
    assert renew_durations(7 * 24) == (2 * d, 2 * h)
    assert renew_durations(24) == (6 * h, 600.0)
    assert renew_durations(1) == (1200.0, 60.0)


def test_delete_unnecessary_domains() -> None:
    assert delete_unnecessary_domains([["a.test"], ["a.test"]]) == [["a.test"]]
    assert delete_unnecessary_domains([["*.x.test"], ["a.x.test", "b.test"]]) == [
        ["*.x.test"],
        ["b.test"],
    ]
    assert delete_unnecessary_domains([["*.x.test"], ["a.x.test"]]) == [["*.x.test"]]
    assert delete_unnecessary_domains([["a.test", "b.test"], ["b.test", "c.test"]]) == [
        ["a.test", "b.test"],
        ["c.test"],
    ]
