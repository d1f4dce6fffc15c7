"""Forwarding one request to one server, as Go's ``httputil.ReverseProxy`` does in Traefik.

:func:`server_handler` is built once per server when a configuration is applied;
the closure it returns only assembles the request head and waits on the pool.
"""

from __future__ import annotations

from collections.abc import Awaitable

from edgeway.http.message import Handler, Request, Response
from edgeway.http.upstream import HOP_BY_HOP, ServerPool

_SKIP = HOP_BY_HOP | {b"host", b"x-forwarded-for"}
_SKIP_CHUNKED = _SKIP | {b"content-length"}
_REPLAYABLE = frozenset(("GET", "HEAD", "OPTIONS", "TRACE"))
_BODY_METHODS = frozenset(("POST", "PUT", "PATCH"))
_SKIP_FIRST = frozenset({n[0] for n in _SKIP_CHUNKED})
#: Header names, as spelled on the wire, never skipped whatever the request (when
#: it lists no names in Connection): one set look-up instead of the tests of the
#: loop below for the names a proxy sees again and again. Bounded; a name not in it
#: only takes the longer way.
_PLAIN_NAMES: set[bytes] = set()
_NO_NAMES: frozenset[bytes] = frozenset()


def server_handler(
    pool: ServerPool,
    url_host: str,
    *,
    pass_host_header: bool = True,
    path_prefix: str = "",
) -> Handler:
    """A handler forwarding requests to the server behind ``pool``.

    ``url_host`` is the server URL's ``host[:port]``, sent as ``Host`` when
    ``passHostHeader`` is false (or the client sent none). ``path_prefix`` is the
    URL's path when ``preservePath`` is set.
    """
    url_host_b = url_host.encode("latin-1")
    exchange = pool.exchange

    def forward(req: Request) -> Awaitable[Response]:
        # A plain function returning the exchange (which answers failures itself):
        # no coroutine frame of its own on the request path.
        body = req.body
        chunked = body is not None and req.content_length is None
        skip = _SKIP_CHUNKED if chunked else _SKIP
        drop = req.context.get("connection_drop")
        if drop:  # rare: names the client listed in Connection (forwardedHeaders.connection)
            skip = skip | drop
            first = _SKIP_FIRST | {n[0] for n in drop}
            plain: frozenset[bytes] | set[bytes] = _NO_NAMES
        else:
            first = _SKIP_FIRST
            plain = _PLAIN_NAMES
        if path_prefix or req.query or "force_query" in req.context:
            target = upstream_target(req, path_prefix)
        else:  # the usual case, without the call: the path as it is
            target = req.raw_path or "/"
        host = req.authority.encode("latin-1") if pass_host_header and req.authority else url_host_b
        parts = [f"{req.method} {target} HTTP/1.1\r\nHost: ".encode("latin-1"), host, b"\r\n"]
        xff: bytes | None = None
        te_trailers = False
        for n, v in req.headers.raw:
            if n not in plain:
                c = n[0] | 0x20
                # Only these initials can start a name to skip; of the x- names, only
                # X-Forwarded-For (15 letters), not the other X-Forwarded-* we forward.
                if c in first and (c != 0x78 or len(n) == 15 or drop):
                    ln = n.lower()
                    if ln in skip:
                        if ln == b"x-forwarded-for":
                            xff = v if xff is None else xff + b", " + v
                        elif ln == b"te" and b"trailers" in v.lower():
                            te_trailers = True
                        continue
                if not drop and len(_PLAIN_NAMES) < 1024 and n.lower() not in _SKIP_CHUNKED:
                    _PLAIN_NAMES.add(n)
            parts += (n, b": ", v, b"\r\n")
        if "omit_xff" not in req.context:
            ip = req.client_ip.encode()
            parts += (b"X-Forwarded-For: ", xff + b", " + ip if xff else ip, b"\r\n")
        if req.upgrade is not None:
            parts.append(b"Connection: Upgrade\r\nUpgrade: %s\r\n" % req.upgrade)
        if te_trailers:
            parts.append(b"Te: trailers\r\n")
        if chunked:
            parts.append(b"Transfer-Encoding: chunked\r\n")
        elif body is None and req.content_length is None and req.method in _BODY_METHODS:
            parts.append(b"Content-Length: 0\r\n")  # as Go's transport writes it
        parts.append(b"\r\n")
        return exchange(
            b"".join(parts),
            body,
            chunked=chunked,
            expect_continue=body is not None and b"100-continue" in (req.headers.get(b"expect") or b"").lower(),
            is_head=req.method == "HEAD",
            replayable=body is None and req.method in _REPLAYABLE,
            failed=req.context,
        )

    return forward


def upstream_target(req: Request, path_prefix: str = "") -> str:
    """The request-target sent upstream, as Traefik's reverse proxy rewrites it:
    ``preservePath`` prefix, ``;`` in the query turned into ``&``, an empty ``?`` kept."""
    target = req.raw_path or "/"
    if path_prefix:
        target = _join_path(path_prefix, target)
    query = req.query
    if query:
        return f"{target}?{query.replace(';', '&') if ';' in query else query}"
    if "force_query" in req.context:
        return target + "?"
    return target


def _join_path(prefix: str, path: str) -> str:
    """Go's ``JoinURLPath`` for ``preservePath``: one slash between the two."""
    if prefix.endswith("/") and path.startswith("/"):
        return prefix + path[1:]
    if not prefix.endswith("/") and not path.startswith("/"):
        return prefix + "/" + path
    return prefix + path
