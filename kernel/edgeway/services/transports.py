"""``serversTransports``: how edgeway talks to servers (TLS, pooling, timeouts).

A service names a transport (``name@provider``) or gets ``default@internal``,
made from the static ``serversTransport``. :class:`Transports` resolves names
into :class:`TransportSettings` and keeps one ``ssl.SSLContext`` per distinct
TLS setting for the configuration being built.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from edgeway.pipeline.runtime import qualify
from edgeway.services import BuildError


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
    min_version: str | None = None
    max_version: str | None = None
    max_idle: int = 200
    dial_timeout: float = 30.0
    idle_timeout: float = 90.0
    response_header_timeout: float = 0.0

    @property
    def tls_key(self) -> tuple[Any, ...]:
        """What distinguishes one TLS client configuration from another."""
        return (self.insecure_skip_verify, self.root_cas, self.min_version, self.max_version)


_UNSUPPORTED = ("certificates", "cipherSuites", "peerCertURI", "peerCertSANs", "spiffe")

_TLS_VERSIONS = {
    "VersionTLS10": ssl.TLSVersion.TLSv1,
    "VersionTLS11": ssl.TLSVersion.TLSv1_1,
    "VersionTLS12": ssl.TLSVersion.TLSv1_2,
    "VersionTLS13": ssl.TLSVersion.TLSv1_3,
}


class Transports:
    def __init__(self, declared: Mapping[str, tuple[str, Any]], defaults: TransportDefaults, workdir: str) -> None:
        self.declared = declared
        self.defaults = defaults
        self.workdir = workdir
        self._contexts: dict[tuple[Any, ...], ssl.SSLContext] = {}

    def resolve(self, name: str | None, provider: str) -> TransportSettings:
        """The settings of transport ``name`` referenced from ``provider``."""
        d = self.defaults
        base = TransportSettings(
            insecure_skip_verify=d.insecure_skip_verify,
            root_cas=tuple(d.root_cas),
            max_idle=d.max_idle_conns_per_host,
            dial_timeout=d.dial_timeout,
            idle_timeout=d.idle_conn_timeout,
            response_header_timeout=d.response_header_timeout,
        )
        if not name or qualify(name, provider) == "default@internal":
            return base
        qname = qualify(name, provider)
        found = self.declared.get(qname)
        if found is None:
            raise BuildError(f'serversTransport "{qname}" does not exist')
        t = found[1]
        for option in _UNSUPPORTED:
            if getattr(t, option, None):
                raise BuildError(f"serversTransport {qname}: {option} is not supported by this version of edgeway yet")
        ft = t.forwardingTimeouts
        return TransportSettings(
            server_name=t.serverName or "",
            insecure_skip_verify=bool(t.insecureSkipVerify),
            root_cas=tuple(t.rootCAs or ()),
            min_version=t.minVersion,
            max_version=t.maxVersion,
            max_idle=max(0, t.maxIdleConnsPerHost if t.maxIdleConnsPerHost is not None else d.max_idle_conns_per_host),
            dial_timeout=(ft.dialTimeout or 0.0) if ft else d.dial_timeout,
            idle_timeout=(ft.idleConnTimeout or 0.0) if ft else d.idle_conn_timeout,
            response_header_timeout=(ft.responseHeaderTimeout or 0.0) if ft else d.response_header_timeout,
        )

    def ssl_context(self, t: TransportSettings) -> ssl.SSLContext:
        """The client TLS context for ``t`` (shared by equal settings)."""
        key = t.tls_key
        ctx = self._contexts.get(key)
        if ctx is not None:
            return ctx
        ctx = ssl.create_default_context()
        for ca in t.root_cas:
            try:
                if "-----BEGIN" in ca:
                    ctx.load_verify_locations(cadata=ca)
                else:
                    ctx.load_verify_locations(cafile=ca if os.path.isabs(ca) else os.path.join(self.workdir, ca))
            except (OSError, ssl.SSLError) as exc:
                raise BuildError(f"serversTransport rootCAs: cannot load {ca[:60]!r}: {exc}") from None
        if t.insecure_skip_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        for attr, value in (("minimum_version", t.min_version), ("maximum_version", t.max_version)):
            if value:
                version = _TLS_VERSIONS.get(value)
                if version is None:
                    raise BuildError(f"serversTransport: unknown TLS version {value!r}")
                setattr(ctx, attr, version)
        self._contexts[key] = ctx
        return ctx
