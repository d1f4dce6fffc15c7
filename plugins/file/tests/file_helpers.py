"""Helpers for the file provider's tests (a unique module name, unlike ``conftest``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_atomic(path: Path, text: str) -> None:
    """What editors and config-management tools do: write a temporary file, rename it over."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class Emits:
    """Records what a provider emits; ``wait(n)`` blocks until ``n`` emits were seen."""

    def __init__(self) -> None:
        self.configs: list[Any] = []
        self._changed = anyio.Event()

    def __call__(self, config: Any) -> None:
        self.configs.append(config)
        self._changed.set()
        self._changed = anyio.Event()

    async def wait(self, count: int, timeout: float = 10) -> Any:
        with anyio.fail_after(timeout):
            while len(self.configs) < count:
                await self._changed.wait()
        return self.configs[count - 1]


async def wait_until(predicate: Any, timeout: float = 10, interval: float = 0.02) -> None:
    """Poll ``predicate`` until it is true, failing after ``timeout`` seconds."""
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(interval)
