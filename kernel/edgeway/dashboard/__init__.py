"""The web dashboard: static files shipped in the package, served by
``dashboard@internal`` and, as in Traefik, by ``api@internal`` under
``{basePath}/dashboard/`` (Traefik's ``pkg/api/dashboard``).

The files (``static/``) are read once, when a handler is built, into a table
keyed by file name: a request can only ever name one of those files, so no
path can reach outside the folder. ``index.html`` gets the API's URL
(``{basePath}/api/``) written in, as Traefik's index template does. Every file
carries a strong ``ETag`` and ``Cache-Control: no-cache``: browsers revalidate
and get a ``304`` until edgeway is upgraded.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

from edgeway.http.message import Handler, Headers, Request, Response

__all__ = ["Assets", "api_routes", "dashboard_handler", "load_assets"]

INDEX = "index.html"
API_URL_PLACEHOLDER = "{{API_URL}}"
#: Only what the dashboard itself loads: no other origin, no inline code.
CSP = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    b"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
_TYPES = {
    ".html": b"text/html; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".svg": b"image/svg+xml",
    ".png": b"image/png",
    ".ico": b"image/x-icon",
    ".json": b"application/json",
    ".txt": b"text/plain; charset=utf-8",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: bytes
    etag: bytes


def _asset(name: str, body: bytes) -> Asset:
    suffix = name[name.rfind(".") :] if "." in name else ""
    content_type = _TYPES.get(suffix, b"application/octet-stream")
    etag = b'"' + hashlib.sha256(body).hexdigest()[:20].encode() + b'"'
    return Asset(body, content_type, etag)


Assets = dict[str, Asset]


def load_assets(base_path: str = "/") -> Assets:
    """The dashboard's files by name, ``index.html`` pointing at ``{base_path}/api/``."""
    folder = resources.files(__package__).joinpath("static")
    assets: Assets = {}
    for entry in folder.iterdir():
        if not entry.is_file() or entry.name.startswith("."):
            continue
        body = entry.read_bytes()
        if entry.name == INDEX:
            api_url = base_path.rstrip("/") + "/api/"
            text = body.decode().replace(API_URL_PLACEHOLDER, html.escape(api_url))
            body = text.encode()
        assets[entry.name] = _asset(entry.name, body)
    if INDEX not in assets:
        raise RuntimeError("edgeway's dashboard files are missing from the package")
    return assets


def _not_modified(req: Request, etag: bytes) -> bool:
    """``If-None-Match`` (RFC 9110 §13.1.2): weak comparison, ``*`` matches."""
    values = req.headers.getlist(b"if-none-match")
    for value in values:
        for tag in value.split(b","):
            tag = tag.strip()
            if tag == b"*" or tag.removeprefix(b"W/") == etag:
                return True
    return False


def _security_headers(h: Headers) -> Headers:
    h.set(b"Content-Security-Policy", CSP)
    h.set(b"X-Content-Type-Options", b"nosniff")
    h.set(b"X-Frame-Options", b"SAMEORIGIN")
    h.set(b"Referrer-Policy", b"no-referrer")
    return h


def serve(req: Request, asset: Asset) -> Response:
    """One file, or ``304 Not Modified`` when the client holds this version."""
    h = _security_headers(Headers())
    h.set(b"ETag", asset.etag)
    h.set(b"Cache-Control", b"no-cache")
    if _not_modified(req, asset.etag):
        return Response(304, h)
    h.set(b"Content-Type", asset.content_type)
    return Response(200, h, asset.body)


def not_found() -> Response:
    """Go's ``http.NotFound``."""
    return Response.text(404, "404 page not found", _security_headers(Headers()))


def redirect(location: str, status: int) -> Response:
    return Response(status, Headers([(b"Location", location.encode())]))


def _safe_prefix(value: bytes | None) -> str:
    """A path prefix usable in ``Location`` (Traefik rejects absolute URLs in
    ``X-Forwarded-Prefix``; edgeway also refuses ``//host`` and backslashes)."""
    if not value:
        return ""
    text = value.decode("latin-1")
    if not text.startswith("/") or text.startswith("//") or "\\" in text or ":" in text:
        return ""
    return text


def dashboard_handler(base_path: str = "/") -> Handler:
    """``dashboard@internal``: the files at ``/``, as Traefik's ``dashboard.Handler``.

    Its router (``dashboard@internal``, see :mod:`edgeway.internal`) strips
    ``/dashboard/`` first. A request for ``/dashboard`` itself (stripped to
    ``/`` with ``X-Forwarded-Prefix: /dashboard``) is redirected to
    ``/dashboard/`` so relative links resolve (Traefik serves the index there).
    """
    assets = load_assets(base_path)
    index = assets[INDEX]

    async def handler(req: Request) -> Response:
        if req.method not in ("GET", "HEAD"):
            return Response(405, _security_headers(Headers([(b"Allow", b"GET, HEAD")])))
        path = req.path
        if path in ("", "/"):
            prefixes = req.headers.getlist(b"x-forwarded-prefix")
            prefix = _safe_prefix(prefixes[-1] if prefixes else None)
            if prefix and not prefix.endswith("/"):
                return redirect(prefix + "/", 301)
            return serve(req, index)
        if path == "/" + INDEX:  # Go's FileServer: /index.html -> ./
            return redirect("./", 301)
        asset = assets.get(path[1:]) if path.startswith("/") else None
        return not_found() if asset is None else serve(req, asset)

    return handler


def api_routes(base_path: str) -> Callable[[Request], Response | None]:
    """The dashboard part of ``api@internal`` (Traefik's ``dashboard.Append``):
    ``{basePath}`` redirects (302) to ``{basePath}/dashboard/``, which serves the
    index, and the files below it; ``GET`` only (gorilla/mux's empty 405
    otherwise). Returns None for other paths (the API's). edgeway adds the
    301 from ``{basePath}/dashboard`` to ``{basePath}/dashboard/``."""
    assets = load_assets(base_path)
    index = assets[INDEX]
    dashboard_path = base_path.rstrip("/") + "/dashboard/"

    def route(req: Request) -> Response | None:
        path = req.raw_path
        if path == base_path:
            prefix = _safe_prefix(req.headers.get(b"x-forwarded-prefix")).rstrip("/")
            found = redirect(prefix + dashboard_path, 302)
        elif path == dashboard_path[:-1]:
            found = redirect(dashboard_path, 301)
        elif path == dashboard_path:
            found = serve(req, index)
        elif path.startswith(dashboard_path):
            asset = assets.get(path[len(dashboard_path) :])
            found = not_found() if asset is None else serve(req, asset)
        else:
            return None
        return found if req.method == "GET" else Response(405)

    return route
