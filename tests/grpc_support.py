"""A grpcio test service (raw bytes messages, no protobuf) and a client for it.

Methods of ``test.Svc``: ``Echo`` (unary, trailing metadata ``x-trail``, echoes
the ``x-in`` metadata), ``Count`` (server streaming: as many messages as the
request says), ``Chat`` (bidirectional: one answer per message, as they come),
``Fail`` (NOT_FOUND "nope"), ``Wait`` (until the client cancels; records it).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import grpc


class Service:
    def __init__(self) -> None:
        self.cancelled = threading.Event()
        self.waiting = threading.Event()

    def handlers(self) -> grpc.GenericRpcHandler:
        def echo(request: bytes, context: Any) -> bytes:
            md = dict(context.invocation_metadata())
            context.set_trailing_metadata((("x-trail", "yes"), ("x-in", md.get("x-in", ""))))
            return b"echo:" + request

        def count(request: bytes, context: Any) -> Iterator[bytes]:
            for i in range(int(request)):
                yield b"n%d" % i

        def chat(requests: Iterator[bytes], context: Any) -> Iterator[bytes]:
            for message in requests:
                yield b"re:" + message

        def fail(request: bytes, context: Any) -> bytes:
            context.abort(grpc.StatusCode.NOT_FOUND, "nope")
            return b""

        def wait(request: bytes, context: Any) -> bytes:
            context.add_callback(self.cancelled.set)
            self.waiting.set()
            self.cancelled.wait(10)
            return b""

        return grpc.method_handlers_generic_handler(
            "test.Svc",
            {
                "Echo": grpc.unary_unary_rpc_method_handler(echo),
                "Count": grpc.unary_stream_rpc_method_handler(count),
                "Chat": grpc.stream_stream_rpc_method_handler(chat),
                "Fail": grpc.unary_unary_rpc_method_handler(fail),
                "Wait": grpc.unary_unary_rpc_method_handler(wait),
            },
        )


@contextmanager
def grpc_server() -> Iterator[tuple[int, Service]]:
    service = Service()
    options = [
        ("grpc.max_receive_message_length", 8 << 20),
        ("grpc.max_send_message_length", 8 << 20),
    ]
    server = grpc.server(ThreadPoolExecutor(8), options=options)
    server.add_generic_rpc_handlers((service.handlers(),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield port, service
    finally:
        server.stop(None)


class Stub:
    """Calls on a channel to ``test.Svc`` (bytes in, bytes out)."""

    def __init__(self, channel: grpc.Channel) -> None:
        ident = {"request_serializer": None, "response_deserializer": None}
        self.echo = channel.unary_unary("/test.Svc/Echo", **ident)
        self.count = channel.unary_stream("/test.Svc/Count", **ident)
        self.chat = channel.stream_stream("/test.Svc/Chat", **ident)
        self.fail = channel.unary_unary("/test.Svc/Fail", **ident)
        self.wait = channel.unary_unary("/test.Svc/Wait", **ident)


@contextmanager
def grpc_channel(port: int) -> Iterator[Stub]:
    options = [
        ("grpc.max_receive_message_length", 8 << 20),
        ("grpc.max_send_message_length", 8 << 20),
    ]
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
        yield Stub(channel)
