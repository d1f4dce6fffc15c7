"""deploy/kubernetes/ on a real kube-apiserver: the manifests apply, and the RBAC they
grant is exactly what the Ingress provider needs, as the real server enforces it.

The ClusterRole follows the informers of Traefik's Ingress provider
(pkg/provider/kubernetes/ingress/client.go: Ingresses, Services, EndpointSlices,
Secrets, IngressClasses, Nodes) and its one write, ``UpdateIngressStatus``
(``ingresses/status`` update).

The service account's token comes from the TokenRequest API (``kubectl create token``):
the API server alone (no controller-manager) never fills legacy token Secrets.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from real_apiserver import REPO, RealApiServer

DEPLOY = REPO / "deploy" / "kubernetes"
NS, SA = "edgeway", "edgeway"
AS_SA = f"--as=system:serviceaccount:{NS}:{SA}"
WATCH_TIMEOUT = 10

#: (verb, resource, subresource) the provider needs, cluster-wide.
ALLOWED = [
    (verb, resource, "")
    for resource in ("services", "secrets", "nodes", "endpointslices.discovery.k8s.io",
                     "ingresses.networking.k8s.io", "ingressclasses.networking.k8s.io")
    for verb in ("get", "list", "watch")
] + [("update", "ingresses.networking.k8s.io", "status")]  # fmt: skip

#: What it must not do: other kinds, other verbs, the Ingress spec, other status verbs.
DENIED = [
    ("list", "pods", ""),
    ("list", "configmaps", ""),
    ("list", "endpoints", ""),
    ("list", "ingresses.extensions", ""),
    ("create", "ingresses.networking.k8s.io", ""),
    ("update", "ingresses.networking.k8s.io", ""),
    ("patch", "ingresses.networking.k8s.io", ""),
    ("delete", "ingresses.networking.k8s.io", ""),
    ("patch", "ingresses.networking.k8s.io", "status"),
    ("create", "secrets", ""),
    ("update", "services", ""),
    ("delete", "endpointslices.discovery.k8s.io", ""),
    ("update", "ingressclasses.networking.k8s.io", ""),
    ("create", "serviceaccounts", "token"),
]


def manifests() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(DEPLOY.glob("*.yml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def one(kind: str) -> dict[str, Any]:
    (doc,) = [d for d in manifests() if d["kind"] == kind]
    return doc


@pytest.fixture(scope="module")
def deployed(real_apiserver: RealApiServer) -> str:
    """``kubectl apply -f deploy/kubernetes/``: its output."""
    return real_apiserver.kubectl("apply", "-f", str(DEPLOY)).stdout


@pytest.fixture(scope="module")
def sa_api(real_apiserver: RealApiServer, deployed: str) -> Any:
    """An official-client ApiClient authenticated as the edgeway service account."""
    token = real_apiserver.kubectl("create", "token", SA, "-n", NS).stdout.strip()
    return real_apiserver.api_client(token)


@pytest.fixture(scope="module")
def scratch(real_apiserver: RealApiServer, deployed: str) -> str:
    """A namespace of this module's own, with a Service and an Ingress in it (as admin)."""
    from kubernetes import client

    ns = f"rbac-{uuid.uuid4().hex[:8]}"
    admin = real_apiserver.api_client()
    client.CoreV1Api(admin).create_namespace({"metadata": {"name": ns}})
    client.CoreV1Api(admin).create_namespaced_service(ns, service("svc"))
    client.NetworkingV1Api(admin).create_namespaced_ingress(ns, ingress("ing"))
    return ns


def service(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"ports": [{"port": 80}]}}


def ingress(name: str) -> dict[str, Any]:
    backend = {"service": {"name": "svc", "port": {"number": 80}}}
    return {
        "metadata": {"name": name},
        "spec": {"ingressClassName": "edgeway", "defaultBackend": backend},
    }


