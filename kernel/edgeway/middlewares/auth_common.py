"""What basicAuth and digestAuth share, as Traefik's ``auth.go`` and go-http-auth do it.

Users come from ``usersFile`` (non-blank, non-``#`` lines) then ``users``; a
later entry for the same name wins. Failures get go-http-auth's 401.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from edgeway.http.message import Headers, Response

__all__ = ["DEFAULT_REALM", "load_users", "unauthorized"]

DEFAULT_REALM = "traefik"
_UNAUTHORIZED_BODY = b"401 Unauthorized\n"


def load_users(
    users_file: str | None, users: list[str] | None, parse: Callable[[str], tuple[str, str]], workdir: str
) -> dict[str, str]:
    """``key -> secret`` from the file's non-blank, non-``#`` lines, then ``users``.

    Raises ValueError for an unreadable file or a line ``parse`` rejects.
    """
    lines: list[str] = []
    if users_file:
        path = users_file if os.path.isabs(users_file) else os.path.join(workdir, users_file)
        try:
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", "surrogateescape")
        except OSError as exc:
            raise ValueError(f"open {users_file}: {exc.strerror or exc}") from None
        for raw in text.split("\n"):
            line = raw.strip()
            if line and not line.startswith("#"):
                lines.append(line)
    lines.extend(users or [])
    found: dict[str, str] = {}
    for line in lines:
        key, secret = parse(line)
        found[key] = secret
    return found


def unauthorized(challenge: bytes) -> Response:
    """go-http-auth's ``RequireAuth``: 401, ``text/plain`` and the ``WWW-Authenticate`` challenge."""
    headers = Headers([(b"Content-Type", b"text/plain"), (b"Www-Authenticate", challenge)])
    return Response(401, headers, _UNAUTHORIZED_BODY)
