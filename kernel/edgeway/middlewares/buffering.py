"""The ``buffering`` middleware: whole bodies held before forwarding (vulcand/oxy ``buffer``).

The request body is read completely (in memory up to ``memRequestBodyBytes``,
then in a temporary file) and sent with a ``Content-Length``; more than
``maxRequestBodyBytes`` answers 413. The response is likewise held (``memResponseBodyBytes``,
``maxResponseBodyBytes`` -> 500) so that ``retryExpression`` can replay the
request, up to 10 attempts, before the client sees anything.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from typing import IO, Any

from edgeway.config.dynamic import Buffering as BufferingOptions
from edgeway.http.message import Body, BytesBody, Handler, Request, Response
from edgeway.http.status import error_response
from edgeway.middlewares.retryexpr import Predicate, RetryContext, parse_retry_expression
from edgeway.registry import BuildContext

__all__ = ["Spool", "build_buffering"]

_DEFAULT_MEM = 1048576  # multibuf.DefaultMemBytes
_MAX_ATTEMPTS = 10  # oxy DefaultMaxRetryAttempts
_BLOCK = 32 * 1024
_DRAIN_LIMIT = 256 * 1024  # net/http maxPostHandlerReadBytes
_EMPTY_LENGTH_METHODS = frozenset(
    ("POST", "PUT", "PATCH")
)  # Go sends "Content-Length: 0" for these


class _TooLarge(Exception):
    pass


class Spool:
    """Bytes in memory up to ``mem``, in an anonymous temporary file beyond."""

    def __init__(self, mem: int, limit: int) -> None:
        self.mem = mem
        self.limit = limit
        self.size = 0
        self.data = bytearray()
        self.file: IO[bytes] | None = None

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.limit > 0 and self.size > self.limit:
            raise _TooLarge
        if self.file is None and len(self.data) + len(chunk) <= self.mem:
            self.data += chunk
            return
        if self.file is None:
            self.file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
            self.file.write(self.data)
            self.data = bytearray()
        self.file.write(chunk)

    def in_memory(self) -> bytes | None:
        return bytes(self.data) if self.file is None else None

    async def blocks(self) -> AsyncIterator[bytes]:
        """The contents from the start, in blocks (a fresh pass each call)."""
        if self.file is None:
            if self.data:
                yield bytes(self.data)
            return
        self.file.seek(0)
        while block := self.file.read(_BLOCK):
            yield block

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


class _SpoolBody(Body):
    """A replay of a spooled request body."""

    __slots__ = ("_it",)

    def __init__(self, spool: Spool) -> None:
        self._it = spool.blocks()

    async def read(self) -> bytes:
        return await anext(self._it, b"")


def build_buffering(options: BufferingOptions, next_: Handler, ctx: BuildContext) -> Handler:
    values = {}
    for key, kind in (
        ("maxRequestBodyBytes", "max"),
        ("memRequestBodyBytes", "mem"),
        ("maxResponseBodyBytes", "max"),
        ("memResponseBodyBytes", "mem"),
    ):
        v = getattr(options, key) or 0
        if v < 0:
            raise ValueError(f"{kind} bytes should be >= 0 got {v}")
        values[key] = v
    max_req, max_resp = values["maxRequestBodyBytes"], values["maxResponseBodyBytes"]
    mem_req = values["memRequestBodyBytes"] or _DEFAULT_MEM
    if 0 < max_req < mem_req:
        mem_req = max_req
    mem_resp = values["memResponseBodyBytes"] or _DEFAULT_MEM
    retry: Predicate | None = None
    if options.retryExpression:
        try:
            retry = parse_retry_expression(options.retryExpression)
        except ValueError as exc:
            raise ValueError(f"retryExpression {options.retryExpression!r}: {exc}") from None

    async def buffering(req: Request) -> Response:
        if max_req > 0 and req.content_length is not None and req.content_length > max_req:
            await _discard_body(req)
            return error_response(413)
        spool = Spool(mem_req, max_req)
        try:
            if req.body is not None:
                try:
                    async for chunk in req.body:
                        spool.write(chunk)
                except _TooLarge:
                    await _discard_body(req)
                    return error_response(413)
            _set_length(req, spool.size)
            attempt = 1
            while True:
                req.body = _replay(spool)
                resp = await next_(req)
                held = await _hold(req, resp, mem_resp, max_resp)
                if held is None:
                    return error_response(500)
                ctx_ = RetryContext(req.method, attempt, resp.status)
                if retry is None or attempt > _MAX_ATTEMPTS or not retry(ctx_):
                    return _release(resp, held)
                held.close()
                attempt += 1
        finally:
            spool.close()

    return buffering


async def _discard_body(req: Request) -> None:
    """Read and drop a small refused body, as Go's server does (up to 256 KiB) to keep
    the connection; a larger one is left unread and the connection closes."""
    if req.body is None or (req.content_length or 0) > _DRAIN_LIMIT:
        return
    read = 0
    async for chunk in req.body:
        read += len(chunk)
        if read > _DRAIN_LIMIT:
            return


def _set_length(req: Request, size: int) -> None:
    """oxy ``copyRequest``: the buffered size as Content-Length, no Transfer-Encoding."""
    h = req.headers
    h.remove(b"transfer-encoding")
    if size:
        req.content_length = size
        h.set(b"Content-Length", b"%d" % size)
    else:
        req.content_length = None
        if req.method in _EMPTY_LENGTH_METHODS:
            h.set(b"Content-Length", b"0")
        else:
            h.remove(b"content-length")


def _replay(spool: Spool) -> Body | None:
    if spool.size == 0:
        return None
    data = spool.in_memory()
    return BytesBody(data) if data is not None else _SpoolBody(spool)


def _expects_body(req: Request, resp: Response) -> bool:
    """oxy ``bufferWriter.expectBody``."""
    status = resp.status
    if req.method == "HEAD" or 100 <= status < 200 or status in (204, 304):
        return False
    if resp.headers.get(b"content-length") == b"0":
        return False
    grpc = resp.headers.get(b"grpc-status")
    return not (grpc and grpc != b"0")


async def _hold(req: Request, resp: Response, mem: int, limit: int) -> Spool | None:
    """Read the whole response body into a spool; None when it is over ``limit``."""
    spool = Spool(mem, limit)
    stream, resp.stream = resp.stream, None
    if not _expects_body(req, resp):
        await _close(stream)
        resp.body = b""
        return spool
    try:
        if stream is None:
            spool.write(resp.body)
        else:
            async for chunk in stream:
                spool.write(chunk)
    except _TooLarge:
        spool.close()
        return None
    finally:
        await _close(stream)
    return spool


def _release(resp: Response, spool: Spool) -> Response:
    data = spool.in_memory()
    if data is not None:
        resp.body = data
        return resp
    resp.body = b""
    resp.stream = _drain(spool)
    return resp


async def _drain(spool: Spool) -> AsyncIterator[bytes]:
    try:
        async for block in spool.blocks():
            yield block
    finally:
        spool.close()


async def _close(stream: Any) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
