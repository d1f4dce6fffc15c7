"""Go's ``mime.ParseMediaType``, as the compress middleware needs it.

Traefik parses every configured and every response content type with it; an
unparsable one changes what is compressed.
"""

from __future__ import annotations

__all__ = ["MediaTypeError", "media_type_matches", "parse_media_type"]

# RFC 2045 tspecials; token characters are the printable ASCII others.
_TSPECIALS = frozenset('()<>@,;:\\"/[]?=')
_SPACE = " \t\n\r\x0b\x0c"


class MediaTypeError(ValueError):
    """The text is not a media type (Go's ``mime`` errors)."""


def _is_token_char(c: str) -> bool:
    return " " < c < "\x7f" and c not in _TSPECIALS


def _consume_token(v: str) -> tuple[str, str]:
    i = 0
    while i < len(v) and _is_token_char(v[i]):
        i += 1
    return v[:i], v[i:]


def _consume_value(v: str) -> tuple[str, str]:
    if not v:
        return "", v
    if v[0] != '"':
        return _consume_token(v)
    out: list[str] = []
    i = 1
    while i < len(v):
        c = v[i]
        if c == '"':
            return "".join(out), v[i + 1 :]
        if c == "\\" and i + 1 < len(v) and v[i + 1] in _TSPECIALS:
            out.append(v[i + 1])
            i += 2
            continue
        if c in "\r\n":
            return "", v
        out.append(c)
        i += 1
    return "", v


def _consume_param(v: str) -> tuple[str, str, str]:
    """Go's ``consumeMediaParam``: ``(key, value, rest)``, key empty when none parses."""
    rest = v.lstrip(_SPACE)
    if not rest.startswith(";"):
        return "", "", v
    key, rest = _consume_token(rest[1:].lstrip(_SPACE))
    if not key:
        return "", "", v
    rest = rest.lstrip(_SPACE)
    if not rest.startswith("="):
        return "", "", v
    rest = rest[1:].lstrip(_SPACE)
    value, rest2 = _consume_value(rest)
    if value == "" and rest2 == rest:
        return "", "", v
    return key.lower(), value, rest2


def parse_media_type(value: str) -> tuple[str, dict[str, str]]:
    """``(media type lower-cased, parameters)``, or MediaTypeError as Go's ``ParseMediaType``."""
    i = value.find(";")
    base, v = (value, "") if i < 0 else (value[:i], value[i:])
    mediatype = base.strip(_SPACE).lower()
    token, tail = _consume_token(mediatype)
    if not token:
        raise MediaTypeError("mime: no media type")
    if tail:
        if tail[0] != "/":
            raise MediaTypeError("mime: expected slash after first token")
        sub, tail = _consume_token(tail[1:])
        if not sub:
            raise MediaTypeError("mime: expected token after slash")
        if tail:
            raise MediaTypeError("mime: unexpected content after media subtype")
    params: dict[str, str] = {}
    while v:
        v = v.lstrip(_SPACE)
        if not v:
            break
        key, val, rest = _consume_param(v)
        if not key:
            if rest.strip(_SPACE) == ";":
                break  # a trailing semicolon is ignored
            raise MediaTypeError("mime: invalid media parameter")
        if key in params:
            raise MediaTypeError("mime: duplicate parameter name")
        params[key] = val
        v = rest
    return mediatype, params


def media_type_matches(
    want: tuple[str, dict[str, str]], mediatype: str, params: dict[str, str]
) -> bool:
    """``parsedContentType.equals``: same type, and the same parameters when ``want`` has any."""
    if want[0] != mediatype:
        return False
    return not want[1] or want[1] == params
