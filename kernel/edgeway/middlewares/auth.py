"""The authentication middlewares ``basicAuth``, ``digestAuth`` and ``forwardAuth``,
registered as a built-in plugin (Traefik's ``pkg/middlewares/auth``)."""

from __future__ import annotations

from typing import Any

from edgeway import hookimpl
from edgeway.config.dynamic import BasicAuth, DigestAuth, ForwardAuth
from edgeway.middlewares.auth_basic import build_basic_auth
from edgeway.middlewares.auth_digest import build_digest_auth
from edgeway.middlewares.auth_forward import build_forward_auth
from edgeway.registry import MiddlewareType


@hookimpl
def register_middlewares(register: Any) -> None:
    register(MiddlewareType("basicAuth", BasicAuth, build_basic_auth, plugin=False))
    register(MiddlewareType("digestAuth", DigestAuth, build_digest_auth, plugin=False))
    register(MiddlewareType("forwardAuth", ForwardAuth, build_forward_auth, plugin=False))
