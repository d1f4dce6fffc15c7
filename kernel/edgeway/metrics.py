"""Prometheus metrics (static ``metrics.prometheus``), with Traefik's names and labels.

Traefik's metrics middlewares (``pkg/middlewares/metrics``) wrap each entry
point's routers and its 404, each router (``addRoutersLabels``) and each server
of a service (``addServicesLabels``); so do edgeway's, decided when a
configuration is compiled, so that nothing of this runs per request when
metrics are off. With metrics on, a request costs each meter a few attribute
and list operations: the label tuples of a meter (entry point, router,
service) are fixed when it is built, the per-request part is a dict lookup on
``(code, method, protocol)`` and a bucket index; meters with nothing between
them (an entry point around a router around a one-server service) share one
wrapper, so the default configuration adds one coroutine frame, not two.
prometheus_client only sees the plain counters at scrape time, through :class:`_Collector`; the gauges
(reloads, open connections, certificates, servers up) are read then from the
kernel's state, not maintained by requests.

Counters live as long as the process across configurations: a meter is found
again by its labels when a new configuration is compiled. Series of entry
points, routers and services no longer configured are exported one last time
and then dropped (Traefik's ``promState``).
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from edgeway.http.bodies import counted_stream
from edgeway.http.message import Handler, Headers, Request, Response, protocol_of
from edgeway.tls.certificates import DEFAULT_DOMAIN, Certificate
from edgeway.tls.names import CIPHER_SUITES
from edgeway.tls.store import DEFAULT_STORE

if TYPE_CHECKING:
    from edgeway.config.static import Prometheus
    from edgeway.kernel import Kernel

__all__ = ["Meter", "Metrics", "OnResponse", "gated", "hoist", "request_protocol", "unmetered", "wrap_optional"]

_METHODS = {
    m: m
    for m in ("HEAD", "GET", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "PRI")
}
_EXTENSION = "EXTENSION_METHOD"
_TLS_VERSIONS = {"TLSv1": "1.0", "TLSv1.1": "1.1", "TLSv1.2": "1.2", "TLSv1.3": "1.3"}
_GO_CIPHERS = {openssl: go for go, openssl in CIPHER_SUITES.items() if openssl}
_GRPC_UNKNOWN = 2
_GRPC_MAX = 17  # codes._maxCode

# A cell's fields (a plain list: item updates are the cheapest Python offers).
_COUNT, _SUM, _REQ_BYTES, _RESP_BYTES, _BUCKETS = 0, 1, 2, 3, 4


# -- the request path ---------------------------------------------------------------

#: ``req.context`` key set by routers whose ``observability.metrics`` is false:
#: the services they share with counted routers do not count their requests
#: (Traefik's meters check ``MetricsEnabled`` per request).
_UNMETERED = "metrics_off"


def unmetered(handler: Handler) -> Handler:
    """A router's handler whose requests no service meter counts."""

    def mark(req: Request) -> Awaitable[Response]:
        req.context[_UNMETERED] = True
        return handler(req)

    return mark


def gated(metered: Handler, plain: Handler) -> Handler:
    """A service's counted handler, skipped for requests of uncounted routers
    (compiled only when some router turns its metrics off)."""

    def gate(req: Request) -> Awaitable[Response]:
        return (plain if _UNMETERED in req.context else metered)(req)

    return gate


def request_protocol(req: Request) -> str:
    """The ``protocol`` label: what the HTTP/1.1 server noted while parsing, else
    found in the headers now (Go's ``Header.Get``: the first values)."""
    proto = req.protocol
    if proto is None:
        up, get = req.upgrade, req.headers.get
        websocket = up is not None and up.lower() == b"websocket"
        proto = req.protocol = protocol_of(websocket, get(b"accept"), get(b"content-type"))
    return proto


def _status_code(proto: str, resp: Response) -> int:
    """The ``code`` label: the status, or for gRPC the ``Grpc-Status`` (headers of a
    trailers-only answer, else the trailers once the body is done)."""
    if proto != "grpc" and proto != "grpc-web":
        return resp.status
    code = _grpc_code(resp.headers)
    if code == _GRPC_UNKNOWN and resp.trailers is not None:
        code = _grpc_code(resp.trailers)
    return code


def _grpc_code(headers: Headers | None) -> int:
    """Traefik's ``grpcStatusCode``: ``Grpc-Status`` as a code, else Unknown."""
    value = headers.get(b"grpc-status") if headers is not None else None
    if value is None or not value.isdigit():
        return _GRPC_UNKNOWN
    code = int(value)
    return code if code < _GRPC_MAX else _GRPC_UNKNOWN


