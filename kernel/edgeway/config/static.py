"""The static ("install") configuration: Traefik v3's keys and defaults, edgeway's subset.

Attribute names are Traefik's camelCase keys so a ``traefik.yml`` reads the same
here; defaults are Traefik's (``cmd/configuration.go`` and the ``SetDefaults``
methods in ``pkg/config/static``). Sections Traefik creates only when mentioned
(``api``, ``ping``, provider sections) are ``None`` until given.

Keys Traefik has but edgeway does not implement are listed once, in
:data:`NOT_SUPPORTED`, so that using one fails with "not supported by this
version of edgeway" instead of silently doing nothing or looking like a typo.

The ``providers`` section gets one field per registered provider type at run
time (:func:`build_static_model`), so plugins' options validate through their own
models.
"""

from __future__ import annotations

import ipaddress
import re
import sys
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    create_model,
    field_validator,
    model_validator,
)

from edgeway.config.durations import Duration
from edgeway.registry import Registry

__all__ = [
    "API",
    "AccessLog",
    "AccessLogFields",
    "AccessLogFilters",
    "INTERNAL_ENTRYPOINT",
    "NOT_SUPPORTED",
    "TRAEFIK_PROVIDER_KEYS",
    "EntryPoint",
    "EntryPointHTTP",
    "EntryPointTLS",
    "RedirectEntryPoint",
    "Redirections",
    "EntryPointHTTP2",
    "EntryPointTransport",
    "EntryPointUDP",
    "ForwardedHeaders",
    "ForwardingTimeouts",
    "Global",
    "LifeCycle",
    "Log",
    "Metrics",
    "Ping",
    "Prometheus",
    "Providers",
    "ProxyProtocol",
    "RespondingTimeouts",
    "ServersTransport",
    "StaticConfiguration",
    "TCPServersTransport",
    "TCPServersTransportTLS",
    "Tracing",
    "TracingClientTLS",
    "TracingOTLP",
    "TracingOTLPGRPC",
    "TracingOTLPHTTP",
    "build_static_model",
    "default_entrypoints",
    "effective_configuration",
    "parse_address",
]

MAX_INT = sys.maxsize  # Go's math.MaxInt on 64-bit

#: Name of the entry point Traefik creates for the insecure API and ping.
INTERNAL_ENTRYPOINT = "traefik"

#: Provider sections Traefik knows. Registered provider types take their key over;
#: the others are reported as not supported (no installed plugin provides them).
TRAEFIK_PROVIDER_KEYS = frozenset(
    {
        "docker", "swarm", "file", "kubernetesIngress", "kubernetesIngressNGINX",
        "kubernetesCRD", "kubernetesGateway", "knative", "rest", "consulCatalog",
        "nomad", "ecs", "consul", "etcd", "zooKeeper", "redis", "http", "plugin",
    }
)  # fmt: skip

#: Keys Traefik v3 accepts that edgeway does not implement yet, by the section they
#: sit in (``*`` stands for a user-chosen name such as an entry point's). This is
#: the only list of them: the loaders consult it to tell "not supported" from
#: "unknown key".
NOT_SUPPORTED: dict[str, frozenset[str]] = {
    "": frozenset(
        {
            "experimental",
            "hostResolver", "core", "spiffe", "ocsp",
        }
    ),
    "global": frozenset({"notAppendXForwardedFor"}),
    "serversTransport": frozenset({"spiffe"}),
    "entryPoints.*": frozenset({"http3"}),
    "tcpServersTransport.tls": frozenset({"spiffe"}),
    "entryPoints.*.http": frozenset({"encodedCharacters", "underscoreHeadersStrategy"}),
    "entryPoints.*.forwardedHeaders": frozenset(
        {"notAppendXForwardedFor", "addXForwardedSchemeHeaders"}
    ),
    "api": frozenset({"disableDashboardAd", "dashboardName"}),
    "accessLog": frozenset({"otlp", "dualOutput"}),
    "metrics": frozenset({"datadog", "statsD", "influxDB2", "otlp"}),
    "accessLog.fields": frozenset({"queryParameters"}),
    "log": frozenset({"maxSize", "maxAge", "maxBackups", "compress", "otlp"}),
    "providers": frozenset({"precedence"}) | TRAEFIK_PROVIDER_KEYS,
}  # fmt: skip


