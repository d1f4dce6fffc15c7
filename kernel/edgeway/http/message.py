"""Requests, responses and headers as the data path sees them.

These are plain slotted objects built by the HTTP protocol layer; they are what
middlewares, routers and services receive. Header names and values stay bytes
(names in the case the peer sent them), so nothing is decoded that nobody reads.
"""

from __future__ import annotations

import abc
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

__all__ = ["Body", "Handler", "Headers", "Request", "Response", "routing_path"]


class Headers:
    """An ordered multi-map of ``(name, value)`` byte pairs.

    Look-ups take a lower-case name and compare case-insensitively. Lists are
    short (tens of entries), so a scan beats a dict that would need to be kept in
    step with the list.
    """

    __slots__ = ("raw",)

    def __init__(self, raw: list[tuple[bytes, bytes]] | None = None) -> None:
        self.raw: list[tuple[bytes, bytes]] = raw if raw is not None else []

    # Names are compared by length first: most names differ in length, and a
    # ``len`` is far cheaper than a ``lower()`` copy.

    def get(self, name: bytes, default: bytes | None = None) -> bytes | None:
        size = len(name)
        for n, v in self.raw:
            if len(n) == size and n.lower() == name:
                return v
        return default

    def getlist(self, name: bytes) -> list[bytes]:
        size = len(name)
        return [v for n, v in self.raw if len(n) == size and n.lower() == name]

    def __contains__(self, name: bytes) -> bool:
        size = len(name)
        return any(len(n) == size and n.lower() == name for n, _ in self.raw)

    def add(self, name: bytes, value: bytes) -> None:
        self.raw.append((name, value))

    def set(self, name: bytes, value: bytes) -> None:
        """Replace every value of ``name`` by ``value`` (kept at the first position)."""
        lname = name.lower()
        size = len(name)
        raw = self.raw
        for n, _ in raw:
            if len(n) == size and n.lower() == lname:
                break
        else:  # absent, the usual case: one plain scan, then appended
            raw.append((name, value))
            return
        first = -1
        for i, (n, _) in enumerate(raw):
            if len(n) == size and n.lower() == lname:
                if first >= 0:  # more than one: rebuild without the others
                    keep = raw[first][0]
                    self.raw = [(n2, v2) for n2, v2 in raw if n2.lower() != lname]
                    self.raw.insert(first, (keep, value))
                    return
                first = i
        raw[first] = (raw[first][0], value)

    def remove(self, name: bytes) -> None:
        lname = name.lower()
        size = len(name)
        if any(len(n) == size and n.lower() == lname for n, _ in self.raw):
            self.raw = [(n, v) for n, v in self.raw if n.lower() != lname]

    def copy(self) -> Headers:
        return Headers(list(self.raw))

    def __iter__(self) -> Iterable[tuple[bytes, bytes]]:  # type: ignore[override]
        return iter(self.raw)

    def __len__(self) -> int:
        return len(self.raw)

    def __repr__(self) -> str:
        return f"Headers({self.raw!r})"


