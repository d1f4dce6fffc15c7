"""The REST API (``api@internal``): endpoints, shapes, filters, paging, errors, redaction.

Expected documents mirror Traefik's ``pkg/api/testdata`` golden files where the
objects are the same (edgeway's configuration models carry Traefik's defaults,
so load balancers show e.g. ``strategy`` and ``responseForwarding``).
"""

from __future__ import annotations

import asyncio
import json
import re
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import edgeway
import pytest
from edgeway.api.handler import api_handler, go_json, go_time
from edgeway.api.redact import REDACTED, redact_url, secret_name
from edgeway.api.serialize import rawdata
from edgeway.config.dynamic import parse_configuration
from edgeway.config.static import StaticConfiguration
from edgeway.http.message import Headers, Request, Response
from edgeway.pipeline.runtime import (
    DISABLED,
    ENABLED,
    WARNING,
    MiddlewareInfo,
    RouterInfo,
    RuntimeConfiguration,
    ServiceInfo,
)
from edgeway.plugins import PluginInfo

# --------------------------------------------------------------------------- fixtures

MYPROVIDER = {
    "http": {
        "routers": {
            "bar": {
                "entryPoints": ["web"],
                "service": "foo-service@myprovider",
                "rule": "Host(`foo.bar`)",
                "middlewares": ["auth", "addPrefixTest@anotherprovider"],
            },
            "test": {
                "entryPoints": ["web"],
                "service": "fii-service@myprovider",
                "rule": "Host(`fii.bar.other`)",
                "middlewares": ["addPrefixTest", "auth"],
            },
            "baz": {
                "entryPoints": ["web"],
                "service": "foo-service",
                "rule": "Host(`foo.baz`)",
                "tls": {},
            },
            "custom": {
                "entryPoints": ["websecure"],
                "service": "foo-service",
                "rule": "Host(`a`) && PathPrefix(`/x`)",
                "priority": 42,
                "tls": {"options": "foo"},
            },
        },
        "services": {
            "foo-service": {
                "loadBalancer": {
                    "servers": [{"url": "http://127.0.0.1"}, {"url": "http://127.0.0.2"}]
                }
            },
            "fii-service": {
                "loadBalancer": {"servers": [{"url": "http://user:pa55@10.0.0.1:80/"}]}
            },
            "canary": {
                "weighted": {
                    "services": [{"name": "foo-service", "weight": 1}],
                    "sticky": {"cookie": {"name": "chocolat", "secure": True, "httpOnly": True}},
                }
            },
            "mirror": {
                "mirroring": {"service": "one", "mirrors": [{"name": "two", "percent": 10}]},
            },
        },
        "middlewares": {
            "addPrefixTest": {"addPrefix": {"prefix": "/titi"}},
            "auth": {
                "basicAuth": {"users": ["admin:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/", "bob:x"]}
            },
            "digest": {"digestAuth": {"users": ["test:traefik:a2688e031edb4be6a3797f3882655c05"]}},
            "fwd": {
                "forwardAuth": {
                    "address": "https://auth.example",
                    "tls": {"cert": "/certs/c.pem", "key": "-----BEGIN PRIVATE KEY-----\nMIIE"},
                }
            },
            "rl": {
                "rateLimit": {
                    "average": 10,
                    "redis": {
                        "username": "redis-user",
                        "password": "hunter2",
                        "tls": {"key": "/k.pem"},
                    },
                }
            },
            "hdr": {
                "headers": {
                    "customRequestHeaders": {
                        "Authorization": "Bearer abc",
                        "X-Api-Key": "k",
                        "X-Plain": "v",
                        "X-Drop": "",
                    },
                    "customResponseHeaders": {"Set-Cookie": "s=1"},
                }
            },
            "plug": {
                "plugin": {
                    "MyPlugin": {
                        "apiToken": "t0k",
                        "level": 3,
                        "nested": {"password": "p", "ok": True},
                    }
                }
            },
        },
    },
    "tcp": {
        "routers": {
            "tcpbar": {
                "entryPoints": ["web"],
                "service": "tcpsvc",
                "rule": "HostSNI(`foo.bar`)",
                "middlewares": ["ipal"],
            },
            "tcpfoo": {
                "entryPoints": ["web"],
                "service": "tcpsvc@myprovider",
                "rule": "HostSNI(`*`)",
            },
        },
        "services": {"tcpsvc": {"loadBalancer": {"servers": [{"address": "127.0.0.1:2345"}]}}},
        "middlewares": {"ipal": {"ipAllowList": {"sourceRange": ["127.0.0.1/32"]}}},
    },
    "udp": {
        "routers": {"udpbar": {"entryPoints": ["udp"], "service": "udpsvc"}},
        "services": {"udpsvc": {"loadBalancer": {"servers": [{"address": "127.0.0.1:2345"}]}}},
    },
}

