"""The ``stamp`` middleware, tested the way a plugin author can: options, handler, registration."""

from __future__ import annotations

import pytest
from edgeway.http.message import Headers, Request, Response
from edgeway.plugins import load_plugins
from edgeway.registry import BuildContext
from edgeway_example_middleware import StampOptions, build_stamp
from edgeway_example_middleware import plugin as stamp_plugin
from pydantic import ValidationError

pytestmark = pytest.mark.anyio

CTX = BuildContext(name="stamp@file", router="app@file")


class Backend:
    """A stand-in for the rest of the chain: records what reaches it."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, request: Request) -> Response:
        self.paths.append(request.path)
        return Response(200, Headers([(b"Content-Type", b"text/plain")]), b"from the backend")


def request(path: str) -> Request:
    return Request("GET", path, "", Headers([(b"Host", b"example.com")]), authority="example.com")


def test_defaults() -> None:
    options = StampOptions()
    assert (options.header, options.value, options.blockPathPrefixes, options.blockStatus) == ("X-Stamp", "edgeway", [], 403)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"header": "Bad Header"}, "not a valid header name"),
        ({"value": "a\r\nInjected: 1"}, "must not contain CR, LF or NUL"),
        ({"value": "café"}, "must be ASCII"),
        ({"blockPathPrefixes": ["admin"]}, "does not start with /"),
        ({"blockStatus": 302}, "greater than or equal to 400"),
        ({"blockStatus": 600}, "less than or equal to 599"),
        ({"headr": "X-Typo"}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_options_are_refused_with_a_message(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        StampOptions.model_validate(options)


@pytest.mark.parametrize("header", ["content-length", "Transfer-Encoding", "connection", "Upgrade"])
def test_a_header_the_proxy_frames_with_is_refused_at_build(header: str) -> None:
    with pytest.raises(ValueError, match="set by the proxy itself"):
        build_stamp(StampOptions(header=header), Backend(), CTX)


async def test_responses_are_stamped_with_the_canonical_header_name() -> None:
    backend = Backend()
    handler = build_stamp(StampOptions(header="x-served-by", value="edge-1"), backend, CTX)
    response = await handler(request("/anything"))
    assert response.status == 200 and response.body == b"from the backend"
    assert (b"X-Served-By", b"edge-1") in response.headers.raw
    assert backend.paths == ["/anything"]


async def test_the_stamp_replaces_a_header_the_backend_set() -> None:
    async def backend(request: Request) -> Response:
        return Response(200, Headers([(b"x-stamp", b"backend")]))

    response = await build_stamp(StampOptions(), backend, CTX)(request("/"))
    assert response.headers.getlist(b"x-stamp") == [b"edgeway"]


async def test_blocked_prefixes_never_reach_the_backend_and_are_stamped_too() -> None:
    backend = Backend()
    handler = build_stamp(StampOptions(blockPathPrefixes=["/admin", "/.git"], blockStatus=404), backend, CTX)
    for path in ("/admin", "/admin/users", "/administrator", "/.git/config"):
        response = await handler(request(path))
        assert response.status == 404
        assert response.body == b"Not Found\n"
        assert response.headers.get(b"x-stamp") == b"edgeway"
    assert backend.paths == []
    assert (await handler(request("/public"))).status == 200
    assert backend.paths == ["/public"]


async def test_prefixes_match_the_decoded_routing_path() -> None:
    backend = Backend()
    handler = build_stamp(StampOptions(blockPathPrefixes=["/admin"]), backend, CTX)
    assert (await handler(request("/%61dmin/x"))).status == 403
    assert backend.paths == []


def test_the_plugin_registers_a_plugin_middleware_type() -> None:
    plugins = load_plugins(extra={"example-middleware": stamp_plugin})
    stamp = plugins.registry.middlewares["stamp"]
    assert stamp.plugin is True  # used as `plugin: {stamp: {...}}`, not as a built-in key
    assert stamp.options_model is StampOptions
    assert plugins.registry.owners["middleware:stamp"] == "example-middleware"
    info = next(i for i in plugins.infos if i.name == "example-middleware")
    assert info.hooks == ["register_middlewares"]
