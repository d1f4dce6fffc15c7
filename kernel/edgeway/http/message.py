"""Requests, responses and headers as the data path sees them.

These are plain slotted objects built by the HTTP protocol layer; they are what
middlewares, routers and services receive. Header names and values stay bytes
(names in the case the peer sent them), so nothing is decoded that nobody reads.
"""

from __future__ import annotations

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

    def get(self, name: bytes, default: bytes | None = None) -> bytes | None:
        for n, v in self.raw:
            if n.lower() == name:
                return v
        return default

    def getlist(self, name: bytes) -> list[bytes]:
        return [v for n, v in self.raw if n.lower() == name]

    def __contains__(self, name: bytes) -> bool:
        return any(n.lower() == name for n, _ in self.raw)

    def add(self, name: bytes, value: bytes) -> None:
        self.raw.append((name, value))

    def set(self, name: bytes, value: bytes) -> None:
        """Replace every value of ``name`` by ``value`` (kept at the first position)."""
        lname = name.lower()
        out: list[tuple[bytes, bytes]] = []
        placed = False
        for n, v in self.raw:
            if n.lower() == lname:
                if not placed:
                    out.append((n, value))
                    placed = True
            else:
                out.append((n, v))
        if not placed:
            out.append((name, value))
        self.raw = out

    def remove(self, name: bytes) -> None:
        lname = name.lower()
        self.raw = [(n, v) for n, v in self.raw if n.lower() != lname]

    def copy(self) -> Headers:
        return Headers(list(self.raw))

    def __iter__(self) -> Iterable[tuple[bytes, bytes]]:  # type: ignore[override]
        return iter(self.raw)

    def __len__(self) -> int:
        return len(self.raw)

    def __repr__(self) -> str:
        return f"Headers({self.raw!r})"


class Body:
    """A request body arriving from the client, read chunk by chunk.

    The protocol layer feeds it; ``read()`` returns the next chunk or ``b""`` at
    the end. Subclasses implement the flow control of their transport.
    """

    __slots__ = ()

    async def read(self) -> bytes:  # pragma: no cover - interface
        raise NotImplementedError

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
        "context",
        "_query_args",
    )

    def __init__(
        self,
        method: str,
        raw_path: str,
        query: str,
        headers: Headers,
        *,
        authority: str = "",
        scheme: str = "http",
        http_version: str = "1.1",
        client_ip: str = "",
        client_port: int = 0,
        body: Body | None = None,
        content_length: int | None = None,
        entrypoint: str = "",
        tls: Any = None,
    ) -> None:
        self.method = method
        self.raw_path = raw_path
        self.path = routing_path(raw_path)
        self.query = query
        self.headers = headers
        self.authority = authority
        self.host = normalize_host(authority)
        self.scheme = scheme
        self.http_version = http_version
        self.client_ip = client_ip
        self.client_port = client_port
        self.body = body
        self.content_length = content_length
        self.entrypoint = entrypoint
        self.upgrade: bytes | None = None
        self.tls = tls
        self.context: dict[str, Any] = {}
        self._query_args: dict[str, list[str]] | None = None

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
    """

    __slots__ = ("status", "headers", "body", "stream", "upgrade", "on_sent")

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


def normalize_host(authority: str) -> str:
    """Host as Traefik matches it: lower-case, no port, no IPv6 brackets."""
    host = authority.strip().lower()
    if not host:
        return ""
    if host[0] == "[":
        end = host.find("]")
        return host[1:end] if end > 0 else host
    colon = host.rfind(":")
    if colon >= 0 and host.count(":") == 1:
        return host[:colon]
    return host


# Percent-escapes that stay encoded in the routing path: RFC 3986 reserved
# characters plus '%' itself (decoding them would change the URL's meaning).
_RESERVED = frozenset(
    "%3A %2F %3F %23 %5B %5D %40 %21 %24 %26 %27 %28 %29 %2A %2B %2C %3B %3D %25".split()
)


def routing_path(raw_path: str) -> str:
    """The path rules match against, as Traefik computes it.

    Escapes of unreserved characters are decoded; escapes of reserved ones are
    kept (upper-cased), so ``/a%2Fb`` stays distinct from ``/a/b``.
    """
    if "%" not in raw_path:
        return raw_path
    out: list[str] = []
    i = 0
    n = len(raw_path)
    pending = bytearray()
    while i < n:
        c = raw_path[i]
        if c == "%" and i + 2 < n and _is_hex(raw_path[i + 1 : i + 3]):
            esc = raw_path[i : i + 3].upper()
            if esc in _RESERVED:
                if pending:
                    out.append(pending.decode("utf-8", "replace"))
                    pending.clear()
                out.append(esc)
            else:
                pending.append(int(raw_path[i + 1 : i + 3], 16))
            i += 3
            continue
        if pending:
            out.append(pending.decode("utf-8", "replace"))
            pending.clear()
        out.append(c)
        i += 1
    if pending:
        out.append(pending.decode("utf-8", "replace"))
    return "".join(out)


def _is_hex(s: str) -> bool:
    return len(s) == 2 and all(ch in "0123456789abcdefABCDEF" for ch in s)
