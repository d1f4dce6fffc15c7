"""The access log end to end: real entry point and backend, the real file read back."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
from support import Client, backends, edgeway, free_port, get

pytestmark = pytest.mark.anyio


def dynamic(url: str) -> str:
    return f"""
    http:
      routers:
        app: {{rule: "PathPrefix(`/`)", service: app}}
        retried: {{rule: "PathPrefix(`/retried`)", service: dead, middlewares: [retry]}}
      middlewares:
        retry: {{retry: {{attempts: 3}}}}
      services:
        app:
          loadBalancer:
            servers: [{{url: "{url}"}}]
        dead:
          loadBalancer:
            servers: [{{url: "http://127.0.0.1:{free_port()}"}}]
    """


async def lines(path: Path, count: int, *, where: Callable[[str], bool] = bool) -> list[str]:
    """The first ``count`` lines of ``path`` that satisfy ``where`` (waits for them)."""
    with anyio.fail_after(5):
        while True:
            found = [ln for ln in path.read_text().splitlines() if where(ln)] if path.exists() else []
            if len(found) >= count:
                return found
            await anyio.sleep(0.01)


def static(path: Path, **opts: object) -> dict[str, object]:
    return {"accessLog": {"filePath": str(path), **opts}}


async def test_common_format_is_traefiks_line(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    # Headers are dropped by default, so Referer and User-Agent show only when kept.
    keep = {"headers": {"names": {"user-agent": "keep", "Referer": "keep"}}}
    async with backends("a") as (a,), edgeway(tmp_path, dynamic(a.url), **static(log, fields=keep)) as ew:
        reply = await get(ew.port(), "/x?y=1", headers=[("User-Agent", 'ua "q"'), ("Referer", "http://r/")])
        assert reply.status == 200
        (line,) = await lines(log, 1)
    pattern = (
        r'127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET /x\?y=1 HTTP/1\.1" 200 '
        + str(len(reply.body))
        + r' "http://r/" "ua \\"q\\"" \d+ "app@file" "'
        + re.escape(a.url)
        + r'" \d+ms'
    )
    assert re.fullmatch(pattern, line), line


async def test_generic_clf_and_not_found_without_router(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    dyn = 'http: {routers: {r: {rule: "Path(`/only`)", service: noop@internal}}}'
    async with edgeway(tmp_path, dyn, **static(log, format="genericCLF")) as ew:
        assert (await get(ew.port(), "/nowhere")).status == 404
        (line,) = await lines(log, 1)
    assert re.fullmatch(r'127\.0\.0\.1 - - \[[^]]+\] "GET /nowhere HTTP/1\.1" 404 19 "-" "-"', line), line


async def test_json_fields_and_headers(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    fields = {"headers": {"defaultMode": "keep", "names": {"authorization": "redact", "X-Drop": "drop"}}}
    async with backends("a") as (a,), edgeway(tmp_path, dynamic(a.url), **static(log, format="json", fields=fields)) as ew:
        client = await Client.connect(ew.port())
        await client.request("GET", "/p", headers=[("Authorization", "secret"), ("X-Drop", "1"), ("X-Keep", "k")])
        await client.request("HEAD", "/p")
        await client.close()
        first, second = [json.loads(ln) for ln in await lines(log, 2)]
    assert first["RequestMethod"] == "GET" and first["RequestPath"] == "/p"
    assert first["RequestProtocol"] == "HTTP/1.1" and first["RequestHost"] == "example.com"
    assert first["DownstreamStatus"] == 200 and first["OriginStatus"] == 200
    assert first["DownstreamContentSize"] > 0
    assert first["RouterName"] == "app@file" and first["ServiceName"] == "app@file"
    assert first["ServiceURL"] == a.url and first["ServiceAddr"] == a.url.removeprefix("http://")
    assert first["entryPointName"] == "web" and first["ClientHost"] == "127.0.0.1"
    assert first["ClientAddr"] == f"127.0.0.1:{first['ClientPort']}"
    assert isinstance(first["Duration"], int) and first["Duration"] >= first["OriginDuration"] > 0
    assert first["StartUTC"].endswith("Z") and first["RetryAttempts"] == 0
    assert first["RequestCount"] + 1 == second["RequestCount"]
    assert first["level"] == "info" and first["msg"] == ""
    assert first["request_Authorization"] == "REDACTED" and first["request_X-Keep"] == "k"
    assert "request_X-Drop" not in first
    assert "downstream_Content-Length" in first and "origin_Content-Length" in first
    assert second["RequestMethod"] == "HEAD" and second["DownstreamContentSize"] == 0


async def test_fields_default_drop_and_names(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    fields = {"defaultMode": "drop", "names": {"RequestPath": "keep", "downstreamstatus": "keep"}}
    async with backends("a") as (a,), edgeway(tmp_path, dynamic(a.url), **static(log, format="json", fields=fields)) as ew:
        await get(ew.port(), "/f", headers=[("X-H", "v")])
        (line,) = await lines(log, 1)
    data = json.loads(line)
    assert {k for k in data if k not in ("level", "msg", "time")} == {"RequestPath", "DownstreamStatus"}


async def test_filters(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    filters = {"statusCodes": ["404", "500-599"], "retryAttempts": True}
    async with backends("a") as (a,), edgeway(tmp_path, dynamic(a.url), **static(log, format="json", filters=filters)) as ew:
        port = ew.port()
        assert (await get(port, "/status/200")).status == 200
        assert (await get(port, "/status/404")).status == 404
        assert (await get(port, "/status/503")).status == 503
        assert (await get(port, "/retried")).status == 502
        assert (await get(port, "/status/201")).status == 201
        assert (await get(port, "/status/500")).status == 500  # the last line: all before are written
        found = [json.loads(ln) for ln in await lines(log, 4)]
    assert [d["DownstreamStatus"] for d in found] == [404, 503, 502, 500]
    assert found[2]["RetryAttempts"] == 2 and found[2]["RouterName"] == "retried@file"


async def test_min_duration_filter(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    async with backends("a") as (a,), edgeway(
        tmp_path, dynamic(a.url), **static(log, format="json", filters={"minDuration": "150ms"})
    ) as ew:
        await get(ew.port(), "/fast")
        await get(ew.port(), "/slow/300")
        (line,) = await lines(log, 1)
    assert json.loads(line)["RequestPath"] == "/slow/300"


async def test_buffering_writes_every_line_and_streams_are_counted(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    async with backends("a") as (a,), edgeway(tmp_path, dynamic(a.url), **static(log, format="json", bufferingSize=50)) as ew:
        client = await Client.connect(ew.port())
        for _ in range(5):
            await client.request("GET", "/chunked")
        reply = await client.request("GET", "/large/100000")
        await client.close()
        found = [json.loads(ln) for ln in await lines(log, 6)]
    assert found[-1]["DownstreamContentSize"] == len(reply.body) == 100000
    assert all(d["DownstreamContentSize"] > 0 for d in found)


async def test_internals_are_skipped_unless_add_internals(tmp_path: Path) -> None:
    dyn = 'http: {routers: {ping: {rule: "Path(`/p`)", service: noop@internal}}}'
    for add, expected in ((False, 1), (True, 2)):
        log = tmp_path / f"access-{add}.log"
        async with edgeway(tmp_path, dyn, **static(log, format="json", addInternals=add)) as ew:
            await get(ew.port(), "/p")
            await get(ew.port(), "/unrouted")
            found = await lines(log, expected)
        assert json.loads(found[-1])["RequestPath"] == "/unrouted"
        assert len(found) == expected


async def test_rotation_reopens_the_file(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "access.log"  # the directory is created
    async with backends("a") as (a,), edgeway(tmp_path, dynamic(a.url), **static(log)) as ew:
        await get(ew.port(), "/before")
        await lines(log, 1)
        log.rename(tmp_path / "access.log.1")
        ew.kernel.reopen_logs()  # what the CLI's SIGUSR1 handler calls
        await get(ew.port(), "/after")
        (line,) = await lines(log, 1)
    assert "/after" in line
    assert "/before" in (tmp_path / "access.log.1").read_text()


def test_cli_reopens_on_sigusr1(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "access.log"
    (tmp_path / "dyn.yml").write_text(
        'http: {routers: {r: {rule: "PathPrefix(`/`)", service: noop@internal}}}\n'
    )
    (tmp_path / "edgeway.yml").write_text(
        textwrap.dedent(
            f"""
            entryPoints: {{web: {{address: "127.0.0.1:{port}"}}}}
            providers: {{providersThrottleDuration: 0s, file: {{filename: "{tmp_path / 'dyn.yml'}"}}}}
            accessLog: {{filePath: "{log}", format: json, addInternals: true}}
            """
        )
    )
    proc = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "edgeway"), f"--configFile={tmp_path / 'edgeway.yml'}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:

        def request_until_logged(path: str) -> str:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    subprocess.run(
                        ["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{port}{path}"], timeout=5, check=False
                    )
                if log.exists() and path in log.read_text():
                    return log.read_text()
                time.sleep(0.05)
            raise AssertionError(f"{path} never logged")

        request_until_logged("/one")
        log.rename(tmp_path / "access.log.1")
        proc.send_signal(signal.SIGUSR1)
        assert "/two" in request_until_logged("/two")
        assert "/one" not in log.read_text()
    finally:
        proc.terminate()
        proc.wait(10)


async def test_invalid_status_codes_rejected(tmp_path: Path) -> None:
    from edgeway.config.static import AccessLogFilters

    with pytest.raises(ValueError, match="invalid syntax"):
        AccessLogFilters(statusCodes=["abc"])


async def test_bursts_are_written_whole_and_in_order(tmp_path: Path) -> None:
    """Lines reach the writer in batches: a burst from several connections, then
    another after the writer ran dry, all land, counted in order."""
    log = tmp_path / "access.log"
    async with backends("a") as (a,), edgeway(tmp_path, dynamic(a.url), **static(log, format="json")) as ew:
        port = ew.port()

        async def burst(tag: str) -> None:
            async def one(conn: int) -> None:
                client = await Client.connect(port)
                for i in range(25):
                    await client.request("GET", f"/{tag}/{conn}/{i}")
                await client.close()

            async with anyio.create_task_group() as tg:
                for conn in range(8):
                    tg.start_soon(one, conn)

        await burst("first")
        await lines(log, 200)
        await burst("second")
        found = [json.loads(ln) for ln in await lines(log, 400)]
    assert [d["RequestCount"] for d in found] == list(range(1, 401))
    paths = {d["RequestPath"] for d in found}
    assert paths == {f"/{t}/{c}/{i}" for t in ("first", "second") for c in range(8) for i in range(25)}


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "America/St_Johns", "Europe/Paris"])
def test_start_times_are_datetimes_to_the_microsecond(zone: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The once-a-second cache of the start time gives what ``datetime`` gives,
    rounding included (half to even at the microsecond, carrying into the second)."""
    import datetime as dt
    import random

    from edgeway.accesslog import _go_time, _StartTimes

    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        times, rnd = _StartTimes(), random.Random(zone)
        clf = "%d/%b/%Y:%H:%M:%S %z"
        for i in range(3000):
            start = rnd.uniform(0, 2e9)
            if i % 2:
                start = int(start) + rnd.choice([0.0, 0.5, 0.0000005, 0.0000015, 0.9999995, 0.99999949])
            utc = dt.datetime.fromtimestamp(start, dt.UTC)
            local = utc.astimezone()
            assert times.go(start) == (_go_time(utc), _go_time(local)), start
            assert times.clf(start) == (utc.strftime(clf), local.strftime(clf)), start
    finally:
        monkeypatch.undo()
        time.tzset()


def test_json_lines_are_json_dumps() -> None:
    """The encoder built once writes the bytes ``json.dumps`` writes (sorted keys,
    numbers, UTF-8 as is) with Go's escapes, durations in nanoseconds."""
    from edgeway.accesslog import _json

    fields: dict[str, object] = {
        "RequestPath": '/é\u2028"\\\x01<>&?q=✓',
        "Duration": 0.0123456789,
        "OriginDuration": 0.0,
        "DownstreamStatus": 200,
        "GzipRatio": 1 / 3,
        "request_User-Agent": "ua \"q\" \udcff",
        "entryPointName": "web",
        "ClientHost": "::1",
    }
    expected = {**fields, "Duration": int(0.0123456789 * 1e9), "OriginDuration": 0, "level": "info", "msg": ""}
    line = _json(dict(fields), 0.0)
    decoded = json.loads(line)
    expected["time"] = decoded["time"]
    dumped = json.dumps(expected, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # ... but for Go's escapes (encoding/json): &, < and >, U+2028, bytes not UTF-8.
    go = dumped.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    go = go.replace("\u2028", "\\u2028").replace("\udcff", "\\ufffd")
    assert line == go + "\n"
    assert '"/é\\u2028' in line and '\\"q\\" \\ufffd"' in line
