"""The REST API served as ``api@internal`` (Traefik's ``pkg/api``).

Endpoints, under ``api.basePath``, all ``GET``:

* ``/api/rawdata``, ``/api/overview``, ``/api/version``;
* ``/api/entrypoints[/{name}]``;
* ``/api/http/{routers,services,middlewares}[/{name}]``,
  ``/api/tcp/{routers,services,middlewares}[/{name}]``,
  ``/api/udp/{routers,services}[/{name}]``;
* ``/api/plugins`` (edgeway's own: the loaded plugins).

Behaviour follows Traefik's handlers: lists are filtered (``search``,
``status``, ``serviceName``, ``middlewareName``), sorted (``sortBy``,
``direction``) and paged (``page``, ``per_page``, ``X-Next-Page``); names in
paths are URL-encoded (``app%40file``); an unknown name is a 404 and a bad page
a 400, both with Go's ``http.Error`` body ``{"message":"..."}``; an unknown path
is Go's ``404 page not found``; another method than ``GET`` on a known path is
an empty 405 (gorilla/mux). JSON is written as Go's encoder writes it (compact,
``<``, ``>`` and ``&`` escaped, one trailing newline).

With ``api.dashboard`` (the default) it also serves the dashboard under
``{basePath}/dashboard/`` (:func:`edgeway.dashboard.api_routes`).

Not served (yet): ``/api/certificates``, ``/api/support-dump`` and the
``api.debug`` endpoints. Credentials are redacted, see :mod:`edgeway.api.redact`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

import edgeway
from edgeway.api import serialize
from edgeway.api.redact import redact_middleware, redact_service
from edgeway.config.durations import format_duration
from edgeway.dashboard import api_routes
from edgeway.http.message import Handler, Headers, Request, Response
from edgeway.pipeline.runtime import DISABLED, WARNING, Info, RuntimeConfiguration

if TYPE_CHECKING:
    from edgeway.kernel import Kernel

__all__ = ["api_handler"]

CODENAME = "edgeway"
NEXT_PAGE_HEADER = b"X-Next-Page"
DEFAULT_PER_PAGE = 100
_INT64_MAX = (1 << 63) - 1
_INT64_MIN = -(1 << 63)

# --------------------------------------------------------------------------- JSON as Go writes it

_GO_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def go_json(value: Any) -> bytes:
    """``json.Marshal``: compact, UTF-8, HTML characters escaped."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.translate(_GO_ESCAPES).encode("utf-8", "replace")


def _json_response(value: Any, headers: Headers | None = None) -> Response:
    """``json.NewEncoder(rw).Encode(value)`` after ``Content-Type: application/json``."""
    h = headers if headers is not None else Headers()
    h.set(b"Content-Type", b"application/json")
    return Response(200, h, go_json(value) + b"\n")


def _error(message: str, status: int) -> Response:
    """Traefik's ``writeError``: ``http.Error`` with a JSON body (so ``text/plain``)."""
    return Response.text(status, go_json({"message": message}).decode())


def _not_found() -> Response:
    return Response.text(404, "404 page not found")


class _BadRequest(Exception):
    pass


# --------------------------------------------------------------------------- query parameters


def _param(args: dict[str, list[str]], key: str) -> str:
    """``url.Values.Get``: the first value or ``""``."""
    values = args.get(key)
    return values[0] if values else ""


_INT = re.compile(r"[+-]?[0-9]+")


def _int_param(args: dict[str, list[str]], key: str, default: int) -> int:
    """Traefik's ``getIntParam`` (``strconv.Atoi``, value must be > 0)."""
    raw = _param(args, key)
    if raw == "":
        return default
    ok = _INT.fullmatch(raw) is not None
    value = int(raw) if ok else 0
    if value > _INT64_MAX or value < _INT64_MIN:  # Atoi's range error returns the bound
        value = max(_INT64_MIN, min(_INT64_MAX, value))
        ok = False
    if not ok or value <= 0:
        raise _BadRequest(f"invalid request: {key}: {value}")
    return value


