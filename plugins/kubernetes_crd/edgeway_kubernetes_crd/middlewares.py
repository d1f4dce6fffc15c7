"""Middlewares and MiddlewareTCPs: the middleware loops of ``loadConfigurationFromCRD``.

Each Middleware's spec is decoded as Traefik's client decodes it (a value of
the wrong type fails the whole Middleware, ``InvalidSpec``); the fields
Traefik copies unchanged (``headers``, ``ipAllowList``, ``stripPrefix``...)
come out as Traefik writes them, and the others go through the
``create*Middleware`` functions of ``kubernetes.go``, in Traefik's order:
basicAuth, digestAuth, forwardAuth, errors, plugin, rateLimit, retry,
circuitBreaker, chain. The first that fails skips the Middleware, with
Traefik's message (``Error while reading <what> middleware: <why>``); an
errors middleware's service is kept even when a later step fails, as in
Traefik.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from edgeway_kubernetes import normalize
from edgeway_kubernetes.objects import name, namespace

from edgeway_kubernetes_crd import fields, structs
from edgeway_kubernetes_crd.builder import Builder
from edgeway_kubernetes_crd.gotypes import (
    MILLISECOND,
    SECOND,
    encode,
    json_kind,
    zero,
)
from edgeway_kubernetes_crd.load_balancers import make_middleware_keys, name_and_service
from edgeway_kubernetes_crd.references import (
    InvalidSpec,
    ReferenceError,
    make_id,
)
from edgeway_kubernetes_crd.secrets import (
    SECRET_TYPE_BASIC_AUTH,
    SECRET_URN_PREFIX,
    get_secret_value,
    load_auth_credentials,
    load_auth_tls_secret,
    load_basic_auth_credentials,
    load_ca_secret,
    load_redis_credentials,
    read_secret,
)

__all__ = ["build_middlewares", "build_tcp_middlewares"]

Obj = Mapping[str, Any]
Spec = dict[str, Any]

#: ``dynamic.RetryDefaultMaxRequestBodyBytes`` (2 MiB).
RETRY_DEFAULT_MAX_REQUEST_BODY_BYTES = 2 * 1024 * 1024
#: ``dynamic.ForwardAuthDefaultMaxBodySize`` (no limit).
FORWARD_AUTH_DEFAULT_MAX_BODY_SIZE = -1

#: MiddlewareSpec fields Traefik copies into ``dynamic.Middleware`` unchanged.
PASS_THROUGH = (
    "addPrefix",
    "stripPrefix",
    "stripPrefixRegex",
    "replacePath",
    "replacePathRegex",
    "ipWhiteList",
    "ipAllowList",
    "headers",
    "encodedCharacters",
    "redirectRegex",
    "redirectScheme",
    "inFlightReq",
    "passTLSClientCert",
    "contentType",
    "grpcWeb",
)


#: ForwardAuth fields copied from the CRD as they are.
FORWARD_AUTH_COPIED = (
    "address",
    "trustForwardHeader",
    "authResponseHeaders",
    "authResponseHeadersRegex",
    "authRequestHeaders",
    "addAuthCookiesToResponse",
    "headerField",
    "forwardBody",
    "preserveLocationHeader",
    "preserveRequestMethod",
    "authSigninURL",
)


def _wrap(prefix: str, exc: ReferenceError) -> ReferenceError:
    """Go's ``fmt.Errorf(prefix + ": %w", err)``, keeping the reason."""
    return ReferenceError(f"{prefix}: {exc}", exc.reason)


def build_middlewares(b: Builder) -> None:
    """The Middleware loop: ``http.middlewares[normalize(ns-name)]``."""
    for middleware, spec in structs.decoded_objects(
        b, "Middleware", structs.MIDDLEWARE_SPEC, process=True
    ):
        ns = namespace(middleware)
        mid = normalize(make_id(ns, name(middleware)))
        built = _build_middleware(b, middleware, ns, mid, spec)
        if built is not None:
            b.http["middlewares"][mid] = encode(structs.MIDDLEWARE, built)


