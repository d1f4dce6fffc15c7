"""``digestAuth``: RFC 2617 Digest authentication, as Traefik's go-http-auth fork does it.

MD5 and ``qop=auth`` only. Users are ``user:realm:HA1``; the configured realm
(default ``traefik``) picks the entry. Each middleware instance hands out its
own nonces and one ``opaque``; a nonce's count must grow (a repeated count is a
replay, a smaller one gets a ``stale`` challenge). At most about 1100 nonces
are remembered; past that the 200 least recently used are forgotten.
Unknown users are refused whatever their response (as Traefik 3.7 does; the
go-http-auth code it vendors would compute their digest from an empty HA1).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import time
from urllib.parse import unquote_to_bytes, urlsplit

from edgeway.config.dynamic import DigestAuth
from edgeway.http.message import Handler, Request, Response
from edgeway.middlewares.auth_common import DEFAULT_REALM, load_users, unauthorized
from edgeway.registry import BuildContext

__all__ = ["build_digest_auth", "parse_digest_params"]

_CACHE_SIZE = 1000
_CACHE_TOLERANCE = 100
_HEX_NC = re.compile(r"[0-9a-fA-F]{1,16}")
_BAD_ESCAPE = re.compile(r"%(?![0-9a-fA-F]{2})")


class _Panic(Exception):
    """Where go-http-auth panics (a value that is one lone quote): Traefik's recovery answers 500."""


def _random_key() -> str:
    return base64.b64encode(os.urandom(12)).decode()


def _h(data: str) -> str:
    return hashlib.md5(data.encode("utf-8", "surrogateescape")).hexdigest()


def _parse_list(value: str) -> list[str]:
    """go-http-auth's ``ParseList`` (urllib2's parse_http_list): commas outside quotes."""
    out: list[str] = []
    buf: list[str] = []
    escape = quote = False
    for c in value:
        if escape:
            buf.append(c)
            escape = False
        elif quote:
            if c == "\\":
                escape = True
            else:
                if c == '"':
                    quote = False
                buf.append(c)
        elif c == ",":
            out.append("".join(buf).strip())
            buf = []
        elif c == '"':
            quote = True
            buf.append(c)
        else:
            buf.append(c)
    if buf:
        out.append("".join(buf).strip())
    return out


def parse_digest_params(authorization: str) -> dict[str, str] | None:
    """``DigestAuthParams``: the pairs of a ``Digest ...`` header, or None for another scheme."""
    scheme, sep, rest = authorization.partition(" ")
    if not sep or scheme != "Digest":
        return None
    params: dict[str, str] = {}
    for pair in _parse_list(rest.strip()):
        key, eq, v = pair.partition("=")
        if not eq:
            params[pair] = ""
            continue
        if v == '"':
            raise _Panic(pair)
        if len(v) > 1 and v[0] == '"' and v[-1] == '"':
            v = v[1:-1]
        params[key] = v
    return params


def _parse_user(line: str) -> tuple[str, str]:
    parts = line.split(":")
    if len(parts) != 3:
        raise ValueError(f"error parsing DigestUser: {line}")
    return f"{parts[0]}:{parts[1]}", parts[2]


class _Nonces:
    """Issued nonces -> [last nonce count, last seen]."""

    def __init__(self) -> None:
        self.clients: dict[str, list[int]] = {}

    def issue(self) -> str:
        if len(self.clients) > _CACHE_SIZE + _CACHE_TOLERANCE:
            oldest = sorted(self.clients.items(), key=lambda item: item[1][1])[: _CACHE_TOLERANCE * 2]
            for nonce, _ in oldest:
                del self.clients[nonce]
        nonce = _random_key()
        self.clients[nonce] = [0, time.monotonic_ns()]
        return nonce


def build_digest_auth(options: DigestAuth, next_: Handler, ctx: BuildContext) -> Handler:
    users = load_users(options.usersFile, options.users, _parse_user, ctx.workdir)
    realm = options.realm or DEFAULT_REALM
    opaque = _random_key()
    nonces = _Nonces()
    header_field = options.headerField or ""
    field_b = header_field.encode("latin-1")
    remove_header = bool(options.removeHeader)
    keep_field = not (remove_header and header_field == "Authorization")

    def challenge(stale: bool) -> Response:
        value = f'Digest realm="{realm}", nonce="{nonces.issue()}", opaque="{opaque}", '
        if stale:
            value += 'stale="true", '
        value += 'algorithm="MD5", qop="auth"'
        return unauthorized(value.encode("utf-8", "surrogateescape"))

    def check(req: Request, auth: dict[str, str]) -> str | bool:
        """The user name, False to challenge again, True to challenge as stale."""
        auth.setdefault("algorithm", "MD5")
        if auth.get("opaque", "") != opaque or auth["algorithm"] != "MD5" or auth.get("qop") != "auth":
            return False
        uri = auth.get("uri", "")
        if uri != req.target and not _uri_prefix_of(uri, req.raw_path):
            return False
        username = auth.get("username", "")
        ha1 = users.get(f"{username}:{realm}")
        if ha1 is None:
            return False
        ha2 = _h(f"{req.method}:{uri}")
        parts = [ha1, auth.get("nonce", ""), auth.get("nc", ""), auth.get("cnonce", ""), auth["qop"]]
        kd = _h(":".join([*parts, ha2]))
        if not hmac.compare_digest(kd.encode(), auth.get("response", "").encode("utf-8", "surrogateescape")):
            return False
        nc_text = auth.get("nc", "")
        if _HEX_NC.fullmatch(nc_text) is None:
            return False
        nc = int(nc_text, 16)
        client = nonces.clients.get(auth.get("nonce", ""))
        if client is None:
            return False
        if client[0] != 0:
            if nc == client[0]:
                return False  # replayed
            if nc < client[0]:
                return True  # out of order: the client may retry without asking the user
        client[0] = nc
        client[1] = time.monotonic_ns()
        return username

    async def digest_auth(req: Request) -> Response:
        try:
            auth = parse_digest_params((req.headers.get(b"authorization") or b"").decode("utf-8", "surrogateescape"))
        except _Panic:
            return Response.text(500, "Internal Server Error")
        outcome: str | bool = False if auth is None else check(req, auth)
        if isinstance(outcome, bool) or not outcome:
            if auth and auth.get("username"):
                req.context["client_username"] = auth["username"]
            return challenge(outcome is True)
        req.context["client_username"] = outcome
        h = req.headers
        if remove_header:
            h.remove(b"authorization")
        if field_b:
            h.remove(field_b.lower())
            if keep_field:
                h.add(field_b, outcome.encode("utf-8", "surrogateescape"))
        return await next_(req)

    return digest_auth


def _uri_prefix_of(uri: str, raw_path: str) -> bool:
    """go-http-auth also accepts a ``uri`` whose decoded path is a prefix of the request's."""
    if _BAD_ESCAPE.search(uri):
        return False
    try:
        path = urlsplit(uri).path
    except ValueError:
        return False
    return unquote_to_bytes(raw_path).startswith(unquote_to_bytes(path))
