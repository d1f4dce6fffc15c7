"""The ``status`` edgeway writes on the objects it handles: ``metav1.Condition``s.

Its schema is the standard one of ``metav1.Condition`` (the shape ``kubectl`` and
tools such as ``kubectl wait --for=condition=Ready`` expect).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from edgeway_kubernetes_crd.resources.base import CRDModel, Int64, OpenAPI

__all__ = ["Condition", "Status"]

NonNegative64 = Annotated[Int64, Field(ge=0)]


class Condition(CRDModel):
    """One aspect of the object's state (edgeway writes `Ready`)."""

    type: Annotated[
        str,
        Field(
            max_length=316,
            pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
        ),
    ]
    """Condition type, in CamelCase (e.g. `Ready`)."""
    status: Literal["True", "False", "Unknown"]
    """Whether the condition holds."""
    observedGeneration: NonNegative64 | None = None
    """The object's `metadata.generation` the condition was computed for."""
    lastTransitionTime: Annotated[str, OpenAPI({"format": "date-time"})]
    """When `status` last changed."""
    reason: Annotated[
        str,
        Field(min_length=1, max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"),
    ]
    """Why, in one CamelCase word (e.g. `ServiceNotFound`)."""
    message: Annotated[str, Field(max_length=32768)]
    """Why, for humans."""


class Status(CRDModel):
    """What edgeway observed when it last read the object."""

    observedGeneration: NonNegative64 | None = None
    """The object's `metadata.generation` this status was computed for."""
    conditions: (
        Annotated[
            list[Condition],
            OpenAPI({"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]}),
        ]
        | None
    ) = None
    """The conditions, one per type."""
