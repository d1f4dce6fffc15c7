"""HTTP middlewares (pkg/config/dynamic/middlewares.go, plugins.go).

Only the defaults Traefik sets in ``SetDefaults`` are defaults here; values
that Traefik's documentation calls "default" but that are applied at runtime
(e.g. basicAuth realm ``traefik``, buffering memory thresholds) stay ``None``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from .durations import Duration
from .dynamic_base import AllowEmpty, StrList, TraefikModel
from .dynamic_tls import RedisTLS

__all__ = [
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
    "MIDDLEWARE_KINDS",
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
]

# --------------------------------------------------------------------------- path rewriting


class AddPrefix(TraefikModel):
    """Prepend ``prefix`` to the request path."""

    prefix: str | None = None


class StripPrefix(TraefikModel):
    """Remove the first matching prefix from the path."""

    prefixes: StrList | None = None
    forceSlash: bool | None = None  # deprecated, ignored by Traefik


class StripPrefixRegex(TraefikModel):
    """Remove the first prefix matching one of the regexes."""

    regex: StrList | None = None


class ReplacePath(TraefikModel):
    """Replace the whole path (original kept in ``X-Replaced-Path``)."""

    path: str | None = None


class ReplacePathRegex(TraefikModel):
    """Rewrite the path with a regex and a replacement."""

    regex: str | None = None
    replacement: str | None = None


class Chain(TraefikModel):
    """A named, reusable list of middlewares."""

    middlewares: StrList | None = None


# --------------------------------------------------------------------------- redirects


class RedirectRegex(TraefikModel):
    """Redirect when the URL matches ``regex``."""

    _internal_keys = frozenset({"statuscode"})  # Gateway API only

    regex: str | None = None
    replacement: str | None = None
    permanent: bool | None = None


class RedirectScheme(TraefikModel):
    """Redirect to another scheme and/or port."""

    _internal_keys = frozenset({"forcepermanentredirect"})  # ingress-nginx only

    scheme: str | None = None
    port: str | None = None
    permanent: bool | None = None


# --------------------------------------------------------------------------- access control


class IPStrategy(TraefikModel):
    """How the client IP is picked: X-Forwarded-For depth, excluded IPs, IPv6 subnet."""

    depth: int | None = None
    excludedIPs: StrList | None = None
    ipv6Subnet: int | None = None


class IPAllowList(TraefikModel):
    """Allow only clients in ``sourceRange``."""

    sourceRange: StrList | None = None
    ipStrategy: Annotated[IPStrategy | None, AllowEmpty] = None
    rejectStatusCode: int | None = None


class IPWhiteList(TraefikModel):
    """Deprecated name of :class:`IPAllowList` (without ``rejectStatusCode``)."""

    sourceRange: StrList | None = None
    ipStrategy: Annotated[IPStrategy | None, AllowEmpty] = None


class BasicAuth(TraefikModel):
    """HTTP basic authentication against ``name:hash`` users."""

    users: StrList | None = None
    usersFile: str | None = None
    realm: str | None = None
    removeHeader: bool | None = None
    headerField: str | None = None


class DigestAuth(TraefikModel):
    """HTTP digest authentication against ``name:realm:hash`` users."""

    users: StrList | None = None
    usersFile: str | None = None
    removeHeader: bool | None = None
    realm: str | None = None
    headerField: str | None = None


class ClientTLS(TraefikModel):
    """TLS towards the forwardAuth server (dynamic.ClientTLS: paths or PEM)."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    insecureSkipVerify: bool | None = None
    caOptional: bool | None = None


class ForwardAuth(TraefikModel):
    """Delegate authentication to an external server (ForwardAuth.SetDefaults: no body limit)."""

    address: str | None = None
    tls: ClientTLS | None = None
    trustForwardHeader: bool | None = None
    authResponseHeaders: StrList | None = None
    authResponseHeadersRegex: str | None = None
    authRequestHeaders: StrList | None = None
    maxResponseBodySize: int | None = None
    addAuthCookiesToResponse: StrList | None = None
    headerField: str | None = None
    forwardBody: bool | None = None
    maxBodySize: int | None = -1
    preserveLocationHeader: bool | None = None
    preserveRequestMethod: bool | None = None
    authSigninURL: str | None = None


class TLSClientCertificateSubjectDNInfo(TraefikModel):
    """Which subject DN parts passTLSClientCert reports."""

    country: bool | None = None
    province: bool | None = None
    locality: bool | None = None
    organization: bool | None = None
    organizationalUnit: bool | None = None
    commonName: bool | None = None
    serialNumber: bool | None = None
    domainComponent: bool | None = None


