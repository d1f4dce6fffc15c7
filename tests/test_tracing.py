"""Tracing end to end: a real entry point and backend, spans read back from an
in-process OTLP receiver (HTTP/protobuf, and gRPC), as a collector sees them."""

from __future__ import annotations

import ssl
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import anyio
import pytest
from edgeway.config.static import Tracing as TracingConfig
from edgeway.tracing import MIDDLEWARE_SPAN_NAMES, Tracing, TracingUnavailable
from otlp_support import CLIENT, ERROR, INTERNAL, SERVER, Receiver, Span, otlp_grpc, otlp_http
from support import Client, backends, edgeway, get

pytestmark = pytest.mark.anyio

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


async def collected(ew: Any, receiver: Receiver, count: int) -> list[Span]:
    """The spans once ``count`` have arrived (flushing the batch processor meanwhile)."""
    tracing = ew.kernel.tracing
    with anyio.fail_after(10):
        while True:
            await anyio.to_thread.run_sync(tracing.force_flush)
            with receiver.lock:
                if len(receiver.spans) >= count:
                    return list(receiver.spans)
            await anyio.sleep(0.01)


def by_name(spans: list[Span]) -> dict[str, Span]:
    return {s.name: s for s in spans}


def dynamic(url: str, **router: Any) -> str:
    extra = "".join(f", {k}: {v}" for k, v in router.items())
    return f"""
    http:
      routers:
        app: {{rule: "PathPrefix(`/`)", service: app{extra}}}
      middlewares:
        strip: {{stripPrefix: {{prefixes: [/api]}}}}
        hdr: {{headers: {{customRequestHeaders: {{X-Added: "1"}}}}}}
        both: {{chain: {{middlewares: [strip, hdr]}}}}
      services:
        app:
          loadBalancer:
            servers: [{{url: "{url}"}}]
    """


def tracing_static(receiver: Receiver, **opts: Any) -> dict[str, Any]:
    return {"tracing": {"otlp": {"http": {"endpoint": receiver.endpoint}}, **opts}}


def traceparent(received: Any) -> tuple[str, str, bool]:
    """The trace id, parent id and sampled flag of the ``traceparent`` a backend got
    (a parent's W3C level 2 "random trace id" flag, 0x02, is kept)."""
    value = received.header("traceparent")
    assert value is not None
    version, trace_id, span_id, flags = value.split("-")
    assert version == "00"
    return trace_id, span_id, bool(int(flags, 16) & 1)


# -- spans ----------------------------------------------------------------------------


async def test_entry_point_and_reverse_proxy_spans(tmp_path: Path) -> None:
    """Traefik's default verbosity (minimal): the entry point span and the
    ReverseProxy span, with the semantic-convention attributes."""
    opts = {
        "capturedRequestHeaders": ["x-test", "User-Agent"],
        "capturedResponseHeaders": ["content-type", "x-missing"],
        "safeQueryParams": ["page"],
        "resourceAttributes": {"deployment.environment": "test"},
    }
    with otlp_http() as rx:
        opts["otlp"] = {"http": {"endpoint": rx.endpoint, "headers": {"Authorization": "Bearer t"}}}
        async with backends("a") as (a,), edgeway(tmp_path, dynamic(a.url), tracing=opts) as ew:
            headers = [("User-Agent", "probe/1"), ("X-Test", "one"), ("X-Test", "two")]
            reply = await get(ew.port(), "/api/x%20y?token=secret&page=2&page=3", headers=headers)
            assert reply.status == 200
            spans = await collected(ew, rx, 2)
    assert len(spans) == 2
    names = by_name(spans)
    ep, proxy = names["GET"], names["ReverseProxy"]
    assert (ep.kind, proxy.kind) == (SERVER, CLIENT)
    assert proxy.trace_id == ep.trace_id and proxy.parent == ep.span_id and ep.parent == ""
    port = ep.attrs["client.port"]
    assert isinstance(port, int) and port > 0
    assert ep.attrs == {
        "entry_point": "web",
        "http.request.method": "GET",
        "network.protocol.version": "1.1",
        "http.request.body.size": 0,
        "url.path": "/api/x y",
        "url.query": "page=2&page=3&token=REDACTED",
        "url.scheme": "http",
        "user_agent.original": "probe/1",
        "server.address": "example.com",
        "client.address": "127.0.0.1",
        "network.peer.address": "127.0.0.1",
        "client.port": port,
        "network.peer.port": port,
        "http.request.header.x-test": ["one", "two"],
        "http.response.status_code": 200,
        "http.response.header.content-type": ["application/json"],
    }
    backend_port = int(a.url.rsplit(":", 1)[1])
    assert proxy.attrs["url.full"] == f"{a.url}/api/x%20y?page=2&page=3&token=REDACTED"
    assert proxy.attrs["server.address"] == proxy.attrs["network.peer.address"] == "127.0.0.1"
    assert proxy.attrs["server.port"] == proxy.attrs["network.peer.port"] == backend_port
    assert proxy.attrs["url.scheme"] == "http"
    assert proxy.attrs["http.request.method"] == "GET"
    assert proxy.attrs["user_agent.original"] == "probe/1"
    assert proxy.attrs["http.request.header.x-test"] == ["one", "two"]
    assert proxy.attrs["http.response.status_code"] == 200
    assert proxy.attrs["http.response.header.content-type"] == ["application/json"]
    assert ep.status == proxy.status == 0
    # The resource: Traefik's default service name, the user's attributes.
    assert ep.resource["service.name"] == "traefik"
    assert ep.resource["deployment.environment"] == "test"
    assert "telemetry.sdk.language" in ep.resource
    # The backend got the ReverseProxy span's context; the client's view of the
    # request is untouched (no traceparent leaks into the response).
    trace_id, span_id, flags = traceparent(a.received[0])
    assert (trace_id, span_id, flags) == (ep.trace_id, proxy.span_id, True)
    assert reply.header("traceparent") is None
    # OTLP/HTTP: /v1/traces when the endpoint has no path, gzip, the configured headers.
    path, sent = rx.requests[0]
    assert path == "/v1/traces"
    assert sent["authorization"] == "Bearer t"
    assert sent["content-encoding"] == "gzip"


