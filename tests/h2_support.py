"""A small HTTP/2 client over the ``h2`` state machine, for tests at the frame level.

It speaks h2c with prior knowledge (or over any ``asyncio`` stream, e.g. TLS),
keeps every stream's response, trailers, reset code and the connection's GOAWAY,
and lets a test send what a well-behaved client would not (resets, oversized
streams, forbidden headers, windows never opened).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import h2.config
import h2.connection
import h2.events
import h2.settings


class _Unchecked(h2.connection.H2Connection):
    """Lets a test open more streams than the server allows, and keeps reading the
    streams in flight after a GOAWAY (h2 would close its state machine, where
    Go's and gRPC's clients let the streams the GOAWAY covers finish)."""

    def _receive_goaway_frame(self, frame: Any) -> tuple[list[Any], list[Any]]:
        ev = h2.events.ConnectionTerminated()
        ev.error_code = frame.error_code
        ev.last_stream_id = frame.last_stream_id
        ev.additional_data = frame.additional_data or None
        return [], [ev]

    @property
    def open_outbound_streams(self) -> int:  # type: ignore[override]
        h2.connection.H2Connection.open_outbound_streams.fget(self)  # type: ignore[attr-defined]
        return 0


@dataclass
class H2Reply:
    status: int = 0
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    trailers: list[tuple[str, str]] = field(default_factory=list)
    reset: int | None = None
    informational: list[int] = field(default_factory=list)
    ended: bool = False

    def header(self, name: str) -> str | None:
        for n, v in self.headers:
            if n == name.lower():
                return v
        return None


@dataclass
class _State:
    reply: H2Reply = field(default_factory=H2Reply)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    got_head: asyncio.Event = field(default_factory=asyncio.Event)
    chunks: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)


class H2Client:
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, window: int = 65535
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.conn = _Unchecked(
            h2.config.H2Configuration(
                client_side=True,
                header_encoding=None,
                validate_inbound_headers=False,
                validate_outbound_headers=False,
                normalize_outbound_headers=False,
            )
        )
        self.streams: dict[int, _State] = {}
        self.goaway: h2.events.ConnectionTerminated | None = None
        self.remote_settings: dict[int, int] = {}
        self.closed = asyncio.Event()
        self.auto_ack = True
        self._window = window
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def connect(
        cls,
        port: int,
        *,
        window: int = 65535,
        settings: dict[int, int] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        preamble: bytes = b"",
    ) -> H2Client:
        """``preamble``: bytes sent before TLS and HTTP/2 (a PROXY protocol header)."""
        tls: dict[str, Any] = {"ssl": ssl_context} if not preamble else {}
        if server_hostname is not None and not preamble:
            tls["server_hostname"] = server_hostname
        reader, writer = await asyncio.open_connection("127.0.0.1", port, **tls)
        if preamble:
            writer.write(preamble)
            await writer.drain()
            if ssl_context is not None:
                await writer.start_tls(ssl_context, server_hostname=server_hostname or "127.0.0.1")
        client = cls(reader, writer, window=window)
        initial = {
            h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window,
            h2.settings.SettingCodes.ENABLE_PUSH: 0,
        }
        initial.update(settings or {})
        client.conn.local_settings = h2.settings.Settings(client=True, initial_values=initial)
        client.conn.initiate_connection()
        client.start()
        return client

    def start(self) -> None:
        self.flush()
        self._task = asyncio.get_running_loop().create_task(self._read())

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data and not self.writer.is_closing():
            self.writer.write(data)

    async def _read(self) -> None:
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                for ev in self.conn.receive_data(data):
                    self._on_event(ev)
                self.flush()
                self._changed.set()
        except (ConnectionError, h2.exceptions.ProtocolError):
            pass
        finally:
            self.closed.set()
            for st in self.streams.values():
                st.done.set()
                st.got_head.set()
            self._changed.set()

    def _on_event(self, ev: Any) -> None:
        st = self.streams.get(getattr(ev, "stream_id", 0) or 0)
        if isinstance(ev, h2.events.ResponseReceived) and st is not None:
            for n, v in ev.headers:
                if n == b":status":
                    st.reply.status = int(v)
                else:
                    st.reply.headers.append((n.decode(), v.decode("latin-1")))
            st.got_head.set()
        elif isinstance(ev, h2.events.InformationalResponseReceived) and st is not None:
            st.reply.informational.append(int(dict(ev.headers)[b":status"]))
        elif isinstance(ev, h2.events.DataReceived) and st is not None:
            st.reply.body += ev.data
            st.chunks.put_nowait(ev.data)
            if self.auto_ack:
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.TrailersReceived) and st is not None:
            st.reply.trailers = [(n.decode(), v.decode("latin-1")) for n, v in ev.headers]
        elif isinstance(ev, h2.events.StreamEnded) and st is not None:
            st.reply.ended = True
            st.done.set()
        elif isinstance(ev, h2.events.StreamReset) and st is not None:
            st.reply.reset = ev.error_code
            st.done.set()
            st.got_head.set()
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.goaway = ev
        elif isinstance(ev, h2.events.RemoteSettingsChanged):
            self.remote_settings.update(
                {int(k): v.new_value for k, v in ev.changed_settings.items()}
            )

    def open(
        self,
        method: str = "GET",
        path: str = "/",
        headers: Sequence[tuple[str, str]] = (),
        *,
        authority: str = "example.com",
        scheme: str = "http",
        end_stream: bool = True,
        raw: list[tuple[bytes, bytes]] | None = None,
    ) -> int:
        """Send a request's HEADERS; ``raw`` replaces the whole header list."""
        sid = self.conn.get_next_available_stream_id()
        fields = (
            raw
            if raw is not None
            else [
                (b":method", method.encode()),
                (b":scheme", scheme.encode()),
                (b":authority", authority.encode()),
                (b":path", path.encode()),
                *((n.lower().encode(), v.encode()) for n, v in headers),
            ]
        )
        self.streams[sid] = _State()
        self.conn.send_headers(sid, fields, end_stream=end_stream)
        self.flush()
        return sid

    async def send(self, sid: int, data: bytes, *, end_stream: bool = True) -> None:
        """Send a body within the server's windows."""
        view = memoryview(data)
        while view:
            window = min(
                self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size
            )
            if window <= 0:
                self._changed.clear()
                await self._changed.wait()
                if self.closed.is_set():
                    raise ConnectionError("closed")
                continue
            n = min(window, len(view))
            self.conn.send_data(sid, view[:n].tobytes())
            self.flush()
            view = view[n:]
            await self.writer.drain()
        if end_stream:
            self.conn.end_stream(sid)
            self.flush()

    def reset(self, sid: int) -> None:
        self.conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
        self.flush()

    async def reply(self, sid: int, timeout: float = 5.0) -> H2Reply:
        with anyio.fail_after(timeout):
            await self.streams[sid].done.wait()
        return self.streams[sid].reply

    async def head(self, sid: int, timeout: float = 5.0) -> H2Reply:
        with anyio.fail_after(timeout):
            await self.streams[sid].got_head.wait()
        return self.streams[sid].reply

    async def next_chunk(self, sid: int, timeout: float = 5.0) -> bytes:
        with anyio.fail_after(timeout):
            return await self.streams[sid].chunks.get()

    async def request(
        self,
        method: str = "GET",
        path: str = "/",
        headers: Sequence[tuple[str, str]] = (),
        body: bytes | None = None,
        **kw: Any,
    ) -> H2Reply:
        sid = self.open(method, path, headers, end_stream=body is None, **kw)
        if body is not None:
            await self.send(sid, body)
        return await self.reply(sid)

    async def wait_closed(self, timeout: float = 5.0) -> None:
        with anyio.fail_after(timeout):
            await self.closed.wait()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close_connection()
            self.flush()
        self.writer.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task


@asynccontextmanager
async def h2_client(port: int, **kw: Any) -> AsyncIterator[H2Client]:
    client = await H2Client.connect(port, **kw)
    try:
        yield client
    finally:
        await client.close()