def _build_middleware(b: Builder, middleware: Obj, ns: str, mid: str, spec: Spec) -> Spec | None:
    """One ``dynamic.Middleware`` (decoded form), or None when a ``create*Middleware`` fails."""
    out = {key: spec[key] for key in PASS_THROUGH}
    steps: list[tuple[str, str, Callable[[], Any]]] = [
        ("basicAuth", "basic auth", lambda: create_basic_auth(b, ns, spec["basicAuth"])),
        ("digestAuth", "digest auth", lambda: create_digest_auth(b, ns, spec["digestAuth"])),
        ("forwardAuth", "forward auth", lambda: create_forward_auth(b, ns, spec["forwardAuth"])),
        ("errors", "error page", lambda: create_error_page(b, ns, mid, spec["errors"])),
        ("plugin", "plugins", lambda: create_plugin(b, ns, spec["plugin"])),
        ("rateLimit", "rateLimit", lambda: create_rate_limit(b, ns, spec["rateLimit"])),
        ("retry", "retry", lambda: create_retry(spec["retry"])),
        (
            "circuitBreaker",
            "circuit breaker",
            lambda: create_circuit_breaker(spec["circuitBreaker"]),
        ),
        ("chain", "chain", lambda: create_chain(b, ns, spec["chain"])),
    ]
    for key, what, create in steps:
        try:
            out[key] = create()
        except ReferenceError as exc:
            b.fail(middleware, exc.reason, f"Error while reading {what} middleware: {exc}")
            return None
    out["buffering"] = create_buffering(spec["buffering"])
    out["compress"] = create_compress(spec["compress"])
    return out


def build_tcp_middlewares(b: Builder) -> None:
    """The MiddlewareTCP loop: ``tcp.middlewares[normalize(ns-name)]`` (inFlightConn, ipWhiteList, ipAllowList)."""
    for middleware, spec in structs.decoded_objects(
        b, "MiddlewareTCP", structs.MIDDLEWARE_TCP_SPEC, process=True
    ):
        mid = normalize(make_id(namespace(middleware), name(middleware)))
        b.tcp["middlewares"][mid] = encode(structs.TCP_MIDDLEWARE, spec)


# -- authentication ---------------------------------------------------------------------


def _auth_secret(b: Builder, ns: str, auth: Spec) -> tuple[Obj, dict[str, bytes]]:
    if not auth["secret"]:
        raise InvalidSpec("auth secret must be set")
    secret_name = auth["secret"]
    return read_secret(b.view, ns, secret_name, f"secret '{ns}/{secret_name}' not found")


def create_basic_auth(b: Builder, ns: str, auth: Spec | None) -> Spec | None:
    """``createBasicAuthMiddleware``: users from a basic-auth Secret (hashed) or an htpasswd Secret."""
    return _create_auth(b, ns, auth, "basic", _basic_auth_users)


def create_digest_auth(b: Builder, ns: str, auth: Spec | None) -> Spec | None:
    """``createDigestAuthMiddleware``: users from an htdigest Secret."""
    return _create_auth(b, ns, auth, "digest", load_auth_credentials)


def _basic_auth_users(secret: Obj, data: dict[str, bytes]) -> list[str]:
    if secret.get("type") == SECRET_TYPE_BASIC_AUTH:
        return load_basic_auth_credentials(secret, data)
    return load_auth_credentials(secret, data)


def _create_auth(
    b: Builder,
    ns: str,
    auth: Spec | None,
    what: str,
    load_users: Callable[[Obj, dict[str, bytes]], list[str]],
) -> Spec | None:
    """A basic or digest auth: the users of its Secret, the CRD's realm, removeHeader and headerField."""
    if auth is None:
        return None
    secret, data = _auth_secret(b, ns, auth)
    try:
        users = load_users(secret, data)
    except ReferenceError as exc:
        raise _wrap(f"failed to load {what} auth credentials", exc) from None
    return {
        "users": users,
        "realm": auth["realm"],
        "removeHeader": auth["removeHeader"],
        "headerField": auth["headerField"],
    }


