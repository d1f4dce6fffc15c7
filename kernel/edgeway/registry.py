"""What plugins register: provider types, middleware types and TLS store types.

The registration hooks (see :mod:`edgeway.hookspecs`) hand plugins a ``register``
callback that takes one of these descriptions. The kernel collects them into a
:class:`Registry` at start-up; nothing here is consulted per request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

from edgeway.http.message import Handler

if TYPE_CHECKING:
    from edgeway.services.pools import PoolManager

__all__ = [
    "AcmeStorageContext",
    "AcmeStorageType",
    "BuildContext",
    "Emit",
    "MiddlewareType",
    "OfflineResult",
    "OfflineSource",
    "Provider",
    "ProviderContext",
    "ProviderType",
    "Registry",
    "RegistryError",
    "TLSStore",
    "TLSStoreContext",
    "TLSStoreType",
]

#: What a provider calls with its complete current view: a raw mapping in the
#: dynamic-configuration schema, or an already validated ``Configuration``.
Emit = Callable[[Any], None]


class Provider(Protocol):
    """A provider instance.

    ``run(emit)`` calls ``emit`` with a full snapshot of the provider's view each
    time it changes, until cancelled; it never merges, qualifies names or
    throttles (the kernel does). ``snapshot()`` returns one full snapshot without
    watching anything: ``edgeway render`` uses it. Both raise or report errors
    with messages that say where the bad input is (file and line, object name).
    """

    async def run(self, emit: Emit) -> None: ...

    async def snapshot(self) -> Any: ...


@dataclass(frozen=True)
class ProviderContext:
    """What the kernel gives a provider factory besides its options."""

    #: Directory relative paths in the options are resolved against.
    workdir: str = "."
    #: The static configuration, for providers that need global settings.
    static: Any = None
    #: The kernel running the provider (None offline): a provider that observes
    #: ``configuration_applied`` (e.g. to report runtime errors) matches on it.
    kernel: Any = None


@dataclass(frozen=True)
class OfflineResult:
    """A provider's own configuration computed offline, and what it would log as errors."""

    #: The provider's view in the dynamic-configuration schema, unqualified names.
    configuration: Mapping[str, Any]
    #: Problems the provider found in its input (each names the object).
    errors: Sequence[str] = ()


@dataclass(frozen=True)
class OfflineSource:
    """How a provider type computes its configuration without its live source.

    ``edgeway render --provider NAME --manifests PATH`` (and ``--manifests``
    without ``--provider``, through the merged view) use it: ``load(path)`` reads
    the input (Kubernetes manifests for the Kubernetes providers) and
    ``translate(objects, options, context)`` runs the same translation the live
    provider runs on its caches. ``options`` is the raw mapping of the provider's
    static section (``--provider-options`` JSON, or the static configuration),
    validated by the plugin, which raises ``ValueError`` when it is invalid.
    """

    load: Callable[[str], Any]
    translate: Callable[[Any, Mapping[str, Any], ProviderContext], OfflineResult]


@dataclass(frozen=True)
class ProviderType:
    """A kind of provider.

    ``name`` is what ``name@provider`` references use (``file``); ``config_key`` is
    its key under ``providers`` in the static configuration (``file``,
    ``kubernetesCRD``); ``options_model`` validates that section; ``factory`` makes a
    :class:`Provider` from validated options.
    """

    name: str
    config_key: str
    options_model: type[BaseModel]
    factory: Callable[[Any, ProviderContext], Provider]
    #: How long to wait for the first snapshot before starting without it.
    first_snapshot_timeout: float = 30.0
    #: Offline translation for ``edgeway render --manifests`` (None: not offered).
    offline: OfflineSource | None = None


@dataclass(frozen=True)
class BuildContext:
    """What a middleware factory may need besides its options and ``next``."""

    #: The middleware's qualified name (``auth@file``).
    name: str
    #: The qualified name of the router (or service) the chain is built for.
    router: str
    #: Builds the handler of another service by qualified name (error pages,
    #: forward-auth targets...). Raises ``KeyError`` when it does not exist.
    service_handler: Callable[[str], Handler] | None = None
    #: Where relative file paths in options are resolved.
    workdir: str = "."
    #: Upstream connection pools, for middlewares that call servers themselves
    #: (forward auth): pools are reused across reloads like services' pools.
    pools: PoolManager | None = None
    #: Called each time a retry middleware sends a request again: counts
    #: ``traefik_service_retries_total`` of the router's service (None: metrics off).
    retried: Callable[[], None] | None = None


@dataclass(frozen=True)
class MiddlewareType:
    """A kind of HTTP middleware.

    Built-ins are keyed as Traefik keys them (``stripPrefix``); a third-party type is
    referenced as ``plugin: {<name>: {...}}``. ``build(options, next, ctx)`` returns
    the handler; it runs when a configuration is applied, never per request, and
    raises ``ValueError`` with a readable message for options it cannot honour.
    """

    name: str
    options_model: type[BaseModel]
    build: Callable[[Any, Handler, BuildContext], Handler]
    #: True for types users reference through ``plugin: {name: ...}``.
    plugin: bool = True


class TLSStore(Protocol):
    """A certificate source instance (see :class:`TLSStoreType`)."""

    def certificates(self) -> Iterable[tuple[str | bytes, str | bytes, Sequence[str]]]:
        """The current ``(cert_pem, key_pem, stores)`` entries (``stores`` empty: ``default``)."""
        ...


