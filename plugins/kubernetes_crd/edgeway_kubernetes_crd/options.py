"""``providers.kubernetesCRD`` options: Traefik's names and defaults.

``Provider`` in ``pkg/provider/kubernetes/crd/kubernetes.go``; an invalid label
selector is refused at start-up as ``newK8sClient`` does.
"""

from __future__ import annotations

from edgeway.config.durations import Duration
from edgeway_kubernetes import check_label_selector
from pydantic import BaseModel, ConfigDict, field_validator

__all__ = ["KubernetesCRDOptions"]


class KubernetesCRDOptions(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, coerce_numbers_to_str=True
    )

    endpoint: str = ""
    token: str = ""
    certAuthFilePath: str = ""
    namespaces: list[str] = []
    allowCrossNamespace: bool = False
    allowExternalNameServices: bool = False
    #: None: every namespace may reference other providers; []: none may.
    crossProviderNamespaces: list[str] | None = None
    labelSelector: str = ""
    ingressClass: str = ""
    throttleDuration: Duration = 0.0
    allowEmptyServices: bool = False
    nativeLBByDefault: bool = False
    disableClusterScopeResources: bool = False

    @field_validator("labelSelector")
    @classmethod
    def _selector(cls, value: str) -> str:
        return check_label_selector(value)
