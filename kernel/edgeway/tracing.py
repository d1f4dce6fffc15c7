"""OpenTelemetry tracing (static ``tracing``), as Traefik's ``pkg/observability/tracing``
and ``pkg/middlewares/observability``.

The spans Traefik makes, with its names, kinds and attributes:

- the entry point span (server kind, named after the method), around each
  router and around the entry point's 404; it continues a W3C ``traceparent``
  of the request;
- ``Router``, one span per middleware (named after its type: ``StripPrefix``,
  ``BasicAuth``...), and ``Service`` around each server: internal kind, only
  for routers whose ``observability.traceVerbosity`` is ``detailed``;
- ``ReverseProxy`` (client kind) around each request to a server, whose
  context is sent upstream in ``traceparent``/``tracestate``.

Nothing of this exists unless ``tracing`` is configured: the compiler wraps
handlers with this module's wrappers only then, and the OpenTelemetry SDK is
imported only by :class:`Tracing`'s constructor. Spans are exported by a batch
processor (its own thread, off the request path) and flushed on shutdown.

A request's tracing state is ``req.context[KEY]``: ``(otel context, detailed)``,
set by the entry point wrapper; each inner wrapper puts its span's context
there for the handlers it calls and puts the previous one back after.

A request that is not sampled (``sampleRate`` below 1, or an incoming
``traceparent`` whose sampled flag is off) makes no SDK span at all: the entry
point decides it as the ``ParentBased(TraceIDRatioBased)`` sampler would,
before any span, and its state is then ``(None, False, traceparent prefix,
flags)``: the only trace of it is the ``traceparent`` sent upstream, with the
trace id (the parent's, or a new one) and a new span id, as Traefik's
non-recording spans send it (flags ``00``). Requests whose context the SDK
itself must carry (a sampled one, an unsampled parent with ``tracestate``, any
``baggage``) take the SDK path.
"""

from __future__ import annotations

import logging
import os
import random
import re
import tempfile
from collections.abc import AsyncIterator, Awaitable
from typing import Any, cast
from urllib.parse import parse_qsl, quote_plus, unquote, urlsplit

from edgeway.accesslog import TRACE_IDS
from edgeway.config.static import Tracing as TracingConfig
from edgeway.config.static import TracingClientTLS
from edgeway.http.message import Handler, Headers, Request, Response, canonical_header_name
from edgeway.http.proxy import upstream_target

__all__ = ["KEY", "MIDDLEWARE_SPAN_NAMES", "Tracing", "TracingUnavailable"]

log = logging.getLogger("edgeway.tracing")

#: ``req.context`` key of the request's tracing state.
KEY = "tracing"

#: Span name of each middleware type (Traefik's ``GetTracingInformation`` type
#: names); types not listed (chain, retry, contentType, grpcWeb) make no span.
MIDDLEWARE_SPAN_NAMES = {
    "addPrefix": "AddPrefix",
    "basicAuth": "BasicAuth",
    "digestAuth": "digestAuth",
    "forwardAuth": "ForwardAuth",
    "buffering": "Buffer",
    "circuitBreaker": "CircuitBreaker",
    "compress": "Compress",
    "encodedCharacters": "EncodedCharacters",
    "errors": "CustomError",
    "headers": "Headers",
    "inFlightReq": "InFlightReq",
    "ipAllowList": "IPAllowLister",
    "ipWhiteList": "IPWhiteLister",
    "passTLSClientCert": "PassClientTLSCert",
    "rateLimit": "RateLimiter",
    "redirectRegex": "Redirect",
    "redirectScheme": "Redirect",
    "replacePath": "ReplacePath",
    "replacePathRegex": "ReplacePathRegex",
    "stripPrefix": "StripPrefix",
    "stripPrefixRegex": "StripPrefixRegex",
    "requestHeaderModifier": "RequestHeaderModifier",
    "responseHeaderModifier": "ResponseHeaderModifier",
    "requestRedirect": "RequestRedirect",
    "urlRewrite": "URLRewrite",
    "plugin": "Plugin",
}

_PROTO = {"1.0": "1.0", "1.1": "1.1", "2": "2", "2.0": "2", "3": "3"}

