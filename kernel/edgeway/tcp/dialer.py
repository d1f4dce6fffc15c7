"""Dialing TCP servers as Traefik's ``DialerManager`` (pkg/tcp/dialer.go) does.

A load balancer names a ``tcp.serversTransports`` entry, or gets
``default@internal`` (the static ``tcpServersTransport``). The transport gives
the dial timeout and keep-alive, the PROXY protocol header written before any
other byte (before the TLS handshake too), the termination delay of the splice,
and the TLS client settings used for servers marked ``tls: true``.

As in Traefik, the deprecated ``proxyProtocol`` and ``terminationDelay`` of the
load balancer apply only when it names no ``serversTransport``; the deprecated
``terminationDelay`` (documented in milliseconds) is converted as Go converts
an ``int`` to a ``time.Duration``: nanoseconds.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edgeway.config.dynamic_tcp import TCPServersTransport, TLSClientConfig
from edgeway.pipeline.runtime import qualify
from edgeway.proxyprotocol import ProxyProtocolError, format_header
from edgeway.services import BuildError
from edgeway.services.transports import Transports, TransportSettings, client_tls_fields
from edgeway.tcp.conn import TCPConnection

__all__ = ["DEFAULT_TRANSPORT", "DialError", "Dialer", "DialerManager", "TCPTransportDefaults", "split_host_port"]

log = logging.getLogger("edgeway.tcp")

DEFAULT_TRANSPORT = "default@internal"
#: crypto/tls refuses to dial without one of them.
_NO_SERVER_NAME = "tls: either ServerName or InsecureSkipVerify must be specified in the tls.Config"


class DialError(OSError):
    """The server could not be reached (Go's dial/handshake error text)."""


@dataclass(frozen=True)
class TCPTransportDefaults:
    """The static ``tcpServersTransport``: what ``default@internal`` is made of.

    Traefik's internal provider copies only these fields (``serverTransportTCP``
    in pkg/provider/traefik/internal.go); its ``terminationDelay`` is not used.
    """

    dial_timeout: float = 30.0
    dial_keep_alive: float = 15.0
    insecure_skip_verify: bool = False
    root_cas: tuple[str, ...] = ()


def split_host_port(address: str) -> tuple[str, int] | None:
    """Go's ``net.SplitHostPort`` plus a numeric port; None when invalid."""
    if address.startswith("["):
        end = address.find("]")
        if end < 0 or address[end + 1 : end + 2] != ":":
            return None
        host, port = address[1:end], address[end + 2 :]
    else:
        host, sep, port = address.rpartition(":")
        if not sep or ":" in host:
            return None
    if not port.isascii() or not port.isdigit() or int(port) > 65535:
        return None
    return host, int(port)


class Dialer:
    """Connects to one kind of server (raw or TLS) with one transport's settings."""

    def __init__(
        self,
        *,
        dial_timeout: float,
        keep_alive: float,
        termination_delay: float,
        proxy_protocol: int,
        ssl_context: ssl.SSLContext | None,
        server_name: str,
        tls_error: str = "",
    ) -> None:
        self.dial_timeout = dial_timeout
        self.keep_alive = keep_alive
        self.termination_delay = termination_delay
        self.proxy_protocol = proxy_protocol
        self.ssl_context = ssl_context
        self.server_name = server_name
        self.tls_error = tls_error

    async def dial(self, address: str, client: TCPConnection | None, timeout: float | None = None) -> TCPConnection:
        """A connection to ``address``; the PROXY header describes ``client`` (none when None).

        ``timeout`` bounds the whole dial (the health check's); the transport's
        ``dialTimeout`` bounds the TCP connect. Raises :class:`DialError`.
        """
        loop = asyncio.get_running_loop()
        parsed = split_host_port(address)
        if parsed is None:
            raise DialError(f"dial tcp {address}: missing port in address")
        try:
            async with asyncio.timeout(timeout if timeout is not None and timeout > 0 else None):
                if timeout is not None and timeout <= 0:
                    raise TimeoutError
                sock = await self._connect(loop, *parsed, address)
                try:
                    return await self._handshake(loop, sock, client)
                except BaseException:
                    sock.close()
                    raise
        except TimeoutError:
            raise DialError(f"dial tcp {address}: i/o timeout") from None

    async def _connect(self, loop: asyncio.AbstractEventLoop, host: str, port: int, address: str) -> socket.socket:
        try:
            infos = await loop.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
        except OSError as exc:
            raise DialError(f"dial tcp: lookup {host}: {exc.strerror or exc}") from None
        error: str = ""
        for family, type_, proto, _, sockaddr in infos:
            sock = socket.socket(family, type_, proto)
            sock.setblocking(False)
            try:
                async with asyncio.timeout(self.dial_timeout if self.dial_timeout > 0 else None):
                    await loop.sock_connect(sock, sockaddr)
            except TimeoutError:
                sock.close()
                error = f"dial tcp {address}: i/o timeout"
                continue
            except OSError as exc:
                sock.close()
                error = f"dial tcp {address}: connect: {(exc.strerror or str(exc)).lower()}"
                continue
            self._set_keep_alive(sock)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        raise DialError(error or f"dial tcp {address}: no address found")

    def _set_keep_alive(self, sock: socket.socket) -> None:
        """Go's ``net.Dialer.KeepAlive``: 0 means 15 s, negative disables probes."""
        if self.keep_alive < 0:
            return
        seconds = max(1, int(self.keep_alive or 15))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for option in ("TCP_KEEPIDLE", "TCP_KEEPINTVL"):
            if hasattr(socket, option):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), seconds)

    async def _handshake(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket, client: TCPConnection | None
    ) -> TCPConnection:
        if self.proxy_protocol and client is not None:
            try:
                header = format_header(self.proxy_protocol, _address(client.peer), _address(client.local))
            except ProxyProtocolError as exc:
                raise DialError(f"writing PROXY Protocol header: {exc}") from None
            await loop.sock_sendall(sock, header)
        if self.ssl_context is None:
            _, conn = await loop.create_connection(TCPConnection, sock=sock)
            return conn
        if self.tls_error:
            raise DialError(f"TLS handshake failed: {self.tls_error}")
        try:
            _, conn = await loop.create_connection(
                TCPConnection, sock=sock, ssl=self.ssl_context, server_hostname=self.server_name
            )
        except OSError as exc:  # ssl.SSLError, a reset during the handshake...
            raise DialError(f"TLS handshake failed: {exc}") from None
        return conn


