"""deploy/kubernetes/crds.yaml on a real kube-apiserver: the CRDs install, the API
server accepts the traefik.io objects of the conformance data exactly as it does with
Traefik's own CRDs (a second, private API server has those), refuses invalid ones, and
keeps what edgeway writes through ``status``.

The conformance objects are checked with server-side dry-run (the cases reuse names),
a few objects of this module's own with real creates.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from edgeway_kubernetes.conformance import conformance_dir, missing_reason
from real_apiserver import REPO, RealApiServer, running_apiserver

CRDS = REPO / "deploy" / "kubernetes" / "crds.yaml"
GROUP, VERSION = "traefik.io", "v1alpha1"
WITH_STATUS = ["IngressRoute", "IngressRouteTCP", "IngressRouteUDP", "Middleware", "TraefikService"]
WITHOUT_STATUS = [
    "MiddlewareTCP",
    "ServersTransport",
    "ServersTransportTCP",
    "TLSOption",
    "TLSStore",
]

#: The conformance objects the API server refuses, with Traefik's own CRDs as with ours
#: (Traefik's Go tests feed them straight to the translation, never to an API server).
REFUSED = {
    # Traefik's CRD requires failover.errors and the port of TCP and UDP services.
    "022-http-one-kube-service-in-a-failover:TraefikService/failover1": "spec.failover.errors: Required value",
    "023-http-weighted-services-in-a-failover:TraefikService/failover1": "spec.failover.errors: Required value",
    "102-tcp-ingress-route-externalname-service-without-port:IngressRouteTCP/test.route":
        "spec.routes.services.port: Required value",
    "123-udp-ingress-route-externalname-service-without-port:IngressRouteUDP/test.route":
        "spec.routes.services.port: Required value",
    # Refused by the test server only: it is v1.20 built with go1.19, whose reflect.Zero
    # makes its validator read any "" as null (kubernetes/kubernetes#99804, fixed in
    # v1.21; the released v1.20, built with go1.15, accepts "").
    "027-http-route-with-empty-rule-value-is-ignored:IngressRoute/test.route":
        'spec.routes.match: Invalid value: "null"',
    "089-tcp-route-with-empty-rule-value-is-ignored:IngressRouteTCP/test.route":
        'spec.routes.match: Invalid value: "null"',
}  # fmt: skip
TRAEFIK_CRDS = REPO / "plugins" / "kubernetes_crd" / "tests" / "data" / "traefik-crds.yml"

#: A small valid spec per kind (for real creates).
SPECS: dict[str, dict[str, Any]] = {
    "IngressRoute": {"routes": [{"match": "Host(`a.example`)", "services": [{"name": "s", "port": 80}]}]},
    "IngressRouteTCP": {"routes": [{"match": "HostSNI(`*`)", "services": [{"name": "s", "port": "p"}]}]},
    "IngressRouteUDP": {"routes": [{"services": [{"name": "s", "port": 53}]}]},
    "Middleware": {"plugin": {"demo": {"free": ["form", 1, {"x": True}]}}},
    "TraefikService": {"weighted": {"services": [{"name": "s", "port": 80, "weight": 2}]}},
    "MiddlewareTCP": {"inFlightConn": {"amount": 3}},
    "ServersTransport": {"forwardingTimeouts": {"dialTimeout": "3s", "idleConnTimeout": 90}},
    "ServersTransportTCP": {"dialTimeout": "30s"},
    "TLSOption": {"minVersion": "VersionTLS12", "clientAuth": {"clientAuthType": "NoClientCert"}},
    "TLSStore": {"defaultCertificate": {"secretName": "cert"}},
}  # fmt: skip


def plural(kind: str) -> str:
    return f"{kind.lower()}s"


@pytest.fixture(scope="module")
def crds(real_apiserver: RealApiServer) -> list[dict[str, Any]]:
    """``kubectl apply -f deploy/kubernetes/crds.yaml``, then wait until they are Established."""
    docs = [d for d in yaml.safe_load_all(CRDS.read_text()) if d]
    real_apiserver.kubectl("apply", "-f", str(CRDS))
    names = [f"crd/{d['metadata']['name']}" for d in docs]
    real_apiserver.kubectl("wait", "--for=condition=Established", "--timeout=60s", *names)
    return docs


@pytest.fixture(scope="module")
def custom(real_apiserver: RealApiServer, crds: list[dict[str, Any]]) -> Any:
    from kubernetes import client

    return client.CustomObjectsApi(real_apiserver.api_client())


@pytest.fixture(scope="module")
def scratch(real_apiserver: RealApiServer, crds: list[dict[str, Any]]) -> str:
    """A namespace of this module's own."""
    from kubernetes import client

    ns = f"crds-{uuid.uuid4().hex[:8]}"
    client.CoreV1Api(real_apiserver.api_client()).create_namespace({"metadata": {"name": ns}})
    return ns


