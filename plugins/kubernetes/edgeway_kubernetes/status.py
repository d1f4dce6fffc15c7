"""Writes objects' ``status`` through the status subresource, only when it changes.

Providers compute the status they want (the Ingress provider's
``status.loadBalancer``, the CRD provider's conditions) and call
:meth:`StatusWriter.write`; it skips a write when the object already has that
status or when the same status was just written to the same version of the
object (the watch has not caught up yet), and otherwise updates the status
subresource with the object as last seen and the new ``status``: an update (PUT),
as Traefik's ``UpdateStatus`` (``pkg/provider/kubernetes/ingress/client.go``),
so the least-privilege RBAC grants ``update`` on ``<kind>/status`` and nothing
else. A conflict (the object changed since: another replica wrote it) is
expected and only logged at debug level; any other failure is logged as an
error. Both are retried at the next rebuild (the change's own watch event brings one), never
raised into it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

import anyio
import anyio.to_thread

from edgeway_kubernetes.client import APIError, KubeAPI
from edgeway_kubernetes.objects import meta, name, namespace
from edgeway_kubernetes.reflector import TRANSPORT_ERRORS, ResourceKind, explain

__all__ = ["StatusWriter"]

log = logging.getLogger("edgeway.kubernetes")

Obj = Mapping[str, Any]


class StatusWriter:
    """Updates ``status`` of objects of one kind; ``writes`` counts the updates sent."""

    def __init__(self, api: KubeAPI, kind: ResourceKind, limiter: anyio.CapacityLimiter | None = None) -> None:
        self.api = api
        self.kind = kind
        self.limiter = limiter
        self.writes = 0
        self.last_error: str | None = None
        self._sent: dict[tuple[str, str], tuple[str, str]] = {}  # -> (resourceVersion, status JSON)

    async def write(
        self, obj: Obj, status: Mapping[str, Any], same: Callable[[Obj, Mapping[str, Any]], bool]
    ) -> bool:
        """Set ``status`` on ``obj`` unless ``same(obj, status)``; returns whether an update was sent."""
        if same(obj, status):
            return False
        key = (namespace(obj), name(obj))
        sent = (str(meta(obj).get("resourceVersion") or ""), json.dumps(status, sort_keys=True))
        if self._sent.get(key) == sent:
            return False
        path = self.kind.path(key[0], key[1], "status")
        try:
            await anyio.to_thread.run_sync(
                lambda: self.api.json("PUT", path, body={**obj, "status": status}, timeout=10.0),
                abandon_on_cancel=True, limiter=self.limiter,
            )  # fmt: skip
        except (APIError, *TRANSPORT_ERRORS) as exc:
            if isinstance(exc, APIError) and exc.status == 409:
                # Another writer (a replica) changed the object first: its watch
                # event brings the next rebuild, which finds the status set or retries.
                log.debug("kubernetes: status of %s %s/%s changed meanwhile; retried at the next rebuild", self.kind.kind, *key)
                return False
            self.last_error = explain(exc, "update", ResourceKind(**{**vars(self.kind), "plural": f"{self.kind.plural}/status"}), key[0])
            log.error("kubernetes: cannot update the status of %s %s/%s: %s", self.kind.kind, *key, self.last_error)
            return False
        self._sent[key] = sent
        self.writes += 1
        self.last_error = None
        return True
