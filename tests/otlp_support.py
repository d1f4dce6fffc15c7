"""An in-process OTLP collector (HTTP/protobuf and gRPC) for the tracing tests: it
decodes every exported span, and keeps the export requests' paths and headers."""

from __future__ import annotations

import gzip
import ssl
import threading
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

SERVER, CLIENT, INTERNAL = 2, 3, 1  # OTLP SpanKind
ERROR = 2  # OTLP StatusCode


@dataclass
class Span:
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent: str
    attrs: dict[str, Any]
    status: int
    status_message: str
    resource: dict[str, Any]


def _value(v: AnyValue) -> Any:
    which = v.WhichOneof("value")
    if which == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, which) if which else None


def _decode(request: trace_service_pb2.ExportTraceServiceRequest) -> list[Span]:
    out = []
    for rs in request.resource_spans:
        resource = {kv.key: _value(kv.value) for kv in rs.resource.attributes}
        for ss in rs.scope_spans:
            for s in ss.spans:
                out.append(
                    Span(
                        s.name,
                        s.kind,
                        s.trace_id.hex(),
                        s.span_id.hex(),
                        s.parent_span_id.hex(),
                        {kv.key: _value(kv.value) for kv in s.attributes},
                        s.status.code,
                        s.status.message,
                        resource,
                    )
                )
    return out


@dataclass
class Receiver:
    """What the collector received: spans, and the export requests' paths and headers."""

    spans: list[Span] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    endpoint: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, path: str, headers: dict[str, str], spans: list[Span]) -> None:
        with self.lock:
            self.requests.append((path, headers))
            self.spans.extend(spans)


@contextmanager
def otlp_http(ssl_context: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # Go's exporter keeps its connection

        def _body(self) -> bytes:
            if self.headers.get("Content-Length") is not None:
                return self.rfile.read(int(self.headers["Content-Length"]))
            chunks = []  # Go's exporter sends chunked bodies
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)

        def do_POST(self) -> None:
            body = self._body()
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
            receiver.add(
                self.path, {k.lower(): v for k, v in self.headers.items()}, _decode(request)
            )
            answer = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    scheme = "http"
    if ssl_context is not None:
        server.socket = ssl_context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    receiver.endpoint = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def otlp_grpc() -> Iterator[Receiver]:
    receiver = Receiver()

    class Service(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request: Any, context: Any) -> Any:  # noqa: N802 (gRPC's name)
            receiver.add("Export", dict(context.invocation_metadata()), _decode(request))
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    receiver.endpoint = f"127.0.0.1:{port}"
    try:
        yield receiver
    finally:
        server.stop(None)