async def test_detailed_verbosity_adds_router_middleware_and_service_spans(tmp_path: Path) -> None:
    obs = "{traceVerbosity: detailed}"
    with otlp_http() as rx:
        dyn = dynamic("URL", middlewares="[both]", observability=obs)
        async with backends("a") as (a,), edgeway(
            tmp_path, dyn.replace("URL", a.url), **tracing_static(rx)
        ) as ew:
            assert (await get(ew.port(), "/api/x")).status == 200
            spans = await collected(ew, rx, 6)
    names = [s.name for s in spans]
    assert sorted(names) == sorted(["GET", "Router", "StripPrefix", "Headers", "Service", "ReverseProxy"])
    s = by_name(spans)
    chain = ["GET", "Router", "StripPrefix", "Headers", "Service", "ReverseProxy"]
    for parent, child in zip(chain, chain[1:], strict=False):
        assert s[child].parent == s[parent].span_id, (parent, child)
        assert s[child].trace_id == s["GET"].trace_id
    assert [s[n].kind for n in chain] == [SERVER, INTERNAL, INTERNAL, INTERNAL, INTERNAL, CLIENT]
    assert s["Router"].attrs == {
        "traefik.router.name": "app@file",
        "traefik.service.name": "app@file",
        "http.route": "PathPrefix(`/`)",
    }
    assert s["StripPrefix"].attrs == {"traefik.middleware.name": "strip@file"}
    assert s["Headers"].attrs == {"traefik.middleware.name": "hdr@file"}
    assert s["Service"].attrs == {"traefik.service.name": "app@file"}
    # The middlewares ran: the stripped path went upstream.
    assert s["ReverseProxy"].attrs["url.full"] == f"{a.url}/x"
    assert traceparent(a.received[0])[1] == s["ReverseProxy"].span_id


async def test_incoming_traceparent_is_continued(tmp_path: Path) -> None:
    with otlp_http() as rx:
        async with backends("a") as (a,), edgeway(tmp_path, dynamic(a.url), **tracing_static(rx)) as ew:
            headers = [("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01"), ("tracestate", "vendor=x")]
            assert (await get(ew.port(), "/", headers=headers)).status == 200
            spans = await collected(ew, rx, 2)
    s = by_name(spans)
    assert s["GET"].trace_id == TRACE_ID and s["GET"].parent == PARENT_ID
    assert s["ReverseProxy"].trace_id == TRACE_ID
    trace_id, span_id, _ = traceparent(a.received[0])
    assert (trace_id, span_id) == (TRACE_ID, s["ReverseProxy"].span_id)
    assert len(a.received[0].header_all("traceparent")) == 1
    assert a.received[0].header("tracestate") == "vendor=x"


