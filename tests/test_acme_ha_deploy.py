"""deploy/kubernetes-ha/ on a real kube-apiserver: the manifests apply over
deploy/kubernetes/, the static configuration in the ConfigMap is edgeway's, and the
Role grants the Kubernetes ACME storage exactly what it uses (docs/acme-ha.md):
Secrets and coordination.k8s.io Leases in the storage's namespace, get, list,
watch, create, update and delete; no patch, no deletecollection, nothing in other
namespaces, as the real server enforces it (``kubectl auth can-i`` and calls made
with the service account's own token).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from edgeway.plugins import load_plugins
from edgeway_kubernetes_acme.storage import parse_storage_url
from real_apiserver import REPO, RealApiServer

HA = REPO / "deploy" / "kubernetes-ha"
BASE = REPO / "deploy" / "kubernetes"
NS, SA = "edgeway", "edgeway"
AS_SA = f"--as=system:serviceaccount:{NS}:{SA}"
VERBS = ("get", "list", "watch", "create", "update", "delete")
RESOURCES = ("secrets", "leases.coordination.k8s.io")

#: (verb, resource, namespace) the ACME storage needs.
ALLOWED = [(verb, resource, NS) for resource in RESOURCES for verb in VERBS]
#: What it must not do (reads of Secrets elsewhere come from the providers' ClusterRoles).
DENIED = [
    *((verb, resource, NS) for resource in RESOURCES for verb in ("patch", "deletecollection")),
    *((verb, resource, "default") for resource in RESOURCES
      for verb in ("create", "update", "delete")),
    *((verb, "leases.coordination.k8s.io", "default") for verb in ("get", "list", "watch")),
    ("create", "configmaps", NS),
    ("update", "configmaps", NS),
    ("list", "pods", NS),
    ("create", "events", NS),
    ("update", "deployments.apps", NS),
    ("create", "leases.coordination.k8s.io", "kube-system"),
]  # fmt: skip


def manifests(directory: Path = HA) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")]):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def one(kind: str, directory: Path = HA) -> dict[str, Any]:
    (doc,) = [d for d in manifests(directory) if d["kind"] == kind]
    return doc


def static_config(tmp: Path) -> Any:
    """The ConfigMap's edgeway.yml, loaded as the container's args load it."""
    from edgeway.config.loader import load_static_configuration

    container = one("Deployment")["spec"]["template"]["spec"]["containers"][0]
    [mount] = container["volumeMounts"]
    [flag] = container["args"]
    config_path = Path(flag.removeprefix("--configFile="))
    assert config_path.parent == Path(mount["mountPath"])
    [(key, text)] = one("ConfigMap")["data"].items()
    assert key == config_path.name
    (tmp / key).write_text(text)
    return load_static_configuration(
        [f"--configFile={tmp / key}"], {}, tmp, load_plugins().registry, search_dirs=[]
    ).configuration


@pytest.fixture(scope="module")
def deployed(real_apiserver: RealApiServer) -> str:
    """``kubectl apply -f deploy/kubernetes/`` then ``-f deploy/kubernetes-ha/``: the second's output."""
    real_apiserver.kubectl("apply", "-f", str(BASE))
    return real_apiserver.kubectl("apply", "-f", str(HA)).stdout


