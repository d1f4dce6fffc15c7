"""What serves an accepted connection: Traefik's ``Router.ServeTCP`` order.

(pkg/server/router/tcp/router.go.) Once the listener has peeked the first
bytes (:mod:`edgeway.connection.listener`):

1. plain bytes: a matching non-TLS TCP route, else HTTP/1.1 (plain routers);
2. a ClientHello offering ``acme-tls/1``: the TLS-ALPN challenge store only;
3. an HTTPS router with a specific domain for the SNI: HTTPS with its options;
4. a TCP TLS route with a specific ``HostSNI``: that route;
5. an HTTPS router without ``Host`` (``*``), then a TCP ``HostSNI(`*`)`` TLS route;
6. HTTPS with the default options (the answer is a 404 unless a router matches).

Before peeking, an entry point whose only routes are non-TLS TCP ones serves
a matching connection at once (protocols where the server speaks first).

HTTPS: the context (options of the chosen route, certificate by SNI) is chosen
before the handshake; uvloop's TLS does the handshake; ALPN ``h2`` goes to the
HTTP/2 server protocol, anything else to HTTP/1.1. TCP routes are served through :class:`Routing.tcp` (the TCP
routing table, a :class:`TCPRouting`), which this module only calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgeway.http.h2server import H2ServerProtocol
from edgeway.http.message import Handler
from edgeway.http.server import ServerProtocol
from edgeway.tcp.conn import TCPConnection, TCPHandler
from edgeway.tcp.routing import ConnInfo, TCPRouting, TLSRoute
from edgeway.tls.clienthello import ClientHello
from edgeway.tls.hosts import BROKEN, TLSHosts
from edgeway.tls.manager import Refusal, TLSManager
from edgeway.tls.options import DEFAULT_OPTIONS_NAME, ServerContext

if TYPE_CHECKING:
    from edgeway.entrypoint import EntryPoint

__all__ = ["Routing", "serve", "serve_unpeeked"]

log = logging.getLogger("edgeway.connection")

ACME_TLS_ALPN = "acme-tls/1"


@dataclass(frozen=True, slots=True)
class Routing:
    """An entry point's routing for one configuration, swapped in one assignment."""

    #: Plain HTTP routers (and the entry point's 404).
    http: Handler
    #: TLS HTTP routers (and the 404 for TLS connections).
    https: Handler
    #: SNI -> TLS options for HTTPS.
    tls_hosts: TLSHosts
    #: Stores, options and contexts (None: TLS connections are closed).
    tls: TLSManager | None = None
    #: TCP routes on this entry point, when there are any.
    tcp: TCPRouting | None = None


def serve(
    ep: EntryPoint, sock: socket.socket, peer: tuple[Any, ...], hello: ClientHello, local: tuple[Any, ...] | None = None
) -> None:
    """Hand a peeked connection to what serves it (``ServeTCP`` after the peek).

    ``peer`` and ``local`` are the addresses a PROXY protocol header gave (``local``
    None: the socket's own addresses).
    """
    routing = ep.routing
    tcp = routing.tcp
    sni = hello.server_name.strip().lower()
    info = ConnInfo(sni, hello.alpn, peer[0], hello.is_tls)
    given = peer if local is not None else None
    if not hello.is_tls:
        if tcp is not None:
            handler = tcp.match_plain(info)
            if handler is not None:
                serve_tcp(ep, sock, info, handler, peer=given, local=local)
                return
        _connect(ep, sock, lambda: ServerProtocol(ep, peer=given), None)
        return
    if ACME_TLS_ALPN in hello.alpn:
        _serve_acme(ep, sock, info)
        return
    options, catch_all = routing.tls_hosts.match(sni)
    if options is not None and not catch_all:
        _serve_https(ep, sock, info, options, given)
        return
    route = tcp.match_tls(info) if tcp is not None and tcp.has_tls_routes else None
    if route is not None and not route.catch_all:
        serve_tls_route(ep, sock, info, route, given, local)
    elif options is not None:
        _serve_https(ep, sock, info, options, given)
    elif route is not None:
        serve_tls_route(ep, sock, info, route, given, local)
    else:
        _serve_https(ep, sock, info, routing.tls_hosts.default, given)


