"""``failover``: the main service while it is up, else the fallback (Traefik's ``failover``).

The main service's health comes from its own health checks (it must be able to
report it, unless ``errors`` are set). With ``errors.status``, an answer of the
main service with one of those statuses is dropped and the request replayed on
the fallback; the body is then held in memory, up to ``maxRequestBodyBytes``.
"""

from __future__ import annotations

import re
from typing import Any

from edgeway.http.message import Handler, Request, Response
from edgeway.pipeline.runtime import ServiceInfo, qualify
from edgeway.services import BuildError, ServiceContext
from edgeway.services.children import child_handler, child_updater, follow_child
from edgeway.services.replay import BodyTooLarge, clone, read_body


def parse_code_ranges(blocks: list[str]) -> list[tuple[int, int]]:
    """Traefik's ``types.NewHTTPCodeRanges``: ``"502"`` or ``"500-599"`` (extra parts ignored)."""
    ranges = []
    for block in blocks:
        codes = block.split("-")
        if len(codes) == 1:
            codes.append(codes[0])
        ranges.append((_atoi(codes[0]), _atoi(codes[1])))
    return ranges


def _atoi(text: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise BuildError(f'creating HTTP code ranges: strconv.Atoi: parsing "{text}": invalid syntax')
    return int(text)


class Failover:
    def __init__(self, main: Handler, fallback: Handler, wants_health_check: bool, codes: list[tuple[int, int]], limit: int) -> None:
        self.main = main
        self.fallback = fallback
        self.wants_health_check = wants_health_check
        self.codes = codes
        self.limit = limit
        self.main_up = True
        self.fallback_up = True
        self._updaters: list[Any] = []

    def register_status_updater(self, fn: Any) -> None:
        if not self.wants_health_check:
            raise BuildError("healthCheck not enabled in config for this failover service")
        self._updaters.append(fn)

    def set_main_status(self, up: bool) -> None:
        if up != self.main_up:
            self.main_up = up
            self._propagate()

    def set_fallback_status(self, up: bool) -> None:
        if up != self.fallback_up:
            self.fallback_up = up
            self._propagate()

    def _propagate(self) -> None:
        for fn in self._updaters:
            fn(self.main_up or self.fallback_up)

    def _is_error(self, status: int) -> bool:
        return any(low <= status <= high for low, high in self.codes)

    async def __call__(self, req: Request) -> Response:
        if self.main_up:
            if not self.codes:
                return await self.main(req)
            try:
                body = await read_body(req, self.limit)
            except BodyTooLarge:
                return Response.text(413, "Request body too large")
            resp = await self.main(clone(req, body))
            if not self._is_error(resp.status):
                return resp
            stream = resp.stream
            if stream is not None:  # the answer is dropped: free its connection
                aclose = getattr(stream, "aclose", None)
                if aclose is not None:
                    await aclose()
            req = clone(req, body)
        if self.fallback_up:
            return await self.fallback(req)
        return Response.text(503, "Service Unavailable")


def build_failover(info: ServiceInfo, cfg: Any, ctx: ServiceContext) -> Handler:
    main_name = cfg.service or ""
    main = child_handler(ctx, info, main_name)
    errors = cfg.errors
    error_defined = errors is not None and bool(errors.status)
    updater = ctx.status_updaters.get(qualify(main_name, info.provider))
    if updater is None and not error_defined:
        child_updater(ctx, info, main_name)  # raises: the main service cannot report its health
    try:
        codes = parse_code_ranges(list(errors.status)) if error_defined else []
    except BuildError as exc:
        raise BuildError(f"error creating failover service {info.name}: {exc}") from None
    limit = -1 if errors is None or errors.maxRequestBodyBytes is None else errors.maxRequestBodyBytes
    failover = Failover(main, main, cfg.healthCheck is not None, codes, limit)
    if updater is not None:
        try:
            follow_child(ctx, info, main_name, failover.set_main_status)
        except BuildError:
            if not error_defined:
                raise

    fallback_name = cfg.fallback or ""
    failover.fallback = child_handler(ctx, info, fallback_name)
    if cfg.healthCheck is not None:  # else the fallback's health is not reported
        follow_child(ctx, info, fallback_name, failover.set_fallback_status)
    ctx.status_updaters[info.name] = failover
    return failover
