"""The live CRD provider: watches the traefik.io kinds and what they use, emits their translation.

``Provide`` in Traefik's ``pkg/provider/kubernetes/crd/kubernetes.go`` and
``WatchAll`` in ``client.go``: the ten ``traefik.io/v1alpha1`` kinds (with the
label selector), Services, EndpointSlices, ConfigMaps and Secrets
(``owner!=helm``) in each watched namespace, and Nodes unless
``disableClusterScopeResources``. Watching, throttling and resilience are
:class:`~edgeway_kubernetes.provider.WatchingProvider`'s.

Beyond Traefik, the objects' ``status`` tells whether they are served
(:mod:`.status`): written after each rebuild from the translation's problems,
and again when the kernel has applied the configuration, with its runtime
errors (the plugin's ``configuration_applied`` hook hands the runtime over).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any

import anyio
from edgeway.pipeline.runtime import RuntimeConfiguration
from edgeway.registry import ProviderContext
from edgeway_kubernetes import ObjectStore
from edgeway_kubernetes.client import ClientConfig
from edgeway_kubernetes.provider import NOT_OWNED_BY_HELM, Watch, WatchingProvider
from edgeway_kubernetes.reflector import NODE, SECRET, SERVICE, ResourceKind
from edgeway_kubernetes.status import StatusWriter

from edgeway_kubernetes_crd.options import KubernetesCRDOptions
from edgeway_kubernetes_crd.references import PROVIDER_NAME
from edgeway_kubernetes_crd.status import object_statuses, same_status
from edgeway_kubernetes_crd.translate import Translation, translate
from edgeway_kubernetes_crd.view import CRD_GROUP, CRD_KINDS, CRDView

__all__ = ["CRD_RESOURCES", "KubernetesCRDProvider", "runtime_applied"]

CONFIG_MAP = ResourceKind("ConfigMap", "", "v1", "configmaps")
#: The traefik.io kinds as the API serves them.
CRD_RESOURCES = {
    kind: ResourceKind(kind, CRD_GROUP, "v1alpha1", kind.lower() + "s") for kind in CRD_KINDS
}

#: Running providers, for :func:`runtime_applied`.
_LIVE: weakref.WeakSet[KubernetesCRDProvider] = weakref.WeakSet()


class KubernetesCRDProvider(WatchingProvider):
    """A ``providers.kubernetesCRD`` instance."""

    name = PROVIDER_NAME
    options: KubernetesCRDOptions

    def __init__(
        self,
        options: KubernetesCRDOptions,
        context: ProviderContext | None = None,
        *,
        client_config: ClientConfig | None = None,
        backoff: tuple[float, float] = (0.8, 30.0),
        watch_timeout: float = 300.0,
    ) -> None:
        super().__init__(
            options, client_config=client_config, backoff=backoff, watch_timeout=watch_timeout
        )
        self.kernel = context.kernel if context is not None else None
        #: How long statuses wait for the kernel to apply a new configuration (its
        #: throttle plus a margin); without a kernel they are written at once.
        self.apply_wait = 0.0
        if self.kernel is not None:
            self.apply_wait = float(self.kernel.static.providers.providersThrottleDuration) + 1.0
        self.status_writers: dict[str, StatusWriter] = {}
        self.translation: Translation | None = None
        self.runtime: RuntimeConfiguration | None = None
        #: Status rounds done (each compares every object's status, writing what differs).
        self.status_rounds = 0
        self._statuses_due = anyio.Event()
        self._applied = anyio.Event()

    def watches(self, endpoint_slices: ResourceKind) -> Iterator[Watch]:
        namespaces: list[str | None] = list(self.options.namespaces) or [None]
        for ns in namespaces:
            for kind in CRD_RESOURCES.values():
                yield kind, ns, self.options.labelSelector
            yield SERVICE, ns, ""
            yield endpoint_slices, ns, ""
            yield CONFIG_MAP, ns, ""
            yield SECRET, ns, NOT_OWNED_BY_HELM
        if not self.options.disableClusterScopeResources:
            yield NODE, None, ""

    def translate(self, store: ObjectStore) -> Translation:
        return translate(CRDView(store, self.options))

    # -- status ------------------------------------------------------------------------

    async def emitted(self, translation: Translation) -> None:
        self.translation = translation
        self._applied = anyio.Event()
        self._statuses_due.set()

    def runtime_applied(self, runtime: RuntimeConfiguration) -> None:
        """The kernel applied a configuration: refresh the statuses with its errors."""
        self.runtime = runtime
        self._applied.set()
        self._statuses_due.set()

    async def background(self) -> None:
        _LIVE.add(self)
        try:
            while True:
                await self._statuses_due.wait()
                # A new translation's runtime errors come with the kernel's apply; an
                # unchanged configuration is not applied again, hence the time limit.
                with anyio.move_on_after(self.apply_wait):
                    await self._applied.wait()
                self._statuses_due = anyio.Event()
                await self.write_statuses()
        finally:
            _LIVE.discard(self)

    async def write_statuses(self) -> int:
        """Write the statuses that differ from the objects' (as last seen); returns how many."""
        if self.translation is None or self.api is None:
            return 0
        written = 0
        for key, status in object_statuses(self.translation, self.runtime).items():
            current = self.store.get(*key)  # the latest version seen, not the one translated
            if current is None:
                continue
            writer = self.status_writers.get(key[0])
            if writer is None:
                writer = self.status_writers[key[0]] = StatusWriter(
                    self.api, CRD_RESOURCES[key[0]], self.limiter
                )
            written += await writer.write(current, status, same_status)
        self.status_rounds += 1
        return written


def runtime_applied(kernel: Any, runtime: RuntimeConfiguration) -> None:
    """Hand a kernel's new runtime to the CRD providers it runs."""
    for provider in list(_LIVE):
        if provider.kernel is kernel:
            provider.runtime_applied(runtime)