ANOTHER = {
    "http": {
        "middlewares": {"addPrefixTest": {"addPrefix": {"prefix": "/toto"}}},
        "routers": {
            "foo": {
                "entryPoints": ["web"],
                "service": "fii-service",
                "rule": "Host(`fii.foo.other`)",
            }
        },
    }
}


def _fill(rt: RuntimeConfiguration, provider: str, data: dict[str, Any]) -> None:
    cfg = parse_configuration(data)
    for section, pairs in (
        (cfg.http, (("routers", "routers", RouterInfo), ("services", "services", ServiceInfo),
                    ("middlewares", "middlewares", MiddlewareInfo))),
        (cfg.tcp, (("routers", "tcp_routers", RouterInfo), ("services", "tcp_services", ServiceInfo),
                   ("middlewares", "tcp_middlewares", MiddlewareInfo))),
        (cfg.udp, (("routers", "udp_routers", RouterInfo), ("services", "udp_services", ServiceInfo))),
    ):  # fmt: skip
        if section is None:
            continue
        for key, table, cls in pairs:
            for name, obj in (getattr(section, key) or {}).items():
                q = f"{name}@{provider}"
                info = cls(q, provider, obj)
                if cls is RouterInfo:
                    info.using = sorted(obj.entryPoints or [])
                getattr(rt, table)[q] = info


def build_runtime() -> RuntimeConfiguration:
    rt = RuntimeConfiguration()
    _fill(rt, "myprovider", MYPROVIDER)
    _fill(rt, "anotherprovider", ANOTHER)
    rt.populate_used_by()
    rt.routers["custom@myprovider"].priority = 42
    rt.routers["baz@myprovider"].priority = 15  # computed: len(rule)
    rt.routers["bar@myprovider"].add_error("something is odd", critical=False)
    rt.routers["foo@anotherprovider"].add_error(
        'the service "fii-service@anotherprovider" does not exist', True
    )
    rt.services["foo-service@myprovider"].server_status = {
        "http://127.0.0.1": "UP",
        "http://127.0.0.2": "DOWN",
    }
    rt.services["fii-service@myprovider"].server_status = {"http://user:pa55@10.0.0.1:80/": "UP"}
    rt.services["mirror@myprovider"].add_error('service "one@myprovider" does not exist', True)
    rt.services["canary@myprovider"].add_error("health check disabled", False)
    rt.middlewares["digest@myprovider"].add_error("bad users", True)
    rt.tcp_routers["tcpfoo@myprovider"].add_error("warn", False)
    rt.tcp_services["tcpsvc@myprovider"].server_status = {"127.0.0.1:2345": "UP"}
    return rt


def make_kernel(rt: RuntimeConfiguration | None = None, **static: Any) -> SimpleNamespace:
    static.setdefault("entryPoints", {"web": {"address": ":80"}, "websecure": {"address": ":443"}})
    static.setdefault("api", {"insecure": True})
    return SimpleNamespace(
        state=SimpleNamespace(
            runtime=rt if rt is not None else build_runtime(), start_time=1_700_000_000.25
        ),
        static=StaticConfiguration(**static),
        plugins=SimpleNamespace(
            infos=[
                PluginInfo(
                    "builtin-middlewares",
                    "0.1.0",
                    "edgeway.middlewares.builtin",
                    ["register_middlewares"],
                    True,
                ),
                PluginInfo("internal", "0.1.0", "edgeway.internal", ["register_providers"], True),
            ]
        ),
    )


@pytest.fixture
def kernel() -> SimpleNamespace:
    return make_kernel()


def call(kernel: Any, target: str, method: str = "GET") -> Response:
    path, _, query = target.partition("?")
    return asyncio.run(api_handler(kernel)(Request(method, path, query, Headers())))


def get(kernel: Any, target: str, status: int = 200) -> Any:
    resp = call(kernel, target)
    assert resp.status == status, resp.body
    if status == 200:
        assert resp.headers.get(b"content-type") == b"application/json"
    assert resp.body.endswith(b"\n")
    return json.loads(resp.body)


def names(items: list[dict[str, Any]]) -> list[str]:
    return [i["name"] for i in items]


# --------------------------------------------------------------------------- routers


def test_router_by_name_matches_traefik_golden(kernel: SimpleNamespace) -> None:
    # testdata/router-bar.json, plus the warning we added
    assert get(kernel, "/api/http/routers/bar@myprovider") == {
        "entryPoints": ["web"],
        "middlewares": ["auth", "addPrefixTest@anotherprovider"],
        "name": "bar@myprovider",
        "provider": "myprovider",
        "priorityStr": "0",
        "rule": "Host(`foo.bar`)",
        "service": "foo-service@myprovider",
        "status": WARNING,
        "error": ["something is odd"],
        "using": ["web"],
    }


