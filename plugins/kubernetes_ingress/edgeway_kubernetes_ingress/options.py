"""``providers.kubernetesIngress`` options: Traefik's names, defaults and start-up checks.

``Provider`` in ``pkg/provider/kubernetes/ingress/kubernetes.go``; ``Init`` refuses
``reportNodeInternalIPs`` with ``ingressEndpoint`` or with
``disableClusterScopeResources``, and ``newK8sClient`` an invalid label selector.
"""

from __future__ import annotations

from edgeway.config.durations import Duration
from edgeway_kubernetes import check_label_selector
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

__all__ = ["IngressEndpoint", "KubernetesIngressOptions"]


class _Options(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, coerce_numbers_to_str=True
    )


class IngressEndpoint(_Options):
    """What the provider writes into the ``status.loadBalancer`` of the Ingresses it serves."""

    ip: str = ""
    hostname: str = ""
    #: ``namespace/name`` of the Service whose address is copied.
    publishedService: str = ""


class KubernetesIngressOptions(_Options):
    endpoint: str = ""
    token: str = ""
    certAuthFilePath: str = ""
    namespaces: list[str] = []
    labelSelector: str = ""
    ingressClass: str = ""
    ingressEndpoint: IngressEndpoint | None = None
    reportNodeInternalIPs: bool = False
    throttleDuration: Duration = 0.0
    allowEmptyServices: bool = False
    allowExternalNameServices: bool = False
    #: None: every namespace may reference other providers; []: none may.
    crossProviderNamespaces: list[str] | None = None
    disableIngressClassLookup: bool = False
    disableClusterScopeResources: bool = False
    nativeLBByDefault: bool = False
    strictPrefixMatching: bool = False

    @field_validator("labelSelector")
    @classmethod
    def _selector(cls, value: str) -> str:
        return check_label_selector(value, "ingress label selector")

    @model_validator(mode="after")
    def _exclusive(self) -> KubernetesIngressOptions:
        if self.reportNodeInternalIPs and self.ingressEndpoint is not None:
            raise ValueError("reportNodeInternalIPs and ingressEndpoint are mutually exclusive")
        if self.reportNodeInternalIPs and self.disableClusterScopeResources:
            raise ValueError(
                "reportNodeInternalIPs and disableClusterScopeResources are mutually exclusive"
            )
        return self

    @property
    def ingress_class_lookup(self) -> bool:
        """Whether IngressClasses are read (both switches turn it off)."""
        return not (self.disableIngressClassLookup or self.disableClusterScopeResources)
