"""The ``headers`` middleware: custom headers, CORS and security headers.

Follows Traefik's ``pkg/middlewares/headers``: the CORS/custom part (header.go)
wraps the security part (secure.go, built on ``unrolled/secure`` v1.0.9), which
wraps the next handler. So a preflight is answered before any host check, and
custom response headers are applied after (and may override or delete) the
security headers. The deprecated ``sslRedirect``, ``sslTemporaryRedirect``,
``sslHost``, ``sslForceHost`` and ``featurePolicy`` are accepted and, as in
Traefik v3 (which no longer passes them to ``secure``), have no effect.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable

from edgeway.config.dynamic import Headers as HeadersOptions
from edgeway.http.message import (
    Handler,
    Headers,
    Request,
    Response,
    canonical_header_name,
    normalize_host,
)

__all__ = ["build_headers"]

_NONCE = "%[1]s"


def build_headers(options: HeadersOptions, next_: Handler) -> Handler:
    """The handler for one ``headers`` middleware (headers.go ``New``)."""
    o = options
    custom = bool(o.customRequestHeaders or o.customResponseHeaders)
    cors = bool(
        o.accessControlAllowCredentials
        or o.accessControlAllowHeaders
        or o.accessControlAllowMethods
        or o.accessControlAllowOriginList
        or o.accessControlAllowOriginListRegex
        or o.accessControlExposeHeaders
        or o.accessControlMaxAge is not None
        or o.addVaryHeader
    )
    secure = _has_secure(o)
    if not (custom or cors or secure):
        raise ValueError("headers configuration not valid")
    handler = _build_secure(o, next_) if secure else next_
    if custom or cors:
        handler = _build_header(o, handler, cors)
    return handler


def _has_secure(o: HeadersOptions) -> bool:
    """``Headers.HasSecureHeadersDefined`` (deprecated options count, though they do nothing)."""
    return bool(
        o.allowedHosts
        or o.hostsProxyHeaders
        or o.sslRedirect
        or o.sslTemporaryRedirect
        or o.sslForceHost
        or o.sslHost
        or o.sslProxyHeaders
        or o.stsSeconds is not None
        or o.stsIncludeSubdomains
        or o.stsPreload
        or o.forceSTSHeader
        or o.frameDeny
        or o.customFrameOptionsValue
        or o.contentTypeNosniff
        or o.browserXssFilter
        or o.customBrowserXSSValue
        or o.contentSecurityPolicy
        or o.contentSecurityPolicyReportOnly
        or o.publicKey
        or o.referrerPolicy
        or o.featurePolicy
        or o.permissionsPolicy
        or o.isDevelopment
    )


# --------------------------------------------------------------------------- CORS and custom


def _build_header(o: HeadersOptions, next_: Handler, cors: bool) -> Handler:
    """header.go: custom request/response headers, CORS headers and preflight answers."""
    regexes: list[re.Pattern[str]] = []
    for expr in o.accessControlAllowOriginListRegex or []:
        try:
            regexes.append(re.compile(expr))
        except re.error as exc:
            raise ValueError(f"error occurred during origin parsing: {exc}") from None
    req_ops: list[tuple[bytes, bytes]] = []
    omit_xff = False
    host: str | None = None
    for name, value in (o.customRequestHeaders or {}).items():
        if value == "" and name == "X-Forwarded-For":  # Go compares the map key exactly
            omit_xff = True
        elif value and name.lower() == "host":
            host = value
        else:
            req_ops.append((canonical_header_name(name), value.encode("latin-1")))
    resp_ops = [
        (canonical_header_name(n), v.encode("latin-1"))
        for n, v in (o.customResponseHeaders or {}).items()
    ]
    credentials = bool(o.accessControlAllowCredentials)
    origins = list(o.accessControlAllowOriginList or [])
    allow_headers = list(o.accessControlAllowHeaders or [])
    allow_methods = list(o.accessControlAllowMethods or [])
    expose = list(o.accessControlExposeHeaders or [])
    expose_value = (
        ",".join(expose).encode("latin-1")
        if expose and not ("*" in expose and credentials)
        else None
    )
    allow_headers_value = ",".join(allow_headers).encode("latin-1")
    echo_request_headers = "*" in allow_headers and credentials
    allow_methods_value = ",".join(allow_methods).encode("latin-1")
    echo_request_method = "*" in allow_methods and credentials
    max_age = b"%d" % o.accessControlMaxAge if o.accessControlMaxAge is not None else None
    add_vary = bool(o.addVaryHeader)
    match_origin = _origin_matcher(origins, regexes, credentials)
    cors_response = bool(origins or regexes or credentials or expose_value is not None or add_vary)

    def preflight(req: Request, method: bytes, origin: str) -> Response:
        h = Headers()
        if credentials:
            h.set(b"Access-Control-Allow-Credentials", b"true")
        if echo_request_headers:
            acrh = req.headers.get(b"access-control-request-headers")
            if acrh:
                h.set(b"Access-Control-Allow-Headers", acrh)
        elif allow_headers_value:
            h.set(b"Access-Control-Allow-Headers", allow_headers_value)
        if echo_request_method:
            h.set(b"Access-Control-Allow-Methods", method)
        elif allow_methods_value:
            h.set(b"Access-Control-Allow-Methods", allow_methods_value)
        match = match_origin(origin)
        if match is not None:
            h.set(b"Access-Control-Allow-Origin", match.encode("latin-1"))
        if max_age is not None:
            h.set(b"Access-Control-Max-Age", max_age)
        if expose_value is not None:
            h.set(b"Access-Control-Expose-Headers", expose_value)
        return Response(200, h)

    async def headers(req: Request) -> Response:
        h = req.headers
        if cors and req.method == "OPTIONS":
            method = h.get(b"access-control-request-method")
            origin = h.get(b"origin")
            if method and origin:
                return preflight(req, method, origin.decode("latin-1"))
        for name, value in req_ops:  # _apply, inlined: one call less per request
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
        if not cors_response:  # custom headers only: the common, cheap case
            resp = await next_(req)
            if resp_ops:
                rh = resp.headers
                for name, value in resp_ops:  # _apply, inlined as above
                    if value:
                        rh.set(name, value)
                    else:
                        rh.remove(name)
            return resp
        origin_b = h.get(b"origin") or b""
        resp = await next_(req)
        rh = resp.headers
        _apply(rh, resp_ops)
        match = match_origin(origin_b.decode("latin-1"))
        if match is not None:
            rh.set(b"Access-Control-Allow-Origin", match.encode("latin-1"))
        if credentials:
            rh.set(b"Access-Control-Allow-Credentials", b"true")
        if expose_value is not None:
            rh.set(b"Access-Control-Expose-Headers", expose_value)
        if add_vary:
            vary = rh.get(b"vary") or b""
            if vary != b"Origin":
                rh.set(b"Vary", vary + b",Origin" if vary else b"Origin")
        return resp

    return headers


def _apply(headers: Headers, ops: list[tuple[bytes, bytes]]) -> None:
    """Set each header; an empty value removes it (Traefik's custom headers)."""
    for name, value in ops:
        if value:
            headers.set(name, value)
        else:
            headers.remove(name)


def _origin_matcher(
    origins: list[str], regexes: list[re.Pattern[str]], credentials: bool
) -> Callable[[str], str | None]:
    """header.go ``matchOrigin``: the value for ``Access-Control-Allow-Origin``, or None."""

    def match(origin: str) -> str | None:
        for item in origins:
            if item == origin:
                return item
            if item == "*":
                return origin if credentials else item  # no wildcard with credentials
        for regex in regexes:
            if regex.search(origin):
                return origin
        return None

    return match


# --------------------------------------------------------------------------- security headers


def _build_secure(o: HeadersOptions, next_: Handler) -> Handler:
    """secure.go over unrolled/secure v1.0.9 ``processRequest``/``ModifyResponseHeaders``."""
    development = bool(o.isDevelopment)
    allowed = [h.lower() for h in (o.allowedHosts or [])] if not development else []
    proxy_headers = [h.lower().encode("latin-1") for h in (o.hostsProxyHeaders or [])]
    ssl_headers = [
        (k.lower().encode("latin-1"), v.encode("latin-1"))
        for k, v in (o.sslProxyHeaders or {}).items()
    ]
    sts: bytes | None = None
    if o.stsSeconds and not development:
        value = f"max-age={o.stsSeconds}"
        if o.stsIncludeSubdomains:
            value += "; includeSubDomains"
        if o.stsPreload:
            value += "; preload"
        sts = value.encode("latin-1")
    force_sts = bool(o.forceSTSHeader)
    hpkp = o.publicKey.encode("latin-1") if o.publicKey and not development else None
    csp = (o.contentSecurityPolicy or "").replace("$NONCE", "'nonce-%[1]s'")
    csp_ro = (o.contentSecurityPolicyReportOnly or "").replace("$NONCE", "'nonce-%[1]s'")
    nonce_enabled = _NONCE in csp or _NONCE in csp_ro
    fixed: list[tuple[bytes, bytes]] = []
    if o.customFrameOptionsValue:
        fixed.append((b"X-Frame-Options", o.customFrameOptionsValue.encode("latin-1")))
    elif o.frameDeny:
        fixed.append((b"X-Frame-Options", b"DENY"))
    if o.contentTypeNosniff:
        fixed.append((b"X-Content-Type-Options", b"nosniff"))
    if o.customBrowserXSSValue:
        fixed.append((b"X-Xss-Protection", o.customBrowserXSSValue.encode("latin-1")))
    elif o.browserXssFilter:
        fixed.append((b"X-Xss-Protection", b"1; mode=block"))
    policies: list[tuple[bytes, str]] = []
    if csp:
        policies.append((b"Content-Security-Policy", csp))
    if csp_ro:
        policies.append((b"Content-Security-Policy-Report-Only", csp_ro))
    if not nonce_enabled:
        fixed += [(n, v.encode("latin-1")) for n, v in policies]
        policies = []
    trailing: list[tuple[bytes, bytes]] = []
    if o.referrerPolicy:
        trailing.append((b"Referrer-Policy", o.referrerPolicy.encode("latin-1")))
    if o.permissionsPolicy:
        trailing.append((b"Permissions-Policy", o.permissionsPolicy.encode("latin-1")))

    async def secure(req: Request) -> Response:
        h = req.headers
        if allowed:
            host = req.authority
            for name in proxy_headers:
                v = h.get(name)
                if v:
                    host = v.decode("latin-1")
                    break
            if host.lower() not in allowed:
                return Response.text(500, "Bad Host")
        ssl = req.tls is not None or any(h.get(k) == v for k, v in ssl_headers)
        add: list[tuple[bytes, bytes]] = []
        if sts is not None and (ssl or force_sts):
            add.append((b"Strict-Transport-Security", sts))
        add += fixed
        if hpkp is not None and ssl:
            add.append((b"Public-Key-Pins", hpkp))
        if policies:
            nonce = base64.b64encode(os.urandom(16)).rstrip(b"=").decode()
            add += [(n, _go_format(p, nonce).encode("latin-1")) for n, p in policies]
        add += trailing
        resp = await next_(req)
        rh = resp.headers
        for name, value in add:
            rh.set(name, value)
        return resp

    return secure


def _go_format(template: str, nonce: str) -> str:
    """``fmt.Sprintf(template, nonce)`` for the templates ``secure`` builds (``%[1]s``, ``%%``).

    Once a nonce is enabled, ``secure`` formats both policies with it: one that
    does not use it gets Go's ``%!(EXTRA string=<nonce>)`` appended, as in Traefik.
    """
    out = "%".join(part.replace(_NONCE, nonce) for part in template.split("%%"))
    if _NONCE not in template:
        out += f"%!(EXTRA string={nonce})"
    return out
