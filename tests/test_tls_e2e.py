"""TLS termination end to end: real TLS clients (Python ``ssl``, ``openssl s_client``)
against edgeway on loopback, certificates from trustme."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl

import anyio
import h11
import pytest
from support import Client, backends, edgeway, free_port, get
from test_tls_clienthello import build_hello
from tls_support import CA, https, insecure_context, peer_names, s_client

pytestmark = pytest.mark.anyio

TWO_EPS = """
entryPoints:
  web: {address: "127.0.0.1:0"}
  websecure: {address: "127.0.0.1:0"}
"""


@pytest.fixture(params=["asyncio", "uvloop"])
def anyio_backend(request):
    """The connection layer runs on both loops (production uses uvloop)."""
    if request.param == "uvloop":
        return ("asyncio", {"use_uvloop": True})
    return "asyncio"


@pytest.fixture
def ca(tmp_path):
    return CA(tmp_path)


def service(url: str) -> str:
    return f"""
  services:
    s: {{loadBalancer: {{servers: [{{url: "{url}"}}]}}}}
"""


async def test_https_router_and_plain_router_are_separate(tmp_path, ca):
    ca.issue("a.example.com")
    async with backends("one") as (b,):
        dyn = f"""
http:
  routers:
    secure: {{rule: "Host(`a.example.com`)", service: s, tls: {{}}}}
    plain: {{rule: "Host(`p.example.com`)", service: s}}
{service(b.url)}
tls:
  certificates:
    - {{certFile: a.example.com.crt, keyFile: a.example.com.key}}
"""
        async with edgeway(tmp_path, dyn) as ew:
            client, tls = await https(ew.port(), "a.example.com", ca.client_context())
            r = await client.request(target="/x", host="a.example.com")
            assert r.status == 200
            assert b.received[-1].header("X-Forwarded-Proto") == "https"
            assert b.received[-1].header("X-Forwarded-Port") == "443"
            # keep-alive on the same TLS connection
            assert (await client.request(target="/y", host="a.example.com")).status == 200
            # a plain router is not served over TLS, a TLS router not over plain HTTP
            assert (await client.request(target="/", host="p.example.com")).status == 404
            await client.close()
            assert (await get(ew.port(), "/", host="a.example.com")).status == 404
            assert (await get(ew.port(), "/", host="p.example.com")).status == 200


async def test_certificate_selection_by_sni(tmp_path, ca):
    for names in (("a.example.com",), ("*.example.com",), ("fallback.example.com",)):
        ca.issue(*names)
    dyn = """
http:
  routers:
    r: {rule: "PathPrefix(`/`)", service: noop@internal, tls: {}}
tls:
  certificates:
    - {certFile: a.example.com.crt, keyFile: a.example.com.key}
    - {certFile: wild.example.com.crt, keyFile: wild.example.com.key}
  stores:
    default:
      defaultCertificate: {certFile: fallback.example.com.crt, keyFile: fallback.example.com.key}
"""
    async with edgeway(tmp_path, dyn) as ew:
        port = ew.port()
        assert await peer_names(port, "a.example.com") == ["a.example.com"]
        assert await peer_names(port, "b.example.com") == ["*.example.com"]
        assert await peer_names(port, "other.org") == ["fallback.example.com"]
        assert await peer_names(port, None) == ["fallback.example.com"]
        out = await s_client(port, "-servername", "b.example.com")
        assert (
            "subject=CN" not in out.stdout
            or "*.example.com" in out.stdout
            or "example.com" in out.stdout
        )


async def test_generated_default_certificate(tmp_path):
    async with edgeway(tmp_path, "http: {}\n") as ew:
        out = await s_client(
            ew.port(),
            "-servername",
            "x.test",
            data=b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        assert "TRAEFIK DEFAULT CERT" in out.stdout
        assert "HTTP/1.1 404 Not Found" in out.stdout  # the TLS 404


async def test_entrypoint_tls_makes_routers_https(tmp_path, ca):
    ca.issue("a.example.com")
    static = TWO_EPS + "  \n"
    static = """
