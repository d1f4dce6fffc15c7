"""IngressRoutes, TraefikServices and service references: what the conformance data does not check.

Mainly which object each refusal is reported against (``Builder.fail``: reason
and Traefik's message), what is skipped with it, and malformed objects not
crashing the translation.
"""

from __future__ import annotations

from typing import Any

import pytest
from edgeway_kubernetes_crd import KubernetesCRDOptions, translate
from edgeway_kubernetes_crd.builder import Builder
from edgeway_kubernetes_crd.http_routes import make_service_key
from edgeway_kubernetes_crd.load_balancers import (
    ConfigBuilder,
    full_service_name,
    name_and_service,
    parse_service_protocol,
)
from edgeway_kubernetes_crd.references import ReferenceError
from edgeway_kubernetes_crd.view import CRDView

IR_KEY = ("IngressRoute", "default", "test")
TS_KEY = ("TraefikService", "default", "ts")


def service(name: str = "whoami", ns: str = "default", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"ports": [{"name": "web", "port": 80}], **spec},
    }


def endpoint_slice(
    svc: str = "whoami", ns: str = "default", address: str = "10.0.0.1"
) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{svc}-abc",
            "namespace": ns,
            "labels": {"kubernetes.io/service-name": svc},
        },
        "addressType": "IPv4",
        "ports": [{"name": "web", "port": 8080}],
        "endpoints": [{"addresses": [address]}],
    }


def ingress_route(*routes: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "IngressRoute",
        "metadata": {"name": "test", "namespace": "default"},
        "spec": {"routes": list(routes), **spec},
    }


def route(
    *services: dict[str, Any], match: str = "Host(`foo.com`)", **extra: Any
) -> dict[str, Any]:
    return {"match": match, "services": list(services), **extra}


def traefik_service(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "TraefikService",
        "metadata": {"name": "ts", "namespace": "default"},
        "spec": spec,
    }


WHOAMI = {"name": "whoami", "port": 80}
BACKEND = [service(), endpoint_slice()]
ROUTER = "default-" + make_service_key("Host(`foo.com`)", "test")


def run(*objects: dict[str, Any], **options: Any):
    return translate(list(objects), KubernetesCRDOptions(**options))


def reasons(result, key=IR_KEY) -> list[tuple[str, str]]:
    return [(p.reason, p.message) for p in result.problems.get(key, [])]


def builder(*objects: dict[str, Any], **options: Any) -> Builder:
    opts = KubernetesCRDOptions(**options)
    return Builder(CRDView.from_objects(objects, opts), opts)


# --- naming ---------------------------------------------------------------------------------


def test_make_service_key_is_ten_bytes_of_sha256() -> None:
    # default-test-route-6b204d94623b3df4370c in the conformance data (002).
    assert make_service_key("Host(`foo.com`) && PathPrefix(`/bar`)", "test.route") == (
        "test.route-6b204d94623b3df4370c"
    )


@pytest.mark.parametrize(
    ("ref", "port", "expected"),
    [
        ({"name": "whoami", "namespace": "default"}, 80, "default-whoami-80"),
        ({"name": "whoami", "namespace": "default"}, "web", "default-whoami-web"),
        ({"name": "ts", "namespace": "default"}, 0, "default-ts"),
        ({"name": "ts@kubernetescrd", "namespace": "other"}, 0, "other-ts"),
        ({"name": "my.svc@file", "namespace": "ignored"}, 0, "my-svc@file"),
        ({"name": "a@b@file"}, 0, "a-b@file"),
    ],
)
def test_full_service_name(ref: dict[str, Any], port: int | str, expected: str) -> None:
    assert full_service_name(ref, port) == expected


