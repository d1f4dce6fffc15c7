"""TLS test helpers: a trustme CA with certificates on disk, TLS clients (Python ``ssl``
and ``openssl s_client``), and in-memory handshakes against a context."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import trustme
from support import Client


@dataclass
class Issued:
    cert: Path
    key: Path
    pem: str  # certificate chain PEM
    key_pem: str


class CA:
    """A trustme CA writing its certificates under ``dir``."""

    def __init__(self, dir: Path, name: str = "ca") -> None:
        self.ca = trustme.CA()
        self.dir = dir
        self.name = name
        self.path = dir / f"{name}.pem"
        self.ca.cert_pem.write_to_path(self.path)

    def issue(self, *names: str, file: str | None = None) -> Issued:
        leaf = self.ca.issue_cert(*names)
        stem = file or names[0].replace("*", "wild")
        cert, key = self.dir / f"{stem}.crt", self.dir / f"{stem}.key"
        leaf.private_key_and_cert_chain_pem  # noqa: B018 - trustme builds lazily
        cert.write_bytes(b"".join(p.bytes() for p in leaf.cert_chain_pems))
        key.write_bytes(leaf.private_key_pem.bytes())
        return Issued(cert, key, cert.read_text(), key.read_text())

    def client_context(self, *, alpn: list[str] | None = None, **kw: Any) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        if alpn is not None:
            ctx.set_alpn_protocols(alpn)
        for k, v in kw.items():
            setattr(ctx, k, v)
        return ctx

    def client_cert_context(self, name: str = "client@example.com", **kw: Any) -> ssl.SSLContext:
        """A context presenting a client certificate issued by this CA."""
        ctx = self.client_context(**kw)
        self.ca.issue_cert(name).configure_cert(ctx)
        return ctx


def insecure_context(alpn: list[str] | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn is not None:
        ctx.set_alpn_protocols(alpn)
    return ctx


async def https(port: int, sni: str | None, ctx: ssl.SSLContext) -> tuple[Client, ssl.SSLObject]:
    """An HTTP/1.1 client over TLS (``sni`` None: no SNI sent)."""
    if sni is None:
        ctx.check_hostname = False
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname=sni or None), 5
    )
    return Client(reader, writer), writer.get_extra_info("ssl_object")


async def peer_names(port: int, sni: str | None, ctx: ssl.SSLContext | None = None) -> list[str]:
    """The DNS names of the certificate the server presents for ``sni``."""
    ctx = ctx or insecure_context()
    client, tls = await https(port, sni, ctx)
    try:
        der = tls.getpeercert(binary_form=True)
        assert der is not None
        from cryptography import x509

        cert = x509.load_der_x509_certificate(der)
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            return list(san.get_values_for_type(x509.DNSName))
        except x509.ExtensionNotFound:
            return []
    finally:
        await client.close()


async def s_client(port: int, *args: str, data: bytes = b"") -> subprocess.CompletedProcess[str]:
    """``openssl s_client`` against 127.0.0.1:port; stdin is ``data`` (then it waits
    for the server to close) or nothing (it ends after the handshake)."""

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                "openssl",
                "s_client",
                "-connect",
                f"127.0.0.1:{port}",
                *(("-ign_eof",) if data else ()),
                *args,
            ],
            input=data.decode(),
            capture_output=True,
            text=True,
            timeout=10,
        )

    return await anyio.to_thread.run_sync(run)


def memory_handshake(
    server: ssl.SSLContext, client: ssl.SSLContext, sni: str | None
) -> tuple[ssl.SSLObject, ssl.SSLObject]:
    """Handshake two contexts through memory BIOs; raises the first side's SSLError."""
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    if sni is None:
        client.check_hostname = False
    c = client.wrap_bio(c_in, c_out, server_hostname=sni)
    s = server.wrap_bio(s_in, s_out, server_side=True)
    done = [False, False]
    for _ in range(20):
        for i, obj in enumerate((c, s)):
            if done[i]:
                continue
            try:
                obj.do_handshake()
                done[i] = True
            except ssl.SSLWantReadError:
                pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done):
            # TLS 1.3: the server verifies the client's certificate on its last read.
            with contextlib.suppress(ssl.SSLWantReadError):
                s.read(1)
            return c, s
    raise AssertionError("handshake did not finish")
