"""Traffic and status scenarios for the CRD provider, run against both API servers.

Each scenario takes a :class:`Cluster` (the admin's writes and reads: the test
API server or the real kube-apiserver) and a running edgeway whose
``providers.kubernetesCRD`` watches namespace :data:`NS`, with the file
provider holding :data:`FILE_DYNAMIC` (a basicAuth middleware ``auth@file``).
Backends listen on 127.0.0.1 and EndpointSlices point at them, as a cluster's
pods would be.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import importlib
import ssl
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import anyio
import trustme
import yaml
from support import Backend, Edgeway, get
from tcp_support import TCPBackend, UDPBackend, read_until, udp_client

NS = "apps"
DEADLINE = 30.0
#: ``user:pass`` for ``auth@file`` (an htpasswd SHA1 entry).
CREDENTIALS = "Basic " + base64.b64encode(b"user:pass").decode()
FILE_DYNAMIC = f"""
http:
  middlewares:
    auth:
      basicAuth:
        users: ["user:{{SHA}}{base64.b64encode(hashlib.sha1(b"pass").digest()).decode()}"]
"""


def example_plugin() -> dict[str, Any]:
    """The example middleware plugin (``stamp``) from its source folder, for ``edgeway(plugins=...)``."""
    folder = (
        Path(__file__).resolve().parents[1] / "examples" / "plugins" / "edgeway-example-middleware"
    )
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    return {"example-middleware": importlib.import_module("edgeway_example_middleware.plugin")}


def static_configuration(tmp: Path, **crd_options: Any) -> str:
    """edgeway's static configuration for the scenarios: entry points ``web``, ``websecure``,
    ``tcp`` and ``udp`` on free ports, the file provider on ``tmp/dynamic.yml`` (written
    with :data:`FILE_DYNAMIC`) and the CRD provider watching :data:`NS` and ``other``."""
    (tmp / "dynamic.yml").write_text(FILE_DYNAMIC)
    static = {
        "entryPoints": {
            "web": {"address": "127.0.0.1:0"},
            "websecure": {"address": "127.0.0.1:0"},
            "tcp": {"address": "127.0.0.1:0"},
            "udp": {"address": "127.0.0.1:0/udp"},
        },
        "providers": {
            "providersThrottleDuration": "0s",
            "file": {"filename": str(tmp / "dynamic.yml")},
            "kubernetesCRD": {"throttleDuration": "0s", "namespaces": [NS, "other"], **crd_options},
        },
    }
    return yaml.safe_dump(static)


class Cluster(Protocol):
    """The admin's side of an API server."""

    slice_version: str

    async def apply(self, obj: dict[str, Any]) -> None: ...

    async def delete(self, kind: str, namespace: str, name: str) -> None: ...

    async def read(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None: ...


# -- objects -------------------------------------------------------------------------------


def service(name: str, port: int = 80, protocol: str = "TCP", ns: str = NS) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"ports": [{"name": "main", "port": port, "protocol": protocol}]}}  # fmt: skip


def endpoint_slice(
    cluster: Cluster, svc: str, port: int, protocol: str = "TCP", ns: str = NS
) -> dict[str, Any]:
    """One slice of ``svc`` with one endpoint, 127.0.0.1:``port`` (no controller writes slices here)."""
    return {
        "apiVersion": f"discovery.k8s.io/{cluster.slice_version}", "kind": "EndpointSlice",
        "metadata": {"name": f"{svc}-1", "namespace": ns, "labels": {"kubernetes.io/service-name": svc}},
        "addressType": "IPv4",
        "ports": [{"name": "main", "port": port, "protocol": protocol}],
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
    }  # fmt: skip


async def backend_service(
    cluster: Cluster, name: str, port: int, protocol: str = "TCP", ns: str = NS
) -> None:
    await cluster.apply(service(name, protocol=protocol, ns=ns))
    await cluster.apply(endpoint_slice(cluster, name, port, protocol, ns))


