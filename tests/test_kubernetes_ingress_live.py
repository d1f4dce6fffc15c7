"""The Ingress provider live: edgeway watches a test API server and proxies to what it says.

The official client talks to :class:`edgeway_kubernetes.testing.FakeAPIServer`
over real sockets; backends listen on 127.0.0.1 and are referenced from
EndpointSlices, as a cluster's pods would be.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
import trustme
from edgeway_kubernetes.client import load_client_config
from edgeway_kubernetes.reflector import Backoff
from edgeway_kubernetes.testing import FakeAPIServer
from edgeway_kubernetes_ingress.options import KubernetesIngressOptions
from edgeway_kubernetes_ingress.provider import KubernetesIngressProvider
from support import Backend, backends, edgeway, get

pytestmark = pytest.mark.anyio

SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: web, namespace: apps}
spec:
  ports: [{name: http, port: 80, targetPort: 8080}]
"""


def endpoint_slice(*targets: Backend, name: str = "web-1") -> str:
    port = targets[0].port if targets else 1
    endpoints = "".join(
        "\n- addresses: ['127.0.0.1']\n  conditions: {ready: true}" for _ in targets[:1]
    )
    return f"""
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {name}
  namespace: apps
  labels: {{kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{{name: http, port: {port}}}]
endpoints:{endpoints or " []"}
"""


def ingress(path: str = "/", name: str = "site") -> str:
    return f"""
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: {name}, namespace: apps}}
spec:
  rules:
  - http:
      paths:
      - path: {path}
        pathType: Prefix
        backend: {{service: {{name: web, port: {{name: http}}}}}}
"""


async def until_status(port: int, target: str, status: int, backend: str | None = None) -> float:
    """Poll until ``target`` answers ``status`` (from ``backend``); returns the seconds it took."""
    start = time.monotonic()
    with anyio.fail_after(10):
        while True:
            reply = await get(port, target)
            if reply.status == status and (backend is None or backend.encode() in reply.body):
                return time.monotonic() - start
            await anyio.sleep(0.005)


@asynccontextmanager
async def live(tmp: Path, server: FakeAPIServer, **options: Any) -> AsyncIterator[Any]:
    provider = {"endpoint": server.url, "throttleDuration": "0s", **options}
    static = f"entryPoints: {{web: {{address: '127.0.0.1:0'}}}}\nproviders: {{providersThrottleDuration: 0s, kubernetesIngress: {provider!r}}}\n"
    async with edgeway(tmp, "{}", static.replace("'", '"')) as ew:
        kube = ew.kernel.providers["kubernetes"]
        for reflector in kube.reflectors:  # reconnect quickly in tests
            reflector.backoff = Backoff(0.05, 0.5)
        yield ew


async def test_ingresses_services_and_slices_are_followed_live(tmp_path: Path, capsys: Any) -> None:
    async with backends("a", "b") as (a, b):
        with FakeAPIServer(SERVICE + "---" + endpoint_slice(a)) as server:
            async with live(tmp_path, server) as ew:
                port = ew.port()
                assert (await get(port, "/")).status == 404
                server.apply(ingress("/"))
                took = await until_status(port, "/anything", 200, "a")
                server.apply(endpoint_slice(b))
                await until_status(port, "/", 200, "b")
                server.apply(ingress("/api"))
                await until_status(port, "/", 404)
                assert (await get(port, "/api/x")).status == 200
                server.apply(endpoint_slice())  # no endpoint left: Traefik skips the path
                await until_status(port, "/api/x", 404)
                server.apply(endpoint_slice(a))
                await until_status(port, "/api/x", 200, "a")
                server.delete("Ingress", "apps", "site")
                await until_status(port, "/api/x", 404)
    with capsys.disabled():
        print(f"\n[kubernetes] Ingress created -> first routed request: {took * 1000:.1f} ms")


async def test_allow_empty_services_answers_503_not_404(tmp_path: Path) -> None:
    """A Service without endpoints: with ``allowEmptyServices`` its route stays and
    answers 503 (the service is there, nothing can serve it); without it, 404."""
    async with backends("a") as (a,):
        (tmp_path / "allow").mkdir()
        (tmp_path / "default").mkdir()
        with FakeAPIServer(SERVICE + "---" + endpoint_slice() + "---" + ingress()) as server:
            async with live(tmp_path / "allow", server, allowEmptyServices=True) as ew:
                port = ew.port()
                await until_status(port, "/", 503)
                server.apply(endpoint_slice(a))
                await until_status(port, "/", 200, "a")
                server.apply(endpoint_slice())
                await until_status(port, "/", 503)
            async with live(tmp_path / "default", server) as ew:
                await until_status(ew.port(), "/", 404)


