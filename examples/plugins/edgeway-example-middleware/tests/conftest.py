"""Run the example's tests from a checkout, without installing it: its root goes on ``sys.path``.

(Installed — ``pip install -e .`` — the import finds the same package.)
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
