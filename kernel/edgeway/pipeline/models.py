"""Entry-point models: ``entryPoints.<ep>.http.middlewares`` and ``.http.tls`` applied to routers.

Traefik's internal provider turns each entry point with HTTP middlewares or a
default TLS configuration into a model, and ``applyModel``
(pkg/server/aggregator.go) copies every root router once per such entry point:
the copy gets the model's middlewares in front of its own and the model's TLS
when it has none. A router on several entry points is split, the copies named
``<ep>-<name>``; the original keeps the entry points without a model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from edgeway.config.dynamic_http import RouterTLSConfig

__all__ = ["EntryPointModel", "apply_models"]


@dataclass(frozen=True)
class EntryPointModel:
    middlewares: Sequence[str] = ()
    #: The static ``http.tls`` (``options``, ``certResolver``, ``domains``) or None.
    tls: Any = None

    @property
    def empty(self) -> bool:
        return not self.middlewares and self.tls is None


def apply_models(
    routers: Mapping[str, tuple[str, Any]], models: Mapping[str, EntryPointModel]
) -> dict[str, tuple[str, Any]]:
    models = {ep: m for ep, m in models.items() if not m.empty}
    if not models:
        return dict(routers)
    out: dict[str, tuple[str, Any]] = {}
    for name, (provider, router) in routers.items():
        if router.parentRefs:
            out[name] = (provider, router)
            continue
        eps = list(router.entryPoints or [])
        kept: list[str] = []
        for ep in eps:
            model = models.get(ep)
            if model is None:
                kept.append(ep)
                continue
            update: dict[str, Any] = {
                "entryPoints": [ep],
                "middlewares": [*model.middlewares, *(router.middlewares or [])],
            }
            if router.tls is None and model.tls is not None:
                update["tls"] = RouterTLSConfig(
                    options=model.tls.options or None,
                    certResolver=model.tls.certResolver or None,
                    domains=list(model.tls.domains) if model.tls.domains else None,
                )
            out[f"{ep}-{name}" if len(eps) > 1 else name] = (provider, router.model_copy(update=update))
        if kept:
            out[name] = (provider, router.model_copy(update={"entryPoints": kept}))
    return out
