"""The dynamic-configuration model: Traefik's schema, defaults and error reporting."""

from __future__ import annotations

import json
import math
import os
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from edgeway.config.durations import parse_duration
from edgeway.config.dynamic import (
    ConfigError,
    Configuration,
    Middleware,
    Service,
    TCPMiddleware,
    UDPService,
    dump_configuration,
    format_path,
    parse_configuration,
)
from pydantic import ValidationError

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFORMANCE_DIR = Path(
    os.environ.get("EDGEWAY_CONFORMANCE_DIR", REPO_ROOT.parent / "shared" / "conformance")
)
CONFORMANCE_CASES = sorted(
    [
        *CONFORMANCE_DIR.glob("kubernetes_ingress/*/expected.json"),
        *CONFORMANCE_DIR.glob("kubernetes_crd/*/expected.json"),
    ]
)
TRAEFIK_MIRROR = Path("/work/.mirror/traefik+traefik/repo")

#: Keys the Kubernetes providers emit that are ``file:"-"`` in Traefik, so the
#: model drops them on input: ``observability.metadata``. (``servers[].fenced`` is
#: kept: the balancers act on it.)
INTERNAL_KEYS = {"metadata"}


def dropped_keys(src: Any, out: Any, path: tuple = ()) -> list[tuple]:
    """Paths present in ``src`` but not in ``out``; also checks the values kept agree."""
    dropped: list[tuple] = []
    if isinstance(src, dict):
        for key, value in src.items():
            if key not in out:
                dropped.append((*path, key))
            else:
                dropped += dropped_keys(value, out[key], (*path, key))
    elif isinstance(src, list):
        assert len(src) == len(out), path
        for i, (a, b) in enumerate(zip(src, out, strict=True)):
            dropped += dropped_keys(a, b, (*path, i))
    elif src != out:
        # Durations come back in Go's short form ("100000000ns" -> "100ms").
        assert math.isclose(parse_duration(src), parse_duration(out)), path
    return dropped


# --------------------------------------------------------------------------- conformance data


def test_conformance_data_present() -> None:
    if not CONFORMANCE_CASES:
        message = f"no conformance cases under {CONFORMANCE_DIR}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.mark.parametrize(
    "expected", CONFORMANCE_CASES, ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}"
)
def test_conformance_expected_parses(expected: Path) -> None:
    data = json.loads(expected.read_text())
    out = dump_configuration(parse_configuration(data))
    dropped = dropped_keys(data, out)
    assert {path[-1] for path in dropped} <= INTERNAL_KEYS, dropped


def test_conformance_internal_keys_are_really_dropped() -> None:
    """The provider-only keys occur in the data and are handled on purpose, not by accident."""
    if not CONFORMANCE_CASES:
        pytest.skip("no conformance data")
    seen = set()
    for expected in CONFORMANCE_CASES:
        data = json.loads(expected.read_text())
        seen |= {p[-1] for p in dropped_keys(data, dump_configuration(parse_configuration(data)))}
    assert seen == INTERNAL_KEYS


# --------------------------------------------------------------------------- a realistic file

