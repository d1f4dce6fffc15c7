"""Active ``healthCheck`` of a TCP load balancer's servers (Traefik 3.7's
pkg/healthcheck/healthcheck_tcp.go).

Each check dials the server with the load balancer's dialer (TLS included, no
PROXY header), on ``port`` if set, writes ``send`` if set, and when ``expect``
is set reads once and compares. Up servers are checked every ``interval``,
down ones every ``unhealthyInterval``; results go to the balancer and to the
service's ``serverStatus``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import anyio

from edgeway.pipeline.runtime import ServiceInfo
from edgeway.services.healthcheck import check_intervals
from edgeway.tcp.dialer import Dialer, split_host_port
from edgeway.tcp.wrr import WeightedRoundRobin

__all__ = ["TCPHealthChecker", "Target"]

log = logging.getLogger("edgeway.healthcheck")

MAX_PAYLOAD = 65535


@dataclass
class Target:
    address: str
    dialer: Dialer


class TCPHealthChecker:
    def __init__(self, cfg: Any, balancer: WeightedRoundRobin[Any], info: ServiceInfo, targets: list[Target]) -> None:
        self.balancer = balancer
        self.info = info
        self.interval, self.unhealthy_interval, self.timeout = check_intervals(cfg)
        #: The dial is bounded by the configured timeout as is (Go's context
        #: deadline), reads and writes by the defaulted one.
        self.dial_timeout = cfg.timeout or 0.0
        self.port = cfg.port or 0
        send, expect = cfg.send or "", cfg.expect or ""
        if len(send.encode()) > MAX_PAYLOAD:
            log.error("Health check payload size exceeds maximum allowed size of %d bytes, falling back to connect only check.", MAX_PAYLOAD)
            send = ""
        if len(expect.encode()) > MAX_PAYLOAD:
            log.error("Health check expected response size exceeds maximum allowed size of %d bytes, falling back to close without response.", MAX_PAYLOAD)
            expect = ""
        self.send, self.expect = send.encode(), expect.encode()
        self.healthy = list(targets)
        self.unhealthy: list[Target] = []

    async def run(self) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._loop, False)
            await self._loop(True)

    async def _loop(self, healthy: bool) -> None:
        """Go's ticker: every interval, check the targets of this list, once each."""
        interval = self.interval if healthy else self.unhealthy_interval
        next_tick = anyio.current_time() + interval
        while True:
            await anyio.sleep(max(0.0, next_tick - anyio.current_time()))
            next_tick = max(next_tick + interval, anyio.current_time())
            source = self.healthy if healthy else self.unhealthy
            batch, source[:] = list(source), []
            for target in batch:
                error = await self.check(target)
                up = error is None
                if error is not None:
                    log.warning("Health check failed for %s of %s: %s", target.address, self.info.name, error)
                self.balancer.set_status(target.address, up)
                (self.healthy if up else self.unhealthy).append(target)
                self.info.server_status[target.address] = "UP" if up else "DOWN"

    async def check(self, target: Target) -> str | None:
        """None when the server is healthy, else why not (Traefik's messages)."""
        addr = target.address
        if self.port:
            parsed = split_host_port(addr)
            if parsed is None:
                return f'parsing address "{addr}": address {addr}: missing port in address'
            host = parsed[0]
            addr = f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"
        try:
            conn = await target.dialer.dial(addr, None, timeout=self.dial_timeout)
        except OSError as exc:
            return f"connecting to {addr}: {exc}"
        try:
            async with asyncio.timeout(self.timeout):
                if self.send:
                    try:
                        conn.write(self.send)
                        await conn.drain()
                    except OSError as exc:
                        return f"sending to {addr}: {exc}"
                if self.expect:
                    try:
                        data = await conn.read()
                    except OSError as exc:
                        return f"reading from {addr}: {exc}"
                    if not data:
                        return f"reading from {addr}: EOF"
                    # One Read into a buffer of len(expect): a short read fails too.
                    got = data[: len(self.expect)].ljust(len(self.expect), b"\x00")
                    if got != self.expect:
                        return "unexpected heath check response"
        except TimeoutError:
            return f"reading from {addr}: i/o timeout" if self.expect else f"sending to {addr}: i/o timeout"
        finally:
            conn.close()
        return None
