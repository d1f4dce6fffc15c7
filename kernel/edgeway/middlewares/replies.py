"""Small response helpers shared by the traffic middlewares.

``status_reply`` is what Traefik writes with ``rw.WriteHeader(code)`` followed by
``rw.Write([]byte(http.StatusText(code)))``: the status text as the body and no
Content-Type. ``when_done`` runs a callback once a response is over, which for a
streamed body is when the stream ends or is closed, as a Go handler returns only
after the body was copied.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from edgeway.http.message import Headers, Response
from edgeway.http.status import status_text

__all__ = ["go_status_text", "status_reply", "when_done"]

# Traefik names its own 499 "Client Closed Request"; Go's StatusText has no text for it.
_GO_TEXT = {499: ""}


def go_status_text(code: int) -> str:
    """Go's ``http.StatusText(code)``; "" for codes Go does not know."""
    text = _GO_TEXT.get(code)
    return status_text(code) if text is None else text


def status_reply(code: int, headers: Headers | None = None) -> Response:
    return Response(code, headers if headers is not None else Headers(), go_status_text(code).encode())


def when_done(resp: Response, callback: Callable[[], None]) -> Response:
    """Call ``callback`` once ``resp`` is finished: now, or when its stream ends or closes."""
    stream = resp.stream
    if stream is None:
        callback()
        return resp
    resp.stream = _Watched(stream, callback)
    return resp


class _Watched:
    """A stream that calls ``callback`` once, at its end or when closed (even unread)."""

    __slots__ = ("_stream", "_callback")

    def __init__(self, stream: AsyncIterator[bytes], callback: Callable[[], None]) -> None:
        self._stream = stream
        self._callback: Callable[[], None] | None = callback

    def __aiter__(self) -> _Watched:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self._stream.__anext__()
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        callback, self._callback = self._callback, None
        if callback is None:
            return
        try:
            aclose = getattr(self._stream, "aclose", None)
            if aclose is not None:
                await aclose()
        finally:
            callback()
