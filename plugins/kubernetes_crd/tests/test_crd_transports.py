"""ServersTransports and ServersTransportTCPs (the last loops of loadConfigurationFromCRD), and Go's durations."""

from __future__ import annotations

import pytest
from crd_core_objects import config_map, crd, problems, run, secret
from edgeway_kubernetes_crd.gotypes import duration_set, parse_go_duration

S = 10**9
HTTP_TIMEOUTS = {
    "dialTimeout": "30000000000ns",
    "idleConnTimeout": "90000000000ns",
    "pingTimeout": "15000000000ns",
}


def http_transports(result):
    return result.configuration["http"]["serversTransports"]


def tcp_transports(result):
    return result.configuration["tcp"]["serversTransports"]


def test_http_transport_defaults_and_name():
    result = run(crd("ServersTransport", "my.st"))
    assert http_transports(result) == {"default-my-st": {"forwardingTimeouts": HTTP_TIMEOUTS}}


def test_http_transport_fields():
    spec = {
        "serverName": "backend",
        "insecureSkipVerify": True,
        "maxIdleConnsPerHost": -1,
        "disableHTTP2": True,
        "peerCertURI": "spiffe://x",
        "peerCertSANs": [{"type": "DNSName", "value": "a"}],
        "spiffe": {},
        "cipherSuites": ["TLS_RSA_WITH_AES_128_GCM_SHA256"],
        "minVersion": "VersionTLS12",
        "maxVersion": "VersionTLS13",
        "forwardingTimeouts": {
            "dialTimeout": 5,
            "responseHeaderTimeout": "1m",
            "pingTimeout": "0s",
        },
        "rootCAsSecrets": ["legacy"],
        "rootCAs": [{"configMap": "cm"}, {"secret": "ca"}],
        "certificatesSecrets": ["client"],
    }
    result = run(
        crd("ServersTransport", "st", spec),
        secret("legacy", {"only-entry": "LEGACY"}),
        secret("ca", {"ca.crt": "CA"}),
        config_map("cm", {"tls.ca": "CM"}),
        secret("client", {"tls.crt": "CERT", "tls.key": "KEY"}),
    )
    assert http_transports(result) == {
        "default-st": {
            "serverName": "backend",
            "insecureSkipVerify": True,
            "rootCAs": ["LEGACY", "CM", "CA"],
            "certificates": [{"certFile": "CERT", "keyFile": "KEY"}],
            "cipherSuites": ["TLS_RSA_WITH_AES_128_GCM_SHA256"],
            "minVersion": "VersionTLS12",
            "maxVersion": "VersionTLS13",
            "maxIdleConnsPerHost": -1,
            "forwardingTimeouts": {
                "dialTimeout": "5000000000ns",
                "responseHeaderTimeout": "60000000000ns",
                "idleConnTimeout": "90000000000ns",
            },
            "disableHTTP2": True,
            "peerCertURI": "spiffe://x",
            "peerCertSANs": [{"type": "DNSName", "value": "a"}],
            "spiffe": {},
        }
    }
    assert result.problems == {}


def test_unreadable_cas_and_certificates_are_reported_and_left_out():
    spec = {
        "rootCAsSecrets": ["missing", "two"],
        "rootCAs": [
            {"secret": "a", "configMap": "b"},
            {"configMap": "nocm"},
            {"configMap": "empty"},
            {},
        ],
        "certificatesSecrets": ["nocert"],
    }
    result = run(
        crd("ServersTransport", "st", spec),
        secret("two", {"a": "1", "b": "2"}),
        config_map("empty", {"other": "x"}),
    )
    assert http_transports(result) == {"default-st": {"forwardingTimeouts": HTTP_TIMEOUTS}}
    assert problems(result, "ServersTransport", "st") == [
        ("SecretNotFound", "Error while loading CA Secret: secret 'default/missing' not found"),
        (
            "InvalidSecret",
            "Error while loading CA Secret: secret 'default/two' has no CA block: "
            "secret default/two contains neither tls.ca nor ca.crt",
        ),
        ("InvalidSpec", "Error while loading CA: both Secret and ConfigMap are defined"),
        (
            "ConfigMapNotFound",
            "Error while loading CA ConfigMap: configMap 'default/nocm' not found",
        ),
        (
            "InvalidSecret",
            "Error while loading CA ConfigMap: configMap 'default/empty' has no CA block: "
            "config map default/empty contains neither tls.ca nor ca.crt",
        ),
        ("InvalidSpec", "Error while loading CA: neither Secret nor ConfigMap is defined"),
        (
            "SecretNotFound",
            "Error while loading certificates nocert: secret 'default/nocert' does not exist",
        ),
    ]


