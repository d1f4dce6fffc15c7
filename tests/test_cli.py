"""The ``edgeway`` command, run as users run it: a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import edgeway
import pytest
from edgeway import hookimpl
from edgeway.plugins import PluginError, load_plugins
from support import free_port

EDGEWAY = str(Path(sys.executable).parent / "edgeway")


def run(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EDGEWAY, *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_version() -> None:
    out = run("version")
    assert out.returncode == 0
    assert edgeway.__version__ in out.stdout


def test_plugins_lists_builtins_and_the_file_plugin_with_hooks() -> None:
    out = run("plugins", "--json")
    assert out.returncode == 0, out.stderr
    plugins = {p["name"]: p for p in json.loads(out.stdout)}
    assert plugins["file"]["hooks"] == ["register_providers"]
    assert plugins["file"]["builtin"] is False
    assert "register_middlewares" in plugins["builtin-middlewares"]["hooks"]
    assert plugins["internal"]["builtin"] is True
    text = run("plugins").stdout
    assert "file " in text and "hooks: register_providers" in text


def test_disabled_plugin_is_gone_and_its_options_are_refused(tmp_path: Path) -> None:
    env = {"EDGEWAY_DISABLE_PLUGINS": "file"}
    out = run("plugins", "--json", env=env)
    assert "file" not in {p["name"] for p in json.loads(out.stdout)}
    (tmp_path / "edgeway.yml").write_text("providers:\n  file: {filename: x.yml}\n")
    out = run("render", cwd=tmp_path, env=env)
    assert out.returncode == 2
    assert "providers.file" in out.stderr and "no installed plugin" in out.stderr


def test_a_plugin_with_an_unknown_hook_fails_with_a_clear_message() -> None:
    class Bad:
        @hookimpl
        def register_middleware(self, register: Any) -> None:  # typo: the hook is plural
            pass

    with pytest.raises(PluginError) as err:
        load_plugins(extra={"bad-plugin": Bad()})
    message = str(err.value)
    assert "plugin 'bad-plugin' implements unknown hook 'register_middleware'" in message
    assert "register_middlewares" in message  # the known hooks are listed


def test_third_party_middleware_plugin_is_used_with_traefik_plugin_syntax(tmp_path: Path) -> None:
    """A middleware registered by a plugin, used as ``plugin: {name: {...}}`` and rendered."""
    from edgeway.registry import MiddlewareType
    from pydantic import BaseModel

    class Options(BaseModel):
        model_config = {"extra": "forbid"}
        value: str

    class Hello:
        @hookimpl
        def register_middlewares(self, register: Any) -> None:
            register(MiddlewareType("hello", Options, lambda o, nxt, ctx: nxt))

    plugins = load_plugins(extra={"hello": Hello()})
    assert plugins.registry.middlewares["hello"].plugin
    import anyio
    from edgeway.config.loader import load_static_configuration
    from edgeway.config.static import effective_configuration
    from edgeway.render import render

    (tmp_path / "d.yml").write_text(
        textwrap.dedent(
            """
            http:
              routers:
                r: {rule: "Path(`/`)", service: s, middlewares: [ok, bad]}
                r2: {rule: "Path(`/2`)", service: s, middlewares: [ok]}
              middlewares:
                ok: {plugin: {hello: {value: hi}}}
                bad: {plugin: {hello: {valu: hi}}}
              services:
                s: {loadBalancer: {servers: [{url: "http://127.0.0.1:1"}]}}
            """
        )
    )
    loaded = load_static_configuration(
        [f"--providers.file.filename={tmp_path / 'd.yml'}"], {}, tmp_path, plugins.registry
    )
    result = anyio.run(
        render, effective_configuration(loaded.configuration), plugins, str(tmp_path)
    )
    doc = result.document
    assert doc["routers"]["r2@file"]["status"] == "enabled"
    assert doc["routers"]["r@file"]["status"] == "disabled"
    assert "valu" in " ".join(doc["middlewares"]["bad@file"]["error"])


def test_render_prints_statuses_and_exits_1_when_something_is_disabled(tmp_path: Path) -> None:
    (tmp_path / "dyn.yml").write_text(
        textwrap.dedent(
            """
            http:
              routers:
                ok: {rule: "Path(`/`)", service: s}
                broken: {rule: "Path(`/b`)", service: missing}
              services:
                s: {loadBalancer: {servers: [{url: "http://127.0.0.1:1"}]}}
            """
        )
    )
    (tmp_path / "edgeway.yml").write_text("providers:\n  file: {filename: dyn.yml}\n")
    out = run("render", cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    assert doc["routers"]["ok@file"]["status"] == "enabled"
    assert doc["routers"]["ok@file"]["entryPoints"] == ["http"]  # the default entry point
    assert doc["routers"]["broken@file"] == {
        "entryPoints": ["http"],
        "service": "missing",
        "rule": "Path(`/b`)",
        "priority": 10,
        # Traefik's applyDefaultObservabilityModel: the defaults shown on every root router.
        "observability": {"accessLogs": True, "metrics": True, "tracing": True, "traceVerbosity": "minimal"},
        "error": ['the service "missing@file" does not exist'],
        "status": "disabled",
        "using": ["http"],
    }
    assert doc["services"]["s@file"]["loadBalancer"]["passHostHeader"] is True
    (tmp_path / "dyn.yml").write_text(
        "http:\n  routers:\n    ok: {rule: 'Path(`/`)', service: s}\n  services:\n    s: {loadBalancer: {servers: []}}\n"
    )
    out = run("render", "--format", "yaml", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "status: enabled" in out.stdout


def test_render_reports_an_invalid_file_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "dyn.yml").write_text("http:\n  routers:\n    r:\n      rul: x\n")
    out = run("render", f"--providers.file.filename={tmp_path / 'dyn.yml'}", cwd=tmp_path)
    assert out.returncode == 1
    assert "dyn.yml:4" in out.stderr and "http.routers.r.rul: unknown key" in out.stderr


def test_static_errors_name_the_key_path(tmp_path: Path) -> None:
    out = run("--entryPoints.web.adress=:8000", cwd=tmp_path)
    assert out.returncode == 2
    assert "entryPoints.web.adress" in out.stderr
    out = run(cwd=tmp_path, env={"EDGEWAY_LOG_LEVEL": "LOUD"})
    assert out.returncode == 2 and "log.level" in out.stderr
    out = run("--api.debug=true", cwd=tmp_path)
    assert out.returncode == 2 and "api.debug" in out.stderr and "not supported" in out.stderr


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_run_healthcheck_and_graceful_stop_on_sigterm(tmp_path: Path) -> None:
    web, admin = free_port(), free_port()
    (tmp_path / "dyn.yml").write_text("http: {}\n")
    (tmp_path / "edgeway.yml").write_text(
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
    proc = subprocess.Popen(
        [EDGEWAY], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 20
        status = 0
        while time.monotonic() < deadline and status != 200:
            try:
                status = _get(f"http://127.0.0.1:{admin}/ping")
            except OSError:
                time.sleep(0.05)
        assert status == 200
        assert run("healthcheck", cwd=tmp_path).returncode == 0
        with urllib.request.urlopen(f"http://127.0.0.1:{admin}/api/http/routers", timeout=2) as r:
            names = {item["name"] for item in json.load(r)}
        assert {"api@internal", "ping@internal"} <= names
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert run("healthcheck", cwd=tmp_path).returncode == 1


def test_a_port_in_use_is_a_clear_start_up_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = run(
            f"--entryPoints.web.address=127.0.0.1:{port}",
            "--providers.file.filename=x.yml",
            cwd=tmp_path,
        )
    assert out.returncode == 1
    assert f"entry point 'web': cannot listen on 127.0.0.1:{port}" in out.stderr
    assert "Traceback" not in out.stderr  # one clear line, not a stack


def test_pip_install_of_the_two_distributions_gives_a_working_command(tmp_path: Path) -> None:
    """``pip install ./ ./plugins/file``: built (not editable), the command and the entry point work."""
    root = Path(__file__).resolve().parent.parent
    target = tmp_path / "site"
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
            str(root),
            str(root / "plugins" / "file"),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from edgeway.cli import main; sys.argv[0]='edgeway'; main()",
            "plugins",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    plugins = json.loads(out.stdout)
    file_plugin = next(p for p in plugins if p["name"] == "file")
    assert (
        str(target)
        in subprocess.run(
            [
                sys.executable,
                "-c",
                "import edgeway, edgeway_file; print(edgeway.__file__, edgeway_file.__file__)",
            ],
            env=env,
            capture_output=True,
            text=True,
            cwd=tmp_path,
        ).stdout
    )
    assert file_plugin["version"] == "0.1.0"
    script = (target / "bin" / "edgeway").read_text()
    assert "edgeway.cli" in script