class _Section(BaseModel):
    # Numbers are accepted where Traefik takes strings (paerser stringifies every
    # scalar), so ``basePath: 1`` or ``middlewares: [1]`` behave the same.
    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, coerce_numbers_to_str=True
    )


# --- entry points --------------------------------------------------------------------

_PORT = re.compile(r"\d{1,5}")


def parse_address(address: str) -> tuple[str, int, str]:
    """``(host, port, protocol)`` from ``[host]:port[/tcp|/udp]``.

    Follows Go's ``net.SplitHostPort`` (IPv6 hosts in brackets) and Traefik's
    ``GetProtocol`` (case-insensitive, ``tcp`` by default). ``host`` is ``""`` for
    all interfaces and has no brackets. Ports must be numeric: Go's service names
    (``:http``) are not accepted.
    """
    hostport, slash, proto = address.partition("/")
    protocol = proto.lower() if slash else "tcp"
    if protocol not in ("tcp", "udp"):
        raise ValueError(f"invalid protocol {proto!r} in {address!r}: expected tcp or udp")
    if hostport.startswith("["):
        host, bracket, rest = hostport[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            raise ValueError(f"invalid address {address!r}: expected [ipv6]:port")
        port = rest[1:]
        try:
            ipaddress.IPv6Address(host.partition("%")[0])
        except ValueError:
            raise ValueError(
                f"invalid address {address!r}: {host!r} is not an IPv6 address"
            ) from None
    else:
        host, colon, port = hostport.rpartition(":")
        if not colon:
            raise ValueError(f"invalid address {address!r}: missing port (e.g. ':80')")
        if ":" in host:
            raise ValueError(f"invalid address {address!r}: put an IPv6 host in brackets")
    if not _PORT.fullmatch(port) or int(port) > 65535:
        raise ValueError(f"invalid address {address!r}: port must be a number from 0 to 65535")
    return host, int(port), protocol


def _check_address(address: str) -> str:
    parse_address(address)
    return address


def _check_ip_or_cidr(value: str) -> str:
    try:
        if "/" in value:
            ipaddress.ip_network(value, strict=False)
        else:
            ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address or CIDR range") from None
    return value


IPOrCIDR = Annotated[str, AfterValidator(_check_ip_or_cidr)]


class RespondingTimeouts(_Section):
    """Timeouts for clients; 0 means none."""

    readTimeout: Duration = 60.0
    writeTimeout: Duration = 0.0
    idleTimeout: Duration = 180.0


class LifeCycle(_Section):
    """Shutdown: keep accepting for ``requestAcceptGraceTimeout``, then drain for ``graceTimeOut``."""

    requestAcceptGraceTimeout: Duration = 0.0
    graceTimeOut: Duration = 10.0


class EntryPointTransport(_Section):
    respondingTimeouts: RespondingTimeouts = Field(default_factory=RespondingTimeouts)
    lifeCycle: LifeCycle = Field(default_factory=LifeCycle)
    #: Close a keep-alive connection after this many requests (0 = never).
    keepAliveMaxRequests: int = Field(default=0, ge=0)
    #: Close a keep-alive connection after this long (0 = never).
    keepAliveMaxTime: Duration = 0.0


class ForwardedHeaders(_Section):
    """Whose ``X-Forwarded-*`` headers are kept (the others' are replaced)."""

    insecure: bool = False
    trustedIPs: tuple[IPOrCIDR, ...] = ()
    #: ``Connection``-listed headers allowed through before hop-by-hop removal.
    connection: tuple[str, ...] = ()


class Domain(_Section):
    main: str = ""
    sans: tuple[str, ...] = ()


class EntryPointTLS(_Section):
    """Default TLS of the routers on the entry point (they become HTTPS routers)."""

    options: str = ""
    certResolver: str = ""
    domains: tuple[Domain, ...] = ()


class RedirectEntryPoint(_Section):
    """``http.redirections.entryPoint``: every request redirected to another entry point."""

    #: An entry point name, or ``:port``.
    to: str = ""
    scheme: str = "https"
    permanent: bool = True
    priority: int = MAX_INT - 1


class Redirections(_Section):
    entryPoint: RedirectEntryPoint | None = None


class EntryPointHTTP(_Section):
    #: Middlewares prepended to every router on the entry point.
    middlewares: tuple[str, ...] = ()
    tls: EntryPointTLS | None = None
    redirections: Redirections | None = None
    maxHeaderBytes: int = Field(default=1 << 20, ge=0)
    sanitizePath: bool = True
    encodeQuerySemicolons: bool = False


class ProxyProtocol(_Section):
    """Whose PROXY protocol header is read on the entry point (``insecure``: anyone's)."""

    insecure: bool = False
    trustedIPs: tuple[IPOrCIDR, ...] = ()

    @model_validator(mode="after")
    def _someone_trusted(self) -> ProxyProtocol:
        if not self.insecure and not self.trustedIPs:  # Traefik fails to start the entry point
            raise ValueError("no trusted IPs provided (set trustedIPs, or insecure: true)")
        return self


class EntryPointUDP(_Section):
    #: A UDP session is released after this long without a datagram either way.
    timeout: Duration = 3.0

    @field_validator("timeout")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("timeout should be greater than zero")
        return value


class EntryPointHTTP2(_Section):
    """HTTP/2 settings (Traefik's ``HTTP2Config``); 0 means Go's default (the same values)."""

    maxConcurrentStreams: int = Field(default=250, ge=0)
    maxDecoderHeaderTableSize: int = Field(default=4096, ge=0)
    maxEncoderHeaderTableSize: int = Field(default=4096, ge=0)


class EntryPointObservability(_Section):
    """``entryPoints.<name>.observability``: the defaults of its routers' own
    ``observability`` (Traefik's ``ObservabilityConfig``, whose ``SetDefaults``
    turns everything on). Its routers inherit each field they do not set (see
    :mod:`edgeway.pipeline.models`); requests no router matches (the 404) follow it."""

    accessLogs: bool = True
    metrics: bool = True
    tracing: bool = True
    #: ``minimal`` or ``detailed`` (anything else traces as ``minimal``, as Traefik's ``Allows``).
    traceVerbosity: str = "minimal"


class EntryPoint(_Section):
    address: Annotated[str, AfterValidator(_check_address)]
    asDefault: bool = False
    #: Let routers of this entry point take ACME HTTP-01 requests before the
    #: challenge router (``acme-http-bypass@internal`` gets the default priority).
    allowACMEByPass: bool = False
    reusePort: bool = False
    #: None unless configured (Traefik reads no PROXY header then).
    proxyProtocol: ProxyProtocol | None = None
    forwardedHeaders: ForwardedHeaders = Field(default_factory=ForwardedHeaders)
    transport: EntryPointTransport = Field(default_factory=EntryPointTransport)
    http: EntryPointHTTP = Field(default_factory=EntryPointHTTP)
    http2: EntryPointHTTP2 = Field(default_factory=EntryPointHTTP2)
    udp: EntryPointUDP = Field(default_factory=EntryPointUDP)
    #: None unless configured (no model then: routers keep their own settings).
    observability: EntryPointObservability | None = None

    @property
    def host(self) -> str:
        """Host to bind (``""`` = all interfaces; IPv6 without brackets)."""
        return parse_address(self.address)[0]

    @property
    def port(self) -> int:
        return parse_address(self.address)[1]

    @property
    def protocol(self) -> Literal["tcp", "udp"]:
        return parse_address(self.address)[2]  # type: ignore[return-value]

    @property
    def listen_address(self) -> str:
        """The address without its ``/tcp`` or ``/udp`` suffix (Traefik's ``GetAddress``)."""
        return self.address.partition("/")[0]


# --- other sections ------------------------------------------------------------------


class Global(_Section):
    """Accepted for compatibility only: edgeway never phones home.

    Traefik uses these to check for new releases and send usage statistics;
    edgeway does neither, whatever they are set to.
    """

    checkNewVersion: bool = True
    sendAnonymousUsage: bool = False


class ForwardingTimeouts(_Section):
    dialTimeout: Duration = 30.0
    responseHeaderTimeout: Duration = 0.0
    idleConnTimeout: Duration = 90.0


class ServersTransport(_Section):
    """Defaults for ``default@internal``, the transport of services that name none."""

    insecureSkipVerify: bool = False
    #: CA certificates, each a file path or PEM content.
    rootCAs: tuple[str, ...] = ()
    maxIdleConnsPerHost: int = 200
    forwardingTimeouts: ForwardingTimeouts = Field(default_factory=ForwardingTimeouts)


class TCPServersTransportTLS(_Section):
    insecureSkipVerify: bool = False
    #: CA certificates, each a file path or PEM content.
    rootCAs: tuple[str, ...] = ()


class TCPServersTransport(_Section):
    """``default@internal`` of TCP services that name no ``serversTransport``.

    Traefik's internal provider ignores ``terminationDelay`` here (it is not
    copied to ``default@internal``); so does edgeway.
    """

    dialKeepAlive: Duration = 15.0
    dialTimeout: Duration = 30.0
    terminationDelay: Duration = 0.0
    tls: TCPServersTransportTLS | None = None


_BASE_PATH = re.compile(r"^/[a-zA-Z0-9/_.:~-]*$")  # Traefik's validBasePath


class API(_Section):
    insecure: bool = False
    dashboard: bool = True
    #: Go's /debug/pprof endpoints have no Python equivalent here: refused, not ignored.
    debug: bool = False
    basePath: str = "/"

    @field_validator("debug")
    @classmethod
    def _no_debug(cls, value: bool) -> bool:
        if value:
            raise ValueError("api.debug (Go's pprof endpoints) is not supported by edgeway")
        return value

    @field_validator("basePath")
    @classmethod
    def _base_path(cls, value: str) -> str:
        if not _BASE_PATH.match(value):
            raise ValueError("must be a valid absolute URL path")
        return value


class Ping(_Section):
    entryPoint: str = INTERNAL_ENTRYPOINT
    #: When true no router is created: users route to ``ping@internal`` themselves.
    manualRouting: bool = False
    #: Status returned once shutdown has started.
    terminatingStatusCode: int = Field(default=503, ge=100, le=999)


class Log(_Section):
    level: Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "PANIC"] = "ERROR"
    format: Literal["common", "json"] = "common"
    #: Log file; empty means standard output.
    filePath: str = ""
    noColor: bool = False

    @field_validator("level", "format", mode="before")
    @classmethod
    def _case(cls, value: Any, info: Any) -> Any:
        if not isinstance(value, str):
            return value
        return value.upper() if info.field_name == "level" else value.lower()


