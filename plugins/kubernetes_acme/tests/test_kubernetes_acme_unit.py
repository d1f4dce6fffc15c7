"""The ``kubernetes://`` URL, object names and Secret shapes (no API server needed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from edgeway.acme.storage import Account, StoredCertificate
from edgeway_kubernetes_acme import objects
from edgeway_kubernetes_acme.lease import micro_time, parse_micro_time
from edgeway_kubernetes_acme.storage import StorageURL, parse_storage_url, replica_identity

DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def test_url_namespace_and_lease_duration(tmp_path: Path) -> None:
    assert parse_storage_url("kubernetes://edgeway") == StorageURL("edgeway", 15)
    assert parse_storage_url("kubernetes://edgeway/?leaseDuration=1m30s") == StorageURL(
        "edgeway", 90
    )
    assert parse_storage_url("kubernetes://e?leaseDuration=1.5s").lease_duration == 2
    # No namespace: the pod's, else default.
    (tmp_path / "namespace").write_text("ingress\n")
    assert (
        parse_storage_url("kubernetes://", service_account_dir=str(tmp_path)).namespace == "ingress"
    )
    assert (
        parse_storage_url("kubernetes://", service_account_dir=str(tmp_path / "none")).namespace
        == "default"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("kubernetes://edgeway?lease=15s", "unknown parameter 'lease' (known: leaseDuration)"),
        ("kubernetes://edgeway?leaseDuration=soon", "leaseDuration: invalid duration 'soon'"),
        ("kubernetes://edgeway?leaseDuration=500ms", "leaseDuration must be at least 1s"),
        ("kubernetes://Edgeway_NS", "'Edgeway_NS' is not a valid namespace name"),
        ("kubernetes://edgeway/secrets", "expected kubernetes://<namespace>"),
        ("kubernetes://user@edgeway", "expected kubernetes://<namespace>"),
        ("kubernetes://edgeway:443", "expected kubernetes://<namespace>"),
    ],
)
def test_bad_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_storage_url(url)


def test_identity_is_pod_name_else_host_and_pid() -> None:
    assert replica_identity({"POD_NAME": "edgeway-7d9f-x2"}) == "edgeway-7d9f-x2"
    assert re.match(r"^.+-\d+(-\d+)?$", replica_identity({}))


def test_names_are_dns1123_and_distinct() -> None:
    names = {
        objects.certificate_name("le", ("a.test",)),
        objects.certificate_name("le", ("a.test", "b.test")),
        objects.certificate_name("other", ("a.test",)),
        objects.certificate_name("le", ("*.w.test",)),
        objects.certificate_name("My_Resolver", ("A.test",)),
        objects.account_name("le"),
        objects.account_name("My_Resolver"),
        objects.http01_name("a.test", "tok"),
        objects.tlsalpn01_name("a.test"),
    }
    assert len(names) == 9
    for name in names:
        assert DNS1123.match(name) and len(name) <= 253, name
    assert objects.account_name("le") == "edgeway-acme-le-account"
    assert objects.certificate_name("le", ("*.w.test",)).startswith(
        "edgeway-acme-le-wildcard-w-test-"
    )
    assert objects.resolver_label("le") == "le"
    assert re.match(
        r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$", objects.resolver_label("a b/" * 30)
    )


def test_secret_shapes_round_trip() -> None:
    account = Account(
        "a@b.test", b"\x30\x82der", {"body": {"status": "valid"}, "uri": "https://ca/acct/1"}
    )
    secret = objects.account_secret("le", account)
    assert secret["type"] == "Opaque"
    assert secret["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "edgeway", "edgeway.io/acme-resolver": "le", "edgeway.io/acme-kind": "account",
    }  # fmt: skip
    assert objects.account_from_secret(secret) == account

    cert = StoredCertificate("a.test", ("b.test",), b"CHAIN", b"KEY", "other")
    secret = objects.certificate_secret("le", cert)
    assert secret["type"] == "kubernetes.io/tls"
    assert set(secret["data"]) == {"tls.crt", "tls.key"}
    assert secret["metadata"]["annotations"] == {
        "edgeway.io/acme-domains": "a.test,b.test",
        "edgeway.io/acme-store": "other",
    }
    assert secret["metadata"]["labels"]["edgeway.io/acme-kind"] == "certificate"
    assert objects.certificate_from_secret(secret) == cert

    http = objects.http01_secret("le", "a.test", "tok", "tok.thumb")
    assert http["metadata"]["labels"]["edgeway.io/acme-kind"] == "challenge"
    assert objects.http01_from_secret(http) == ("a.test", "tok", "tok.thumb")
    assert objects.tlsalpn01_from_secret(http) is None
    alpn = objects.tlsalpn01_secret("le", "a.test", b"CERT", b"KEY")
    assert objects.tlsalpn01_from_secret(alpn) == ("a.test", b"CERT", b"KEY")


def test_micro_time_round_trips() -> None:
    text = micro_time()
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", text)
    assert parse_micro_time(text) is not None
    assert parse_micro_time("") is None and parse_micro_time("yesterday") is None


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("storage", "message"),
    [
        (
            "s3://bucket/acme",
            'unknown ACME storage "s3://bucket/acme" (installed schemes: kubernetes)',
        ),
        (
            "kubernetes://edgeway?leaseduration=15s",
            "unknown parameter 'leaseduration' (known: leaseDuration)",
        ),
        ("kubernetes://edgeway?leaseDuration=0s", "leaseDuration must be at least 1s"),
        ("kubernetes://edgeway", "cannot find the Kubernetes API server"),
    ],
)
async def test_unusable_storage_is_reported_on_the_resolvers_routers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, storage: str, message: str
) -> None:
    from support import backends, edgeway

    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    static = f"""
entryPoints:
  websecure: {{address: "127.0.0.1:0"}}
certificatesResolvers:
  le:
    acme:
      email: admin@example.com
      caServer: "https://127.0.0.1:1/dir"
      storage: "{storage}"
      tlsChallenge: {{}}
"""
    async with backends("app") as (app,):
        dynamic = f"""
http:
  routers:
    app: {{rule: "Host(`a.test`)", entryPoints: [websecure], service: app, tls: {{certResolver: le}}}}
  services:
    app: {{loadBalancer: {{servers: [{{url: "http://127.0.0.1:{app.port}"}}]}}}}
"""
        async with edgeway(tmp_path, dynamic, static) as ew:
            [error] = ew.runtime.routers["app@file"].errors
    assert message in error


def test_connection_is_the_kubernetes_providers_else_the_environments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    from edgeway_kubernetes.client import ClientConfigError
    from edgeway_kubernetes_acme.plugin import client_config

    def options(endpoint: str) -> SimpleNamespace:
        return SimpleNamespace(endpoint=endpoint, token="t", certAuthFilePath="")

    crd, ingress = options("http://127.0.0.1:8001"), options("http://127.0.0.1:8002")
    static = SimpleNamespace(
        providers=SimpleNamespace(kubernetesCRD=crd, kubernetesIngress=ingress)
    )
    assert client_config(static).host == "http://127.0.0.1:8001"
    static = SimpleNamespace(
        providers=SimpleNamespace(kubernetesCRD=None, kubernetesIngress=ingress)
    )
    assert client_config(static).host == "http://127.0.0.1:8002"
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    with pytest.raises(ClientConfigError, match="cannot find the Kubernetes API server"):
        client_config(SimpleNamespace(providers=SimpleNamespace()))
