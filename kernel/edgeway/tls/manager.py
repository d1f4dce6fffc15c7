"""The TLS manager: stores, options and server contexts for the whole process.

Traefik's ``tls.Manager`` (pkg/tls/tlsmanager.go) rebuilt for edgeway: when a
configuration is applied (or a certificate store reports a change), every
registered store (``register_tls_stores``; the built-in one serves the
dynamic configuration's ``tls.certificates``) is read, the certificates are
indexed into stores and the ``tls.options`` checked. The result is an
immutable :class:`TLSState` swapped in one assignment: a connection accepted
afterwards uses it, established connections keep the context they were
handshaken with.

Contexts are made per (options, certificate) on first use and reused across
reloads while both are unchanged. The certificate is chosen before the
handshake, from the ClientHello the connection layer parsed, so no Python code
runs inside the handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from edgeway.config.dynamic_tls import TLSOptions, TLSStore
from edgeway.registry import Registry, TLSStoreContext

from .certificates import Certificate, certificate_from_pem, parse_certificate
from .options import (
    DEFAULT_OPTIONS,
    DEFAULT_OPTIONS_NAME,
    ServerContext,
    ServerOptions,
    server_options,
)
from .store import ACME_TLS_STORE, DEFAULT_STORE, BrokenDefault, CertificateStore

__all__ = ["ALERT_UNRECOGNIZED_NAME", "Refusal", "TLSManager", "TLSState"]

log = logging.getLogger("edgeway.tls")

ALERT_UNRECOGNIZED_NAME = 112


@dataclass(frozen=True)
class Refusal:
    """No handshake: send this TLS alert (None: just close) and close."""

    alert: int | None
    reason: str


@dataclass
class TLSState:
    """One generation of stores and checked options (read-only once published)."""

    stores: dict[str, CertificateStore] = field(default_factory=dict)
    #: Qualified options name -> checked options, or the error Traefik reports.
    options: dict[str, ServerOptions | str] = field(default_factory=dict)


class TLSManager:
    def __init__(
        self, registry: Registry | None = None, *, workdir: str = ".", static: Any = None, offer_h2: bool = True
    ) -> None:
        self.workdir = workdir
        self.offer_h2 = offer_h2
        self.state = TLSState()
        self._options_config: dict[str, TLSOptions] = {DEFAULT_OPTIONS_NAME: DEFAULT_OPTIONS}
        self._stores_config: dict[str, TLSStore] = {}
        self._configured: list[Any] = []
        self._contexts: dict[tuple[str, ServerOptions, str], ServerContext] = {}
        self._parsed: dict[tuple[bytes, bytes], Certificate] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._rebuild_pending = False
        context = TLSStoreContext(
            changed=self.changed,
            configured_certificates=lambda: list(self._configured),
            workdir=workdir,
            static=static,
        )
        #: TLS-ALPN-01 on a miss of the ``acme-tls/1`` store: a shared ACME
        #: storage's direct read (certificate and key PEM), set by the ACME plugin.
        self.acme_fetch: Callable[[str], Awaitable[tuple[bytes, bytes] | None]] | None = None
        self.sources: dict[str, Any] = {}
        for name, stype in (registry.tls_stores if registry is not None else {}).items():
            try:
                self.sources[name] = stype.factory(context)
            except Exception:
                log.exception("TLS store %s could not be created; its certificates are not served", name)

    # -- configuration ------------------------------------------------------

    def update(
        self,
        certificates: Sequence[Any],
        options: Mapping[str, TLSOptions],
        stores: Mapping[str, TLSStore],
        *,
        default_options_conflict: bool = False,
    ) -> None:
        """A configuration is being applied: its ``tls`` section (qualified names).

        ``default_options_conflict``: several providers define ``default``, so
        there is none (routers using it fail, as in Traefik's aggregator).
        """
        self._configured = list(certificates)
        opts = dict(options)
        if not default_options_conflict:
            opts.setdefault(DEFAULT_OPTIONS_NAME, DEFAULT_OPTIONS)
        self._options_config = opts
        self._stores_config = dict(stores)
        self.rebuild()

    def changed(self) -> None:
        """A store's certificates changed: rebuild soon (coalesced, on the event loop)."""
        loop = self._loop
        if loop is None:
            try:
                loop = self._loop = asyncio.get_running_loop()
            except RuntimeError:
                self.rebuild()
                return
        loop.call_soon_threadsafe(self._rebuild_soon)

    def _rebuild_soon(self) -> None:
        if not self._rebuild_pending:
            self._rebuild_pending = True
            asyncio.get_running_loop().call_soon(self._rebuild_now)

    def _rebuild_now(self) -> None:
        self._rebuild_pending = False
        self.rebuild()

    def rebuild(self) -> None:
        """Read every store, index the certificates, check the options; publish."""
        if self._loop is None:
            with contextlib.suppress(RuntimeError):
                self._loop = asyncio.get_running_loop()
        by_store: dict[str, list[Certificate]] = {}
        parsed: dict[tuple[bytes, bytes], Certificate] = {}
        for name, source in self.sources.items():
            try:
                entries = list(source.certificates())
            except Exception:
                log.exception("TLS store %s failed to list its certificates", name)
                continue
            for entry in entries:
                cert_pem, key_pem, stores = entry
                pem = (_bytes(cert_pem), _bytes(key_pem))
                cert = parsed.get(pem) or self._parsed.get(pem)
                if cert is None:
                    try:
                        cert = certificate_from_pem(*pem)
                    except ValueError as exc:
                        log.error("Unable to parse certificate %s: %s", _truncated(pem[0]), exc)
                        continue
                parsed[pem] = cert
                for store in stores or (DEFAULT_STORE,):
                    by_store.setdefault(store, []).append(cert)
        self._parsed = parsed
        state = TLSState()
        names = set(self._stores_config) | set(by_store) | {DEFAULT_STORE, ACME_TLS_STORE}
        for name in names:
            state.stores[name] = self._store(name, by_store.get(name, []))
        for name, opts in self._options_config.items():
            try:
                state.options[name] = server_options(opts, self.workdir, offer_h2=self.offer_h2)
            except ValueError as exc:
                state.options[name] = f"building TLS config: {exc}"
        live_specs = {o for o in state.options.values() if isinstance(o, ServerOptions)}
        live_certs = {c.fingerprint for c in parsed.values()} | {
            d.fingerprint for s in state.stores.values() if isinstance(d := s.peek_default(), Certificate)
        }
        self._contexts = {k: v for k, v in self._contexts.items() if k[1] in live_specs and k[2] in live_certs}
        self.state = state

    def _store(self, name: str, certs: list[Certificate]) -> CertificateStore:
        """``UpdateConfigs`` for one store: its certificates and default certificate."""
        if name == ACME_TLS_STORE:
            return CertificateStore(certs, generate_default=False)
        config = self._stores_config.get(name) or TLSStore()
        default: Certificate | BrokenDefault | None = None
        if config.defaultCertificate is not None:
            dc = config.defaultCertificate
            try:
                default = parse_certificate(dc.certFile or "", dc.keyFile or "", self.workdir)
            except ValueError as exc:
                log.error("TLS store %s: Error while creating certificate store: %s", name, exc)
                default = BrokenDefault(str(exc))
        store = CertificateStore(certs, default)
        generated = config.defaultGeneratedCert
        if default is None and generated is not None and generated.resolver and generated.domain is not None:
            domains = [d.strip().lower().rstrip(".") for d in [generated.domain.main or "", *(generated.domain.sans or [])] if d]
            found = store.by_domains(domains) if domains else None
            if found is None:
                log.error(
                    "TLS store %s: unable to find certificate for domains %r: falling back to the internal generated certificate",
                    name, ",".join(domains),
                )  # fmt: skip
            else:
                store = CertificateStore(certs, found)
        return store

    # -- queries ------------------------------------------------------------

    @property
    def store_configs(self) -> Mapping[str, TLSStore]:
        """The live configuration's ``tls.stores`` (certificate resolvers read ``defaultGeneratedCert``)."""
        return self._stores_config

    def options_error(self, name: str) -> str | None:
        """Why routers using options ``name`` cannot be built (Traefik's ``Manager.Get`` error)."""
        found = self.state.options.get(name)
        if found is None:
            return f"unknown TLS options: {name}"
        return found if isinstance(found, str) else None

    def select(
        self, options_name: str, server_name: str, local_ip: str, *, acme: bool = False
    ) -> ServerContext | Refusal:
        """The context for a connection: options ``options_name``, certificate by SNI.

        ``GetCertificate`` of ``Manager.Get``: a ClientHello offering
        ``acme-tls/1`` only gets TLS-ALPN challenge certificates; otherwise the
        best certificate of the default store, else (unless ``sniStrict``) its
        default certificate.
        """
        state = self.state
        spec = state.options.get(options_name)
        if not isinstance(spec, ServerOptions):
            return Refusal(None, f"TLS options {options_name} are broken or missing")
        store = state.stores[ACME_TLS_STORE if acme else DEFAULT_STORE]
        name = server_name.strip().lower() or local_ip
        cert: Certificate | BrokenDefault | None = store.best(name)
        if cert is None:
            if acme:
                return Refusal(ALERT_UNRECOGNIZED_NAME, f"no certificate for TLS-ALPN challenge: {name}")
            if spec.sni_strict:
                return Refusal(ALERT_UNRECOGNIZED_NAME, f"strict SNI enabled - no certificate found for domain: {name!r}")
            cert = store.default
        if not isinstance(cert, Certificate):
            return Refusal(None, "the default certificate of the TLS store could not be loaded")
        key = (options_name, spec, cert.fingerprint)
        ctx = self._contexts.get(key)
        if ctx is None:
            ctx = self._contexts[key] = spec.context(cert, options_name)
        return ctx


    def acme_context(self, cert_pem: bytes, key_pem: bytes) -> ServerContext | Refusal:
        """A context serving a TLS-ALPN-01 certificate read on a miss of the ``acme-tls/1`` store."""
        spec = self.state.options.get(DEFAULT_OPTIONS_NAME)
        if not isinstance(spec, ServerOptions):
            return Refusal(None, "the default TLS options are broken")
        try:
            cert = certificate_from_pem(cert_pem, key_pem)
        except ValueError as exc:
            return Refusal(ALERT_UNRECOGNIZED_NAME, f"TLS-ALPN challenge certificate: {exc}")
        return spec.context(cert, DEFAULT_OPTIONS_NAME)


def _bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def _truncated(cert_pem: bytes) -> str:
    header = b"-----BEGIN CERTIFICATE-----\n"
    text = cert_pem[len(header) :] if cert_pem.startswith(header) else cert_pem
    return text[:50].decode("latin-1")
