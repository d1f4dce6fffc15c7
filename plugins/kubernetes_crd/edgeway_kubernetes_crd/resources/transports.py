"""The ServersTransport and ServersTransportTCP kinds: how servers are reached.

Go: serverstransport.go and serverstransporttcp.go, with ``dynamic.Spiffe`` and
``tls.SAN``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from edgeway_kubernetes_crd.resources.base import CRDModel, Duration, Pointer
from edgeway_kubernetes_crd.resources.common import ProxyProtocol

__all__ = [
    "SAN",
    "ForwardingTimeouts",
    "RootCA",
    "ServersTransportSpec",
    "ServersTransportTCPSpec",
    "Spiffe",
    "TLSClientConfig",
]


class RootCA(CRDModel):
    """A CA certificate from a Secret or a ConfigMap (key `tls.ca` or `ca.crt`); set one."""

    secret: Pointer[str] | None = None
    """Secret holding the CA certificate."""
    configMap: Pointer[str] | None = None
    """ConfigMap holding the CA certificate."""


class SAN(CRDModel):
    """A subject alternative name expected in the server certificate."""

    type: str | None = None
    """Kind of name: `DNSName`, `IPAddress`, `EmailAddress` or `URI`."""
    value: str | None = None
    """The name."""


class Spiffe(CRDModel):
    """SPIFFE identities accepted from the servers."""

    ids: list[str] | None = None
    """Accepted SPIFFE IDs (take precedence over trustDomain)."""
    trustDomain: str | None = None
    """Accepted SPIFFE trust domain."""


class ForwardingTimeouts(CRDModel):
    """Timeouts of requests to the servers (seconds, or Go durations)."""

    dialTimeout: Pointer[Duration] | None = None
    """Time allowed to connect to a server."""
    responseHeaderTimeout: Pointer[Duration] | None = None
    """Time allowed, once the request is sent, for the response headers."""
    idleConnTimeout: Pointer[Duration] | None = None
    """Time an idle keep-alive connection stays open."""
    readIdleTimeout: Pointer[Duration] | None = None
    """Silence on an HTTP/2 connection after which a ping checks it."""
    pingTimeout: Pointer[Duration] | None = None
    """Time allowed for the answer to that ping before the connection is closed."""


class ServersTransportSpec(CRDModel):
    """How HTTP servers are reached: TLS and connection settings."""

    serverName: str | None = None
    """Server name (SNI) sent to the servers."""
    insecureSkipVerify: bool | None = None
    """Do not verify the servers' certificates."""
    rootCAs: list[RootCA] | None = None
    """CAs that verify the servers' certificates."""
    rootCAsSecrets: list[str] | None = None
    """Deprecated: use rootCAs."""
    certificatesSecrets: list[str] | None = None
    """Secrets holding client certificates (mTLS)."""
    cipherSuites: list[str] | None = None
    """Cipher suites offered to the servers."""
    minVersion: str | None = None
    """Lowest TLS version used with the servers."""
    maxVersion: str | None = None
    """Highest TLS version used with the servers."""
    maxIdleConnsPerHost: Annotated[int, Field(ge=-1)] | None = None
    """Idle keep-alive connections kept per server (-1: none)."""
    forwardingTimeouts: Pointer[ForwardingTimeouts] | None = None
    """Timeouts of requests to the servers."""
    disableHTTP2: bool | None = None
    """Do not use HTTP/2 with the servers."""
    peerCertURI: str | None = None
    """Deprecated: use peerCertSANs."""
    peerCertSANs: list[SAN] | None = None
    """Names expected in the servers' certificates."""
    spiffe: Pointer[Spiffe] | None = None
    """SPIFFE identities accepted from the servers."""


class TLSClientConfig(CRDModel):
    """TLS towards TCP servers."""

    serverName: str | None = None
    """Server name (SNI) sent to the servers."""
    insecureSkipVerify: bool | None = None
    """Do not verify the servers' certificates."""
    rootCAs: list[RootCA] | None = None
    """CAs that verify the servers' certificates."""
    rootCAsSecrets: list[str] | None = None
    """Deprecated: use rootCAs."""
    certificatesSecrets: list[str] | None = None
    """Secrets holding client certificates (mTLS)."""
    peerCertURI: str | None = None
    """Deprecated: use peerCertSANs."""
    peerCertSANs: list[SAN] | None = None
    """Names expected in the servers' certificates."""
    spiffe: Pointer[Spiffe] | None = None
    """SPIFFE identities accepted from the servers."""


class ServersTransportTCPSpec(CRDModel):
    """How TCP servers are reached: timeouts, PROXY protocol, TLS."""

    dialTimeout: Pointer[Duration] | None = None
    """Time allowed to connect to a server."""
    dialKeepAlive: Pointer[Duration] | None = None
    """Interval of TCP keep-alive probes (0: the system default of 15s; negative: none)."""
    proxyProtocol: Pointer[ProxyProtocol] | None = None
    """PROXY protocol header sent to the servers."""
    terminationDelay: Pointer[Duration] | None = None
    """Time to wait, once one side closed its writes, before closing the connection."""
    tls: Pointer[TLSClientConfig] | None = None
    """TLS towards the servers."""
