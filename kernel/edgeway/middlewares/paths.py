"""Path middlewares: addPrefix, stripPrefix, stripPrefixRegex, replacePath,
replacePathRegex, encodedCharacters (Traefik's ``pkg/middlewares/<name>``).

They work on Go's (Path, RawPath) pair (:mod:`edgeway.middlewares.gourl`), so
prefixes match the decoded path, the escaped spelling survives when it still
spells the same path, and a rewritten path that ``URL.JoinPath()`` would clean
differently is refused with 400 as Traefik does. This module also registers the
redirect, contentType and passTLSClientCert middlewares.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable
from typing import Any

from edgeway import hookimpl
from edgeway.config.dynamic import (
    AddPrefix,
    ContentType,
    EncodedCharacters,
    PassTLSClientCert,
    RedirectRegex,
    RedirectScheme,
    ReplacePath,
    ReplacePathRegex,
    StripPrefix,
    StripPrefixRegex,
)
from edgeway.http.message import GO_SPACE, Handler, Request, Response, ready
from edgeway.middlewares.contenttype import build_content_type
from edgeway.middlewares.goregexp import compile_capturing
from edgeway.middlewares.gourl import (
    EscapeError,
    StoredPath,
    apply_stored,
    escaped_path,
    join_path,
    path_of,
    store_path,
    stored_path,
    to_bstr,
    to_text,
    unescape,
)
from edgeway.middlewares.passtlsclientcert import build_pass_tls_client_cert
from edgeway.middlewares.redirect import build_redirect_regex, build_redirect_scheme
from edgeway.registry import BuildContext, MiddlewareType
from edgeway.rules import compile_go_regexp

FORWARDED_PREFIX = b"X-Forwarded-Prefix"
REPLACED_PATH = b"X-Replaced-Path"


def _leading_slash(s: str) -> str:
    return s if not s or s[0] == "/" else "/" + s


def _encoded_prefix_len(raw: str, decoded_prefix: str) -> int:
    """Bytes of ``raw`` that spell ``decoded_prefix`` (a ``%XX`` counts as one)."""
    decoded = i = 0
    n = len(raw)
    while i < n and decoded < len(decoded_prefix):
        i += 3 if raw[i] == "%" and i + 2 < n else 1
        decoded += 1
    return i


def _bad_request() -> Response:
    return Response.text(400, "Bad Request")


def _joined(path: str, raw: str) -> tuple[str, str] | None:
    """The new (Path, RawPath) as ``JoinPath()`` leaves it; None when it would clean
    ``path`` into another path (Traefik answers 400)."""
    if path:
        joined = join_path(path, raw)
        if joined[0] != path:
            return None
        return joined
    return path, raw


def _commit(req: Request, path: str, raw: str) -> bool:
    """Store the new path unless ``JoinPath()`` cleans it differently (then False)."""
    joined = _joined(path, raw)
    if joined is None:
        return False
    store_path(req, *joined)
    return True


def build_add_prefix(options: AddPrefix, next_: Handler, ctx: BuildContext) -> Handler:
    if not options.prefix:
        raise ValueError("prefix cannot be empty")
    prefix = to_bstr(options.prefix)

    async def add_prefix(req: Request) -> Response:
        path, raw = path_of(req)
        store_path(req, _leading_slash(prefix + path), _leading_slash(prefix + raw) if raw else raw)
        return await next_(req)

    return add_prefix


def build_strip_prefix(options: StripPrefix, next_: Handler, ctx: BuildContext) -> Handler:
    """Remove the first matching prefix (even an empty one, as Traefik does)."""
    prefixes = [to_bstr(p.strip(GO_SPACE)) for p in options.prefixes or []]
    force_slash = bool(options.forceSlash)

    def stripped(rest: str) -> str:
        return "/" + rest.removeprefix("/") if force_slash else _leading_slash(rest)

    @functools.lru_cache(maxsize=1024)
    def plan(path: str, raw: str) -> tuple[StoredPath, bytes] | bool:
        """What stripping does to Go's (Path, RawPath): the path to store and the
        X-Forwarded-Prefix value; False when nothing matches, True for a 400."""
        for prefix in prefixes:
            if path.startswith(prefix):
                new_raw = stripped(raw[_encoded_prefix_len(raw, prefix) :]) if raw else raw
                joined = _joined(stripped(path[len(prefix) :]), new_raw)
                if joined is None:
                    return True
                return stored_path(*joined), prefix.encode("latin-1")
        return False

    def strip_prefix(req: Request) -> Awaitable[Response]:
        p = plan(*path_of(req))
        if p is False:
            return next_(req)
        if p is True:
            return ready(_bad_request())
        stored, prefix = p  # type: ignore[misc]
        apply_stored(req, stored)
        req.headers.raw.append((FORWARDED_PREFIX, prefix))
        return next_(req)

    return strip_prefix


def build_strip_prefix_regex(options: StripPrefixRegex, next_: Handler, ctx: BuildContext) -> Handler:
    expressions = [compile_go_regexp(exp.strip(GO_SPACE)) for exp in options.regex or []]

    async def strip_prefix_regex(req: Request) -> Response:
        path, raw = path_of(req)
        text = to_text(path)
        for exp in expressions:
            m = exp.search(text)
            if m is None or not m.group(0):
                continue
            prefix = to_bstr(m.group(0))
            if not path.startswith(prefix):
                continue
            req.headers.add(FORWARDED_PREFIX, prefix.encode("latin-1"))
            new_raw = _leading_slash(raw[_encoded_prefix_len(raw, prefix) :]) if raw else raw
            if not _commit(req, _leading_slash(path.replace(prefix, "", 1)), new_raw):
                return _bad_request()
            break
        return await next_(req)

    return strip_prefix_regex


def build_replace_path(options: ReplacePath, next_: Handler, ctx: BuildContext) -> Handler:
    """Replace the path; the old one goes to ``X-Replaced-Path``. A path with a bad
    escape is accepted, and every request gets Go's 500 with the unescape error."""
    new_raw = to_bstr(options.path or "")
    try:
        new_path, error = unescape(new_raw), ""
    except EscapeError as exc:
        new_path, error = "", str(exc)

    async def replace_path(req: Request) -> Response:
        path, raw = path_of(req)
        req.headers.add(REPLACED_PATH, (raw or escaped_path(path, raw)).encode("latin-1"))
        if error:
            return Response.text(500, error)
        store_path(req, new_path, new_raw)
        return await next_(req)

    return replace_path