class Body(abc.ABC):
    """A request body arriving from the client, read chunk by chunk.

    The protocol layer feeds it; ``read()`` returns the next chunk or ``b""`` at
    the end. Subclasses implement the flow control of their transport.
    """

    __slots__ = ()

    @abc.abstractmethod
    async def read(self) -> bytes:
        """The next chunk, or ``b""`` at the end."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            chunk = await self.read()
            if not chunk:
                return
            yield chunk

    async def read_all(self, limit: int = -1) -> bytes:
        """Read the whole body; more than ``limit`` bytes (when ≥ 0) raises ValueError."""
        parts: list[bytes] = []
        size = 0
        async for chunk in self:
            size += len(chunk)
            if 0 <= limit < size:
                raise ValueError("request body too large")
            parts.append(chunk)
        return b"".join(parts)


class BytesBody(Body):
    """A body already in memory (tests, replays, internal requests)."""

    __slots__ = ("_data",)

    def __init__(self, data: bytes) -> None:
        self._data = data

    async def read(self) -> bytes:
        data, self._data = self._data, b""
        return data


class Request:
    """One HTTP request on its way through the router.

    ``raw_path`` is the escaped path as it will be forwarded; ``path`` is the
    routing path Traefik matches rules against (see :func:`routing_path`).
    Middlewares that rewrite the path set both through :meth:`set_raw_path`.
    """

    __slots__ = (
        "method",
        "raw_path",
        "path",
        "query",
        "headers",
        "host",
        "authority",
        "scheme",
        "http_version",
        "client_ip",
        "client_port",
        "body",
        "content_length",
        "entrypoint",
        "upgrade",
        "tls",
        "keep_alive",
        "context",
        "_query_args",
        "protocol",
        "on_response",
        "started",
    )

    def __init__(
        self,
        method: str,
        raw_path: str,
        query: str,
        headers: Headers,
        authority: str = "",
        scheme: str = "http",
        http_version: str = "1.1",
        client_ip: str = "",
        client_port: int = 0,
        body: Body | None = None,
        content_length: int | None = None,
        entrypoint: str = "",
        tls: Any = None,
        host: str | None = None,
        path: str | None = None,
    ) -> None:
        """``host`` is the normalized ``authority`` and ``path`` the routing path of
        ``raw_path``, when the caller already has them."""
        self.method = method
        self.raw_path = raw_path
        self.path = routing_path(raw_path) if path is None else path
        self.query = query
        self.headers = headers
        self.authority = authority
        self.host = normalize_host(authority) if host is None else host
        self.scheme = scheme
        self.http_version = http_version
        self.client_ip = client_ip
        self.client_port = client_port
        self.body = body
        self.content_length = content_length
        self.entrypoint = entrypoint
        self.upgrade: bytes | None = None
        self.tls = tls
        #: Whether the client allows the connection to be reused after this request.
        self.keep_alive = http_version == "1.1"
        self.context: dict[str, Any] = {}
        self._query_args: dict[str, list[str]] | None = None
        #: Traefik's request protocol (``http``, ``websocket``, ``sse``, ``grpc``,
        #: ``grpc-web``), when the server noted it while parsing (None: not known yet).
        self.protocol: str | None = None
        #: Set by the route's outermost meter: the server calls it with the response
        #: the handler returned (None if it raised) and ``started``, before sending
        #: it, so that the meter needs no coroutine frame of its own (``metrics.hoist``).
        self.on_response: Callable[[Request, Response | None, float], None] | None = None
        #: ``time.perf_counter()`` when that meter took the request.
        self.started = 0.0

    def set_raw_path(self, raw_path: str) -> None:
        self.raw_path = raw_path
        self.path = routing_path(raw_path)

    @property
    def target(self) -> str:
        """The request-target to send upstream: escaped path and query."""
        return f"{self.raw_path}?{self.query}" if self.query else self.raw_path

    def query_args(self) -> dict[str, list[str]]:
        """The parsed query string (cached); ``?k`` yields ``{"k": [""]}`` as in Go."""
        if self._query_args is None:
            self._query_args = parse_qs(self.query, keep_blank_values=True) if self.query else {}
        return self._query_args

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.authority}{self.target}>"


class Response:
    """A response: status, headers, and either ``body`` bytes or a ``stream``.

    ``upgrade`` is set on a 101 response whose two connections are to be spliced;
    the protocol layer calls it with the client transport once the head is sent.

    ``trailers`` (canonical names) are sent after the body: chunked HTTP/1.1
    trailers, or a trailing HEADERS frame in HTTP/2. The upstream fills them in
    when its body ends, so they are complete once ``stream`` is exhausted (the
    object may already exist, empty, when the server announced them with a
    ``Trailer`` header). None: no trailers.
    """

    __slots__ = ("status", "headers", "body", "stream", "upgrade", "on_sent", "trailers")

    def __init__(
        self,
        status: int,
        headers: Headers | None = None,
        body: bytes = b"",
        stream: AsyncIterator[bytes] | None = None,
    ) -> None:
        self.status = status
        self.headers = headers if headers is not None else Headers()
        self.body = body
        self.stream = stream
        self.upgrade: Any = None
        self.on_sent: Callable[[], None] | None = None
        self.trailers: Headers | None = None

    def add_trailers(self, fields: Iterable[tuple[bytes, bytes]]) -> None:
        """Record trailers received from the server (after any announced ones)."""
        if self.trailers is None:
            self.trailers = Headers(list(fields))
        else:
            self.trailers.raw.extend(fields)

    @classmethod
    def text(cls, status: int, text: str, headers: Headers | None = None) -> Response:
        """A plain-text response, as Go's ``http.Error`` writes it."""
        h = headers if headers is not None else Headers()
        h.set(b"Content-Type", b"text/plain; charset=utf-8")
        h.set(b"X-Content-Type-Options", b"nosniff")
        return cls(status, h, (text + "\n").encode())

    def __repr__(self) -> str:
        return f"<Response {self.status}>"


