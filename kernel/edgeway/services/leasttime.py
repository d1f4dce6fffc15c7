"""Traefik's ``leasttime`` strategy: the lowest ``avg TTFB × (1 + in flight) / weight``.

The time to first byte (in whole milliseconds, as Go's ``Duration.Milliseconds``)
is averaged over the last 100 responses of each server; ties are broken by the
weighted round robin deadlines, as in ``leasttime.Balancer``.
"""

from __future__ import annotations

import time
from collections import deque

from edgeway.http.message import Handler, Request, Response
from edgeway.services.balancer import Balancer, Child, count_inflight

SAMPLE_SIZE = 100


class _TimedChild(Child):
    __slots__ = ("samples", "deadline")

    def __init__(self, name: str, handler: Handler, weight: float, deadline: float) -> None:
        super().__init__(name, handler, weight)
        self.samples: deque[float] = deque(maxlen=SAMPLE_SIZE)
        self.deadline = deadline

    def average(self) -> float:
        return sum(self.samples) / len(self.samples) if self.samples else 0.0


class LeastTimeBalancer(Balancer):
    kind = "LeastTime"
    _cur_deadline = 0.0

    def add(self, name: str, handler: Handler, weight: int | None, fenced: bool = False) -> None:
        w = 1 if weight is None else weight
        if w <= 0:
            return
        self._cur_deadline += 1 / w
        self._add(_TimedChild(name, handler, float(w), self._cur_deadline), fenced)

    def next_server(self, req: Request) -> Child | None:
        up = self.pickable
        healthy = [c for c in self.children if c.name in up]
        if len(healthy) <= 1:
            return healthy[0] if healthy else None
        best = float("inf")
        candidates: list[_TimedChild] = []
        for c in healthy:
            assert isinstance(c, _TimedChild)
            score = c.average() * (1 + c.inflight) / c.weight
            if score < best:
                best, candidates = score, [c]
            elif score == best:
                candidates.append(c)
        if len(candidates) == 1:
            return candidates[0]
        selected = min(candidates, key=lambda c: c.deadline)  # first of the earliest, as Go's loop
        selected.deadline += 1 / selected.weight
        self._cur_deadline = max(self._cur_deadline, selected.deadline)
        return selected

    async def serve(self, child: Child, req: Request) -> Response:
        assert isinstance(child, _TimedChild)
        child.inflight += 1
        start = time.monotonic()
        try:
            resp = await child.handler(req)
        except BaseException:
            child.inflight -= 1
            raise
        child.samples.append(float(int((time.monotonic() - start) * 1000)))
        return count_inflight(child, resp)
