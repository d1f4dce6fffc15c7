"""HTTP/2 to servers: ``h2c://`` (prior knowledge) and ``https://`` with ALPN ``h2``.

Traefik's smart round tripper speaks HTTP/2 to a TLS server that picks ``h2``
by ALPN, HTTP/2 cleartext to ``h2c://`` servers, and HTTP/1.1 for Upgrade
requests. This module is that HTTP/2 client, an asyncio ``Protocol`` over the
``h2`` state machine: streams are multiplexed on one connection per server,
request and response bodies stream both ways at once (gRPC bidirectional
streaming), flow control gives back-pressure, and response trailers reach the
``Response`` (gRPC's status) once the body has been read.
httpcore was not used: it drops trailers and sends the whole request body
before reading the response.

A TLS connection on which the server picked ``http/1.1`` is handed to the
HTTP/1.1 pool of the same server, as Go's transport falls back per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from typing import TYPE_CHECKING

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

from edgeway.http.message import Body, Handler, Headers, Request, Response, canonical_header_bytes
from edgeway.http.proxy import upstream_target
from edgeway.http.status import error_response
from edgeway.http.trailers import declared_names
from edgeway.http.upstream import (
    HOP_BY_HOP,
    ServerPool,
    UpstreamConnection,
    UpstreamError,
    tls_error_status,
)

if TYPE_CHECKING:
    from edgeway.services.pools import PoolKey

__all__ = ["H2Pool", "H2ResponseStream", "h2_pool", "h2_server_handler"]

_STREAM_WINDOW = 1 << 20  # per-stream receive window (Go: 4 MiB)
_CONN_WINDOW = 1 << 24  # connection receive window (Go: 1 GiB)
_SKIP = HOP_BY_HOP | {b"host", b"x-forwarded-for"}
_BODY_METHODS = frozenset(("POST", "PUT", "PATCH"))


class H2Pool:
    """HTTP/2 connections to one server, multiplexing streams.

    Made by the PoolManager (:func:`h2_pool`) and retired by it like an HTTP/1.1
    pool. ``h1`` is the HTTP/1.1 pool of the same server: TLS connections whose
    server declines ``h2`` go there.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        ssl: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        dial_timeout: float = 30.0,
        idle_timeout: float = 90.0,
        response_header_timeout: float = 0.0,
        read_idle_timeout: float = 0.0,
        ping_timeout: float = 15.0,
        h1: ServerPool | None = None,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.host = host
        self.port = port
        self.address = f"{host}:{port}"
        self.ssl = ssl
        self.server_hostname = server_hostname
        self.dial_timeout = dial_timeout
        self.idle_timeout = idle_timeout
        self.response_header_timeout = response_header_timeout
        self.read_idle_timeout = read_idle_timeout
        self.ping_timeout = ping_timeout
        self.h1 = h1
        self.conns: list[H2ClientConnection] = []
        self.retired = False
        self._dialing: asyncio.Future[H2ClientConnection | None] | None = None

    def ready(self) -> H2ClientConnection | None:
        for conn in self.conns:
            if conn.can_open():
                return conn
        return None

    async def connection(self) -> H2ClientConnection | None:
        """A connection with room for a stream; None when the server chose HTTP/1.1
        (the new connection is then idle in ``h1``)."""
        while True:
            conn = self.ready()
            if conn is not None:
                return conn
            if self._dialing is None:
                self._dialing = self.loop.create_task(self._dial())
            dialing = self._dialing
            try:
                conn = await asyncio.shield(dialing)
            finally:
                if self._dialing is dialing and dialing.done():
                    self._dialing = None
            if conn is None or conn.can_open():
                return conn

    async def _dial(self) -> H2ClientConnection | None:
        try:
            async with asyncio.timeout(self.dial_timeout if self.dial_timeout > 0 else None):
                transport, conn = await self.loop.create_connection(
                    lambda: H2ClientConnection(self),
                    self.host,
                    self.port,
                    ssl=self.ssl,
                    server_hostname=self.server_hostname if self.ssl else None,
                )
        except TimeoutError:
            raise UpstreamError(504, f"dial {self.address}: timeout", reached=False) from None
        except ssl.SSLError as exc:
            raise UpstreamError(tls_error_status(exc), f"dial {self.address}: {exc}", reached=False) from None
        except OSError as exc:
            raise UpstreamError(502, f"dial {self.address}: {exc.strerror or exc}", reached=False) from None
        if conn.http1:
            if self.h1 is None:
                transport.close()
                raise UpstreamError(502, f"{self.address} did not negotiate h2")
            h1conn = UpstreamConnection(self.h1)
            transport.set_protocol(h1conn)
            h1conn.connection_made(transport)
            self.h1.release(h1conn)
            return None
        self.conns.append(conn)
        return conn

    def forget(self, conn: H2ClientConnection) -> None:
        if conn in self.conns:
            self.conns.remove(conn)

    def retire(self) -> None:
        """No new exchanges: idle connections close now (GOAWAY), busy ones after
        their last stream (``H2ClientConnection.stream_done``)."""
        self.retired = True
        for conn in list(self.conns):
            if not conn.streams:
                conn.close()