def test_router_name_is_url_decoded(kernel: SimpleNamespace) -> None:
    assert get(kernel, "/api/http/routers/bar%40myprovider")["name"] == "bar@myprovider"
    rt = kernel.state.runtime
    info = rt.routers["bar@myprovider"]
    rt.routers["foo / bar@myprovider"] = RouterInfo(
        "foo / bar@myprovider", "myprovider", info.config, using=["web"]
    )
    doc = get(kernel, "/api/http/routers/" + quote("foo / bar@myprovider", safe=""))
    assert doc["name"] == "foo / bar@myprovider"
    assert doc["provider"] == "myprovider"


def test_router_tls_default_options_and_priority(kernel: SimpleNamespace) -> None:
    baz = get(kernel, "/api/http/routers/baz@myprovider")
    assert baz["tls"] == {"options": "default"}  # router-baz-default-tls-options.json
    assert baz["priority"] == 15 and baz["priorityStr"] == "15"
    custom = get(kernel, "/api/http/routers/custom@myprovider")
    assert custom["tls"] == {"options": "foo"}
    assert custom["priority"] == 42 and custom["priorityStr"] == "42"
    # the representation does not change the runtime (rawdata keeps the config as written)
    assert "options" not in get(kernel, "/api/rawdata")["routers"]["baz@myprovider"]["tls"]


def test_routers_list_sorted_by_name_with_next_page(kernel: SimpleNamespace) -> None:
    resp = call(kernel, "/api/http/routers")
    assert resp.status == 200
    assert resp.headers.get(b"x-next-page") == b"1"
    items = json.loads(resp.body)
    assert names(items) == [
        "bar@myprovider",
        "baz@myprovider",
        "custom@myprovider",
        "foo@anotherprovider",
        "test@myprovider",
    ]
    assert items[3]["status"] == DISABLED and items[3]["provider"] == "anotherprovider"


def test_routers_filters(kernel: SimpleNamespace) -> None:
    assert names(get(kernel, "/api/http/routers?status=disabled")) == ["foo@anotherprovider"]
    assert names(get(kernel, "/api/http/routers?status=ENABLED")) == [
        "baz@myprovider",
        "custom@myprovider",
        "test@myprovider",
    ]
    # search: name or rule, case-insensitive
    assert names(get(kernel, "/api/http/routers?search=FII")) == [
        "foo@anotherprovider",
        "test@myprovider",
    ]
    assert names(get(kernel, "/api/http/routers?search=custom")) == ["custom@myprovider"]
    # serviceName: routers-filtered-serviceName.json (an unqualified reference matches the name part)
    assert names(get(kernel, "/api/http/routers?serviceName=fii-service@myprovider")) == [
        "foo@anotherprovider",
        "test@myprovider",
    ]
    assert names(get(kernel, "/api/http/routers?serviceName=foo-service")) == [
        "baz@myprovider",
        "custom@myprovider",
    ]
    # middlewareName: exact, as written in the router
    assert names(get(kernel, "/api/http/routers?middlewareName=auth")) == [
        "bar@myprovider",
        "test@myprovider",
    ]
    assert names(get(kernel, "/api/http/routers?middlewareName=auth@myprovider")) == []
    assert names(get(kernel, "/api/http/routers?status=enabled&search=bar")) == ["test@myprovider"]


def test_routers_sorting(kernel: SimpleNamespace) -> None:
    assert names(get(kernel, "/api/http/routers?direction=desc"))[0] == "test@myprovider"
    by_prio = names(get(kernel, "/api/http/routers?sortBy=priority&direction=desc"))
    assert by_prio[:2] == ["custom@myprovider", "baz@myprovider"]
    assert by_prio[2:] == [
        "test@myprovider",
        "foo@anotherprovider",
        "bar@myprovider",
    ]  # ties: name, descending
    assert names(get(kernel, "/api/http/routers?sortBy=provider"))[0] == "foo@anotherprovider"
    assert names(get(kernel, "/api/http/routers?sortBy=status")) == [
        "foo@anotherprovider",  # disabled
        "baz@myprovider",
        "custom@myprovider",
        "test@myprovider",  # enabled
        "bar@myprovider",  # warning
    ]
    assert (
        names(get(kernel, "/api/http/routers?sortBy=entryPoints&direction=asc"))[0]
        == "bar@myprovider"
    )
    assert (
        names(get(kernel, "/api/http/routers?sortBy=rule"))[0] == "custom@myprovider"
    )  # Host(`a`)...
    by_service = names(get(kernel, "/api/http/routers?sortBy=service"))
    assert by_service[:2] == [
        "foo@anotherprovider",
        "test@myprovider",
    ]  # "fii-service" < "fii-service@myprovider"
    # unknown sortBy -> by name; any direction but "asc" is descending
    assert (
        names(get(kernel, "/api/http/routers?sortBy=nope&direction=DOWN"))[0] == "test@myprovider"
    )


