"""Table tests for the rule language, ported from Traefik's muxer/rules tests."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from edgeway.http.message import Headers, Request, normalize_host, routing_path
from edgeway.rules import (
    And,
    Matcher,
    Not,
    Or,
    RuleError,
    compile_http_rule,
    compile_tcp_rule,
    default_priority,
    default_tcp_priority,
    format_rule,
    parse_rule,
    route_sort_key,
    rule_hosts,
    tcp_is_catch_all,
    tcp_rule_needs_tls,
)
from edgeway.rules.regexp import RegexpError, translate


def req(
    url: str = "/",
    *,
    host: str = "example.com",
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    client_ip: str = "10.0.0.1",
    version: str = "1.1",
) -> Request:
    path, _, query = url.partition("?")
    return Request(
        method,
        path,
        query,
        Headers(list(headers or [])),
        authority=host,
        client_ip=client_ip,
        http_version=version,
    )


def matches(rule: str, request: Request) -> bool:
    return compile_http_rule(rule)(request)


# -- parser ------------------------------------------------------------------------

A, B, C = Matcher("Host", ("a",)), Matcher("Path", ("/b",)), Matcher("Method", ("c",))


@pytest.mark.parametrize(
    ("rule", "tree"),
    [
        ("Host(`a`)", A),
        ("(Host(`a`))", A),
        ('host("a")', A),
        ("HOST(`a`)", A),
        ("Host(`a`,)", A),
        ("Host(`a`...)", A),
        ("\ufeffHost(`a`) // comment\n", A),
        ("Host(/* c */`a`)", A),
        ("Host(`a`) && Path(`/b`) || Method(`c`)", Or(And(A, B), C)),
        ("Host(`a`) || Path(`/b`) && Method(`c`)", Or(A, And(B, C))),
        ("(Host(`a`) || Path(`/b`)) && Method(`c`)", And(Or(A, B), C)),
        ("Host(`a`) && (Path(`/b`) && Method(`c`))", And(A, And(B, C))),
        ("Host(`a`) && Path(`/b`) && Method(`c`)", And(And(A, B), C)),
        ("!Host(`a`) && Path(`/b`)", And(Not(A), B)),
        ("!(Host(`a`) && Path(`/b`))", Not(And(A, B))),
        ("!!Host(`a`)", Not(Not(A))),
        ("Host(`a`) &&\n\tPath(`/b`)", And(A, B)),
        ('Path("/b")', B),
        ('Path("\\x2fb")', B),
        ('Path("\\u002fb")', B),
        ('Path("\\057b")', B),
        ("Path(`/b\r`)", B),  # raw strings drop carriage returns
        ("PathPrefix(`/css`)", Matcher("PathPrefix", ("/css",))),
        ("pathprefix(`/css`)", Matcher("PathPrefix", ("/css",))),
        ("PATHPREFIX(`/css`)", Matcher("PathPrefix", ("/css",))),
        ("Pathprefix(`/css`)", Matcher("PathPrefix", ("/css",))),
        ("Header(`k`, `v`)", Matcher("Header", ("k", "v"))),
        ("Host()", Matcher("Host", ())),
    ],
)
def test_parse(rule: str, tree: object) -> None:
    assert parse_rule(rule) == tree


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("", "empty rule (1:1: expected operand, found 'EOF')"),
        ("   ", "empty rule"),
        ("rulewithnotmatcher", "rulewithnotmatcher is not defined"),
        ("Host(example.com)", "example.com is not defined"),
        ("Foobar(`foo.bar`,`test.bar`)", "unsupported function: Foobar"),
        ("pathPrefix(`/`)", "unsupported function: pathPrefix"),
        ("Host(`a`) &&", "1:13: expected operand, found 'EOF'"),
        ("Host(`a`) ||", "1:13: expected operand, found 'EOF'"),
        ("Host(`a)", "1:6: raw string literal not terminated"),
        ("Host(`a`))", "1:10: expected 'EOF', found ')'"),
        ("(Host(`a`)", "1:11: expected ')', found newline"),
        ("Host(`a` `b`)", "1:10: missing ',' in argument list"),
        ("Host(`a`)\n&& Path(`/`)", "2:1: expected 'EOF', found '&&'"),
        ("Host(`a`) Path(`/`)", "1:11: expected 'EOF', found Path"),
        ("Host('a')", "single quotes are not allowed"),
        ("Host(1)", "unsupported argument 1 for Host"),
        ("Host(`a` + `b`)", "+ is not supported"),
        ("Host(`a`) == Host(`b`)", "== is not supported"),
        ("Host(`a`) & Host(`b`)", "& is not supported"),
        ("-Host(`a`)", "- is not supported"),
        ("Host((`a`))", "unsupported argument"),
        ("Host(Path(`/`))", "unsupported argument"),
        ("`a` && Host(`a`)", "is not a matcher"),
        ("!`a`", "is not a matcher"),
        ('Host("\\q")', "1:7: unknown escape sequence"),
        ('Host("\\x4")', "illegal character U+0022"),
        ('Host("\\ud800")', "escape sequence is invalid Unicode code point"),
        ('Host("\\400")', "escape sequence is invalid Unicode code point"),
        ('Host("a\nb")', "1:6: string literal not terminated"),
        ("Host(`a`) /* x", "comment not terminated"),
        ("Host(`a`) # x", "illegal character U+0023 '#'"),
        ("Host(`a\x00`)", "illegal character NUL"),
        ("a.Host(`a`)", "unsupported function: a.Host"),
        ("Host(`a`...,`b`)", "expected ')', found `b`"),
        ("Hôst(`a`)", "unsupported function: Hôst"),
    ],
)
def test_parse_errors(rule: str, message: str) -> None:
    with pytest.raises(RuleError) as info:
        parse_rule(rule)
    assert message in str(info.value)


def test_format_rule_quotes_when_needed() -> None:
    tree = Matcher("Path", ("/a`b\r\udcff",))
    text = format_rule(tree)
    assert text == 'Path("/a`b\\r\\xff")'
    assert parse_rule(text) == tree
    assert format_rule(Not(And(A, Or(B, C)))) == "!(Host(`a`) && (Path(`/b`) || Method(`c`)))"


# -- compile-time validation ------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("Host()", "no args for matcher Host"),
        ("Host(``)", "empty args for matcher Host, []"),
        ("Header(`k`, ``)", "empty args for matcher Header, [k ]"),
        ("Host(`a`, `b`)", "unexpected number of parameters; got 2, expected one of [1]"),
        ("Header(`X-Forwarded-Host`)", "got 1, expected one of [2]"),
        ("Query(`q`, `a`, `b`)", "got 3, expected one of [1 2]"),
        ("Host(`🦭.com`)", 'invalid value "🦭.com" for Host matcher, non-ASCII characters'),
        ("HostRegexp(`🦭.com`)", "for HostRegexp matcher, non-ASCII"),
        ("HostRegexp(`(example.com`)", "error parsing regexp: missing closing ): `(example.com`"),
        ("PathRegexp(`/(css`)", "compiling PathPrefix matcher: error parsing regexp"),
        ("HeaderRegexp(`X`, `(a`)", "compiling HeaderRegexp matcher"),
        ("QueryRegexp(`q`, `(a`)", "compiling QueryRegexp matcher"),
        ("Path(`css`)", "path \"css\" does not start with a '/'"),
        ("PathPrefix(`css`)", "does not start with a '/'"),
        ("ClientIP(`1`)", "parsing CIDR trusted IPs <nil>: invalid CIDR address: 1"),
        ("ClientIP(`127.0.0.1`, `192.168.1.0/24`)", "unexpected number of parameters"),
        ("ClientIP(`10.0.0.0/255.0.0.0`)", "invalid CIDR address"),
        ("ClientIP(`fe80::1%eth0`)", "invalid CIDR address"),
        ("Method(`GET`, `POST`)", "unexpected number of parameters"),
        ("Host(`a`) && Path(`x`)", "does not start with a '/'"),
    ],
)
def test_http_compile_errors(rule: str, message: str) -> None:
    with pytest.raises(RuleError) as info:
        compile_http_rule(rule)
    assert message in str(info.value)


# -- HTTP matchers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "host", "expected"),
    [
        ("Host(`example.com`)", "example.com", True),
        ("Host(`example.com`)", "example.com:8080", True),
        ("Host(`example.com`)", "EXAMPLE.COM", True),
        ("Host(`example.com`)", "example.org", False),
        ("Host(`EXAMPLE.COM`)", "example.com", True),
        ("Host(`example.com.`)", "example.com", True),
        ("Host(`example.com.`)", "example.com.", True),
        ("Host(`example.com.`)", "example.org.", False),
        ("Host(`example.com`)", "example.com.", True),
        ("Host(`example.com`)", "example.com..", False),
        ("Host(`xn--9t9h.com`)", "xn--9t9h.com", True),
        ("Host(`xn--9t9h.com`)", "🦭.com", False),
        ("Host(`*.example.com`)", "test.example.com", True),
        ("Host(`*.example.com`)", "example.com", False),
        ("Host(`*.example.com`)", "a.b.example.com", False),
        ("Host(`*.example.com`)", "test.otherexample.com", False),
        ("Host(`*.example.com`)", "test.example.com.", True),
        ("Host(`*.example.com.`)", "test.example.com", True),
        ("Host(`*`)", "localhost", True),
        ("Host(`*`)", "", True),
        ("Host(`example.com`)", "", False),
        ("Host(`127.0.0.1`)", "127.0.0.1", True),
        ("Host(`10::10`)", "[10::10]", True),
        ("Host(`10::10`)", "[10::10]:443", True),
        ("HostRegexp(`^[a-zA-Z-]+\\.com$`)", "example.com:8080", True),
        ("HostRegexp(`^[a-zA-Z-]+\\.com$`)", "example.org", False),
        ("HostRegexp(`^[A-Z]+\\.com$`)", "EXAMPLE.com", False),
        ("HostRegexp(`{domain:[a-zA-Z-]+\\.com}`)", "example.com", False),
        ("HostRegexp(`example`)", "www.example.org", True),  # unanchored
        ("HostRegexp(`^$`)", "example.com", True),  # Go also tries the empty CNAME host
        ("HostRegexp(`^example.com$`)", "example.com.", False),
    ],
)
def test_host(rule: str, host: str, expected: bool) -> None:
    assert matches(rule, req(host=host)) is expected


@pytest.mark.parametrize(
    ("rule", "url", "expected"),
    [
        ("Path(`/css`)", "/css", True),
        ("Path(`/css`)", "/", False),
        ("Path(`/css`)", "/css/", False),
        ("Path(`/css`)", "/CSS", False),
        ("Path(`/foo bar`)", "/foo%20bar", True),
        ("Path(`/foo/bar`)", "/foo%2Fbar", False),
        ("Path(`/foo%2Fbar`)", "/foo%2Fbar", True),
        ("Path(`/foo/bar`)", "/foo%2fbar", True),  # Go's reserved table is upper-case only
        ("Path(`/café`)", "/caf%C3%A9", True),
        ('Path("/\\xff")', "/%FF", True),
        ("Path(`/\ufffd`)", "/%FF", False),
        ("PathPrefix(`/css`)", "/css/main.css", True),
        ("PathPrefix(`/css`)", "/cssx", True),
        ("PathPrefix(`/css`)", "/html", False),
        ("PathRegexp(`^/(css|js)`)", "/js/main.js", True),
        ("PathRegexp(`^/(css|js)`)", "/CSS", False),
        ("PathRegexp(`css`)", "/a/css/b", True),
        ("PathRegexp(`/{path:(css|js)}`)", "/{path:css}/", True),
        ("PathRegexp(`/{path:(css|js)}`)", "/%7Bpath:css%7D", True),
        ("PathRegexp(`/{path:(css|js)}`)", "/css", False),
        ("PathRegexp(`^/a$`)", "/a%0A", False),  # Go's $ is the end of text
        ("PathRegexp(`^/a\\z`)", "/a", True),
        ("PathRegexp(`^/\\d+$`)", "/%D9%A3", False),  # \d is ASCII in Go
        ("PathRegexp(`^/\\w+$`)", "/%C3%A9", False),
        ("PathRegexp(`(?i)^/CSS`)", "/css", True),
        ("PathRegexp(`^/\\x{e9}$`)", "/%C3%A9", True),
    ],
)
def test_path(rule: str, url: str, expected: bool) -> None:
    assert matches(rule, req(url)) is expected


@pytest.mark.parametrize(
    ("rule", "method", "expected"),
    [
        ("Method(`GET`)", "GET", True),
        ("Method(`GET`)", "POST", False),
        ("Method(`GET`)", "get", False),
        ("Method(`get`)", "GET", True),
        ("Method(`ß`)", "SS", False),  # Go's ToUpper keeps ß
    ],
)
def test_method(rule: str, method: str, expected: bool) -> None:
    assert matches(rule, req(method=method)) is expected


@pytest.mark.parametrize(
    ("rule", "headers", "expected"),
    [
        ("Header(`X-Forwarded-Proto`, `https`)", [(b"X-Forwarded-Proto", b"https")], True),
        ("Header(`x-forwarded-proto`, `https`)", [(b"X-FORWARDED-PROTO", b"https")], True),
        (
            "Header(`X-Forwarded-Proto`, `https`)",
            [(b"X-Forwarded-Proto", b"http"), (b"X-Forwarded-Proto", b"https")],
            True,
        ),
        ("Header(`X-Forwarded-Proto`, `https`)", [(b"X-Forwarded-Proto", b"http, https")], False),
        ("Header(`X-Forwarded-Proto`, `https`)", [(b"X-Forwarded-Proto", b"HTTPS")], False),
        ("Header(`X-Forwarded-Proto`, `https`)", [(b"X-Forwarded-Host", b"https")], False),
        ("Header(`X Bad`, `v`)", [(b"X Bad", b"v")], False),
        ("Header(`Host`, `example.com`)", [(b"Host", b"example.com")], False),
        ("Header(`X-A`, `é`)", [(b"X-A", "é".encode())], True),
        ("HeaderRegexp(`X-Forwarded-Proto`, `^https?$`)", [(b"x-forwarded-proto", b"http")], True),
        (
            "HeaderRegexp(`X-Forwarded-Proto`, `^https?$`)",
            [(b"X-Forwarded-Proto", b"HTTPS")],
            False,
        ),
        (
            "HeaderRegexp(`X-Forwarded-Proto`, `^https?$`)",
            [(b"X-Forwarded-Proto", b"ws"), (b"X-Forwarded-Proto", b"https")],
            True,
        ),
        (
            "HeaderRegexp(`X-Forwarded-Proto`, `http{secure:s?}`)",
            [(b"X-Forwarded-Proto", b"http{secure:s}")],
            True,
        ),
        (
            "HeaderRegexp(`X-Forwarded-Proto`, `http{secure:s?}`)",
            [(b"X-Forwarded-Proto", b"https")],
            False,
        ),
        ("HeaderRegexp(`X-A`, `^.$`)", [(b"X-A", "é".encode())], True),
        ("HeaderRegexp(`X-A`, `^\\D$`)", [(b"X-A", b"x")], True),
        ("HeaderRegexp(`X-A`, `^\\D$`)", [(b"X-A", b"1")], False),
    ],
)
def test_header(rule: str, headers: list[tuple[bytes, bytes]], expected: bool) -> None:
    assert matches(rule, req(headers=headers)) is expected


def test_header_host_over_http2() -> None:
    rule = "Header(`Host`, `example.com`)"
    assert matches(rule, req(headers=[(b"host", b"example.com")], version="2")) is True


@pytest.mark.parametrize(
    ("rule", "url", "expected"),
    [
        ("Query(`q`, `traefik`)", "/", False),
        ("Query(`q`, `traefik`)", "/?q=traefik", True),
        ("Query(`q`, `traefik`)", "/?rel=ddg&q=traefik", True),
        ("Query(`q`, `traefik`)", "/?q=awesome&q=traefik", True),
        ("Query(`q`, `traefik`)", "/?q=TRAEFIK", False),
        ("Query(`q`, `traefik`)", "/?Q=traefik", False),
        ("Query(`q`, `traefik`)", "/?rel=traefik", False),
        ("Query(`mobile`)", "/?mobile", True),
        ("Query(`mobile`)", "/?mobile=", True),
        ("Query(`mobile`)", "/?mobile=true", False),
        ("Query(`q`, `a b`)", "/?q=a+b", True),
        ("QueryRegexp(`q`, `^(traefik|nginx)$`)", "/?q=nginx&q=proxy", True),
        ("QueryRegexp(`q`, `^(traefik|nginx)$`)", "/?q=NGINX", False),
        ("QueryRegexp(`q`, `^.*$`)", "/?q=TRAEFIK", True),
        ("QueryRegexp(`q`, `^.*$`)", "/?rel=ddg", False),
        ("QueryRegexp(`q`, `{value:(traefik|nginx)}`)", "/?q=traefik", False),
        ("QueryRegexp(`q`, `{value:(traefik|nginx)}`)", "/?q={value:traefik}", True),
        ("QueryRegexp(`mobile`)", "/?mobile", True),
    ],
)
def test_query(rule: str, url: str, expected: bool) -> None:
    assert matches(rule, req(url)) is expected


@pytest.mark.parametrize(
    ("rule", "client", "expected"),
    [
        ("ClientIP(`127.0.0.1`)", "127.0.0.1", True),
        ("ClientIP(`127.0.0.1`)", "192.168.1.1", False),
        ("ClientIP(`127.0.0.1`)", "1", False),
        ("ClientIP(`127.0.0.1`)", "", False),
        ("ClientIP(`127.0.0.1`)", "::ffff:127.0.0.1", True),
        ("ClientIP(`::ffff:127.0.0.1`)", "127.0.0.1", True),
        ("ClientIP(`192.168.1.0/24`)", "192.168.1.100", True),
        ("ClientIP(`192.168.1.0/24`)", "192.168.2.1", False),
        ("ClientIP(`192.168.1.7/24`)", "192.168.1.1", True),  # host bits are masked
        ("ClientIP(`::/0`)", "10.0.0.1", False),
        ("ClientIP(`::/0`)", "2001:db8::1", True),
        ("ClientIP(`::ffff:10.0.0.0/104`)", "10.1.2.3", True),
        ("ClientIP(`2001:db8::/32`)", "2001:db8::1%eth0", True),
        ("ClientIP(`0.0.0.0/0`)", "2001:db8::1", False),
    ],
)
def test_client_ip(rule: str, client: str, expected: bool) -> None:
    assert matches(rule, req(client_ip=client)) is expected


@pytest.mark.parametrize(
    ("rule", "url", "host", "expected"),
    [
        (
            'Host("example.com") || (Host("example.org") && Path("/css"))',
            "/js",
            "example.com",
            True,
        ),
        ('Host("example.com") || Host("example.org") && Path("/css")', "/js", "example.org", False),
        (
            '(Host("example.com") || Host("example.org")) && Path("/css")',
            "/js",
            "example.com",
            False,
        ),
        ("!Host(`example.com`)", "/", "example.org", True),
        ("!Host(`example.com`)", "/", "example.com", False),
        ("!(Host(`example.com`) || Host(`example.org`))", "/", "example.eu", True),
        ("!(Host(`example.com`) && Path(`/css`))", "/js", "example.com", True),
        ("!(Host(`example.com`) && !Path(`/css`))", "/js", "example.com", False),
        ("!(Host(`example.com`) && !Path(`/css`))", "/css", "example.com", True),
        ("!(!(Host(`example.com`) && Pathprefix(`/css`)))", "/css", "example.com", True),
        ("!(!(Host(`example.com`) && Pathprefix(`/css`)))", "/css", "example.org", False),
        ("!Host(`example.com`) && Pathprefix(`/css`)", "/css", "example.org", True),
    ],
)
def test_operators(rule: str, url: str, host: str, expected: bool) -> None:
    assert matches(rule, req(url, host=host)) is expected


# -- regexp translation --------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("a$", "a\n", False),
        ("(?m)a$", "a\nb", True),
        ("x{,3}", "x{,3}", True),
        ("x{,3}", "xx", False),
        ("x{01}", "x{01}", True),
        ("\\12", "\n", True),
        ("(?U)a+", "aaa", True),
        ("a(?i)b|c", "C", True),
        ("a(?i)b|c", "aB", True),
        ("(?i:a)b", "AB", False),
        ("[[:alpha:]]+", "abc", True),
        ("[[:^alpha:]]", "a", False),
        ("\\Qa.b\\E", "axb", False),
        ("\\Qa.b\\E", "a.b", True),
        ("\\bfoo\\b", "a foo b", True),
        ("\\bfoo", "éfoo", True),  # ASCII word boundary
        ("(?P<1a>x)(?<b>y)", "xy", True),
        ("[^\\D]", "5", True),
        ("[\\d\\s]", " ", True),
        ("a\\z", "a\n", False),
    ],
)
def test_regexp_semantics(pattern: str, text: str, expected: bool) -> None:
    assert (re.search(translate(pattern), text) is not None) is expected


@pytest.mark.parametrize(
    "pattern",
    [
        "(?=a)",
        "(?!a)",
        "(?<=a)b",
        "(?<!a)b",
        "(?>a)",
        "(?#c)",
        "(a)\\1",
        "\\k<n>",
        "a**",
        "a*+",
        "a++",
        "a{2}{3}",
        "*a",
        "a|*",
        "a{1001}",
        "a{3,2}",
        "(a{100}){11}",
        "\\Z",
        "\\C",
        "\\8",
        "[a",
        "a)",
        "(a",
        "[z-a]",
        "[[:foo:]]",
        "(?x)a",
        "(?i-)a",
        "(?P<n>a)(?P<n>b)",
        "(?P=n)",
        "[\\b]",
        "\\",
        "\\x{110000}",
        "\\xZ",
        "(?P<>a)",
    ],
)
def test_regexp_rejects_what_go_rejects(pattern: str) -> None:
    with pytest.raises(RegexpError):
        translate(pattern)


# -- TCP ----------------------------------------------------------------------------


def conn(sni: str = "", client_ip: str = "10.0.0.1", alpn: list[str] | None = None) -> object:
    return SimpleNamespace(sni=sni, client_ip=client_ip, alpn=alpn or [])


@pytest.mark.parametrize(
    ("rule", "kwargs", "expected"),
    [
        ("HostSNI(`example.com`)", {"sni": "example.com"}, True),
        ("HostSNI(`example.com`)", {"sni": "example.org"}, False),
        ("HostSNI(`Example.COM`)", {"sni": "example.com"}, True),
        ("HostSNI(`example.com.`)", {"sni": "example.com"}, True),
        ("HostSNI(`xn--9t9h.com`)", {"sni": "xn--9t9h.com"}, True),
        ("HostSNI(`xn--9t9h.com`)", {"sni": "🦭.com"}, False),
        ("HostSNI(`foo_bar.example.com`)", {"sni": "foo_bar.example.com"}, True),
        ("HostSNI(`*.example.com`)", {"sni": "foo.example.com"}, True),
        ("HostSNI(`*.example.com`)", {"sni": "a.foo.example.com"}, False),
        ("HostSNI(`*.example.com`)", {"sni": ""}, False),
        ("HostSNI(`*`)", {"sni": ""}, True),
        ("HostSNI(`*`)", {"sni": "x"}, True),
        ("HostSNIRegexp(`^example\\.(com|org)$`)", {"sni": "example.org"}, True),
        ("HostSNIRegexp(`^example\\.(com|org)$`)", {"sni": "exampleuorg"}, False),
        ("HostSNIRegexp(`^example\\.(com|org)$`)", {"sni": ""}, False),
        ("HostSNIRegexp(`example.{tld:(com|org)}`)", {"sni": "example.com"}, False),
        ("ClientIP(`20.20.20.20/24`)", {"client_ip": "20.20.20.40"}, True),
        ("ClientIP(`20.20.20.20`)", {"client_ip": "10.10.10.10"}, False),
        ("ALPN(`h2`)", {"alpn": ["h2"]}, True),
        ("ALPN(`h2`)", {"alpn": ["http/1.1", "h2"]}, True),
        ("ALPN(`h2`)", {"alpn": ["mqtt"]}, False),
        ("HostSNI(`*`) && !ALPN(`h2`) && !ALPN(`http/1.1`)", {"alpn": ["h2"]}, False),
        ("hostsni(`a.com`) || HOSTSNI(`b.com`)", {"sni": "b.com"}, True),
    ],
)
def test_tcp_matchers(rule: str, kwargs: dict[str, object], expected: bool) -> None:
    assert compile_tcp_rule(rule)(conn(**kwargs)) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("", "empty rule"),
        ("HostSNI(``)", "empty args for matcher HostSNI"),
        ("HostSNI(`example.com`, `example.org`)", "got 2, expected 1"),
        (
            "HostSNI(`🦭.com`)",
            'invalid value for HostSNI matcher, "🦭.com" is not a valid hostname',
        ),
        ("HostSNI(`*.*.example.com`)", "is not a valid hostname"),
        ("HostSNIRegexp(`🦭.com`)", "is not a valid hostname"),
        ("HostSNIRegexp(`(example.com`)", "compiling HostSNIRegexp matcher"),
        ("ClientIP(`🦭/32`)", "invalid CIDR address"),
        (
            "ALPN(`acme-tls/1`)",
            'invalid protocol value for ALPN matcher, "acme-tls/1" is not allowed',
        ),
        ("ALPN(`h2`, `mqtt`)", "got 2, expected 1"),
        ("Host(`a`)", "unsupported function: Host"),
    ],
)
def test_tcp_errors(rule: str, message: str) -> None:
    with pytest.raises(RuleError) as info:
        compile_tcp_rule(rule)
    assert message in str(info.value)


# -- domains, priorities, order ----------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "hosts"),
    [
        ("Path(`/test`)", []),
        ("Host(`foo.bar`) && Path(`/test`)", ["foo.bar"]),
        ("Host(`Foo.Bar`) || Host(`bar.buz`) && Path(`/test`)", ["foo.bar", "bar.buz"]),
        ("Host() && Path(`/test`)", []),
        ("!Host(`a.com`)", ["a.com"]),
        ("HostHeader(`a.com`) || Host(`b.com`)", ["b.com"]),  # v2 names parse
        ("Host(`a.com`, `b.com`)", ["a.com", "b.com"]),  # arity is not checked here
    ],
)
def test_rule_hosts(rule: str, hosts: list[str]) -> None:
    assert rule_hosts(rule) == hosts


def test_rule_hosts_errors_and_tcp() -> None:
    with pytest.raises(RuleError):
        rule_hosts("Foobar(`foo.bar`,`test.bar`)")
    with pytest.raises(RuleError):
        rule_hosts("Unknown(`example.com`)", tcp=True)
    assert rule_hosts("HOSTSNI(`Example.com`) && ClientIP(`10.1`)", tcp=True) == ["example.com"]
    assert rule_hosts("HostSNI(`10::10`)", tcp=True) == ["10::10"]
    assert rule_hosts("HostSNI() && ClientIP(`10.1`)", tcp=True) == []


@pytest.mark.parametrize(
    ("rule", "needs"),
    [
        ("HostSNI(`*`)", False),
        ("HostSNI(`a.com`)", True),
        ("ClientIP(`10.0.0.0/8`)", False),
        ("HostSNI(`*`) || HostSNI(`a.com`)", False),  # only the first value counts
        ("HostSNI(`a.com`) || HostSNI(`*`)", True),
    ],
)
def test_tcp_rule_needs_tls(rule: str, needs: bool) -> None:
    assert tcp_rule_needs_tls(rule) is needs


def test_priorities() -> None:
    assert default_priority("Host(`example.org`)") == 19
    assert default_priority("Path(`/é`)") == 11  # Go's len counts bytes
    assert default_tcp_priority("HostSNI(`example.org`)") == 22
    assert default_tcp_priority("HostSNI(`*`)") == -1
    assert default_tcp_priority("   HostSNI ( `*` )       ") == -1
    assert default_tcp_priority("!HostSNI(`*`)") == -1
    assert default_tcp_priority("HostSNI(`*`) && ALPN(`h2`)") == len("HostSNI(`*`) && ALPN(`h2`)")
    assert tcp_is_catch_all("hostsni(`*`)")
    assert not tcp_is_catch_all("HostSNIRegexp(`.*`)")


PRECEDENCE = ["kubernetesgateway", "kubernetescrd", "kubernetes", "kubernetesingressnginx"]


@pytest.mark.parametrize(
    ("routes", "winner"),
    [
        ([(10, "r1@file"), (20, "r2@file")], "r2@file"),
        ([(20, "r1@file"), (10, "r2@file")], "r1@file"),
        ([(10, "a@kubernetes"), (10, "b@kubernetescrd")], "b@kubernetescrd"),
        ([(10, "a@kubernetescrd"), (10, "b@kubernetesgateway")], "b@kubernetesgateway"),
        ([(10, "a@kubernetesgateway"), (10, "b@kubernetes")], "a@kubernetesgateway"),
        ([(10, "a@kubernetesingressnginx"), (10, "b@kubernetescrd")], "b@kubernetescrd"),
        ([(10, "a@unknownprovider"), (10, "b@kubernetes")], "b@kubernetes"),
        (
            [(20, "a@kubernetesingressnginx"), (10, "b@kubernetesgateway")],
            "a@kubernetesingressnginx",
        ),
        ([(10, "b@x@kubernetes"), (10, "a@unknown")], "a@unknown"),  # two @: no provider
    ],
)
def test_route_order(routes: list[tuple[int, str]], winner: str) -> None:
    ordered = sorted(routes, key=lambda r: route_sort_key(r[0], r[1], PRECEDENCE))
    assert ordered[0][1] == winner


def test_route_order_default_priority_longest_first() -> None:
    rules = ["PathPrefix(`/my`)", "PathPrefix(`/mypath`)", "PathPrefix(`/mypa`)"]
    ordered = sorted(rules, key=lambda r: route_sort_key(default_priority(r), r))
    assert ordered[0] == "PathPrefix(`/mypath`)"


# -- message.py: routing path and host ----------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/foo%20bar", "/foo bar"),
        ("/foo%2Fbar", "/foo%2Fbar"),
        ("/foo%20bar%2Fbaz%23qux", "/foo bar%2Fbaz%23qux"),
        ("/a%2fb", "/a/b"),
        ("/a%41", "/aA"),
        ("/a!b", "/a!b"),
        ("/a!b{", "/a%21b{"),  # invalid raw path: Go re-escapes the decoded path
        ("/foo%2Fbar{x}", "/foo/bar{x}"),
        ("/%7Bpath:css%7D", "/{path:css}"),
        ("/caf%C3%A9", "/café"),
        ("/café".encode().decode("latin-1"), "/café"),
        ("*", "*"),
    ],
)
def test_routing_path(raw: str, expected: str) -> None:
    assert routing_path(raw) == expected


@pytest.mark.parametrize(
    ("authority", "expected"),
    [
        ("example.com", "example.com"),
        ("EXAMPLE.com:8080", "example.com"),
        ("[::1]:80", "::1"),
        ("[::1]", "::1"),
        ("::1", "::1"),
        ("10::10", "10::10"),
        ("a:b:c", "a:b:c"),
        ("[::1]x", "[::1]x"),
        ("example.com:", "example.com"),
        (" example.com ", "example.com"),
        ("", ""),
    ],
)
def test_normalize_host(authority: str, expected: str) -> None:
    assert normalize_host(authority) == expected
