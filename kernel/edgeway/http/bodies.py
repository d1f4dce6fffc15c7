"""Reading whole bodies, for the middlewares and services that need them.

Most of the data path streams; a few features must hold a body (a request to
replay for retries, mirrors or failover; a response to compress, rewrite or
check). These helpers read with a limit, so a large body is an error the caller
turns into the right status instead of unbounded memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from edgeway.http.message import BytesBody, Request, Response

__all__ = ["BodyTooLarge", "buffer_request_body", "read_response_body"]


class BodyTooLarge(Exception):
    """The body is larger than the caller's limit."""


async def buffer_request_body(req: Request, limit: int = -1) -> bytes:
    """Read the request body into memory and make ``req.body`` replayable.

    Afterwards ``req.body`` is a fresh ``BytesBody`` of the data; set
    ``req.body = BytesBody(data)`` again before each replay. ``limit`` < 0 means
    no limit.
    """
    if req.body is None:
        return b""
    try:
        data = await req.body.read_all(limit)
    except ValueError:
        raise BodyTooLarge(f"request body larger than {limit} bytes") from None
    req.body = BytesBody(data)
    req.content_length = len(data)
    return data


async def read_response_body(resp: Response, limit: int = -1) -> bytes:
    """The whole response body, streamed or not; afterwards ``resp.body`` holds it.

    Over ``limit`` (when ≥ 0) raises BodyTooLarge; the stream is closed either way.
    """
    if resp.stream is None:
        if 0 <= limit < len(resp.body):
            raise BodyTooLarge(f"response body larger than {limit} bytes")
        return resp.body
    stream, resp.stream = resp.stream, None
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in stream:
            size += len(chunk)
            if 0 <= limit < size:
                raise BodyTooLarge(f"response body larger than {limit} bytes")
            parts.append(chunk)
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
    resp.body = b"".join(parts)
    resp.headers.remove(b"content-length")
    return resp.body


async def counted_stream(
    stream: AsyncIterator[bytes], done: Callable[[int], None]
) -> AsyncIterator[bytes]:
    """``stream`` passed through; ``done(bytes sent)`` runs when it ends or is dropped,
    then ``stream`` is closed (observers that record a response once its body is over)."""
    size = 0
    try:
        async for chunk in stream:
            size += len(chunk)
            yield chunk
    finally:
        done(size)
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
