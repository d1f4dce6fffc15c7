"""List then watch one kind of object into an :class:`~edgeway_kubernetes.store.ObjectStore`.

client-go's reflector, in Python: list (the store is replaced with what the
API server has), then watch from the list's ``resourceVersion``; each event
updates the store on the event loop's thread and calls ``on_change`` (the
provider's poke). A watch that ends (its ``timeoutSeconds`` ran out, the
connection dropped) resumes from the last version seen, bookmarks included; a
410 Gone (the version is too old) re-lists; any other failure retries with
capped exponential backoff and jitter, so a down API server is never hammered
and the store, hence the configuration, stays as it was.

The official client is synchronous, so requests run in worker threads
(``anyio.to_thread``) under a limiter the provider sizes to its reflectors
(watches hold their thread; they must not starve the kernel's thread pool).
Cancellation stops a reflector at once: the blocked thread is abandoned and
its connection shut, so the thread returns too.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
import urllib3

from edgeway_kubernetes.client import APIError, KubeAPI
from edgeway_kubernetes.store import ObjectStore

__all__ = [
    "ENDPOINT_SLICE",
    "INGRESS",
    "INGRESS_CLASS",
    "NODE",
    "SECRET",
    "SERVICE",
    "Backoff",
    "Reflector",
    "ResourceKind",
    "discover_endpoint_slice_kind",
    "explain",
]

log = logging.getLogger("edgeway.kubernetes")

Obj = dict[str, Any]


@dataclass(frozen=True)
class ResourceKind:
    """A kind as the API serves it."""

    kind: str
    group: str
    version: str
    plural: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def resource(self) -> str:
        """``plural.group``, how RBAC and error messages name it."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, namespace: str | None = None, name: str | None = None, sub: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace and self.namespaced:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
        if sub:
            base += f"/{sub}"
        return base


INGRESS = ResourceKind("Ingress", "networking.k8s.io", "v1", "ingresses")
INGRESS_CLASS = ResourceKind("IngressClass", "networking.k8s.io", "v1", "ingressclasses", namespaced=False)
SERVICE = ResourceKind("Service", "", "v1", "services")
SECRET = ResourceKind("Secret", "", "v1", "secrets")
NODE = ResourceKind("Node", "", "v1", "nodes", namespaced=False)
ENDPOINT_SLICE = ResourceKind("EndpointSlice", "discovery.k8s.io", "v1", "endpointslices")

#: What the transport raises when the API server cannot be reached or hangs up.
TRANSPORT_ERRORS = (OSError, urllib3.exceptions.HTTPError, ValueError)


def explain(exc: BaseException, verb: str, kind: ResourceKind, namespace: str | None = None) -> str:
    """A readable one-line account of a failed request (403 names the missing permission)."""
    where = f'in namespace "{namespace}"' if namespace else "in all namespaces" if kind.namespaced else "(cluster scope)"
    if isinstance(exc, APIError) and exc.status == 403:
        return (
            f"forbidden: cannot {verb} {kind.resource} {where}; the service account needs RBAC permission "
            f'"{verb}" on "{kind.plural}" in API group "{kind.group}" ({exc.message})'
        )
    if isinstance(exc, APIError):
        return f"{verb} {kind.resource} {where}: the API server answered {exc}"
    return f"{verb} {kind.resource} {where}: {type(exc).__name__}: {exc}"


def discover_endpoint_slice_kind(api: KubeAPI) -> ResourceKind:
    """``discovery.k8s.io/v1`` EndpointSlices, or ``v1beta1`` on servers that serve only that (1.19-1.20)."""
    try:
        group = api.json("GET", "/apis/discovery.k8s.io")
    except APIError as exc:
        if exc.status == 404:
            raise APIError(404, "NotFound", "the API server serves no EndpointSlices (discovery.k8s.io); "
                           "Kubernetes 1.19 or later is needed") from None  # fmt: skip
        raise
    versions = [str(v.get("version")) for v in (group or {}).get("versions") or ()]
    for version in ("v1", "v1beta1"):
        if version in versions:
            return ResourceKind("EndpointSlice", "discovery.k8s.io", version, "endpointslices")
    raise APIError(404, "NotFound", f"the API server serves discovery.k8s.io versions {versions}, not v1 or v1beta1")


class Backoff:
    """Capped exponential backoff with jitter (client-go's defaults: 0.8s doubling to 30s)."""

    def __init__(self, initial: float = 0.8, cap: float = 30.0, factor: float = 2.0, jitter: float = 0.5) -> None:
        self.initial, self.cap, self.factor, self.jitter = initial, cap, factor, jitter
        self._next = initial

    def next(self) -> float:
        """The next delay (grows until ``cap``; jitter adds up to ``jitter`` times it)."""
        base = self._next
        self._next = min(self._next * self.factor, self.cap)
        return min(base * (1 + random.random() * self.jitter), self.cap)  # noqa: S311 - not crypto

    def reset(self) -> None:
        self._next = self.initial


class _Expired(Exception):
    """The watch's resourceVersion is too old (410 Gone): re-list."""


