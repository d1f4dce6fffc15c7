"""The documentation keeps up with the code: every hook spec is in docs/hooks.md, and only those."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from edgeway import PROJECT, hookspecs

ROOT = Path(__file__).resolve().parent.parent
HOOKS_MD = ROOT / "docs" / "hooks.md"

#: A hook's section heading: ## `name(arg, arg)`
HEADING = re.compile(r"^## `(\w+)\(([^)]*)\)`\s*$", re.MULTILINE)


def specs() -> dict[str, list[str]]:
    """Hook name -> argument names, from the ``@hookspec`` functions of edgeway.hookspecs."""
    return {
        name: list(inspect.signature(fn).parameters)
        for name, fn in vars(hookspecs).items()
        if callable(fn) and hasattr(fn, f"{PROJECT}_spec")
    }


def documented() -> dict[str, list[str]]:
    return {
        name: [a.strip() for a in args.split(",") if a.strip()]
        for name, args in HEADING.findall(HOOKS_MD.read_text())
    }


def test_the_specs_are_found() -> None:
    assert {"register_middlewares", "configuration_applied"} <= set(specs())


def test_every_hook_spec_is_documented_with_its_arguments() -> None:
    docs = documented()
    missing = sorted(set(specs()) - set(docs))
    assert not missing, f"hooks missing from docs/hooks.md: {missing}"
    wrong = {n: (docs[n], a) for n, a in specs().items() if docs[n] != a}
    assert not wrong, f"documented arguments differ from the specs (docs, spec): {wrong}"


def test_every_documented_hook_exists() -> None:
    unknown = sorted(set(documented()) - set(specs()))
    assert not unknown, f"docs/hooks.md documents hooks edgeway does not define: {unknown}"


def test_each_hook_is_documented_once() -> None:
    names = [n for n, _ in HEADING.findall(HOOKS_MD.read_text())]
    assert len(names) == len(set(names))


def test_relative_links_in_the_plugin_docs_resolve() -> None:
    pages = [
        ROOT / "docs" / "hooks.md",
        ROOT / "docs" / "plugins.md",
        ROOT / "examples" / "plugins" / "edgeway-example-middleware" / "README.md",
        ROOT / "docs" / "acme-ha.md",
        ROOT / "deploy" / "kubernetes-ha" / "README.md",
    ]
    broken = [
        f"{page.relative_to(ROOT)}: {target}"
        for page in pages
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text())
        if "://" not in target and not (page.parent / target).exists()
    ]
    assert not broken
