"""The parts of Go's ``net/url`` the path and redirect middlewares depend on.

Traefik's middlewares work on ``req.URL.Path`` (decoded) and ``req.URL.RawPath``
(the escaped spelling, empty when it is the default one) and forward
``EscapedPath()``; the 400 of stripPrefix and friends comes from comparing the
path with ``URL.JoinPath()``'s. Strings here are Go strings: bytes held in a
``str`` as latin-1 (``raw_path`` already is), so lengths and slices are byte ones.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from edgeway.http.message import Request, routing_path
from edgeway.http.server import clean_path
from edgeway.rules.parser import go_quote

__all__ = [
    "EscapeError",
    "URL",
    "escape",
    "escaped_path",
    "join_path",
    "parse",
    "path_of",
    "apply_stored",
    "set_path",
    "store_path",
    "stored_path",
    "to_bstr",
    "to_text",
    "unescape",
]

_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_HEX = frozenset("0123456789abcdefABCDEF")
# Modes of Go's shouldEscape.
PATH, HOST, USER, QUERY_COMPONENT, FRAGMENT = range(5)


class EscapeError(ValueError):
    """Go's ``url.EscapeError`` (its message is what ReplacePath answers with)."""


def to_bstr(text: str) -> str:
    """A Python string as a Go string (UTF-8 bytes as latin-1)."""
    return text.encode("utf-8", "surrogateescape").decode("latin-1")


def to_text(bstr: str) -> str:
    """A Go string back to text (invalid UTF-8 kept through ``surrogateescape``)."""
    return bstr.encode("latin-1").decode("utf-8", "surrogateescape")


def should_escape(c: str, mode: int) -> bool:
    if c in _ALNUM:
        return False
    if mode == HOST and c in "!$&'()*+,;=:[]<>\"":
        return False
    if c in "-_.~":
        return False
    if c in "$&+,/:;=?@":
        if mode == PATH:
            return c == "?"
        if mode == USER:
            return c in "@/?:"
        if mode == QUERY_COMPONENT:
            return True
        if mode == FRAGMENT:
            return False
    return not (mode == FRAGMENT and c in "!()*")


def escape(s: str, mode: int) -> str:
    out = []
    for c in s:
        if c == " " and mode == QUERY_COMPONENT:
            out.append("+")
        elif should_escape(c, mode):
            out.append(f"%{ord(c):02X}")
        else:
            out.append(c)
    return "".join(out)


def unescape(s: str, mode: int = PATH) -> str:
    """Go's ``url.unescape``; raises :class:`EscapeError` with Go's message."""
    if "%" not in s and mode != HOST:
        return s
    out = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c == "%":
            if i + 2 >= n or s[i + 1] not in _HEX or s[i + 2] not in _HEX:
                raise EscapeError(f"invalid URL escape {go_quote(to_text(s[i : i + 3]))}")
            if mode == HOST and int(s[i + 1], 16) < 8 and s[i : i + 3] != "%25":
                raise EscapeError(f"invalid URL escape {go_quote(s[i : i + 3])}")
            out.append(chr(int(s[i + 1 : i + 3], 16)))
            i += 3
            continue
        if mode == HOST and ord(c) < 0x80 and should_escape(c, HOST):
            raise EscapeError(f"invalid character {c!r} in host name")
        out.append(c)
        i += 1
    return "".join(out)


def valid_encoded(s: str, mode: int) -> bool:
    for c in s:
        if c in "!$&'()*+,;=:@[]%":
            continue
        if should_escape(c, mode):
            return False
    return True


# --- Path and RawPath --------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def set_path(p: str) -> tuple[str, str]:
    """Go's ``URL.setPath``: (Path, RawPath) for the escaped ``p``.

    Cached: path middlewares call it for every request, mostly on a few paths.
    """
    path = unescape(p)
    return path, ("" if escape(path, PATH) == p else p)


def escaped_path(path: str, raw: str) -> str:
    """Go's ``URL.EscapedPath``."""
    if raw and valid_encoded(raw, PATH):
        try:
            if unescape(raw) == path:
                return raw
        except EscapeError:
            pass
    if path == "*":
        return "*"
    return escape(path, PATH)


def _clean_rooted(p: str) -> str:
    """Go's ``path.Clean`` of a rooted path (no trailing slash kept)."""
    cleaned = clean_path(p)
    return cleaned if cleaned == "/" else cleaned.rstrip("/")


def join_path(path: str, raw: str) -> tuple[str, str]:
    """Go's ``URL.JoinPath()`` without elements: the escaped path cleaned."""
    elem = escaped_path(path, raw)
    p = _clean_rooted(elem) if elem.startswith("/") else _clean_rooted("/" + elem)[1:]
    if elem.endswith("/") and not p.endswith("/"):
        p += "/"
    try:
        return set_path(p)
    except EscapeError:  # Go ignores setPath's error: the URL is left as it was
        return path, raw


_CTX = "edgeway.gourl.path"


def path_of(req: Request) -> tuple[str, str]:
    """Go's (Path, RawPath) of the request: as the last middleware left them, or
    parsed from ``raw_path`` (which the server has checked for bad escapes)."""
    cached = req.context.get(_CTX)
    if cached is not None and cached[0] == req.raw_path:
        return cached[1], cached[2]
    raw = req.raw_path
    if not raw.isascii():
        raw = to_bstr(raw) if any(ord(c) > 0xFF for c in raw) else raw
    try:
        return set_path(raw)
    except EscapeError:
        return raw, ""


#: What :func:`store_path` sets: the escaped path, its routing path, and Go's
#: ``(EscapedPath, Path, RawPath)`` for :func:`path_of`.
StoredPath = tuple[str, str, tuple[str, str, str]]


