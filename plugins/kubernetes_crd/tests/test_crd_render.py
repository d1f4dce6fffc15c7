"""``edgeway render --provider kubernetescrd`` gives the conformance output from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from edgeway_kubernetes.conformance import (
    conformance_dir,
    diff,
    load_cases,
    missing_reason,
    normalize_document,
)

EDGEWAY = str(Path(sys.executable).parent / "edgeway")
ROOT = conformance_dir(Path(__file__).resolve().parents[3])
CASES = [] if missing_reason(ROOT) else load_cases(ROOT, "kubernetes_crd")
#: One case per group, with provider options, middlewares, TLS and cross-namespace references.
PICKED = ("003-http", "090-tcp", "113-udp", "130-crossns")


@pytest.mark.parametrize("case", [c for c in CASES if c.id.startswith(PICKED)], ids=lambda c: c.id)
def test_render_prints_the_providers_configuration(case) -> None:  # type: ignore[no-untyped-def]
    out = subprocess.run(
        [EDGEWAY, "render", "--provider", "kubernetescrd", "--manifests", str(case.input_path),
         "--provider-options", json.dumps(case.options)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    actual = json.loads(out.stdout)
    problems = list(
        diff(normalize_document(case.expected(), ROOT), normalize_document(actual, ROOT), ROOT)
    )
    assert not problems, "\n".join(problems)


def test_render_reports_problems_and_fails(tmp_path: Path) -> None:
    (tmp_path / "route.yml").write_text(
        "apiVersion: traefik.io/v1alpha1\nkind: IngressRoute\nmetadata: {name: r, namespace: apps}\n"
        "spec: {routes: [{match: 'Path(`/`)', kind: Rule, services: [{name: missing, port: 80}]}]}\n"
    )
    out = subprocess.run(
        [EDGEWAY, "render", "--provider", "kubernetescrd", "--manifests", str(tmp_path / "route.yml")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 1
    assert "IngressRoute apps/r" in out.stderr and "missing" in out.stderr