def serve_unpeeked(
    ep: EntryPoint, sock: socket.socket, peer: tuple[Any, ...], local: tuple[Any, ...] | None
) -> bool:
    """Serve at once, without reading, a connection for a non-TLS TCP route when the
    entry point has no TLS route at all (the client may wait for the server)."""
    routing = ep.routing
    tcp = routing.tcp
    if tcp is None:
        return False
    handler = tcp.early_handler(peer[0], routing.tls_hosts.has_routes)
    if handler is None:
        return False
    info = ConnInfo("", (), peer[0], False)
    serve_tcp(ep, sock, info, handler, peer=peer if local is not None else None, local=local)
    return True


def _serve_https(
    ep: EntryPoint, sock: socket.socket, info: ConnInfo, options: str, peer: tuple[Any, ...] | None,
    *, acme: bool = False,
) -> None:
    ctx = _context(ep, sock, info, options, acme=acme)
    if ctx is None:
        return
    factory = _acme_done if acme else (lambda: _TLSHandover(ep, peer))
    _connect(ep, sock, factory, ctx)


def _serve_acme(ep: EntryPoint, sock: socket.socket, info: ConnInfo) -> None:
    """TLS-ALPN-01: the handshake with the challenge certificate for the SNI. On a
    miss, a shared ACME storage is read directly (the ClientHello was only
    peeked, so the handshake can wait for it) before the connection is refused."""
    manager = ep.routing.tls
    chosen = manager.select(DEFAULT_OPTIONS_NAME, info.sni, "", acme=True) if manager is not None else None
    if manager is None or not isinstance(chosen, Refusal) or manager.acme_fetch is None or not info.sni:
        _serve_https(ep, sock, info, DEFAULT_OPTIONS_NAME, None, acme=True)
        return
    fetch = manager.acme_fetch

    async def fetched() -> None:
        try:
            found = await fetch(info.sni)
        except Exception as exc:
            log.warning("TLS-ALPN challenge for %s: reading the ACME storage failed: %s", info.sni, exc)
            found = None
        ctx = manager.acme_context(*found) if found is not None else chosen
        if isinstance(ctx, Refusal):
            _refuse(sock, ctx)
            return
        await _connected(ep, sock, _acme_done, ctx)

    _spawn(ep, fetched())


def _context(
    ep: EntryPoint, sock: socket.socket, info: ConnInfo, options: str, *, acme: bool = False
) -> ServerContext | None:
    """The server context, or None after refusing the connection."""
    manager = ep.routing.tls
    if manager is None or options == BROKEN:
        _refuse(sock, Refusal(None, f"broken TLS options {options!r}"))
        return None
    local_ip = "" if info.sni else sock.getsockname()[0]
    chosen = manager.select(options, info.sni, local_ip, acme=acme)
    if isinstance(chosen, Refusal):
        _refuse(sock, chosen)
        return None
    if not _alpn_overlap(chosen, info.alpn):
        # Go refuses a ClientHello whose ALPN list shares nothing with the server's.
        _refuse(sock, Refusal(_ALERT_NO_APPLICATION_PROTOCOL, "no common application protocol"))
        return None
    return chosen


_ALERT_NO_APPLICATION_PROTOCOL = 120


def _alpn_overlap(ctx: ServerContext, offered: tuple[str, ...]) -> bool:
    """Go's ``negotiateALPN``: no overlap is an error, except that an ``http/1.1``
    client may reach an ``h2`` server as if it had sent no ALPN."""
    served = ctx.alpn
    if not offered or not served:
        return True
    return any(p in served for p in offered) or ("h2" in served and "http/1.1" in offered)


