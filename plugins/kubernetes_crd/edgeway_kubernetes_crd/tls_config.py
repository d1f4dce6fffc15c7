"""PLACEHOLDER: replaced by the helper who owns this module."""

from typing import Any

from edgeway_kubernetes_crd.builder import Builder


def build_tls_stores(b: Builder) -> dict[str, Any]:
    return {}


def build_tls_options(b: Builder) -> dict[str, Any]:
    return {}