def build_replace_path_regex(options: ReplacePathRegex, next_: Handler, ctx: BuildContext) -> Handler:
    try:
        exp = compile_capturing((options.regex or "").strip(GO_SPACE))
    except ValueError as exc:
        raise ValueError(f"error compiling regular expression {options.regex}: {exc}") from exc
    replacement = (options.replacement or "").strip(GO_SPACE)

    async def replace_path_regex(req: Request) -> Response:
        path, raw = path_of(req)
        current = raw or escaped_path(path, raw)
        text = to_text(current)
        if exp.search(text) is not None:
            req.headers.add(REPLACED_PATH, current.encode("latin-1"))
            new_raw = to_bstr(exp.replace_all(text, replacement))
            try:
                new_path = unescape(new_raw)
            except EscapeError as exc:
                return Response.text(500, str(exc))
            if not _commit(req, new_path, new_raw):
                return _bad_request()
        return await next_(req)

    return replace_path_regex


_ENCODINGS = {
    "allowEncodedSlash": ("%2F", "%2f"),
    "allowEncodedBackSlash": ("%5C", "%5c"),
    "allowEncodedNullCharacter": ("%00",),
    "allowEncodedSemicolon": ("%3B", "%3b"),
    "allowEncodedPercent": ("%25",),
    "allowEncodedQuestionMark": ("%3F", "%3f"),
    "allowEncodedHash": ("%23",),
}


def build_encoded_characters(options: EncodedCharacters, next_: Handler, ctx: BuildContext) -> Handler:
    """400 (empty body) for a denied ``%XX`` in the escaped path."""
    denied = frozenset(e for opt, encs in _ENCODINGS.items() if not getattr(options, opt) for e in encs)
    if not denied:
        return next_

    async def encoded_characters(req: Request) -> Response:
        path, raw = path_of(req)
        escaped = escaped_path(path, raw)
        i = escaped.find("%")
        while i >= 0:
            if i + 2 >= len(escaped) or escaped[i : i + 3] in denied:
                return Response(400)
            i = escaped.find("%", i + 3)
        return await next_(req)

    return encoded_characters


@hookimpl
def register_middlewares(register: Any) -> None:
    for name, model, build in (
        ("addPrefix", AddPrefix, build_add_prefix),
        ("stripPrefix", StripPrefix, build_strip_prefix),
        ("stripPrefixRegex", StripPrefixRegex, build_strip_prefix_regex),
        ("replacePath", ReplacePath, build_replace_path),
        ("replacePathRegex", ReplacePathRegex, build_replace_path_regex),
        ("encodedCharacters", EncodedCharacters, build_encoded_characters),
        ("redirectScheme", RedirectScheme, build_redirect_scheme),
        ("redirectRegex", RedirectRegex, build_redirect_regex),
        ("contentType", ContentType, build_content_type),
        ("passTLSClientCert", PassTLSClientCert, build_pass_tls_client_cert),
    ):
        register(MiddlewareType(name, model, build, plugin=False))