def test_parse_service_protocol() -> None:
    assert parse_service_protocol("", "web", 443) == "https"
    assert parse_service_protocol("", "https-alt", 8443) == "https"
    assert parse_service_protocol("", "web", 80) == "http"
    assert parse_service_protocol("h2c", "web", 443) == "h2c"
    with pytest.raises(ReferenceError, match='invalid scheme "ftp" specified') as err:
        parse_service_protocol("ftp", "web", 80)
    assert err.value.reason == "InvalidSpec"


# --- name_and_service (also used by the errors middleware) ------------------------------------


def test_name_and_service_kubernetes_service() -> None:
    name, svc = name_and_service(builder(*BACKEND), "default", WHOAMI)
    assert name == "default-whoami-80"
    assert svc == {
        "loadBalancer": {
            "servers": [{"url": "http://10.0.0.1:8080"}],
            "strategy": "wrr",
            "passHostHeader": True,
            "responseForwarding": {"flushInterval": "100000000ns"},
        }
    }


def test_name_and_service_traefik_service_and_other_providers() -> None:
    b = builder()
    assert name_and_service(b, "default", {"name": "ts", "kind": "TraefikService"}) == (
        "default-ts",
        None,
    )
    assert name_and_service(b, "default", {"name": "api@internal", "kind": "TraefikService"}) == (
        "api@internal",
        None,
    )
    with pytest.raises(ReferenceError, match="not in crossProviderNamespaces") as err:
        name_and_service(
            builder(crossProviderNamespaces=[]),
            "default",
            {"name": "x@file", "kind": "TraefikService"},
        )
    assert err.value.reason == "CrossProviderForbidden"


def test_name_and_service_ignores_native_lb_by_default_unlike_routes() -> None:
    """Traefik's TraefikService/errors-middleware configBuilder has no nativeLBByDefault."""
    b = builder(service(clusterIP="10.1.1.1"), endpoint_slice(), nativeLBByDefault=True)
    assert name_and_service(b, "default", WHOAMI)[1]["loadBalancer"]["servers"] == [
        {"url": "http://10.0.0.1:8080"}
    ]
    routes = ConfigBuilder.for_routes(b)
    assert routes.name_and_service("default", WHOAMI)[1]["loadBalancer"]["servers"] == [
        {"url": "http://10.1.1.1:80"}
    ]


@pytest.mark.parametrize(
    ("objects", "ref", "options", "reason", "message"),
    [
        ([], WHOAMI, {}, "ServiceNotFound", "kubernetes service not found: default/whoami"),
        (
            BACKEND,
            {"name": "whoami"},
            {},
            "InvalidSpec",
            "ingressRoute service port not defined",
        ),
        (
            BACKEND,
            {"name": "whoami", "port": 81},
            {},
            "ServicePortNotFound",
            "service port not found: 81",
        ),
        (
            BACKEND,
            {"name": "whoami", "port": "80"},
            {},
            "ServicePortNotFound",
            "service port not found: 80",
        ),
        ([service()], WHOAMI, {}, "NoEndpoints", "no servers found for default/whoami"),
        (
            BACKEND,
            {**WHOAMI, "namespace": "other"},
            {},
            "CrossNamespaceForbidden",
            "service other/whoami not in the parent resource namespace default",
        ),
        (
            [service(type="ExternalName", externalName="ext.io")],
            WHOAMI,
            {},
            "ExternalNameForbidden",
            "externalName services not allowed: default/whoami",
        ),
        (
            BACKEND,
            {**WHOAMI, "healthCheck": {}},
            {},
            "InvalidSpec",
            "healthCheck allowed only for ExternalName services: default/whoami",
        ),
        (
            BACKEND,
            {**WHOAMI, "strategy": "random"},
            {},
            "InvalidSpec",
            "load-balancer strategy random is not supported",
        ),
        (
            BACKEND,
            {**WHOAMI, "responseForwarding": {"flushInterval": "soon"}},
            {},
            "InvalidSpec",
            'unable to parse flushInterval: time: invalid duration "soon"',
        ),
        (BACKEND, {**WHOAMI, "kind": "Pod"}, {}, "InvalidSpec", "unsupported service kind Pod"),
        (
            [service(clusterIP="None"), endpoint_slice()],
            {**WHOAMI, "nativeLB": True},
            {},
            "NoEndpoints",
            "getting native Kubernetes Service address: no clusterIP on headless service: default/whoami",
        ),
        (
            [service(type="NodePort")],
            {**WHOAMI, "nodePortLB": True},
            {},
            "NoEndpoints",
            "nodes not found for NodePort service default/whoami",
        ),
        (
            BACKEND,
            {**WHOAMI, "serversTransport": "st@kubernetescrd"},
            {},
            "CrossNamespaceForbidden",
            "invalid reference to serversTransport st@kubernetescrd: "
            "namespace-name@kubernetescrd format is not allowed when crossnamespace is disallowed",
        ),
        (
            BACKEND,
            {**WHOAMI, "middlewares": [{"name": "m", "namespace": "other"}]},
            {},
            "CrossNamespaceForbidden",
            "could not create middleware keys: invalid reference to middleware m: "
            "allowCrossNamespace is disabled, cross-namespace are disallowed",
        ),
    ],
)
def test_name_and_service_refusals(
    objects: list[dict[str, Any]],
    ref: dict[str, Any],
    options: dict[str, Any],
    reason: str,
    message: str,
) -> None:
    with pytest.raises(ReferenceError) as err:
        name_and_service(builder(*objects, **options), "default", ref)
    assert (err.value.reason, str(err.value)) == (reason, message)