@pytest.mark.parametrize(
    ("spec", "expected", "message"),
    [
        (
            {"cipherSuites": ["TLS_RSA_WITH_AES_128_GCM_SHA256", "BOGUS"]},
            {},
            "cipher suite not supported: BOGUS, falling back to default CipherSuite.",
        ),
        ({"minVersion": "TLS1"}, {}, "invalid TLS minimum version: TLS1"),
        ({"maxVersion": "TLS9"}, {}, "invalid TLS maximum version: TLS9"),
        (
            {"minVersion": "VersionTLS13", "maxVersion": "VersionTLS12"},
            {"minVersion": "VersionTLS12"},
            "CipherSuite MinVersion, VersionTLS13, above or equal to the MaxVersion, VersionTLS12. "
            "Falling back to default MaxVersion and MinVersion",
        ),
        (
            {"forwardingTimeouts": {"idleConnTimeout": "forever"}},
            {
                "forwardingTimeouts": {
                    "dialTimeout": "30000000000ns",
                    "pingTimeout": "15000000000ns",
                }
            },
            'Error while reading IdleConnTimeout: time: invalid duration "forever"',
        ),
    ],
)
def test_invalid_tls_settings_fall_back_as_traefik(spec, expected, message):
    result = run(crd("ServersTransport", "st", spec))
    assert http_transports(result)["default-st"] == {"forwardingTimeouts": HTTP_TIMEOUTS} | expected
    assert message in [m for _, m in problems(result, "ServersTransport", "st")]


def test_min_version_equal_to_an_invalid_max_also_falls_back():
    result = run(
        crd("ServersTransport", "st", {"minVersion": "VersionTLS13", "maxVersion": "nope"})
    )
    assert http_transports(result)["default-st"]["minVersion"] == "VersionTLS12"
    assert [m for _, m in problems(result, "ServersTransport", "st")] == [
        "invalid TLS maximum version: nope",
        "CipherSuite MinVersion, VersionTLS13, above or equal to the MaxVersion, nope. "
        "Falling back to default MaxVersion and MinVersion",
    ]


def test_tcp_transport_defaults_and_fields():
    spec = {
        "dialTimeout": "1s",
        "dialKeepAlive": 0,
        "terminationDelay": "bad",
        "proxyProtocol": {"version": 2},
        "tls": {
            "serverName": "x",
            "rootCAs": [{"secret": "ca"}],
            "certificatesSecrets": ["client"],
            "peerCertURI": "spiffe://y",
            "peerCertSANs": [{"type": "URI", "value": "v"}],  # not copied for TCP by Traefik
            "spiffe": {"ids": ["spiffe://a"]},
        },
    }
    result = run(
        crd("ServersTransportTCP", "plain"),
        crd("ServersTransportTCP", "st", spec),
        secret("ca", {"tls.ca": "CA"}),
        secret("client", {"tls.crt": "CERT", "tls.key": "KEY"}),
    )
    assert tcp_transports(result) == {
        "default-plain": {
            "dialKeepAlive": "15000000000ns",
            "dialTimeout": "30000000000ns",
            "terminationDelay": "100000000ns",
        },
        "default-st": {
            "dialTimeout": "1000000000ns",
            "proxyProtocol": {"version": 2},
            "tls": {
                "serverName": "x",
                "rootCAs": ["CA"],
                "certificates": [{"certFile": "CERT", "keyFile": "KEY"}],
                "peerCertURI": "spiffe://y",
                "spiffe": {"ids": ["spiffe://a"]},
            },
        },
    }
    assert problems(result, "ServersTransportTCP", "st") == [
        ("InvalidSpec", 'Error while reading TerminationDelay: time: invalid duration "bad"')
    ]


@pytest.mark.parametrize(
    ("kind", "spec"),
    [
        ("ServersTransport", [1]),
        ("ServersTransport", {"rootCAs": "ca"}),
        ("ServersTransport", {"rootCAs": [{"secret": 1}]}),
        ("ServersTransport", {"forwardingTimeouts": {"dialTimeout": 1.5}}),
        ("ServersTransport", {"maxIdleConnsPerHost": "1"}),
        ("ServersTransport", {"peerCertSANs": [{"type": []}]}),
        ("ServersTransportTCP", {"tls": "yes"}),
        ("ServersTransportTCP", {"dialTimeout": True}),
        ("ServersTransportTCP", {"proxyProtocol": {"version": "2"}}),
    ],
)
def test_hostile_specs_are_reported_and_skipped(kind, spec):
    result = run(crd(kind, "bad", spec))
    assert http_transports(result) == {} and tcp_transports(result) == {}
    [(reason, message)] = problems(result, kind, "bad")
    assert reason == "InvalidSpec"
    assert message.startswith("json: cannot unmarshal ")


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("0", 0),
        ("1h30m", 5400 * S),
        ("1.5s", 1_500_000_000),
        (".5ms", 500_000),
        ("-2m", -120 * S),
        ("+3us", 3000),
        ("3µs", 3000),
        ("1h1m1s1ms1us1ns", 3661 * S + 1_001_001),
        ("0.000000001s", 1),
    ],
)
def test_parse_go_duration(text, ns):
    assert parse_go_duration(text) == ns


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'time: invalid duration ""'),
        ("1", 'time: missing unit in duration "1"'),
        ("1d", 'time: unknown unit "d" in duration "1d"'),
        ("s", 'time: invalid duration "s"'),
        ("1s-2s", 'time: unknown unit "s-" in duration "1s-2s"'),
    ],
)
def test_parse_go_duration_errors(text, message):
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(") + "$"):
        parse_go_duration(text)


def test_paerser_duration_set_reads_integers_as_seconds():
    assert duration_set("42") == 42 * S
    assert duration_set("-1") == -S
    assert duration_set("42ms") == 42_000_000