class TLSClientCertificateIssuerDNInfo(TraefikModel):
    """Which issuer DN parts passTLSClientCert reports."""

    country: bool | None = None
    province: bool | None = None
    locality: bool | None = None
    organization: bool | None = None
    commonName: bool | None = None
    serialNumber: bool | None = None
    domainComponent: bool | None = None


class TLSClientCertificateInfo(TraefikModel):
    """Which certificate fields go into ``X-Forwarded-Tls-Client-Cert-Info``."""

    notAfter: bool | None = None
    notBefore: bool | None = None
    sans: bool | None = None
    serialNumber: bool | None = None
    subject: TLSClientCertificateSubjectDNInfo | None = None
    issuer: TLSClientCertificateIssuerDNInfo | None = None


class PassTLSClientCert(TraefikModel):
    """Forward the client certificate (PEM and/or selected info) in headers."""

    pem: bool | None = None
    info: TLSClientCertificateInfo | None = None


# --------------------------------------------------------------------------- headers & content


class Headers(TraefikModel):
    """Custom request/response headers, CORS and security headers."""

    customRequestHeaders: dict[str, str] | None = None
    customResponseHeaders: dict[str, str] | None = None
    accessControlAllowCredentials: bool | None = None
    accessControlAllowHeaders: StrList | None = None
    accessControlAllowMethods: StrList | None = None
    accessControlAllowOriginList: StrList | None = None
    accessControlAllowOriginListRegex: StrList | None = None
    accessControlExposeHeaders: StrList | None = None
    accessControlMaxAge: int | None = None
    addVaryHeader: bool | None = None
    allowedHosts: StrList | None = None
    hostsProxyHeaders: StrList | None = None
    sslProxyHeaders: dict[str, str] | None = None
    stsSeconds: int | None = None
    stsIncludeSubdomains: bool | None = None
    stsPreload: bool | None = None
    forceSTSHeader: bool | None = None
    frameDeny: bool | None = None
    customFrameOptionsValue: str | None = None
    contentTypeNosniff: bool | None = None
    browserXssFilter: bool | None = None
    customBrowserXSSValue: str | None = None
    contentSecurityPolicy: str | None = None
    contentSecurityPolicyReportOnly: str | None = None
    publicKey: str | None = None
    referrerPolicy: str | None = None
    permissionsPolicy: str | None = None
    isDevelopment: bool | None = None
    # Deprecated options, still accepted by Traefik v3.
    featurePolicy: str | None = None
    sslRedirect: bool | None = None
    sslTemporaryRedirect: bool | None = None
    sslHost: str | None = None
    sslForceHost: bool | None = None


class EncodedCharacters(TraefikModel):
    """Which percent-encoded characters a request path may contain."""

    allowEncodedSlash: bool | None = None
    allowEncodedBackSlash: bool | None = None
    allowEncodedNullCharacter: bool | None = None
    allowEncodedSemicolon: bool | None = None
    allowEncodedPercent: bool | None = None
    allowEncodedQuestionMark: bool | None = None
    allowEncodedHash: bool | None = None


class ErrorPage(TraefikModel):
    """Serve an error page from ``service`` for the listed statuses."""

    _internal_keys = frozenset({"nginxheaders"})  # ingress-nginx only

    status: StrList | None = None
    statusRewrites: dict[str, int] | None = None
    service: str | None = None
    query: str | None = None
    errorRequestHeaders: StrList | None = None


class Compress(TraefikModel):
    """Compress responses (Compress.SetDefaults: gzip, br, zstd)."""

    excludedContentTypes: StrList | None = None
    includedContentTypes: StrList | None = None
    minResponseBodyBytes: int | None = None
    encodings: StrList | None = Field(default_factory=lambda: ["gzip", "br", "zstd"])
    defaultEncoding: str | None = None


class ContentType(TraefikModel):
    """Enable Content-Type auto-detection (``autoDetect`` is deprecated)."""

    autoDetect: bool | None = None


class GrpcWeb(TraefikModel):
    """Translate gRPC-Web requests to gRPC."""

    allowOrigins: StrList | None = None


class Buffering(TraefikModel):
    """Buffer request/response bodies, with size limits and a retry expression."""

    _internal_keys = frozenset({"disablerequestbuffer", "disableresponsebuffer"})

    maxRequestBodyBytes: int | None = None
    memRequestBodyBytes: int | None = None
    maxResponseBodyBytes: int | None = None
    memResponseBodyBytes: int | None = None
    retryExpression: str | None = None


# --------------------------------------------------------------------------- traffic control


class SourceCriterion(TraefikModel):
    """What groups requests for rate and in-flight limits: IP, a header, or the host."""

    ipStrategy: IPStrategy | None = None
    requestHeaderName: str | None = None
    requestHost: bool | None = None


