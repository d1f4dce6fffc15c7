"""What Traefik's balancers (``wrr``, ``p2c``, ``hrw``, ``leasttime``) have in common.

Each child (a server, or a child service) has a name; a balancer knows which
children are up (``SetStatus``), tells its parents when it goes up or down as a
whole (``RegisterStatusUpdater``), and serves sticky sessions. Subclasses only
choose the next child.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from edgeway.http.message import Handler, Request, Response
from edgeway.http.status import no_available_server
from edgeway.services import BuildError
from edgeway.services.sticky import Sticky


class Child:
    """One child of a balancer; ``inflight`` counts requests not fully answered yet."""

    __slots__ = ("name", "handler", "weight", "inflight")

    def __init__(self, name: str, handler: Handler, weight: float) -> None:
        self.name = name
        self.handler = handler
        self.weight = weight
        self.inflight = 0


class Balancer(abc.ABC):
    """Status, parents and sticky cookie of a balancer; ``next_server`` picks among the up children."""

    #: How Traefik names the balancer in "healthCheck not enabled in config for this ... service".
    kind = "WRR"

    def __init__(self, wants_health_check: bool, sticky_cookie: Any = None, service: str = "") -> None:
        self.wants_health_check = wants_health_check
        self.children: list[Child] = []
        self.up: set[str] = set()
        #: The up children new requests may go to: not ``fenced`` (terminating
        #: Kubernetes endpoints only keep their sticky sessions, as in Traefik).
        self.pickable: set[str] = set()
        self.fenced: set[str] = set()
        self._known: set[str] = set()
        self._updaters: list[Callable[[bool], None]] = []
        self.sticky: Sticky[Child] | None = Sticky(sticky_cookie, service) if sticky_cookie is not None else None

    def add(self, name: str, handler: Handler, weight: int | None, fenced: bool = False) -> None:
        """Traefik's ``Add``: a child of weight ≤ 0 is ignored; the others start up."""
        w = 1 if weight is None else weight
        if w <= 0:
            return
        self._add(Child(name, handler, float(w)), fenced)

    def _add(self, child: Child, fenced: bool) -> None:
        self.children.append(child)
        self.up.add(child.name)
        if fenced:
            self.fenced.add(child.name)
        else:
            self.pickable.add(child.name)
        self._known.add(child.name)
        if self.sticky is not None:
            self.sticky.add(child.name, child)

    def set_status(self, name: str, up: bool) -> None:
        """A child is up or down; parents hear of it when the balancer as a whole changes."""
        if name not in self._known:
            return
        before = bool(self.up)
        if up:
            self.up.add(name)
            if name not in self.fenced:
                self.pickable.add(name)
        else:
            self.up.discard(name)
            self.pickable.discard(name)
        after = bool(self.up)
        if before != after:
            for fn in self._updaters:
                fn(after)

    def register_status_updater(self, fn: Callable[[bool], None]) -> None:
        if not self.wants_health_check:
            raise BuildError(f"healthCheck not enabled in config for this {self.kind} service")
        self._updaters.append(fn)

    @abc.abstractmethod
    def next_server(self, req: Request) -> Child | None:
        """Implemented by each kind."""

    def serve(self, child: Child, req: Request) -> Awaitable[Response]:
        return child.handler(req)

    async def __call__(self, req: Request) -> Response:
        sticky = self.sticky
        if sticky is not None:
            found = sticky.lookup(req)
            if found is not None and found[0].name in self.up:
                child, rewrite = found
                resp = await self.serve(child, req)
                if rewrite:
                    sticky.write(resp, child.name)
                return resp
        picked = self.next_server(req)
        if picked is None:
            return no_available_server()
        resp = await self.serve(picked, req)
        if sticky is not None:
            sticky.write(resp, picked.name)
        return resp


class NoHealthCheck:
    """The status updater of a balancer without ``healthCheck``: parents cannot follow it."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def register_status_updater(self, fn: Callable[[bool], None]) -> None:
        raise BuildError(f"healthCheck not enabled in config for this {self.kind} service")


def count_inflight(child: Child, resp: Response) -> Response:
    """Keep ``child.inflight`` raised until the response body has been sent (or dropped)."""
    if resp.stream is None:
        child.inflight -= 1
    else:
        resp.stream = _Counted(resp.stream, child)
    return resp


class _Counted:
    """A response stream that lowers its child's in-flight count once finished or closed."""

    __slots__ = ("_stream", "_child", "_done")

    def __init__(self, stream: AsyncIterator[bytes], child: Child) -> None:
        self._stream = stream.__aiter__()
        self._child = child
        self._done = False

    def __aiter__(self) -> _Counted:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self._stream.__anext__()
        except BaseException:
            self._finish()
            raise

    async def aclose(self) -> None:
        self._finish()
        aclose = getattr(self._stream, "aclose", None)
        if aclose is not None:
            await aclose()

    def _finish(self) -> None:
        if not self._done:
            self._done = True
            self._child.inflight -= 1
