"""Fused meters: an entry point, router and service meter with nothing between them
count through one wrapper, with the same counts as one wrapper per level; a
middleware between them keeps them apart (what it answers itself never reaches
the service's meter)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from edgeway.http.message import Headers, Request, Response
from edgeway.metrics import Meter, hoist
from support import backends, edgeway, get
from test_metrics import dynamic, metrics_static, scrape, value

pytestmark = pytest.mark.anyio

BOUNDS = (0.1, 1.0)


class FakeTLS:
    def version(self) -> str:
        return "TLSv1.3"

    def cipher(self) -> tuple[str, str, int]:
        return ("TLS_AES_128_GCM_SHA256", "TLSv1.3", 128)


def request(
    method: str = "GET", headers: list[tuple[bytes, bytes]] | None = None, **kw: object
) -> Request:
    return Request(method, "/", "", Headers(headers or []), **kw)  # type: ignore[arg-type]


def meters(header_names: tuple[bytes, ...] = ()) -> tuple[Meter, Meter, Meter]:
    return (
        Meter(("web",), BOUNDS, header_names),
        Meter(("app@file", "app@file"), BOUNDS, header_names),
        Meter(("app@file",), BOUNDS, header_names),
    )


def fused_levels(handler: object) -> tuple[Meter, ...]:
    return handler.edgeway_meters[0]  # type: ignore[attr-defined, no-any-return]


async def test_adjacent_meters_fuse_into_one_wrapper() -> None:
    ep, router, svc = meters()

    async def app(req: Request) -> Response:
        return Response(200, body=b"hello")

    handler = ep.wrap(router.wrap(svc.wrap(app)))
    assert fused_levels(handler) == (ep, router, svc)
    assert handler.edgeway_meters[1] is app  # type: ignore[attr-defined]
    resp = await handler(request(content_length=3, tls=FakeTLS()))
    assert resp.body == b"hello"
    for m in (ep, router, svc):
        [(key, cell)] = m.cells.items()
        assert key == (200, "GET", "http")
        assert cell[:4] == [1, cell[1], 3, 5] and cell[1] >= 0
        assert sum(cell[4:]) == 1
        assert m.tls == {("1.3", "TLS_AES_128_GCM_SHA256"): 1}


async def test_fused_meters_count_errors_streams_and_header_labels() -> None:
    ep, _, svc = meters((b"x-tenant",))

    async def chunks() -> AsyncIterator[bytes]:
        yield b"ab"
        yield b"cde"

    async def app(req: Request) -> Response:
        if req.method == "POST":
            raise RuntimeError("boom")
        return Response(503, stream=chunks())

    handler = ep.wrap(svc.wrap(app))
    assert fused_levels(handler) == (ep, svc)
    with pytest.raises(RuntimeError):
        await handler(request("POST", [(b"X-Tenant", b"a")]))
    resp = await handler(request("BREW", [(b"X-Tenant", b"b"), (b"Accept", b"text/event-stream")]))
    assert resp.stream is not None
    assert svc.cells.get((503, "EXTENSION_METHOD", "sse")) is None  # counted when the body ends
    assert [c async for c in resp.stream] == [b"ab", b"cde"]
    for m in (ep, svc):
        failed = m.cells[(500, "POST", "http")]
        assert (failed[0], failed[2], failed[3]) == (1, 0, 0)
        assert m.cells[(503, "EXTENSION_METHOD", "sse")][3] == 5
        assert m.headers == {
            (500, "POST", "http", "a"): 1,
            (503, "EXTENSION_METHOD", "sse", "b"): 1,
        }


async def test_meters_with_something_between_stay_apart() -> None:
    ep, _, svc = meters()

    async def app(req: Request) -> Response:
        return Response(200, body=b"ok")

    inner = svc.wrap(app)

    async def redirect(req: Request) -> Response:
        return Response(302) if req.method == "GET" else await inner(req)

    handler = ep.wrap(redirect)
    assert fused_levels(handler) == (ep,)
    await handler(request("GET"))
    await handler(request("PUT"))
    assert set(ep.cells) == {(302, "GET", "http"), (200, "PUT", "http")}
    assert set(svc.cells) == {(200, "PUT", "http")}
    # meters of other buckets (never within one process) are not fused
    other = Meter(("web",), (5.0,), ())
    assert fused_levels(other.wrap(inner)) == (other,)


def with_redirect(dynamic_yaml: str) -> str:
    """``dynamic_yaml`` and a ``moved`` middleware that answers a redirect itself."""
    redirect = '        moved: {redirectRegex: {regex: ".*", replacement: "http://elsewhere/"}}\n'
    return dynamic_yaml.replace("      middlewares:\n", "      middlewares:\n" + redirect)


async def test_a_short_circuiting_middleware_keeps_the_service_uncounted(tmp_path: Path) -> None:
    moved = """moved: {rule: "PathPrefix(`/moved`)", service: app, middlewares: [moved]}"""
    static = metrics_static(addRoutersLabels=True)
    async with (
        backends("a") as (a,),
        edgeway(tmp_path, with_redirect(dynamic(a.url, moved)), **static) as ew,
    ):
        assert (await get(ew.port(), "/x")).status == 200
        assert (await get(ew.port(), "/moved")).status == 302
        samples, _ = await scrape(ew.port("traefik"))
    http = {"method": "GET", "protocol": "http"}
    name = "traefik_entrypoint_requests_total"
    assert value(samples, name, code="200", entrypoint="web", **http) == 1
    assert value(samples, name, code="302", entrypoint="web", **http) == 1
    name = "traefik_router_requests_total"
    assert value(samples, name, code="200", router="app@file", service="app@file", **http) == 1
    assert value(samples, name, code="302", router="moved@file", service="app@file", **http) == 1
    name = "traefik_service_requests_total"
    assert value(samples, name, code="200", service="app@file", **http) == 1
    assert value(samples, name, code="302", service="app@file", **http) is None


async def test_the_outermost_meters_are_left_to_the_server_and_summed_per_level() -> None:
    ep, router, svc = meters()
    other_router = Meter(("other@file", "app@file"), BOUNDS, ())

    async def app(req: Request) -> Response:
        return Response(200, body=b"hello")

    # two routes of one entry point: the entry point meter is in two groups
    first, count_first = hoist(ep.wrap(router.wrap(svc.wrap(app))))
    second, count_second = hoist(ep.wrap(other_router.wrap(app)))
    assert first is app and second is app  # no wrapper left around the handler
    assert count_first is not None and count_second is not None
    for method, on_response in (("GET", count_first), ("BREW", count_second), ("FOO", count_second)):
        req = request(method, content_length=2)
        t0 = time.perf_counter()
        on_response(req, await app(req), t0)
    count_first(request("POST"), None, time.perf_counter())  # the handler raised: a 500
    assert {k: v[0] for k, v in ep.cells.items()} == {
        (200, "GET", "http"): 1,
        (200, "EXTENSION_METHOD", "http"): 2,  # two methods, one label: added up
        (500, "POST", "http"): 1,
    }
    assert ep.cells[(200, "EXTENSION_METHOD", "http")][2:4] == [4, 10]  # request, response bytes
    assert {k: v[0] for k, v in svc.cells.items()} == {(200, "GET", "http"): 1, (500, "POST", "http"): 1}
    assert {k: v[0] for k, v in other_router.cells.items()} == {(200, "EXTENSION_METHOD", "http"): 2}
    # compiled again (a new configuration): the same meters go on with the same cells
    groups = len(svc.groups), len(ep.groups)
    again, count_again = hoist(ep.wrap(router.wrap(svc.wrap(app))))
    assert count_again is not None
    count_again(request("GET"), Response(200, body=b"x"), time.perf_counter())
    assert svc.cells[(200, "GET", "http")][0] == 2
    assert (len(svc.groups), len(ep.groups)) == groups