Handler = Callable[[Request], Awaitable[Response]]

_SSE = b"text/event-stream"


def protocol_of(websocket: bool, accept: bytes | None, content_type: bytes | None) -> str:
    """Traefik's ``getRequestProtocol`` (the metrics' ``protocol`` label): websocket,
    sse, grpc-web, grpc or http, from the first ``Accept`` and ``Content-Type``."""
    if websocket:
        return "websocket"
    if (
        accept is not None
        and _SSE in accept.lower()
        and any(item.strip().lower() == _SSE for item in accept.split(b","))
    ):
        return "sse"
    if content_type is not None and content_type.startswith(b"application/grpc"):
        return "grpc-web" if content_type.startswith(b"application/grpc-web") else "grpc"
    return "http"


async def ready(resp: Response) -> Response:
    """``resp`` as an awaitable: lets a handler be a plain function that returns
    ``next_(req)`` on its common path (no coroutine frame of its own) and
    ``ready(answer)`` when it answers by itself."""
    return resp


def canonical_header_name(name: str) -> bytes:
    """Go's ``CanonicalHeaderKey`` (``x-custom-header`` -> ``X-Custom-Header``), which
    is how Traefik spells the headers its middlewares set."""
    if not name or any(c in name for c in " \t:"):
        return name.encode("latin-1")
    return "-".join(p[:1].upper() + p[1:].lower() for p in name.split("-")).encode("latin-1")


_canonical_cache: dict[bytes, bytes] = {}


def canonical_header_bytes(name: bytes) -> bytes:
    """:func:`canonical_header_name` of a wire name, cached (HTTP/2 names arrive
    lower-case and are stored canonical, as Go's client and server do)."""
    c = _canonical_cache.get(name)
    if c is None:
        c = canonical_header_name(name.decode("latin-1"))
        if len(_canonical_cache) < 4096:
            _canonical_cache[name] = c
    return c


def normalize_host(authority: str) -> str:
    """Host as Traefik matches it (requestdecorator: ``CanonicalDomain(parseHost(req.Host))``).

    ``parseHost`` keeps an address without ``:`` as is, else takes Go's
    ``net.SplitHostPort`` host; when that fails, ``[...]`` loses its brackets and
    anything else (``::1``, ``a:b:c``) stays whole. Then Go's ``TrimSpace`` and
    ``ToLower``.
    """
    host = authority
    if ":" in host:
        split = _split_host_port(host)
        if split is not None:
            host = split
        elif host[0] == "[" and host[-1] == "]":
            host = host[1:-1]
    host = host.strip(GO_SPACE)
    if host.isascii():
        return host.lower()
    return "".join(lo if len(lo := c.lower()) == 1 else "i" if c == "\u0130" else c for c in host)