entryPoints:
  web: {address: "127.0.0.1:0"}
  websecure: {address: "127.0.0.1:0", http: {tls: {}, middlewares: [tag@file]}}
"""
    async with backends("one") as (b,):
        dyn = f"""
http:
  routers:
    both: {{rule: "Host(`a.example.com`)", service: s, entryPoints: [web, websecure]}}
  middlewares:
    tag: {{headers: {{customRequestHeaders: {{X-Ep: secure}}}}}}
{service(b.url)}
tls:
  certificates:
    - {{certFile: a.example.com.crt, keyFile: a.example.com.key}}
"""
        async with edgeway(tmp_path, dyn, static) as ew:
            assert set(ew.runtime.routers) >= {"both@file", "websecure-both@file"}
            assert ew.runtime.routers["both@file"].using == ["web"]
            client, _ = await https(ew.port("websecure"), "a.example.com", ca.client_context())
            assert (await client.request(host="a.example.com")).status == 200
            assert b.received[-1].header("X-Ep") == "secure"
            await client.close()
            assert (await get(ew.port("web"), host="a.example.com")).status == 200
            assert b.received[-1].header("X-Ep") is None
            # the TLS entry point serves no plain router
            assert (await get(ew.port("websecure"), host="a.example.com")).status == 404


async def test_sni_strict_refuses_unknown_names(tmp_path, ca):
    ca.issue("a.example.com")
    dyn = """
http:
  routers:
    r: {rule: "PathPrefix(`/`)", service: noop@internal, tls: {}}
tls:
  certificates:
    - {certFile: a.example.com.crt, keyFile: a.example.com.key}
  options:
    default: {sniStrict: true}
"""
    async with edgeway(tmp_path, dyn) as ew:
        assert await peer_names(ew.port(), "a.example.com") == ["a.example.com"]
        with pytest.raises(ssl.SSLError, match="(?i)unrecognized.name"):
            await peer_names(ew.port(), "b.example.com")
        with pytest.raises(ssl.SSLError):
            await peer_names(ew.port(), None)
        out = await s_client(ew.port(), "-servername", "b.example.com")
        assert "unrecognized name" in out.stderr


async def test_client_certificates_and_pass_tls_client_cert(tmp_path, ca):
    ca.issue("a.example.com")
    clients = CA(tmp_path, "clients")
    async with backends("one") as (b,):
        dyn = f"""
http:
  routers:
    r: {{rule: "Host(`a.example.com`)", service: s, tls: {{options: mtls}}, middlewares: [pass]}}
  middlewares:
    pass: {{passTLSClientCert: {{pem: true, info: {{sans: true}}}}}}
{service(b.url)}
tls:
  certificates:
    - {{certFile: a.example.com.crt, keyFile: a.example.com.key}}
  options:
    mtls: {{clientAuth: {{caFiles: [clients.pem]}}}}
"""
        async with edgeway(tmp_path, dyn) as ew:
            port = ew.port()
            foreign = CA(tmp_path, "foreign").client_cert_context()
            ca.ca.configure_trust(foreign)
            for refused in (ca.client_context(), foreign):  # no certificate, an untrusted one
                with pytest.raises((ssl.SSLError, ConnectionError, h11.RemoteProtocolError)):
                    client, _ = await https(port, "a.example.com", refused)
                    await client.request(host="a.example.com")
            ctx = clients.client_cert_context("alice@example.com")
            ca.ca.configure_trust(ctx)
            client, _ = await https(port, "a.example.com", ctx)
            assert (await client.request(host="a.example.com")).status == 200
            await client.close()
            pem = b.received[-1].header("X-Forwarded-Tls-Client-Cert")
            assert pem and "\n" not in pem and "BEGIN" not in pem
            assert (
                b.received[-1].header("X-Forwarded-Tls-Client-Cert-Info")
                == "SAN%3D%22alice%40example.com%22"
            )


async def test_versions_and_ciphers_with_openssl(tmp_path, ca):
    ca.issue("a.example.com")
    ca.issue("b.example.com")
    dyn = """
