"""Property tests: print/parse round trip, compiled rules vs a reference evaluator, robustness."""

from __future__ import annotations

import contextlib
import os
import re

from edgeway.http.message import Headers, Request
from edgeway.rules import (
    HTTP_MATCHERS,
    And,
    Matcher,
    Node,
    Not,
    Or,
    RuleError,
    compile_http_rule,
    compile_tcp_rule,
    format_rule,
    parse_rule,
)
from edgeway.rules.regexp import RegexpError, translate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SETTINGS = settings(
    max_examples=int(os.environ.get("RULES_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# -- (a) printing a tree and parsing it back is the identity -----------------------------

arg_text = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_characters="\x00\ufeff"),
        st.sampled_from("`\"\\\r\n\t'"),
        st.sampled_from([chr(0xDC80 + i) for i in range(128)]),  # surrogateescape bytes
    ),
    max_size=12,
)


def trees(leaf: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    return st.recursive(
        leaf,
        lambda sub: st.one_of(
            st.builds(Not, sub), st.builds(And, sub, sub), st.builds(Or, sub, sub)
        ),
        max_leaves=8,
    )


any_leaf = st.builds(
    Matcher, st.sampled_from(HTTP_MATCHERS), st.lists(arg_text, max_size=3).map(tuple)
)


@SETTINGS
@given(trees(any_leaf))
def test_format_then_parse_is_identity(tree: Node) -> None:
    assert parse_rule(format_rule(tree)) == tree


# -- (b) compiled rules agree with a direct evaluation of the tree -----------------------

HOSTS = ["example.com", "a.example.com", "b.a.example.com", "example.com.", "localhost", ""]
HOST_EXPRS = ["example.com", "*.example.com", "example.com.", "localhost", "*"]
PATHS = ["/", "/a", "/a/b", "/ab", "/b", "/a%2Fb", "/a%20b"]
PATH_ARGS = ["/", "/a", "/a/b", "/a b", "/a%2Fb", "/b"]
METHODS = ["GET", "POST", "get"]
HEADERS = [(b"X-A", b"1"), (b"x-a", b"2"), (b"X-B", b"1"), (b"X-A", b"1, 2")]
QUERIES = ["", "q=1", "q=2&q=1", "q", "r=1", "q="]
IPS = ["10.0.0.1", "10.0.1.1", "192.168.0.1", "::1", "::ffff:10.0.0.1"]
CIDRS = ["10.0.0.0/24", "10.0.0.1", "::1", "::/0", "192.168.0.0/16"]

simple_leaf = st.one_of(
    st.builds(lambda h: Matcher("Host", (h,)), st.sampled_from(HOST_EXPRS)),
    st.builds(lambda p: Matcher("Path", (p,)), st.sampled_from(PATH_ARGS)),
    st.builds(lambda p: Matcher("PathPrefix", (p,)), st.sampled_from(PATH_ARGS)),
    st.builds(lambda p: Matcher("PathRegexp", (p,)), st.sampled_from(["a", "b", "/a/"])),
    st.builds(lambda m: Matcher("Method", (m,)), st.sampled_from(["GET", "post"])),
    st.builds(
        lambda k, v: Matcher("Header", (k, v)),
        st.sampled_from(["X-A", "x-b"]),
        st.sampled_from("12"),
    ),
    st.builds(lambda v: Matcher("Query", ("q", v)), st.sampled_from("12")),
    st.just(Matcher("Query", ("q",))),
    st.builds(lambda c: Matcher("ClientIP", (c,)), st.sampled_from(CIDRS)),
)


def ref_host(host: str, expr: str) -> bool:
    if expr == "*":
        return True
    if not host:
        return False
    host, expr = host.removesuffix("."), expr.removesuffix(".")
    if expr.startswith("*."):
        return "." in host and host.split(".", 1)[1] == expr[2:]
    return host == expr


def ref_ip(client: str, cidr: str) -> bool:
    import ipaddress

    addr = ipaddress.ip_address(client)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    net = ipaddress.ip_network(cidr, strict=False)
    return addr.version == net.version and addr in net


def reference(node: Node, r: Request) -> bool:
    """The matchers' documented meaning, written as plainly as possible."""
    if isinstance(node, Not):
        return not reference(node.operand, r)
    if isinstance(node, And):
        return reference(node.left, r) and reference(node.right, r)
    if isinstance(node, Or):
        return reference(node.left, r) or reference(node.right, r)
    name, args = node.name, node.args
    if name == "Host":
        return ref_host(r.host, args[0])
    if name == "Path":
        return r.path == args[0]
    if name == "PathPrefix":
        return r.path.startswith(args[0])
    if name == "PathRegexp":
        return args[0] in r.path
    if name == "Method":
        return r.method == args[0].upper()
    if name == "Header":
        return any(
            n.lower() == args[0].lower().encode() and v == args[1].encode() for n, v in r.headers
        )
    if name == "Query":
        value = args[1] if len(args) == 2 else ""
        return value in r.query_args().get("q", [])
    assert name == "ClientIP"
    return ref_ip(r.client_ip, args[0])


requests = st.builds(
    lambda method, path, query, headers, host, ip: Request(
        method, path, query, Headers(headers), authority=host, client_ip=ip
    ),
    st.sampled_from(METHODS),
    st.sampled_from(PATHS),
    st.sampled_from(QUERIES),
    st.lists(st.sampled_from(HEADERS), max_size=3),
    st.sampled_from(HOSTS),
    st.sampled_from(IPS),
)


@SETTINGS
@given(trees(simple_leaf), st.lists(requests, min_size=1, max_size=5))
def test_compiled_rule_matches_reference(tree: Node, reqs: list[Request]) -> None:
    predicate = compile_http_rule(format_rule(tree))
    for r in reqs:
        assert predicate(r) == reference(tree, r)


# -- (c) arbitrary input only ever raises RuleError -------------------------------------

rule_alphabet = st.one_of(
    st.characters(),
    st.sampled_from(
        list("`\"'()!&|,.\\/*{}[] \n\r\t") + ["&&", "||", "Host", "Path", "...", "//", "/*"]
    ),
)
rule_text = st.lists(rule_alphabet, max_size=40).map("".join)


@SETTINGS
@given(rule_text)
def test_arbitrary_text_only_raises_rule_error(text: str) -> None:
    for fn in (parse_rule, compile_http_rule, compile_tcp_rule):
        with contextlib.suppress(RuleError):
            fn(text)


@SETTINGS
@given(
    st.text(
        alphabet=st.one_of(
            st.characters(codec="utf-8"),
            st.sampled_from(list("()[]{}*+?|^$.\\-:,<>=!PQEdDwWsSbBzAx0123789aimsU")),
        ),
        max_size=20,
    )
)
def test_translated_regexps_always_compile(pattern: str) -> None:
    try:
        source = translate(pattern)
    except RegexpError:
        return
    re.compile(source)
