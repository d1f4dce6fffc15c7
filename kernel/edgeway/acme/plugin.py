"""The built-in ACME plugin: certificate resolvers wired into the kernel.

- ``register_tls_stores``: :class:`AcmeCertificates`, the source of the obtained
  certificates (their ``Store``, ``default``) and of the TLS-ALPN-01 challenge
  certificates (the ``acme-tls/1`` store);
- ``startup``: one :class:`Resolver` per ``certificatesResolvers.<name>.acme``
  (a resolver that cannot be set up is logged, and its routers report why),
  ``acme-http@internal`` answering HTTP-01, the renewal loops;
- ``configuration_applied``: orders what the routers ask for;
- ``register_dns_providers``: the built-in ``exec`` DNS provider.

``storage: <scheme>://...`` selects a backend a plugin registered through
``register_acme_storages`` (e.g. ``kubernetes://`` from edgeway-kubernetes-acme,
several replicas sharing accounts, certificates and challenges); anything
else is an ``acme.json`` path.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import anyio

from edgeway import hookimpl
from edgeway.registry import AcmeStorageContext, TLSStoreContext, TLSStoreType
from edgeway.tls.store import ACME_TLS_STORE, DEFAULT_STORE

from .challenges import FETCH_CONCURRENCY, MemoryChallenges, http01_handler
from .client import Solvers
from .dns import BUILTIN_DNS_PROVIDERS, Propagation
from .resolver import Resolver, ResolverSettings
from .storage import AcmeBackend, AcmeStorage, ChallengePublisher, LocalStore, StorageError

__all__ = ["AcmeCertificates", "resolver_settings", "storage_scheme"]

log = logging.getLogger("edgeway.acme")

#: TLS store type name; the kernel's TLS manager keeps the instance under it.
STORE_NAME = "acme"


class AcmeCertificates:
    """Every resolver's certificates and the pending TLS-ALPN-01 certificates."""

    def __init__(self, context: TLSStoreContext) -> None:
        self.context = context
        self.challenges: ChallengePublisher = MemoryChallenges(context.changed)
        self.resolvers: dict[str, Resolver] = {}
        self.errors: dict[str, str | None] = {}
        #: Shared storages (``storage: <scheme>://...``) by URL.
        self.backends: dict[str, AcmeBackend] = {}
        self._alpn_limiter: anyio.CapacityLimiter | None = None

    def certificates(self) -> Iterator[tuple[bytes, bytes, list[str]]]:
        for resolver in list(self.resolvers.values()):
            for cert in list(resolver.certificates):
                yield cert.certificate, cert.key, [cert.store or DEFAULT_STORE]
        for source in self._answering():
            for cert_pem, key_pem in source.tlsalpn01_certificates():
                yield cert_pem, key_pem, [ACME_TLS_STORE]

    def setup(self, kernel: Any) -> None:
        static = kernel.static
        stores: dict[str, LocalStore] = {}
        resolvers = static.certificatesResolvers or {}
        for name, config in resolvers.items():
            try:
                url = str(config.acme.storage or "") if config.acme is not None else ""
                backend = self._backend(kernel, url, resolvers) if storage_scheme(url) else None
                publisher = backend.publisher(name) if backend is not None else self.challenges
                settings = resolver_settings(
                    name, config, static, kernel.registry.dns_providers, publisher, os.environ, kernel.workdir
                )
                storage: AcmeStorage
                if backend is not None:
                    storage = backend.storage
                else:
                    path = os.path.join(kernel.workdir, url)
                    storage = stores.setdefault(path, LocalStore(path))
                resolver = Resolver(settings, storage, self.context.changed, store_domains=_store_domains(kernel))
            except (ValueError, StorageError) as exc:
                log.error("certificate resolver %s: %s", name, exc)
                self.errors[name] = str(exc)
                continue
            self.resolvers[name] = resolver
            self.errors[name] = None
            kernel.spawn(resolver.run)
        kernel.cert_resolvers.update(self.errors)
        # The internal provider adds the HTTP-01 router for every configured
        # httpChallenge, so its handler exists even when no resolver works (404s).
        if any(c.acme is not None and c.acme.httpChallenge is not None for c in resolvers.values()):
            kernel.internal_handlers["acme-http@internal"] = http01_handler(
                self._http01, self._fetch_http01 if self.backends else None
            )
        if self.backends:
            kernel.tls.acme_fetch = self._fetch_tlsalpn01
        if self.resolvers:
            self.context.changed()

    def _backend(self, kernel: Any, url: str, resolvers: Mapping[str, Any]) -> AcmeBackend:
        """The backend for ``url``, made on first use (resolvers naming it share it)."""
        found = self.backends.get(url)
        if found is not None:
            return found
        scheme = storage_scheme(url)
        stype = kernel.registry.acme_storages.get(scheme)
        if stype is None:
            known = ", ".join(sorted(kernel.registry.acme_storages)) or "none"
            raise ValueError(f'unknown ACME storage "{url}" (installed schemes: {known})')
        names = tuple(n for n, c in resolvers.items() if c.acme is not None and c.acme.storage == url)
        context = AcmeStorageContext(
            resolvers=names, static=kernel.static, spawn=kernel.spawn,
            changed=lambda: self._storage_changed(url), workdir=kernel.workdir,
        )  # fmt: skip
        backend = stype.factory(url, context)
        self.backends[url] = backend
        return backend

    def _storage_changed(self, url: str) -> None:
        """Another replica stored a certificate or published a challenge (any thread)."""
        backend = self.backends.get(url)
        for resolver in list(self.resolvers.values()):
            if backend is not None and resolver.storage is backend.storage:
                resolver.reload()
        self.context.changed()

    def _answering(self) -> list[ChallengePublisher | AcmeBackend]:
        return [self.challenges, *self.backends.values()]

    def _http01(self, domain: str, token: str) -> str | None:
        for source in self._answering():
            found = source.http01(domain, token)
            if found:
                return found
        return None

    def _fetch_http01(self, domain: str, token: str) -> str | None:
        """Blocking: a direct read from every shared storage (a validation raced its watch)."""
        for backend in list(self.backends.values()):
            try:
                found = backend.fetch_http01(domain, token)
            except Exception as exc:
                log.warning("HTTP-01 challenge for %s: reading the ACME storage failed: %s", domain, exc)
                continue
            if found:
                return found
        return None

    async def _fetch_tlsalpn01(self, domain: str) -> tuple[bytes, bytes] | None:
        if self._alpn_limiter is None:
            self._alpn_limiter = anyio.CapacityLimiter(FETCH_CONCURRENCY)
        for backend in list(self.backends.values()):
            found = await anyio.to_thread.run_sync(backend.fetch_tlsalpn01, domain, limiter=self._alpn_limiter)
            if found is not None:
                return found
        return None

    def routers_changed(self, kernel: Any, runtime: Any) -> None:
        routers = [(i.config, False) for i in runtime.routers.values()]
        routers += [(i.config, True) for i in runtime.tcp_routers.values()]
        for resolver in self.resolvers.values():
            for domains in resolver.wanted(routers):
                kernel.spawn(lambda r=resolver, d=domains: r.resolve(d))
        # A store's defaultGeneratedCert (Traefik's resolveDefaultCertificate): the
        # certificate is ordered like a router's; the TLS manager then picks it, by
        # its domains, as the store's default.
        for name, store in kernel.tls.store_configs.items():
            generated = store.defaultGeneratedCert
            if generated is None or not generated.resolver or generated.domain is None:
                continue
            chosen = self.resolvers.get(generated.resolver)
            if chosen is None:
                log.error("TLS store %s: defaultGeneratedCert: unknown certificate resolver %r", name, generated.resolver)
                continue
            domains = [generated.domain.main or "", *(generated.domain.sans or ())]
            kernel.spawn(lambda r=chosen, d=domains: r.resolve(d))

    def stop(self) -> None:
        for resolver in self.resolvers.values():
            resolver.stop()
        for backend in self.backends.values():
            try:
                backend.close()
            except Exception:
                log.exception("closing the ACME storage failed")