def _address(addr: tuple[str, int]) -> tuple[str, int] | None:
    return addr if addr[0] else None


class DialerManager:
    """Builds the dialers of load balancers from the declared transports."""

    def __init__(
        self, declared: Mapping[str, tuple[str, Any]], defaults: TCPTransportDefaults, transports: Transports
    ) -> None:
        self.declared = declared
        self.defaults = defaults
        self.transports = transports

    def build(self, lb: Any, provider: str, is_tls: bool) -> Dialer:
        """The dialer of load balancer ``lb`` (declared in ``provider``); raises BuildError."""
        name = qualify(lb.serversTransport, provider) if lb.serversTransport else DEFAULT_TRANSPORT
        st = self._transport(name)
        if lb.serversTransport:
            termination_delay = st.terminationDelay if st.terminationDelay is not None else 0.0
            proxy = st.proxyProtocol
        else:
            termination_delay = lb.terminationDelay * 1e-9 if lb.terminationDelay is not None else 0.0
            proxy = lb.proxyProtocol
        version = 0
        if proxy is not None:
            version = proxy.version or 0
            if not 1 <= version <= 2:
                raise BuildError(f"unknown proxyProtocol version: {version}")
        ssl_context: ssl.SSLContext | None = None
        server_name, tls_error = "", _NO_SERVER_NAME
        if is_tls:
            tls = st.tls
            if tls is not None and tls.spiffe is not None:
                raise BuildError("SPIFFE is enabled for this transport, but not configured")
            settings = TransportSettings()
            if tls is not None:
                try:
                    settings = TransportSettings(**client_tls_fields(tls))
                except ValueError as exc:
                    raise BuildError(f"serversTransport {name}: {exc}") from None
            if settings.insecure_skip_verify or settings.server_name:
                tls_error = ""
            server_name = settings.server_name
            ssl_context = self.transports.ssl_context(settings)
        return Dialer(
            dial_timeout=st.dialTimeout or 0.0,
            keep_alive=st.dialKeepAlive or 0.0,
            termination_delay=termination_delay,
            proxy_protocol=version,
            ssl_context=ssl_context,
            server_name=server_name,
            tls_error=tls_error if is_tls else "",
        )

    def _transport(self, name: str) -> Any:
        if name == DEFAULT_TRANSPORT:
            d = self.defaults
            tls = None
            if d.insecure_skip_verify or d.root_cas:
                tls = TLSClientConfig(insecureSkipVerify=d.insecure_skip_verify, rootCAs=list(d.root_cas))
            return TCPServersTransport(
                dialTimeout=d.dial_timeout, dialKeepAlive=d.dial_keep_alive, terminationDelay=0.0, tls=tls
            )
        found = self.declared.get(name)
        if found is None:
            raise BuildError(f'no transport configuration found for "{name}"')
        return found[1]