class Reflector:
    """Keeps one kind (in one namespace, or all) of a store in sync with the API server.

    ``synced`` is set after the first successful list; ``last_error`` holds the
    latest failure (None once it works again). ``on_change`` runs on the event
    loop after each change to the store.
    """

    def __init__(
        self,
        api: KubeAPI,
        kind: ResourceKind,
        store: ObjectStore,
        on_change: Callable[[], None],
        *,
        namespace: str | None = None,
        label_selector: str = "",
        limiter: anyio.CapacityLimiter | None = None,
        backoff: Backoff | None = None,
        watch_timeout: float = 300.0,
    ) -> None:
        self.api = api
        self.kind = kind
        self.store = store
        self.on_change = on_change
        self.namespace = namespace if kind.namespaced else None
        self.label_selector = label_selector
        self.limiter = limiter
        self.backoff = backoff or Backoff()
        self.watch_timeout = watch_timeout
        self.synced = anyio.Event()
        self.last_error: str | None = None
        #: Counters for tests and the API: lists done, watches opened.
        self.lists = 0
        self.watches = 0
        #: The last resourceVersion seen (None: list next).
        self.version: str | None = None
        self._response: urllib3.BaseHTTPResponse | None = None
        self._stopped = False

    @property
    def name(self) -> str:
        return f"{self.kind.resource}" + (f" in {self.namespace}" if self.namespace else "")

    async def run(self) -> None:
        """List and watch until cancelled."""
        while True:
            verb = "list" if self.version is None else "watch"
            started = time.monotonic()
            try:
                if self.version is None:
                    await self._in_thread(self._list)
                elif not await self._in_thread(self._watch) and time.monotonic() - started < 1.0:
                    await anyio.sleep(self.backoff.next())  # a server ending watches at once
            except _Expired:
                log.info("%s: resourceVersion %s expired (410 Gone); listing again", self.name, self.version)
                self.version = None
            except (APIError, *TRANSPORT_ERRORS) as exc:
                self._failed(explain(exc, verb, self.kind, self.namespace))
                await anyio.sleep(self.backoff.next())

    async def _in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return await anyio.to_thread.run_sync(fn, *args, abandon_on_cancel=True, limiter=self.limiter)
        except anyio.get_cancelled_exc_class():
            self._stopped = True
            response = self._response
            if response is not None:  # wake the abandoned thread
                shutdown = getattr(response, "shutdown", None)
                if shutdown is not None:
                    shutdown()
                response.close()
            raise

    def _failed(self, message: str) -> None:
        if self.last_error is None:
            log.error("kubernetes: %s; retrying with backoff, keeping the last known objects", message)
        else:
            log.debug("kubernetes: %s", message)
        self.last_error = message

    def _recovered(self) -> None:
        if self.last_error is not None:
            log.info("kubernetes: %s: connected again", self.name)
        self.last_error = None
        self.backoff.reset()

    def _query(self) -> dict[str, Any]:
        return {"labelSelector": self.label_selector}

    def _typed(self, obj: Obj) -> Obj:
        obj["kind"], obj["apiVersion"] = self.kind.kind, self.kind.api_version
        return obj

    def _list(self) -> None:
        doc = self.api.json("GET", self.kind.path(self.namespace), self._query())
        items = [self._typed(o) for o in doc.get("items") or ()]
        anyio.from_thread.run_sync(self._replace, items)
        self.version = str((doc.get("metadata") or {}).get("resourceVersion") or "")

    def _replace(self, items: list[Obj]) -> None:
        if self._stopped:
            return
        self.lists += 1
        self.store.replace(self.kind.kind, items, self.namespace)
        self._recovered()
        self.synced.set()
        self.on_change()

    def _watch(self) -> bool:
        """Watch from :attr:`version` (kept up to date); returns whether anything came."""
        timeout = int(self.watch_timeout * (1 + random.random()))  # noqa: S311 - spread reconnects
        query = {**self._query(), "watch": "true", "resourceVersion": self.version,
                 "allowWatchBookmarks": "true", "timeoutSeconds": timeout}  # fmt: skip
        raw = self.api.request("GET", self.kind.path(self.namespace), query, timeout=(10.0, timeout + 30.0))
        self._response = raw
        seen = False
        try:
            anyio.from_thread.run_sync(self._watching)
            for event in KubeAPI.lines(raw):
                if self._stopped:
                    break
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise _Expired()
                    raise APIError(int(obj.get("code") or 500), str(obj.get("reason") or ""), str(obj.get("message") or ""))
                seen = True
                if kind in ("ADDED", "MODIFIED", "DELETED"):
                    anyio.from_thread.run_sync(self._apply, kind, self._typed(obj))
                self.version = str((obj.get("metadata") or {}).get("resourceVersion") or self.version)
        finally:
            self._response = None
            raw.release_conn()
        return seen

    def _watching(self) -> None:
        self.watches += 1
        self._recovered()

    def _apply(self, kind: str, obj: Mapping[str, Any]) -> None:
        if self._stopped:
            return
        if kind == "DELETED":
            meta = obj.get("metadata") or {}
            self.store.delete(self.kind.kind, str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        else:
            self.store.put(obj)
        self.on_change()