def test_health_check_defaults_and_durations() -> None:
    b = builder(service(type="ExternalName", externalName="ext.io"), allowExternalNameServices=True)
    _, svc = name_and_service(
        b, "default", {**WHOAMI, "healthCheck": {"interval": 10, "mode": "grpc"}}
    )
    assert svc["loadBalancer"]["healthCheck"] == {
        "followRedirects": True,
        "mode": "grpc",
        "interval": "10000000000ns",
        "unhealthyInterval": "10000000000ns",
        "timeout": "5000000000ns",
    }
    assert svc["loadBalancer"]["servers"] == [{"url": "http://ext.io:80"}]


def test_sticky_cookie_path_defaults_to_slash() -> None:
    _, svc = name_and_service(
        builder(*BACKEND), "default", {**WHOAMI, "sticky": {"cookie": {"name": "c"}}}
    )
    assert svc["loadBalancer"]["sticky"] == {"cookie": {"name": "c", "path": "/"}}


# --- IngressRoutes --------------------------------------------------------------------------


def test_route_with_missing_service_is_reported_and_skipped() -> None:
    result = run(ingress_route(route({"name": "nope", "port": 80})))
    assert IR_KEY in result.processed
    assert reasons(result) == [("ServiceNotFound", "kubernetes service not found: default/nope")]
    assert result.configuration["http"]["routers"] == {}


def test_unsupported_kind_and_empty_match_skip_only_their_route() -> None:
    result = run(
        ingress_route(route(WHOAMI, kind="Regex"), route(WHOAMI, match=""), route(WHOAMI)),
        *BACKEND,
    )
    assert reasons(result) == [
        ("InvalidSpec", 'Unsupported match kind: Regex. Only "Rule" is supported for now.'),
        ("InvalidSpec", "Empty match rule"),
    ]
    assert list(result.configuration["http"]["routers"]) == [ROUTER]


def test_cross_provider_middleware_refused() -> None:
    result = run(
        ingress_route(route(WHOAMI, middlewares=[{"name": "m@file"}])),
        *BACKEND,
        crossProviderNamespaces=[],
    )
    assert reasons(result) == [
        (
            "CrossProviderForbidden",
            'Failed to create middleware keys: invalid reference to middleware m@file: namespace "default" '
            "is not in crossProviderNamespaces",
        )
    ]
    assert result.configuration["http"]["routers"] == {}


