"""The plugin manager: built-ins and installed plugins, loaded the same way.

Installed plugins are found in the ``edgeway`` entry-point group;
``EDGEWAY_DISABLE_PLUGINS=a,b`` blocks some by name (built-ins included).
A plugin implementing a hook edgeway does not define is refused at start-up,
naming the plugin and the hook, instead of being silently ignored.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from edgeway import PROJECT, hookspecs
from edgeway.registry import Registry

#: Built-in plugins, registered through the same hooks as installed ones.
BUILTINS = {
    "internal": "edgeway.internal",
    "tls-stores": "edgeway.tls.builtin",
    "acme": "edgeway.acme.plugin",
    "builtin-middlewares": "edgeway.middlewares.builtin",
    "middlewares-paths": "edgeway.middlewares.paths",
    "middlewares-auth": "edgeway.middlewares.auth",
    "middlewares-content": "edgeway.middlewares.content",
    "middlewares-traffic": "edgeway.middlewares.traffic",
    "middlewares-grpcweb": "edgeway.middlewares.grpcweb",
}


class PluginError(Exception):
    """A plugin cannot be loaded or implements hooks edgeway does not know."""


@dataclass
class PluginInfo:
    name: str
    version: str
    module: str
    hooks: list[str] = field(default_factory=list)
    builtin: bool = False


@dataclass
class Plugins:
    manager: pluggy.PluginManager
    registry: Registry
    infos: list[PluginInfo]


def disabled_plugins(environ: Mapping[str, str] | None = None) -> set[str]:
    env = os.environ if environ is None else environ
    return {p.strip() for p in env.get("EDGEWAY_DISABLE_PLUGINS", "").split(",") if p.strip()}


def load_plugins(environ: Mapping[str, str] | None = None, extra: Mapping[str, Any] | None = None) -> Plugins:
    """Load built-ins and installed plugins, check their hooks, collect registrations.

    ``extra`` maps names to plugin objects registered in addition (tests).
    """
    disabled = disabled_plugins(environ)
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    infos: list[PluginInfo] = []
    version = metadata.version("edgeway") if _has_dist("edgeway") else "0"

    for name, modname in BUILTINS.items():
        if name in disabled:
            continue
        module = importlib.import_module(modname)
        pm.register(module, name=name)
        infos.append(PluginInfo(name, version, modname, builtin=True))

    for ep in sorted(metadata.entry_points(group=PROJECT), key=lambda e: e.name):
        if ep.name in disabled or pm.has_plugin(ep.name):
            continue
        try:
            obj = ep.load()
        except Exception as exc:
            raise PluginError(f"plugin {ep.name!r} ({ep.value}) failed to import: {exc}") from exc
        pm.register(obj, name=ep.name)
        dist = ep.dist
        infos.append(PluginInfo(ep.name, dist.version if dist else "?", ep.value))

    for name, obj in (extra or {}).items():
        if name not in disabled:
            pm.register(obj, name=name)
            infos.append(PluginInfo(name, "?", repr(obj)))

    hooks = {name: hook for name, hook in vars(pm.hook).items() if not name.startswith("_")}
    unknown = [
        f"plugin {impl.plugin_name!r} implements unknown hook {name!r}"
        for name, hook in hooks.items()
        if not hook.has_spec()
        for impl in hook.get_hookimpls()
    ]
    if unknown:
        known = ", ".join(sorted(n for n, h in hooks.items() if h.has_spec()))
        raise PluginError("; ".join(unknown) + f" (edgeway's hooks are: {known})")

    for info in infos:
        plugin = pm.get_plugin(info.name)
        info.hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])

    registry = Registry()
    _collect(pm, registry)
    return Plugins(pm, registry, infos)


def _collect(pm: pluggy.PluginManager, registry: Registry) -> None:
    for hookname, add in (
        ("register_providers", registry.add_provider),
        ("register_middlewares", registry.add_middleware),
        ("register_tls_stores", registry.add_tls_store),
        ("register_dns_providers", registry.add_dns_provider),
        ("register_acme_storages", registry.add_acme_storage),
    ):
        hook = getattr(pm.hook, hookname)
        for impl in reversed(hook.get_hookimpls()):
            owner = impl.plugin_name
            impl.function(**{"register": lambda item, _add=add, _o=owner: _add(item, _o)})


def _has_dist(name: str) -> bool:
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True