def h2_pool(key: PoolKey, ssl_context: ssl.SSLContext | None) -> H2Pool:
    """The PoolManager factory of HTTP/2 pools (keys of kind ``h2c`` or ``https+h2``)."""
    return H2Pool(
        key.host,
        key.port,
        ssl=ssl_context,
        server_hostname=key.server_name or key.host,
        dial_timeout=key.dial_timeout,
        idle_timeout=key.idle_timeout,
        response_header_timeout=key.response_header_timeout,
        read_idle_timeout=key.read_idle_timeout,
        ping_timeout=key.ping_timeout,
    )


class H2ClientConnection(asyncio.Protocol):
    """One HTTP/2 connection carrying many streams."""

    def __init__(self, pool: H2Pool) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.address = pool.address
        self.h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(
                client_side=True, header_encoding=None, validate_inbound_headers=False
            )
        )
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, H2Stream] = {}
        self.http1 = False
        self.closed = False
        self.goaway = False
        self.writing_paused = False
        self._window_waiters: list[asyncio.Future[None]] = []
        self._last_recv = self.loop.time()
        self._idle_timer: asyncio.TimerHandle | None = None
        self._ping_timer: asyncio.TimerHandle | None = None
        self._ping_deadline: asyncio.TimerHandle | None = None

    # -- transport ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sslobj = transport.get_extra_info("ssl_object")
        if sslobj is not None and sslobj.selected_alpn_protocol() != "h2":
            self.http1 = True  # the dialer hands the connection to the HTTP/1.1 pool
            return
        self.h2.local_settings = h2.settings.Settings(
            client=True,
            initial_values={
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: _STREAM_WINDOW,
            },
        )
        self.h2.initiate_connection()
        self.h2.increment_flow_control_window(_CONN_WINDOW - 65535)
        self._flush()
        self._arm_ping()
        self._arm_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self._shutdown(
            UpstreamError(502, f"connection to {self.address} closed" + (f": {exc}" if exc else ""))
        )

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._wake_senders()

    def data_received(self, data: bytes) -> None:
        self._last_recv = self.loop.time()
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self._shutdown(UpstreamError(502, f"HTTP/2 protocol error from {self.address}: {exc}"))
            return
        heads: list[H2Stream] = []
        for ev in events:
            if isinstance(ev, h2.events.DataReceived):
                s = self.streams.get(ev.stream_id)
                if s is not None:
                    s.on_data(ev.data, ev.flow_controlled_length)
                else:
                    self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.ResponseReceived):
                s = self.streams.get(ev.stream_id)
                if s is not None:
                    s.on_head(ev.headers)
                    heads.append(s)
            elif isinstance(ev, h2.events.TrailersReceived):
                s = self.streams.get(ev.stream_id)
                if s is not None:
                    s.trailers = [(canonical(n), v) for n, v in ev.headers]
                    if s.response is not None:
                        s.response.add_trailers(s.trailers)
            elif isinstance(ev, h2.events.StreamEnded):
                s = self.streams.get(ev.stream_id)
                if s is not None:
                    s.on_end()
            elif isinstance(ev, h2.events.StreamReset):
                s = self.streams.get(ev.stream_id)
                if s is not None:
                    code = (
                        h2.errors.ErrorCodes(ev.error_code).name
                        if ev.error_code in _CODES
                        else ev.error_code
                    )
                    # Go's http2.StreamError is not a net.Error: Traefik answers 500.
                    s.fail(
                        UpstreamError(500, f"stream reset by {self.address}: {code}"),
                        retryable=ev.error_code == h2.errors.ErrorCodes.REFUSED_STREAM,
                    )
            elif isinstance(ev, h2.events.WindowUpdated | h2.events.RemoteSettingsChanged):
                self._wake_senders()
            elif isinstance(ev, h2.events.PingAckReceived):
                if self._ping_deadline is not None:
                    self._ping_deadline.cancel()
                    self._ping_deadline = None
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.goaway = True
                last = ev.last_stream_id if ev.last_stream_id is not None else 0
                for sid, s in list(self.streams.items()):
                    if sid > last:
                        s.fail(UpstreamError(502, f"{self.address} sent GOAWAY"), retryable=True)
        for s in heads:
            s.resolve_head()
        self._flush()
        if self.goaway and not self.streams:
            self.close()

    # -- streams --------------------------------------------------------------

    def can_open(self) -> bool:
        if self.closed or self.goaway or self.http1:
            return False
        return len(self.streams) < self.h2.remote_settings.max_concurrent_streams

    def open_stream(
        self, headers: list[tuple[bytes, bytes]], end_stream: bool, timeout: float
    ) -> H2Stream:
        sid = self.h2.get_next_available_stream_id()
        self.h2.send_headers(sid, headers, end_stream=end_stream)
        stream = H2Stream(self, sid)
        self.streams[sid] = stream
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if timeout > 0:
            stream.timer = self.loop.call_later(timeout, stream.on_header_timeout)
        self._flush()
        return stream

    def stream_done(self, stream: H2Stream) -> None:
        if self.streams.pop(stream.sid, None) is None:
            return
        if not self.streams:
            if self.goaway or self.pool.retired:
                self.close()
            else:
                self._arm_idle()

    def reset(
        self, stream: H2Stream, code: h2.errors.ErrorCodes = h2.errors.ErrorCodes.CANCEL
    ) -> None:
        with contextlib.suppress(h2.exceptions.ProtocolError):
            self.h2.reset_stream(stream.sid, code)
        self._flush()
        self.stream_done(stream)

    async def wait_window(self) -> None:
        fut = self.loop.create_future()
        self._window_waiters.append(fut)
        await fut

    def _wake_senders(self) -> None:
        waiters, self._window_waiters = self._window_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def _flush(self) -> None:
        data = self.h2.data_to_send()
        if data and self.transport is not None and not self.closed:
            self.transport.write(data)

    # -- timers ---------------------------------------------------------------

    def _arm_idle(self) -> None:
        timeout = self.pool.idle_timeout
        if self.streams or self.closed:
            return
        if timeout > 0:
            self._idle_timer = self.loop.call_later(timeout, self._on_idle)

    def _on_idle(self) -> None:
        self._idle_timer = None
        if not self.streams:
            self.close()

    def _arm_ping(self) -> None:
        interval = self.pool.read_idle_timeout
        if interval > 0 and not self.closed:
            self._ping_timer = self.loop.call_at(self._last_recv + interval, self._on_read_idle)

    def _on_read_idle(self) -> None:
        """Go's ``SendPingTimeout``: no frame for a while -> ping, close if unanswered."""
        self._ping_timer = None
        if self.closed:
            return
        if (
            self.loop.time() - self._last_recv >= self.pool.read_idle_timeout
            and self._ping_deadline is None
        ):
            self.h2.ping(b"edgeway!")
            self._flush()
            if self.pool.ping_timeout > 0:
                self._ping_deadline = self.loop.call_later(
                    self.pool.ping_timeout, self._on_ping_timeout
                )
            self._ping_timer = self.loop.call_later(self.pool.read_idle_timeout, self._on_read_idle)
        else:
            self._arm_ping()

    def _on_ping_timeout(self) -> None:
        self._ping_deadline = None
        self._shutdown(UpstreamError(502, f"{self.address}: HTTP/2 ping timed out"))

    # -- closing --------------------------------------------------------------

    def close(self) -> None:
        if not self.closed:
            with contextlib.suppress(h2.exceptions.ProtocolError):
                self.h2.close_connection()
                self._flush()
            self._shutdown(None)

    def _shutdown(self, err: UpstreamError | None) -> None:
        first = not self.closed
        self.closed = True
        self.pool.forget(self)
        for timer in (self._idle_timer, self._ping_timer, self._ping_deadline):
            if timer is not None:
                timer.cancel()
        self._idle_timer = self._ping_timer = self._ping_deadline = None
        failure = err or UpstreamError(502, f"connection to {self.address} closed")
        for s in list(self.streams.values()):
            s.fail(failure, retryable=not s.got_frames)
        self.streams.clear()
        self._wake_senders()
        if first and self.transport is not None:
            self.transport.close()


