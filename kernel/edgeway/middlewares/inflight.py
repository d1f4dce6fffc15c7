"""inFlightReq: at most ``amount`` requests of one source at a time (oxy's connlimit).

A source is what ``sourceCriterion`` extracts, the Host header by default. A
request counts from when it enters until its response is over (streamed bodies
included); one more is answered 429 ``max connections reached: <amount>``.
"""

from __future__ import annotations

from edgeway.config.dynamic import InFlightReq
from edgeway.http.message import Handler, Headers, Request, Response
from edgeway.middlewares.ipstrategy import source_extractor
from edgeway.middlewares.replies import when_done
from edgeway.registry import BuildContext

__all__ = ["build_in_flight_req"]


def build_in_flight_req(options: InFlightReq, next_: Handler, ctx: BuildContext) -> Handler:
    source = source_extractor(options.sourceCriterion, default="host")
    limit = options.amount or 0
    rejected = f"max connections reached: {limit}".encode()
    in_flight: dict[str, int] = {}

    def release(token: str) -> None:
        left = in_flight[token] - 1
        if left:
            in_flight[token] = left
        else:
            del in_flight[token]

    async def in_flight_req(req: Request) -> Response:
        token = source(req)
        count = in_flight.get(token, 0)
        if count >= limit:
            return Response(429, Headers(), rejected)
        in_flight[token] = count + 1
        try:
            resp = await next_(req)
        except BaseException:
            release(token)
            raise
        return when_done(resp, lambda: release(token))

    return in_flight_req
