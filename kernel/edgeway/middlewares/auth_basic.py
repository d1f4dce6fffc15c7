"""``basicAuth``: HTTP Basic authentication against htpasswd users (Traefik's basic_auth.go).

Password checks (bcrypt takes milliseconds) run in a worker thread; identical
checks in flight at the same time share one computation, as Traefik's
singleflight group does. Nothing is cached once answered. An unknown user still
costs one check against a known secret, so timing does not reveal who exists.
"""

from __future__ import annotations

import asyncio
import base64
import binascii

from edgeway.config.dynamic import BasicAuth
from edgeway.http.message import Handler, Request, Response
from edgeway.middlewares.auth_common import DEFAULT_REALM, load_users, unauthorized
from edgeway.middlewares.auth_passwords import check_secret, is_slow
from edgeway.registry import BuildContext

__all__ = ["build_basic_auth", "parse_basic_credentials"]


def _parse_user(line: str) -> tuple[str, str]:
    parts = line.split(":")
    if len(parts) != 2:
        raise ValueError(f"error parsing BasicUser: {line}")
    return parts[0], parts[1]


def parse_basic_credentials(value: bytes | None) -> tuple[str, str] | None:
    """Go's ``Request.BasicAuth``: ``Basic <base64 user:password>``, scheme case-insensitive."""
    if not value or len(value) < 6 or value[:6].lower() != b"basic ":
        return None
    try:
        decoded = base64.b64decode(value[6:].replace(b"\r", b"").replace(b"\n", b""), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(b":")
    if not sep:
        return None
    return user.decode("utf-8", "surrogateescape"), password.decode("utf-8", "surrogateescape")


class _Checker:
    """Password checks off the event loop, concurrent identical ones coalesced."""

    def __init__(self, users: dict[str, str]) -> None:
        self.users = users
        self.not_found_secret = next(iter(users.values()))
        self.inflight: dict[tuple[str, str], asyncio.Future[bool]] = {}

    async def check(self, user: str, password: str) -> bool:
        secret = self.users.get(user)
        key = (password, secret if secret is not None else "")
        fut = self.inflight.get(key)
        if fut is not None:
            return await asyncio.shield(fut)
        target = secret if secret is not None else self.not_found_secret
        if is_slow(target):
            fut = asyncio.get_running_loop().run_in_executor(None, check_secret, password, target)
            self.inflight[key] = fut
            try:
                ok = await asyncio.shield(fut)
            finally:
                self.inflight.pop(key, None)
        else:
            ok = check_secret(password, target)
        return ok and secret is not None


def build_basic_auth(options: BasicAuth, next_: Handler, ctx: BuildContext) -> Handler:
    users = load_users(options.usersFile, options.users, _parse_user, ctx.workdir)
    if not users:
        raise ValueError(f"no users found in {options.usersFile or ''}")
    checker = _Checker(users)
    realm = options.realm or DEFAULT_REALM
    challenge = f'Basic realm="{realm}"'.encode("utf-8", "surrogateescape")
    header_field = options.headerField or ""
    field_b = header_field.encode("latin-1")
    field_lower = field_b.lower()
    remove_header = bool(options.removeHeader)
    # Go deletes "Authorization" after setting headerField under its name as
    # written: only the exact spelling "Authorization" is removed with it.
    keep_field = not (remove_header and header_field == "Authorization")

    async def basic_auth(req: Request) -> Response:
        creds = parse_basic_credentials(req.headers.get(b"authorization"))
        user = creds[0] if creds is not None else ""
        if creds is None or not await checker.check(*creds):
            req.context["client_username"] = user
            return unauthorized(challenge)
        req.context["client_username"] = user
        h = req.headers
        if remove_header:
            h.remove(b"authorization")
        if field_b:
            h.remove(field_lower)
            if keep_field:
                h.add(field_b, user.encode("utf-8", "surrogateescape"))
        return await next_(req)

    return basic_auth
