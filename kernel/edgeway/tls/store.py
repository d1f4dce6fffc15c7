"""Certificate stores and certificate selection by server name (pkg/tls/certificate_store.go).

A store indexes its certificates by their sorted, comma-joined SANs (two
certificates with the same names: the first one wins) and has a default
certificate. Selection follows ``GetBestCertificate``: the keys are scanned in
reverse lexical order and the first certificate with a SAN equal to the server
name, or a wildcard SAN matching it, wins — which puts ``a.example.com`` before
``*.example.com`` (``*`` sorts low). Without SNI the local IP address of the
connection is the name looked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .certificates import Certificate, generated_default_certificate, generated_if_any

__all__ = ["DEFAULT_STORE", "ACME_TLS_STORE", "BrokenDefault", "CertificateStore", "match_domain"]

DEFAULT_STORE = "default"
#: The store of TLS-ALPN-01 challenge certificates (``tlsalpn01.ACMETLS1Protocol``).
ACME_TLS_STORE = "acme-tls/1"


@dataclass(frozen=True)
class BrokenDefault:
    """The store's configured default certificate could not be loaded: Traefik
    serves no certificate then and the connection is closed."""

    error: str


class CertificateStore:
    """Certificates by SANs, a default certificate, and a per-name selection cache."""

    def __init__(
        self,
        certificates: Iterable[Certificate] = (),
        default: Certificate | BrokenDefault | None = None,
        *,
        generate_default: bool = True,
    ) -> None:
        by_key: dict[str, Certificate] = {}
        for cert in certificates:
            by_key.setdefault(cert.key, cert)
        self.certificates = by_key
        self._ordered = [(key.split(","), by_key[key]) for key in sorted(by_key, reverse=True)]
        self._default = default
        self._generate_default = generate_default
        self._cache: dict[str, Certificate | None] = {}

    @property
    def default(self) -> Certificate | BrokenDefault | None:
        """The configured default, else the generated one (None for the ACME store)."""
        if self._default is None and self._generate_default:
            self._default = generated_default_certificate()
        return self._default

    def peek_default(self) -> Certificate | BrokenDefault | None:
        """The default certificate if it exists already (nothing is generated)."""
        if self._default is None and self._generate_default:
            return generated_if_any()
        return self._default

    def best(self, server_name: str) -> Certificate | None:
        """``GetBestCertificate`` for an already lower-cased, trimmed name."""
        try:
            return self._cache[server_name]
        except KeyError:
            pass
        found = None
        for domains, cert in self._ordered:
            if any(match_domain(server_name, d) for d in domains):
                found = cert
                break
        if len(self._cache) > 10000:
            self._cache.clear()
        self._cache[server_name] = found
        return found

    def by_domains(self, domains: Sequence[str]) -> Certificate | None:
        """``GetCertificate``: a certificate whose SANs include every one of ``domains``."""
        wanted = sorted(domains)
        key = ",".join(wanted)
        if key in self.certificates:
            return self.certificates[key]
        for cert_key, cert in self.certificates.items():
            names = cert_key.split(",")
            if all(d in names for d in wanted):
                return cert
        return None


def match_domain(server_name: str, cert_domain: str) -> bool:
    """``matchDomain``: equal, or the certificate's ``*.rest`` covers the first label."""
    if server_name == cert_domain:
        return True
    cert_domain = cert_domain.rstrip(".")
    _, dot, rest = server_name.partition(".")
    return cert_domain == ("*." + rest if dot else "*")
