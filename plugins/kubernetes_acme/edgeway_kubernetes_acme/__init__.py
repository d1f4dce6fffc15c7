"""ACME storage on Kubernetes: ``certificatesResolvers.<name>.acme.storage: kubernetes://<namespace>``.

Several edgeway replicas share one ACME account per resolver, the
certificates and the pending challenges through Secrets in a namespace, and
order each certificate once under a ``coordination.k8s.io/v1`` Lease (see
``docs/acme-ha.md``).
"""

from edgeway_kubernetes_acme.storage import KubernetesAcmeBackend, StorageURL, parse_storage_url

__all__ = ["KubernetesAcmeBackend", "StorageURL", "parse_storage_url"]
