"""edgeway's traefik.io CustomResourceDefinitions against Traefik's own.

``data/traefik-crds.yml`` is Traefik's CRD file (vendored, see its header). Ours must
be drop-in replacements: the same names, and schemas that accept every object
Traefik's accept (every property Traefik knows, with the same type, enum values,
int-or-string and free-form markers; nothing required that Traefik does not require;
no tighter bounds or patterns). ``deploy/kubernetes/crds.yaml`` must be the current
output of ``edgeway crds``.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from edgeway_kubernetes.conformance import conformance_dir, missing_reason
from edgeway_kubernetes_crd.crds import (
    GROUP,
    KINDS,
    VERSION,
    custom_resource_definitions,
    render_yaml,
)

REPO = Path(__file__).resolve().parents[3]
DEPLOYED = REPO / "deploy" / "kubernetes" / "crds.yaml"
REGENERATE = ".venv/bin/edgeway crds > deploy/kubernetes/crds.yaml"
TRAEFIK = {
    d["spec"]["names"]["kind"]: d
    for d in yaml.safe_load_all((Path(__file__).parent / "data" / "traefik-crds.yml").read_text())
    if d
}
OURS = {d["spec"]["names"]["kind"]: d for d in custom_resource_definitions()}
KIND_NAMES = [k.kind for k in KINDS]
WITH_STATUS = {"IngressRoute", "IngressRouteTCP", "IngressRouteUDP", "Middleware", "TraefikService"}
#: Properties of a schema node that are themselves schemas, and how a path names them.
CHILDREN = {"properties": ".{}", "items": "[]", "additionalProperties": "{{}}"}


def schema(crd: dict[str, Any]) -> dict[str, Any]:
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def nodes(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node below ``node`` (included), with its path (``.spec.routes[].match``)."""
    yield path, node
    for name, child in (node.get("properties") or {}).items():
        yield from nodes(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from nodes(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from nodes(node["additionalProperties"], f"{path}{{}}")


def test_deployed_crds_are_the_generated_ones() -> None:
    assert DEPLOYED.read_text() == render_yaml(), f"stale {DEPLOYED}; regenerate: {REGENERATE}"


def test_edgeway_crds_prints_them() -> None:
    edgeway = Path(sys.executable).parent / "edgeway"
    out = subprocess.run([str(edgeway), "crds"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == render_yaml()
    assert [d for d in yaml.safe_load_all(out.stdout) if d] == custom_resource_definitions()


def test_the_same_kinds_as_traefik() -> None:
    assert sorted(OURS) == sorted(TRAEFIK) == sorted(KIND_NAMES)


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_names_scope_and_version_match_traefik(kind: str) -> None:
    ours, theirs = OURS[kind], TRAEFIK[kind]
    assert ours["metadata"]["name"] == theirs["metadata"]["name"] == f"{kind.lower()}s.{GROUP}"
    for key in ("group", "names", "scope"):
        assert ours["spec"][key] == theirs["spec"][key], key  # names: shortNames included
    (version,) = ours["spec"]["versions"]
    assert (version["name"], version["served"], version["storage"]) == (VERSION, True, True)
    assert [v["name"] for v in theirs["spec"]["versions"]] == [VERSION]


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_every_traefik_property_is_ours_with_a_compatible_schema(kind: str) -> None:
    ours = dict(nodes(schema(OURS[kind])))
    problems = []
    for path, theirs in nodes(schema(TRAEFIK[kind])):
        mine = ours.get(path)
        if mine is None:
            problems.append(f"{path}: missing")
            continue
        for key in ("type", "x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields"):
            if mine.get(key) != theirs.get(key):
                problems.append(f"{path}: {key} {mine.get(key)!r}, Traefik {theirs.get(key)!r}")
        if "enum" in mine and not set(theirs.get("enum", [object()])) <= set(mine["enum"]):
            problems.append(f"{path}: enum {mine['enum']}, Traefik {theirs.get('enum')}")
        if extra := set(mine.get("required", [])) - set(theirs.get("required", [])):
            problems.append(f"{path}: requires {sorted(extra)}, Traefik does not")
        if "pattern" in mine and mine["pattern"] != theirs.get("pattern"):
            problems.append(
                f"{path}: pattern {mine['pattern']!r}, Traefik {theirs.get('pattern')!r}"
            )
        if "additionalProperties" in theirs and "additionalProperties" not in mine:
            problems.append(f"{path}: no additionalProperties (a map in Traefik)")
        for bound, tighter in (("minimum", lambda a, b: a > b), ("maximum", lambda a, b: a < b)):
            if bound in mine and (bound not in theirs or tighter(mine[bound], theirs[bound])):
                problems.append(f"{path}: {bound} {mine[bound]}, Traefik {theirs.get(bound)}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_no_property_traefik_lacks(kind: str) -> None:
    """The models mirror Traefik's types: no field of ours is unknown to Traefik."""
    theirs = dict(nodes(schema(TRAEFIK[kind])))
    ours = {path for path, _ in nodes(schema(OURS[kind])) if not path.startswith(".status")}
    assert sorted(ours - set(theirs)) == []


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_schema_is_structural_and_described(kind: str) -> None:
    """What the API server requires of a structural schema, and our docstrings on every field."""
    problems = []
    for path, node in nodes(schema(OURS[kind])):
        text = json.dumps(node)
        if any(k in node for k in ("$ref", "allOf", "oneOf", "not", "title", "nullable")):
            problems.append(f"{path}: {sorted(node)}")
        if "x-kubernetes-int-or-string" in node:
            if node.get("anyOf") != [{"type": "integer"}, {"type": "string"}] or "type" in node:
                problems.append(f"{path}: int-or-string {text}")
        elif "anyOf" in node:
            problems.append(f"{path}: anyOf {text}")
        elif "type" not in node and "x-kubernetes-preserve-unknown-fields" not in node:
            problems.append(f"{path}: no type")
        if "properties" in node and "additionalProperties" in node:
            problems.append(f"{path}: both properties and additionalProperties")
        is_member = path.endswith(("[]", "{}"))
        if path.startswith(".spec") and not is_member and not node.get("description"):
            problems.append(f"{path}: no description (a docstring in resources/)")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_descriptions_are_our_own_words(kind: str) -> None:
    theirs = dict(nodes(schema(TRAEFIK[kind])))
    copied = [
        path
        for path, node in nodes(schema(OURS[kind]))
        if path.startswith(".spec.")
        and node.get("description")
        and node["description"] == theirs.get(path, {}).get("description")
    ]
    assert copied == []


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_status_subresource_and_columns(kind: str) -> None:
    (version,) = OURS[kind]["spec"]["versions"]
    props = version["schema"]["openAPIV3Schema"]["properties"]
    if kind not in WITH_STATUS:
        assert "subresources" not in version and "status" not in props
        assert "additionalPrinterColumns" not in version  # kubectl's default NAME, AGE
        return
    assert version["subresources"] == {"status": {}}
    status = props["status"]
    assert status["properties"]["observedGeneration"]["type"] == "integer"
    condition = status["properties"]["conditions"]["items"]
    assert set(condition["properties"]) == {
        "type", "status", "reason", "message", "lastTransitionTime", "observedGeneration",
    }  # fmt: skip
    assert condition["required"] == sorted(
        ["type", "status", "reason", "message", "lastTransitionTime"]
    )
    assert condition["properties"]["status"]["enum"] == ["True", "False", "Unknown"]
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    expected = {
        "Ready": '.status.conditions[?(@.type=="Ready")].status',
        "Reason": '.status.conditions[?(@.type=="Ready")].reason',
        "Age": ".metadata.creationTimestamp",
    }
    if kind in ("IngressRoute", "IngressRouteTCP"):
        expected["Match"] = ".spec.routes[0].match"
    assert columns == expected


# -- The conformance inputs: the objects Traefik's schema accepts are exactly those ours accepts.

_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
}


def schema_errors(value: Any, node: dict[str, Any], path: str = "") -> list[str]:
    """What a structural schema refuses in ``value`` (types, required, enum, pattern, bounds).

    A ``null`` field is dropped first, as the API server prunes it (no ``nullable``)."""
    if node.get("x-kubernetes-preserve-unknown-fields"):
        return []
    if node.get("x-kubernetes-int-or-string"):
        ok = isinstance(value, int | str) and not isinstance(value, bool)
        if not ok:
            return [f"{path}: not an int or a string"]
        if isinstance(value, str) and "pattern" in node and not re.search(node["pattern"], value):
            return [f"{path}: does not match {node['pattern']}"]
        return []
    kind = node.get("type")
    if kind and (
        not isinstance(value, _TYPES[kind]) or (kind != "boolean" and isinstance(value, bool))
    ):
        return [f"{path}: not a(n) {kind}"]
    errors = []
    if "enum" in node and value not in node["enum"]:
        errors.append(f"{path}: not one of {node['enum']}")
    if isinstance(value, str) and "pattern" in node and not re.search(node["pattern"], value):
        errors.append(f"{path}: does not match {node['pattern']}")
    low, high = node.get("minimum", -math.inf), node.get("maximum", math.inf)
    if isinstance(value, int) and not isinstance(value, bool) and not low <= value <= high:
        errors.append(f"{path}: out of bounds")
    if isinstance(value, dict):
        value = {k: v for k, v in value.items() if v is not None}
        errors += [f"{path}.{k}: required" for k in node.get("required", []) if k not in value]
        props, extra = node.get("properties", {}), node.get("additionalProperties")
        for key, child in value.items():
            if key in props:
                errors += schema_errors(child, props[key], f"{path}.{key}")
            elif isinstance(extra, dict):
                errors += schema_errors(child, extra, f"{path}{{{key}}}")
    if isinstance(value, list) and isinstance(node.get("items"), dict):
        for i, item in enumerate(value):
            errors += schema_errors(item, node["items"], f"{path}[{i}]")
    return errors


def conformance_objects() -> list[tuple[str, dict[str, Any]]]:
    """Every traefik.io object of the conformance inputs, as JSON (string map keys)."""
    root = conformance_dir(REPO)
    if missing_reason(root):
        return []
    found = []
    for path in sorted((root / "kubernetes_crd").glob("*/input.yml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and str(doc.get("apiVersion", "")).startswith(f"{GROUP}/"):
                found.append((f"{path.parent.name}:{doc['kind']}/{doc['metadata']['name']}", doc))
    return [(name, json.loads(json.dumps(doc))) for name, doc in found]


OBJECTS = conformance_objects()
#: Traefik's Go tests feed these straight to the translation; its own CRDs refuse them.
REFUSED_BY_TRAEFIK = {
    "022-http-one-kube-service-in-a-failover:TraefikService/failover1": [".spec.failover.errors: required"],
    "023-http-weighted-services-in-a-failover:TraefikService/failover1": [".spec.failover.errors: required"],
    "102-tcp-ingress-route-externalname-service-without-port:IngressRouteTCP/test.route": [
        ".spec.routes[0].services[0].port: required"
    ],
    "123-udp-ingress-route-externalname-service-without-port:IngressRouteUDP/test.route": [
        ".spec.routes[0].services[0].port: required"
    ],
}  # fmt: skip


@pytest.mark.skipif(not OBJECTS, reason="no conformance data")
def test_conformance_objects_are_accepted_as_traefik_accepts_them() -> None:
    refused = {}
    for name, obj in OBJECTS:
        theirs = schema_errors(obj, schema(TRAEFIK[obj["kind"]]))
        assert schema_errors(obj, schema(OURS[obj["kind"]])) == theirs, name
        if theirs:
            refused[name] = theirs
    assert len(OBJECTS) == 328
    assert refused == REFUSED_BY_TRAEFIK


@pytest.mark.skipif(not OBJECTS, reason="no conformance data")
def test_the_models_read_every_valid_conformance_object() -> None:
    specs = {k.kind: k.spec for k in KINDS}
    for name, obj in OBJECTS:
        if name not in REFUSED_BY_TRAEFIK:
            specs[obj["kind"]].model_validate(obj.get("spec") or {})
