"""Pydantic models of the ``spec`` (and ``status``) of the ``traefik.io/v1alpha1`` kinds.

They mirror Traefik's Go types (``pkg/provider/kubernetes/crd/traefikio/v1alpha1``):
json names, Go pointers, required fields, enums, int-or-string and free-form fields.
``crds.py`` turns them into the CustomResourceDefinitions, ``structs.py`` into the Go
structs the provider decodes the objects with.
"""

from edgeway_kubernetes_crd.resources.middlewares import MiddlewareSpec, MiddlewareTCPSpec
from edgeway_kubernetes_crd.resources.routes import (
    IngressRouteSpec,
    IngressRouteTCPSpec,
    IngressRouteUDPSpec,
)
from edgeway_kubernetes_crd.resources.services import TraefikServiceSpec
from edgeway_kubernetes_crd.resources.status import Condition, Status
from edgeway_kubernetes_crd.resources.tls import TLSOptionSpec, TLSStoreSpec
from edgeway_kubernetes_crd.resources.transports import (
    ServersTransportSpec,
    ServersTransportTCPSpec,
)

__all__ = [
    "Condition",
    "IngressRouteSpec",
    "IngressRouteTCPSpec",
    "IngressRouteUDPSpec",
    "MiddlewareSpec",
    "MiddlewareTCPSpec",
    "ServersTransportSpec",
    "ServersTransportTCPSpec",
    "Status",
    "TLSOptionSpec",
    "TLSStoreSpec",
    "TraefikServiceSpec",
]