_Mode = Literal["keep", "drop", "redact"]


class AccessLogFilters(_Section):
    """Keep only some lines: any filter given keeps a line that matches one of them."""

    #: Status code ranges (``"200-299"``, ``"404"``).
    statusCodes: list[str] = Field(default_factory=list)
    retryAttempts: bool = False
    minDuration: Duration = 0.0

    @field_validator("statusCodes")
    @classmethod
    def _ranges(cls, value: list[str]) -> list[str]:
        from edgeway.middlewares.retry import parse_code_ranges

        parse_code_ranges(value)  # raises ValueError with the faulty block
        return value


class AccessLogHeaders(_Section):
    defaultMode: _Mode = "drop"
    #: Mode of each header (any casing; canonicalised as Go's textproto).
    names: dict[str, _Mode] = Field(default_factory=dict)


class AccessLogFields(_Section):
    #: ``keep`` or ``drop`` every field not listed in ``names``.
    defaultMode: Literal["keep", "drop"] = "keep"
    names: dict[str, Literal["keep", "drop"]] = Field(default_factory=dict)
    headers: AccessLogHeaders = Field(default_factory=AccessLogHeaders)


class AccessLog(_Section):
    #: Log file; empty means standard output.
    filePath: str = ""
    format: Literal["common", "genericCLF", "json"] = "common"
    filters: AccessLogFilters = Field(default_factory=AccessLogFilters)
    fields: AccessLogFields = Field(default_factory=AccessLogFields)
    #: Lines buffered before the file is written (0: written as soon as the
    #: writer gets them; never on the request path in either case).
    bufferingSize: int = Field(default=0, ge=0)
    #: Also log requests to ``@internal`` services (api, dashboard, ping).
    addInternals: bool = False


