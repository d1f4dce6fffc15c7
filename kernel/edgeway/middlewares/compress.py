"""The ``compress`` middleware: gzip, Brotli and Zstandard responses.

Follows Traefik's ``pkg/middlewares/compress``: the encoding is negotiated
from ``Accept-Encoding`` (q-values, then the ``encodings`` order); Brotli and
Zstandard go through Traefik's own writer (compression_handler.go), gzip
through klauspost's ``gzhttp`` (Content-Length aware, sniffs an untyped body to
filter it). A body is held only until the decision is made — ``minResponseBodyBytes``
reached, the end, or the first flush — then compressed chunk by chunk.

Traefik's proxy flushes after every write when the backend gave no
``Content-Length`` (or sent ``text/event-stream``): then the first bytes already
decide, and each chunk is compressed and flushed on its own.
"""

from __future__ import annotations

import abc
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import brotli
import zstandard

from edgeway.config.dynamic import Compress as CompressOptions
from edgeway.http.message import Handler, Headers, Request, Response
from edgeway.middlewares.mediatype import (
    MediaTypeError,
    media_type_matches,
    parse_media_type,
)
from edgeway.middlewares.sniff import detect_content_type
from edgeway.registry import BuildContext

__all__ = ["build_compress", "choose_encoding"]

_SUPPORTED = ("gzip", "br", "zstd")
_DEFAULT_MIN_SIZE = 1024

MediaType = tuple[str, dict[str, str]]


def build_compress(options: CompressOptions, next_: Handler, ctx: BuildContext) -> Handler:
    excluded_cfg = list(options.excludedContentTypes or [])
    included_cfg = list(options.includedContentTypes or [])
    if excluded_cfg and included_cfg:
        raise ValueError(
            "excludedContentTypes and includedContentTypes options are mutually exclusive"
        )
    excludes: list[MediaType] = [("application/grpc", {})]
    includes: list[MediaType] = []
    for label, cfg, out in (
        ("excluded", excluded_cfg, excludes),
        ("included", included_cfg, includes),
    ):
        for v in cfg:
            try:
                out.append(parse_media_type(v))
            except MediaTypeError as exc:
                raise ValueError(f"parsing {label} media type: {exc}") from None
    min_size = (
        options.minResponseBodyBytes
        if options.minResponseBodyBytes and options.minResponseBodyBytes > 0
        else _DEFAULT_MIN_SIZE
    )
    encodings = list(options.encodings or [])
    if not encodings:
        raise ValueError("at least one encoding must be specified")
    for e in encodings:
        if e not in _SUPPORTED:
            raise ValueError(f"unsupported encoding: {e}")
    default = options.defaultEncoding or ""
    if default and default not in encodings:
        raise ValueError(f"unsupported default encoding: {default}")
    priority = {"*": -1, "identity": len(encodings)} | {e: i for i, e in enumerate(encodings)}
    excluded_request_types = {m for m, _ in excludes}
    policy = _Policy(min_size, excludes, includes)

    async def compress(req: Request) -> Response:
        if req.method == "HEAD":
            return await next_(req)
        ctype = req.headers.get(b"content-type")
        if ctype is not None and _media_type_or_empty(ctype) in excluded_request_types:
            return await next_(req)
        values = [
            v.decode("latin-1") for n, v in req.headers.raw if n.lower() == b"accept-encoding"
        ]
        if not values:
            if not default:
                return await next_(req)
            encoding = default
        else:
            encoding = choose_encoding(values, priority, encodings, default)
        if encoding not in _SUPPORTED:
            return await next_(req)
        resp = await next_(req)
        resp.headers.raw.insert(0, (b"Vary", b"Accept-Encoding"))
        if resp.status == 101 or resp.upgrade is not None:
            return resp
        if encoding == "gzip":
            if _gzip_q(req.headers.get(b"accept-encoding") or b"") <= 0:
                return resp  # gzhttp negotiates again, on the first header only
            return await _respond(resp, policy.gzip_decider(resp), "gzip")
        return await _respond(resp, policy.decider(resp), encoding)

    return compress


def _media_type_or_empty(value: bytes) -> str:
    try:
        return parse_media_type(value.decode("latin-1"))[0]
    except MediaTypeError:
        return ""


def choose_encoding(
    values: list[str], priority: dict[str, int], encodings: list[str], default: str
) -> str:
    """acceptencoding.go ``getCompressionEncoding``: the encoding to use, ``identity`` or ``not_acceptable``."""
    if len(values) == 1 and values[0] == "":
        return "identity"
    accepted: list[tuple[float, int, str]] = []
    for line in values:
        for item in line.replace(" ", "").split(","):
            name, _, param = item.partition(";")
            if name not in priority:
                continue
            weight = 1.0
            if param.startswith("q="):
                weight = _go_parse_float(param[2:])
                if weight == 0:
                    continue
            accepted.append((-weight, priority[name], name))
    if not accepted:
        return "not_acceptable"
    accepted.sort(key=lambda a: (a[0], a[1]))
    best = accepted[0][2]
    if best == "*":
        return default or encodings[0]
    return best


