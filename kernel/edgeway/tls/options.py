"""``tls.options`` -> server ``ssl.SSLContext`` (pkg/tls/tlsmanager.go ``buildTLSConfig``).

Options are checked once, when the configuration is applied, into a
:class:`ServerOptions` (errors carry Traefik's messages, e.g. ``invalid
CipherSuite: X``); contexts are then made from it per certificate. Go's
semantics are kept where OpenSSL's differ:

* no ``minVersion`` (or an unknown one, which Traefik ignores) means TLS 1.2,
  Go's server default; TLS 1.0/1.1 need OpenSSL 3's security level 0;
* ``cipherSuites`` only restrict TLS ≤ 1.2 (TLS 1.3 suites are not
  configurable in Go either); a list naming only TLS 1.3 suites leaves TLS 1.2
  with nothing to negotiate, i.e. TLS 1.3 only;
* ``caFiles`` alone means ``RequireAndVerifyClientCert``; ``RequestClientCert``
  and ``RequireAnyClientCert`` ask for a certificate without verifying it.
"""

from __future__ import annotations

import contextlib
import ssl
import warnings
from dataclasses import dataclass

from edgeway.config.dynamic_tls import DEFAULT_ALPN_PROTOCOLS, DEFAULT_CIPHER_SUITES, TLSOptions

from . import openssl
from .certificates import Certificate, read_file_or_content
from .names import CIPHER_SUITES, CURVES, TLS_VERSIONS

__all__ = [
    "CLIENT_AUTH_TYPES",
    "DEFAULT_OPTIONS",
    "DEFAULT_OPTIONS_NAME",
    "ServerContext",
    "ServerOptions",
    "server_options",
]

DEFAULT_OPTIONS_NAME = "default"

CLIENT_AUTH_TYPES = (
    "NoClientCert",
    "RequestClientCert",
    "RequireAnyClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
)

#: ``tls.DefaultTLSOptions``: what ``default`` is when no provider defines it.
DEFAULT_OPTIONS = TLSOptions(
    minVersion="VersionTLS12",
    cipherSuites=list(DEFAULT_CIPHER_SUITES),
    alpnProtocols=list(DEFAULT_ALPN_PROTOCOLS),
)


class ServerContext(ssl.SSLContext):
    """A server context that knows the options it was made from.

    Its TLS objects (``req.tls``) carry ``tls_options``, the qualified options
    name, which Traefik's SNI check compares with the router's.
    """

    options_name: str = DEFAULT_OPTIONS_NAME
    alpn: tuple[str, ...] = ()


_sslobject_classes: dict[str, type[ssl.SSLObject]] = {}


def _sslobject_class(options_name: str) -> type[ssl.SSLObject]:
    cls = _sslobject_classes.get(options_name)
    if cls is None:
        cls = _sslobject_classes[options_name] = type("SSLObject", (ssl.SSLObject,), {"tls_options": options_name})
    return cls


@dataclass(frozen=True)
class ServerOptions:
    """Checked TLS options; :meth:`context` makes the ``SSLContext`` for one certificate."""

    min_version: ssl.TLSVersion
    max_version: ssl.TLSVersion
    #: OpenSSL cipher string for TLS ≤ 1.2 ("": OpenSSL's defaults).
    ciphers: str
    #: ``cipherSuites`` named no TLS ≤ 1.2 suite: only TLS 1.3 can be negotiated.
    tls13_only: bool
    groups: tuple[str, ...] | None
    client_auth: str  # one of CLIENT_AUTH_TYPES
    client_cas: str  # PEM
    alpn: tuple[str, ...]
    sni_strict: bool
    session_tickets: bool

    def context(self, cert: Certificate, options_name: str = DEFAULT_OPTIONS_NAME) -> ServerContext:
        ctx = ServerContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.options_name = options_name
        ctx.alpn = self.alpn
        ctx.sslobject_class = _sslobject_class(options_name)
        ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
        with warnings.catch_warnings():  # TLS 1.0/1.1 are deprecated, and still Traefik options
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = self.min_version
            ctx.maximum_version = self.max_version
        if self.tls13_only:
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        elif self.ciphers:
            ctx.set_ciphers(self.ciphers)
        if self.groups:
            openssl.set_groups(ctx, list(self.groups))
        with contextlib.suppress(openssl.OpenSSLUnavailable):
            openssl.set_tls13_suites(ctx, _GO_TLS13_PREFERENCE)
        if not self.session_tickets:
            ctx.options |= ssl.OP_NO_TICKET
            ctx.num_tickets = 0
        if self.alpn:
            ctx.set_alpn_protocols(list(self.alpn))
        if self.client_cas:
            ctx.load_verify_locations(cadata=self.client_cas)
        mode = self.client_auth
        if mode == "VerifyClientCertIfGiven":
            ctx.verify_mode = ssl.CERT_OPTIONAL
        elif mode == "RequireAndVerifyClientCert":
            ctx.verify_mode = ssl.CERT_REQUIRED
        elif mode in ("RequestClientCert", "RequireAnyClientCert"):
            openssl.accept_any_client_certificate(ctx, required=mode == "RequireAnyClientCert")
        cert.load_into(ctx)
        return ctx


