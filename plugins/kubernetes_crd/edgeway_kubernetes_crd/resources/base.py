"""Building blocks of the resource models: the base class and Kubernetes' special types.

Every model mirrors a Go struct of Traefik's ``traefikio/v1alpha1`` package (or a
``pkg/config/dynamic`` struct it embeds). Attribute names are the json tags; a field
without ``omitempty`` has no default (it is ``required`` in the CRD schema); the others
default to ``None`` (absent, Go's zero value). Class and attribute docstrings become the
schema's ``description``s. A Go pointer field (``*T``) is written :data:`Pointer` ``[T]``:
the CRD schema does not show it, but decoding and writing the spec as Go does
(:mod:`~edgeway_kubernetes_crd.structs`) depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

__all__ = [
    "JSON",
    "CRDModel",
    "Duration",
    "GoPointer",
    "Int64",
    "IntOrString",
    "OpenAPI",
    "Pointer",
]


class CRDModel(BaseModel):
    """Base of the resource models: json names, docstrings as descriptions.

    Unknown fields are ignored, as the API server prunes them from a structural schema.
    """

    model_config = ConfigDict(extra="ignore", use_attribute_docstrings=True)


@dataclass(frozen=True)
class OpenAPI:
    """``Annotated`` marker: OpenAPI keywords added to a type's schema (or replacing it)."""

    keywords: dict[str, Any] = field(default_factory=dict)
    replace: bool = False

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = {} if self.replace else handler(core_schema)
        return {**schema, **self.keywords}

    def __hash__(self) -> int:
        return hash(repr(self.keywords)) ^ self.replace


@dataclass(frozen=True)
class GoPointer:
    """``Annotated`` marker: the Go field is a pointer, nil when unset and written (not
    omitted) when set, even to a zero value."""


T = TypeVar("T")

#: A Go pointer field: ``Pointer[bool]`` is ``*bool``, ``Pointer[Headers]`` is ``*Headers``.
Pointer = Annotated[T, GoPointer()]

#: Go ``int64``.
Int64 = Annotated[int, OpenAPI({"format": "int64"})]

#: ``intstr.IntOrString``: a number or a string (a port number or name, a duration...).
IntOrString = Annotated[
    int | str,
    OpenAPI(
        {"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": True},
        replace=True,
    ),
]

#: An ``IntOrString`` that holds a duration: seconds, or Go's ``time.ParseDuration`` units.
Duration = Annotated[IntOrString, OpenAPI({"pattern": "^([0-9]+(ns|us|µs|ms|s|m|h)?)+$"})]

#: ``apiextensionsv1.JSON``: any JSON value, kept as it is.
JSON = Annotated[Any, OpenAPI({"x-kubernetes-preserve-unknown-fields": True}, replace=True)]
