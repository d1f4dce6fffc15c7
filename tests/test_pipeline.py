"""The configuration pipeline through a running kernel: merge, status, reloads, readiness."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import anyio
import pytest
from edgeway import hookimpl
from edgeway.config.dynamic import parse_configuration
from edgeway.pipeline.watcher import ConfigurationWatcher
from edgeway.registry import ProviderType
from pydantic import BaseModel
from support import Client, backends, edgeway, get

pytestmark = pytest.mark.anyio


class MemoryOptions(BaseModel):
    model_config = {"extra": "forbid"}
    delay: bool = False


class MemoryProvider:
    """A provider whose snapshots the test sets; ``release`` gates the first one."""

    def __init__(self, options: MemoryOptions) -> None:
        self.options = options
        self.config: dict[str, Any] = {}
        self.release = anyio.Event()
        self.emit: Any = None

    async def snapshot(self) -> dict[str, Any]:
        return self.config

    async def run(self, emit: Any) -> None:
        self.emit = emit
        if self.options.delay:
            await self.release.wait()
        emit(self.config)
        await anyio.sleep_forever()


def memory_plugin(config: dict[str, Any]) -> tuple[Any, list[MemoryProvider]]:
    made: list[MemoryProvider] = []

    def factory(options: MemoryOptions, ctx: Any) -> MemoryProvider:
        p = MemoryProvider(options)
        p.config = config
        made.append(p)
        return p

    class Plugin:
        @hookimpl
        def register_providers(self, register: Any) -> None:
            register(ProviderType("memory", "memory", MemoryOptions, factory))

    return Plugin(), made


async def test_cross_provider_references(tmp_path: Path) -> None:
    """A router of one provider uses a middleware and a service of another (`x@file`)."""
    async with backends("a") as (a,):
        file_cfg = f"""
        http:
          middlewares:
            strip: {{stripPrefix: {{prefixes: ["/mem"]}}}}
          services:
            app:
              loadBalancer: {{servers: [{{url: "{a.url}"}}]}}
        """
        mem_cfg = {
            "http": {
                "routers": {
                    "r": {
                        "rule": "PathPrefix(`/mem`)",
                        "service": "app@file",
                        "middlewares": ["strip@file"],
                    }
                }
            }
        }
        plugin, _ = memory_plugin(mem_cfg)
        static = f"""
        providers:
          providersThrottleDuration: 0s
          file: {{filename: "{tmp_path / "dynamic.yml"}"}}
          memory: {{}}
        """
        async with edgeway(tmp_path, file_cfg, static, plugins={"memory": plugin}) as ew:
            r = await get(ew.port(), "/mem/x")
            assert r.status == 200
            assert a.received[-1].target == "/x"
            assert a.received[-1].header("X-Forwarded-Prefix") == "/mem"
            router = ew.runtime.routers["r@memory"]
            assert (router.status, router.using) == ("enabled", ["web"])
            assert ew.runtime.services["app@file"].used_by == ["r@memory"]


async def test_one_broken_object_never_takes_the_others_down(tmp_path: Path) -> None:
    async with backends("a") as (a,):
        dyn = f"""
        http:
          routers:
            good: {{rule: "Path(`/good`)", service: app}}
            no-service: {{rule: "Path(`/ns`)", service: missing}}
            bad-rule: {{rule: "Path(`/x`) &&", service: app}}
            bad-mw: {{rule: "Path(`/bm`)", service: app, middlewares: [nope]}}
            half: {{rule: "Path(`/half`)", service: app, entryPoints: [web, nowhere]}}
            multi: {{rule: "Path(`/multi`)", service: app, middlewares: [two]}}
          middlewares:
            two:
              addPrefix: {{prefix: /a}}
              stripPrefix: {{prefixes: [/b]}}
          services:
            app:
              loadBalancer: {{servers: [{{url: "{a.url}"}}]}}
        """
        async with edgeway(tmp_path, dyn) as ew:
            assert (await get(ew.port(), "/good")).status == 200
            assert (await get(ew.port(), "/half")).status == 200
            for path in ("/ns", "/x", "/bm", "/multi"):
                assert (await get(ew.port(), path)).status == 404
            rt = ew.runtime
            assert rt.routers["good@file"].status == "enabled"
            assert rt.routers["no-service@file"].status == "disabled"
            assert rt.routers["no-service@file"].errors == [
                'the service "missing@file" does not exist'
            ]
            assert rt.routers["bad-rule@file"].status == "disabled"
            assert "error while parsing rule" in rt.routers["bad-rule@file"].errors[0]
            assert rt.routers["bad-mw@file"].errors == ['middleware "nope@file" does not exist']
            assert rt.routers["half@file"].status == "warning"
            assert rt.routers["half@file"].errors == ['entryPoint "nowhere" doesn\'t exist']
            assert rt.middlewares["two@file"].status == "disabled"
            assert "multi-types middleware" in rt.middlewares["two@file"].errors[0]


async def test_reload_applies_changes_and_an_invalid_file_keeps_the_last_good(
    tmp_path: Path,
) -> None:
    async with (
        backends("a", "b") as (a, b),
        edgeway(
            tmp_path,
            f"""
        http:
          routers:
            r: {{rule: "PathPrefix(`/`)", service: s}}
          services:
            s: {{loadBalancer: {{servers: [{{url: "{a.url}"}}]}}}}
        """,
        ) as ew,
    ):
        client = await Client.connect(ew.port())
        assert (await client.request()).json()["server"] == "a"
        n = ew.kernel.state.reloads
        ew.write_dynamic(f"""
            http:
              routers:
                r: {{rule: "PathPrefix(`/`)", service: s}}
              services:
                s: {{loadBalancer: {{servers: [{{url: "{b.url}"}}]}}}}
            """)
        await ew.wait_applied(n)
        # The same client connection now reaches the new backend.
        assert (await client.request()).json()["server"] == "b"
        n = ew.kernel.state.reloads
        ew.write_dynamic("http:\n  routers:\n    r: {rule: [broken\n")
        provider = ew.kernel.providers["file"]
        with anyio.fail_after(10):
            while getattr(provider, "last_error", None) is None:
                await anyio.sleep(0.01)
        assert "dynamic.yml:4:1: invalid YAML" in provider.last_error  # type: ignore[attr-defined]
        assert ew.kernel.state.reloads == n
        assert (await client.request()).json()["server"] == "b"
        await client.close()


async def test_pools_and_their_connections_survive_a_reload(tmp_path: Path) -> None:
    async with backends("a") as (a,):
        base = f"""
        http:
          routers:
            r: {{rule: "PathPrefix(`/`)", service: s}}
          services:
            s: {{loadBalancer: {{servers: [{{url: "{a.url}"}}]}}}}
        """
        async with edgeway(tmp_path, base) as ew:
            client = await Client.connect(ew.port())
            await client.request()
            n = ew.kernel.state.reloads
            ew.write_dynamic(
                base.replace(
                    "routers:\n", 'routers:\n            other: {rule: "Path(`/o`)", service: s}\n'
                )
            )
            await ew.wait_applied(n)
            assert "other@file" in ew.runtime.routers
            await client.request()
            assert a.connections == 1  # the warm upstream connection was reused
            await client.close()


async def test_entrypoint_middlewares_and_chains(tmp_path: Path) -> None:
    async with backends("a") as (a,):
        dyn = f"""
        http:
          routers:
            r: {{rule: "PathPrefix(`/`)", service: s, middlewares: [both]}}
            loop: {{rule: "Path(`/loop`)", service: s, middlewares: [c1]}}
          middlewares:
            ep-header:
              headers: {{customRequestHeaders: {{X-Entry: "yes"}}}}
            add: {{addPrefix: {{prefix: /api}}}}
            resp:
              headers: {{customResponseHeaders: {{X-Out: "1", X-Backend: ""}}}}
            both: {{chain: {{middlewares: [add, resp]}}}}
            c1: {{chain: {{middlewares: [c2]}}}}
            c2: {{chain: {{middlewares: [c1]}}}}
          services:
            s: {{loadBalancer: {{servers: [{{url: "{a.url}"}}]}}}}
        """
        static = """
        entryPoints:
          web:
            address: "127.0.0.1:0"
            http: {middlewares: [ep-header@file]}
        """
        async with edgeway(tmp_path, dyn, static) as ew:
            r = await get(ew.port(), "/v1")
            assert a.received[-1].target == "/api/v1"
            assert a.received[-1].header("X-Entry") == "yes"
            assert r.header("X-Out") == "1" and r.header("X-Backend") is None
            assert ew.runtime.routers["loop@file"].status == "disabled"
            assert "recursion detected" in " ".join(ew.runtime.middlewares["c1@file"].errors)
            # The disabled router's path falls through to the catch-all router.
            assert (await get(ew.port(), "/loop")).status == 200


async def test_headers_middleware_host_and_x_forwarded_for_removal(tmp_path: Path) -> None:
    async with backends("a") as (a,):
        dyn = f"""
        http:
          routers:
            r: {{rule: "PathPrefix(`/`)", service: s, middlewares: [h]}}
          middlewares:
            h:
              headers:
                customRequestHeaders: {{Host: "rewritten.example", X-Forwarded-For: "", User-Agent: ""}}
          services:
            s: {{loadBalancer: {{servers: [{{url: "{a.url}"}}]}}}}
        """
        async with edgeway(tmp_path, dyn) as ew:
            await get(ew.port(), "/", headers=[("User-Agent", "t")])
            rec = a.received[-1]
            assert rec.header("Host") == "rewritten.example"
            assert rec.header("X-Forwarded-For") is None
            assert rec.header("User-Agent") is None


async def test_strip_prefix_rejects_paths_that_clean_differently(tmp_path: Path) -> None:
    async with backends("a") as (a,):
        dyn = f"""
        http:
          routers:
            r: {{rule: "PathPrefix(`/`)", service: s, middlewares: [st]}}
          middlewares:
            st: {{stripPrefix: {{prefixes: ["/p"]}}}}
          services:
            s: {{loadBalancer: {{servers: [{{url: "{a.url}"}}]}}}}
        """
        static = """
        entryPoints:
          web:
            address: "127.0.0.1:0"
            http: {sanitizePath: false}
        """
        async with edgeway(tmp_path, dyn, static) as ew:
            assert (await get(ew.port(), "/p/ok")).status == 200
            assert a.received[-1].target == "/ok"
            assert (await get(ew.port(), "/p/../etc")).status == 400


async def test_ping_is_503_until_every_provider_delivered_then_200(tmp_path: Path) -> None:
    plugin, made = memory_plugin({"http": {}})
    static = f"""
    providers:
      providersThrottleDuration: 0s
      file: {{filename: "{tmp_path / "dynamic.yml"}"}}
      memory: {{delay: true}}
    entryPoints:
      web: {{address: "127.0.0.1:0"}}
      traefik: {{address: "127.0.0.1:0"}}
    ping: {{}}
    """
    (tmp_path / "dynamic.yml").write_text("http: {}\n")
    import textwrap

    from edgeway.config.loader import load_static_configuration
    from edgeway.config.static import effective_configuration
    from edgeway.kernel import Kernel
    from edgeway.plugins import load_plugins

    (tmp_path / "edgeway.yml").write_text(textwrap.dedent(static))
    plugins = load_plugins(extra={"memory": plugin})
    loaded = load_static_configuration(
        [f"--configFile={tmp_path / 'edgeway.yml'}"], {}, tmp_path, plugins.registry
    )
    kernel = Kernel(effective_configuration(loaded.configuration), plugins, workdir=str(tmp_path))
    async with anyio.create_task_group() as tg:
        await tg.start(kernel.run)
        port = kernel.entrypoints["traefik"].port
        # The file provider has answered, the memory provider not yet: not ready.
        r = await get(port, "/ping")
        assert r.status == 404  # nothing is applied before every provider delivered
        made[0].release.set()
        assert kernel.watcher is not None
        with anyio.fail_after(10):
            await kernel.watcher.ready.wait()
        r = await get(port, "/ping")
        assert (r.status, r.body) == (200, b"OK")
        kernel.stop()


async def test_ping_answers_503_while_stopping(tmp_path: Path) -> None:
    static = """
    entryPoints:
      web: {address: "127.0.0.1:0"}
      traefik:
        address: "127.0.0.1:0"
        transport: {lifeCycle: {requestAcceptGraceTimeout: 2s, graceTimeOut: 1s}}
    ping: {}
    """
    async with edgeway(tmp_path, "http: {}\n", static) as ew:
        port = ew.port("traefik")
        assert (await get(port, "/ping")).status == 200
        ew.kernel.stop()
        with anyio.fail_after(5):
            while (await get(port, "/ping")).status != 503:
                await anyio.sleep(0.01)


async def test_watcher_drops_unchanged_snapshots_and_throttles_to_the_newest() -> None:
    applied: list[dict[str, Any]] = []
    watcher = ConfigurationWatcher(
        {"p": 0.3}, lambda snaps: applied.append(dict(snaps)), first_snapshot_timeout=5
    )

    def cfg(name: str) -> Any:
        return parse_configuration(
            {"http": {"routers": {name: {"rule": "Path(`/`)", "service": "s"}}}}
        )

    async with anyio.create_task_group() as tg:
        tg.start_soon(watcher.run)
        watcher.emit("p", cfg("a"))
        with anyio.fail_after(5):
            await watcher.ready.wait()
        assert len(applied) == 1
        watcher.emit("p", cfg("a"))  # unchanged: dropped
        for name in ("b", "c", "d"):  # a burst inside the throttle window
            watcher.emit("p", cfg(name))
        watcher.emit("p", {"http": {"routers": {"x": {"rul": "oops"}}}})  # invalid: rejected
        assert "unknown key" in watcher.provider_errors()["p"]
        with anyio.fail_after(5):
            while len(applied) < 2:
                await anyio.sleep(0.01)
        assert list(applied[-1]["p"].http.routers) == ["d"]
        await asyncio.sleep(0.4)  # the window passes with nothing new: no apply
        assert len(applied) == 2
        tg.cancel_scope.cancel()


async def test_render_in_process_reports_statuses(tmp_path: Path) -> None:
    from edgeway.render import render

    (tmp_path / "dynamic.yml").write_text(
        "http:\n  routers:\n    a: {rule: 'Path(`/`)', service: nope}\n"
    )
    from edgeway.config.loader import load_static_configuration
    from edgeway.config.static import effective_configuration
    from edgeway.plugins import load_plugins

    plugins = load_plugins()
    loaded = load_static_configuration(
        [f"--providers.file.filename={tmp_path / 'dynamic.yml'}"], {}, tmp_path, plugins.registry
    )
    result = await render(effective_configuration(loaded.configuration), plugins, str(tmp_path))
    assert result.failed
    assert result.document["routers"]["a@file"]["status"] == "disabled"
    assert result.document["routers"]["a@file"]["error"] == [
        'the service "nope@file" does not exist'
    ]
