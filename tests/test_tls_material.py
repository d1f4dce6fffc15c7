"""TLS material without sockets: certificate parsing and stores, selection by SNI,
``tls.options`` -> contexts (checked with in-memory handshakes), store plugins."""

from __future__ import annotations

import ssl

import pytest
from edgeway.config.dynamic_tls import CertAndStores, TLSOptions, TLSStore
from edgeway.registry import Registry, TLSStoreContext, TLSStoreType
from edgeway.tls.builtin import ConfigurationStore
from edgeway.tls.certificates import (
    DEFAULT_DOMAIN,
    certificate_from_pem,
    generated_default_certificate,
    parse_certificate,
)
from edgeway.tls.hosts import BROKEN, TLSHosts
from edgeway.tls.manager import ALERT_UNRECOGNIZED_NAME, Refusal, TLSManager
from edgeway.tls.options import server_options
from edgeway.tls.store import CertificateStore, match_domain
from tls_support import CA, insecure_context, memory_handshake


@pytest.fixture
def ca(tmp_path):
    return CA(tmp_path)


def manager(ca_certs, options=None, stores=None, plugins=()):
    reg = Registry()
    reg.add_tls_store(TLSStoreType("dynamic", ConfigurationStore))
    for p in plugins:
        reg.add_tls_store(p)
    m = TLSManager(reg)
    m.update(
        [CertAndStores(certFile=c.pem, keyFile=c.key_pem, stores=s) for c, s in ca_certs],
        options or {},
        stores or {},
    )
    return m


def served(m, sni, options="default", local_ip="127.0.0.1", client=None):
    ctx = m.select(options, sni or "", local_ip)
    if isinstance(ctx, Refusal):
        return ctx
    c, _ = memory_handshake(ctx, client or insecure_context(), sni)
    return c


def names(obj):
    from cryptography import x509

    cert = x509.load_der_x509_certificate(obj.getpeercert(binary_form=True))
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        found = san.get_values_for_type(x509.DNSName) + [
            str(i) for i in san.get_values_for_type(x509.IPAddress)
        ]
    except x509.ExtensionNotFound:
        found = []
    return ([cn[0].value] if cn else []) + found


# -- certificates and stores -----------------------------------------------------


def test_parse_certificate_from_files_and_pem(ca):
    leaf = ca.issue("a.example.com", "127.0.0.1")
    from_files = parse_certificate(str(leaf.cert), str(leaf.key))
    from_pem = parse_certificate(leaf.pem, leaf.key_pem)
    assert from_files.sans == from_pem.sans == ("a.example.com", "127.0.0.1")
    assert from_files.fingerprint == from_pem.fingerprint


@pytest.mark.parametrize(
    ("cert", "key", "message"),
    [
        ("nope", "nope", "failed to find any PEM data in certificate input"),
        ("CERT", "garbage", "failed to find any PEM data in key input"),
        ("CERT", "OTHERKEY", "private key does not match public key"),
    ],
)
def test_certificate_errors(ca, cert, key, message):
    a, b = ca.issue("a.example.com"), ca.issue("b.example.com")
    values = {"CERT": a.pem, "OTHERKEY": b.key_pem}
    with pytest.raises(ValueError, match=message):
        parse_certificate(values.get(cert, cert), values.get(key, key))


def test_generated_default_certificate():
    cert = generated_default_certificate()
    assert cert.common_name == DEFAULT_DOMAIN
    assert cert.sans[1].endswith(".traefik.default")
    assert generated_default_certificate() is cert


@pytest.mark.parametrize(
    ("server", "domain", "match"),
    [
        ("a.example.com", "a.example.com", True),
        ("a.example.com", "*.example.com", True),
        ("a.b.example.com", "*.example.com", False),
        ("example.com", "*.example.com", False),
        ("localhost", "*", True),
        ("a.example.com", "*.example.com.", True),
    ],
)
def test_match_domain(server, domain, match):
    assert match_domain(server, domain) is match


