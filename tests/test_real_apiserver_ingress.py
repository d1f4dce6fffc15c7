"""The Ingress provider against the real kube-apiserver v1.20: issue 5's "Done means".

edgeway runs in-process with ``providers.kubernetesIngress`` and proxies to backends on
127.0.0.1 that EndpointSlices (``discovery.k8s.io/v1beta1``, all 1.20 serves) point
at; the admin creates, changes and deletes Ingresses, Services and slices, and
edgeway follows. It connects each way a user would: a kubeconfig; in-cluster style
(``KUBERNETES_SERVICE_HOST/PORT``, token and CA files) as the service account of
``deploy/kubernetes/`` with its RBAC, which the real server enforces; and through
``kubectl proxy`` (a plain ``http://`` endpoint, no credentials). Each mode writes
``ingressEndpoint.ip`` into the Ingress status, read back with ``kubectl``.

A second, private API server is stopped and started again to show edgeway keeps
serving the last configuration meanwhile and catches up afterwards.

The time from an Ingress write (the API call sent; it returns once etcd has it) to the
first request routed by it is printed (``pytest -s`` shows it).
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
import yaml
from edgeway_kubernetes.client import APIError, ClientConfig, KubeAPI, load_client_config
from edgeway_kubernetes.reflector import Backoff
from edgeway_kubernetes_ingress.provider import KubernetesIngressProvider
from real_apiserver import REPO, RealApiServer, running_apiserver
from support import Backend, Edgeway, backends, edgeway, get

pytestmark = pytest.mark.anyio

#: Generous: two shared cores, a real etcd behind every write.
DEADLINE = 30.0
STATUS_IP = "192.0.2.10"


# -- the admin's side --------------------------------------------------------------------


class Cluster:
    """Admin writes to the real API server (plain JSON, in a worker thread)."""

    PATHS = {
        "Namespace": "/api/v1/namespaces",
        "Service": "/api/v1/namespaces/{ns}/services",
        "EndpointSlice": "/apis/discovery.k8s.io/v1beta1/namespaces/{ns}/endpointslices",
        "Ingress": "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses",
    }

    def __init__(self, server: RealApiServer, ns: str) -> None:
        cfg = server.api_client().configuration
        self.api = KubeAPI(ClientConfig(cfg, "admin"))
        self.server = server
        self.ns = ns

    def _path(self, kind: str, name: str = "") -> str:
        base = self.PATHS[kind].format(ns=self.ns)
        return f"{base}/{name}" if name else base

    def _apply(self, obj: dict[str, Any]) -> None:
        kind, name = obj["kind"], obj["metadata"]["name"]
        try:
            self.api.json("POST", self._path(kind), body=obj)
        except APIError as exc:
            if exc.status != 409:
                raise
            current = self.api.json("GET", self._path(kind, name))
            obj["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            if kind == "Service":  # immutable once allocated
                obj["spec"]["clusterIP"] = current["spec"]["clusterIP"]
            self.api.json("PUT", self._path(kind, name), body=obj)

    async def apply(self, obj: dict[str, Any]) -> None:
        """Create ``obj``, or replace it when it exists."""
        await anyio.to_thread.run_sync(self._apply, obj)

    async def delete(self, kind: str, name: str) -> None:
        await anyio.to_thread.run_sync(lambda: self.api.json("DELETE", self._path(kind, name)))

    async def create_namespace(self) -> None:
        await anyio.to_thread.run_sync(
            lambda: self.api.json(
                "POST", self.PATHS["Namespace"], body={"metadata": {"name": self.ns}}
            )
        )


def service() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}  # fmt: skip


def endpoint_slice(backend: Backend) -> dict[str, Any]:
    """The Service's one slice, pointing at ``backend`` (no controller-manager writes slices)."""
    return {
        "apiVersion": "discovery.k8s.io/v1beta1", "kind": "EndpointSlice",
        "metadata": {"name": "web-1", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": backend.port, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
    }  # fmt: skip


def ingress(path: str = "/") -> dict[str, Any]:
    backend = {"service": {"name": "web", "port": {"name": "http"}}}
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "site"},
        "spec": {"rules": [{"http": {"paths": [{"path": path, "pathType": "Prefix", "backend": backend}]}}]},
    }  # fmt: skip