http:
  routers:
    a: {rule: "Host(`a.example.com`)", service: noop@internal, tls: {options: modern}}
    b: {rule: "Host(`b.example.com`)", service: noop@internal, tls: {}}
tls:
  certificates:
    - {certFile: a.example.com.crt, keyFile: a.example.com.key}
    - {certFile: b.example.com.crt, keyFile: b.example.com.key}
  options:
    modern: {minVersion: VersionTLS13}
"""
    async with edgeway(tmp_path, dyn) as ew:
        port = ew.port()
        ok = await s_client(port, "-servername", "b.example.com", "-tls1_2")
        # Go's preference order: AES-GCM first (edgeway orders the suites as Go does)
        assert (
            "Protocol  : TLSv1.2" in ok.stdout
            and "Cipher    : ECDHE-ECDSA-AES128-GCM-SHA256" in ok.stdout
        )
        refused = await s_client(port, "-servername", "a.example.com", "-tls1_2")
        # refused (asyncio/uvloop close without flushing OpenSSL's alert; Go sends protocol_version)
        assert refused.returncode != 0 and "Cipher is (NONE)" in refused.stdout
        assert "New, TLSv1.3" in (await s_client(port, "-servername", "a.example.com")).stdout
        old = await s_client(
            port, "-servername", "b.example.com", "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"
        )
        assert old.returncode != 0 and "Cipher is (NONE)" in old.stdout
        cipher = await s_client(
            port, "-servername", "b.example.com", "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA256"
        )
        assert cipher.returncode != 0  # not in Go's default suites


async def test_tls_options_per_host_and_misdirected_requests(tmp_path, ca):
    ca.issue("a.example.com", "b.example.com")
    dyn = """
http:
  routers:
    a: {rule: "Host(`a.example.com`)", service: noop@internal, tls: {options: modern}}
    b: {rule: "Host(`b.example.com`)", service: noop@internal, tls: {}}
tls:
  certificates:
    - {certFile: a.example.com.crt, keyFile: a.example.com.key}
  options:
    modern: {minVersion: VersionTLS12, sniStrict: true}
"""
    async with edgeway(tmp_path, dyn) as ew:
        client, tls = await https(ew.port(), "a.example.com", ca.client_context())
        assert tls.tls_options == "modern@file" if hasattr(tls, "tls_options") else True
        assert (await client.request(host="a.example.com")).status == 200
        r = await client.request(host="b.example.com")  # Host and SNI disagree on the options
        assert (r.status, r.body, r.header("Content-Type")) == (
            421,
            b"Misdirected Request\n",
            "text/plain; charset=utf-8",
        )
        await client.close()


async def test_conflicting_options_fall_back_to_default(tmp_path, ca):
    dyn = """
http:
  routers:
    one: {rule: "Host(`c.example.com`) && Path(`/1`)", service: noop@internal, tls: {options: foo}}
    two: {rule: "Host(`c.example.com`) && Path(`/2`)", service: noop@internal, tls: {options: bar}}
    nohost: {rule: "Path(`/3`)", service: noop@internal, tls: {options: foo}}
tls:
  options:
    foo: {minVersion: VersionTLS13}
    bar: {minVersion: VersionTLS12}
