"""Pieces shared by edgeway's Kubernetes providers.

Everything here works on plain ``dict`` objects, the shape the official
client's ``to_dict()``/JSON and YAML manifests give, so the same translation
runs on a live cluster's caches, on manifests (``edgeway render``) and on the
conformance data.
"""

from edgeway_kubernetes.manifests import ManifestError, load_manifests, parse_manifests
from edgeway_kubernetes.naming import go_quote, join_host_port, normalize, short_hash
from edgeway_kubernetes.objects import annotations_of, labels, name, namespace
from edgeway_kubernetes.secrets import SecretError, tls_certificate
from edgeway_kubernetes.selectors import LabelSelector, check_label_selector, parse_label_selector
from edgeway_kubernetes.servers import (
    ServiceError,
    endpoint_slice_servers,
    external_name_server,
    native_lb_server,
    node_port_servers,
    server_scheme,
    service_port,
)
from edgeway_kubernetes.store import CLUSTER_SCOPED_KINDS, ObjectStore

__all__ = [
    "CLUSTER_SCOPED_KINDS",
    "LabelSelector",
    "ManifestError",
    "ObjectStore",
    "SecretError",
    "ServiceError",
    "annotations_of",
    "check_label_selector",
    "endpoint_slice_servers",
    "external_name_server",
    "go_quote",
    "join_host_port",
    "labels",
    "load_manifests",
    "name",
    "namespace",
    "native_lb_server",
    "node_port_servers",
    "normalize",
    "parse_label_selector",
    "parse_manifests",
    "server_scheme",
    "service_port",
    "short_hash",
    "tls_certificate",
]
