"""The Middleware and MiddlewareTCP kinds and their options.

Go: middleware.go and middlewaretcp.go, with the ``pkg/config/dynamic`` option types
they embed (middlewares.go, tcp_middlewares.go). Options that name Kubernetes objects
(Secrets, Services, Middlewares) are the CRD's own types, as in Traefik.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from edgeway_kubernetes_crd.resources.base import (
    JSON,
    CRDModel,
    Duration,
    Int64,
    IntOrString,
    Pointer,
)
from edgeway_kubernetes_crd.resources.common import MiddlewareRef
from edgeway_kubernetes_crd.resources.services import Service

__all__ = [
    "AddPrefix",
    "BasicAuth",
    "Buffering",
    "Chain",
    "CircuitBreaker",
    "ClientTLS",
    "ClientTLSWithCAOptional",
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
    "MiddlewareSpec",
    "MiddlewareTCPSpec",
    "PassTLSClientCert",
    "RateLimit",
    "Redis",
    "RedirectRegex",
    "RedirectScheme",
    "ReplacePath",
    "ReplacePathRegex",
    "Retry",
    "SourceCriterion",
    "StripPrefix",
    "StripPrefixRegex",
    "TCPIPAllowList",
    "TCPIPWhiteList",
    "TCPInFlightConn",
    "TLSClientCertificateInfo",
    "TLSClientCertificateIssuerDNInfo",
    "TLSClientCertificateSubjectDNInfo",
]

#: A status code, a list of them or a range: ``500``, ``500,502``, ``500-599``.
StatusRange = Annotated[str, Field(pattern=r"^([1-5][0-9]{2}[,-]?)+$")]
NonNegative = Annotated[int, Field(ge=0)]
NonNegative64 = Annotated[Int64, Field(ge=0)]


class AddPrefix(CRDModel):
    """Adds a prefix to the request path."""

    prefix: str | None = None
    """The prefix; it should start with `/`."""


class StripPrefix(CRDModel):
    """Removes prefixes from the request path."""

    prefixes: list[str] | None = None
    """The prefixes removed."""
    forceSlash: Pointer[bool] | None = None
    """Deprecated: make an empty result `/`."""


class StripPrefixRegex(CRDModel):
    """Removes a prefix matched by a regular expression from the request path."""

    regex: list[str] | None = None
    """Regular expressions matching the prefix."""


class ReplacePath(CRDModel):
    """Replaces the request path."""

    path: str | None = None
    """The new path."""


class ReplacePathRegex(CRDModel):
    """Rewrites the request path with a regular expression."""

    regex: str | None = None
    """Regular expression matching (and capturing parts of) the path."""
    replacement: str | None = None
    """The new path; may use the captured groups (`$1`...)."""


class Chain(CRDModel):
    """Groups Middlewares into one."""

    middlewares: list[MiddlewareRef] | None = None
    """The Middlewares, in order."""


class IPStrategy(CRDModel):
    """How the client IP is taken from the request."""

    depth: NonNegative | None = None
    """Use the X-Forwarded-For entry at this position from the right."""
    excludedIPs: list[str] | None = None
    """Use the first X-Forwarded-For entry (from the right) not in these IPs or ranges."""
    ipv6Subnet: Pointer[int] | None = None
    """Treat IPv6 addresses of a subnet of this prefix length as one client."""


class IPWhiteList(CRDModel):
    """Deprecated name of ipAllowList."""

    sourceRange: list[str] | None = None
    """Allowed IPs or CIDR ranges."""
    ipStrategy: Pointer[IPStrategy] | None = None
    """How the client IP is found (default: the connection's remote address)."""


class IPAllowList(CRDModel):
    """Accepts only requests from given IPs or ranges."""

    sourceRange: list[str] | None = None
    """Allowed IPs or CIDR ranges."""
    ipStrategy: Pointer[IPStrategy] | None = None
    """How the client IP is found (default: the connection's remote address)."""
    rejectStatusCode: int | None = None
    """Status code of refused requests (default 403)."""


class Headers(CRDModel):
    """Sets request and response headers: custom, CORS and security headers."""

    customRequestHeaders: dict[str, str] | None = None
    """Headers set on the request (an empty value removes the header)."""
    customResponseHeaders: dict[str, str] | None = None
    """Headers set on the response (an empty value removes the header)."""
    accessControlAllowCredentials: bool | None = None
    """CORS: allow credentials."""
    accessControlAllowHeaders: list[str] | None = None
    """CORS: Access-Control-Allow-Headers of preflight responses."""
    accessControlAllowMethods: list[str] | None = None
    """CORS: Access-Control-Allow-Methods of preflight responses."""
    accessControlAllowOriginList: list[str] | None = None
    """CORS: allowed origins (`*` for any)."""
    accessControlAllowOriginListRegex: list[str] | None = None
    """CORS: allowed origins as regular expressions."""
    accessControlExposeHeaders: list[str] | None = None
    """CORS: Access-Control-Expose-Headers."""
    accessControlMaxAge: Pointer[Int64] | None = None
    """CORS: seconds a preflight response may be cached."""
    addVaryHeader: bool | None = None
    """Add `Vary: Origin` when the allowed origins are set."""
    allowedHosts: list[str] | None = None
    """Host names allowed (others are refused)."""
    hostsProxyHeaders: list[str] | None = None
    """Headers that may carry the proxied host name."""
    sslProxyHeaders: dict[str, str] | None = None
    """Headers and values that mark a request as HTTPS (e.g. `X-Forwarded-Proto: https`)."""
    stsSeconds: Pointer[NonNegative64] | None = None
    """max-age of Strict-Transport-Security (0: no header)."""
    stsIncludeSubdomains: bool | None = None
    """Add includeSubDomains to Strict-Transport-Security."""
    stsPreload: bool | None = None
    """Add preload to Strict-Transport-Security."""
    forceSTSHeader: bool | None = None
    """Send Strict-Transport-Security on plain HTTP too."""
    frameDeny: bool | None = None
    """Send `X-Frame-Options: DENY`."""
    customFrameOptionsValue: str | None = None
    """X-Frame-Options value (takes precedence over frameDeny)."""
    contentTypeNosniff: bool | None = None
    """Send `X-Content-Type-Options: nosniff`."""
    browserXssFilter: bool | None = None
    """Send `X-XSS-Protection: 1; mode=block`."""
    customBrowserXSSValue: str | None = None
    """X-XSS-Protection value (takes precedence over browserXssFilter)."""
    contentSecurityPolicy: str | None = None
    """Content-Security-Policy value."""
    contentSecurityPolicyReportOnly: str | None = None
    """Content-Security-Policy-Report-Only value."""
    publicKey: str | None = None
    """Public-Key-Pins value (HPKP)."""
    referrerPolicy: str | None = None
    """Referrer-Policy value."""
    permissionsPolicy: str | None = None
    """Permissions-Policy value."""
    isDevelopment: bool | None = None
    """Relax allowedHosts, SSL and STS options for development."""
    featurePolicy: Pointer[str] | None = None
    """Deprecated: use permissionsPolicy."""
    sslRedirect: Pointer[bool] | None = None
    """Deprecated: use an entry point redirection or redirectScheme."""
    sslTemporaryRedirect: Pointer[bool] | None = None
    """Deprecated: use an entry point redirection or redirectScheme."""
    sslHost: Pointer[str] | None = None
    """Deprecated: use redirectRegex."""
    sslForceHost: Pointer[bool] | None = None
    """Deprecated: use redirectRegex."""


class EncodedCharacters(CRDModel):
    """Which percent-encoded characters are allowed in request paths."""

    allowEncodedSlash: bool | None = None
    """Allow `%2F` (/)."""
    allowEncodedBackSlash: bool | None = None
    """Allow `%5C` (\\)."""
    allowEncodedNullCharacter: bool | None = None
    """Allow `%00`."""
    allowEncodedSemicolon: bool | None = None
    """Allow `%3B` (;)."""
    allowEncodedPercent: bool | None = None
    """Allow `%25` (%)."""
    allowEncodedQuestionMark: bool | None = None
    """Allow `%3F` (?)."""
    allowEncodedHash: bool | None = None
    """Allow `%23` (#)."""


class ErrorPage(CRDModel):
    """Replaces error responses with a page from another service."""

    status: list[StatusRange] | None = None
    """Status codes or ranges (`500`, `500,502`, `500-599`) that get the error page."""
    statusRewrites: dict[str, int] | None = None
    """Status codes or ranges mapped to the status returned instead (e.g. `"418": 404`)."""
    service: Service | None = None
    """The Kubernetes Service serving the error pages."""
    query: str | None = None
    """URL of the error page; `{status}`, `{originalStatus}` and `{url}` are replaced."""
    errorRequestHeaders: list[str] | None = None
    """Request headers sent to the error page service (unset: all; empty: none)."""


class SourceCriterion(CRDModel):
    """What groups requests as coming from one source (one of the fields)."""

    ipStrategy: Pointer[IPStrategy] | None = None
    """The client IP, found this way."""
    requestHeaderName: str | None = None
    """The value of this request header."""
    requestHost: bool | None = None
    """The request's Host."""


class ClientTLS(CRDModel):
    """TLS towards a server, with certificates from Secrets."""

    caSecret: str | None = None
    """Secret holding the CA that verifies the server (key `tls.ca` or `ca.crt`)."""
    certSecret: str | None = None
    """Secret holding the client certificate (keys `tls.crt` and `tls.key`)."""
    insecureSkipVerify: bool | None = None
    """Do not verify the server's certificate."""


class ClientTLSWithCAOptional(ClientTLS):
    """TLS towards the authentication server."""

    caOptional: Pointer[bool] | None = None
    """Deprecated (client authentication is a server-side setting)."""


class Redis(CRDModel):
    """Redis storage of rate-limit counters (shared by several proxies)."""

    endpoints: list[str] | None = None
    """Redis addresses, host:port (default `localhost:6379`)."""
    tls: Pointer[ClientTLS] | None = None
    """TLS towards Redis."""
    secret: str | None = None
    """Secret holding the Redis username and password."""
    db: int | None = None
    """Redis database number."""
    poolSize: int | None = None
    """Initial number of connections (default: 10 per CPU)."""
    minIdleConns: int | None = None
    """Idle connections kept open."""
    maxActiveConns: int | None = None
    """Most connections open at once (default: no limit)."""
    readTimeout: Pointer[Duration] | None = None
    """Timeout of reads (default 3s)."""
    writeTimeout: Pointer[Duration] | None = None
    """Timeout of writes (default 3s)."""
    dialTimeout: Pointer[Duration] | None = None
    """Timeout of connecting (default 5s)."""


class RateLimit(CRDModel):
    """Limits the request rate per source."""

    average: Pointer[NonNegative64] | None = None
    """Requests allowed per period, on average (0: no limit)."""
    period: Pointer[IntOrString] | None = None
    """The period of `average` (default 1s)."""
    burst: Pointer[NonNegative64] | None = None
    """Requests allowed at once (default 1)."""
    sourceCriterion: Pointer[SourceCriterion] | None = None
    """What groups requests into one source (default: the client IP)."""
    redis: Pointer[Redis] | None = None
    """Keep the counters in Redis."""


class RedirectRegex(CRDModel):
    """Redirects requests whose URL matches a regular expression."""

    regex: str | None = None
    """Regular expression matching (and capturing parts of) the URL."""
    replacement: str | None = None
    """The redirection URL; may use the captured groups (`${1}`...)."""
    permanent: bool | None = None
    """Permanent redirection."""


class RedirectScheme(CRDModel):
    """Redirects requests to another scheme (and port)."""

    scheme: str | None = None
    """Scheme of the redirection URL."""
    port: str | None = None
    """Port of the redirection URL."""
    permanent: bool | None = None
    """Permanent redirection."""


class BasicAuth(CRDModel):
    """HTTP basic authentication."""

    secret: str | None = None
    """Secret holding the users."""
    realm: str | None = None
    """Realm announced to clients (default `traefik`)."""
    removeHeader: bool | None = None
    """Remove the Authorization header before forwarding."""
    headerField: str | None = None
    """Request header receiving the authenticated user name."""


class DigestAuth(CRDModel):
    """HTTP digest authentication."""

    secret: str | None = None
    """Secret holding the users."""
    removeHeader: bool | None = None
    """Remove the Authorization header before forwarding."""
    realm: str | None = None
    """Realm announced to clients (default `traefik`)."""
    headerField: str | None = None
    """Request header receiving the authenticated user name."""


class ForwardAuth(CRDModel):
    """Asks an external service whether each request is allowed."""

    address: str | None = None
    """URL of the authentication service."""
    trustForwardHeader: Pointer[bool] | None = None
    """Trust the request's X-Forwarded-* headers (deprecated: trust them at the entry point)."""
    authResponseHeaders: list[str] | None = None
    """Headers copied from the authentication response to the forwarded request."""
    authResponseHeadersRegex: str | None = None
    """Regular expression of headers copied from the authentication response."""
    authRequestHeaders: list[str] | None = None
    """Request headers sent to the authentication service (default: all)."""
    tls: Pointer[ClientTLSWithCAOptional] | None = None
    """TLS towards the authentication service."""
    maxResponseBodySize: Pointer[Int64] | None = None
    """Largest authentication response body read, in bytes."""
    addAuthCookiesToResponse: list[str] | None = None
    """Cookies copied from the authentication response to the response."""
    headerField: str | None = None
    """Request header receiving the authenticated user name."""
    forwardBody: bool | None = None
    """Send the request body to the authentication service."""
    maxBodySize: Pointer[Int64] | None = None
    """Largest request body sent to the authentication service, in bytes."""
    preserveLocationHeader: bool | None = None
    """Keep a relative Location header of the authentication response as it is."""
    preserveRequestMethod: bool | None = None
    """Send the request's own method to the authentication service."""
    authSigninURL: str | None = None
    """Where to redirect when the authentication service answers 401."""


class InFlightReq(CRDModel):
    """Limits the requests in progress at once per source."""

    amount: NonNegative64 | None = None
    """Requests allowed in progress at once (more get 429)."""
    sourceCriterion: Pointer[SourceCriterion] | None = None
    """What groups requests into one source (default: the request Host)."""


class Buffering(CRDModel):
    """Buffers request and response bodies (and limits their size)."""

    maxRequestBodyBytes: Int64 | None = None
    """Largest request body (larger gets 413; 0: no limit)."""
    memRequestBodyBytes: Int64 | None = None
    """Request body size above which it is buffered on disk (default 1Mi)."""
    maxResponseBodyBytes: Int64 | None = None
    """Largest response body (larger gets 500; 0: no limit)."""
    memResponseBodyBytes: Int64 | None = None
    """Response body size above which it is buffered on disk (default 1Mi)."""
    retryExpression: str | None = None
    """When to retry the request, e.g. `IsNetworkError() && Attempts() < 2`."""


class CircuitBreaker(CRDModel):
    """Stops sending to a service while an expression over its results holds."""

    expression: str | None = None
    """Condition that trips the breaker, e.g. `NetworkErrorRatio() > 0.5`."""
    checkPeriod: Pointer[Duration] | None = None
    """Time between evaluations of the expression."""
    fallbackDuration: Pointer[IntOrString] | None = None
    """Time spent tripped before trying to recover."""
    recoveryDuration: Pointer[Duration] | None = None
    """Time spent recovering."""
    responseCode: Annotated[int, Field(ge=100, le=599)] | None = None
    """Status returned while the breaker is open (default 503)."""


class TLSClientCertificateSubjectDNInfo(CRDModel):
    """Which parts of the client certificate's subject are passed."""

    country: bool | None = None
    """Country (C)."""
    province: bool | None = None
    """Province (ST)."""
    locality: bool | None = None
    """Locality (L)."""
    organization: bool | None = None
    """Organization (O)."""
    organizationalUnit: bool | None = None
    """Organizational unit (OU)."""
    commonName: bool | None = None
    """Common name (CN)."""
    serialNumber: bool | None = None
    """Serial number."""
    domainComponent: bool | None = None
    """Domain components (DC)."""


class TLSClientCertificateIssuerDNInfo(CRDModel):
    """Which parts of the client certificate's issuer are passed."""

    country: bool | None = None
    """Country (C)."""
    province: bool | None = None
    """Province (ST)."""
    locality: bool | None = None
    """Locality (L)."""
    organization: bool | None = None
    """Organization (O)."""
    commonName: bool | None = None
    """Common name (CN)."""
    serialNumber: bool | None = None
    """Serial number."""
    domainComponent: bool | None = None
    """Domain components (DC)."""


class TLSClientCertificateInfo(CRDModel):
    """Client certificate details put in X-Forwarded-Tls-Client-Cert-Info."""

    notAfter: bool | None = None
    """The end of validity."""
    notBefore: bool | None = None
    """The start of validity."""
    sans: bool | None = None
    """The subject alternative names."""
    serialNumber: bool | None = None
    """The serial number."""
    subject: Pointer[TLSClientCertificateSubjectDNInfo] | None = None
    """Parts of the subject."""
    issuer: Pointer[TLSClientCertificateIssuerDNInfo] | None = None
    """Parts of the issuer."""


class PassTLSClientCert(CRDModel):
    """Passes the client certificate (or its details) in request headers."""

    pem: bool | None = None
    """Put the certificate in X-Forwarded-Tls-Client-Cert."""
    info: Pointer[TLSClientCertificateInfo] | None = None
    """Details put in X-Forwarded-Tls-Client-Cert-Info."""


class Retry(CRDModel):
    """Retries a request when the server cannot be reached (or answers given statuses)."""

    attempts: NonNegative | None = None
    """Number of attempts."""
    timeout: Duration | None = None
    """Total time allowed for the attempts (seconds, or a Go duration)."""
    initialInterval: Duration | None = None
    """First wait of the exponential backoff (default: retry at once)."""
    maxRequestBodyBytes: Pointer[Annotated[Int64, Field(ge=-1)]] | None = None
    """Largest request body kept for retries (default -1: no limit)."""
    status: list[StatusRange] | None = None
    """Status codes or ranges that are retried."""
    disableRetryOnNetworkError: bool | None = None
    """Do not retry when sending the request fails."""
    retryNonIdempotentMethod: bool | None = None
    """Retry non-idempotent methods (POST, PATCH, LOCK) too."""


class Compress(CRDModel):
    """Compresses responses (gzip, brotli, zstd)."""

    excludedContentTypes: list[str] | None = None
    """Content types not compressed (`application/grpc` never is)."""
    includedContentTypes: list[str] | None = None
    """Only these content types are compressed."""
    minResponseBodyBytes: Pointer[NonNegative] | None = None
    """Smallest body compressed (default 1024)."""
    encodings: list[str] | None = None
    """Encodings offered, in order of preference."""
    defaultEncoding: Pointer[str] | None = None
    """Encoding used when the request has no Accept-Encoding or a wildcard."""


class ContentType(CRDModel):
    """Sets Content-Type from the response body when the server did not."""

    autoDetect: Pointer[bool] | None = None
    """Deprecated: the middleware always detects."""


class GrpcWeb(CRDModel):
    """Translates gRPC-Web requests to gRPC."""

    allowOrigins: list[str] | None = None
    """Allowed origins (`*` for any)."""


class MiddlewareSpec(CRDModel):
    """An HTTP middleware: exactly one of its fields is set."""

    addPrefix: Pointer[AddPrefix] | None = None
    """Add a path prefix."""
    stripPrefix: Pointer[StripPrefix] | None = None
    """Remove path prefixes."""
    stripPrefixRegex: Pointer[StripPrefixRegex] | None = None
    """Remove a path prefix matched by a regular expression."""
    replacePath: Pointer[ReplacePath] | None = None
    """Replace the path."""
    replacePathRegex: Pointer[ReplacePathRegex] | None = None
    """Rewrite the path with a regular expression."""
    chain: Pointer[Chain] | None = None
    """Run other Middlewares."""
    ipWhiteList: Pointer[IPWhiteList] | None = None
    """Deprecated: use ipAllowList."""
    ipAllowList: Pointer[IPAllowList] | None = None
    """Accept only some client IPs."""
    headers: Pointer[Headers] | None = None
    """Set request and response headers."""
    encodedCharacters: Pointer[EncodedCharacters] | None = None
    """Allow percent-encoded characters in paths."""
    errors: Pointer[ErrorPage] | None = None
    """Serve error pages from another service."""
    rateLimit: Pointer[RateLimit] | None = None
    """Limit the request rate."""
    redirectRegex: Pointer[RedirectRegex] | None = None
    """Redirect by regular expression."""
    redirectScheme: Pointer[RedirectScheme] | None = None
    """Redirect to another scheme."""
    basicAuth: Pointer[BasicAuth] | None = None
    """Basic authentication."""
    digestAuth: Pointer[DigestAuth] | None = None
    """Digest authentication."""
    forwardAuth: Pointer[ForwardAuth] | None = None
    """Delegate authentication to a service."""
    inFlightReq: Pointer[InFlightReq] | None = None
    """Limit requests in progress."""
    buffering: Pointer[Buffering] | None = None
    """Buffer bodies."""
    circuitBreaker: Pointer[CircuitBreaker] | None = None
    """Circuit breaker."""
    compress: Pointer[Compress] | None = None
    """Compress responses."""
    passTLSClientCert: Pointer[PassTLSClientCert] | None = None
    """Pass the client certificate in headers."""
    retry: Pointer[Retry] | None = None
    """Retry failed requests."""
    contentType: Pointer[ContentType] | None = None
    """Detect the Content-Type."""
    grpcWeb: Pointer[GrpcWeb] | None = None
    """Accept gRPC-Web."""
    plugin: dict[str, JSON] | None = None
    """Plugin middlewares: plugin name to its free-form configuration."""


class TCPInFlightConn(CRDModel):
    """Limits the connections open at once per client IP."""

    amount: NonNegative64 | None = None
    """Connections allowed at once (more are closed)."""


class TCPIPWhiteList(CRDModel):
    """Deprecated name of ipAllowList."""

    sourceRange: list[str] | None = None
    """Allowed IPs or CIDR ranges."""


class TCPIPAllowList(CRDModel):
    """Accepts only connections from given IPs or ranges."""

    sourceRange: list[str] | None = None
    """Allowed IPs or CIDR ranges."""


class MiddlewareTCPSpec(CRDModel):
    """A TCP middleware: exactly one of its fields is set."""

    inFlightConn: Pointer[TCPInFlightConn] | None = None
    """Limit connections open at once."""
    ipWhiteList: Pointer[TCPIPWhiteList] | None = None
    """Deprecated: use ipAllowList."""
    ipAllowList: Pointer[TCPIPAllowList] | None = None
    """Accept only some client IPs."""
