"""The official ``kubernetes`` client against the real kube-apiserver v1.20: what the
live Ingress provider relies on works there (kubeconfig and in-cluster style access,
list, watch from a resourceVersion, EndpointSlices only as ``discovery.k8s.io/v1beta1``).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from real_apiserver import RealApiServer

WATCH_TIMEOUT = 10


@pytest.fixture(scope="module")
def admin(real_apiserver: RealApiServer) -> Any:
    """An ApiClient from the kubeconfig start-apiserver.sh wrote."""
    from kubernetes import config

    return config.new_client_from_config(config_file=str(real_apiserver.kubeconfig))


@pytest.fixture(scope="module")
def ns(admin: Any) -> str:
    from kubernetes import client

    name = f"smoke-{uuid.uuid4().hex[:8]}"
    client.CoreV1Api(admin).create_namespace({"metadata": {"name": name}})
    return name


def test_server_is_kubernetes_1_20(admin: Any) -> None:
    from kubernetes import client

    version = client.VersionApi(admin).get_code()
    assert (version.major, version.minor, version.git_version) == ("1", "20", "v1.20.2")


def test_lists_ingresses_services_and_v1beta1_endpointslices(admin: Any, ns: str) -> None:
    from kubernetes import client, dynamic

    core, net = client.CoreV1Api(admin), client.NetworkingV1Api(admin)
    core.create_namespaced_service(ns, {"metadata": {"name": "whoami"},
                                        "spec": {"ports": [{"port": 80, "targetPort": 8080}]}})  # fmt: skip
    net.create_namespaced_ingress(ns, {
        "metadata": {"name": "whoami"},
        "spec": {"rules": [{"host": "whoami.test", "http": {"paths": [{
            "path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "whoami", "port": {"number": 80}}}}]}}]},
    })  # fmt: skip
    # No controller-manager: the slice is written by hand, pointing at a loopback backend.
    slices = dynamic.DynamicClient(admin).resources.get(
        api_version="discovery.k8s.io/v1beta1", kind="EndpointSlice"
    )
    slices.create(namespace=ns, body={
        "apiVersion": "discovery.k8s.io/v1beta1", "kind": "EndpointSlice",
        "metadata": {"name": "whoami-1", "labels": {"kubernetes.io/service-name": "whoami"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["127.0.0.2"], "conditions": {"ready": True}}],
        "ports": [{"port": 8080, "protocol": "TCP"}],
    })  # fmt: skip

    assert [i.metadata.name for i in net.list_namespaced_ingress(ns).items] == ["whoami"]
    assert [s.metadata.name for s in core.list_namespaced_service(ns).items] == ["whoami"]
    got = slices.get(namespace=ns, label_selector="kubernetes.io/service-name=whoami")
    assert [(s.metadata.name, s.endpoints[0].addresses) for s in got.items] == [
        ("whoami-1", ["127.0.0.2"])
    ]


def test_discovery_v1_endpointslices_are_not_served(admin: Any) -> None:
    """Kubernetes 1.20 serves EndpointSlices only as v1beta1: the provider must fall back."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    with pytest.raises(ApiException) as info:
        client.DiscoveryV1Api(admin).list_endpoint_slice_for_all_namespaces()
    assert info.value.status == 404
    versions = [v.version for g in client.ApisApi(admin).get_api_versions().groups
                if g.name == "discovery.k8s.io" for v in g.versions]  # fmt: skip
    assert versions == ["v1beta1"]


def test_watch_sees_an_ingress_added_modified_and_deleted(admin: Any, ns: str) -> None:
    from kubernetes import client, watch

    net = client.NetworkingV1Api(admin)
    rv = net.list_namespaced_ingress(ns).metadata.resource_version
    name = f"watched-{uuid.uuid4().hex[:6]}"
    body = {"metadata": {"name": name},
            "spec": {"defaultBackend": {"service": {"name": "whoami", "port": {"number": 80}}}}}  # fmt: skip
    net.create_namespaced_ingress(ns, body)
    net.patch_namespaced_ingress(name, ns, {"metadata": {"annotations": {"a": "b"}}})
    net.delete_namespaced_ingress(name, ns)

    seen = []
    w = watch.Watch()
    for event in w.stream(net.list_namespaced_ingress, ns, resource_version=rv,
                          timeout_seconds=WATCH_TIMEOUT):  # fmt: skip
        if event["object"].metadata.name == name:
            seen.append(event["type"])
        if len(seen) == 3:
            w.stop()
    assert seen == ["ADDED", "MODIFIED", "DELETED"]


def test_in_cluster_style_access(real_apiserver: RealApiServer,
                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """KUBERNETES_SERVICE_HOST/PORT + token and CA files, as a pod sees them."""
    from kubernetes import client
    from kubernetes.config.incluster_config import InClusterConfigLoader

    sa = real_apiserver.state / "serviceaccount"
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(real_apiserver.port))
    cfg = client.Configuration()
    InClusterConfigLoader(token_filename=str(sa / "token"), cert_filename=str(sa / "ca.crt"),
                          try_refresh_token=False).load_and_set(cfg)  # fmt: skip
    api = client.ApiClient(cfg)
    assert client.CoreV1Api(api).read_namespace("default").metadata.name == "default"
