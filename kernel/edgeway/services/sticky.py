"""Sticky sessions by cookie, as Traefik's ``loadbalancer.Sticky`` and ``pkg/server/cookie``.

The cookie names the child a client sticks to by the first 16 hex digits of
the SHA-256 of the child's name (a server URL, or a child service name as
written). Values of older Traefik versions (the name itself, its FNV-64 hash,
or the FNV-64 of that hash) are still honoured, and the cookie is rewritten with
the current value. Every ``Set-Cookie`` value is computed when the
configuration is applied.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Generic, TypeVar

from edgeway.http.message import Request, Response

T = TypeVar("T")

_SAME_SITE = {"none": "None", "lax": "Lax", "strict": "Strict"}
_NAME_SANITIZER = re.compile(r"[^!#$%&'*+\-.^`|~a-zA-Z0-9]")
_DOMAIN = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$")
_PATH_INVALID = re.compile(r"[\x00-\x1f\x7f;]")


def cookie_name(configured: str | None, service: str) -> str:
    """``cookie.GetName``: the configured name sanitized, else ``_`` + 5 hex digits of a SHA-1."""
    if configured:
        return _NAME_SANITIZER.sub("_", configured)
    return ("_" + hashlib.sha1(("_TRAEFIK_BACKEND_" + service).encode()).hexdigest())[:6]


def sha256_value(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:16]


def fnv_value(name: str) -> str:
    """FNV-64 (not 64a) in lower-case hex without leading zeros, as ``strconv.FormatUint(h, 16)``."""
    h = 0xCBF29CE484222325
    for byte in name.encode():
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
        h ^= byte
    return format(h, "x")


def _set_cookie(name: str, value: str, cfg: Any) -> bytes:
    """Go's ``http.Cookie.String()`` for the configured attributes."""
    parts = [f"{name}={value}"]
    path = _PATH_INVALID.sub("", "/" if cfg.path is None else cfg.path)
    if path:
        parts.append(f"Path={path}")
    domain = (cfg.domain or "").removeprefix(".")
    if domain and _DOMAIN.match(domain) and len(domain) <= 255:
        parts.append(f"Domain={domain}")
    max_age = cfg.maxAge or 0
    if max_age > 0:
        parts.append(f"Max-Age={max_age}")
    elif max_age < 0:
        parts.append("Max-Age=0")
    if cfg.httpOnly:
        parts.append("HttpOnly")
    if cfg.secure:
        parts.append("Secure")
    same_site = _SAME_SITE.get((cfg.sameSite or "").lower())
    if same_site:
        parts.append(f"SameSite={same_site}")
    return "; ".join(parts).encode("latin-1")


class Sticky(Generic[T]):
    """Which child a request's cookie names, and the cookie to give a client for a child."""

    def __init__(self, cfg: Any, service: str) -> None:
        self.name = cookie_name(cfg.name, service)
        self._name_b = self.name.encode("latin-1")
        self._cfg = cfg
        self._current: dict[str, T] = {}
        self._legacy: dict[str, T] = {}
        self._cookies: dict[str, bytes] = {}

    def add(self, name: str, child: T) -> None:
        value = sha256_value(name)
        self._current[value] = child
        self._cookies[name] = _set_cookie(self.name, value, self._cfg)
        legacy = fnv_value(name)
        self._legacy[name] = child
        self._legacy[legacy] = child
        self._legacy[fnv_value(legacy)] = child

    def lookup(self, req: Request) -> tuple[T, bool] | None:
        """The child the cookie names and whether its value must be rewritten, or None."""
        value = self._cookie_value(req)
        if value is None:
            return None
        child = self._current.get(value)
        if child is not None:
            return child, False
        child = self._legacy.get(value)
        return None if child is None else (child, True)

    def write(self, resp: Response, name: str) -> None:
        """Add the cookie for child ``name`` before the ``Set-Cookie`` headers of the child's answer.

        Traefik sets it on the response writer before the child writes, so it comes first.
        """
        cookie = self._cookies.get(name)
        if cookie is None:
            return
        raw = resp.headers.raw
        for i, (n, _) in enumerate(raw):
            if len(n) == 10 and n.lower() == b"set-cookie":
                raw.insert(i, (b"Set-Cookie", cookie))
                return
        raw.append((b"Set-Cookie", cookie))

    def _cookie_value(self, req: Request) -> str | None:
        """Go's ``Request.Cookie``: the first well-formed cookie of that name."""
        wanted = self._name_b
        for n, v in req.headers.raw:
            if len(n) != 6 or n.lower() != b"cookie" or wanted not in v:
                continue
            for part in v.split(b";"):
                name, eq, value = part.strip(b" \t").partition(b"=")
                if not eq or name != wanted:
                    continue
                if len(value) > 1 and value[:1] == b'"' == value[-1:]:
                    value = value[1:-1]
                if any(c < 0x21 or c in b'",;\\' or c == 0x7F for c in value):
                    continue
                return value.decode("latin-1")
        return None
