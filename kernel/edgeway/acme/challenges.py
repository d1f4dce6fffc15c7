"""HTTP-01 and TLS-ALPN-01 answers (challenge_http.go, challenge_tls.go).

:class:`MemoryChallenges` is the single-process :class:`ChallengePublisher`:
HTTP-01 key authorizations by (token, domain) as Traefik keys them, TLS-ALPN-01
certificates by domain, served from the ``acme-tls/1`` TLS store (the kernel is
told to rebuild its stores when they change).
"""

from __future__ import annotations

import datetime
import hashlib
import re
import threading
from collections.abc import Awaitable, Callable

import anyio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier

from edgeway.http.message import Headers, Request, Response

__all__ = ["MemoryChallenges", "http01_handler", "tlsalpn01_certificate"]

#: id-pe-acmeIdentifier (RFC 8737).
ACME_IDENTIFIER_OID = ObjectIdentifier("1.3.6.1.5.5.7.1.31")
_TOKEN_PATH = re.compile(r"^/\.well-known/acme-challenge/([^/]+)/?$")
#: An ACME token: base64url, at least 128 bits (RFC 8555 §8.1).
_ACME_TOKEN = re.compile(r"^[A-Za-z0-9_-]{22,}$")
#: Direct reads of a shared storage running at once (HTTP-01 and TLS-ALPN-01 misses).
FETCH_CONCURRENCY = 4


class MemoryChallenges:
    def __init__(self, changed: Callable[[], None] = lambda: None) -> None:
        self._lock = threading.Lock()
        self._http: dict[str, dict[str, str]] = {}
        self._alpn: dict[str, tuple[bytes, bytes]] = {}
        self._changed = changed

    def publish_http01(self, domain: str, token: str, key_authorization: str) -> None:
        with self._lock:
            self._http.setdefault(token, {})[domain] = key_authorization

    def withdraw_http01(self, domain: str, token: str) -> None:
        with self._lock:
            by_domain = self._http.get(token)
            if by_domain is not None:
                by_domain.pop(domain, None)
                if not by_domain:
                    del self._http[token]

    def http01(self, domain: str, token: str) -> str | None:
        with self._lock:
            return self._http.get(token, {}).get(domain)

    def publish_tlsalpn01(self, domain: str, cert_pem: bytes, key_pem: bytes) -> None:
        with self._lock:
            self._alpn[domain] = (cert_pem, key_pem)
        self._changed()

    def withdraw_tlsalpn01(self, domain: str) -> None:
        with self._lock:
            found = self._alpn.pop(domain, None)
        if found is not None:
            self._changed()

    def tlsalpn01_certificates(self) -> list[tuple[bytes, bytes]]:
        with self._lock:
            return list(self._alpn.values())


def http01_handler(
    lookup: Callable[[str, str], str | None], fetch: Callable[[str, str], str | None] | None = None
) -> Callable[[Request], Awaitable[Response]]:
    """``ChallengeHTTP.ServeHTTP``: the key authorization for (token, host), else 404.

    ``fetch`` (blocking, run in a worker thread) is asked on a miss: a shared
    storage's direct read, for a validation that raced its watch. Only for
    what can be an ACME token, and a few at a time, so stray requests cannot
    turn into a flood of reads."""
    text_plain = (b"Content-Type", b"text/plain; charset=utf-8")
    limiter: list[anyio.CapacityLimiter] = []

    async def serve(req: Request) -> Response:
        found = _TOKEN_PATH.match(req.path)
        if found is not None:
            host = req.authority or ""
            # net.SplitHostPort, falling back to the whole Host header.
            if host.startswith("["):
                end = host.find("]")
                domain = host[1:end] if end > 0 and host[end + 1 :].startswith(":") else host
            else:
                name, colon, port = host.rpartition(":")
                domain = name if colon and ":" not in name else host
            value = lookup(domain, found.group(1))
            if not value and fetch is not None and _ACME_TOKEN.match(found.group(1)):
                if not limiter:
                    limiter.append(anyio.CapacityLimiter(FETCH_CONCURRENCY))
                value = await anyio.to_thread.run_sync(fetch, domain, found.group(1), limiter=limiter[0])
            if value:
                return Response(200, Headers([text_plain]), value.encode())
        return Response(404)

    return serve


def tlsalpn01_certificate(domain: str, key_authorization: str) -> tuple[bytes, bytes]:
    """A self-signed certificate for ``domain`` carrying the critical acmeIdentifier
    extension: the SHA-256 of the key authorization as a DER OCTET STRING."""
    key = ec.generate_private_key(ec.SECP256R1())
    digest = hashlib.sha256(key_authorization.encode()).digest()
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ACME challenge")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
        .add_extension(
            x509.UnrecognizedExtension(ACME_IDENTIFIER_OID, b"\x04\x20" + digest), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem
