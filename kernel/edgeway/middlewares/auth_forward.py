"""``forwardAuth``: ask an authentication server first (Traefik's forward.go).

The request's headers (minus hop-by-hop ones, filtered by
``authRequestHeaders``) go to ``address`` with ``X-Forwarded-*`` describing the
original request, by ``GET`` unless ``preserveRequestMethod``, with the body
when ``forwardBody``. A 2xx answer lets the request through, carrying the
``authResponseHeaders`` (and ``authResponseHeadersRegex``) the server set and,
when it set cookies, the ``addAuthCookiesToResponse`` ones on the way back.
Any other answer goes to the client as is (``Location`` made absolute unless
``preserveLocationHeader``; a 401 becomes a redirect to ``authSigninURL`` when
set). Failing to reach the server is a 500; a body over ``maxBodySize`` or an
answer over ``maxResponseBodySize`` a 401.
"""

from __future__ import annotations

import asyncio
import posixpath
import re
from collections.abc import Sequence
from urllib.parse import quote, unquote_to_bytes, urljoin, urlsplit

from edgeway.config.dynamic import ForwardAuth
from edgeway.http.bodies import BodyTooLarge, read_response_body
from edgeway.http.client import ClientTLS, HttpClient, InvalidURL, make_client
from edgeway.http.forwarded import MANAGED, forwarded_port, is_managed
from edgeway.http.message import (
    BytesBody,
    Handler,
    Headers,
    Request,
    Response,
    canonical_header_name,
)
from edgeway.http.upstream import UpstreamError
from edgeway.middlewares.auth_cookies import Cookie, parse_set_cookie
from edgeway.registry import BuildContext

__all__ = ["build_forward_auth"]

#: forward.go's hopHeaders ("Trailers", not "Trailer").
_HOP = frozenset((b"connection", b"keep-alive", b"te", b"trailers", b"transfer-encoding", b"upgrade"))
#: Go's http.Client timeout in forwardAuth.
_TIMEOUT = 30.0
_XFF, _XFM, _XFP = b"X-Forwarded-For", b"X-Forwarded-Method", b"X-Forwarded-Proto"
_XFPORT, _XFH, _XFU = b"X-Forwarded-Port", b"X-Forwarded-Host", b"X-Forwarded-Uri"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BAD_ESCAPE = re.compile(r"%(?![0-9a-fA-F]{2})")
_VALID_ENCODED_PATH = re.compile(r"[A-Za-z0-9\-_.~!$&'()*+,;=:@\[\]%/]*")


class _TooLarge(Exception):
    pass


