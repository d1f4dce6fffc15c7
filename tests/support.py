"""Test helpers: a recording backend, a raw HTTP client, and edgeway run in-process.

The backend and the client parse HTTP with h11, not with httptools as edgeway
does, so a parsing bug in edgeway cannot hide behind the same bug in the tests.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import textwrap
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import h11
import yaml
from edgeway.config.loader import load_static_configuration
from edgeway.config.static import effective_configuration
from edgeway.kernel import Kernel
from edgeway.plugins import load_plugins


@dataclass
class Received:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    http_version: str

    def header(self, name: str) -> str | None:
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return None

    def header_all(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n.lower() == name.lower()]


Responder = Callable[[Received], Any]


@dataclass
class Backend:
    """An HTTP/1.1 server on 127.0.0.1 that records what it receives.

    By default it answers 200 with JSON naming itself and echoing the request.
    Paths: ``/status/<code>``, ``/chunked`` (streamed body), ``/large/<n>``
    (``n`` bytes), ``/slow/<ms>`` (delay before answering), ``/close`` (no
    Content-Length, body ends with the connection).
    """

    name: str = "backend"
    received: list[Received] = field(default_factory=list)
    connections: int = 0
    port: int = 0
    respond: Responder | None = None
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> Backend:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server.close_clients() if hasattr(self._server, "close_clients") else None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = await reader.read(65536)
                    conn.receive_data(data)
                    if not data and conn.their_state in (h11.IDLE, h11.DONE):
                        break
                    continue
                if isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                    break
                if isinstance(event, h11.Request):
                    body = b""
                    while True:
                        e = conn.next_event()
                        if e is h11.NEED_DATA:
                            if conn.they_are_waiting_for_100_continue:
                                writer.write(
                                    conn.send(
                                        h11.InformationalResponse(status_code=100, headers=[])
                                    )
                                )
                            data = await reader.read(65536)
                            conn.receive_data(data)
                            if not data:
                                return
                            continue
                        if isinstance(e, h11.Data):
                            body += e.data
                            continue
                        if isinstance(e, h11.EndOfMessage):
                            break
                        return
                    rec = Received(
                        event.method.decode(),
                        event.target.decode(),
                        [(n.decode(), v.decode("latin-1")) for n, v in event.headers.raw_items()],
                        body,
                        event.http_version.decode(),
                    )
                    self.received.append(rec)
                    await self._answer(conn, writer, rec)
                    if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                        break
                    conn.start_next_cycle()
        except (h11.RemoteProtocolError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _answer(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, rec: Received
    ) -> None:
        if self.respond is not None:
            result = self.respond(rec)
            if asyncio.iscoroutine(result):
                result = await result
            status, headers, body = result
            writer.write(conn.send(h11.Response(status_code=status, headers=headers)))
            if body:
                writer.write(conn.send(h11.Data(data=body)))
            writer.write(conn.send(h11.EndOfMessage()))
            await writer.drain()
            return
        path = rec.target.split("?")[0]
        if path.startswith("/status/"):
            code = int(path.split("/")[2])
            body = (
                f"status {code}".encode()
                if code not in (204, 304) and rec.method != "HEAD"
                else b""
            )
            hdrs = [("Content-Length", str(len(body)))] if code not in (204, 304) else []
            writer.write(conn.send(h11.Response(status_code=code, headers=hdrs)))
            if body:
                writer.write(conn.send(h11.Data(data=body)))
            writer.write(conn.send(h11.EndOfMessage()))
        elif path == "/chunked":
            writer.write(
                conn.send(h11.Response(status_code=200, headers=[("Content-Type", "text/plain")]))
            )
            for i in range(5):
                writer.write(conn.send(h11.Data(data=f"chunk{i};".encode())))
                await writer.drain()
            writer.write(conn.send(h11.EndOfMessage()))
        elif path.startswith("/large/"):
            n = int(path.split("/")[2])
            writer.write(
                conn.send(h11.Response(status_code=200, headers=[("Content-Length", str(n))]))
            )
            block = b"x" * 65536
            left = n
            while left:
                part = block[: min(left, len(block))]
                writer.write(conn.send(h11.Data(data=part)))
                left -= len(part)
                await writer.drain()
            writer.write(conn.send(h11.EndOfMessage()))
        elif path.startswith("/slow/"):
            await asyncio.sleep(int(path.split("/")[2]) / 1000)
            body = b"slow"
            writer.write(
                conn.send(h11.Response(status_code=200, headers=[("Content-Length", "4")]))
            )
            writer.write(conn.send(h11.Data(data=body)))
            writer.write(conn.send(h11.EndOfMessage()))
        else:
            doc = {
                "server": self.name,
                "method": rec.method,
                "target": rec.target,
                "body_len": len(rec.body),
            }
            body = json.dumps(doc).encode()
            writer.write(
                conn.send(
                    h11.Response(
                        status_code=200,
                        headers=[
                            ("Content-Type", "application/json"),
                            ("Content-Length", str(len(body))),
                            ("X-Backend", self.name),
                        ],
                    )
                )
            )
            if rec.method != "HEAD":
                writer.write(conn.send(h11.Data(data=body)))
            writer.write(conn.send(h11.EndOfMessage()))
        await writer.drain()


@asynccontextmanager
async def backends(*names: str) -> AsyncIterator[list[Backend]]:
    started = [await Backend(name=n).start() for n in names]
    try:
        yield started
    finally:
        for b in started:
            await b.stop()


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    http_version: str = "1.1"

    def header(self, name: str) -> str | None:
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return None

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """One keep-alive HTTP/1.1 connection, parsed with h11."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.conn = h11.Connection(h11.CLIENT)

    @classmethod
    async def connect(cls, port: int, host: str = "127.0.0.1") -> Client:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def request(
        self,
        method: str = "GET",
        target: str = "/",
        headers: list[tuple[str, str]] | None = None,
        body: bytes | None = None,
        host: str = "example.com",
    ) -> Reply:
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
        hdrs = list(headers or [])
        if host and not any(n.lower() == "host" for n, _ in hdrs):
            hdrs.insert(0, ("Host", host))
        if body is not None and not any(
            n.lower() in ("content-length", "transfer-encoding") for n, _ in hdrs
        ):
            hdrs.append(("Content-Length", str(len(body))))
        self.writer.write(self.conn.send(h11.Request(method=method, target=target, headers=hdrs)))
        if body:
            self.writer.write(self.conn.send(h11.Data(data=body)))
        self.writer.write(self.conn.send(h11.EndOfMessage()))
        return await self.read_response()

    async def read_response(self) -> Reply:
        status = 0
        headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []
        version = "1.1"
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                data = await self.reader.read(65536)
                self.conn.receive_data(data)
                continue
            if isinstance(event, h11.Response):
                status = event.status_code
                headers = [(n.decode(), v.decode("latin-1")) for n, v in event.headers.raw_items()]
                version = event.http_version.decode()
            elif isinstance(event, h11.Data):
                chunks.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return Reply(status, headers, b"".join(chunks), version)
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("closed before a full response")

    async def close(self) -> None:
        self.writer.close()


