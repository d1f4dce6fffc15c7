"""The CRD provider against the real kube-apiserver v1.20: issue 6's "Done means".

``deploy/kubernetes/`` is applied (edgeway's generated CRDs, the service account
and its least-privilege RBAC); edgeway connects in-cluster style as that
service account, so the real server enforces the RBAC on every list, watch and
status update. The scenarios of ``crd_scenarios.py`` then run as the admin
creates and fixes objects: IngressRoutes with a middleware from the file
provider, weighted and mirroring TraefikServices, an IngressRouteTCP passing
TLS through by SNI, an IngressRouteUDP, Ready conditions appearing and clearing,
a cross-namespace reference refused, a Service without endpoints, a
middleware plugin through ``spec.plugin`` and a route's TLS from a Secret.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
import trustme
from crd_scenarios import (
    FILE_DYNAMIC,
    NS,
    cross_namespace,
    empty_service,
    example_plugin,
    http_routes_and_traefik_services,
    plugin_middleware_and_tls_secret,
    static_configuration,
    status_follows_fixes,
    tcp_passthrough_and_udp,
)
from edgeway_kubernetes.client import APIError, ClientConfig, KubeAPI, load_client_config
from edgeway_kubernetes.reflector import Backoff
from edgeway_kubernetes_crd.provider import CRD_RESOURCES
from real_apiserver import REPO, RealApiServer
from support import backends, edgeway
from tcp_support import tcp_backends, udp_backends

pytestmark = pytest.mark.anyio

CORE = {
    "Namespace": "/api/v1/namespaces",
    "Secret": "/api/v1/namespaces/{ns}/secrets",
    "Service": "/api/v1/namespaces/{ns}/services",
    "ConfigMap": "/api/v1/namespaces/{ns}/configmaps",
    "EndpointSlice": "/apis/discovery.k8s.io/v1beta1/namespaces/{ns}/endpointslices",
}


class RealCluster:
    """Admin writes and reads on the real API server (plain JSON, in a worker thread)."""

    slice_version = "v1beta1"  # all 1.20 serves

    def __init__(self, server: RealApiServer) -> None:
        self.api = KubeAPI(ClientConfig(server.api_client().configuration, "admin"))

    def _path(self, kind: str, ns: str, name: str = "") -> str:
        base = CORE[kind].format(ns=ns) if kind in CORE else CRD_RESOURCES[kind].path(ns)
        return f"{base}/{name}" if name else base

    def _apply(self, obj: dict[str, Any]) -> None:
        kind, meta = obj["kind"], obj["metadata"]
        path = self._path(kind, meta.get("namespace", ""))
        try:
            self.api.json("POST", path, body=obj)
        except APIError as exc:
            if exc.status != 409:
                raise
            current = self.api.json("GET", f"{path}/{meta['name']}")
            obj = {
                **obj,
                "metadata": {**meta, "resourceVersion": current["metadata"]["resourceVersion"]},
            }
            if kind == "Service":  # immutable once allocated
                obj["spec"] = {**obj["spec"], "clusterIP": current["spec"]["clusterIP"]}
            self.api.json("PUT", f"{path}/{meta['name']}", body=obj)

    async def apply(self, obj: dict[str, Any]) -> None:
        await anyio.to_thread.run_sync(self._apply, obj)

    async def delete(self, kind: str, namespace: str, name: str) -> None:
        await anyio.to_thread.run_sync(
            lambda: self.api.json("DELETE", self._path(kind, namespace, name))
        )

    async def read(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        try:
            return await anyio.to_thread.run_sync(
                lambda: self.api.json("GET", self._path(kind, namespace, name))
            )
        except APIError as exc:
            if exc.status == 404:
                return None
            raise


async def test_crd_provider_against_the_real_api_server(
    real_apiserver: RealApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = real_apiserver
    server.kubectl("apply", "-f", str(REPO / "deploy" / "kubernetes"))
    server.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
    for ns in (NS, "other"):
        server.kubectl("create", "namespace", ns, check=False)

    # In-cluster, as the deployment's service account: the real RBAC applies.
    sa = tmp_path / "serviceaccount"
    sa.mkdir()
    token = server.kubectl("create", "token", "edgeway", "-n", "edgeway").stdout.strip()
    (sa / "token").write_text(token + "\n")
    (sa / "ca.crt").write_bytes(server.ca_file.read_bytes())
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(server.port))
    import edgeway_kubernetes.provider as provider_module

    monkeypatch.setattr(provider_module, "load_client_config",
                        functools.partial(load_client_config, service_account_dir=str(sa)))  # fmt: skip

    ca = trustme.CA()
    tls_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("pass.test").configure_cert(tls_ctx)
    cluster = RealCluster(server)
    async with (
        backends("a", "b", "m") as (a, b, m),
        tcp_backends("T", ssl_context=tls_ctx) as (tls_backend,),
        udp_backends("U") as (udp_backend,),
        edgeway(
            tmp_path, FILE_DYNAMIC, static_configuration(tmp_path), plugins=example_plugin()
        ) as ew,
    ):
        crd = ew.kernel.providers["kubernetescrd"]
        assert crd.client_config.source.startswith("in-cluster")
        for reflector in crd.reflectors:
            reflector.backoff = Backoff(0.05, 0.5)
        await http_routes_and_traefik_services(cluster, ew, a, b, m)
        await status_follows_fixes(cluster, ew, a)
        await cross_namespace(cluster, ew, a, allowed=False)
        await tcp_passthrough_and_udp(cluster, ew, ca, tls_backend, udp_backend)
        await empty_service(cluster, ew, allow_empty=False)
        await plugin_middleware_and_tls_secret(cluster, ew, a, ca)
        assert all(r.last_error is None for r in crd.reflectors)
        assert all(w.last_error is None for w in crd.status_writers.values())
    # kubectl shows the Ready column of the generated CRDs.
    out = server.kubectl("get", "ingressroutes", "-n", NS).stdout
    assert "READY" in out.upper() and "True" in out
