"""retry: send a request again when the first answers fail (pkg/middlewares/retry/retry.go).

An attempt is retried when the service could not be reached at all (the
connection to the server failed before the request was sent), unless
``disableRetryOnNetworkError``, or when its status is in ``status`` (for POST,
PATCH and LOCK only with ``retryNonIdempotentMethod``). Retrying by status needs
the request body in memory: up to ``maxRequestBodyBytes`` (2 MiB; -1 no limit),
a larger body is forwarded once without status retries. ``attempts`` counts
every try; the last one is answered whatever it is. Between tries an
exponential backoff from ``initialInterval`` (randomized by ±50%, reaching
twice the initial interval at the last try). After ``timeout`` since the first
try, whatever comes is answered. A response handed back is never retried: a
body that fails while streaming reaches the client as it is.
"""

from __future__ import annotations

import asyncio
import random
import re
import time

from edgeway.config.dynamic import Retry
from edgeway.http.message import Handler, Request, Response
from edgeway.registry import BuildContext
from edgeway.services.replay import BodyTooLarge, PrefixedBody, clone, read_body

__all__ = ["build_retry", "parse_code_ranges"]

DEFAULT_MAX_BODY = 2 * 1024 * 1024
_NON_IDEMPOTENT = frozenset(("POST", "PATCH", "LOCK"))
_ATOI = re.compile(r"[+-]?[0-9]+")
# cenkalti/backoff v4 ExponentialBackOff defaults.
_RANDOMIZATION = 0.5
_MAX_INTERVAL = 60.0
_MAX_ELAPSED = 15 * 60.0


def parse_code_ranges(blocks: list[str]) -> list[tuple[int, int]]:
    """``types.NewHTTPCodeRanges``: ``"500"`` or ``"500-599"`` (inclusive) per entry."""
    out = []
    for block in blocks:
        codes = block.split("-")
        if len(codes) == 1:
            codes.append(codes[0])
        pair = []
        for code in codes[:2]:
            if _ATOI.fullmatch(code) is None:
                raise ValueError(f'creating HTTP code ranges: strconv.Atoi: parsing "{code}": invalid syntax')
            pair.append(int(code))
        out.append((pair[0], pair[1]))
    return out


async def _reusable_body(req: Request, limit: int) -> bytes | None:
    """The whole body to replay (``b""`` without one), or None when over ``limit``;
    ``req.body`` then replays what was read before going on (``peekedBody``)."""
    try:
        data = await read_body(req, limit)
    except BodyTooLarge as exc:
        assert req.body is not None
        req.body = PrefixedBody(exc.prefix, req.body)
        return None
    return b"" if data is None else data


def _unsent(req: Request) -> bool:
    """The attempt reached a server proxy whose connection failed before the request was sent
    (Traefik's ``proxyReached && !wroteRequest``): the proxy records a dial error."""
    return "upstream_unreached" in req.context


async def _discard(resp: Response) -> None:
    stream = resp.stream
    if stream is not None:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


def build_retry(options: Retry, next_: Handler, ctx: BuildContext) -> Handler:
    status = list(options.status or [])
    network = not options.disableRetryOnNetworkError
    if not status and not network:
        raise ValueError("retry middleware requires at least HTTP status codes or retry on TCP")
    attempts = options.attempts or 0
    if attempts <= 0:
        raise ValueError(f"incorrect (or empty) value for attempt ({attempts})")
    max_body = options.maxRequestBodyBytes if options.maxRequestBodyBytes is not None else DEFAULT_MAX_BODY
    ranges = parse_code_ranges(status) if status else []
    initial = options.initialInterval or 0.0
    timeout = options.timeout or 0.0
    any_method = bool(options.retryNonIdempotentMethod)
    multiplier = 2 ** (1 / (attempts - 1)) if attempts > 1 else 1.0
    retried = ctx.retried

    def retriable_status(code: int) -> bool:
        return any(low <= code <= high for low, high in ranges)

    async def retry(req: Request) -> Response:
        if attempts == 1:
            return await next_(req)
        by_status = bool(ranges) and (any_method or req.method not in _NON_IDEMPOTENT)
        data: bytes | None = None
        if by_status:
            data = await _reusable_body(req, max_body)
            by_status = data is not None
        start = time.monotonic()
        interval = initial
        attempt = 1
        while True:
            if data is not None and req.body is not None:
                attempt_req = clone(req, data)
            else:  # no body, or one too large to replay: sent once as it comes
                attempt_req = clone(req, None)
                attempt_req.body = req.body
            if attempt == attempts:
                return await next_(attempt_req)
            resp = await next_(attempt_req)
            timed_out = timeout > 0 and time.monotonic() - start >= timeout
            if timed_out or not (
                (network and _unsent(attempt_req)) or (by_status and retriable_status(resp.status))
            ):
                return resp
            await _discard(resp)
            attempt += 1
            if retried is not None:
                retried()
            log_data = req.context.get("accesslog")  # edgeway.accesslog.KEY (SaveRetries)
            if log_data is not None:
                log_data["RetryAttempts"] = attempt - 1
            if initial > 0:
                delta = _RANDOMIZATION * interval
                wait = interval - delta + random.random() * (2 * delta + 1e-9)
                interval = _MAX_INTERVAL if interval >= _MAX_INTERVAL / multiplier else interval * multiplier
                if time.monotonic() - start + wait > _MAX_ELAPSED:
                    return Response(200)  # backoff gave up with nothing written: Go's empty 200
                await asyncio.sleep(wait)

    return retry