#: The W3C ``traceparent`` as OpenTelemetry's ``TraceContextTextMapPropagator`` reads it.
_TRACEPARENT = re.compile(
    rb"^[ \t]*([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:(-.*)|[ \t]*)$"
)
_TRACEPARENT_MAX = 512
_NO_TRACE = b"0" * 32
_NO_SPAN = b"0" * 16
_LOW_64 = (1 << 64) - 1
#: ``_parent``'s answer for a header the SDK must handle (a sampled parent, ``tracestate``).
_SDK = ("", "")


class TracingUnavailable(RuntimeError):
    """``tracing`` is configured but the OpenTelemetry SDK is not installed."""


class Tracing:
    """The tracer provider, its exporter, and the wrappers the compiler applies."""

    def __init__(self, cfg: TracingConfig) -> None:
        try:
            from opentelemetry import propagate, trace
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
            from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
            from opentelemetry.trace import SpanKind, Status, StatusCode
        except ImportError as exc:
            raise TracingUnavailable(
                "tracing is configured but the OpenTelemetry SDK is not installed "
                "(pip install 'edgeway[tracing]')"
            ) from exc
        self.cfg = cfg
        self.add_internals = cfg.addInternals
        self._propagate = propagate
        self._set_span = trace.set_span_in_context
        self._kinds = SpanKind
        self._error = StatusCode.ERROR
        self._status = Status
        rate = min(max(cfg.sampleRate, 0.0), 1.0)  # Go's TraceIDRatioBased clamps
        root = TraceIdRatioBased(rate)
        #: Root requests whose trace id's low 64 bits are below this are sampled.
        self._bound: int = root.bound
        self._ids = _IdGenerator()
        self.provider = TracerProvider(
            sampler=ParentBased(root), resource=_resource(cfg), id_generator=cast(Any, self._ids)
        )
        #: Unsampled requests skip the SDK: only when the propagators are W3C's
        #: (what the fast path writes is what they would write).
        self._fast = _w3c_propagators(propagate.get_global_textmap())
        self.provider.add_span_processor(BatchSpanProcessor(_exporter(cfg)))
        import edgeway

        self.tracer = self.provider.get_tracer("github.com/traefik/traefik", edgeway.__version__)
        self._request_headers = _captured(cfg.capturedRequestHeaders, skip_user_agent=True)
        self._response_headers = _captured(cfg.capturedResponseHeaders)
        self._safe = frozenset(cfg.safeQueryParams)

    # -- lifecycle --------------------------------------------------------------

    def force_flush(self, timeout: float = 5.0) -> bool:
        return bool(self.provider.force_flush(int(timeout * 1000)))

    def close(self) -> None:
        """Export what is pending, then stop (Traefik's 5 s shutdown)."""
        self.provider.shutdown()

    # -- wrappers (applied by the compiler) ------------------------------------

    def entry_point(self, entrypoint: str, handler: Handler, detailed: bool) -> Handler:
        """The entry point span around ``handler`` (a router's, or the 404); an
        unsampled request gets no span, only the state ``ReverseProxy`` needs."""
        sdk = self._sdk_entry_point(entrypoint, handler, detailed)
        if not self._fast:
            return sdk
        bound, ids, draw = self._bound, self._ids, random.getrandbits

        def traced(req: Request) -> Awaitable[Response]:
            # A plain function: an unsampled request costs no coroutine here. Its
            # state is left in the request after it (this is the outermost
            # wrapper: nothing traced runs after it).
            headers = req.headers
            if headers.get(b"baggage") is not None:
                return sdk(req)
            header = headers.get(b"traceparent")
            parent = None if header is None else _parent(header, headers)
            if parent is None:  # a root: TraceIdRatioBased on a new trace id
                trace_id = draw(128) or 1
                if trace_id & _LOW_64 < bound:
                    ids.pending = trace_id
                    return sdk(req)
                prefix, flags = f"00-{trace_id:032x}-", "-00"
            elif parent is _SDK:
                return sdk(req)
            else:
                prefix, flags = parent
            context = req.context
            context[KEY] = (None, False, prefix, flags)
            context[TRACE_IDS] = (prefix[3:35], None)  # the span id is drawn only if logged
            return handler(req)

        return traced

    def _sdk_entry_point(self, entrypoint: str, handler: Handler, detailed: bool) -> Handler:
        start = self.tracer.start_span
        extract = self._propagate.extract
        set_span = self._set_span
        server = self._kinds.SERVER
        getter: Any = _HeadersGetter()  # duck-typed: no SDK import at module level

        async def traced(req: Request) -> Response:
            parent = extract(req.headers, getter=getter)
            span = start(req.method, context=parent, kind=server)
            recording = span.is_recording()
            if recording:
                span.set_attribute("entry_point", entrypoint)
                self._server_request(span, req)
            previous = req.context.get(KEY)
            req.context[KEY] = (set_span(span, parent), detailed)
            ids = span.get_span_context()  # for the access log (even unsampled)
            req.context[TRACE_IDS] = (f"{ids.trace_id:032x}", f"{ids.span_id:016x}")
            try:
                resp = await handler(req)
            except BaseException:
                if recording:
                    self._response(span, None, 500, server)
                span.end()
                raise
            finally:
                _restore(req, previous)
            if recording:
                self._response(span, resp.headers, resp.status, server)
            if resp.stream is None:
                span.end()
            else:
                resp.stream = _ending(resp.stream, span)
            return resp

        return traced

    def router(self, name: str, rule: str, service: str, handler: Handler) -> Handler:
        """The ``Router`` span (detailed verbosity)."""
        attributes = {
            "traefik.service.name": service,
            "traefik.router.name": name,
            "http.route": rule,
        }
        return self._internal("Router", attributes, handler)

    def middleware(self, kind: str, name: str, handler: Handler) -> Handler:
        """The middleware's span (detailed verbosity), for types Traefik traces."""
        span_name = MIDDLEWARE_SPAN_NAMES.get(kind)
        if span_name is None:
            return handler
        return self._internal(span_name, {"traefik.middleware.name": name}, handler)

    def server(
        self, service: str, url: str, preserve_path: bool, handler: Handler, *, detailed: bool = True
    ) -> Handler:
        """A server's ``ReverseProxy`` span, whose context goes upstream in
        ``traceparent``, and its ``Service`` span when some router is ``detailed``."""
        handler = self._reverse_proxy(url, preserve_path, handler)
        if not detailed:
            return handler
        return self._internal("Service", {"traefik.service.name": service}, handler)

    def _internal(self, span_name: str, attributes: dict[str, Any], handler: Handler) -> Handler:
        start = self.tracer.start_span
        set_span = self._set_span
        internal = self._kinds.INTERNAL

        def traced(req: Request) -> Awaitable[Response]:
            state = req.context.get(KEY)
            if state is None or not state[1]:
                return handler(req)
            return spanned(req, state)

        async def spanned(req: Request, state: tuple[Any, ...]) -> Response:
            ctx = state[0]
            span = start(span_name, context=ctx, kind=internal, attributes=attributes)
            req.context[KEY] = (set_span(span, ctx), True)
            try:
                return await handler(req)
            finally:
                req.context[KEY] = state
                span.end()

        return traced

    def _reverse_proxy(self, url: str, preserve_path: bool, handler: Handler) -> Handler:
        start = self.tracer.start_span
        set_span = self._set_span
        inject = self._propagate.inject
        client = self._kinds.CLIENT
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        user = "REDACTED:REDACTED@" if "@" in parts.netloc else ""
        host = parts.netloc.rpartition("@")[2]
        address, port = _host_port(host, scheme)
        prefix = parts.path if preserve_path else ""

        def traced(req: Request) -> Awaitable[Response]:
            state = req.context.get(KEY)
            if state is None:
                return handler(req)
            if state[0] is None:  # not sampled: only the traceparent, with a new span id
                return _unsampled(req, state, handler)
            return spanned(req, state)

        async def spanned(req: Request, state: tuple[Any, ...]) -> Response:
            ctx = state[0]
            span = start("ReverseProxy", context=ctx, kind=client)
            child = set_span(span, ctx)
            recording = span.is_recording()
            if recording:
                target = upstream_target(req, prefix)
                path, _, query = target.partition("?")
                query = self._safe_query(query)
                span.set_attributes(
                    {
                        "http.request.method": req.method,
                        "network.protocol.version": _PROTO.get(req.http_version, req.http_version),
                        "url.full": f"{scheme}://{user}{host}{path}" + (f"?{query}" if query else ""),
                        "url.scheme": scheme,
                        "user_agent.original": _header(req.headers, b"user-agent"),
                        "network.peer.address": address,
                        "server.address": address if port is not None else host,
                    }
                )
                if port is not None:
                    span.set_attribute("network.peer.port", port)
                    span.set_attribute("server.port", port)
                self._captured(span, "http.request.header.", self._request_headers, req.headers)
            carrier: dict[str, str] = {}
            inject(carrier, context=child)
            headers = req.headers
            saved = [(name, headers.getlist(name)) for name in (b"traceparent", b"tracestate")]
            for key, text in carrier.items():
                headers.set(key.encode("latin-1"), text.encode("latin-1"))
            req.context[KEY] = (child, state[1])
            try:
                resp = await handler(req)
            except BaseException:
                if recording:
                    self._response(span, None, 502, client)
                span.end()
                raise
            finally:
                req.context[KEY] = state
                for name, values in saved:
                    headers.remove(name)
                    for value in values:
                        headers.add(name, value)
            if recording:
                reached = "upstream_error" not in req.context
                self._response(span, resp.headers if reached else None, resp.status, client)
            span.end()
            return resp

        return traced

    # -- attributes ----------------------------------------------------------------

    def _server_request(self, span: Any, req: Request) -> None:
        """Traefik's ``CaptureServerRequest``."""
        length = req.content_length
        if length is None:
            length = -1 if req.body is not None else 0
        span.set_attributes(
            {
                "http.request.method": req.method,
                "network.protocol.version": _PROTO.get(req.http_version, req.http_version),
                "http.request.body.size": length,
                "url.path": unquote(req.raw_path),
                "url.query": self._safe_query(req.query),
                "url.scheme": _header(req.headers, b"x-forwarded-proto"),
                "user_agent.original": _header(req.headers, b"user-agent"),
                "server.address": req.authority,
                "network.peer.address": req.client_ip,
                "client.address": req.client_ip,
                "client.port": req.client_port,
                "network.peer.port": req.client_port,
            }
        )
        self._captured(span, "http.request.header.", self._request_headers, req.headers)

    def _response(self, span: Any, headers: Headers | None, status: int, kind: Any) -> None:
        """Traefik's ``CaptureResponse``: span status by kind, status code, captured headers."""
        if status < 100 or status >= 600:
            span.set_status(self._status(self._error, f"Invalid HTTP status code {status}"))
        elif status >= (400 if kind is self._kinds.CLIENT else 500):
            span.set_status(self._status(self._error))
        if status > 0:
            span.set_attribute("http.response.status_code", status)
        if headers is not None:
            self._captured(span, "http.response.header.", self._response_headers, headers)

    @staticmethod
    def _captured(span: Any, prefix: str, names: list[tuple[bytes, str]], headers: Headers) -> None:
        for name, attribute in names:
            values = headers.getlist(name)
            if values:
                span.set_attribute(prefix + attribute, [_text(v) for v in values])

    def _safe_query(self, query: str) -> str:
        """Go's ``safeURL`` query: values of unsafe parameters replaced by ``REDACTED``,
        re-encoded as ``url.Values.Encode`` does (sorted keys)."""
        if not query:
            return ""
        values: dict[str, list[str]] = {}
        for pair in query.split("&"):
            if not pair or ";" in pair:
                continue  # Go's ParseQuery rejects pairs with a semicolon
            for key, value in parse_qsl(pair, keep_blank_values=True):
                values.setdefault(key, []).append(value)
        safe = self._safe
        out: list[str] = []
        for key in sorted(values):
            vals = values[key] if key in safe else ["REDACTED"]
            k = quote_plus(key, safe="")
            out.extend(f"{k}={quote_plus(v, safe='')}" for v in vals)
        return "&".join(out)


