"""Status lines and the small canned responses Traefik (Go's net/http) writes."""

from __future__ import annotations

import time
from email.utils import formatdate
from http import HTTPStatus

from edgeway.http.message import Headers, Response

_REASONS: dict[int, bytes] = {s.value: s.phrase.encode() for s in HTTPStatus}
# Where Go's http.StatusText (what Traefik writes) differs from Python's phrases.
_REASONS.update({414: b"Request URI Too Long", 418: b"I'm a teapot", 499: b"Client Closed Request"})
#: Status lines of the known codes (the server looks them up without a call).
STATUS_LINES: dict[int, bytes] = {
    code: b"HTTP/1.1 %d %s\r\n" % (code, reason) for code, reason in _REASONS.items()
}


def reason(status: int) -> bytes:
    return _REASONS.get(status, b"")


def status_line(status: int) -> bytes:
    line = STATUS_LINES.get(status)
    if line is None:
        line = b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b""))
    return line


def status_text(status: int) -> str:
    return _REASONS.get(status, b"").decode()


_date_cache: tuple[int, bytes] = (0, b"")


def http_date() -> bytes:
    """The current ``Date`` header value, formatted once per second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True).encode())
    return _date_cache[1]


def error_response(status: int) -> Response:
    """What Traefik's proxy error handler writes: the bare status text, no Content-Type."""
    return Response(status, Headers(), status_text(status).encode())


def not_found() -> Response:
    """Go's ``http.NotFound``: what Traefik answers when no router matches."""
    return Response.text(404, "404 page not found")


def no_available_server() -> Response:
    """Traefik's answer for a service with no (healthy) server."""
    return Response.text(503, "no available server")