def _many_routers(n: int) -> RuntimeConfiguration:
    rt = RuntimeConfiguration()
    cfg = parse_configuration(
        {"http": {"routers": {f"bar{i:2d}": {"entryPoints": ["web"], "service": "s", "rule": f"Host(`foo.bar{i}`)"}
                              for i in range(n)}}}
    )  # fmt: skip
    for name, r in (cfg.http.routers or {}).items():
        rt.routers[f"{name}@myprovider"] = RouterInfo(f"{name}@myprovider", "myprovider", r)
    return rt


def test_paging() -> None:
    k = make_kernel(_many_routers(19))
    resp = call(k, "/api/http/routers?page=3&per_page=7")  # routers-many-lastpage.json
    assert resp.status == 200 and resp.headers.get(b"x-next-page") == b"1"
    assert names(json.loads(resp.body)) == [f"bar{i:2d}@myprovider" for i in range(14, 19)]
    resp = call(k, "/api/http/routers?page=2&per_page=7")
    assert resp.headers.get(b"x-next-page") == b"3"
    assert len(json.loads(resp.body)) == 7

    k3 = make_kernel(_many_routers(3))
    resp = call(k3, "/api/http/routers?page=2&per_page=1")  # routers-page2.json
    assert resp.headers.get(b"x-next-page") == b"3"
    assert names(json.loads(resp.body)) == ["bar 1@myprovider"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("page=2&per_page=10", "invalid request: page: 2, per_page: 10"),
        ("page=0", "invalid request: page: 0"),
        ("page=-3", "invalid request: page: -3"),
        ("page=abc", "invalid request: page: 0"),
        ("per_page=0&page=x", "invalid request: per_page: 0"),
        ("per_page=99999999999999999999", "invalid request: per_page: 9223372036854775807"),
    ],
)
def test_paging_errors(query: str, message: str) -> None:
    resp = call(make_kernel(_many_routers(10)), f"/api/http/routers?{query}")
    assert resp.status == 400
    assert resp.headers.get(b"content-type") == b"text/plain; charset=utf-8"
    assert resp.headers.get(b"x-next-page") is None
    assert resp.body == go_json({"message": message}) + b"\n"


def test_empty_lists() -> None:
    k = make_kernel(RuntimeConfiguration())
    for path in ("/api/http/routers", "/api/http/services", "/api/http/middlewares", "/api/tcp/routers",
                 "/api/tcp/services", "/api/tcp/middlewares", "/api/udp/routers", "/api/udp/services"):  # fmt: skip
        resp = call(k, path)
        assert (resp.status, resp.body, resp.headers.get(b"x-next-page")) == (200, b"[]\n", b"1"), (
            path
        )
    assert call(k, "/api/http/routers?page=2").status == 400


# --------------------------------------------------------------------------- services


def test_service_by_name(kernel: SimpleNamespace) -> None:
    doc = get(kernel, "/api/http/services/foo-service@myprovider")
    assert doc["type"] == "loadbalancer"
    assert doc["name"] == "foo-service@myprovider" and doc["provider"] == "myprovider"
    assert doc["status"] == ENABLED
    assert doc["serverStatus"] == {"http://127.0.0.1": "UP", "http://127.0.0.2": "DOWN"}
    assert doc["usedBy"] == ["bar@myprovider", "baz@myprovider", "custom@myprovider"]
    assert doc["loadBalancer"]["servers"] == [
        {"url": "http://127.0.0.1"},
        {"url": "http://127.0.0.2"},
    ]
    assert doc["loadBalancer"]["passHostHeader"] is True


def test_services_list_types_and_filters(kernel: SimpleNamespace) -> None:
    items = get(kernel, "/api/http/services")
    assert names(items) == [
        "canary@myprovider",
        "fii-service@myprovider",
        "foo-service@myprovider",
        "mirror@myprovider",
    ]
    assert [i["type"] for i in items] == ["weighted", "loadbalancer", "loadbalancer", "mirroring"]
    canary = items[0]
    assert canary["weighted"]["sticky"]["cookie"]["name"] == "chocolat"
    assert canary["status"] == WARNING and canary["error"] == ["health check disabled"]
    assert "serverStatus" not in canary and "usedBy" not in canary
    assert names(get(kernel, "/api/http/services?status=disabled")) == ["mirror@myprovider"]
    assert names(get(kernel, "/api/http/services?search=SERVICE")) == [
        "fii-service@myprovider",
        "foo-service@myprovider",
    ]
    # serviceName / middlewareName do not apply to services
    assert len(get(kernel, "/api/http/services?middlewareName=zzz")) == 4
    by_servers = names(get(kernel, "/api/http/services?sortBy=servers&direction=desc"))
    assert by_servers == [
        "foo-service@myprovider",
        "fii-service@myprovider",
        "mirror@myprovider",
        "canary@myprovider",
    ]
    assert names(get(kernel, "/api/http/services?sortBy=type"))[:2] == [
        "fii-service@myprovider",
        "foo-service@myprovider",
    ]


