"""Built-in middlewares (being written): registered through ``register_middlewares``."""

from __future__ import annotations

from typing import Any

from edgeway import hookimpl


@hookimpl
def register_middlewares(register: Any) -> None:
    """Nothing registered yet."""