def server_options(options: TLSOptions, workdir: str = ".", *, offer_h2: bool = True) -> ServerOptions:
    """Check ``options``; raises ValueError with Traefik's ``buildTLSConfig`` messages.

    ``offer_h2`` False drops ``h2`` from the ALPN offer (no HTTP/2 server available).
    """
    cas: list[str] = []
    client_auth = ""
    for ca in options.clientAuth.caFiles or ():
        data, is_path = read_file_or_content(ca, workdir)
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_verify_locations(cadata=data.decode("latin-1"))
        except (ssl.SSLError, ValueError):
            raise ValueError(f"invalid certificate(s) in {ca}" if is_path else "invalid certificate(s) content") from None
        cas.append(data.decode("latin-1"))
    if cas:
        client_auth = "RequireAndVerifyClientCert"
    auth_type = options.clientAuth.clientAuthType or ""
    if auth_type:
        if not cas and auth_type in ("VerifyClientCertIfGiven", "RequireAndVerifyClientCert"):
            raise ValueError(f"invalid clientAuthType: {auth_type}, CAFiles is required")
        if auth_type not in CLIENT_AUTH_TYPES:
            raise ValueError(f'unknown client auth type "{auth_type}"')
        client_auth = auth_type
    min_version = TLS_VERSIONS.get(options.minVersion or "", ssl.TLSVersion.TLSv1_2)
    max_version = TLS_VERSIONS.get(options.maxVersion or "", ssl.TLSVersion.TLSv1_3)
    ciphers = ""
    tls13_only = False
    if options.cipherSuites is not None:
        names: list[str] = []
        for suite in options.cipherSuites:
            if suite not in CIPHER_SUITES:
                raise ValueError(f"invalid CipherSuite: {suite}")
            name = CIPHER_SUITES[suite]
            if name is not None and name not in names:
                names.append(name)
        names.sort(key=_GO_PREFERENCE.index)
        unavailable = [n for n in names if not _cipher_available(n)]
        if unavailable:
            raise ValueError(f"cipher suites not available in this OpenSSL build: {', '.join(unavailable)}")
        ciphers = ":".join(names)
        tls13_only = not names
    if not tls13_only and min_version < ssl.TLSVersion.TLSv1_2:
        # OpenSSL 3 refuses TLS 1.0/1.1 (SHA-1 signatures) above security level 0.
        ciphers = (ciphers or "DEFAULT") + ":@SECLEVEL=0"
    groups: tuple[str, ...] | None = None
    if options.curvePreferences is not None:
        out: list[str] = []
        for curve in options.curvePreferences:
            if curve not in CURVES:
                raise ValueError(f"invalid CurveID in curvePreferences: {curve}")
            group = CURVES[curve]
            if group is not None and group not in out:
                out.append(group)
        groups = tuple(out)
    alpn = tuple(p for p in options.alpnProtocols or () if offer_h2 or p != "h2")
    spec = ServerOptions(
        min_version=min_version,
        max_version=max_version,
        ciphers=ciphers,
        tls13_only=tls13_only,
        groups=groups,
        client_auth=client_auth,
        client_cas="".join(cas),
        alpn=alpn,
        sni_strict=bool(options.sniStrict),
        session_tickets=not options.disableSessionTickets,
    )
    _check(spec)
    return spec


#: Go's TLS 1.3 order (``defaultCipherSuitesTLS13``, AES hardware).
_GO_TLS13_PREFERENCE = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]

#: Go's ``cipherSuitesPreferenceOrder`` (crypto/tls/cipher_suites.go, AES hardware):
#: a Go server picks by this order whatever order the configuration lists.
_GO_PREFERENCE = [
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES256-SHA",
    "ECDHE-ECDSA-AES128-SHA256", "ECDHE-RSA-AES128-SHA256",
    "AES128-GCM-SHA256", "AES256-GCM-SHA384", "AES128-SHA", "AES256-SHA", "AES128-SHA256",
    "ECDHE-ECDSA-RC4-SHA", "ECDHE-RSA-RC4-SHA", "RC4-SHA",
    "ECDHE-RSA-DES-CBC3-SHA", "DES-CBC3-SHA",
]  # fmt: skip


def _cipher_available(name: str) -> bool:
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).set_ciphers(name)
    except ssl.SSLError:
        return False
    return True


def _check(spec: ServerOptions) -> None:
    """Build one context without a certificate, so settings OpenSSL refuses fail now."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        if spec.groups:
            openssl.set_groups(ctx, list(spec.groups))
        if spec.client_auth in ("RequestClientCert", "RequireAnyClientCert"):
            openssl.accept_any_client_certificate(ctx, required=False)
    except ValueError as exc:
        raise ValueError(f"curvePreferences: {exc}") from None
    except openssl.OpenSSLUnavailable as exc:
        raise ValueError(str(exc)) from None
