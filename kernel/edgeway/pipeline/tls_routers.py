"""TLS options of HTTPS routers, per host and entry point, as Traefik resolves them.

* ``resolve_tls_options`` is ``resolveHTTPTLSOptions`` (pkg/server/aggregator.go):
  on each entry point, a host (a ``Host`` domain) served by TLS routers with
  different options is a conflict; every router involved falls back to the
  default options on that entry point, through a copy named
  ``<ep>-conflicted-<name>``. A router without a ``Host`` but with
  non-default options conflicts too (nothing selects options without a host).
* ``tls_hosts`` is the SNI half of ``buildEntryPointHandler``
  (pkg/server/router/tcp/manager.go): the entry point's SNI -> options table,
  with the router errors Traefik reports there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from edgeway.pipeline.runtime import RouterInfo, qualify, split_name
from edgeway.rules import RuleError, rule_hosts
from edgeway.tls.hosts import BROKEN, TLSHosts
from edgeway.tls.options import DEFAULT_OPTIONS_NAME

__all__ = ["configured_options", "resolve_tls_options", "tls_hosts"]


def configured_options(name: str, tls: Any) -> str:
    """The qualified options a TLS router names (``default`` when none)."""
    options = tls.options or ""
    if not options or options == DEFAULT_OPTIONS_NAME:
        return DEFAULT_OPTIONS_NAME
    return qualify(options, split_name(name)[1])


def _domains(rule: str | None) -> list[str] | None:
    try:
        return rule_hosts(rule or "")
    except RuleError:
        return None


def resolve_tls_options(
    routers: Mapping[str, tuple[str, Any]],
) -> tuple[dict[str, tuple[str, Any]], dict[str, str]]:
    """``(routers, resolved options by router name)`` with conflicts split out."""
    resolved: dict[str, str] = {}
    by_ep: dict[str, list[str]] = {}
    for name, (_, router) in routers.items():
        if router.tls is None:
            continue
        resolved[name] = configured_options(name, router.tls)
        for ep in router.entryPoints or []:
            by_ep.setdefault(ep, []).append(name)
    if not resolved:
        return dict(routers), resolved
    conflicting = {ep: _conflicting(names, routers, resolved) for ep, names in by_ep.items()}
    out: dict[str, tuple[str, Any]] = {}
    for name, (provider, router) in routers.items():
        eps = list(router.entryPoints or [])
        remaining = [ep for ep in eps if name not in conflicting.get(ep, ())]
        for ep in eps:
            if ep not in remaining:
                copy = f"{ep}-conflicted-{name}"
                out[copy] = (provider, router.model_copy(update={"entryPoints": [ep]}))
                resolved[copy] = DEFAULT_OPTIONS_NAME
        if remaining or not eps:
            out[name] = (provider, router if remaining == eps else router.model_copy(update={"entryPoints": remaining}))
    return out, resolved


def _conflicting(names: Iterable[str], routers: Mapping[str, tuple[str, Any]], resolved: Mapping[str, str]) -> set[str]:
    """``findConflictingRouters`` for one entry point's TLS routers."""
    out: set[str] = set()
    by_host: dict[str, dict[str, list[str]]] = {}
    for name in names:
        domains = _domains(routers[name][1].rule)
        if domains is None:
            continue
        if not domains and resolved[name] != DEFAULT_OPTIONS_NAME:
            out.add(name)
            continue
        for domain in domains:
            by_host.setdefault(domain, {}).setdefault(resolved[name], []).append(name)
    for by_option in by_host.values():
        if len(by_option) > 1:
            for group in by_option.values():
                out.update(group)
    return out


def tls_hosts(
    routers: Iterable[RouterInfo], resolved: Mapping[str, str], options_error: Callable[[str], str | None]
) -> TLSHosts:
    """The SNI table of one entry point from its TLS routers; errors go on the routers."""
    domains: dict[str, str] = {}
    catch_all: str | None = None
    for info in sorted(routers, key=lambda i: i.name):
        cfg = info.config
        configured = configured_options(info.name, cfg.tls)
        hosts = _domains(cfg.rule)
        if hosts is None:
            try:
                rule_hosts(cfg.rule or "")
            except RuleError as exc:
                info.add_error(f"invalid rule {cfg.rule}, error: {exc}", True)
            continue
        if not hosts:
            catch_all = DEFAULT_OPTIONS_NAME
            if configured != DEFAULT_OPTIONS_NAME:
                info.add_error(
                    f"no domain found in rule {cfg.rule}, the TLS option {configured} cannot be applied", False
                )
        resolved_name = resolved.get(info.name, configured)
        if hosts and resolved_name != configured:
            info.add_error(
                "router's TLSOptions configuration is conflicting with other routers on the same "
                "entrypoint and host, default TLS options will be used instead",
                False,
            )
        broken = options_error(resolved_name) is not None
        for host in hosts:
            domains[host] = BROKEN if broken else resolved_name
    default = BROKEN if options_error(DEFAULT_OPTIONS_NAME) is not None else DEFAULT_OPTIONS_NAME
    if catch_all is not None and default == BROKEN:
        catch_all = BROKEN
    return TLSHosts.build(domains, catch_all=catch_all, default=default)
