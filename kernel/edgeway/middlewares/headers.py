"""The ``headers`` middleware: custom request and response headers.

Follows Traefik's ``pkg/middlewares/headers``: an empty value removes the header;
``Host`` sets the request's host; an empty ``X-Forwarded-For`` stops the proxy
from adding one. CORS and the security headers come with the full middleware
set; until then a configuration that uses them is rejected with a clear error.
"""

from __future__ import annotations

from edgeway.config.dynamic import Headers as HeadersOptions
from edgeway.http.message import Handler, Request, Response, canonical_header_name, normalize_host

_CUSTOM = ("customRequestHeaders", "customResponseHeaders")


def build_headers(options: HeadersOptions, next_: Handler) -> Handler:
    unsupported = sorted(
        k for k in type(options).model_fields if k not in _CUSTOM and getattr(options, k) not in (None, False, [], {})
    )
    if unsupported:
        raise ValueError(
            f"headers: {', '.join(unsupported)} not supported by this version of edgeway yet "
            "(only customRequestHeaders and customResponseHeaders are)"
        )
    req_ops: list[tuple[bytes, bytes]] = []
    omit_xff = False
    host: str | None = None
    for name, value in (options.customRequestHeaders or {}).items():
        if name.lower() == "x-forwarded-for" and value == "":
            omit_xff = True
        elif name.lower() == "host" and value:
            host = value
        else:
            req_ops.append((canonical_header_name(name), value.encode("latin-1")))
    resp_ops = [(canonical_header_name(n), v.encode("latin-1")) for n, v in (options.customResponseHeaders or {}).items()]
    if not req_ops and not resp_ops and not omit_xff and host is None:
        return next_

    async def headers(req: Request) -> Response:
        h = req.headers
        for name, value in req_ops:
            if value:
                h.set(name, value)
            else:
                h.remove(name)
        if omit_xff:
            h.remove(b"x-forwarded-for")
            req.context["omit_xff"] = True
        if host is not None:
            req.authority = host
            req.host = normalize_host(host)
        resp = await next_(req)
        if resp_ops:
            rh = resp.headers
            for name, value in resp_ops:
                if value:
                    rh.set(name, value)
                else:
                    rh.remove(name)
        return resp

    return headers
