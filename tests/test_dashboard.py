"""The web dashboard: ``dashboard@internal`` and ``api@internal`` serving the
files shipped in the package (Traefik's ``pkg/api/dashboard`` and the
``dashboard`` router of ``pkg/provider/traefik/internal.go``), and the pages
rendered in a real headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from edgeway.dashboard import load_assets
from support import Client, Edgeway, edgeway, get

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"

STATIC = """
entryPoints:
  web: {address: "127.0.0.1:0"}
  traefik: {address: "127.0.0.1:0"}
  db: {address: "127.0.0.1:0"}
api: {insecure: true}
"""

# A mixed configuration: HTTP routers (one broken: its service does not exist),
# services, middlewares, a TCP router and service.
DYNAMIC = """
http:
  routers:
    shop:
      entryPoints: [web]
      rule: Host(`shop.example`)
      middlewares: [strip]
      service: shop-svc
    broken-router:
      entryPoints: [web]
      rule: Host(`broken.example`)
      service: missing-svc
  middlewares:
    strip:
      stripPrefix: {prefixes: [/shop]}
  services:
    shop-svc:
      loadBalancer:
        servers: [{url: "http://127.0.0.1:9"}]
tcp:
  routers:
    db:
      entryPoints: [db]
      rule: HostSNI(`*`)
      service: db-svc
  services:
    db-svc:
      loadBalancer:
        servers: [{address: "127.0.0.1:9"}]
"""
BROKEN_ERROR = 'the service "missing-svc@file" does not exist'


@pytest.fixture
async def proxy(tmp_path: Path) -> AsyncIterator[Edgeway]:
    async with edgeway(tmp_path, DYNAMIC, STATIC) as e:
        yield e


# --------------------------------------------------------------------------- insecure mode routing


async def test_internal_router_and_service(proxy: Edgeway) -> None:
    """The ``dashboard@internal`` router, middlewares and service, as Traefik's internal provider."""
    port = proxy.port("traefik")
    router = (await get(port, "/api/http/routers/dashboard@internal")).json()
    assert router["rule"] == "PathPrefix(`/`)"
    assert router["entryPoints"] == ["traefik"]
    assert router["service"] == "dashboard@internal"
    assert router["priority"] == sys.maxsize - 2
    assert router["middlewares"] == [
        "dashboard_redirect@internal",
        "dashboard_stripprefix@internal",
    ]
    assert router["status"] == "enabled"
    redirect = (await get(port, "/api/http/middlewares/dashboard_redirect@internal")).json()
    assert redirect["redirectRegex"]["replacement"] == "${1}/dashboard/"
    strip = (await get(port, "/api/http/middlewares/dashboard_stripprefix@internal")).json()
    assert strip["stripPrefix"]["prefixes"] == ["/dashboard/", "/dashboard"]
    service = (await get(port, "/api/http/services/dashboard@internal")).json()
    assert service["status"] == "enabled" and service["usedBy"] == ["dashboard@internal"]
    # Not on user entry points.
    assert (await get(proxy.port("web"), "/dashboard/")).status == 404


async def test_root_redirects_to_dashboard(proxy: Edgeway) -> None:
    port = proxy.port("traefik")
    reply = await get(port, "/", host=f"127.0.0.1:{port}")
    assert reply.status == 301
    assert reply.header("location") == f"http://127.0.0.1:{port}/dashboard/"
    assert (await get(port, "/dashboard")).header("location") == "/dashboard/"
    assert (await get(port, "/dashboard")).status == 301
    assert (await get(port, "/dashboard/index.html")).header("location") == "./"


async def test_index_and_files(proxy: Edgeway) -> None:
    port = proxy.port("traefik")
    index = await get(port, "/dashboard/")
    assert index.status == 200
    assert index.header("content-type") == "text/html; charset=utf-8"
    assert b'<meta name="edgeway-api" content="/api/">' in index.body
    assert b'src="app.js"' in index.body and b'href="style.css"' in index.body
    assert "default-src 'none'" in (index.header("content-security-policy") or "")
    assert index.header("x-content-type-options") == "nosniff"
    assert index.header("cache-control") == "no-cache"
    assert index.header("etag")
    for name, content_type, marker in [
        ("app.js", "text/javascript; charset=utf-8", b"use strict"),
        ("style.css", "text/css; charset=utf-8", b":root"),
    ]:
        reply = await get(port, f"/dashboard/{name}")
        assert reply.status == 200, name
        assert reply.header("content-type") == content_type
        assert marker in reply.body
        assert reply.header("content-length") == str(len(reply.body))


async def test_no_external_requests_in_files() -> None:
    """No CDN or other origin: every URL the files name is relative."""
    for name, asset in load_assets().items():
        text = asset.body.decode()
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, name