def _go_parse_float(text: str) -> float:
    """``strconv.ParseFloat`` with errors as 0 (as Traefik ignores them)."""
    if not text or "_" in text:
        return 0.0
    try:
        if text.lower().lstrip("+-").startswith("0x"):
            return float.fromhex(text)
        return float(text)
    except ValueError:
        return 0.0


def _gzip_q(header: bytes) -> float:
    """gzhttp ``parseEncodingGzip``: the q-value of ``gzip`` in the first Accept-Encoding header."""
    for part in header.decode("latin-1").strip().split(","):
        if not part:
            continue
        if ";" not in part:
            if part.strip().lower() == "gzip":
                return 1.0
            continue
        pieces = part.split(";")
        if pieces[0].strip().lower() != "gzip":
            continue
        q = 1.0
        for p in pieces[1:]:
            p = p.strip()
            if len(p) >= 2 and p[:2].lower() == "q=":
                q = min(max(_go_parse_float(p[2:]), 0.0), 1.0)
        return q
    return 0.0


# --------------------------------------------------------------------------- decisions


class _Decider(abc.ABC):
    """Decides, from the headers and the first bytes, whether to compress.

    ``write(size)`` and ``flush()`` return True (compress), False (send as is) or
    None (not yet); ``close()`` returns a final answer.
    """

    @abc.abstractmethod
    def write(self, buffered: bytes) -> bool | None:
        """Implemented by each kind."""

    @abc.abstractmethod
    def flush(self, buffered: bytes) -> bool:
        """Implemented by each kind."""

    @abc.abstractmethod
    def close(self, buffered: bytes) -> bool:
        """Implemented by each kind."""

    def start(self, headers: Headers, encoding: str) -> None:
        headers.remove(b"content-length")
        headers.set(b"Content-Encoding", encoding.encode())


class _Policy:
    def __init__(self, min_size: int, excludes: list[MediaType], includes: list[MediaType]) -> None:
        self.min_size = min_size
        self.excludes = excludes
        self.includes = includes

    def decider(self, resp: Response) -> _Decider:
        return _TraefikDecider(self, resp.headers)

    def gzip_decider(self, resp: Response) -> _Decider:
        return _GzhttpDecider(self, resp)

    def gzip_accepts(self, ctype: str) -> bool:
        """gzhttp ``ContentTypes``/``ExceptContentTypes`` filter (an unparsable type: only excludes accept)."""
        try:
            mediatype, params = parse_media_type(ctype)
        except MediaTypeError:
            return not self.includes
        if self.includes:
            return any(media_type_matches(w, mediatype, params) for w in self.includes)
        return not any(media_type_matches(w, mediatype, params) for w in self.excludes)


class _TraefikDecider(_Decider):
    """compression_handler.go ``responseWriter`` (Brotli, Zstandard)."""

    def __init__(self, policy: _Policy, headers: Headers) -> None:
        self.min_size = policy.min_size
        self.allowed = self._allowed(policy, headers)

    @staticmethod
    def _allowed(policy: _Policy, headers: Headers) -> bool:
        if headers.get(b"content-encoding"):
            return False
        ctype = headers.get(b"content-type")
        if not ctype:
            return True
        try:
            mediatype, params = parse_media_type(ctype.decode("latin-1"))
        except MediaTypeError:
            return False
        if policy.includes and not any(
            media_type_matches(w, mediatype, params) for w in policy.includes
        ):
            return False
        return not any(media_type_matches(w, mediatype, params) for w in policy.excludes)

    def write(self, buffered: bytes) -> bool | None:
        if not self.allowed:
            return False
        return True if len(buffered) >= self.min_size else None

    def flush(self, buffered: bytes) -> bool:
        return self.allowed

    def close(self, buffered: bytes) -> bool:
        return False  # under the minimum size: sent as is