_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def storage_scheme(storage: str) -> str:
    """The backend scheme of ``storage: <scheme>://...``; empty for an acme.json path."""
    found = _SCHEME.match(storage)
    return found.group(1).lower() if found else ""


def settings_storage(config: Any) -> str:
    acme = config.acme
    if acme is None or not acme.storage:
        raise ValueError("unable to initialize ACME provider with no storage location for the certificates")
    return str(acme.storage)


def _store_domains(kernel: Any) -> Callable[[], list[str]]:
    """The SAN keys of the default store's certificates (``store.GetAllDomains``)."""

    def domains() -> list[str]:
        store = kernel.tls.state.stores.get(DEFAULT_STORE)
        return list(store.certificates) if store is not None else []

    return domains


_NOT_SUPPORTED = {
    "preferredChain": "preferredChain",
    "profile": "profile",
    "caServerName": "caServerName",
}


def resolver_settings(
    name: str,
    config: Any,
    static: Any,
    dns_providers: Mapping[str, Any],
    publisher: ChallengePublisher,
    environ: Mapping[str, str],
    workdir: str,
) -> ResolverSettings:
    """Check a resolver's configuration (``Provider.Init`` and ``getClient``); ValueError if unusable."""
    if config.tailscale is not None:
        raise ValueError("the tailscale certificate resolver is not supported by edgeway")
    acme = config.acme
    if acme is None:
        raise ValueError("no acme section: only ACME certificate resolvers are supported")
    for key, label in _NOT_SUPPORTED.items():
        if getattr(acme, key):
            raise ValueError(f"acme.{label} is not supported by edgeway")
    settings_storage(config)
    if acme.certificatesDuration < 1:
        raise ValueError("cannot manage certificates with duration lower than 1 hour")
    if acme.clientTimeout < acme.clientResponseHeaderTimeout:
        raise ValueError("clientTimeout must be at least clientResponseHeaderTimeout")
    dns = acme.dnsChallenge
    http = acme.httpChallenge
    if not (dns is not None and dns.provider) and not (http is not None and http.entryPoint) and acme.tlsChallenge is None:
        raise ValueError("ACME challenge not specified, please select TLS or HTTP or DNS Challenge")
    if http is not None and http.entryPoint and http.entryPoint not in static.entryPoints:
        raise ValueError(f"httpChallenge.entryPoint {http.entryPoint!r} is not an entry point")
    solvers = Solvers(
        publisher,
        http=http is not None and bool(http.entryPoint),
        http_delay=http.delay if http is not None else 0.0,
        tls=acme.tlsChallenge is not None,
        tls_delay=acme.tlsChallenge.delay if acme.tlsChallenge is not None else 0.0,
    )
    if dns is not None and dns.provider:
        ptype = dns_providers.get(dns.provider)
        if ptype is None:
            known = ", ".join(sorted(dns_providers)) or "none"
            raise ValueError(f"unrecognized DNS provider: {dns.provider} (edgeway has: {known})")
        solvers.dns = ptype.factory(environ)
        solvers.propagation = _propagation(dns)
    eab = None
    if acme.eab is not None:
        if not acme.eab.kid or not acme.eab.hmacEncoded:
            raise ValueError("eab needs both kid and hmacEncoded")
        eab = (acme.eab.kid, acme.eab.hmacEncoded)
    return ResolverSettings(
        name=name,
        directory_url=acme.caServer,
        email=acme.email,
        key_type=acme.keyType,
        common_name=not acme.disableCommonName,
        email_addresses=tuple(acme.emailAddresses),
        certificates_duration=acme.certificatesDuration,
        certificate_timeout=acme.certificateTimeout,
        client_timeout=acme.clientResponseHeaderTimeout or acme.clientTimeout,
        verify=_trust(acme.caCertificates, acme.caSystemCertPool, workdir),
        eab=eab,
        solvers=solvers,
    )


