"""An in-memory store of Kubernetes objects: what a provider translates from.

The live reflector fills it (``put``/``delete``/``replace`` per kind); manifests
fill it for ``edgeway render`` and the conformance tests. Objects are indexed
by kind, then ``(namespace, name)``; EndpointSlices also by the Service they
belong to (label ``kubernetes.io/service-name``), as Traefik's indexer does.
A namespaces filter hides namespaced objects outside the watched namespaces,
the way Traefik's client refuses to look outside them.

An object without a name cannot exist on an API server but does in manifests
(Traefik's own test fixtures have several nameless Ingresses in one
namespace): each such object is kept on its own, never replacing another.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from edgeway_kubernetes.objects import kind as kind_of
from edgeway_kubernetes.objects import labels, meta, name, namespace
from edgeway_kubernetes.selectors import LabelSelector

__all__ = ["CLUSTER_SCOPED_KINDS", "SERVICE_NAME_LABEL", "ObjectStore"]

#: Kinds without a namespace (the namespaces filter does not apply to them).
CLUSTER_SCOPED_KINDS = frozenset(
    {"Node", "IngressClass", "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
)
#: The label tying an EndpointSlice to its Service.
SERVICE_NAME_LABEL = "kubernetes.io/service-name"

Obj = Mapping[str, Any]


class ObjectStore:
    """Objects by kind and ``(namespace, name)``, in insertion order.

    ``namespaces`` (None or empty: all) limits what namespaced lookups see.
    Not thread-safe: the reflector should hand objects to the provider's task.
    """

    def __init__(self, objects: Iterable[Obj] = (), namespaces: Sequence[str] | None = None) -> None:
        self.namespaces = frozenset(namespaces or ())
        self._by_kind: dict[str, dict[tuple[str, str], Obj]] = {}
        self._slices: dict[tuple[str, str], dict[str, Obj]] = {}
        self._unnamed = 0
        for obj in objects:
            self.put(obj)

    # -- writing ---------------------------------------------------------------

    def put(self, obj: Obj) -> None:
        """Add or replace an object (keyed by kind, namespace and name)."""
        k = kind_of(obj)
        key = (namespace(obj), name(obj))
        if not key[1]:
            self._unnamed += 1
            key = (key[0], f"\0unnamed-{self._unnamed}")
        table = self._by_kind.setdefault(k, {})
        old = table.get(key)
        if old is not None and k == "EndpointSlice":
            self._unindex_slice(old)
        table[key] = obj
        if k == "EndpointSlice":
            service = labels(obj).get(SERVICE_NAME_LABEL)
            if service:
                self._slices.setdefault((key[0], service), {})[key[1]] = obj

    def delete(self, kind: str, namespace_: str, name_: str) -> Obj | None:
        """Remove an object; returns it (None when it was not there)."""
        obj = self._by_kind.get(kind, {}).pop((namespace_, name_), None)
        if obj is not None and kind == "EndpointSlice":
            self._unindex_slice(obj)
        return obj

    def replace(self, kind: str, objects: Iterable[Obj], namespace_: str | None = None) -> None:
        """Replace every object of ``kind`` (in one namespace if given): what a re-list does."""
        for key in list(self._by_kind.get(kind, {})):
            if namespace_ is None or key[0] == namespace_:
                self.delete(kind, *key)
        for obj in objects:
            self.put(obj)

    def _unindex_slice(self, obj: Obj) -> None:
        service = labels(obj).get(SERVICE_NAME_LABEL)
        if service:
            group = self._slices.get((namespace(obj), service), {})
            group.pop(name(obj), None)

    # -- reading ---------------------------------------------------------------

    def watches(self, namespace_: str) -> bool:
        """Whether objects of this namespace are visible."""
        return not self.namespaces or namespace_ in self.namespaces

    def _visible(self, kind: str, namespace_: str) -> bool:
        return kind in CLUSTER_SCOPED_KINDS or self.watches(namespace_)

    def get(self, kind: str, namespace_: str, name_: str) -> Obj | None:
        if not self._visible(kind, namespace_):
            return None
        return self._by_kind.get(kind, {}).get((namespace_, name_))

    def list_objects(
        self, kind: str, namespace_: str | None = None, selector: LabelSelector | None = None
    ) -> list[Obj]:
        """Objects of ``kind`` (in one namespace if given) matching ``selector``."""
        out = []
        for (ns, _), obj in self._by_kind.get(kind, {}).items():
            if namespace_ is not None and ns != namespace_:
                continue
            if not self._visible(kind, ns):
                continue
            if selector is not None and not selector.matches(labels(obj)):
                continue
            out.append(obj)
        return out

    def endpoint_slices(self, namespace_: str, service: str) -> list[Obj]:
        """The EndpointSlices of a Service, by creation time then name (as Traefik sorts them)."""
        if not self.watches(namespace_):
            return []
        group = self._slices.get((namespace_, service), {})
        return sorted(
            group.values(),
            key=lambda s: (str(meta(s).get("creationTimestamp") or ""), name(s)),
        )

    def __len__(self) -> int:
        return sum(len(t) for t in self._by_kind.values())
