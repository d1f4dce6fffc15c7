"""The ``tls`` section (pkg/tls, pkg/types) and the TLS types other sections reuse."""

from __future__ import annotations

from pydantic import Field

from .dynamic_base import StrList, TraefikModel

__all__ = [
    "SAN",
    "CertAndStores",
    "Certificate",
    "ClientAuth",
    "DEFAULT_ALPN_PROTOCOLS",
    "DEFAULT_CIPHER_SUITES",
    "Domain",
    "GeneratedCert",
    "RedisTLS",
    "TLSConfiguration",
    "TLSOptions",
    "TLSStore",
]

#: ``tls.DefaultTLSOptions.ALPNProtocols`` (pkg/tls/tlsmanager.go).
DEFAULT_ALPN_PROTOCOLS = ("h2", "http/1.1", "acme-tls/1")

#: Go's ``tls.CipherSuites()`` names, which ``Options.SetDefaults`` copies
#: (pkg/tls/tlsmanager.go ``getCipherSuites``; Go 1.26, as in the conformance data).
DEFAULT_CIPHER_SUITES = (
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
)


class Domain(TraefikModel):
    """A main domain and its SANs (types.Domain), used by routers and ACME."""

    main: str | None = None
    sans: StrList | None = None


class SAN(TraefikModel):
    """A Subject Alternative Name a backend certificate must carry (tls.SAN)."""

    type: str | None = None
    value: str | None = None


class Certificate(TraefikModel):
    """A certificate/key pair; each value is a file path or inline PEM (FileOrContent)."""

    certFile: str | None = None
    keyFile: str | None = None


class CertAndStores(Certificate):
    """A certificate of ``tls.certificates`` and the stores it goes to (default: ``default``)."""

    stores: StrList | None = None


class ClientAuth(TraefikModel):
    """Client-certificate (mTLS) policy of a TLS option."""

    caFiles: StrList | None = None
    clientAuthType: str | None = None


class TLSOptions(TraefikModel):
    """One entry of ``tls.options``.

    ``Options.SetDefaults`` fills the ALPN protocols and cipher suites; the
    minimum version (TLS 1.2) only belongs to the implicit ``default`` option,
    so it is not a default here. ``clientAuth`` is a plain Go struct, always present.
    """

    minVersion: str | None = None
    maxVersion: str | None = None
    cipherSuites: StrList | None = Field(default_factory=lambda: list(DEFAULT_CIPHER_SUITES))
    curvePreferences: StrList | None = None
    clientAuth: ClientAuth = Field(default_factory=ClientAuth)
    sniStrict: bool | None = None
    alpnProtocols: StrList | None = Field(default_factory=lambda: list(DEFAULT_ALPN_PROTOCOLS))
    disableSessionTickets: bool | None = None
    preferServerCipherSuites: bool | None = None  # deprecated no-op, still accepted


class GeneratedCert(TraefikModel):
    """Default certificate of a store obtained from a certificate resolver."""

    resolver: str | None = None
    domain: Domain | None = None


class TLSStore(TraefikModel):
    """One entry of ``tls.stores``: its default certificate."""

    defaultCertificate: Certificate | None = None
    defaultGeneratedCert: GeneratedCert | None = None


class RedisTLS(TraefikModel):
    """Client TLS towards Redis (types.ClientTLS: CA, cert and key are paths or PEM)."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    insecureSkipVerify: bool | None = None


class TLSConfiguration(TraefikModel):
    """The ``tls`` section: certificates, named options and certificate stores."""

    certificates: list[CertAndStores] | None = None
    options: dict[str, TLSOptions] | None = None
    stores: dict[str, TLSStore] | None = None