_CODES = {int(c) for c in h2.errors.ErrorCodes}


canonical = canonical_header_bytes


class H2Stream:
    """One request/response exchange on an HTTP/2 connection."""

    __slots__ = (
        "conn",
        "sid",
        "head",
        "response",
        "chunks",
        "ended",
        "error",
        "trailers",
        "waiter",
        "timer",
        "sender",
        "got_frames",
        "retryable",
    )

    def __init__(self, conn: H2ClientConnection, sid: int) -> None:
        self.conn = conn
        self.sid = sid
        self.head: asyncio.Future[Response] = conn.loop.create_future()
        self.response: Response | None = None
        self.chunks: deque[tuple[bytes, int]] = deque()
        self.ended = False
        self.error: UpstreamError | None = None
        self.trailers: list[tuple[bytes, bytes]] | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.sender: asyncio.Task[None] | None = None
        self.got_frames = False
        self.retryable = False

    def on_head(self, headers: list[tuple[bytes, bytes]]) -> None:
        self.got_frames = True
        status = 502
        out: list[tuple[bytes, bytes]] = []
        declared: list[bytes] | None = None
        for n, v in headers:
            if n[:1] == b":":
                if n == b":status":
                    status = int(v)
            elif n == b"trailer":  # Go's transport keeps it as Response.Trailer keys
                declared = [v] if declared is None else [*declared, v]
            else:
                out.append((canonical(n), v))
        resp = self.response = Response(status, Headers(out))
        names = declared_names(declared) if declared is not None else None
        if names:
            out.append((b"Trailer", b", ".join(names)))  # ReverseProxy announces them
            resp.trailers = Headers()

    def resolve_head(self) -> None:
        """After a batch of frames: a complete response is handed over as bytes
        (its trailers already on it), anything else as a stream."""
        resp = self.response
        if resp is None or self.head.done():
            return
        self._cancel_timer()
        if self.ended:
            body = b"".join(c for c, _ in self.chunks)
            self._ack(sum(n for _, n in self.chunks))
            self.chunks.clear()
            resp.body = body
            self.finish()
        else:
            resp.stream = H2ResponseStream(self)
        self.head.set_result(resp)

    def on_data(self, data: bytes, flow: int) -> None:
        self.got_frames = True
        self.chunks.append((data, flow))
        self._wake()

    def on_end(self) -> None:
        self.ended = True
        self._wake()
        if self.response is None:
            self.fail(
                UpstreamError(502, f"stream from {self.conn.address} ended without a response")
            )

    def fail(self, err: UpstreamError, *, retryable: bool = False) -> None:
        self._cancel_timer()
        self.retryable = retryable and self.response is None
        if not self.head.done():
            self.head.set_exception(err)
        if not self.ended and self.error is None:
            self.error = err
        self._wake()
        self.conn.stream_done(self)
        if self.sender is not None and not self.sender.done():
            self.sender.cancel()

    def on_header_timeout(self) -> None:
        self.timer = None
        err = UpstreamError(504, f"timeout awaiting response headers from {self.conn.address}")
        self.conn.reset(self)
        self.fail(err)

    def finish(self) -> None:
        if self.sender is not None and not self.sender.done():
            # The response is complete while the request body is still going:
            # Go's transport stops sending it (RST_STREAM NO_ERROR after END_STREAM).
            self.sender.cancel()
            self.conn.reset(self, h2.errors.ErrorCodes.NO_ERROR)
        self.conn.stream_done(self)

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _wake(self) -> None:
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    def _ack(self, n: int) -> None:
        if n and not self.conn.closed:
            try:
                self.conn.h2.acknowledge_received_data(n, self.sid)
            except h2.exceptions.ProtocolError:
                return
            self.conn._flush()

    async def next_chunk(self) -> bytes:
        while True:
            if self.chunks:
                data, flow = self.chunks.popleft()
                self._ack(flow)
                return data
            if self.ended:
                return b""
            if self.error is not None:
                raise self.error
            self.waiter = self.conn.loop.create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None

    async def send_body(self, body: Body) -> None:
        """Stream the request body within the server's flow-control windows."""
        conn = self.conn
        h = conn.h2
        try:
            while True:
                chunk = await body.read()
                if not chunk:
                    break
                view = memoryview(chunk)
                while view:
                    if conn.closed or self.error is not None:
                        return
                    window = h.local_flow_control_window(self.sid)
                    if window <= 0 or conn.writing_paused:
                        await conn.wait_window()
                        continue
                    n = min(len(view), window, h.max_outbound_frame_size)
                    h.send_data(self.sid, view[:n].tobytes())
                    conn._flush()
                    view = view[n:]
            if not conn.closed:
                h.end_stream(self.sid)
                conn._flush()
        except asyncio.CancelledError:
            raise
        except h2.exceptions.StreamClosedError:
            return  # the server answered and closed its side: the rest is not wanted
        except Exception as exc:  # the client went away mid-body: abort the exchange
            conn.reset(self)
            self.fail(UpstreamError(502, f"request body: {exc}"))


