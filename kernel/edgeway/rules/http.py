"""HTTP rule matchers with Traefik v3 semantics (``pkg/muxer/http/matcher.go``).

``compile_http_rule`` turns a rule into nested closures once; per request only the
closures run. Each builder mirrors its Go counterpart, including its validation
errors (wrapped like ``AddRoute`` wraps them).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from edgeway.http.message import Request

from .ipcheck import ip_checker
from .parser import HTTP_MATCHERS, And, Matcher, Node, Not, Or, RuleError, go_quote, parse_rule
from .regexp import RegexpError, compile_go_regexp, translate

__all__ = ["HttpPredicate", "compile_http_rule", "compile_http_tree", "domain_match"]

HttpPredicate = Callable[[Request], bool]

_ARITY: dict[str, tuple[int, ...]] = {
    "ClientIP": (1,),
    "Method": (1,),
    "Host": (1,),
    "HostRegexp": (1,),
    "Path": (1,),
    "PathRegexp": (1,),
    "PathPrefix": (1,),
    "Header": (2,),
    "HeaderRegexp": (2,),
    "Query": (1, 2),
    "QueryRegexp": (1, 2),
}


def compile_http_rule(text: str) -> HttpPredicate:
    """Parse and compile an HTTP router rule (raises RuleError like Traefik's AddRoute)."""
    return compile_http_tree(parse_rule(text, HTTP_MATCHERS))


def compile_http_tree(node: Node) -> HttpPredicate:
    if isinstance(node, Matcher):
        return _leaf(node)
    if isinstance(node, Not):
        inner = compile_http_tree(node.operand)
        return lambda req: not inner(req)
    left, right = compile_http_tree(node.left), compile_http_tree(node.right)
    if isinstance(node, And):
        return lambda req: left(req) and right(req)
    assert isinstance(node, Or)
    return lambda req: left(req) or right(req)


def check_args(node: Matcher) -> None:
    """rules.CheckRule: at least one argument, none empty."""
    if not node.args:
        raise RuleError(f"error while checking rule {node.name}: no args for matcher {node.name}")
    if any(not a for a in node.args):
        raise RuleError(
            f"error while checking rule {node.name}: empty args for matcher {node.name}, "
            f"[{' '.join(node.args)}]"
        )


def _leaf(node: Matcher) -> HttpPredicate:
    check_args(node)
    arity = _ARITY[node.name]
    if len(node.args) not in arity:
        raise _adding(
            node,
            f"unexpected number of parameters; got {len(node.args)}, "
            f"expected one of [{' '.join(map(str, arity))}]",
        )
    try:
        return _BUILDERS[node.name](*node.args)
    except RegexpError as exc:
        label = "PathPrefix" if node.name == "PathRegexp" else node.name  # sic, matcher.go
        raise _adding(node, f"compiling {label} matcher: {exc}") from None
    except ValueError as exc:
        raise _adding(node, str(exc)) from None


def _adding(node: Matcher, msg: str) -> RuleError:
    return RuleError(f"error while adding rule {node.name}: {msg}")


def _client_ip(value: str) -> HttpPredicate:
    try:
        contains = ip_checker(value)
    except ValueError as exc:
        raise ValueError(f"initializing IP checker for ClientIP matcher: {exc}") from None
    return lambda req: contains(req.client_ip)


def go_upper(s: str) -> str:
    """strings.ToUpper: simple per-rune mapping (Python's full mapping turns ß into SS)."""
    if s.isascii():
        return s.upper()
    return "".join(u if len(u := c.upper()) == 1 else c for c in s)


def go_lower(s: str) -> str:
    """strings.ToLower: simple per-rune mapping (İ → i, as Go)."""
    if s.isascii():
        return s.lower()
    return "".join(lo if len(lo := c.lower()) == 1 else "i" if c == "\u0130" else c for c in s)


def _method(value: str) -> HttpPredicate:
    method = go_upper(value)
    return lambda req: req.method == method


def domain_match(domain: str, expr: str) -> bool:
    """muxer.DomainMatchHostExpression for a lower-case ``domain`` and ``expr``.

    A leading ``*`` replaces the first label of the domain: one label only.
    """
    if expr[:1] == "*":
        dot = domain.find(".")
        return expr == ("*" if dot < 0 else "*" + domain[dot:])
    return domain == expr


def _host(value: str) -> HttpPredicate:
    if value == "*":
        return lambda req: True
    if not value.isascii():
        raise ValueError(
            f"invalid value {go_quote(value)} for Host matcher, non-ASCII characters are not allowed"
        )
    expr = value.lower()
    trimmed = expr[:-1] if expr.endswith(".") else None
    if expr[:1] != "*":
        exact = frozenset(e for e in (expr, trimmed) if e is not None)

        def match_host(req: Request) -> bool:
            host = req.host
            return bool(host) and (host in exact or (host[-1] == "." and host[:-1] == expr))

        return match_host

    def match_wildcard(req: Request) -> bool:
        host = req.host
        if not host:
            return False
        if domain_match(host, expr) or (trimmed is not None and domain_match(host, trimmed)):
            return True
        return host[-1] == "." and domain_match(host[:-1], expr)

    return match_wildcard


def _host_regexp(value: str) -> HttpPredicate:
    if not value.isascii():
        raise ValueError(
            f"invalid value {go_quote(value)} for HostRegexp matcher, "
            "non-ASCII characters are not allowed"
        )
    search = compile_go_regexp(value).search
    if search("") is not None:
        # Traefik also tries the CNAME-flattened host, "" when no resolver is set.
        return lambda req: True
    return lambda req: search(req.host) is not None


def _check_path(value: str) -> None:
    if not value.startswith("/"):
        raise ValueError(f"path {go_quote(value)} does not start with a '/'")


def _path(value: str) -> HttpPredicate:
    _check_path(value)
    return lambda req: req.path == value


def _path_prefix(value: str) -> HttpPredicate:
    _check_path(value)
    return lambda req: req.path.startswith(value)


def _path_regexp(value: str) -> HttpPredicate:
    search = compile_go_regexp(value).search
    return lambda req: search(req.path) is not None


_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _header_key(name: str) -> bytes | None:
    """Lower-case wire name to look for; None when Go can never match it.

    Go canonicalises the key (case-insensitive for token names); a non-token name
    is kept as is and no parsed request can carry it. ``Host`` is moved out of
    the header map into ``req.Host`` by Go's HTTP/1 server.
    """
    raw = name.encode("utf-8", "surrogateescape")
    if not raw or any(b not in _TOKEN for b in raw):
        return None
    return raw.lower()


def _header(name: str, value: str) -> HttpPredicate:
    key = _header_key(name)
    if key is None:
        return lambda req: False
    want = value.encode("utf-8", "surrogateescape")
    size = len(key)
    host = key == b"host"

    def match_header(req: Request) -> bool:
        if host and req.http_version[:1] == "1":
            return False
        return any(v == want and len(n) == size and n.lower() == key for n, v in req.headers.raw)

    return match_header


def _header_regexp(name: str, pattern: str) -> HttpPredicate:
    key = _header_key(name)
    compiled = compile_go_regexp(pattern)
    if key is None:
        return lambda req: False
    search = compiled.search
    bsearch = _bytes_twin(pattern)
    size = len(key)
    host = key == b"host"

    def match_header_regexp(req: Request) -> bool:
        if host and req.http_version[:1] == "1":
            return False
        for n, v in req.headers.raw:
            if len(n) == size and n.lower() == key:
                if bsearch is not None and v.isascii():
                    if bsearch(v) is not None:
                        return True
                elif search(v.decode("utf-8", "surrogateescape")) is not None:
                    return True
        return False

    return match_header_regexp


def _bytes_twin(pattern: str) -> Callable[[bytes], object] | None:
    """The same pattern over bytes, used for ASCII values: no decoding per request.

    On ASCII input a pattern made of ASCII escapes behaves the same over bytes;
    patterns needing wider escapes (``\\u``, ``\\U``) keep the str path.
    """
    source = translate(pattern)
    if not source.isascii():
        return None
    try:
        return re.compile(source.encode()).search
    except re.error:
        return None


def _query(key: str, value: str = "") -> HttpPredicate:
    def match_query(req: Request) -> bool:
        values = req.query_args().get(key)
        return values is not None and value in values

    return match_query


def _query_regexp(key: str, pattern: str | None = None) -> HttpPredicate:
    if pattern is None:
        return _query(key)
    search = compile_go_regexp(pattern).search

    def match_query_regexp(req: Request) -> bool:
        values = req.query_args().get(key)
        if values is None:
            return False
        return any(search(v) is not None for v in values)

    return match_query_regexp


_BUILDERS: dict[str, Callable[..., HttpPredicate]] = {
    "ClientIP": _client_ip,
    "Method": _method,
    "Host": _host,
    "HostRegexp": _host_regexp,
    "Path": _path,
    "PathRegexp": _path_regexp,
    "PathPrefix": _path_prefix,
    "Header": _header,
    "HeaderRegexp": _header_regexp,
    "Query": _query,
    "QueryRegexp": _query_regexp,
}