async def test_sample_rate_zero_exports_nothing_but_propagates(tmp_path: Path) -> None:
    with otlp_http() as rx:
        async with backends("a") as (a,), edgeway(
            tmp_path, dynamic(a.url), **tracing_static(rx, sampleRate=0)
        ) as ew:
            for _ in range(3):
                assert (await get(ew.port(), "/")).status == 200
            assert await anyio.to_thread.run_sync(ew.kernel.tracing.force_flush)
            assert rx.spans == []
            # A trace context still goes upstream, marked not sampled.
            ids = {traceparent(r)[0] for r in a.received}
            assert len(ids) == 3 and not any(traceparent(r)[2] for r in a.received)
            # A sampled parent is respected (ParentBased sampler).
            headers = [("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01")]
            assert (await get(ew.port(), "/", headers=headers)).status == 200
            spans = await collected(ew, rx, 2)
    assert {s.trace_id for s in spans} == {TRACE_ID}
    assert traceparent(a.received[-1])[2]


async def test_sample_rate_one_traces_every_request(tmp_path: Path) -> None:
    with otlp_http() as rx:
        async with backends("a") as (a,), edgeway(tmp_path, dynamic(a.url), **tracing_static(rx)) as ew:
            for _ in range(3):
                assert (await get(ew.port(), "/")).status == 200
            spans = await collected(ew, rx, 6)
    assert len({s.trace_id for s in spans}) == 3
    assert all(traceparent(r)[2] for r in a.received)


async def test_unsampled_parent_is_respected(tmp_path: Path) -> None:
    with otlp_http() as rx:
        async with backends("a") as (a,), edgeway(tmp_path, dynamic(a.url), **tracing_static(rx)) as ew:
            headers = [("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-00")]
            assert (await get(ew.port(), "/", headers=headers)).status == 200
            assert (await get(ew.port(), "/")).status == 200
            spans = await collected(ew, rx, 2)
            assert await anyio.to_thread.run_sync(ew.kernel.tracing.force_flush)
    assert len(rx.spans) == 2 and TRACE_ID not in {s.trace_id for s in spans}
    assert traceparent(a.received[0])[0] == TRACE_ID and not traceparent(a.received[0])[2]


async def test_status_codes_set_span_status(tmp_path: Path) -> None:
    """Server spans are errors from 500, client spans from 400 (Traefik's CaptureResponse)."""
    with otlp_http() as rx:
        async with backends("a") as (a,), edgeway(tmp_path, dynamic(a.url), **tracing_static(rx)) as ew:
            assert (await get(ew.port(), "/status/404")).status == 404
            spans = await collected(ew, rx, 2)
            s = by_name(spans)
            assert s["GET"].status == 0 and s["ReverseProxy"].status == ERROR
            assert s["GET"].attrs["http.response.status_code"] == 404
            assert (await get(ew.port(), "/status/503")).status == 503
            spans = await collected(ew, rx, 4)
    s = by_name(spans[2:])
    assert s["GET"].status == ERROR and s["ReverseProxy"].status == ERROR
    assert s["ReverseProxy"].attrs["http.response.status_code"] == 503


async def test_unreachable_server_and_unmatched_request(tmp_path: Path) -> None:
    dyn = """
    http:
      routers:
        app: {rule: "Path(`/dead`)", service: dead}
      services:
        dead: {loadBalancer: {servers: [{url: "http://127.0.0.1:1"}]}}
    """
    with otlp_http() as rx:
        async with edgeway(tmp_path, dyn, **tracing_static(rx)) as ew:
            client = await Client.connect(ew.port())
            assert (await client.request("POST", "/nowhere", body=b"abc")).status == 404
            await client.close()
            spans = await collected(ew, rx, 1)
            assert [(s.name, s.kind, s.status) for s in spans] == [("POST", SERVER, 0)]
            assert spans[0].attrs["http.response.status_code"] == 404
            assert spans[0].attrs["http.request.body.size"] == 3
            assert (await get(ew.port(), "/dead")).status == 502
            spans = await collected(ew, rx, 3)
    s = by_name(spans[1:])
    assert s["ReverseProxy"].status == ERROR and s["GET"].status == ERROR
    assert s["ReverseProxy"].attrs["http.response.status_code"] == 502
    assert s["ReverseProxy"].attrs["server.port"] == 1