def test_missing_parent_skips_the_whole_ingress_route() -> None:
    result = run(ingress_route(route(WHOAMI), parentRefs=[{"name": "parent"}]), *BACKEND)
    assert reasons(result) == [
        (
            "ParentNotFound",
            "Error resolving parent routers: parent IngressRoute default/parent does not exist",
        )
    ]
    assert result.configuration["http"]["routers"] == {}


def test_missing_tls_secret_is_reported_but_the_router_stays() -> None:
    result = run(ingress_route(route(WHOAMI), tls={"secretName": "nope"}), *BACKEND)
    assert reasons(result) == [
        ("SecretNotFound", "Error configuring TLS: secret default/nope does not exist")
    ]
    assert result.configuration["http"]["routers"][ROUTER]["tls"] == {}


def test_refused_tls_option_drops_the_router_but_keeps_its_service() -> None:
    result = run(
        ingress_route(route(WHOAMI), tls={"options": {"name": "o", "namespace": "other"}}), *BACKEND
    )
    assert reasons(result) == [
        (
            "CrossNamespaceForbidden",
            'Invalid reference to TLSOption "o": allowCrossNamespace is disabled, cross-namespace are disallowed',
        )
    ]
    assert result.configuration["http"]["routers"] == {}
    assert ROUTER in result.configuration["http"]["services"]


def test_weighted_route_keeps_members_built_before_a_refusal() -> None:
    result = run(ingress_route(route(WHOAMI, {"name": "nope", "port": 80})), *BACKEND)
    assert reasons(result) == [("ServiceNotFound", "kubernetes service not found: default/nope")]
    assert list(result.configuration["http"]["services"]) == ["default-whoami-80"]
    assert result.configuration["http"]["routers"] == {}


def test_other_ingress_class_is_not_processed() -> None:
    ir = ingress_route(route(WHOAMI), ingressClassName="other")
    result = run(ir, *BACKEND)
    assert result.processed == {}
    assert result.configuration["http"]["routers"] == {}


@pytest.mark.parametrize(
    "spec",
    [
        {"routes": "nope"},
        {"routes": ["nope"]},
        {"routes": [{"match": ["x"]}]},
        {"routes": [{"match": "Host(`a`)", "priority": "high"}]},
        {"routes": [{"match": "Host(`a`)", "services": ["whoami"]}]},
        {"routes": [{"match": "Host(`a`)", "observability": "on"}]},
        {"routes": [{"match": "Host(`a`)"}], "entryPoints": "web"},
        {"routes": [{"match": "Host(`a`)"}], "tls": ["x"]},
        {"routes": [{"match": "Host(`a`)"}], "tls": {"domains": [{"sans": "a"}]}},
        {"routes": [{"match": "Host(`a`)"}], "parentRefs": {"name": "x"}},
    ],
)
def test_malformed_ingress_route_is_reported_whole(spec: dict[str, Any]) -> None:
    ir = ingress_route()
    ir["spec"] = spec
    result = run(ir, *BACKEND)
    assert [r for r, _ in reasons(result)] == ["InvalidSpec"]
    assert result.configuration["http"]["routers"] == {}


@pytest.mark.parametrize(
    "ref",
    [
        {"name": 3, "port": 80},
        {"name": "whoami", "port": True},
        {"name": "whoami", "port": 80.5},
        {"name": "whoami", "port": 80, "passHostHeader": "yes"},
        {"name": "whoami", "port": 80, "sticky": {"cookie": "c"}},
        {"name": "whoami", "port": 80, "responseForwarding": {"flushInterval": 5}},
        {"name": "whoami", "port": 80, "middlewares": "m"},
    ],
)
def test_malformed_service_reference_skips_its_route(ref: Any) -> None:
    result = run(ingress_route(route(ref), route(WHOAMI, match="Host(`b`)")), *BACKEND)
    problems = reasons(result)
    assert [r for r, _ in problems] == ["InvalidSpec"], problems
    assert len(result.configuration["http"]["routers"]) == 1


