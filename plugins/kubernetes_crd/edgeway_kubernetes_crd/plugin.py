"""Registers the ``kubernetescrd`` provider type (``providers.kubernetesCRD``, ``name@kubernetescrd``).

Offline, ``edgeway render --provider kubernetescrd --manifests ...`` runs the
translation on manifests; live, the provider watches a cluster. ``edgeway crds``
prints the CustomResourceDefinitions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import click
from edgeway import hookimpl
from edgeway.registry import OfflineResult, OfflineSource, ProviderContext, ProviderType
from edgeway_kubernetes import load_manifests
from edgeway_kubernetes.client import ClientConfigError

from edgeway_kubernetes_crd.crds import render_yaml
from edgeway_kubernetes_crd.options import KubernetesCRDOptions
from edgeway_kubernetes_crd.provider import KubernetesCRDProvider, runtime_applied
from edgeway_kubernetes_crd.references import PROVIDER_NAME
from edgeway_kubernetes_crd.translate import translate

__all__ = [
    "PROVIDER_TYPE",
    "configuration_applied",
    "offline_translate",
    "register_commands",
    "register_providers",
]


def _factory(options: KubernetesCRDOptions, context: ProviderContext) -> Any:
    try:
        return KubernetesCRDProvider(options, context)
    except ClientConfigError as exc:
        raise ValueError(f"providers.kubernetesCRD: {exc}") from None


def offline_translate(
    objects: Any, options: Mapping[str, Any], context: ProviderContext
) -> OfflineResult:
    """The provider's configuration for manifests' objects (``options``: the ``providers.kubernetesCRD`` section)."""
    result = translate(objects, KubernetesCRDOptions.model_validate(dict(options)))
    return OfflineResult(result.configuration, tuple(result.errors))


PROVIDER_TYPE = ProviderType(
    name=PROVIDER_NAME,
    config_key="kubernetesCRD",
    options_model=KubernetesCRDOptions,
    factory=_factory,
    offline=OfflineSource(load=load_manifests, translate=offline_translate),
)


@hookimpl
def register_providers(register: Callable[[ProviderType], None]) -> None:
    register(PROVIDER_TYPE)


@hookimpl
def configuration_applied(kernel: Any, runtime: Any) -> None:
    runtime_applied(kernel, runtime)


@hookimpl
def register_commands(cli: Any) -> None:
    @cli.command("crds")
    def crds_cmd() -> None:
        """Print the traefik.io CustomResourceDefinitions (YAML, for kubectl apply -f -)."""
        click.echo(render_yaml(), nl=False)