# --------------------------------------------------------------------------- middlewares


def test_middlewares_golden_shapes(kernel: SimpleNamespace) -> None:
    # middlewares.json / middleware-auth.json (users redacted, see below)
    assert get(kernel, "/api/http/middlewares/addPrefixTest@anotherprovider") == {
        "addPrefix": {"prefix": "/toto"},
        "name": "addPrefixTest@anotherprovider",
        "provider": "anotherprovider",
        "status": "enabled",
        "type": "addprefix",
        "usedBy": ["bar@myprovider"],
    }
    assert get(kernel, "/api/http/middlewares/auth@myprovider") == {
        "basicAuth": {"users": [REDACTED, REDACTED]},
        "name": "auth@myprovider",
        "provider": "myprovider",
        "status": "enabled",
        "type": "basicauth",
        "usedBy": ["bar@myprovider", "test@myprovider"],
    }
    items = get(kernel, "/api/http/middlewares")
    assert names(items)[:3] == [
        "addPrefixTest@anotherprovider",
        "addPrefixTest@myprovider",
        "auth@myprovider",
    ]
    types = {i["name"]: i["type"] for i in items}
    assert types["plug@myprovider"] == "myplugin"  # a plugin's type is its (lower-cased) name
    assert types["fwd@myprovider"] == "forwardauth" and types["rl@myprovider"] == "ratelimit"
    assert names(get(kernel, "/api/http/middlewares?status=disabled")) == ["digest@myprovider"]
    assert names(get(kernel, "/api/http/middlewares?search=prefix")) == [
        "addPrefixTest@anotherprovider",
        "addPrefixTest@myprovider",
    ]
    by_type = names(get(kernel, "/api/http/middlewares?sortBy=type"))
    assert by_type[:3] == [
        "addPrefixTest@anotherprovider",
        "addPrefixTest@myprovider",
        "auth@myprovider",
    ]
    assert (
        names(get(kernel, "/api/http/middlewares?sortBy=provider"))[0]
        == "addPrefixTest@anotherprovider"
    )


def test_secrets_are_redacted(kernel: SimpleNamespace) -> None:
    mw = {m["name"]: m for m in get(kernel, "/api/http/middlewares")}
    assert mw["digest@myprovider"]["digestAuth"]["users"] == [REDACTED]
    fwd = mw["fwd@myprovider"]["forwardAuth"]
    assert fwd["tls"] == {"cert": "/certs/c.pem", "key": REDACTED}
    assert fwd["address"] == "https://auth.example"
    redis = mw["rl@myprovider"]["rateLimit"]["redis"]
    assert (redis["username"], redis["password"], redis["tls"]["key"]) == (
        REDACTED,
        REDACTED,
        REDACTED,
    )
    assert redis["endpoints"] == ["localhost:6379"]
    headers = mw["hdr@myprovider"]["headers"]
    assert headers["customRequestHeaders"] == {
        "Authorization": REDACTED,
        "X-Api-Key": REDACTED,
        "X-Plain": "v",
        "X-Drop": "",
    }
    assert headers["customResponseHeaders"] == {"Set-Cookie": REDACTED}
    assert mw["plug@myprovider"]["plugin"] == {
        "MyPlugin": {"apiToken": REDACTED, "level": 3, "nested": {"password": REDACTED, "ok": True}}
    }
    svc = get(kernel, "/api/http/services/fii-service@myprovider")
    assert svc["loadBalancer"]["servers"] == [{"url": f"http://{REDACTED}@10.0.0.1:80/"}]
    assert svc["serverStatus"] == {f"http://{REDACTED}@10.0.0.1:80/": "UP"}

    # nothing secret anywhere the API can show
    raw = call(kernel, "/api/rawdata").body
    everything = b"".join(
        call(kernel, p).body
        for p in ("/api/http/middlewares", "/api/http/services", "/api/rawdata")
    )
    for secret in (b"$apr1$", b"a2688e031edb", b"BEGIN PRIVATE", b"hunter2", b"redis-user", b"/k.pem",
                   b"Bearer abc", b"t0k", b"pa55", b"s=1"):  # fmt: skip
        assert secret not in everything, secret
    assert json.loads(raw)["middlewares"]["auth@myprovider"]["basicAuth"]["users"] == [
        REDACTED,
        REDACTED,
    ]
    # the runtime itself is untouched
    assert kernel.state.runtime.middlewares["auth@myprovider"].config.basicAuth.users[1] == "bob:x"


def test_redaction_helpers() -> None:
    assert redact_url("http://a:b@h:1/p?q") == f"http://{REDACTED}@h:1/p?q"
    assert redact_url("http://h/p@x") == "http://h/p@x"
    assert redact_url("h2c://host") == "h2c://host"
    assert secret_name("X-Auth-Token") and secret_name("client_secret") and secret_name("key")
    assert not secret_name("X-Forwarded-Proto") and not secret_name("level")


