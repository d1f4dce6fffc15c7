"""A real Kubernetes control plane (kube-apiserver v1.20.2 + etcd) on loopback for tests.

The test server of ``edgeway_kubernetes.testing`` speaks the API as we understand it;
this one is the real thing, so RBAC, validation and watch semantics are Kubernetes'
own. It is started by ``../shared/tools/k8s/start-apiserver.sh`` (beside the repo; see
BUILD.md there) with its own state directory and ports, so parallel runs do not collide.
``scripts/test-deps.sh`` builds the binary under ``CI=true`` or ``EDGEWAY_TEST_REAL_K8S=1``.

Tests take the session fixture ``real_apiserver`` (registered for every test directory
by the repo's root ``conftest.py``). When a tool is missing they are skipped with the
reason, and fail instead under ``CI=true`` or ``EDGEWAY_TEST_REAL_K8S=1``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
K8S_TOOLS = REPO.parent / "shared" / "tools" / "k8s"
START_SCRIPT = K8S_TOOLS / "start-apiserver.sh"
K8S_BIN = Path(os.environ.get("K8S_BIN", "/opt/k8s/bin"))
#: start-apiserver.sh waits for /readyz; etcd + apiserver are ready in 4-7 s when idle.
START_TIMEOUT = 180


def required() -> bool:
    """Whether the real API server tests must run (CI, or asked for) rather than skip."""
    return os.environ.get("CI") == "true" or os.environ.get("EDGEWAY_TEST_REAL_K8S") == "1"


def missing_tools() -> list[str]:
    """What is missing to run the real API server, each with how to get it."""
    problems = []
    if not START_SCRIPT.is_file():
        problems.append(f"no {START_SCRIPT} (the shared tools must sit beside the repo)")
    if not os.access(K8S_BIN / "kube-apiserver", os.X_OK):
        problems.append(
            f"no {K8S_BIN}/kube-apiserver (build it: EDGEWAY_TEST_REAL_K8S=1 sh scripts/test-deps.sh)"
        )
    for tool, package in (("etcd", "etcd-server"), ("kubectl", "kubernetes-client"),
                          ("openssl", "openssl"), ("curl", "curl")):  # fmt: skip
        if shutil.which(tool) is None:
            problems.append(f"no {tool} on PATH (apt-get install {package})")
    if importlib.util.find_spec("kubernetes") is None:
        problems.append("no `kubernetes` Python package (make install)")
    return problems


@dataclass(frozen=True)
class RealApiServer:
    """A running control plane: where it listens and how to talk to it as admin."""

    state: Path
    port: int
    kubeconfig: Path
    etcd_port: int = 0

    def _env(self) -> dict[str, str]:
        return {**os.environ, "K8S_BIN": str(K8S_BIN), "K8S_STATE": str(self.state),
                "API_PORT": str(self.port), "ETCD_PORT": str(self.etcd_port)}  # fmt: skip

    def start(self) -> None:
        """Start etcd + kube-apiserver (again: same ports, state and credentials) and wait until ready."""
        proc = subprocess.run(
            ["bash", str(START_SCRIPT), "start", str(self.kubeconfig)],
            env=self._env(), capture_output=True, text=True, timeout=START_TIMEOUT, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(f"start-apiserver.sh failed ({proc.returncode}):\n{proc.stderr}")

    def stop(self) -> None:
        """Stop kube-apiserver and etcd; their state stays for :meth:`start`."""
        subprocess.run(["bash", str(START_SCRIPT), "stop"], env=self._env(),
                       capture_output=True, timeout=60, check=False)  # fmt: skip

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.state / "pki" / "ca.crt"

    @property
    def admin_token(self) -> str:
        return (self.state / "admin.token").read_text()

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run kubectl as admin; ``check`` raises with kubectl's stderr on failure."""
        proc = subprocess.run(
            ["kubectl", f"--kubeconfig={self.kubeconfig}", *args],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{proc.stderr}")
        return proc

    def api_client(self, token: str | None = None) -> Any:
        """An official-client ``ApiClient`` with ``token`` (default: the admin token)."""
        from kubernetes import client

        cfg = client.Configuration()
        cfg.host = self.url
        cfg.ssl_ca_cert = str(self.ca_file)
        cfg.api_key = {"authorization": token if token is not None else self.admin_token}
        cfg.api_key_prefix = {"authorization": "Bearer"}
        return client.ApiClient(cfg)


def free_port(pairs: bool = False) -> int:
    """A free loopback port from the OS; with ``pairs`` port+1 is free too (etcd's peer)."""
    for _ in range(50):
        with closing(socket.socket()) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
            if not pairs:
                return port
            with closing(socket.socket()) as t:
                try:
                    t.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free pair of loopback ports")


@contextmanager
def running_apiserver(state: Path) -> Iterator[RealApiServer]:
    """Start etcd + kube-apiserver with state under ``state``; stop them on exit."""
    server = RealApiServer(state=state, port=free_port(), kubeconfig=state / "kubeconfig",
                           etcd_port=free_port(pairs=True))  # fmt: skip
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def real_apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealApiServer]:
    """The session's real control plane (skipped, or failed under CI, without the tools)."""
    problems = missing_tools()
    if problems:
        reason = "real kube-apiserver unavailable: " + "; ".join(problems)
        if required():
            pytest.fail(reason)
        pytest.skip(reason)
    with running_apiserver(tmp_path_factory.mktemp("kube-apiserver")) as server:
        yield server