def test_selection_order_exact_wildcard_default(ca):
    exact, wild, default = (
        ca.issue("a.example.com"),
        ca.issue("*.example.com"),
        ca.issue("default.example.com"),
    )
    m = manager(
        [(exact, None), (wild, None)],
        stores={
            "default": TLSStore(
                defaultCertificate={"certFile": default.pem, "keyFile": default.key_pem}
            )
        },
    )
    assert names(served(m, "a.example.com")) == ["a.example.com"]
    assert names(served(m, "A.Example.COM")) == ["a.example.com"]
    assert names(served(m, "b.example.com")) == ["*.example.com"]
    assert names(served(m, "other.org")) == ["default.example.com"]
    assert names(served(m, None)) == ["default.example.com"]


def test_generated_certificate_when_nothing_matches(ca):
    m = manager([(ca.issue("a.example.com"), None)])
    assert names(served(m, "zzz.org"))[0] == DEFAULT_DOMAIN


def test_no_sni_selects_by_local_ip(ca):
    m = manager([(ca.issue("127.0.0.1"), None)])
    assert names(served(m, None, local_ip="127.0.0.1")) == ["127.0.0.1"]
    assert names(served(m, None, local_ip="10.0.0.1"))[0] == DEFAULT_DOMAIN


def test_only_the_default_store_is_served(ca):
    m = manager([(ca.issue("a.example.com"), ["other"])])
    assert names(served(m, "a.example.com"))[0] == DEFAULT_DOMAIN
    assert "a.example.com" in m.state.stores["other"].certificates


def test_default_generated_cert_takes_a_stored_certificate(ca):
    m = manager(
        [(ca.issue("x.example.com", "y.example.com"), None)],
        stores={
            "default": TLSStore(
                defaultGeneratedCert={
                    "resolver": "le",
                    "domain": {"main": "y.example.com", "sans": ["x.example.com"]},
                }
            )
        },
    )
    assert names(served(m, "zzz.org")) == ["x.example.com", "y.example.com"]


def test_broken_default_certificate_closes(ca):
    m = manager(
        [],
        stores={
            "default": TLSStore(
                defaultCertificate={"certFile": "missing.crt", "keyFile": "missing.key"}
            )
        },
    )
    assert served(m, "a.org") == Refusal(
        None, "the default certificate of the TLS store could not be loaded"
    )


def test_sni_strict_refuses_unknown_names(ca):
    m = manager(
        [(ca.issue("a.example.com"), None)], options={"strict@file": TLSOptions(sniStrict=True)}
    )
    assert names(served(m, "a.example.com", "strict@file")) == ["a.example.com"]
    refusal = served(m, "b.example.com", "strict@file")
    assert isinstance(refusal, Refusal) and refusal.alert == ALERT_UNRECOGNIZED_NAME


def test_acme_tls_alpn_gets_only_challenge_certificates(ca):
    m = manager([(ca.issue("a.example.com"), None)])
    refusal = m.select("default", "a.example.com", "", acme=True)
    assert isinstance(refusal, Refusal) and refusal.alert == ALERT_UNRECOGNIZED_NAME


def test_first_certificate_with_the_same_names_wins(ca):
    one, two = ca.issue("same.example.com", file="one"), ca.issue("same.example.com", file="two")
    store = CertificateStore([certificate_from_pem(one.pem.encode(), one.key_pem.encode()),
                              certificate_from_pem(two.pem.encode(), two.key_pem.encode())])  # fmt: skip
    assert store.best("same.example.com").chain_pem.decode().startswith(one.pem.split("\n")[0])
    assert len(store.certificates) == 1


# -- options ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"cipherSuites": ["TLS_NOPE"]}, "invalid CipherSuite: TLS_NOPE"),
        ({"curvePreferences": ["P-999"]}, "invalid CurveID in curvePreferences: P-999"),
        (
            {"clientAuth": {"clientAuthType": "VerifyClientCertIfGiven"}},
            "invalid clientAuthType: VerifyClientCertIfGiven, CAFiles is required",
        ),
        (
            {"clientAuth": {"clientAuthType": "RequireAndVerifyClientCert"}},
            "invalid clientAuthType: RequireAndVerifyClientCert, CAFiles is required",
        ),
        ({"clientAuth": {"clientAuthType": "Whatever"}}, 'unknown client auth type "Whatever"'),
        (
            {"clientAuth": {"caFiles": ["not a certificate\nat all"]}},
            "invalid certificate(s) content",
        ),
        (
            {"cipherSuites": ["TLS_RSA_WITH_RC4_128_SHA"]},
            "not available in this OpenSSL build: RC4-SHA",
        ),
        (
            {"curvePreferences": ["X25519MLKEM768"]},
            "not available in this OpenSSL build: X25519MLKEM768",
        ),
    ],
)
def test_option_errors(options, error):
    with pytest.raises(ValueError) as exc:
        server_options(TLSOptions.model_validate(options))
    assert error in str(exc.value)