def conformance_objects() -> list[tuple[str, dict[str, Any]]]:
    """Every traefik.io object of the conformance inputs, as JSON (string map keys)."""
    root = conformance_dir(REPO)
    if missing_reason(root):
        return []
    found = []
    for path in sorted((root / "kubernetes_crd").glob("*/input.yml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and str(doc.get("apiVersion", "")).startswith(f"{GROUP}/"):
                found.append((f"{path.parent.name}:{doc['kind']}/{doc['metadata']['name']}", doc))
    return [(name, json.loads(json.dumps(doc))) for name, doc in found]


def dry_run_refusals(
    server: RealApiServer, objects: list[tuple[str, dict[str, Any]]]
) -> dict[str, str]:
    """Server-side dry-run creates of ``objects`` (namespaces created first): the
    refused ones, with the server's message."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    core = client.CoreV1Api(server.api_client())
    custom = client.CustomObjectsApi(server.api_client())
    existing = {n.metadata.name for n in core.list_namespace().items}
    for ns in {o["metadata"].get("namespace", "default") for _, o in objects} - existing:
        core.create_namespace({"metadata": {"name": ns}})
    refused = {}
    for name, obj in objects:
        ns = obj["metadata"].get("namespace", "default")
        try:
            custom.create_namespaced_custom_object(
                GROUP, VERSION, ns, plural(obj["kind"]), obj, dry_run="All"
            )
        except ApiException as exc:
            assert exc.status == 422, (name, exc.status, exc.body)
            refused[name] = json.loads(exc.body)["message"]
    return refused


@pytest.fixture(scope="module")
def traefik_server(real_apiserver: RealApiServer, tmp_path_factory: pytest.TempPathFactory,
                   ) -> Iterator[RealApiServer]:  # fmt: skip
    """A private API server with Traefik's own CRDs, created as Helm does (no apply)."""
    with running_apiserver(tmp_path_factory.mktemp("traefik-crds")) as server:
        # Traefik's file has CEL rules (x-kubernetes-validations) v1.20 does not know.
        server.kubectl("create", "--validate=false", "-f", str(TRAEFIK_CRDS))
        server.kubectl("wait", "--for=condition=Established", "--timeout=60s", "--all", "crd")
        yield server


@pytest.fixture(scope="module")
def traefik_refusals(traefik_server: RealApiServer) -> dict[str, str]:
    """What the API server refuses of the conformance objects with Traefik's CRDs."""
    return dry_run_refusals(traefik_server, conformance_objects())


def test_the_crds_are_established_and_served(real_apiserver: RealApiServer, crds: list) -> None:
    out = real_apiserver.kubectl("api-resources", f"--api-group={GROUP}", "-o", "name").stdout
    assert sorted(out.split()) == sorted(
        f"{plural(k)}.{GROUP}" for k in WITH_STATUS + WITHOUT_STATUS
    )
    again = real_apiserver.kubectl("apply", "-f", str(CRDS)).stdout.splitlines()
    assert again and all(line.endswith(" unchanged") for line in again), again


def test_the_conformance_objects_are_accepted_as_with_traefiks_crds(
    real_apiserver: RealApiServer, crds: list, traefik_refusals: dict[str, str]
) -> None:
    objects = conformance_objects()
    if not objects:
        pytest.skip("no conformance data")
    assert len(objects) == 328
    refused = dry_run_refusals(real_apiserver, objects)
    assert refused == traefik_refusals
    assert sorted(refused) == sorted(REFUSED), refused
    for name, reason in REFUSED.items():
        assert reason in refused[name], refused[name]


@pytest.mark.parametrize(
    ("kind", "spec", "field"),
    [
        ("IngressRoute", {"routes": "not-a-list"}, "spec.routes"),
        ("IngressRoute", {"routes": [{"services": []}]}, "spec.routes.match"),
        ("IngressRoute", {"routes": [{"match": "Host(`a`)", "kind": "Other"}]}, "spec.routes.kind"),
        ("IngressRouteTCP", {"routes": [{"match": "HostSNI(`*`)",
                                         "services": [{"name": "s", "port": 1.5}]}]},
         "spec.routes.services.port"),
        ("Middleware", {"retry": {"attempts": -1}}, "spec.retry.attempts"),
        ("Middleware", {"errors": {"status": ["700"]}}, "spec.errors.status"),
        ("ServersTransport", {"forwardingTimeouts": {"dialTimeout": "soon"}},
         "spec.forwardingTimeouts.dialTimeout"),
        ("TLSStore", {}, None),  # spec is required, even empty...
    ],
)  # fmt: skip
def test_invalid_objects_are_refused(custom: Any, scratch: str, kind: str,
                                     spec: dict[str, Any], field: str | None) -> None:  # fmt: skip
    from kubernetes.client.exceptions import ApiException

    body: dict[str, Any] = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind,
                            "metadata": {"name": f"bad-{uuid.uuid4().hex[:6]}"}, "spec": spec}  # fmt: skip
    if field is None:  # ...so an object without one is refused, and one with {} is not.
        custom.create_namespaced_custom_object(
            GROUP, VERSION, scratch, plural(kind), body, dry_run="All"
        )
        del body["spec"]
        field = "spec"
    with pytest.raises(ApiException) as info:
        custom.create_namespaced_custom_object(GROUP, VERSION, scratch, plural(kind), body)
    assert info.value.status == 422, info.value.body
    assert f"{field}:" in json.loads(info.value.body)["message"]


def create(custom: Any, ns: str, kind: str, name: str) -> dict[str, Any]:
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": {"name": name},
            "spec": SPECS[kind]}  # fmt: skip
    return custom.create_namespaced_custom_object(GROUP, VERSION, ns, plural(kind), body)


