"""The Go structs the CRD provider decodes (``traefikio/v1alpha1``) and writes (``pkg/config/dynamic``, ``pkg/tls``).

Described for :mod:`edgeway_kubernetes_crd.gotypes`. The CRD specs are derived
from the resource models (:mod:`edgeway_kubernetes_crd.resources`, which also
give the CRD schemas) by :func:`go_struct`; a ``dynamic`` struct that a CRD
embeds unchanged (``headers``, ``ipAllowList``...) is derived from its model
too, and serves both to decode the object and to write the result. Only the
``dynamic`` structs the provider writes and no CRD embeds are written here.
Every field is ``omitempty`` (true of all these structs). Fields Traefik keeps
for other providers (``json:"-"`` or set only by the Gateway/NGINX providers)
are left out: the CRD provider never fills them.
"""

from __future__ import annotations

import types
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

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
from edgeway_kubernetes_crd.resources import common, middlewares, routes, tls, transports
from edgeway_kubernetes_crd.resources.base import GoPointer

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


# -- the resource models as Go structs ---------------------------------------------------

#: Fields decoded as raw objects: the code that builds what they refer to reads them
#: field by field (:mod:`~edgeway_kubernetes_crd.fields`), with the errors Traefik gives
#: there. The routes' specs are decoded only to refuse what Go refuses; the route code
#: then reads the object itself (an ``IntOrString`` port keeps its number/name distinction).
_READ_ELSEWHERE: dict[tuple[type[BaseModel], str], Any] = {
    (routes.IngressRouteSpec, "parentRefs"): Slice(OBJECT),
    (routes.Route, "services"): Slice(OBJECT),
    (routes.Route, "middlewares"): Slice(OBJECT),
    (middlewares.ErrorPage, "service"): OBJECT,  # read by load_balancers.name_and_service
}
_SCALARS = {bool: BOOL, int: INT, str: STRING}


@cache
def go_struct(model: type[BaseModel]) -> Struct:
    """The Go struct a resource model mirrors: its fields' json names and Go types, in order."""
    return Struct(
        model.__name__,
        tuple(
            Field(
                info.alias or name,
                _READ_ELSEWHERE.get((model, name)) or go_type(info.annotation, info.metadata),
            )
            for name, info in model.model_fields.items()
        ),
    )


def go_type(annotation: Any, metadata: Any = ()) -> Any:
    """The Go type of a model field's annotation (and its ``Annotated`` metadata).

    ``X | None`` is ``X`` (``None`` is how the models leave a field out); a pointer
    is marked :data:`~edgeway_kubernetes_crd.resources.base.Pointer`; ``int | str``
    is an ``IntOrString``; a ``Literal`` of strings is a string.
    """
    if any(isinstance(m, GoPointer) for m in metadata):
        return Ptr(go_type(annotation))
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return go_type(args[0], annotation.__metadata__)
    if origin in (Union, types.UnionType):
        arms = [arm for arm in args if arm is not type(None)]
        if set(arms) == {int, str}:
            return INT_OR_STRING
        (arm,) = arms
        return go_type(arm)
    if origin is list:
        return Slice(go_type(args[0]))
    if origin is dict and args[0] is str:
        return Map(go_type(args[1]))
    if origin is Literal and all(isinstance(value, str) for value in args):
        return STRING
    if annotation is Any:
        return ANY
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return go_struct(annotation)
    raise TypeError(f"no Go type for {annotation!r}")


def _replace(struct: Struct, go_name: str, /, **fields: Any) -> Struct:
    """``struct`` as another Go struct: same fields in the same order, some of other types."""
    unknown = set(fields) - {f.json for f in struct.fields}
    if unknown:
        raise ValueError(f"{struct.name} has no fields {sorted(unknown)}")
    return Struct(go_name, tuple(Field(f.json, fields.get(f.json, f.type)) for f in struct.fields))


def _struct(go_name: str, /, **fields: Any) -> Struct:
    return Struct(go_name, tuple(Field(key, t) for key, t in fields.items()))


# -- traefikio/v1alpha1: the specs of the CRDs -------------------------------------------

