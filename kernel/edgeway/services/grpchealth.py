"""``healthCheck.mode: grpc``: one ``grpc.health.v1.Health/Check`` call per check.

As Traefik's ``checkHealthGRPC`` (pkg/healthcheck/healthcheck.go), which dials
``host:port`` of the server URL (``port`` overriding) with grpc-go, calls Check
with an empty request and closes the connection:

- always HTTP/2 cleartext with prior knowledge, whatever the server URL's
  scheme; a ``scheme`` other than ``http``/``h2c``/empty leaves grpc-go without
  transport credentials, so every check fails (``no transport security set``);
- ``path``, ``method``, ``hostname``, ``headers``, ``status`` and
  ``followRedirects`` are not used; ``:authority`` is the dialed ``host:port``;
- only ``SERVING`` is healthy; any RPC error or the ``timeout`` is a failure.

The messages are tiny and fixed, so they are encoded by hand: the request is an
empty ``HealthCheckRequest``; the response's field 1 is the status enum.
"""

from __future__ import annotations

import contextlib
from urllib.parse import unquote, urlsplit

import anyio
import h2.config
import h2.connection
import h2.events
import h2.exceptions

from edgeway.http.status import status_text

PATH = b"/grpc.health.v1.Health/Check"
USER_AGENT = b"grpc-go/1.83.2"  # what Traefik 3.7 sends
SERVING = 1
STATUS_NAMES = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}
NO_TRANSPORT_SECURITY = (
    "grpc: no transport security set (use grpc.WithTransportCredentials"
    "(insecure.NewCredentials()) explicitly or set credentials)"
)

# grpc-go's codes.Code names and its HTTP status -> code table (internal/transport/http_util.go).
CODES = (
    "OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
    "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
    "Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss",
    "Unauthenticated",
)  # fmt: skip
UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE = 2, 4, 12, 13, 14
_HTTP_CODES = {400: INTERNAL, 401: 16, 403: 7, 404: UNIMPLEMENTED, 429: UNAVAILABLE}
_HTTP_CODES.update(dict.fromkeys((502, 503, 504), UNAVAILABLE))


class RpcError(Exception):
    def __init__(self, code: int, desc: str) -> None:
        super().__init__(code, desc)
        self.code = code
        self.desc = desc

    def __str__(self) -> str:
        name = CODES[self.code] if 0 <= self.code < len(CODES) else f"Code({self.code})"
        return f"rpc error: code = {name} desc = {self.desc}"


def grpc_address(server_url: str, port: int | None) -> tuple[str, int, str]:
    """``(host, port, "host:port")`` as Go's ``net.JoinHostPort(u.Hostname(), port)``."""
    netloc = urlsplit(server_url).netloc.rpartition("@")[2]
    if netloc.startswith("["):
        host, _, rest = netloc[1:].partition("]")
        url_port = rest[1:]
    else:
        host, _, url_port = netloc.partition(":")
    chosen = str(port) if port else url_port
    joined = f"[{host}]:{chosen}" if ":" in host else f"{host}:{chosen}"
    return host, int(chosen) if chosen.isdigit() else 0, joined


async def check_grpc_health(host: str, port: int, authority: str, timeout: float) -> None:
    """Raise :class:`GrpcHealthError` (the reason, as Traefik logs it) unless SERVING."""
    try:
        with anyio.fail_after(timeout):
            status = await _call(host, port, authority.encode(), timeout)
    except TimeoutError:
        err = RpcError(DEADLINE_EXCEEDED, "context deadline exceeded")
        raise GrpcHealthError(f"gRPC health check timeout: {err}") from None
    except RpcError as err:
        if err.code == UNIMPLEMENTED:
            raise GrpcHealthError(f"gRPC server does not implement the health protocol: {err}") from None
        if err.code == DEADLINE_EXCEEDED:
            raise GrpcHealthError(f"gRPC health check timeout: {err}") from None
        raise GrpcHealthError(f"gRPC health check failed: {err}") from None
    if status != SERVING:
        raise GrpcHealthError(f"received gRPC status code: {STATUS_NAMES.get(status, status)}")


class GrpcHealthError(Exception):
    pass


async def _call(host: str, port: int, authority: bytes, timeout: float) -> int:
    try:
        stream = await anyio.connect_tcp(host, port)
    except OSError as exc:
        raise RpcError(
            UNAVAILABLE,
            f'connection error: desc = "transport: Error while dialing: dial tcp '
            f'{authority.decode()}: {exc.strerror or exc}"',
        ) from None
    async with stream:
        conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        conn.initiate_connection()
        sid = conn.get_next_available_stream_id()
        conn.send_headers(
            sid,
            [
                (b":method", b"POST"),
                (b":scheme", b"http"),
                (b":path", PATH),
                (b":authority", authority),
                (b"content-type", b"application/grpc"),
                (b"user-agent", USER_AGENT),
                (b"te", b"trailers"),
                (b"grpc-timeout", _encode_timeout(timeout)),
            ],
        )
        conn.send_data(sid, b"\x00\x00\x00\x00\x00", end_stream=True)  # empty HealthCheckRequest
        try:
            await stream.send(conn.data_to_send())
            headers, body, trailers = await _response(stream, conn, sid)
        except (OSError, anyio.BrokenResourceError, anyio.EndOfStream, h2.exceptions.ProtocolError) as exc:
            raise RpcError(UNAVAILABLE, f"connection error: desc = \"transport: {exc or type(exc).__name__}\"") from None
        finally:
            with contextlib.suppress(Exception):
                conn.close_connection()
                await stream.send(conn.data_to_send())
    return _status(headers, body, trailers)