def _page(args: dict[str, list[str]], total: int) -> tuple[int, int, int]:
    """Traefik's ``pagination``: (start, end, next page)."""
    per_page = _int_param(args, "per_page", DEFAULT_PER_PAGE)
    page = _int_param(args, "page", 1)
    start = (page - 1) * per_page
    if start != 0 and start >= total:
        raise _BadRequest(f"invalid request: page: {page}, per_page: {per_page}")
    end = min(start + per_page, total)
    next_page = page + 1 if page * per_page < total else 1
    return start, end, next_page


@dataclass(frozen=True)
class _Criterion:
    """Traefik's ``searchCriterion``."""

    search: str
    status: str
    service_name: str
    middleware_name: str

    @classmethod
    def from_args(cls, args: dict[str, list[str]]) -> _Criterion | None:
        c = cls(
            _param(args, "search"),
            _param(args, "status"),
            _param(args, "serviceName"),
            _param(args, "middlewareName"),
        )
        return c if (c.search or c.status or c.service_name or c.middleware_name) else None

    def with_status(self, status: str) -> bool:
        return not self.status or status.lower() == self.status.lower()

    def search_in(self, *values: str) -> bool:
        if not self.search:
            return True
        needle = self.search.lower()
        return any(needle in v.lower() for v in values)

    def filter_service(self, name: str) -> bool:
        if not self.service_name:
            return True
        if "@" in name:
            return self.service_name == name
        return self.service_name.partition("@")[0] == name

    def filter_middleware(self, names: list[str]) -> bool:
        return not self.middleware_name or self.middleware_name in names


# --------------------------------------------------------------------------- representations


def _provider_of(name: str, info: Info) -> str:
    """Traefik's ``getProviderName``: what follows the first ``@``."""
    _, at, provider = name.partition("@")
    return provider if at else info.provider


def _type_of(config: Any) -> str:
    """Traefik's ``extractType``, lower-cased: the first kind set, or the plugin's name."""
    if not isinstance(config, BaseModel):
        return ""
    for name, field in type(config).model_fields.items():
        value = getattr(config, name)
        key = field.alias or name
        if key == "plugin" and isinstance(value, dict):
            if len(value) == 1:
                return str(next(iter(value))).lower()
        elif isinstance(value, BaseModel):
            return key.lower()
    return ""


def _priority(info: Info) -> int:
    return getattr(info, "priority", 0) or getattr(info.config, "priority", None) or 0


def _router(
    name: str, info: Info, *, http: bool = False, with_priority: bool = True
) -> dict[str, Any]:
    out = serialize.router_json(info)  # type: ignore[arg-type]
    tls = out.get("tls")
    if http and isinstance(tls, dict) and not tls.get("options"):
        tls["options"] = "default"  # newRouterRepresentation
    out["name"] = name
    out["provider"] = _provider_of(name, info)
    if with_priority:
        out["priorityStr"] = str(_priority(info))
    return out


def _service(name: str, info: Info, *, http: bool = False) -> dict[str, Any]:
    out = serialize.service_json(info)  # type: ignore[arg-type]
    if http:
        redact_service(out)
    out["name"] = name
    out["provider"] = _provider_of(name, info)
    kind = _type_of(info.config)
    if kind:
        out["type"] = kind
    return out


def _middleware(name: str, info: Info, *, http: bool = False) -> dict[str, Any]:
    out = serialize.middleware_json(info)  # type: ignore[arg-type]
    if http:
        redact_middleware(out)
    out["name"] = name
    out["provider"] = _provider_of(name, info)
    kind = _type_of(info.config)
    if kind:
        out["type"] = kind
    return out


def _rawdata(rt: RuntimeConfiguration) -> dict[str, Any]:
    out = serialize.rawdata(rt)
    for item in out.get("services", {}).values():
        redact_service(item)
    for item in out.get("middlewares", {}).values():
        redact_middleware(item)
    return out


