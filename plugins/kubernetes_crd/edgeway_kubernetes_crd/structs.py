"""The Go structs the CRD provider decodes (``traefikio/v1alpha1``) and writes (``pkg/config/dynamic``, ``pkg/tls``).

Described for :mod:`edgeway_kubernetes_crd.gotypes`: field names are the
``json`` tags, in Go's order; every field here is ``omitempty`` (true of all
these structs). A ``dynamic`` struct that a CRD embeds unchanged (``headers``,
``ipAllowList``...) serves both to decode the object and to write the result.
Fields Traefik keeps for other providers (``json:"-"`` or set only by the
Gateway/NGINX providers) are left out: the CRD provider never fills them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from edgeway_kubernetes_crd.builder import Builder
from edgeway_kubernetes_crd.gotypes import (
    ANY,
    BOOL,
    DURATION,
    INT,
    INT_OR_STRING,
    OBJECT,
    STRING,
    Field,
    Map,
    Ptr,
    Slice,
    Struct,
    decode,
)
from edgeway_kubernetes_crd.references import InvalidSpec, should_process

STRINGS = Slice(STRING)


def decode_spec(b: Builder, obj: Mapping[str, Any], spec_type: Struct) -> dict[str, Any] | None:
    """``obj.spec`` decoded as a ``spec_type``; None (and ``InvalidSpec`` on ``obj``) when Go would refuse it."""
    try:
        return decode(spec_type, obj.get("spec"), spec_type.name)
    except InvalidSpec as exc:
        b.fail(obj, "InvalidSpec", str(exc))
        return None


def decoded_objects(
    b: Builder, kind: str, spec_type: Struct, *, process: bool = False, routes: bool = False
) -> Iterator[tuple[Mapping[str, Any], dict[str, Any]]]:
    """Every ``kind`` object with its decoded spec; one Go would refuse is failed and skipped.

    ``process``: each object is passed to ``b.process`` first (the kinds with a
    status). ``routes``: only the provider's ingress class, and processed.
    """
    for obj in b.view.list(kind):
        if routes and not should_process(b.options.ingressClass, obj):
            continue
        if process or routes:
            b.process(obj)
        spec = decode_spec(b, obj, spec_type)
        if spec is not None:
            yield obj, spec


def _struct(go_name: str, /, **fields: Any) -> Struct:
    return Struct(go_name, tuple(Field(key, t) for key, t in fields.items()))


# -- pkg/config/dynamic: HTTP middlewares ------------------------------------------------

IP_STRATEGY = _struct("IPStrategy", depth=INT, excludedIPs=STRINGS, ipv6Subnet=Ptr(INT))
SOURCE_CRITERION = _struct(
    "SourceCriterion", ipStrategy=Ptr(IP_STRATEGY), requestHeaderName=STRING, requestHost=BOOL
)
ADD_PREFIX = _struct("AddPrefix", prefix=STRING)
STRIP_PREFIX = _struct("StripPrefix", prefixes=STRINGS, forceSlash=Ptr(BOOL))
STRIP_PREFIX_REGEX = _struct("StripPrefixRegex", regex=STRINGS)
REPLACE_PATH = _struct("ReplacePath", path=STRING)
REPLACE_PATH_REGEX = _struct("ReplacePathRegex", regex=STRING, replacement=STRING)
CHAIN = _struct("Chain", middlewares=STRINGS)
IP_WHITE_LIST = _struct("IPWhiteList", sourceRange=STRINGS, ipStrategy=Ptr(IP_STRATEGY))
IP_ALLOW_LIST = _struct(
    "IPAllowList", sourceRange=STRINGS, ipStrategy=Ptr(IP_STRATEGY), rejectStatusCode=INT
)
HEADERS = _struct(
    "Headers",
    customRequestHeaders=Map(STRING),
    customResponseHeaders=Map(STRING),
    accessControlAllowCredentials=BOOL,
    accessControlAllowHeaders=STRINGS,
    accessControlAllowMethods=STRINGS,
    accessControlAllowOriginList=STRINGS,
    accessControlAllowOriginListRegex=STRINGS,
    accessControlExposeHeaders=STRINGS,
    accessControlMaxAge=Ptr(INT),
    addVaryHeader=BOOL,
    allowedHosts=STRINGS,
    hostsProxyHeaders=STRINGS,
    sslProxyHeaders=Map(STRING),
    stsSeconds=Ptr(INT),
    stsIncludeSubdomains=BOOL,
    stsPreload=BOOL,
    forceSTSHeader=BOOL,
    frameDeny=BOOL,
    customFrameOptionsValue=STRING,
    contentTypeNosniff=BOOL,
    browserXssFilter=BOOL,
    customBrowserXSSValue=STRING,
    contentSecurityPolicy=STRING,
    contentSecurityPolicyReportOnly=STRING,
    publicKey=STRING,
    referrerPolicy=STRING,
    permissionsPolicy=STRING,
    isDevelopment=BOOL,
    featurePolicy=Ptr(STRING),
    sslRedirect=Ptr(BOOL),
    sslTemporaryRedirect=Ptr(BOOL),
    sslHost=Ptr(STRING),
    sslForceHost=Ptr(BOOL),
)
ENCODED_CHARACTERS = _struct(
    "EncodedCharacters",
    allowEncodedSlash=BOOL,
    allowEncodedBackSlash=BOOL,
    allowEncodedNullCharacter=BOOL,
    allowEncodedSemicolon=BOOL,
    allowEncodedPercent=BOOL,
    allowEncodedQuestionMark=BOOL,
    allowEncodedHash=BOOL,
)
ERROR_PAGE = _struct(
    "ErrorPage",
    status=STRINGS,
    statusRewrites=Map(INT),
    service=STRING,
    query=STRING,
    errorRequestHeaders=STRINGS,
)
#: ``types.ClientTLS`` (Redis).
TYPES_CLIENT_TLS = _struct("ClientTLS", ca=STRING, cert=STRING, key=STRING, insecureSkipVerify=BOOL)
REDIS = _struct(
    "Redis",
    endpoints=STRINGS,
    tls=Ptr(TYPES_CLIENT_TLS),
    username=STRING,
    password=STRING,
    db=INT,
    poolSize=INT,
    minIdleConns=INT,
    maxActiveConns=INT,
    readTimeout=Ptr(DURATION),
    writeTimeout=Ptr(DURATION),
    dialTimeout=Ptr(DURATION),
)
RATE_LIMIT = _struct(
    "RateLimit",
    average=INT,
    period=DURATION,
    burst=INT,
    sourceCriterion=Ptr(SOURCE_CRITERION),
    redis=Ptr(REDIS),
)
REDIRECT_REGEX = _struct("RedirectRegex", regex=STRING, replacement=STRING, permanent=BOOL)
REDIRECT_SCHEME = _struct("RedirectScheme", scheme=STRING, port=STRING, permanent=BOOL)
BASIC_AUTH = _struct(
    "BasicAuth",
    users=STRINGS,
    usersFile=STRING,
    realm=STRING,
    removeHeader=BOOL,
    headerField=STRING,
)
DIGEST_AUTH = _struct(
    "DigestAuth",
    users=STRINGS,
    usersFile=STRING,
    removeHeader=BOOL,
    realm=STRING,
    headerField=STRING,
)
#: ``dynamic.ClientTLS`` (forwardAuth).
CLIENT_TLS = _struct(
    "ClientTLS", ca=STRING, cert=STRING, key=STRING, insecureSkipVerify=BOOL, caOptional=Ptr(BOOL)
)
FORWARD_AUTH = _struct(
    "ForwardAuth",
    address=STRING,
    tls=Ptr(CLIENT_TLS),
    trustForwardHeader=Ptr(BOOL),
    authResponseHeaders=STRINGS,
    authResponseHeadersRegex=STRING,
    authRequestHeaders=STRINGS,
    maxResponseBodySize=Ptr(INT),
    addAuthCookiesToResponse=STRINGS,
    headerField=STRING,
    forwardBody=BOOL,
    maxBodySize=Ptr(INT),
    preserveLocationHeader=BOOL,
    preserveRequestMethod=BOOL,
    authSigninURL=STRING,
)
IN_FLIGHT_REQ = _struct("InFlightReq", amount=INT, sourceCriterion=Ptr(SOURCE_CRITERION))
BUFFERING = _struct(
    "Buffering",
    maxRequestBodyBytes=INT,
    memRequestBodyBytes=INT,
    maxResponseBodyBytes=INT,
    memResponseBodyBytes=INT,
    retryExpression=STRING,
)
CIRCUIT_BREAKER = _struct(
    "CircuitBreaker",
    expression=STRING,
    checkPeriod=DURATION,
    fallbackDuration=DURATION,
    recoveryDuration=DURATION,
    responseCode=INT,
)
COMPRESS = _struct(
    "Compress",
    excludedContentTypes=STRINGS,
    includedContentTypes=STRINGS,
    minResponseBodyBytes=INT,
    encodings=STRINGS,
    defaultEncoding=STRING,
)
_DN_FIELDS = ("country", "province", "locality", "organization")
SUBJECT_DN_INFO = _struct(
    "TLSClientCertificateSubjectDNInfo",
    **dict.fromkeys(_DN_FIELDS, BOOL),
    organizationalUnit=BOOL,
    commonName=BOOL,
    serialNumber=BOOL,
    domainComponent=BOOL,
)
ISSUER_DN_INFO = _struct(
    "TLSClientCertificateIssuerDNInfo",
    **dict.fromkeys(_DN_FIELDS, BOOL),
    commonName=BOOL,
    serialNumber=BOOL,
    domainComponent=BOOL,
)
CLIENT_CERT_INFO = _struct(
    "TLSClientCertificateInfo",
    notAfter=BOOL,
    notBefore=BOOL,
    sans=BOOL,
    serialNumber=BOOL,
    subject=Ptr(SUBJECT_DN_INFO),
    issuer=Ptr(ISSUER_DN_INFO),
)
PASS_TLS_CLIENT_CERT = _struct("PassTLSClientCert", pem=BOOL, info=Ptr(CLIENT_CERT_INFO))
RETRY = _struct(
    "Retry",
    attempts=INT,
    timeout=DURATION,
    initialInterval=DURATION,
    maxRequestBodyBytes=Ptr(INT),
    status=STRINGS,
    disableRetryOnNetworkError=BOOL,
    retryNonIdempotentMethod=BOOL,
)
CONTENT_TYPE = _struct("ContentType", autoDetect=Ptr(BOOL))
GRPC_WEB = _struct("GrpcWeb", allowOrigins=STRINGS)

#: ``dynamic.Middleware`` (the fields the CRD provider fills).
MIDDLEWARE = _struct(
    "Middleware",
    addPrefix=Ptr(ADD_PREFIX),
    stripPrefix=Ptr(STRIP_PREFIX),
    stripPrefixRegex=Ptr(STRIP_PREFIX_REGEX),
    replacePath=Ptr(REPLACE_PATH),
    replacePathRegex=Ptr(REPLACE_PATH_REGEX),
    chain=Ptr(CHAIN),
    ipWhiteList=Ptr(IP_WHITE_LIST),
    ipAllowList=Ptr(IP_ALLOW_LIST),
    headers=Ptr(HEADERS),
    encodedCharacters=Ptr(ENCODED_CHARACTERS),
    errors=Ptr(ERROR_PAGE),
    rateLimit=Ptr(RATE_LIMIT),
    redirectRegex=Ptr(REDIRECT_REGEX),
    redirectScheme=Ptr(REDIRECT_SCHEME),
    basicAuth=Ptr(BASIC_AUTH),
    digestAuth=Ptr(DIGEST_AUTH),
    forwardAuth=Ptr(FORWARD_AUTH),
    inFlightReq=Ptr(IN_FLIGHT_REQ),
    buffering=Ptr(BUFFERING),
    circuitBreaker=Ptr(CIRCUIT_BREAKER),
    compress=Ptr(COMPRESS),
    passTLSClientCert=Ptr(PASS_TLS_CLIENT_CERT),
    retry=Ptr(RETRY),
    contentType=Ptr(CONTENT_TYPE),
    grpcWeb=Ptr(GRPC_WEB),
    plugin=Map(Map(ANY)),
)

# -- pkg/config/dynamic: TCP middlewares -------------------------------------------------

TCP_IN_FLIGHT_CONN = _struct("TCPInFlightConn", amount=INT)
TCP_IP_WHITE_LIST = _struct("TCPIPWhiteList", sourceRange=STRINGS)
TCP_IP_ALLOW_LIST = _struct("TCPIPAllowList", sourceRange=STRINGS)
TCP_MIDDLEWARE = _struct(
    "TCPMiddleware",
    inFlightConn=Ptr(TCP_IN_FLIGHT_CONN),
    ipWhiteList=Ptr(TCP_IP_WHITE_LIST),
    ipAllowList=Ptr(TCP_IP_ALLOW_LIST),
)

# -- pkg/tls and the servers transports ---------------------------------------------------

CERTIFICATE = _struct("Certificate", certFile=STRING, keyFile=STRING)
#: ``tls.CertAndStores`` (its ``Certificate`` is embedded, so inlined).
CERT_AND_STORES = _struct("CertAndStores", certFile=STRING, keyFile=STRING, stores=STRINGS)
CLIENT_AUTH = _struct("ClientAuth", caFiles=STRINGS, clientAuthType=STRING)
TLS_OPTIONS = _struct(
    "Options",
    minVersion=STRING,
    maxVersion=STRING,
    cipherSuites=STRINGS,
    curvePreferences=STRINGS,
    clientAuth=CLIENT_AUTH,
    sniStrict=BOOL,
    alpnProtocols=STRINGS,
    disableSessionTickets=BOOL,
    preferServerCipherSuites=Ptr(BOOL),
)
DOMAIN = _struct("Domain", main=STRING, sans=STRINGS)
GENERATED_CERT = _struct("GeneratedCert", resolver=STRING, domain=Ptr(DOMAIN))
TLS_STORE = _struct(
    "Store", defaultCertificate=Ptr(CERTIFICATE), defaultGeneratedCert=Ptr(GENERATED_CERT)
)
SAN = _struct("SAN", type=STRING, value=STRING)
SPIFFE = _struct("Spiffe", ids=STRINGS, trustDomain=STRING)
FORWARDING_TIMEOUTS = _struct(
    "ForwardingTimeouts",
    dialTimeout=DURATION,
    responseHeaderTimeout=DURATION,
    idleConnTimeout=DURATION,
    readIdleTimeout=DURATION,
    pingTimeout=DURATION,
)
SERVERS_TRANSPORT = _struct(
    "ServersTransport",
    serverName=STRING,
    insecureSkipVerify=BOOL,
    rootCAs=STRINGS,
    certificates=Slice(CERTIFICATE),
    cipherSuites=STRINGS,
    minVersion=STRING,
    maxVersion=STRING,
    maxIdleConnsPerHost=INT,
    forwardingTimeouts=Ptr(FORWARDING_TIMEOUTS),
    disableHTTP2=BOOL,
    peerCertURI=STRING,
    peerCertSANs=Slice(SAN),
    spiffe=Ptr(SPIFFE),
)
PROXY_PROTOCOL = _struct("ProxyProtocol", version=INT)
TLS_CLIENT_CONFIG = _struct(
    "TLSClientConfig",
    serverName=STRING,
    insecureSkipVerify=BOOL,
    rootCAs=STRINGS,
    certificates=Slice(CERTIFICATE),
    peerCertURI=STRING,
    peerCertSANs=Slice(SAN),
    spiffe=Ptr(SPIFFE),
)
TCP_SERVERS_TRANSPORT = _struct(
    "TCPServersTransport",
    dialKeepAlive=DURATION,
    dialTimeout=DURATION,
    proxyProtocol=Ptr(PROXY_PROTOCOL),
    terminationDelay=DURATION,
    tls=Ptr(TLS_CLIENT_CONFIG),
)

# -- traefikio/v1alpha1: the specs of the CRDs -------------------------------------------

# The routes' specs are decoded only to refuse what Go refuses; the route code then
# reads the object itself (an ``IntOrString`` port keeps its number/name distinction).
# Service references of an IngressRoute are objects here: their fields are read,
# with the errors Traefik gives, as each service is built.
OBJECT_REFERENCE = _struct("ObjectReference", name=STRING, namespace=STRING)
ROUTER_OBSERVABILITY = _struct(
    "RouterObservabilityConfig",
    accessLogs=Ptr(BOOL),
    metrics=Ptr(BOOL),
    tracing=Ptr(BOOL),
    traceVerbosity=STRING,
)
ROUTE = _struct(
    "Route",
    match=STRING,
    kind=STRING,
    priority=INT,
    syntax=STRING,
    services=Slice(OBJECT),
    middlewares=Slice(OBJECT),
    observability=Ptr(ROUTER_OBSERVABILITY),
)
CRD_TLS = _struct(
    "TLS",
    secretName=STRING,
    options=Ptr(OBJECT_REFERENCE),
    certResolver=STRING,
    domains=Slice(DOMAIN),
)
INGRESS_ROUTE_SPEC = _struct(
    "IngressRouteSpec",
    entryPoints=STRINGS,
    routes=Slice(ROUTE),
    tls=Ptr(CRD_TLS),
    parentRefs=Slice(OBJECT),
)
SERVICE_TCP = _struct(
    "ServiceTCP",
    name=STRING,
    namespace=STRING,
    port=INT_OR_STRING,
    weight=Ptr(INT),
    terminationDelay=Ptr(INT),
    proxyProtocol=Ptr(PROXY_PROTOCOL),
    serversTransport=STRING,
    tls=BOOL,
    nativeLB=Ptr(BOOL),
    nodePortLB=BOOL,
)
ROUTE_TCP = _struct(
    "RouteTCP",
    match=STRING,
    priority=INT,
    syntax=STRING,
    services=Slice(SERVICE_TCP),
    middlewares=Slice(OBJECT_REFERENCE),
)
TLS_TCP = _struct(
    "TLSTCP",
    secretName=STRING,
    passthrough=BOOL,
    options=Ptr(OBJECT_REFERENCE),
    store=Ptr(OBJECT_REFERENCE),
    certResolver=STRING,
    domains=Slice(DOMAIN),
)
INGRESS_ROUTE_TCP_SPEC = _struct(
    "IngressRouteTCPSpec",
    ingressClassName=Ptr(STRING),
    entryPoints=STRINGS,
    routes=Slice(ROUTE_TCP),
    tls=Ptr(TLS_TCP),
)
SERVICE_UDP = _struct(
    "ServiceUDP",
    name=STRING,
    namespace=STRING,
    port=INT_OR_STRING,
    weight=Ptr(INT),
    nativeLB=Ptr(BOOL),
    nodePortLB=BOOL,
)
ROUTE_UDP = _struct("RouteUDP", services=Slice(SERVICE_UDP))
INGRESS_ROUTE_UDP_SPEC = _struct(
    "IngressRouteUDPSpec",
    ingressClassName=Ptr(STRING),
    entryPoints=STRINGS,
    routes=Slice(ROUTE_UDP),
)

CRD_BASIC_AUTH = _struct(
    "BasicAuth", secret=STRING, realm=STRING, removeHeader=BOOL, headerField=STRING
)
CRD_DIGEST_AUTH = _struct(
    "DigestAuth", secret=STRING, removeHeader=BOOL, realm=STRING, headerField=STRING
)
CRD_CLIENT_TLS_FIELDS = {"caSecret": STRING, "certSecret": STRING, "insecureSkipVerify": BOOL}
CRD_CLIENT_TLS = _struct("ClientTLS", **CRD_CLIENT_TLS_FIELDS)
CRD_CLIENT_TLS_CA_OPTIONAL = _struct(
    "ClientTLSWithCAOptional", **CRD_CLIENT_TLS_FIELDS, caOptional=Ptr(BOOL)
)
CRD_FORWARD_AUTH = _struct(
    "ForwardAuth",
    address=STRING,
    trustForwardHeader=Ptr(BOOL),
    authResponseHeaders=STRINGS,
    authResponseHeadersRegex=STRING,
    authRequestHeaders=STRINGS,
    tls=Ptr(CRD_CLIENT_TLS_CA_OPTIONAL),
    maxResponseBodySize=Ptr(INT),
    addAuthCookiesToResponse=STRINGS,
    headerField=STRING,
    forwardBody=BOOL,
    maxBodySize=Ptr(INT),
    preserveLocationHeader=BOOL,
    preserveRequestMethod=BOOL,
    authSigninURL=STRING,
)
CRD_ERROR_PAGE = _struct(
    "ErrorPage",
    status=STRINGS,
    statusRewrites=Map(INT),
    service=OBJECT,  # a Service (LoadBalancerSpec), read by load_balancers.name_and_service
    query=STRING,
    errorRequestHeaders=STRINGS,
)
CRD_REDIS = _struct(
    "Redis",
    endpoints=STRINGS,
    tls=Ptr(CRD_CLIENT_TLS),
    secret=STRING,
    db=INT,
    poolSize=INT,
    minIdleConns=INT,
    maxActiveConns=INT,
    readTimeout=Ptr(INT_OR_STRING),
    writeTimeout=Ptr(INT_OR_STRING),
    dialTimeout=Ptr(INT_OR_STRING),
)
CRD_RATE_LIMIT = _struct(
    "RateLimit",
    average=Ptr(INT),
    period=Ptr(INT_OR_STRING),
    burst=Ptr(INT),
    sourceCriterion=Ptr(SOURCE_CRITERION),
    redis=Ptr(CRD_REDIS),
)
CRD_RETRY = _struct(
    "Retry",
    attempts=INT,
    timeout=INT_OR_STRING,
    initialInterval=INT_OR_STRING,
    maxRequestBodyBytes=Ptr(INT),
    status=STRINGS,
    disableRetryOnNetworkError=BOOL,
    retryNonIdempotentMethod=BOOL,
)
CRD_CIRCUIT_BREAKER = _struct(
    "CircuitBreaker",
    expression=STRING,
    checkPeriod=Ptr(INT_OR_STRING),
    fallbackDuration=Ptr(INT_OR_STRING),
    recoveryDuration=Ptr(INT_OR_STRING),
    responseCode=INT,
)
MIDDLEWARE_REF = _struct("MiddlewareRef", name=STRING, namespace=STRING)
CRD_CHAIN = _struct("Chain", middlewares=Slice(MIDDLEWARE_REF))
CRD_COMPRESS = _struct(
    "Compress",
    excludedContentTypes=STRINGS,
    includedContentTypes=STRINGS,
    minResponseBodyBytes=Ptr(INT),
    encodings=STRINGS,
    defaultEncoding=Ptr(STRING),
)
MIDDLEWARE_SPEC = _struct(
    "MiddlewareSpec",
    addPrefix=Ptr(ADD_PREFIX),
    stripPrefix=Ptr(STRIP_PREFIX),
    stripPrefixRegex=Ptr(STRIP_PREFIX_REGEX),
    replacePath=Ptr(REPLACE_PATH),
    replacePathRegex=Ptr(REPLACE_PATH_REGEX),
    chain=Ptr(CRD_CHAIN),
    ipWhiteList=Ptr(IP_WHITE_LIST),
    ipAllowList=Ptr(IP_ALLOW_LIST),
    headers=Ptr(HEADERS),
    encodedCharacters=Ptr(ENCODED_CHARACTERS),
    errors=Ptr(CRD_ERROR_PAGE),
    rateLimit=Ptr(CRD_RATE_LIMIT),
    redirectRegex=Ptr(REDIRECT_REGEX),
    redirectScheme=Ptr(REDIRECT_SCHEME),
    basicAuth=Ptr(CRD_BASIC_AUTH),
    digestAuth=Ptr(CRD_DIGEST_AUTH),
    forwardAuth=Ptr(CRD_FORWARD_AUTH),
    inFlightReq=Ptr(IN_FLIGHT_REQ),
    buffering=Ptr(BUFFERING),
    circuitBreaker=Ptr(CRD_CIRCUIT_BREAKER),
    compress=Ptr(CRD_COMPRESS),
    passTLSClientCert=Ptr(PASS_TLS_CLIENT_CERT),
    retry=Ptr(CRD_RETRY),
    contentType=Ptr(CONTENT_TYPE),
    grpcWeb=Ptr(GRPC_WEB),
    plugin=Map(ANY),
)
MIDDLEWARE_TCP_SPEC = _struct(
    "MiddlewareTCPSpec",
    inFlightConn=Ptr(TCP_IN_FLIGHT_CONN),
    ipWhiteList=Ptr(TCP_IP_WHITE_LIST),
    ipAllowList=Ptr(TCP_IP_ALLOW_LIST),
)
CRD_CLIENT_AUTH = _struct("ClientAuth", secretNames=STRINGS, clientAuthType=STRING)
TLS_OPTION_SPEC = _struct(
    "TLSOptionSpec",
    minVersion=STRING,
    maxVersion=STRING,
    cipherSuites=STRINGS,
    curvePreferences=STRINGS,
    clientAuth=CRD_CLIENT_AUTH,
    sniStrict=BOOL,
    alpnProtocols=STRINGS,
    disableSessionTickets=BOOL,
    preferServerCipherSuites=Ptr(BOOL),
)
CRD_CERTIFICATE = _struct("Certificate", secretName=STRING)
TLS_STORE_SPEC = _struct(
    "TLSStoreSpec",
    defaultCertificate=Ptr(CRD_CERTIFICATE),
    defaultGeneratedCert=Ptr(GENERATED_CERT),
    certificates=Slice(CRD_CERTIFICATE),
)
ROOT_CA = _struct("RootCA", secret=Ptr(STRING), configMap=Ptr(STRING))
CRD_FORWARDING_TIMEOUTS = _struct(
    "ForwardingTimeouts",
    dialTimeout=Ptr(INT_OR_STRING),
    responseHeaderTimeout=Ptr(INT_OR_STRING),
    idleConnTimeout=Ptr(INT_OR_STRING),
    readIdleTimeout=Ptr(INT_OR_STRING),
    pingTimeout=Ptr(INT_OR_STRING),
)
SERVERS_TRANSPORT_SPEC = _struct(
    "ServersTransportSpec",
    serverName=STRING,
    insecureSkipVerify=BOOL,
    rootCAs=Slice(ROOT_CA),
    rootCAsSecrets=STRINGS,
    certificatesSecrets=STRINGS,
    cipherSuites=STRINGS,
    minVersion=STRING,
    maxVersion=STRING,
    maxIdleConnsPerHost=INT,
    forwardingTimeouts=Ptr(CRD_FORWARDING_TIMEOUTS),
    disableHTTP2=BOOL,
    peerCertURI=STRING,
    peerCertSANs=Slice(SAN),
    spiffe=Ptr(SPIFFE),
)
CRD_TLS_CLIENT_CONFIG = _struct(
    "TLSClientConfig",
    serverName=STRING,
    insecureSkipVerify=BOOL,
    rootCAs=Slice(ROOT_CA),
    rootCAsSecrets=STRINGS,
    certificatesSecrets=STRINGS,
    peerCertURI=STRING,
    peerCertSANs=Slice(SAN),
    spiffe=Ptr(SPIFFE),
)
SERVERS_TRANSPORT_TCP_SPEC = _struct(
    "ServersTransportTCPSpec",
    dialTimeout=Ptr(INT_OR_STRING),
    dialKeepAlive=Ptr(INT_OR_STRING),
    proxyProtocol=Ptr(PROXY_PROTOCOL),
    terminationDelay=Ptr(INT_OR_STRING),
    tls=Ptr(CRD_TLS_CLIENT_CONFIG),
)