FILE_YAML = """
x-common: &retry {attempts: 3}
http:
  routers:
    app:
      entryPoints: [websecure]
      rule: Host(`app.example.com`) && PathPrefix(`/api`)
      middlewares: [secure-headers, auth, strip-api]
      service: app
      priority: 10
      tls:
        certResolver: le
        domains:
          - main: example.com
            sans: ["*.example.com"]
    redirect:
      entryPoints: [web]
      rule: HostRegexp(`.+`)
      middlewares: [to-https]
      service: noop@internal
    split:
      rule: Host(`split.example.com`)
      service: canary
      tls: {}
  services:
    app:
      loadBalancer:
        servers:
          - url: http://10.0.0.1:8080
          - url: http://10.0.0.2:8080
            weight: 3
        healthCheck:
          path: /health
        sticky:
          cookie:
            name: app_session
            secure: true
        serversTransport: internal-tls
    canary:
      weighted:
        services:
          - name: app
            weight: 9
          - name: app-v2
        healthCheck: {}
    shadow:
      mirroring:
        service: app
        mirrors:
          - name: app-v2
            percent: 10
    backup:
      failover:
        service: app
        fallback: app-v2
    hashed:
      highestRandomWeight:
        services:
          - name: app
    app-v2:
      loadBalancer:
        passHostHeader: false
        servers:
          - url: http://10.0.1.1:8080
  middlewares:
    secure-headers:
      headers:
        customRequestHeaders:
          X-Script-Name: test
        customResponseHeaders:
          X-Custom-Response-Header: ""
        stsSeconds: 31536000
        browserXssFilter: true
    auth:
      basicAuth:
        users: ["test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/"]
    strip-api:
      stripPrefix:
        prefixes: [/api]
    to-https:
      redirectScheme:
        scheme: https
        permanent: true
    limit:
      rateLimit:
        average: 100
    gzip:
      compress: {}
    retry:
      retry: *retry
    breaker:
      circuitBreaker:
        expression: NetworkErrorRatio() > 0.5
    demo:
      plugin:
        blockpath:
          regex: ["^/admin"]
    stack:
      chain:
        middlewares: [limit, gzip]
  serversTransports:
    internal-tls:
      serverName: backend.internal
      rootCAs: [/certs/ca.pem]
      forwardingTimeouts:
        responseHeaderTimeout: 42s
tcp:
  routers:
    db:
      entryPoints: [postgres]
      rule: HostSNI(`db.example.com`)
      service: db
      middlewares: [office-only]
      tls:
        passthrough: true
  services:
    db:
      loadBalancer:
        servers:
          - address: 10.0.2.1:5432
        serversTransport: db-transport
    db-split:
      weighted:
        services:
          - name: db
  middlewares:
    office-only:
      ipAllowList:
        sourceRange: [192.168.0.0/16]
  serversTransports:
    db-transport:
      dialTimeout: 5s
udp:
  routers:
    dns:
      entryPoints: [dns]
      service: dns
  services:
    dns:
      loadBalancer:
        servers:
          - address: 10.0.3.1:53
    dns-split:
      weighted:
        services:
          - name: dns
tls:
  certificates:
    - certFile: /certs/example.crt
      keyFile: /certs/example.key
      stores: [default]
  options:
    modern:
      minVersion: VersionTLS13
      sniStrict: true
  stores:
    default:
      defaultCertificate:
        certFile: /certs/default.crt
        keyFile: /certs/default.key
"""


@pytest.fixture
def file_data() -> dict[str, Any]:
    return yaml.safe_load(FILE_YAML)


def test_file_round_trips_with_defaults(file_data: dict[str, Any]) -> None:
    cfg = parse_configuration(file_data)
    out = dump_configuration(cfg)

    user = {k: v for k, v in file_data.items() if k != "x-common"}
    assert dropped_keys(user, out) == []
    assert "x-common" not in out  # unknown top-level keys are ignored, as in Traefik
    assert parse_configuration(out) == cfg  # the dump is itself a valid file

    http, tcp = out["http"], out["tcp"]
    lb = http["services"]["app"]["loadBalancer"]
    assert lb["passHostHeader"] is True
    assert lb["strategy"] == "wrr"
    assert lb["responseForwarding"] == {"flushInterval": "100ms"}  # created by SetDefaults
    assert lb["healthCheck"] == {
        "path": "/health",
        "mode": "http",
        "interval": "30s",
        "timeout": "5s",
        "followRedirects": True,
    }
    assert lb["sticky"]["cookie"]["path"] == "/"
    assert "weight" not in lb["servers"][0]  # no SetDefaults on Server
    assert http["services"]["app-v2"]["loadBalancer"]["passHostHeader"] is False
    assert http["services"]["canary"]["weighted"]["services"][1]["weight"] == 1
    assert http["services"]["canary"]["weighted"]["healthCheck"] == {}
    assert http["services"]["shadow"]["mirroring"]["mirrorBody"] is True
    assert http["services"]["shadow"]["mirroring"]["maxBodySize"] == -1
    assert http["services"]["hashed"]["highestRandomWeight"]["services"][0]["weight"] == 1
    assert "errors" not in http["services"]["backup"]["failover"]

    mw = http["middlewares"]
    assert mw["limit"]["rateLimit"] == {"average": 100, "period": "1s", "burst": 1}
    assert mw["gzip"]["compress"] == {"encodings": ["gzip", "br", "zstd"]}
    assert mw["retry"]["retry"] == {"attempts": 3, "maxRequestBodyBytes": 2097152}
    assert mw["breaker"]["circuitBreaker"]["checkPeriod"] == "100ms"
    assert mw["breaker"]["circuitBreaker"]["responseCode"] == 503
    assert mw["demo"]["plugin"] == {"blockpath": {"regex": ["^/admin"]}}
    assert http["routers"]["app"]["tls"]["domains"][0]["sans"] == ["*.example.com"]
    assert http["routers"]["split"]["tls"] == {}

    transport = http["serversTransports"]["internal-tls"]
    assert transport["forwardingTimeouts"] == {
        "dialTimeout": "30s",
        "responseHeaderTimeout": "42s",
        "idleConnTimeout": "1m30s",
        "pingTimeout": "15s",
    }
    assert "maxIdleConnsPerHost" not in transport  # 200 is the static default@internal only

    assert tcp["serversTransports"]["db-transport"] == {
        "dialKeepAlive": "15s",
        "dialTimeout": "5s",
        "terminationDelay": "100ms",
    }
    assert tcp["services"]["db-split"]["weighted"]["services"][0]["weight"] == 1
    assert out["udp"]["services"]["dns-split"]["weighted"]["services"][0]["weight"] == 1

    modern = out["tls"]["options"]["modern"]
    assert modern["alpnProtocols"] == ["h2", "http/1.1", "acme-tls/1"]
    assert "TLS_AES_128_GCM_SHA256" in modern["cipherSuites"]
    assert modern["clientAuth"] == {}  # a plain Go struct: always there