async def test_router_can_turn_tracing_off(tmp_path: Path) -> None:
    dyn = """
    http:
      routers:
        quiet: {rule: "Path(`/quiet`)", service: app, observability: {tracing: false}}
        loud: {rule: "Path(`/loud`)", service: app}
      services:
        app: {loadBalancer: {servers: [{url: "URL"}]}}
    """
    with otlp_http() as rx:
        async with backends("a") as (a,), edgeway(
            tmp_path, dyn.replace("URL", a.url), **tracing_static(rx)
        ) as ew:
            given = f"00-{TRACE_ID}-{PARENT_ID}-01"
            assert (await get(ew.port(), "/quiet", headers=[("traceparent", given)])).status == 200
            assert (await get(ew.port(), "/loud")).status == 200
            spans = await collected(ew, rx, 2)
            assert await anyio.to_thread.run_sync(ew.kernel.tracing.force_flush)
    assert len(rx.spans) == 2 and all(s.attrs.get("url.path", "/loud") == "/loud" for s in spans)
    # Untraced: the client's traceparent goes upstream as it came.
    assert a.received[0].header("traceparent") == given


async def test_internal_services_only_with_add_internals(tmp_path: Path) -> None:
    dyn = """
    http:
      routers:
        ping: {rule: "Path(`/ping`)", service: ping@internal}
    """
    for add in (False, True):
        with otlp_http() as rx:
            static = tracing_static(rx, addInternals=add)
            async with edgeway(tmp_path, dyn, ping={"manualRouting": True}, **static) as ew:
                assert (await get(ew.port(), "/ping")).status == 200
                assert (await get(ew.port(), "/other")).status == 404
                spans = await collected(ew, rx, 2 if add else 1)
                assert await anyio.to_thread.run_sync(ew.kernel.tracing.force_flush)
        paths = sorted(s.attrs["url.path"] for s in rx.spans)
        assert paths == (["/other", "/ping"] if add else ["/other"])
        assert all(s.name == "GET" for s in spans)


async def test_streamed_response_span_ends_with_the_body(tmp_path: Path) -> None:
    with otlp_http() as rx:
        async with backends("a") as (a,), edgeway(tmp_path, dynamic(a.url), **tracing_static(rx)) as ew:
            reply = await get(ew.port(), "/chunked")
            assert reply.body == b"chunk0;chunk1;chunk2;chunk3;chunk4;"
            spans = await collected(ew, rx, 2)
    s = by_name(spans)
    assert s["GET"].attrs["http.response.status_code"] == 200
    assert s["ReverseProxy"].parent == s["GET"].span_id


async def test_spans_are_flushed_on_shutdown(tmp_path: Path) -> None:
    with otlp_http() as rx:
        async with backends("a") as (a,), edgeway(tmp_path, dynamic(a.url), **tracing_static(rx)) as ew:
            assert (await get(ew.port(), "/")).status == 200
            assert rx.spans == []  # still batched (5 s schedule)
        assert sorted(s.name for s in rx.spans) == ["GET", "ReverseProxy"]


async def test_otlp_grpc_exporter(tmp_path: Path) -> None:
    with otlp_grpc() as rx:
        static = {
            "tracing": {
                "serviceName": "edge",
                "globalAttributes": {"team": "net"},
                "otlp": {"grpc": {"endpoint": rx.endpoint, "insecure": True, "headers": {"x-token": "abc"}}},
            }
        }
        async with backends("a") as (a,), edgeway(tmp_path, dynamic(a.url), **static) as ew:
            assert (await get(ew.port(), "/")).status == 200
            spans = await collected(ew, rx, 2)
    assert sorted(s.name for s in spans) == ["GET", "ReverseProxy"]
    assert spans[0].resource["service.name"] == "edge"
    assert spans[0].resource["team"] == "net"
    assert rx.requests[0][1]["x-token"] == "abc"


# -- configuration ------------------------------------------------------------------------


