"""``healthCheck.mode: grpc``: real Traefik and edgeway side by side, one pair for the
module, on the same grpcio health servers (threads, outliving the test loops).

A server is seen UP or DOWN through the proxies: DOWN gives 503 (no server),
UP forwards the request (a gRPC call through ``h2c://`` answers 200; a plain
HTTP/1.1 or TLS request to the cleartext gRPC server fails, which is all that is
compared there). Intended differences: none in the health checks.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from differential_support import edgeway_binary, exchange, make_proxy, require_traefik, running
from support import free_port
from test_services_grpc_health import NOT_SERVING, SERVING, HealthServer, health_servers

TRAEFIK = require_traefik()

HC = {"mode": "grpc", "interval": "100ms", "timeout": "1s"}
GRPC_CALL = {
    "method": "POST",
    "target": "/test.Svc/Who",
    "headers": [("Host", "toggle"), ("Content-Type", "application/grpc"), ("TE", "trailers")],
    "body": b"\x00\x00\x00\x00\x00",
}


def configuration(a: HealthServer, sick: HealthServer) -> dict[str, object]:
    port = a.port
    services = {
        "toggle": {"servers": [a.url], "healthCheck": HC},
        "plain": {
            "servers": [f"http://127.0.0.1:{port}"],
            "healthCheck": {**HC, "hostname": "x.test", "headers": {"X-A": "b"}},
        },
        "tlsurl": {"servers": [f"https://127.0.0.1:{port}"], "healthCheck": HC},
        "https": {
            "servers": [f"http://127.0.0.1:{port}"],
            "healthCheck": {**HC, "scheme": "https"},
        },
        "port": {
            "servers": [f"http://127.0.0.1:{free_port()}"],
            "healthCheck": {**HC, "port": port},
        },
        "sick": {"servers": [sick.url], "healthCheck": HC},
        "refused": {"servers": [f"h2c://127.0.0.1:{free_port()}"], "healthCheck": HC},
    }
    return {
        "http": {
            "routers": {n: {"rule": f"Host(`{n}`)", "service": n} for n in services},
            "services": {
                n: {
                    "loadBalancer": {
                        "servers": [{"url": u} for u in s["servers"]],
                        "healthCheck": s["healthCheck"],
                    }
                }
                for n, s in services.items()
            },
        }
    }


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list, HealthServer]]:
    workdir: Path = tmp_path_factory.mktemp("grpc-health")
    with health_servers("a", "sick") as (a, sick):
        sick.status = NOT_SERVING
        dynamic_file = workdir / "dynamic.yml"
        dynamic_file.write_text(yaml.safe_dump(configuration(a, sick)))
        proxies = [
            make_proxy("traefik", TRAEFIK or "", workdir / "traefik", dynamic_file),
            make_proxy("edgeway", edgeway_binary(), workdir / "edgeway", dynamic_file),
        ]
        with running(proxies):
            deadline = time.monotonic() + 20
            for proxy in proxies:
                proxy.wait_ready([("web", "sick", "/", 503)], deadline)
            yield proxies, a


def statuses(proxies: list, host: str) -> list[int]:
    if host == "toggle":
        return [exchange(p.port(), **GRPC_CALL).status for p in proxies]  # type: ignore[arg-type]
    return [exchange(p.port(), headers=[("Host", host)]).status for p in proxies]


def settle(proxies: list, host: str, up: bool) -> list[int]:
    """Both proxies' statuses once each sees the server as expected (checks run on their own clocks)."""
    deadline = time.monotonic() + 10
    while True:
        got = statuses(proxies, host)
        if all((s != 503) == up for s in got) or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("host", "up"),
    [
        ("plain", True),
        ("tlsurl", True),
        ("port", True),
        ("https", False),
        ("sick", False),
        ("refused", False),
    ],
)
def test_check_outcomes_match(setup: tuple[list, HealthServer], host: str, up: bool) -> None:
    proxies, _ = setup
    # Only UP/DOWN is compared: a forwarded request fails differently (the HTTP/1.1
    # request meets an HTTP/2-only server: Traefik 500, edgeway 502; proxy layer).
    traefik, edgeway = settle(proxies, host, up)
    assert (traefik != 503, edgeway != 503) == (up, up)


def test_not_serving_takes_the_server_out_and_serving_back(
    setup: tuple[list, HealthServer],
) -> None:
    proxies, a = setup
    assert settle(proxies, "toggle", True) == [200, 200]
    try:
        a.status = NOT_SERVING
        assert settle(proxies, "toggle", False) == [503, 503]
    finally:
        a.status = SERVING
    assert settle(proxies, "toggle", True) == [200, 200]
