"""The ``errors`` middleware: error pages from another service (Traefik ``pkg/middlewares/customerrors``).

A response whose status is in ``status`` is discarded (its stream closed) and
replaced by the answer of ``service`` to ``GET http://<host><query>``, sent with
the original status or its ``statusRewrites`` replacement. ``query`` may use
``{status}`` (the sent status), ``{originalStatus}`` and ``{url}`` (the original
URL, query-escaped). The page request carries the original request's headers,
or only those in ``errorRequestHeaders``.
"""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus

from edgeway.config.dynamic import ErrorPage
from edgeway.http.message import Handler, Headers, Request, Response, canonical_header_name
from edgeway.http.status import status_text
from edgeway.registry import BuildContext

__all__ = ["build_errors", "parse_code_ranges"]

_ATOI = re.compile(r"[+-]?[0-9]+")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Bytes Go keeps as they are when it re-escapes a path (url.shouldEscape, encodePath), plus '%'.
_PATH_SAFE = "/%!$&'()*+,;=:@~-._"


def parse_code_ranges(blocks: list[str]) -> list[tuple[int, int]]:
    """``types.NewHTTPCodeRanges``: ``"404"`` or ``"500-599"`` per item (Go ``strconv.Atoi``)."""
    ranges = []
    for block in blocks:
        codes = block.split("-")
        if len(codes) == 1:
            codes.append(codes[0])
        for c in codes[:2]:
            if not _ATOI.fullmatch(c):
                raise ValueError(f'strconv.Atoi: parsing "{c}": invalid syntax')
        ranges.append((int(codes[0]), int(codes[1])))
    return ranges


def build_errors(options: ErrorPage, next_: Handler, ctx: BuildContext) -> Handler:
    ranges = parse_code_ranges(list(options.status or []))
    rewrites = [(parse_code_ranges([k]), v) for k, v in (options.statusRewrites or {}).items()]
    service = options.service or ""
    if "@" not in service and "@" in ctx.name:
        service = f"{service}@{ctx.name.split('@', 1)[1]}"
    if ctx.service_handler is None:
        raise ValueError("errors: services are not available here")
    backend = ctx.service_handler(service)
    query_template = "/" + options.query.removeprefix("/") if options.query else ""
    wanted = None
    if options.errorRequestHeaders is not None:
        wanted = [
            (h.lower().encode("latin-1"), canonical_header_name(h))
            for h in options.errorRequestHeaders
        ]

    def caught(status: int) -> bool:
        return any(lo <= status <= hi for lo, hi in ranges)

    async def errors(req: Request) -> Response:
        resp = await next_(req)
        if not caught(resp.status):
            return resp
        await _discard(resp)
        original = code = resp.status
        for codes, to in rewrites:
            if any(lo <= code <= hi for lo, hi in codes):
                code = to
                break
        query = query_template
        if query:
            query = query.replace("{status}", str(code)).replace("{originalStatus}", str(original))
            query = query.replace("{url}", quote_plus(_original_url(req), safe=""))
        page = _page_request(req, query, wanted)
        if page is None:
            return Response.text(code, status_text(code))
        page_resp = await backend(page)
        return _with_status(page_resp, code)

    return errors


async def _discard(resp: Response) -> None:
    stream, resp.stream = resp.stream, None
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


def _original_url(req: Request) -> str:
    """The request's URL as Go's ``url.URL.String()`` writes it in customErrors."""
    scheme = "https" if req.tls is not None else "http"
    path = req.raw_path
    if path and not path.startswith("/"):
        path = "/" + path
    url = f"{scheme}://{req.authority}{path}"
    return f"{url}?{req.query}" if req.query else url


def _page_request(
    req: Request, query: str, wanted: list[tuple[bytes, bytes]] | None
) -> Request | None:
    """``newRequest("http://" + req.Host + query)``; None where Go's ``url.Parse`` fails."""
    if _CONTROL.search(req.authority + query):
        return None
    rest, _, fragment = query.partition("#")
    path, _, raw_query = rest.partition("?")
    if _BAD_ESCAPE.search(path) or _BAD_ESCAPE.search(fragment):
        return None
    path = quote(path, safe=_PATH_SAFE) or "/"
    if wanted is None:
        headers = req.headers.copy()
    else:
        headers = Headers()
        for lname, name in wanted:
            for value in req.headers.getlist(lname):
                headers.add(name, value)
    headers.remove(b"content-length")  # Go writes the page request's own framing
    headers.remove(b"transfer-encoding")
    page = Request(
        "GET",
        path,
        raw_query,
        headers,
        authority=req.authority,
        scheme="http",
        http_version="1.1",
        client_ip=req.client_ip,
        client_port=req.client_port,
        entrypoint=req.entrypoint,
    )
    page.context["omit_xff"] = True  # Go's page request has no RemoteAddr: nothing is appended
    return page


def _with_status(resp: Response, code: int) -> Response:
    """customErrors ``codeModifier``: the page's headers and body, the enforced status."""
    resp.status = code
    return resp
