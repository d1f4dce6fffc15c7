"""The HTTP/1.1 server side: an asyncio ``Protocol`` parsing with httptools.

One protocol instance per client connection. Requests are parsed in C
(llhttp), turned into :class:`~edgeway.http.message.Request` objects, and each
runs as one task through the entry point's current handler (the routing table
swapped in by the kernel). Responses are written in order, so pipelined
requests are answered one after the other.

The entry point's ``X-Forwarded-*`` policy is applied while headers are parsed:
that is the one pass over the headers the request path gets for free.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections import deque
from typing import TYPE_CHECKING, Any

import httptools

from edgeway.http.forwarded import FLAG, append_forwarded, is_managed
from edgeway.http.message import Body, Headers, Request, Response, normalize_host, protocol_of
from edgeway.http.status import STATUS_LINES, error_response, http_date, status_line
from edgeway.http.trailers import h1_trailer_block

if TYPE_CHECKING:
    from edgeway.entrypoint import EntryPoint

log = logging.getLogger("edgeway.http")

_HIGH_WATER = 256 * 1024
_DISCARD_LIMIT = 256 * 1024  # Go's maxPostHandlerReadBytes  # buffered request body before we stop reading the socket
_LOW_WATER = 64 * 1024
_MAX_PIPELINE = 32


class ClientDisconnected(Exception):
    """The client went away (or timed out) while its request was in flight."""


class _ParseAbort(Exception):
    """Raised from a parser callback to stop parsing with an HTTP error status."""

    def __init__(self, status: int, detail: bytes = b"") -> None:
        self.status = status
        self.detail = detail


class StreamBody(Body):
    """A request body fed by the protocol, with flow control on the socket."""

    __slots__ = (
        "_proto", "_chunks", "_size", "done", "_waiter", "_error", "expect_continue", "received", "_discarding"
    )

    def __init__(self, proto: ServerProtocol, expect_continue: bool) -> None:
        self._proto = proto
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self.done = False
        self._waiter: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self.expect_continue = expect_continue
        self.received = 0
        self._discarding = False

    def discard(self) -> None:
        """Nobody will read the rest: drop it as it arrives (the connection stays usable)."""
        self._discarding = True
        self._chunks.clear()
        self._size = 0
        self._proto.resume_reading()

    def feed(self, data: bytes) -> None:
        self.received += len(data)
        if self._discarding:
            return
        self._chunks.append(data)
        self._size += len(data)
        if self._size > _HIGH_WATER:
            self._proto.pause_reading()
        self._wake()

    def finish(self) -> None:
        self.done = True
        self._wake()

    def fail(self, exc: BaseException) -> None:
        if not self.done:
            self._error = exc
            self._wake()

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    async def read(self) -> bytes:
        if self.expect_continue:
            self.expect_continue = False
            self._proto.send_continue()
        while True:
            if self._chunks:
                chunk = self._chunks.popleft()
                self._size -= len(chunk)
                if self._size < _LOW_WATER:
                    self._proto.resume_reading()
                return chunk
            if self.done:
                return b""
            if self._error is not None:
                raise self._error
            self._proto.resume_reading()
            self._waiter = self._proto.loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    @property
    def consumed(self) -> bool:
        return self.done and not self._chunks


class ServerProtocol(asyncio.Protocol):
    """HTTP/1.1 for one client connection of an entry point."""

    def __init__(self, ep: EntryPoint, peer: tuple[Any, ...] | None = None) -> None:
        """``peer``: the client address a PROXY protocol header gave (None: the socket's)."""
        self.ep = ep
        self._peer = peer
        self.loop = ep.loop
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.client_ip = ""
        self.client_port = 0
        self._client_ip_b = b""
        self._host_cache: tuple[bytes, str, str] = (b"\x00", "", "")
        self._forwarded: dict[tuple[bytes, bytes], list[tuple[bytes, bytes]]] = {}
        self.trusted = False
        self.tls: Any = None
        # Parse state of the request being read (reset by _new_message).
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._header_bytes = 0
        self._host = b""
        self._host_seen = False
        self._xflags = 0
        self._xff: list[bytes] | None = None
        self._host_proto = b""
        self._conn_tokens: bytes | None = None
        self._upgrade: bytes | None = None
        self._expect = False
        self._clen: int | None = None
        self._chunked = False
        self._accept: bytes | None = None
        self._ctype: bytes | None = None
        self._body: StreamBody | None = None
        self._parsing: Request | None = None
        # Dispatch state.
        self._active: Request | None = None
        self._task: asyncio.Task[None] | None = None
        self._wakeup: asyncio.Future[None] | None = None
        self._pipeline: deque[Request] = deque()
        self._reading_paused = False
        self._writing_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._closing = False
        self._last_request = False
        self._served = 0
        self._started = 0.0
        self._spliced: Any = None
        self._h2c: tuple[Request, list[bytes]] | None = None
        self.deadline = 0.0
        self._write_deadline = 0.0

    # -- connection -------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = self._peer or transport.get_extra_info("peername")
        if peer:
            self.client_ip, self.client_port = peer[0], peer[1]
        ep = self.ep
        self._client_ip_b = self.client_ip.split("%", 1)[0].encode()
        self.trusted = ep.insecure or ep.trusted(self.client_ip)
        self.tls = transport.get_extra_info("ssl_object")
        self._started = self.loop.time()
        ep.connections.add(self)
        self._arm(ep.read_timeout or ep.idle_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self.ep.connections.discard(self)
        self._closing = True
        err = ClientDisconnected("client connection closed")
        if self._body is not None:
            self._body.fail(err)
        for req in self._pipeline:
            if isinstance(req.body, StreamBody):
                req.body.fail(err)
        self._pipeline.clear()
        active = self._active
        if active is not None and isinstance(active.body, StreamBody):
            active.body.fail(err)
        if self._task is not None and not self._task.done():
            self._task.cancel()
        w = self._drain_waiter
        if w is not None and not w.done():
            w.set_exception(err)
        if self._spliced is not None:
            self._spliced.peer_lost()

    def _arm(self, timeout: float) -> None:
        self.deadline = self.loop.time() + timeout if timeout > 0 else 0.0

    def on_deadline(self) -> None:
        """Called by the entry point's sweeper once ``deadline`` has passed: the
        connection is idle too long, or a request took too long to arrive (read
        timeout) or to be answered (write timeout). Go closes the connection."""
        self.deadline = 0.0
        if self._spliced is not None:
            return
        if self._active is None and not self._pipeline:
            self._close()
            return
        # Reading a request (headers or body) took longer than readTimeout.
        if self._body is not None:
            self._body.fail(ClientDisconnected("read timeout"))
        self._close()

    def pause_reading(self) -> None:
        if not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self._reading_paused and self.transport is not None and not self._closing:
            self._reading_paused = False
            self.transport.resume_reading()

    def pause_writing(self) -> None:
        self._writing_paused = True
        if self._spliced is not None:
            self._spliced.client_paused(True)

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self._spliced is not None:
            self._spliced.client_paused(False)
        w = self._drain_waiter
        if w is not None and not w.done():
            w.set_result(None)

    async def drain(self) -> None:
        if self._closing:
            raise ClientDisconnected("client connection closed")
        if self._writing_paused:
            self._drain_waiter = self.loop.create_future()
            try:
                await self._drain_waiter
            finally:
                self._drain_waiter = None

    def _close(self) -> None:
        if not self._closing:
            self._closing = True
            if self.transport is not None:
                self.transport.close()

    def close_if_idle(self) -> bool:
        """Close a keep-alive connection with no request in flight (graceful stop)."""
        if self._active is None and not self._pipeline and self._parsing is None:
            self._close()
            return True
        return False

    # -- parsing ----------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._spliced is not None:
            self._spliced.from_client(data)
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            offset = exc.args[0] if exc.args else len(data)
            if self._h2c is not None:
                self._switch_h2c(data[offset:])
                return
            if self._parsing is not None:
                self._parsing.context["upgrade_data"] = data[offset:]
                self._finish_parsing()
            self.pause_reading()
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, _ParseAbort):
                self._fail_parse(cause.status, cause.detail)
            else:
                self._fail_parse(400)
        except httptools.HttpParserError as exc:
            if self._served == 0 and self._active is None and self.tls is None and "PRI" in str(exc):
                # The HTTP/2 connection preface: h2c with prior knowledge. The
                # parser stops once it has the whole preface: this data holds its
                # end, then the first frames.
                self._hand_over_h2(PREFACE + data[_preface_end(data) :])
                return
            self._fail_parse(400)

    # -- HTTP/2 cleartext (h2c) -----------------------------------------------

    def _switch_h2c(self, rest: bytes) -> None:
        """``Upgrade: h2c`` (Go's ``h2c.NewHandler``): 101, then HTTP/2 with the
        request as stream 1; an unusable ``HTTP2-Settings`` gets 500."""
        from edgeway.http.h2server import h2c_settings

        assert self._h2c is not None
        req, values = self._h2c
        self._h2c = None
        self._parsing = None
        settings = h2c_settings(values)
        if settings is None:
            self._send_whole(req, Response(500))  # the parser is past an Upgrade: then closed
            return
        req.upgrade = None
        self._hand_over_h2(rest, (req, settings))

    def _hand_over_h2(self, data: bytes, upgrade: tuple[Request, bytes] | None = None) -> None:
        """The connection goes on as HTTP/2: its transport to an H2ServerProtocol."""
        from edgeway.http.h2server import H2ServerProtocol

        transport = self.transport
        assert transport is not None
        self.ep.connections.discard(self)
        self._closing = True
        self.transport = None
        if self._task is not None:
            self._task.cancel()
            self._task = None
        proto = H2ServerProtocol(self.ep, tls=self.tls, upgrade=upgrade, peer=self._peer)
        transport.set_protocol(proto)
        proto.connection_made(transport)
        if data:
            proto.data_received(data)
        if self._reading_paused:
            transport.resume_reading()

    def _fail_parse(self, status: int, detail: bytes = b"") -> None:
        """Answer a malformed request the way Go's server does, then close."""
        text = b"%d %s" % (status, status_line(status)[13:-2])
        if detail:
            text += b": " + detail
        if self._active is None:
            self._write_and_close(
                status_line(status)
                + b"Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
                + text
            )
        else:
            # A response is in flight: answer it, then close (nothing after the
            # malformed request can be trusted, and answers must stay in order).
            self._last_request = True
            self._pipeline.clear()
            self.pause_reading()
            if self._body is not None:
                self._body.fail(ClientDisconnected("malformed request"))

    def _write_and_close(self, data: bytes) -> None:
        if self.transport is not None and not self._closing:
            self.transport.write(data)
            self._close()

    def _new_message(self) -> None:
        """Parse state for the next request (httptools' on_message_begin, without its
        callback: this runs once the previous request's head is taken)."""
        self._url = b""
        self._headers = []
        self._header_bytes = 0
        self._host = b""
        self._host_seen = False
        self._xflags = 0
        self._xff = None
        self._conn_tokens = None
        self._upgrade = None
        self._expect = False
        self._clen = None
        self._chunked = False
        self._accept = None
        self._ctype = None

    def on_url(self, url: bytes) -> None:
        if not self._url and self._active is None:
            self._arm(self.ep.read_timeout)  # a new request begins: it must arrive in time
        self._url += url
        if len(self._url) > self.ep.max_header_bytes:
            raise _ParseAbort(414)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4
        if self._header_bytes > self.ep.max_header_bytes:
            raise _ParseAbort(431)
        c = name[0] | 0x20 if name else 0
        if c in _SPECIAL_FIRST:  # only these initials can name a header we act on
            ln = name.lower()
            if c == 0x78:  # 'x': X-Forwarded-*, X-Real-Ip
                if is_managed(ln):
                    if not self.trusted or ln == b"x-forwarded-server":
                        return  # X-Forwarded-Server is always ours
                    if ln == b"x-forwarded-for":
                        if self._xff is None:
                            self._xff = []
                        self._xff.append(value)
                        return
                    if value:
                        self._xflags |= FLAG.get(ln, 0)
                        if ln == b"x-forwarded-proto":
                            self._host_proto = value
            elif c == 0x68:
                if ln == b"host":
                    if self._host_seen:
                        raise _ParseAbort(400)  # two Host headers: ambiguous, as Go refuses
                    self._host_seen = True
                    self._host = value
                    return  # like Go, the Host header lives in the request, not its headers
            elif c == 0x63:
                if ln == b"connection":
                    self._conn_tokens = value if self._conn_tokens is None else self._conn_tokens + b"," + value
                elif ln == b"content-length":
                    self._clen = int(value) if value.strip().isdigit() else -1
                elif ln == b"content-type" and self._ctype is None:
                    self._ctype = value
            elif c == 0x61:
                if ln == b"accept" and self._accept is None:
                    self._accept = value
            elif c == 0x74:
                if ln == b"transfer-encoding":
                    self._chunked = True
            elif c == 0x65:
                if ln == b"expect" and value.lower() == b"100-continue":
                    self._expect = True
            elif ln == b"upgrade":
                self._upgrade = value
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        ep = self.ep
        parser = self.parser
        url = self._url
        routing = _plain_path(url)
        if routing is not None:  # the usual target: nothing to parse or clean
            path, query, force_query = routing, b"", False  # its routing path is itself
        else:
            path, query, force_query, url_host = parse_target(url, ep)
            if url_host is not None:
                self._host = url_host
        if self._clen == -1:
            raise _ParseAbort(400)
        headers = self._headers
        keep_alive = parser.should_keep_alive()
        # Of the versions llhttp accepts (0.9, 1.0, 1.1, 2.0), only 1.1 is kept alive
        # without a Connection header: then no get_http_version() (a str.format).
        version = "1.1" if keep_alive and self._conn_tokens is None else parser.get_http_version()
        if version == "1.1" and not self._host_seen:
            raise _ParseAbort(400, b"missing required Host header")  # RFC 9112 §3.2
        host_b = self._host
        cached = self._host_cache
        if cached[0] != host_b:  # a new Host on this connection (keep-alive repeats it)
            authority = host_b.decode("latin-1")
            cached = self._host_cache = (host_b, authority, normalize_host(authority))
        authority = cached[1]
        tls = self.tls is not None
        websocket = upgrade_listed = False
        dropped = _NO_NAMES
        conn_tokens = self._conn_tokens
        h2c: list[bytes] | None = None
        if conn_tokens is not None:
            ltoks = conn_tokens.lower()
            upgrade = self._upgrade
            upgrade_listed = upgrade is not None and b"upgrade" in ltoks
            if upgrade_listed:
                assert upgrade is not None
                websocket = upgrade.lower() == b"websocket"
                if (
                    b"http2-settings" in ltoks
                    and _has_token(upgrade, b"h2c")
                    and self._active is None
                    and not self._chunked
                    and self.tls is None  # h2c is cleartext only (RFC 9113 §3.1)
                ):
                    h2c = [v for n, v in headers if n.lower() == b"http2-settings"]
            if ltoks not in _HOP_KEEP:  # the usual "keep-alive" or "close" lists nothing to drop
                dropped = _strip_connection_listed(headers, ltoks, ep.connection_keep)
            if version == "1.1" and _has_token(ltoks, b"close"):
                # Go's server drops it (net/http shouldClose): handlers never see it.
                headers[:] = [(n, v) for n, v in headers if n.lower() != b"connection"]
        # X-Forwarded-* as Traefik's forwardedheaders middleware sets them.
        if websocket:
            proto = b"wss" if tls else b"ws"
        else:
            proto = b"https" if tls else b"http"
        # The usual client sent none of them: the connection's cached block (what
        # append_forwarded would add, without the call).
        block = None if self._xflags or self._xff is not None else self._forwarded.get((proto, self._host))
        if block is not None:
            headers += block
        else:
            append_forwarded(
                headers, self._xflags, self._host_proto, self._xff, self._client_ip_b, proto,
                authority, self._host, ep.server_name, self._forwarded,
            )  # fmt: skip

        method = parser.get_method()
        has_body = self._chunked or (self._clen is not None and self._clen > 0)
        body = StreamBody(self, self._expect and version == "1.1") if has_body else None
        self._body = body
        req = Request(
            _METHODS.get(method) or method.decode("latin-1"),
            path,
            query.decode("latin-1") if query else "",
            Headers(headers),
            authority,
            "https" if tls else "http",
            version,
            self.client_ip,
            self.client_port,
            body,
            self._clen,
            ep.name,
            self.tls,
            cached[2],
            routing,
        )
        req.keep_alive = keep_alive
        req.protocol = (
            "http"
            if self._accept is None and self._ctype is None and not websocket
            else protocol_of(websocket, self._accept, self._ctype)
        )
        if conn_tokens is not None:
            if upgrade_listed and self._upgrade:
                req.upgrade = self._upgrade
            if dropped:
                req.context["connection_drop"] = dropped
            if h2c is not None:  # switched once the parser stops at the Upgrade
                self._h2c = (req, h2c)
                self._parsing = req
                self._new_message()
                return
        if force_query:
            req.context["force_query"] = True
        self._parsing = req
        self._new_message()
        if self._active is None:
            self._start(req)
        else:
            self._pipeline.append(req)
            if len(self._pipeline) >= _MAX_PIPELINE:
                self.pause_reading()

    def on_body(self, data: bytes) -> None:
        if self._body is not None:
            self._body.feed(data)

    def on_message_complete(self) -> None:
        if self._body is not None:
            self._body.finish()
        self._finish_parsing()

    def _finish_parsing(self) -> None:
        self._body = None
        self._parsing = None
        if self._active is not None:
            # The request is read: the read timeout no longer applies, the write
            # timeout (Go's WriteTimeout, from the end of the head) may.
            self.deadline = self._write_deadline

    # -- dispatch -----------------------------------------------------------

    def _start(self, req: Request) -> None:
        self._active = req
        if self.ep.write_timeout > 0:
            self._write_deadline = self.loop.time() + self.ep.write_timeout
        if self._task is None:
            self._task = self.loop.create_task(self._serve())
        else:
            w = self._wakeup
            if w is not None and not w.done():
                w.set_result(None)

    async def _serve(self) -> None:
        """The connection's worker task: its requests, one after the other.

        HTTP/1.1 answers in order, so one task per connection runs each request
        through the handler chain in turn; a request costs no task and no
        coroutine of its own (the handling is inlined here: one frame less on
        every suspension and resumption). (HTTP/2 streams get a task each.)
        """
        while True:
            req = self._active
            if req is None:
                self._wakeup = self.loop.create_future()
                try:
                    await self._wakeup
                finally:
                    self._wakeup = None
                continue
            # Handle one request; return when the connection is done for.
            try:
                try:
                    if req.raw_path == "*" and req.method == "OPTIONS":
                        resp = Response(200)  # answered by the server itself, as Go's does
                    else:
                        ep = self.ep
                        answer: Response | None = None  # what the handler returned, for the meters
                        try:
                            resp = answer = await (ep.handler if self.tls is None else ep.https_handler)(req)
                        finally:
                            if req.on_response is not None:  # the route's meters (metrics.hoist)
                                req.on_response(req, answer, req.started)
                except ClientDisconnected:
                    self._close()
                    return
                except Exception:
                    log.exception("handler failed for %r", req)
                    resp = error_response(500)
                if resp.stream is None and resp.trailers is None and resp.status != 101:
                    self._send_whole(req, resp)
                else:
                    await self._send_stream(req, resp)
            except (ClientDisconnected, ConnectionError):
                self._close()
                return
            except asyncio.CancelledError:
                self._close()
                raise
            except Exception:
                log.exception("failed to send the response for %r", req)
                self._close()
                return
            self._request_done(req)

    def send_continue(self) -> None:
        if self.transport is not None and not self._closing:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _head(self, req: Request, resp: Response) -> tuple[list[bytes], bool, bool, bool]:
        """The response head, and whether to keep the connection, chunk, send a body."""
        if self.transport is None or self._closing:
            raise ClientDisconnected("client connection closed")
        status = resp.status
        ep = self.ep
        keep_alive = req.keep_alive and not ep.stopping and not self._last_request
        if ep.keep_alive_max_requests and self._served + 1 >= ep.keep_alive_max_requests:
            keep_alive = False
        if ep.keep_alive_max_time and self.loop.time() - self._started >= ep.keep_alive_max_time:
            keep_alive = False
        body = req.body
        if body is not None and status != 101 and isinstance(body, StreamBody) and not body.done:
            # The handler did not read the whole request body. Like Go's server,
            # keep the connection when at most 256 KiB are left (read and dropped);
            # a client still waiting for 100 Continue or a larger rest: close.
            left = (req.content_length or 0) - body.received
            if body.expect_continue or req.content_length is None or left > _DISCARD_LIMIT:
                keep_alive = False
            else:
                body.discard()
        parts = [STATUS_LINES.get(status) or status_line(status)]
        has_date = False
        declared_length: bytes | None = None
        for n, v in resp.headers.raw:
            if len(n) in _FRAMING_LENGTHS:
                ln = n.lower()
                if ln == b"content-length":
                    declared_length = v
                    continue
                if ln == b"connection" or ln == b"transfer-encoding":
                    continue
                if ln == b"date":
                    has_date = True
            parts += (n, b": ", v, b"\r\n")
        if not has_date:
            parts += (b"Date: ", http_date(), b"\r\n")
        no_body = req.method == "HEAD" or status < 200 or status == 204 or status == 304
        chunked = False
        if status == 101:
            parts.append(b"Connection: Upgrade\r\n")
        elif req.upgrade is not None:
            keep_alive = False  # the parser is past an Upgrade: no more requests here
        if resp.stream is None and resp.trailers is None:
            if not no_body:
                parts += (b"Content-Length: ", b"%d" % len(resp.body), b"\r\n")
            elif status >= 200 and status != 204:
                if declared_length is not None:
                    parts += (b"Content-Length: ", declared_length, b"\r\n")
                elif resp.body:  # HEAD: the length of the body a GET would get, as Go
                    parts += (b"Content-Length: ", b"%d" % len(resp.body), b"\r\n")
        elif status == 101:
            pass
        elif declared_length is not None:
            if status >= 200 and status != 204:
                parts += (b"Content-Length: ", declared_length, b"\r\n")
        elif not no_body:
            if req.http_version == "1.1":
                chunked = True
                parts.append(b"Transfer-Encoding: chunked\r\n")
            else:
                keep_alive = False
        if status != 101:
            if not keep_alive:
                parts.append(b"Connection: close\r\n")
            elif req.http_version == "1.0":
                parts.append(b"Connection: keep-alive\r\n")
        parts.append(b"\r\n")
        return parts, keep_alive, chunked, no_body

    def _send_whole(self, req: Request, resp: Response) -> None:
        """A response whose body is in memory: one write."""
        parts, keep_alive, _, no_body = self._head(req, resp)
        if not no_body and resp.body:
            parts.append(resp.body)
        transport = self.transport
        assert transport is not None
        transport.write(b"".join(parts))
        if resp.on_sent is not None:
            resp.on_sent()
        if not keep_alive:
            self._closing = True
            transport.close()

    async def _send_stream(self, req: Request, resp: Response) -> None:
        """A streamed response (or a 101 to splice): head, then chunks as they come.

        Trailers force chunking, as Go's ReverseProxy flushes when it has some,
        and follow the last chunk (Go's ``chunkWriter.close``)."""
        parts, keep_alive, chunked, no_body = self._head(req, resp)
        transport = self.transport
        assert transport is not None
        stream = resp.stream
        if stream is None:  # a body in memory with trailers
            if chunked and resp.body:
                parts.append(b"%x\r\n%s\r\n" % (len(resp.body), resp.body))
            elif not no_body:
                parts.append(resp.body)
        transport.write(b"".join(parts))
        if stream is not None:
            if no_body:
                await _close_stream(stream)
            else:
                try:
                    async for chunk in stream:
                        if not chunk:
                            continue
                        if chunked:
                            transport.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        else:
                            transport.write(chunk)
                        if self._writing_paused:
                            await self.drain()
                        elif self._closing:
                            raise ClientDisconnected("client connection closed")
                finally:
                    await _close_stream(stream)
        if chunked:
            transport.write(b"0\r\n%s\r\n" % h1_trailer_block(resp.trailers))
        if resp.on_sent is not None:
            resp.on_sent()
        if resp.status == 101 and resp.upgrade is not None:
            self._spliced = resp.upgrade(self, req.context.get("upgrade_data", b""))
            return
        if not keep_alive:
            self._closing = True
            transport.close()

    def _request_done(self, req: Request) -> None:
        self._active = None
        self._served += 1
        if self._closing or self._spliced is not None:
            return
        if self._pipeline:
            nxt = self._pipeline.popleft()
            self.resume_reading()
            self._start(nxt)
            return
        if self.ep.stopping:
            self._close()
            return
        self._arm(self.ep.idle_timeout if self._parsing is None else self.ep.read_timeout)
        if self._reading_paused:
            self.resume_reading()

    # -- splicing (Upgrade) ------------------------------------------------

    def write_raw(self, data: bytes) -> None:
        if self.transport is not None and not self._closing:
            self.transport.write(data)

    def close_spliced(self) -> None:
        self._close()


#: The HTTP/2 connection preface (RFC 9113 §3.4).
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH")}
_SPECIAL_FIRST = frozenset(b"xhcteua")
#: Lengths of the response headers the server writes itself (a test before lower()).
_FRAMING_LENGTHS = frozenset(len(n) for n in (b"content-length", b"connection", b"transfer-encoding", b"date"))

#: Connection-listed names never removed from the request: managed X headers
#: (a client must not be able to strip X-Forwarded-For) and framing.
_HOP_KEEP = frozenset((b"close", b"keep-alive", b"upgrade", b""))
_NO_NAMES: frozenset[bytes] = frozenset()


_SEGMENT = rb"[A-Za-z0-9\-_~!$&'()*+,;=:@\[\]][A-Za-z0-9\-_.~!$&'()*+,;=:@\[\]]*"
#: An origin-form target :func:`parse_target` would hand back as it is, and whose
#: routing path is itself: no query, fragment or escape, no dot or empty segment
#: (nothing ``sanitizePath`` cleans), only bytes Go keeps in an escaped path. One
#: C call instead of five scans and ``routing_path``'s own check.
_plain_target = re.compile(rb"/(?:%s(?:/%s)*/?)?" % (_SEGMENT, _SEGMENT)).fullmatch


@functools.lru_cache(maxsize=4096)
def _plain_path(url: bytes) -> str | None:
    """The path of a :data:`_plain_target` (None for any other target); cached, as
    most traffic is to a few paths and a look-up costs a tenth of the match."""
    return url.decode("latin-1") if _plain_target(url) is not None else None


def parse_target(url: bytes, ep: EntryPoint) -> tuple[str, bytes, bool, bytes | None]:
    """A request-target as Traefik's entry point hands it on: ``(path, query,
    force_query, host)``.

    ``path`` has escapes normalized and, with ``sanitizePath``, dot segments
    cleaned; ``force_query`` tells an empty ``?`` was sent; ``host`` is the
    authority of an absolute-form target. ``encodeQuerySemicolons`` keeps ``;``
    as data. Raises :class:`_ParseAbort` (400) where Go refuses the target.
    """
    force_query = False
    host: bytes | None = None
    if url[:1] == b"/":
        q = url.find(b"?")
        if q < 0:
            raw_path, query = url, b""
        else:
            raw_path, query = url[:q], url[q + 1 :]
            force_query = not query
        frag = raw_path.find(b"#")
        if frag >= 0:
            raw_path = raw_path[:frag]
    elif url == b"*":
        raw_path, query = url, b""
    else:
        try:
            parsed = httptools.parse_url(url)
        except httptools.HttpParserInvalidURLError:
            raise _ParseAbort(400) from None
        raw_path = parsed.path or b"/"
        query = parsed.query or b""
        if parsed.host:
            host = parsed.host + (b":%d" % parsed.port if parsed.port else b"")
    if ep.encode_query_semicolons and b";" in query:
        query = query.replace(b";", b"%3B")  # kept as data, not turned into '&'
    path = raw_path.decode("latin-1")
    if "%" in path:
        if not _valid_escapes(path):
            raise _ParseAbort(400)
        path = normalize_escapes(path)
    if ep.sanitize_path and ("/." in path or "//" in path):
        path = clean_path(path)
    return path, query, force_query, host


def _preface_end(data: bytes) -> int:
    """How much of ``data`` ends the connection preface: the longest start of it
    that is an end of the preface (frames never continue it)."""
    return max((k for k in range(1, min(len(PREFACE), len(data)) + 1) if PREFACE.endswith(data[:k])), default=0)


def _has_token(value: bytes, token: bytes) -> bool:
    """httpguts.HeaderValuesContainsToken for one value (case-insensitive)."""
    return any(t.strip(b" \t").lower() == token for t in value.split(b","))


def _strip_connection_listed(
    headers: list[tuple[bytes, bytes]], ltokens: bytes, keep: frozenset[bytes]
) -> frozenset[bytes]:
    """Drop the headers a client listed in ``Connection`` (Traefik's forwardedheaders).

    Names in ``keep`` (``forwardedHeaders.connection``) stay for the middlewares;
    they are returned so the proxy removes them before forwarding, as Go's
    reverse proxy does with what is still listed in ``Connection``.
    """
    listed = {t.strip() for t in ltokens.split(b",")} - _HOP_KEEP
    listed = {n for n in listed if not is_managed(n)}
    names = listed - keep
    if names:
        headers[:] = [(n, v) for n, v in headers if n.lower() not in names]
    return frozenset(listed & keep)


async def _close_stream(stream: Any) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def normalize_escapes(path: str) -> str:
    """Traefik's ``normalizePath``: escaped unreserved characters are decoded, other
    escapes upper-cased (``/%7Euser/%2f`` -> ``/~user/%2F``)."""
    out: list[str] = []
    i = path.find("%")
    start = 0
    while i >= 0:
        out.append(path[start:i])
        ch = chr(int(path[i + 1 : i + 3], 16))
        out.append(ch if ch in _UNRESERVED else path[i : i + 3].upper())
        start = i + 3
        i = path.find("%", start)
    out.append(path[start:])
    return "".join(out)


def _valid_escapes(path: str) -> bool:
    i = path.find("%")
    n = len(path)
    while i >= 0:
        if i + 2 >= n or path[i + 1] not in _HEX or path[i + 2] not in _HEX:
            return False
        i = path.find("%", i + 3)
    return True


_HEX = frozenset("0123456789abcdefABCDEF")


def clean_path(path: str) -> str:
    """Go's ``path.Clean`` keeping a trailing slash, as Traefik's sanitizePath does."""
    if not path:
        return "/"
    rooted = path.startswith("/")
    trailing = path.endswith("/") and len(path) > 1
    out: list[str] = []
    for seg in path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if out:
                out.pop()
            continue
        out.append(seg)
    cleaned = ("/" if rooted else "") + "/".join(out)
    if trailing and not cleaned.endswith("/"):
        cleaned += "/"
    return cleaned or "/"
