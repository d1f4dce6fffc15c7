"""Built-in middlewares that work on bodies: ``compress``, ``buffering`` and ``errors``."""

from __future__ import annotations

from typing import Any

from edgeway import hookimpl
from edgeway.config.dynamic import Buffering, Compress, ErrorPage
from edgeway.middlewares.buffering import build_buffering
from edgeway.middlewares.compress import build_compress
from edgeway.middlewares.errorpages import build_errors
from edgeway.registry import MiddlewareType


@hookimpl
def register_middlewares(register: Any) -> None:
    register(MiddlewareType("compress", Compress, build_compress, plugin=False))
    register(MiddlewareType("buffering", Buffering, build_buffering, plugin=False))
    register(MiddlewareType("errors", ErrorPage, build_errors, plugin=False))
