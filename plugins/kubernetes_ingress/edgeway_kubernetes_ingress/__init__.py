"""edgeway's Kubernetes Ingress provider (provider name ``kubernetes``).

:func:`translate` turns Ingresses and the objects they use into the provider's
dynamic configuration exactly as Traefik's Ingress provider does;
:func:`ingress_status` computes the status it writes back.
"""

from edgeway_kubernetes_ingress.options import IngressEndpoint, KubernetesIngressOptions
from edgeway_kubernetes_ingress.status import (
    StatusError,
    ingress_status,
    load_balancer_equal,
    node_internal_ip_status,
)
from edgeway_kubernetes_ingress.translate import Translation, should_process_ingress, translate
from edgeway_kubernetes_ingress.view import IngressView

__all__ = [
    "IngressEndpoint",
    "IngressView",
    "KubernetesIngressOptions",
    "StatusError",
    "Translation",
    "ingress_status",
    "load_balancer_equal",
    "node_internal_ip_status",
    "should_process_ingress",
    "translate",
]