def _cfg(info: Info, key: str) -> Any:
    return getattr(info.config, key, None)


def _servers_count(info: Info) -> int:
    lb = _cfg(info, "loadBalancer")
    return len(getattr(lb, "servers", None) or []) if lb is not None else 0


Item = tuple[str, Info, dict[str, Any]]
SortKey = Callable[[Item], Any]

_ROUTER_SORT: dict[str, SortKey] = {
    "provider": lambda i: i[2]["provider"],
    "priority": lambda i: _priority(i[1]),
    "status": lambda i: i[1].status,
    "rule": lambda i: _cfg(i[1], "rule") or "",
    "service": lambda i: _cfg(i[1], "service") or "",
    "entryPoints": lambda i: len(_cfg(i[1], "entryPoints") or []),
}
_UDP_ROUTER_SORT: dict[str, SortKey] = {
    **_ROUTER_SORT,
    "priority": lambda i: 0,
    "rule": lambda i: "",
}
_SERVICE_SORT: dict[str, SortKey] = {
    "type": lambda i: i[2].get("type", ""),
    "servers": lambda i: _servers_count(i[1]),
    "provider": lambda i: i[2]["provider"],
    "status": lambda i: i[1].status,
}
_MIDDLEWARE_SORT: dict[str, SortKey] = {
    "type": lambda i: i[2].get("type", ""),
    "provider": lambda i: i[2]["provider"],
    "status": lambda i: i[1].status,
}


def _sort(items: list[Item], args: dict[str, list[str]], fields: dict[str, SortKey]) -> None:
    """Traefik's ``sortByFunc``/``sortByName``: by the field, then by name; any direction
    other than ``asc`` (the default) sorts descending."""
    direction = _param(args, "direction") or "asc"
    key = fields.get(_param(args, "sortBy"))
    if key is None:
        items.sort(key=lambda i: i[0], reverse=direction != "asc")
    else:
        items.sort(key=lambda i: (key(i), i[0]), reverse=direction != "asc")


def _keep_router(name: str, info: Info, c: _Criterion) -> bool:
    return (
        c.with_status(info.status)
        and c.search_in(_cfg(info, "rule") or "", name)
        and c.filter_service(_cfg(info, "service") or "")
        and c.filter_middleware(list(_cfg(info, "middlewares") or []))
    )


def _keep_udp_router(name: str, info: Info, c: _Criterion) -> bool:
    return (
        c.with_status(info.status)
        and c.search_in(name)
        and c.filter_service(_cfg(info, "service") or "")
    )


def _keep_named(name: str, info: Info, c: _Criterion) -> bool:
    return c.with_status(info.status) and c.search_in(name)


@dataclass(frozen=True)
class _Kind:
    """One ``/api/<protocol>/<kind>`` collection."""

    table: str  # attribute of RuntimeConfiguration
    what: str  # "router", "service", "middleware" (for "... not found")
    id_name: str  # the gorilla/mux variable, for "unable to decode ..."
    represent: Callable[[str, Info], dict[str, Any]]
    keep: Callable[[str, Info, _Criterion], bool]
    sort_fields: dict[str, SortKey]


