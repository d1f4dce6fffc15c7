"""Credentials left out of what the API returns.

Traefik's API shows runtime objects exactly as configured, secrets included
(``basicAuth.users`` hashes, the forwardAuth TLS key, the Redis password of a
rate limit...). edgeway does not: each such value is replaced by
:data:`REDACTED`, keeping the JSON types (a list of users stays a list of the
same length), so the dashboard and scripts reading the API keep working.

What is redacted:

* the fields Traefik's own redactor treats as credentials (``loggable:"false"``
  in ``pkg/config/dynamic``): ``basicAuth.users``, ``digestAuth.users``,
  ``forwardAuth.tls.key``, ``rateLimit.redis.username``/``password`` and
  ``rateLimit.redis.tls.key``;
* values of secret-looking names (``password``, ``secret``, ``token``,
  ``apiKey``, ``key``, ``Authorization``, ``Cookie``...) inside plugin
  configurations and in the headers a middleware (``customRequestHeaders``,
  ``customResponseHeaders``) or a health check (``headers``) sends;
* the ``user:password@`` part of server URLs (also in ``serverStatus`` keys).

Functions take the JSON of one object (as :mod:`edgeway.api.serialize` makes it)
and change it in place; they never touch the configuration models.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "<redacted>"

__all__ = ["REDACTED", "redact_middleware", "redact_service", "redact_url", "secret_name"]

_SECRET_PARTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "credential",
    "privatekey",
    "authorization",
    "cookie",
)
_SECRET_NAMES = frozenset({"key", "users", "pass", "pwd", "auth"})
_URL_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)([^@/?#]*)@")


def secret_name(name: str) -> bool:
    """Whether a configuration key or header name looks like it holds a credential."""
    norm = re.sub(r"[-_. ]", "", name.lower())
    return norm in _SECRET_NAMES or any(part in norm for part in _SECRET_PARTS)


def redact_url(url: str) -> str:
    """``scheme://user:pass@host/...`` -> ``scheme://<redacted>@host/...``."""
    return _URL_USERINFO.sub(lambda m: f"{m.group(1)}{REDACTED}@", url, count=1)


def _mask(value: Any) -> Any:
    if isinstance(value, list):
        return [_mask(v) for v in value]
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if value is None or value == "" or isinstance(value, bool):
        return value
    return REDACTED


def _redact_tree(node: Any) -> None:
    """Mask values of secret-looking keys anywhere in free-form configuration."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and secret_name(key):
                node[key] = _mask(value)
            else:
                _redact_tree(value)
    elif isinstance(node, list):
        for item in node:
            _redact_tree(item)


def _redact_headers(headers: Any) -> None:
    if isinstance(headers, dict):
        for name, value in headers.items():
            if secret_name(name) and value:  # "" means "remove the header": not a secret
                headers[name] = REDACTED


def _set(section: Any, key: str) -> None:
    if isinstance(section, dict) and section.get(key):
        section[key] = _mask(section[key])


def redact_middleware(out: dict[str, Any]) -> dict[str, Any]:
    """Redact the JSON of an HTTP middleware in place; returns it."""
    for auth in ("basicAuth", "digestAuth"):
        _set(out.get(auth), "users")
    forward = out.get("forwardAuth")
    if isinstance(forward, dict):
        _set(forward.get("tls"), "key")
    rate = out.get("rateLimit")
    redis = rate.get("redis") if isinstance(rate, dict) else None
    if isinstance(redis, dict):
        _set(redis, "username")
        _set(redis, "password")
        _set(redis.get("tls"), "key")
    headers = out.get("headers")
    if isinstance(headers, dict):
        _redact_headers(headers.get("customRequestHeaders"))
        _redact_headers(headers.get("customResponseHeaders"))
    if "plugin" in out:
        _redact_tree(out["plugin"])
    return out


def redact_service(out: dict[str, Any]) -> dict[str, Any]:
    """Redact the JSON of an HTTP service in place; returns it."""
    lb = out.get("loadBalancer")
    if isinstance(lb, dict):
        for server in lb.get("servers") or []:
            if isinstance(server, dict) and isinstance(server.get("url"), str):
                server["url"] = redact_url(server["url"])
        health = lb.get("healthCheck")
        if isinstance(health, dict):
            _redact_headers(health.get("headers"))
    status = out.get("serverStatus")
    if isinstance(status, dict):
        out["serverStatus"] = {redact_url(k): v for k, v in status.items()}
    return out