class H2ResponseStream:
    """The body of an HTTP/2 response; ``trailers`` (canonical names) once read to the end.

    ``aclose()`` before the end resets the stream (the connection stays up).
    """

    __slots__ = ("_stream", "_done")

    def __init__(self, stream: H2Stream) -> None:
        self._stream = stream
        self._done = False

    def __aiter__(self) -> H2ResponseStream:
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            raise StopAsyncIteration
        chunk = await self._stream.next_chunk()
        if chunk:
            return chunk
        self._done = True
        self._stream.finish()
        raise StopAsyncIteration

    async def aclose(self) -> None:
        if not self._done:
            self._done = True
            s = self._stream
            if not s.ended:
                s.conn.reset(s)
            else:
                s.finish()
            if s.sender is not None and not s.sender.done():
                s.sender.cancel()


def h2_server_handler(
    pool: H2Pool,
    url_host: str,
    *,
    tls: bool,
    http1: Handler | None,
    pass_host_header: bool = True,
    path_prefix: str = "",
) -> Handler:
    """A handler forwarding requests over HTTP/2, as Go's ReverseProxy builds them.

    ``http1`` serves what HTTP/2 cannot carry (Upgrade requests) and requests
    for a TLS server that answered ALPN with ``http/1.1``.
    """
    scheme = b"https" if tls else b"http"
    url_host_b = url_host.encode("latin-1")
    timeout = pool.response_header_timeout

    def build_headers(req: Request) -> list[tuple[bytes, bytes]]:
        target = upstream_target(req, path_prefix)
        authority = (
            req.authority.encode("latin-1") if pass_host_header and req.authority else url_host_b
        )
        headers = [
            (b":method", req.method.encode("latin-1")),
            (b":scheme", scheme),
            (b":authority", authority),
            (b":path", target.encode("latin-1")),
        ]
        drop = req.context.get("connection_drop")
        skip = _SKIP | drop if drop else _SKIP
        xff: bytes | None = None
        te_trailers = False
        for n, v in req.headers.raw:
            ln = n.lower()
            if ln in skip:
                if ln == b"x-forwarded-for":
                    xff = v if xff is None else xff + b", " + v
                elif ln == b"te" and b"trailers" in v.lower():
                    te_trailers = True
                continue
            headers.append((ln, v))
        if "omit_xff" not in req.context:
            ip = req.client_ip.encode()
            headers.append((b"x-forwarded-for", xff + b", " + ip if xff else ip))
        if te_trailers:
            headers.append((b"te", b"trailers"))
        if req.body is None and req.content_length is None and req.method in _BODY_METHODS:
            headers.append((b"content-length", b"0"))  # Go's shouldSendReqContentLength
        return headers

    async def exchange(
        req: Request, conn: H2ClientConnection, headers: list[tuple[bytes, bytes]]
    ) -> Response:
        body = req.body
        try:
            stream = conn.open_stream(headers, body is None, timeout)
        except h2.exceptions.ProtocolError as exc:  # a header HTTP/2 cannot carry
            raise UpstreamError(502, f"request to {conn.address}: {exc}") from None
        if body is not None:
            stream.sender = conn.loop.create_task(stream.send_body(body))
        try:
            return await stream.head
        except BaseException:
            if stream.sender is not None and not stream.sender.done():
                stream.sender.cancel()
            conn.reset(stream)
            if stream.retryable and body is None:
                raise _Refused from None
            raise

    async def forward(req: Request) -> Response:
        if req.upgrade is not None and http1 is not None:
            return await http1(req)
        try:
            for attempt in (1, 2):
                conn = pool.ready()
                if conn is None:
                    if http1 is not None and pool.h1 is not None and pool.h1.idle:
                        return await http1(req)
                    conn = await pool.connection()
                    if conn is None:
                        # The server picked HTTP/1.1: the connection is idle in the h1 pool.
                        assert http1 is not None
                        return await http1(req)
                try:
                    return await exchange(req, conn, build_headers(req))
                except _Refused:
                    # Refused or never seen by the server (GOAWAY, closed idle
                    # connection): a request without body is sent once more.
                    if attempt == 2:
                        raise UpstreamError(
                            502, f"{pool.address} refused the stream"
                        ) from None
            raise AssertionError("unreachable")
        except UpstreamError as exc:
            req.context["upstream_error"] = str(exc)
            if not exc.reached:
                req.context["upstream_unreached"] = True
            return error_response(exc.status)

    return forward


class _Refused(Exception):
    """The server did not process the stream: it may be sent again."""
