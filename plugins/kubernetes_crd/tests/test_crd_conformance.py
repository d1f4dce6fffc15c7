"""Every CRD-provider case of Traefik's conformance data, through the plugin's offline hook.

The cases are read in place from ``../shared/conformance`` (or
``$EDGEWAY_CONFORMANCE_DIR``); without them the module is skipped, except under
``CI=true`` where that is a failure.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from edgeway.registry import ProviderContext
from edgeway_kubernetes import load_manifests
from edgeway_kubernetes.conformance import (
    ConformanceCase,
    conformance_dir,
    exact_problems,
    failed_assertions,
    load_cases,
    missing_reason,
    require_data,
)
from edgeway_kubernetes_crd.plugin import offline_translate

REPO_ROOT = Path(__file__).resolve().parents[3]
ROOT = conformance_dir(REPO_ROOT)
MISSING = missing_reason(ROOT)
CASES = [] if MISSING else load_cases(ROOT, "kubernetes_crd")


def test_conformance_data_is_present() -> None:
    require_data(ROOT, CASES, 201)


def _configuration(case: ConformanceCase) -> dict:
    objects = load_manifests(case.input_path)
    result = offline_translate(objects, case.options, ProviderContext())
    return dict(result.configuration)


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.comparison.startswith("exact")], ids=lambda c: c.id
)
def test_exact(case: ConformanceCase) -> None:
    problems = exact_problems(case, _configuration(case), ROOT)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.comparison == "assertions"], ids=lambda c: c.id
)
def test_assertions(case: ConformanceCase) -> None:
    failed = failed_assertions(case, _configuration(case))
    assert not failed, failed


@pytest.mark.parametrize("case", [c for c in CASES if c.comparison == "none"], ids=lambda c: c.id)
def test_translates_without_crashing(case: ConformanceCase) -> None:
    """The Go test compares nothing for these; the translation must still succeed."""
    assert isinstance(_configuration(case), dict)
