"""Registers the ``kubernetes`` provider type (``providers.kubernetesIngress``, ``name@kubernetes``).

Live, it watches a cluster (:class:`~edgeway_kubernetes_ingress.provider.KubernetesIngressProvider`);
offline, ``edgeway render --provider kubernetes --manifests ...`` runs the same
translation on manifests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from edgeway import hookimpl
from edgeway.registry import OfflineResult, OfflineSource, ProviderContext, ProviderType
from edgeway_kubernetes import load_manifests
from edgeway_kubernetes.client import ClientConfigError

from edgeway_kubernetes_ingress.options import KubernetesIngressOptions
from edgeway_kubernetes_ingress.provider import KubernetesIngressProvider
from edgeway_kubernetes_ingress.translate import translate

__all__ = ["PROVIDER_NAME", "PROVIDER_TYPE", "offline_translate", "register_providers"]

PROVIDER_NAME = "kubernetes"


def _factory(options: KubernetesIngressOptions, context: ProviderContext) -> Any:
    try:
        return KubernetesIngressProvider(options, context)
    except ClientConfigError as exc:
        raise ValueError(f"providers.kubernetesIngress: {exc}") from None


def offline_translate(objects: Any, options: Mapping[str, Any], context: ProviderContext) -> OfflineResult:
    """The provider's configuration for manifests' objects.

    ``options`` is the ``providers.kubernetesIngress`` section; it may also carry
    ``defaultRuleSyntax``, Traefik's global ``core.defaultRuleSyntax`` that
    Traefik copies into this provider.
    """
    raw = dict(options)
    syntax = str(raw.pop("defaultRuleSyntax", "") or "")
    result = translate(objects, KubernetesIngressOptions.model_validate(raw), default_rule_syntax=syntax)
    return OfflineResult(result.configuration, tuple(result.errors))


PROVIDER_TYPE = ProviderType(
    name=PROVIDER_NAME,
    config_key="kubernetesIngress",
    options_model=KubernetesIngressOptions,
    factory=_factory,
    offline=OfflineSource(load=load_manifests, translate=offline_translate),
)


@hookimpl
def register_providers(register: Callable[[ProviderType], None]) -> None:
    register(PROVIDER_TYPE)
