"""TLSOptions, TLSStores and their certificates (buildTLSOptions, buildTLSStores, buildCertificates)."""

from __future__ import annotations

import pytest
from crd_core_objects import crd, problems, run, secret
from edgeway.config.dynamic_tls import DEFAULT_CIPHER_SUITES

DEFAULTS = {
    "alpnProtocols": ["h2", "http/1.1", "acme-tls/1"],
    "cipherSuites": list(DEFAULT_CIPHER_SUITES),
    "clientAuth": {},
}


def tls(result):
    return result.configuration["tls"]


def test_option_defaults_and_names():
    result = run(
        crd("TLSOption", "foo", ns="ns1"),
        crd("TLSOption", "default", {"sniStrict": True}, ns="ns2"),
    )
    assert tls(result)["options"] == {
        "ns1-foo": DEFAULTS,
        "default": {**DEFAULTS, "sniStrict": True},
    }


def test_option_fields_override_the_defaults():
    spec = {
        "minVersion": "VersionTLS13",
        "maxVersion": "VersionTLS13",
        "cipherSuites": [],
        "curvePreferences": ["X25519"],
        "alpnProtocols": ["http/1.1"],
        "disableSessionTickets": True,
        "preferServerCipherSuites": True,  # not copied by Traefik
        "clientAuth": {
            "clientAuthType": "RequireAndVerifyClientCert",
            "secretNames": ["ca1", "ca2"],
        },
    }
    result = run(
        crd("TLSOption", "foo", spec),
        secret("ca1", {"tls.ca": "CA1", "ca.crt": "ignored"}),
        secret("ca2", {"ca.crt": "CA2"}),
    )
    assert tls(result)["options"] == {
        "default-foo": {
            "minVersion": "VersionTLS13",
            "maxVersion": "VersionTLS13",
            "curvePreferences": ["X25519"],
            "clientAuth": {
                "caFiles": ["CA1", "CA2"],
                "clientAuthType": "RequireAndVerifyClientCert",
            },
            "alpnProtocols": ["http/1.1"],
            "disableSessionTickets": True,
        }
    }


def test_client_ca_secrets_missing_or_without_ca_are_left_out():
    spec = {"clientAuth": {"secretNames": ["missing", "noca", "ok"]}}
    result = run(
        crd("TLSOption", "foo", spec),
        secret(
            "noca", {"tls.crt": "x", "tls.key": "y"}
        ),  # a single-entry fallback is only for CA Secrets
        secret("ok", {"ca.crt": "CA"}),
    )
    assert tls(result)["options"]["default-foo"]["clientAuth"] == {"caFiles": ["CA"]}
    # A missing Secret is only a warning in Traefik; the bad one is an error.
    assert problems(result, "TLSOption", "foo") == [
        (
            "InvalidSecret",
            "Failed to extract CA from secret default/noca: secret default/noca contains neither tls.ca nor ca.crt",
        )
    ]


def test_default_option_in_two_namespaces_is_dropped():
    result = run(
        crd("TLSOption", "default", ns="a"),
        crd("TLSOption", "default", ns="b"),
        crd("TLSOption", "other", ns="a"),
    )
    assert set(tls(result)["options"]) == {"a-other"}
    message = ("InvalidSpec", "Default TLS Options defined in multiple namespaces: [a b]")
    assert problems(result, "TLSOption", "default", "a") == [message]
    assert problems(result, "TLSOption", "default", "b") == [message]


def test_store_default_certificate_and_generated_cert():
    spec = {
        "defaultCertificate": {"secretName": "cert"},
        "defaultGeneratedCert": {"resolver": "le", "domain": {"main": "example.com", "sans": []}},
    }
    result = run(
        crd("TLSStore", "default", spec), secret("cert", {"tls.crt": "CERT", "tls.key": "KEY"})
    )
    assert tls(result)["stores"] == {
        "default": {
            "defaultCertificate": {"certFile": "CERT", "keyFile": "KEY"},
            "defaultGeneratedCert": {"resolver": "le", "domain": {"main": "example.com"}},
        }
    }


@pytest.mark.parametrize(
    ("objects", "reason", "message"),
    [
        ([], "SecretNotFound", "Secret default/cert does not exist"),
        (
            [secret("cert", {"tls.crt": "", "tls.key": ""})],
            "InvalidSecret",
            "Could not get certificate blocks: secret default/cert contains the following empty TLS data entries: "
            "tls.crt, tls.key",
        ),
    ],
)
def test_store_without_its_default_certificate_is_skipped(objects, reason, message):
    result = run(crd("TLSStore", "s", {"defaultCertificate": {"secretName": "cert"}}), *objects)
    assert "stores" not in tls(result)
    assert problems(result, "TLSStore", "s") == [(reason, message)]


def test_store_certificates_join_tls_certificates_and_unreadable_ones_are_skipped():
    spec = {"certificates": [{"secretName": "b"}, {"secretName": "missing"}, {"secretName": "a"}]}
    result = run(
        crd("TLSStore", "mystore", spec),
        crd("TLSStore", "default", {"certificates": [{"secretName": "a"}]}),
        secret("a", {"tls.crt": "A", "tls.key": "KA"}),
        secret("b", {"tls.crt": "B", "tls.key": "KB"}),
    )
    assert tls(result)["stores"] == {"default-mystore": {}, "default": {}}
    # Sorted by namespace/secret; the first store that names a Secret keeps it.
    assert tls(result)["certificates"] == [
        {"certFile": "A", "keyFile": "KA", "stores": ["default-mystore"]},
        {"certFile": "B", "keyFile": "KB", "stores": ["default-mystore"]},
    ]
    assert problems(result, "TLSStore", "mystore") == [
        (
            "SecretNotFound",
            "Unable to read certificate secret default/missing, skipping (will retry on next configuration "
            "refresh): secret default/missing does not exist",
        )
    ]


def test_default_store_in_two_namespaces_is_dropped():
    result = run(crd("TLSStore", "default", ns="a"), crd("TLSStore", "default", ns="b"))
    assert "stores" not in tls(result)
    assert problems(result, "TLSStore", "default", "b") == [
        ("InvalidSpec", "Default TLS Stores defined in multiple namespaces: [a b]")
    ]


@pytest.mark.parametrize(
    ("kind", "spec"),
    [
        ("TLSOption", "nope"),
        ("TLSOption", {"clientAuth": "nope"}),
        ("TLSOption", {"clientAuth": {"secretNames": [1]}}),
        ("TLSOption", {"sniStrict": "true"}),
        ("TLSStore", {"certificates": {"secretName": "x"}}),
        ("TLSStore", {"defaultCertificate": {"secretName": 3}}),
        ("TLSStore", {"defaultGeneratedCert": {"domain": {"sans": "x"}}}),
    ],
)
def test_hostile_specs_are_reported_and_skipped(kind, spec):
    result = run(crd(kind, "bad", spec))
    assert tls(result) == {}
    [(reason, message)] = problems(result, kind, "bad")
    assert reason == "InvalidSpec"
    assert message.startswith("json: cannot unmarshal ")