#: A group's counts: ``(code, request method, protocol)`` -> ``[count, duration sum, request
#: bytes, response bytes, bucket counts...]`` (buckets not cumulative; the last is ``+Inf``).
Cells = dict[tuple[int, str, str], list[Any]]


class Meter:
    """The counters of one entry point, router or service (one label set).

    Requests are counted per *group*: the meters one wrapper counts on (see
    :meth:`wrap`). A meter's counts are the sum of its groups' (:attr:`cells`,
    at scrape time), so a request costs one cell update however many meters
    its wrapper serves. ``tls`` counts requests by ``(version, cipher)``;
    ``headers`` counts requests by ``(code, method, protocol, *header values)``
    when ``headerLabels`` is set.
    """

    __slots__ = ("labels", "bounds", "groups", "_own", "tls", "header_names", "headers", "retries")

    def __init__(
        self, labels: tuple[str, ...], bounds: tuple[float, ...], header_names: tuple[bytes, ...]
    ) -> None:
        self.labels = labels
        self.bounds = bounds
        #: The cells of every group this meter is part of.
        self.groups: list[Cells] = []
        #: The groups this meter leads, by their meters: a wrapper compiled again
        #: for the same meters (a new configuration) goes on with the same cells.
        self._own: dict[tuple[Meter, ...], Cells] = {}
        self.tls: dict[tuple[str, str], int] = {}
        self.header_names = header_names
        self.headers: dict[tuple[Any, ...], int] = {}
        self.retries = 0

    @property
    def cells(self) -> Cells:
        """This meter's counts by ``(code, method label, protocol)``: its groups'
        cells (counted by request method) added up."""
        total: Cells = {}
        for group in self.groups:
            for (code, method, proto), cell in list(group.items()):
                key = (code, _METHODS.get(method, _EXTENSION), proto)
                have = total.get(key)
                total[key] = list(cell) if have is None else [a + b for a, b in zip(have, cell, strict=True)]
        return total

    def wrap(self, handler: Handler) -> Handler:
        """``handler``, counted by this meter (Traefik's ``metricsMiddleware``).

        A meter wrapped directly around another meter's handler (nothing between
        them: an entry point around a router without middlewares, around a service
        with one server) is fused with it: one wrapper that times the request once
        and counts it once for all of them, instead of one coroutine frame and one
        count per level. The counts are the same, since every request and response
        goes through all of them unchanged."""
        inner = getattr(handler, _FUSED, None)
        if inner is not None:
            meters, next_handler, _ = inner
            if all(m.bounds == self.bounds and m.header_names == self.header_names for m in meters):
                return _metered((self, *meters), next_handler)
        return _metered((self,), handler)

    def retried(self) -> None:
        """A retry middleware sent the request again (``traefik_service_retries_total``)."""
        self.retries += 1


def _group(meters: tuple[Meter, ...]) -> Cells:
    """The cells ``meters`` count together (the same ones when compiled again)."""
    lead = meters[0]
    cells = lead._own.get(meters)
    if cells is None:
        cells = lead._own[meters] = {}
        for m in meters:
            m.groups.append(cells)
    return cells


#: Attribute of a metered handler: ``(meters, the handler they count, the same
#: meters run by the server)``, for fusing and :func:`hoist`.
_FUSED = "edgeway_meters"


def _metered(meters: tuple[Meter, ...], handler: Handler) -> Handler:
    """``handler`` counted on ``meters`` (same buckets and header labels), timed
    once: everything that does not depend on the meter is computed once."""
    bounds = meters[0].bounds
    first_bound = bounds[0] if bounds else float("inf")
    header_names = meters[0].header_names
    width = len(bounds) + 1
    cells = _group(meters)
    # module globals bound as closure variables: the request path reads them faster
    perf, bisect, protocol, first_bucket = time.perf_counter, bisect_left, request_protocol, _BUCKETS

    def counted(req: Request, resp: Response | None, t0: float, size: int = -1) -> None:
        """Count ``resp`` (None: the handler raised, a 500) of a request taken at
        ``t0``; a streamed body once it is over, with its ``size``."""
        proto = req.protocol or protocol(req)
        if resp is None:
            code = 500
            size = 0
        else:
            if size < 0:
                stream = resp.stream
                if stream is not None:  # counted once the body is over
                    resp.stream = counted_stream(stream, at_end(req, resp, t0))
                    return
                size = len(resp.body)
            code = resp.status if proto == "http" else _status_code(proto, resp)
        dur = perf() - t0
        key = (code, req.method, proto)  # the method's label is found at scrape time
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = [0, 0.0, 0, 0] + [0] * width
        cell[0] += 1
        cell[1] += dur
        cell[2] += req.content_length or 0
        cell[3] += size
        # most requests take less than the first bound: no bisect call for them
        cell[first_bucket if dur <= first_bound else first_bucket + bisect(bounds, dur)] += 1
        if header_names:
            hkey = _header_key(req, code, proto, header_names)
            for m in meters:
                m.headers[hkey] = m.headers.get(hkey, 0) + 1
        if req.tls is not None:
            tkey = _tls_key(req.tls)
            for m in meters:
                m.tls[tkey] = m.tls.get(tkey, 0) + 1

    def at_end(req: Request, resp: Response, t0: float) -> Callable[[int], None]:
        # (a function of its own: a lambda in counted would make its locals cells)
        return lambda size: counted(req, resp, t0, size)

    async def metered(req: Request) -> Response:
        t0 = perf()
        try:
            resp = await handler(req)
        except BaseException:
            counted(req, None, t0)
            raise
        counted(req, resp, t0)
        return resp

    setattr(metered, _FUSED, (meters, handler, counted))
    return metered


