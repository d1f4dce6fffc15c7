"""The ``traefik.io/v1alpha1`` CustomResourceDefinitions, generated from the resource models.

Same group, version, kinds, names and scope as Traefik's CRDs, so they replace them
in place. Each ``spec`` schema comes from a model of ``resources/``, made structural
(``$ref``s inlined, ``Optional`` folded into the plain type, pydantic's titles and
``null`` defaults dropped). The kinds whose status edgeway reports get the ``status``
subresource, with ``metav1.Condition``s, and Ready/Reason columns in ``kubectl get``.

``edgeway crds`` prints :func:`render_yaml`; ``deploy/kubernetes/crds.yaml`` is its output.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import yaml
from pydantic import BaseModel

from edgeway_kubernetes_crd.resources import (
    IngressRouteSpec,
    IngressRouteTCPSpec,
    IngressRouteUDPSpec,
    MiddlewareSpec,
    MiddlewareTCPSpec,
    ServersTransportSpec,
    ServersTransportTCPSpec,
    Status,
    TLSOptionSpec,
    TLSStoreSpec,
    TraefikServiceSpec,
)

__all__ = [
    "GROUP",
    "KINDS",
    "VERSION",
    "CRDKind",
    "custom_resource_definition",
    "custom_resource_definitions",
    "render_yaml",
    "structural_schema",
]

GROUP = "traefik.io"
VERSION = "v1alpha1"


@dataclass(frozen=True)
class CRDKind:
    """One kind: its spec model, and whether edgeway writes its status."""

    kind: str
    spec: type[BaseModel]
    description: str
    #: The ``status`` subresource, and the Ready/Reason printer columns.
    status: bool = False
    #: A Match printer column: the rule of the first route.
    match_column: bool = False

    @property
    def plural(self) -> str:
        return f"{self.kind.lower()}s"


KINDS: tuple[CRDKind, ...] = (
    CRDKind("IngressRoute", IngressRouteSpec, "HTTP routers.", status=True, match_column=True),
    CRDKind("IngressRouteTCP", IngressRouteTCPSpec, "TCP routers.", status=True, match_column=True),
    CRDKind("IngressRouteUDP", IngressRouteUDPSpec, "UDP routers.", status=True),
    CRDKind("Middleware", MiddlewareSpec, "An HTTP middleware.", status=True),
    CRDKind("MiddlewareTCP", MiddlewareTCPSpec, "A TCP middleware."),
    CRDKind("ServersTransport", ServersTransportSpec, "How HTTP servers are reached."),
    CRDKind("ServersTransportTCP", ServersTransportTCPSpec, "How TCP servers are reached."),
    CRDKind("TLSOption", TLSOptionSpec, "Parameters of TLS connections."),
    CRDKind("TLSStore", TLSStoreSpec, "A TLS certificate store."),
    CRDKind(
        "TraefikService", TraefikServiceSpec, "A service built from other services.", status=True
    ),
)

_READY = '.status.conditions[?(@.type=="Ready")]'
_COLUMNS = {
    "ready": {"name": "Ready", "type": "string", "jsonPath": f"{_READY}.status",
              "description": "Whether edgeway serves the object as written."},
    "reason": {"name": "Reason", "type": "string", "jsonPath": f"{_READY}.reason",
               "description": "Why it is not ready."},
    "match": {"name": "Match", "type": "string", "jsonPath": ".spec.routes[0].match",
              "description": "The rule of the first route."},
    "age": {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
}  # fmt: skip

#: pydantic keywords with no place in a CRD schema (``$defs`` are inlined).
_DROPPED = {"title", "$defs"}
#: Keywords a structural schema must not contain once references are resolved.
_FORBIDDEN = {"$ref", "allOf", "oneOf", "not"}


def structural_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s OpenAPI v3 schema in the structural form the API server requires."""
    schema = model.model_json_schema(by_alias=True, mode="validation")
    return _structural(schema, schema.get("$defs", {}), ())


