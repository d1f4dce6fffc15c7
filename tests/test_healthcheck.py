"""``edgeway healthcheck``, the container probe of deploy/kubernetes: exit 0 when the
running edgeway's ``/ping`` answers 200, 1 with a clear message when it does not (not
ready yet, terminating, unreachable, misconfigured); and it starts fast."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

from support import free_port
from test_cli import EDGEWAY, run


def _flags(port: int) -> list[str]:
    return [f"--entryPoints.traefik.address=127.0.0.1:{port}", "--ping=true"]


@contextlib.contextmanager
def _edgeway(tmp: Path, *args: str) -> Iterator[subprocess.Popen[str]]:
    (tmp / "dyn.yml").write_text("http: {}\n")
    proc = subprocess.Popen(
        [EDGEWAY, *args, "--log.level=ERROR"], cwd=tmp, text=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _until(args: list[str], cwd: Path, rc: int, text: str) -> subprocess.CompletedProcess[str]:
    """Run the healthcheck until it exits ``rc`` saying ``text`` (the proxy is starting)."""
    deadline = time.monotonic() + 20
    while True:
        out = run("healthcheck", *args, cwd=cwd)
        if out.returncode == rc and text in out.stdout + out.stderr:
            return out
        assert time.monotonic() < deadline, out
        time.sleep(0.05)


def test_ready_is_0_and_terminating_is_1(tmp_path: Path) -> None:
    port = free_port()
    grace = "--entryPoints.traefik.transport.lifeCycle.requestAcceptGraceTimeout=20s"
    with _edgeway(tmp_path, *_flags(port), grace, "--providers.file.filename=dyn.yml") as proc:
        ok = _until(_flags(port), tmp_path, 0, "OK:")
        assert ok.stdout == f"OK: http://127.0.0.1:{port}/ping\n" and ok.stderr == ""
        proc.terminate()  # ping answers ping.terminatingStatusCode while the grace lasts
        out = _until(_flags(port), tmp_path, 1, "503")
        assert out.stderr == (
            "edgeway: bad healthcheck status: 503 Service Unavailable "
            f"(HEAD http://127.0.0.1:{port}/ping)\n"
        )


def test_not_ready_until_every_provider_delivered(tmp_path: Path) -> None:
    port, k8s = free_port(), free_port()  # nothing listens on k8s: no first configuration
    kube = [f"--providers.kubernetesIngress.endpoint=http://127.0.0.1:{k8s}",
            "--providers.kubernetesIngress.token=t"]  # fmt: skip
    with _edgeway(tmp_path, *_flags(port), *kube):
        # No configuration applied yet: no ping router either (Traefik answers 404 then too).
        out = _until(_flags(port), tmp_path, 1, "bad healthcheck status")
        assert "edgeway: bad healthcheck status: 404 Not Found" in out.stderr


def test_unreachable_is_1_with_the_url_and_the_error(tmp_path: Path) -> None:
    port = free_port()
    out = run("healthcheck", *_flags(port), cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr.startswith(
        f"edgeway: error calling healthcheck: HEAD http://127.0.0.1:{port}/ping: "
    )
    assert "Connection refused" in out.stderr and "Traceback" not in out.stderr


def test_without_ping_or_its_entry_point_is_1(tmp_path: Path) -> None:
    out = run("healthcheck", "--entryPoints.web.address=:8000", cwd=tmp_path)
    assert (out.returncode, out.stderr) == (
        1, "edgeway: please enable `ping` to use health check\n",
    )  # fmt: skip
    out = run("healthcheck", "--ping.entryPoint=admin", "--entryPoints.web.address=:8000",
              cwd=tmp_path)  # fmt: skip
    assert (out.returncode, out.stderr) == (1, "edgeway: ping: missing admin entry point\n")


def test_a_configuration_file_with_plugin_sections_is_understood(tmp_path: Path) -> None:
    """The probe loads plugins only when the configuration needs them (here: the file
    provider, a plugin), and then reads it as ``edgeway`` does."""
    port = free_port()
    (tmp_path / "edgeway.yml").write_text(
        textwrap.dedent(
            f"""
            entryPoints:
              traefik: {{address: "127.0.0.1:{port}"}}
            ping: {{}}
            providers:
              file: {{filename: dyn.yml}}
            """
        )
    )
    with _edgeway(tmp_path):
        assert _until([], tmp_path, 0, "OK:").stdout == f"OK: http://127.0.0.1:{port}/ping\n"


def test_starts_fast_without_the_plugins(tmp_path: Path) -> None:
    """The deployment's probe flags are read without importing the plugins or the
    dynamic configuration models (most of edgeway's start-up time)."""
    probe = textwrap.dedent(
        f"""
        import sys, time
        start = time.perf_counter()
        from edgeway.cli import main
        try:
            main(["healthcheck", "--entryPoints.traefik.address=127.0.0.1:{free_port()}",
                  "--ping=true"])
        except SystemExit as exc:
            assert exc.code == 1, exc.code
        heavy = sorted(m for m in sys.modules if m.startswith(
            ("edgeway.config.dynamic", "edgeway.middlewares", "edgeway_", "edgeway.kernel")))
        print(heavy, round(time.perf_counter() - start, 3))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    heavy, _seconds = out.stdout.rsplit(" ", 1)
    assert heavy == "[]", out.stdout + out.stderr
