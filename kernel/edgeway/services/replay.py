"""Requests that can be sent more than once (mirrors, failover), as Traefik's ``ReusableRequest``.

The body is read into memory up to a limit, then each copy of the request gets
its own headers, context and a fresh body of those bytes.
"""

from __future__ import annotations

from edgeway.http.message import Body, BytesBody, Request


class BodyTooLarge(Exception):
    """The body is over the limit; ``prefix`` holds what was read of it already."""

    def __init__(self, prefix: bytes) -> None:
        super().__init__("request body too large")
        self.prefix = prefix


async def read_body(req: Request, limit: int) -> bytes | None:
    """The whole request body (None without one); over ``limit`` (when ≥ 0) raises BodyTooLarge."""
    body = req.body
    if body is None:
        return None
    parts: list[bytes] = []
    size = 0
    while True:
        chunk = await body.read()
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)
        size += len(chunk)
        if 0 <= limit < size:
            raise BodyTooLarge(b"".join(parts))


def clone(req: Request, body: bytes | None) -> Request:
    """A copy of ``req`` with its own headers and context, and ``body`` as its body."""
    copy = Request.__new__(Request)
    for slot in Request.__slots__:
        setattr(copy, slot, getattr(req, slot))
    copy.headers = req.headers.copy()
    copy.context = dict(req.context)
    copy.body = None if body is None else BytesBody(body)
    return copy


def without_body(req: Request) -> Request:
    """A copy of ``req`` sent with no body at all (a mirror with ``mirrorBody: false``)."""
    copy = clone(req, None)
    copy.headers.remove(b"content-length")
    copy.headers.remove(b"transfer-encoding")
    copy.content_length = None
    return copy


class PrefixedBody(Body):
    """What was already read of a body, then the rest of it."""

    __slots__ = ("_prefix", "_rest")

    def __init__(self, prefix: bytes, rest: Body) -> None:
        self._prefix = prefix
        self._rest = rest

    async def read(self) -> bytes:
        if self._prefix:
            data, self._prefix = self._prefix, b""
            return data
        return await self._rest.read()