# --- tracing -------------------------------------------------------------------------


class TracingClientTLS(_Section):
    """TLS towards the OTLP collector (Traefik's ``types.ClientTLS``: paths or PEM)."""

    ca: str = ""
    cert: str = ""
    key: str = ""
    insecureSkipVerify: bool = False


class TracingOTLPHTTP(_Section):
    #: ``scheme://host:port[/path]``; no path means ``/v1/traces``.
    endpoint: str = "https://localhost:4318"
    headers: dict[str, str] = Field(default_factory=dict)
    tls: TracingClientTLS | None = None


class TracingOTLPGRPC(_Section):
    #: ``host:port`` of the collector.
    endpoint: str = "localhost:4317"
    insecure: bool = False
    headers: dict[str, str] = Field(default_factory=dict)
    tls: TracingClientTLS | None = None


class TracingOTLP(_Section):
    """Where spans go: gRPC when ``grpc`` is given, else HTTP (Traefik's ``OTelTracing``)."""

    http: TracingOTLPHTTP = Field(default_factory=TracingOTLPHTTP)
    grpc: TracingOTLPGRPC | None = None


class Tracing(_Section):
    """OpenTelemetry tracing (Traefik's ``static.Tracing`` and its ``SetDefaults``)."""

    serviceName: str = "traefik"
    resourceAttributes: dict[str, str] | None = None
    #: Deprecated spelling of ``resourceAttributes`` (used when that is not given).
    globalAttributes: dict[str, str] | None = None
    capturedRequestHeaders: list[str] = Field(default_factory=list)
    capturedResponseHeaders: list[str] = Field(default_factory=list)
    #: Query parameters shown as they are; the others' values read ``REDACTED``.
    safeQueryParams: list[str] = Field(default_factory=list)
    sampleRate: float = 1.0
    #: Also trace requests to ``@internal`` services (api, dashboard, ping).
    addInternals: bool = False
    otlp: TracingOTLP = Field(default_factory=TracingOTLP)

    @model_validator(mode="after")
    def _check(self) -> Tracing:
        grpc = self.otlp.grpc
        if grpc is not None and grpc.tls is not None and grpc.insecure:
            raise ValueError("tracing OTLP GRPC: TLS and Insecure options are mutually exclusive")
        return self

    def attributes(self) -> dict[str, str]:
        """The resource attributes the user gave (``globalAttributes`` as a fallback)."""
        if self.resourceAttributes is not None:
            return dict(self.resourceAttributes)
        return dict(self.globalAttributes or {})