def test_static_defaults_and_validation() -> None:
    cfg = TracingConfig()
    assert cfg.serviceName == "traefik" and cfg.sampleRate == 1.0 and not cfg.addInternals
    assert cfg.otlp.http.endpoint == "https://localhost:4318" and cfg.otlp.grpc is None
    assert TracingConfig.model_validate({"otlp": {"grpc": {}}}).otlp.grpc.endpoint == "localhost:4317"  # type: ignore[union-attr]
    assert TracingConfig(globalAttributes={"a": "1"}).attributes() == {"a": "1"}
    assert TracingConfig(globalAttributes={"a": "1"}, resourceAttributes={"b": "2"}).attributes() == {"b": "2"}
    with pytest.raises(ValueError, match="TLS and Insecure options are mutually exclusive"):
        TracingConfig.model_validate({"otlp": {"grpc": {"insecure": True, "tls": {"ca": "x"}}}})
    with pytest.raises(ValueError, match="sampleRate"):
        TracingConfig.model_validate({"sampleRate": "often"})
    with pytest.raises(ValueError, match="tls.insecureSkipVerify is not supported"):
        Tracing(TracingConfig.model_validate({"otlp": {"grpc": {"tls": {"insecureSkipVerify": True}}}}))


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
async def test_http_exporter_tls(tmp_path: Path) -> None:
    """``tls.ca`` (PEM content), ``cert``/``key`` (paths) for a collector that requires
    client certificates; ``insecureSkipVerify`` for one whose CA is unknown."""
    import trustme

    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    ca.configure_trust(server_ctx)
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    client = ca.issue_cert("edgeway")
    cert_path, key_path = tmp_path / "client.pem", tmp_path / "client.key"
    cert_path.write_bytes(b"".join(b.bytes() for b in client.cert_chain_pems))
    client.private_key_pem.write_to_path(str(key_path))
    tls = {"ca": ca.cert_pem.bytes().decode(), "cert": str(cert_path), "key": str(key_path)}
    with otlp_http(server_ctx) as rx:
        static = {"tracing": {"otlp": {"http": {"endpoint": rx.endpoint + "/custom", "tls": tls}}}}
        async with backends("a") as (a,), edgeway(tmp_path, dynamic(a.url), **static) as ew:
            assert (await get(ew.port(), "/")).status == 200
            await collected(ew, rx, 2)
    assert rx.requests[0][0] == "/custom"

    unknown = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(unknown)
    with otlp_http(unknown) as rx:
        tls = {"insecureSkipVerify": True}
        static = {"tracing": {"otlp": {"http": {"endpoint": rx.endpoint, "tls": tls}}}}
        (tmp_path / "skip").mkdir()
        async with backends("a") as (a,), edgeway(tmp_path / "skip", dynamic(a.url), **static) as ew:
            assert (await get(ew.port(), "/")).status == 200
            await collected(ew, rx, 2)


async def test_unusable_exporter_leaves_tracing_off(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async with backends("a") as (a,), edgeway(
        tmp_path, dynamic(a.url), tracing={"otlp": {"http": {"endpoint": "collector:4318"}}}
    ) as ew:
        assert ew.kernel.tracing is None
        assert (await get(ew.port(), "/")).status == 200
    assert "Unable to create tracer: invalid collector endpoint 'collector:4318'" in caplog.text


def test_missing_sdk_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    with pytest.raises(TracingUnavailable, match=r"pip install 'edgeway\[tracing\]'"):
        Tracing(TracingConfig())


def test_middleware_span_names_cover_the_builtins() -> None:
    from edgeway.plugins import load_plugins

    registered = set(load_plugins().registry.middlewares)
    untraced = {"chain", "retry", "contentType", "grpcWeb"}  # no GetTracingInformation in Traefik
    assert not untraced & set(MIDDLEWARE_SPAN_NAMES)
    assert registered - untraced <= set(MIDDLEWARE_SPAN_NAMES)


def test_sdk_not_imported_without_tracing(tmp_path: Path) -> None:
    """Serving without ``tracing`` never imports OpenTelemetry."""
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import anyio
        from pathlib import Path
        from support import backends, edgeway, get

        async def main():
            dyn = 'http: {{routers: {{a: {{rule: "PathPrefix(`/`)", service: a}}}}, services: {{a: {{loadBalancer: {{servers: [{{url: "URL"}}]}}}}}}}}'
            async with backends("a") as (a,), edgeway(Path({str(tmp_path)!r}), dyn.replace("URL", a.url)) as ew:
                assert (await get(ew.port(), "/")).status == 200

        anyio.run(main)
        print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_cli_refuses_tracing_without_the_sdk(tmp_path: Path) -> None:
    config = tmp_path / "edgeway.yml"
    config.write_text("entryPoints: {web: {address: '127.0.0.1:0'}}\ntracing: {}\n")
    script = (
        "import sys; sys.modules['opentelemetry'] = None; "
        f"sys.argv = ['edgeway', '--configFile={config}']; "
        "from edgeway.cli import main; main()"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "edgeway: tracing is configured but the OpenTelemetry SDK is not installed" in out.stderr