def crd(kind: str, name: str, spec: dict[str, Any], ns: str = NS) -> dict[str, Any]:
    return {
        "apiVersion": "traefik.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def ingress_route(name: str, match: str, services: list[dict[str, Any]], middlewares: list[dict[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
    route: dict[str, Any] = {"match": match, "kind": "Rule", "services": services}
    if middlewares:
        route["middlewares"] = middlewares
    return crd("IngressRoute", name, {"entryPoints": ["web"], "routes": [route]})


# -- waiting -------------------------------------------------------------------------------


async def until_status(
    port: int, target: str, status: int, backend: str | None = None, **kw: Any
) -> Any:
    """Poll until ``target`` answers ``status`` (from ``backend``); returns the reply."""
    with anyio.fail_after(DEADLINE):
        while True:
            reply = await get(port, target, **kw)
            if reply.status == status and (backend is None or backend.encode() in reply.body):
                return reply
            await anyio.sleep(0.01)


async def until_ready(
    cluster: Cluster, kind: str, name: str, status: str, reason: str | None = None
) -> dict[str, Any]:
    """Poll the object until its Ready condition has ``status`` (and ``reason``); returns it."""
    condition: Any = None
    try:
        with anyio.fail_after(DEADLINE):
            while True:
                obj = await cluster.read(kind, NS, name) or {}
                conditions = (obj.get("status") or {}).get("conditions") or []
                condition = next((c for c in conditions if c.get("type") == "Ready"), None)
                if (
                    condition
                    and condition["status"] == status
                    and reason in (None, condition["reason"])
                ):
                    assert (obj.get("status") or {}).get("observedGeneration") == obj[
                        "metadata"
                    ].get("generation")
                    return condition
                await anyio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(
            f"{kind} {name}: Ready is {condition}, not {status}/{reason}"
        ) from None


# -- scenarios -----------------------------------------------------------------------------


async def http_routes_and_traefik_services(
    cluster: Cluster, ew: Edgeway, a: Backend, b: Backend, m: Backend
) -> None:
    """An IngressRoute with ``auth@file`` and a CRD Middleware; a weighted and a mirroring TraefikService."""
    port = ew.port()
    for name, backend in (("web-a", a), ("web-b", b), ("web-m", m)):
        await backend_service(cluster, name, backend.port)
    await cluster.apply(
        crd("Middleware", "add-header", {"headers": {"customResponseHeaders": {"X-Crd": "yes"}}})
    )
    await cluster.apply(ingress_route("site", "PathPrefix(`/site`)", [{"name": "web-a", "port": 80}],
                                      [{"name": "auth@file"}, {"name": "add-header"}]))  # fmt: skip
    await until_status(port, "/site", 401)
    reply = await until_status(port, "/site", 200, "a", headers=[("Authorization", CREDENTIALS)])
    assert reply.header("x-crd") == "yes"
    await until_ready(cluster, "IngressRoute", "site", "True", "Serving")

    await cluster.apply(crd("TraefikService", "split", {"weighted": {"services": [
        {"name": "web-a", "port": 80, "weight": 1}, {"name": "web-b", "port": 80, "weight": 1}]}}))  # fmt: skip
    await cluster.apply(
        ingress_route(
            "split", "PathPrefix(`/split`)", [{"name": "split", "kind": "TraefikService"}]
        )
    )
    await until_status(port, "/split", 200)
    seen = {(await get(port, "/split")).json()["server"] for _ in range(6)}
    assert len(seen) == 2, seen  # both sides of the split answer

    await cluster.apply(crd("TraefikService", "mirror", {"mirroring": {
        "name": "web-a", "port": 80, "mirrors": [{"name": "web-m", "port": 80, "percent": 100}]}}))  # fmt: skip
    await cluster.apply(
        ingress_route(
            "mirror", "PathPrefix(`/mirror`)", [{"name": "mirror", "kind": "TraefikService"}]
        )
    )
    await until_status(port, "/mirror/x", 200, "a")
    with anyio.fail_after(DEADLINE):
        while not any(r.target == "/mirror/x" for r in m.received):
            await anyio.sleep(0.01)
    await until_ready(cluster, "TraefikService", "mirror", "True")


async def status_follows_fixes(cluster: Cluster, ew: Edgeway, a: Backend) -> None:
    """Ready=False with the reason while something is missing; True once it is fixed."""
    port = ew.port()
    await cluster.apply(
        ingress_route("late", "PathPrefix(`/late`)", [{"name": "web-late", "port": 80}])
    )
    condition = await until_ready(cluster, "IngressRoute", "late", "False", "ServiceNotFound")
    assert "web-late" in condition["message"]
    await backend_service(cluster, "web-late", a.port)
    await until_status(port, "/late", 200, "a")
    await until_ready(cluster, "IngressRoute", "late", "True", "Serving")

    await backend_service(cluster, "web-mw", a.port)
    await cluster.apply(
        ingress_route(
            "mw", "PathPrefix(`/mw`)", [{"name": "web-mw", "port": 80}], [{"name": "missing"}]
        )
    )
    condition = await until_ready(cluster, "IngressRoute", "mw", "False", "MiddlewareNotFound")
    assert "apps-missing@kubernetescrd" in condition["message"]
    await cluster.apply(
        crd("Middleware", "missing", {"headers": {"customRequestHeaders": {"X-Fixed": "1"}}})
    )
    await until_status(port, "/mw", 200, "a")
    await until_ready(cluster, "IngressRoute", "mw", "True", "Serving")


async def cross_namespace(cluster: Cluster, ew: Edgeway, a: Backend, allowed: bool) -> None:
    """An IngressRoute using a Service of another namespace: refused (404, status) unless allowed."""
    port = ew.port()
    await backend_service(cluster, "web-other", a.port, ns="other")
    await cluster.apply(ingress_route("xns", "PathPrefix(`/xns`)", [{"name": "web-other", "namespace": "other", "port": 80}]))  # fmt: skip
    if allowed:
        await until_status(port, "/xns", 200, "a")
        await until_ready(cluster, "IngressRoute", "xns", "True")
    else:
        condition = await until_ready(
            cluster, "IngressRoute", "xns", "False", "CrossNamespaceForbidden"
        )
        assert "not in the parent resource namespace" in condition["message"]
        assert (await get(port, "/xns")).status == 404


async def tcp_passthrough_and_udp(
    cluster: Cluster, ew: Edgeway, ca: trustme.CA, tls_backend: TCPBackend, udp_backend: UDPBackend
) -> None:
    """An IngressRouteTCP passing TLS through by SNI, and an IngressRouteUDP."""
    await backend_service(cluster, "tls-echo", tls_backend.port)
    await cluster.apply(crd("IngressRouteTCP", "pass", {
        "entryPoints": ["tcp"], "tls": {"passthrough": True},
        "routes": [{"match": "HostSNI(`pass.test`)", "services": [{"name": "tls-echo", "port": 80}]}]}))  # fmt: skip
    tcp_port = ew.kernel.entrypoints["tcp"].port
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    with anyio.fail_after(DEADLINE):
        while True:
            try:
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", tcp_port, ssl=ctx, server_hostname="pass.test"
                )
                writer.write(b"hello")
                assert (
                    await read_until(reader, b"hello") == b"T:hello"
                )  # the backend's certificate, verified
                writer.close()
                break
            except (OSError, ssl.SSLError):
                await anyio.sleep(0.02)
    await until_ready(cluster, "IngressRouteTCP", "pass", "True")

    await backend_service(cluster, "udp-echo", udp_backend.port, protocol="UDP")
    await cluster.apply(crd("IngressRouteUDP", "echo", {
        "entryPoints": ["udp"], "routes": [{"services": [{"name": "udp-echo", "port": 80}]}]}))  # fmt: skip
    udp_port = ew.kernel.udp_entrypoints["udp"].port
    deadline = time.monotonic() + DEADLINE
    async with udp_client(udp_port) as client:
        while (answer := await client.ask(b"ping", timeout=0.2)) != b"U:ping":
            assert time.monotonic() < deadline, answer
    await until_ready(cluster, "IngressRouteUDP", "echo", "True")


