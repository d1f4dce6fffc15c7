"""Turning access logs, metrics and tracing off (and on) per entry point and per
router: the static ``entryPoints.<name>.observability`` and the routers' own
``observability``, through real entry points, with the real access log file,
``/metrics`` and the spans an OTLP receiver gets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from edgeway.config.static import EntryPoint, EntryPointObservability, StaticConfiguration
from support import backends, edgeway, get
from test_metrics import scrape, value
from test_tracing import SERVER, collected, otlp_http

pytestmark = pytest.mark.anyio

#: ``web``: everything off; ``open``: no observability section (all on);
#: ``detailed``: all on, detailed traces.
ENTRY_POINTS = {
    "web": {
        "address": "127.0.0.1:0",
        "observability": {"accessLogs": False, "metrics": False, "tracing": False},
    },
    "open": {"address": "127.0.0.1:0"},
    "detailed": {"address": "127.0.0.1:0", "observability": {"traceVerbosity": "detailed"}},
    "traefik": {"address": "127.0.0.1:0"},
}

DYNAMIC = """
http:
  routers:
    # On every entry point: split by the models (web-app, detailed-app), "app" keeps "open".
    app: {rule: "Path(`/app`)", service: app, entryPoints: [web, open, detailed]}
    # Its own switches win over its entry point's.
    loud:
      rule: "Path(`/loud`)"
      service: app
      entryPoints: [web]
      observability: {accessLogs: true, metrics: true, tracing: true}
    quiet:
      rule: "Path(`/quiet`)"
      service: app
      entryPoints: [open]
      observability: {accessLogs: false, metrics: false, tracing: false}
    # A router's observability section has traceVerbosity minimal (its SetDefaults):
    # the entry point's "detailed" is not inherited.
    terse:
      rule: "Path(`/terse`)"
      service: app
      entryPoints: [detailed]
      observability: {accessLogs: true}
  services:
    app:
      loadBalancer:
        servers: [{url: "URL"}]
"""


def static(tmp_path: Path, receiver: Any) -> dict[str, Any]:
    return {
        "entryPoints": ENTRY_POINTS,
        "accessLog": {"filePath": str(tmp_path / "access.log"), "format": "json"},
        "metrics": {"prometheus": {"addRoutersLabels": True}},
        "tracing": {"otlp": {"http": {"endpoint": receiver.endpoint}}},
    }


async def logged(path: Path, count: int) -> list[dict[str, Any]]:
    with anyio.fail_after(5):
        while True:
            text = path.read_text() if path.exists() else ""
            rows = [json.loads(line) for line in text.splitlines()]
            if len(rows) >= count:
                return rows
            await anyio.sleep(0.01)


async def test_entry_point_and_router_switches(tmp_path: Path) -> None:
    with otlp_http() as rx:
        async with backends("a") as (a,), edgeway(
            tmp_path, DYNAMIC.replace("URL", a.url), **static(tmp_path, rx)
        ) as ew:
            requests = [
                ("web", "/app"), ("web", "/loud"), ("web", "/nowhere"),
                ("open", "/app"), ("open", "/quiet"), ("open", "/nowhere"),
                ("detailed", "/app"), ("detailed", "/terse"),
            ]  # fmt: skip
            for ep, path in requests:
                assert (await get(ew.port(ep), path)).status == (404 if path == "/nowhere" else 200)
            # Logged, counted and traced: loud, open's app and 404, detailed's app and terse.
            rows = await logged(tmp_path / "access.log", 5)
            # 5 entry point spans, 4 ReverseProxy, and detailed-app's Router and Service.
            spans = await collected(ew, rx, 11)
            samples, _ = await scrape(ew.port("traefik"))
            routers = await anyio.to_thread.run_sync(lambda: sorted(ew.runtime.routers))

    assert {"web-app@file", "app@file", "detailed-app@file"} <= set(routers)
    assert sorted((r["entryPointName"], r["RequestPath"], r.get("RouterName", "-")) for r in rows) == [
        ("detailed", "/app", "detailed-app@file"),
        ("detailed", "/terse", "terse@file"),
        ("open", "/app", "app@file"),
        ("open", "/nowhere", "-"),
        ("web", "/loud", "loud@file"),
    ]

    def requests_total(metric: str, **labels: str) -> float:
        return sum(
            v for (name, ls), v in samples.items()
            if name == metric and all((k, x) in ls for k, x in labels.items())
        )  # fmt: skip

    assert requests_total("traefik_entrypoint_requests_total", entrypoint="web") == 1  # loud only
    assert requests_total("traefik_entrypoint_requests_total", entrypoint="open") == 2  # app + 404
    assert requests_total("traefik_entrypoint_requests_total", entrypoint="detailed") == 2
    assert requests_total("traefik_router_requests_total", router="web-app@file") == 0
    assert requests_total("traefik_router_requests_total", router="quiet@file") == 0
    assert requests_total("traefik_router_requests_total", router="loud@file") == 1
    # The service is shared: requests of routers with metrics off are not counted on it.
    assert value(
        samples, "traefik_service_requests_total", code="200", method="GET", protocol="http", service="app@file"
    ) == 4

    servers = [s for s in spans if s.kind == SERVER]
    assert sorted((s.attrs["entry_point"], s.attrs["url.path"]) for s in servers) == [
        ("detailed", "/app"), ("detailed", "/terse"), ("open", "/app"), ("open", "/nowhere"), ("web", "/loud"),
    ]  # fmt: skip
    # Detailed only where inherited: detailed-app has a Router span, terse has none.
    routers_spans = [s for s in spans if s.name == "Router"]
    assert [s.attrs["traefik.router.name"] for s in routers_spans] == ["detailed-app@file"]
    assert len(spans) == 11 and [s.name for s in spans].count("Service") == 1


async def test_untraced_entry_point_forwards_the_client_traceparent(tmp_path: Path) -> None:
    given = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    with otlp_http() as rx:
        async with backends("a") as (a,), edgeway(
            tmp_path, DYNAMIC.replace("URL", a.url), **static(tmp_path, rx)
        ) as ew:
            assert (await get(ew.port("web"), "/app", headers=[("traceparent", given)])).status == 200
            assert (await get(ew.port("open"), "/app", headers=[("traceparent", given)])).status == 200
    untraced, traced = (r.header("traceparent") for r in a.received)
    assert untraced == given
    assert traced != given and traced.startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")


async def test_internal_routers_follow_add_internals_and_their_entry_point(tmp_path: Path) -> None:
    """``ping@internal`` is logged only with ``addInternals``, and then only where
    its entry point's observability keeps access logs."""
    log = tmp_path / "access.log"
    eps = {
        "web": {"address": "127.0.0.1:0", "observability": {"accessLogs": False}},
        "open": {"address": "127.0.0.1:0"},
    }
    dyn = """
    http:
      routers:
        ping: {rule: "Path(`/ping`)", service: ping@internal, entryPoints: [web, open]}
    """
    async with edgeway(
        tmp_path, dyn, entryPoints=eps, ping={}, accessLog={"filePath": str(log), "addInternals": True}
    ) as ew:
        for ep in ("web", "open"):
            assert (await get(ew.port(ep), "/ping")).status == 200
        (row,) = await logged_common(log, 1)
    assert '"GET /ping HTTP/1.1" 200' in row and '"ping@file"' in row