"""
    async with edgeway(tmp_path, dyn) as ew:
        routers = ew.runtime.routers
        assert set(routers) == {
            "web-conflicted-one@file",
            "web-conflicted-two@file",
            "web-conflicted-nohost@file",
        }
        conflict = (
            "router's TLSOptions configuration is conflicting with other routers on the same entrypoint "
            "and host, default TLS options will be used instead"
        )
        assert routers["web-conflicted-one@file"].errors == [conflict]
        assert routers["web-conflicted-one@file"].status == "warning"
        assert routers["web-conflicted-nohost@file"].errors == [
            "no domain found in rule Path(`/3`), the TLS option foo@file cannot be applied"
        ]
        client, tls = await https(ew.port(), "c.example.com", insecure_context())
        assert (await client.request(target="/1", host="c.example.com")).status == 200
        await client.close()


async def test_router_tls_errors(tmp_path):
    dyn = """
http:
  routers:
    unknown: {rule: "Host(`u.example.com`)", service: noop@internal, tls: {options: nope}}
    broken: {rule: "Host(`b.example.com`)", service: noop@internal, tls: {options: bad}}
    resolver: {rule: "Host(`r.example.com`)", service: noop@internal, tls: {certResolver: le}}
tls:
  options:
    bad: {cipherSuites: [TLS_NOT_A_SUITE]}
"""
    async with edgeway(tmp_path, dyn) as ew:
        routers = ew.runtime.routers
        assert routers["unknown@file"].errors == [
            "building router handler: unknown TLS options: nope@file"
        ]
        assert routers["unknown@file"].status == "disabled"
        assert routers["broken@file"].errors == [
            "building router handler: building TLS config: invalid CipherSuite: TLS_NOT_A_SUITE"
        ]
        assert routers["resolver@file"].status == "warning"
        assert 'certificate resolver "le" does not exist' in routers["resolver@file"].errors[0]
        # the broken options' host: connections are closed before any handshake
        with pytest.raises((ssl.SSLError, ConnectionError)):
            await peer_names(ew.port(), "b.example.com")
        client, _ = await https(ew.port(), "r.example.com", insecure_context())
        assert (await client.request(host="r.example.com")).status == 200
        await client.close()


async def test_alpn(tmp_path):
    async with edgeway(tmp_path, "http: {}\n") as ew:
        _, tls = await https(ew.port(), "x.test", insecure_context(alpn=["h2", "http/1.1"]))
        expected = "h2"
        assert tls.selected_alpn_protocol() == expected
        with pytest.raises(ssl.SSLError, match="(?i)no.application.protocol"):
            await https(ew.port(), "x.test", insecure_context(alpn=["spdy/1"]))
        with pytest.raises(ssl.SSLError, match="(?i)unrecognized.name"):
            await https(ew.port(), "x.test", insecure_context(alpn=["acme-tls/1"]))


async def test_redirection_to_the_tls_entry_point(tmp_path):
    port = free_port()
    static = f"""
entryPoints:
  web:
    address: "127.0.0.1:0"
    http: {{redirections: {{entryPoint: {{to: websecure}}}}}}
  websecure: {{address: "127.0.0.1:{port}"}}
"""
    async with edgeway(tmp_path, "http: {}\n", static) as ew:
        r = await get(ew.port("web"), "/path?q=1", host="site.example.com")
        assert (r.status, r.header("Location")) == (
            301,
            f"https://site.example.com:{port}/path?q=1",
        )
        router = ew.runtime.routers["web-to-websecure@internal"]
        assert (router.config.rule, router.config.priority) == ("HostRegexp(`^.+$`)", 2**63 - 2)
        assert ew.runtime.middlewares[
            "redirect-web-to-websecure@internal"
        ].config.redirectScheme.port == str(port)


async def test_redirection_to_a_port(tmp_path):
    static = """
entryPoints:
  web:
    address: "127.0.0.1:0"
    http: {redirections: {entryPoint: {to: ":8443", scheme: https, permanent: false}}}
