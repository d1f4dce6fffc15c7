"""deploy/kubernetes/ on a real kube-apiserver: the manifests apply, and the RBAC they
grant is exactly what the Ingress and CRD providers need, as the real server enforces it.

The Ingress ClusterRole follows the informers of Traefik's Ingress provider
(pkg/provider/kubernetes/ingress/client.go: Ingresses, Services, EndpointSlices,
Secrets, IngressClasses, Nodes) and its one write, ``UpdateIngressStatus``
(``ingresses/status`` update). The CRD ClusterRole follows those of Traefik's CRD
provider (pkg/provider/kubernetes/crd/client.go: the ten traefik.io kinds, Services,
EndpointSlices, ConfigMaps, Secrets, Nodes) and the status edgeway writes on
IngressRoutes (HTTP, TCP, UDP), Middlewares and TraefikServices (``<kind>/status`` update).

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

#: The traefik.io kinds (plural), and those edgeway writes the status of.
CRD_KINDS = {
    "IngressRoute": "ingressroutes", "IngressRouteTCP": "ingressroutetcps",
    "IngressRouteUDP": "ingressrouteudps", "Middleware": "middlewares",
    "MiddlewareTCP": "middlewaretcps", "ServersTransport": "serverstransports",
    "ServersTransportTCP": "serverstransporttcps", "TLSOption": "tlsoptions",
    "TLSStore": "tlsstores", "TraefikService": "traefikservices",
}  # fmt: skip
WITH_STATUS = ["IngressRoute", "IngressRouteTCP", "IngressRouteUDP", "Middleware", "TraefikService"]
#: A valid spec per kind (the ones not listed accept an empty spec).
CRD_SPECS: dict[str, dict[str, Any]] = {
    "IngressRoute": {"routes": [{"match": "Host(`a.example`)"}]},
    "IngressRouteTCP": {"routes": [{"match": "HostSNI(`*`)"}]},
    "IngressRouteUDP": {"routes": [{}]},
}

#: (verb, resource, subresource) the providers need, cluster-wide.
ALLOWED = [
    (verb, resource, "")
    for resource in ("services", "secrets", "nodes", "configmaps",
                     "endpointslices.discovery.k8s.io",
                     "ingresses.networking.k8s.io", "ingressclasses.networking.k8s.io",
                     *(f"{plural}.traefik.io" for plural in CRD_KINDS.values()))
    for verb in ("get", "list", "watch")
] + [("update", "ingresses.networking.k8s.io", "status")] + [
    ("update", f"{CRD_KINDS[kind]}.traefik.io", "status") for kind in WITH_STATUS
]  # fmt: skip

#: What they must not do: other kinds, other verbs, specs, other status verbs and kinds.
DENIED = [
    ("list", "pods", ""),
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
    ("update", "configmaps", ""),
    ("create", "ingressroutes.traefik.io", ""),
    ("update", "ingressroutes.traefik.io", ""),
    ("patch", "ingressroutes.traefik.io", ""),
    ("delete", "ingressroutes.traefik.io", ""),
    ("patch", "ingressroutes.traefik.io", "status"),
    ("update", "middlewaretcps.traefik.io", "status"),
    ("update", "tlsoptions.traefik.io", "status"),
    ("update", "tlsstores.traefik.io", ""),
    ("delete", "traefikservices.traefik.io", ""),
    ("deletecollection", "middlewares.traefik.io", ""),
    ("create", "customresourcedefinitions.apiextensions.k8s.io", ""),
    ("list", "ingressroutes.traefik.containo.us", ""),
]


def manifests() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted([*DEPLOY.glob("*.yml"), *DEPLOY.glob("*.yaml")]):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def one(kind: str) -> dict[str, Any]:
    (doc,) = [d for d in manifests() if d["kind"] == kind]
    return doc


@pytest.fixture(scope="module")
def deployed(real_apiserver: RealApiServer) -> str:
    """``kubectl apply -f deploy/kubernetes/`` (the CRDs then Established): its output."""
    out = real_apiserver.kubectl("apply", "-f", str(DEPLOY)).stdout
    crds = [f"crd/{plural}.traefik.io" for plural in CRD_KINDS.values()]
    real_apiserver.kubectl("wait", "--for=condition=Established", "--timeout=60s", *crds)
    return out


@pytest.fixture(scope="module")
def sa_api(real_apiserver: RealApiServer, deployed: str) -> Any:
    """An official-client ApiClient authenticated as the edgeway service account."""
    token = real_apiserver.kubectl("create", "token", SA, "-n", NS).stdout.strip()
    return real_apiserver.api_client(token)


@pytest.fixture(scope="module")
def scratch(real_apiserver: RealApiServer, deployed: str) -> str:
    """A namespace of this module's own, with a Service, an Ingress and one object of
    each traefik.io kind (named ``crd``) in it (as admin)."""
    from kubernetes import client

    ns = f"rbac-{uuid.uuid4().hex[:8]}"
    admin = real_apiserver.api_client()
    client.CoreV1Api(admin).create_namespace({"metadata": {"name": ns}})
    client.CoreV1Api(admin).create_namespaced_service(ns, service("svc"))
    client.NetworkingV1Api(admin).create_namespaced_ingress(ns, ingress("ing"))
    custom = client.CustomObjectsApi(admin)
    for kind, plural in CRD_KINDS.items():
        custom.create_namespaced_custom_object("traefik.io", "v1alpha1", ns, plural,
                                               traefik_object(kind, "crd"))  # fmt: skip
    return ns


def service(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"ports": [{"port": 80}]}}


def ingress(name: str) -> dict[str, Any]:
    backend = {"service": {"name": "svc", "port": {"number": 80}}}
    return {
        "metadata": {"name": name},
        "spec": {"ingressClassName": "edgeway", "defaultBackend": backend},
    }


def traefik_object(kind: str, name: str) -> dict[str, Any]:
    """A valid traefik.io object (``name`` ending in ``-`` is a generateName)."""
    meta = {"generateName": name} if name.endswith("-") else {"name": name}
    return {"apiVersion": "traefik.io/v1alpha1", "kind": kind, "metadata": meta,
            "spec": CRD_SPECS.get(kind, {})}  # fmt: skip


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
    container = pod["containers"][0]
    assert container["readinessProbe"]["exec"]["command"][:2] == ["edgeway", "healthcheck"]
    for probe in ("livenessProbe", "startupProbe"):
        assert container[probe]["exec"] == container["readinessProbe"]["exec"]
    cls = yaml.safe_load(real_apiserver.kubectl("get", "ingressclass/edgeway", "-o", "yaml").stdout)
    assert cls["spec"]["controller"] == "traefik.io/ingress-controller"


def test_apply_is_idempotent(real_apiserver: RealApiServer, deployed: str) -> None:
    again = real_apiserver.kubectl("apply", "-f", str(DEPLOY)).stdout.splitlines()
    assert again and all(line.endswith(" unchanged") for line in again), again


def test_deployment_args_are_an_edgeway_configuration() -> None:
    """The container's args load as edgeway's static configuration, and the names agree:
    the probes' ``edgeway healthcheck`` flags name the ping entry point's address, the class is the IngressClass, the
    Service's target ports are the container's ports."""
    from edgeway.config.loader import load_static_configuration
    from edgeway.plugins import load_plugins

    container = one("Deployment")["spec"]["template"]["spec"]["containers"][0]
    static = load_static_configuration(
        container["args"], {}, DEPLOY, load_plugins().registry, search_dirs=[]
    ).configuration
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert static.ping is not None
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):  # `edgeway healthcheck`
        command = container[probe]["exec"]["command"]
        assert command[:2] == ["edgeway", "healthcheck"]
        probed = load_static_configuration(command[2:], {}, DEPLOY, None, search_dirs=[])
        assert probed.configuration.ping is not None  # found without the plugins: fast
        probed_ep = probed.configuration.ping.entryPoint
        assert probed.configuration.entryPoints[probed_ep].address == (
            static.entryPoints[static.ping.entryPoint].address
        )
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
        "configmaps": (core.list_config_map_for_all_namespaces, lambda a: client.CoreV1Api(a)
                       .create_namespaced_config_map("default", {"metadata": {"generateName": "w-"}})),
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
    "resource",
    ["services", "secrets", "nodes", "configmaps", "ingresses", "ingressclasses", "endpointslices"],
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


@pytest.mark.parametrize("kind", list(CRD_KINDS))
def test_service_account_lists_watches_and_gets_traefik_kinds(real_apiserver: RealApiServer,
                                                              sa_api: Any, kind: str) -> None:  # fmt: skip
    """The same for the traefik.io kinds, and a get of the object the watch saw."""
    from kubernetes import client, watch

    custom, plural = client.CustomObjectsApi(sa_api), CRD_KINDS[kind]
    rv = custom.list_cluster_custom_object("traefik.io", "v1alpha1", plural)["metadata"][
        "resourceVersion"
    ]
    created = client.CustomObjectsApi(real_apiserver.api_client()).create_namespaced_custom_object(
        "traefik.io", "v1alpha1", "default", plural, traefik_object(kind, "w-")
    )
    name = created["metadata"]["name"]
    w = watch.Watch()
    for event in w.stream(
        custom.list_cluster_custom_object,
        "traefik.io",
        "v1alpha1",
        plural,
        resource_version=rv,
        timeout_seconds=WATCH_TIMEOUT,
    ):
        w.stop()
        assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", name)
        got = custom.get_namespaced_custom_object("traefik.io", "v1alpha1", "default", plural, name)
        assert got["spec"] == created["spec"]
        return
    raise AssertionError(f"no watch event for {kind} within {WATCH_TIMEOUT}s")  # fmt: skip


@pytest.mark.parametrize("kind", WITH_STATUS)
def test_service_account_updates_traefik_status(real_apiserver: RealApiServer, sa_api: Any,
                                                scratch: str, kind: str) -> None:  # fmt: skip
    from kubernetes import client

    custom, plural = client.CustomObjectsApi(sa_api), CRD_KINDS[kind]
    obj = custom.get_namespaced_custom_object("traefik.io", "v1alpha1", scratch, plural, "crd")
    # Not an empty message: the test server refuses "" in any string field (see REFUSED
    # in test_real_apiserver_crds.py); a released v1.20 accepts it.
    obj["status"] = {"observedGeneration": 1, "conditions": [{
        "type": "Ready", "status": "True", "reason": "Ready", "message": "ok",
        "lastTransitionTime": "2024-05-01T10:00:00Z", "observedGeneration": 1}]}  # fmt: skip
    custom.replace_namespaced_custom_object_status(
        "traefik.io", "v1alpha1", scratch, plural, "crd", obj
    )
    stored = client.CustomObjectsApi(real_apiserver.api_client()).get_namespaced_custom_object(
        "traefik.io", "v1alpha1", scratch, plural, "crd")  # fmt: skip
    assert stored["status"] == obj["status"]


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
    custom, crd = client.CustomObjectsApi(sa_api), ("traefik.io", "v1alpha1", ns)

    def update_spec() -> Any:
        ing = net.read_namespaced_ingress("ing", ns)
        ing.spec.default_backend.service.port.number = 81
        return net.replace_namespaced_ingress("ing", ns, ing)

    def update_crd(plural: str, status: bool = False) -> Callable[[], Any]:
        def update() -> Any:
            obj = custom.get_namespaced_custom_object(*crd, plural, "crd")
            obj["metadata"]["labels"] = {"changed": "yes"}
            if status:
                return custom.replace_namespaced_custom_object_status(*crd, plural, "crd", obj)
            return custom.replace_namespaced_custom_object(*crd, plural, "crd", obj)

        return update

    return {
        "list pods": core.list_pod_for_all_namespaces,
        "create configmap": lambda: core.create_namespaced_config_map(
            ns, {"metadata": {"name": "c"}}
        ),
        "list endpoints": core.list_endpoints_for_all_namespaces,
        "update ingress spec": update_spec,
        "patch ingress status": lambda: net.patch_namespaced_ingress_status(
            "ing", ns, {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.9"}]}}}
        ),
        "create ingress": lambda: net.create_namespaced_ingress(ns, ingress("other")),
        "delete service": lambda: core.delete_namespaced_service("svc", ns),
        "create secret": lambda: core.create_namespaced_secret(ns, {"metadata": {"name": "s"}}),
        "update ingressroute spec": update_crd("ingressroutes"),
        "patch ingressroute status": lambda: custom.patch_namespaced_custom_object_status(
            *crd, "ingressroutes", "crd", {"status": {"observedGeneration": 2}}
        ),
        "update tlsoption": update_crd("tlsoptions"),
        "update middlewaretcp status": update_crd("middlewaretcps", status=True),
        "create middleware": lambda: custom.create_namespaced_custom_object(
            *crd, "middlewares", traefik_object("Middleware", "other")
        ),
        "delete traefikservice": lambda: custom.delete_namespaced_custom_object(
            *crd, "traefikservices", "crd"
        ),
    }


@pytest.mark.parametrize(
    "action",
    ["list pods", "create configmap", "list endpoints", "update ingress spec",
     "patch ingress status", "create ingress", "delete service", "create secret",
     "update ingressroute spec", "patch ingressroute status", "update tlsoption",
     "update middlewaretcp status", "create middleware", "delete traefikservice"],
)  # fmt: skip
def test_service_account_is_refused(sa_api: Any, scratch: str, action: str) -> None:
    from kubernetes.client.exceptions import ApiException

    with pytest.raises(ApiException) as info:
        _forbidden_calls(sa_api, scratch)[action]()
    assert info.value.status == 403, info.value.body