async def empty_service(cluster: Cluster, ew: Edgeway, allow_empty: bool) -> None:
    """A Service without endpoints: 503 with ``allowEmptyServices``, else the route is skipped (404)."""
    await cluster.apply(service("web-empty"))
    await cluster.apply(
        ingress_route("empty", "PathPrefix(`/empty`)", [{"name": "web-empty", "port": 80}])
    )
    if allow_empty:
        await until_status(ew.port(), "/empty", 503)
        await until_ready(cluster, "IngressRoute", "empty", "True")
    else:
        await until_ready(cluster, "IngressRoute", "empty", "False", "NoEndpoints")
        assert (await get(ew.port(), "/empty")).status == 404


async def plugin_middleware_and_tls_secret(
    cluster: Cluster, ew: Edgeway, a: Backend, ca: trustme.CA
) -> None:
    """A Middleware's ``spec.plugin`` reaches a pip-installed middleware plugin; ``tls.secretName``
    (cert-manager's kind of Secret) serves the route's certificate."""
    await backend_service(cluster, "web-p", a.port)
    await cluster.apply(
        crd("Middleware", "stamp", {"plugin": {"stamp": {"header": "X-Stamp", "value": "crd"}}})
    )
    leaf = ca.issue_cert("secure.test")
    await cluster.apply({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": "secure-tls", "namespace": NS},
        "data": {"tls.crt": base64.b64encode(leaf.cert_chain_pems[0].bytes()).decode(),
                 "tls.key": base64.b64encode(leaf.private_key_pem.bytes()).decode()},
    })  # fmt: skip
    route = ingress_route(
        "secure", "Host(`secure.test`)", [{"name": "web-p", "port": 80}], [{"name": "stamp"}]
    )
    route["spec"]["entryPoints"] = ["websecure"]
    route["spec"]["tls"] = {"secretName": "secure-tls"}
    await cluster.apply(route)
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    port = ew.kernel.entrypoints["websecure"].port
    request = b"GET /x HTTP/1.1\r\nHost: secure.test\r\nConnection: close\r\n\r\n"
    with anyio.fail_after(DEADLINE):
        while True:
            try:
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", port, ssl=ctx, server_hostname="secure.test"
                )
            except (OSError, ssl.SSLError):  # the default certificate until the Secret is served
                await anyio.sleep(0.02)
                continue
            writer.write(request)
            answer = await reader.read()
            writer.close()
            if answer.startswith(b"HTTP/1.1 200"):
                break
            await anyio.sleep(0.02)
    assert b"\r\nX-Stamp: crd\r\n" in answer
    await until_ready(cluster, "Middleware", "stamp", "True")
