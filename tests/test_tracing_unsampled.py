"""Unsampled requests: no OpenTelemetry span is made for them at all, and what
goes upstream is what Traefik sends for a request it does not sample (checked
against Traefik 3.7: a ``traceparent`` with the trace id, a new span id and
flags ``00``; an unsampled parent's trace id and random flag kept)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from opentelemetry.sdk import trace as sdk_trace
from support import backends, edgeway, get
from test_tracing import PARENT_ID, TRACE_ID, collected, dynamic, otlp_http, tracing_static

pytestmark = pytest.mark.anyio

TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The names of the SDK spans started (sampled or not)."""
    names: list[str] = []
    original = sdk_trace.Tracer.start_span

    def start_span(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        names.append(name)
        return original(self, name, *args, **kwargs)

    monkeypatch.setattr(sdk_trace.Tracer, "start_span", start_span)
    yield names


def upstream(received: Any) -> tuple[str, str, str]:
    value = received.header("traceparent")
    match = TRACEPARENT.fullmatch(value or "")
    assert match is not None, value
    return match.group(1), match.group(2), match.group(3)


async def test_unsampled_root_makes_no_span_and_sends_flags_00(tmp_path: Path, started: list[str]) -> None:
    dyn = dynamic("URL", middlewares="[both]", observability="{traceVerbosity: detailed}")
    with otlp_http() as rx:
        async with backends("a") as (a,), edgeway(
            tmp_path, dyn.replace("URL", a.url), **tracing_static(rx, sampleRate=0)
        ) as ew:
            for _ in range(3):
                assert (await get(ew.port(), "/api/x", headers=[("tracestate", "k=v")])).status == 200
            assert await anyio.to_thread.run_sync(ew.kernel.tracing.force_flush)
    assert started == [] and rx.spans == []
    sent = [upstream(r) for r in a.received]
    assert len({trace for trace, _, _ in sent}) == 3 and {flags for _, _, flags in sent} == {"00"}
    # Without a traceparent, the client's tracestate is not a trace context: it goes as it came.
    assert {r.header("tracestate") for r in a.received} == {"k=v"}
    assert all(len(r.header_all("traceparent")) == 1 for r in a.received)


@pytest.mark.parametrize(
    ("flags", "sent_flags"), [("00", "00"), ("02", "02")], ids=["plain", "random-trace-id"]
)
async def test_unsampled_parent_keeps_its_trace_and_random_flag(
    tmp_path: Path, started: list[str], flags: str, sent_flags: str
) -> None:
    given = f"00-{TRACE_ID}-{PARENT_ID}-{flags}"
    with otlp_http() as rx:
        async with backends("a") as (a,), edgeway(tmp_path, dynamic(a.url), **tracing_static(rx)) as ew:
            assert (await get(ew.port(), "/", headers=[("traceparent", given)])).status == 200
            assert (await get(ew.port(), "/", headers=[("traceparent", given)])).status == 200
    assert started == []
    (trace1, span1, flags1), (trace2, span2, flags2) = (upstream(r) for r in a.received)
    assert trace1 == trace2 == TRACE_ID and (flags1, flags2) == (sent_flags, sent_flags)
    assert len({span1, span2, PARENT_ID}) == 3


@pytest.mark.parametrize(
    "header",
    [
        f"00-{'0' * 32}-{PARENT_ID}-00",  # no trace id
        f"00-{TRACE_ID}-{'0' * 16}-00",  # no span id
        f"ff-{TRACE_ID}-{PARENT_ID}-00",  # forbidden version
        f"00-{TRACE_ID}-{PARENT_ID}-00-extra",  # version 00 has no extra fields
        f"00-{TRACE_ID.upper()}-{PARENT_ID}-00",  # not lower-case hex
    ],
)
async def test_invalid_traceparent_starts_a_new_trace(tmp_path: Path, started: list[str], header: str) -> None:
    with otlp_http() as rx:
        async with backends("a") as (a,), edgeway(
            tmp_path, dynamic(a.url), **tracing_static(rx, sampleRate=0)
        ) as ew:
            assert (await get(ew.port(), "/", headers=[("traceparent", header)])).status == 200
    trace, _, flags = upstream(a.received[0])
    assert trace != TRACE_ID and flags == "00" and started == []


async def test_future_version_traceparent_is_continued(tmp_path: Path, started: list[str]) -> None:
    with otlp_http() as rx:
        async with backends("a") as (a,), edgeway(
            tmp_path, dynamic(a.url), **tracing_static(rx, sampleRate=0)
        ) as ew:
            header = f"01-{TRACE_ID}-{PARENT_ID}-00-future"
            assert (await get(ew.port(), "/", headers=[("traceparent", header)])).status == 200
    assert upstream(a.received[0])[0::2] == (TRACE_ID, "00") and started == []


async def test_sdk_carries_tracestate_and_baggage_of_unsampled_requests(tmp_path: Path) -> None:
    """What the fast path does not reproduce goes through the SDK (same result as
    Traefik: tracestate re-serialized, baggage forwarded), still exporting nothing."""
    with otlp_http() as rx:
        async with backends("a") as (a,), edgeway(
            tmp_path, dynamic(a.url), **tracing_static(rx, sampleRate=0)
        ) as ew:
            parent = ("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-00")
            headers = [parent, ("tracestate", "a=1, b=2")]
            assert (await get(ew.port(), "/", headers=headers)).status == 200
            assert (await get(ew.port(), "/", headers=[("baggage", "k=v")])).status == 200
            assert await anyio.to_thread.run_sync(ew.kernel.tracing.force_flush)
    assert rx.spans == []
    assert upstream(a.received[0])[0::2] == (TRACE_ID, "00")
    assert a.received[0].header("tracestate") == "a=1,b=2"
    assert upstream(a.received[1])[2] == "00" and a.received[1].header("baggage") == "k=v"


async def test_sampled_roots_send_flags_01(tmp_path: Path) -> None:
    """Traefik (Go's SDK) never sets W3C level 2's random trace id flag."""
    with otlp_http() as rx:
        async with backends("a") as (a,), edgeway(tmp_path, dynamic(a.url), **tracing_static(rx)) as ew:
            assert (await get(ew.port(), "/")).status == 200
            spans = await collected(ew, rx, 2)
    trace, span, flags = upstream(a.received[0])
    assert flags == "01"
    assert {s.trace_id for s in spans} == {trace}
    assert span in {s.span_id for s in spans if s.name == "ReverseProxy"}


async def test_sampled_parent_with_sample_rate_zero_is_traced(tmp_path: Path) -> None:
    with otlp_http() as rx:
        async with backends("a") as (a,), edgeway(
            tmp_path, dynamic(a.url), **tracing_static(rx, sampleRate=0)
        ) as ew:
            given = f"00-{TRACE_ID}-{PARENT_ID}-01"
            assert (await get(ew.port(), "/", headers=[("traceparent", given)])).status == 200
            spans = await collected(ew, rx, 2)
    assert {s.trace_id for s in spans} == {TRACE_ID}
    assert upstream(a.received[0])[0::2] == (TRACE_ID, "01")


async def test_partial_sample_rate_samples_on_the_trace_id_it_sends(tmp_path: Path) -> None:
    """With a rate between 0 and 1, each root is decided on the trace id it gets:
    sampled ones are exported under the trace id sent upstream (flags 01), the
    others are not (flags 00)."""
    count = 40
    with otlp_http() as rx:
        async with backends("a") as (a,), edgeway(
            tmp_path, dynamic(a.url), **tracing_static(rx, sampleRate=0.5)
        ) as ew:
            for _ in range(count):
                assert (await get(ew.port(), "/")).status == 200
            sent = [upstream(r) for r in a.received]
            sampled = {trace for trace, _, flags in sent if flags == "01"}
            assert 0 < len(sampled) < count
            assert {flags for _, _, flags in sent} == {"00", "01"}
            spans = await collected(ew, rx, 2 * len(sampled))
    assert {s.trace_id for s in spans} == sampled
    # TraceIdRatioBased: the low 64 bits of a sampled trace id are below half the range.
    assert all(int(trace[16:], 16) < 1 << 63 for trace in sampled)
    assert all(int(trace[16:], 16) >= 1 << 63 for trace, _, flags in sent if flags == "00")
