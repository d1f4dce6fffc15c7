"""A broken third-party middleware disables itself and its routers; the rest keeps serving."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest
from edgeway import hookimpl
from edgeway.http.message import Headers, Request, Response
from edgeway.http.server import ClientDisconnected
from edgeway.pipeline.isolation import guard_plugin
from edgeway.pipeline.runtime import MiddlewareInfo, RouterInfo, RuntimeConfiguration
from edgeway.registry import BuildContext, MiddlewareType
from pydantic import BaseModel, ConfigDict
from support import backends, edgeway, get

pytestmark = pytest.mark.anyio

ADMIN = """
entryPoints:
  web: {address: "127.0.0.1:0"}
  traefik: {address: "127.0.0.1:0"}
api: {insecure: true}
"""


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: "build": raise while building; "serve": raise while serving; "none": return None;
    #: "handler": build returns a non-handler; "": behave.
    fail: str = ""
    error: str = "RuntimeError"


class Flaky:
    """A plugin whose ``flaky`` middleware fails where its options say; counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def build(self, options: Options, next_: Any, ctx: BuildContext) -> Any:
        error = {"RuntimeError": RuntimeError, "ValueError": ValueError, "KeyError": KeyError}[
            options.error
        ]
        if options.fail == "build":
            raise error("kaput")
        if options.fail == "handler":
            return "not a handler"

        async def handler(request: Request) -> Any:
            self.calls += 1
            if options.fail == "serve":
                raise error("boom")
            if options.fail == "none":
                return None
            response = await next_(request)
            response.headers.set(b"X-Flaky", b"ok")
            return response

        return handler

    @hookimpl
    def register_middlewares(self, register: Any) -> None:
        register(MiddlewareType("flaky", Options, self.build))


def config(url: str, flaky: str, stamp: str = "") -> str:
    return f"""
        http:
          routers:
            one: {{rule: "PathPrefix(`/one`)", service: app, middlewares: [flaky]}}
            two: {{rule: "PathPrefix(`/two`)", service: app, middlewares: [flaky]}}
            other: {{rule: "PathPrefix(`/other`)", service: app, middlewares: [fine]}}
          middlewares:
            flaky: {{plugin: {{flaky: {{{flaky}}}}}}}
            fine: {{plugin: {{flaky: {{}}}}}}
          services:
            app: {{loadBalancer: {{servers: [{{url: "{url}"}}]}}}}
    """


async def test_any_exception_from_build_disables_that_middleware_and_its_routers_only(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    flaky = Flaky()
    async with (
        backends("app") as (app,),
        edgeway(tmp_path, config(app.url, "fail: build"), plugins={"flaky": flaky}) as ew,
    ):
        rt = ew.runtime
        message = 'plugin "flaky" failed to build: RuntimeError: kaput'
        assert rt.middlewares["flaky@file"].errors == [message]
        assert rt.middlewares["flaky@file"].status == "disabled"
        for router in ("one@file", "two@file"):
            assert rt.routers[router].status == "disabled"
            assert rt.routers[router].errors[0].endswith(message)
        assert rt.routers["other@file"].status == "enabled"
        assert (await get(ew.port(), "/other")).header("X-Flaky") == "ok"
        assert (await get(ew.port(), "/one")).status == 404  # a disabled router does not route
    assert "Traceback" in caplog.text and "kaput" in caplog.text  # the author gets the traceback


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("fail: build, error: ValueError", "kaput"),  # a ValueError is the plugin's own message
        ("fail: build, error: KeyError", "plugin \"flaky\" failed to build: KeyError: 'kaput'"),
        ("fail: handler", 'plugin "flaky": build returned str, not a request handler'),
        (
            "nope: 1",
            "plugin flaky: nope: Extra inputs are not permitted",
        ),  # its own model validates
    ],
)
async def test_build_errors_are_the_middlewares_status(
    tmp_path: Any, options: str, message: str
) -> None:
    async with (
        backends("app") as (app,),
        edgeway(tmp_path, config(app.url, options), plugins={"flaky": Flaky()}) as ew,
    ):
        assert ew.runtime.middlewares["flaky@file"].errors == [message]
        assert ew.runtime.routers["one@file"].status == "disabled"
        assert (await get(ew.port(), "/other")).status == 200


async def test_an_error_while_serving_answers_500_and_disables_the_middleware_and_its_routers(
    tmp_path: Any,
) -> None:
    flaky = Flaky()
    async with (
        backends("app") as (app,),
        edgeway(tmp_path, config(app.url, "fail: serve"), ADMIN, plugins={"flaky": flaky}) as ew,
    ):
        first = await get(ew.port(), "/one")
        assert (first.status, first.body) == (500, b"Internal Server Error")
        assert flaky.calls == 1

        message = 'plugin "flaky" failed while serving a request: RuntimeError: boom'
        api = ew.port("traefik")
        middleware = (await get(api, "/api/http/middlewares/flaky@file")).json()
        assert (middleware["status"], middleware["error"]) == ("disabled", [message])
        for router in ("one@file", "two@file"):
            info = (await get(api, f"/api/http/routers/{router}")).json()
            assert (info["status"], info["error"]) == (
                "disabled",
                [f'middleware "flaky@file": {message}'],
            )
        assert (await get(api, "/api/http/routers/other@file")).json()["status"] == "enabled"

        # Both routers using it now fail closed without calling the plugin; the rest serves.
        for path in ("/one", "/two"):
            reply = await get(ew.port(), path)
            assert (reply.status, reply.body) == (503, b"Service Unavailable")
        assert flaky.calls == 1
        assert (await get(ew.port(), "/other")).status == 200
        assert [r.target for r in app.received] == ["/other"]

        # The next configuration starts afresh.
        reloads = ew.kernel.state.reloads
        ew.write_dynamic(config(app.url, ""))
        await ew.wait_applied(reloads)
        reply = await get(ew.port(), "/one")
        assert reply.status == 200 and reply.header("X-Flaky") == "ok"
        assert ew.runtime.routers["one@file"].status == "enabled"


