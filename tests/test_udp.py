"""UDP entry points, routers and services end to end with raw UDP peers on loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from support import Edgeway, edgeway
from tcp_support import udp_backends, udp_client

pytestmark = pytest.mark.anyio

STATIC = """
entryPoints:
  web: {address: "127.0.0.1:0"}
  udp: {address: "127.0.0.1:0/udp", udp: {timeout: 300ms}}
  udp2: {address: "127.0.0.1:0/udp"}
"""


def lb(*addresses: str) -> str:
    return (
        "{loadBalancer: {servers: [" + ", ".join(f'{{address: "{a}"}}' for a in addresses) + "]}}"
    )


def port(ew: Edgeway, name: str = "udp") -> int:
    return ew.kernel.udp_entrypoints[name].port


async def test_sessions_stick_to_a_server_and_round_robin(tmp_path: Path) -> None:
    async with udp_backends("a", "b") as (a, b):
        dyn = f"""
        udp:
          routers: {{r: {{entryPoints: [udp], service: s}}}}
          services: {{s: {lb(a.address, b.address)}}}
        """
        async with edgeway(tmp_path, dyn, STATIC) as ew:
            async with udp_client(port(ew)) as c1, udp_client(port(ew)) as c2:
                first = await c1.ask(b"1")
                assert first in (b"a:1", b"b:1")
                name = first[:2]
                assert await c1.ask(b"2") == name + b"2"  # same session, same server
                other = await c2.ask(b"3")
                assert other is not None and other[:2] != name  # next client, next server
            assert ew.runtime.udp_routers["r@file"].status == "enabled"
            assert len({*a.sources}) + len({*b.sources}) == 2  # one server socket per session


async def test_session_timeout_releases_the_session(tmp_path: Path) -> None:
    async with udp_backends("a", "b") as (a, b):
        dyn = f"""
        udp:
          routers: {{r: {{entryPoints: [udp], service: s}}}}
          services: {{s: {lb(a.address, b.address)}}}
        """
        async with edgeway(tmp_path, dyn, STATIC) as ew:
            ep = ew.kernel.udp_entrypoints["udp"]
            assert (
                ep.timeout == 0.3 and ew.kernel.udp_entrypoints["udp2"].timeout == 3.0
            )  # the default
            async with udp_client(port(ew)) as c:
                first = await c.ask(b"x")
                assert first is not None and len(ep.sessions) == 1
                async with asyncio.timeout(3):
                    while ep.sessions:
                        await asyncio.sleep(0.02)
                second = await c.ask(b"y")
                assert second is not None and second[:2] != first[:2]  # a new session: next server


async def test_weighted(tmp_path: Path) -> None:
    async with udp_backends("a", "b") as (a, b):
        dyn = f"""
        udp:
          routers: {{r: {{entryPoints: [udp], service: w}}}}
          services:
            sa: {lb(a.address)}
            sb: {lb(b.address)}
            w: {{weighted: {{services: [{{name: sa, weight: 2}}, {{name: sb, weight: 1}}]}}}}
        """
        async with edgeway(tmp_path, dyn, STATIC) as ew:
            answers = []
            for i in range(6):
                async with udp_client(port(ew)) as c:
                    answers.append(await c.ask(str(i).encode()))
            assert sorted(x[:1] for x in answers if x) == [b"a"] * 4 + [b"b"] * 2


async def test_one_router_per_entry_point_and_defaults(tmp_path: Path) -> None:
    async with udp_backends("a", "b") as (a, b):
        dyn = f"""
        udp:
          routers:
            alpha: {{entryPoints: [udp], service: sa}}
            beta: {{entryPoints: [udp], service: sb}}
            everywhere: {{service: broken}}
          services: {{sa: {lb(a.address)}, sb: {lb(b.address)}}}
        """
        async with edgeway(tmp_path, dyn, STATIC) as ew:
            # The last name that builds wins: "everywhere" fails, then "beta".
            async with udp_client(port(ew)) as c:
                assert await c.ask(b"x") == b"b:x"
            routers = ew.runtime.udp_routers
            assert routers["everywhere@file"].using == ["udp", "udp2"]
            assert routers["everywhere@file"].config.entryPoints is None
            assert routers["alpha@file"].status == "enabled"
            ew.write_dynamic(dyn.replace("service: broken", "service: sa"))
            await ew.wait_applied(ew.kernel.state.reloads)
            async with udp_client(port(ew)) as c, udp_client(port(ew, "udp2")) as c2:
                assert await c.ask(b"y") == b"a:y"
                assert await c2.ask(b"z") == b"a:z"


async def test_errors(tmp_path: Path) -> None:
    dyn = """
    udp:
      routers:
        nosvc: {entryPoints: [udp]}
        ghost: {entryPoints: [udp], service: ghost}
        multi: {entryPoints: [udp], service: both}
        notype: {entryPoints: [udp], service: empty}
        tcpep: {entryPoints: [web], service: s}
        rec: {entryPoints: [udp2], service: loop}
      services:
        s: {loadBalancer: {servers: [{address: "127.0.0.1:1"}]}}
        both: {loadBalancer: {servers: []}, weighted: {services: []}}
        empty: {}
        loop: {weighted: {services: [{name: loop}]}}
    """
    async with edgeway(tmp_path, dyn, STATIC) as ew:
        routers = ew.runtime.udp_routers
        expected = {
            "nosvc": ["the service is missing on the udp router"],
            "ghost": ['the UDP service "ghost@file" does not exist'],
            "multi": [
                "cannot create service: multi-types service not supported, "
                "consider declaring two different pieces of service instead"
            ],
            "notype": ['the UDP service "empty@file" does not have any type defined'],
            "tcpep": ['entryPoint "web" doesn\'t exist', "no valid entryPoint for this router"],
            "rec": ["recursion detected in service: loop@file -> loop@file"],
        }
        for name, errors in expected.items():
            assert (routers[f"{name}@file"].status, routers[f"{name}@file"].errors) == (
                "disabled",
                errors,
            ), name
        assert ew.runtime.udp_services["s@file"].used_by == ["tcpep@file"]
        # No usable router on the entry point: datagrams are dropped.
        assert ew.kernel.udp_entrypoints["udp"].handler is None
        async with udp_client(port(ew)) as c:
            assert await c.ask(b"x", timeout=0.3) is None


async def test_unreachable_server_ends_the_session(tmp_path: Path) -> None:
    async with udp_backends("a") as (a,):
        dead = "127.0.0.1:9"  # discard port: nothing listens, ICMP port unreachable
        dyn = f"""
        udp:
          routers: {{r: {{entryPoints: [udp], service: s}}}}
          services: {{s: {lb(dead, a.address)}}}
        """
        async with edgeway(tmp_path, dyn, STATIC) as ew:
            ep = ew.kernel.udp_entrypoints["udp"]
            async with udp_client(port(ew)) as c:
                answers = [await c.ask(b"1", timeout=0.5)]
                async with asyncio.timeout(3):
                    while ep.sessions:  # the refused one is closed at once; the other times out
                        await asyncio.sleep(0.02)
                answers.append(await c.ask(b"2", timeout=0.5))
            assert sorted(answers, key=str) == sorted(
                [None, b"a:1" if answers[0] else b"a:2"], key=str
            )


async def test_reload_switches_new_sessions_only(tmp_path: Path) -> None:
    async with udp_backends("a", "b") as (a, b):
        dyn = f"""
        udp:
          routers: {{r: {{entryPoints: [udp2], service: sa}}}}
          services: {{sa: {lb(a.address)}, sb: {lb(b.address)}}}
        """
        async with edgeway(tmp_path, dyn, STATIC) as ew:
            async with udp_client(port(ew, "udp2")) as old, udp_client(port(ew, "udp2")) as new:
                assert await old.ask(b"1") == b"a:1"
                ew.write_dynamic(dyn.replace("service: sa", "service: sb"))
                await ew.wait_applied(ew.kernel.state.reloads)
                assert await old.ask(b"2") == b"a:2"  # its session keeps its server
                assert await new.ask(b"3") == b"b:3"


async def test_timeout_must_be_positive(tmp_path: Path) -> None:
    bad = STATIC.replace("timeout: 300ms", "timeout: 0s")
    with pytest.raises(Exception, match="timeout should be greater than zero"):
        async with edgeway(tmp_path, "udp: {}\n", bad):
            pass