async def test_revalidation(proxy: Edgeway) -> None:
    port = proxy.port("traefik")
    for path in ("/dashboard/", "/dashboard/app.js", "/dashboard/style.css"):
        first = await get(port, path)
        etag = first.header("etag")
        assert etag and etag.startswith('"')
        again = await get(port, path, headers=[("If-None-Match", etag)])
        assert (again.status, again.body, again.header("etag")) == (304, b"", etag)
        weak = await get(port, path, headers=[("If-None-Match", f'"nope", W/{etag}')])
        assert weak.status == 304
        assert (await get(port, path, headers=[("If-None-Match", "*")])).status == 304
        changed = await get(port, path, headers=[("If-None-Match", '"other"')])
        assert (changed.status, changed.body) == (200, first.body)


async def test_methods(proxy: Edgeway) -> None:
    port = proxy.port("traefik")
    client = await Client.connect(port)
    try:
        head = await client.request("HEAD", "/dashboard/app.js")
        assert head.status == 200 and head.body == b""
        assert head.header("content-type") == "text/javascript; charset=utf-8"
        post = await client.request("POST", "/dashboard/app.js", body=b"x")
        assert post.status == 405 and post.header("allow") == "GET, HEAD"
    finally:
        await client.close()


@pytest.mark.parametrize(
    "target",
    [
        "/dashboard/nope.js",
        "/dashboard/static/app.js",
        "/dashboard/__init__.py",
        "/dashboard/../__init__.py",
        "/dashboard/..%2f__init__.py",
        "/dashboard/%2e%2e/__init__.py",
        "/dashboard/%2e%2e%2f%2e%2e%2fpyproject.toml",
        "/dashboard/....//__init__.py",
        "/dashboard//etc/passwd",
        "/dashboard/app.js/",
        "/dashboard/app.js%00.css",
        "/dashboard/APP.JS",
    ],
)
async def test_unknown_files_and_traversal(proxy: Edgeway, target: str) -> None:
    """Only the shipped files by their exact names: nothing else on disk is reachable."""
    reply = await get(proxy.port("traefik"), target)
    assert reply.status in (301, 400, 404), (target, reply.status)
    assert b"import" not in reply.body and b"root:" not in reply.body
    if reply.status == 404:
        assert reply.body == b"404 page not found\n"
    if reply.status == 301:  # Go's path cleaning: the clean target, still a dashboard path
        assert (reply.header("location") or "").startswith("/"), reply.headers


async def test_dashboard_disabled(tmp_path: Path) -> None:
    static = STATIC.replace("{insecure: true}", "{insecure: true, dashboard: false}")
    async with edgeway(tmp_path, DYNAMIC, static) as e:
        port = e.port("traefik")
        assert (await get(port, "/api/http/routers/dashboard@internal")).status == 404
        assert (await get(port, "/api/http/services/dashboard@internal")).status == 404
        assert (await get(port, "/dashboard/")).status == 404
        assert (await get(port, "/")).status == 404


# --------------------------------------------------------------------------- secure mode: user routers


SECURE_STATIC = """
entryPoints:
  web: {address: "127.0.0.1:0", forwardedHeaders: {insecure: true}}
api: {basePath: /traefik}
"""
SECURE_DYNAMIC = """
http:
  routers:
    api:
      entryPoints: [web]
      rule: Host(`admin.example`) && PathPrefix(`/traefik`)
      service: api@internal
    dash:
      entryPoints: [web]
      rule: Host(`dash.example`)
      middlewares: [strip]
      service: dashboard@internal
  middlewares:
    strip:
      stripPrefix: {prefixes: [/ui]}
"""


async def test_api_service_serves_dashboard_under_base_path(tmp_path: Path) -> None:
    """``api@internal`` carries the dashboard (``dashboard.Append``) at ``{basePath}/dashboard/``."""
    async with edgeway(tmp_path, SECURE_DYNAMIC, SECURE_STATIC) as e:
        port = e.port()
        admin = {"host": "admin.example"}
        reply = await get(port, "/traefik", **admin)
        assert (reply.status, reply.header("location")) == (302, "/traefik/dashboard/")
        reply = await get(port, "/traefik", headers=[("X-Forwarded-Prefix", "/edge/")], **admin)
        assert reply.header("location") == "/edge/traefik/dashboard/"
        reply = await get(
            port, "/traefik", headers=[("X-Forwarded-Prefix", "//evil.example")], **admin
        )
        assert reply.header("location") == "/traefik/dashboard/"
        assert (await get(port, "/traefik/dashboard", **admin)).header(
            "location"
        ) == "/traefik/dashboard/"
        index = await get(port, "/traefik/dashboard/", **admin)
        assert index.status == 200
        assert b'content="/traefik/api/"' in index.body
        js = await get(port, "/traefik/dashboard/app.js", **admin)
        assert js.header("content-type") == "text/javascript; charset=utf-8"
        again = await get(
            port,
            "/traefik/dashboard/app.js",
            headers=[("If-None-Match", js.header("etag") or "")],
            **admin,
        )
        assert again.status == 304
        assert (await get(port, "/traefik/dashboard/nope", **admin)).status == 404
        assert (await get(port, "/traefik/api/version", **admin)).status == 200
        client = await Client.connect(port)
        try:
            post = await client.request(
                "POST", "/traefik/dashboard/", body=b"", host="admin.example"
            )
            assert (post.status, post.body) == (405, b"")
        finally:
            await client.close()


