"""The object store the providers translate from, and label selectors."""

from __future__ import annotations

from typing import Any

import pytest
from edgeway_kubernetes import ObjectStore, parse_label_selector


def obj(kind: str, name: str, ns: str = "", labels: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if ns:
        meta["namespace"] = ns
    if labels:
        meta["labels"] = labels
    meta.update(extra)
    return {"apiVersion": "v1", "kind": kind, "metadata": meta}


def test_put_get_replace_delete() -> None:
    store = ObjectStore([obj("Service", "a", "ns1"), obj("Service", "b", "ns2")])
    assert store.get("Service", "ns1", "a") is not None
    store.put({**obj("Service", "a", "ns1"), "spec": {"type": "NodePort"}})
    assert store.get("Service", "ns1", "a")["spec"]["type"] == "NodePort"
    assert len(store) == 2
    store.replace("Service", [obj("Service", "c", "ns1")])
    assert [o["metadata"]["name"] for o in store.list_objects("Service")] == ["c"]
    assert store.delete("Service", "ns1", "c") is not None
    assert store.delete("Service", "ns1", "c") is None
    assert store.list_objects("Service") == []


def test_namespaces_filter_hides_other_namespaces_but_not_cluster_scoped_kinds() -> None:
    store = ObjectStore(
        [obj("Service", "a", "ns1"), obj("Service", "b", "ns2"), obj("Node", "n1"), obj("IngressClass", "traefik")],
        namespaces=["ns1"],
    )
    assert store.get("Service", "ns2", "b") is None
    assert [o["metadata"]["name"] for o in store.list_objects("Service")] == ["a"]
    assert store.list_objects("Service", "ns2") == []
    assert len(store.list_objects("Node")) == 1 and len(store.list_objects("IngressClass")) == 1


def test_list_with_namespace_and_selector() -> None:
    store = ObjectStore(
        [obj("Ingress", "a", "x", {"app": "web"}), obj("Ingress", "b", "x", {"app": "db"}), obj("Ingress", "c", "y", {"app": "web"})]
    )
    selector = parse_label_selector("app=web")
    assert [o["metadata"]["name"] for o in store.list_objects("Ingress", selector=selector)] == ["a", "c"]
    assert [o["metadata"]["name"] for o in store.list_objects("Ingress", "x", selector)] == ["a"]


def test_endpoint_slices_by_service_sorted_by_creation_then_name_and_reindexed() -> None:
    label = "kubernetes.io/service-name"
    store = ObjectStore(
        [
            obj("EndpointSlice", "web-b", "ns", {label: "web"}, creationTimestamp="2024-01-01T00:00:00Z"),
            obj("EndpointSlice", "web-c", "ns", {label: "web"}, creationTimestamp="2023-01-01T00:00:00Z"),
            obj("EndpointSlice", "web-a", "ns", {label: "web"}, creationTimestamp="2024-01-01T00:00:00Z"),
            obj("EndpointSlice", "other", "ns", {label: "other"}),
            obj("EndpointSlice", "unlabelled", "ns"),
        ]
    )
    assert [s["metadata"]["name"] for s in store.endpoint_slices("ns", "web")] == ["web-c", "web-a", "web-b"]
    store.put(obj("EndpointSlice", "web-a", "ns", {label: "other"}))  # relabelled: moves to the other service
    assert [s["metadata"]["name"] for s in store.endpoint_slices("ns", "web")] == ["web-c", "web-b"]
    assert [s["metadata"]["name"] for s in store.endpoint_slices("ns", "other")] == ["other", "web-a"]
    store.delete("EndpointSlice", "ns", "web-c")
    assert [s["metadata"]["name"] for s in store.endpoint_slices("ns", "web")] == ["web-b"]
    assert ObjectStore(store.list_objects("EndpointSlice"), namespaces=["x"]).endpoint_slices("ns", "web") == []


def test_nameless_objects_from_manifests_do_not_replace_each_other() -> None:
    store = ObjectStore([obj("Ingress", "", "ns"), obj("Ingress", "", "ns")])
    assert len(store.list_objects("Ingress")) == 2


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ("", {}, True),
        ("a=b", {"a": "b"}, True),
        ("a==b", {"a": "c"}, False),
        ("a!=b", {}, True),
        ("a!=b", {"a": "b"}, False),
        ("a in (x, y)", {"a": "y"}, True),
        ("a in (x,y)", {}, False),
        ("a notin (x,y)", {"a": "z"}, True),
        ("a notin (x,y)", {"a": "x"}, False),
        ("a", {"a": ""}, True),
        ("!a", {"a": ""}, False),
        ("!a", {}, True),
        ("n>3", {"n": "4"}, True),
        ("n<3", {"n": "4"}, False),
        ("n>3", {"n": "x"}, False),
        ("app=web, tier in (front), !canary", {"app": "web", "tier": "front"}, True),
        ("app.kubernetes.io/name=web", {"app.kubernetes.io/name": "web"}, True),
    ],
)
def test_label_selectors(selector: str, labels: dict[str, str], matches: bool) -> None:
    assert parse_label_selector(selector).matches(labels) is matches


@pytest.mark.parametrize("selector", ["a=b=c", "=b", "a in x", "a,,b", "n>x"])
def test_invalid_label_selectors_are_refused(selector: str) -> None:
    with pytest.raises(ValueError, match="invalid label selector"):
        parse_label_selector(selector)
