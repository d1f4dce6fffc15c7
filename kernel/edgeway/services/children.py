"""Services made of services: building a child and following its health (Traefik's StatusUpdater)."""

from __future__ import annotations

from collections.abc import Callable

from edgeway.http.message import Handler
from edgeway.pipeline.runtime import ServiceInfo, qualify
from edgeway.services import BuildError, ServiceContext, StatusUpdater


def child_handler(ctx: ServiceContext, parent: ServiceInfo, name: str) -> Handler:
    """The handler of the child service ``name`` (as written in ``parent``'s configuration)."""
    return ctx.service(qualify(name, parent.provider))


def child_updater(ctx: ServiceContext, parent: ServiceInfo, name: str) -> StatusUpdater:
    updater = ctx.status_updaters.get(qualify(name, parent.provider))
    if updater is None:
        raise BuildError(f"child service {name} of {parent.name} not a healthcheck.StatusUpdater (internal service)")
    return updater


def follow_child(ctx: ServiceContext, parent: ServiceInfo, name: str, fn: Callable[[bool], None]) -> None:
    """Call ``fn(up)`` when child ``name`` goes up or down as a whole."""
    updater = child_updater(ctx, parent, name)
    try:
        updater.register_status_updater(fn)
    except BuildError as exc:
        raise BuildError(f"cannot register {name} as updater for {parent.name}: {exc}") from None
