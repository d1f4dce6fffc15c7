"""circuitBreaker: stop calling a failing service for a while (oxy's cbreaker).

Standby: requests pass and their status and latency are recorded; at most every
``checkPeriod`` (after a response) the ``expression`` is evaluated, and when it
holds the breaker trips. Tripped: every request gets ``responseCode`` with its
status text, for ``fallbackDuration``. Recovering: for ``recoveryDuration`` a
share of the requests growing linearly from 0 to 50% passes again; the
expression tripping again goes back to Tripped, the end of the period to Standby.
"""

from __future__ import annotations

import time

from edgeway.config.dynamic import CircuitBreaker
from edgeway.http.message import Handler, Request, Response
from edgeway.middlewares.cbexpr import Predicate, parse_expression
from edgeway.middlewares.cbmetrics import RTMetrics
from edgeway.middlewares.replies import status_reply, when_done
from edgeway.registry import BuildContext

__all__ = ["Breaker", "build_circuit_breaker"]

STANDBY, TRIPPED, RECOVERING = "standby", "tripped", "recovering"


class _Ratio:
    """``ratioController``: allow requests so that allowed/all follows 0.5 * elapsed/duration."""

    __slots__ = ("duration", "start", "allowed", "denied")

    def __init__(self, duration: float, now: float) -> None:
        self.duration = duration
        self.start = now
        self.allowed = 0
        self.denied = 0

    def allow(self, now: float) -> bool:
        target = 0.5 * (now - self.start) / self.duration if self.duration > 0 else 0.0
        if (self.allowed + 1) / (self.allowed + 1 + self.denied) < target:
            self.allowed += 1
            return True
        self.denied += 1
        return False


class Breaker:
    """The state machine and metrics of one circuit breaker instance."""

    def __init__(self, condition: Predicate, check_period: float, fallback: float, recovery: float) -> None:
        self.condition = condition
        self.check_period = check_period
        self.fallback_duration = fallback
        self.recovery_duration = recovery
        self.metrics = RTMetrics()
        self.state = STANDBY
        self.until = 0.0
        self.last_check = float("-inf")
        self.ratio: _Ratio | None = None

    def use_fallback(self, now: float) -> bool:
        """``activateFallback``: True when this request gets the fallback answer."""
        if self.state == STANDBY:
            return False
        if self.state == TRIPPED:
            if now < self.until:
                return True
            self.state, self.until = RECOVERING, now + self.recovery_duration
            self.ratio = _Ratio(self.recovery_duration, now)
        if now > self.until:
            self.state, self.until = STANDBY, now
            return False
        assert self.ratio is not None
        return not self.ratio.allow(now)

    def record(self, status: int, latency: float, now: float) -> None:
        """After a response went through: record it, and check the condition when due."""
        self.metrics.record(status, latency)
        if now <= self.last_check:
            return
        self.last_check = now + self.check_period
        if self.state == TRIPPED or not self.condition(self.metrics):
            return
        self.state, self.until = TRIPPED, now + self.fallback_duration
        self.metrics.reset()


def build_circuit_breaker(options: CircuitBreaker, next_: Handler, ctx: BuildContext) -> Handler:
    code = options.responseCode if options.responseCode is not None else 503
    if not 200 <= code <= 999:
        raise ValueError(f"invalid responseCode {code}: a final HTTP status (200-999) is required")
    condition = parse_expression(options.expression or "")

    def duration(value: float | None, default: float) -> float:
        return value if value is not None and value > 0 else default

    breaker = Breaker(
        condition,
        duration(options.checkPeriod, 0.1),
        duration(options.fallbackDuration, 10.0),
        duration(options.recoveryDuration, 10.0),
    )

    async def circuit_breaker(req: Request) -> Response:
        start = time.monotonic()
        if breaker.use_fallback(start):
            return status_reply(code)
        resp = await next_(req)
        status = resp.status

        def done() -> None:
            end = time.monotonic()
            breaker.record(status, end - start, end)

        return when_done(resp, done)

    return circuit_breaker