# -- helpers ----------------------------------------------------------------------------


class _HeadersGetter:
    """The propagators' view of a request's :class:`Headers`."""

    def get(self, carrier: Headers, key: str) -> list[str] | None:
        values = carrier.getlist(key.lower().encode("latin-1"))
        return [v.decode("latin-1") for v in values] if values else None

    def keys(self, carrier: Headers) -> list[str]:
        return [n.decode("latin-1") for n, _ in carrier.raw]


class _IdGenerator:
    """The SDK's random ids; a root's trace id is the one the entry point drew to
    sample it (``pending``), so the sampler decides on that same id. Trace ids
    are not flagged random (W3C level 2's 0x02): Go's SDK, and so Traefik, never
    sets that flag."""

    def __init__(self) -> None:
        self.pending = 0

    def generate_trace_id(self) -> int:
        trace_id, self.pending = self.pending, 0
        return trace_id or random.getrandbits(128) or 1

    def generate_span_id(self) -> int:
        return random.getrandbits(64) or 1

    def is_trace_id_random(self) -> bool:
        return False


def _w3c_propagators(propagator: Any) -> bool:
    """The global propagator is W3C trace context (and baggage) only: what the
    unsampled fast path reproduces."""
    from opentelemetry.baggage.propagation import W3CBaggagePropagator
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    inner = getattr(propagator, "_propagators", None) if isinstance(propagator, CompositePropagator) else [propagator]
    return bool(inner) and all(
        type(p) in (TraceContextTextMapPropagator, W3CBaggagePropagator) for p in inner or ()
    )