class InFlightReq(TraefikModel):
    """Limit simultaneous requests per source."""

    amount: int | None = None
    sourceCriterion: SourceCriterion | None = None


class Redis(TraefikModel):
    """Shared rate-limit state (Redis.SetDefaults: localhost, 3s read/write, 5s dial)."""

    endpoints: StrList | None = Field(default_factory=lambda: ["localhost:6379"])
    tls: RedisTLS | None = None
    username: str | None = None
    password: str | None = None
    db: int | None = None
    poolSize: int | None = None
    minIdleConns: int | None = None
    maxActiveConns: int | None = None
    readTimeout: Duration | None = 3.0
    writeTimeout: Duration | None = 3.0
    dialTimeout: Duration | None = 5.0


class RateLimit(TraefikModel):
    """Token-bucket rate limiting (RateLimit.SetDefaults: burst 1 per 1s period)."""

    average: int | None = None
    period: Duration | None = 1.0
    burst: int | None = 1
    sourceCriterion: SourceCriterion | None = None
    redis: Redis | None = None


class CircuitBreaker(TraefikModel):
    """Trip on an expression over recent traffic (CircuitBreaker.SetDefaults)."""

    expression: str | None = None
    checkPeriod: Duration | None = 0.1
    fallbackDuration: Duration | None = 10.0
    recoveryDuration: Duration | None = 10.0
    responseCode: int | None = 503


class Retry(TraefikModel):
    """Retry failed requests (Retry.SetDefaults: bodies up to 2 MiB are replayable)."""

    attempts: int | None = None
    timeout: Duration | None = None
    initialInterval: Duration | None = None
    maxRequestBodyBytes: int | None = 2 * 1024 * 1024
    status: StrList | None = None
    disableRetryOnNetworkError: bool | None = None
    retryNonIdempotentMethod: bool | None = None


# --------------------------------------------------------------------------- the union

#: Middleware type keys, in Traefik's declaration order (``plugin`` last).
MIDDLEWARE_KINDS = (
    "addPrefix",
    "stripPrefix",
    "stripPrefixRegex",
    "replacePath",
    "replacePathRegex",
    "chain",
    "ipWhiteList",
    "ipAllowList",
    "headers",
    "encodedCharacters",
    "errors",
    "rateLimit",
    "redirectRegex",
    "redirectScheme",
    "basicAuth",
    "digestAuth",
    "forwardAuth",
    "inFlightReq",
    "buffering",
    "circuitBreaker",
    "compress",
    "passTLSClientCert",
    "retry",
    "contentType",
    "grpcWeb",
    "plugin",
)


class Middleware(TraefikModel):
    """An HTTP middleware: exactly one type must be set, which the kernel checks at runtime."""

    # Gateway API filters and ingress-nginx middlewares: built by those providers only.
    _internal_keys = frozenset(
        {
            "requestheadermodifier",
            "responseheadermodifier",
            "requestredirect",
            "urlrewrite",
            "authtlspasscertificatetoupstream",
            "snippet",
            "rewritetarget",
            "upstreamvhost",
            "approot",
        }
    )

    addPrefix: AddPrefix | None = None
    stripPrefix: StripPrefix | None = None
    stripPrefixRegex: StripPrefixRegex | None = None
    replacePath: ReplacePath | None = None
    replacePathRegex: ReplacePathRegex | None = None
    chain: Chain | None = None
    ipWhiteList: IPWhiteList | None = None  # deprecated, use ipAllowList
    ipAllowList: IPAllowList | None = None
    headers: Headers | None = None
    encodedCharacters: EncodedCharacters | None = None
    errors: ErrorPage | None = None
    rateLimit: RateLimit | None = None
    redirectRegex: RedirectRegex | None = None
    redirectScheme: RedirectScheme | None = None
    basicAuth: BasicAuth | None = None
    digestAuth: DigestAuth | None = None
    forwardAuth: ForwardAuth | None = None
    inFlightReq: InFlightReq | None = None
    buffering: Buffering | None = None
    circuitBreaker: CircuitBreaker | None = None
    compress: Annotated[Compress | None, AllowEmpty] = None
    passTLSClientCert: PassTLSClientCert | None = None
    retry: Retry | None = None
    contentType: Annotated[ContentType | None, AllowEmpty] = None
    grpcWeb: GrpcWeb | None = None
    #: Plugin name -> its free-form configuration.
    plugin: dict[str, dict[str, Any]] | None = None

    def kinds(self) -> list[str]:
        """Keys of the middleware types that are set (``plugin`` counts once)."""
        return self._set_fields(MIDDLEWARE_KINDS)