_KINDS: dict[tuple[str, str], _Kind] = {
    ("http", "routers"): _Kind(
        "routers", "router", "routerID", lambda n, i: _router(n, i, http=True), _keep_router, _ROUTER_SORT
    ),
    ("http", "services"): _Kind(
        "services", "service", "serviceID", lambda n, i: _service(n, i, http=True), _keep_named, _SERVICE_SORT
    ),
    ("http", "middlewares"): _Kind(
        "middlewares", "middleware", "middlewareID", lambda n, i: _middleware(n, i, http=True),
        _keep_named, _MIDDLEWARE_SORT,
    ),
    ("tcp", "routers"): _Kind("tcp_routers", "router", "routerID", _router, _keep_router, _ROUTER_SORT),
    ("tcp", "services"): _Kind("tcp_services", "service", "serviceID", _service, _keep_named, _SERVICE_SORT),
    ("tcp", "middlewares"): _Kind(
        "tcp_middlewares", "middleware", "middlewareID", _middleware, _keep_named, _MIDDLEWARE_SORT
    ),
    ("udp", "routers"): _Kind(
        "udp_routers", "router", "routerID", lambda n, i: _router(n, i, with_priority=False),
        _keep_udp_router, _UDP_ROUTER_SORT,
    ),
    ("udp", "services"): _Kind("udp_services", "service", "serviceID", _service, _keep_named, _SERVICE_SORT),
}  # fmt: skip


# --------------------------------------------------------------------------- static information


def _entrypoint(name: str, ep: Any) -> dict[str, Any]:
    """A static entry point as Traefik marshals ``static.EntryPoint`` (with its defaults)."""

    def durations(**values: float) -> dict[str, str]:
        return {k: format_duration(v) for k, v in values.items() if v}

    t = ep.transport
    transport: dict[str, Any] = {
        "lifeCycle": durations(
            requestAcceptGraceTimeout=t.lifeCycle.requestAcceptGraceTimeout,
            graceTimeOut=t.lifeCycle.graceTimeOut,
        ),
        "respondingTimeouts": durations(
            readTimeout=t.respondingTimeouts.readTimeout,
            writeTimeout=t.respondingTimeouts.writeTimeout,
            idleTimeout=t.respondingTimeouts.idleTimeout,
        ),
        **durations(keepAliveMaxTime=t.keepAliveMaxTime),
    }
    if t.keepAliveMaxRequests:
        transport["keepAliveMaxRequests"] = t.keepAliveMaxRequests
    fh = ep.forwardedHeaders
    forwarded: dict[str, Any] = {}
    if fh.insecure:
        forwarded["insecure"] = True
    if fh.trustedIPs:
        forwarded["trustedIPs"] = list(fh.trustedIPs)
    if fh.connection:
        forwarded["connection"] = list(fh.connection)
    h = ep.http
    http: dict[str, Any] = {}
    if h.middlewares:
        http["middlewares"] = list(h.middlewares)
    if h.encodeQuerySemicolons:
        http["encodeQuerySemicolons"] = True
    http["sanitizePath"] = h.sanitizePath
    if h.maxHeaderBytes:
        http["maxHeaderBytes"] = h.maxHeaderBytes
    http["underscoreHeadersStrategy"] = "keep"
    out: dict[str, Any] = {"address": ep.address}
    if ep.reusePort:
        out["reusePort"] = True
    if ep.asDefault:
        out["asDefault"] = True
    out["transport"] = transport
    out["forwardedHeaders"] = forwarded
    out["http"] = http
    # Traefik's defaults for settings edgeway does not expose (HTTP/2 limits, UDP sessions).
    out["http2"] = {
        "maxConcurrentStreams": 250,
        "maxDecoderHeaderTableSize": 4096,
        "maxEncoderHeaderTableSize": 4096,
    }
    out["udp"] = {"timeout": "3s"}
    out["name"] = name
    return out


#: ``static.Providers`` field names, in struct order: what ``/api/overview`` lists.
_PROVIDER_NAMES = {
    "docker": "Docker",
    "swarm": "Swarm",
    "file": "File",
    "kubernetesIngress": "KubernetesIngress",
    "kubernetesIngressNGINX": "KubernetesIngressNGINX",
    "kubernetesCRD": "KubernetesCRD",
    "kubernetesGateway": "KubernetesGateway",
    "knative": "Knative",
    "rest": "Rest",
    "consulCatalog": "ConsulCatalog",
    "nomad": "Nomad",
    "ecs": "Ecs",
    "consul": "Consul",
    "etcd": "Etcd",
    "zooKeeper": "ZooKeeper",
    "redis": "Redis",
    "http": "HTTP",
}