def create_forward_auth(b: Builder, ns: str, auth: Spec | None) -> Spec | None:
    """``createForwardAuthMiddleware``: the address is required; TLS CA and client certificate from Secrets."""
    if auth is None:
        return None
    if not auth["address"]:
        raise InvalidSpec("forward authentication requires an address")
    out = {key: auth[key] for key in FORWARD_AUTH_COPIED}
    out["maxBodySize"] = FORWARD_AUTH_DEFAULT_MAX_BODY_SIZE
    for key in ("maxResponseBodySize", "maxBodySize"):
        if auth[key] is not None:
            out[key] = auth[key]
    tls = auth["tls"]
    if tls is not None:
        out["tls"] = {"insecureSkipVerify": tls["insecureSkipVerify"]}
        _client_tls(b, ns, tls, out["tls"])
        out["tls"]["caOptional"] = tls["caOptional"]
    return out


def _client_tls(b: Builder, ns: str, tls: Spec, out: Spec) -> None:
    """The CA (``caSecret``) and client certificate (``certSecret``) of forwardAuth's and Redis' TLS."""
    if tls["caSecret"]:
        try:
            out["ca"] = load_ca_secret(b.view, ns, tls["caSecret"])
        except ReferenceError as exc:
            raise _wrap("failed to load auth ca secret", exc) from None
    if tls["certSecret"]:
        try:
            out["cert"], out["key"] = load_auth_tls_secret(b.view, ns, tls["certSecret"])
        except ReferenceError as exc:
            raise _wrap("failed to load auth secret", exc) from None


# -- errors, plugin, chain --------------------------------------------------------------


def create_error_page(b: Builder, ns: str, mid: str, errors: Spec | None) -> Spec | None:
    """``createErrorPageMiddleware``: the page's service is a Kubernetes Service's load-balancer
    (stored as ``<id>-errorpage-service``) or a reference by name (a TraefikService, ``name@provider``)."""
    if errors is None:
        return None
    service_name, service = name_and_service(b, ns, errors["service"] or {})
    page = {
        key: errors[key] for key in ("status", "statusRewrites", "query", "errorRequestHeaders")
    }
    if service is not None:
        service_name = mid + "-errorpage-service"
        b.http["services"][service_name] = service
    page["service"] = service_name
    return page


def create_plugin(b: Builder, ns: str, plugins: dict[str, Any] | None) -> dict[str, Any] | None:
    """``createPluginMiddleware``: each plugin's configuration (an object), ``urn:k8s:secret:`` values resolved."""
    if plugins is None:
        return None
    out: dict[str, Any] = {}
    for plugin_name, conf in plugins.items():
        if conf is not None and not isinstance(conf, Mapping):
            raise ReferenceError(
                f"json: cannot unmarshal {json_kind(conf)} into Go value of type dynamic.PluginConf",
                "InvalidSpec",
            )
        out[plugin_name] = None if conf is None else _load_secret_keys(b, ns, conf)
    return out


def _load_secret_keys(b: Builder, ns: str, value: Any) -> Any:
    """``loadSecretKeys``: every string ``urn:k8s:secret:<name>:<key>``, however deep, replaced by the Secret's value."""
    if isinstance(value, str):
        return get_secret_value(b.view, ns, value) if value.startswith(SECRET_URN_PREFIX) else value
    if isinstance(value, list | tuple):
        return [_load_secret_keys(b, ns, item) for item in value]
    if isinstance(value, Mapping):
        return {key: _load_secret_keys(b, ns, item) for key, item in value.items()}
    return value


def create_chain(b: Builder, ns: str, chain: Spec | None) -> Spec | None:
    """``createChainMiddleware``: each reference resolved (cross-namespace and cross-provider rules)."""
    if chain is None:
        return None
    refs = make_middleware_keys(b, ns, chain["middlewares"] or [])
    return {"middlewares": refs or None}


# -- rate limit, retry, circuit breaker, compress, buffering -----------------------------