def test_defaults_only_when_the_section_is_present() -> None:
    cfg = parse_configuration({"http": {"services": {"s": {"loadBalancer": {}}}}})
    lb = cfg.http.services["s"].loadBalancer
    assert lb.healthCheck is None and lb.sticky is None and lb.passiveHealthCheck is None
    assert cfg.tcp is None and cfg.tls is None
    assert dump_configuration(Configuration()) == {}


def test_unknown_key_is_reported_with_its_path(file_data: dict[str, Any]) -> None:
    file_data["http"]["routers"]["app"]["rul"] = "Host(`x`)"
    file_data["tcp"]["services"]["db"]["loadBalancer"]["servers"][0]["adress"] = "x:1"
    with pytest.raises(ConfigError) as info:
        parse_configuration(file_data)
    err = info.value
    assert (("http", "routers", "app", "rul"), "unknown key") in err.errors
    assert (("tcp", "services", "db", "loadBalancer", "servers", 0, "adress"), "unknown key") in (
        err.errors
    )
    assert "http.routers.app.rul: unknown key" in str(err).splitlines()
    assert "tcp.services.db.loadBalancer.servers[0].adress: unknown key" in str(err).splitlines()
    assert isinstance(err, ValueError)


def test_wrong_types_are_reported_with_their_paths(file_data: dict[str, Any]) -> None:
    file_data["http"]["routers"]["app"]["priority"] = "high"
    file_data["http"]["services"]["app"]["loadBalancer"]["healthCheck"]["interval"] = "soon"
    file_data["udp"]["routers"]["dns"] = ["not", "a", "mapping"]
    with pytest.raises(ConfigError) as info:
        parse_configuration(file_data)
    lines = str(info.value).splitlines()
    assert "http.routers.app.priority: expected an integer, got 'high'" in lines
    assert any(
        line.startswith("http.services.app.loadBalancer.healthCheck.interval: invalid duration")
        for line in lines
    )
    assert "udp.routers.dns: expected a mapping, got a list" in lines
    assert len(info.value.errors) == 3
    assert "pydantic" not in str(info.value)


def test_top_level_must_be_a_mapping() -> None:
    with pytest.raises(ConfigError) as info:
        parse_configuration(["http"])  # type: ignore[arg-type]
    assert info.value.errors == [((), "expected a mapping, got a list")]


def test_models_are_frozen(file_data: dict[str, Any]) -> None:
    cfg = parse_configuration(file_data)
    with pytest.raises(ValidationError):
        cfg.http.routers["app"].rule = "Host(`evil`)"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        cfg.http = None  # type: ignore[misc]