async def test_a_handler_returning_no_response_is_a_serving_error(tmp_path: Any) -> None:
    async with (
        backends("app") as (app,),
        edgeway(tmp_path, config(app.url, "fail: none"), plugins={"flaky": Flaky()}) as ew,
    ):
        assert (await get(ew.port(), "/two")).status == 500
        assert ew.runtime.middlewares["flaky@file"].errors == [
            'plugin "flaky" failed while serving a request: TypeError: the handler returned NoneType, not a Response'
        ]
        assert (await get(ew.port(), "/one")).status == 503


async def test_a_failure_in_a_service_middleware_disables_the_service_and_its_routers(
    tmp_path: Any,
) -> None:
    dynamic = """
        http:
          routers:
            r: {rule: "PathPrefix(`/`)", service: guarded}
          middlewares:
            flaky: {plugin: {flaky: {fail: serve}}}
          services:
            guarded: {middlewares: [flaky], loadBalancer: {servers: [{url: "http://127.0.0.1:1"}]}}
    """
    async with edgeway(tmp_path, dynamic, plugins={"flaky": Flaky()}) as ew:
        assert (await get(ew.port(), "/")).status == 500
        rt = ew.runtime
        assert rt.services["guarded@file"].status == "disabled"
        assert rt.routers["r@file"].status == "disabled"
        assert (await get(ew.port(), "/")).status == 503


# -- the guard on its own -------------------------------------------------


def guarded(handler_factory: Any, next_: Any) -> tuple[Any, RuntimeConfiguration]:
    rt = RuntimeConfiguration()
    rt.middlewares["m@file"] = MiddlewareInfo("m@file", "file", None)
    rt.routers["r@file"] = RouterInfo("r@file", "file", None)
    mtype = MiddlewareType("p", Options, lambda options, nxt, ctx: handler_factory(nxt))
    return guard_plugin(
        mtype, Options(), next_, BuildContext(name="m@file", router="r@file"), rt
    ), rt


def request() -> Request:
    return Request("GET", "/", "", Headers())


async def test_errors_raised_behind_the_plugin_are_not_blamed_on_it() -> None:
    async def broken_downstream(req: Request) -> Response:
        raise RuntimeError("the chain behind")

    handler, rt = guarded(lambda nxt: nxt, broken_downstream)  # the plugin passes straight through
    with pytest.raises(RuntimeError, match="the chain behind"):
        await handler(request())
    assert rt.middlewares["m@file"].status == "enabled"
    assert rt.routers["r@file"].status == "enabled"


async def test_the_client_going_away_is_not_blamed_on_the_plugin() -> None:
    def reads_the_body(nxt: Any) -> Any:
        async def handler(req: Request) -> Response:
            raise ClientDisconnected("client connection closed")

        return handler

    handler, rt = guarded(reads_the_body, None)
    with pytest.raises(ClientDisconnected):
        await handler(request())
    assert rt.middlewares["m@file"].status == "enabled"


async def test_a_plain_function_returning_an_awaitable_is_a_handler_and_its_errors_are_contained() -> (
    None
):
    async def ok(req: Request) -> Response:
        return Response(204)

    def sync_handler(nxt: Any) -> Any:
        def handler(req: Request) -> Any:
            if req.raw_path == "/raise":
                raise LookupError("synchronously")
            return nxt(req)

        return handler

    handler, rt = guarded(sync_handler, ok)
    assert (await handler(request())).status == 204
    assert (await handler(Request("GET", "/raise", "", Headers()))).status == 500
    assert rt.routers["r@file"].errors == [
        'middleware "m@file": plugin "p" failed while serving a request: LookupError: synchronously'
    ]


async def test_concurrent_failures_record_only_the_first(caplog: pytest.LogCaptureFixture) -> None:
    errors = iter([RuntimeError("first"), RuntimeError("second")])
    inside, release = [], anyio.Event()

    def failing(nxt: Any) -> Any:
        async def handler(req: Request) -> Response:
            inside.append(req)
            await release.wait()
            raise next(errors)

        return handler

    handler, rt = guarded(failing, None)
    statuses: list[int] = []

    async def call() -> None:
        statuses.append((await handler(request())).status)

    # Two requests already inside the plugin when it fails: both get 500, one error is kept.
    async with anyio.create_task_group() as tg:
        tg.start_soon(call)
        tg.start_soon(call)
        with anyio.fail_after(5):
            while len(inside) < 2:
                await anyio.sleep(0)
        release.set()
    assert statuses == [500, 500]
    assert rt.middlewares["m@file"].errors == [
        'plugin "p" failed while serving a request: RuntimeError: first'
    ]
    assert sum(r.levelno == logging.ERROR for r in caplog.records) == 1
    assert (await handler(request())).status == 503
