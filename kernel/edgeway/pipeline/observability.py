"""Which signals a router (or an entry point's 404) gives: its ``observability``.

Traefik's ``ObservabilityMgr`` (pkg/server/middleware/observability.go) decides
per router from the router's ``observability`` (entry point defaults already
inherited by the models, see :mod:`edgeway.pipeline.models`): every field left
unset is on, ``traceVerbosity`` other than ``detailed`` is minimal. edgeway
decides it once, when the configuration is compiled: a signal that is off is
not compiled into that router's handler at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Switches", "switches"]


@dataclass(frozen=True)
class Switches:
    access_logs: bool = True
    metrics: bool = True
    tracing: bool = True
    #: ``traceVerbosity: detailed``: Router, middleware and Service spans too.
    detailed: bool = False


_ALL_ON = Switches()


def switches(observability: Any) -> Switches:
    """The switches of a router's ``observability`` or of a static
    ``entryPoints.<name>.observability`` (same field names); None: all on, minimal."""
    if observability is None:
        return _ALL_ON
    return Switches(
        access_logs=observability.accessLogs is not False,
        metrics=observability.metrics is not False,
        tracing=observability.tracing is not False,
        detailed=observability.traceVerbosity == "detailed",
    )
