"""The access log (static ``accessLog``), as Traefik's ``pkg/middlewares/accesslog``.

The request path only records facts it already has: the entry point wrapper
(:meth:`AccessLogger.wrap`, compiled per router whose ``observability`` keeps
access logs, see :mod:`edgeway.pipeline.compile`) puts one small dict per
request in ``req.context[KEY]``, routers and servers add to it what the format
shows (servers: only ``ServiceURL`` for the CLF formats). When the request
ends its line is made at once (``common``, ``genericCLF`` or ``json`` with
Traefik's field names, filters and field modes applied): with the default
fields (all core fields kept, and for JSON no header fields) straight from the
facts, without a fields dict (the same bytes: ``_json_line``, ``_clf_line``).
Lines gather for ``_BATCH_INTERVAL`` and go to a writer thread as one text,
written with one write and one flush: the thread only writes (a slow file or
pipe never blocks the event loop). Formatting in that thread cost more than
the lines themselves, in GIL hand-overs between it and the event loop. The per-second parts of times are computed once a second and JSON of
other configurations goes through an encoder built once. ``rotate()``
(SIGUSR1) reopens the file in order with the lines, for log rotation.

With no ``accessLog`` section nothing of this exists and no request does any of
it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import logging
import math
import os
import random
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import IO, Any
from urllib.parse import urlsplit

from edgeway.config.static import AccessLog
from edgeway.http.bodies import counted_stream
from edgeway.http.message import Handler, Headers, Request, Response, canonical_header_name
from edgeway.tls.names import CIPHER_SUITES

__all__ = ["KEY", "TRACE_IDS", "AccessLogger", "observe_router", "observe_server"]

log = logging.getLogger("edgeway.accesslog")

#: ``req.context`` key of the request's log data (a dict shared by clones).
KEY = "accesslog"
#: ``req.context`` key of the entry point span's (trace id, span id) as hex, set by
#: tracing (span id None: an unsampled request without a span; one is drawn here).
TRACE_IDS = "trace_ids"

#: Response headers always logged: Traefik's entry points set ``Content-Type: nil``
#: before any handler (``contenttype.DisableAutoDetection``, no sniffing), so a
#: response without one still has the header, empty, in the log.
_NO_SNIFF = ("Content-Type",)

_ROTATE = object()
#: How long lines gather on the event loop before they go to the writer (seconds).
_BATCH_INTERVAL = 0.01
_STOP = object()
_CLF_TIME = "%d/%b/%Y:%H:%M:%S %z"
_TLS_VERSIONS = {"TLSv1": "1.0", "TLSv1.1": "1.1", "TLSv1.2": "1.2", "TLSv1.3": "1.3"}
_GO_CIPHERS = {openssl: go for go, openssl in CIPHER_SUITES.items() if openssl}
_NO_BODY_STATUS = frozenset((204, 304))
_QDASH = '"-"'


# -- what the request path records -----------------------------------------------


def observe_router(name: str, handler: Handler) -> Handler:
    """The router's handler, naming the router in the request's log data
    (Traefik's ``ConcatFieldHandler``: child routers append ``-> name``)."""

    def named(req: Request) -> Awaitable[Response]:
        data = req.context.get(KEY)
        if data is not None:
            prev = data.get("RouterName")
            data["RouterName"] = f"{prev} -> {name}" if prev else name
        return handler(req)

    return named


def observe_server(service: str, url: str, handler: Handler, *, origin_headers: bool = True) -> Handler:
    """A server's handler, recording the service and origin fields
    (Traefik's ``AddServiceFields`` around each server's proxy); the origin's
    headers only if ``origin_headers``."""
    addr = urlsplit(url).netloc.rpartition("@")[2]

    async def observed(req: Request) -> Response:
        data = req.context.get(KEY)
        if data is None:
            return await handler(req)
        data["ServiceName"] = service
        data["ServiceURL"] = url
        data["ServiceAddr"] = addr
        t0 = time.perf_counter()
        resp = await handler(req)
        data["OriginDuration"] = time.perf_counter() - t0
        data["OriginStatus"] = resp.status
        if origin_headers:
            data["origin"] = list(resp.headers.raw)
        if resp.stream is None:
            data["OriginContentSize"] = len(resp.body)
        else:
            length = resp.headers.get(b"content-length")
            if length is not None and length.isdigit():
                data["OriginContentSize"] = int(length)
        return resp

    return observed


def _observe_service_url(url: str, handler: Handler) -> Handler:
    """A server's handler recording only ``ServiceURL``: all the CLF formats
    show of the server (no coroutine of its own)."""

    def observed(req: Request) -> Awaitable[Response]:
        data = req.context.get(KEY)
        if data is not None:
            data["ServiceURL"] = url
        return handler(req)

    return observed


# -- the logger --------------------------------------------------------------------


class AccessLogger:
    """One per process: the writer thread and its file."""

    def __init__(self, cfg: AccessLog) -> None:
        from edgeway.middlewares.retry import parse_code_ranges  # (it imports the services)

        self.cfg = cfg
        self.add_internals = cfg.addInternals
        #: Lines of finished requests, gathered on the event loop until the next
        #: ``_drain`` (at most ``_BATCH_INTERVAL`` later) hands them to the writer.
        self._lines: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain_scheduled = False
        #: Text to write (and _ROTATE, _STOP), handed by the event loop to the
        #: writer thread, which only writes.
        self._pending: deque[Any] = deque()
        #: Set by :meth:`_put` when the writer waits for work (``_idle``).
        self._wake = threading.Event()
        self._idle = False
        self._thread: threading.Thread | None = None
        self._file: IO[str] | None = None
        self._counter = itertools.count(1)
        f = cfg.filters
        self._ranges = parse_code_ranges(f.statusCodes)
        self._filtered = bool(self._ranges) or f.retryAttempts or f.minDuration > 0
        fields = cfg.fields
        self._keep_default = fields.defaultMode == "keep"
        self._keep = {k.lower(): v == "keep" for k, v in fields.names.items()}
        self._header_default = fields.headers.defaultMode
        #: Canonical header names seen so far (event loop only).
        self._names: dict[bytes, str] = {}
        self._header_modes = {
            canonical_header_name(k).decode("latin-1"): v for k, v in fields.headers.names.items()
        }
        self._format: Callable[[dict[str, Any], float], str] = {
            "common": _common, "genericCLF": _generic_clf, "json": _json
        }[cfg.format]  # fmt: skip
        #: Whether header fields are logged at all (Traefik's default: none).
        self._with_headers = self._header_default != "drop" or bool(self._header_modes)
        #: The line of a finished request: straight from its facts when the
        #: configuration allows it (the same bytes, without the fields dict).
        self._make_line = self._fast_line() or self._line

    def observe_server(self, service: str, url: str, handler: Handler) -> Handler:
        """A server's handler recording what this logger's lines show of it:
        the CLF formats only its URL, JSON the service and origin fields (origin
        headers only if header fields are logged)."""
        if self.cfg.format != "json":
            return _observe_service_url(url, handler)
        return observe_server(service, url, handler, origin_headers=self._with_headers)

    def _fast_line(self) -> Callable[..., str | None] | None:
        """The specialised line maker of this configuration, if there is one:
        all fields kept (Traefik's default) and, for JSON, no header fields."""
        if self._keep or not self._keep_default:
            return None
        if self.cfg.format == "json":
            return None if self._with_headers else _json_line(self)
        return _clf_line(self, self.cfg.format == "common")

    # -- lifecycle (the kernel's) ----------------------------------------------

    def start(self) -> None:
        """Open the file and start the writer; ``OSError`` if the file cannot be opened.
        Called on the event loop that serves the requests (it makes the lines)."""
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None  # (no loop: each line is made when its request ends)
        self._file = self._open()
        self._thread = threading.Thread(
            target=self._write_loop, name="edgeway-accesslog", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Write what is queued, then stop the writer and close the file."""
        if self._thread is not None:
            self._drain()
            self._put(_STOP)
            self._thread.join()
            self._thread = None

    def rotate(self) -> None:
        """Reopen the file (after the lines already queued): SIGUSR1, for logrotate."""
        self._drain()
        self._put(_ROTATE)

    def _record(self, facts: tuple[Any, ...]) -> None:
        """A finished request (event loop): its line is made now (a few
        microseconds; no request is kept alive for a later batch) and waits
        for the next hand-over to the writer."""
        try:
            line = self._make_line(*facts)
        except Exception:
            log.exception("cannot format an access log line")
            return
        if line is None:
            return
        self._lines.append(line)
        if not self._drain_scheduled:
            if self._loop is None:
                self._drain()
                return
            self._drain_scheduled = True
            self._loop.call_later(_BATCH_INTERVAL, self._drain)

    def _drain(self) -> None:
        """Hand the lines made since the last drain to the writer, as one text."""
        self._drain_scheduled = False
        lines, self._lines = self._lines, []
        if lines:
            self._put("".join(lines))

    def _put(self, item: Any) -> None:
        """Hand text (or a marker) to the writer: an append, and a wake-up only
        when the writer has run dry."""
        self._pending.append(item)
        if self._idle:
            self._idle = False
            self._wake.set()

    def _open(self) -> IO[str]:
        path = self.cfg.filePath
        if not path:
            return sys.stdout
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, mode=0o755, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o664)
        return open(fd, "a", encoding="utf-8", errors="surrogateescape")  # noqa: SIM115

    # -- request path ------------------------------------------------------------

    def wrap(self, handler: Handler, entrypoint: str) -> Handler:
        """The entry point's handler, logging each request it answers."""
        put = self._record
        perf = time.perf_counter

        async def logged(req: Request) -> Response:
            data: dict[str, Any] = {}
            req.context[KEY] = data
            start = time.time()
            t0 = perf()
            facts = (req, entrypoint, start, t0, req.raw_path, req.query, data)
            try:
                resp = await handler(req)
            except Exception:
                put((facts, 500, None, 0, perf()))
                raise
            stream = resp.stream
            if stream is None:
                size = (
                    0 if req.method == "HEAD" or resp.status in _NO_BODY_STATUS else len(resp.body)
                )
                put((facts, resp.status, resp.headers, size, perf()))
            else:
                resp.stream = counted_stream(
                    stream, lambda size: put((facts, resp.status, resp.headers, size, perf()))
                )
            return resp

        return logged

    # -- writer thread -------------------------------------------------------------

    def _write_loop(self) -> None:
        pending, wake = self._pending, self._wake
        while True:
            if not pending:
                wake.clear()
                self._idle = True
                if not pending:  # (checked again: a put before ``_idle`` set no wake-up)
                    wake.wait()
                self._idle = False
                continue
            if not self._write_batch():
                return

    def _write_batch(self) -> bool:
        """Write what is pending, in order: the texts in one write and one flush
        (lines are never held longer than ``_BATCH_INTERVAL``, within what
        ``bufferingSize`` allows); False once ``_STOP`` is reached (the file is
        closed)."""
        popleft = self._pending.popleft
        texts: list[str] = []
        while True:
            try:
                item = popleft()
            except IndexError:
                break
            if item is _STOP or item is _ROTATE:
                self._write(texts)
                texts = []
                if item is _STOP:
                    if self._file is not None and self._file is not sys.stdout:
                        self._file.close()
                    return False
                self._reopen()
                continue
            texts.append(item)
        self._write(texts)
        return True

    def _write(self, lines: list[str]) -> None:
        if not lines:
            return
        try:
            assert self._file is not None
            self._file.write("".join(lines))
            self._file.flush()
        except (OSError, ValueError):
            log.exception("cannot write the access log")

    def _flush(self) -> None:
        try:
            if self._file is not None:
                self._file.flush()
        except (OSError, ValueError):
            log.exception("cannot write the access log")

    def _reopen(self) -> None:
        if not self.cfg.filePath:
            return
        log.info("Closing and re-opening log files for rotation")
        try:
            new = self._open()
        except OSError:
            log.exception("Error rotating access log")
            return
        old, self._file = self._file, new
        if old is not None:
            old.close()

    def _line(
        self, facts: tuple[Any, ...], status: int, headers: Headers | None, size: int, end: float
    ) -> str | None:
        req, entrypoint, start, t0, raw_path, query, data = facts
        duration = end - t0
        retries = data.get("RetryAttempts", 0)
        if self._filtered and not self._kept(status, retries, duration):
            return None
        _trace_fields(req, data)
        core = _core(req, entrypoint, start, raw_path, query, data, status, size, duration)
        core["RequestCount"] = next(self._counter)
        if self._keep or not self._keep_default:
            fields = {
                k: v for k, v in core.items() if self._keep.get(k.lower(), self._keep_default)
            }
        else:
            fields = core
        self._headers(fields, "request_", req.headers.raw)
        if "origin" in data:
            self._headers(fields, "origin_", data["origin"], _NO_SNIFF)
        if headers is not None:
            self._headers(fields, "downstream_", headers.raw, _NO_SNIFF)
        return self._format(fields, start)

    def _kept(self, status: int, retries: int, duration: float) -> bool:
        """Traefik's ``keepAccessLog``: any configured filter that matches keeps the line."""
        if any(low <= status <= high for low, high in self._ranges):
            return True
        if self.cfg.filters.retryAttempts and retries > 0:
            return True
        minimum = self.cfg.filters.minDuration
        return minimum > 0 and duration > minimum

    def _headers(
        self,
        fields: dict[str, Any],
        prefix: str,
        raw: list[tuple[bytes, bytes]],
        always: tuple[str, ...] = (),
    ) -> None:
        """The ``prefix``-ed header fields; ``always`` names headers logged empty when absent."""
        if self._header_default == "drop" and not self._header_modes:
            return  # Traefik's default: no header fields
        values: dict[str, list[str]] = {name: [] for name in always}
        names = self._names
        for raw_name, value in raw:
            key = names.get(raw_name)
            if key is None:
                key = names[raw_name] = canonical_header_name(raw_name.decode("latin-1")).decode(
                    "latin-1"
                )
            # Go's header strings are the bytes as sent: UTF-8 text stays text, and
            # other bytes are written back as they came (surrogateescape).
            values.setdefault(key, []).append(value.decode("utf-8", "surrogateescape"))
        modes, default = self._header_modes, self._header_default
        for key, vals in values.items():
            mode = modes.get(key, default)
            if mode == "keep":
                fields[prefix + key] = ",".join(vals)
            elif mode == "redact":
                fields[prefix + key] = "REDACTED"


# -- fields and formats (writer thread) ----------------------------------------------


#: Fields other handlers put in the request's log data (the router, the server,
#: the tracing entry point span).
_PASSED_ON = (
    "RouterName", "ServiceName", "ServiceURL", "ServiceAddr",
    "TraceId", "SpanId", "trace_id", "span_id",
)  # fmt: skip


def _trace_fields(req: Request, data: dict[str, Any]) -> None:
    """``TraceId``/``SpanId`` (and Traefik's ``trace_id``/``span_id`` copies) of the
    entry point span, when tracing is on; Traefik logs them for unsampled requests too."""
    ids = req.context.get(TRACE_IDS)
    if ids is not None:
        data["TraceId"] = data["trace_id"] = ids[0]
        data["SpanId"] = data["span_id"] = ids[1] or f"{random.getrandbits(64) or 1:016x}"


def _split_host_port(value: str) -> tuple[str, str]:
    """Go's ``net.SplitHostPort``, or ``(value, "-")`` as Traefik's ``silentSplitHostPort``."""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        return (host, rest[1:]) if rest.startswith(":") else (value, "-")
    host, colon, port = value.rpartition(":")
    if not colon or ":" in host:
        return value, "-"
    return host, port


def _core(
    req: Request,
    entrypoint: str,
    start: float,
    raw_path: str,
    query: str,
    data: dict[str, Any],
    status: int,
    size: int,
    duration: float,
) -> dict[str, Any]:
    utc, local = _START.go(start)
    ip = req.client_ip
    client_addr = f"[{ip}]:{req.client_port}" if ":" in ip else f"{ip}:{req.client_port}"
    xff = req.headers.get(b"x-forwarded-for")
    core: dict[str, Any] = {
        "StartUTC": utc,
        "StartLocal": local,
        "Duration": duration,
        "entryPointName": entrypoint,
        "ClientAddr": client_addr,
        "ClientHost": xff.decode("latin-1") if xff else ip,
        "ClientPort": str(req.client_port),
        "ClientUsername": req.context.get("client_username") or "-",
        "RequestMethod": req.method,
        "RequestPath": f"{raw_path}?{query}" if query else raw_path,
        "RequestProtocol": f"HTTP/{'2.0' if req.http_version == '2' else req.http_version}",
        "RequestScheme": "https" if req.tls is not None else "http",
        "RequestContentSize": req.content_length or 0,
        "DownstreamStatus": status,
        "DownstreamContentSize": size,
        "OriginDuration": data.get("OriginDuration", 0.0),
        "OriginStatus": data.get("OriginStatus", 0),
        "OriginContentSize": data.get("OriginContentSize", 0),
        "RetryAttempts": data.get("RetryAttempts", 0),
        "Overhead": duration - data.get("OriginDuration", 0.0),
    }
    if req.authority:
        core["RequestAddr"] = req.authority
        core["RequestHost"], core["RequestPort"] = _split_host_port(req.authority)
    for name in _PASSED_ON:
        if name in data:
            core[name] = data[name]
    origin_size = core["OriginContentSize"]  # (Traefik's InitServiceFields sets it to 0 first)
    if size != origin_size and size != 0:
        ratio = origin_size / size
        core["GzipRatio"] = int(ratio) if ratio.is_integer() else ratio  # Go's JSON: 0, not 0.0
    tls = req.tls
    if tls is not None:
        version = tls.version() if hasattr(tls, "version") else None
        core["TLSVersion"] = _TLS_VERSIONS.get(version or "", "unknown")
        cipher = tls.cipher() if hasattr(tls, "cipher") else None
        if cipher:
            core["TLSCipher"] = _GO_CIPHERS.get(cipher[0], cipher[0])
    return core


def _clf(fields: dict[str, Any], key: str, default: str = "-", quoted: bool = False) -> str:
    """Traefik's ``toLog``: ``default`` when absent or empty; strings quoted when asked."""
    value = fields.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"' if quoted else value
    return str(value)


def _clf_time(fields: dict[str, Any], start: float) -> str:
    if "StartUTC" in fields:
        return _START.clf(start)[0]
    return _START.clf(start)[1] if "StartLocal" in fields else "-"


def _clf_base(f: dict[str, Any], start: float) -> str:
    """The generic CLF part both CLF formats share (logger_formatters.go)."""
    return (
        f"{_clf(f, 'ClientHost')} - {_clf(f, 'ClientUsername')} [{_clf_time(f, start)}] "
        f'"{_clf(f, "RequestMethod")} {_clf(f, "RequestPath")} {_clf(f, "RequestProtocol")}" '
        f"{_clf(f, 'DownstreamStatus', quoted=True)} {_clf(f, 'DownstreamContentSize', quoted=True)} "
        f"{_clf(f, 'request_Referer', _QDASH, True)} {_clf(f, 'request_User-Agent', _QDASH, True)}"
    )


def _generic_clf(fields: dict[str, Any], start: float) -> str:
    return _clf_base(fields, start) + "\n"


def _common(f: dict[str, Any], start: float) -> str:
    """Traefik's ``common``: generic CLF plus request count, router, service URL, duration."""
    millis = int(f.get("Duration", 0.0) * 1000)
    return (
        f"{_clf_base(f, start)} {_clf(f, 'RequestCount', quoted=True)} "
        f"{_clf(f, 'RouterName', _QDASH, True)} {_clf(f, 'ServiceURL', _QDASH, True)} {millis}ms\n"
    )


def _go_time(value: dt.datetime) -> str:
    """Go's ``time.Time`` JSON form (RFC 3339 with nanoseconds, trailing zeros cut)."""
    text = value.isoformat()  # 2006-01-02T15:04:05[.999999]+07:00
    base, zone = text[:19], text[19:]
    frac = ""
    if zone.startswith("."):
        frac, zone = zone[:7].rstrip("0"), zone[7:]
        frac = "" if frac == "." else frac
    return base + frac + ("Z" if zone in ("+00:00", "") else zone)


class _StartTimes:
    """The start time's text forms. Everything but the microseconds is computed
    once a second: ``datetime`` work per line was a large part of a line's cost.
    The cache is one tuple, replaced whole (safe to share between writers)."""

    def __init__(self) -> None:
        #: second, (UTC base, zone), (local base, zone), (CLF UTC, CLF local)
        self._cache: tuple[int, tuple[str, str], tuple[str, str], tuple[str, str]] = (
            -1, ("", ""), ("", ""), ("-", "-")
        )  # fmt: skip

    def _split(
        self, start: float
    ) -> tuple[str, tuple[int, tuple[str, str], tuple[str, str], tuple[str, str]]]:
        """Go's fraction (``.5``, or ``""``) and the second's parts, rounded to the
        microsecond as ``datetime.fromtimestamp`` rounds (half to even)."""
        frac, whole = math.modf(start)
        micro = round(frac * 1e6)
        if micro >= 1_000_000:
            whole += 1
            micro -= 1_000_000
        second = int(whole)
        cache = self._cache
        if cache[0] != second:
            utc = dt.datetime.fromtimestamp(second, dt.UTC)
            local = utc.astimezone()
            cache = self._cache = (
                second,
                _go_split(utc),
                _go_split(local),
                (utc.strftime(_CLF_TIME), local.strftime(_CLF_TIME)),
            )
        return (f".{micro:06d}".rstrip("0") if micro else ""), cache

    def go(self, start: float) -> tuple[str, str]:
        """``StartUTC`` and ``StartLocal`` as Go's JSON encodes them (without quotes)."""
        frac, (_, (ubase, uzone), (lbase, lzone), _) = self._split(start)
        return ubase + frac + uzone, lbase + frac + lzone

    def clf(self, start: float) -> tuple[str, str]:
        """The CLF time (``02/Jan/2006:15:04:05 -0700``) in UTC and in local time."""
        return self._split(start)[1][3]


def _go_split(whole_second: dt.datetime) -> tuple[str, str]:
    text = _go_time(whole_second)
    return text[:19], text[19:]


_START = _StartTimes()

_now_cache: list[Any] = [0, ""]


def _now() -> str:
    """logrus's ``time`` (RFC 3339 to the second, local), computed once a second."""
    second = int(time.time())
    if _now_cache[0] != second:
        _now_cache[:] = [second, _go_time(dt.datetime.fromtimestamp(second).astimezone())]
    return str(_now_cache[1])


def _json_encoder() -> Callable[[dict[str, Any]], str]:
    """``json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``,
    with the encoder built once (the C one when available: same bytes, a fraction of
    the cost); :func:`_json` adds Go's escapes."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has it
        return json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
    encode = make(None, None, json.encoder.encode_basestring, None, ":", ",", True, False, True)
    return lambda fields: "".join(encode(fields, 0))


_encode = _json_encoder()


def _json(fields: dict[str, Any], start: float) -> str:
    """logrus's JSONFormatter: the fields (durations in ns, times as Go's), plus
    ``level``, ``msg`` and ``time``, keys sorted as Go's map encoding sorts them.
    ``fields`` is the line's own dict: it is completed in place."""
    for key in _DURATIONS:
        if key in fields:
            fields[key] = int(fields[key] * 1e9)
    fields["level"] = "info"
    fields["msg"] = ""
    fields["time"] = _now()
    return _go_json(_encode(fields)) + "\n"


def _go_json(line: str) -> str:
    """Python's JSON (``ensure_ascii=False``) as Go's encoding/json writes it."""
    if "&" in line or "<" in line or ">" in line:  # Go's json escapes them (HTML safety)
        line = line.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    if not line.isascii():  # UTF-8 as is, but for what Go escapes or replaces
        line = _GO_UNSAFE.sub(lambda m: _GO_ESCAPES.get(m[0], "\\ufffd"), line)
    return line


#: What Go's encoding/json does not write as is: U+2028 and U+2029 (escaped), and
#: bytes that are not UTF-8 (here as surrogates: each one becomes U+FFFD).
_GO_UNSAFE = re.compile("[\u2028\u2029\udc80-\udcff]")
_GO_ESCAPES = {"\u2028": "\\u2028", "\u2029": "\\u2029"}


_DURATIONS = ("Duration", "OriginDuration", "Overhead")


# -- lines straight from the facts (the default fields) --------------------------------
#
# The same bytes as ``_line`` (``_core``, the field modes, then the format), for
# the configurations where every core field is kept: no fields dict is built,
# and only what the format shows is computed. tests/test_accesslog_lines.py
# checks both ways give the same lines.


def _tls_fields(tls: Any) -> tuple[str, str | None]:
    """``TLSVersion`` and ``TLSCipher`` (None: no cipher known)."""
    version = tls.version() if hasattr(tls, "version") else None
    cipher = tls.cipher() if hasattr(tls, "cipher") else None
    return _TLS_VERSIONS.get(version or "", "unknown"), (
        _GO_CIPHERS.get(cipher[0], cipher[0]) if cipher else None
    )


def _json_line(logger: AccessLogger) -> Callable[..., str | None]:
    """JSON with all core fields and no header fields: the keys written in Go's
    sorted order by hand, each value encoded as :func:`_json` encodes it."""
    esc = json.encoder.encode_basestring
    counter, times, now = logger._counter, _START, _now
    filtered, kept = logger._filtered, logger._kept
    float_repr = float.__repr__

    def line(
        facts: tuple[Any, ...], status: int, headers: Headers | None, size: int, end: float
    ) -> str | None:
        req, entrypoint, start, t0, raw_path, query, data = facts
        duration = end - t0
        get = data.get
        retries = get("RetryAttempts", 0)
        if filtered and not kept(status, retries, duration):
            return None
        _trace_fields(req, data)
        ip, port = req.client_ip, req.client_port
        xff = req.headers.get(b"x-forwarded-for")
        origin_duration = get("OriginDuration", 0.0)
        origin_size = get("OriginContentSize", 0)
        utc, local = times.go(start)
        parts = [
            '{"ClientAddr":', esc(f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"),
            ',"ClientHost":', esc(xff.decode("latin-1") if xff else ip),
            ',"ClientPort":', esc(str(port)),
            ',"ClientUsername":', esc(req.context.get("client_username") or "-"),
            ',"DownstreamContentSize":', str(size),
            ',"DownstreamStatus":', str(status),
            ',"Duration":', str(int(duration * 1e9)),
        ]  # fmt: skip
        if size != origin_size and size != 0:  # (see _core)
            ratio = origin_size / size
            parts += (',"GzipRatio":', str(int(ratio)) if ratio.is_integer() else float_repr(ratio))
        parts += (
            ',"OriginContentSize":', str(origin_size),
            ',"OriginDuration":', str(int(origin_duration * 1e9)),
            ',"OriginStatus":', str(get("OriginStatus", 0)),
            ',"Overhead":', str(int((duration - origin_duration) * 1e9)),
        )  # fmt: skip
        authority = req.authority
        if authority:
            host, host_port = _split_host_port(authority)
            parts += (',"RequestAddr":', esc(authority))
        parts += (
            ',"RequestContentSize":', str(req.content_length or 0),
            ',"RequestCount":', str(next(counter)),
        )  # fmt: skip
        if authority:
            parts += (',"RequestHost":', esc(host))
        parts += (
            ',"RequestMethod":', esc(req.method),
            ',"RequestPath":', esc(f"{raw_path}?{query}" if query else raw_path),
        )  # fmt: skip
        if authority:
            parts += (',"RequestPort":', esc(host_port))
        parts += (
            ',"RequestProtocol":', esc(f"HTTP/{'2.0' if req.http_version == '2' else req.http_version}"),
            ',"RequestScheme":', '"https"' if req.tls is not None else '"http"',
            ',"RetryAttempts":', str(retries),
        )  # fmt: skip
        for key, prefix in _SERVICE_KEYS:
            if key in data:
                parts += (prefix, esc(data[key]))
        parts += (',"StartLocal":', esc(local), ',"StartUTC":', esc(utc))
        tls = req.tls
        if tls is not None:
            version, cipher = _tls_fields(tls)
            if cipher is not None:
                parts += (',"TLSCipher":', esc(cipher))
            parts += (',"TLSVersion":', esc(version))
        if "TraceId" in data:
            parts += (',"TraceId":', esc(data["TraceId"]))
        parts += (',"entryPointName":', esc(entrypoint), ',"level":"info","msg":""')
        if "span_id" in data:
            parts += (',"span_id":', esc(data["span_id"]))
        parts += (',"time":', esc(now()))
        if "trace_id" in data:
            parts += (',"trace_id":', esc(data["trace_id"]))
        parts.append("}")
        return _go_json("".join(parts)) + "\n"

    return line


_SERVICE_KEYS = tuple(
    (key, f',"{key}":') for key in ("RouterName", "ServiceAddr", "ServiceName", "ServiceURL", "SpanId")
)


def _clf_line(logger: AccessLogger, common: bool) -> Callable[..., str | None]:
    """``common`` or ``genericCLF`` with all core fields kept: only what the line
    shows is computed (Traefik's ``toLog``: ``-`` for empty values)."""
    counter, times = logger._counter, _START
    filtered, kept = logger._filtered, logger._kept
    modes, default = logger._header_modes, logger._header_default
    # Referer and User-Agent: shown only if kept (or redacted) by the header modes.
    referer = modes.get("Referer", default)
    agent = modes.get("User-Agent", default)

    def quoted(value: str | None) -> str:
        return '"' + value.replace('"', '\\"') + '"' if value else _QDASH

    def header(mode: str, raw: list[tuple[bytes, bytes]], name: bytes) -> str:
        if mode == "drop":
            return _QDASH
        values = [v for n, v in raw if n.lower() == name]
        if not values:
            return _QDASH
        if mode == "redact":
            return '"REDACTED"'
        return quoted(b",".join(values).decode("utf-8", "surrogateescape"))  # (see _headers)

    def line(
        facts: tuple[Any, ...], status: int, headers: Headers | None, size: int, end: float
    ) -> str | None:
        req, entrypoint, start, t0, raw_path, query, data = facts
        duration = end - t0
        if filtered and not kept(status, data.get("RetryAttempts", 0), duration):
            return None
        count = next(counter)
        xff = req.headers.get(b"x-forwarded-for")
        raw = req.headers.raw
        text = (
            f"{(xff.decode('latin-1') if xff else req.client_ip) or '-'} - "
            f"{req.context.get('client_username') or '-'} [{times.clf(start)[0]}] "
            f'"{req.method or "-"} {(f"{raw_path}?{query}" if query else raw_path) or "-"} '
            f'HTTP/{"2.0" if req.http_version == "2" else req.http_version}" {status} {size} '
            f"{header(referer, raw, b'referer')} {header(agent, raw, b'user-agent')}"
        )
        if not common:
            return text + "\n"
        return (
            f"{text} {count} {quoted(data.get('RouterName'))} {quoted(data.get('ServiceURL'))} "
            f"{int(duration * 1000)}ms\n"
        )

    return line