async def test_dashboard_service_from_user_router(tmp_path: Path) -> None:
    async with edgeway(tmp_path, SECURE_DYNAMIC, SECURE_STATIC) as e:
        port = e.port()
        index = await get(port, "/", host="dash.example")
        assert index.status == 200 and b'content="/traefik/api/"' in index.body
        assert (await get(port, "/ui/style.css", host="dash.example")).status == 200
        reply = await get(port, "/ui", host="dash.example")
        assert (reply.status, reply.header("location")) == (301, "/ui/")


# --------------------------------------------------------------------------- packaging


def test_wheel_ships_the_files(tmp_path: Path) -> None:
    """``package-data`` in pyproject.toml puts the files into the wheel."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(
        ROOT / "kernel", src / "kernel", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    out = tmp_path / "dist"
    code = f"from setuptools import build_meta as b; print(b.build_wheel({str(out)!r}))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=src, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    wheel = out / done.stdout.strip().splitlines()[-1]
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("index.html", "app.js", "style.css"):
        assert f"edgeway/dashboard/static/{name}" in names


# --------------------------------------------------------------------------- in a real browser


def _chromium() -> str:
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing: scripts/test-deps.sh installs Debian's chromium")
    pytest.skip(f"{CHROMIUM} is missing (run scripts/test-deps.sh as root)")


async def _browse(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess[bytes]:
    """Headless Chromium on ``url``, bounded in time; the proxy keeps serving meanwhile."""
    cmd = [
        _chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
        "--virtual-time-budget=10000", *extra, url,
    ]  # fmt: skip
    with anyio.fail_after(90):
        return await anyio.run_process(cmd, check=False)


async def test_browser_shows_broken_router(proxy: Edgeway, tmp_path: Path) -> None:
    """The routers page, rendered by Chromium: the broken router is disabled, in red, with its error."""
    port = proxy.port("traefik")
    url = f"http://127.0.0.1:{port}/dashboard/#/http/routers"
    done = await _browse(url, tmp_path / "profile-dom", "--dump-dom")
    dom = done.stdout.decode()
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert 'data-kind="http/routers"' in dom, dom[-3000:]
    start = dom.index('data-name="broken-router@file"')
    row = dom[dom.rindex("<tr", 0, start) : dom.index("</tr>", start)]
    assert 'class="status-disabled"' in row and 'data-status="disabled"' in row
    assert BROKEN_ERROR.replace('"', "&quot;") in row or BROKEN_ERROR in row, row
    good = dom.index('data-name="shop@file"')
    assert 'data-status="enabled"' in dom[dom.rindex("<tr", 0, good) : dom.index("</tr>", good)]
    assert "Host(`shop.example`)" in dom

    screenshot = tmp_path / "dashboard.png"
    done = await _browse(
        url, tmp_path / "profile-shot", f"--screenshot={screenshot}", "--window-size=1280,900"
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    data = screenshot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000


async def test_browser_overview_and_details(proxy: Edgeway, tmp_path: Path) -> None:
    port = proxy.port("traefik")
    base = f"http://127.0.0.1:{port}/dashboard/"
    dom = (await _browse(base, tmp_path / "p1", "--dump-dom")).stdout.decode()
    assert 'id="overview"' in dom
    assert 'data-entrypoint="traefik"' in dom and 'data-entrypoint="db"' in dom
    assert 'data-counts="http/routers"' in dom and "1 errors" in dom
    assert 'data-counts="udp/services"' in dom and "file" in dom.lower()

    dom = (
        await _browse(base + "#/http/routers/broken-router@file", tmp_path / "p2", "--dump-dom")
    ).stdout.decode()
    assert 'data-status="disabled"' in dom and "missing-svc" in dom
    assert 'class="panel-error"' in dom

    dom = (
        await _browse(base + "#/http/services/shop-svc@file", tmp_path / "p3", "--dump-dom")
    ).stdout.decode()
    assert 'id="servers"' in dom and "http://127.0.0.1:9" in dom
    assert "#/http/routers/shop%40file" in dom  # usedBy

    dom = (
        await _browse(base + "#/http/middlewares/strip@file", tmp_path / "p4", "--dump-dom")
    ).stdout.decode()
    assert "stripprefix" in dom.lower() and "/shop" in dom

    dom = (
        await _browse(base + "#/http/routers?status=disabled", tmp_path / "p5", "--dump-dom")
    ).stdout.decode()
    assert "broken-router@file" in dom and 'data-name="shop@file"' not in dom

    dom = (
        await _browse(base + "#/tcp/routers?search=db", tmp_path / "p6", "--dump-dom")
    ).stdout.decode()
    assert 'data-name="db@file"' in dom