# -- edgeway's side ----------------------------------------------------------------------


async def until_status(port: int, target: str, status: int, backend: Backend | None = None) -> None:
    """Poll until ``target`` answers ``status`` (from ``backend``)."""
    with anyio.fail_after(DEADLINE):
        while True:
            reply = await get(port, target)
            if reply.status == status and (backend is None or backend.name.encode() in reply.body):
                return
            await anyio.sleep(0.005)


def provider_of(ew: Edgeway) -> KubernetesIngressProvider:
    provider = ew.kernel.providers["kubernetes"]
    assert isinstance(provider, KubernetesIngressProvider)
    return provider


@asynccontextmanager
async def running_edgeway(tmp: Path, ns: str, **options: Any) -> AsyncIterator[Edgeway]:
    """edgeway with the Ingress provider watching ``ns``, its reflectors reconnecting quickly."""
    provider = {
        "namespaces": [ns],
        "throttleDuration": "0s",
        "ingressEndpoint": {"ip": STATUS_IP},
        **options,
    }
    static = {"entryPoints": {"web": {"address": "127.0.0.1:0"}},
              "providers": {"providersThrottleDuration": "0s", "kubernetesIngress": provider}}  # fmt: skip
    async with edgeway(tmp, "{}", yaml.safe_dump(static)) as ew:
        kube = provider_of(ew)
        with anyio.fail_after(DEADLINE):
            while not kube.reflectors:
                await anyio.sleep(0.01)
        for reflector in kube.reflectors:
            reflector.backoff = Backoff(0.05, 0.5)
        yield ew


def kubectl_status(server: RealApiServer, ns: str) -> Any:
    out = server.kubectl("get", "ingress", "site", "-n", ns, "-o", "json").stdout
    return json.loads(out).get("status")


async def until_kubectl_status(server: RealApiServer, ns: str) -> Any:
    wanted = {"loadBalancer": {"ingress": [{"ip": STATUS_IP}]}}
    with anyio.fail_after(DEADLINE):
        while (status := await anyio.to_thread.run_sync(kubectl_status, server, ns)) != wanted:
            await anyio.sleep(0.1)
    return status


def report(label: str, seconds: float) -> None:
    print(f"\n[real kube-apiserver] {label}: {seconds * 1000:.1f} ms", flush=True)


# -- ways to connect ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def deployed(real_apiserver: RealApiServer) -> None:
    """``deploy/kubernetes/`` applied: the service account and its least-privilege RBAC."""
    real_apiserver.kubectl("apply", "-f", str(REPO / "deploy" / "kubernetes"))


@contextmanager
def kubectl_proxy(server: RealApiServer) -> Iterator[str]:
    """``kubectl proxy`` on a free port, as admin; yields its ``http://`` URL."""
    proc = subprocess.Popen(
        ["kubectl", f"--kubeconfig={server.kubeconfig}", "proxy", "--port=0", "--address=127.0.0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "Starting to serve on 127.0.0.1:PORT"
        match = re.search(r"127\.0\.0\.1:(\d+)", line)
        assert match, f"kubectl proxy: {line!r} {proc.stderr.read() if proc.stderr else ''}"
        yield f"http://127.0.0.1:{match.group(1)}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def connection(
    mode: str, server: RealApiServer, tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    """Set up the environment for ``mode``; yields extra provider options."""
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp / "no-such-kubeconfig"))
    if mode == "kubeconfig":
        monkeypatch.setenv("KUBECONFIG", str(server.kubeconfig))
        yield {}
    elif mode == "in-cluster":
        sa = tmp / "serviceaccount"
        sa.mkdir()
        token = server.kubectl("create", "token", "edgeway", "-n", "edgeway").stdout.strip()
        (sa / "token").write_text(token + "\n")
        (sa / "ca.crt").write_bytes(server.ca_file.read_bytes())
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(server.port))
        import edgeway_kubernetes.provider as provider_module

        # A pod's files are at SERVICE_ACCOUNT_DIR; here they are in the test's directory.
        monkeypatch.setattr(provider_module, "load_client_config",
                            functools.partial(load_client_config, service_account_dir=str(sa)))  # fmt: skip
        yield {}
    else:
        with kubectl_proxy(server) as url:
            yield {"endpoint": url}


