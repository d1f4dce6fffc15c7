"""Entry-point models: ``entryPoints.<ep>.http.middlewares`` and ``.http.tls`` applied to routers.

Traefik's internal provider turns each entry point with HTTP middlewares or a
default TLS configuration into a model, and ``applyModel``
(pkg/server/aggregator.go) copies every root router once per such entry point:
the copy gets the model's middlewares in front of its own, the model's TLS
when it has none, and each ``observability`` field it does not set from the
entry point's ``observability``. A router on several entry points is split, the
copies named ``<ep>-<name>``; the original keeps the entry points without a model.
Then every root router's ``observability`` gets the defaults for what is still
unset (``applyDefaultObservabilityModel``), as the API shows them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from edgeway.config.dynamic_http import RouterObservabilityConfig, RouterTLSConfig

__all__ = ["EntryPointModel", "apply_models"]


@dataclass(frozen=True)
class EntryPointModel:
    middlewares: Sequence[str] = ()
    #: The static ``http.tls`` (``options``, ``certResolver``, ``domains``) or None.
    tls: Any = None
    #: The static ``observability`` (``EntryPointObservability``) or None.
    observability: Any = None

    @property
    def empty(self) -> bool:
        return not self.middlewares and self.tls is None and self.observability is None


def apply_models(
    routers: Mapping[str, tuple[str, Any]], models: Mapping[str, EntryPointModel]
) -> dict[str, tuple[str, Any]]:
    models = {ep: m for ep, m in models.items() if not m.empty}
    applied = _apply(routers, models) if models else routers
    return {name: (provider, _with_default_observability(router)) for name, (provider, router) in applied.items()}


def _apply(
    routers: Mapping[str, tuple[str, Any]], models: Mapping[str, EntryPointModel]
) -> Mapping[str, tuple[str, Any]]:
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
            if model.observability is not None:
                update["observability"] = _inherit(router.observability, model.observability)
            out[f"{ep}-{name}" if len(eps) > 1 else name] = (provider, router.model_copy(update=update))
        if kept:
            out[name] = (provider, router.model_copy(update={"entryPoints": kept}))
    return out


_DEFAULT_OBSERVABILITY = RouterObservabilityConfig(
    accessLogs=True, metrics=True, tracing=True, traceVerbosity="minimal"
)


def _with_default_observability(router: Any) -> Any:
    """``applyDefaultObservabilityModel`` (aggregator.go): root routers only."""
    if router.parentRefs:
        return router
    own = router.observability
    if own is None:
        return router.model_copy(update={"observability": _DEFAULT_OBSERVABILITY})
    unset = {
        f: v for f, v in _DEFAULT_OBSERVABILITY.model_dump().items() if getattr(own, f) in (None, "")
    }
    if not unset:
        return router
    return router.model_copy(update={"observability": own.model_copy(update=unset)})


def _inherit(own: RouterObservabilityConfig | None, model: Any) -> RouterObservabilityConfig:
    """The router's ``observability``, each field it leaves unset taken from the
    entry point's (aggregator.go's applyModel; a router's ``observability``
    section always has a ``traceVerbosity``: its ``SetDefaults`` gives ``minimal``)."""
    fields = ("accessLogs", "metrics", "tracing", "traceVerbosity")
    values = {f: getattr(model, f) for f in fields}
    if own is not None:
        values.update({f: getattr(own, f) for f in fields if getattr(own, f) not in (None, "")})
    return RouterObservabilityConfig(**values)
