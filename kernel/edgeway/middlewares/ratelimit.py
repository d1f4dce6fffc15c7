"""rateLimit: a token bucket per source (pkg/middlewares/ratelimiter/rate_limiter.go).

``average`` requests per ``period`` with bursts of ``burst``. A request that
would have to wait up to ``maxDelay`` (half the interval between two tokens,
0.5s below one request per second) is delayed; a longer wait is answered 429
with ``Retry-After`` and ``X-Retry-In``. Buckets live in this middleware instance
(so per router, as Traefik builds one per router) in a map of at most 65536
sources that forgets idle ones, or in Redis, shared by every replica.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from edgeway.config.durations import format_duration
from edgeway.config.dynamic import RateLimit
from edgeway.http.message import Handler, Headers, Request, Response
from edgeway.middlewares.ipstrategy import source_extractor
from edgeway.middlewares.replies import status_reply
from edgeway.middlewares.tokenbucket import TokenBucket, TTLMap
from edgeway.registry import BuildContext

if TYPE_CHECKING:
    from edgeway.middlewares.redislimiter import RedisLimiter

__all__ = ["MAX_SOURCES", "MemoryLimiter", "build_rate_limit"]

MAX_SOURCES = 65536


class MemoryLimiter:
    """``inMemoryRateLimiter``: buckets keyed by source in a bounded TTL map."""

    def __init__(self, rate: float, burst: int, max_delay: int, ttl: int, capacity: int = MAX_SOURCES) -> None:
        self.rate = rate
        self.burst = burst
        self.max_delay = max_delay
        self.ttl = ttl
        self.buckets = TTLMap(capacity)

    async def allow(self, source: str) -> int | None:
        return self.allow_now(source)

    def allow_now(self, source: str) -> int | None:
        """``allow`` without a coroutine: the in-memory bucket never waits for I/O.

        One monotonic clock serves both the bucket (ns) and the TTL map (whole
        seconds): only differences of it matter.
        """
        now = time.monotonic_ns()
        now_s = now // 1_000_000_000
        bucket = self.buckets.touch(source, self.ttl, now_s)
        if bucket is None:
            bucket = TokenBucket(self.rate, self.burst)
            self.buckets.add(source, bucket, self.ttl, now_s)
        return bucket.reserve(now, self.max_delay)


def limiter_parameters(options: RateLimit) -> tuple[float, int, int, int]:
    """(rate per second, burst, maxDelay in ns, bucket TTL in seconds), as ``ratelimiter.New``."""
    burst = max(options.burst if options.burst is not None else 1, 1)
    period_ns = round((options.period if options.period is not None else 1.0) * 1e9)
    if period_ns < 0:
        raise ValueError(f"negative value not valid for period: {format_duration(period_ns / 1e9)}")
    if period_ns == 0:
        period_ns = 1_000_000_000
    average = options.average or 0
    rate = math.inf
    max_delay = 0
    if average > 0:
        rate = average * 1_000_000_000 / period_ns
        max_delay = 500_000_000 if rate < 1 else 1_000_000_000 // (int(rate) * 2)
    ttl = 1
    if rate >= 1:
        ttl += 1
    elif rate > 0:
        ttl += int(1 / rate)
    return rate, burst, max_delay, ttl


def build_rate_limit(options: RateLimit, next_: Handler, ctx: BuildContext) -> Handler:
    source = source_extractor(options.sourceCriterion, default="ip")
    rate, burst, max_delay, ttl = limiter_parameters(options)
    limiter: MemoryLimiter | RedisLimiter
    if options.redis is not None:
        # Imported only when used: redis-py imports OpenTelemetry when it is installed.
        from edgeway.middlewares.redislimiter import RedisLimiter, RedisLimiterError

        try:
            limiter = RedisLimiter(options.redis, rate, burst, max_delay, ttl)
        except ValueError as exc:
            raise ValueError(f"creating redis limiter: {exc}") from None
    else:
        limiter = MemoryLimiter(rate, burst, max_delay, ttl)
    prefix = ctx.name + ":"

    async def answer(req: Request, delay: int | None) -> Response:
        """Every outcome but "go on at once": refuse, or wait for the token."""
        if delay is None:
            return Response.text(429, "No bursty traffic allowed")
        if delay > max_delay:
            headers = Headers()
            headers.set(b"Retry-After", b"%.0f" % math.ceil(delay / 1e9))
            headers.set(b"X-Retry-In", format_duration(delay / 1e9).encode())
            return status_reply(429, headers)
        await asyncio.sleep(delay / 1e9)
        return await next_(req)

    if isinstance(limiter, MemoryLimiter):
        if rate == math.inf:
            return next_  # no average: every request goes on at once (the bucket never says no)
        allow_now = limiter.allow_now

        def rate_limit(req: Request) -> Awaitable[Response]:
            # The buckets are this instance's own: keyed by source alone (the
            # middleware's name, which Redis keys need, would only cost a concatenation).
            delay = allow_now(source(req))
            return next_(req) if delay == 0 else answer(req, delay)

        return rate_limit

    redis_limiter = limiter

    async def redis_rate_limit(req: Request) -> Response:
        try:
            delay = await redis_limiter.allow(prefix + source(req))
        except RedisLimiterError:
            return Response.text(500, "Could not insert/update bucket")
        return await (next_(req) if delay == 0 else answer(req, delay))

    return redis_rate_limit
