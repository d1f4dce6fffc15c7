"""Built-in HTTP middlewares, registered through ``register_middlewares`` like any plugin.

Each ``build`` runs when a configuration is applied and returns a closure; the
closures do only what must be done per request.
"""

from __future__ import annotations

from typing import Any

from edgeway import hookimpl
from edgeway.config.dynamic import AddPrefix, StripPrefix
from edgeway.config.dynamic import Headers as HeadersOptions
from edgeway.http.message import Handler, Request, Response
from edgeway.http.server import clean_path
from edgeway.http.status import error_response
from edgeway.middlewares.headers import build_headers
from edgeway.registry import BuildContext, MiddlewareType


def _leading_slash(path: str) -> str:
    return path if not path or path[0] == "/" else "/" + path


def build_strip_prefix(options: StripPrefix, next_: Handler, ctx: BuildContext) -> Handler:
    """Remove the first matching prefix; the prefix goes to ``X-Forwarded-Prefix``."""
    prefixes = [p for p in (options.prefixes or []) if p]
    force_slash = bool(options.forceSlash)
    if not prefixes:
        return next_

    async def strip_prefix(req: Request) -> Response:
        path = req.path
        for prefix in prefixes:
            if path.startswith(prefix):
                rest = path[len(prefix) :]
                stripped = "/" + rest.lstrip("/") if force_slash else _leading_slash(rest)
                raw = req.raw_path
                cut = _encoded_prefix_len(raw, prefix)
                raw_rest = raw[cut:]
                raw_stripped = "/" + raw_rest.lstrip("/") if force_slash else _leading_slash(raw_rest)
                if stripped and _clean(stripped) != stripped:
                    return error_response(400)
                req.raw_path = raw_stripped
                req.path = stripped
                req.headers.add(b"X-Forwarded-Prefix", prefix.encode("latin-1"))
                break
        return await next_(req)

    return strip_prefix


def _encoded_prefix_len(raw: str, prefix: str) -> int:
    """Bytes of ``raw`` that spell the decoded ``prefix`` (a ``%XX`` counts as one)."""
    decoded = i = 0
    n = len(raw)
    while i < n and decoded < len(prefix):
        i += 3 if raw[i] == "%" and i + 2 < n else 1
        decoded += 1
    return i


def _clean(path: str) -> str:
    """What Go's ``URL.JoinPath()`` makes of a path: cleaned, trailing slash kept."""
    return clean_path(path)


def build_add_prefix(options: AddPrefix, next_: Handler, ctx: BuildContext) -> Handler:
    prefix = options.prefix or ""

    async def add_prefix(req: Request) -> Response:
        req.raw_path = _leading_slash(prefix + req.raw_path)
        req.path = _leading_slash(prefix + req.path)
        return await next_(req)

    return add_prefix


def build_headers_middleware(options: HeadersOptions, next_: Handler, ctx: BuildContext) -> Handler:
    return build_headers(options, next_)


@hookimpl
def register_middlewares(register: Any) -> None:
    register(MiddlewareType("stripPrefix", StripPrefix, build_strip_prefix, plugin=False))
    register(MiddlewareType("addPrefix", AddPrefix, build_add_prefix, plugin=False))
    register(MiddlewareType("headers", HeadersOptions, build_headers_middleware, plugin=False))
