"""The live Ingress provider: reflectors fill a store, each poke rebuilds and emits the whole view.

``Provide`` in Traefik's ``pkg/provider/kubernetes/ingress/kubernetes.go``:
watch Ingresses (with the label selector), Services, EndpointSlices and
Secrets (``owner!=helm``) in each watched namespace (all when ``namespaces``
is empty), IngressClasses when the class lookup is on, and Nodes unless
``disableClusterScopeResources``; wait until every cache is filled, then
translate and emit; after that every watch event is a poke, and rebuilds are
spaced by ``throttleDuration`` (pokes in between coalesce into one rebuild).

While the API server is unreachable the reflectors keep their objects and
retry with backoff; nothing is rebuilt, so the kernel keeps serving the last
configuration, and the next successful list or event catches up. The status
of the Ingresses served is written after each rebuild when ``ingressEndpoint``
or ``reportNodeInternalIPs`` asks for it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import anyio
import anyio.to_thread
from edgeway.registry import Emit, ProviderContext
from edgeway_kubernetes import ObjectStore
from edgeway_kubernetes.client import APIError, ClientConfig, KubeAPI, load_client_config
from edgeway_kubernetes.objects import status as status_of
from edgeway_kubernetes.reflector import (
    INGRESS,
    INGRESS_CLASS,
    NODE,
    SECRET,
    SERVICE,
    TRANSPORT_ERRORS,
    Backoff,
    Reflector,
    ResourceKind,
    discover_endpoint_slice_kind,
    explain,
)
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

log = logging.getLogger("edgeway.provider.kubernetes")

#: Traefik's Secret informer ignores Helm's release Secrets.
NOT_OWNED_BY_HELM = "owner!=helm"


class KubernetesIngressProvider:
    """A ``providers.kubernetesIngress`` instance.

    The client configuration is resolved when the provider is made, so a
    process with nowhere to connect fails at start-up with what was tried.
    ``backoff`` and ``watch_timeout`` tune the reflectors (tests shorten them).
    """

    def __init__(
        self,
        options: KubernetesIngressOptions,
        context: ProviderContext | None = None,
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
        self.status_writer: StatusWriter | None = None
        #: Rebuilds done, and the errors of the latest translation.
        self.rebuilds = 0
        self.errors: list[str] = []
        self._poked = anyio.Event()

    # -- what is watched -------------------------------------------------------------

    def _kinds(self, endpoint_slices: ResourceKind) -> Iterator[tuple[ResourceKind, str | None, str]]:
        """``(kind, namespace or None for all, label selector)`` for each reflector."""
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
                    log.error("kubernetes: %s; retrying with backoff",
                              explain(exc, "get", ResourceKind("APIGroup", "", "v1", "apis/discovery.k8s.io", False)))  # fmt: skip
                    reported = True
            await anyio.sleep(backoff.next())

    # -- running ---------------------------------------------------------------------

    async def run(self, emit: Emit) -> None:
        api = KubeAPI(self.client_config)
        log.info("kubernetes: connecting to %s", self.client_config.source)
        try:
            limiter = anyio.CapacityLimiter(2)
            slices = await self._discover(api, limiter)
            kinds = list(self._kinds(slices))
            limiter.total_tokens = len(kinds) + 2  # one per watch, plus status writes and lists
            self.reflectors = [
                Reflector(api, kind, self.store, self._poke, namespace=ns, label_selector=selector,
                          limiter=limiter, backoff=Backoff(*self.backoff), watch_timeout=self.watch_timeout)
                for kind, ns, selector in kinds
            ]  # fmt: skip
            self.status_writer = StatusWriter(api, INGRESS, limiter)
            async with anyio.create_task_group() as tg:
                for reflector in self.reflectors:
                    tg.start_soon(reflector.run)
                for reflector in self.reflectors:
                    await reflector.synced.wait()
                log.info("kubernetes: caches filled from %s", self.client_config.source)
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
            await self._write_statuses(translation)
            if throttle > 0:
                await anyio.sleep(throttle)

    def rebuild(self) -> Translation:
        """Translate the store as it is now."""
        translation = translate(IngressView(self.store, self.options), self.options)
        self.rebuilds += 1
        if translation.errors != self.errors:
            for error in translation.errors:
                log.error("kubernetes: %s", error)
        self.errors = translation.errors
        return translation

    async def _write_statuses(self, translation: Translation) -> None:
        if self.status_writer is None or not translation.processed:
            return
        if self.options.ingressEndpoint is None and not self.options.reportNodeInternalIPs:
            return
        view = IngressView(self.store, self.options)
        nodes = node_internal_ip_status(view.nodes()) if self.options.reportNodeInternalIPs else []
        try:
            wanted = ingress_status(view, nodes)
        except StatusError as exc:
            log.error("kubernetes: error while updating ingress status: %s", exc)
            return
        if wanted is None:
            return
        for ingress in translation.processed:
            await self.status_writer.write(ingress, {"loadBalancer": {"ingress": wanted}}, _same_load_balancer)

    async def snapshot(self) -> Any:
        """One list of everything, translated (``edgeway render`` against a live cluster)."""
        api = KubeAPI(self.client_config)
        try:
            return await anyio.to_thread.run_sync(self._snapshot_sync, api)
        finally:
            api.close()

    def _snapshot_sync(self, api: KubeAPI) -> dict[str, Any]:
        store = ObjectStore(namespaces=self.options.namespaces)
        for kind, ns, selector in self._kinds(discover_endpoint_slice_kind(api)):
            try:
                doc = api.json("GET", kind.path(ns), {"labelSelector": selector})
            except (APIError, *TRANSPORT_ERRORS) as exc:
                raise RuntimeError(f"kubernetes: {explain(exc, 'list', kind, ns)}") from None
            store.replace(kind.kind, [{**o, "kind": kind.kind, "apiVersion": kind.api_version}
                                      for o in doc.get("items") or ()], ns)  # fmt: skip
        return translate(IngressView(store, self.options), self.options).configuration


def _same_load_balancer(ingress: Any, wanted: Any) -> bool:
    current = (status_of(ingress).get("loadBalancer") or {}).get("ingress")
    return load_balancer_equal(current, wanted["loadBalancer"]["ingress"])
