"""An entry point's listening sockets: accept, peek the first bytes, dispatch.

Traefik decides per connection whether it is HTTP, HTTPS (and with which TLS
configuration) or TCP from its first bytes, before any handshake. So the entry
point accepts itself (a non-blocking listening socket watched by the event
loop) and, per connection, peeks (``MSG_PEEK``: nothing is consumed) until
the first byte says "not TLS" or a whole ClientHello is there, then hands the
socket to :func:`edgeway.connection.dispatch.serve`, which connects it to its
protocol with ``loop.connect_accepted_socket`` (with the chosen TLS context
when it is TLS). From then on the connection is an ordinary asyncio/uvloop
transport: keep-alive requests cost nothing more than before; the peek is a
one-off cost per connection.

Peeking does not consume, so the socket stays readable while a ClientHello is
incomplete: the watch is then paused and resumed after a short, growing delay
instead of spinning. Until the first bytes arrive the entry point's
``readTimeout`` applies (Traefik sets it as a deadline before peeking).
"""

from __future__ import annotations

import logging
import socket
from typing import TYPE_CHECKING, Any

from edgeway import proxyprotocol
from edgeway.tls.clienthello import MAX_HELLO, InvalidClientHello, parse_client_hello

from .dispatch import serve, serve_unpeeked

if TYPE_CHECKING:
    import asyncio

    from edgeway.entrypoint import EntryPoint

__all__ = ["Listener", "bind"]

log = logging.getLogger("edgeway.connection")

_FIRST_PEEK = 4096
_FULL_PEEK = MAX_HELLO + 4096  # a ClientHello of Go's maximum size, in several records
_ACCEPT_BATCH = 64


async def bind(
    loop: asyncio.AbstractEventLoop, host: str | None, port: int, *, reuse_port: bool = False, backlog: int = 1024
) -> list[socket.socket]:
    """Listening sockets as ``loop.create_server`` makes them (every address of
    ``host``, all interfaces when None; IPv6 sockets IPv6-only)."""
    infos = await loop.getaddrinfo(host, port, family=socket.AF_UNSPEC, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
            sock.setblocking(False)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class Listener:
    """Accepts on ``sockets`` for ``ep`` until :meth:`close`."""

    def __init__(self, ep: EntryPoint, sockets: list[socket.socket]) -> None:
        self.ep = ep
        self.loop = ep.loop
        self.sockets = sockets
        self.pending: set[_Peeking] = set()
        self.closed = False
        for sock in sockets:
            self.loop.add_reader(sock.fileno(), self._accept, sock)

    def _accept(self, lsock: socket.socket) -> None:
        ep = self.ep
        for _ in range(_ACCEPT_BATCH):
            try:
                sock, peer = lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # EMFILE, ENFILE, ECONNABORTED...: keep listening
                log.warning("entry point %s: accept failed: %s", ep.name, exc)
                return
            sock.setblocking(False)
            if sock.family != socket.AF_UNIX:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            trusts = ep.proxy_protocol
            if trusts is not None:  # a PROXY header may come first, whoever the peer is
                _Peeking(self, sock, peer, proxied=True, trusted=trusts(peer[0]))
            elif not serve_unpeeked(ep, sock, peer, None):
                _Peeking(self, sock, peer)

    def close(self) -> None:
        """Stop accepting; drop connections still being peeked at."""
        if self.closed:
            return
        self.closed = True
        for sock in self.sockets:
            self.loop.remove_reader(sock.fileno())
            sock.close()
        for peeking in list(self.pending):
            peeking.close()


class _Peeking:
    """One accepted connection whose first bytes are not known yet."""

    __slots__ = ("listener", "sock", "fd", "peer", "local", "proxied", "trusted", "timer", "size", "delay", "resume")

    def __init__(
        self, listener: Listener, sock: socket.socket, peer: Any, proxied: bool = False, trusted: bool = False
    ) -> None:
        self.listener = listener
        self.sock = sock
        self.fd = sock.fileno()
        self.peer = peer
        #: The addresses a PROXY header gave (None: the socket's own).
        self.local: Any = None
        #: A PROXY protocol header may still come first (the entry point reads them).
        self.proxied = proxied
        #: The header's addresses are used (else read and dropped).
        self.trusted = trusted
        self.size = _FIRST_PEEK
        self.delay = 0.002
        self.resume: asyncio.TimerHandle | None = None
        listener.pending.add(self)
        loop = listener.loop
        timeout = listener.ep.read_timeout
        self.timer = loop.call_later(timeout, self.close) if timeout > 0 else None
        loop.add_reader(self.fd, self._readable)

    def _readable(self) -> None:
        try:
            data = self.sock.recv(self.size, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close()
            return
        if not data:
            self.close()
            return
        if self.proxied:
            data = self._proxy_header(data)
            if not data:
                return
        try:
            hello = parse_client_hello(data)
        except InvalidClientHello as exc:
            log.debug("closing a connection with a malformed ClientHello: %s", exc)
            self.close()
            return
        if hello is None:
            self._wait_for_more(len(data))
            return
        self._detach()
        self.fd = -1
        serve(self.listener.ep, self.sock, self.peer, hello, self.local)

    def _wait_for_more(self, have: int) -> None:
        """The start of a header or ClientHello is there: wait for the rest
        (peek more at once if the peek was full), without spinning."""
        if have >= self.size:
            if self.size >= _FULL_PEEK:
                self.close()
                return
            self.size = _FULL_PEEK
            self._readable()
            return
        loop = self.listener.loop
        loop.remove_reader(self.fd)
        self.resume = loop.call_later(self.delay, self._resume)
        self.delay = min(self.delay * 2, 0.1)

    def _proxy_header(self, data: bytes) -> bytes:
        """Consume a PROXY protocol header if the connection starts with one.

        As Traefik's go-proxyproto listener: the header is optional; a trusted
        peer's gives the connection its addresses (policy ``USE``), anyone
        else's is read and dropped (``IGNORE``: the socket's addresses stay);
        a malformed one closes the connection either way. Returns the bytes
        after it, or b"" when there is nothing more to do now."""
        try:
            header = proxyprotocol.parse(data)
        except proxyprotocol.ProxyProtocolError as exc:
            log.debug("closing a connection with a malformed PROXY header: %s", exc)
            self.close()
            return b""
        if header == proxyprotocol.NEED_MORE:
            self._wait_for_more(len(data))
            return b""
        self.proxied = False
        if isinstance(header, str):  # not a PROXY header: the connection as it is
            return data
        try:
            self.sock.recv(header.length)  # peeked already: all there
        except OSError:
            self.close()
            return b""
        if header.proxied and header.source is not None and self.trusted:
            self.peer, self.local = header.source, header.destination
        rest = data[header.length :]
        if not rest:
            ep = self.listener.ep
            if serve_unpeeked(ep, self.sock, self.peer, self.local):
                self._detach()
                self.fd = -1
        return rest

    def _resume(self) -> None:
        self.resume = None
        self.listener.loop.add_reader(self.fd, self._readable)

    def _detach(self) -> None:
        self.listener.pending.discard(self)
        if self.timer is not None:
            self.timer.cancel()
        if self.resume is not None:
            self.resume.cancel()
        else:
            self.listener.loop.remove_reader(self.fd)

    def close(self) -> None:
        if self.fd >= 0:
            self._detach()
            self.sock.close()
            self.fd = -1