def create_rate_limit(b: Builder, ns: str, rate_limit: Spec | None) -> Spec | None:
    """``createRateLimitMiddleware``: burst 1 and period 1s by default; Redis with its own defaults and Secrets."""
    if rate_limit is None:
        return None
    out = zero(structs.RATE_LIMIT) | {"burst": 1, "period": SECOND}
    if rate_limit["average"] is not None:
        out["average"] = rate_limit["average"]
    if rate_limit["burst"] is not None:
        out["burst"] = rate_limit["burst"]
    if rate_limit["period"] is not None:
        out["period"] = fields.duration(rate_limit["period"])
    if rate_limit["sourceCriterion"] is not None:
        out["sourceCriterion"] = rate_limit["sourceCriterion"]
    if rate_limit["redis"] is not None:
        out["redis"] = _redis(b, ns, rate_limit["redis"])
    return out


def _redis(b: Builder, ns: str, redis: Spec) -> Spec:
    out = zero(structs.REDIS)
    for key in ("db", "poolSize", "minIdleConns", "maxActiveConns"):
        out[key] = redis[key]
    # Redis.SetDefaults
    out["endpoints"] = ["localhost:6379"]
    out["readTimeout"] = 3 * SECOND
    out["writeTimeout"] = 3 * SECOND
    out["dialTimeout"] = 5 * SECOND
    if redis["endpoints"]:
        out["endpoints"] = redis["endpoints"]
    tls = redis["tls"]
    if tls is not None:
        out["tls"] = {"insecureSkipVerify": tls["insecureSkipVerify"]}
        _client_tls(b, ns, tls, out["tls"])
    for key in ("dialTimeout", "readTimeout", "writeTimeout"):
        if redis[key] is not None:
            out[key] = fields.duration(redis[key])
    if redis["secret"]:
        out["username"], out["password"] = load_redis_credentials(b.view, ns, redis["secret"])
    return out


def create_retry(retry: Spec | None) -> Spec | None:
    """``createRetryMiddleware``: maxRequestBodyBytes 2 MiB by default; the intervals are always parsed."""
    if retry is None:
        return None
    out = {
        key: retry[key]
        for key in ("attempts", "status", "disableRetryOnNetworkError", "retryNonIdempotentMethod")
    }
    out["maxRequestBodyBytes"] = RETRY_DEFAULT_MAX_REQUEST_BODY_BYTES
    out["initialInterval"] = fields.duration(retry["initialInterval"])
    out["timeout"] = fields.duration(retry["timeout"])
    if retry["maxRequestBodyBytes"] is not None:
        out["maxRequestBodyBytes"] = retry["maxRequestBodyBytes"]
    return out


def create_circuit_breaker(circuit_breaker: Spec | None) -> Spec | None:
    """``createCircuitBreakerMiddleware``: CircuitBreaker.SetDefaults (100ms, 10s, 10s, 503), then the spec's values."""
    if circuit_breaker is None:
        return None
    out = {
        "expression": circuit_breaker["expression"],
        "checkPeriod": 100 * MILLISECOND,
        "fallbackDuration": 10 * SECOND,
        "recoveryDuration": 10 * SECOND,
        "responseCode": 503,
    }
    for key in ("checkPeriod", "fallbackDuration", "recoveryDuration"):
        if circuit_breaker[key] is not None:
            out[key] = fields.duration(circuit_breaker[key])
    if circuit_breaker["responseCode"]:
        out["responseCode"] = circuit_breaker["responseCode"]
    return out


def create_compress(compress: Spec | None) -> Spec | None:
    """``createCompressMiddleware``: encodings gzip, br, zstd by default; every set field overrides."""
    if compress is None:
        return None
    out = zero(structs.COMPRESS) | {"encodings": ["gzip", "br", "zstd"]}
    for key, value in compress.items():
        if value is not None:
            out[key] = value
    return out


def create_buffering(buffering: Spec | None) -> Spec | None:
    """``createBufferingMiddleware``: the five fields copied."""
    return None if buffering is None else dict(buffering)