def ready(reason: str, generation: int) -> dict[str, Any]:
    condition = {"type": "Ready", "status": "False", "reason": reason, "observedGeneration": generation,
                 "message": "the service default/s does not exist",
                 "lastTransitionTime": "2024-05-01T10:00:00Z"}  # fmt: skip
    return {"observedGeneration": generation, "conditions": [condition]}


@pytest.mark.parametrize("kind", WITH_STATUS)
def test_the_status_subresource_keeps_conditions(custom: Any, scratch: str, kind: str) -> None:
    name = f"st-{kind.lower()}"
    obj = create(custom, scratch, kind, name)
    assert obj["spec"] == SPECS[kind] and "status" not in obj  # stored as given, status not
    obj["status"] = ready("ServiceNotFound", obj["metadata"]["generation"])
    custom.replace_namespaced_custom_object_status(GROUP, VERSION, scratch, plural(kind), name, obj)
    stored = custom.get_namespaced_custom_object(GROUP, VERSION, scratch, plural(kind), name)
    assert stored["status"] == ready("ServiceNotFound", 1)
    # The main resource ignores status; the status subresource ignores everything else.
    stored["status"] = ready("Other", 1)
    stored["metadata"]["labels"] = {"edited": "yes"}
    custom.replace_namespaced_custom_object(GROUP, VERSION, scratch, plural(kind), name, stored)
    again = custom.get_namespaced_custom_object(GROUP, VERSION, scratch, plural(kind), name)
    assert again["status"] == ready("ServiceNotFound", 1)
    assert again["metadata"]["labels"] == {"edited": "yes"}
    again["metadata"]["labels"] = {}
    again["status"] = ready("Fixed", 1)
    custom.replace_namespaced_custom_object_status(
        GROUP, VERSION, scratch, plural(kind), name, again
    )
    final = custom.get_namespaced_custom_object(GROUP, VERSION, scratch, plural(kind), name)
    assert (final["metadata"]["labels"], final["status"]) == ({"edited": "yes"}, ready("Fixed", 1))


