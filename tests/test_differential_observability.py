"""Observability differential tests: real Traefik 3.7 and edgeway on the same static
observability options and the same dynamic configuration, answering the same requests;
compared on what an operator reads: the ``/metrics`` page (families, types, HELP,
label names and values, counts), the access log (json, common, genericCLF; fields,
header modes, filters) and the spans an OTLP collector receives (names, kinds, tree,
attributes, status) with the ``traceparent`` the backend got.

Four profiles, each a Traefik+edgeway pair started once for the module:

* ``full``: Prometheus with ``addRoutersLabels``, custom ``buckets`` and
  ``headerLabels``; a json access log keeping every header but one redacted and one
  dropped; tracing to an in-process OTLP collector with ``capturedRequestHeaders``,
  ``capturedResponseHeaders`` and ``safeQueryParams``, one router at
  ``traceVerbosity: detailed``; a health-checked service with a server down, and a
  certificate (``traefik_service_server_up``, ``traefik_tls_certs_not_after``);
* ``lean``: Prometheus with its defaults; a ``common`` access log with the three
  filters (``statusCodes``, ``minDuration``, ``retryAttempts``);
* ``fields``: a json access log with ``fields.defaultMode: drop`` and kept names,
  headers dropped but for kept and redacted ones;
* ``clf``: a ``genericCLF`` access log; Prometheus with router families only.

The requests (:data:`REQUESTS`): a 200 (with a query, a redacted ``Authorization``
and non-ASCII text in a header), a 200 through a middleware at detailed verbosity, a
404 without router, a 503 from the backend, a 502 from a down server, the same
through a retry middleware, and a 200 over TLS 1.2.

Intended differences (each asserted where it shows):

* ``/metrics``: the non-``traefik_`` families are each runtime's own (Go's ``go_*``
  and ``process_network_*``; Python's ``python_*``), and edgeway adds
  ``edgeway_config_apply_duration_seconds``; sample values are printed as Python's
  client prints floats (``1.0`` where Go prints ``1``: the same number to a scraper);
* ``traefik_config_reloads_total``: Traefik applies a configuration per provider
  message (the file and the internal provider: 2 at start), edgeway once every
  provider has delivered (1): only "at least one" is compared;
* ``traefik_service_retries_total`` and the access log's ``RetryAttempts``: Traefik
  3.7 never counts retries (``pkg/server/middleware/middlewares.go`` builds the retry
  middleware with empty ``retry.Listeners{}``, so ``metrics.NewRetryListener`` and
  ``accesslog.SaveRetries`` are never called, and ``filters.retryAttempts`` keeps
  nothing); edgeway counts them as Traefik documents;
* spans: at ``detailed`` verbosity Traefik also traces its own metrics
  middlewares (``Metrics`` spans named ``metrics-entrypoint``, ``metrics-router``,
  ``metrics-service``); edgeway's counters are not middlewares but meters fused
  into one wrapper per request (kernel/edgeway/metrics.py): a span per level would
  undo that for a span that says nothing of the request. Those spans are removed
  from Traefik's tree (their children take their place) before comparing;
* span resources are each SDK's (``telemetry.sdk.*``, ``process.*``, ``host.*``,
  ``service.version``): only ``service.name`` is compared;
* ids, times, durations, request counts (the readiness probes count too) and ports
  of the client connection differ by nature: they are checked for their form (hex
  ids of the right length, RFC 3339 and CLF times, integer nanoseconds), not their
  value.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import ssl
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from differential_support import (
    BackendPool,
    Proxy,
    edgeway_binary,
    exchange,
    require_traefik,
    running,
)
from otlp_support import SERVER, Receiver, Span, otlp_http
from prometheus_client.parser import text_string_to_metric_families
from support import Backend, free_port
from tls_support import CA, Issued

TRAEFIK = require_traefik()


@dataclass
class Side:
    """One proxy of a pair, with where its observations land."""

    proxy: Proxy
    access_log: Path
    receiver: Receiver | None

    @property
    def name(self) -> str:
        return self.proxy.name


@dataclass
class Pair:
    traefik: Side
    edgeway: Side
    app: Backend
    down: str

    def both(self) -> tuple[Side, Side]:
        return self.traefik, self.edgeway


# -- configuration ---------------------------------------------------------------------

PROFILES: dict[str, dict[str, Any]] = {
    "full": {
        "metrics": {
            "prometheus": {
                "addRoutersLabels": True,
                "buckets": [0.1, 0.5],
                "headerLabels": {"tag": "X-Tag"},
            }
        },
        "accessLog": {
            "format": "json",
            "fields": {
                "headers": {
                    "defaultMode": "keep",
                    "names": {"Authorization": "redact", "X-Drop": "drop"},
                }
            },
        },
        "tracing": {
            "capturedRequestHeaders": ["X-Req"],
            "capturedResponseHeaders": ["X-Backend"],
            "safeQueryParams": ["q"],
        },
    },
    "lean": {
        "metrics": {"prometheus": {}},
        "accessLog": {
            "format": "common",
            "filters": {"statusCodes": ["404"], "minDuration": "150ms", "retryAttempts": True},
        },
    },
    "fields": {
        "accessLog": {
            "format": "json",
            "fields": {
                "defaultMode": "drop",
                "names": {
                    "RequestHost": "keep",
                    "DownstreamStatus": "keep",
                    "RouterName": "keep",
                    "RequestPath": "keep",
                    "ServiceURL": "keep",
                    "OriginStatus": "keep",
                },
                "headers": {
                    "defaultMode": "drop",
                    "names": {"X-Keep": "keep", "Authorization": "redact"},
                },
            },  # fmt: skip
        },
    },
    "clf": {
        "accessLog": {"format": "genericCLF"},
        "metrics": {
            "prometheus": {
                "addEntryPointsLabels": False,
                "addRoutersLabels": True,
                "addServicesLabels": False,
            }
        },
    },
}


def _dynamic(app: str, down: str, cert: Issued) -> dict[str, Any]:
    return {
        "tls": {"certificates": [{"certFile": str(cert.cert), "keyFile": str(cert.key)}]},
        "http": {
            "routers": {
                "ok": {"rule": "Host(`ok.test`)", "service": "app"},
                "sec": {
                    "rule": "Host(`sec.test`)",
                    "service": "app",
                    "tls": {},
                    "entryPoints": ["websecure"],
                },  # fmt: skip
                "chk": {"rule": "Host(`chk.test`)", "service": "checked"},
                "det": {
                    "rule": "Host(`det.test`)",
                    "service": "app",
                    "middlewares": ["hdr"],
                    "observability": {"traceVerbosity": "detailed"},
                },
                "down": {"rule": "Host(`down.test`)", "service": "down"},
                "retry": {
                    "rule": "Host(`retry.test`)",
                    "service": "down",
                    "middlewares": ["retry"],
                },
            },
            "middlewares": {
                "hdr": {"headers": {"customRequestHeaders": {"X-Added": "1"}}},
                "retry": {"retry": {"attempts": 2}},
            },
            "services": {
                "app": {"loadBalancer": {"servers": [{"url": app}]}},
                "down": {"loadBalancer": {"servers": [{"url": down}]}},
                "checked": {
                    "loadBalancer": {
                        "servers": [{"url": app}, {"url": down}],
                        "healthCheck": {"path": "/status/200", "interval": "200ms"},
                    }
                },
            },
        },
    }


def _side(name: str, binary: str, tmp: Path, dynamic: Path, profile: dict[str, Any],
          receiver: Receiver | None) -> Side:  # fmt: skip
    workdir = tmp / name
    workdir.mkdir()
    ports = {"web": free_port(), "websecure": free_port(), "traefik": free_port()}
    access_log = workdir / "access.log"
    static: dict[str, Any] = {
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "entryPoints": {ep: {"address": f"127.0.0.1:{port}"} for ep, port in ports.items()},
        "ping": {},
        "log": {"level": "ERROR"},
        "providers": {"file": {"filename": str(dynamic), "watch": False}},
        **json.loads(json.dumps(profile)),
    }
    static["accessLog"]["filePath"] = str(access_log)
    if "tracing" in static:
        assert receiver is not None
        static["tracing"]["otlp"] = {"http": {"endpoint": f"{receiver.endpoint}/v1/traces"}}
    config = workdir / f"{name}.yml"
    config.write_text(yaml.safe_dump(static, sort_keys=False))
    return Side(
        Proxy(name, [binary, f"--configFile={config}"], workdir, ports), access_log, receiver
    )


@pytest.fixture(scope="module")
def pool() -> Iterator[BackendPool]:
    pool = BackendPool()
    pool.add("app")
    try:
        yield pool
    finally:
        pool.close()


@contextlib.contextmanager
def _pair(tmp: Path, pool: BackendPool, profile: str) -> Iterator[Pair]:
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    dynamic = tmp / "dynamic.yml"
    cert = CA(tmp).issue("sec.test")
    dynamic.write_text(yaml.safe_dump(_dynamic(pool.backends["app"].url, down, cert)))
    spec = PROFILES[profile]
    # Both SDKs read the batch span processor's delay from the environment.
    previous = os.environ.get("OTEL_BSP_SCHEDULE_DELAY")
    os.environ["OTEL_BSP_SCHEDULE_DELAY"] = "100"
    try:
        with otlp_http() as rx_t, otlp_http() as rx_e:
            traefik = _side("traefik", TRAEFIK, tmp, dynamic, spec, rx_t)
            edgeway = _side("edgeway", edgeway_binary(), tmp, dynamic, spec, rx_e)
            with running([traefik.proxy, edgeway.proxy]):
                deadline = time.monotonic() + 30
                for side in (traefik, edgeway):
                    side.proxy.wait_ready(
                        [("traefik", "x", "/ping", 200), ("web", "ok.test", "/ready", 200)],
                        deadline,
                    )
                yield Pair(traefik, edgeway, pool.backends["app"], down)
    finally:
        if previous is None:
            os.environ.pop("OTEL_BSP_SCHEDULE_DELAY", None)
        else:
            os.environ["OTEL_BSP_SCHEDULE_DELAY"] = previous


def _profile_fixture(profile: str) -> Any:
    @pytest.fixture(scope="module")
    def fixture(tmp_path_factory: pytest.TempPathFactory, pool: BackendPool) -> Iterator[Pair]:
        with _pair(tmp_path_factory.mktemp(f"obs-{profile}"), pool, profile) as pair:
            yield pair

    return fixture


full = _profile_fixture("full")
lean = _profile_fixture("lean")
fields = _profile_fixture("fields")
clf = _profile_fixture("clf")


# -- requests ------------------------------------------------------------------------------

#: (host, target, extra headers): a 200, a 200 through a middleware at detailed
#: verbosity, a 404 without router, a 5xx from the backend, a down server (502), and
#: the same through a retry middleware.
REQUESTS: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "ok.test",
        "/a?q=1&secret=2",
        [("User-Agent", "ua/1"), ("Authorization", "Basic eDp5"), ("X-Text", "caf\u00e9 <b>")],
    ),  # fmt: skip
    ("det.test", "/b", [("User-Agent", "ua/\u00e9")]),
    ("nope.test", "/c", []),
    ("ok.test", "/status/503", [("User-Agent", "ua/1")]),
    ("down.test", "/d", []),
    ("retry.test", "/e", []),
    ("sec.test", "/f", [("User-Agent", "ua/1")]),
]


def _send(side: Side, tag: str, requests: list[tuple[str, str, list[tuple[str, str]]]] = REQUESTS,
          ) -> list[int]:  # fmt: skip
    """Each request once, carrying ``tag`` (a header and a query parameter)."""
    statuses = []
    for host, target, headers in requests:
        sep = "&" if "?" in target else "?"
        hdrs = [("Host", host), ("X-Tag", tag), ("X-Req", tag), ("X-Drop", "d"),
                ("X-Keep", "k"), *headers]  # fmt: skip
        if host.startswith("sec."):
            statuses.append(_https(side.proxy.port("websecure"), f"{target}{sep}tag={tag}", hdrs))
        else:
            utf8: Any = [(n, v.encode()) for n, v in hdrs]  # (h11 takes bytes as they are)
            reply = exchange(side.proxy.port(), "GET", f"{target}{sep}tag={tag}", utf8)
            statuses.append(reply.status)
    return statuses


def _https(port: int, target: str, headers: list[tuple[str, str]]) -> int:
    """One request over TLS 1.2 with one cipher (both proxies then agree on it)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
    ctx.set_alpn_protocols(["http/1.1"])
    head = "".join(f"{n}: {v}\r\n" for n, v in headers)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname="sec.test") as sock,
    ):
        sock.sendall(f"GET {target} HTTP/1.1\r\n{head}Connection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1])


def _send_both(pair: Pair, tag: str, requests: list[Any] = REQUESTS) -> None:
    statuses = [_send(side, tag, requests) for side in pair.both()]
    assert statuses[0] == statuses[1]


def _poll(what: Callable[[], Any], done: Callable[[Any], bool], message: str) -> Any:
    deadline = time.monotonic() + 15
    while True:
        value = what()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"{message}: {value!r}"
        time.sleep(0.05)


# -- metrics -------------------------------------------------------------------------------

Families = dict[str, tuple[str, str, dict[tuple[tuple[str, str], ...], float]]]


def _scrape(side: Side) -> Families:
    """``traefik_*`` families: name -> (type, help, {sorted sample labels (with the sample
    name as ``__name__``): value})."""
    url = f"http://127.0.0.1:{side.proxy.port('traefik')}/metrics"
    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    out: Families = {}
    for family in text_string_to_metric_families(text):
        if not family.name.startswith("traefik_"):
            continue
        samples = {
            tuple(sorted({**s.labels, "__name__": s.name}.items())): s.value for s in family.samples
        }
        out[family.name] = (family.type, family.documentation, samples)
    return out


def _delta(after: Families, before: Families) -> dict[tuple[tuple[str, str], ...], float]:
    """The request-driven series that changed, with how much (counts, bucket counts)."""
    changed = {}
    for name, (_type, _help, samples) in after.items():
        if name in ("traefik_service_retries", "traefik_service_server_up") or not name.startswith(
            ("traefik_entrypoint", "traefik_router", "traefik_service")
        ):
            continue  # (retries: an intended difference; servers up: health checks)
        old = before.get(name, ("", "", {}))[2]
        for labels, value in samples.items():
            sample = dict(labels)["__name__"]
            if sample.endswith("_sum"):
                continue  # total durations: never equal
            diff = value - old.get(labels, 0.0)
            if diff:
                changed[labels] = diff
    return changed


def _metrics_round(
    pair: Pair, tag: str, level: str = "traefik_entrypoint", count: int = len(REQUESTS)
) -> dict[str, tuple[Families, Any]]:
    """Both proxies' ``traefik_*`` families after :data:`REQUESTS`, and what changed;
    scraped until ``count`` requests are in ``level``'s histogram."""
    out = {}
    for side in pair.both():
        before = _scrape(side)
        _send(side, tag)

        def counted(families: Families, before: Families = before) -> bool:
            return sum(
                n for k, n in _delta(families, before).items()
                if dict(k)["__name__"] == f"{level}_request_duration_seconds_count"
            ) == count  # fmt: skip

        after = _poll(lambda s=side: _scrape(s), counted, f"{side.name} metrics")
        out[side.name] = (after, _delta(after, before))
    return out


def _shape(families: Families) -> dict[str, Any]:
    """Each family's type, HELP and label names (per sample name)."""
    shape = {}
    for name, (mtype, doc, samples) in families.items():
        labels = sorted({tuple(k for k, _ in key) for key in samples})
        shape[name] = (mtype, doc, labels)
    return shape


def test_metric_families_with_router_labels_buckets_and_header_labels(full: Pair) -> None:
    got = _metrics_round(full, "m1")
    (t_all, t_delta), (e_all, e_delta) = got["traefik"], got["edgeway"]
    # Intended: edgeway counts the retry (Traefik 3.7 never does), and reloads differ.
    retries = e_all.pop("traefik_service_retries", None)
    assert "traefik_service_retries" not in t_all
    assert retries is not None and retries[2] == {
        (("__name__", "traefik_service_retries_total"), ("service", "down@file")): 1.0
    }
    for families in (t_all, e_all):
        reloads = families.pop("traefik_config_reloads")[2]
        assert list(reloads.values())[0] >= 1
        last = families.pop("traefik_config_last_reload_success")[2]
        assert abs(list(last.values())[0] - time.time()) < 600
    assert _shape(e_all) == _shape(t_all)
    # Label values and counts of what the requests changed: every series, every bucket.
    assert e_delta == t_delta
    tagged = {k: v for k, v in t_delta.items() if ("tag", "m1") in k}
    codes = {dict(k)["code"] for k in tagged}
    assert codes == {"200", "404", "502", "503"}
    les = {dict(k)["le"] for k in t_delta if "le" in dict(k)}
    assert les == {"0.1", "0.5", "+Inf"}
    tls = {
        (dict(k)["tls_version"], dict(k)["tls_cipher"]) for k in t_delta if "tls_version" in dict(k)
    }
    assert tls == {("1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")}


def test_server_up_and_certificate_gauges(full: Pair) -> None:
    """``traefik_service_server_up`` of a health-checked service (one server down) and
    ``traefik_tls_certs_not_after`` of the configured certificate."""
    expected = {full.app.url: 1.0, full.down: 0.0}
    gauges = {}
    for side in full.both():

        def up(families: Families) -> dict[str, float]:
            samples = families.get("traefik_service_server_up", ("", "", {}))[2]
            return {dict(k)["url"]: v for k, v in samples.items()}

        families = _poll(lambda s=side: _scrape(s), lambda f: up(f) == expected, "servers up")
        gauges[side.name] = {
            name: families[name][:2] + (families[name][2],)
            for name in ("traefik_service_server_up", "traefik_tls_certs_not_after")
        }
    assert gauges["edgeway"] == gauges["traefik"]
    (cert,) = gauges["traefik"]["traefik_tls_certs_not_after"][2]
    assert dict(cert)["cn"] == "" and dict(cert)["sans"] == "sec.test"


def test_metric_families_with_default_options(lean: Pair) -> None:
    got = _metrics_round(lean, "m2")
    (t_all, t_delta), (e_all, e_delta) = got["traefik"], got["edgeway"]
    e_all.pop("traefik_service_retries", None)  # intended (see the module's docstring)
    for families in (t_all, e_all):
        families.pop("traefik_config_reloads")
        families.pop("traefik_config_last_reload_success")
    assert _shape(e_all) == _shape(t_all)
    assert not any(name.startswith("traefik_router") for name in t_all)
    assert e_delta == t_delta
    les = sorted({float(dict(k)["le"]) for k in t_delta if "le" in dict(k)})
    assert les == [0.1, 0.3, 1.2, 5.0, float("inf")]


def test_metric_families_of_routers_only(clf: Pair) -> None:
    """``addEntryPointsLabels: false``, ``addServicesLabels: false``: router families."""
    got = _metrics_round(clf, "m3", "traefik_router", len(REQUESTS) - 1)  # (the 404: no router)
    (t_all, t_delta), (e_all, e_delta) = got["traefik"], got["edgeway"]
    for families in (t_all, e_all):
        families.pop("traefik_config_reloads")
        families.pop("traefik_config_last_reload_success")
    assert _shape(e_all) == _shape(t_all)
    assert {n.split("_")[1] for n in t_all} == {"router", "open", "tls"}
    assert e_delta == t_delta


def test_other_families_are_each_runtimes_own(lean: Pair) -> None:
    """The non-``traefik_`` families: Go's and Python's runtimes, edgeway's own."""
    names = {}
    for side in lean.both():
        url = f"http://127.0.0.1:{side.proxy.port('traefik')}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
        names[side.name] = {
            f.name
            for f in text_string_to_metric_families(text)
            if not f.name.startswith("traefik_")
        }
    assert all(n.startswith(("go_", "process_")) for n in names["traefik"])
    assert all(n.startswith(("python_", "process_", "edgeway_")) for n in names["edgeway"])
    assert "edgeway_config_apply_duration_seconds" in names["edgeway"]


# -- access log ------------------------------------------------------------------------------


def _log_lines(side: Side, tag: str, count: int) -> list[str]:
    def read() -> list[str]:
        try:
            text = side.access_log.read_text()
        except FileNotFoundError:
            return []
        return [line for line in text.splitlines() if f"tag={tag}" in line]

    return _poll(read, lambda lines: len(lines) >= count, f"{side.name} access log lines")


HEX = {"TraceId": 32, "SpanId": 16, "trace_id": 32, "span_id": 16}
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")


def _masked(entry: dict[str, Any]) -> dict[str, Any]:
    """``entry`` with times, durations, ids and the client port checked for their form
    and replaced by a marker."""
    out = dict(entry)
    for key in ("StartUTC", "StartLocal", "time"):
        if key in out:
            assert RFC3339.match(out[key]), (key, out[key])
            out[key] = "<time>"
    for key in ("Duration", "OriginDuration", "Overhead"):
        if key in out:
            assert isinstance(out[key], int) and out[key] >= 0, (key, out[key])
            out[key] = "<ns>"
    for key, size in HEX.items():
        if key in out:
            assert re.fullmatch(f"[0-9a-f]{{{size}}}", out[key]), (key, out[key])
            out[key] = "<id>"
    if "ClientPort" in out:
        assert out["ClientPort"].isdigit()
        out["ClientPort"] = "<port>"
        out["ClientAddr"] = out["ClientAddr"].rsplit(":", 1)[0] + ":<port>"
    if "RequestCount" in out:
        assert isinstance(out["RequestCount"], int)
        out["RequestCount"] = "<n>"
    return out


_VARYING = [
    (re.compile(r'"(StartUTC|StartLocal|time)":"[^"]+"'), r'"\1":"<time>"'),
    (re.compile(r'"(Duration|OriginDuration|Overhead|RequestCount)":\d+'), r'"\1":0'),
    (re.compile(r'"(TraceId|SpanId|trace_id|span_id)":"[0-9a-f]+"'), r'"\1":"<id>"'),
    (re.compile(r'"(ClientPort|ClientAddr)":"([0-9.]+:)?\d+"'), r'"\1":"<port>"'),
]


def _masked_line(line: str) -> str:
    """A raw json line with times, durations, ids and the client port masked."""
    for pattern, replacement in _VARYING:
        line = pattern.sub(replacement, line)
    return line


def _json_entries(pair: Pair, tag: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Per proxy, the entries of ``tag``'s requests by request path."""
    out = {}
    for side in pair.both():
        lines = _log_lines(side, tag, len(REQUESTS))
        entries = [json.loads(line) for line in lines]
        out[side.name] = {f"{e.get('RequestHost')}{e.get('RequestPath')}": e for e in entries}
    return out


def test_json_access_log_fields_and_header_modes(full: Pair) -> None:
    _send_both(full, "j1")
    got = _json_entries(full, "j1")
    t, e = got["traefik"], got["edgeway"]
    assert sorted(t) == sorted(e)
    for key in t:
        te, ee = _masked(t[key]), _masked(e[key])
        if key.startswith("retry.test"):  # intended: Traefik 3.7 never counts retries
            assert (te.pop("RetryAttempts"), ee.pop("RetryAttempts")) == (0, 1)
        assert ee == te, key
    ok = t["ok.test/a?q=1&secret=2&tag=j1"]
    assert ok["request_Authorization"] == "REDACTED" and "request_X-Drop" not in ok
    # The bytes too (Go's JSON escapes: "&" as \u0026), once what varies is masked.
    raw = {side.name: sorted(map(_masked_line, _log_lines(side, "j1", 6))) for side in full.both()}
    raw["edgeway"] = [
        line.replace('"RetryAttempts":1', '"RetryAttempts":0') for line in raw["edgeway"]
    ]
    assert raw["edgeway"] == raw["traefik"]
    assert any("secret=2\\u0026tag=j1" in line for line in raw["traefik"])
    assert any('"request_X-Text":"caf\u00e9 \\u003cb\\u003e"' in line for line in raw["traefik"])
    assert "TraceId" in ok  # tracing is on: the entry point span's ids


def test_json_access_log_default_mode_drop(fields: Pair) -> None:
    _send_both(fields, "j2")
    got = _json_entries(fields, "j2")
    t, e = ({k: _masked(v) for k, v in got[n].items()} for n in ("traefik", "edgeway"))
    assert e == t
    ok = got["traefik"]["ok.test/a?q=1&secret=2&tag=j2"]
    assert ok == {
        "DownstreamStatus": 200, "OriginStatus": 200, "RequestHost": "ok.test",
        "RequestPath": "/a?q=1&secret=2&tag=j2", "RouterName": "ok@file",
        "ServiceURL": fields.app.url, "level": "info", "msg": "", "time": ok["time"],
        "request_Authorization": "REDACTED", "request_X-Keep": "k",
    }  # fmt: skip


CLF_TIME = re.compile(r"\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]")


def _clf_lines(pair: Pair, tag: str, count: int | dict[str, int]) -> dict[str, list[str]]:
    out = {}
    for side in pair.both():
        lines = _log_lines(side, tag, count if isinstance(count, int) else count[side.name])
        masked = []
        for line in lines:
            assert CLF_TIME.search(line), line
            line = CLF_TIME.sub("[<time>]", line)
            line = re.sub(r" \d+ms$", " <ms>ms", line)
            line = re.sub(r'(" )\d+( ")', r"\1<n>\2", line)  # common: the request count
            masked.append(line)
        out[side.name] = sorted(masked)
    return out


def test_generic_clf_lines(clf: Pair) -> None:
    _send_both(clf, "g1")
    got = _clf_lines(clf, "g1", len(REQUESTS))
    assert got["edgeway"] == got["traefik"]
    assert any('"GET /a?q=1&secret=2&tag=g1 HTTP/1.1" 200 ' in line for line in got["traefik"])


def test_common_lines_and_filters(lean: Pair) -> None:
    """statusCodes keeps the 404, minDuration the slow request; retryAttempts keeps
    edgeway's retried request only (intended: Traefik 3.7 never counts retries)."""
    requests = [*REQUESTS, ("ok.test", "/slow/400", [])]
    _send_both(lean, "c1", requests)
    t = _clf_lines(lean, "c1", {"traefik": 2, "edgeway": 3})["traefik"]
    e = _clf_lines(lean, "c1", {"traefik": 2, "edgeway": 3})["edgeway"]
    retried = [line for line in e if "retry.test" in line or '"retry@file"' in line]
    assert len(retried) == 1 and '" 502 ' in retried[0]
    assert sorted(line for line in e if line not in retried) == t
    assert len(t) == 2
    assert any('"GET /c?tag=c1 HTTP/1.1" 404 ' in line for line in t)
    assert any("/slow/400" in line and '"ok@file"' in line for line in t)


# -- tracing ---------------------------------------------------------------------------------

Tree = tuple[str, int, int, tuple[tuple[str, Any], ...], tuple[Any, ...]]


def _tree(spans: list[Span], root: Span, drop: Callable[[Span], bool]) -> list[Tree]:
    """``root`` as (name, kind, status, attributes, children) with ports masked; spans
    ``drop`` selects are left out, their children taking their place."""
    children = [s for s in spans if s.parent == root.span_id]
    kids: list[Tree] = []
    for child in children:
        kids.extend(_tree(spans, child, drop))
    kids.sort(key=repr)
    if drop(root):
        return kids
    attrs = dict(root.attrs)
    for key in ("client.port", "network.peer.port"):
        if key in attrs and root.kind == SERVER:  # the client's connection
            assert isinstance(attrs[key], int)
            attrs[key] = "<port>"
    return [(root.name, root.kind, root.status, tuple(sorted(attrs.items())), tuple(kids))]


def _traces(side: Side, tag: str, count: int) -> dict[str, list[Tree]]:
    """The trees of ``tag``'s requests, by request host and path."""
    receiver = side.receiver
    assert receiver is not None

    def roots() -> list[Span]:
        with receiver.lock:
            return [s for s in receiver.spans  # (X-Req, a captured header, carries the tag)
                    if s.kind == SERVER and s.attrs.get("http.request.header.x-req") == [tag]]  # fmt: skip

    found = _poll(roots, lambda r: len(r) >= count, f"{side.name} spans")
    with receiver.lock:
        spans = list(receiver.spans)
    metrics = lambda s: s.name == "Metrics"  # noqa: E731 - intended difference (module doc)
    out = {}
    for root in found:
        key = f"{root.attrs['server.address']}{root.attrs['url.path']}"
        out[key] = _tree([s for s in spans if s.trace_id == root.trace_id], root, metrics)
        assert root.resource["service.name"] == "traefik"
    return out


def test_spans_minimal_and_detailed(full: Pair) -> None:
    _send_both(full, "t1")
    t, e = (_traces(side, "t1", len(REQUESTS)) for side in full.both())
    assert sorted(e) == sorted(t)
    for key in t:
        assert e[key] == t[key], key
    det = t["det.test/b"][0]
    assert [c[0] for c in det[4]] == ["Router"]  # detailed: Router > Headers > Service > proxy
    ok = dict(t["ok.test/a"][0][3])
    assert ok["url.query"] == "q=1&secret=REDACTED&tag=REDACTED"
    assert ok["http.request.header.x-req"] == ["t1"]
    assert dict(t["ok.test/a"][0][4][0][3])["http.response.header.x-backend"] == ["app"]


def test_traceparent_sent_to_the_backend(full: Pair) -> None:
    received = {}
    for side in full.both():
        before = len(full.app.received)
        _send(side, "t2", [("ok.test", "/p", [("traceparent",
              "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")])])  # fmt: skip
        (rec,) = [r for r in full.app.received[before:] if "tag=t2" in r.target]
        received[side.name] = (rec.header("traceparent"), rec.header("tracestate"))
        trees = _traces(side, "t2", 1)
        assert list(trees) == ["ok.test/p"]
        (proxy,) = trees["ok.test/p"][0][4]  # GET > ReverseProxy, the backend's parent
        assert proxy[0] == "ReverseProxy"
    for name, (parent, state) in received.items():
        assert parent is not None and state is None, name
        version, trace_id, span_id, flags = parent.split("-")
        assert (version, trace_id) == ("00", "4bf92f3577b34da6a3ce929d0e0e4736"), name
        assert re.fullmatch("[0-9a-f]{16}", span_id) and span_id != "00f067aa0ba902b7"
    assert received["edgeway"][0].rsplit("-", 1)[1] == received["traefik"][0].rsplit("-", 1)[1]
