"""``serversTransports``: how edgeway talks to servers (TLS, HTTP/2, pooling, timeouts).

A service names a transport (``name@provider``) or gets ``default@internal``,
made from the static ``serversTransport``. :class:`Transports` resolves names
into :class:`TransportSettings` (every option checked when the configuration is
applied, with Traefik's error messages) and keeps one ``ssl.SSLContext`` per
distinct TLS setting and protocol offer for the configuration being built.

TLS follows Traefik's ``createTLSConfig`` (pkg/server/service/transport.go):
``rootCAs`` replace the system roots, client ``certificates`` give mutual TLS,
``cipherSuites`` take Go's names (pkg/tls/cipher.go) mapped to OpenSSL's,
``peerCertSANs``/``peerCertURI`` check the server certificate after the chain.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from edgeway.pipeline.runtime import qualify
from edgeway.services import BuildError
from edgeway.tls.names import CIPHER_SUITES, TLS_VERSIONS


@dataclass
class TransportDefaults:
    """The static ``serversTransport``: used by services that name none."""

    insecure_skip_verify: bool = False
    root_cas: Sequence[str] = ()
    max_idle_conns_per_host: int = 200
    dial_timeout: float = 30.0
    response_header_timeout: float = 0.0
    idle_conn_timeout: float = 90.0


@dataclass(frozen=True)
class TransportSettings:
    server_name: str = ""
    insecure_skip_verify: bool = False
    root_cas: tuple[str, ...] = ()
    #: ``(certFile, keyFile)`` pairs, each a path or inline PEM.
    certificates: tuple[tuple[str, str], ...] = ()
    #: OpenSSL names of the TLS ≤ 1.2 suites to offer (empty: OpenSSL's defaults).
    ciphers: tuple[str, ...] = ()
    #: cipherSuites named only TLS 1.3 suites: no TLS 1.2 suite is offered.
    tls13_only: bool = False
    min_version: str | None = None
    max_version: str | None = None
    #: ``(type, value)`` Subject Alternative Names the server certificate must have one of.
    peer_cert_sans: tuple[tuple[str, str], ...] = ()
    disable_http2: bool = False
    max_idle: int = 200
    dial_timeout: float = 30.0
    idle_timeout: float = 90.0
    response_header_timeout: float = 0.0
    #: HTTP/2 health check: ping after this long without a frame (0: never) ...
    read_idle_timeout: float = 0.0
    #: ... and close the connection if the ping is not answered within this.
    ping_timeout: float = 15.0

    @property
    def tls_key(self) -> tuple[Any, ...]:
        """What distinguishes one TLS client configuration from another."""
        return (
            self.server_name,
            self.insecure_skip_verify,
            self.root_cas,
            self.certificates,
            self.ciphers,
            self.tls13_only,
            self.min_version,
            self.max_version,
            self.peer_cert_sans,
        )


_SAN_TYPES = ("DNSName", "URI")


class Transports:
    def __init__(
        self, declared: Mapping[str, tuple[str, Any]], defaults: TransportDefaults, workdir: str
    ) -> None:
        self.declared = declared
        self.defaults = defaults
        self.workdir = workdir
        self._contexts: dict[tuple[Any, ...], ssl.SSLContext] = {}

    def resolve(self, name: str | None, provider: str) -> TransportSettings:
        """The settings of transport ``name`` referenced from ``provider``; raises BuildError."""
        d = self.defaults
        if not name or qualify(name, provider) == "default@internal":
            return TransportSettings(
                insecure_skip_verify=d.insecure_skip_verify,
                root_cas=tuple(d.root_cas),
                max_idle=d.max_idle_conns_per_host,
                dial_timeout=d.dial_timeout,
                idle_timeout=d.idle_conn_timeout,
                response_header_timeout=d.response_header_timeout,
            )
        qname = qualify(name, provider)
        found = self.declared.get(qname)
        if found is None:
            raise BuildError(f'serversTransport "{qname}" does not exist')
        try:
            return _settings(found[1], d)
        except ValueError as exc:
            raise BuildError(f"serversTransport {qname}: {exc}") from None

    def ssl_context(self, t: TransportSettings, *, http2: bool = False) -> ssl.SSLContext:
        """The client TLS context for ``t`` (shared by equal settings).

        ``http2`` offers ``h2`` then ``http/1.1`` by ALPN, as Go's transport does
        when HTTP/2 is enabled; without it no ALPN is sent (Go's HTTP/1-only transport).
        """
        key = (t.tls_key, http2)
        ctx = self._contexts.get(key)
        if ctx is None:
            ctx = self._build_context(t)
            if http2:
                ctx.set_alpn_protocols(["h2", "http/1.1"])
            self._contexts[key] = ctx
        return ctx

    def _build_context(self, t: TransportSettings) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if t.root_cas:  # Go: the pool replaces the system roots
            for ca in t.root_cas:
                try:
                    if "-----BEGIN" in ca:
                        ctx.load_verify_locations(cadata=ca)
                    else:
                        ctx.load_verify_locations(cafile=self._path(ca))
                except (OSError, ssl.SSLError, ValueError) as exc:
                    raise BuildError(
                        f"serversTransport rootCAs: cannot load {ca[:60]!r}: {exc}"
                    ) from None
        else:
            ctx.load_default_certs()
        if t.insecure_skip_verify or t.peer_cert_sans:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if t.peer_cert_sans:
            # Go's VerifyPeerCertificate verifies the chain (without the name) even
            # with insecureSkipVerify, then wants one of the SANs.
            ctx.verify_mode = ssl.CERT_REQUIRED
        for attr, value in (("minimum_version", t.min_version), ("maximum_version", t.max_version)):
            if value:
                setattr(ctx, attr, TLS_VERSIONS[value])
        # Go offers its TLS 1.2 suites even with minVersion TLS 1.3 and refuses a
        # TLS 1.2 server itself; OpenSSL would offer none and get reset instead.
        require_tls13 = t.min_version == "VersionTLS13" and not t.tls13_only
        if require_tls13:
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if t.peer_cert_sans or require_tls13:
            ctx.sslobject_class = _checking(
                t.peer_cert_sans,
                check_hostname=not t.insecure_skip_verify,
                require_tls13=require_tls13,
            )
        if t.tls13_only:
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        elif t.ciphers:
            try:
                ctx.set_ciphers(":".join(t.ciphers))
            except ssl.SSLError:
                missing = [c for c in t.ciphers if not _cipher_available(c)]
                raise BuildError(
                    f"serversTransport cipherSuites: not available in this OpenSSL build: {', '.join(missing)}"
                ) from None
        for cert, key in t.certificates:
            self._load_client_certificate(ctx, cert, key)
        return ctx

    def _path(self, name: str) -> str:
        return name if os.path.isabs(name) else os.path.join(self.workdir, name)

    def _load_client_certificate(self, ctx: ssl.SSLContext, cert: str, key: str) -> None:
        """``ssl`` loads a chain from files only: inline PEM goes through a private
        temporary directory (0700, files 0600) that is removed right after loading."""
        with tempfile.TemporaryDirectory(prefix="edgeway-cert-") as tmp:
            paths = []
            for kind, value in (("certFile", cert), ("keyFile", key)):
                if "-----BEGIN" in value:
                    path = os.path.join(tmp, kind)
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "w") as f:
                        f.write(value)
                    paths.append(path)
                else:
                    paths.append(self._path(value))
            try:
                ctx.load_cert_chain(paths[0], paths[1])
            except (OSError, ssl.SSLError) as exc:
                raise BuildError(
                    f"serversTransport certificates: cannot load {cert[:60]!r}: {exc}"
                ) from None


def _settings(t: Any, d: TransportDefaults) -> TransportSettings:
    """TransportSettings from a dynamic ``ServersTransport``; raises ValueError."""
    if t.spiffe is not None:
        raise ValueError("spiffe is not supported by edgeway (no SPIFFE Workload API client)")
    ciphers: list[str] = []
    named = False
    for name in t.cipherSuites or ():
        if name not in CIPHER_SUITES:
            raise ValueError(f"invalid CipherSuite: {name}")
        named = True
        openssl = CIPHER_SUITES[name]
        if openssl is not None and openssl not in ciphers:
            ciphers.append(openssl)
    for option, value in (("minimum", t.minVersion), ("maximum", t.maxVersion)):
        if value and value not in TLS_VERSIONS:
            raise ValueError(f"invalid TLS {option} version: {value}")
    if t.minVersion and t.maxVersion and TLS_VERSIONS[t.minVersion] > TLS_VERSIONS[t.maxVersion]:
        raise ValueError(
            f"TLS minimum version {t.minVersion} is above the maximum version {t.maxVersion}"
        )
    ft = t.forwardingTimeouts
    return TransportSettings(
        **client_tls_fields(t),
        ciphers=tuple(ciphers),
        tls13_only=named and not ciphers,
        min_version=t.minVersion or None,
        max_version=t.maxVersion or None,
        disable_http2=bool(t.disableHTTP2),
        max_idle=max(
            0,
            t.maxIdleConnsPerHost
            if t.maxIdleConnsPerHost is not None
            else d.max_idle_conns_per_host,
        ),
        # Without forwardingTimeouts Go's dialer and transport use 30 s and 90 s.
        dial_timeout=(ft.dialTimeout or 0.0) if ft else 30.0,
        idle_timeout=(ft.idleConnTimeout or 0.0) if ft else 90.0,
        response_header_timeout=(ft.responseHeaderTimeout or 0.0) if ft else 0.0,
        read_idle_timeout=(ft.readIdleTimeout or 0.0) if ft else 0.0,
        ping_timeout=(ft.pingTimeout or 0.0) if ft else 15.0,
    )


def client_tls_fields(t: Any) -> dict[str, Any]:
    """The TLS client fields HTTP and TCP ``serversTransports`` share (serverName,
    insecureSkipVerify, rootCAs, certificates, peerCertSANs/peerCertURI), as
    :class:`TransportSettings` keyword arguments; raises ValueError."""
    certificates = []
    for cert in t.certificates or ():
        if not cert.certFile or not cert.keyFile:
            raise ValueError("certificates: each entry needs certFile and keyFile")
        certificates.append((cert.certFile, cert.keyFile))
    if len(certificates) > 1:
        raise ValueError(
            "certificates: edgeway presents one client certificate; "
            f"{len(certificates)} were given (Go picks one per handshake by the server's accepted CAs)"
        )
    sans = []
    for san in t.peerCertSANs or ():
        if san.type not in _SAN_TYPES:
            raise ValueError(
                f"peerCertSANs: unknown SAN type {san.type!r} (expected DNSName or URI)"
            )
        sans.append((san.type, san.value or ""))
    if t.peerCertURI:
        sans.append(("URI", t.peerCertURI))
    return {
        "server_name": t.serverName or "",
        "insecure_skip_verify": bool(t.insecureSkipVerify),
        "root_cas": tuple(t.rootCAs or ()),
        "certificates": tuple(certificates),
        "peer_cert_sans": tuple(sans),
    }


def _cipher_available(name: str) -> bool:
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).set_ciphers(name)
    except ssl.SSLError:
        return False
    return True


def _checking(
    sans: tuple[tuple[str, str], ...], *, check_hostname: bool, require_tls13: bool
) -> type[ssl.SSLObject]:
    """An ``SSLObject`` class whose handshake also checks what Go checks itself:
    one of ``sans`` in the server certificate, TLS 1.3 when required.

    asyncio (and uvloop) create TLS connections through ``SSLContext.wrap_bio``,
    which instantiates ``sslobject_class``: the check runs inside the handshake,
    so a mismatch fails the connection like any verification error.
    """

    class CheckingSSLObject(ssl.SSLObject):
        def do_handshake(self) -> None:
            super().do_handshake()
            if require_tls13 and self.version() != "TLSv1.3":
                raise ssl.SSLError(
                    f"tls: server selected unsupported protocol version {self.version()}"
                )
            if not sans:
                return
            cert = self.getpeercert()
            if cert is None:
                raise ssl.SSLCertVerificationError("tls: no certificates from peer")
            if check_hostname and self.server_hostname:
                _verify_hostname(cert, self.server_hostname)
            if not matches_san(cert, sans):
                raise ssl.SSLCertVerificationError("no matching SAN in peer certificate")

    return CheckingSSLObject


def _verify_hostname(cert: Any, hostname: str) -> None:
    if not matches_san(cert, (("DNSName", hostname),)):
        raise ssl.SSLCertVerificationError(f"certificate is not valid for {hostname}")


def matches_san(cert: Any, sans: Sequence[tuple[str, str]]) -> bool:
    """Whether the certificate (``getpeercert()`` dict) has one of ``sans``.

    ``URI`` compares case-insensitively (Go's ``strings.EqualFold``); ``DNSName``
    is Go's ``VerifyHostname``: an IP value matches IP SANs, a name matches DNS
    SANs with a leftmost-label wildcard.
    """
    alt = cert.get("subjectAltName", ())
    for kind, value in sans:
        if kind == "URI":
            if any(t == "URI" and v.casefold() == value.casefold() for t, v in alt):
                return True
            continue
        host = value.strip("[]")
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            if any(t == "DNS" and _match_hostname(v, host) for t, v in alt):
                return True
        else:
            if any(t == "IP Address" and _same_ip(v, ip) for t, v in alt):
                return True
    return False


def _same_ip(value: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    try:
        return ipaddress.ip_address(value.strip()) == ip
    except ValueError:
        return False


def _match_hostname(pattern: str, host: str) -> bool:
    """Go's ``matchHostnames``: case-insensitive, ``*`` only as the whole leftmost label."""
    pattern = pattern.lower().rstrip(".")
    host = host.lower().rstrip(".")
    if not pattern or not host:
        return False
    p_labels = pattern.split(".")
    h_labels = host.split(".")
    if len(p_labels) != len(h_labels):
        return False
    for i, (p, h) in enumerate(zip(p_labels, h_labels, strict=True)):
        if i == 0 and p == "*":
            continue
        if p != h:
            return False
    return True
