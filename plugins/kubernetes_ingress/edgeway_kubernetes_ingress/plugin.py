"""Registers the ``kubernetes`` provider type (``providers.kubernetesIngress``, ``name@kubernetes``).

The live connection to a cluster (client configuration, reflector, status
writer) is not part of this version. The type is still registered, so that its
options validate with Traefik's names and ``edgeway render --provider kubernetes
--manifests ...`` translates manifests offline; a static configuration that
enables ``providers.kubernetesIngress`` makes start-up fail with a message that
says so, instead of starting a proxy that silently watches nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from edgeway import hookimpl
from edgeway.registry import OfflineResult, OfflineSource, ProviderContext, ProviderType
from edgeway_kubernetes import load_manifests

from edgeway_kubernetes_ingress.options import KubernetesIngressOptions
from edgeway_kubernetes_ingress.translate import translate

__all__ = ["LIVE_UNAVAILABLE", "PROVIDER_NAME", "PROVIDER_TYPE", "offline_translate", "register_providers"]

PROVIDER_NAME = "kubernetes"
LIVE_UNAVAILABLE = (
    "providers.kubernetesIngress: the live Kubernetes connection is not available in this "
    "version of edgeway yet; translate manifests offline with "
    "`edgeway render --provider kubernetes --manifests PATH`"
)


def _factory(options: KubernetesIngressOptions, context: ProviderContext) -> Any:
    raise ValueError(LIVE_UNAVAILABLE)


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
