"""Router priorities and the order in which Traefik's muxers try routes.

Both muxers (``pkg/muxer/http/mux.go`` and ``pkg/muxer/tcp/mux.go``) keep their
routes sorted with::

    func (r routes) Less(i, j int) bool {
        return r[i].priority > r[j].priority ||
            (r[i].priority == r[j].priority && r[i].providerPriority > r[j].providerPriority)
    }

and try them in that order, first match wins. ``priority`` is the router's
``priority`` or, when 0, ``GetRulePriority(rule)`` = ``len(rule)`` (Go: bytes of
UTF-8). ``providerPriority`` is ``slices.Index(reversed(providers.precedence),
providerName(router))`` where ``providerName`` is the part after ``@`` when the
name has exactly one ``@`` (else ""), so earlier providers in the precedence
list win and unlisted ones (-1) lose. Beyond that Traefik's order is undefined
(routers come from a Go map and ``sort.Sort`` is not stable); we finish with
the router name so the order is deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence

from .parser import Matcher, Not, RuleError, parse_rule

__all__ = [
    "default_priority",
    "default_tcp_priority",
    "provider_name",
    "provider_priority",
    "route_sort_key",
    "tcp_is_catch_all",
]


def default_priority(rule: str) -> int:
    """``GetRulePriority``: the rule's length, counted in UTF-8 bytes as Go's ``len``."""
    return len(rule.encode("utf-8", "surrogatepass"))


def tcp_is_catch_all(rule: str) -> bool:
    """Whether the rule is exactly ``HostSNI(`*`)`` (possibly negated or parenthesised).

    Traefik parses with a HostSNI-only parser and folds ``!`` into the leaf, so
    ``!HostSNI(`*`)`` counts too; any other matcher makes the parse fail.
    """
    try:
        node = parse_rule(rule, ("HostSNI",))
    except RuleError:
        return False
    while isinstance(node, Not):
        node = node.operand
    return isinstance(node, Matcher) and node.args == ("*",)


def default_tcp_priority(rule: str) -> int:
    """TCP ``GetRulePriority``: -1 for the ``HostSNI(`*`)`` catch-all, else ``len(rule)``."""
    return -1 if tcp_is_catch_all(rule) else default_priority(rule)


def provider_name(router_name: str) -> str:
    parts = router_name.split("@")
    return parts[1] if len(parts) == 2 else ""


def provider_priority(router_name: str, precedence: Sequence[str]) -> int:
    """Index of the router's provider in the reversed precedence list; -1 when absent."""
    name = provider_name(router_name)
    for rank, provider in enumerate(reversed(precedence)):
        if provider == name:
            return rank
    return -1


def route_sort_key(
    priority: int, router_name: str, precedence: Sequence[str] = ()
) -> tuple[int, int, str]:
    """Sort key reproducing ``routes.Less``: ``sorted(routes, key=...)`` gives match order.

    ``priority`` is the effective one (user value, or the default when it is 0).
    """
    return (-priority, -provider_priority(router_name, precedence), router_name)