def test_malformed_weight_in_a_weighted_route() -> None:
    result = run(ingress_route(route(WHOAMI, {**WHOAMI, "weight": "1"})), *BACKEND)
    assert [r for r, _ in reasons(result)] == ["InvalidSpec"]
    assert result.configuration["http"]["routers"] == {}


# --- TraefikServices ------------------------------------------------------------------------


def test_traefik_service_without_type() -> None:
    result = run(traefik_service())
    assert TS_KEY in result.processed
    assert reasons(result, TS_KEY) == [
        ("InvalidSpec", "Error while building TraefikService: unspecified service type")
    ]


def test_failover_fallback_refused() -> None:
    result = run(
        traefik_service(failover={"service": WHOAMI, "fallback": {"name": "nope", "port": 80}}),
        *BACKEND,
    )
    assert reasons(result, TS_KEY) == [
        (
            "ServiceNotFound",
            "Error while building TraefikService: getting fallback service: kubernetes service not found: default/nope",
        )
    ]
    assert result.configuration["http"]["services"] == {}


def test_failover_errors_always_present() -> None:
    result = run(
        traefik_service(
            failover={"service": WHOAMI, "fallback": {"name": "x", "kind": "TraefikService"}}
        ),
        *BACKEND,
    )
    services = result.configuration["http"]["services"]
    assert services["default-ts"] == {
        "failover": {"service": "default-whoami-80", "fallback": "default-x", "errors": {}}
    }
    assert "default-whoami-80" in services


def test_mirroring_keeps_main_service_when_a_mirror_is_refused() -> None:
    result = run(
        traefik_service(mirroring={**WHOAMI, "mirrors": [{"name": "nope", "port": 80}]}), *BACKEND
    )
    assert [r for r, _ in reasons(result, TS_KEY)] == ["ServiceNotFound"]
    assert list(result.configuration["http"]["services"]) == ["default-whoami-80"]


def test_mirroring_and_hrw_output() -> None:
    mirror = {"name": "m", "kind": "TraefikService", "percent": 10}
    result = run(
        traefik_service(mirroring={**WHOAMI, "mirrorBody": False, "mirrors": [mirror]}), *BACKEND
    )
    assert result.configuration["http"]["services"]["default-ts"] == {
        "mirroring": {
            "service": "default-whoami-80",
            "mirrors": [{"name": "default-m", "percent": 10}],
            "mirrorBody": False,
        }
    }
    hrw = {"services": [WHOAMI, {"name": "t", "kind": "TraefikService", "weight": 0}]}
    result = run(traefik_service(highestRandomWeight=hrw), *BACKEND)
    assert result.configuration["http"]["services"]["default-ts"] == {
        "highestRandomWeight": {
            "services": [
                {"name": "default-whoami-80", "weight": 1},
                {"name": "default-t", "weight": 0},
            ]
        }
    }


@pytest.mark.parametrize(
    "spec",
    [
        {"weighted": ["x"]},
        {"weighted": {"services": "x"}},
        {"mirroring": {"name": "whoami", "port": 80, "mirrorBody": "no"}},
        {
            "highestRandomWeight": {
                "services": [{"name": "t", "kind": "TraefikService", "weight": "2"}]
            }
        },
        {"failover": {"service": "x", "fallback": {}}},
        {"failover": {"service": WHOAMI, "fallback": WHOAMI, "errors": {"status": [500]}}},
    ],
)
def test_malformed_traefik_service(spec: dict[str, Any]) -> None:
    result = run(traefik_service(**spec), *BACKEND)
    assert [r for r, _ in reasons(result, TS_KEY)] == ["InvalidSpec"]
    assert "default-ts" not in result.configuration["http"]["services"]
