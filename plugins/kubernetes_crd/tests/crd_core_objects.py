"""Small Kubernetes objects for the CRD provider's focused tests (middlewares, TLS, transports)."""

from __future__ import annotations

import base64
from typing import Any

from edgeway_kubernetes_crd import KubernetesCRDOptions, translate
from edgeway_kubernetes_crd.translate import Translation


def crd(kind: str, name: str, spec: Any = None, ns: str = "default") -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "traefik.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "namespace": ns},
    }
    if spec is not None:
        obj["spec"] = spec
    return obj


def secret(
    name: str, data: dict[str, str], ns: str = "default", secret_type: str | None = None
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }
    if secret_type:
        obj["type"] = secret_type
    return obj


def config_map(name: str, data: dict[str, str], ns: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns},
        "data": data,
    }


def run(*objects: dict[str, Any], **options: Any) -> Translation:
    return translate(list(objects), KubernetesCRDOptions(**options))


def problems(
    result: Translation, kind: str, name: str, ns: str = "default"
) -> list[tuple[str, str]]:
    """``(reason, message)`` of every problem recorded against one object."""
    return [(p.reason, p.message) for p in result.problems.get((kind, ns, name), [])]
