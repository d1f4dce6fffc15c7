"""redirectScheme and redirectRegex (Traefik's ``pkg/middlewares/redirect``).

Both rebuild the client's URL, rewrite it with a Go regexp and, when it changed,
answer with ``Location`` set to Go's ``url.Parse(new).String()``: 302 for GET and
307 otherwise, 301/308 when ``permanent``, the status text as body (no
Content-Type: Traefik disables sniffing). A URL Go cannot parse gets oxy's 502.
"""

from __future__ import annotations

from collections.abc import Callable

from edgeway.config.dynamic import RedirectRegex, RedirectScheme
from edgeway.http.message import Handler, Headers, Request, Response
from edgeway.http.status import error_response, status_text
from edgeway.middlewares.goregexp import compile_capturing
from edgeway.middlewares.gourl import parse, to_bstr, to_text
from edgeway.registry import BuildContext

_URI = compile_capturing(r"^(https?):\/\/(\[[\w:.]+\]|[\w\._-]+)?(:\d+)?(.*)$")
_SCHEME_PATTERN = r"^(https?:\/\/)?(\[[\w:.]+\]|[\w\._-]+)?(:\d+)?(.*)$"


def _split_host_port(hostport: str) -> tuple[str, str] | None:
    """Go's ``net.SplitHostPort`` (None where it fails)."""
    i = hostport.rfind(":")
    if i < 0:
        return None
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0 or end + 1 != i:
            return None
        host, k = hostport[1:end], end + 1
        if "[" in hostport[1:] or "]" in hostport[k:]:
            return None
    else:
        host = hostport[:i]
        if ":" in host or "[" in hostport or "]" in hostport:
            return None
    return host, hostport[i + 1 :]


def _from_request_uri(uri: str) -> tuple[str, str, str, str] | None:
    """(scheme, host, port, rest) when the request-target is in absolute form."""
    m = _URI.search(uri)
    if m is None:
        return None
    return m.group(1), m.group(2) or "", m.group(3) or "", m.group(4)


def regex_url(req: Request) -> str:
    """``rawURL`` of redirect_regex.go: the URL as the client addressed it."""
    scheme, host, port, uri = "http", req.authority, "", req.target
    parts = _from_request_uri(uri)
    if parts is not None:
        scheme, host, port, uri = parts[0], parts[1] or host, parts[2] or port, parts[3]
    if req.tls is not None:
        scheme = "https"
    return scheme + "://" + host + port + uri


def scheme_url(req: Request) -> str:
    """``clientRequestURL`` of redirect_scheme.go: TLS or X-Forwarded-Proto decide."""
    scheme, uri = "http", req.target
    split = _split_host_port(req.authority)
    host, port = (req.authority, "") if split is None else (split[0], ":" + split[1])
    parts = _from_request_uri(uri)
    if parts is not None:
        scheme, host, port, uri = parts[0], parts[1] or host, parts[2] or port, parts[3]
    if req.tls is not None:
        scheme = "https"
    proto = (req.headers.get(b"x-forwarded-proto") or b"").decode("latin-1").lower()
    if proto in ("http", "ws"):
        scheme = "http"
    elif proto in ("https", "wss"):
        scheme = "https"
    if (scheme == "http" and port == ":80") or (scheme == "https" and port == ":443"):
        port = ""
    return scheme + "://" + host + port + uri


def _redirect(
    next_: Handler, regex: str, replacement: str, permanent: bool, raw_url: Callable[[Request], str]
) -> Handler:
    exp = compile_capturing(regex)

    async def redirect(req: Request) -> Response:
        old = to_text(raw_url(req))
        if exp.search(old) is None:
            return await next_(req)
        new = exp.replace_all(old, replacement)
        try:
            location = parse(to_bstr(new)).string()
        except ValueError:  # oxy's handler: *url.Error is a net.Error, hence 502
            return error_response(502)
        if new == old:
            return await next_(req)
        if req.method == "GET":
            status = 301 if permanent else 302
        else:
            status = 308 if permanent else 307
        headers = Headers([(b"Location", location.encode("latin-1"))])
        return Response(status, headers, status_text(status).encode())

    return redirect


def build_redirect_regex(options: RedirectRegex, next_: Handler, ctx: BuildContext) -> Handler:
    return _redirect(next_, options.regex or "", options.replacement or "", bool(options.permanent), regex_url)


def build_redirect_scheme(options: RedirectScheme, next_: Handler, ctx: BuildContext) -> Handler:
    scheme = options.scheme or ""
    if not scheme:
        raise ValueError("you must provide a target scheme")
    port = options.port or ""
    if port and not ((scheme == "http" and port == "80") or (scheme == "https" and port == "443")):
        port = ":" + port
    else:
        port = ""
    replacement = scheme + "://${2}" + port + "${4}"
    return _redirect(next_, _SCHEME_PATTERN, replacement, bool(options.permanent), scheme_url)
