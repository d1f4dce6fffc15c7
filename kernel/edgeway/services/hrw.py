"""Traefik's highest random weight (rendezvous hashing) on the client IP.

Each child scores ``weight / -ln(fnv64a(ip + name) / 2^64)``; the highest
score among the up children wins, so a client sticks to one child as long as
it is up, and only the clients of a child that goes down move.
"""

from __future__ import annotations

import math

from edgeway.http.message import Request
from edgeway.services.balancer import Balancer, Child

_TWO_64 = float(2**64)


def fnv64a(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def score(key: str, child: Child) -> float:
    """Traefik's ``getNodeScore``."""
    x = fnv64a((key + child.name).encode()) / _TWO_64
    if x <= 0.0:
        return 0.0
    if x >= 1.0:  # float64(2^64 - 1) rounds to 2^64, ln(1) = 0: Go's 1/-0 is +Inf
        return math.inf
    return 1.0 / -math.log(x) * child.weight


class HrwBalancer(Balancer):
    kind = "HRW"

    def next_server(self, req: Request) -> Child | None:
        up = self.pickable
        key = req.client_ip
        best: Child | None = None
        best_score = 0.0
        for c in self.children:
            if c.name in up:
                s = score(key, c)
                if s > best_score:
                    best, best_score = c, s
        return best
