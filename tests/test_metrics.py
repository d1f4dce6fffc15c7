"""Prometheus metrics end to end: real entry points and backends, ``/metrics`` scraped
over HTTP and parsed with ``prometheus_client``'s parser."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml
from cryptography import x509
from edgeway.config.loader import load_static_configuration
from edgeway.config.static import StaticConfiguration, effective_configuration
from edgeway.plugins import load_plugins
from prometheus_client.parser import text_string_to_metric_families
from support import Client, Received, backends, edgeway, free_port, get
from tls_support import CA, https

pytestmark = pytest.mark.anyio

DEAD_PORT = free_port()
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def dynamic(url: str, routers: str = "", services: str = "", app: str = "app") -> str:
    """Router ``app`` (catch-all) to service ``app``, ``retried`` to a dead server, and extras."""
    return f"""
    http:
      routers:
        app: {{rule: "PathPrefix(`/`)", service: {app}}}
        retried: {{rule: "PathPrefix(`/retried`)", service: dead, middlewares: [retry]}}
        {routers}
      middlewares:
        retry: {{retry: {{attempts: 3}}}}
      services:
        {app}:
          loadBalancer:
            servers: [{{url: "{url}"}}]
        dead:
          loadBalancer:
            servers: [{{url: "http://127.0.0.1:{DEAD_PORT}"}}]
        {services}
    """


def metrics_static(**prometheus: Any) -> dict[str, Any]:
    """``web`` and ``traefik`` entry points (on free ports) and ``metrics.prometheus``."""
    return {
        "entryPoints": {"web": {"address": "127.0.0.1:0"}, "traefik": {"address": "127.0.0.1:0"}},
        "metrics": {"prometheus": prometheus},
    }


async def scrape(port: int, path: str = "/metrics") -> tuple[Samples, set[str]]:
    """The samples ``(name, labels) -> value`` and the family names of one scrape."""
    reply = await get(port, path)
    assert reply.status == 200, reply
    assert reply.header("Content-Type").startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    families = set()
    for family in text_string_to_metric_families(reply.body.decode()):
        families.add(family.name)
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples, families


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def series(samples: Samples, name: str) -> list[dict[str, str]]:
    return [dict(labels) for n, labels in samples if n == name]


async def test_entrypoint_and_service_metrics_with_traefiks_names(tmp_path: Path) -> None:
    async with backends("a") as (a,), edgeway(tmp_path, dynamic(a.url), **metrics_static()) as ew:
        for _ in range(3):
            assert (await get(ew.port(), "/x")).status == 200
        assert (await get(ew.port(), "/status/404")).status == 404
        client = await Client.connect(ew.port())
        assert (await client.request("POST", "/p", body=b"12345")).status == 200
        samples, families = await scrape(ew.port("traefik"))
        # the POST's connection is still open: it counts (the scrape's own too, on traefik)
        assert value(samples, "traefik_open_connections", entrypoint="web", protocol="TCP") == 1
        await client.close()

    ep = {"entrypoint": "web", "protocol": "http"}
    assert value(samples, "traefik_entrypoint_requests_total", code="200", method="GET", **ep) == 3
    assert value(samples, "traefik_entrypoint_requests_total", code="404", method="GET", **ep) == 1
    assert value(samples, "traefik_entrypoint_requests_total", code="200", method="POST", **ep) == 1
    assert value(samples, "traefik_entrypoint_requests_bytes_total", code="200", method="POST", **ep) == 5
    get_body = len(a.received[0].target) + len('{"server": "a", "method": "GET", "target": "", "body_len": 0}')
    assert value(samples, "traefik_entrypoint_responses_bytes_total", code="200", method="GET", **ep) == 3 * get_body
    # the histogram: Traefik's default buckets, every fast request in the first one
    for le in ("0.1", "0.3", "1.2", "5", "+Inf"):  # le as Go writes it
        assert value(samples, "traefik_entrypoint_request_duration_seconds_bucket", code="200", method="GET", le=le, **ep) == 3
    assert value(samples, "traefik_entrypoint_request_duration_seconds_count", code="200", method="GET", **ep) == 3
    total = value(samples, "traefik_entrypoint_request_duration_seconds_sum", code="200", method="GET", **ep)
    assert total is not None and 0 < total < 3

    svc = {"service": "app@file", "protocol": "http"}
    assert value(samples, "traefik_service_requests_total", code="200", method="GET", **svc) == 3
    assert value(samples, "traefik_service_requests_total", code="404", method="GET", **svc) == 1
    assert value(samples, "traefik_service_requests_bytes_total", code="200", method="POST", **svc) == 5
    assert value(samples, "traefik_service_request_duration_seconds_count", code="200", method="GET", **svc) == 3
    # the scrape itself goes to prometheus@internal: not counted (metrics.addInternals is off)
    assert not [s for s in series(samples, "traefik_entrypoint_requests_total") if s["entrypoint"] == "traefik"]
    # routers are not counted by default; nothing went over TLS
    assert not any(f.startswith("traefik_router_") for f in families)
    assert not series(samples, "traefik_entrypoint_requests_tls_total")
    assert value(samples, "traefik_config_reloads_total") == 1
    last = value(samples, "traefik_config_last_reload_success")
    assert last is not None and abs(last - time.time()) < 60
    apply = value(samples, "edgeway_config_apply_duration_seconds")
    assert apply is not None and 0 < apply < 10
    # no health check, no server_up (Traefik's health checkers set it)
    assert not series(samples, "traefik_service_server_up")
    assert "process_cpu_seconds" in families  # the process collector, as Traefik's


async def test_routers_labels_and_custom_buckets(tmp_path: Path) -> None:
    static = metrics_static(addRoutersLabels=True, buckets=[0.05, 0.5])
    async with backends("a") as (a,), edgeway(tmp_path, dynamic(a.url), **static) as ew:
        assert (await get(ew.port(), "/slow/150")).status == 200
        assert (await get(ew.port(), "/fast")).status == 200
        samples, _ = await scrape(ew.port("traefik"))
    labels = {"code": "200", "method": "GET", "protocol": "http", "router": "app@file", "service": "app@file"}
    assert value(samples, "traefik_router_requests_total", **labels) == 2
    assert value(samples, "traefik_router_request_duration_seconds_bucket", le="0.05", **labels) == 1
    assert value(samples, "traefik_router_request_duration_seconds_bucket", le="0.5", **labels) == 2
    assert value(samples, "traefik_router_request_duration_seconds_bucket", le="+Inf", **labels) == 2
    ep = {"code": "200", "method": "GET", "protocol": "http", "entrypoint": "web"}
    assert value(samples, "traefik_entrypoint_request_duration_seconds_bucket", le="0.05", **ep) == 1
    assert value(samples, "traefik_entrypoint_request_duration_seconds_bucket", le="0.1", **ep) is None


async def test_entrypoint_and_service_labels_off(tmp_path: Path) -> None:
    static = metrics_static(addEntryPointsLabels=False, addServicesLabels=False)
    async with backends("a") as (a,), edgeway(tmp_path, dynamic(a.url), **static) as ew:
        assert (await get(ew.port(), "/")).status == 200
        samples, families = await scrape(ew.port("traefik"))
    assert not any(f.startswith(("traefik_entrypoint_", "traefik_service_", "traefik_router_")) for f in families)
    assert value(samples, "traefik_config_reloads_total") == 1


async def test_entrypoint_option_and_add_internals(tmp_path: Path) -> None:
    static = {"metrics": {"addInternals": True, "prometheus": {"entryPoint": "web"}}}
    async with backends("a") as (a,), edgeway(tmp_path, dynamic(a.url), **static) as ew:
        assert "traefik" not in ew.kernel.entrypoints  # not needed: /metrics is on web
        await scrape(ew.port())
        samples, _ = await scrape(ew.port())
    # the first scrape was counted on web, with the prometheus@internal router
    labels = {"code": "200", "method": "GET", "protocol": "http", "entrypoint": "web"}
    assert value(samples, "traefik_entrypoint_requests_total", **labels) == 1


async def test_manual_routing(tmp_path: Path) -> None:
    metrics = 'metrics: {rule: "Path(`/custom-metrics`)", service: prometheus@internal}'
    static = {"metrics": {"prometheus": {"manualRouting": True}}}
    async with backends("a") as (a,), edgeway(tmp_path, dynamic(a.url, metrics), **static) as ew:
        assert "traefik" not in ew.kernel.entrypoints  # no /metrics router, so no such entry point
        reply = await get(ew.port(), "/metrics")  # the app's catch-all router
        assert reply.status == 200 and b"traefik_config_reloads_total" not in reply.body
        samples, _ = await scrape(ew.port(), "/custom-metrics")
    assert value(samples, "traefik_config_reloads_total") == 1


async def test_header_labels(tmp_path: Path) -> None:
    static = metrics_static(headerLabels={"tenant": "X-Tenant"}, addRoutersLabels=True)
    async with backends("a") as (a,), edgeway(tmp_path, dynamic(a.url), **static) as ew:
        assert (await get(ew.port(), "/", headers=[("X-Tenant", "acme")])).status == 200
        assert (await get(ew.port(), "/")).status == 200
        samples, _ = await scrape(ew.port("traefik"))
    ep = {"code": "200", "method": "GET", "protocol": "http", "entrypoint": "web"}
    assert value(samples, "traefik_entrypoint_requests_total", tenant="acme", **ep) == 1
    assert value(samples, "traefik_entrypoint_requests_total", tenant="", **ep) == 1
    router = {"code": "200", "method": "GET", "protocol": "http", "router": "app@file", "service": "app@file"}
    assert value(samples, "traefik_router_requests_total", tenant="acme", **router) == 1
    svc = {"code": "200", "method": "GET", "protocol": "http", "service": "app@file"}
    assert value(samples, "traefik_service_requests_total", tenant="acme", **svc) == 1
    # only the requests_total metrics get the extra label
    assert value(samples, "traefik_entrypoint_request_duration_seconds_count", **ep) == 2


async def test_protocols_methods_and_streamed_bodies(tmp_path: Path) -> None:
    def respond(rec: Received) -> tuple[int, list[tuple[str, str]], bytes]:
        if rec.header("Content-Type") == "application/grpc":
            return 200, [("Content-Type", "application/grpc"), ("Grpc-Status", "5")], b""
        return 200, [("Content-Type", "text/event-stream")], b"data: x\n\n"

    async with backends("a", "b") as (a, b):
        b.respond = respond
        dyn = dynamic(
            a.url,
            'other: {rule: "PathPrefix(`/s`)", service: sse}',
            f'sse: {{loadBalancer: {{servers: [{{url: "{b.url}"}}]}}}}',
        )
        async with edgeway(tmp_path, dyn, **metrics_static()) as ew:
            assert (await get(ew.port(), "/chunked")).body == b"chunk0;chunk1;chunk2;chunk3;chunk4;"
            assert (await get(ew.port(), "/s", headers=[("Accept", "text/html, text/event-stream")])).status == 200
            reply = await get(ew.port(), "/s/grpc", headers=[("Content-Type", "application/grpc")])
            assert reply.header("Grpc-Status") == "5"
            client = await Client.connect(ew.port())
            assert (await client.request("PROPFIND", "/")).status == 200
            await client.close()
            samples, _ = await scrape(ew.port("traefik"))
    ep = {"entrypoint": "web"}
    assert value(samples, "traefik_entrypoint_responses_bytes_total", code="200", method="GET", protocol="http", **ep) == 35
    assert value(samples, "traefik_entrypoint_requests_total", code="200", method="GET", protocol="sse", **ep) == 1
    assert value(samples, "traefik_entrypoint_requests_total", code="5", method="GET", protocol="grpc", **ep) == 1
    assert value(samples, "traefik_service_requests_total", code="5", method="GET", protocol="grpc", service="sse@file") == 1
    assert value(samples, "traefik_entrypoint_requests_total", code="200", method="EXTENSION_METHOD", protocol="http", **ep) == 1


async def test_server_up_follows_the_health_check(tmp_path: Path) -> None:
    healthy = {"ok": True}

    def respond(rec: Received) -> tuple[int, list[tuple[str, str]], bytes]:
        if rec.target == "/health":
            return (200 if healthy["ok"] else 503), [("Content-Length", "0")], b""
        return 200, [("Content-Length", "2")], b"ok"

    async with backends("a") as (a,):
        a.respond = respond
        dyn = f"""
        http:
          routers:
            app: {{rule: "PathPrefix(`/`)", service: app}}
          services:
            app:
              loadBalancer:
                servers: [{{url: "{a.url}"}}]
                healthCheck: {{path: /health, interval: 50ms, timeout: 1s}}
        """
        async with edgeway(tmp_path, dyn, **metrics_static()) as ew:
            samples, _ = await scrape(ew.port("traefik"))
            assert value(samples, "traefik_service_server_up", service="app@file", url=a.url) == 1
            healthy["ok"] = False
            with anyio.fail_after(5):
                while value(samples, "traefik_service_server_up", service="app@file", url=a.url) != 0:
                    await anyio.sleep(0.02)
                    samples, _ = await scrape(ew.port("traefik"))
            healthy["ok"] = True
            with anyio.fail_after(5):
                while value(samples, "traefik_service_server_up", service="app@file", url=a.url) != 1:
                    await anyio.sleep(0.02)
                    samples, _ = await scrape(ew.port("traefik"))


async def test_reloads_and_stale_series(tmp_path: Path) -> None:
    async with backends("a") as (a,), edgeway(tmp_path, dynamic(a.url), **metrics_static()) as ew:
        assert (await get(ew.port(), "/")).status == 200
        reloads = ew.kernel.state.reloads
        ew.write_dynamic(dynamic(a.url, app="app2"))
        await ew.wait_applied(reloads)
        assert (await get(ew.port(), "/")).status == 200
        first, _ = await scrape(ew.port("traefik"))
        second, _ = await scrape(ew.port("traefik"))
    svc = {"code": "200", "method": "GET", "protocol": "http"}
    assert value(first, "traefik_config_reloads_total") == 2
    # the removed service is exported once more, then dropped (Traefik's promState)
    assert value(first, "traefik_service_requests_total", service="app@file", **svc) == 1
    assert value(second, "traefik_service_requests_total", service="app@file", **svc) is None
    assert value(second, "traefik_service_requests_total", service="app2@file", **svc) == 1
    # the entry point's counters survive the reload
    assert value(second, "traefik_entrypoint_requests_total", entrypoint="web", **svc) == 2


async def test_tls_requests_and_certificates_not_after(tmp_path: Path) -> None:
    ca = CA(tmp_path)
    ca.issue("b.example.com", "a.example.com")
    async with backends("a") as (a,):
        dyn = f"""
        http:
          routers:
            secure: {{rule: "PathPrefix(`/`)", service: app, tls: {{}}}}
          services:
            app: {{loadBalancer: {{servers: [{{url: "{a.url}"}}]}}}}
        tls:
          certificates:
            - {{certFile: b.example.com.crt, keyFile: b.example.com.key}}
        """
        async with edgeway(tmp_path, dyn, **metrics_static(addRoutersLabels=True)) as ew:
            client, tls = await https(ew.port(), "a.example.com", ca.client_context())
            assert (await client.request(target="/", host="a.example.com")).status == 200
            await client.close()
            samples, _ = await scrape(ew.port("traefik"))
    cert = x509.load_pem_x509_certificate((tmp_path / "b.example.com.crt").read_bytes())
    (labels,) = series(samples, "traefik_tls_certs_not_after")
    assert labels == {"cn": "", "serial": str(cert.serial_number), "sans": "a.example.com,b.example.com"}
    assert value(samples, "traefik_tls_certs_not_after", **labels) == int(cert.not_valid_after_utc.timestamp())
    version, cipher = tls.version(), tls.cipher()[0]
    assert version == "TLSv1.3"
    go_cipher = {"TLS_AES_128_GCM_SHA256": "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384": "TLS_AES_256_GCM_SHA384",
                 "TLS_CHACHA20_POLY1305_SHA256": "TLS_CHACHA20_POLY1305_SHA256"}[cipher]  # fmt: skip
    tls_labels = {"tls_version": "1.3", "tls_cipher": go_cipher}
    assert value(samples, "traefik_entrypoint_requests_tls_total", entrypoint="web", **tls_labels) == 1
    assert value(samples, "traefik_router_requests_tls_total", router="secure@file", service="app@file", **tls_labels) == 1
    assert value(samples, "traefik_service_requests_tls_total", service="app@file", **tls_labels) == 1


async def test_openmetrics_on_request(tmp_path: Path) -> None:
    async with backends("a") as (a,), edgeway(tmp_path, dynamic(a.url), **metrics_static()) as ew:
        reply = await get(ew.port("traefik"), "/metrics", headers=[("Accept", "application/openmetrics-text; version=1.0.0")])
    assert reply.header("Content-Type").startswith("application/openmetrics-text")
    assert reply.body.endswith(b"# EOF\n")


async def test_metrics_off_compiles_nothing_in(tmp_path: Path) -> None:
    async with backends("a") as (a,), edgeway(tmp_path, dynamic(a.url)) as ew:
        assert ew.kernel.metrics is None
        assert "prometheus@internal" not in ew.runtime.services
        assert (await get(ew.port(), "/metrics")).status == 200  # the app's router


@pytest.mark.parametrize(
    ("metrics", "error"),
    [
        ({"prometheus": {"buckets": [1, 0.5]}}, "increasing order"),
        ({"prometheus": {"headerLabels": {"code": "X-Code"}}}, "already used"),
        ({"prometheus": {"headerLabels": {"bad-name": "X-A"}}}, "not a valid Prometheus label name"),
        ({"datadog": {}}, "not supported by this version of edgeway"),
    ],
)
def test_static_errors(tmp_path: Path, metrics: dict[str, Any], error: str) -> None:
    (tmp_path / "edgeway.yml").write_text(yaml.safe_dump({"metrics": metrics}))
    with pytest.raises(Exception, match=error):
        load_static_configuration([f"--configFile={tmp_path / 'edgeway.yml'}"], {}, tmp_path, load_plugins().registry)


async def test_retries_counted_on_the_routers_service(tmp_path: Path) -> None:
    async with backends("a") as (a,), edgeway(tmp_path, dynamic(a.url), **metrics_static()) as ew:
        assert (await get(ew.port(), "/retried")).status == 502
        samples, _ = await scrape(ew.port("traefik"))
    assert value(samples, "traefik_service_retries_total", service="dead@file") == 2
    assert value(samples, "traefik_service_retries_total", service="app@file") is None
    # every attempt went through the dead server's meter
    assert value(samples, "traefik_service_requests_total", code="502", method="GET", protocol="http", service="dead@file") == 3


@pytest.mark.parametrize(
    ("prometheus", "created"),
    [({}, True), ({"manualRouting": True}, False), ({"entryPoint": "web"}, False)],
)
def test_traefik_entrypoint_created_for_metrics(prometheus: dict[str, Any], created: bool) -> None:
    """As Traefik's ``SetEffectiveConfiguration``: ``:8080`` when ``/metrics`` is routed to ``traefik``."""
    cfg = StaticConfiguration.model_validate(
        {"entryPoints": {"web": {"address": ":80"}}, "metrics": {"prometheus": prometheus}}
    )
    eps = effective_configuration(cfg).entryPoints
    assert ("traefik" in eps) is created
    if created:
        assert eps["traefik"].address == ":8080"
