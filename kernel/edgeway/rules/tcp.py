"""TCP rule matchers with Traefik v3 semantics (``pkg/muxer/tcp/matcher.go``).

A connection is matched on what is known before any byte is forwarded: the TLS
SNI, the peer address and the ALPN protocols the client offers. ``conn.sni``
must already be canonical (see :func:`canonical_sni`), as ``NewConnData`` makes it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

from .http import check_args, domain_match
from .ipcheck import ip_checker
from .parser import And, Matcher, Node, Not, RuleError, go_quote, parse_rule
from .regexp import RegexpError, compile_go_regexp

__all__ = [
    "TCP_MATCHERS",
    "ConnInfo",
    "TcpPredicate",
    "canonical_sni",
    "compile_tcp_rule",
    "compile_tcp_tree",
]

TCP_MATCHERS = ("ALPN", "ClientIP", "HostSNI", "HostSNIRegexp")
ACME_TLS_ALPN = "acme-tls/1"


class ConnInfo(Protocol):
    sni: str
    client_ip: str
    alpn: list[str]


TcpPredicate = Callable[[Any], bool]

# pkg/muxer/tcp/matcher.go hostOrIP: ^(\*\.)?[[:word:]\.\-\:]+$
_HOST_OR_IP = re.compile(r"(\*\.)?[0-9A-Za-z_.\-:]+")


def canonical_sni(server_name: str) -> str:
    """types.CanonicalDomain: trimmed and lower-cased (no trailing-dot removal)."""
    return server_name.strip().lower()


def compile_tcp_rule(text: str) -> TcpPredicate:
    """Parse and compile a TCP router rule (raises RuleError like the TCP muxer's AddRoute)."""
    return compile_tcp_tree(parse_rule(text, TCP_MATCHERS))


def compile_tcp_tree(node: Node) -> TcpPredicate:
    if isinstance(node, Matcher):
        return _leaf(node)
    if isinstance(node, Not):
        inner = compile_tcp_tree(node.operand)
        return lambda conn: not inner(conn)
    left, right = compile_tcp_tree(node.left), compile_tcp_tree(node.right)
    if isinstance(node, And):
        return lambda conn: left(conn) and right(conn)
    return lambda conn: left(conn) or right(conn)


def _leaf(node: Matcher) -> TcpPredicate:
    check_args(node)
    if len(node.args) != 1:
        raise RuleError(f"unexpected number of parameters; got {len(node.args)}, expected 1")
    value = node.args[0]
    try:
        return _BUILDERS[node.name](value)
    except RegexpError as exc:
        raise RuleError(f"compiling {node.name} matcher: {exc}") from None
    except ValueError as exc:
        raise RuleError(str(exc)) from None


def _alpn(proto: str) -> TcpPredicate:
    if proto == ACME_TLS_ALPN:
        raise ValueError(
            f"invalid protocol value for ALPN matcher, {go_quote(proto)} is not allowed"
        )
    return lambda conn: proto in conn.alpn


def _client_ip(value: str) -> TcpPredicate:
    try:
        contains = ip_checker(value)
    except ValueError as exc:
        raise ValueError(f"initializing IP checker for ClientIP matcher: {exc}") from None
    return lambda conn: contains(conn.client_ip)


def _host_sni(value: str) -> TcpPredicate:
    if value == "*":
        return lambda conn: True  # catch-all: also matches an empty server name
    if _HOST_OR_IP.fullmatch(value) is None:
        raise ValueError(
            f"invalid value for HostSNI matcher, {go_quote(value)} is not a valid hostname"
        )
    expr = value.removesuffix(".").lower()  # EqualFold against a lower-cased SNI
    if expr[:1] != "*":
        return lambda conn: conn.sni == expr and expr != ""
    return lambda conn: conn.sni != "" and domain_match(conn.sni, expr)


def _host_sni_regexp(value: str) -> TcpPredicate:
    if not value.isascii():
        raise ValueError(
            f"invalid value for HostSNIRegexp matcher, {go_quote(value)} is not a valid hostname"
        )
    search = compile_go_regexp(value).search
    return lambda conn: search(conn.sni) is not None


_BUILDERS: dict[str, Callable[[str], TcpPredicate]] = {
    "ALPN": _alpn,
    "ClientIP": _client_ip,
    "HostSNI": _host_sni,
    "HostSNIRegexp": _host_sni_regexp,
}
