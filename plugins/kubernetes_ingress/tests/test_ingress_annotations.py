"""Annotations decoded as Traefik's label decoder (paerser) decodes them."""

from __future__ import annotations

import pytest
from edgeway_kubernetes_ingress.annotations import (
    convert_annotations,
    parse_router_config,
    parse_service_config,
)
from edgeway_kubernetes_ingress.labels import LabelError

P = "traefik.ingress.kubernetes.io/"


def test_only_prefixed_keys_are_converted_and_indexes_become_brackets() -> None:
    assert convert_annotations(
        {f"{P}router.tls.domains.0.main": "a", "ingress.kubernetes.io/foo": "x", "other": "y"}
    ) == {"traefik.router.tls.domains[0].main": "a"}


def test_no_router_annotation_gives_none() -> None:
    assert parse_router_config({}) is None
    assert parse_router_config({f"{P}service.nativelb": "true"}) is None
    assert parse_service_config({f"{P}router.priority": "1"}) is None


def test_router_fields_case_insensitive_with_defaults() -> None:
    rt = parse_router_config(
        {
            f"{P}router.EntryPoints": " web , websecure",
            f"{P}router.priority": "+7",
            f"{P}router.tls.domains.1.main": "b.com",
            f"{P}router.tls.domains.0.main": "a.com",
            f"{P}router.tls.domains.0.sans": "x.a.com, y.a.com",
            f"{P}router.observability.tracing": "F",
        }
    )
    assert rt == {
        "pathMatcher": "PathPrefix",
        "entryPoints": ["web", "websecure"],
        "priority": 7,
        "tls": {"domains": [{"main": "a.com", "sans": ["x.a.com", "y.a.com"]}, {"main": "b.com"}]},
        "observability": {"traceVerbosity": "minimal", "tracing": False},
    }


@pytest.mark.parametrize(("value", "tls"), [("true", {}), ("", {}), ("TRUE", {}), ("false", None), ("no", None)])
def test_allow_empty_struct(value: str, tls: dict | None) -> None:
    rt = parse_router_config({f"{P}router.tls": value})
    assert rt is not None and rt.get("tls") == tls


def test_service_fields_and_sticky_cookie_defaults() -> None:
    svc = parse_service_config(
        {
            f"{P}service.sticky.cookie": "true",
            f"{P}service.sticky.cookie.samesite": "lax",
            f"{P}service.sticky.cookie.maxage": "42",
            f"{P}service.passhostheader": "0",
            f"{P}service.middlewares": "a@file,b",
            f"{P}service.nodeportlb": "true",
        }
    )
    assert svc == {
        "passHostHeader": False,
        "sticky": {"cookie": {"path": "/", "sameSite": "lax", "maxAge": 42}},
        "middlewares": ["a@file", "b"],
        "nodePortLB": True,
    }


@pytest.mark.parametrize(
    ("annotations", "message"),
    [
        ({f"{P}router.unknown": "x"}, "field not found, node: unknown"),
        ({f"{P}router.priority": "high"}, 'strconv.ParseInt: parsing "high": invalid syntax'),
        ({f"{P}router.observability.metrics": "yes"}, 'strconv.ParseBool: parsing "yes": invalid syntax'),
        ({f"{P}router..tls": "x"}, "invalid element"),
        ({f"{P}router.priority.x": "1"}, "invalid node priority"),
    ],
)
def test_router_annotation_errors(annotations: dict[str, str], message: str) -> None:
    with pytest.raises(LabelError, match=message):
        parse_router_config(annotations)


def test_a_bare_list_of_structs_gives_no_items() -> None:
    rt = parse_router_config({f"{P}router.tls.domains": "x", f"{P}router.tls.certresolver": "le"})
    assert rt is not None and rt["tls"] == {"certResolver": "le"}
