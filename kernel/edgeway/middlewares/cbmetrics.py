"""What the circuit breaker watches: oxy's ``memmetrics.RTMetrics``.

Rolling counters (10 buckets of one second) of requests, network errors (502
and 504 answers) and of each status code, and a rolling latency histogram (6
HDR histograms of 1 µs..1 h at 2 significant digits, rotated every 10 s on
record). Bucket positions follow wall-clock seconds as oxy's do.
"""

from __future__ import annotations

import time
from collections import Counter

__all__ = ["RTMetrics", "RollingCounter", "RollingHistogram"]


class RollingCounter:
    """``memmetrics.RollingCounter`` with ``buckets`` buckets of ``resolution`` seconds."""

    __slots__ = ("resolution", "values", "last_updated")

    def __init__(self, buckets: int = 10, resolution: int = 1) -> None:
        self.resolution = resolution
        self.values = [0] * buckets
        self.last_updated = 0  # in units of resolution (truncated), 0 = never

    def _bucket(self, slot: int) -> int:
        return slot % len(self.values)

    def _cleanup(self, slot: int) -> None:
        # Zero the buckets of the slots that elapsed since the last update.
        for i in range(len(self.values)):
            checkpoint = slot - i
            if checkpoint > self.last_updated:
                self.values[self._bucket(checkpoint)] = 0
            else:
                break

    def _slot(self) -> int:
        return int(time.time()) // self.resolution

    def inc(self, v: int = 1) -> None:
        slot = self._slot()
        self._cleanup(slot)
        self.values[self._bucket(slot)] += v
        self.last_updated = slot

    def count(self) -> int:
        self._cleanup(self._slot())
        return sum(self.values)

    def reset(self) -> None:
        self.values = [0] * len(self.values)
        self.last_updated = 0


# HDR histogram geometry for lowest=1, highest=3_600_000_000, 2 significant figures.
_SUB_BUCKET_HALF_MAGNITUDE = 7
_SUB_BUCKET_COUNT = 256
_SUB_BUCKET_MASK = 255
_HIGHEST = 3_600_000_000


def _bucket_index(v: int) -> int:
    return (v | _SUB_BUCKET_MASK).bit_length() - (_SUB_BUCKET_HALF_MAGNITUDE + 1)


def lowest_equivalent(v: int) -> int:
    idx = _bucket_index(v)
    return (v >> idx) << idx


def highest_equivalent(v: int) -> int:
    idx = _bucket_index(v)
    sub = v >> idx
    size = 1 << (idx + 1 if sub >= _SUB_BUCKET_COUNT else idx)
    return lowest_equivalent(v) + size - 1


def value_at_quantile(counts: Counter[int], q: float) -> int:
    """hdrhistogram-go's ``ValueAtQuantile`` (``q`` in percent) over merged counts."""
    q = min(q, 100.0)
    total = sum(counts.values())
    at = int(q / 100 * total + 0.5)
    if at <= 0:
        return 0
    running = 0
    for value in sorted(counts):
        running += counts[value]
        if running >= at:
            return lowest_equivalent(value) if q == 0.0 else highest_equivalent(value)
    return 0


class RollingHistogram:
    """``RollingHDRHistogram``: 6 histograms, the current one replaced every 10 s."""

    __slots__ = ("buckets", "idx", "last_roll", "period")

    def __init__(self, buckets: int = 6, period: float = 10.0) -> None:
        self.buckets: list[Counter[int]] = [Counter() for _ in range(buckets)]
        self.idx = 0
        self.last_roll = float("-inf")  # the first record rotates, as from Go's zero time
        self.period = period

    def record(self, micros: int) -> None:
        if micros < 0 or micros > _HIGHEST:
            return  # hdrhistogram refuses values out of range
        now = time.monotonic()
        if now - self.last_roll >= self.period:
            self.idx = (self.idx + 1) % len(self.buckets)
            self.buckets[self.idx].clear()
            self.last_roll = now
        self.buckets[self.idx][lowest_equivalent(micros)] += 1

    def merged(self) -> Counter[int]:
        out: Counter[int] = Counter()
        for b in self.buckets:
            out.update(b)
        return out

    def reset(self) -> None:
        self.idx = 0
        self.last_roll = time.monotonic()
        for b in self.buckets:
            b.clear()


class RTMetrics:
    """Round-trip metrics of the requests the breaker let through."""

    def __init__(self) -> None:
        self.total = RollingCounter()
        self.net_errors = RollingCounter()
        self.status_codes: dict[int, RollingCounter] = {}
        self.histogram = RollingHistogram()

    def record(self, status: int, seconds: float) -> None:
        self.total.inc()
        if status in (502, 504):
            self.net_errors.inc()
        counter = self.status_codes.get(status)
        if counter is None:
            counter = self.status_codes[status] = RollingCounter()
        counter.inc()
        self.histogram.record(int(seconds * 1_000_000))

    def reset(self) -> None:
        self.total.reset()
        self.net_errors.reset()
        self.status_codes = {}
        self.histogram.reset()

    # -- what expressions read -------------------------------------------------

    def network_error_ratio(self) -> float:
        total = self.total.count()
        return self.net_errors.count() / total if total else 0.0

    def response_code_ratio(self, start_a: int, end_a: int, start_b: int, end_b: int) -> float:
        a = b = 0
        for code, counter in self.status_codes.items():
            if start_a <= code < end_a:
                a += counter.count()
            if start_b <= code < end_b:
                b += counter.count()
        return a / b if b else 0.0

    def latency_at_quantile_ms(self, quantile: float) -> int:
        return value_at_quantile(self.histogram.merged(), quantile) // 1000

    def total_count(self) -> int:
        return self.total.count()
