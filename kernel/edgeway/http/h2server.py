"""The HTTP/2 server side: an asyncio ``Protocol`` over the ``h2`` state machine.

One instance per client connection, on any transport: TLS after ALPN ``h2``
(the connection layer creates it), or cleartext h2c, handed over by the
HTTP/1.1 protocol (``server.py``) on the connection preface or an
``Upgrade: h2c`` request. Each stream becomes one
:class:`~edgeway.http.message.Request` run in its own task through the entry
point's handler, the same routers, middlewares and services as HTTP/1.1.

It follows Go's HTTP/2 server (``golang.org/x/net/http2``, ``server.go``), which
Traefik uses:

- request bodies arrive as a :class:`Body` whose reads hand window back to the
  client (WINDOW_UPDATE), so a slow reader slows the client down; responses are
  sent within the client's flow-control windows and the socket's buffer;
- a malformed request (pseudo-headers, connection-specific headers, ``TE``
  other than ``trailers``) is a stream error (RST_STREAM PROTOCOL_ERROR), as is
  a stream over ``maxConcurrentStreams`` (REFUSED_STREAM while our SETTINGS
  are unacknowledged); a header list over ``maxHeaderBytes`` gets 431;
- RST_STREAM from the client cancels that stream's task only (and with it the
  upstream exchange); the connection and its other streams go on;
- GOAWAY (NO_ERROR) on graceful stop, idle timeout and ``keepAliveMax*``:
  streams already begun finish, then the connection closes;
- per stream, ``readTimeout`` fails a request body still arriving and
  ``writeTimeout`` resets a stream still answering (Go's
  ``onReadTimeout``/``onWriteTimeout``), both from the entry point's sweeper.

The ``X-Forwarded-*`` headers and the request-target are handled by the code
the HTTP/1.1 server uses (``forwarded.append_forwarded``, ``server.parse_target``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
from collections import deque
from typing import TYPE_CHECKING, Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
from hyperframe.frame import GoAwayFrame

from edgeway.http.forwarded import FLAG, append_forwarded, is_managed
from edgeway.http.message import (
    Body,
    BytesBody,
    Headers,
    Request,
    Response,
    canonical_header_bytes,
    normalize_host,
)
from edgeway.http.server import (
    _METHODS,
    PREFACE,
    ClientDisconnected,
    _close_stream,
    _ParseAbort,
    parse_target,
)
from edgeway.http.status import error_response, http_date
from edgeway.http.trailers import h2_trailer_fields

if TYPE_CHECKING:
    from edgeway.entrypoint import EntryPoint

__all__ = ["PREFACE", "H2ServerProtocol", "h2c_settings"]

log = logging.getLogger("edgeway.http2")

_STREAM_WINDOW = 1 << 20  # Go's initial stream receive window
_CONN_WINDOW = 1 << 20  # Go's connection receive window (MaxUploadBufferPerConnection)
_MAX_FRAME = 1 << 20  # Go's maxReadFrameSize
_GOAWAY_TIMEOUT = 1.0  # Go's goAwayTimeout: close this long after a graceful GOAWAY
_HEADER_OVERHEAD = 320  # Go: MaxHeaderListSize = MaxHeaderBytes + 10 fields * 32
_NO_ERROR = h2.errors.ErrorCodes.NO_ERROR
_PROTOCOL_ERROR = h2.errors.ErrorCodes.PROTOCOL_ERROR
_REFUSED = h2.errors.ErrorCodes.REFUSED_STREAM
_INTERNAL = h2.errors.ErrorCodes.INTERNAL_ERROR
_CANCEL = h2.errors.ErrorCodes.CANCEL

#: Request headers HTTP/2 forbids, in the order Go's ``checkValidHTTP2RequestHeaders``
#: looks for them (the first one found is named in its 400).
_CONNECTION_ORDER = {n: i for i, n in enumerate((b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"))}
_CONNECTION_SPECIFIC = frozenset(_CONNECTION_ORDER)
#: Response headers never sent over HTTP/2 (the client would reject the stream).
_RESPONSE_SKIP = _CONNECTION_SPECIFIC | {b"content-length", b"date"}
_PSEUDO = frozenset((b":method", b":scheme", b":authority", b":path", b":protocol"))
#: Go's validWireHeaderFieldName: a lower-case token.
_VALID_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+").fullmatch
#: httpguts.ValidHeaderFieldValue fails on control characters but tab.
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]").search
_HEADER_TOO_LARGE = b"<h1>HTTP Error 431</h1><p>Request Header Field(s) Too Large</p>"


def h2c_settings(values: list[bytes]) -> bytes | None:
    """The ``HTTP2-Settings`` of an ``Upgrade: h2c`` request as a SETTINGS payload,
    or None when Go's h2c handler refuses it (not exactly one value, not
    unpadded base64url, not whole settings)."""
    if len(values) != 1:
        return None
    value = values[0].strip()
    if b"=" in value:
        return None
    try:
        payload = base64.urlsafe_b64decode(value + b"=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None
    return payload if len(payload) % 6 == 0 else None


class _Connection(h2.connection.H2Connection):
    """h2's state machine without its own stream limit: h2 would end the whole
    connection, where Go refuses just the stream (see ``_on_request``)."""

    @property
    def open_inbound_streams(self) -> int:  # type: ignore[override]
        h2.connection.H2Connection.open_inbound_streams.fget(self)  # type: ignore[attr-defined]  # prunes closed streams
        return 0


class H2Body(Body):
    """A request body on one stream; each chunk read hands its window back."""

    __slots__ = ("_proto", "_sid", "_chunks", "done", "_error", "_waiter", "expect_continue")

    def __init__(self, proto: H2ServerProtocol, sid: int, expect_continue: bool) -> None:
        self._proto = proto
        self._sid = sid
        self._chunks: deque[tuple[bytes, int]] = deque()
        self.done = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self.expect_continue = expect_continue

    def feed(self, data: bytes, flow: int) -> None:
        self._chunks.append((data, flow))
        self._wake()

    def finish(self) -> None:
        self.done = True
        self._wake()

    def fail(self, exc: BaseException) -> None:
        if not self.done and self._error is None:
            self._error = exc
            self._wake()

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    async def read(self) -> bytes:
        if self.expect_continue:  # Go's requestBody.Read: on the first read, whatever arrived
            self.expect_continue = False
            self._proto.send_continue(self._sid)
        while True:
            if self._error is not None:
                raise self._error
            if self._chunks:
                data, flow = self._chunks.popleft()
                self._proto.ack(self._sid, flow)
                if data:
                    return data
                continue
            if self.done:
                return b""
            self._waiter = self._proto.loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None


class _Stream:
    __slots__ = ("sid", "req", "body", "task", "read_deadline", "write_deadline", "goaway_after")

    def __init__(self, sid: int, req: Request, body: H2Body | None) -> None:
        self.sid = sid
        self.req = req
        self.body = body
        self.task: asyncio.Task[None] | None = None
        self.read_deadline = 0.0
        self.write_deadline = 0.0
        self.goaway_after = False


class H2ServerProtocol(asyncio.Protocol):
    """HTTP/2 for one client connection of an entry point.

    ``tls`` is the connection's ``ssl.SSLObject`` (by default the transport's
    ``ssl_object``); ``scheme`` defaults to ``https`` with TLS, else ``http``.
    ``upgrade`` is ``(request, settings)`` when an ``Upgrade: h2c`` request
    switched the connection: that request becomes stream 1.
    """

    def __init__(
        self,
        ep: EntryPoint,
        *,
        tls: Any = None,
        scheme: str | None = None,
        upgrade: tuple[Request, bytes] | None = None,
        peer: tuple[Any, ...] | None = None,
    ) -> None:
        self.ep = ep
        self._peer = peer
        self.loop = ep.loop
        self.tls = tls
        self.scheme = scheme
        self._upgrade = upgrade
        # An upgraded request's body (Content-Length bytes) comes before HTTP/2.
        self._upgrade_left = (upgrade[0].content_length or 0) if upgrade is not None else 0
        self._upgrade_body = bytearray()
        self.h2 = _Connection(
            h2.config.H2Configuration(
                client_side=False,
                header_encoding=None,
                validate_inbound_headers=False,
                validate_outbound_headers=False,
                normalize_inbound_headers=False,
                normalize_outbound_headers=False,
            )
        )
        self.transport: asyncio.Transport | None = None
        self.client_ip = ""
        self.client_port = 0
        self._client_ip_b = b""
        self.trusted = False
        self.streams: dict[int, _Stream] = {}
        self._forwarded: dict[tuple[bytes, bytes], list[tuple[bytes, bytes]]] = {}
        self._header_limit = ep.max_header_bytes + _HEADER_OVERHEAD
        self._settings_acked = False
        self._writing_paused = False
        self._window_waiters: list[asyncio.Future[None]] = []
        self._goaway_sent = False
        self._last_sid = 0
        self._closing = False
        self._served = 0
        self._started = 0.0
        self._idle_since = 0.0
        self._close_at = 0.0
        self.deadline = 0.0

    # -- connection -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        ep = self.ep
        peer = self._peer or transport.get_extra_info("peername")
        if peer:
            self.client_ip, self.client_port = peer[0], peer[1]
        self._client_ip_b = self.client_ip.split("%", 1)[0].encode()
        self.trusted = ep.insecure or ep.trusted(self.client_ip)
        if self.tls is None:
            self.tls = transport.get_extra_info("ssl_object")
        if self.scheme is None:
            self.scheme = "https" if self.tls is not None else "http"
        self._started = self._idle_since = self.loop.time()
        ep.connections.add(self)
        h = self.h2
        h.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: ep.h2_max_concurrent_streams,
                h2.settings.SettingCodes.HEADER_TABLE_SIZE: ep.h2_max_decoder_table_size,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: _STREAM_WINDOW,
                h2.settings.SettingCodes.MAX_FRAME_SIZE: _MAX_FRAME,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: self._header_limit,
            },
        )
        # h2 takes initial values as already in force for windows but not for
        # these: set them as the client may use them once it has our SETTINGS
        # (the table size only when it acknowledged them: it may be smaller).
        h.max_inbound_frame_size = _MAX_FRAME
        h.decoder.max_allowed_table_size = max(4096, ep.h2_max_decoder_table_size)
        # Decode beyond the advertised limit so an oversized list gets Go's 431,
        # not the connection error h2 raises at its own limit.
        h.decoder.max_header_list_size = 2 * self._header_limit + (1 << 16)
        h.encoder.header_table_size = min(4096, ep.h2_max_encoder_table_size)
        if self._upgrade is None:
            h.initiate_connection()
            h.increment_flow_control_window(_CONN_WINDOW - 65535)
            self._flush()
        elif not self._upgrade_left:
            self._switch()
        self._rearm()

    def _switch(self) -> None:
        """``Upgrade: h2c`` with its body read (as Go's h2c handler reads it first):
        101, our SETTINGS, and the request as stream 1."""
        assert self._upgrade is not None and self.transport is not None
        req, settings = self._upgrade
        self._upgrade = None
        if self._upgrade_body:
            req.body = BytesBody(bytes(self._upgrade_body))
            self._upgrade_body = bytearray()
        self.transport.write(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
        h = self.h2
        h.initiate_upgrade_connection(base64.urlsafe_b64encode(settings))
        h.increment_flow_control_window(_CONN_WINDOW - 65535)
        self._flush()
        self._last_sid = 1
        self._start(_Stream(1, req, None))

    def connection_lost(self, exc: Exception | None) -> None:
        self.ep.connections.discard(self)
        self._closing = True
        err = ClientDisconnected("client connection closed")
        for stream in list(self.streams.values()):
            self._cancel(stream, err)
        self._wake_senders()

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._wake_senders()

    def data_received(self, data: bytes) -> None:
        if self._upgrade is not None:
            n = self._upgrade_left
            self._upgrade_body += data[:n]
            self._upgrade_left -= len(data[:n])
            if self._upgrade_left:
                return
            self._switch()
            data = data[n:]
            if not data:
                return
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            log.debug("HTTP/2 connection error from %s: %s", self.client_ip, exc)
            self._flush()  # h2's GOAWAY
            self._close()
            return
        for ev in events:
            if isinstance(ev, h2.events.DataReceived):
                stream = self.streams.get(ev.stream_id)
                if stream is not None and stream.body is not None:
                    stream.body.feed(ev.data or b"", ev.flow_controlled_length)
                else:  # nobody will read it: hand the window straight back
                    self.ack(ev.stream_id, ev.flow_controlled_length)
            elif isinstance(ev, h2.events.RequestReceived):
                self._on_request(ev.stream_id, ev.headers, ev.stream_ended is not None)
            elif isinstance(ev, h2.events.StreamEnded):
                stream = self.streams.get(ev.stream_id)
                if stream is not None and stream.body is not None:
                    stream.body.finish()
                    stream.read_deadline = 0.0
            elif isinstance(ev, h2.events.StreamReset):
                stream = self.streams.get(ev.stream_id)
                if stream is not None:
                    self._cancel(stream, ClientDisconnected("stream reset by the client"))
            elif isinstance(ev, h2.events.WindowUpdated):
                self._wake_senders()
            elif isinstance(ev, h2.events.RemoteSettingsChanged):
                changed = ev.changed_settings.get(h2.settings.SettingCodes.HEADER_TABLE_SIZE)
                if changed is not None:
                    self.h2.encoder.header_table_size = min(changed.new_value, self.ep.h2_max_encoder_table_size)
                self._wake_senders()
            elif isinstance(ev, h2.events.SettingsAcknowledged):
                self._settings_acked = True
                self.h2.decoder.max_allowed_table_size = self.ep.h2_max_decoder_table_size
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self._goaway_sent = True  # the client is done: no new streams either way
                if not self.streams:
                    self._close()
        self._flush()
        self._rearm()

    # -- streams ----------------------------------------------------------------

    def _on_request(self, sid: int, headers: list[tuple[bytes, bytes]], ended: bool) -> None:
        """A new stream: refuse it (Go's stream errors), or start its task."""
        self._last_sid = max(self._last_sid, sid)
        if self._goaway_sent or self._closing:
            self._reset(sid, _REFUSED)
            return
        if len(self.streams) >= self.ep.h2_max_concurrent_streams:
            # Over the limit the client was told: its fault once it acknowledged
            # our SETTINGS, a race before (processHeaders "over_max_streams").
            self._reset(sid, _PROTOCOL_ERROR if self._settings_acked else _REFUSED)
            return
        built = self._request(sid, headers, ended)
        if isinstance(built, Response):
            self._start(_Stream(sid, Request("GET", "/", "", Headers()), None), built)
        elif built is None:
            self._reset(sid, _PROTOCOL_ERROR)
        else:
            self._start(_Stream(sid, built, built.body if isinstance(built.body, H2Body) else None))

    def _start(self, stream: _Stream, answer: Response | None = None) -> None:
        self.streams[stream.sid] = stream
        ep = self.ep
        now = self.loop.time()
        if stream.body is not None and ep.read_timeout > 0:
            stream.read_deadline = now + ep.read_timeout
        if ep.write_timeout > 0:
            stream.write_deadline = now + ep.write_timeout
        self._served += 1
        if (ep.keep_alive_max_requests and self._served >= ep.keep_alive_max_requests) or (
            ep.keep_alive_max_time and now - self._started >= ep.keep_alive_max_time
        ):
            stream.goaway_after = True  # Traefik's keepAlive middleware: "Connection: close"
        stream.task = self.loop.create_task(self._serve(stream, answer))

    def _request(self, sid: int, fields: list[tuple[bytes, bytes]], ended: bool) -> Request | Response | None:
        """The stream's Request, an answer Go's server gives itself (431, or 400 for
        connection-specific headers), or None for a malformed request: a stream
        error (Go's ``checkPseudos``, ``newWriterAndRequest``)."""
        pseudo: dict[bytes, bytes] = {}
        headers: list[tuple[bytes, bytes]] = []
        size = 0
        regular = False
        cookies = 0
        te: list[bytes] = []
        trusted = self.trusted
        flags = 0
        sent_proto = b""
        xff: list[bytes] | None = None
        expect = False
        clen: bytes | None = None
        host_header: bytes | None = None
        bad: bytes | None = None
        for n, v in fields:
            size += len(n) + len(v) + 32
            if n[:1] == b":":
                if regular or n not in _PSEUDO or n in pseudo:
                    return None
                pseudo[n] = v
                continue
            regular = True
            if _VALID_NAME(n) is None or _BAD_VALUE(v) is not None:
                return None
            if n in _CONNECTION_SPECIFIC:
                bad = n if bad is None or _CONNECTION_ORDER[n] < _CONNECTION_ORDER[bad] else bad
            c = n[0]
            if c == 0x78 and is_managed(n):  # 'x': X-Forwarded-*, X-Real-Ip
                if not trusted or n == b"x-forwarded-server":
                    continue
                if n == b"x-forwarded-for":
                    xff = [v] if xff is None else [*xff, v]
                    continue
                if v:
                    flags |= FLAG.get(n, 0)
                    if n == b"x-forwarded-proto":
                        sent_proto = v
            elif n == b"te":
                te.append(v)
            elif n == b"cookie":
                cookies += 1
            elif n == b"expect":
                if b"100-continue" in v.lower():
                    expect = True
                    continue  # Go's server handles it and removes it
            elif n == b"content-length":
                clen = v if clen is None else clen
            elif n == b"host":
                host_header = v if host_header is None else host_header
            elif n == b"trailer":
                continue  # request trailers are not forwarded
            headers.append((canonical_header_bytes(n), v))
        method_b = pseudo.get(b":method", b"")
        path_b = pseudo.get(b":path", b"")
        scheme = pseudo.get(b":scheme", b"")
        if b":protocol" in pseudo or method_b == b"CONNECT":
            return None  # extended CONNECT and tunnels are not served
        if not method_b or not path_b or scheme not in (b"http", b"https"):
            return None
        if _BAD_VALUE(path_b) is not None or b"\t" in path_b:
            return None  # url.ParseRequestURI refuses control characters
        if path_b[:1] != b"/" and path_b != b"*" and b"://" not in path_b:
            return None
        if b" " in path_b:
            path_b = path_b.replace(b" ", b"%20")  # as Go's EscapedPath forwards it
        try:
            path, query, force_query, _ = parse_target(path_b, self.ep)
        except _ParseAbort:
            return None
        if size > self._header_limit:
            return Response(431, Headers([(b"Content-Type", b"text/html; charset=utf-8")]), _HEADER_TOO_LARGE)
        if bad is not None:  # Go's new400Handler(checkValidHTTP2RequestHeaders)
            name = canonical_header_bytes(bad).decode()
            return Response.text(400, f'request header "{name}" is not valid in HTTP/2')
        if len(te) > 1 or (te and te[0] not in (b"trailers", b"")):
            return Response.text(400, 'request header "TE" may only be "trailers" in HTTP/2')
        if cookies > 1:
            joined = b"; ".join(v for n, v in headers if n == b"Cookie")
            first = next(i for i, (n, _) in enumerate(headers) if n == b"Cookie")
            headers = [(n, v) for n, v in headers if n != b"Cookie"]
            headers.insert(first, (b"Cookie", joined))
        authority_b = pseudo.get(b":authority") or host_header or b""
        authority = authority_b.decode("latin-1")
        proto = b"https" if self.scheme == "https" else b"http"
        append_forwarded(
            headers, flags, sent_proto, xff, self._client_ip_b, proto,
            authority, authority_b, self.ep.server_name, self._forwarded,
        )  # fmt: skip
        content_length: int | None = None
        body: H2Body | None = None
        if not ended:
            body = H2Body(self, sid, expect)
            if clen is not None:
                content_length = int(clen) if clen.isdigit() else 0
        elif clen is not None:
            content_length = 0
        req = Request(
            _METHODS.get(method_b) or method_b.decode("latin-1"),
            path,
            query.decode("latin-1") if query else "",
            Headers(headers),
            authority,
            self.scheme or "http",
            "2.0",
            self.client_ip,
            self.client_port,
            body,
            content_length,
            self.ep.name,
            self.tls,
            normalize_host(authority),
        )
        req.keep_alive = True
        if force_query:
            req.context["force_query"] = True
        return req

    async def _serve(self, stream: _Stream, answer: Response | None) -> None:
        req = stream.req
        try:
            if answer is not None:
                resp = answer
            else:
                try:
                    if req.raw_path == "*" and req.method == "OPTIONS":
                        resp = Response(200)
                    else:
                        try:
                            resp = answer = await (self.ep.handler if self.tls is None else self.ep.https_handler)(req)
                        finally:
                            if req.on_response is not None:  # the route's meters (metrics.hoist)
                                req.on_response(req, answer, req.started)  # answer: None here if it raised
                except ClientDisconnected:
                    self._reset(stream.sid, _CANCEL)
                    return
                except Exception:
                    log.exception("handler failed for %r", req)
                    resp = error_response(500)
            await self._send(stream, resp)
        except (ClientDisconnected, ConnectionError, h2.exceptions.StreamClosedError):
            pass
        except asyncio.CancelledError:
            if not self._closing:
                self._reset(stream.sid, _CANCEL)
        except Exception:
            log.exception("failed to send the response for %r", req)
            self._reset(stream.sid, _INTERNAL)
        finally:
            self._stream_done(stream)

    async def _send(self, stream: _Stream, resp: Response) -> None:
        """HEADERS, DATA within the windows, then trailers or END_STREAM."""
        sid = stream.sid
        status = resp.status
        no_body = stream.req.method == "HEAD" or status < 200 or status == 204 or status == 304
        fields = [(b":status", b"%d" % status)]
        has_date = False
        declared: bytes | None = None
        for n, v in resp.headers.raw:
            ln = n.lower()
            if ln in _RESPONSE_SKIP:
                if ln == b"content-length":
                    declared = v
                elif ln == b"date":
                    has_date = True
                    fields.append((ln, v))
                elif ln == b"transfer-encoding" and v == b"trailers":
                    fields.append((ln, v))
                continue
            fields.append((ln, v))
        if not has_date:
            fields.append((b"date", http_date()))
        stream_body = resp.stream
        body = resp.body
        if stream_body is None and resp.trailers is None:
            if not no_body or (body and status >= 200 and status != 204 and status != 304):
                fields.append((b"content-length", b"%d" % len(body)))
            elif declared is not None:
                fields.append((b"content-length", declared))
        elif declared is not None and status >= 200 and status != 204 and status != 304:
            fields.append((b"content-length", declared))
        h = self.h2
        if self._closing:
            raise ClientDisconnected("client connection closed")
        trailers = h2_trailer_fields(resp.trailers)
        end_now = no_body or (stream_body is None and not body and not trailers)
        h.send_headers(sid, fields, end_stream=end_now)
        self._flush()
        self._after_headers(stream)
        if end_now:
            if stream_body is not None:
                await _close_stream(stream_body)
            if resp.on_sent is not None:
                resp.on_sent()
            return
        if stream_body is None:
            await self._send_data(sid, body)
        else:
            try:
                async for chunk in stream_body:
                    if chunk:
                        await self._send_data(sid, chunk)
            finally:
                await _close_stream(stream_body)
            trailers = h2_trailer_fields(resp.trailers)  # complete now the body is read
        if trailers:
            h.send_headers(sid, trailers, end_stream=True)
        else:
            h.end_stream(sid)
        self._flush()
        if resp.on_sent is not None:
            resp.on_sent()

    def _after_headers(self, stream: _Stream) -> None:
        if stream.goaway_after or self.ep.stopping:
            self._send_goaway()

    async def _send_data(self, sid: int, data: bytes) -> None:
        view = memoryview(data)
        h = self.h2
        while view:
            if self._closing:
                raise ClientDisconnected("client connection closed")
            window = h.local_flow_control_window(sid)  # StreamClosedError once reset
            if window <= 0 or self._writing_paused:
                fut = self.loop.create_future()
                self._window_waiters.append(fut)
                await fut
                continue
            n = min(len(view), window, h.max_outbound_frame_size)
            h.send_data(sid, view[:n].tobytes())
            self._flush()
            view = view[n:]

    def _stream_done(self, stream: _Stream) -> None:
        if self.streams.pop(stream.sid, None) is None:
            return
        body = stream.body
        if body is not None and not body.done:
            # The answer is complete while the client still sends: Go resets the
            # stream (NO_ERROR) so it stops; what is in flight is discarded.
            self._reset(stream.sid, _NO_ERROR)
            body.fail(ClientDisconnected("stream finished"))
        if not self.streams:
            self._idle_since = self.loop.time()
            if self._goaway_sent:
                self._close_later()
        self._rearm()

    def _cancel(self, stream: _Stream, err: ClientDisconnected) -> None:
        """The client reset the stream (or left): only this stream's task ends."""
        if stream.body is not None:
            stream.body.fail(err)
        if stream.task is not None and not stream.task.done():
            stream.task.cancel()
        self.streams.pop(stream.sid, None)
        self._wake_senders()
        if not self.streams:
            self._idle_since = self.loop.time()
            if self._goaway_sent and not self._closing:
                self._close_later()

    # -- frames -----------------------------------------------------------------

    def ack(self, sid: int, flow: int) -> None:
        """Flow-controlled bytes consumed: window back to the client."""
        if flow and not self._closing:
            try:
                self.h2.acknowledge_received_data(flow, sid)
            except (h2.exceptions.ProtocolError, ValueError):
                return
            self._flush()

    def send_continue(self, sid: int) -> None:
        if not self._closing and sid in self.streams:
            try:
                self.h2.send_headers(sid, [(b":status", b"100")])
            except h2.exceptions.ProtocolError:
                return
            self._flush()

    def _reset(self, sid: int, code: h2.errors.ErrorCodes) -> None:
        if self._closing:
            return
        try:
            self.h2.reset_stream(sid, code)
        except h2.exceptions.ProtocolError:
            return  # already closed
        self._flush()

    def _wake_senders(self) -> None:
        waiters, self._window_waiters = self._window_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def _flush(self) -> None:
        data = self.h2.data_to_send()
        if data and self.transport is not None and not self._closing:
            self.transport.write(data)

    def _send_goaway(self) -> None:
        """A graceful GOAWAY: streams up to the last one seen finish. Written
        directly, since h2's own GOAWAY closes its state machine to the frames
        the streams in flight still need."""
        if self._goaway_sent or self._closing:
            return
        self._goaway_sent = True
        self._flush()
        frame = GoAwayFrame(stream_id=0, last_stream_id=self._last_sid, error_code=0)
        assert self.transport is not None
        self.transport.write(frame.serialize())
        if not self.streams:
            self._close_later()

    def _close_later(self) -> None:
        """Go closes ``goAwayTimeout`` after a graceful GOAWAY once no stream is
        left, unless the client closes first."""
        if not self._close_at:
            self._close_at = self.loop.time() + _GOAWAY_TIMEOUT
            self._rearm()

    def _close(self) -> None:
        if not self._closing:
            if self.transport is not None:
                self._flush()
                self.transport.close()
            self._closing = True

    def close_if_idle(self) -> bool:
        """Graceful stop: GOAWAY once, then close when no stream is left."""
        self._send_goaway()
        if not self.streams:
            self._close()
            return True
        return False

    # -- timeouts ---------------------------------------------------------------

    def _rearm(self) -> None:
        """``deadline`` for the entry point's sweeper: the earliest of the idle
        timeout (no stream), the streams' read/write timeouts, the close after GOAWAY."""
        candidates = [d for s in self.streams.values() for d in (s.read_deadline, s.write_deadline) if d]
        if not self.streams and self.ep.idle_timeout > 0:
            candidates.append(self._idle_since + self.ep.idle_timeout)
        if self._close_at:
            candidates.append(self._close_at)
        self.deadline = min(candidates) if candidates else 0.0

    def on_deadline(self) -> None:
        now = self.loop.time()
        if self._close_at and now >= self._close_at:
            self._close()
            return
        if not self.streams and self.ep.idle_timeout > 0 and now >= self._idle_since + self.ep.idle_timeout:
            self._send_goaway()  # Go's idle timer: GOAWAY, close once it is out
        for stream in list(self.streams.values()):
            if stream.read_deadline and now >= stream.read_deadline:
                stream.read_deadline = 0.0
                if stream.body is not None:
                    stream.body.fail(ClientDisconnected("read timeout"))
            if stream.write_deadline and now >= stream.write_deadline:
                stream.write_deadline = 0.0
                self._reset(stream.sid, _INTERNAL)  # Go's onWriteTimeout
                self._cancel(stream, ClientDisconnected("write timeout"))
        self._rearm()

