"""``status.conditions`` for the objects the CRD provider serves (beyond Traefik, its issue #6108).

Each IngressRoute, IngressRouteTCP, IngressRouteUDP, Middleware and
TraefikService the provider handles gets one ``Ready`` condition (the
``metav1.Condition`` shape) and ``observedGeneration``:

* ``False`` when the translation skipped part of it (a missing Service, a
  refused cross-namespace reference, a bad Secret: :attr:`Translation.problems`)
  or when the kernel disabled a router, service or middleware it produced (an
  unknown middleware, an invalid rule: the runtime's errors, found through
  :attr:`Translation.owners`); the reason is the first problem's, the message
  lists them all;
* ``True`` (reason ``Serving``, message ``served``) otherwise; runtime warnings, such as an unknown
  entry point next to a known one, are in the message.

``lastTransitionTime`` changes only when ``status`` flips, and a status equal to
the object's current one is not written (:func:`same_status`), so steady state
costs no writes.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from edgeway.pipeline.runtime import DISABLED, RuntimeConfiguration
from edgeway_kubernetes.objects import meta
from edgeway_kubernetes.objects import status as status_of

from edgeway_kubernetes_crd.builder import ObjectKey, Problem
from edgeway_kubernetes_crd.references import PROVIDER_NAME
from edgeway_kubernetes_crd.translate import Translation

__all__ = ["STATUS_KINDS", "object_statuses", "same_status"]

#: The kinds whose CRDs have a status subresource.
STATUS_KINDS = frozenset(
    {"IngressRoute", "IngressRouteTCP", "IngressRouteUDP", "Middleware", "TraefikService"}
)

Obj = Mapping[str, Any]

_RUNTIME_TABLES = {
    "http.routers": "routers",
    "http.services": "services",
    "http.middlewares": "middlewares",
    "tcp.routers": "tcp_routers",
    "tcp.services": "tcp_services",
    "tcp.middlewares": "tcp_middlewares",
    "udp.routers": "udp_routers",
    "udp.services": "udp_services",
}


def _runtime_reason(table: str, message: str) -> str:
    lowered = message.lower()
    if "does not exist" in lowered or "not found" in lowered:
        for what, reason in (("middleware", "MiddlewareNotFound"), ("service", "ServiceNotFound")):
            if what in lowered:
                return reason
    if "rule" in lowered:
        return "InvalidRule"
    if "entrypoint" in lowered:
        return "EntryPointNotFound"
    return {"routers": "RouterError", "services": "ServiceError", "middlewares": "MiddlewareError"}[
        table.split(".")[1]
    ]


def _runtime_problems(
    translation: Translation, runtime: RuntimeConfiguration | None
) -> dict[ObjectKey, list[tuple[Problem, bool]]]:
    """``(problem, critical)`` for each owner of an object the kernel reported errors on."""
    out: dict[ObjectKey, list[tuple[Problem, bool]]] = {}
    if runtime is None:
        return out
    for table, owners in translation.owners.items():
        infos = getattr(runtime, _RUNTIME_TABLES[table])
        for entry, owner in owners.items():
            info = infos.get(f"{entry}@{PROVIDER_NAME}")
            if info is None or not info.errors:
                continue
            kind = table.split(".")[1][:-1]
            for error in info.errors:
                problem = Problem(_runtime_reason(table, error), f"{kind} {entry}: {error}")
                out.setdefault(owner, []).append((problem, info.status == DISABLED))
    return out


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ready_condition(problems: list[tuple[Problem, bool]], generation: int) -> dict[str, Any]:
    critical = [p for p, is_critical in problems if is_critical]
    if critical:
        status, reason = "False", critical[0].reason
    else:
        status, reason = "True", "Serving"
    return {
        "type": "Ready",
        "status": status,
        "reason": reason,
        # Never empty: some API servers (v1.20 built with Go 1.19) refuse "" in custom objects.
        "message": "; ".join(p.message for p, _ in problems) or "served",
        "observedGeneration": generation,
    }


def object_statuses(
    translation: Translation, runtime: RuntimeConfiguration | None
) -> dict[ObjectKey, dict[str, Any]]:
    """The ``status`` each handled object of :data:`STATUS_KINDS` should have."""
    runtime_problems = _runtime_problems(translation, runtime)
    out: dict[ObjectKey, dict[str, Any]] = {}
    for key, obj in translation.processed.items():
        if key[0] not in STATUS_KINDS:
            continue
        generation = int(meta(obj).get("generation") or 0)
        problems = [(p, True) for p in translation.problems.get(key, ())]
        problems += runtime_problems.get(key, [])
        condition = _ready_condition(problems, generation)
        previous = _ready(obj)
        same_flip = previous is not None and previous.get("status") == condition["status"]
        condition["lastTransitionTime"] = (
            str(previous.get("lastTransitionTime")) if same_flip and previous else _now()
        )
        out[key] = {"observedGeneration": generation, "conditions": [condition]}
    return out


def _ready(obj: Obj) -> Mapping[str, Any] | None:
    for condition in status_of(obj).get("conditions") or ():
        if isinstance(condition, Mapping) and condition.get("type") == "Ready":
            return condition
    return None


_COMPARED = ("status", "reason", "message", "observedGeneration")


def same_status(obj: Obj, wanted: Mapping[str, Any]) -> bool:
    """Whether ``obj`` already has ``wanted`` (``lastTransitionTime`` aside)."""
    current = _ready(obj)
    condition = wanted["conditions"][0]
    return (
        current is not None
        and status_of(obj).get("observedGeneration") == wanted["observedGeneration"]
        and all(current.get(k) == condition[k] for k in _COMPARED)
    )