async def get(port: int, target: str = "/", **kw: Any) -> Reply:
    client = await Client.connect(port)
    try:
        return await client.request("GET", target, **kw)
    finally:
        await client.close()


async def raw_exchange(
    port: int, data: bytes, *, until_close: bool = True, timeout: float = 5.0
) -> bytes:
    """Send raw bytes and read until the server closes (or ``timeout``)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    out = b""
    with anyio.move_on_after(timeout):
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            out += chunk
            if not until_close and b"\r\n\r\n" in out:
                break
    writer.close()
    return out


_handed_out: set[int] = set()


def free_port() -> int:
    """A free port on 127.0.0.1 for a server the test starts later.

    Chosen below Linux's ephemeral range (32768+), where the OS also picks the
    source ports of outgoing connections and ports for binds to port 0: a port
    from there can be taken by someone else before the server binds it.
    """
    for _ in range(200):
        port = random.randrange(20000, 32000)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port found")


@dataclass
class Edgeway:
    kernel: Kernel
    dir: Path

    def port(self, entrypoint: str = "web") -> int:
        return self.kernel.entrypoints[entrypoint].port

    def write_dynamic(self, text: str, name: str = "dynamic.yml") -> None:
        path = self.dir / name
        tmp = path.with_suffix(".tmp")
        tmp.write_text(textwrap.dedent(text))
        tmp.replace(path)

    @property
    def runtime(self) -> Any:
        return self.kernel.state.runtime

    async def wait_applied(self, after: int) -> None:
        """Wait until a configuration newer than reload ``after`` is live."""
        with anyio.fail_after(10):
            while self.kernel.state.reloads <= after:
                await anyio.sleep(0.01)


@asynccontextmanager
async def edgeway(
    tmp: Path,
    dynamic: str,
    static: str | None = None,
    *,
    plugins: dict[str, Any] | None = None,
    **static_overrides: Any,
) -> AsyncIterator[Edgeway]:
    """Run edgeway in-process on ports chosen by the OS, with a file provider.

    ``static`` is YAML; by default one entry point ``web`` on 127.0.0.1:0 and
    the file provider watching ``dynamic.yml`` with no throttling. ``plugins``
    are registered in addition to the installed ones.
    """
    (tmp / "dynamic.yml").write_text(textwrap.dedent(dynamic))
    doc = yaml.safe_load(textwrap.dedent(static)) if static else {}
    doc.setdefault("entryPoints", {"web": {"address": "127.0.0.1:0"}})
    doc.setdefault(
        "providers",
        {"providersThrottleDuration": "0s", "file": {"filename": str(tmp / "dynamic.yml")}},
    )
    doc.update(static_overrides)
    (tmp / "edgeway.yml").write_text(yaml.safe_dump(doc))
    loaded_plugins = load_plugins(extra=plugins)
    loaded = load_static_configuration(
        [f"--configFile={tmp / 'edgeway.yml'}"], {}, tmp, loaded_plugins.registry
    )
    kernel = Kernel(effective_configuration(loaded.configuration), loaded_plugins, workdir=str(tmp))
    async with anyio.create_task_group() as tg:
        await tg.start(kernel.run)
        assert kernel.watcher is not None
        with anyio.fail_after(10):
            await kernel.watcher.ready.wait()
        try:
            yield Edgeway(kernel, tmp)
        finally:
            kernel.stop()