async def logged_common(path: Path, count: int) -> list[str]:
    with anyio.fail_after(5):
        while True:
            found = path.read_text().splitlines() if path.exists() else []
            if len(found) >= count:
                await anyio.sleep(0.05)  # (and no more)
                return path.read_text().splitlines()
            await anyio.sleep(0.01)


async def test_internal_routers_not_logged_without_add_internals(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    dyn = """
    http:
      routers:
        ping: {rule: "Path(`/ping`)", service: ping@internal}
        app: {rule: "Path(`/app`)", service: noop@internal, observability: {accessLogs: true}}
    """
    eps = {"web": {"address": "127.0.0.1:0", "observability": {"accessLogs": True}}}
    async with edgeway(tmp_path, dyn, entryPoints=eps, ping={}, accessLog={"filePath": str(log)}) as ew:
        assert (await get(ew.port(), "/ping")).status == 200
        assert (await get(ew.port(), "/nowhere")).status == 404
        (row,) = await logged_common(log, 1)
    assert '"GET /nowhere HTTP/1.1" 404' in row


def test_static_observability_defaults_and_validation() -> None:
    assert EntryPointObservability() == EntryPointObservability(
        accessLogs=True, metrics=True, tracing=True, traceVerbosity="minimal"
    )
    ep = EntryPoint.model_validate({"address": ":80", "observability": {"metrics": False}})
    assert ep.observability == EntryPointObservability(metrics=False)
    assert EntryPoint.model_validate({"address": ":80"}).observability is None
    with pytest.raises(ValueError, match="unknown"):
        EntryPoint.model_validate({"address": ":80", "observability": {"unknown": True}})
    with pytest.raises(ValueError, match="accessLogs"):
        EntryPoint.model_validate({"address": ":80", "observability": {"accessLogs": "sometimes"}})
    StaticConfiguration.model_validate({"entryPoints": {"web": {"address": ":80", "observability": {}}}})


def test_static_observability_from_flags_and_environment(tmp_path: Path) -> None:
    from edgeway.config.loader import load_static_configuration
    from edgeway.plugins import load_plugins

    registry = load_plugins().registry
    flags = [
        "--entrypoints.web.address=:80",
        "--entrypoints.web.observability.accesslogs=false",
        "--entryPoints.web.observability.traceVerbosity=detailed",
        "--entrypoints.other.address=:81",
        "--entrypoints.other.observability",  # present: everything on
    ]
    eps = load_static_configuration(flags, {}, tmp_path, registry).configuration.entryPoints
    assert eps["web"].observability == EntryPointObservability(accessLogs=False, traceVerbosity="detailed")
    assert eps["other"].observability == EntryPointObservability()
    env = {"EDGEWAY_ENTRYPOINTS_WEB_ADDRESS": ":80", "EDGEWAY_ENTRYPOINTS_WEB_OBSERVABILITY_METRICS": "false"}
    eps = load_static_configuration([], env, tmp_path, registry).configuration.entryPoints
    assert eps["web"].observability == EntryPointObservability(metrics=False)
