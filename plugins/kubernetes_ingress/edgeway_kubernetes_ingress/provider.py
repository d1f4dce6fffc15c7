"""The live Ingress provider: watches Ingresses and what they use, emits their translation.

``Provide`` in Traefik's ``pkg/provider/kubernetes/ingress/kubernetes.go``:
Ingresses (with the label selector), Services, EndpointSlices and Secrets
(``owner!=helm``) in each watched namespace, IngressClasses when the class
lookup is on, and Nodes unless ``disableClusterScopeResources``. The watching,
throttling and resilience are :class:`~edgeway_kubernetes.provider.WatchingProvider`'s.
The status of the Ingresses served is written after each rebuild when
``ingressEndpoint`` or ``reportNodeInternalIPs`` asks for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from edgeway.registry import ProviderContext
from edgeway_kubernetes import ObjectStore
from edgeway_kubernetes.client import ClientConfig
from edgeway_kubernetes.objects import status as status_of
from edgeway_kubernetes.provider import NOT_OWNED_BY_HELM, Watch, WatchingProvider
from edgeway_kubernetes.reflector import INGRESS, INGRESS_CLASS, NODE, SECRET, SERVICE, ResourceKind
from edgeway_kubernetes.status import StatusWriter

from edgeway_kubernetes_ingress.options import KubernetesIngressOptions
from edgeway_kubernetes_ingress.status import (
    StatusError,
    ingress_status,
    load_balancer_equal,
    node_internal_ip_status,
)
from edgeway_kubernetes_ingress.translate import Translation, translate
from edgeway_kubernetes_ingress.view import IngressView

__all__ = ["KubernetesIngressProvider"]


class KubernetesIngressProvider(WatchingProvider):
    """A ``providers.kubernetesIngress`` instance."""

    name = "kubernetes"
    options: KubernetesIngressOptions

    def __init__(
        self,
        options: KubernetesIngressOptions,
        context: ProviderContext | None = None,
        *,
        client_config: ClientConfig | None = None,
        backoff: tuple[float, float] = (0.8, 30.0),
        watch_timeout: float = 300.0,
    ) -> None:
        super().__init__(options, client_config=client_config, backoff=backoff, watch_timeout=watch_timeout)
        self.status_writer: StatusWriter | None = None

    def watches(self, endpoint_slices: ResourceKind) -> Iterator[Watch]:
        namespaces: list[str | None] = list(self.options.namespaces) or [None]
        for ns in namespaces:
            yield INGRESS, ns, self.options.labelSelector
            yield SERVICE, ns, ""
            yield endpoint_slices, ns, ""
            yield SECRET, ns, NOT_OWNED_BY_HELM
        if self.options.ingress_class_lookup:
            yield INGRESS_CLASS, None, ""
        if not self.options.disableClusterScopeResources:
            yield NODE, None, ""

    def translate(self, store: ObjectStore) -> Translation:
        return translate(IngressView(store, self.options), self.options)

    async def emitted(self, translation: Translation) -> None:
        if self.api is None or not translation.processed:
            return
        if self.options.ingressEndpoint is None and not self.options.reportNodeInternalIPs:
            return
        view = IngressView(self.store, self.options)
        nodes = node_internal_ip_status(view.nodes()) if self.options.reportNodeInternalIPs else []
        try:
            wanted = ingress_status(view, nodes)
        except StatusError as exc:
            self.log.error("kubernetes: error while updating ingress status: %s", exc)
            return
        if wanted is None:
            return
        if self.status_writer is None:
            self.status_writer = StatusWriter(self.api, INGRESS, self.limiter)
        for ingress in translation.processed:
            await self.status_writer.write(ingress, {"loadBalancer": {"ingress": wanted}}, _same_load_balancer)


def _same_load_balancer(ingress: Any, wanted: Any) -> bool:
    current = (status_of(ingress).get("loadBalancer") or {}).get("ingress")
    return load_balancer_equal(current, wanted["loadBalancer"]["ingress"])