def _parent(header: bytes, headers: Headers) -> tuple[str, str] | None:
    """An incoming ``traceparent`` as the SDK reads it: None when it is not valid
    (the request is a root), ``_SDK`` when the SDK must carry it (sampled, or
    with a ``tracestate``), else the unsampled child's ``traceparent`` prefix and
    flags (the random trace id flag, 0x02, is inherited)."""
    if len(header) > _TRACEPARENT_MAX:
        return None
    match = _TRACEPARENT.match(header)
    if match is None:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if trace_id == _NO_TRACE or span_id == _NO_SPAN or version == b"ff" or (version == b"00" and rest):
        return None
    bits = int(flags, 16)
    if bits & 1 or headers.get(b"tracestate") is not None:
        return _SDK
    return f"00-{trace_id.decode()}-", "-02" if bits & 2 else "-00"


async def _unsampled(req: Request, state: tuple[Any, ...], handler: Handler) -> Response:
    """An unsampled request to a server: the ``traceparent`` its non-recording
    ``ReverseProxy`` span would send (a new span id), put back after."""
    headers = req.headers
    saved = headers.getlist(b"traceparent")
    headers.set(b"traceparent", f"{state[2]}{random.getrandbits(64) or 1:016x}{state[3]}".encode())
    try:
        return await handler(req)
    finally:
        headers.remove(b"traceparent")
        for value in saved:
            headers.add(b"traceparent", value)