class _GzhttpDecider(_Decider):
    """klauspost gzhttp ``GzipResponseWriter`` (Write/Flush/Close decisions)."""

    def __init__(self, policy: _Policy, resp: Response) -> None:
        self.policy = policy
        self.min_size = policy.min_size
        h = resp.headers
        self.headers = h
        self.status = resp.status
        self.blocked = bool(
            h.get(b"no-gzip-compression") is not None
            or h.get(b"content-encoding")
            or h.get(b"content-range")
        )
        self.length = _atoi(h.get(b"content-length") or b"")
        ctype = h.get(b"content-type")
        self.ctype = ctype.decode("latin-1") if ctype else ""

    def _sniffed(self, buffered: bytes) -> str:
        if (
            self.ctype == ""
            and self.status not in (204, 304)
            and not 100 <= self.status < 200
            and buffered
        ):
            return detect_content_type(buffered)
        return self.ctype

    def write(self, buffered: bytes) -> bool | None:
        if self.blocked:
            return False
        cl, ctype = self.length, self.ctype
        if cl == 0 or (cl >= self.min_size and (ctype == "" or self.policy.gzip_accepts(ctype))):
            if len(buffered) < self.min_size and cl == 0:
                return None
            if cl >= self.min_size or len(buffered) >= self.min_size:
                return self.policy.gzip_accepts(self._sniffed(buffered))
        return False

    def flush(self, buffered: bytes) -> bool:
        cl = self.length or self.min_size
        ctype = self._sniffed(buffered)
        return not self.blocked and cl >= self.min_size and self.policy.gzip_accepts(ctype)

    def close(self, buffered: bytes) -> bool:
        ctype = self._sniffed(buffered)
        if not buffered or len(buffered) < self.min_size or self.blocked:
            return False
        return self.policy.gzip_accepts(ctype)

    def start(self, headers: Headers, encoding: str) -> None:
        super().start(headers, encoding)
        headers.remove(b"accept-ranges")


def _atoi(value: bytes) -> int:
    try:
        text = value.decode("ascii")
        return int(text) if text and text.lstrip("+-").isdigit() else 0
    except (UnicodeDecodeError, ValueError):
        return 0


# --------------------------------------------------------------------------- encoders


class _Encoder:
    """One streaming compressor: ``feed`` bytes, ``flush`` a sync point, ``finish``."""

    def __init__(self, encoding: str) -> None:
        self.feed: Callable[[bytes], bytes]
        self.flush: Callable[[], bytes]
        self.finish: Callable[[], bytes]
        if encoding == "gzip":
            z = zlib.compressobj(6, zlib.DEFLATED, 31)
            self.feed, self.flush, self.finish = (
                z.compress,
                lambda: z.flush(zlib.Z_SYNC_FLUSH),
                z.flush,
            )
        elif encoding == "br":
            b: Any = brotli.Compressor()
            self.feed, self.flush, self.finish = b.process, b.flush, b.finish
        else:
            c = zstandard.ZstdCompressor().compressobj()
            self.feed, self.flush, self.finish = (
                c.compress,
                lambda: c.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK),
                c.flush,
            )


async def _respond(resp: Response, decider: _Decider, encoding: str) -> Response:
    """Hold the body until ``decider`` decides, then send it compressed or not."""
    if resp.stream is None and not resp.body:
        return resp  # nothing written: headers only, never compressed
    flushing = _flushes(resp.headers)
    stream = resp.stream
    source = _chunks(resp)
    buf = bytearray()
    decision: bool | None = None
    ended = False
    try:
        while decision is None:
            chunk = await anext(source, None)
            if chunk is None:
                ended = True
                decision = decider.close(bytes(buf))
                break
            buf += chunk
            decision = decider.write(bytes(buf))
            if decision is None and flushing:
                decision = decider.flush(bytes(buf))
    except BaseException:
        await _close(stream)
        raise
    head = bytes(buf)
    if not decision:
        resp.headers.remove(b"no-gzip-compression")
        if ended:
            resp.body, resp.stream = head, None
        else:
            resp.stream = _plain(head, source, stream)
        return resp
    decider.start(resp.headers, encoding)
    encoder = _Encoder(encoding)
    if ended:
        resp.body, resp.stream = encoder.feed(head) + encoder.finish(), None
    else:
        resp.body = b""
        resp.stream = _compressed(encoder, head, source, stream, flushing)
    return resp


def _flushes(headers: Headers) -> bool:
    """Whether Traefik's proxy flushes after each write (httputil ``flushInterval`` -1)."""
    if headers.get(b"content-length") is None:
        return True
    ctype = headers.get(b"content-type")
    if ctype is None:
        return False
    try:
        return parse_media_type(ctype.decode("latin-1"))[0] == "text/event-stream"
    except MediaTypeError:
        return False


async def _chunks(resp: Response) -> AsyncIterator[bytes]:
    if resp.stream is None:
        yield resp.body
        return
    async for chunk in resp.stream:
        if chunk:
            yield chunk


async def _plain(head: bytes, source: AsyncIterator[bytes], stream: Any) -> AsyncIterator[bytes]:
    try:
        if head:
            yield head
        async for chunk in source:
            yield chunk
    finally:
        await _close(stream)


async def _compressed(
    encoder: _Encoder, head: bytes, source: AsyncIterator[bytes], stream: Any, flushing: bool
) -> AsyncIterator[bytes]:
    try:
        out = encoder.feed(head)
        if flushing:
            out += encoder.flush()
        if out:
            yield out
        async for chunk in source:
            out = encoder.feed(chunk)
            if flushing:
                out += encoder.flush()
            if out:
                yield out
        yield encoder.finish()
    finally:
        await _close(stream)


async def _close(stream: Any) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
