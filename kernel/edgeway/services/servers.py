"""One server URL of a load balancer -> the handler that forwards to it.

``http``/``https`` servers go through edgeway's own HTTP/1.1 keep-alive pools
(the fast path); the scheme, the transport settings and the URL decide the
pool. Kept apart from the balancers so each side can grow on its own.
"""

from __future__ import annotations

from urllib.parse import urlsplit

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
        raise BuildError(f"error parsing server URL {url}: expected http://host[:port] or https://...")
    if scheme == "h2c":
        raise BuildError(f"h2c servers are not supported by this version of edgeway yet ({url})")
    tls = scheme == "https"
    key = PoolKey(
        scheme,
        parts.hostname,
        port or (443 if tls else 80),
        transport.server_name if tls else "",
        transport.tls_key if tls else None,
        transport.max_idle,
        transport.dial_timeout,
        transport.idle_timeout,
        transport.response_header_timeout,
    )
    pool = ctx.pools.get(key, ctx.transports.ssl_context(transport) if tls else None)
    return server_handler(
        pool,
        parts.netloc.rpartition("@")[2],
        pass_host_header=pass_host_header,
        path_prefix=parts.path if preserve_path else "",
    )