# --------------------------------------------------------------------------- tcp / udp


def test_tcp_endpoints(kernel: SimpleNamespace) -> None:
    # tcprouter-bar.json shape
    assert get(kernel, "/api/tcp/routers/tcpbar@myprovider") == {
        "entryPoints": ["web"],
        "middlewares": ["ipal"],
        "name": "tcpbar@myprovider",
        "provider": "myprovider",
        "priorityStr": "0",
        "rule": "HostSNI(`foo.bar`)",
        "service": "tcpsvc",
        "status": "enabled",
        "using": ["web"],
    }
    assert names(get(kernel, "/api/tcp/routers?status=warning")) == ["tcpfoo@myprovider"]
    assert names(get(kernel, "/api/tcp/routers?middlewareName=ipal")) == ["tcpbar@myprovider"]
    assert names(get(kernel, "/api/tcp/routers?serviceName=tcpsvc@myprovider")) == [
        "tcpbar@myprovider",
        "tcpfoo@myprovider",
    ]
    svc = get(kernel, "/api/tcp/services/tcpsvc%40myprovider")  # tcpservice-bar.json
    assert svc["loadBalancer"]["servers"] == [{"address": "127.0.0.1:2345"}]
    assert (svc["type"], svc["serverStatus"], svc["usedBy"]) == (
        "loadbalancer",
        {"127.0.0.1:2345": "UP"},
        ["tcpbar@myprovider", "tcpfoo@myprovider"],
    )
    assert get(
        kernel, "/api/tcp/middlewares/ipal@myprovider"
    ) == {  # tcpmiddleware-ipallowlist.json
        "ipAllowList": {"sourceRange": ["127.0.0.1/32"]},
        "name": "ipal@myprovider",
        "provider": "myprovider",
        "status": "enabled",
        "type": "ipallowlist",
        "usedBy": ["tcpbar@myprovider"],
    }
    assert names(get(kernel, "/api/tcp/middlewares")) == ["ipal@myprovider"]


def test_udp_endpoints(kernel: SimpleNamespace) -> None:
    # udprouter-bar.json: no priorityStr for UDP
    assert get(kernel, "/api/udp/routers/udpbar@myprovider") == {
        "entryPoints": ["udp"],
        "name": "udpbar@myprovider",
        "provider": "myprovider",
        "service": "udpsvc",
        "status": "enabled",
        "using": ["udp"],
    }
    assert get(kernel, "/api/udp/services/udpsvc@myprovider") == {  # udpservice-bar.json
        "loadBalancer": {"servers": [{"address": "127.0.0.1:2345"}]},
        "name": "udpsvc@myprovider",
        "provider": "myprovider",
        "status": "enabled",
        "type": "loadbalancer",
        "usedBy": ["udpbar@myprovider"],
    }
    assert names(get(kernel, "/api/udp/routers?serviceName=udpsvc")) == ["udpbar@myprovider"]
    assert names(get(kernel, "/api/udp/routers?search=nothing")) == []
    assert call(kernel, "/api/udp/middlewares").status == 404


# --------------------------------------------------------------------------- not found


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/api/http/routers/nope@file", "router not found: nope@file"),
        ("/api/http/services/a%40b", "service not found: a@b"),
        ("/api/http/middlewares/x<y>&z", "middleware not found: x<y>&z"),
        ("/api/tcp/routers/bar@myprovider", "router not found: bar@myprovider"),
        ("/api/tcp/services/nope", "service not found: nope"),
        ("/api/tcp/middlewares/nope", "middleware not found: nope"),
        ("/api/udp/routers/nope", "router not found: nope"),
        ("/api/udp/services/nope", "service not found: nope"),
        ("/api/entrypoints/nope", "entry point not found: nope"),
    ],
)
def test_unknown_names(kernel: SimpleNamespace, path: str, message: str) -> None:
    resp = call(kernel, path)
    assert resp.status == 404
    assert resp.headers.get(b"content-type") == b"text/plain; charset=utf-8"
    assert resp.headers.get(b"x-content-type-options") == b"nosniff"
    assert resp.body == go_json({"message": message}) + b"\n"
    if "<" in message:
        assert b"\\u003cy\\u003e\\u0026z" in resp.body  # Go escapes HTML characters


def test_bad_escape(kernel: SimpleNamespace) -> None:
    resp = call(kernel, "/api/http/routers/a%zzb")
    assert resp.status == 400
    assert json.loads(resp.body) == {
        "message": 'unable to decode routerID "a%zzb": invalid URL escape "%zz"'
    }
    resp = call(kernel, "/api/entrypoints/a%4")
    assert json.loads(resp.body) == {
        "message": 'unable to decode entryPointID "a%4": invalid URL escape "%4"'
    }


