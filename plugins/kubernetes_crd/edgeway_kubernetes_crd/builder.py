"""The state one translation shares: the view, the options, the configuration being built, problems.

``loadConfigurationFromCRD`` in Traefik threads a ``Client``, the provider's
options and a ``tlsConfigs`` map through every ``load*``/``build*`` function;
here they travel together in a :class:`Builder`. What Traefik logs at error
level (and skips) is recorded with :meth:`Builder.fail` against the object it
concerns, so the live provider can put it in that object's ``status``; and
each router, service and middleware remembers the object being processed when
it was written (:attr:`Builder.owners`), so the kernel's runtime errors about
it reach that object's ``status`` too.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from edgeway_kubernetes.objects import kind, name, namespace

from edgeway_kubernetes_crd.options import KubernetesCRDOptions
from edgeway_kubernetes_crd.view import CRDView

__all__ = ["OWNED_TABLES", "Builder", "ObjectKey", "Problem", "object_key"]

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


#: The configuration tables whose entries have owners (``protocol.table``), as the runtime has them.
OWNED_TABLES = (
    "http.routers", "http.services", "http.middlewares",
    "tcp.routers", "tcp.services", "tcp.middlewares",
    "udp.routers", "udp.services",
)  # fmt: skip


class _OwnedTable(dict[str, Any]):
    """A configuration table noting, for each new entry, the object being processed."""

    def __init__(self, owners: dict[str, ObjectKey], current: list[ObjectKey | None]) -> None:
        super().__init__()
        self._owners = owners
        self._current = current

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in self and self._current[0] is not None:
            self._owners[key] = self._current[0]
        super().__setitem__(key, value)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value


@dataclass
class Builder:
    view: CRDView
    options: KubernetesCRDOptions
    #: The dynamic configuration in Traefik's JSON encoding (unqualified names, omitempty).
    conf: dict[str, Any] = field(init=False)
    #: ``tlsConfigs``: certificates by ``namespace/secretName`` (Traefik sorts them by it) (routes' ``tls.secretName``, TLSStores).
    tls_configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: What Traefik logs as errors, in order.
    errors: list[str] = field(default_factory=list)
    #: Problems per object (for its ``status.conditions``).
    problems: dict[ObjectKey, list[Problem]] = field(default_factory=dict)
    #: Objects the provider handles (selected by class and label), whether or not they had problems.
    processed: dict[ObjectKey, Obj] = field(default_factory=dict)
    #: ``{"http.routers": {name: owner}, ...}``: which object wrote each entry.
    owners: dict[str, dict[str, ObjectKey]] = field(default_factory=dict)
    _current: list[ObjectKey | None] = field(default_factory=lambda: [None])

    def __post_init__(self) -> None:
        self.conf = {
            "http": {"serversTransports": {}},
            "tcp": {"serversTransports": {}},
            "udp": {},
            "tls": {},
        }
        for table in OWNED_TABLES:
            protocol, name_ = table.split(".")
            self.conf[protocol][name_] = _OwnedTable(
                self.owners.setdefault(table, {}), self._current
            )

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
        """Mark ``obj`` as handled by this provider (its status is ours to write).

        Entries written to the configuration from now on, until the next call,
        are ``obj``'s (see :attr:`owners`).
        """
        key = object_key(obj)
        self.processed[key] = obj
        self._current[0] = key

    def fail(self, obj: Obj, reason: str, message: str) -> None:
        """Record what Traefik logs at error level about ``obj`` (which it then skips, fully or partly)."""
        key = object_key(obj)
        text = f"{key[0]} {key[1]}/{key[2]}: {message}"
        self.errors.append(text)
        problems = self.problems.setdefault(key, [])
        if Problem(reason, message) not in problems:
            problems.append(Problem(reason, message))
