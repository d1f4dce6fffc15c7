"""A Kubernetes API server on loopback for tests: the official client talks to it over HTTP.

:class:`FakeAPIServer` keeps objects in memory (from YAML manifests or created
through the API) with real ``resourceVersion`` semantics: every write gets the
next version and is recorded as a watch event; a watch from an old version
replays what happened since; a version older than the kept history
(:meth:`FakeAPIServer.compact`) gets 410 Gone. It speaks discovery (``/api``,
``/apis``, group versions, ``/version``), list, get, watch (ADDED, MODIFIED,
DELETED, BOOKMARK with ``allowWatchBookmarks``), create, update, merge-patch,
delete and the ``status`` subresource, for the kinds the Ingress and CRD
providers read (:data:`DEFAULT_RESOURCES`; pass ``resources`` for others).

Faults for resilience tests: :meth:`~FakeAPIServer.drop_watches`,
:meth:`~FakeAPIServer.refuse_connections` / :meth:`~FakeAPIServer.accept_connections`,
:meth:`~FakeAPIServer.fail_requests`, :meth:`~FakeAPIServer.forbid`.

It serves from threads (one per connection), so synchronous and async tests
use it alike; every method is thread-safe. See ``docs/kubernetes-testing.md``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import select
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from edgeway_kubernetes.manifests import parse_manifests
from edgeway_kubernetes.selectors import parse_label_selector

__all__ = ["DEFAULT_RESOURCES", "FakeAPIServer", "Resource", "merge_patch"]

Obj = dict[str, Any]


@dataclass(frozen=True)
class Resource:
    """A served resource: ``group`` ("" for core), ``version``, ``plural``, ``kind``."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    status: bool = False

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def prefix(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"


_TRAEFIK_KINDS = (
    "IngressRoute", "IngressRouteTCP", "IngressRouteUDP", "Middleware", "MiddlewareTCP",
    "TLSOption", "TLSStore", "TraefikService", "ServersTransport", "ServersTransportTCP",
)  # fmt: skip

#: What the server speaks by default: the kinds both Kubernetes providers read.
DEFAULT_RESOURCES: tuple[Resource, ...] = (
    Resource("", "v1", "namespaces", "Namespace", namespaced=False, status=True),
    Resource("", "v1", "services", "Service", status=True),
    Resource("", "v1", "secrets", "Secret"),
    Resource("", "v1", "configmaps", "ConfigMap"),
    Resource("", "v1", "nodes", "Node", namespaced=False, status=True),
    Resource("networking.k8s.io", "v1", "ingresses", "Ingress", status=True),
    Resource("networking.k8s.io", "v1", "ingressclasses", "IngressClass", namespaced=False),
    Resource("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
    *(Resource("traefik.io", "v1alpha1", k.lower() + "s", k, status=True) for k in _TRAEFIK_KINDS),
)

_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (``null`` deletes a key)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _status(code: int, reason: str, message: str) -> Obj:
    return {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code,
    }  # fmt: skip


class _Gone(Exception):
    pass


class _Watch:
    """An open watch stream (so faults can cut it)."""

    def __init__(self, conn: socket.socket, bookmarks: bool) -> None:
        self.conn = conn
        self.bookmarks = bookmarks
        self.dropped = False
        self.bookmark_due = False


class FakeAPIServer:
    """The API server; use as a context manager or call :meth:`start` / :meth:`stop`.

    ``manifests`` (YAML text or objects) are loaded before it starts. ``token``:
    requests must carry ``Authorization: Bearer <token>`` (else 401).
    ``ssl_context``: serve HTTPS. ``endpoint_slice_versions``: which
    ``discovery.k8s.io`` versions are served (``("v1beta1",)`` imitates 1.19-1.20).
    """

    def __init__(
        self,
        manifests: str | Iterable[Mapping[str, Any]] = (),
        *,
        resources: Iterable[Resource] = DEFAULT_RESOURCES,
        token: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        endpoint_slice_versions: tuple[str, ...] = ("v1",),
        host: str = "127.0.0.1",
    ) -> None:
        served: list[Resource] = []
        for r in resources:
            if r.kind == "EndpointSlice" and r.group == "discovery.k8s.io":
                served.extend(Resource(r.group, v, r.plural, r.kind) for v in endpoint_slice_versions)
            else:
                served.append(r)
        self.resources = tuple(served)
        self.token = token
        self.ssl_context = ssl_context
        self.host = host
        self.port = 0
        #: Every request as ``(method, path with query)``, in order.
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Condition()
        self._objects: dict[tuple[str, str, str], Obj] = {}  # (kind, ns, name) -> object
        self._events: list[tuple[int, str, Obj]] = []  # (rv, type, object)
        self._rv = 0
        self._oldest = 0  # watches from versions below this get 410 Gone
        self._watches: set[_Watch] = set()
        self._connections: set[socket.socket] = set()
        self._failure: tuple[int, int | None] | None = None  # (status, remaining)
        self._forbidden: set[tuple[str, str]] = set()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        objs = parse_manifests(manifests) if isinstance(manifests, str) else manifests
        for obj in objs:
            self.apply(obj)

    # -- lifecycle ---------------------------------------------------------------

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def start(self) -> FakeAPIServer:
        server = self

        class Handler(_Handler):
            api = server

        httpd = ThreadingHTTPServer((self.host, self.port), Handler)
        httpd.daemon_threads = True
        if self.ssl_context is not None:
            httpd.socket = self.ssl_context.wrap_socket(httpd.socket, server_side=True)
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut every open connection."""
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        with self._lock:
            conns = list(self._connections)
            self._lock.notify_all()
        for conn in conns:
            _cut(conn)

    def __enter__(self) -> FakeAPIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults --------------------------------------------------------------------

    def drop_watches(self) -> None:
        """Cut every open watch connection abruptly (clients should resume)."""
        with self._lock:
            watches = list(self._watches)
            for w in watches:
                w.dropped = True
            self._lock.notify_all()
        for w in watches:
            _cut(w.conn)

    def refuse_connections(self) -> None:
        """Stop listening (connections are refused) and cut open ones; objects are kept."""
        self.stop()

    def accept_connections(self) -> None:
        """Listen again on the same port."""
        if self._httpd is None:
            self.start()

    def fail_requests(self, status: int = 500, count: int | None = None) -> None:
        """Answer the next ``count`` requests (all while None) with ``status``."""
        with self._lock:
            self._failure = (status, count)

    def heal(self) -> None:
        """Undo :meth:`fail_requests` and :meth:`forbid`."""
        with self._lock:
            self._failure = None
            self._forbidden.clear()

    def forbid(self, verb: str, plural: str) -> None:
        """Answer 403 to ``verb`` (list, watch, patch...) on resource ``plural``, as RBAC does."""
        with self._lock:
            self._forbidden.add((verb, plural))

    def compact(self) -> None:
        """Forget the event history: watches from older versions get 410 Gone."""
        with self._lock:
            self._events.clear()
            self._oldest = self._rv + 1

    def send_bookmarks(self) -> None:
        """Make every watch that asked for bookmarks send one with the current version."""
        with self._lock:
            for w in self._watches:
                w.bookmark_due = w.bookmarks
            self._lock.notify_all()

    # -- objects -------------------------------------------------------------------

    @property
    def open_watches(self) -> int:
        """How many watch streams are open now."""
        with self._lock:
            return len(self._watches)

    @property
    def resource_version(self) -> int:
        return self._rv

    def resource(self, kind: str) -> Resource:
        for r in self.resources:
            if r.kind == kind:
                return r
        raise KeyError(f"the test API server does not serve kind {kind!r}")

    def apply(self, obj: Mapping[str, Any] | str) -> Obj:
        """Create or replace an object (YAML text or a mapping); returns what is stored."""
        if isinstance(obj, str):
            return [self.apply(o) for o in parse_manifests(obj)][-1]
        res = self.resource(str(obj.get("kind")))
        meta = obj.get("metadata") or {}
        ns = str(meta.get("namespace") or "default") if res.namespaced else ""
        with self._lock:
            old = self._objects.get((res.kind, ns, str(meta.get("name") or "")))
            return self._write(res, ns, dict(obj), old)

    def delete(self, kind: str, namespace: str, name: str) -> Obj | None:
        res = self.resource(kind)
        with self._lock:
            return self._delete(res, namespace if res.namespaced else "", name)

    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        with self._lock:
            obj = self._objects.get((kind, namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def objects(self, kind: str) -> list[Obj]:
        with self._lock:
            return [copy.deepcopy(o) for (k, _, _), o in self._objects.items() if k == kind]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Block until ``predicate()`` (checked after every write) holds; TimeoutError after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("condition not reached on the test API server")
                self._lock.wait(min(left, 0.05))

    def _write(self, res: Resource, ns: str, obj: Obj, old: Obj | None, *, event: str | None = None) -> Obj:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            raise ValueError(f"{res.kind}: metadata.name is required")
        obj["apiVersion"], obj["kind"] = res.group_version, res.kind
        if res.namespaced:
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        self._rv += 1
        meta["resourceVersion"] = str(self._rv)
        if old is None:
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            meta["generation"] = 1
        else:
            old_meta = old["metadata"]
            meta["uid"], meta["creationTimestamp"] = old_meta.get("uid"), old_meta.get("creationTimestamp")
            meta["generation"] = int(old_meta.get("generation") or 1) + (obj.get("spec") != old.get("spec"))
        self._objects[(res.kind, ns, meta["name"])] = obj
        self._events.append((self._rv, event or ("ADDED" if old is None else "MODIFIED"), obj))
        self._lock.notify_all()
        return copy.deepcopy(obj)

    def _delete(self, res: Resource, ns: str, name: str) -> Obj | None:
        obj = self._objects.pop((res.kind, ns, name), None)
        if obj is None:
            return None
        self._rv += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self._rv)
        self._events.append((self._rv, "DELETED", obj))
        self._lock.notify_all()
        return obj

    def _select(self, res: Resource, ns: str | None, selector: str) -> Callable[[Obj], bool]:
        sel = parse_label_selector(selector)

        def match(obj: Obj) -> bool:
            meta = obj.get("metadata") or {}
            return (
                obj.get("kind") == res.kind
                and (ns is None or meta.get("namespace") == ns)
                and sel.matches(meta.get("labels") or {})
            )

        return match

    def _watch_events(
        self, res: Resource, ns: str | None, selector: str, since: str, deadline: float, watch: _Watch
    ) -> Iterator[tuple[str, Obj]]:
        """Events after version ``since`` until the deadline or a fault; 410 via :class:`_Gone`."""
        match = self._select(res, ns, selector)
        with self._lock:
            if since in ("", "0"):
                pos = self._rv
                initial = [o for o in self._objects.values() if match(o)]
            else:
                pos = int(since)
                if pos + 1 < self._oldest:
                    raise _Gone(f"too old resource version: {pos} ({self._oldest - 1})")
                initial = []
        for obj in initial:
            yield "ADDED", copy.deepcopy(obj)
        while True:
            with self._lock:
                while True:
                    if watch.dropped or self._httpd is None or time.monotonic() >= deadline:
                        return
                    if _hung_up(watch.conn):  # the client went away
                        return
                    pending = [(rv, t, o) for rv, t, o in self._events if rv > pos]
                    if pending or watch.bookmark_due:
                        break
                    self._lock.wait(min(0.5, max(deadline - time.monotonic(), 0.0)))
                bookmark, watch.bookmark_due = watch.bookmark_due, False
                rv_now = self._rv
            for rv, kind, obj in pending:
                pos = rv
                if match(obj):
                    yield kind, copy.deepcopy(obj)
            if bookmark:
                pos = max(pos, rv_now)
                yield "BOOKMARK", {
                    "kind": res.kind, "apiVersion": res.group_version,
                    "metadata": {"resourceVersion": str(rv_now)},
                }  # fmt: skip


def _hung_up(conn: socket.socket) -> bool:
    """Whether the peer closed the connection (a watch client only ever reads)."""
    try:
        if not select.select([conn], [], [], 0)[0]:
            return False
        return socket.socket.recv(conn, 1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


def _cut(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    api: FakeAPIServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def setup(self) -> None:
        super().setup()
        with self.api._lock:
            self.api._connections.add(self.connection)

    def finish(self) -> None:
        with self.api._lock:
            self.api._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    # -- plumbing ------------------------------------------------------------------

    def _send_json(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, code: int, reason: str, message: str) -> None:
        self._send_json(code, _status(code, reason, message))

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else None

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        api = self.api
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        with api._lock:
            api.requests.append((method, self.path))
            failure = api._failure
            if failure is not None:
                status, left = failure
                if left is not None:
                    api._failure = (status, left - 1) if left > 1 else None
        scheme, _, credentials = (self.headers.get("Authorization") or "").partition(" ")
        if api.token is not None and (scheme.lower() != "bearer" or credentials != api.token):
            self._error(401, "Unauthorized", "Unauthorized")
            return
        if failure is not None:
            self._error(failure[0], "InternalError", "injected failure")
            return
        try:
            self._route(method, url.path.rstrip("/") or "/", query)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True
        except (ValueError, KeyError) as exc:
            self._error(400, "BadRequest", str(exc))

    def _route(self, method: str, path: str, query: dict[str, str]) -> None:
        api = self.api
        if path == "/version":
            self._send_json(200, {"major": "1", "minor": "30", "gitVersion": "v1.30.0-edgeway-testing"})
            return
        if path == "/api":
            self._send_json(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
            return
        if path == "/apis":
            self._send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": self._groups()})
            return
        parts = path.strip("/").split("/")
        if parts[0] == "apis" and len(parts) == 2:
            group = [g for g in self._groups() if g["name"] == parts[1]]
            if group:
                self._send_json(200, {"kind": "APIGroup", "apiVersion": "v1", **group[0]})
            else:
                self._error(404, "NotFound", "the server could not find the requested resource")
            return
        gv_len = 2 if parts[0] == "api" else 3
        gv = "/".join(parts[1:gv_len])
        served = [r for r in api.resources if r.group_version == gv and parts[0] == ("apis" if r.group else "api")]
        rest = parts[gv_len:]
        if not served:
            self._error(404, "NotFound", "the server could not find the requested resource")
            return
        if not rest:
            self._send_json(200, self._resource_list(gv, served))
            return
        ns: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            ns, rest = rest[1], rest[2:]
        res = next((r for r in served if r.plural == rest[0]), None)
        if res is None or (ns is not None and not res.namespaced) or len(rest) > 3:
            self._error(404, "NotFound", "the server could not find the requested resource")
            return
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub not in (None, "status") or (sub == "status" and not res.status):
            self._error(404, "NotFound", "the server could not find the requested resource")
            return
        watching = query.get("watch") in ("true", "1")
        verb = {"GET": "watch" if watching else ("get" if name else "list"), "POST": "create", "PUT": "update",
                "PATCH": "patch", "DELETE": "delete"}[method]  # fmt: skip
        if (verb, res.plural) in api._forbidden:
            scope = f'in the namespace "{ns}"' if ns else "at the cluster scope"
            api_group = res.group
            who = res.plural + (f".{api_group}" if api_group else "") + (f' "{name}"' if name else "")
            self._error(
                403, "Forbidden",
                f'{who} is forbidden: User "system:anonymous" cannot {verb} resource "{res.plural}" '
                f'in API group "{api_group}" {scope}',
            )  # fmt: skip
            return
        if name is None:
            if method == "GET" and watching:
                self._watch(res, ns, query)
            elif method == "GET":
                self._list(res, ns, query)
            elif method == "POST" and ns is not None or (method == "POST" and not res.namespaced):
                self._create(res, ns or "")
            else:
                self._error(405, "MethodNotAllowed", f"{method} is not allowed here")
            return
        key = (res.kind, ns or "", name)
        with api._lock:
            current = api._objects.get(key)
            if current is None:
                found = None
            elif method == "GET":
                found = copy.deepcopy(current)
            elif method == "DELETE":
                found = api._delete(res, ns or "", name)
            else:
                found = self._update(res, ns or "", current, method, sub)
                if isinstance(found, tuple):
                    self._error(*found)
                    return
        if found is None:
            label = f"{res.plural}.{res.group}" if res.group else res.plural
            self._error(404, "NotFound", f'{label} "{name}" not found')
        else:
            self._send_json(200, found)

    def _update(self, res: Resource, ns: str, current: Obj, method: str, sub: str | None) -> Any:
        body = self._body()
        if method == "PATCH":
            content_type = (self.headers.get("Content-Type") or "").split(";")[0]
            if content_type == "application/json-patch+json":
                return (415, "UnsupportedMediaType", "the test API server speaks merge patches only")
            new = merge_patch(current, body)
        else:
            new = body
            wanted_rv = str((body.get("metadata") or {}).get("resourceVersion") or "")
            if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
                return (409, "Conflict", "the object has been modified; please apply your changes to the latest version")
        if not isinstance(new, dict):
            return (400, "BadRequest", "expected an object")
        if res.status:  # the main resource ignores status, the subresource everything else
            if sub == "status":
                new = {**current, "status": new.get("status")}
            else:
                new = {**new, "status": current.get("status")}
            new = {k: v for k, v in new.items() if v is not None}
        new["metadata"] = {**(new.get("metadata") or {}), "name": current["metadata"]["name"]}
        return self.api._write(res, ns, new, current)

    def _create(self, res: Resource, ns: str) -> None:
        body = self._body()
        name = str(((body or {}).get("metadata") or {}).get("name") or "")
        with self.api._lock:
            if (res.kind, ns, name) in self.api._objects:
                self._error(409, "AlreadyExists", f'{res.plural} "{name}" already exists')
                return
            created = self.api._write(res, ns, body, None)
        self._send_json(201, created)

    def _list(self, res: Resource, ns: str | None, query: dict[str, str]) -> None:
        match = self.api._select(res, ns, query.get("labelSelector", ""))
        with self.api._lock:
            items = [copy.deepcopy(o) for o in self.api._objects.values() if match(o)]
            rv = self.api._rv
        for item in items:  # list items carry no kind/apiVersion, as on a real server
            item.pop("kind", None)
            item.pop("apiVersion", None)
        self._send_json(200, {
            "kind": f"{res.kind}List", "apiVersion": res.group_version,
            "metadata": {"resourceVersion": str(rv)}, "items": items,
        })  # fmt: skip

    def _watch(self, res: Resource, ns: str | None, query: dict[str, str]) -> None:
        api = self.api
        timeout = float(query.get("timeoutSeconds") or 1800)
        watch = _Watch(self.connection, query.get("allowWatchBookmarks") in ("true", "1"))
        events = api._watch_events(
            res, ns, query.get("labelSelector", ""), query.get("resourceVersion", ""),
            time.monotonic() + timeout, watch,
        )  # fmt: skip
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        with api._lock:
            api._watches.add(watch)
        try:
            try:
                for kind, obj in events:
                    self._chunk({"type": kind, "object": obj})
            except _Gone as exc:
                self._chunk({"type": "ERROR", "object": _status(410, "Expired", str(exc))})
            if not watch.dropped:
                self.wfile.write(b"0\r\n\r\n")
        finally:
            with api._lock:
                api._watches.discard(watch)
                api._lock.notify_all()
        self.close_connection = True

    def _chunk(self, event: Obj) -> None:
        data = json.dumps(event).encode() + b"\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _groups(self) -> list[Obj]:
        groups: dict[str, list[str]] = {}
        for r in self.api.resources:
            if r.group and r.version not in groups.setdefault(r.group, []):
                groups[r.group].append(r.version)
        out = []
        for group, versions in groups.items():
            gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
            out.append({"name": group, "versions": gvs, "preferredVersion": gvs[0]})
        return out

    @staticmethod
    def _resource_list(gv: str, served: list[Resource]) -> Obj:
        resources: list[Obj] = []
        for r in served:
            resources.append({"name": r.plural, "singularName": r.kind.lower(), "namespaced": r.namespaced,
                              "kind": r.kind, "verbs": _VERBS})  # fmt: skip
            if r.status:
                resources.append({"name": f"{r.plural}/status", "singularName": "", "namespaced": r.namespaced,
                                  "kind": r.kind, "verbs": ["get", "patch", "update"]})  # fmt: skip
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}
