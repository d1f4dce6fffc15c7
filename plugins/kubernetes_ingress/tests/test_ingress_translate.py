"""Behaviour of the translation the conformance cases do not pin down, options and status."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from edgeway_kubernetes import ObjectStore
from edgeway_kubernetes_ingress import (
    IngressView,
    KubernetesIngressOptions,
    StatusError,
    ingress_status,
    load_balancer_equal,
    node_internal_ip_status,
    translate,
)
from pydantic import ValidationError

P = "traefik.ingress.kubernetes.io/"


def ingress(name: str, ns: str = "default", paths: list[dict[str, Any]] | None = None, host: str = "", **meta: Any) -> dict[str, Any]:
    paths = paths if paths is not None else [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": ns, "annotations": {"kubernetes.io/ingress.class": "traefik"}, **meta},
        "spec": {"rules": [{"host": host, "http": {"paths": paths}}]},
    }


def service(ns: str = "default", name: str = "web", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": {"ports": [{"port": 80}], **spec}}


def endpoints(ns: str = "default", name: str = "web", ip: str = "10.0.0.1") -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": f"{name}-x", "namespace": ns, "labels": {"kubernetes.io/service-name": name}},
        "ports": [{"name": "", "port": 8080}],
        "endpoints": [{"addresses": [ip]}],
    }


def objects(ns: str = "default") -> list[dict[str, Any]]:
    return [service(ns), endpoints(ns)]


def test_namespaces_option_limits_ingresses_and_services() -> None:
    objs = [ingress("a", "one"), ingress("b", "two"), *objects("one"), *objects("two")]
    routers = translate(objs, KubernetesIngressOptions(namespaces=["one"])).configuration["http"]["routers"]
    assert list(routers) == ["one-a"]


def test_label_selector_applies_to_ingresses() -> None:
    objs = [ingress("a", labels={"team": "x"}), ingress("b"), *objects()]
    routers = translate(objs, KubernetesIngressOptions(labelSelector="team=x")).configuration["http"]["routers"]
    assert list(routers) == ["default-a"]


def test_ingress_class_controller_and_name_filter() -> None:
    classes = [
        {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "mine"}, "spec": {"controller": "traefik.io/ingress-controller"}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}},
    ]
    a, b = ingress("a"), ingress("b")
    for ing, cls in ((a, "mine"), (b, "nginx")):
        ing["metadata"]["annotations"] = {}
        ing["spec"]["ingressClassName"] = cls
    objs = [*classes, a, b, *objects()]
    assert list(translate(objs).configuration["http"]["routers"]) == ["default-a"]
    assert translate(objs, KubernetesIngressOptions(ingressClass="other")).configuration["http"]["routers"] == {}
    assert translate(objs, KubernetesIngressOptions(disableClusterScopeResources=True)).configuration["http"]["routers"] == {}


def test_errors_name_the_ingress_and_the_reason() -> None:
    paths = [
        {"path": "/a", "backend": {"service": {"name": "missing", "port": {"number": 80}}}},
        {"path": "/b", "backend": {"resource": {"kind": "Bucket", "name": "b"}}},
        {"path": "/c", "backend": {}},
        {"path": "/d", "backend": {"service": {"name": "web", "port": {"number": 81}}}},
        {"path": "/f", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
    ]
    bad = ingress("bad", paths=paths)
    bad["metadata"]["annotations"][f"{P}router.pathmatcher"] = "Regexp"
    bad["spec"]["tls"] = [{"secretName": "nope"}]
    ok = ingress("ok", paths=[{"path": "/e", "backend": {"service": {"name": "web", "port": {"number": 80}}}}])
    result = translate([bad, ok, *objects()])
    assert list(result.configuration["http"]["routers"]) == ["default-ok-e"]
    assert result.errors == [
        "ingress default/bad: error configuring TLS: secret default/nope does not exist",
        "ingress default/bad: cannot create service default/missing port 80: service not found",
        "ingress default/bad: resource backends are not supported",
        "ingress default/bad: missing service definition",
        "ingress default/bad: cannot create service default/web port 81: service port not found",
        "ingress default/bad: skipping path '/f': invalid router path matcher \"Regexp\": must be one of Path, PathPrefix, PathRegexp",
    ]
    assert [i["metadata"]["name"] for i in result.processed] == ["bad", "ok"]


def test_an_annotation_traefik_rejects_skips_the_ingress() -> None:
    bad = ingress("bad")
    bad["metadata"]["annotations"][f"{P}router.priority"] = "high"
    result = translate([bad, ingress("good"), *objects()])
    assert list(result.configuration["http"]["routers"]) == ["default-good"]
    assert result.errors == ['ingress default/bad: failed to parse annotations: strconv.ParseInt: parsing "high": invalid syntax']


def test_a_second_default_backend_is_refused() -> None:
    def default_only(name: str) -> dict[str, Any]:
        ing = ingress(name)
        ing["spec"] = {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}
        return ing

    result = translate([default_only("a"), default_only("b"), *objects()])
    assert result.configuration["http"]["routers"]["default-router"]["observability"]["metadata"]["ingress"]["ingressName"] == "a"
    assert result.errors == ["ingress default/b: the default backend already exists"]


def test_helm_release_secrets_are_invisible() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "tls", "namespace": "default", "labels": {"owner": "helm"}},
        "data": {"tls.crt": base64.b64encode(b"C").decode(), "tls.key": base64.b64encode(b"K").decode()},
    }
    ing = ingress("a")
    ing["spec"]["tls"] = [{"secretName": "tls"}]
    result = translate([secret, ing, *objects()])
    assert "tls" not in result.configuration
    del secret["metadata"]["labels"]
    assert translate([secret, ing, *objects()]).configuration["tls"] == {"certificates": [{"certFile": "C", "keyFile": "K"}]}


def test_strict_prefix_and_empty_services() -> None:
    ing = ingress("a", paths=[{"path": "/v1/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}])
    opts = KubernetesIngressOptions(strictPrefixMatching=True, allowEmptyServices=True)
    config = translate([ing, service()], opts).configuration["http"]
    assert config["routers"]["default-a-v1"]["rule"] == '(Path("/v1") || PathPrefix("/v1/"))'
    assert "servers" not in config["services"]["default-web-80"]["loadBalancer"]
    assert translate([ing, service()]).configuration["http"]["routers"] == {}


def test_options_model_names_defaults_and_start_up_checks() -> None:
    opts = KubernetesIngressOptions.model_validate({"throttleDuration": "2s", "ingressEndpoint": {"ip": "1.2.3.4"}})
    assert opts.throttleDuration == 2.0 and opts.crossProviderNamespaces is None and opts.namespaces == []
    with pytest.raises(ValidationError, match="mutually exclusive"):
        KubernetesIngressOptions(reportNodeInternalIPs=True, ingressEndpoint={"ip": "1.2.3.4"})
    with pytest.raises(ValidationError, match="mutually exclusive"):
        KubernetesIngressOptions(reportNodeInternalIPs=True, disableClusterScopeResources=True)
    with pytest.raises(ValidationError, match="invalid ingress label selector"):
        KubernetesIngressOptions(labelSelector="a=b=c")
    with pytest.raises(ValidationError, match="Extra inputs"):
        KubernetesIngressOptions.model_validate({"ingressclass2": "x"})


def _status(options: dict[str, Any], objs: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    view = IngressView(ObjectStore(objs), KubernetesIngressOptions.model_validate(options))
    return ingress_status(view)


def test_status_from_ip_and_hostname_or_nothing() -> None:
    assert _status({}, []) is None
    assert _status({"ingressEndpoint": {"ip": "1.2.3.4", "hostname": "lb.example"}}, []) == [{"ip": "1.2.3.4", "hostname": "lb.example"}]
    assert _status({"ingressEndpoint": {"publishedService": "default/lb"}}, [service(name="lb", type="LoadBalancer")]) is None
    assert _status({"ingressEndpoint": {"publishedService": "default/lb"}}, [service(name="lb", type="ClusterIP")]) == []


@pytest.mark.parametrize(
    ("endpoint", "objs", "message"),
    [
        ({}, [], "publishedService or ip or hostname must be defined"),
        ({"publishedService": "lb"}, [], "invalid publishedService format"),
        ({"publishedService": "default/lb"}, [], "missing service: default/lb"),
        ({"publishedService": "default/web"}, [service()], "unsupported service type: "),
    ],
)
def test_status_errors(endpoint: dict[str, str], objs: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(StatusError, match=message):
        _status({"ingressEndpoint": endpoint}, objs)


def test_node_internal_ips_and_status_comparison() -> None:
    nodes = [{"status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"}, {"type": "ExternalIP", "address": "1.1.1.1"}]}}]
    wanted = node_internal_ip_status(nodes)
    assert wanted == [{"ip": "10.0.0.1"}]
    view = IngressView(ObjectStore(), KubernetesIngressOptions(reportNodeInternalIPs=True))
    assert ingress_status(view, wanted) == wanted
    assert load_balancer_equal([{"ip": "10.0.0.1", "ports": [{"port": 1}]}], wanted)
    assert not load_balancer_equal([], wanted)
    assert not load_balancer_equal([{"hostname": "x"}], wanted)
    assert load_balancer_equal(None, [])
