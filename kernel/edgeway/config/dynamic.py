"""Traefik v3's dynamic configuration as immutable pydantic models.

The models mirror ``dynamic.Configuration`` (pkg/config/dynamic, pkg/tls,
pkg/types at the Traefik commit in /work/shared/conformance): attribute names
are Traefik's JSON keys, and the defaults are exactly those of Traefik's
``SetDefaults`` methods, applied when the enclosing object is present (as
paerser does when it allocates a struct). Every other field defaults to
``None``, so ``dump_configuration(parse_configuration(user_file))`` gives back
the user's keys plus Traefik's defaults. Type checks that Traefik only makes
when building the runtime (one middleware type per middleware, one kind per
service) are left to the kernel: see the ``kinds()`` helpers.

The classes live in section modules re-exported here: ``dynamic_http``
(routers, services, transports), ``dynamic_middlewares``, ``dynamic_tcp``,
``dynamic_udp``, ``dynamic_tls``; ``dynamic_base`` holds the shared base.

Left out on purpose: fields Traefik tags ``file:"-"`` or ``json:"-"``. Only
Traefik's own providers set them; paerser disables them when decoding a file,
so their keys are *dropped* on input (not rejected) to behave the same way:

* ``Middleware``: ``requestHeaderModifier``, ``responseHeaderModifier``,
  ``requestRedirect``, ``URLRewrite`` (Gateway API filters) and
  ``authTLSPassCertificateToUpstream``, ``snippet``, ``rewriteTarget``,
  ``upstreamVHost``, ``appRoot`` (ingress-nginx), with their types.
* ``Server.scheme`` and ``Server.port`` (label providers), ``TCPServer.port``, ``UDPServer.port``.
* ``RouterObservabilityConfig.metadata`` (Kubernetes Ingress metadata).
* ``Router.defaultRule``, ``Router``/``Model.deniedEncodedPathCharacters``,
  ``Model.defaultRuleSyntax``, ``RouterTLSConfig.resolvedOptions``,
  ``tcp.models`` (all computed by Traefik from the static configuration).
* ``WRRService.headers``/``status``/``grpcStatus`` (Knative, Gateway API),
  ``Cookie.expires``, ``ServersLoadBalancer.nginxUpstreamHashBy``,
  ``ForwardingTimeouts.readTimeout``/``writeTimeout``, ``ErrorPage.nginxHeaders``,
  ``RedirectScheme.forcePermanentRedirect`` (ingress-nginx),
  ``RedirectRegex.statusCode`` (Gateway API),
  ``Buffering.disableRequestBuffer``/``disableResponseBuffer`` (code only).

Like Traefik's file decoder, unknown *top-level* keys are ignored (files use
them for YAML anchors); unknown keys anywhere else are errors.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ConfigDict, ValidationError

from .dynamic_base import AllowEmpty, StrList, TraefikModel
from .dynamic_http import (
    Cookie,
    Failover,
    FailoverError,
    ForwardingTimeouts,
    HealthCheck,
    HighestRandomWeight,
    HRWService,
    HTTPConfiguration,
    Mirroring,
    MirrorService,
    Model,
    ModelObservabilityConfig,
    PassiveServerHealthCheck,
    ResponseForwarding,
    Router,
    RouterObservabilityConfig,
    RouterTLSConfig,
    Server,
    ServerHealthCheck,
    ServersLoadBalancer,
    ServersTransport,
    Service,
    Spiffe,
    Sticky,
    WeightedRoundRobin,
    WRRService,
)
from .dynamic_middlewares import (
    MIDDLEWARE_KINDS,
    AddPrefix,
    BasicAuth,
    Buffering,
    Chain,
    CircuitBreaker,
    ClientTLS,
    Compress,
    ContentType,
    DigestAuth,
    EncodedCharacters,
    ErrorPage,
    ForwardAuth,
    GrpcWeb,
    Headers,
    InFlightReq,
    IPAllowList,
    IPStrategy,
    IPWhiteList,
    Middleware,
    PassTLSClientCert,
    RateLimit,
    RedirectRegex,
    RedirectScheme,
    Redis,
    ReplacePath,
    ReplacePathRegex,
    Retry,
    SourceCriterion,
    StripPrefix,
    StripPrefixRegex,
    TLSClientCertificateInfo,
    TLSClientCertificateIssuerDNInfo,
    TLSClientCertificateSubjectDNInfo,
)
from .dynamic_tcp import (
    ProxyProtocol,
    RouterTCPTLSConfig,
    TCPConfiguration,
    TCPInFlightConn,
    TCPIPAllowList,
    TCPIPWhiteList,
    TCPMiddleware,
    TCPRouter,
    TCPServer,
    TCPServerHealthCheck,
    TCPServersLoadBalancer,
    TCPServersTransport,
    TCPService,
    TCPWeightedRoundRobin,
    TCPWRRService,
    TLSClientConfig,
)
from .dynamic_tls import (
    DEFAULT_ALPN_PROTOCOLS,
    DEFAULT_CIPHER_SUITES,
    SAN,
    CertAndStores,
    Certificate,
    ClientAuth,
    Domain,
    GeneratedCert,
    RedisTLS,
    TLSConfiguration,
    TLSOptions,
    TLSStore,
)
from .dynamic_udp import (
    UDPConfiguration,
    UDPRouter,
    UDPServer,
    UDPServersLoadBalancer,
    UDPService,
    UDPWeightedRoundRobin,
    UDPWRRService,
)

__all__ = [
    # API
    "ConfigError",
    "Configuration",
    "dump_configuration",
    "format_path",
    "parse_configuration",
    # shared
    "AllowEmpty",
    "StrList",
    "TraefikModel",
    # http routers & services
    "Cookie",
    "Failover",
    "FailoverError",
    "ForwardingTimeouts",
    "HRWService",
    "HTTPConfiguration",
    "HealthCheck",
    "HighestRandomWeight",
    "MirrorService",
    "Mirroring",
    "Model",
    "ModelObservabilityConfig",
    "PassiveServerHealthCheck",
    "ResponseForwarding",
    "Router",
    "RouterObservabilityConfig",
    "RouterTLSConfig",
    "Server",
    "ServerHealthCheck",
    "ServersLoadBalancer",
    "ServersTransport",
    "Service",
    "Spiffe",
    "Sticky",
    "WRRService",
    "WeightedRoundRobin",
    # http middlewares
    "MIDDLEWARE_KINDS",
    "AddPrefix",
    "BasicAuth",
    "Buffering",
    "Chain",
    "CircuitBreaker",
    "ClientTLS",
    "Compress",
    "ContentType",
    "DigestAuth",
    "EncodedCharacters",
    "ErrorPage",
    "ForwardAuth",
    "GrpcWeb",
    "Headers",
    "IPAllowList",
    "IPStrategy",
    "IPWhiteList",
    "InFlightReq",
    "Middleware",
    "PassTLSClientCert",
    "RateLimit",
    "RedirectRegex",
    "RedirectScheme",
    "Redis",
    "ReplacePath",
    "ReplacePathRegex",
    "Retry",
    "SourceCriterion",
    "StripPrefix",
    "StripPrefixRegex",
    "TLSClientCertificateInfo",
    "TLSClientCertificateIssuerDNInfo",
    "TLSClientCertificateSubjectDNInfo",
    # tcp
    "ProxyProtocol",
    "RouterTCPTLSConfig",
    "TCPConfiguration",
    "TCPIPAllowList",
    "TCPIPWhiteList",
    "TCPInFlightConn",
    "TCPMiddleware",
    "TCPRouter",
    "TCPServer",
    "TCPServerHealthCheck",
    "TCPServersLoadBalancer",
    "TCPServersTransport",
    "TCPService",
    "TCPWRRService",
    "TCPWeightedRoundRobin",
    "TLSClientConfig",
    # udp
    "UDPConfiguration",
    "UDPRouter",
    "UDPServer",
    "UDPServersLoadBalancer",
    "UDPService",
    "UDPWRRService",
    "UDPWeightedRoundRobin",
    # tls
    "DEFAULT_ALPN_PROTOCOLS",
    "DEFAULT_CIPHER_SUITES",
    "SAN",
    "CertAndStores",
    "Certificate",
    "ClientAuth",
    "Domain",
    "GeneratedCert",
    "RedisTLS",
    "TLSConfiguration",
    "TLSOptions",
    "TLSStore",
]


class Configuration(TraefikModel):
    """The whole dynamic configuration; unknown top-level keys are ignored, as in Traefik."""

    model_config = ConfigDict(extra="ignore")

    http: HTTPConfiguration | None = None
    tcp: TCPConfiguration | None = None
    udp: UDPConfiguration | None = None
    tls: TLSConfiguration | None = None


Path = tuple[str | int, ...]


class ConfigError(ValueError):
    """A dynamic configuration that does not fit the schema; ``errors`` holds (path, message)."""

    def __init__(self, errors: Sequence[tuple[Path, str]]) -> None:
        self.errors: list[tuple[Path, str]] = list(errors)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(f"{format_path(path)}: {message}" for path, message in self.errors)


_PLAIN_KEY = re.compile(r"[^.\[\]\s\"']+")


def format_path(path: Sequence[str | int]) -> str:
    """``("http", "routers", "app", "rul")`` -> ``http.routers.app.rul``; list indexes as ``[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out or "(root)"


def parse_configuration(data: Mapping[str, Any]) -> Configuration:
    """Validate decoded YAML/TOML/JSON and apply Traefik's defaults; raise :class:`ConfigError`."""
    if not isinstance(data, Mapping):
        raise ConfigError([((), f"expected a mapping, got {_kind(data)}")])
    try:
        return Configuration.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([(tuple(e["loc"]), _message(e)) for e in exc.errors()]) from None


def dump_configuration(cfg: Configuration) -> dict[str, Any]:
    """The JSON form: Traefik's keys, durations in Go syntax, unset fields left out."""
    return cfg.model_dump(mode="json", by_alias=True, exclude_none=True)


_EXPECTED = {
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "dict_type": "a mapping",
    "list_type": "a list",
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "bool_type": "a boolean",
    "bool_parsing": "a boolean",
}


def _message(error: Any) -> str:
    """A short, URL-free message for one pydantic error."""
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {_kind(error.get('input'))}"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "null"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
