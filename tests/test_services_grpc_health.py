"""``healthCheck.mode: grpc`` against real grpcio servers implementing
``grpc.health.v1.Health/Check`` (raw bytes: no generated code, no protobuf)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest
from edgeway.services.grpchealth import RpcError, _decode_status, _encode_timeout, _status
from support import Client, edgeway, free_port, get
from test_services import dynamic, eventually, lb, status_of

pytestmark = pytest.mark.anyio

SERVING, NOT_SERVING, SERVICE_UNKNOWN = 1, 2, 3
FAST = {"mode": "grpc", "interval": "50ms", "timeout": "1s"}


class HealthServer:
    """A grpcio server: ``Health/Check`` answers ``status`` (after ``delay`` s), and
    ``test.Svc/Who`` answers the server's name (to see where requests go)."""

    def __init__(self, name: str, *, health: bool = True) -> None:
        self.name = name
        self.status = SERVING
        self.delay = 0.0
        self.checks: list[tuple[bytes, dict[str, Any]]] = []
        self.server = grpc.server(ThreadPoolExecutor(4))
        handlers = [
            grpc.method_handlers_generic_handler(
                "test.Svc",
                {"Who": grpc.unary_unary_rpc_method_handler(lambda req, ctx: name.encode())},
            )
        ]
        if health:
            handlers.append(
                grpc.method_handlers_generic_handler(
                    "grpc.health.v1.Health",
                    {"Check": grpc.unary_unary_rpc_method_handler(self._check)},
                )
            )
        self.server.add_generic_rpc_handlers(handlers)
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    def _check(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        self.checks.append((request, dict(context.invocation_metadata())))
        if self.delay:
            time.sleep(self.delay)
        return b"\x08" + bytes([self.status]) if self.status else b""

    @property
    def url(self) -> str:
        return f"h2c://127.0.0.1:{self.port}"


@contextmanager
def health_servers(*names: str, health: bool = True) -> Iterator[list[HealthServer]]:
    servers = [HealthServer(n, health=health) for n in names]
    for s in servers:
        s.server.start()
    try:
        yield servers
    finally:
        for s in servers:
            s.server.stop(None)


async def who(port: int, n: int) -> set[str]:
    """Which servers answer ``n`` gRPC calls sent through edgeway (over HTTP/1.1)."""
    client = await Client.connect(port)
    seen = set()
    try:
        for _ in range(n):
            r = await client.request(
                "POST",
                "/test.Svc/Who",
                headers=[("Content-Type", "application/grpc"), ("TE", "trailers")],
                body=b"\x00\x00\x00\x00\x00",
            )
            assert r.status == 200, r
            seen.add(r.body[5:].decode())
    finally:
        await client.close()
    return seen


async def test_a_not_serving_server_leaves_the_rotation_and_comes_back(tmp_path: Path) -> None:
    with health_servers("a", "b") as (a, b):
        async with edgeway(tmp_path, dynamic({"app": lb(a.url, b.url, healthCheck=FAST)})) as ew:
            await eventually(lambda: len(a.checks) >= 1 and len(b.checks) >= 1)
            assert await who(ew.port(), 4) == {"a", "b"}
            a.status = NOT_SERVING
            await eventually(lambda: status_of(ew) == {a.url: "DOWN", b.url: "UP"})
            assert await who(ew.port(), 4) == {"b"}
            a.status = SERVING
            await eventually(lambda: status_of(ew) == {a.url: "UP", b.url: "UP"})
            assert await who(ew.port(), 4) == {"a", "b"}
            # Traefik's request: empty HealthCheckRequest, no metadata but grpc-go's user agent.
            request, metadata = a.checks[0]
            assert request == b""
            assert (request, metadata) == (b"", {"user-agent": "grpc-go/1.83.2"})


@pytest.mark.parametrize("status", [0, SERVICE_UNKNOWN, NOT_SERVING])
async def test_only_serving_is_healthy(tmp_path: Path, status: int) -> None:
    with health_servers("a") as (a,):
        a.status = status
        async with edgeway(tmp_path, dynamic({"app": lb(a.url, healthCheck=FAST)})) as ew:
            await eventually(lambda: status_of(ew) == {a.url: "DOWN"})
            assert (await get(ew.port())).status == 503


async def test_errors_and_timeouts_are_down(tmp_path: Path) -> None:
    with health_servers("plain", health=False) as (plain,), health_servers("slow") as (slow,):
        slow.delay = 0.5
        dead = f"h2c://127.0.0.1:{free_port()}"
        services = {
            "unimplemented": lb(plain.url, healthCheck=FAST),
            "slow": lb(slow.url, healthCheck={**FAST, "timeout": "100ms"}),
            "refused": lb(dead, healthCheck=FAST),
        }
        async with edgeway(tmp_path, dynamic(services, "slow")) as ew:
            for name, url in (("unimplemented", plain.url), ("slow", slow.url), ("refused", dead)):
                await eventually(lambda n=name, u=url: status_of(ew, f"{n}@file") == {u: "DOWN"})
            slow.delay = 0.0
            await eventually(lambda: status_of(ew, "slow@file") == {slow.url: "UP"})


async def test_scheme_port_and_ignored_options(tmp_path: Path) -> None:
    """As Traefik: cleartext whatever the server URL says; ``scheme`` other than
    http/h2c fails every check; ``port`` replaces the URL's; hostname, headers and
    path are not sent."""
    with health_servers("a") as (a,):
        elsewhere = f"http://127.0.0.1:{free_port()}"
        services = {
            "tlsurl": lb(f"https://127.0.0.1:{a.port}", healthCheck=FAST),
            "h2c": lb(f"http://127.0.0.1:{a.port}", healthCheck={**FAST, "scheme": "h2c"}),
            "https": lb(a.url, healthCheck={**FAST, "scheme": "https"}),
            "port": lb(elsewhere, healthCheck={**FAST, "port": a.port}),
            "extras": lb(
                a.url,
                healthCheck={
                    **FAST,
                    "hostname": "health.test",
                    "headers": {"X-Token": "t"},
                    "path": "/other",
                    "method": "HEAD",
                    "status": 204,
                },
            ),
        }
        async with edgeway(tmp_path, dynamic(services, "extras")) as ew:
            expected = {
                "tlsurl": "UP",
                "h2c": "UP",
                "https": "DOWN",
                "port": "UP",
                "extras": "UP",
            }
            # Servers start UP: wait for the checks themselves too (four services reach ``a``).
            await eventually(
                lambda: (
                    {n: set(status_of(ew, f"{n}@file").values()) for n in expected}
                    == {n: {s} for n, s in expected.items()}
                    and len(a.checks) >= 4
                )
            )
            assert all(set(m) == {"user-agent"} for _, m in a.checks)
            assert {r for r, _ in a.checks} == {b""}


# --- the exchange, piece by piece -----------------------------------------------------------


def test_response_decoding() -> None:
    ok = [(b":status", b"200"), (b"content-type", b"application/grpc")]
    trailers = [(b"grpc-status", b"0")]
    # Unknown fields are skipped (varint, 64-bit, length-delimited, 32-bit).
    message = b"\x10\x05\x19" + b"\x00" * 8 + b"\x22\x02hi\x2d\x00\x00\x00\x00\x08\x01"
    framed = b"\x00" + len(message).to_bytes(4, "big") + message
    assert _status(ok, framed, trailers) == SERVING
    assert _decode_status(b"") == 0
    cases = [
        ([(b":status", b"404")], b"", [], "code = Unimplemented"),
        ([(b":status", b"503")], b"", [], "code = Unavailable"),
        (
            [(b":status", b"200"), (b"content-type", b"text/html")],
            b"",
            [],
            "unexpected content-type",
        ),
        (ok, framed, [], "without sending trailers"),
        (
            ok + [(b"grpc-status", b"14"), (b"grpc-message", b"going%20away")],
            b"",
            [],
            "Unavailable desc = going away",
        ),
        (ok, b"", trailers, "cardinality violation"),
        (ok, b"\x01\x00\x00\x00\x00", trailers, "compressed flag"),
        (ok, b"\x00\x00\x00\x00\x02\x08\x80", trailers, "failed to unmarshal"),
    ]
    for headers, body, trail, error in cases:
        with pytest.raises(RpcError) as info:
            _status(headers, body, trail)
        assert error in str(info.value)


def test_grpc_timeout_header_is_grpc_gos() -> None:
    assert _encode_timeout(5) == b"5000000u"
    assert _encode_timeout(0.05) == b"50000000n"
    assert _encode_timeout(1000) == b"1000000m"
    assert _encode_timeout(0) == b"0n"
