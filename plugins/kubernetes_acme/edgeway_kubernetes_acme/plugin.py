"""Registers the ``kubernetes://`` ACME storage (``register_acme_storages``).

The API server is reached with the connection options of
``providers.kubernetesCRD``, else ``providers.kubernetesIngress``, when one of
them is configured; otherwise in-cluster, then ``KUBECONFIG``
(:func:`edgeway_kubernetes.client.load_client_config`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edgeway import hookimpl
from edgeway.registry import AcmeStorageContext, AcmeStorageType
from edgeway_kubernetes.client import ClientConfig, KubeAPI, load_client_config

from edgeway_kubernetes_acme.storage import (
    SCHEME,
    KubernetesAcmeBackend,
    parse_storage_url,
    replica_identity,
)

__all__ = ["client_config", "create_backend", "register_acme_storages"]


def client_config(static: Any) -> ClientConfig:
    """The connection of the Kubernetes provider that is configured, else the environment's."""
    providers = getattr(static, "providers", None)
    for key in ("kubernetesCRD", "kubernetesIngress"):
        options = getattr(providers, key, None)
        if options is not None:
            return load_client_config(options.endpoint, options.token, options.certAuthFilePath)
    return load_client_config()


def create_backend(url: str, context: AcmeStorageContext) -> KubernetesAcmeBackend:
    location = parse_storage_url(url)
    api = KubeAPI(client_config(context.static))
    api.client.user_agent = "edgeway/kubernetes-acme"
    backend = KubernetesAcmeBackend(api, location, replica_identity(), context.changed)
    context.spawn(backend.run)
    return backend


@hookimpl
def register_acme_storages(register: Callable[[AcmeStorageType], None]) -> None:
    register(AcmeStorageType(scheme=SCHEME, factory=create_backend))
