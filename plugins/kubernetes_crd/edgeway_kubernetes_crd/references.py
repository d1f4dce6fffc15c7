"""Names and references between objects, as Traefik's CRD provider resolves them.

``makeID``, ``resolveReference``, ``isNamespaceAllowed``,
``isCrossProviderNamespaceAllowed``, ``namespaceOrParentNamespace``,
``shouldProcessIngress``/``getIngressClassName`` and the Secret/ConfigMap
reader ``getTLS`` of ``pkg/provider/kubernetes/crd``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from edgeway_kubernetes import SecretError, normalize, tls_certificate
from edgeway_kubernetes.objects import annotations_of, spec

from edgeway_kubernetes_crd.options import KubernetesCRDOptions
from edgeway_kubernetes_crd.view import CRDView

__all__ = [
    "INGRESS_CLASS_ANNOTATION",
    "PROVIDER_NAME",
    "InvalidSpec",
    "ReferenceError",
    "get_tls",
    "make_id",
    "namespace_allowed",
    "namespace_or_parent",
    "resolve_reference",
    "resolve_with_options",
    "should_process",
]

PROVIDER_NAME = "kubernetescrd"
INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
TRAEFIK_DEFAULT_INGRESS_CLASS = "traefik"

Obj = Mapping[str, Any]


class ReferenceError(ValueError):  # noqa: A001 - Traefik's wording: a reference that cannot be followed
    """A reference that is refused (cross namespace, cross provider) or points at nothing usable."""

    def __init__(self, message: str, reason: str = "InvalidReference") -> None:
        super().__init__(message)
        self.reason = reason


class InvalidSpec(ReferenceError):
    """A spec Traefik refuses: a field of the wrong JSON type (Go's decoding) or an invalid value."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "InvalidSpec")


def make_id(namespace: str, name: str) -> str:
    """``makeID``: ``namespace-name`` (just ``name`` without a namespace)."""
    return f"{namespace}-{name}" if namespace else name


def namespace_or_parent(namespace: str, parent: str) -> str:
    return namespace or parent


def namespace_allowed(allow_cross_namespace: bool, parent: str, namespace: str) -> bool:
    return allow_cross_namespace or parent == namespace


def cross_provider_allowed(allow_list: Sequence[str] | None, namespace: str) -> bool:
    """None: unrestricted; an empty list: nobody may reference other providers."""
    return allow_list is None or namespace in allow_list


def resolve_reference(
    parent_ns: str,
    ns: str,
    name: str,
    cross_provider_namespaces: Sequence[str] | None,
    allow_cross_namespace: bool,
) -> str:
    """``resolveReference``: the configuration name a reference from ``parent_ns`` points at.

    ``name@provider`` is kept as is (refused for ``@kubernetescrd`` without
    ``allowCrossNamespace``, and from namespaces outside
    ``crossProviderNamespaces``); otherwise ``normalize(ns-name)``.
    """
    if "@" in name:
        if not allow_cross_namespace and name.endswith("@" + PROVIDER_NAME):
            raise ReferenceError(
                "when allowCrossNamespace is disabled, @kubernetescrd references are disallowed",
                "CrossNamespaceForbidden",
            )
        if not cross_provider_allowed(cross_provider_namespaces, parent_ns):
            raise ReferenceError(
                f'namespace "{parent_ns}" is not in crossProviderNamespaces',
                "CrossProviderForbidden",
            )
        return name
    ns = namespace_or_parent(ns, parent_ns)
    if not namespace_allowed(allow_cross_namespace, parent_ns, ns):
        raise ReferenceError(
            "allowCrossNamespace is disabled, cross-namespace are disallowed",
            "CrossNamespaceForbidden",
        )
    return normalize(f"{ns}-{name}")


def resolve_with_options(
    options: KubernetesCRDOptions, parent_ns: str, ns: str, name: str, context: str
) -> str:
    """:func:`resolve_reference` under the provider's options; a refusal reads ``<context>: <error>``."""
    try:
        return resolve_reference(
            parent_ns, ns, name, options.crossProviderNamespaces, options.allowCrossNamespace
        )
    except ReferenceError as exc:
        raise ReferenceError(f"{context}: {exc}", exc.reason) from None


def ingress_class_name(obj: Obj) -> str:
    """``getIngressClassName``: ``spec.ingressClassName``, else the deprecated annotation."""
    value = spec(obj).get("ingressClassName")
    if value is not None:
        return str(value)
    return str(annotations_of(obj).get(INGRESS_CLASS_ANNOTATION) or "")


def should_process(provider_class: str, obj: Obj) -> bool:
    """``shouldProcessIngress``: the object's class is the provider's (``traefik`` when the provider has none)."""
    object_class = ingress_class_name(obj)
    return provider_class == object_class or (
        not provider_class and object_class == TRAEFIK_DEFAULT_INGRESS_CLASS
    )


def get_tls(view: CRDView, secret_name: str, namespace: str) -> dict[str, Any]:
    """``getTLS``: ``{"certFile", "keyFile"}`` (a ``CertAndStores``: its ``Certificate`` is embedded, so flat in JSON)."""
    secret = view.secret(namespace, secret_name)
    if secret is None:
        raise ReferenceError(f"secret {namespace}/{secret_name} does not exist", "SecretNotFound")
    try:
        return dict(tls_certificate(secret, namespace, secret_name))
    except SecretError as exc:
        raise ReferenceError(str(exc), "InvalidSecret") from None
