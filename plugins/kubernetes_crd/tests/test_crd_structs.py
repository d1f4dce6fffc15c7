"""The Go structs derived from the resource models (``structs.go_struct``).

The conformance data checks the decoding through the translation; these tests
check the derivation itself (pointers, ``IntOrString``, free-form fields, value
structs) and that every kind's model can be derived.
"""

from __future__ import annotations

from typing import Any

import pytest
from edgeway_kubernetes_crd import KubernetesCRDOptions, structs, translate
from edgeway_kubernetes_crd.crds import KINDS
from edgeway_kubernetes_crd.gotypes import (
    ANY,
    BOOL,
    INT,
    INT_OR_STRING,
    STRING,
    Map,
    Ptr,
    Slice,
    Struct,
    decode,
    encode,
)
from edgeway_kubernetes_crd.resources import middlewares, tls


def field_type(struct: Struct, name: str) -> Any:
    found = struct.field(name)
    assert found is not None, name
    return found.type


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.kind)
def test_every_kind_derives(kind) -> None:
    struct = structs.go_struct(kind.spec)
    assert [f.json for f in struct.fields] == list(kind.spec.model_fields)


def test_read_elsewhere_names_real_fields() -> None:
    for model, name in structs._READ_ELSEWHERE:
        assert name in model.model_fields, (model.__name__, name)


def test_field_types() -> None:
    headers = structs.go_struct(middlewares.Headers)
    assert field_type(headers, "stsSeconds") == Ptr(INT)  # Pointer[NonNegative64]
    assert field_type(headers, "frameDeny") == BOOL
    assert field_type(headers, "customRequestHeaders") == Map(STRING)
    assert field_type(headers, "allowedHosts") == Slice(STRING)
    rate_limit = structs.go_struct(middlewares.RateLimit)
    assert field_type(rate_limit, "period") == Ptr(INT_OR_STRING)
    assert field_type(rate_limit, "sourceCriterion") == Ptr(structs.SOURCE_CRITERION)
    assert field_type(structs.MIDDLEWARE_SPEC, "plugin") == Map(ANY)
    # A Literal is a Go string; a model without Pointer is a value struct.
    option = structs.go_struct(tls.TLSOptionSpec)
    assert field_type(option, "clientAuth") == structs.go_struct(tls.ClientAuth)
    assert field_type(structs.go_struct(tls.ClientAuth), "clientAuthType") == STRING


def test_pointer_and_value_zero_and_omitempty() -> None:
    spec = decode(structs.TLS_OPTION_SPEC, {"preferServerCipherSuites": False})
    assert spec["clientAuth"] == {"secretNames": None, "clientAuthType": ""}  # value struct
    assert spec["preferServerCipherSuites"] is False
    # A set pointer is written even at its zero value; a value field at zero is left out.
    assert encode(structs.TLS_OPTIONS, {**spec, "clientAuth": {}}) == {
        "clientAuth": {},
        "preferServerCipherSuites": False,
    }


def test_go_type_refuses_what_it_cannot_describe() -> None:
    with pytest.raises(TypeError, match="no Go type"):
        structs.go_type(float)
    with pytest.raises(ValueError, match="has no fields"):
        structs._replace(structs.TLS_OPTION_SPEC, "Options", caFiles=Slice(STRING))


def test_ingress_route_tls_store_is_decoded() -> None:
    """``TLS.store`` (``*TLSStoreRef``) is decoded with the rest of the spec, as Go does."""
    ingress_route = {
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "IngressRoute",
        "metadata": {"name": "test", "namespace": "default"},
        "spec": {"routes": [{"match": "Host(`a`)"}], "tls": {"store": "default"}},
    }
    result = translate([ingress_route], KubernetesCRDOptions())
    assert [
        (p.reason, p.message) for p in result.problems[("IngressRoute", "default", "test")]
    ] == [
        (
            "InvalidSpec",
            "json: cannot unmarshal string into Go struct field"
            " IngressRouteSpec.tls.store of type TLSStoreRef",
        )
    ]
    assert result.configuration["http"]["routers"] == {}
