"""``edgeway render``: the configuration pipeline run once, offline.

Each configured provider gives one snapshot (``Provider.snapshot()``); the
snapshots go through the same merge and compile as a running proxy, without
binding a port, and the result is printed in the shape of ``/api/rawdata``.

Provider types that offer an :class:`~edgeway.registry.OfflineSource` (the
Kubernetes providers) render from files instead of their live source:
``--manifests PATH`` feeds every such type (with its options from the static
configuration, or its defaults) into the merged view, and ``--provider NAME``
prints that one provider's own configuration (unqualified names, Traefik's JSON
encoding) without the pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from edgeway.api.serialize import rawdata
from edgeway.config.dynamic import ConfigError, Configuration, parse_configuration
from edgeway.config.static import StaticConfiguration
from edgeway.kernel import INTERNAL_PROVIDER, Kernel
from edgeway.plugins import Plugins
from edgeway.registry import OfflineResult, ProviderContext, ProviderType


@dataclass
class RenderResult:
    document: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    failed: bool = False


class RenderError(ValueError):
    """The render request itself is wrong (unknown provider, missing --manifests...)."""


def _static_options(static: StaticConfiguration, ptype: ProviderType) -> Mapping[str, Any] | None:
    """The provider's static section as written (None when not configured)."""
    section = static.providers.enabled().get(ptype.config_key)
    return None if section is None else section.model_dump(exclude_unset=True, by_alias=True)


def offline_provider(plugins: Plugins, name: str) -> ProviderType:
    """The provider type called ``name`` (or configured as ``providers.<name>``) that renders offline."""
    registry = plugins.registry
    ptype = registry.providers.get(name) or registry.provider_by_key(name)
    if ptype is None:
        known = ", ".join(sorted(p.name for p in registry.providers.values() if p.offline)) or "none"
        raise RenderError(f"unknown provider {name!r} (providers that render from manifests: {known})")
    if ptype.offline is None:
        raise RenderError(f"provider {ptype.name!r} cannot render from manifests")
    return ptype


def translate_offline(
    ptype: ProviderType, manifests: str, options: Mapping[str, Any], context: ProviderContext
) -> OfflineResult:
    assert ptype.offline is not None
    return ptype.offline.translate(ptype.offline.load(manifests), options, context)


def render_provider(
    static: StaticConfiguration,
    plugins: Plugins,
    workdir: str,
    provider: str,
    manifests: str,
    options: Mapping[str, Any] | None = None,
) -> RenderResult:
    """One provider's own configuration for ``manifests``; errors fail the render."""
    ptype = offline_provider(plugins, provider)
    if options is None:
        options = _static_options(static, ptype) or {}
    context = ProviderContext(workdir=workdir, static=static)
    try:
        result = translate_offline(ptype, manifests, options, context)
    except ValueError as exc:
        return RenderResult({}, [f"provider {ptype.name}: {exc}"], failed=True)
    problems = [f"provider {ptype.name}: {e}" for e in result.errors]
    return RenderResult(dict(result.configuration), problems, failed=bool(problems))


async def render(
    static: StaticConfiguration, plugins: Plugins, workdir: str, manifests: str | None = None
) -> RenderResult:
    """The merged view: configured providers, plus every offline type fed ``manifests``."""
    # Rendering sends no request: no tracer (nor its exporter thread) for it.
    kernel = Kernel(static.model_copy(update={"tracing": None}), plugins, workdir=workdir)
    registry = plugins.registry
    context = ProviderContext(workdir=workdir, static=static)
    problems: list[str] = []
    snapshots: dict[str, Configuration] = {}
    enabled = static.providers.enabled()
    wanted: list[ProviderType] = []
    internal = registry.providers.get(INTERNAL_PROVIDER)
    if internal is not None:
        wanted.append(internal)
    wanted += [p for p in registry.providers.values() if p.config_key in enabled]
    if manifests is not None:
        wanted += [p for p in registry.providers.values() if p.offline and p not in wanted]
    for ptype in wanted:
        try:
            if ptype.offline is not None and manifests is not None:
                result = translate_offline(ptype, manifests, _static_options(static, ptype) or {}, context)
                problems.extend(f"provider {ptype.name}: {e}" for e in result.errors)
                snap: Any = result.configuration
            else:
                options = enabled.get(ptype.config_key) if ptype.name != INTERNAL_PROVIDER else None
                snap = await ptype.factory(options, context).snapshot()
            snapshots[ptype.name] = snap if isinstance(snap, Configuration) else parse_configuration(snap or {})
        except (ConfigError, ValueError, OSError) as exc:
            problems.append(f"provider {ptype.name}: {exc}")
    runtime = kernel.apply(snapshots)
    kernel.pools.close()
    doc = rawdata(runtime)
    if runtime.errors:
        doc["errors"] = list(runtime.errors)
    problems.extend(runtime.errors)
    return RenderResult(doc, problems, failed=bool(problems) or runtime.any_disabled())
