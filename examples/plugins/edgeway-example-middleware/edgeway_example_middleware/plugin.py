"""The module the ``edgeway`` entry point names: edgeway calls its hooks at start-up."""

from __future__ import annotations

from collections.abc import Callable

from edgeway import hookimpl
from edgeway.registry import MiddlewareType

from edgeway_example_middleware.stamp import StampOptions, build_stamp


@hookimpl
def register_middlewares(register: Callable[[MiddlewareType], None]) -> None:
    """Users reference it as ``middlewares: {m: {plugin: {stamp: {...}}}}``."""
    register(MiddlewareType("stamp", StampOptions, build_stamp))
