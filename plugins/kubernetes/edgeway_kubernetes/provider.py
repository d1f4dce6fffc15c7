"""What both Kubernetes providers do the same way: watch kinds into a store, rebuild, emit.

``Provide`` in Traefik's Ingress and CRD providers: watch the kinds the
provider reads in each watched namespace (all when ``namespaces`` is empty),
wait until every cache is filled, then translate and emit; after that every
watch event is a poke, and rebuilds are spaced by ``throttleDuration`` (pokes
in between coalesce into one rebuild).

While the API server is unreachable the reflectors keep their objects and
retry with backoff; nothing is rebuilt, so the kernel keeps serving the last
configuration, and the next successful list or event catches up.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any, Protocol

import anyio
import anyio.to_thread
from edgeway.registry import Emit

from edgeway_kubernetes.client import APIError, ClientConfig, KubeAPI, load_client_config
from edgeway_kubernetes.reflector import (
    TRANSPORT_ERRORS,
    Backoff,
    Reflector,
    ResourceKind,
    discover_endpoint_slice_kind,
    explain,
)
from edgeway_kubernetes.store import ObjectStore

__all__ = ["NOT_OWNED_BY_HELM", "Translated", "WatchingProvider", "Watch"]

#: Traefik's Secret informers ignore Helm's release Secrets.
NOT_OWNED_BY_HELM = "owner!=helm"

#: ``(kind, namespace or None for all, label selector)``: one reflector.
Watch = tuple[ResourceKind, str | None, str]


class Translated(Protocol):
    configuration: Any
    errors: list[str]


class WatchingProvider(ABC):
    """A live Kubernetes provider; subclasses say what to watch and how to translate.

    The client configuration is resolved when the provider is made, so a
    process with nowhere to connect fails at start-up with what was tried.
    ``backoff`` and ``watch_timeout`` tune the reflectors (tests shorten them).
    """

    #: The provider's name in log lines.
    name = "kubernetes"

    def __init__(
        self,
        options: Any,
        *,
        client_config: ClientConfig | None = None,
        backoff: tuple[float, float] = (0.8, 30.0),
        watch_timeout: float = 300.0,
    ) -> None:
        self.options = options
        self.client_config = client_config or load_client_config(
            options.endpoint, options.token, options.certAuthFilePath
        )
        self.backoff = backoff
        self.watch_timeout = watch_timeout
        self.store = ObjectStore(namespaces=options.namespaces)
        self.reflectors: list[Reflector] = []
        #: The API client and the thread limiter while running (status writers use them).
        self.api: KubeAPI | None = None
        self.limiter: anyio.CapacityLimiter | None = None
        #: Rebuilds done, and the errors of the latest translation.
        self.rebuilds = 0
        self.errors: list[str] = []
        self.log = logging.getLogger(f"edgeway.provider.{self.name}")
        self._poked = anyio.Event()

    # -- what subclasses provide -------------------------------------------------------

    @abstractmethod
    def watches(self, endpoint_slices: ResourceKind) -> Iterator[Watch]:
        """The reflectors to run (``endpoint_slices``: the version the server serves)."""

    @abstractmethod
    def translate(self, store: ObjectStore) -> Translated:
        """The provider's configuration for the objects in ``store``."""

    async def emitted(self, translation: Any) -> None:
        """Runs after each emit (status writes); failures must be handled inside."""
        return None

    async def background(self) -> None:
        """Runs beside the rebuild loop once the caches are filled (status writers)."""
        return None

    # -- running ---------------------------------------------------------------------

    async def _discover(self, api: KubeAPI, limiter: anyio.CapacityLimiter) -> ResourceKind:
        """The EndpointSlice version, retried with backoff while the API server is unreachable."""
        backoff = Backoff(*self.backoff)
        reported = False
        while True:
            try:
                return await anyio.to_thread.run_sync(
                    discover_endpoint_slice_kind, api, abandon_on_cancel=True, limiter=limiter
                )
            except (APIError, *TRANSPORT_ERRORS) as exc:
                if not reported:
                    group = ResourceKind("APIGroup", "", "v1", "apis/discovery.k8s.io", False)
                    self.log.error("%s: %s; retrying with backoff", self.name, explain(exc, "get", group))
                    reported = True
            await anyio.sleep(backoff.next())

    async def run(self, emit: Emit) -> None:
        api = self.api = KubeAPI(self.client_config)
        self.log.info("%s: connecting to %s", self.name, self.client_config.source)
        try:
            limiter = self.limiter = anyio.CapacityLimiter(2)
            watches = list(self.watches(await self._discover(api, limiter)))
            limiter.total_tokens = len(watches) + 2  # one per watch, plus status writes and lists
            self.reflectors = [
                Reflector(api, kind, self.store, self._poke, namespace=ns, label_selector=selector,
                          limiter=limiter, backoff=Backoff(*self.backoff), watch_timeout=self.watch_timeout)
                for kind, ns, selector in watches
            ]  # fmt: skip
            async with anyio.create_task_group() as tg:
                for reflector in self.reflectors:
                    tg.start_soon(reflector.run)
                for reflector in self.reflectors:
                    await reflector.synced.wait()
                self.log.info("%s: caches filled from %s", self.name, self.client_config.source)
                tg.start_soon(self.background)
                await self._serve(emit)
        finally:
            api.close()

    def _poke(self) -> None:
        self._poked.set()

    async def _serve(self, emit: Emit) -> None:
        throttle = float(self.options.throttleDuration)
        while True:
            await self._poked.wait()
            self._poked = anyio.Event()
            translation = self.rebuild()
            emit(translation.configuration)
            await self.emitted(translation)
            if throttle > 0:
                await anyio.sleep(throttle)

    def rebuild(self) -> Any:
        """Translate the store as it is now (errors are logged when they change)."""
        translation = self.translate(self.store)
        self.rebuilds += 1
        if translation.errors != self.errors:
            for error in translation.errors:
                self.log.error("%s: %s", self.name, error)
        self.errors = translation.errors
        return translation

    async def snapshot(self) -> Any:
        """One list of everything, translated (``edgeway render`` against a live cluster)."""
        api = KubeAPI(self.client_config)
        try:
            return await anyio.to_thread.run_sync(self._snapshot_sync, api)
        finally:
            api.close()

    def _snapshot_sync(self, api: KubeAPI) -> Any:
        store = ObjectStore(namespaces=self.options.namespaces)
        for kind, ns, selector in self.watches(discover_endpoint_slice_kind(api)):
            try:
                doc = api.json("GET", kind.path(ns), {"labelSelector": selector})
            except (APIError, *TRANSPORT_ERRORS) as exc:
                raise RuntimeError(f"{self.name}: {explain(exc, 'list', kind, ns)}") from None
            store.replace(kind.kind, [{**o, "kind": kind.kind, "apiVersion": kind.api_version}
                                      for o in doc.get("items") or ()], ns)  # fmt: skip
        return self.translate(store).configuration