#: What a hoisted meter leaves the server to call (``Request.on_response``).
OnResponse = Callable[[Request, Response | None, float], None]


def hoist(handler: Handler) -> tuple[Handler, OnResponse | None]:
    """``handler`` without its outermost meters, and their counting for the server
    to run (``Request.on_response``, set by the entry point's dispatcher): no
    coroutine frame for them. Only for the outermost meter of a route, where
    nothing but the server and wrappers that keep the response as it is (access
    log, tracing) is outside it."""
    fused = getattr(handler, _FUSED, None)
    return (handler, None) if fused is None else (fused[1], fused[2])


def _tls_key(tls: Any) -> tuple[str, str]:
    """The ``tls_version`` and ``tls_cipher`` labels, in Go's names."""
    version = tls.version() if hasattr(tls, "version") else None
    cipher = tls.cipher() if hasattr(tls, "cipher") else None
    name = cipher[0] if cipher else ""
    return _TLS_VERSIONS.get(version or "", "unknown"), _GO_CIPHERS.get(name, name or "unknown")


def _header_key(
    req: Request, code: int, proto: str, header_names: tuple[bytes, ...]
) -> tuple[Any, ...]:
    get = req.headers.get
    method = _METHODS.get(req.method, _EXTENSION)
    return (code, method, proto, *((get(n) or b"").decode("latin-1") for n in header_names))


# -- the registry ---------------------------------------------------------------------


class Metrics:
    """One per process: the meters, what is live, and the ``prometheus@internal`` handler."""

    def __init__(self, cfg: Prometheus, *, add_internals: bool = False) -> None:
        self.cfg = cfg
        self.add_internals = add_internals
        self.bounds = tuple(sorted(float(b) for b in cfg.buckets))
        self.header_labels = tuple(cfg.headerLabels)
        self._header_names = tuple(h.lower().encode("latin-1") for h in cfg.headerLabels.values())
        self.entrypoints: dict[str, Meter] = {}
        self.routers: dict[tuple[str, str], Meter] = {}
        self.services: dict[str, Meter] = {}
        self._live: tuple[set[str], set[str], set[str]] | None = None
        self.kernel: Kernel | None = None
        self.registry = CollectorRegistry(auto_describe=False)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.registry.register(_Collector(self))

    # -- meters (compile time) ---------------------------------------------------

    def entrypoint(self, name: str) -> Meter | None:
        """The entry point's meter (None: ``addEntryPointsLabels`` is off)."""
        if not self.cfg.addEntryPointsLabels:
            return None
        meter = self.entrypoints.get(name)
        if meter is None:
            meter = self.entrypoints[name] = Meter((name,), self.bounds, self._header_names)
        return meter

    def router(self, name: str, service: str) -> Meter | None:
        if not self.cfg.addRoutersLabels:
            return None
        meter = self.routers.get((name, service))
        if meter is None:
            meter = self.routers[(name, service)] = Meter(
                (name, service), self.bounds, self._header_names
            )
        return meter

    def service(self, name: str) -> Meter | None:
        if not self.cfg.addServicesLabels:
            return None
        meter = self.services.get(name)
        if meter is None:
            meter = self.services[name] = Meter((name,), self.bounds, self._header_names)
        return meter

    def set_live(
        self, entrypoints: Iterable[str], routers: Iterable[str], services: Iterable[str]
    ) -> None:
        """A configuration was applied: series of other objects go after the next scrape."""
        self._live = (set(entrypoints), set(routers), set(services))

    def _drop_stale(self) -> None:
        live = self._live
        if live is None:
            return
        eps, routers, services = live
        self.entrypoints = {k: v for k, v in self.entrypoints.items() if k in eps}
        self.routers = {k: v for k, v in self.routers.items() if k[0] in routers}
        self.services = {k: v for k, v in self.services.items() if k in services}

    # -- scraping --------------------------------------------------------------------

    def handler(self) -> Handler:
        """``prometheus@internal``: the exposition, in the format the scraper asks for."""
        registry = self.registry

        async def serve(req: Request) -> Response:
            accept = (req.headers.get(b"accept") or b"").decode("latin-1")
            encoder, content_type = choose_encoder(accept)
            body = encoder(registry)
            return Response(200, Headers([(b"Content-Type", content_type.encode("latin-1"))]), body)

        return serve