INGRESS_ROUTE_SPEC = go_struct(routes.IngressRouteSpec)
INGRESS_ROUTE_TCP_SPEC = go_struct(routes.IngressRouteTCPSpec)
INGRESS_ROUTE_UDP_SPEC = go_struct(routes.IngressRouteUDPSpec)
MIDDLEWARE_SPEC = go_struct(middlewares.MiddlewareSpec)
MIDDLEWARE_TCP_SPEC = go_struct(middlewares.MiddlewareTCPSpec)
TLS_OPTION_SPEC = go_struct(tls.TLSOptionSpec)
TLS_STORE_SPEC = go_struct(tls.TLSStoreSpec)
SERVERS_TRANSPORT_SPEC = go_struct(transports.ServersTransportSpec)
SERVERS_TRANSPORT_TCP_SPEC = go_struct(transports.ServersTransportTCPSpec)

# -- pkg/config/dynamic and pkg/tls: what the provider writes -----------------------------

# Embedded unchanged in the CRDs.
SOURCE_CRITERION = go_struct(middlewares.SourceCriterion)
DOMAIN = go_struct(common.Domain)
GENERATED_CERT = go_struct(tls.GeneratedCert)
PROXY_PROTOCOL = go_struct(common.ProxyProtocol)
SAN = go_struct(transports.SAN)
SPIFFE = go_struct(transports.Spiffe)

# HTTP middlewares whose CRD form differs (Secrets, Services and Middlewares named,
# durations as IntOrString).
CHAIN = _struct("Chain", middlewares=STRINGS)
ERROR_PAGE = _replace(go_struct(middlewares.ErrorPage), "ErrorPage", service=STRING)
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
RATE_LIMIT = _replace(
    go_struct(middlewares.RateLimit),
    "RateLimit",
    average=INT,
    period=DURATION,
    burst=INT,
    redis=Ptr(REDIS),
)
_USERS = {"users": STRINGS, "usersFile": STRING}
BASIC_AUTH = _struct("BasicAuth", **_USERS, realm=STRING, removeHeader=BOOL, headerField=STRING)
DIGEST_AUTH = _struct("DigestAuth", **_USERS, removeHeader=BOOL, realm=STRING, headerField=STRING)
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
CIRCUIT_BREAKER = _replace(
    go_struct(middlewares.CircuitBreaker),
    "CircuitBreaker",
    checkPeriod=DURATION,
    fallbackDuration=DURATION,
    recoveryDuration=DURATION,
)
COMPRESS = _replace(
    go_struct(middlewares.Compress), "Compress", minResponseBodyBytes=INT, defaultEncoding=STRING
)
RETRY = _replace(go_struct(middlewares.Retry), "Retry", timeout=DURATION, initialInterval=DURATION)

#: ``dynamic.Middleware`` (the fields the CRD provider fills).
MIDDLEWARE = _replace(
    MIDDLEWARE_SPEC,
    "Middleware",
    chain=Ptr(CHAIN),
    errors=Ptr(ERROR_PAGE),
    rateLimit=Ptr(RATE_LIMIT),
    basicAuth=Ptr(BASIC_AUTH),
    digestAuth=Ptr(DIGEST_AUTH),
    forwardAuth=Ptr(FORWARD_AUTH),
    circuitBreaker=Ptr(CIRCUIT_BREAKER),
    compress=Ptr(COMPRESS),
    retry=Ptr(RETRY),
    plugin=Map(Map(ANY)),
)
TCP_MIDDLEWARE = _replace(MIDDLEWARE_TCP_SPEC, "TCPMiddleware")

# TLS options and stores, and the servers transports: files where the CRDs name Secrets.
CLIENT_AUTH = _struct("ClientAuth", caFiles=STRINGS, clientAuthType=STRING)
TLS_OPTIONS = _replace(TLS_OPTION_SPEC, "Options", clientAuth=CLIENT_AUTH)
CERTIFICATE = _struct("Certificate", certFile=STRING, keyFile=STRING)
TLS_STORE = _struct(
    "Store", defaultCertificate=Ptr(CERTIFICATE), defaultGeneratedCert=Ptr(GENERATED_CERT)
)
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
