"""``passiveHealthCheck``: a server that fails in live traffic leaves the rotation for a while.

As Traefik's ``PassiveServiceHealthChecker``: an answer of 500 or more (which
includes edgeway's own 502/504 when the server cannot be reached) is a failure;
any other answer clears the server's failures. With ``maxFailedAttempts``
failures within ``failureWindow`` the server is set down, and back up after
``failureWindow`` — unless an active health check runs, which then decides.
Like Traefik, it does not change the ``serverStatus`` the API shows.
"""

from __future__ import annotations

import asyncio
import time

from edgeway.http.message import Handler, Request, Response
from edgeway.services.balancer import Balancer


class PassiveHealthCheck:
    def __init__(self, balancer: Balancer, max_failed_attempts: int, failure_window: float, has_active: bool) -> None:
        self.balancer = balancer
        self.max_failed = max_failed_attempts
        self.window = failure_window
        self.has_active = has_active
        self._failures: dict[str, list[float]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def wrap(self, handler: Handler, target: str) -> Handler:
        async def watched(req: Request) -> Response:
            resp = await handler(req)
            if resp.status < 500:
                self._failures.pop(target, None)
            else:
                self._failed(target)
            return resp

        return watched

    def _failed(self, target: str) -> None:
        now = time.monotonic()
        window_start = now - self.window
        failures = [t for t in self._failures.get(target, ()) if t > window_start]
        failures.append(now)
        self._failures[target] = failures
        if len(failures) < self.max_failed or target in self._timers:
            return
        self.balancer.set_status(target, False)
        if self.has_active:
            return  # the active health check brings it back
        loop = asyncio.get_running_loop()
        self._timers[target] = loop.call_later(self.window, self._recovered, target)

    def _recovered(self, target: str) -> None:
        del self._timers[target]
        self.balancer.set_status(target, True)
