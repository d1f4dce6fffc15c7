"""``mirroring``: serve from the main service and send copies to mirrors (Traefik's ``mirror``).

A mirror gets request number *n* while it has had fewer than ``percent``% of
the *n* requests so far. The copies leave after the main service has answered,
one mirror after the other in a background task; their answers are read and
dropped, so a slow mirror never delays the client. With ``mirrorBody`` the body
is held in memory to be replayed; a body over ``maxBodySize`` is served by the
main service only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from edgeway.http.message import Handler, Request, Response
from edgeway.pipeline.runtime import ServiceInfo, qualify
from edgeway.services import BuildError, ServiceContext
from edgeway.services.children import child_handler
from edgeway.services.replay import BodyTooLarge, PrefixedBody, clone, read_body, without_body

log = logging.getLogger("edgeway.mirroring")


class _Mirror:
    __slots__ = ("handler", "percent", "count")

    def __init__(self, handler: Handler, percent: int) -> None:
        self.handler = handler
        self.percent = percent
        self.count = 0


class Mirroring:
    def __init__(self, main: Handler, mirror_body: bool, max_body_size: int, wants_health_check: bool) -> None:
        self.main = main
        self.mirror_body = mirror_body
        self.max_body_size = max_body_size
        self.wants_health_check = wants_health_check
        self.mirrors: list[_Mirror] = []
        self.total = 0
        self._tasks: set[asyncio.Task[None]] = set()
        #: Registers a parent's callback on the main service (set by the builder).
        self.register_on_main: Callable[[Callable[[bool], None]], None] | None = None
        self.main_error = ""

    def add_mirror(self, handler: Handler, percent: int) -> None:
        if percent < 0 or percent > 100:
            raise BuildError("percent must be between 0 and 100")
        self.mirrors.append(_Mirror(handler, percent))

    def register_status_updater(self, fn: Callable[[bool], None]) -> None:
        """Health is the main service's own (Traefik asks for ``healthCheck`` here anyway)."""
        if not self.wants_health_check:
            raise BuildError("healthCheck not enabled in config for this mirroring service")
        if self.register_on_main is None:
            raise BuildError(f"service of mirroring {self.main_error} not a healthcheck.StatusUpdater")
        try:
            self.register_on_main(fn)
        except BuildError as exc:
            raise BuildError(f"cannot register service of mirroring as updater: {exc}") from None

    def _active(self) -> list[_Mirror]:
        self.total += 1
        total = self.total
        active = []
        for m in self.mirrors:
            if m.count * 100 < total * m.percent:
                m.count += 1
                active.append(m)
        return active

    async def __call__(self, req: Request) -> Response:
        mirrors = self._active()
        if not mirrors:
            return await self.main(req)
        if not self.mirror_body:
            copies = [without_body(req) for _ in mirrors]
            resp = await self.main(req)
        else:
            original = req.body
            try:
                body = await read_body(req, self.max_body_size)
            except BodyTooLarge as exc:
                assert original is not None
                req.body = PrefixedBody(exc.prefix, original)
                try:
                    return await self.main(req)
                finally:
                    req.body = original  # the server judges the client connection by its own body
            copies = [clone(req, body) for _ in mirrors]
            resp = await self.main(clone(req, body))
        task = asyncio.get_running_loop().create_task(_send(mirrors, copies))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return resp


async def _send(mirrors: list[_Mirror], copies: list[Request]) -> None:
    for mirror, req in zip(mirrors, copies, strict=True):
        try:
            resp = await mirror.handler(req)
            stream = resp.stream
            if stream is not None:
                try:
                    async for _ in stream:
                        pass
                finally:
                    aclose = getattr(stream, "aclose", None)
                    if aclose is not None:
                        await aclose()
        except Exception:
            log.debug("mirror request failed", exc_info=True)


def build_mirroring(info: ServiceInfo, cfg: Any, ctx: ServiceContext) -> Handler:
    name = cfg.service or ""
    main = child_handler(ctx, info, name)
    mirroring = Mirroring(
        main,
        cfg.mirrorBody is not False,
        -1 if cfg.maxBodySize is None else cfg.maxBodySize,
        cfg.healthCheck is not None,
    )
    updater = ctx.status_updaters.get(qualify(name, info.provider))
    if updater is not None:
        mirroring.register_on_main = updater.register_status_updater
    else:
        mirroring.main_error = "(internal service)"
    for m in cfg.mirrors or []:
        mirroring.add_mirror(child_handler(ctx, info, m.name or ""), m.percent or 0)
    ctx.status_updaters[info.name] = mirroring
    return mirroring
