"""Smooth weighted round robin, the order Traefik's ``wrr`` balancer serves in.

Traefik picks the handler with the earliest deadline and pushes it back by
``1/weight`` (earliest-deadline-first). Ties go to the one added first, so equal
weights give plain round robin in configuration order. (Traefik shuffles the
servers once per configuration; configuration order is one of its orders.)

:class:`WeightedRoundRobin` is the bare schedule, used as the handler of a
plain load balancer (no status to check per request); :class:`WrrBalancer` is
the full balancer, which skips children that are down.
"""

from __future__ import annotations

import heapq
from collections.abc import Awaitable, Sequence
from typing import Any, Generic, TypeVar

from edgeway.http.message import Handler, Request, Response
from edgeway.http.status import no_available_server
from edgeway.services.balancer import Balancer, Child

T = TypeVar("T")


class WeightedRoundRobin(Generic[T]):
    """Picks among ``(item, weight)`` pairs; weights ≤ 0 are ignored as in Traefik.

    Called with a request, the items are handlers and the picked one serves it.
    """

    __slots__ = ("_heap", "_seq", "_single", "_cycle", "_n", "_i")

    def __init__(self, entries: Sequence[tuple[T, float]]) -> None:
        live = [(h, w) for h, w in entries if w > 0]
        self._single: T | None = live[0][0] if len(live) == 1 else None
        weights = {w for _, w in live}
        # Equal weights: a plain rotation gives the same order with less work.
        self._cycle: list[T] | None = [h for h, _ in live] if len(weights) == 1 else None
        self._n = len(live)
        self._i = 0
        self._heap: list[tuple[float, int, float, T]] = [(1.0 / w, i, 1.0 / w, h) for i, (h, w) in enumerate(live)]
        heapq.heapify(self._heap)
        self._seq = len(live)

    def __len__(self) -> int:
        return self._n

    def pick(self) -> T | None:
        if self._single is not None:
            return self._single
        cycle = self._cycle
        if cycle is not None:
            h = cycle[self._i]
            self._i = (self._i + 1) % self._n
            return h
        heap = self._heap
        if not heap:
            return None
        deadline, seq, step, h = heap[0]
        self._seq += 1
        heapq.heapreplace(heap, (deadline + step, self._seq, step, h))
        return h

    def __call__(self, req: Request) -> Awaitable[Response]:
        h: Any = self.pick()
        if h is None:
            return _no_server(req)
        handler: Handler = h
        return handler(req)


async def _no_server(req: Request) -> Response:
    return no_available_server()


class WrrBalancer(Balancer):
    """Traefik's ``wrr.Balancer``: children that are down keep their turn but are skipped."""

    kind = "WRR"
    _order: WeightedRoundRobin[Child] | None = None

    def next_server(self, req: Request) -> Child | None:
        up = self.pickable
        if not up:
            return None
        order = self._order
        if order is None:
            order = self._order = WeightedRoundRobin([(c, c.weight) for c in self.children])
        while True:
            child = order.pick()
            if child is None:
                return None
            if child.name in up:
                return child