def build_forward_auth(options: ForwardAuth, next_: Handler, ctx: BuildContext) -> Handler:
    address = options.address or ""
    tls = options.tls
    client_tls = (
        ClientTLS(tls.ca or "", tls.cert or "", tls.key or "", bool(tls.insecureSkipVerify)) if tls is not None else None
    )
    client: HttpClient | None
    try:
        client = make_client(address, getattr(ctx, "pools", None), client_tls, ctx.workdir)
    except InvalidURL:
        client = None  # Go's client fails on every request: 500 each time, as Traefik
    except ValueError as exc:
        raise ValueError(f"unable to create client TLS configuration: {exc}") from None
    regex = None
    if options.authResponseHeadersRegex:
        try:
            regex = re.compile(options.authResponseHeadersRegex)
        except re.error as exc:
            raise ValueError(f"error compiling regular expression {options.authResponseHeadersRegex}: {exc}") from None
    trust = options.trustForwardHeader
    allowed = [canonical_header_name(n) for n in options.authRequestHeaders or []]
    if trust and allowed:
        allowed += [canonical_header_name(n.decode()) for n in sorted(MANAGED)]
    response_headers = [canonical_header_name(n) for n in options.authResponseHeaders or []]
    cookie_names = frozenset(options.addAuthCookiesToResponse or [])
    header_field = canonical_header_name(options.headerField) if options.headerField else None
    forward_body = bool(options.forwardBody)
    max_body = options.maxBodySize if options.maxBodySize is not None else -1
    max_response = options.maxResponseBodySize if options.maxResponseBodySize is not None else -1
    preserve_method = bool(options.preserveRequestMethod)
    preserve_location = bool(options.preserveLocationHeader)
    signin = options.authSigninURL or ""
    request_headers = _RequestHeaders(trust, allowed)

    async def forward_auth(req: Request) -> Response:
        if client is None:
            return Response(500)
        method = req.method if preserve_method else "GET"
        body: bytes | None = None
        length = 0
        chunked = False
        length_in = req.content_length if req.content_length is not None else (-1 if req.body is not None else 0)
        if forward_body and not (req.method == "CONNECT" and length_in < 0):
            length, chunked = length_in, req.body is not None and req.content_length is None
            try:
                body = await _read_body(req, max_body)
            except _TooLarge:
                return Response(401)
            except Exception:  # the client went away mid-body
                return Response(500)
            if body and req.body is not None:
                req.body = BytesBody(body)
        headers, user_agent = request_headers.build(req)
        try:
            async with asyncio.timeout(_TIMEOUT):
                auth = await client.send(
                    method, headers, body, content_length=length, chunked=chunked, user_agent=user_agent
                )
                auth_body = await read_response_body(auth, max_response)
        except BodyTooLarge:
            return Response(401)
        except (UpstreamError, TimeoutError, OSError):
            return Response(500)
        auth_headers = auth.headers
        if header_field is not None:
            for name, value in auth_headers.raw:
                if canonical_header_name(name.decode("latin-1")) == header_field:
                    req.context["client_username"] = value.decode("utf-8", "surrogateescape")
                    break
        if signin and auth.status == 401:
            return redirect(req, signin, 302)
        if not 200 <= auth.status < 300:
            return _refusal(auth, auth_body, address, preserve_location)
        h = req.headers
        for name in response_headers:
            h.remove(name.lower())
            for n, v in auth_headers.raw:
                if n.lower() == name.lower():
                    h.add(name, v)
        if regex is not None:
            h.raw = [(n, v) for n, v in h.raw if not regex.search(canonical_header_name(n.decode("latin-1")).decode())]
            for n, v in auth_headers.raw:
                canonical = canonical_header_name(n.decode("latin-1"))
                if regex.search(canonical.decode()):
                    h.add(canonical, v)
        auth_cookies = [c for c in map(parse_set_cookie, _set_cookies(auth_headers)) if c is not None]
        resp = await next_(req)
        if auth_cookies:
            _merge_cookies(resp.headers, auth_cookies, cookie_names)
        return resp

    return forward_auth


class _RequestHeaders:
    """What goes to the auth server: forward.go's ``writeHeader`` (trustForwardHeader set)
    or ``oldWriteHeader`` (unset)."""

    def __init__(self, trust: bool | None, allowed: Sequence[bytes]) -> None:
        self.trust = trust
        self.allowed = frozenset(n.lower() for n in allowed)

    def build(self, req: Request) -> tuple[list[tuple[bytes, bytes]], bytes | None]:
        """The headers, and the User-Agent (None: Go's default; empty: none)."""
        drop = req.context.get("connection_drop") or ()
        trust = self.trust
        out: list[tuple[bytes, bytes]] = []
        user_agent: bytes | None = None
        for n, v in req.headers.raw:
            ln = n.lower()
            if ln in _HOP or ln in drop or (trust is False and is_managed(ln)):
                continue
            if self.allowed and ln not in self.allowed:
                continue
            if ln == b"user-agent":
                user_agent = v if user_agent is None else user_agent
                continue
            out.append((canonical_header_name(n.decode("latin-1")) if self.allowed else n, v))
        if user_agent is None and trust is not None and (not self.allowed or b"user-agent" in self.allowed):
            user_agent = b""  # no User-Agent came in: send none rather than Go's
        ip = req.client_ip.encode()
        uri = (req.target + ("?" if "force_query" in req.context and not req.query else "")).encode("latin-1")
        proto = b"https" if req.tls is not None else b"http"
        host = req.authority.encode("latin-1")
        if trust is None:
            _set(out, _XFF, ip)
            _set(out, _XFP, proto)
            _set(out, _XFM, req.method.encode())
            _set(out, _XFH, host)
            _set(out, _XFU, uri)
            return out, user_agent
        prior = [v for n, v in out if n.lower() == b"x-forwarded-for"]
        _set(out, _XFF, b", ".join([*prior, ip]))
        present = {n.lower() for n, _ in out}
        if b"x-forwarded-method" not in present:
            out.append((_XFM, req.method.encode()))
        if b"x-forwarded-proto" not in present:
            out.append((_XFP, proto))
        if b"x-forwarded-port" not in present:
            xfp = next((v for n, v in out if n.lower() == b"x-forwarded-proto"), b"")
            out.append((_XFPORT, forwarded_port(req.authority, b"https" if req.tls is not None else xfp)))
        if b"x-forwarded-host" not in present:
            out.append((_XFH, host))
        if b"x-forwarded-uri" not in present:
            out.append((_XFU, uri))
        return out, user_agent


