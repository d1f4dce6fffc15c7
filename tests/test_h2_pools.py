"""HTTP/2 pools across configuration reloads, seen from the HTTP/2 backend.

A reload that keeps a server (same transport settings) keeps its HTTP/2 pool and
the warm connection; a reload that drops it retires the pool: the idle
connection closes right away, a busy one after its last stream.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
from support import Client, backends, edgeway, get
from test_transports import PKI, DualBackend, config, dual, pki, reconfigure

pytestmark = pytest.mark.anyio

__all__ = ["pki"]  # the fixture, for the TLS test

LONG_IDLE = "forwardingTimeouts: {idleConnTimeout: 90s}"


async def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.02)


def routes(url: str, extra_router: bool = False) -> str:
    """``config(url)`` with, optionally, one more router (a reload that keeps the server)."""
    text = config(url)
    if extra_router:
        text = text.replace(
            "  routers:\n", '  routers:\n    other: {rule: "Host(`other`)", service: app}\n'
        )
    return text


async def test_reload_keeping_an_h2c_server_reuses_its_connection(tmp_path: Path) -> None:
    async with dual(h2c=True) as b, edgeway(tmp_path, routes(b.url)) as ew:
        assert (await get(ew.port(), "/one")).status == 200
        await reconfigure(ew, routes(b.url, extra_router=True))
        assert (await get(ew.port(), "/two")).status == 200
        assert [r.target for r in b.received] == ["/one", "/two"]
        assert (b.connections, b.closed) == (1, 0)


async def test_reload_dropping_an_h2c_server_closes_its_idle_connection(tmp_path: Path) -> None:
    async with backends("a") as (a,), dual(h2c=True) as b:
        async with edgeway(tmp_path, routes(b.url)) as ew:
            assert (await get(ew.port())).status == 200
            assert (b.connections, b.closed) == (1, 0)
            await reconfigure(ew, routes(a.url))
            # Default idleConnTimeout is 90 s: only the retirement closes it this soon.
            await eventually(lambda: b.closed == 1)
            assert (await get(ew.port())).status == 200
            assert len(a.received) == 1 and b.connections == 1


async def test_a_busy_connection_of_a_retired_pool_closes_after_its_last_stream(
    tmp_path: Path,
) -> None:
    async with backends("a") as (a,), dual(h2c=True) as b:
        async with edgeway(tmp_path, routes(b.url)) as ew:
            client = await Client.connect(ew.port())
            async with anyio.create_task_group() as tg:
                replies: list[int] = []

                async def slow() -> None:
                    replies.append((await client.request("GET", "/slow/400")).status)

                tg.start_soon(slow)
                await eventually(lambda: len(b.received) == 1)
                await reconfigure(ew, routes(a.url))
                assert b.closed == 0  # the stream is still going
            await client.close()
            assert replies == [200]
            await eventually(lambda: b.closed == 1)


async def test_changed_http2_health_settings_make_a_new_pool(tmp_path: Path) -> None:
    """readIdleTimeout/pingTimeout are part of an HTTP/2 pool's identity."""
    async with dual(h2c=True) as b:
        async with edgeway(tmp_path, config(b.url, LONG_IDLE)) as ew:
            assert (await get(ew.port())).status == 200
            await reconfigure(
                ew,
                config(b.url, "forwardingTimeouts: {idleConnTimeout: 90s, readIdleTimeout: 10s}"),
            )
            await eventually(lambda: b.closed == 1)
            assert (await get(ew.port())).status == 200
            assert b.connections == 2


async def test_reload_dropping_an_https_h2_server_closes_its_connection(
    tmp_path: Path, pki: PKI
) -> None:
    transport = f"rootCAs: [{pki.dir / 'ca.pem'}]\nserverName: backend.test"
    b = await DualBackend(name="b", ssl_context=pki.server_context(alpn=("h2", "http/1.1"))).start()
    try:
        async with backends("a") as (a,), edgeway(tmp_path, config(b.url, transport)) as ew:
            assert (await get(ew.port())).status == 200
            assert b.received[-1].http_version == "2"
            await reconfigure(ew, config(b.url, transport + "\nmaxIdleConnsPerHost: 7"))
            await eventually(lambda: b.closed == 1)  # another key: the old pool is retired
            assert (await get(ew.port())).status == 200
            await reconfigure(ew, config(a.url))
            await eventually(lambda: b.closed == 2)
    finally:
        await b.stop()