# --- metrics -------------------------------------------------------------------------


class Prometheus(_Section):
    """``metrics.prometheus``: Traefik's metrics at ``/metrics`` (see :mod:`edgeway.metrics`)."""

    #: Upper bounds of the request duration histograms' buckets (seconds).
    buckets: tuple[float, ...] = (0.1, 0.3, 1.2, 5.0)
    addEntryPointsLabels: bool = True
    addRoutersLabels: bool = False
    addServicesLabels: bool = True
    #: Entry point of the ``/metrics`` router (unless ``manualRouting``).
    entryPoint: str = INTERNAL_ENTRYPOINT
    #: When true no router is created: users route to ``prometheus@internal`` themselves.
    manualRouting: bool = False
    #: Extra label of the ``*_requests_total`` metrics -> request header giving its value.
    headerLabels: dict[str, str] = Field(default_factory=dict)

    @field_validator("buckets")
    @classmethod
    def _buckets(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(b != b or b in (float("inf"), float("-inf")) for b in value):
            raise ValueError("buckets must be finite numbers")
        if list(value) != sorted(set(value)):
            raise ValueError("buckets must be in increasing order")  # Prometheus' client panics
        return value

    @field_validator("headerLabels")
    @classmethod
    def _label_names(cls, value: dict[str, str]) -> dict[str, str]:
        reserved = {"code", "method", "protocol", "entrypoint", "router", "service"}
        for name in value:
            if not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", name) or name.startswith("__"):
                raise ValueError(f"{name!r} is not a valid Prometheus label name")
            if name in reserved:
                raise ValueError(f"label {name!r} is already used by the requests_total metrics")
        return value


class Metrics(_Section):
    """``metrics``: only the Prometheus exporter is available."""

    #: Also count requests to ``@internal`` services (api, dashboard, ping, prometheus).
    addInternals: bool = False
    prometheus: Prometheus | None = None


class Providers(_Section):
    """``providersThrottleDuration`` plus, in built models, one field per provider type.

    A provider section that is present (even empty) enables that provider.
    """

    providersThrottleDuration: Duration = 2.0

    def enabled(self) -> dict[str, BaseModel]:
        """Options of the providers that are configured, by ``config_key``."""
        return {
            name: value
            for name in type(self).model_fields
            if name != "providersThrottleDuration" and (value := getattr(self, name)) is not None
        }


# --- certificate resolvers (pkg/provider/acme/provider.go Configuration) ---------------

ACME_KEY_TYPES = ("EC256", "EC384", "RSA2048", "RSA4096", "RSA8192")


class ACMEEAB(_Section):
    """External Account Binding: key identifier and base64url HMAC key from the CA."""

    kid: str = ""
    hmacEncoded: str = ""


class ACMEPropagation(_Section):
    disableChecks: bool = False
    disableANSChecks: bool = False
    requireAllRNS: bool = False
    delayBeforeChecks: Duration = 0.0


class ACMEDNSChallenge(_Section):
    provider: str = ""
    #: DNS servers (``host:port``) asked whether the TXT record is visible.
    resolvers: tuple[str, ...] = ()
    propagation: ACMEPropagation | None = None
    #: Deprecated forms of ``propagation.delayBeforeChecks`` / ``disableChecks``.
    delayBeforeCheck: Duration = 0.0
    disablePropagationCheck: bool = False


class ACMEHTTPChallenge(_Section):
    entryPoint: str = ""
    delay: Duration = 0.0


class ACMETLSChallenge(_Section):
    delay: Duration = 0.0


class ACMEConfiguration(_Section):
    email: str = ""
    caServer: str = "https://acme-v02.api.letsencrypt.org/directory"
    preferredChain: str = ""
    profile: str = ""
    emailAddresses: tuple[str, ...] = ()
    disableCommonName: bool = False
    storage: str = "acme.json"
    #: Traefik logs and falls back to RSA4096 for an unknown value; edgeway refuses it.
    keyType: str = "RSA4096"
    eab: ACMEEAB | None = None
    certificatesDuration: int = 3 * 30 * 24
    clientTimeout: Duration = 120.0
    clientResponseHeaderTimeout: Duration = 30.0
    certificateTimeout: Duration = 30.0
    caCertificates: tuple[str, ...] = ()
    caSystemCertPool: bool = False
    caServerName: str = ""
    dnsChallenge: ACMEDNSChallenge | None = None
    httpChallenge: ACMEHTTPChallenge | None = None
    tlsChallenge: ACMETLSChallenge | None = None

    @field_validator("keyType")
    @classmethod
    def _key_type(cls, value: str) -> str:
        value = value or "RSA4096"
        if value not in ACME_KEY_TYPES:
            raise ValueError(f"unknown key type {value!r}: use one of {', '.join(ACME_KEY_TYPES)}")
        return value


class CertificateResolver(_Section):
    acme: ACMEConfiguration | None = None
    #: Accepted by Traefik; refused when the resolver is set up (not supported).
    tailscale: dict[str, Any] | None = None


class StaticConfiguration(_Section):
    """The whole static configuration.

    Use :func:`build_static_model` to get the variant whose ``providers`` accepts
    the registered provider types; this base accepts none.
    """

    global_: Global = Field(default_factory=Global, alias="global")
    serversTransport: ServersTransport = Field(default_factory=ServersTransport)
    tcpServersTransport: TCPServersTransport = Field(default_factory=TCPServersTransport)
    entryPoints: dict[str, EntryPoint] = Field(default_factory=dict)
    providers: Providers = Field(default_factory=Providers)
    api: API | None = None
    ping: Ping | None = None
    log: Log = Field(default_factory=Log)
    accessLog: AccessLog | None = None
    tracing: Tracing | None = None
    metrics: Metrics | None = None
    certificatesResolvers: dict[str, CertificateResolver] = Field(default_factory=dict)


def build_static_model(registry: Registry | None) -> type[StaticConfiguration]:
    """A :class:`StaticConfiguration` whose ``providers`` has a section per provider type.

    Each section is ``None`` unless configured and is validated by the type's own
    ``options_model``. Raises ``ValueError`` when two types share a key (keys are
    case-insensitive) or one shadows ``providersThrottleDuration``.
    """
    if registry is None or not registry.providers:
        return StaticConfiguration
    fields: dict[str, Any] = {}
    taken = {name.lower(): name for name in Providers.model_fields}
    for ptype in registry.providers.values():
        key = ptype.config_key
        if not key:  # not configured from the static configuration (internal)
            continue
        if key.lower() in taken:
            raise ValueError(
                f"provider type {ptype.name!r}: configuration key providers.{key} "
                f"is already used by {taken[key.lower()]!r}"
            )
        taken[key.lower()] = ptype.name
        fields[key] = (ptype.options_model | None, None)
    providers = create_model("Providers", __base__=Providers, **fields)
    return create_model(
        "StaticConfiguration",
        __base__=StaticConfiguration,
        providers=(providers, Field(default_factory=providers)),
    )


# --- derived settings ----------------------------------------------------------------

C = TypeVar("C", bound=StaticConfiguration)


def effective_configuration(static: C) -> C:
    """Add the entry points Traefik's ``SetEffectiveConfiguration`` adds.

    No entry point at all gives ``http`` on ``:80``; the insecure API, or a ping
    or Prometheus routed to ``traefik`` (the default), gives ``traefik`` on
    ``:8080`` unless the user defined it.
    """
    entry_points = dict(static.entryPoints)
    if not entry_points:
        entry_points["http"] = EntryPoint(address=":80")
    ping = static.ping
    prometheus = static.metrics.prometheus if static.metrics is not None else None
    needs_internal = (
        (static.api is not None and static.api.insecure)
        or (ping is not None and not ping.manualRouting and ping.entryPoint == INTERNAL_ENTRYPOINT)
        or (
            prometheus is not None
            and not prometheus.manualRouting
            and prometheus.entryPoint == INTERNAL_ENTRYPOINT
        )
    )
    if needs_internal and INTERNAL_ENTRYPOINT not in entry_points:
        entry_points[INTERNAL_ENTRYPOINT] = EntryPoint(address=":8080")
    if entry_points == static.entryPoints:
        return static
    return static.model_copy(update={"entryPoints": entry_points})


def default_entrypoints(static: StaticConfiguration) -> list[str]:
    """Entry points of routers that name none, sorted (Traefik's ``getDefaultsEntrypoints``).

    Those marked ``asDefault`` if any is, else every one; never UDP ones nor
    ``traefik``.
    """
    eps = static.entryPoints
    flagged = any(ep.asDefault for ep in eps.values())
    return sorted(
        name
        for name, ep in eps.items()
        if (ep.asDefault or not flagged) and ep.protocol != "udp" and name != INTERNAL_ENTRYPOINT
    )