@dataclass(frozen=True)
class TLSStoreContext:
    """What the kernel gives a TLS store factory."""

    #: Call when :meth:`TLSStore.certificates` would now give something else:
    #: certificates and TLS contexts are rebuilt soon after (established
    #: connections keep theirs). Safe to call from any thread.
    changed: Callable[[], None]
    #: The ``tls.certificates`` entries (``CertAndStores``: ``certFile``,
    #: ``keyFile`` as path or PEM, ``stores``) of the configuration being applied.
    configured_certificates: Callable[[], Sequence[Any]]
    #: Where relative paths are resolved.
    workdir: str = "."
    #: The static configuration.
    static: Any = None


@dataclass(frozen=True)
class TLSStoreType:
    """A source of certificates (dynamic configuration, ACME, Kubernetes Secrets).

    ``factory(context: TLSStoreContext)`` returns a :class:`TLSStore`, whose
    ``certificates()`` the kernel reads whenever a configuration is applied or
    the store calls ``context.changed()``.
    """

    name: str
    factory: Callable[[TLSStoreContext], TLSStore]


@dataclass(frozen=True)
class AcmeStorageContext:
    """What the kernel gives an ACME storage factory (one call per storage URL)."""

    #: The certificate resolvers naming this URL (they share the backend).
    resolvers: tuple[str, ...]
    #: The static configuration (e.g. a provider's connection options).
    static: Any
    #: The kernel's ``spawn``: runs ``task()`` (async) until the kernel stops.
    spawn: Callable[[Callable[[], Any]], None]
    #: Call (from any thread) when stored certificates or pending TLS-ALPN-01
    #: certificates changed: resolvers re-read the storage, TLS stores are rebuilt.
    changed: Callable[[], None]
    workdir: str = "."


@dataclass(frozen=True)
class AcmeStorageType:
    """An ACME storage backend for ``storage: <scheme>://...`` (``acme.json`` otherwise).

    ``factory(url, context: AcmeStorageContext)`` returns an
    ``edgeway.acme.storage.AcmeBackend`` or raises ``ValueError`` (the resolvers
    naming the URL fail with that message on their routers).
    """

    scheme: str
    factory: Callable[[str, AcmeStorageContext], Any]

    @property
    def name(self) -> str:
        return self.scheme


class RegistryError(Exception):
    """Two plugins registered the same name, or a registration is malformed."""


@dataclass
class Registry:
    providers: dict[str, ProviderType] = field(default_factory=dict)
    middlewares: dict[str, MiddlewareType] = field(default_factory=dict)
    tls_stores: dict[str, TLSStoreType] = field(default_factory=dict)
    #: DNS-01 providers (``edgeway.acme.dns.DNSProviderType``) by ``dnsChallenge.provider`` name.
    dns_providers: dict[str, Any] = field(default_factory=dict)
    #: ACME storage backends by URL scheme (``storage: kubernetes://...``).
    acme_storages: dict[str, AcmeStorageType] = field(default_factory=dict)
    #: plugin name -> names it registered, for ``edgeway plugins`` and the API.
    owners: dict[str, str] = field(default_factory=dict)

    def _add(self, table: dict[str, Any], kind: str, item: Any, owner: str) -> None:
        if item.name in table:
            other = self.owners.get(f"{kind}:{item.name}", "?")
            raise RegistryError(
                f"{kind} {item.name!r} is registered by both plugin {other!r} and plugin {owner!r}"
            )
        table[item.name] = item
        self.owners[f"{kind}:{item.name}"] = owner

    def add_provider(self, item: ProviderType, owner: str = "?") -> None:
        if not isinstance(item, ProviderType):
            raise RegistryError(f"plugin {owner!r} registered {item!r}, not a ProviderType")
        self._add(self.providers, "provider", item, owner)

    def add_middleware(self, item: MiddlewareType, owner: str = "?") -> None:
        if not isinstance(item, MiddlewareType):
            raise RegistryError(f"plugin {owner!r} registered {item!r}, not a MiddlewareType")
        self._add(self.middlewares, "middleware", item, owner)

    def add_tls_store(self, item: TLSStoreType, owner: str = "?") -> None:
        if not isinstance(item, TLSStoreType):
            raise RegistryError(f"plugin {owner!r} registered {item!r}, not a TLSStoreType")
        self._add(self.tls_stores, "TLS store", item, owner)

    def add_dns_provider(self, item: Any, owner: str = "?") -> None:
        from edgeway.acme.dns import DNSProviderType

        if not isinstance(item, DNSProviderType):
            raise RegistryError(f"plugin {owner!r} registered {item!r}, not a DNSProviderType")
        self._add(self.dns_providers, "DNS provider", item, owner)

    def add_acme_storage(self, item: AcmeStorageType, owner: str = "?") -> None:
        if not isinstance(item, AcmeStorageType):
            raise RegistryError(f"plugin {owner!r} registered {item!r}, not an AcmeStorageType")
        self._add(self.acme_storages, "ACME storage", item, owner)

    def provider_by_key(self, config_key: str) -> ProviderType | None:
        for p in self.providers.values():
            if p.config_key.lower() == config_key.lower():
                return p
        return None