async def test_terminating_endpoints_get_no_new_requests(tmp_path: Path) -> None:
    """An endpoint that is serving but terminating (a pod shutting down) becomes a
    fenced server: new requests go to the ready endpoint only. (The terminating one,
    127.0.0.2, has nothing listening: a request sent there would be a 502.)"""
    async with backends("b") as (b,):
        slices = f"""
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-1
  namespace: apps
  labels: {{kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{{name: http, port: {b.port}}}]
endpoints:
- addresses: ['127.0.0.2']
  conditions: {{ready: false, serving: true, terminating: true}}
- addresses: ['127.0.0.1']
  conditions: {{ready: true}}
"""
        with FakeAPIServer(SERVICE + "---" + slices + "---" + ingress()) as server:
            async with live(tmp_path, server) as ew:
                port = ew.port()
                await until_status(port, "/", 200, "b")
                servers = [
                    srv
                    for info in ew.runtime.services.values()
                    if info.config.loadBalancer
                    for srv in info.config.loadBalancer.servers or []
                ]
                assert sorted((srv.url, bool(srv.fenced)) for srv in servers) == [
                    (f"http://127.0.0.1:{b.port}", False),
                    (f"http://127.0.0.2:{b.port}", True),
                ]
                for _ in range(8):
                    assert (await get(port, "/")).status == 200


async def test_serving_continues_while_the_api_server_is_away_and_catches_up(
    tmp_path: Path,
) -> None:
    async with backends("a", "b") as (a, b):
        with FakeAPIServer(SERVICE + "---" + endpoint_slice(a) + "---" + ingress()) as server:
            async with live(tmp_path, server) as ew:
                port = ew.port()
                await until_status(port, "/", 200, "a")
                reloads = ew.kernel.state.reloads
                server.refuse_connections()
                kube = ew.kernel.providers["kubernetes"]
                with anyio.fail_after(10):  # every reflector noticed the outage
                    while not all(r.last_error for r in kube.reflectors):
                        await anyio.sleep(0.01)
                for _ in range(3):
                    assert (await get(port, "/")).status == 200
                assert ew.kernel.state.reloads == reloads  # nothing empty was emitted
                server.apply(endpoint_slice(b))  # changes while edgeway cannot see them,
                server.compact()  # and the history is gone: a re-list is needed
                server.accept_connections()
                await until_status(port, "/", 200, "b")
                with anyio.fail_after(10):
                    while any(r.last_error for r in kube.reflectors):
                        await anyio.sleep(0.01)
                assert sum(r.lists for r in kube.reflectors) > len(
                    kube.reflectors
                )  # re-listed after 410


async def test_ingress_status_is_written_once(tmp_path: Path) -> None:
    async with backends("a") as (a,):
        with FakeAPIServer(SERVICE + "---" + endpoint_slice(a) + "---" + ingress()) as server:
            async with live(tmp_path, server, ingressEndpoint={"hostname": "lb.example"}) as ew:
                server.wait_for(
                    lambda: bool((server.get("Ingress", "apps", "site") or {}).get("status"))
                )
                status = server.get("Ingress", "apps", "site")["status"]  # type: ignore[index]
                assert status == {"loadBalancer": {"ingress": [{"hostname": "lb.example"}]}}
                server.apply(ingress("/other"))  # a rebuild; the status is already right
                await until_status(ew.port(), "/other", 200, "a")
                writes = [(m, p) for m, p in server.requests if m in ("PUT", "PATCH")]
                assert writes == [
                    ("PUT", "/apis/networking.k8s.io/v1/namespaces/apps/ingresses/site/status")
                ]


async def collect(provider: KubernetesIngressProvider, predicate: Any) -> dict[str, Any]:
    """Run the provider until it emits a configuration matching ``predicate``."""
    found: list[dict[str, Any]] = []
    done = anyio.Event()

    def emit(config: dict[str, Any]) -> None:
        if predicate(config):
            found.append(config)
            done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(provider.run, emit)
        with anyio.fail_after(10):
            await done.wait()
        tg.cancel_scope.cancel()
    return found[0]


def has_router(config: dict[str, Any]) -> bool:
    return "apps-site" in "".join(config["http"]["routers"])


async def test_in_cluster_over_tls_with_the_service_account_token(tmp_path: Path) -> None:
    ca = trustme.CA()
    ctx = __import__("ssl").create_default_context(__import__("ssl").Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text("s3cret\n")
    ca.cert_pem.write_to_path(str(sa / "ca.crt"))
    with FakeAPIServer(SERVICE + "---" + ingress(), token="s3cret", ssl_context=ctx) as server:
        env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(server.port)}
        config = load_client_config(environ=env, service_account_dir=str(sa))
        assert config.host == server.url and config.source.startswith("in-cluster")
        provider = KubernetesIngressProvider(
            KubernetesIngressOptions(allowEmptyServices=True), client_config=config
        )
        assert has_router(await collect(provider, has_router))


async def test_kubeconfig(tmp_path: Path) -> None:
    with FakeAPIServer(SERVICE + "---" + ingress(), token="t0ken") as server:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(f"""
apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "{server.url}"}}}}]
users: [{{name: u, user: {{token: t0ken}}}}]
contexts: [{{name: x, context: {{cluster: c, user: u}}}}]
current-context: x
""")
        config = load_client_config(environ={"KUBECONFIG": str(kubeconfig)})
        provider = KubernetesIngressProvider(
            KubernetesIngressOptions(allowEmptyServices=True), client_config=config
        )
        assert has_router(await collect(provider, has_router))


async def test_snapshot_lists_once(tmp_path: Path) -> None:
    with FakeAPIServer(SERVICE + "---" + ingress()) as server:
        provider = KubernetesIngressProvider(
            KubernetesIngressOptions(endpoint=server.url, allowEmptyServices=True)
        )
        assert has_router(await provider.snapshot())
        assert not any("watch=" in p for _, p in server.requests)