@pytest.mark.parametrize(
    "path",
    ["/api", "/api/", "/api/nope", "/api/http", "/api/http/routers/", "/api/http/routers/a/b", "/api/grpc/routers",
     "/api/udp/middlewares/x", "/api/certificates", "/dashboard/", "/", "/api/rawdata/"],
)  # fmt: skip
def test_unknown_paths(path: str) -> None:
    kernel = make_kernel(api={"insecure": True, "dashboard": False})  # see test_dashboard.py
    resp = call(kernel, path)
    assert (resp.status, resp.body) == (404, b"404 page not found\n")


def test_methods_and_clean_paths(kernel: SimpleNamespace) -> None:
    for method in ("POST", "PUT", "DELETE", "HEAD"):
        resp = call(kernel, "/api/rawdata", method)
        assert (resp.status, resp.body) == (405, b"")
    assert call(kernel, "/api/nope", "POST").status == 404
    resp = call(kernel, "/api/./http/../rawdata?x=1")
    assert resp.status == 301 and resp.headers.get(b"location") == b"/api/rawdata?x=1"
    assert call(kernel, "//api/version").headers.get(b"location") == b"/api/version"


def test_base_path() -> None:
    k = make_kernel(api={"insecure": True, "basePath": "/traefik/"})
    assert get(k, "/traefik/api/http/routers/bar@myprovider")["name"] == "bar@myprovider"
    assert call(k, "/traefik/api/version").status == 200
    assert call(k, "/api/rawdata").status == 404
    k = make_kernel(api={"insecure": True, "basePath": "/x"})
    assert call(k, "/x/api/overview").status == 200
    assert call(k, "/xapi/overview").status == 404


# --------------------------------------------------------------------------- other endpoints


def test_rawdata(kernel: SimpleNamespace) -> None:
    doc = get(kernel, "/api/rawdata")
    assert set(doc) == {"routers", "middlewares", "services", "tcpRouters", "tcpMiddlewares", "tcpServices",
                        "udpRouters", "udpServices"}  # fmt: skip
    expected = rawdata(kernel.state.runtime)
    assert doc["routers"] == expected["routers"]
    assert doc["routers"]["custom@myprovider"]["priority"] == 42
    assert (
        doc["routers"]["baz@myprovider"]["priority"] == 15
    )  # the computed priority, as Traefik writes it back
    assert doc["services"]["foo-service@myprovider"]["serverStatus"] == {
        "http://127.0.0.1": "UP",
        "http://127.0.0.2": "DOWN",
    }
    assert "name" not in doc["routers"]["bar@myprovider"]  # no representation fields in rawdata
    assert "type" not in doc["services"]["foo-service@myprovider"]
    assert doc["tcpServices"]["tcpsvc@myprovider"]["serverStatus"] == {"127.0.0.1:2345": "UP"}
    assert get(make_kernel(RuntimeConfiguration()), "/api/rawdata") == {}


def test_overview(kernel: SimpleNamespace) -> None:
    assert get(kernel, "/api/overview") == {
        "http": {
            "routers": {"total": 5, "warnings": 1, "errors": 1},
            "services": {"total": 4, "warnings": 1, "errors": 1},
            "middlewares": {"total": 8, "warnings": 0, "errors": 1},
        },
        "tcp": {
            "routers": {"total": 2, "warnings": 1, "errors": 0},
            "services": {"total": 1, "warnings": 0, "errors": 0},
            "middlewares": {"total": 1, "warnings": 0, "errors": 0},
        },
        "udp": {
            "routers": {"total": 1, "warnings": 0, "errors": 0},
            "services": {"total": 1, "warnings": 0, "errors": 0},
        },
        "features": {"tracing": "", "metrics": "", "accessLog": False},
    }
    zero = {"total": 0, "warnings": 0, "errors": 0}
    assert get(make_kernel(RuntimeConfiguration()), "/api/overview") == {  # overview-empty.json
        "http": {"routers": zero, "services": zero, "middlewares": zero},
        "tcp": {"routers": zero, "services": zero, "middlewares": zero},
        "udp": {"routers": zero, "services": zero},
        "features": {"tracing": "", "metrics": "", "accessLog": False},
    }


def test_overview_providers() -> None:
    k = make_kernel(RuntimeConfiguration())
    providers = SimpleNamespace(
        enabled=lambda: {"kubernetesCRD": object(), "file": object(), "myStore": object()}
    )
    k.static = SimpleNamespace(
        providers=providers, api=k.static.api, entryPoints=k.static.entryPoints
    )
    assert get(k, "/api/overview")["providers"] == ["File", "KubernetesCRD", "MyStore"]


