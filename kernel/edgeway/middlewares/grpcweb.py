"""The ``grpcWeb`` middleware: gRPC-Web from browsers to gRPC servers.

Traefik wraps the next handler with improbable-eng's gRPC-Web wrapper
(traefik/grpc-web v0.16.0, ``WrapHandler`` with
``WithCorsForRegisteredEndpointsOnly(false)`` and an origin function over
``allowOrigins``), whose CORS handling is rs/cors v1.7.0. Reproduced here:

- a request is gRPC-Web when it is a POST whose Content-Type starts with
  ``application/grpc-web``; an OPTIONS whose Access-Control-Request-Headers
  mention ``x-grpc-web`` is a CORS request for it; anything else passes through;
- a CORS preflight (OPTIONS with Access-Control-Request-Method) is answered here, 200;
- otherwise the request goes on as gRPC (``application/grpc...``, no
  Content-Length, base64 body of ``-text`` decoded) — over HTTP/2 when the
  service's server is ``h2c://`` or an ``https://`` server speaking ``h2``;
- the response goes back as gRPC-Web: Content-Type renamed, headers exposed to
  the browser, trailers (``grpc-status``...) appended to the body as a frame
  whose flag byte is 0x80 (always, possibly empty), all base64 per write for ``-text``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from typing import Any

from edgeway import hookimpl
from edgeway.config.dynamic_middlewares import GrpcWeb
from edgeway.http.message import Body, Handler, Headers, Request, Response, canonical_header_name
from edgeway.registry import BuildContext, MiddlewareType

_GRPC = b"application/grpc"
_GRPC_WEB = b"application/grpc-web"
_GRPC_WEB_TEXT = b"application/grpc-web-text"
#: rs/cors defaults: the methods allowed when none are configured (OPTIONS always is).
_ALLOWED_METHODS = frozenset((b"GET", b"POST", b"HEAD", b"OPTIONS"))
_MAX_AGE = b"600"  # the wrapper's corsMaxAge: 10 minutes


def build_grpc_web(options: GrpcWeb, next_: Handler, ctx: BuildContext) -> Handler:
    origins = frozenset(options.allowOrigins or ())
    allow_any = "*" in origins

    def allowed(origin: bytes) -> bool:
        return allow_any or origin.decode("latin-1") in origins

    async def grpc_web(req: Request) -> Response:
        method = req.method
        headers = req.headers
        if method == "POST":
            content_type = headers.get(b"content-type") or b""
            if not content_type.startswith(_GRPC_WEB):
                return await next_(req)
        elif method == "OPTIONS":
            if b"x-grpc-web" not in (headers.get(b"access-control-request-headers") or b"").lower():
                return await next_(req)
            if headers.get(b"access-control-request-method"):
                return _preflight(req, allowed)
        else:
            return await next_(req)
        # rs/cors handleActualRequest, on the response the wrapper writes to.
        out: list[tuple[bytes, bytes]] = [(b"Vary", b"Origin")]
        origin = headers.get(b"origin") or b""
        if origin and allowed(origin) and method.encode() in _ALLOWED_METHODS:
            out += [
                (b"Access-Control-Allow-Origin", origin),
                (b"Access-Control-Allow-Credentials", b"true"),
            ]
        text = _to_grpc(req)
        resp = await next_(req)
        return _to_grpc_web(resp, out, text, proxy_error="upstream_error" in req.context)

    return grpc_web


def _preflight(req: Request, allowed: Any) -> Response:
    """rs/cors ``handlePreflight`` as the wrapper configures it, then a bare 200."""
    h = req.headers
    vary = [
        (b"Vary", b"Origin"),
        (b"Vary", b"Access-Control-Request-Method"),
        (b"Vary", b"Access-Control-Request-Headers"),
    ]
    origin = h.get(b"origin") or b""
    request_method = (h.get(b"access-control-request-method") or b"").upper()
    if not origin or not allowed(origin) or request_method not in _ALLOWED_METHODS:
        return Response(200, Headers(vary))
    out = [(b"Access-Control-Allow-Credentials", b"true")]
    names = parse_header_list(h.get(b"access-control-request-headers") or b"")
    if names:
        out.append((b"Access-Control-Allow-Headers", b", ".join(names)))
    out += [
        (b"Access-Control-Allow-Methods", request_method),
        (b"Access-Control-Allow-Origin", origin),
        (b"Access-Control-Max-Age", _MAX_AGE),
    ]
    return Response(200, Headers(out + vary))


def parse_header_list(value: bytes) -> list[bytes]:
    """rs/cors ``parseHeaderList``: split on spaces and commas, keep ``[A-Za-z0-9_-]``,
    upper-case the letters that start the name or follow ``-``/``_``."""
    names: list[bytes] = []
    cur = bytearray()
    upper = True
    n = len(value)
    for i, b in enumerate(value):
        if 0x61 <= b <= 0x7A:
            cur.append(b - 32 if upper else b)
        elif 0x41 <= b <= 0x5A:
            cur.append(b if upper else b + 32)
        elif b in b"-_0123456789":
            cur.append(b)
        if b in b" ," or i == n - 1:
            if cur:
                names.append(bytes(cur))
                cur = bytearray()
                upper = True
        else:
            upper = b in b"-_"
    return names


def _to_grpc(req: Request) -> bool:
    """``hackIntoNormalGrpcRequest``: the request becomes plain gRPC; True for ``-text``."""
    content_type = req.headers.get(b"content-type") or b""
    text = content_type.startswith(_GRPC_WEB_TEXT)
    incoming = _GRPC_WEB_TEXT if text else _GRPC_WEB
    req.headers.set(b"Content-Type", content_type.replace(incoming, _GRPC, 1))
    req.headers.remove(b"content-length")
    req.content_length = None
    if text and req.body is not None:
        req.body = Base64Body(req.body)
    return text


class Base64Body(Body):
    """A request body sent base64-encoded (``application/grpc-web-text``), decoded as it arrives."""

    __slots__ = ("_inner", "_rest")

    def __init__(self, inner: Body) -> None:
        self._inner = inner
        self._rest = b""

    async def read(self) -> bytes:
        while True:
            chunk = await self._inner.read()
            if not chunk:
                if self._rest.strip(b"\r\n"):
                    raise ValueError("gRPC-Web text body: truncated base64")
                return b""
            data = self._rest + chunk.replace(b"\r", b"").replace(b"\n", b"")
            cut = len(data) - len(data) % 4
            self._rest = data[cut:]
            if cut:
                return _b64decode(data[:cut])


def _b64decode(data: bytes) -> bytes:
    """Decode whole 4-byte quanta; padded segments may follow one another."""
    try:
        if b"=" not in data[:-2]:
            return base64.b64decode(data, validate=True)
        return b"".join(
            base64.b64decode(data[i : i + 4], validate=True) for i in range(0, len(data), 4)
        )
    except binascii.Error as exc:
        raise ValueError(f"gRPC-Web text body: {exc}") from None


def _to_grpc_web(
    resp: Response, out: list[tuple[bytes, bytes]], text: bool, *, proxy_error: bool
) -> Response:
    """``grpcWebResponse``: headers copied over the CORS ones (a name replaces the
    same name), Content-Type renamed, every header exposed; the body streams and
    ends with the trailers frame.

    Go's proxy error answers carry an empty ``Content-Type`` entry (it stops
    content sniffing): not sent, but listed among the exposed headers."""
    content_type = _GRPC_WEB_TEXT if text else _GRPC_WEB
    copied: dict[bytes, list[bytes]] = {}
    for n, v in resp.headers.raw:
        name = canonical_header_name(n.decode("latin-1"))
        lname = name.lower()
        if lname in (b"trailer", b"content-length"):
            continue  # content-length: the body grows by the trailers frame
        if lname == b"content-type":
            v = v.replace(_GRPC, content_type, 1)
        copied.setdefault(name, []).append(v)
    replaced = {n.lower() for n in copied}
    headers = [(n, v) for n, v in out if n.lower() not in replaced]
    for name, values in copied.items():
        headers += [(name, v) for v in values]
    names: list[bytes] = (
        [b"Content-Type"] if proxy_error and b"content-type" not in replaced else []
    )
    for n, _ in headers:
        if n not in names:
            names.append(n)
    names += [b"grpc-status", b"grpc-message"]
    headers.append((b"Access-Control-Expose-Headers", b", ".join(names)))
    return Response(resp.status, Headers(headers), stream=_web_body(resp, text))


async def _web_body(resp: Response, text: bool) -> AsyncIterator[bytes]:
    stream = resp.stream
    if stream is None:
        if resp.body:
            yield base64.b64encode(resp.body) if text else resp.body
    else:
        try:
            async for chunk in stream:
                if chunk:
                    yield base64.b64encode(chunk) if text else chunk
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
    frame = trailer_frame(resp.trailers.raw if resp.trailers is not None else [])
    yield base64.b64encode(frame) if text else frame


def trailer_frame(trailers: list[tuple[bytes, bytes]]) -> bytes:
    """The trailers as gRPC-Web sends them: a frame flagged 0x80 holding
    ``name: value`` lines, names lower-cased and sorted as Go's ``Header.Write`` does.
    The wrapper Traefik uses writes it even when empty (trailers-only or error answers)."""
    grouped: dict[bytes, list[bytes]] = {}
    for n, v in trailers:
        grouped.setdefault(n.lower(), []).append(v)
    lines = b"".join(
        b"%s: %s\r\n" % (n, v.replace(b"\r", b" ").replace(b"\n", b" ").strip(b" \t"))
        for n in sorted(grouped)
        for v in grouped[n]
    )
    return b"\x80" + len(lines).to_bytes(4, "big") + lines


@hookimpl
def register_middlewares(register: Any) -> None:
    register(MiddlewareType("grpcWeb", GrpcWeb, build_grpc_web, plugin=False))
