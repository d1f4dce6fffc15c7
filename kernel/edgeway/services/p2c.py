"""Traefik's ``p2c`` strategy: of two random up servers, the one with fewer requests in flight.

A request stays in flight until its response body has been sent. Weights play
no part (Traefik's ``p2c.AddServer`` ignores them, zero included).
"""

from __future__ import annotations

import random

from edgeway.http.message import Handler, Request, Response
from edgeway.services.balancer import Balancer, Child, count_inflight


class P2cBalancer(Balancer):
    kind = "P2C"

    def add(self, name: str, handler: Handler, weight: int | None, fenced: bool = False) -> None:
        self._add(Child(name, handler, 1.0), fenced)

    def next_server(self, req: Request) -> Child | None:
        up = self.pickable
        healthy = [c for c in self.children if c.name in up]
        n = len(healthy)
        if n <= 1:
            return healthy[0] if healthy else None
        n1, n2 = random.randrange(n), random.randrange(n)
        if n2 == n1:
            n2 = (n2 + 1) % n
        h1, h2 = healthy[n1], healthy[n2]
        return h2 if h2.inflight < h1.inflight else h1

    async def serve(self, child: Child, req: Request) -> Response:
        child.inflight += 1
        try:
            resp = await child.handler(req)
        except BaseException:
            child.inflight -= 1
            raise
        return count_inflight(child, resp)