def test_manifests_apply_and_are_stored(real_apiserver: RealApiServer, deployed: str) -> None:
    expected = {f"{d['kind'].lower()}/{d['metadata']['name']}" for d in manifests()}
    applied = set()
    for line in deployed.splitlines():  # e.g. "clusterrole.rbac.authorization.k8s.io/x created"
        kind_group, name = line.split()[0].split("/", 1)
        applied.add(f"{kind_group.split('.')[0]}/{name}")
    assert applied == expected
    for doc in manifests():
        ns = ["-n", doc["metadata"]["namespace"]] if "namespace" in doc["metadata"] else []
        got = real_apiserver.kubectl("get", doc["kind"], doc["metadata"]["name"], *ns, "-o", "yaml")
        assert yaml.safe_load(got.stdout)["metadata"]["name"] == doc["metadata"]["name"]
    # The server's own view of what matters: the probe, the class controller, the binding.
    dep = yaml.safe_load(
        real_apiserver.kubectl("get", "deployment/edgeway", "-n", NS, "-o", "yaml").stdout
    )
    pod = dep["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == SA
    assert pod["containers"][0]["readinessProbe"]["httpGet"] == {
        "path": "/ping", "port": "traefik", "scheme": "HTTP",
    }  # fmt: skip
    cls = yaml.safe_load(real_apiserver.kubectl("get", "ingressclass/edgeway", "-o", "yaml").stdout)
    assert cls["spec"]["controller"] == "traefik.io/ingress-controller"


def test_apply_is_idempotent(real_apiserver: RealApiServer, deployed: str) -> None:
    again = real_apiserver.kubectl("apply", "-f", str(DEPLOY)).stdout.splitlines()
    assert again and all(line.endswith(" unchanged") for line in again), again


def test_deployment_args_are_an_edgeway_configuration() -> None:
    """The container's args load as edgeway's static configuration, and the names agree:
    the probe's port is the ping entry point, the class is the IngressClass, the
    Service's target ports are the container's ports."""
    from edgeway.config.loader import load_static_configuration
    from edgeway.plugins import load_plugins

    container = one("Deployment")["spec"]["template"]["spec"]["containers"][0]
    static = load_static_configuration(
        container["args"], {}, DEPLOY, load_plugins().registry, search_dirs=[]
    ).configuration
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert static.ping is not None
    probe_port = ports[container["readinessProbe"]["httpGet"]["port"]]
    assert static.entryPoints[static.ping.entryPoint].address == f":{probe_port}"
    assert {n: ep.address for n, ep in static.entryPoints.items()} == {
        n: f":{p}" for n, p in ports.items()
    }
    provider = static.providers.model_dump(by_alias=True)["kubernetesIngress"]
    assert provider["ingressClass"] == one("IngressClass")["metadata"]["name"]
    svc = one("Service")
    assert provider["ingressEndpoint"]["publishedService"] == (
        f"{svc['metadata']['namespace']}/{svc['metadata']['name']}"
    )
    assert {p["targetPort"] for p in svc["spec"]["ports"]} <= set(ports)


@pytest.mark.parametrize(("verb", "resource", "sub"), ALLOWED + DENIED)
def test_kubectl_auth_can_i(real_apiserver: RealApiServer, deployed: str, verb: str,
                            resource: str, sub: str) -> None:  # fmt: skip
    extra = [f"--subresource={sub}"] if sub else []
    proc = real_apiserver.kubectl("auth", "can-i", verb, resource, "-A", AS_SA, *extra, check=False)
    expected = "yes" if (verb, resource, sub) in ALLOWED else "no"
    assert proc.stdout.strip() == expected, proc.stderr


def _listers(sa_api: Any) -> dict[str, tuple[Callable[..., Any], Callable[[Any], Any]]]:
    """Per resource: the cluster-wide list call, and how the admin creates one object."""
    from kubernetes import client, dynamic

    core, net = client.CoreV1Api(sa_api), client.NetworkingV1Api(sa_api)
    slices = dynamic.DynamicClient(sa_api).resources.get(
        api_version="discovery.k8s.io/v1beta1", kind="EndpointSlice"
    )
    return {
        "services": (core.list_service_for_all_namespaces, lambda a: client.CoreV1Api(a)
                     .create_namespaced_service("default", service(f"w-{uuid.uuid4().hex[:6]}"))),
        "secrets": (core.list_secret_for_all_namespaces, lambda a: client.CoreV1Api(a)
                    .create_namespaced_secret("default", {"metadata": {"generateName": "w-"}})),
        "nodes": (core.list_node, lambda a: client.CoreV1Api(a)
                  .create_node({"metadata": {"generateName": "w-"}})),
        "ingresses": (net.list_ingress_for_all_namespaces, lambda a: client.NetworkingV1Api(a)
                      .create_namespaced_ingress("default", ingress(f"w-{uuid.uuid4().hex[:6]}"))),
        "ingressclasses": (net.list_ingress_class, lambda a: client.NetworkingV1Api(a)
                           .create_ingress_class({"metadata": {"generateName": "w-"},
                                                  "spec": {"controller": "example.com/other"}})),
        "endpointslices": (slices, lambda a: dynamic.DynamicClient(a).resources.get(
            api_version="discovery.k8s.io/v1beta1", kind="EndpointSlice").create(
                namespace="default",
                body={"apiVersion": "discovery.k8s.io/v1beta1", "kind": "EndpointSlice",
                      "metadata": {"generateName": "w-"}, "addressType": "IPv4",
                      "endpoints": [{"addresses": ["127.0.0.2"]}],
                      "ports": [{"port": 8080, "protocol": "TCP"}]})),
    }  # fmt: skip


@pytest.mark.parametrize(
    "resource", ["services", "secrets", "nodes", "ingresses", "ingressclasses", "endpointslices"]
)
def test_service_account_lists_and_watches(real_apiserver: RealApiServer, sa_api: Any,
                                           resource: str) -> None:  # fmt: skip
    """With the service account's token: list cluster-wide, then a watch from the list's
    resourceVersion sees an object the admin created after the list."""
    from kubernetes import dynamic, watch

    lister, create = _listers(sa_api)[resource]
    if isinstance(lister, dynamic.Resource):
        dyn = dynamic.DynamicClient(sa_api)
        rv = dyn.get(lister).metadata.resourceVersion
        created = create(real_apiserver.api_client())
        w = watch.Watch()
        event = next(iter(dyn.watch(lister, resource_version=rv, timeout=WATCH_TIMEOUT, watcher=w)))
        w.stop()
        assert (event["type"], event["object"].metadata.name) == ("ADDED", created.metadata.name)
        return
    rv = lister().metadata.resource_version
    created = create(real_apiserver.api_client())
    w = watch.Watch()
    for event in w.stream(lister, resource_version=rv, timeout_seconds=WATCH_TIMEOUT):
        w.stop()
        assert (event["type"], event["object"].metadata.name) == ("ADDED", created.metadata.name)
        return
    raise AssertionError(f"no watch event for {resource} within {WATCH_TIMEOUT}s")


def test_service_account_gets_and_updates_ingress_status(real_apiserver: RealApiServer,
                                                         sa_api: Any, scratch: str) -> None:  # fmt: skip
    from kubernetes import client

    net = client.NetworkingV1Api(sa_api)
    ing = net.read_namespaced_ingress("ing", scratch)
    client.CoreV1Api(sa_api).read_namespaced_service("svc", scratch)
    ing.status = client.V1IngressStatus(
        load_balancer=client.V1IngressLoadBalancerStatus(
            ingress=[client.V1IngressLoadBalancerIngress(ip="192.0.2.7")]
        )
    )
    net.replace_namespaced_ingress_status("ing", scratch, ing)
    stored = client.NetworkingV1Api(real_apiserver.api_client()).read_namespaced_ingress(
        "ing", scratch
    )
    assert stored.status.load_balancer.ingress[0].ip == "192.0.2.7"


def _forbidden_calls(sa_api: Any, ns: str) -> dict[str, Callable[[], Any]]:
    from kubernetes import client

    core, net = client.CoreV1Api(sa_api), client.NetworkingV1Api(sa_api)

    def update_spec() -> Any:
        ing = net.read_namespaced_ingress("ing", ns)
        ing.spec.default_backend.service.port.number = 81
        return net.replace_namespaced_ingress("ing", ns, ing)

    return {
        "list pods": core.list_pod_for_all_namespaces,
        "list configmaps": core.list_config_map_for_all_namespaces,
        "list endpoints": core.list_endpoints_for_all_namespaces,
        "update ingress spec": update_spec,
        "patch ingress status": lambda: net.patch_namespaced_ingress_status(
            "ing", ns, {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.9"}]}}}
        ),
        "create ingress": lambda: net.create_namespaced_ingress(ns, ingress("other")),
        "delete service": lambda: core.delete_namespaced_service("svc", ns),
        "create secret": lambda: core.create_namespaced_secret(ns, {"metadata": {"name": "s"}}),
    }


@pytest.mark.parametrize(
    "action",
    ["list pods", "list configmaps", "list endpoints", "update ingress spec",
     "patch ingress status", "create ingress", "delete service", "create secret"],
)  # fmt: skip
def test_service_account_is_refused(sa_api: Any, scratch: str, action: str) -> None:
    from kubernetes.client.exceptions import ApiException

    with pytest.raises(ApiException) as info:
        _forbidden_calls(sa_api, scratch)[action]()
    assert info.value.status == 403, info.value.body
