"""Response trailers as Go's ``net/http`` and ``httputil.ReverseProxy`` carry them.

The upstream side announces the names a server declared in its ``Trailer``
header (ReverseProxy adds ``Trailer: A, B`` to the response it writes) and
records the trailers themselves when the body ends (:meth:`Response.add_trailers`).
The server side writes them after the last chunk (HTTP/1.1) or in a trailing
HEADERS frame (HTTP/2).
"""

from __future__ import annotations

from collections.abc import Iterable

from edgeway.http.message import Headers, canonical_header_bytes

__all__ = ["BAD_RESPONSE_TRAILER", "declared_names", "h1_trailer_block", "h2_trailer_fields"]

#: Names Go's HTTP/1.1 transport refuses in a response's ``Trailer`` header
#: (``fixTrailer``: "bad trailer key", the exchange fails).
BAD_RESPONSE_TRAILER = frozenset((b"Transfer-Encoding", b"Trailer", b"Content-Length"))

#: httpguts.ValidTrailerHeader: names that may not be sent as trailers (RFC 9110 §6.5.1).
_FORBIDDEN = frozenset(
    n.encode()
    for n in (
        "Authorization", "Cache-Control", "Connection", "Content-Encoding", "Content-Length",
        "Content-Range", "Content-Type", "Expect", "Host", "Keep-Alive", "Max-Forwards",
        "Pragma", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "Range",
        "Realm", "Te", "Trailer", "Transfer-Encoding", "Www-Authenticate",
    )
)  # fmt: skip


def declared_names(values: Iterable[bytes]) -> list[bytes]:
    """The canonical names listed in ``Trailer`` header values (Go's
    ``foreachHeaderElement``: comma-separated, trimmed, empty ones skipped), once each."""
    names: list[bytes] = []
    for value in values:
        for item in value.split(b","):
            item = item.strip(b" \t")
            if item:
                name = canonical_header_bytes(item)
                if name not in names:
                    names.append(name)
    return names


def h1_trailer_block(trailers: Headers | None) -> bytes:
    """The trailer section after ``0\\r\\n`` (without the final CRLF), as Go's
    ``Header.Write``: sorted by name, CR/LF in values turned into spaces."""
    if not trailers:
        return b""
    fields = sorted(trailers.raw, key=lambda f: f[0])
    return b"".join(
        b"%s: %s\r\n" % (n, v.replace(b"\r", b" ").replace(b"\n", b" ").strip(b" \t"))
        for n, v in fields
    )


def h2_trailer_fields(trailers: Headers | None) -> list[tuple[bytes, bytes]]:
    """Trailers for an HTTP/2 HEADERS frame: lower-case names, those forbidden as
    trailers dropped (Go's HTTP/2 server ``declareTrailer``)."""
    if not trailers:
        return []
    return [(n.lower(), v) for n, v in trailers.raw if canonical_header_bytes(n) not in _FORBIDDEN]
