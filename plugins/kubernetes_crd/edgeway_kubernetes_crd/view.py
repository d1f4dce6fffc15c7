"""What the CRD provider reads from the object store (Traefik's CRD ``Client`` interface).

``pkg/provider/kubernetes/crd/client.go``: the ten ``traefik.io/v1alpha1``
kinds are listed with the provider's label selector; Services, EndpointSlices,
ConfigMaps and Secrets without it (Secrets labelled ``owner=helm`` are
invisible); Nodes unless ``disableClusterScopeResources``. Namespaced lookups
stay within the watched namespaces (the store's filter).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from edgeway_kubernetes import ObjectStore, parse_label_selector
from edgeway_kubernetes.objects import labels

from edgeway_kubernetes_crd.options import KubernetesCRDOptions

__all__ = ["CRD_GROUP", "CRD_KINDS", "CRDView"]

CRD_GROUP = "traefik.io"
#: The kinds of ``traefik.io/v1alpha1``, in the order Traefik's client lists them.
CRD_KINDS = (
    "IngressRoute",
    "Middleware",
    "MiddlewareTCP",
    "IngressRouteTCP",
    "IngressRouteUDP",
    "TLSOption",
    "ServersTransport",
    "ServersTransportTCP",
    "TLSStore",
    "TraefikService",
)

Obj = Mapping[str, Any]


class CRDView:
    """Read-only access to a store, with the provider's filters applied."""

    def __init__(self, store: ObjectStore, options: KubernetesCRDOptions) -> None:
        self.store = store
        self.options = options
        self._selector = parse_label_selector(options.labelSelector)

    @classmethod
    def from_objects(cls, objects: Iterable[Obj], options: KubernetesCRDOptions) -> CRDView:
        return cls(ObjectStore(objects, namespaces=options.namespaces), options)

    def list(self, kind: str) -> list[Obj]:
        """Every object of one of the :data:`CRD_KINDS` that the label selector selects."""
        return self.store.list_objects(kind, selector=self._selector)

    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        """One CRD object by name (a TraefikService, a Middleware...), selector applied."""
        obj = self.store.get(kind, namespace, name)
        if obj is None or not self._selector.matches(labels(obj)):
            return None
        return obj

    def service(self, namespace: str, name: str) -> Obj | None:
        return self.store.get("Service", namespace, name)

    def endpoint_slices(self, namespace: str, service: str) -> list[Obj]:
        return self.store.endpoint_slices(namespace, service)

    def secret(self, namespace: str, name: str) -> Obj | None:
        secret = self.store.get("Secret", namespace, name)
        if secret is not None and labels(secret).get("owner") == "helm":
            return None
        return secret

    def config_map(self, namespace: str, name: str) -> Obj | None:
        return self.store.get("ConfigMap", namespace, name)

    def nodes(self) -> list[Obj]:
        if self.options.disableClusterScopeResources:
            return []
        return self.store.list_objects("Node")