def stored_path(path: str, raw: str) -> StoredPath:
    """What :func:`store_path` sets for Go's (Path, RawPath): computed once, a
    middleware can cache it with the rest of its plan for a path."""
    escaped = escaped_path(path, raw)
    return escaped, routing_path(escaped), (escaped, path, raw)


def apply_stored(req: Request, stored: StoredPath) -> None:
    """Set the request's path as :func:`stored_path` computed it."""
    req.raw_path, req.path, req.context[_CTX] = stored


def store_path(req: Request, path: str, raw: str) -> None:
    """Set the request's path as Go would forward it (``EscapedPath()``)."""
    apply_stored(req, stored_path(path, raw))


# --- url.Parse and URL.String --------------------------------------------------------------


@dataclass
class URL:
    scheme: str = ""
    opaque: str = ""
    user: tuple[str, str | None] | None = None
    host: str = ""
    path: str = ""
    raw_path: str = ""
    omit_host: bool = False
    force_query: bool = False
    raw_query: str = ""
    fragment: str = ""
    raw_fragment: str = ""

    def escaped_fragment(self) -> str:
        if self.raw_fragment and valid_encoded(self.raw_fragment, FRAGMENT):
            try:
                if unescape(self.raw_fragment, FRAGMENT) == self.fragment:
                    return self.raw_fragment
            except EscapeError:
                pass
        return escape(self.fragment, FRAGMENT)

    def string(self) -> str:
        """Go's ``URL.String()``."""
        buf: list[str] = []
        if self.scheme:
            buf += [self.scheme, ":"]
        if self.opaque:
            buf.append(self.opaque)
        else:
            authority = self.scheme or self.host or self.user is not None
            if authority and not (self.omit_host and not self.host and self.user is None):
                if self.host or self.path or self.user is not None:
                    buf.append("//")
                if self.user is not None:
                    name, password = self.user
                    buf.append(escape(name, USER))
                    if password is not None:
                        buf += [":", escape(password, USER)]
                    buf.append("@")
                if self.host:
                    buf.append(escape(self.host, HOST))
            path = escaped_path(self.path, self.raw_path)
            if path and path[0] != "/" and self.host:
                buf.append("/")
            if not buf and ":" in path.split("/", 1)[0]:
                buf.append("./")
            buf.append(path)
        if self.force_query or self.raw_query:
            buf += ["?", self.raw_query]
        if self.fragment:
            buf += ["#", self.escaped_fragment()]
        return "".join(buf)


def _get_scheme(raw: str) -> tuple[str, str]:
    for i, c in enumerate(raw):
        if "a" <= c <= "z" or "A" <= c <= "Z":
            continue
        if "0" <= c <= "9" or c in "+-.":
            if i == 0:
                return "", raw
            continue
        if c == ":":
            if i == 0:
                raise ValueError("missing protocol scheme")
            return raw[:i], raw[i + 1 :]
        return "", raw
    return "", raw


def _valid_optional_port(port: str) -> bool:
    return port == "" or (port[0] == ":" and all("0" <= c <= "9" for c in port[1:]))


def _parse_host(host: str) -> str:
    if host.startswith("["):
        i = host.rfind("]")
        if i < 0:
            raise ValueError("missing ']' in host")
        if not _valid_optional_port(host[i + 1 :]):
            raise ValueError("invalid port after host")
        zone = host.find("%25", 0, i)
        if zone >= 0:
            return unescape(host[:zone], HOST) + unescape(host[zone:i], PATH) + unescape(host[i:], HOST)
    elif (i := host.rfind(":")) != -1:
        if ":" in host[:i]:  # Go 1.26: an IPv6 address must be bracketed
            raise ValueError("invalid host")
        if not _valid_optional_port(host[i:]):
            raise ValueError("invalid port after host")
    return unescape(host, HOST)


_USERINFO_OK = _ALNUM | frozenset("-._:~!$&'()*+,;=%@")


def _parse_authority(authority: str) -> tuple[tuple[str, str | None] | None, str]:
    i = authority.rfind("@")
    host = _parse_host(authority[i + 1 :] if i >= 0 else authority)
    if i < 0:
        return None, host
    userinfo = authority[:i]
    if any(c not in _USERINFO_OK for c in userinfo):
        raise ValueError("net/url: invalid userinfo")
    if ":" not in userinfo:
        return (unescape(userinfo, USER), None), host
    name, _, password = userinfo.partition(":")
    return (unescape(name, USER), unescape(password, USER)), host


def parse(raw_url: str) -> URL:
    """Go's ``url.Parse``; raises ValueError where Go returns an error."""
    rest, hash_, frag = raw_url.partition("#")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in rest):
        raise ValueError("net/url: invalid control character in URL")
    url = URL()
    if rest == "*":
        url.path = "*"
    else:
        scheme, rest = _get_scheme(rest)
        url.scheme = scheme.lower()
        if rest.endswith("?") and rest.count("?") == 1:
            url.force_query = True
            rest = rest[:-1]
        else:
            rest, _, url.raw_query = rest.partition("?")
        if not rest.startswith("/"):
            if url.scheme:
                url.opaque = rest
                rest = None  # type: ignore[assignment]
            elif ":" in rest.split("/", 1)[0]:
                raise ValueError("first path segment in URL cannot contain colon")
        if rest is not None:
            if (url.scheme or not rest.startswith("///")) and rest.startswith("//"):
                authority, slash, tail = rest[2:].partition("/")
                rest = slash + tail
                url.user, url.host = _parse_authority(authority)
            elif url.scheme and rest.startswith("/"):
                url.omit_host = True
            url.path, url.raw_path = set_path(rest)
    if hash_ and frag:
        url.fragment = unescape(frag, FRAGMENT)
        url.raw_fragment = "" if escape(url.fragment, FRAGMENT) == frag else frag
    return url