def _propagation(dns: Any) -> Propagation:
    prop = dns.propagation
    delay = prop.delayBeforeChecks if prop is not None else dns.delayBeforeCheck
    disable = prop.disableChecks if prop is not None else dns.disablePropagationCheck
    if disable:
        return Propagation(delay=delay, disable_checks=True)
    if prop is None or not prop.disableANSChecks:
        raise ValueError(
            "dnsChallenge: checking the TXT record on the zone's authoritative nameservers is not "
            "supported by edgeway: set dnsChallenge.propagation.disableANSChecks (with requireAllRNS "
            "to check dnsChallenge.resolvers) or propagation.disableChecks"
        )
    return Propagation(delay=delay, resolvers=tuple(dns.resolvers), require_all=prop.requireAllRNS)


def _trust(ca_certificates: tuple[str, ...], system: bool, workdir: str) -> bool | str:
    """``createClientTLSConfig``: the CA's HTTPS is verified against ``caCertificates``
    (paths or PEM; plus the system roots with ``caSystemCertPool``)."""
    if not ca_certificates:
        return True
    from edgeway.tls.certificates import read_file_or_content

    pems: list[bytes] = []
    for entry in ca_certificates:
        try:
            pems.append(read_file_or_content(entry, workdir)[0])
        except OSError as exc:
            raise ValueError(f"caCertificates: {exc}") from None
    if system:
        import ssl

        paths = ssl.get_default_verify_paths()
        if paths.cafile and os.path.exists(paths.cafile):
            with open(paths.cafile, "rb") as f:
                pems.append(f.read())
    fd, path = tempfile.mkstemp(prefix="edgeway-acme-ca-", suffix=".pem")
    with os.fdopen(fd, "wb") as f:
        f.write(b"\n".join(pems))
    return path


@hookimpl
def register_tls_stores(register: Callable[[TLSStoreType], Any]) -> None:
    register(TLSStoreType(name=STORE_NAME, factory=AcmeCertificates))


@hookimpl
def register_dns_providers(register: Callable[[Any], Any]) -> None:
    for ptype in BUILTIN_DNS_PROVIDERS:
        register(ptype)


def _manager(kernel: Any) -> AcmeCertificates | None:
    found = kernel.tls.sources.get(STORE_NAME)
    return found if isinstance(found, AcmeCertificates) else None


@hookimpl
def startup(kernel: Any) -> None:
    manager = _manager(kernel)
    if manager is not None:
        manager.setup(kernel)


@hookimpl
def configuration_applied(kernel: Any, runtime: Any) -> None:
    manager = _manager(kernel)
    if manager is not None:
        manager.routers_changed(kernel, runtime)


@hookimpl
def shutdown(kernel: Any) -> None:
    manager = _manager(kernel)
    if manager is not None:
        manager.stop()
