"""Server certificates: reading (file or inline PEM), parsing, loading into contexts.

A :class:`Certificate` is one parsed certificate/key pair with the names
Traefik indexes it by (pkg/tls/certificate_store.go ``parseCertificate``: the
subject's common name, the DNS names and the IP addresses, lower-cased). It is
immutable and identified by its content, so contexts built for it can be
reused across configuration reloads.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import os
import secrets
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "DEFAULT_DOMAIN",
    "Certificate",
    "generated_default_certificate",
    "generated_if_any",
    "parse_certificate",
    "read_file_or_content",
]

#: The common name of the certificate generated when a store has no default one.
DEFAULT_DOMAIN = "TRAEFIK DEFAULT CERT"


@dataclass(frozen=True, eq=False)
class Certificate:
    """A certificate chain and its private key, both PEM."""

    chain_pem: bytes
    key_pem: bytes
    #: Lower-cased common name, DNS names and IP addresses (``parseCertificate``).
    sans: tuple[str, ...]
    leaf: x509.Certificate = field(repr=False)
    #: SHA-256 of chain and key: equal content, equal identity.
    fingerprint: str = ""

    @property
    def key(self) -> str:
        """The store's index key: the SANs sorted and comma-joined (``appendCertificate``)."""
        return ",".join(sorted(self.sans))

    @property
    def common_name(self) -> str:
        names = self.leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(names[-1].value) if names else ""

    def load_into(self, context: ssl.SSLContext) -> None:
        """``load_cert_chain`` from memory: ``ssl`` only reads files, so the PEM
        goes through pipes (never to disk), or a private temporary directory
        where pipes are not available."""
        with _readable_paths(self.chain_pem, self.key_pem) as (cert_path, key_path):
            context.load_cert_chain(cert_path, key_path)


def read_file_or_content(value: str, workdir: str = ".") -> tuple[bytes, bool]:
    """Traefik's ``FileOrContent.Read``: the file when such a path exists, else the text.

    Returns ``(content, is_path)``.
    """
    path = value if os.path.isabs(value) else os.path.join(workdir, value)
    if value and "\n" not in value and os.path.exists(path):
        with open(path, "rb") as f:
            return f.read(), True
    return value.encode(), False


def parse_certificate(cert_file: str, key_file: str, workdir: str = ".") -> Certificate:
    """Read and check a certificate/key pair like Go's ``tls.X509KeyPair``.

    Raises ValueError with Traefik's wording (``unable to read CertFile``...).
    """
    try:
        chain_pem, _ = read_file_or_content(cert_file, workdir)
    except OSError as exc:
        raise ValueError(f"unable to read CertFile: {exc}") from None
    try:
        key_pem, _ = read_file_or_content(key_file, workdir)
    except OSError as exc:
        raise ValueError(f"unable to read KeyFile: {exc}") from None
    return certificate_from_pem(chain_pem, key_pem)


def certificate_from_pem(chain_pem: bytes, key_pem: bytes) -> Certificate:
    """A :class:`Certificate` from PEM bytes; ValueError as ``tls.X509KeyPair`` fails."""
    prefix = "unable to generate TLS certificate: tls: "
    try:
        chain = x509.load_pem_x509_certificates(chain_pem)
    except ValueError:
        raise ValueError(prefix + "failed to find any PEM data in certificate input") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        raise ValueError(prefix + "failed to find any PEM data in key input") from None
    except Exception as exc:  # unsupported key types
        raise ValueError(prefix + f"failed to parse private key: {exc}") from None
    leaf = chain[0]
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, spki) != leaf.public_key().public_bytes(
        serialization.Encoding.DER, spki
    ):
        raise ValueError(prefix + "private key does not match public key")
    return Certificate(
        chain_pem=b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain),
        key_pem=key_pem,
        sans=_sans(leaf),
        leaf=leaf,
        fingerprint=hashlib.sha256(chain_pem + b"\0" + key_pem).hexdigest(),
    )


def _sans(leaf: x509.Certificate) -> tuple[str, ...]:
    """``parseCertificate``: CN, then DNS names and IPs other than the CN, lower-cased."""
    cn_attrs = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = str(cn_attrs[-1].value) if cn_attrs else ""
    out = [cn.lower()] if cn else []
    try:
        ext = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return tuple(out)
    out += [d.lower() for d in ext.get_values_for_type(x509.DNSName) if d != cn]
    out += [str(ip).lower() for ip in ext.get_values_for_type(x509.IPAddress) if str(ip) != cn]
    return tuple(out)


_generated: Certificate | None = None


def generated_default_certificate() -> Certificate:
    """The self-signed "TRAEFIK DEFAULT CERT" (pkg/tls/generate), made once per process.

    Traefik makes a new one at every configuration reload; one per process keeps
    reloads cheap (an RSA key takes a tenth of a second) and is otherwise the same.
    """
    global _generated
    if _generated is None:
        _generated = _generate()
    return _generated


def generated_if_any() -> Certificate | None:
    """The generated default certificate if it was made already."""
    return _generated


def _generate() -> Certificate:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    z = hashlib.sha256(secrets.token_bytes(100)).hexdigest()
    domain = f"{z[:32]}.{z[32:]}.traefik.default"
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DEFAULT_DOMAIN)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DEFAULT_DOMAIN)]))
        .public_key(key.public_key())
        .serial_number(secrets.randbits(127) + 1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=True,
                data_encipherment=True, key_agreement=True, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return certificate_from_pem(cert.public_bytes(serialization.Encoding.PEM), key_pem)


_PIPE_LIMIT = 60 * 1024  # below Linux's 64 KiB pipe buffer: the write never blocks


@contextlib.contextmanager
def _readable_paths(*contents: bytes) -> Iterator[list[str]]:
    """Paths from which OpenSSL can read each of ``contents`` once."""
    if os.path.isdir("/dev/fd") and all(len(c) <= _PIPE_LIMIT for c in contents):
        fds: list[int] = []
        try:
            paths = []
            for content in contents:
                read_end, write_end = os.pipe()
                fds.append(read_end)
                try:
                    os.write(write_end, content)
                finally:
                    os.close(write_end)
                paths.append(f"/dev/fd/{read_end}")
            yield paths
        finally:
            for fd in fds:
                os.close(fd)
        return
    with tempfile.TemporaryDirectory(prefix="edgeway-cert-") as tmp:
        paths = []
        for i, content in enumerate(contents):
            path = os.path.join(tmp, str(i))
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(content)
            paths.append(path)
        yield paths
