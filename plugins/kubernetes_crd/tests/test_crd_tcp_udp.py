"""IngressRouteTCP / IngressRouteUDP: what the conformance data does not check.

The problems (reason, message, object) of every error path, the naming and
defaults the fixtures do not reach, and hostile objects (wrong JSON types) that
must be refused with ``InvalidSpec`` instead of crashing the translation.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from edgeway_kubernetes import short_hash
from edgeway_kubernetes_crd import KubernetesCRDOptions, translate
from edgeway_kubernetes_crd.builder import Problem

MATCH = "HostSNI(`foo.com`)"
KEY = f"default-route-{short_hash(MATCH)}"
TCP_ROUTE = ("IngressRouteTCP", "default", "route")
UDP_ROUTE = ("IngressRouteUDP", "default", "route")


def service(name: str = "svc", ns: str = "default", **spec: Any) -> dict[str, Any]:
    spec.setdefault("ports", [{"name": "p", "port": 8000, "nodePort": 30000}])
    return {"kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": spec}


def endpoints(
    svc: str = "svc", ns: str = "default", *addresses: str, ready: Any = True
) -> dict[str, Any]:
    return {
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{svc}-abc",
            "namespace": ns,
            "labels": {"kubernetes.io/service-name": svc},
        },
        "ports": [{"name": "p", "port": 8000}],
        "endpoints": [
            {"addresses": list(addresses or ["10.0.0.1"]), "conditions": {"ready": ready}}
        ],
    }


def tcp_route(*routes: dict[str, Any], name: str = "route", **spec: Any) -> dict[str, Any]:
    spec.setdefault("entryPoints", ["foo"])
    spec["routes"] = list(routes)
    return {
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "IngressRouteTCP",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }


def udp_route(*routes: dict[str, Any], **spec: Any) -> dict[str, Any]:
    obj = tcp_route(*routes, **spec)
    obj["kind"] = "IngressRouteUDP"
    return obj


def svc_ref(name: str = "svc", port: Any = 8000, **extra: Any) -> dict[str, Any]:
    return {"name": name, "port": port, **extra}


def run(*objects: dict[str, Any], **options: Any):
    return translate(list(objects), KubernetesCRDOptions(**options))


def problems(result, key=TCP_ROUTE) -> list[Problem]:
    return result.problems.get(key, [])


BACKEND = (service(), endpoints())


# -- naming and shapes ---------------------------------------------------------------


def test_single_service_is_the_routes_load_balancer() -> None:
    result = run(
        *BACKEND,
        tcp_route({"match": MATCH, "priority": 7, "syntax": "v2", "services": [svc_ref()]}),
    )
    assert result.configuration["tcp"]["routers"] == {
        KEY: {
            "entryPoints": ["foo"],
            "rule": MATCH,
            "service": KEY,
            "priority": 7,
            "ruleSyntax": "v2",
        }
    }
    assert result.configuration["tcp"]["services"] == {
        KEY: {"loadBalancer": {"servers": [{"address": "10.0.0.1:8000"}]}}
    }
    assert result.processed == {TCP_ROUTE: result.processed[TCP_ROUTE]}
    assert result.errors == []


def test_weights_default_to_one_and_zero_is_kept_and_ports_by_name_name_the_service() -> None:
    route = {"match": MATCH, "services": [svc_ref(weight=0), svc_ref(port="p")]}
    services = run(*BACKEND, tcp_route(route)).configuration["tcp"]["services"]
    assert services[KEY] == {
        "weighted": {
            "services": [
                {"name": f"{KEY}-svc-8000", "weight": 0},
                {"name": f"{KEY}-svc-p", "weight": 1},
            ]
        }
    }
    assert set(services) == {KEY, f"{KEY}-svc-8000", f"{KEY}-svc-p"}


def test_generate_name_names_a_route_without_name() -> None:
    obj = tcp_route({"match": MATCH, "services": [svc_ref()]})
    obj["metadata"] = {"generateName": "gen-", "namespace": "default"}
    routers = run(*BACKEND, obj).configuration["tcp"]["routers"]
    assert list(routers) == [f"default-gen--{short_hash(MATCH)}"]


def test_proxy_protocol_defaults_to_version_2_and_a_transport_hides_termination_delay() -> None:
    route = {
        "match": MATCH,
        "services": [
            svc_ref(proxyProtocol={}, terminationDelay=0),
            svc_ref(
                port="p", proxyProtocol={"version": 1}, terminationDelay=5, serversTransport="my.st"
            ),
        ],
    }
    services = run(*BACKEND, tcp_route(route)).configuration["tcp"]["services"]
    assert services[f"{KEY}-svc-8000"]["loadBalancer"] == {
        "servers": [{"address": "10.0.0.1:8000"}],
        "proxyProtocol": {"version": 2},
        "terminationDelay": 0,
    }
    assert services[f"{KEY}-svc-p"]["loadBalancer"] == {
        "servers": [{"address": "10.0.0.1:8000"}],
        "proxyProtocol": {"version": 1},
        "serversTransport": "default-my-st",
    }


def test_router_tls_fields() -> None:
    tls = {
        "passthrough": True,
        "certResolver": "le",
        "domains": [{"main": "a.com", "sans": ["b.com"]}, {}],
    }
    router = run(
        *BACKEND, tcp_route({"match": MATCH, "services": [svc_ref()]}, tls=tls)
    ).configuration["tcp"]["routers"][KEY]
    assert router["tls"] == {
        "passthrough": True,
        "certResolver": "le",
        "domains": [{"main": "a.com", "sans": ["b.com"]}, {}],
    }


def test_tls_secret_is_read_once_under_namespace_slash_name() -> None:
    pem = base64.b64encode(b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----").decode()
    secret = {
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "default"},
        "data": {"tls.crt": pem, "tls.key": pem},
    }
    one = tcp_route({"match": MATCH, "services": [svc_ref()]}, tls={"secretName": "s"})
    two = tcp_route(
        {"match": MATCH, "services": [svc_ref()]}, name="other", tls={"secretName": "s"}
    )
    result = run(*BACKEND, secret, one, two)
    assert result.errors == []
    assert len(result.configuration["tls"]["certificates"]) == 1


def test_passthrough_does_not_read_the_secret() -> None:
    route = tcp_route(
        {"match": MATCH, "services": [svc_ref()]}, tls={"secretName": "nope", "passthrough": True}
    )
    result = run(*BACKEND, route)
    assert result.errors == []
    assert result.configuration["tls"] == {}


def test_endpoints_must_be_ready() -> None:
    result = run(
        service(),
        endpoints("svc", "default", "10.0.0.1", ready=None),
        tcp_route({"match": MATCH, "services": [svc_ref()]}),
    )
    assert problems(result) == [
        Problem(
            "NoEndpoints", "Cannot create service svc (port 8000): no servers found for default/svc"
        )
    ]
    assert KEY in result.configuration["tcp"]["routers"]
    assert result.configuration["tcp"]["services"] == {}


def test_ingress_class_mismatch_is_not_processed() -> None:
    route = tcp_route({"match": MATCH, "services": [svc_ref()]}, ingressClassName="other")
    result = run(*BACKEND, route)
    assert result.processed == {}
    assert result.configuration["tcp"]["routers"] == {}


# -- error paths: reason, message, what stays ----------------------------------------


@pytest.mark.parametrize(
    ("objects", "ref", "options", "reason", "message"),
    [
        ((), svc_ref(), {}, "ServiceNotFound", "service not found"),
        (
            (service(type="ExternalName", externalName="ext.com"),),
            svc_ref(),
            {},
            "ExternalNameForbidden",
            "externalName services not allowed: default/svc",
        ),
        (BACKEND, svc_ref(port=9999), {}, "ServicePortNotFound", "service port not found: 9999"),
        (BACKEND, svc_ref(port="nope"), {}, "ServicePortNotFound", "service port not found: nope"),
        (BACKEND, {"name": "svc"}, {}, "InvalidSpec", "ingressRoute service port not defined"),
        (
            (service(ns="other"), endpoints("svc", "other")),
            svc_ref(namespace="other"),
            {},
            "CrossNamespaceForbidden",
            "tcp service other/svc is not in the parent resource namespace default",
        ),
        (
            (service(type="NodePort"),),
            svc_ref(nodePortLB=True),
            {"disableClusterScopeResources": True},
            "NoEndpoints",
            "nodes lookup is disabled",
        ),
        (
            (service(type="NodePort"),),
            svc_ref(nodePortLB=True),
            {},
            "NoEndpoints",
            "nodes not found for NodePort service /svc",
        ),
        (
            (
                service(type="NodePort"),
                {
                    "kind": "Node",
                    "metadata": {"name": "n"},
                    "status": {"addresses": [{"type": "ExternalIP", "address": "1.2.3.4"}]},
                },
            ),
            svc_ref(nodePortLB=True),
            {},
            "NoEndpoints",
            "no servers were generated for service /svc",
        ),
        (
            (service(clusterIP="None"),),
            svc_ref(nativeLB=True),
            {},
            "NoEndpoints",
            "getting native Kubernetes Service address: no clusterIP on headless service: default/svc",
        ),
        (
            (service(),),
            svc_ref(),
            {"nativeLBByDefault": True},
            "NoEndpoints",
            "getting native Kubernetes Service address: no clusterIP found for service: default/svc",
        ),
        (
            BACKEND,
            svc_ref(serversTransport="st@kubernetescrd"),
            {},
            "CrossNamespaceForbidden",
            "invalid reference to serversTransport st@kubernetescrd: namespace-name@kubernetescrd format "
            "is not allowed when crossnamespace is disallowed",
        ),
        (
            BACKEND,
            svc_ref(serversTransport="st@file"),
            {"crossProviderNamespaces": []},
            "CrossProviderForbidden",
            'serversTransport "st@file" reference is not allowed: namespace "default" is not in crossProviderNamespaces',
        ),
    ],
)
def test_a_service_that_cannot_be_built_is_left_out_and_the_router_kept(
    objects, ref, options, reason, message
) -> None:
    result = run(*objects, tcp_route({"match": MATCH, "services": [ref]}), **options)
    port = ref.get("port", 0)
    assert problems(result) == [
        Problem(reason, f"Cannot create service svc (port {port}): {message}")
    ]
    assert result.configuration["tcp"]["services"] == {}
    assert KEY in result.configuration["tcp"]["routers"]


def test_one_failed_service_of_several_leaves_the_others_weighted() -> None:
    route = {"match": MATCH, "services": [svc_ref(name="missing"), svc_ref()]}
    result = run(*BACKEND, tcp_route(route))
    assert [p.reason for p in problems(result)] == ["ServiceNotFound"]
    assert result.configuration["tcp"]["services"][KEY] == {
        "weighted": {"services": [{"name": f"{KEY}-svc-8000", "weight": 1}]}
    }


def test_empty_match_skips_the_route() -> None:
    result = run(*BACKEND, tcp_route({"services": [svc_ref()]}))
    assert problems(result) == [Problem("InvalidSpec", "Empty match rule")]
    assert result.configuration["tcp"] == {
        "routers": {},
        "middlewares": {},
        "services": {},
        "serversTransports": {},
    }


@pytest.mark.parametrize(
    ("ref", "options", "reason", "message"),
    [
        (
            {"name": "mw", "namespace": "other"},
            {},
            "CrossNamespaceForbidden",
            "invalid reference to middleware mw: allowCrossNamespace is disabled, cross-namespace are disallowed",
        ),
        (
            {"name": "mw@file"},
            {"crossProviderNamespaces": ["other"]},
            "CrossProviderForbidden",
            'invalid reference to middleware mw@file: namespace "default" is not in crossProviderNamespaces',
        ),
    ],
)
def test_a_refused_middleware_drops_the_route(ref, options, reason, message) -> None:
    result = run(
        *BACKEND,
        tcp_route({"match": MATCH, "middlewares": [ref], "services": [svc_ref()]}),
        **options,
    )
    assert problems(result) == [Problem(reason, f"Failed to create middleware keys: {message}")]
    assert result.configuration["tcp"]["routers"] == {}
    assert result.configuration["tcp"]["services"] == {}


def test_middlewares_are_resolved_in_order() -> None:
    mws = [{"name": "a.b"}, {"name": "c", "namespace": "other"}, {"name": "d@file"}]
    result = run(
        *BACKEND,
        tcp_route({"match": MATCH, "middlewares": mws, "services": [svc_ref()]}),
        allowCrossNamespace=True,
    )
    assert result.configuration["tcp"]["routers"][KEY]["middlewares"] == [
        "default-a-b",
        "other-c",
        "d@file",
    ]


def test_a_refused_tls_option_drops_the_router_but_not_its_service() -> None:
    route = tcp_route(
        {"match": MATCH, "services": [svc_ref()]},
        tls={"options": {"name": "opt", "namespace": "other"}},
    )
    result = run(*BACKEND, route)
    assert problems(result) == [
        Problem(
            "CrossNamespaceForbidden",
            'Invalid reference to TLSOption "opt": allowCrossNamespace is disabled, cross-namespace are disallowed',
        )
    ]
    assert result.configuration["tcp"]["routers"] == {}
    assert KEY in result.configuration["tcp"]["services"]


def test_a_missing_tls_secret_keeps_the_router() -> None:
    result = run(
        *BACKEND, tcp_route({"match": MATCH, "services": [svc_ref()]}, tls={"secretName": "nope"})
    )
    assert problems(result) == [
        Problem("SecretNotFound", "Error configuring TLS: secret default/nope does not exist")
    ]
    assert result.configuration["tcp"]["routers"][KEY]["tls"] == {"passthrough": False}


def test_same_match_single_then_several_services_does_not_crash() -> None:
    """Traefik panics here (a load balancer has no weighted part to append to)."""
    routes = (
        {"match": MATCH, "services": [svc_ref()]},
        {"match": MATCH, "services": [svc_ref(), svc_ref(port="p")]},
    )
    result = run(*BACKEND, tcp_route(*routes))
    assert [p.reason for p in problems(result)] == ["InvalidSpec"]


# -- UDP -------------------------------------------------------------------------------


def test_udp_routes_are_named_by_index_and_weighted() -> None:
    result = run(
        *BACKEND,
        udp_route({"services": [svc_ref()]}, {"services": [svc_ref(weight=3), svc_ref(port="p")]}),
    )
    udp = result.configuration["udp"]
    assert udp["routers"] == {
        "default-route-0": {"entryPoints": ["foo"], "service": "default-route-0"},
        "default-route-1": {"entryPoints": ["foo"], "service": "default-route-1"},
    }
    assert udp["services"]["default-route-0"] == {
        "loadBalancer": {"servers": [{"address": "10.0.0.1:8000"}]}
    }
    assert udp["services"]["default-route-1"] == {
        "weighted": {
            "services": [
                {"name": "default-route-1-svc-8000", "weight": 3},
                {"name": "default-route-1-svc-p", "weight": 1},
            ]
        }
    }


def test_udp_errors() -> None:
    route = udp_route(
        {"services": [svc_ref(namespace="other"), svc_ref(name="missing"), svc_ref(tls=True)]}
    )
    result = run(*BACKEND, route)
    assert problems(result, UDP_ROUTE) == [
        Problem(
            "CrossNamespaceForbidden",
            "Cannot create service svc (port 8000): udp service other/svc is not in the parent resource namespace default",
        ),
        Problem("ServiceNotFound", "Cannot create service missing (port 8000): service not found"),
    ]
    # ``tls`` is no field of a UDP service: ignored, the server has no tls flag.
    assert result.configuration["udp"]["services"]["default-route-0-svc-8000"] == {
        "loadBalancer": {"servers": [{"address": "10.0.0.1:8000"}]}
    }


# -- hostile objects ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        [],
        "spec",
        {"routes": "nope"},
        {"routes": [42]},
        {"entryPoints": "foo", "routes": []},
        {"routes": [{"match": 1}]},
        {"routes": [{"match": MATCH, "priority": "1"}]},
        {"routes": [{"match": MATCH, "priority": True}]},
        {"routes": [{"match": MATCH, "services": {"name": "svc"}}]},
        {"routes": [{"match": MATCH, "services": [svc_ref(port=True)]}]},
        {"routes": [{"match": MATCH, "services": [svc_ref(port=80.5)]}]},
        {"routes": [{"match": MATCH, "services": [svc_ref(weight="1")]}]},
        {"routes": [{"match": MATCH, "services": [svc_ref(proxyProtocol=2)]}]},
        {"routes": [{"match": MATCH, "services": [svc_ref(nativeLB="yes")]}]},
        {"routes": [{"match": MATCH, "middlewares": ["mw"]}]},
        {"routes": [], "tls": "yes"},
        {"routes": [], "tls": {"options": "opt"}},
        {"routes": [], "tls": {"domains": [{"sans": "a"}]}},
    ],
)
@pytest.mark.parametrize("kind", ["IngressRouteTCP", "IngressRouteUDP"])
def test_wrong_types_are_refused_not_crashed_on(spec: Any, kind: str) -> None:
    obj = {"kind": kind, "metadata": {"name": "route", "namespace": "default"}, "spec": spec}
    result = run(*BACKEND, obj)
    key = (kind, "default", "route")
    assert key in result.processed
    reasons = [p.reason for p in result.problems.get(key, [])]
    if (
        kind == "IngressRouteUDP"
        and isinstance(spec, dict)
        and ("tls" in spec or "match" in str(spec))
    ):
        # Fields a UDP route does not have are not looked at (Go ignores unknown fields).
        assert set(reasons) <= {"InvalidSpec"}
    else:
        assert reasons == ["InvalidSpec"]
    assert result.configuration["tcp"]["routers"] == {}


def test_missing_spec_and_null_members_are_go_zero_values() -> None:
    bare = {"kind": "IngressRouteTCP", "metadata": {"name": "bare", "namespace": "default"}}
    nulls = tcp_route(
        None, {"match": MATCH, "services": [None, svc_ref()], "middlewares": [None]}, tls=None
    )
    result = run(*BACKEND, bare, nulls)
    assert result.problems[TCP_ROUTE][0] == Problem("InvalidSpec", "Empty match rule")
    assert ("IngressRouteTCP", "default", "bare") not in result.problems


def test_malformed_core_objects_give_no_servers() -> None:
    svc = service(ports=["nope", {"name": "p", "port": "8000"}, {"name": "p", "port": 8000}])
    slices = {
        "kind": "EndpointSlice",
        "metadata": {
            "name": "svc-x",
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": "svc"},
        },
        "ports": "nope",
        "endpoints": [1, {"addresses": "x"}],
    }
    result = run(svc, slices, endpoints(), tcp_route({"match": MATCH, "services": [svc_ref()]}))
    assert result.configuration["tcp"]["services"][KEY] == {
        "loadBalancer": {"servers": [{"address": "10.0.0.1:8000"}]}
    }