def test_manifests_apply_over_the_base_example(
    real_apiserver: RealApiServer, deployed: str
) -> None:
    applied = {line.split()[0].split("/", 1)[1] for line in deployed.splitlines()}
    assert applied == {d["metadata"]["name"] for d in manifests()}
    dep = yaml.safe_load(
        real_apiserver.kubectl("get", "deployment/edgeway", "-n", NS, "-o", "yaml").stdout
    )
    assert dep["spec"]["replicas"] == 3
    pod = dep["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == SA
    [env] = pod["containers"][0]["env"]
    assert env == {
        "name": "POD_NAME",
        "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}},
    }
    assert pod["volumes"][0]["configMap"]["name"] == one("ConfigMap")["metadata"]["name"]
    again = real_apiserver.kubectl("apply", "-f", str(HA)).stdout.splitlines()
    assert again and all(line.endswith(" unchanged") for line in again), again


def test_the_deployment_replaces_the_base_one_behind_its_service() -> None:
    """Same name, labels, ports and service account as deploy/kubernetes/'s Deployment:
    its Service (and ``publishedService``) front the three replicas."""
    base, ha = one("Deployment", BASE), one("Deployment")
    assert (ha["metadata"]["name"], ha["metadata"]["namespace"]) == (
        base["metadata"]["name"], base["metadata"]["namespace"])  # fmt: skip
    assert ha["spec"]["selector"] == base["spec"]["selector"]
    service = one("Service", BASE)
    assert (
        service["spec"]["selector"].items() <= ha["spec"]["template"]["metadata"]["labels"].items()
    )
    ports = {p["name"] for p in ha["spec"]["template"]["spec"]["containers"][0]["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports
    [subject] = one("RoleBinding")["subjects"]
    assert subject == {"kind": "ServiceAccount", "name": SA, "namespace": NS}
    assert ha["spec"]["template"]["spec"]["serviceAccountName"] == SA


def test_the_config_map_is_an_edgeway_configuration_using_kubernetes_storage(
    tmp_path: Path,
) -> None:
    from edgeway.config.loader import load_static_configuration

    static = static_config(tmp_path)
    container = one("Deployment")["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert {n: ep.address for n, ep in static.entryPoints.items()} == {
        n: f":{p}" for n, p in ports.items()
    }
    assert static.ping is not None
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):  # `edgeway healthcheck`
        command = container[probe]["exec"]["command"]
        assert command[:2] == ["edgeway", "healthcheck"]
        probed = load_static_configuration(command[2:], {}, tmp_path, None, search_dirs=[])
        assert probed.configuration.ping is not None  # found without the plugins: fast
        probed_ep = probed.configuration.ping.entryPoint
        assert probed.configuration.entryPoints[probed_ep].address == (
            static.entryPoints[static.ping.entryPoint].address
        )
    [(name, resolver)] = static.certificatesResolvers.items()
    url = parse_storage_url(resolver.acme.storage)
    assert url.namespace == one("Role")["metadata"]["namespace"]
    assert url.lease_duration == 15
    assert "kubernetes" in load_plugins().registry.acme_storages  # the plugin is installed
    assert resolver.acme.httpChallenge.entryPoint in static.entryPoints
    providers = static.providers.model_dump(by_alias=True)
    assert providers["kubernetesIngress"] is not None and providers["kubernetesCRD"] is not None


@pytest.mark.parametrize(("verb", "resource", "namespace"), ALLOWED + DENIED)
def test_kubectl_auth_can_i(
    real_apiserver: RealApiServer, deployed: str, verb: str, resource: str, namespace: str
) -> None:
    proc = real_apiserver.kubectl("auth", "can-i", verb, resource, "-n", namespace, AS_SA,
                                  check=False)  # fmt: skip
    expected = "yes" if (verb, resource, namespace) in ALLOWED else "no"
    assert proc.stdout.strip() == expected, proc.stderr


@pytest.fixture(scope="module")
def sa_api(real_apiserver: RealApiServer, deployed: str) -> Any:
    token = real_apiserver.kubectl("create", "token", SA, "-n", NS).stdout.strip()
    return real_apiserver.api_client(token)


def test_service_account_keeps_secrets_and_leases(sa_api: Any) -> None:
    """What the storage does, with the service account's token: a Lease taken, renewed
    (update), listed and watched, released and deleted; a Secret created, updated,
    read and deleted."""
    from kubernetes import client, watch

    leases, core = client.CoordinationV1Api(sa_api), client.CoreV1Api(sa_api)
    name = f"edgeway-acme-test-{uuid.uuid4().hex[:6]}"
    labels = {"edgeway.io/acme-kind": "lease"}
    rv = leases.list_namespaced_lease(NS, label_selector="edgeway.io/acme-kind").metadata
    lease = leases.create_namespaced_lease(NS, {
        "metadata": {"name": name, "labels": labels},
        "spec": {"holderIdentity": "replica-0", "leaseDurationSeconds": 15}})  # fmt: skip
    w = watch.Watch()
    for event in w.stream(leases.list_namespaced_lease, NS, label_selector="edgeway.io/acme-kind",
                          resource_version=rv.resource_version, timeout_seconds=10):  # fmt: skip
        w.stop()
        assert (event["type"], event["object"].metadata.name) == ("ADDED", name)
    lease.spec.holder_identity = ""
    leases.replace_namespaced_lease(name, NS, lease)
    assert leases.read_namespaced_lease(name, NS).spec.holder_identity == ""
    leases.delete_namespaced_lease(name, NS)

    secret = core.create_namespaced_secret(NS, {
        "metadata": {"name": name}, "type": "kubernetes.io/tls",
        "stringData": {"tls.crt": "", "tls.key": ""}})  # fmt: skip
    secret.metadata.annotations = {"edgeway.io/acme-domains": "a.test"}
    core.replace_namespaced_secret(name, NS, secret)
    assert core.read_namespaced_secret(name, NS).metadata.annotations == {
        "edgeway.io/acme-domains": "a.test"
    }
    core.delete_namespaced_secret(name, NS)


def test_service_account_is_refused_elsewhere(sa_api: Any) -> None:
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    leases, core = client.CoordinationV1Api(sa_api), client.CoreV1Api(sa_api)
    calls = {
        "lease in default": lambda: leases.create_namespaced_lease(
            "default", {"metadata": {"generateName": "x-"}, "spec": {}}),
        "secret in default": lambda: core.create_namespaced_secret(
            "default", {"metadata": {"generateName": "x-"}}),
        "patch secret": lambda: core.patch_namespaced_secret(
            "edgeway-acme-none", NS, {"metadata": {"labels": {"a": "b"}}}),
        "configmap": lambda: core.create_namespaced_config_map(
            NS, {"metadata": {"generateName": "x-"}}),
    }  # fmt: skip
    for what, call in calls.items():
        with pytest.raises(ApiException) as info:
            call()
        assert info.value.status == 403, (what, info.value.body)