def test_kinds_report_every_type_that_is_set() -> None:
    mw = Middleware.model_validate(
        {"headers": {"frameDeny": True}, "stripPrefix": {"prefixes": ["/a"]}, "plugin": {"p": {}}}
    )
    assert mw.kinds() == ["stripPrefix", "headers", "plugin"]
    assert Middleware().kinds() == []

    svc = Service.model_validate(
        {"middlewares": ["m"], "loadBalancer": {}, "failover": {"service": "a"}}
    )
    assert svc.kinds() == ["loadBalancer", "failover"]  # middlewares is not a kind
    tcp_mw = TCPMiddleware.model_validate({"ipAllowList": {}, "inFlightConn": {"amount": 2}})
    assert tcp_mw.kinds() == ["inFlightConn", "ipAllowList"]
    udp = UDPService.model_validate({"loadBalancer": {}, "weighted": {}})
    assert udp.kinds() == ["loadBalancer", "weighted"]
    cfg = parse_configuration({"tcp": {"services": {"s": {"loadBalancer": {}, "weighted": {}}}}})
    assert cfg.tcp.services["s"].kinds() == ["loadBalancer", "weighted"]


def test_paerser_leniency_is_reproduced() -> None:
    """What Traefik's file decoder accepts beyond strict JSON keys and types."""
    cfg = parse_configuration(
        {
            "HTTP": {
                "routers": {
                    "r": {
                        "EntryPoints": "web, websecure",  # case-insensitive key, comma list
                        "rule": "Path(`/`)",
                        "priority": "7",  # string -> int
                        "tls": True,  # allowEmpty section enabled by `true`
                        "service": None,  # null is skipped
                    },
                    "plain": {"tls": "false"},  # ...and disabled by anything else
                },
                "services": {"s": {"loadBalancer": {"passHostHeader": None}}},
                "middlewares": {
                    "m": {
                        "redirectScheme": {"port": 443},  # number -> string
                        "headers": {"customRequestHeaders": {"X-N": 1}},
                        "errors": {"statusRewrites": {404: 200}},
                    },
                    "internal": {"urlRewrite": {"path": "/x"}, "addPrefix": {"prefix": "/p"}},
                },
            }
        }
    )
    r = cfg.http.routers["r"]
    assert r.entryPoints == ["web", "websecure"]
    assert r.priority == 7 and r.service is None
    assert r.tls is not None and r.tls.options is None
    assert cfg.http.routers["plain"].tls is None
    assert cfg.http.services["s"].loadBalancer.passHostHeader is True  # null keeps the default
    m = cfg.http.middlewares["m"]
    assert m.redirectScheme.port == "443"
    assert m.headers.customRequestHeaders == {"X-N": "1"}
    assert m.errors.statusRewrites == {"404": 200}
    # Gateway API filter keys are provider-only: dropped like Traefik's file decoder does.
    assert cfg.http.middlewares["internal"].kinds() == ["addPrefix"]


def test_durations_accept_traefik_spellings() -> None:
    cfg = parse_configuration(
        {
            "http": {
                "services": {
                    "s": {
                        "loadBalancer": {
                            "healthCheck": {"interval": 10, "timeout": "1m30s"},
                            "responseForwarding": {"flushInterval": "100000000ns"},
                        }
                    }
                }
            }
        }
    )
    lb = cfg.http.services["s"].loadBalancer
    assert lb.healthCheck.interval == 10.0 and lb.healthCheck.timeout == 90.0
    assert dump_configuration(cfg)["http"]["services"]["s"]["loadBalancer"][
        "responseForwarding"
    ] == {"flushInterval": "100ms"}


def test_format_path() -> None:
    assert format_path(("http", "routers", "app", "rul")) == "http.routers.app.rul"
    assert format_path(("tcp", "services", "s", "servers", 0, "address")) == (
        "tcp.services.s.servers[0].address"
    )
    assert format_path(("http", "routers", "my.router", "rule")) == 'http.routers["my.router"].rule'
    assert format_path(()) == "(root)"


# --------------------------------------------------------------------------- Traefik's reference


@pytest.mark.parametrize("name", ["file.yaml", "file.toml"])
def test_traefik_reference_file_parses_without_losing_keys(name: str) -> None:
    """Traefik's generated reference sets every file-configurable option once."""
    if not TRAEFIK_MIRROR.exists():
        pytest.skip("Traefik source mirror not available")
    text = subprocess.run(
        [
            "git",
            "-C",
            str(TRAEFIK_MIRROR),
            "show",
            f"HEAD:docs/content/reference/dynamic-configuration/{name}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    data = yaml.safe_load(text) if name.endswith(".yaml") else tomllib.loads(text)
    assert dropped_keys(data, dump_configuration(parse_configuration(data))) == []