def _set(headers: list[tuple[bytes, bytes]], name: bytes, value: bytes) -> None:
    lname = name.lower()
    headers[:] = [(n, v) for n, v in headers if n.lower() != lname]
    headers.append((name, value))


async def _read_body(req: Request, limit: int) -> bytes | None:
    """forward.go's ``readBodyBytes``: None for an empty body read with a limit."""
    parts: list[bytes] = []
    size = 0
    if req.body is not None:
        async for chunk in req.body:
            size += len(chunk)
            if 0 <= limit < size:
                raise _TooLarge
            parts.append(chunk)
    if limit >= 0 and size == 0:
        return None
    return b"".join(parts)


def _set_cookies(headers: Headers) -> list[str]:
    return [v.decode("latin-1") for v in headers.getlist(b"set-cookie")]


def _merge_cookies(headers: Headers, auth_cookies: list[Cookie], names: frozenset[str]) -> None:
    """The backend's cookies (rewritten by Go's rules) minus ``names``, plus the auth server's ``names``."""
    backend = [c for c in map(parse_set_cookie, _set_cookies(headers)) if c is not None]
    headers.remove(b"set-cookie")
    for c in backend:
        if c.name not in names:
            headers.add(b"Set-Cookie", str(c).encode("latin-1"))
    for c in auth_cookies:
        if c.name in names:
            headers.add(b"Set-Cookie", str(c).encode("latin-1"))


def _refusal(auth: Response, body: bytes, address: str, preserve_location: bool) -> Response:
    """The auth server's answer for the client, as forward.go copies it."""
    headers = Headers([(n, v) for n, v in auth.headers.raw if n.lower() not in _HOP])
    location = auth.headers.get(b"location")
    if location:
        try:
            value = _go_url(location.decode("latin-1"), None if preserve_location else address)
        except ValueError:
            return Response(500)
        if value:
            headers.set(b"Location", value.encode("latin-1"))
    return Response(auth.status, headers, body)


def _go_url(ref: str, base: str | None) -> str:
    """``url.Parse(ref)`` (resolved against ``base`` when given) then ``String()``.

    Raises ValueError where Go's parser fails (control characters, bad escapes).
    """
    if _CONTROL.search(ref) or _BAD_ESCAPE.search(ref.split("?", 1)[0].split("#", 1)[0]):
        raise ValueError(ref)
    url = urljoin(base, ref) if base else ref
    parts = urlsplit(url)
    path = parts.path
    if _VALID_ENCODED_PATH.fullmatch(path) is None:
        path = quote(unquote_to_bytes(path), safe="$&+,/:;=@-_.~")
    return parts._replace(path=path).geturl()


def redirect(req: Request, url: str, status: int) -> Response:
    """A redirect as Traefik 3.7 answers for ``authSigninURL``: ``Location`` only, no body.

    A relative ``url`` is made absolute against the request path, as Go's
    ``http.Redirect`` does.
    """
    try:
        parsed = urlsplit(url)
        relative = not parsed.scheme and not parsed.netloc
    except ValueError:
        relative = False
    if relative:
        if not url or url[0] != "/":
            olddir = posixpath.dirname(unquote_to_bytes(req.raw_path or "/").decode("utf-8", "replace"))
            url = (olddir.rstrip("/") + "/" if olddir else "") + url
        path, q, query = url.partition("?")
        cleaned = posixpath.normpath(path) if path else "."
        if cleaned.startswith("//"):
            cleaned = "/" + cleaned.lstrip("/")
        if path.endswith("/") and not cleaned.endswith("/"):
            cleaned += "/"
        url = cleaned + q + query
    return Response(status, Headers([(b"Location", _hex_escape_non_ascii(url))]))


def _hex_escape_non_ascii(s: str) -> bytes:
    return "".join(c if ord(c) < 0x80 else "".join(f"%{b:02x}" for b in c.encode()) for c in s).encode("latin-1")