def _refuse(sock: socket.socket, refusal: Refusal) -> None:
    log.debug("TLS connection refused: %s", refusal.reason)
    if refusal.alert is not None:
        # A fatal alert in a TLS 1.2-versioned record, as Go writes before the handshake.
        with contextlib.suppress(OSError):
            sock.send(bytes((0x15, 3, 3, 0, 2, 2, refusal.alert)))
    sock.close()


class _TLSHandover(asyncio.Protocol):
    """The first protocol of a TLS connection: after the handshake, hands the
    transport to HTTP/2 (ALPN ``h2``) or HTTP/1.1."""

    def __init__(self, ep: EntryPoint, peer: tuple[Any, ...] | None) -> None:
        self.ep = ep
        self.peer = peer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        proto: asyncio.Protocol
        sslobj = transport.get_extra_info("ssl_object")
        if sslobj is not None and sslobj.selected_alpn_protocol() == "h2":
            proto = H2ServerProtocol(self.ep, peer=self.peer)
        else:
            proto = ServerProtocol(self.ep, peer=self.peer)
        transport.set_protocol(proto)
        proto.connection_made(transport)


class _AcmeDone(asyncio.Protocol):
    """TLS-ALPN-01: the handshake is the answer; close right after it."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


_acme_done = _AcmeDone


def serve_tcp(
    ep: EntryPoint, sock: socket.socket, info: ConnInfo, handler: TCPHandler, ctx: ssl.SSLContext | None = None,
    *, peer: tuple[Any, ...] | None = None, local: tuple[Any, ...] | None = None,
) -> None:
    """Run a TCP route's handler on the connection (TLS-terminated when ``ctx``)."""

    conn = TCPConnection(peer=peer, local=local, sni=info.sni or None, alpn=info.alpn)  # type: ignore[arg-type]

    async def run() -> None:
        try:
            # Not the protocol connect_accepted_socket returns: with TLS, uvloop's is its SSLProtocol.
            await _connected(ep, sock, lambda: conn, ctx)
            await handler(conn)
        finally:
            conn.close()

    _spawn(ep, run())


def serve_tls_route(
    ep: EntryPoint, sock: socket.socket, info: ConnInfo, route: TLSRoute,
    peer: tuple[Any, ...] | None, local: tuple[Any, ...] | None,
) -> None:
    """A TCP TLS route: passthrough (the ClientHello untouched), or terminated here."""
    if route.passthrough:
        serve_tcp(ep, sock, info, route.handler, peer=peer, local=local)
        return
    ctx = _context(ep, sock, info, route.options or DEFAULT_OPTIONS_NAME)
    if ctx is not None:
        serve_tcp(ep, sock, info, route.handler, ctx, peer=peer, local=local)


def _connect(ep: EntryPoint, sock: socket.socket, factory: Any, ctx: ssl.SSLContext | None) -> None:
    async def run() -> None:
        await _connected(ep, sock, factory, ctx)

    _spawn(ep, run())


async def _connected(ep: EntryPoint, sock: socket.socket, factory: Any, ctx: ssl.SSLContext | None) -> Any:
    if ctx is None:
        return await ep.loop.connect_accepted_socket(factory, sock)
    return await ep.loop.connect_accepted_socket(
        factory, sock, ssl=ctx, ssl_handshake_timeout=ep.read_timeout if ep.read_timeout > 0 else None
    )


def _spawn(ep: EntryPoint, coro: Any) -> None:
    task = ep.loop.create_task(coro)
    ep.starting.add(task)
    task.add_done_callback(_finished(ep))


def _finished(ep: EntryPoint) -> Any:
    def done(task: asyncio.Task[None]) -> None:
        ep.starting.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            if isinstance(exc, ssl.SSLError | ConnectionError | TimeoutError | OSError):
                log.debug("connection on %s failed before it was served: %s", ep.name, exc)
            else:
                log.error("connection on %s failed", ep.name, exc_info=exc)

    return done
