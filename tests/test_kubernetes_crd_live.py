"""The CRD provider live against the test API server: traffic through every route kind, status, cross-namespace.

The official client talks to :class:`edgeway_kubernetes.testing.FakeAPIServer`
over real sockets; the scenarios (``crd_scenarios.py``) run the same way against
the real kube-apiserver in ``test_real_apiserver_crd.py``.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
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
from edgeway_kubernetes.reflector import Backoff
from edgeway_kubernetes.testing import FakeAPIServer
from support import Edgeway, backends, edgeway
from tcp_support import tcp_backends, udp_backends

pytestmark = pytest.mark.anyio


class FakeCluster:
    slice_version = "v1"

    def __init__(self, server: FakeAPIServer) -> None:
        self.server = server

    async def apply(self, obj: dict[str, Any]) -> None:
        self.server.apply(obj)

    async def delete(self, kind: str, namespace: str, name: str) -> None:
        self.server.delete(kind, namespace, name)

    async def read(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self.server.get(kind, namespace, name)


@asynccontextmanager
async def live(tmp: Path, server: FakeAPIServer, **options: Any) -> AsyncIterator[Edgeway]:
    async with edgeway(
        tmp,
        FILE_DYNAMIC,
        static_configuration(tmp, endpoint=server.url, **options),
        plugins=example_plugin(),
    ) as ew:
        for reflector in ew.kernel.providers[
            "kubernetescrd"
        ].reflectors:  # reconnect quickly in tests
            reflector.backoff = Backoff(0.05, 0.5)
        yield ew


async def test_http_routes_middlewares_and_traefik_services(tmp_path: Path) -> None:
    async with backends("a", "b", "m") as (a, b, m):
        with FakeAPIServer() as server:
            async with live(tmp_path, server) as ew:
                await http_routes_and_traefik_services(FakeCluster(server), ew, a, b, m)


async def test_status_conditions_appear_and_clear(tmp_path: Path) -> None:
    async with backends("a") as (a,):
        with FakeAPIServer() as server:
            async with live(tmp_path, server) as ew:
                await status_follows_fixes(FakeCluster(server), ew, a)
                # Steady state: once a round has caught up, further rebuilds (pokes by an
                # unrelated ConfigMap) write no status.
                crd = ew.kernel.providers["kubernetescrd"]

                async def round_after_poke(n: int) -> int:
                    rounds = crd.status_rounds
                    server.apply(
                        {
                            "apiVersion": "v1",
                            "kind": "ConfigMap",
                            "metadata": {"name": f"poke{n}", "namespace": NS},
                        }
                    )
                    with anyio.fail_after(10):
                        while crd.status_rounds == rounds:
                            await anyio.sleep(0.01)
                    return sum(w.writes for w in crd.status_writers.values())

                writes = await round_after_poke(1)
                assert await round_after_poke(2) == writes
                assert await round_after_poke(3) == writes


@pytest.mark.parametrize("allowed", [False, True], ids=["refused", "allowCrossNamespace"])
async def test_cross_namespace_references(tmp_path: Path, allowed: bool) -> None:
    async with backends("a") as (a,):
        with FakeAPIServer() as server:
            async with live(tmp_path, server, allowCrossNamespace=allowed) as ew:
                await cross_namespace(FakeCluster(server), ew, a, allowed)


async def test_tcp_sni_passthrough_and_udp(tmp_path: Path) -> None:
    ca = trustme.CA()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("pass.test").configure_cert(ctx)
    async with (
        tcp_backends("T", ssl_context=ctx) as (tls_backend,),
        udp_backends("U") as (udp_backend,),
    ):
        with FakeAPIServer() as server:
            async with live(tmp_path, server) as ew:
                await tcp_passthrough_and_udp(FakeCluster(server), ew, ca, tls_backend, udp_backend)


@pytest.mark.parametrize("allow_empty", [True, False], ids=["allowEmptyServices", "default"])
async def test_service_without_endpoints(tmp_path: Path, allow_empty: bool) -> None:
    with FakeAPIServer() as server:
        async with live(tmp_path, server, allowEmptyServices=allow_empty) as ew:
            await empty_service(FakeCluster(server), ew, allow_empty)


async def test_plugin_middleware_and_tls_from_a_secret(tmp_path: Path) -> None:
    async with backends("a") as (a,):
        with FakeAPIServer() as server:
            async with live(tmp_path, server) as ew:
                await plugin_middleware_and_tls_secret(FakeCluster(server), ew, a, trustme.CA())
