"""edgeway's Traefik CRD provider (``traefik.io/v1alpha1``), provider name ``kubernetescrd``.

The translation (:func:`~edgeway_kubernetes_crd.translate.translate`) works on
plain dicts, so the live provider, ``edgeway render --provider kubernetescrd``
and the conformance tests all run the same code.
"""

from edgeway_kubernetes_crd.options import KubernetesCRDOptions
from edgeway_kubernetes_crd.translate import Translation, translate
from edgeway_kubernetes_crd.view import CRD_GROUP, CRD_KINDS, CRDView

__all__ = ["CRD_GROUP", "CRD_KINDS", "CRDView", "KubernetesCRDOptions", "Translation", "translate"]
