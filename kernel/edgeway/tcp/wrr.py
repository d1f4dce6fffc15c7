"""The weighted round robin of Traefik's TCP and UDP services (pkg/tcp/wrr_load_balancer.go,
pkg/udp/wrr_load_balancer.go): interleaved by weight with the GCD step, children
skipped while down (TCP health checks), parents told when the whole balancer
goes up or down.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Generic, TypeVar

from edgeway.services import BuildError

__all__ = ["WeightedRoundRobin"]

H = TypeVar("H")


class WeightedRoundRobin(Generic[H]):
    """Children ``(name, handler, weight)``; :meth:`next` picks the next one that is up."""

    def __init__(self, wants_health_check: bool = False) -> None:
        self.wants_health_check = wants_health_check
        self.children: list[tuple[str, H, int]] = []
        self.up: set[str] = set()
        self._updaters: list[Callable[[bool], None]] = []
        self._index = -1
        self._current_weight = 0

    def add(self, name: str, handler: H, weight: int | None = None) -> None:
        self.children.append((name, handler, 1 if weight is None else weight))
        self.up.add(name)

    def set_status(self, name: str, up: bool) -> None:
        """A child went up or down; parents hear of it when the balancer as a whole changes."""
        before = bool(self.up)
        if up:
            self.up.add(name)
        else:
            self.up.discard(name)
        after = bool(self.up)
        if before != after:
            for fn in self._updaters:
                fn(after)

    def register_status_updater(self, fn: Callable[[bool], None]) -> None:
        if not self.wants_health_check:
            raise BuildError("healthCheck not enabled in config for this weighted service")
        self._updaters.append(fn)

    def next(self) -> H | None:
        """Traefik's ``nextServer``; None when no child can be picked.

        Traefik loops forever when no up child has a positive weight; here
        that is "no server".
        """
        children = self.children
        if not children or not self.up:
            return None
        maximum = max(w for _, _, w in children)
        if maximum == 0 or not any(w > 0 and name in self.up for name, _, w in children):
            return None
        step = 0
        for _, _, w in children:
            step = math.gcd(step, w)
        while True:
            self._index = (self._index + 1) % len(children)
            if self._index == 0:
                self._current_weight -= step
                if self._current_weight <= 0:
                    self._current_weight = maximum
            name, handler, weight = children[self._index]
            if name in self.up and weight >= self._current_weight:
                return handler
