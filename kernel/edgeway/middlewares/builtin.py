"""Built-in HTTP middlewares, registered through ``register_middlewares`` like any plugin.

Each ``build`` runs when a configuration is applied and returns a closure; the
closures do only what must be done per request.
"""

from __future__ import annotations

from typing import Any

from edgeway import hookimpl
from edgeway.config.dynamic import Headers as HeadersOptions
from edgeway.http.message import Handler
from edgeway.middlewares.headers import build_headers
from edgeway.registry import BuildContext, MiddlewareType


def build_headers_middleware(options: HeadersOptions, next_: Handler, ctx: BuildContext) -> Handler:
    return build_headers(options, next_)


@hookimpl
def register_middlewares(register: Any) -> None:
    register(MiddlewareType("headers", HeadersOptions, build_headers_middleware, plugin=False))
