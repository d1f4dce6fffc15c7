"""``edgeway render`` with Kubernetes manifests, and start-up with the provider enabled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EDGEWAY = str(Path(sys.executable).parent / "edgeway")

MANIFESTS = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
  namespace: apps
  annotations:
    traefik.ingress.kubernetes.io/router.entrypoints: web
spec:
  rules:
  - host: "*.shop.example"
    http:
      paths:
      - path: /api
        pathType: Prefix
        backend: {service: {name: api, port: {name: http}}}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: apps}
spec:
  ports: [{name: http, port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: api-1
  namespace: apps
  labels: {kubernetes.io/service-name: api}
ports: [{name: http, port: 8080}]
endpoints:
- addresses: [10.0.0.1]
- addresses: [10.0.0.2]
  conditions: {serving: true, terminating: true}
"""


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EDGEWAY, *args], cwd=cwd, capture_output=True, text=True, timeout=60, env=dict(os.environ))


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    path = tmp_path / "shop.yaml"
    path.write_text(MANIFESTS)
    return path


def test_render_provider_prints_its_own_configuration_in_traefik_json(manifests: Path) -> None:
    out = run("render", "--provider", "kubernetes", "--manifests", str(manifests), cwd=manifests.parent)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {
        "http": {
            "routers": {
                "apps-shop-shop-example-api": {
                    "entryPoints": ["web"],
                    "service": "apps-api-http",
                    "rule": 'Host("*.shop.example") && PathPrefix("/api")',
                    "observability": {
                        "metadata": {"ingress": {"namespace": "apps", "ingressName": "shop", "serviceName": "api", "servicePort": "http"}}
                    },
                }
            },
            "middlewares": {},
            "services": {
                "apps-api-http": {
                    "loadBalancer": {
                        "servers": [{"url": "http://10.0.0.1:8080"}, {"url": "http://10.0.0.2:8080", "fenced": True}],
                        "strategy": "wrr",
                        "passHostHeader": True,
                        "responseForwarding": {"flushInterval": "100000000ns"},
                    }
                }
            },
        }
    }


def test_render_provider_options_and_problems_exit_1(manifests: Path) -> None:
    opts = json.dumps({"namespaces": ["other"]})
    out = run("render", "--provider", "kubernetes", "--manifests", str(manifests), "--provider-options", opts, cwd=manifests.parent)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["http"]["routers"] == {}
    manifests.write_text(MANIFESTS.replace("name: http, port: 80", "name: web, port: 80"))
    out = run("render", "--provider", "kubernetes", "--manifests", str(manifests), "--format", "yaml", cwd=manifests.parent)
    assert out.returncode == 1
    assert "edgeway: provider kubernetes: ingress apps/shop: cannot create service apps/api port http: service port not found" in out.stderr
    out = run("render", "--provider", "kubernetes", "--manifests", str(manifests), "--provider-options", '{"bogus": 1}', cwd=manifests.parent)
    assert out.returncode == 1 and "bogus" in out.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--provider", "kubernetes"], "--provider needs --manifests"),
        (["--provider-options", "{}"], "--provider-options needs --provider"),
        (["--provider", "nope", "--manifests", "."], "unknown provider 'nope'"),
        (["--provider", "file", "--manifests", "."], "provider 'file' cannot render from manifests"),
        (["--provider", "kubernetes", "--manifests", ".", "--provider-options", "[1]"], "expected a JSON object"),
    ],
)
def test_render_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    out = run("render", *args, cwd=tmp_path)
    assert out.returncode == 2 and message in out.stderr


def test_render_manifests_through_the_merged_pipeline_with_statuses(manifests: Path) -> None:
    (manifests.parent / "edgeway.yml").write_text(
        "entryPoints: {web: {address: ':8000'}}\nproviders:\n  kubernetesIngress: {allowEmptyServices: true}\n"
    )
    out = run("render", "--manifests", str(manifests), cwd=manifests.parent)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    router = doc["routers"]["apps-shop-shop-example-api@kubernetes"]
    assert router["status"] == "enabled" and router["service"] == "apps-api-http"
    assert doc["services"]["apps-api-http@kubernetes"]["status"] == "enabled"


def test_start_up_without_a_cluster_to_connect_to_fails_with_what_was_tried(tmp_path: Path) -> None:
    (tmp_path / "edgeway.yml").write_text("entryPoints: {web: {address: '127.0.0.1:0'}}\nproviders:\n  kubernetesIngress: {}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBERNETES_SERVICE", "KUBECONFIG"))}
    env["HOME"] = str(tmp_path)
    out = subprocess.run([EDGEWAY], cwd=tmp_path, capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 1
    assert (
        "providers.kubernetesIngress: cannot find the Kubernetes API server; tried the endpoint option (not set), "
        "in-cluster (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT not set), "
        f"~/.kube/config ({tmp_path}/.kube/config: no such file)"
    ) in out.stderr