@pytest.mark.parametrize("mode", ["kubeconfig", "in-cluster", "kubectl-proxy"])
async def test_follows_ingresses_services_and_slices(
    real_apiserver: RealApiServer,
    deployed: None,
    mode: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cluster = Cluster(real_apiserver, f"e2e-{mode}-{uuid.uuid4().hex[:6]}")
    await cluster.create_namespace()
    async with backends("a", "b") as (a, b):
        await cluster.apply(service())
        await cluster.apply(endpoint_slice(a))
        with connection(mode, real_apiserver, tmp_path, monkeypatch) as options:
            async with running_edgeway(tmp_path, cluster.ns, **options) as ew:
                kube = provider_of(ew)
                assert kube.client_config.source.startswith(
                    {
                        "kubeconfig": "kubeconfig",
                        "in-cluster": "in-cluster",
                        "kubectl-proxy": "endpoint http://",
                    }[mode]
                )
                port = ew.port()
                assert (await get(port, "/")).status == 404

                start = time.monotonic()
                await cluster.apply(ingress("/"))  # created
                await until_status(port, "/anything", 200, a)
                created = time.monotonic() - start
                await cluster.apply(endpoint_slice(b))  # the slice now points at b
                await until_status(port, "/", 200, b)
                start = time.monotonic()
                await cluster.apply(ingress("/api"))  # the Ingress changed
                await until_status(port, "/api/x", 200, b)
                changed = time.monotonic() - start
                assert (await get(port, "/")).status == 404

                await cluster.delete("EndpointSlice", "web-1")  # no endpoints: the path is skipped
                await until_status(port, "/api/x", 404)
                await cluster.apply(endpoint_slice(a))
                await until_status(port, "/api/x", 200, a)
                await cluster.delete("Service", "web")  # unknown Service: skipped too
                await until_status(port, "/api/x", 404)
                await cluster.apply(service())
                await until_status(port, "/api/x", 200, a)

                status = await until_kubectl_status(real_apiserver, cluster.ns)
                assert status == {"loadBalancer": {"ingress": [{"ip": STATUS_IP}]}}
                assert kube.status_writer is not None and kube.status_writer.last_error is None

                await cluster.delete("Ingress", "site")
                await until_status(port, "/api/x", 404)
                assert all(r.last_error is None for r in kube.reflectors)
    report(f"{mode}: Ingress created -> first routed request", created)
    report(f"{mode}: Ingress changed -> first routed request", changed)


async def test_serves_the_last_configuration_while_the_api_server_is_stopped(
    real_apiserver: RealApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A private API server (the session's stays up for the other tests)."""
    with running_apiserver(tmp_path / "k8s") as server:
        monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
        monkeypatch.setenv("KUBECONFIG", str(server.kubeconfig))
        cluster = Cluster(server, "outage")
        await cluster.create_namespace()
        async with backends("a", "b") as (a, b):
            for obj in (service(), endpoint_slice(a), ingress()):
                await cluster.apply(obj)
            async with running_edgeway(tmp_path, cluster.ns) as ew:
                kube = provider_of(ew)
                port = ew.port()
                await until_status(port, "/", 200, a)
                await until_kubectl_status(server, cluster.ns)
                reloads = ew.kernel.state.reloads

                await anyio.to_thread.run_sync(server.stop)
                with anyio.fail_after(DEADLINE):  # every reflector noticed
                    while not all(r.last_error for r in kube.reflectors):
                        await anyio.sleep(0.05)
                for _ in range(3):
                    assert (await get(port, "/")).status == 200
                assert ew.kernel.state.reloads == reloads  # nothing was emitted meanwhile

                await anyio.to_thread.run_sync(server.start)
                await cluster.apply(endpoint_slice(b))
                await until_status(port, "/", 200, b)
                with anyio.fail_after(DEADLINE):
                    while any(r.last_error for r in kube.reflectors):
                        await anyio.sleep(0.05)
                start = time.monotonic()
                await cluster.apply(ingress("/api"))
                await until_status(port, "/api/x", 200, b)
                changed = time.monotonic() - start
    report("after a restart: Ingress changed -> first routed request", changed)
