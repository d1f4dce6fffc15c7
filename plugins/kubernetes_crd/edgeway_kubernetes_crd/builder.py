"""The state one translation shares: the view, the options, the configuration being built, problems.

``loadConfigurationFromCRD`` in Traefik threads a ``Client``, the provider's
options and a ``tlsConfigs`` map through every ``load*``/``build*`` function;
here they travel together in a :class:`Builder`. What Traefik logs at error
level (and skips) is recorded with :meth:`Builder.fail` against the object it
concerns, so the live provider can put it in that object's ``status``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from edgeway_kubernetes.objects import kind, name, namespace

from edgeway_kubernetes_crd.options import KubernetesCRDOptions
from edgeway_kubernetes_crd.view import CRDView

__all__ = ["Builder", "ObjectKey", "Problem", "object_key"]

log = logging.getLogger("edgeway.provider.kubernetescrd")

Obj = Mapping[str, Any]
#: ``(kind, namespace, name)`` of a Kubernetes object.
ObjectKey = tuple[str, str, str]


def object_key(obj: Obj) -> ObjectKey:
    return (kind(obj), namespace(obj), name(obj))


@dataclass(frozen=True)
class Problem:
    """Why (part of) an object is not served: a CamelCase ``reason`` and a message for people."""

    reason: str
    message: str


def _empty_configuration() -> dict[str, Any]:
    return {
        "http": {"routers": {}, "middlewares": {}, "services": {}, "serversTransports": {}},
        "tcp": {"routers": {}, "middlewares": {}, "services": {}, "serversTransports": {}},
        "udp": {"routers": {}, "services": {}},
        "tls": {},
    }


@dataclass
class Builder:
    view: CRDView
    options: KubernetesCRDOptions
    #: The dynamic configuration in Traefik's JSON encoding (unqualified names, omitempty).
    conf: dict[str, Any] = field(default_factory=_empty_configuration)
    #: ``tlsConfigs``: certificates by ``namespace-secretName`` (routes' ``tls.secretName``, TLSStores).
    tls_configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: What Traefik logs as errors, in order.
    errors: list[str] = field(default_factory=list)
    #: Problems per object (for its ``status.conditions``).
    problems: dict[ObjectKey, list[Problem]] = field(default_factory=dict)
    #: Objects the provider handles (selected by class and label), whether or not they had problems.
    processed: dict[ObjectKey, Obj] = field(default_factory=dict)

    @property
    def http(self) -> dict[str, Any]:
        return self.conf["http"]

    @property
    def tcp(self) -> dict[str, Any]:
        return self.conf["tcp"]

    @property
    def udp(self) -> dict[str, Any]:
        return self.conf["udp"]

    def process(self, obj: Obj) -> None:
        """Mark ``obj`` as handled by this provider (its status is ours to write)."""
        self.processed[object_key(obj)] = obj

    def fail(self, obj: Obj, reason: str, message: str) -> None:
        """Record what Traefik logs at error level about ``obj`` (which it then skips, fully or partly)."""
        key = object_key(obj)
        text = f"{key[0]} {key[1]}/{key[2]}: {message}"
        self.errors.append(text)
        problems = self.problems.setdefault(key, [])
        if Problem(reason, message) not in problems:
            problems.append(Problem(reason, message))