def _restore(req: Request, previous: Any) -> None:
    if previous is None:
        req.context.pop(KEY, None)
    else:
        req.context[KEY] = previous


async def _ending(stream: AsyncIterator[bytes], span: Any) -> AsyncIterator[bytes]:
    """A streamed body; the entry point span ends when it ends (or is dropped)."""
    try:
        async for chunk in stream:
            yield chunk
    finally:
        span.end()
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


def _header(headers: Headers, name: bytes) -> str:
    value = headers.get(name)
    return _text(value) if value is not None else ""


def _text(value: bytes) -> str:
    """A header value as an attribute: Go's string of the bytes sent (UTF-8 text as
    text; OTLP strings must be UTF-8, so other bytes become U+FFFD)."""
    return value.decode("utf-8", "replace")


def _captured(names: list[str], *, skip_user_agent: bool = False) -> list[tuple[bytes, str]]:
    """(lookup name, attribute suffix) of each captured header; the user agent is
    already ``user_agent.original`` on request spans."""
    out: list[tuple[bytes, str]] = []
    for name in names:
        canonical = canonical_header_name(name).decode("latin-1")
        if skip_user_agent and canonical.lower() == "user-agent":
            continue
        out.append((canonical.lower().encode("latin-1"), canonical.lower()))
    return out


def _host_port(host: str, scheme: str) -> tuple[str, int | None]:
    """Go's ``net.SplitHostPort`` of the server's host, with the scheme's default port."""
    if host.startswith("["):
        inner, _, rest = host[1:].partition("]")
        if rest.startswith(":") and rest[1:].isdigit():
            return inner, int(rest[1:])
    else:
        name, colon, port = host.rpartition(":")
        if colon and ":" not in name and port.isdigit():
            return name, int(port)
    default = {"http": 80, "https": 443}.get(scheme)
    return host, default


