"""Domains named in rules, as Traefik extracts them for ACME and TLS checks.

``ParseDomains`` (HTTP) and ``ParseHostSNI`` (TCP) parse the rule with every v3
and v2 matcher name and collect the lower-cased arguments of ``Host`` /
``HostSNI`` leaves, negated or not, without validating the arguments.
"""

from __future__ import annotations

from .http import go_lower
from .parser import HTTP_MATCHERS, And, Matcher, Node, Not, Or, parse_rule
from .tcp import TCP_MATCHERS

__all__ = ["rule_hosts", "tcp_rule_needs_tls"]

_HTTP_V2_EXTRA = ("HostHeader", "Headers", "HeadersRegexp")


def _collect(node: Node, name: str, out: list[str]) -> list[str]:
    if isinstance(node, Matcher):
        if node.name == name:
            out.extend(go_lower(a) for a in node.args)
    elif isinstance(node, Not):
        _collect(node.operand, name, out)
    elif isinstance(node, And | Or):
        _collect(node.left, name, out)
        _collect(node.right, name, out)
    return out


def rule_hosts(rule: str, *, tcp: bool = False) -> list[str]:
    """``Host()`` values of an HTTP rule (``HostSNI()`` with ``tcp=True``); RuleError if unparsable."""
    if tcp:
        return _collect(parse_rule(rule, TCP_MATCHERS), "HostSNI", [])
    return _collect(parse_rule(rule, HTTP_MATCHERS + _HTTP_V2_EXTRA), "Host", [])


def tcp_rule_needs_tls(rule: str) -> bool:
    """Whether a TCP router with this rule must have TLS (pkg/server/router/tcp/manager.go).

    Traefik refuses a non-TLS router whose rule has HostSNI values unless the
    *first* one is ``*``.
    """
    domains = rule_hosts(rule, tcp=True)
    return bool(domains) and domains[0] != "*"