class _Collector:
    """Turns the plain counters and the kernel's state into metric families."""

    def __init__(self, metrics: Metrics) -> None:
        self.m = metrics

    def collect(self) -> Iterator[Metric]:
        """The families that have samples: Prometheus' Go client leaves out the empty
        ones (a vector without series), so Traefik's ``/metrics`` does not list them."""
        return (family for family in self._families() if family.samples)

    def _families(self) -> Iterator[Metric]:
        m = self.m
        yield from self._kernel_families()
        if m.cfg.addEntryPointsLabels:
            yield from _request_families("traefik_entrypoint", ("entrypoint",), m.entrypoints, m)
        if m.cfg.addRoutersLabels:
            yield from _request_families("traefik_router", ("router", "service"), m.routers, m)
        if m.cfg.addServicesLabels:
            yield from _request_families("traefik_service", ("service",), m.services, m)
            retries = CounterMetricFamily(
                "traefik_service_retries",
                "How many request retries happened on a service.",
                labels=["service"],
            )
            for name, meter in m.services.items():
                if meter.retries:
                    retries.add_metric([name], meter.retries)
            yield retries
            yield self._servers_up()
        m._drop_stale()

    def _kernel_families(self) -> Iterator[Metric]:
        kernel = self.m.kernel
        if kernel is None:
            return
        st = kernel.state
        reloads = CounterMetricFamily("traefik_config_reloads", "Config reloads")
        reloads.add_metric([], st.reloads)
        yield reloads
        last = GaugeMetricFamily("traefik_config_last_reload_success", "Last config reload success")
        if st.reloads:
            last.add_metric([], float(int(st.applied_at)))
        yield last
        conns = GaugeMetricFamily(
            "traefik_open_connections",
            "How many open connections exist, by entryPoint and protocol",
            labels=["entrypoint", "protocol"],
        )
        for name, ep in kernel.entrypoints.items():
            conns.add_metric([name, "TCP"], len(ep.connections))
        yield conns
        certs = GaugeMetricFamily(
            "traefik_tls_certs_not_after",
            "Certificate expiration timestamp",
            labels=["cn", "serial", "sans"],
        )
        for cert in _server_certificates(kernel):
            leaf = cert.leaf
            certs.add_metric(
                [cert.common_name, str(leaf.serial_number), ",".join(sorted(_dns_names(cert)))],
                float(int(leaf.not_valid_after_utc.timestamp())),
            )
        yield certs
        apply = GaugeMetricFamily(
            "edgeway_config_apply_duration_seconds",
            "How long compiling and switching to the last applied configuration took.",
        )
        if st.reloads:
            apply.add_metric([], st.apply_seconds)
        yield apply

    def _servers_up(self) -> Metric:
        """``traefik_service_server_up`` of the services whose servers are health checked
        (actively or passively: Traefik's health checkers set it), from ``serverStatus``."""
        up = GaugeMetricFamily(
            "traefik_service_server_up",
            "service server is up, described by gauge value of 0 or 1.",
            labels=["service", "url"],
        )
        kernel = self.m.kernel
        if kernel is None:
            return up
        for name, info in kernel.state.runtime.services.items():
            lb = getattr(info.config, "loadBalancer", None)
            if lb is None or (lb.healthCheck is None and lb.passiveHealthCheck is None):
                continue
            for url, status in info.server_status.items():
                up.add_metric([name, url], 1.0 if status == "UP" else 0.0)
        return up