def test_ca_file_path_error(tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("junk")
    with pytest.raises(ValueError, match=f"invalid certificate\\(s\\) in {bad}"):
        server_options(TLSOptions.model_validate({"clientAuth": {"caFiles": [str(bad)]}}))


def test_manager_reports_option_errors(ca):
    m = manager([], options={"bad@file": TLSOptions(cipherSuites=["nope"])})
    assert m.options_error("bad@file") == "building TLS config: invalid CipherSuite: nope"
    assert m.options_error("missing@file") == "unknown TLS options: missing@file"
    assert m.options_error("default") is None


def _handshake(ca, options, client, sni="a.example.com"):
    m = manager(
        [(ca.issue("a.example.com"), None)], options={"o@file": TLSOptions.model_validate(options)}
    )
    assert m.options_error("o@file") is None
    return served(m, sni, "o@file", client=client)


@pytest.mark.parametrize(
    ("options", "client", "version"),
    [
        ({}, {}, "TLSv1.3"),
        ({"maxVersion": "VersionTLS12"}, {}, "TLSv1.2"),
        ({"minVersion": "VersionTLS13"}, {}, "TLSv1.3"),
        (
            {"minVersion": "VersionTLS10", "maxVersion": "VersionTLS10"},
            {"minimum_version": ssl.TLSVersion.TLSv1},
            "TLSv1",
        ),
        ({"minVersion": "VersionNonsense"}, {"maximum_version": ssl.TLSVersion.TLSv1_2}, "TLSv1.2"),
    ],
)
def test_versions(ca, options, client, version):
    ctx = insecure_context()
    if client.get("minimum_version") == ssl.TLSVersion.TLSv1:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    for k, v in client.items():
        setattr(ctx, k, v)
    assert _handshake(ca, options, ctx).version() == version


@pytest.mark.parametrize(
    ("options", "client_max"),
    [
        ({"minVersion": "VersionTLS13"}, ssl.TLSVersion.TLSv1_2),  # client too old
        ({}, ssl.TLSVersion.TLSv1_1),  # TLS 1.2 is the default minimum
    ],
)
def test_unsupported_versions_are_refused(ca, options, client_max):
    ctx = insecure_context()
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.maximum_version = client_max
    with pytest.raises(ssl.SSLError):
        _handshake(ca, options, ctx)


def test_cipher_suites_restrict_tls12(ca):
    ctx = insecure_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    c = _handshake(ca, {"cipherSuites": ["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"]}, ctx)
    assert c.cipher()[0] == "ECDHE-ECDSA-AES256-GCM-SHA384"
    ctx = insecure_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")  # trustme keys are ECDSA
    with pytest.raises(ssl.SSLError):
        _handshake(ca, {"cipherSuites": ["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"]}, ctx)


def test_tls13_suites_only_means_tls13_only(ca):
    assert (
        _handshake(ca, {"cipherSuites": ["TLS_AES_128_GCM_SHA256"]}, insecure_context()).version()
        == "TLSv1.3"
    )
    ctx = insecure_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(ssl.SSLError):
        _handshake(ca, {"cipherSuites": ["TLS_AES_128_GCM_SHA256"]}, ctx)


def test_curve_preferences(ca):
    ctx = insecure_context()
    ctx.set_ecdh_curve("prime256v1")  # the client offers P-256 only
    assert (
        _handshake(ca, {"curvePreferences": ["CurveP384", "secp256r1"]}, ctx).version() == "TLSv1.3"
    )
    with pytest.raises(ssl.SSLError):
        _handshake(ca, {"curvePreferences": ["X25519"]}, ctx)


def test_alpn_protocols(ca):
    c = _handshake(ca, {"alpnProtocols": ["http/1.1"]}, insecure_context(alpn=["h2", "http/1.1"]))
    assert c.selected_alpn_protocol() == "http/1.1"


def test_session_tickets_can_be_disabled(ca):
    ctx = insecure_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with_tickets = _handshake(ca, {}, ctx)
    assert with_tickets.session is not None and with_tickets.session.has_ticket
    without = _handshake(ca, {"disableSessionTickets": True}, ctx)
    assert not without.session.has_ticket


# -- client authentication ------------------------------------------------------


@pytest.mark.parametrize(
    ("auth_type", "with_ca", "no_cert", "trusted_cert", "foreign_cert"),
    [
        (None, True, False, True, False),  # caFiles alone: RequireAndVerifyClientCert
        ("NoClientCert", True, True, True, True),
        ("RequestClientCert", False, True, True, True),
        ("RequireAnyClientCert", False, False, True, True),
        ("VerifyClientCertIfGiven", True, True, True, False),
        ("RequireAndVerifyClientCert", True, False, True, False),
    ],
)
def test_client_auth_types(tmp_path, ca, auth_type, with_ca, no_cert, trusted_cert, foreign_cert):
    client_ca = CA(tmp_path, "clients")
    foreign = CA(tmp_path, "foreign")
    auth = {"caFiles": [str(client_ca.path)]} if with_ca else {}
    if auth_type:
        auth["clientAuthType"] = auth_type
    options = {"clientAuth": auth}
    outcomes = []
    for ctx in (insecure_context(), client_ca.client_cert_context(), foreign.client_cert_context()):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            _handshake(ca, options, ctx)
            outcomes.append(True)
        except ssl.SSLError:
            outcomes.append(False)
    assert outcomes == [no_cert, trusted_cert, foreign_cert]


def test_requested_certificate_is_available_to_the_server(tmp_path, ca):
    client_ca = CA(tmp_path, "clients")
    m = manager(
        [(ca.issue("a.example.com"), None)],
        options={
            "o@file": TLSOptions.model_validate(
                {"clientAuth": {"clientAuthType": "RequestClientCert"}}
            )
        },
    )
    ctx = m.select("o@file", "a.example.com", "")
    client = client_ca.client_cert_context()
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    _, server = memory_handshake(ctx, client, "a.example.com")
    assert server.getpeercert(binary_form=True)
    assert server.tls_options == "o@file"


# -- hosts table --------------------------------------------------------------


def test_tls_hosts_ranking():
    hosts = TLSHosts.build(
        {"*.example.com": "wild@file", "a.example.com": "a@file", "broken.example.com": BROKEN},
        catch_all=None,
        default="default",
    )
    assert hosts.match("a.example.com") == ("a@file", False)
    assert hosts.match("b.example.com") == ("wild@file", False)
    assert hosts.match("broken.example.com") == (BROKEN, False)
    assert hosts.match("other.org") == (None, False)
    with_star = TLSHosts.build({"a.example.com": "a@file"}, catch_all="default", default="default")
    assert with_star.match("other.org") == ("default", True)
    assert with_star.match("") == ("default", True)


# -- store plugins ------------------------------------------------------------


class RotatingStore:
    """A store whose certificate changes (as an ACME store's would)."""

    def __init__(self, context: TLSStoreContext) -> None:
        self.context = context
        self.entries: list = []

    def certificates(self):
        return self.entries


@pytest.mark.anyio
async def test_store_plugin_change_rebuilds(ca):
    made: list[RotatingStore] = []

    def factory(context):
        made.append(RotatingStore(context))
        return made[-1]

    m = manager([], plugins=[TLSStoreType("rotating", factory)])
    assert names(served(m, "p.example.com"))[0] == DEFAULT_DOMAIN
    leaf = ca.issue("p.example.com")
    made[0].entries = [(leaf.pem, leaf.key_pem, [])]
    made[0].context.changed()
    import anyio

    with anyio.fail_after(5):
        while names(served(m, "p.example.com")) != ["p.example.com"]:
            await anyio.sleep(0.01)


def test_failing_store_plugin_is_contained(ca):
    class Failing:
        def certificates(self):
            raise RuntimeError("boom")

    m = manager(
        [(ca.issue("a.example.com"), None)],
        plugins=[TLSStoreType("failing", lambda ctx: Failing())],
    )
    assert names(served(m, "a.example.com")) == ["a.example.com"]
