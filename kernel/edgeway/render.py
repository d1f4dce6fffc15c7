"""``edgeway render``: the configuration pipeline run once, offline.

Each configured provider gives one snapshot (``Provider.snapshot()``); the
snapshots go through the same merge and compile as a running proxy, without
binding a port, and the result is printed in the shape of ``/api/rawdata``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edgeway.api.serialize import rawdata
from edgeway.config.dynamic import ConfigError, Configuration, parse_configuration
from edgeway.config.static import StaticConfiguration
from edgeway.kernel import Kernel
from edgeway.plugins import Plugins


@dataclass
class RenderResult:
    document: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    failed: bool = False


async def render(static: StaticConfiguration, plugins: Plugins, workdir: str) -> RenderResult:
    kernel = Kernel(static, plugins, workdir=workdir)
    problems: list[str] = []
    snapshots: dict[str, Configuration] = {}
    for name, (provider, _) in kernel._make_providers().items():
        try:
            snap = await provider.snapshot()
            snapshots[name] = snap if isinstance(snap, Configuration) else parse_configuration(snap or {})
        except (ConfigError, ValueError, OSError) as exc:
            problems.append(f"provider {name}: {exc}")
    runtime = kernel.apply(snapshots)
    kernel.pools.close()
    doc = rawdata(runtime)
    if runtime.errors:
        doc["errors"] = list(runtime.errors)
    problems.extend(runtime.errors)
    return RenderResult(doc, problems, failed=bool(problems) or runtime.any_disabled())
