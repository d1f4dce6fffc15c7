"""The token bucket of golang.org/x/time/rate and the bounded TTL map of Traefik's ratelimiter.

Only what Traefik's in-memory limiter uses: ``Reserve()`` (always granted, maybe
in the future) and cancelling a reservation at once when its delay is too long.
"""

from __future__ import annotations

import math
from collections import OrderedDict

__all__ = ["INF_DURATION", "TTLMap", "TokenBucket", "duration_from_tokens"]

#: Go's ``rate.InfDuration`` (``math.MaxInt64`` nanoseconds).
INF_DURATION = (1 << 63) - 1


def duration_from_tokens(limit: float, tokens: float) -> int:
    """``Limit.durationFromTokens``: nanoseconds to accumulate ``tokens``."""
    if limit <= 0:
        return INF_DURATION
    ns = tokens / limit * 1e9
    return INF_DURATION if ns > INF_DURATION else int(ns)


class TokenBucket:
    """``rate.Limiter`` with ``limit`` tokens per second (``math.inf``: no limit) and ``burst``.

    A new bucket is full. Times are monotonic nanoseconds.
    """

    __slots__ = ("limit", "burst", "tokens", "last", "expires")

    def __init__(self, limit: float, burst: int) -> None:
        self.limit = limit
        self.burst = burst
        self.tokens = 0.0
        self.last: int | None = None
        #: When the TTL map may drop it (whole seconds).
        self.expires = 0

    def reserve(self, now: int, max_delay: int) -> int:
        """Take a token; the delay (ns) until it is really there.

        A reservation whose delay exceeds ``max_delay`` is cancelled at once
        (``Reservation.Cancel``): the token is given back.
        """
        limit = self.limit
        if limit == math.inf:
            return 0
        burst = self.burst
        # The tokens at ``now`` (``Limiter.advance``), minus the one taken.
        last = self.last
        if last is None:
            tokens = burst - 1.0
        else:
            tokens = self.tokens + (now - last if now > last else 0) / 1e9 * limit
            tokens = (burst if tokens > burst else tokens) - 1.0
        delay = duration_from_tokens(limit, -tokens) if tokens < 0 else 0
        self.last = now
        self.tokens = tokens
        if delay > max_delay:
            self.tokens = min(tokens + 1, float(burst))
        return delay


class TTLMap:
    """``ttlmap.Map``: at most ``capacity`` buckets, each expiring ``ttl`` seconds after its last use.

    Expired entries go lazily (on look-up); when full, the entry closest to
    expiry is evicted. With one ``ttl`` per map that is the least recently set
    one, so an ordered dict replaces Go's heap. Expiries are whole Unix seconds.
    """

    __slots__ = ("capacity", "_items")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, TokenBucket] = OrderedDict()

    def touch(self, key: str, ttl: int, now: int) -> TokenBucket | None:
        """The live bucket of ``key`` with its expiry pushed to ``now + ttl``; None if
        there is none (an expired one is dropped)."""
        items = self._items
        bucket = items.get(key)
        if bucket is None:
            return None
        if bucket.expires <= now:
            del items[key]
            return None
        if bucket.expires != now + ttl:  # (within the same second the order stays right)
            items.move_to_end(key)
            bucket.expires = now + ttl
        return bucket

    def add(self, key: str, bucket: TokenBucket, ttl: int, now: int) -> None:
        """Store a new bucket, evicting the one closest to expiry when full."""
        items = self._items
        if len(items) >= self.capacity:
            items.popitem(last=False)
        bucket.expires = now + ttl
        items[key] = bucket

    def __len__(self) -> int:
        return len(self._items)