def _providers(static: Any) -> list[str]:
    """Traefik's ``getProviders``: configured provider sections by Go field name.

    Provider types from edgeway plugins that Traefik does not know follow, their
    key capitalised the same way.
    """
    keys = list(static.providers.enabled())
    order = list(_PROVIDER_NAMES)
    known = sorted((k for k in keys if k in _PROVIDER_NAMES), key=order.index)
    others = [k for k in keys if k not in _PROVIDER_NAMES]
    return [_PROVIDER_NAMES[k] for k in known] + [k[:1].upper() + k[1:] for k in others]


def _section(table: Mapping[str, Info]) -> dict[str, int]:
    statuses = [i.status for i in table.values()]
    return {
        "total": len(statuses),
        "warnings": statuses.count(WARNING),
        "errors": statuses.count(DISABLED),
    }


def _overview(rt: RuntimeConfiguration, static: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "http": {
            "routers": _section(rt.routers),
            "services": _section(rt.services),
            "middlewares": _section(rt.middlewares),
        },
        "tcp": {
            "routers": _section(rt.tcp_routers),
            "services": _section(rt.tcp_services),
            "middlewares": _section(rt.tcp_middlewares),
        },
        "udp": {"routers": _section(rt.udp_routers), "services": _section(rt.udp_services)},
        # edgeway has no tracing nor metrics (yet).
        "features": {"tracing": "OTLP" if getattr(static, "tracing", None) is not None else "", "metrics": "", "accessLog": getattr(static, "accessLog", None) is not None},
    }
    providers = _providers(static)
    if providers:
        out["providers"] = providers
    return out


def go_time(timestamp: float) -> str:
    """A Unix time as Go marshals a local ``time.Time`` (RFC 3339, nanoseconds trimmed)."""
    dt = datetime.fromtimestamp(timestamp).astimezone()
    frac = f".{dt.microsecond:06d}".rstrip("0").rstrip(".")
    offset = dt.strftime("%z")
    zone = "Z" if offset in ("+0000", "-0000", "") else f"{offset[:3]}:{offset[3:]}"
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + frac + zone


# --------------------------------------------------------------------------- routing


def _clean_path(path: str) -> str:
    """gorilla/mux's ``cleanPath`` (Go's ``path.Clean``, trailing slash kept)."""
    if not path:
        return "/"
    if path[0] != "/":
        path = "/" + path
    parts: list[str] = []
    for seg in path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if parts:
                parts.pop()
            continue
        parts.append(seg)
    cleaned = "/" + "/".join(parts)
    if path.endswith("/") and cleaned != "/":
        cleaned += "/"
    return cleaned


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _unescape(escaped: str) -> str:
    """Go's ``url.PathUnescape``; raises ValueError with Go's message."""
    bad = _BAD_ESCAPE.search(escaped)
    if bad is not None:
        text = escaped[bad.start() : bad.start() + 3]
        raise ValueError(f"invalid URL escape {json.dumps(text, ensure_ascii=False)}")
    if "%" not in escaped:
        return escaped
    out = bytearray()
    i = 0
    while i < len(escaped):
        if escaped[i] == "%":
            out.append(int(escaped[i + 1 : i + 3], 16))
            i += 3
        else:
            j = escaped.find("%", i)
            j = len(escaped) if j < 0 else j
            out += escaped[i:j].encode()
            i = j
    return out.decode("utf-8", "replace")


def _decode_id(escaped: str, id_name: str) -> tuple[str | None, Response | None]:
    try:
        return _unescape(escaped), None
    except ValueError as exc:
        quoted = json.dumps(escaped, ensure_ascii=False)
        return None, _error(f"unable to decode {id_name} {quoted}: {exc}", 400)