# unicode.IsSpace, which strings.TrimSpace uses (str.strip() would also drop \x1c-\x1f).
GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def _split_host_port(hostport: str) -> str | None:
    """The host part per Go's ``net.SplitHostPort``, or None where Go returns an error."""
    i = hostport.rfind(":")
    if i < 0:
        return None
    j = k = 0
    if hostport[0] == "[":
        end = hostport.find("]")
        if end < 0 or end + 1 != i:
            return None
        host = hostport[1:end]
        j, k = 1, end + 1
    else:
        host = hostport[:i]
        if ":" in host:
            return None
    if "[" in hostport[j:] or "]" in hostport[k:]:
        return None
    return host


# Percent-escapes that stay encoded in the routing path (mux.go reservedCharacters):
# RFC 3986 reserved characters plus '%'. Matched case-sensitively, as Go's map is:
# a lower-case ``%2f`` is decoded.
_RESERVED = frozenset(
    ["%3A", "%2F", "%3F", "%23", "%5B", "%5D", "%40", "%21", "%24", "%26"]
    + ["%27", "%28", "%29", "%2A", "%2B", "%2C", "%3B", "%3D", "%25"]
)
# url.validEncoded(path, encodePath): when the raw path has any other byte, Go's
# EscapedPath() re-escapes the decoded path instead of using the raw one.
_VALID_ENCODED = re.compile(r"[A-Za-z0-9\-_.~!$&'()*+,;=:@\[\]%/]*")
# Bytes url.escape(path, encodePath) leaves alone; the rest become %XX.
_PATH_SAFE = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~$&+,/:;=@"
)
_HEX = frozenset("0123456789abcdefABCDEF")


def routing_path(raw_path: str) -> str:
    """The path rules match against, as Traefik's ``withRoutingPath`` computes it.

    Go starts from ``req.URL.EscapedPath()``: the raw path when every byte is
    allowed in an escaped path, otherwise the decoded path re-escaped (so
    ``%2F`` is then lost and ``!'()*[]`` come back as ``%21`` ...). Escapes
    spelled exactly as in the reserved table are kept, all others decoded. The
    bytes are read as UTF-8, invalid sequences kept via ``surrogateescape`` so
    distinct paths stay distinct. ``raw_path`` holds the wire bytes as latin-1
    (as the server decodes them); a str with wider characters is taken as UTF-8.
    Malformed escapes (Go answers 400 before routing) are kept literally.
    """
    if _VALID_ENCODED.fullmatch(raw_path) is None:
        raw = _to_bytes(raw_path)
        out = bytearray()
        for b in _unescape(raw):
            if b in _PATH_SAFE or f"%{b:02X}" not in _RESERVED:
                out.append(b)
            else:
                out += b"%%%02X" % b
        return out.decode("utf-8", "surrogateescape")
    if "%" not in raw_path:
        return raw_path
    out = bytearray()
    i, n = 0, len(raw_path)
    while i < n:
        c = raw_path[i]
        if c == "%" and i + 2 < n and raw_path[i + 1] in _HEX and raw_path[i + 2] in _HEX:
            esc = raw_path[i : i + 3]
            if esc in _RESERVED:
                out += esc.encode()
            else:
                out.append(int(esc[1:], 16))
            i += 3
            continue
        out.append(ord(c))
        i += 1
    return out.decode("utf-8", "surrogateescape")


def _to_bytes(s: str) -> bytes:
    try:
        return s.encode("latin-1")
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogateescape")


def _unescape(raw: bytes) -> bytes:
    """Decode every valid %XX (url.unescape in path mode; invalid ones kept)."""
    out = bytearray()
    i, n = 0, len(raw)
    while i < n:
        if raw[i] == 0x25 and i + 2 < n and chr(raw[i + 1]) in _HEX and chr(raw[i + 2]) in _HEX:
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return bytes(out)
