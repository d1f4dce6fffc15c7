"""Service + EndpointSlices to servers, Secrets to certificates, Traefik's naming helpers."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from edgeway_kubernetes import (
    SecretError,
    ServiceError,
    endpoint_slice_servers,
    external_name_server,
    go_quote,
    join_host_port,
    native_lb_server,
    node_port_servers,
    normalize,
    server_scheme,
    service_port,
    short_hash,
    tls_certificate,
)

SERVICE: dict[str, Any] = {
    "metadata": {"name": "web", "namespace": "apps"},
    "spec": {
        "clusterIP": "10.0.0.7",
        "externalName": "example.org",
        "ports": [{"name": "http", "port": 80, "nodePort": 30080}, {"name": "https-alt", "port": 8443}, {"port": 443}],
    },
}


def endpoint(*addresses: str, **conditions: bool) -> dict[str, Any]:
    return {"addresses": list(addresses), "conditions": conditions}


def test_service_port_by_number_or_non_empty_name() -> None:
    assert service_port(SERVICE, 80)["name"] == "http"
    assert service_port(SERVICE, 0, "https-alt")["port"] == 8443
    assert service_port(SERVICE, 443)["port"] == 443
    assert service_port(SERVICE, 81) is None
    assert service_port(SERVICE, 0, "") is None
    assert service_port({"spec": {}}, 80) is None


@pytest.mark.parametrize(
    ("port", "name", "explicit", "scheme"),
    [({"port": 80}, "http", "", "http"), ({"port": 443}, "", "", "https"), ({"port": 8443}, "https-alt", "", "https"), ({"port": 443}, "", "h2c", "h2c")],
)
def test_scheme(port: dict[str, Any], name: str, explicit: str, scheme: str) -> None:
    assert server_scheme(port, name, explicit) == scheme


def test_endpoint_slices_serving_terminating_dedup_and_port_by_name() -> None:
    slices = [
        {
            "ports": [{"name": "metrics", "port": 9090}, {"name": "http", "port": 8080}],
            "endpoints": [
                endpoint("10.1.0.1", ready=True),
                endpoint("10.1.0.2", serving=False, terminating=True),  # skipped
                endpoint("10.1.0.3", serving=True, terminating=True),  # fenced
                endpoint("10.1.0.4"),  # no conditions: serving
                endpoint("fd00::5", ready=True),
            ],
        },
        {"ports": [{"name": "http", "port": 8080}], "endpoints": [endpoint("10.1.0.1"), endpoint("10.1.0.6")]},
        {"ports": [{"port": 8080}], "endpoints": [endpoint("10.9.9.9")]},  # no port name: nothing
        {"ports": [{"name": "http", "port": None}], "endpoints": [endpoint("10.9.9.8")]},  # no port value
    ]
    assert endpoint_slice_servers(slices, "http", "http") == [
        {"url": "http://10.1.0.1:8080"},
        {"url": "http://10.1.0.3:8080", "fenced": True},
        {"url": "http://10.1.0.4:8080"},
        {"url": "http://[fd00::5]:8080"},
        {"url": "http://10.1.0.6:8080"},
    ]
    assert endpoint_slice_servers(slices, "", "http") == []


def test_native_lb_external_name_and_node_ports() -> None:
    port = service_port(SERVICE, 80)
    assert native_lb_server(SERVICE, port, "http") == {"url": "http://10.0.0.7:80"}
    assert external_name_server(SERVICE, port, "https") == {"url": "https://example.org:80"}
    nodes = [
        {"status": {"addresses": [{"type": "InternalIP", "address": "192.168.0.1"}, {"type": "ExternalIP", "address": "1.2.3.4"}]}},
        {"status": {"addresses": [{"type": "InternalIP", "address": "fd00::1"}]}},
        {"status": {}},
    ]
    assert node_port_servers(nodes, port, "http") == [{"url": "http://192.168.0.1:30080"}, {"url": "http://[fd00::1]:30080"}]


@pytest.mark.parametrize(("cluster_ip", "message"), [("None", "no clusterIP on headless service: apps/web"), ("", "no clusterIP found for service: apps/web")])
def test_native_lb_needs_a_cluster_ip(cluster_ip: str, message: str) -> None:
    service = {**SERVICE, "spec": {**SERVICE["spec"], "clusterIP": cluster_ip}}
    with pytest.raises(ServiceError, match=message):
        native_lb_server(service, {"port": 80}, "http")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_tls_secret_to_certificate_cert_manager_style() -> None:
    secret = {"type": "kubernetes.io/tls", "data": {"tls.crt": b64("CERT"), "tls.key": b64("KEY"), "ca.crt": b64("CA")}}
    assert tls_certificate(secret, "ns", "s") == {"certFile": "CERT", "keyFile": "KEY"}
    assert tls_certificate({"stringData": {"tls.crt": "C", "tls.key": "K"}}, "ns", "s") == {"certFile": "C", "keyFile": "K"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "secret ns/s is missing the following TLS data entries: tls.crt, tls.key"),
        ({"tls.crt": b64("C")}, "is missing the following TLS data entries: tls.key"),
        ({"tls.crt": "", "tls.key": b64("K")}, "contains the following empty TLS data entries: tls.crt"),
        ({"tls.crt": "%%%", "tls.key": b64("K")}, "data.tls.crt is not valid base64"),
    ],
)
def test_unusable_tls_secrets(data: dict[str, str], message: str) -> None:
    with pytest.raises(SecretError, match=message):
        tls_certificate({"metadata": {"namespace": "ns", "name": "s"}, "data": data}, "ns", "s")


def test_naming_helpers_match_traefik() -> None:
    assert normalize("testing--bar") == "testing-bar"
    assert normalize("default-test.route-x") == "default-test-route-x"
    assert normalize("*.bar") == "bar"
    assert normalize("ns-ü½-①") == "ns-ü½-①"  # letters and numbers of any script stay
    assert short_hash('Host("bar") && PathPrefix("/bar")') == "605945111a3c9f84dc65"
    assert go_quote('a"b\\c\n\x01é') == '"a\\"b\\\\c\\n\\x01é"'
    assert join_host_port("::1", 80) == "[::1]:80"
