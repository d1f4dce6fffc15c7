"""One server URL of a load balancer -> the handler that forwards to it.

As Traefik's proxy builder and smart round tripper decide
(pkg/proxy/smart_builder.go, pkg/server/service/smart_roundtripper.go):

- ``http://``: HTTP/1.1 through edgeway's own keep-alive pools (the fast path);
- ``https://`` with ``disableHTTP2``: the same, over TLS without ALPN;
- ``https://``: each new connection offers ``h2`` and ``http/1.1`` by ALPN; the
  server's choice decides (HTTP/2 client, or the HTTP/1.1 pool takes the connection);
- ``h2c://``: HTTP/2 cleartext with prior knowledge;
- Upgrade requests (WebSocket...) always go over HTTP/1.1, as in Traefik.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from edgeway.http.h2upstream import h2_pool, h2_server_handler
from edgeway.http.message import Handler
from edgeway.http.proxy import server_handler
from edgeway.services import BuildError, ServiceContext
from edgeway.services.pools import PoolKey
from edgeway.services.transports import TransportSettings


def server_handler_for(
    url: str,
    transport: TransportSettings,
    ctx: ServiceContext,
    *,
    pass_host_header: bool = True,
    preserve_path: bool = False,
) -> Handler:
    """The handler forwarding to ``url``; raises BuildError for a URL it cannot serve."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BuildError(f"error parsing server URL {url}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https", "h2c") or not parts.hostname:
        raise BuildError(
            f"error parsing server URL {url}: expected http://host[:port], https://... or h2c://..."
        )
    tls = scheme == "https"
    host = parts.hostname
    port = port or (443 if tls else 80)
    url_host = parts.netloc.rpartition("@")[2]
    path_prefix = parts.path if preserve_path else ""

    def key(kind: str, *, http2: bool = False) -> PoolKey:
        return PoolKey(
            kind,
            host,
            port,
            transport.server_name if tls else "",
            transport.tls_key if tls else None,
            transport.max_idle,
            transport.dial_timeout,
            transport.idle_timeout,
            transport.response_header_timeout,
            transport.read_idle_timeout if http2 else 0.0,
            transport.ping_timeout if http2 else 0.0,
        )

    ssl_h1 = ctx.transports.ssl_context(transport) if tls else None
    h1_pool = ctx.pools.get(key("https" if tls else "http"), ssl_h1)
    http1 = server_handler(
        h1_pool, url_host, pass_host_header=pass_host_header, path_prefix=path_prefix
    )
    if scheme == "http" or transport.disable_http2:
        if scheme == "h2c":
            raise BuildError(f"h2c server {url} with a serversTransport that disables HTTP/2")
        return http1
    ssl_h2 = ctx.transports.ssl_context(transport, http2=True) if tls else None
    h2 = ctx.pools.get(key("https+h2" if tls else "h2c", http2=True), ssl_h2, h2_pool)
    h2.h1 = h1_pool if tls else None  # TLS servers that decline h2 (same settings, same life)
    return h2_server_handler(
        h2,
        url_host,
        tls=tls,
        http1=http1,
        pass_host_header=pass_host_header,
        path_prefix=path_prefix,
    )
