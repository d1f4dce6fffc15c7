"""Traefik v3 router rules: parsing, HTTP/TCP matching, domains and priorities."""

from .domains import rule_hosts, tcp_rule_needs_tls
from .http import compile_http_rule, compile_http_tree
from .parser import (
    HTTP_MATCHERS,
    And,
    Matcher,
    Node,
    Not,
    Or,
    RuleError,
    format_rule,
    parse_rule,
)
from .priority import (
    default_priority,
    default_tcp_priority,
    provider_name,
    provider_priority,
    route_sort_key,
    tcp_is_catch_all,
)
from .regexp import RegexpError, compile_go_regexp
from .tcp import TCP_MATCHERS, canonical_sni, compile_tcp_rule, compile_tcp_tree

__all__ = [
    "HTTP_MATCHERS",
    "TCP_MATCHERS",
    "And",
    "Matcher",
    "Node",
    "Not",
    "Or",
    "RegexpError",
    "RuleError",
    "canonical_sni",
    "compile_go_regexp",
    "compile_http_rule",
    "compile_http_tree",
    "compile_tcp_rule",
    "compile_tcp_tree",
    "default_priority",
    "default_tcp_priority",
    "format_rule",
    "parse_rule",
    "provider_name",
    "provider_priority",
    "route_sort_key",
    "rule_hosts",
    "tcp_is_catch_all",
    "tcp_rule_needs_tls",
]
