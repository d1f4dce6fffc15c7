"""The example middleware plugin, as a user gets it: ``pip install``, then ``edgeway``.

The distribution in ``examples/plugins/edgeway-example-middleware`` is copied
(so no build artefacts land in the checkout), pip-installed into a temporary
target, and found by a subprocess ``edgeway`` through its entry point only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from support import backends, free_port, get

pytestmark = pytest.mark.anyio

EXAMPLE = (
    Path(__file__).resolve().parent.parent / "examples" / "plugins" / "edgeway-example-middleware"
)
EDGEWAY = [
    sys.executable,
    "-c",
    "import sys; from edgeway.cli import main; sys.argv[0] = 'edgeway'; main()",
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A pip ``--target`` directory holding only the example distribution."""
    tmp = tmp_path_factory.mktemp("example")
    source = tmp / "src"
    shutil.copytree(
        EXAMPLE,
        source,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "tests"),
    )
    target = tmp / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    yield target


def env_with(target: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        ),
    }


def test_edgeway_plugins_lists_it_with_its_version_and_hooks(site: Path, tmp_path: Path) -> None:
    out = subprocess.run(
        [*EDGEWAY, "plugins", "--json"],
        env=env_with(site),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    plugin = next(p for p in json.loads(out.stdout) if p["name"] == "example-middleware")
    assert plugin["version"] == "0.3.0"
    assert plugin["hooks"] == ["register_middlewares"]
    assert plugin["builtin"] is False
    assert plugin["module"] == "edgeway_example_middleware.plugin"
    text = subprocess.run(
        [*EDGEWAY, "plugins"],
        env=env_with(site),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert (
        "example-middleware 0.3.0 (installed, edgeway_example_middleware.plugin)\n  hooks: register_middlewares\n"
        in text
    )


def test_without_the_target_the_plugin_is_not_there(tmp_path: Path) -> None:
    out = subprocess.run(
        [*EDGEWAY, "plugins", "--json"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert "example-middleware" not in {p["name"] for p in json.loads(out.stdout)}


@asynccontextmanager
async def running(site: Path, workdir: Path, dynamic: str) -> AsyncIterator[tuple[int, int]]:
    """``edgeway`` as a subprocess with the file provider; yields (web, admin) ports once /ping is 200."""
    web, admin = free_port(), free_port()
    (workdir / "dyn.yml").write_text(textwrap.dedent(dynamic))
    (workdir / "edgeway.yml").write_text(
        textwrap.dedent(
            f"""
            entryPoints:
              web: {{address: "127.0.0.1:{web}"}}
              traefik: {{address: "127.0.0.1:{admin}"}}
            api: {{insecure: true}}
            ping: {{}}
            providers:
              file: {{filename: dyn.yml}}
            """
        )
    )
    process = await anyio.open_process(EDGEWAY, cwd=workdir, env=env_with(site))
    try:
        with anyio.fail_after(20):
            while True:
                try:
                    if (await get(admin, "/ping")).status == 200:
                        break
                except OSError:
                    pass
                assert process.returncode is None, "edgeway exited"
                await anyio.sleep(0.05)
        yield web, admin
    finally:
        process.terminate()
        with anyio.fail_after(15):
            await process.wait()
        await process.aclose()


async def test_the_installed_middleware_works_end_to_end(site: Path, tmp_path: Path) -> None:
    async with backends("app") as (app,):
        dynamic = f"""
            http:
              routers:
                stamped: {{rule: "PathPrefix(`/`)", service: app, middlewares: [stamp]}}
                plain: {{rule: "PathPrefix(`/plain`)", service: app}}
                misconfigured: {{rule: "PathPrefix(`/bad`)", service: app, middlewares: [bad]}}
              middlewares:
                stamp:
                  plugin:
                    stamp: {{header: x-served-by, value: edge-1, blockPathPrefixes: [/admin], blockStatus: 404}}
                bad:
                  plugin:
                    stamp: {{blockPathPrefixes: [admin]}}
              services:
                app: {{loadBalancer: {{servers: [{{url: "{app.url}"}}]}}}}
        """
        async with running(site, tmp_path, dynamic) as (web, admin):
            ok = await get(web, "/hello")
            assert ok.status == 200 and ok.json()["server"] == "app"
            assert ok.header("X-Served-By") == "edge-1"
            assert [r.target for r in app.received] == ["/hello"]

            blocked = await get(web, "/admin/users")
            assert (blocked.status, blocked.body) == (404, b"Not Found\n")
            assert blocked.header("X-Served-By") == "edge-1"
            assert [r.target for r in app.received] == ["/hello"]  # never reached the backend

            plain = await get(web, "/plain")
            assert plain.status == 200 and plain.header("X-Served-By") is None

            # Invalid options disable that middleware and its router only, with the model's message.
            middleware = (await get(admin, "/api/http/middlewares/bad@file")).json()
            assert middleware["status"] == "disabled"
            assert middleware["error"] == [
                "plugin stamp: blockPathPrefixes: Value error, 'admin' does not start with /"
            ]
            router = (await get(admin, "/api/http/routers/misconfigured@file")).json()
            assert router["status"] == "disabled"
            assert (await get(web, "/bad")).header("X-Served-By") == "edge-1"  # falls to `stamped`
            assert (await get(admin, "/api/http/middlewares/stamp@file")).json()[
                "status"
            ] == "enabled"