def _structural(
    node: dict[str, Any], defs: dict[str, Any], seen: tuple[str, ...]
) -> dict[str, Any]:
    """One schema node, references inlined: a node's own keywords (e.g. a field's
    description) win over those of the type it refers to."""
    node = dict(node)
    ref = node.pop("$ref", None)
    if ref is not None:
        name = ref.rsplit("/", 1)[-1]
        if name in seen:
            raise ValueError(f"recursive type {name}: a CRD schema cannot express it")
        return {**_structural(defs[name], defs, (*seen, name)), **_structural(node, defs, seen)}
    branches = node.get("anyOf")
    if branches is not None and {"type": "null"} in branches:
        rest = [b for b in branches if b != {"type": "null"}]
        del node["anyOf"]
        if len(rest) != 1:
            raise ValueError(f"cannot fold a nullable union of {len(rest)} types: {branches}")
        return {**_structural(rest[0], defs, seen), **_structural(node, defs, seen)}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED or (key == "default" and value is None):
            continue
        if key in _FORBIDDEN:
            raise ValueError(f"{key} in a structural schema")
        if key == "properties":
            value = {name: _structural(prop, defs, seen) for name, prop in value.items()}
        elif key in ("items", "additionalProperties"):
            if not isinstance(value, dict):
                raise ValueError(f"{key}: {value!r} (a free-form value must be marked JSON)")
            value = _structural(value, defs, seen)
        elif key == "anyOf":
            value = [_structural(branch, defs, seen) for branch in value]
        elif key == "required":
            value = sorted(value)
        elif key == "const":  # a one-value Literal
            key, value = "enum", [value]
        elif key in ("minimum", "maximum"):
            value = _as_stored(value)
        out[key] = value
    return out


def _as_stored(bound: int) -> int:
    """A bound as the API server stores it: a float64, printed with the fewest digits
    (``kubectl apply`` then sees no change). 9223372036854774807 is 9223372036854775000."""
    return int(Decimal(repr(float(bound))))


def custom_resource_definition(kind: CRDKind) -> dict[str, Any]:
    """The ``apiextensions.k8s.io/v1`` CustomResourceDefinition of ``kind``."""
    properties: dict[str, Any] = {
        "apiVersion": {"type": "string", "description": "The API version of the object."},
        "kind": {"type": "string", "description": "The kind of the object."},
        "metadata": {"type": "object"},
        "spec": structural_schema(kind.spec),
    }
    version: dict[str, Any] = {"name": VERSION, "served": True, "storage": True}
    if kind.status:
        properties["status"] = structural_schema(Status)
        version["subresources"] = {"status": {}}
        names = ["match"] * kind.match_column + ["ready", "reason", "age"]
        version["additionalPrinterColumns"] = [_COLUMNS[n] for n in names]
    version["schema"] = {
        "openAPIV3Schema": {
            "description": kind.description,
            "type": "object",
            "properties": properties,
            "required": ["metadata", "spec"],
        }
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.kind.lower(),
            },
            "scope": "Namespaced",
            "versions": [version],
        },
    }


def custom_resource_definitions() -> list[dict[str, Any]]:
    """The ten CustomResourceDefinitions, in Traefik's order."""
    return [custom_resource_definition(kind) for kind in KINDS]


HEADER = (
    "# The traefik.io/v1alpha1 CustomResourceDefinitions of edgeway's CRD provider\n"
    "# (drop-in replacements for Traefik's). Generated by `edgeway crds`: do not edit.\n"
)


def render_yaml() -> str:
    """The CRDs as one multi-document YAML stream (what ``edgeway crds`` prints)."""
    docs = [
        yaml.safe_dump(crd, sort_keys=True, allow_unicode=True, width=1 << 16)
        for crd in custom_resource_definitions()
    ]
    return HEADER + "---\n" + "---\n".join(docs)
