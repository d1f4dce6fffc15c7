"""The hooks edgeway plugins implement.

A plugin is a module (or object) with functions marked ``@edgeway.hookimpl`` and
named after the specs below, declared in the ``edgeway`` entry-point group::

    [project.entry-points.edgeway]
    myplugin = "my_package.plugin"

Registration hooks run once at start-up (and for ``edgeway render``/``plugins``);
lifecycle hooks run when the kernel starts, stops or applies a configuration.
None of them runs per request: they hand the kernel plain objects, and the
request path only calls what those objects built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edgeway import hookspec
from edgeway.registry import AcmeStorageType, MiddlewareType, ProviderType, TLSStoreType


@hookspec
def register_providers(register: Callable[[ProviderType], None]) -> None:
    """Register provider types (``file``, ``kubernetes``, ``kubernetescrd``...).

    Called at start-up. A provider type whose ``config_key`` appears under
    ``providers`` in the static configuration is started with its options
    validated by its ``options_model``.
    """


@hookspec
def register_middlewares(register: Callable[[MiddlewareType], None]) -> None:
    """Register HTTP middleware types.

    Built-ins use Traefik's keys (``stripPrefix``, ``headers``...); third-party
    types are used as ``middlewares: {m: {plugin: {<name>: {...}}}}``.
    """


@hookspec
def register_tls_stores(register: Callable[[TLSStoreType], None]) -> None:
    """Register certificate sources (dynamic configuration, ACME, Secrets...)."""


@hookspec
def register_dns_providers(register: Callable[[Any], None]) -> None:
    """Register DNS-01 providers (``edgeway.acme.dns.DNSProviderType``) for
    ``certificatesResolvers.<name>.acme.dnsChallenge.provider``."""


@hookspec
def register_acme_storages(register: Callable[[AcmeStorageType], None]) -> None:
    """Register ACME storage backends (``AcmeStorageType(scheme, factory)``) for
    ``certificatesResolvers.<name>.acme.storage: <scheme>://...``."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add subcommands to the ``edgeway`` click group ``cli``."""


@hookspec
def startup(kernel: Any) -> None:
    """The kernel is starting: entry points are bound, providers not yet started."""


@hookspec
def configuration_applied(kernel: Any, runtime: Any) -> None:
    """A new configuration went live; ``runtime`` has every object's status."""


@hookspec
def shutdown(kernel: Any) -> None:
    """The kernel is stopping: entry points no longer accept connections."""