def test_an_invalid_status_is_refused(custom: Any, scratch: str) -> None:
    from kubernetes.client.exceptions import ApiException

    obj = create(custom, scratch, "IngressRoute", "bad-status")
    status = ready("ServiceNotFound", 1)
    status["conditions"][0].update(status="Maybe", reason="not one word")
    obj["status"] = status
    with pytest.raises(ApiException) as info:
        custom.replace_namespaced_custom_object_status(GROUP, VERSION, scratch, "ingressroutes",
                                                       "bad-status", obj)  # fmt: skip
    message = json.loads(info.value.body)["message"]
    assert "status.conditions.status: Unsupported value" in message
    assert "status.conditions.reason: Invalid value" in message


@pytest.mark.parametrize("kind", WITHOUT_STATUS)
def test_kinds_without_status_have_no_status_subresource(
    custom: Any, scratch: str, kind: str
) -> None:
    from kubernetes.client.exceptions import ApiException

    obj = create(custom, scratch, kind, f"nost-{kind.lower()}")
    assert obj["spec"] == SPECS[kind]
    with pytest.raises(ApiException) as info:
        custom.get_namespaced_custom_object_status(
            GROUP, VERSION, scratch, plural(kind), obj["metadata"]["name"]
        )
    assert info.value.status == 404


def test_kubectl_get_shows_ready_reason_and_match(real_apiserver: RealApiServer, custom: Any,
                                                  scratch: str) -> None:  # fmt: skip
    obj = create(custom, scratch, "IngressRoute", "shown")
    obj["status"] = ready("ServiceNotFound", 1)
    custom.replace_namespaced_custom_object_status(
        GROUP, VERSION, scratch, "ingressroutes", "shown", obj
    )
    out = real_apiserver.kubectl("get", "ingressroute", "shown", "-n", scratch).stdout.splitlines()
    assert out[0].split() == ["NAME", "MATCH", "READY", "REASON", "AGE"]
    assert out[1].split()[:4] == ["shown", "Host(`a.example`)", "False", "ServiceNotFound"]
    plain = real_apiserver.kubectl("get", "tlsoptions", "-n", scratch).stdout.splitlines()
    assert plain[0].split() == ["NAME", "AGE"]


def test_applying_ours_over_traefiks_crds_keeps_the_objects(
    traefik_server: RealApiServer, traefik_refusals: dict[str, str]
) -> None:
    """deploy/kubernetes/README.md's way to replace Traefik's CRDs: apply ours over them."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    custom = client.CustomObjectsApi(traefik_server.api_client())
    ns = f"swap-{uuid.uuid4().hex[:8]}"
    client.CoreV1Api(traefik_server.api_client()).create_namespace({"metadata": {"name": ns}})
    before = {kind: create(custom, ns, kind, "kept") for kind in SPECS}
    traefik_server.kubectl("apply", "-f", str(CRDS))
    traefik_server.kubectl("wait", "--for=condition=Established", "--timeout=60s", "--all", "crd")
    for kind, obj in before.items():
        now = custom.get_namespaced_custom_object(GROUP, VERSION, ns, plural(kind), "kept")
        assert (now["metadata"]["uid"], now["spec"]) == (obj["metadata"]["uid"], SPECS[kind])
    now = custom.get_namespaced_custom_object(GROUP, VERSION, ns, "ingressroutes", "kept")
    now["status"] = ready("ServiceNotFound", 1)
    deadline = time.monotonic() + 30  # the status endpoint appears once the new CRD is served
    while True:
        try:
            custom.replace_namespaced_custom_object_status(GROUP, VERSION, ns, "ingressroutes",
                                                           "kept", now)  # fmt: skip
            break
        except ApiException as exc:
            if exc.status != 404 or time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    out = traefik_server.kubectl("get", "ingressroute", "kept", "-n", ns).stdout.splitlines()
    assert out[1].split()[:4] == ["kept", "Host(`a.example`)", "False", "ServiceNotFound"]
