"""gRPC end to end through edgeway: a grpcio client speaking h2c (prior knowledge)
to the entry point, an ``h2c://`` grpcio server behind it.

grpcio's client is blocking: calls run in a worker thread while edgeway serves
on the test's event loop.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import anyio
import grpc
import pytest
from grpc_support import grpc_channel, grpc_server
from support import edgeway
from test_transports import config

pytestmark = pytest.mark.anyio


async def test_grpc_unary_streaming_errors_and_cancellation(tmp_path: Path) -> None:
    with grpc_server() as (port, service):
        async with edgeway(tmp_path, config(f"h2c://127.0.0.1:{port}")) as ew:

            def calls() -> None:
                with grpc_channel(ew.port()) as stub:
                    # Unary, with metadata both ways and trailers (grpc-status in them).
                    reply, call = stub.echo.with_call(b"hi", metadata=(("x-in", "abc"),), timeout=5)
                    assert reply == b"echo:hi" and call.code() == grpc.StatusCode.OK
                    assert dict(call.trailing_metadata()) == {"x-trail": "yes", "x-in": "abc"}
                    # Large messages: beyond every flow-control window on the way.
                    big = bytes(range(256)) * 12000
                    assert stub.echo(big, timeout=10) == b"echo:" + big
                    # Server streaming.
                    assert list(stub.count(b"50", timeout=5)) == [b"n%d" % i for i in range(50)]
                    # Bidirectional, in lock step: each message is sent only once the
                    # answer to the previous one is back (nothing buffered on the way).
                    answers: queue.Queue[bytes] = queue.Queue()

                    def lockstep():  # type: ignore[no-untyped-def]
                        for i in range(20):
                            yield b"m%d" % i
                            answers.get(timeout=5)

                    got = []
                    for answer in stub.chat(lockstep(), timeout=10):
                        got.append(answer)
                        answers.put(answer)
                    assert got == [b"re:m%d" % i for i in range(20)]
                    # An error status and message, from the trailers.
                    with pytest.raises(grpc.RpcError) as err:
                        stub.fail(b"", timeout=5)
                    assert (
                        err.value.code() == grpc.StatusCode.NOT_FOUND
                        and err.value.details() == "nope"
                    )
                    # The client's deadline resets its stream: the server sees the cancellation.
                    with pytest.raises(grpc.RpcError) as err:
                        stub.wait(b"", timeout=0.5)
                    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
                    assert service.cancelled.wait(5)
                    assert stub.echo(b"after", timeout=5) == b"echo:after"

            await anyio.to_thread.run_sync(calls)


async def test_concurrent_grpc_calls_share_one_connection(tmp_path: Path) -> None:
    with grpc_server() as (port, _):
        async with edgeway(tmp_path, config(f"h2c://127.0.0.1:{port}")) as ew:

            def calls() -> None:
                with grpc_channel(ew.port()) as stub:
                    results: list[bytes] = []
                    lock = threading.Lock()

                    def one(i: int) -> None:
                        r = stub.echo(b"%d" % i, timeout=10)
                        with lock:
                            results.append(r)

                    threads = [threading.Thread(target=one, args=(i,)) for i in range(30)]
                    for t in threads:
                        t.start()
                    for t in threads:
                        t.join()
                    assert sorted(results) == sorted(b"echo:%d" % i for i in range(30))

            await anyio.to_thread.run_sync(calls)