def test_entrypoints(kernel: SimpleNamespace) -> None:
    resp = call(kernel, "/api/entrypoints")
    assert resp.headers.get(b"x-next-page") == b"1"
    items = json.loads(resp.body)
    assert names(items) == ["web", "websecure"]
    # Traefik's EntryPoint with its SetDefaults, as marshalled by Go
    assert items[0] == {
        "address": ":80",
        "transport": {
            "lifeCycle": {"graceTimeOut": "10s"},
            "respondingTimeouts": {"readTimeout": "1m0s", "idleTimeout": "3m0s"},
        },
        "forwardedHeaders": {},
        "http": {
            "sanitizePath": True,
            "maxHeaderBytes": 1048576,
            "underscoreHeadersStrategy": "keep",
        },
        "http2": {
            "maxConcurrentStreams": 250,
            "maxDecoderHeaderTableSize": 4096,
            "maxEncoderHeaderTableSize": 4096,
        },
        "udp": {"timeout": "3s"},
        "name": "web",
    }
    assert get(kernel, "/api/entrypoints?page=2&per_page=1") == [items[1]]
    assert call(kernel, "/api/entrypoints?page=3&per_page=1").status == 400


def test_entrypoint_by_name() -> None:
    k = make_kernel(
        entryPoints={
            "foo / bar": {"address": ":81"},
            "web": {
                "address": "127.0.0.1:8000",
                "asDefault": True,
                "reusePort": True,
                "forwardedHeaders": {"trustedIPs": ["10.0.0.0/8"], "insecure": True},
                "http": {
                    "middlewares": ["auth@file"],
                    "sanitizePath": False,
                    "encodeQuerySemicolons": True,
                },
                "transport": {
                    "keepAliveMaxRequests": 5,
                    "keepAliveMaxTime": "30s",
                    "respondingTimeouts": {"readTimeout": 0, "writeTimeout": "5s"},
                    "lifeCycle": {"requestAcceptGraceTimeout": "1s", "graceTimeOut": 0},
                },
            },
        }
    )
    assert get(k, "/api/entrypoints/" + quote("foo / bar", safe=""))["name"] == "foo / bar"
    web = get(k, "/api/entrypoints/web")
    assert web["address"] == "127.0.0.1:8000"
    assert web["asDefault"] is True and web["reusePort"] is True
    assert web["forwardedHeaders"] == {"insecure": True, "trustedIPs": ["10.0.0.0/8"]}
    assert web["http"] == {
        "middlewares": ["auth@file"],
        "encodeQuerySemicolons": True,
        "sanitizePath": False,
        "maxHeaderBytes": 1048576,
        "underscoreHeadersStrategy": "keep",
    }
    assert web["transport"] == {
        "lifeCycle": {"requestAcceptGraceTimeout": "1s"},
        "respondingTimeouts": {"writeTimeout": "5s", "idleTimeout": "3m0s"},
        "keepAliveMaxTime": "30s",
        "keepAliveMaxRequests": 5,
    }


def test_version(kernel: SimpleNamespace) -> None:
    resp = call(kernel, "/api/version")
    assert resp.status == 200
    assert resp.headers.get(b"content-type") == b"application/json; charset=UTF-8"
    assert not resp.body.endswith(b"\n")
    doc = json.loads(resp.body)
    assert set(doc) == {"Version", "Codename", "startDate"}
    assert doc["Version"] == edgeway.__version__ and doc["Codename"] == "edgeway"
    assert doc["startDate"] == go_time(1_700_000_000.25)
    assert re.fullmatch(r"2023-11-1[45]T\d\d:\d\d:20\.25(Z|[+-]\d\d:\d\d)", doc["startDate"])


def test_go_time_formats() -> None:
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)", go_time(1_700_000_000.0)
    )
    assert re.search(r":\d\d\.5(Z|[+-])", go_time(1_700_000_000.5))


def test_plugins(kernel: SimpleNamespace) -> None:
    assert get(kernel, "/api/plugins") == [
        {
            "name": "builtin-middlewares",
            "version": "0.1.0",
            "module": "edgeway.middlewares.builtin",
            "hooks": ["register_middlewares"],
            "builtin": True,
        },
        {
            "name": "internal",
            "version": "0.1.0",
            "module": "edgeway.internal",
            "hooks": ["register_providers"],
            "builtin": True,
        },
    ]


def test_reads_the_live_runtime(kernel: SimpleNamespace) -> None:
    handler = api_handler(kernel)
    first = asyncio.run(handler(Request("GET", "/api/http/routers", "", Headers())))
    kernel.state.runtime = RuntimeConfiguration()
    second = asyncio.run(handler(Request("GET", "/api/http/routers", "", Headers())))
    assert len(json.loads(first.body)) == 5 and second.body == b"[]\n"


def test_go_json_escaping() -> None:
    assert go_json({"rule": "Host(`a`) && Path(`/<x>`)", "é": "\u2028"}) == (
        b'{"rule":"Host(`a`) \\u0026\\u0026 Path(`/\\u003cx\\u003e`)","\xc3\xa9":"\\u2028"}'
    )
