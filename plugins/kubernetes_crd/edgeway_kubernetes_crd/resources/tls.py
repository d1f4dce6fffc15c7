"""The TLSOption and TLSStore kinds (Go: tlsoption.go, tlsstore.go, ``tls.GeneratedCert``)."""

from __future__ import annotations

from typing import Literal

from edgeway_kubernetes_crd.resources.base import CRDModel, Pointer
from edgeway_kubernetes_crd.resources.common import Domain

__all__ = ["Certificate", "ClientAuth", "GeneratedCert", "TLSOptionSpec", "TLSStoreSpec"]


class ClientAuth(CRDModel):
    """TLS client authentication."""

    secretNames: list[str] | None = None
    """Secrets holding the CAs that verify client certificates."""
    clientAuthType: (
        Literal[
            "NoClientCert",
            "RequestClientCert",
            "RequireAnyClientCert",
            "VerifyClientCertIfGiven",
            "RequireAndVerifyClientCert",
        ]
        | None
    ) = None
    """Whether a client certificate is asked for, required and verified."""


class TLSOptionSpec(CRDModel):
    """Parameters of TLS connections: versions, ciphers, curves, client authentication."""

    minVersion: str | None = None
    """Lowest TLS version accepted: VersionTLS10 (default) to VersionTLS13."""
    maxVersion: str | None = None
    """Highest TLS version accepted (default: the highest supported)."""
    cipherSuites: list[str] | None = None
    """Cipher suites allowed up to TLS 1.2."""
    curvePreferences: list[str] | None = None
    """Elliptic curves, in order of preference."""
    clientAuth: ClientAuth | None = None
    """TLS client authentication."""
    sniStrict: bool | None = None
    """Refuse clients that send no server name (SNI)."""
    alpnProtocols: list[str] | None = None
    """ALPN protocols offered, in order of preference."""
    disableSessionTickets: bool | None = None
    """Do not resume sessions with session tickets."""
    preferServerCipherSuites: Pointer[bool] | None = None
    """Deprecated (no effect)."""


class Certificate(CRDModel):
    """A certificate and key from a Secret."""

    secretName: str
    """The Secret holding the certificate and key."""


class GeneratedCert(CRDModel):
    """A default certificate obtained from a certificate resolver."""

    resolver: str | None = None
    """Certificate resolver (from the static configuration) that obtains the certificate."""
    domain: Pointer[Domain] | None = None
    """Domain of the certificate."""


class TLSStoreSpec(CRDModel):
    """A certificate store (only the one named `default` is used)."""

    defaultCertificate: Pointer[Certificate] | None = None
    """Certificate served when none matches the requested name."""
    defaultGeneratedCert: Pointer[GeneratedCert] | None = None
    """Default certificate obtained from a certificate resolver."""
    certificates: list[Certificate] | None = None
    """Certificates added to the store."""
