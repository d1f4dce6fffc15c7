"""Secrets in the storage's namespace: blocking reads and writes, and the watched cache.

The cache is the reflector's :class:`~edgeway_kubernetes.store.ObjectStore`
behind a lock: the reflector writes it on the event loop, while worker threads
(orders, direct reads) read it and put what they wrote or read themselves,
so a replica sees its own writes at once rather than when the watch brings them.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from edgeway_kubernetes.client import APIError, KubeAPI
from edgeway_kubernetes.store import ObjectStore

from edgeway_kubernetes_acme.objects import SECRET

__all__ = ["LockedStore", "SecretsAPI"]

Obj = dict[str, Any]


class LockedStore(ObjectStore):
    """An :class:`ObjectStore` safe to share between the event loop and worker threads."""

    def __init__(self) -> None:
        self._mutex = threading.RLock()
        super().__init__()

    def put(self, obj: Mapping[str, Any]) -> None:
        with self._mutex:
            super().put(obj)

    def delete(self, kind: str, namespace_: str, name_: str) -> Mapping[str, Any] | None:
        with self._mutex:
            return super().delete(kind, namespace_, name_)

    def replace(self, kind: str, objects: Any, namespace_: str | None = None) -> None:
        with self._mutex:
            super().replace(kind, list(objects), namespace_)

    def get(self, kind: str, namespace_: str, name_: str) -> Mapping[str, Any] | None:
        with self._mutex:
            return super().get(kind, namespace_, name_)

    def list_objects(
        self, kind: str, namespace_: str | None = None, selector: Any = None
    ) -> list[Mapping[str, Any]]:
        with self._mutex:
            return super().list_objects(kind, namespace_, selector)


class SecretsAPI:
    """Blocking Secret requests in one namespace, mirrored into ``cache``."""

    def __init__(self, api: KubeAPI, namespace: str, cache: LockedStore) -> None:
        self.api = api
        self.namespace = namespace
        self.cache = cache

    def _typed(self, obj: Obj) -> Obj:
        obj["kind"], obj["apiVersion"] = SECRET.kind, SECRET.api_version
        return obj

    def cached(self, name: str) -> Mapping[str, Any] | None:
        return self.cache.get(SECRET.kind, self.namespace, name)

    def read(self, name: str) -> Obj | None:
        """The Secret as the API server has it now (None: there is none)."""
        try:
            obj = self._typed(self.api.json("GET", SECRET.path(self.namespace, name)))
        except APIError as exc:
            if exc.status == 404:
                return None
            raise
        return obj

    def list(self, selector: str) -> list[Obj]:
        doc = self.api.json("GET", SECRET.path(self.namespace), {"labelSelector": selector})
        return [self._typed(o) for o in doc.get("items") or ()]

    def create(self, body: Obj) -> bool:
        """Create the Secret; False when one of that name exists."""
        body = {**body, "metadata": {**body["metadata"], "namespace": self.namespace}}
        try:
            self.api.json("POST", SECRET.path(self.namespace), body=body)
        except APIError as exc:
            if exc.status == 409:
                return False
            raise
        return True

    def write(self, body: Obj, *, cache: bool = True) -> Obj:
        """Create the Secret, or replace the one of the same name."""
        name = body["metadata"]["name"]
        body = {**body, "metadata": {**body["metadata"], "namespace": self.namespace}}
        for _ in range(5):
            try:
                obj = self.api.json("POST", SECRET.path(self.namespace), body=body)
                break
            except APIError as exc:
                if exc.status != 409:
                    raise
            current = self.read(name)
            if current is None:
                continue
            replacement = {**body, "metadata": {**body["metadata"],
                           "resourceVersion": current["metadata"]["resourceVersion"]}}  # fmt: skip
            try:
                obj = self.api.json("PUT", SECRET.path(self.namespace, name), body=replacement)
                break
            except APIError as exc:
                if exc.status != 409:
                    raise
        else:
            raise APIError(409, "Conflict", f"Secret {name} keeps changing")
        obj = self._typed(obj)
        if cache:
            self.cache.put(obj)
        return obj

    def delete(self, name: str) -> None:
        try:
            self.api.json("DELETE", SECRET.path(self.namespace, name))
        except APIError as exc:
            if exc.status != 404:
                raise
        self.cache.delete(SECRET.kind, self.namespace, name)