async def _response(
    stream: anyio.abc.ByteStream, conn: h2.connection.H2Connection, sid: int
) -> tuple[list[tuple[bytes, bytes]], bytes, list[tuple[bytes, bytes]]]:
    headers: list[tuple[bytes, bytes]] = []
    trailers: list[tuple[bytes, bytes]] = []
    body = bytearray()
    while True:
        data = await stream.receive()
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                headers = list(ev.headers)
            elif isinstance(ev, h2.events.TrailersReceived) and ev.stream_id == sid:
                trailers = list(ev.headers)
            elif isinstance(ev, h2.events.DataReceived) and ev.stream_id == sid:
                body += ev.data
                conn.acknowledge_received_data(ev.flow_controlled_length, sid)
            elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                return headers, bytes(body), trailers
            elif isinstance(ev, h2.events.StreamReset) and ev.stream_id == sid:
                raise RpcError(INTERNAL, f"stream terminated by RST_STREAM with error code: {ev.error_code}")
            elif isinstance(ev, h2.events.ConnectionTerminated):
                raise RpcError(UNAVAILABLE, "the connection is draining")
        pending = conn.data_to_send()
        if pending:
            await stream.send(pending)


def _status(
    headers: list[tuple[bytes, bytes]], body: bytes, trailers: list[tuple[bytes, bytes]]
) -> int:
    """The status in a Check response, as grpc-go's client reads the exchange."""
    head = dict(headers)
    http_status = int(head.get(b":status", b"0") or 0)
    if http_status != 200:
        code = _HTTP_CODES.get(http_status, UNKNOWN)
        raise RpcError(
            code,
            f"unexpected HTTP status code received from server: {http_status} ({status_text(http_status)})",
        )
    content_type = head.get(b"content-type", b"")
    if not content_type.startswith(b"application/grpc"):
        raise RpcError(UNKNOWN, f"transport: received unexpected content-type {content_type.decode('latin-1')!r}")
    meta = dict(trailers) if trailers else head  # a trailers-only answer carries them in the headers
    raw_code = meta.get(b"grpc-status")
    if raw_code is None:
        raise RpcError(INTERNAL, "server closed the stream without sending trailers")
    code = int(raw_code) if raw_code.isdigit() else UNKNOWN
    if code != 0:
        raise RpcError(code, unquote(meta.get(b"grpc-message", b"").decode("latin-1")))
    if len(body) < 5:
        raise RpcError(INTERNAL, "cardinality violation: expected <*grpc_health_v1.HealthCheckResponse> got <EOF>")
    if body[0] != 0:
        raise RpcError(INTERNAL, "grpc: compressed flag set with identity or empty encoding")
    size = int.from_bytes(body[1:5], "big")
    return _decode_status(body[5 : 5 + size])


def _decode_status(message: bytes) -> int:
    """Field 1 (varint) of a HealthCheckResponse; other fields skipped; 0 when absent."""
    status = 0
    i = 0
    try:
        while i < len(message):
            tag, i = _varint(message, i)
            wire = tag & 7
            if wire == 0:
                value, i = _varint(message, i)
                if tag >> 3 == 1:
                    status = value
            elif wire == 1:
                i += 8
            elif wire == 2:
                n, i = _varint(message, i)
                i += n
            elif wire == 5:
                i += 4
            else:
                raise ValueError(f"bad wire type {wire}")
            if i > len(message):
                raise ValueError("truncated")
    except (ValueError, IndexError) as exc:
        raise RpcError(INTERNAL, f"grpc: failed to unmarshal the received message: {exc}") from None
    return status


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7
        if shift > 63:
            raise ValueError("varint overflow")


def _encode_timeout(seconds: float) -> bytes:
    """grpc-go's ``encodeTimeout``: the finest unit whose value fits 8 digits."""
    ns = int(seconds * 1e9)
    if ns <= 0:
        return b"0n"
    for unit, size in ((b"n", 1), (b"u", 1_000), (b"m", 1_000_000), (b"S", 10**9), (b"M", 60 * 10**9)):
        value = -(-ns // size)  # grpc-go rounds up
        if value <= 99_999_999:
            return str(value).encode() + unit
    return str(-(-ns // (3600 * 10**9))).encode() + b"H"
