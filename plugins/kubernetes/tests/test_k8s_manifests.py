"""Manifests to objects: kubectl's file/directory rules, clear errors naming file and document."""

from __future__ import annotations

from pathlib import Path

import pytest
from edgeway_kubernetes import ManifestError, load_manifests, parse_manifests

SERVICE = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: apps}\n"


def test_multi_document_stream_skips_empty_documents_and_keeps_order() -> None:
    text = f"---\n{SERVICE}---\n---\napiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\n"
    objects = parse_manifests(text)
    assert [o["kind"] for o in objects] == ["Service", "Secret"]


def test_a_list_document_is_expanded() -> None:
    text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Node\n  metadata: {name: n1}\n"
    assert [o["metadata"]["name"] for o in parse_manifests(text)] == ["n1"]


def test_timestamps_stay_strings_as_in_the_api_json() -> None:
    text = SERVICE.replace("namespace: apps}", "namespace: apps, creationTimestamp: 2024-01-02T03:04:05Z}")
    assert parse_manifests(text)[0]["metadata"]["creationTimestamp"] == "2024-01-02T03:04:05Z"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"{SERVICE}---\n- a list\n", "x.yml: document 2: expected a Kubernetes object (a mapping), got list"),
        ("apiVersion: v1\nmetadata: {name: a}\n", "x.yml: document 1: missing kind"),
        ("kind: Service\n", "x.yml: document 1: missing apiVersion"),
        (
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  annotations: {x: 42}\n",
            "x.yml: document 1: Service a: metadata.annotations.x must be a string (quote it), got 42",
        ),
        ("apiVersion: v1\nkind: Service\nmetadata: [1]\n", "metadata must be a mapping"),
        ("a: [1,\n", "x.yml: invalid YAML"),
    ],
)
def test_errors_name_the_file_and_the_document(text: str, message: str) -> None:
    with pytest.raises(ManifestError) as info:
        parse_manifests(text, "x.yml")
    assert message in str(info.value)


def test_a_directory_is_read_in_name_order_without_recursion(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(SERVICE.replace("web", "b"))
    (tmp_path / "a.yml").write_text(SERVICE.replace("web", "a"))
    (tmp_path / "c.json").write_text('{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "c"}}')
    (tmp_path / "notes.txt").write_text("not a manifest")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.yml").write_text(SERVICE.replace("web", "d"))
    assert [o["metadata"]["name"] for o in load_manifests(tmp_path)] == ["a", "b", "c"]


def test_a_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no such file or directory"):
        load_manifests(tmp_path / "nope.yml")


def test_a_bad_file_in_a_directory_is_named(tmp_path: Path) -> None:
    (tmp_path / "good.yml").write_text(SERVICE)
    (tmp_path / "bad.yml").write_text("kind: X\n")
    with pytest.raises(ManifestError, match=r"bad\.yml: document 1: missing apiVersion"):
        load_manifests(tmp_path)
