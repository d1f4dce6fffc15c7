"""The contentType middleware (Traefik's ``pkg/middlewares/contenttype``).

Traefik turns Go's Content-Type sniffing off for every request at the entry
point (``DisableAutoDetection``); this middleware turns it back on for what is
behind it: a response without Content-Type gets the type Go's
``DetectContentType`` finds in the first bytes written. ``autoDetect: false``
(deprecated) makes it do nothing. Go sniffs the first write; edgeway sniffs the
first non-empty chunk of the body, the same bytes unless the backend streams a
first chunk shorter than 512 bytes that Go would have buffered with the next.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from edgeway.config.dynamic import ContentType
from edgeway.http.message import Handler, Request, Response
from edgeway.middlewares.sniff import detect_content_type
from edgeway.registry import BuildContext

__all__ = ["build_content_type"]


def _body_allowed(status: int) -> bool:
    return not (100 <= status < 200 or status in (204, 304))


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        yield first
        async for chunk in rest:
            yield chunk
    finally:
        aclose = getattr(rest, "aclose", None)
        if aclose is not None:
            await aclose()


def build_content_type(options: ContentType, next_: Handler, ctx: BuildContext) -> Handler:
    if options.autoDetect is False:
        return next_

    async def content_type(req: Request) -> Response:
        resp = await next_(req)
        if b"content-type" in resp.headers or req.method == "HEAD" or not _body_allowed(resp.status):
            return resp
        first = resp.body
        if not first and resp.stream is not None:
            stream = resp.stream
            async for chunk in stream:
                if chunk:
                    first = chunk
                    break
            resp.stream = _prepend(first, stream) if first else stream
        if first:
            resp.headers.add(b"Content-Type", detect_content_type(first).encode())
        return resp

    return content_type