"""
    async with edgeway(tmp_path, "http: {}\n", static) as ew:
        client = await Client.connect(ew.port())
        r = await client.request("POST", "/p", host="h.example.com", body=b"x")
        assert (r.status, r.header("Location")) == (307, "https://h.example.com:8443/p")
        assert "web-to-8443@internal" in ew.runtime.routers
        await client.close()


async def test_certificates_reload_without_dropping_connections(tmp_path, ca):
    first = ca.issue("a.example.com", file="first")
    second = ca.issue("a.example.com", "second.example.com", file="second")
    template = """
http:
  routers:
    r: {{rule: "PathPrefix(`/`)", service: noop@internal, tls: {{}}}}
tls:
  certificates:
    - {{certFile: {name}.crt, keyFile: {name}.key}}
"""
    assert first and second
    async with edgeway(tmp_path, template.format(name="first")) as ew:
        client, tls = await https(ew.port(), "a.example.com", ca.client_context())
        assert (await client.request(host="a.example.com")).status == 200
        before = ew.kernel.state.reloads
        ew.write_dynamic(template.format(name="second"))
        await ew.wait_applied(before)
        assert await peer_names(ew.port(), "a.example.com") == [
            "a.example.com",
            "second.example.com",
        ]
        # the established connection goes on, with its certificate
        assert (await client.request(host="a.example.com")).status == 200
        await client.close()


async def test_malformed_and_slow_client_hellos(tmp_path):
    async with edgeway(tmp_path, "http: {}\n") as ew:
        port = ew.port()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(build_hello("trailing.dot."))
        with contextlib.suppress(ConnectionResetError):  # reset: the hello was not read
            assert await asyncio.wait_for(reader.read(100), 5) == b""  # closed, nothing written
        writer.close()
        # a ClientHello arriving in pieces is waited for
        hello = bytearray()
        ctx = insecure_context()
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(incoming, outgoing, server_hostname="slow.example.com")
        with pytest.raises(ssl.SSLWantReadError):
            obj.do_handshake()
        hello += outgoing.read()
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        for i in range(0, len(hello), 50):
            await loop.sock_sendall(sock, bytes(hello[i : i + 50]))
            await anyio.sleep(0.003)
        with anyio.fail_after(5):
            data = await loop.sock_recv(sock, 65536)
        assert data[:1] == b"\x16"  # the ServerHello
        sock.close()


async def test_silent_connections_time_out(tmp_path):
    static = """
entryPoints:
  web: {address: "127.0.0.1:0", transport: {respondingTimeouts: {readTimeout: 0.2s}}}
"""
    async with edgeway(tmp_path, "http: {}\n", static) as ew:
        reader, writer = await asyncio.open_connection("127.0.0.1", ew.port())
        with anyio.fail_after(5):
            assert await reader.read(10) == b""
        writer.close()
        assert not ew.kernel.entrypoints["web"].listener.pending


async def test_documented_store_plugin(tmp_path, ca, monkeypatch):
    """The example of docs/hooks.md, run as a plugin."""
    import re
    import types
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "hooks.md").read_text()
    section = doc.split("## `register_tls_stores(register)`")[1].split("\n## ")[0]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    module = types.ModuleType("directory_store")
    exec(compile(code.group(1), "hooks.md", "exec"), module.__dict__)
    certs = tmp_path / "certs"
    certs.mkdir()
    monkeypatch.setenv("CERT_DIR", str(certs))
    dyn = """
http:
  routers:
    r: {rule: "PathPrefix(`/`)", service: noop@internal, tls: {}}
"""
    async with edgeway(tmp_path, dyn, plugins={"directory-store": module}) as ew:
        assert (await peer_names(ew.port(), "d.example.com"))[0].endswith(".traefik.default")
        leaf = ca.issue("d.example.com")
        (certs / "d.crt").write_text(leaf.pem)
        (certs / "d.key").write_text(leaf.key_pem)
        module.DirectoryStore.instances[0].reload()
        with anyio.fail_after(5):
            while await peer_names(ew.port(), "d.example.com") != ["d.example.com"]:
                await anyio.sleep(0.02)
