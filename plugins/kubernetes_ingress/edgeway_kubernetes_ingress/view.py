"""What the Ingress provider reads from the object store (Traefik's ``Client`` interface).

``pkg/provider/kubernetes/ingress/client.go``: Ingresses filtered by the
provider's label selector; only IngressClasses of Traefik's controller;
Secrets labelled ``owner=helm`` are invisible (Traefik's Secret informer lists
with ``owner!=helm``); namespaced lookups stay within the watched namespaces
(the store's filter).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from edgeway_kubernetes import ObjectStore, parse_label_selector
from edgeway_kubernetes.objects import labels, spec

from edgeway_kubernetes_ingress.options import KubernetesIngressOptions

__all__ = ["TRAEFIK_INGRESS_CONTROLLER", "IngressView"]

TRAEFIK_INGRESS_CONTROLLER = "traefik.io/ingress-controller"

Obj = Mapping[str, Any]


class IngressView:
    """Read-only access to a store, with the provider's filters applied."""

    def __init__(self, store: ObjectStore, options: KubernetesIngressOptions) -> None:
        self.store = store
        self.options = options
        self._selector = parse_label_selector(options.labelSelector)

    @classmethod
    def from_objects(cls, objects: Iterable[Obj], options: KubernetesIngressOptions) -> IngressView:
        return cls(ObjectStore(objects, namespaces=options.namespaces), options)

    def ingresses(self) -> list[Obj]:
        return self.store.list_objects("Ingress", selector=self._selector)

    def ingress_classes(self) -> list[Obj]:
        return [
            ic for ic in self.store.list_objects("IngressClass") if spec(ic).get("controller") == TRAEFIK_INGRESS_CONTROLLER
        ]

    def service(self, namespace: str, name: str) -> Obj | None:
        return self.store.get("Service", namespace, name)

    def secret(self, namespace: str, name: str) -> Obj | None:
        secret = self.store.get("Secret", namespace, name)
        if secret is not None and labels(secret).get("owner") == "helm":
            return None
        return secret

    def endpoint_slices(self, namespace: str, service: str) -> list[Obj]:
        return self.store.endpoint_slices(namespace, service)

    def nodes(self) -> list[Obj]:
        return self.store.list_objects("Node")