#: Traefik's HELP texts (pkg/observability/metrics/prometheus.go), by level:
#: requests, TLS requests, durations, request bytes, response bytes.
_PARTS = "status code, protocol, and method."
_HELP = {
    "traefik_entrypoint": (
        f"How many HTTP requests processed on an entrypoint, partitioned by {_PARTS}",
        "How many HTTP requests with TLS processed on an entrypoint, partitioned by TLS Version and TLS cipher Used.",
        f"How long it took to process the request on an entrypoint, partitioned by {_PARTS}",
        f"The total size of requests in bytes handled by an entrypoint, partitioned by {_PARTS}",
        f"The total size of responses in bytes handled by an entrypoint, partitioned by {_PARTS}",
    ),
    "traefik_router": (
        f"How many HTTP requests are processed on a router, partitioned by service, {_PARTS}",
        "How many HTTP requests with TLS are processed on a router, partitioned by service, TLS Version, and TLS cipher Used.",
        f"How long it took to process the request on a router, partitioned by service, {_PARTS}",
        f"The total size of requests in bytes handled by a router, partitioned by service, {_PARTS}",
        f"The total size of responses in bytes handled by a router, partitioned by service, {_PARTS}",
    ),
    "traefik_service": (
        f"How many HTTP requests processed on a service, partitioned by {_PARTS}",
        "How many HTTP requests with TLS processed on a service, partitioned by TLS version and TLS cipher.",
        f"How long it took to process the request on a service, partitioned by {_PARTS}",
        f"The total size of requests in bytes received by a service, partitioned by {_PARTS}",
        f"The total size of responses in bytes returned by a service, partitioned by {_PARTS}",
    ),
}  # fmt: skip


def _request_families(
    prefix: str, names: tuple[str, ...], meters: dict[Any, Meter], m: Metrics
) -> Iterator[Metric]:
    """The five families of one level (Traefik's ``initStandardRegistry``)."""
    labels = ["code", "method", "protocol", *names]
    help_reqs, help_tls, help_durations, help_req_bytes, help_resp_bytes = _HELP[prefix]
    reqs = CounterMetricFamily(
        f"{prefix}_requests", help_reqs, labels=labels + list(m.header_labels)
    )
    tls = CounterMetricFamily(
        f"{prefix}_requests_tls", help_tls, labels=["tls_version", "tls_cipher", *names]
    )
    durations = HistogramMetricFamily(
        f"{prefix}_request_duration_seconds", help_durations, labels=labels
    )
    req_bytes = CounterMetricFamily(f"{prefix}_requests_bytes", help_req_bytes, labels=labels)
    resp_bytes = CounterMetricFamily(f"{prefix}_responses_bytes", help_resp_bytes, labels=labels)
    les = [_go_float(b) for b in m.bounds] + ["+Inf"]
    for meter in list(meters.values()):
        for (code, method, proto), cell in list(meter.cells.items()):
            values = [str(code), method, proto, *meter.labels]
            if not meter.header_names:
                reqs.add_metric(values, cell[_COUNT])
            running = 0
            buckets = []
            for le, count in zip(les, cell[_BUCKETS:], strict=True):
                running += count
                buckets.append((le, running))
            durations.add_metric(values, buckets, cell[_SUM])
            req_bytes.add_metric(values, cell[_REQ_BYTES])
            resp_bytes.add_metric(values, cell[_RESP_BYTES])
        for (code, method, proto, *header_values), count in list(meter.headers.items()):
            reqs.add_metric([str(code), method, proto, *meter.labels, *header_values], count)
        for (version, cipher), count in list(meter.tls.items()):
            tls.add_metric([version, cipher, *meter.labels], count)
    return iter((reqs, tls, durations, req_bytes, resp_bytes))


def _go_float(value: float) -> str:
    """A bucket bound as Go's client writes ``le`` (``5``, not Python's ``5.0``)."""
    text = floatToGoString(value)
    return text[:-2] if text.endswith(".0") else text


def _server_certificates(kernel: Kernel) -> list[Certificate]:
    """Traefik's ``GetServerCertificates``: the default store's certificates and its
    configured default certificate (not the generated one)."""
    store = kernel.tls.state.stores.get(DEFAULT_STORE)
    if store is None:
        return []
    certs = list(store.certificates.values())
    default = store.peek_default()
    if (
        isinstance(default, Certificate)
        and default.common_name != DEFAULT_DOMAIN
        and default not in certs
    ):
        certs.append(default)
    return certs


def _dns_names(cert: Certificate) -> list[str]:
    from cryptography import x509

    try:
        ext = cert.leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return [str(n) for n in ext.value.get_values_for_type(x509.DNSName)]


def wrap_optional(meter: Meter | None, handler: Handler) -> Handler:
    """``handler`` counted by ``meter``, or itself when that level is off."""
    return handler if meter is None else meter.wrap(handler)
