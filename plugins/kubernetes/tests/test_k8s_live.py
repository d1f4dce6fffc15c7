"""Client configuration, the reflector and the test API server, over real sockets with the official client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from edgeway_kubernetes import ObjectStore
from edgeway_kubernetes.client import APIError, ClientConfigError, KubeAPI, load_client_config
from edgeway_kubernetes.reflector import SERVICE, Backoff, Reflector, discover_endpoint_slice_kind
from edgeway_kubernetes.testing import FakeAPIServer, merge_patch

pytestmark = pytest.mark.anyio

SVC = "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: apps, labels: {{tier: {tier}}}}}\n"


def svc(name: str, tier: str = "web") -> str:
    return SVC.format(name=name, tier=tier)


# -- client configuration -----------------------------------------------------------------


def test_explicit_http_endpoint_needs_no_credentials() -> None:
    with FakeAPIServer(svc("a")) as server:
        config = load_client_config(server.url + "/", environ={"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"},
                                    service_account_dir="/nonexistent")  # fmt: skip
        assert config.source == f"endpoint {server.url}"
        assert KubeAPI(config).json("GET", "/api/v1/services")["items"][0]["metadata"]["name"] == "a"


def test_endpoint_with_token_and_a_missing_ca_file(tmp_path: Path) -> None:
    with FakeAPIServer(token="tok") as server:
        assert KubeAPI(load_client_config(server.url, "tok")).json("GET", "/api")["versions"] == ["v1"]
        with pytest.raises(APIError, match="401 Unauthorized"):
            KubeAPI(load_client_config(server.url, "wrong")).json("GET", "/api")
    with pytest.raises(ClientConfigError, match=r"cannot read the CA file \(certAuthFilePath\) .*/nope"):
        load_client_config("https://127.0.0.1:1", cert_auth_file_path=str(tmp_path / "nope"))


def test_in_cluster_needs_the_service_account_files(tmp_path: Path) -> None:
    env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "6443"}
    with pytest.raises(ClientConfigError, match="cannot read the service-account token .*/token"):
        load_client_config(environ=env, service_account_dir=str(tmp_path))
    (tmp_path / "token").write_text("t")
    (tmp_path / "ca.crt").write_text("x")
    config = load_client_config(environ=env, service_account_dir=str(tmp_path))
    assert config.host == "https://127.0.0.1:6443" and config.source.startswith("in-cluster")


def test_home_kubeconfig_then_nothing(tmp_path: Path) -> None:
    with pytest.raises(ClientConfigError) as err:
        load_client_config(environ={}, home=str(tmp_path))
    assert str(err.value) == (
        "cannot find the Kubernetes API server; tried the endpoint option (not set), in-cluster "
        f"(KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT not set), ~/.kube/config ({tmp_path}/.kube/config: no such file)"
    )
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
    )
    assert load_client_config(environ={}, home=str(tmp_path)).host == "http://127.0.0.1:9"
    with pytest.raises(ClientConfigError, match="KUBECONFIG .*missing: no such file"):
        load_client_config(environ={"KUBECONFIG": str(tmp_path / "missing")})


# -- discovery -------------------------------------------------------------------------


def test_endpoint_slice_version_discovery() -> None:
    with FakeAPIServer() as server:
        assert discover_endpoint_slice_kind(KubeAPI(load_client_config(server.url))).version == "v1"
    with FakeAPIServer(endpoint_slice_versions=("v1beta1",)) as server:
        kind = discover_endpoint_slice_kind(KubeAPI(load_client_config(server.url)))
        assert kind.path("ns") == "/apis/discovery.k8s.io/v1beta1/namespaces/ns/endpointslices"
    with FakeAPIServer(endpoint_slice_versions=()) as server, pytest.raises(APIError, match="1.19 or later"):
        discover_endpoint_slice_kind(KubeAPI(load_client_config(server.url)))


# -- the reflector -----------------------------------------------------------------------


class Harness:
    def __init__(self, server: FakeAPIServer, **kw: Any) -> None:
        self.store = ObjectStore()
        self.changes = 0
        self.reflector = Reflector(KubeAPI(load_client_config(server.url)), SERVICE, self.store, self._changed,
                                   backoff=Backoff(0.02, 0.2), watch_timeout=30, **kw)  # fmt: skip

    def _changed(self) -> None:
        self.changes += 1

    def names(self) -> set[str]:
        return {o["metadata"]["name"] for o in self.store.list_objects("Service")}

    async def until(self, predicate: Any) -> None:
        with anyio.fail_after(10):
            while not predicate():
                await anyio.sleep(0.005)


async def test_list_watch_resume_relist_and_prompt_stop() -> None:
    with FakeAPIServer(svc("a")) as server:
        h = Harness(server)
        r = h.reflector
        async with anyio.create_task_group() as tg:
            tg.start_soon(r.run)
            await r.synced.wait()
            assert h.names() == {"a"} and h.store.get("Service", "apps", "a")["kind"] == "Service"  # type: ignore[index]
            await h.until(lambda: r.watches == 1)
            server.apply(svc("b"))
            await h.until(lambda: h.names() == {"a", "b"})
            server.drop_watches()  # resumes from the last version: no re-list
            server.delete("Service", "apps", "a")
            await h.until(lambda: h.names() == {"b"})
            assert (r.lists, r.watches) == (1, 2)
            watch_query = [p for _, p in server.requests if "watch=true" in p][-1]
            assert f"resourceVersion={int(server.resource_version) - 1}" in watch_query
            server.refuse_connections()
            await h.until(lambda: "Connection refused" in (r.last_error or ""))
            server.apply(svc("c"))
            server.compact()  # the version edgeway has is gone: 410, then a re-list
            server.accept_connections()
            await h.until(lambda: h.names() == {"b", "c"} and r.last_error is None)
            assert r.lists == 2
            await h.until(lambda: server.open_watches == 1)
            tg.cancel_scope.cancel()
        await anyio.to_thread.run_sync(server.wait_for, lambda: server.open_watches == 0, 5.0)  # its socket was shut


async def test_bookmarks_move_the_version_and_label_selectors_filter() -> None:
    with FakeAPIServer(svc("a") + "---\n" + svc("db", "data")) as server:
        h = Harness(server, label_selector="tier=web")
        r = h.reflector
        async with anyio.create_task_group() as tg:
            tg.start_soon(r.run)
            await r.synced.wait()
            assert h.names() == {"a"}
            await h.until(lambda: r.watches == 1)
            server.apply(svc("db2", "data"))
            server.send_bookmarks()
            await h.until(lambda: r.version == str(server.resource_version))
            assert h.names() == {"a"}
            tg.cancel_scope.cancel()


async def test_failures_back_off_and_403_names_verb_and_resource() -> None:
    with FakeAPIServer(svc("a")) as server:
        server.forbid("list", "services")
        h = Harness(server)
        r = h.reflector
        async with anyio.create_task_group() as tg:
            tg.start_soon(r.run)
            await h.until(lambda: r.last_error is not None)
            assert r.last_error.startswith(  # type: ignore[union-attr]
                'forbidden: cannot list services in all namespaces; the service account needs RBAC permission "list" on "services"'
            )
            server.heal()
            server.fail_requests(500, count=2)
            await r.synced.wait()
            assert h.names() == {"a"}
            tg.cancel_scope.cancel()


def test_backoff_grows_with_jitter_up_to_the_cap() -> None:
    b = Backoff(initial=1.0, cap=8.0, factor=2.0, jitter=0.5)
    delays = [b.next() for _ in range(6)]
    for got, base in zip(delays, [1, 2, 4, 8, 8, 8], strict=True):
        assert base <= got <= min(base * 1.5, 8.0)
    b.reset()
    assert b.next() < 1.5


def test_api_writes_merge_patch_status_and_conflicts() -> None:
    ing = ("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i, namespace: apps}\n"
           "spec: {ingressClassName: x}\n")  # fmt: skip
    with FakeAPIServer(ing) as server:
        api = KubeAPI(load_client_config(server.url))
        path = "/apis/networking.k8s.io/v1/namespaces/apps/ingresses/i"
        patch = {"status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}}
        out = api.json("PATCH", path + "/status", body=patch, content_type="application/merge-patch+json")
        assert out["status"]["loadBalancer"]["ingress"] == [{"ip": "1.2.3.4"}] and out["spec"] == {"ingressClassName": "x"}
        out = api.json("PATCH", path, body={"spec": {"ingressClassName": "y"}, "status": {}},
                       content_type="application/merge-patch+json")  # fmt: skip
        assert out["spec"]["ingressClassName"] == "y" and out["status"]["loadBalancer"]  # status kept
        with pytest.raises(APIError, match="409"):
            api.json("PUT", path, body={**out, "metadata": {**out["metadata"], "resourceVersion": "1"}})
        created = api.json("POST", "/api/v1/namespaces/apps/services", body={"apiVersion": "v1", "kind": "Service", "metadata": {"name": "n"}})
        assert created["metadata"]["namespace"] == "apps"
        api.json("DELETE", "/api/v1/namespaces/apps/services/n")
        with pytest.raises(APIError, match='404 NotFound: services "n" not found'):
            api.json("GET", "/api/v1/namespaces/apps/services/n")
    assert merge_patch({"a": {"b": 1, "c": 2}}, {"a": {"b": None, "d": 3}}) == {"a": {"c": 2, "d": 3}}