def api_handler(kernel: Kernel) -> Handler:
    """The handler of ``api@internal`` for ``kernel`` (reads its live runtime per request)."""
    api = getattr(kernel.static, "api", None)
    base_path = api.basePath if api is not None else "/"
    prefix = base_path.rstrip("/") + "/api/"
    dashboard = api_routes(base_path) if api is not None and api.dashboard else None

    def paged(req: Request, items: list[dict[str, Any]]) -> Response:
        try:
            start, end, next_page = _page(req.query_args(), len(items))
        except _BadRequest as exc:
            return _error(str(exc), 400)
        headers = Headers([(NEXT_PAGE_HEADER, str(next_page).encode())])
        return _json_response(items[start:end], headers)

    def collection(req: Request, rt: RuntimeConfiguration, kind: _Kind) -> Response:
        args = req.query_args()
        criterion = _Criterion.from_args(args)
        table: dict[str, Info] = getattr(rt, kind.table)
        items: list[Item] = [
            (name, info, kind.represent(name, info))
            for name, info in table.items()
            if criterion is None or kind.keep(name, info, criterion)
        ]
        _sort(items, args, kind.sort_fields)
        return paged(req, [rep for _, _, rep in items])

    def one(rt: RuntimeConfiguration, kind: _Kind, escaped: str) -> Response:
        name, err = _decode_id(escaped, kind.id_name)
        if err is not None or name is None:
            return err or _not_found()
        info = getattr(rt, kind.table).get(name)
        if info is None:
            return _error(f"{kind.what} not found: {name}", 404)
        return _json_response(kind.represent(name, info))

    def entrypoints(req: Request) -> Response:
        eps = kernel.static.entryPoints
        return paged(req, [_entrypoint(name, eps[name]) for name in sorted(eps)])

    def entrypoint(escaped: str) -> Response:
        name, err = _decode_id(escaped, "entryPointID")
        if err is not None or name is None:
            return err or _not_found()
        ep = kernel.static.entryPoints.get(name)
        if ep is None:
            return _error(f"entry point not found: {name}", 404)
        return _json_response(_entrypoint(name, ep))

    def version() -> Response:
        body = {
            "Version": edgeway.__version__,
            "Codename": CODENAME,
            "startDate": go_time(kernel.state.start_time),
        }
        h = Headers([(b"Content-Type", b"application/json; charset=UTF-8")])
        return Response(200, h, go_json(body))  # unrolled/render: no trailing newline

    def plugins() -> Response:
        return _json_response([asdict(info) for info in kernel.plugins.infos])

    def route(req: Request, parts: list[str]) -> Callable[[], Response] | None:
        """The endpoint for the path segments after ``/api/``, or None (404)."""
        rt = kernel.state.runtime
        match parts:
            case ["rawdata"]:
                return lambda: _json_response(_rawdata(rt))
            case ["overview"]:
                return lambda: _json_response(_overview(rt, kernel.static))
            case ["version"]:
                return version
            case ["plugins"]:
                return plugins
            case ["entrypoints"]:
                return lambda: entrypoints(req)
            case ["entrypoints", name] if name:
                return lambda: entrypoint(name)
            case [proto, what] if (proto, what) in _KINDS:
                return lambda: collection(req, rt, _KINDS[proto, what])
            case [proto, what, name] if (proto, what) in _KINDS and name:
                return lambda: one(rt, _KINDS[proto, what], name)
        return None

    async def handler(req: Request) -> Response:
        path = req.raw_path
        if req.method != "CONNECT":
            cleaned = _clean_path(path)
            if cleaned != path:
                location = cleaned + (f"?{req.query}" if req.query else "")
                return Response(301, Headers([(b"Location", location.encode())]))
        if dashboard is not None and (page := dashboard(req)) is not None:
            return page
        if not path.startswith(prefix):
            return _not_found()
        endpoint = route(req, path[len(prefix) :].split("/"))
        if endpoint is None:
            return _not_found()
        if req.method != "GET":
            return Response(405)
        return endpoint()

    return handler
