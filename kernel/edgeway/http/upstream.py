"""The upstream side: HTTP/1.1 client connections and a keep-alive pool per server.

Every exchange on the request path goes through here (proxying, and later
ForwardAuth, error pages, mirroring). Like the server side it is an asyncio
``Protocol`` with httptools parsing the responses. A response that arrives in
one piece with its headers is handed over as bytes; a longer one is streamed
with flow control in both directions.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Awaitable
from typing import Any

import httptools

from edgeway.http.message import Body, Headers, Response, canonical_header_bytes
from edgeway.http.status import error_response
from edgeway.http.trailers import BAD_RESPONSE_TRAILER, declared_names

_HIGH_WATER = 256 * 1024
_LOW_WATER = 64 * 1024
_EXPECT_CONTINUE_TIMEOUT = 1.0  # Go's Transport.ExpectContinueTimeout in Traefik

#: Response headers that describe one hop only; never forwarded (RFC 9110 §7.6.1).
HOP_BY_HOP = frozenset(
    (
        b"connection",
        b"proxy-connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    )
)


#: Lengths of the hop-by-hop names: a cheap test before lower-casing a name.
_HOP_LENGTHS = frozenset(len(n) for n in HOP_BY_HOP)


def tls_error_status(exc: BaseException) -> int:
    """The status Traefik's ``ComputeStatusCode`` gives a failed TLS handshake.

    An alert from the server arrives as a ``net.OpError`` (502); Go's own
    verdicts (unverifiable certificate, no matching SAN, wrong version) are not
    ``net.Error``\\ s and end as 500.
    """
    reason = getattr(exc, "reason", None) or ""
    if isinstance(exc, ssl.SSLCertVerificationError) or "PROTOCOL_VERSION" in reason:
        return 500
    if "ALERT" in reason or isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return 502
    return 500


class UpstreamError(Exception):
    """The exchange with the server failed; ``status`` is what the client gets.

    ``reached`` is False when the request never got to the server (the dial
    failed): retry middlewares may then resend even non-idempotent requests.
    """

    def __init__(self, status: int, message: str, *, retryable: bool = False, reached: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.reached = reached


def failure(context: dict[str, Any], exc: UpstreamError) -> Response:
    """The answer to a failed exchange (Go's proxy error handler: 502, 504...),
    noted in the request ``context`` for the access log and the retry middleware."""
    context["upstream_error"] = str(exc)
    if not exc.reached:
        context["upstream_unreached"] = True
    return error_response(exc.status)


class _HeadDone(Exception):
    """Stops the parser after the head of a response to HEAD (it has no body)."""


class UpstreamConnection(asyncio.Protocol):
    """One connection to a server, carrying one exchange at a time."""

    def __init__(self, pool: ServerPool) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.reused = False
        self.idle_since = 0.0
        self._head: asyncio.Future[Response] | None = None
        self._continue: asyncio.Future[None] | None = None
        self._status = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_headers: list[tuple[bytes, bytes]] = []
        self._trailer_decl: list[bytes] | None = None
        self._chunked = False
        self._streaming: Response | None = None
        self._conn_drop: list[bytes] | None = None
        self._headers_done = False
        self._informational = False
        self._is_head = False
        self._got_bytes = False
        self._complete = False
        self._keep_alive = False
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._waiter: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self._reading_paused = False
        self._writing_paused = False
        self._drain: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._upgrade_data = b""
        self._upgrade_header: tuple[bytes, bytes] | None = None
        self._sending = False
        self.splice: Any = None

    # -- transport callbacks ---------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        if self.splice is not None:
            self.splice.upstream_lost()
            return
        err = UpstreamError(
            502,
            f"connection to {self.pool.address} closed" + (f": {exc}" if exc else ""),
            retryable=self.reused and not self._got_bytes,
        )
        self._fail(err)
        d = self._drain
        if d is not None and not d.done():
            d.set_exception(err)

    def pause_writing(self) -> None:
        self._writing_paused = True
        if self.splice is not None:
            self.splice.upstream_paused(True)

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self.splice is not None:
            self.splice.upstream_paused(False)
        d = self._drain
        if d is not None and not d.done():
            d.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self.splice is not None:
            self.splice.from_upstream(data)
            return
        self._got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            offset = exc.args[0] if exc.args else len(data)
            self._upgrade_data = data[offset:]
            self._complete = True
            self._keep_alive = False
            if self.transport is not None:
                self.transport.pause_reading()
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _HeadDone):
                self.parser = httptools.HttpResponseParser(self)
            else:
                self._fail(UpstreamError(502, f"bad response from {self.pool.address}: {exc}"))
                self.close()
                return
        except httptools.HttpParserError as exc:
            self._fail(UpstreamError(502, f"bad response from {self.pool.address}: {exc}"))
            self.close()
            return
        if self._headers_done:
            head = self._head
            if head is not None and not head.done():
                self._resolve_head(head)
            else:
                self._wake()

    # -- parser callbacks ---------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) in _HOP_LENGTHS:
            ln = name.lower()
            if ln in HOP_BY_HOP:
                if ln == b"connection":
                    tokens = value.lower()
                    if tokens not in (b"keep-alive", b"close"):
                        if self._conn_drop is None:
                            self._conn_drop = []
                        self._conn_drop.extend(t.strip() for t in tokens.split(b","))
                elif ln == b"upgrade":
                    self._upgrade_header = (name, value)  # forwarded on a 101 only
                elif ln == b"trailer":
                    if self._trailer_decl is None:
                        self._trailer_decl = []
                    self._trailer_decl.append(value)
                elif ln == b"transfer-encoding":
                    self._chunked = b"chunked" in value.lower()
                return
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self._informational = True
            self._headers = []
            self._conn_drop = None
            if status == 100 and self._continue is not None and not self._continue.done():
                self._continue.set_result(None)
            return
        self._status = status
        self._headers_done = True
        headers = self._headers
        self._headers = []  # from here on: trailer fields of a chunked body
        if self._conn_drop:
            drop = set(self._conn_drop)
            headers = [(n, v) for n, v in headers if n.lower() not in drop]
        if status == 101 and self._upgrade_header is not None:
            headers.append(self._upgrade_header)
        self._head_headers = headers
        if self._is_head:
            self._complete = True
            self._keep_alive = self.parser.should_keep_alive()
            raise _HeadDone

    def on_body(self, data: bytes) -> None:
        self._chunks.append(data)
        self._size += len(data)
        if self._size > _HIGH_WATER and self._head is None and not self._reading_paused:
            self._reading_paused = True
            if self.transport is not None:
                self.transport.pause_reading()

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
            return
        self._complete = True
        self._keep_alive = self.parser.should_keep_alive()
        if self._headers and self._streaming is not None:
            self._streaming.add_trailers(self._trailer_fields())

    def _trailer_fields(self) -> list[tuple[bytes, bytes]]:
        """The chunked body's trailers, names canonical as Go's ``ReadMIMEHeader`` keeps them."""
        return [(canonical_header_bytes(n), v) for n, v in self._headers]

    # -- exchange ---------------------------------------------------------

    def _resolve_head(self, head: asyncio.Future[Response]) -> None:
        if self._timer is not None:
            self._cancel_timer()
        resp = Response(self._status, Headers(self._head_headers))
        if self._trailer_decl is not None and self._chunked and not self._is_head:
            # Go's transport moves the declared names to Response.Trailer (a bad
            # one fails the exchange); ReverseProxy announces them to the client.
            names = declared_names(self._trailer_decl)
            bad = next((n for n in names if n in BAD_RESPONSE_TRAILER), None)
            if bad is not None:
                self._fail(UpstreamError(502, f"bad response from {self.pool.address}: bad trailer key {bad.decode()!r}"))
                self.close()
                return
            if names:
                resp.headers.add(b"Trailer", b", ".join(names))
                resp.trailers = Headers()
        if self._status == 101:
            resp.upgrade = self._make_splice
        elif self._complete:
            chunks = self._chunks
            resp.body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            chunks.clear()
            self._size = 0
            if self._headers:
                resp.add_trailers(self._trailer_fields())
            if self._sending:
                # An early final response while the request body is still being
                # sent: the server will not read the rest, so the connection ends.
                self._keep_alive = False
            self._finish()
        else:
            resp.stream = ResponseStream(self)
            self._streaming = resp
        self._head = None
        head.set_result(resp)

    def _fail(self, err: BaseException) -> None:
        self._cancel_timer()
        head = self._head
        if head is not None and not head.done():
            head.set_exception(err)
            self._head = None
        c = self._continue
        if c is not None and not c.done():
            c.set_result(None)
        if not self._complete and self._error is None:
            self._error = err
            self._wake()

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_header_timeout(self) -> None:
        self._timer = None
        self._fail(UpstreamError(504, f"timeout awaiting response headers from {self.pool.address}"))
        self.close()

    def _finish(self) -> None:
        """The response is fully read: back to the pool, or closed."""
        if self._keep_alive and not self.closed:
            self.pool.release(self)
        else:
            self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.pool.forget(self)
            if self.transport is not None:
                self.transport.close()

    async def exchange(
        self,
        head: bytes,
        body: Body | None,
        *,
        chunked: bool,
        expect_continue: bool,
        is_head: bool,
        replayable: bool = False,
        failed: dict[str, Any] | None = None,
    ) -> Response:
        """Send one request and wait for the response head.

        A pooled connection the server closed while idle fails before any
        response byte; a replayable request (idempotent, no body) is then sent
        again once on a fresh connection, as Go's transport does. With ``failed``
        (a request's context), a failure is answered (see :func:`failure`)
        instead of raised.
        """
        transport = self.transport
        assert transport is not None
        # Fresh per-exchange state (inlined here: it runs for every request).
        self._status = 0
        self._headers = []
        self._head_headers = []
        self._trailer_decl = None
        self._chunked = False
        self._streaming = None
        self._conn_drop = None
        self._headers_done = False
        self._informational = False
        self._is_head = is_head
        self._got_bytes = False
        self._complete = False
        self._keep_alive = False
        self._chunks.clear()
        self._size = 0
        self._error = None
        self._continue = None
        self._upgrade_header = None
        fut: asyncio.Future[Response] = self.loop.create_future()
        self._head = fut
        timeout = self.pool.response_header_timeout
        if timeout > 0:
            self._timer = self.loop.call_later(timeout, self._on_header_timeout)
        sender: asyncio.Task[None] | None = None
        if body is None:
            transport.write(head)
        else:
            transport.write(head)
            if expect_continue:
                self._continue = self.loop.create_future()
            sender = self.loop.create_task(self._send_body(body, chunked))
        try:
            resp = await fut
        except BaseException as exc:
            if sender is not None:
                sender.cancel()
            self.close()
            if replayable and isinstance(exc, UpstreamError) and exc.retryable:
                return await self.pool.exchange_fresh(head, body, chunked, expect_continue, is_head, failed)
            if failed is not None and isinstance(exc, UpstreamError):
                return failure(failed, exc)
            raise
        if sender is not None and not sender.done():
            if resp.stream is None:
                sender.cancel()  # early final response: the rest of the body is not wanted
            else:
                resp.stream.sender = sender  # type: ignore[attr-defined]
        return resp

    async def _send_body(self, body: Body, chunked: bool) -> None:
        self._sending = True
        try:
            await self._write_body(body, chunked)
        finally:
            self._sending = False

    async def _write_body(self, body: Body, chunked: bool) -> None:
        transport = self.transport
        assert transport is not None
        if self._continue is not None:
            try:
                async with asyncio.timeout(_EXPECT_CONTINUE_TIMEOUT):
                    await self._continue
            except TimeoutError:
                pass
            if self._headers_done:
                return  # final answer without 100 Continue: do not send the body
        try:
            while True:
                chunk = await body.read()
                if not chunk:
                    break
                if chunked:
                    transport.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                else:
                    transport.write(chunk)
                if self._writing_paused:
                    self._drain = self.loop.create_future()
                    try:
                        await self._drain
                    finally:
                        self._drain = None
                if self.closed:
                    return
            if chunked:
                transport.write(b"0\r\n\r\n")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the client went away mid-body: abort the exchange
            self._fail(UpstreamError(502, f"request body: {exc}"))
            self.close()

    async def next_chunk(self) -> bytes:
        while True:
            if self._chunks:
                chunk = self._chunks.popleft()
                self._size -= len(chunk)
                if self._reading_paused and self._size < _LOW_WATER:
                    self._reading_paused = False
                    if self.transport is not None:
                        self.transport.resume_reading()
                return chunk
            if self._complete:
                return b""
            if self._error is not None:
                raise self._error
            if self._reading_paused and self.transport is not None:
                self._reading_paused = False
                self.transport.resume_reading()
            self._waiter = self.loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def _make_splice(self, client: Any, client_data: bytes) -> Splice:
        """After a 101 the connection is never returned to the pool: it is spliced."""
        return Splice(client, self, client_data, self._upgrade_data)


class ResponseStream:
    """The body of a response still arriving from the server.

    An async iterator; ``aclose()`` before the end closes the connection
    (a half-read response cannot be reused).
    """

    __slots__ = ("_conn", "_done", "sender")

    def __init__(self, conn: UpstreamConnection) -> None:
        self._conn = conn
        self._done = False
        self.sender: asyncio.Task[None] | None = None

    def __aiter__(self) -> ResponseStream:
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            raise StopAsyncIteration
        chunk = await self._conn.next_chunk()
        if chunk:
            return chunk
        self._done = True
        self._conn._finish()
        raise StopAsyncIteration

    async def aclose(self) -> None:
        if not self._done:
            self._done = True
            self._conn.close()
        if self.sender is not None and not self.sender.done():
            self.sender.cancel()


class Splice:
    """Raw bytes both ways between a client and a server after ``101 Switching Protocols``."""

    def __init__(self, client: Any, upstream: UpstreamConnection, client_data: bytes, upstream_data: bytes) -> None:
        self.client = client
        self.upstream = upstream
        upstream.splice = self
        if upstream_data:
            client.write_raw(upstream_data)
        if client_data and upstream.transport is not None:
            upstream.transport.write(client_data)
        if upstream.transport is not None:
            upstream.transport.resume_reading()
        client.resume_reading()

    def from_client(self, data: bytes) -> None:
        if self.upstream.transport is not None and not self.upstream.closed:
            self.upstream.transport.write(data)

    def from_upstream(self, data: bytes) -> None:
        self.client.write_raw(data)

    def client_paused(self, paused: bool) -> None:
        t = self.upstream.transport
        if t is not None and not self.upstream.closed:
            (t.pause_reading if paused else t.resume_reading)()

    def upstream_paused(self, paused: bool) -> None:
        (self.client.pause_reading if paused else self.client.resume_reading)()

    def peer_lost(self) -> None:
        self.upstream.close()

    def upstream_lost(self) -> None:
        self.client.close_spliced()


class ServerPool:
    """Keep-alive connections to one server (scheme, host, port, TLS settings)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        ssl: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        max_idle: int = 200,
        dial_timeout: float = 30.0,
        idle_timeout: float = 90.0,
        response_header_timeout: float = 0.0,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.host = host
        self.port = port
        self.address = f"{host}:{port}"
        self.ssl = ssl
        self.server_hostname = server_hostname
        self.max_idle = max_idle
        self.dial_timeout = dial_timeout
        self.idle_timeout = idle_timeout
        self.response_header_timeout = response_header_timeout
        self.idle: list[UpstreamConnection] = []
        self.retired = False

    async def connect(self) -> UpstreamConnection:
        try:
            async with asyncio.timeout(self.dial_timeout if self.dial_timeout > 0 else None):
                _, proto = await self.loop.create_connection(
                    lambda: UpstreamConnection(self),
                    self.host,
                    self.port,
                    ssl=self.ssl,
                    server_hostname=self.server_hostname if self.ssl else None,
                )
        except TimeoutError:
            raise UpstreamError(504, f"dial {self.address}: timeout", reached=False) from None
        except ssl.SSLError as exc:
            raise UpstreamError(tls_error_status(exc), f"TLS handshake with {self.address}: {exc}", reached=False) from None
        except OSError as exc:
            raise UpstreamError(502, f"dial {self.address}: {exc.strerror or exc}", reached=False) from None
        return proto

    def acquire_idle(self) -> UpstreamConnection | None:
        idle = self.idle
        now = self.loop.time()
        while idle:
            conn = idle.pop()
            if conn.closed:
                continue
            if self.idle_timeout > 0 and now - conn.idle_since > self.idle_timeout:
                conn.close()
                continue
            conn.reused = True
            return conn
        return None

    def release(self, conn: UpstreamConnection) -> None:
        if self.retired or len(self.idle) >= self.max_idle or conn.closed:
            conn.close()
            return
        conn.idle_since = self.loop.time()
        self.idle.append(conn)

    def forget(self, conn: UpstreamConnection) -> None:
        if conn in self.idle:
            self.idle.remove(conn)

    def retire(self) -> None:
        """No new exchanges: idle connections close now, busy ones when released."""
        self.retired = True
        for conn in self.idle:
            conn.close()
        self.idle.clear()

    def exchange(
        self,
        head: bytes,
        body: Body | None,
        *,
        chunked: bool = False,
        expect_continue: bool = False,
        is_head: bool = False,
        replayable: bool = False,
        failed: dict[str, Any] | None = None,
    ) -> Awaitable[Response]:
        """Send a request on a pooled connection, or a new one, and return the response
        (``failed``: see :meth:`UpstreamConnection.exchange`).

        Not a coroutine itself: with a pooled connection at hand it returns that
        connection's exchange directly, one frame less on the request path.
        """
        conn = self.acquire_idle()
        if conn is not None:
            return conn.exchange(
                head,
                body,
                chunked=chunked,
                expect_continue=expect_continue,
                is_head=is_head,
                replayable=replayable,
                failed=failed,
            )
        return self.exchange_fresh(head, body, chunked, expect_continue, is_head, failed)

    async def exchange_fresh(
        self,
        head: bytes,
        body: Body | None,
        chunked: bool,
        expect_continue: bool,
        is_head: bool,
        failed: dict[str, Any] | None,
    ) -> Response:
        """The exchange on a new connection (a request is never sent twice on it)."""
        try:
            conn = await self.connect()
        except UpstreamError as exc:
            if failed is None:
                raise
            return failure(failed, exc)
        return await conn.exchange(
            head, body, chunked=chunked, expect_continue=expect_continue, is_head=is_head, failed=failed
        )