def _resource(cfg: TracingConfig) -> Any:
    """Traefik's resource: host/OS/process facts, ``service.name``/``version``,
    the user's attributes, then ``OTEL_RESOURCE_ATTRIBUTES``/``OTEL_SERVICE_NAME``."""
    from opentelemetry.sdk.resources import (
        SERVICE_NAME,
        SERVICE_VERSION,
        OsResourceDetector,
        OTELResourceDetector,
        ProcessResourceDetector,
        Resource,
        get_aggregated_resources,
    )

    import edgeway

    detected = get_aggregated_resources(
        [OsResourceDetector(), ProcessResourceDetector()], initial_resource=Resource.create({})
    )
    ours = Resource({SERVICE_NAME: cfg.serviceName, SERVICE_VERSION: edgeway.__version__, **cfg.attributes()})
    env = OTELResourceDetector().detect()
    service = os.environ.get("OTEL_SERVICE_NAME")
    if service:
        env = env.merge(Resource({SERVICE_NAME: service}))
    return detected.merge(ours).merge(env)


def _exporter(cfg: TracingConfig) -> Any:
    """The OTLP exporter: gRPC when ``otlp.grpc`` is given, else HTTP (gzip, as Traefik)."""
    grpc_cfg = cfg.otlp.grpc
    if grpc_cfg is not None:
        import grpc
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        credentials = None
        if grpc_cfg.tls is not None:
            credentials = _grpc_credentials(grpc_cfg.tls)
        return OTLPSpanExporter(
            endpoint=grpc_cfg.endpoint,
            insecure=grpc_cfg.insecure,
            credentials=credentials,
            headers=dict(grpc_cfg.headers),
            compression=grpc.Compression.Gzip,
        )
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HTTPExporter,
    )

    http_cfg = cfg.otlp.http
    parts = urlsplit(http_cfg.endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"invalid collector endpoint {http_cfg.endpoint!r}")
    endpoint = http_cfg.endpoint if parts.path else http_cfg.endpoint.rstrip("/") + "/v1/traces"
    session = None
    tls = http_cfg.tls
    if tls is not None:
        verify: bool | str = False if tls.insecureSkipVerify else _pem_path(tls.ca) if tls.ca else True
        cert = (_pem_path(tls.cert), _pem_path(tls.key)) if tls.cert and tls.key else None
        session = _collector_session(verify, cert)
    return HTTPExporter(
        endpoint=endpoint, headers=dict(http_cfg.headers), compression=Compression.Gzip, session=session
    )


def _collector_session(verify: bool | str, cert: tuple[str, str] | None) -> Any:
    """A requests session that keeps the collector's TLS settings: plain requests
    lets ``REQUESTS_CA_BUNDLE`` replace a session's CA (and undo ``verify=False``)."""
    import requests

    class CollectorSession(requests.Session):
        def merge_environment_settings(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
            settings: dict[str, Any] = super().merge_environment_settings(*args, **kwargs)
            settings["verify"] = verify
            settings["cert"] = cert
            return settings

    return CollectorSession()


def _grpc_credentials(tls: TracingClientTLS) -> Any:
    import grpc

    if tls.insecureSkipVerify:
        raise ValueError("tracing OTLP GRPC: tls.insecureSkipVerify is not supported by edgeway's gRPC exporter")
    return grpc.ssl_channel_credentials(
        root_certificates=_pem_bytes(tls.ca) if tls.ca else None,
        private_key=_pem_bytes(tls.key) if tls.cert and tls.key else None,
        certificate_chain=_pem_bytes(tls.cert) if tls.cert and tls.key else None,
    )


def _pem_bytes(value: str) -> bytes:
    """A ``FileOrContent``: the PEM itself, or the path of a file holding it."""
    if value.lstrip().startswith("-----BEGIN"):
        return value.encode()
    with open(value, "rb") as f:
        return f.read()


def _pem_path(value: str) -> str:
    """A ``FileOrContent`` as a path (PEM content goes to a private temporary file)."""
    if not value.lstrip().startswith("-----BEGIN"):
        return value
    fd, path = tempfile.mkstemp(prefix="edgeway-otlp-", suffix=".pem")
    with os.fdopen(fd, "w") as f:
        f.write(value)
    return path


