"""edgeway's own log (static ``log``), written as Traefik writes it with zerolog.

``common`` is zerolog's ConsoleWriter (``2006-01-02T15:04:05Z07:00 INF message
key=value``, coloured unless ``noColor`` or a ``filePath`` is set), ``json`` its
JSON encoder (``level``, extra fields, ``time``, ``message``). Standard output
unless ``filePath`` is set (cmd/traefik/logger.go). The levels are Traefik's:
TRACE, DEBUG, INFO, WARN, ERROR, FATAL, PANIC.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
import threading
from typing import IO

from edgeway.config.static import Log

__all__ = ["LEVELS", "reopen_log_file", "setup_logging"]

TRACE = 5
PANIC = logging.CRITICAL + 10
logging.addLevelName(TRACE, "TRACE")
logging.addLevelName(PANIC, "PANIC")

#: Traefik's level names -> Python's levels.
LEVELS = {
    "TRACE": TRACE, "DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARN": logging.WARNING,
    "ERROR": logging.ERROR, "FATAL": logging.CRITICAL, "PANIC": PANIC,
}  # fmt: skip

#: zerolog's level names (JSON) and ConsoleWriter abbreviations with their colours.
_NAMES = {TRACE: "trace", logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warn",
          logging.ERROR: "error", logging.CRITICAL: "fatal", PANIC: "panic"}  # fmt: skip
_ABBREV = {"trace": ("TRC", "35"), "debug": ("DBG", "33"), "info": ("INF", "32"), "warn": ("WRN", "33"),
           "error": ("ERR", "31"), "fatal": ("FTL", "31"), "panic": ("PNC", "31")}  # fmt: skip

#: Attributes every LogRecord has; anything else given through ``extra=`` is a field.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def _level_name(levelno: int) -> str:
    for level in (PANIC, logging.CRITICAL, logging.ERROR, logging.WARNING, logging.INFO, logging.DEBUG):
        if levelno >= level:
            return _NAMES[level]
    return "trace"


def _time(record: logging.LogRecord) -> str:
    """RFC 3339 in local time, to the second (zerolog's default ``TimeFieldFormat``)."""
    return dt.datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="seconds").replace("+00:00", "Z")


def _fields(record: logging.LogRecord, formatter: logging.Formatter) -> dict[str, object]:
    fields = {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}
    if record.exc_info:
        fields["error"] = formatter.formatException(record.exc_info)
    return fields


class JSONFormatter(logging.Formatter):
    """zerolog's JSON: ``{"level":..., <fields>, "time":..., "message":...}``."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {"level": _level_name(record.levelno)}
        data.update(_fields(record, self))
        data["time"] = _time(record)
        data["message"] = record.getMessage()
        return json.dumps(data, default=str, separators=(",", ":"))


class ConsoleFormatter(logging.Formatter):
    """zerolog's ConsoleWriter: time, level abbreviation, message, sorted ``key=value`` fields."""

    def __init__(self, color: bool) -> None:
        super().__init__()
        self.color = color

    def _c(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def format(self, record: logging.LogRecord) -> str:
        abbrev, code = _ABBREV[_level_name(record.levelno)]
        level = self._c("1m\x1b[" + code, abbrev) if record.levelno >= logging.ERROR else self._c(code, abbrev)
        parts = [self._c("90", _time(record)), level, record.getMessage()]
        fields = _fields(record, self)
        for key in sorted(fields):
            value = fields[key]
            text = json.dumps(value) if isinstance(value, str) and (" " in value or not value) else str(value)
            name = self._c("36", key + "=")
            parts.append(self._c("31", f"{key}={text}") if key == "error" else name + text)
        return " ".join(parts)


class _ReopenableFileHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A file handler whose file can be reopened (after a rename by logrotate)."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(self._open())
        self._reopen_lock = threading.Lock()

    def _open(self) -> IO[str]:
        directory = os.path.dirname(self.path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        return open(self.path, "a", encoding="utf-8")  # noqa: SIM115

    def reopen(self) -> None:
        with self._reopen_lock:
            self.acquire()
            try:
                old, self.stream = self.stream, self._open()
            finally:
                self.release()
            old.close()

    def close(self) -> None:
        self.acquire()
        try:
            self.stream.close()
        finally:
            self.release()
        super().close()


_file_handler: _ReopenableFileHandler | None = None


def setup_logging(cfg: Log) -> None:
    """Send the ``edgeway`` loggers where and how ``log`` says."""
    global _file_handler
    root = logging.getLogger("edgeway")
    for old in root.handlers:
        old.close()
    handler: logging.Handler
    if cfg.filePath:
        handler = _file_handler = _ReopenableFileHandler(cfg.filePath)
    else:
        handler = logging.StreamHandler(sys.stdout)
        _file_handler = None
    if cfg.format == "json":
        handler.setFormatter(JSONFormatter())
    else:
        handler.setFormatter(ConsoleFormatter(color=not (cfg.noColor or cfg.filePath)))
    root.handlers[:] = [handler]
    root.setLevel(LEVELS[cfg.level])
    root.propagate = False


def reopen_log_file() -> None:
    """Reopen ``log.filePath`` if logging goes to a file (SIGUSR1)."""
    if _file_handler is not None:
        _file_handler.reopen()
