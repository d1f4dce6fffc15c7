"""``storage: kubernetes://`` against the real kube-apiserver and pebble.

Two edgeway "replicas" run in this process (``POD_NAME`` replica-a / replica-b),
each with the service-account token of a namespace whose only permissions are
the Role of the HA contract (``secrets`` and ``leases``: get, list, watch,
create, update, delete). Replica B listens on pebble's ``httpPort``/``tlsPort``,
so whatever replica A orders is validated through B.
"""

from __future__ import annotations

import contextlib
import datetime
import textwrap
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import acme_support
import anyio
import pytest
import yaml
from acme_support import Pebble, free_port, needs_pebble, wait_served
from edgeway.acme.client import AcmeClient, _csr, new_private_key
from edgeway_kubernetes.client import KubeAPI, load_client_config
from edgeway_kubernetes_acme import objects
from edgeway_kubernetes_acme.lease import LeaseLock, micro_time
from edgeway_kubernetes_acme.storage import KubernetesAcmeBackend, StorageURL
from real_apiserver import RealApiServer
from support import Edgeway, backends, edgeway

pytestmark = [pytest.mark.anyio, needs_pebble]

#: The module's pebble (a fixture shared with the other ACME tests).
pebble = acme_support.pebble

SA = "edgeway-acme"

RBAC = """
apiVersion: v1
kind: ServiceAccount
metadata: {{name: {sa}, namespace: {ns}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: edgeway-acme, namespace: {ns}}}
rules:
  - apiGroups: [""]
    resources: [secrets]
    verbs: [get, list, watch, create, update, delete]
  - apiGroups: [coordination.k8s.io]
    resources: [leases]
    verbs: [get, list, watch, create, update, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: edgeway-acme, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: edgeway-acme}}
subjects: [{{kind: ServiceAccount, name: {sa}, namespace: {ns}}}]
"""


@pytest.fixture
def namespace(real_apiserver: RealApiServer, tmp_path: Path) -> Iterator[str]:
    ns = f"acme-{uuid.uuid4().hex[:8]}"
    real_apiserver.kubectl("create", "namespace", ns)
    (tmp_path / "rbac.yml").write_text(RBAC.format(ns=ns, sa=SA))
    real_apiserver.kubectl("apply", "-f", str(tmp_path / "rbac.yml"))
    try:
        yield ns
    finally:
        real_apiserver.kubectl("delete", "namespace", ns, "--wait=false", check=False)


@pytest.fixture
def token(
    real_apiserver: RealApiServer, namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The service account's token; edgeway finds it through ``KUBECONFIG``."""
    tok = real_apiserver.kubectl("create", "token", SA, "-n", namespace).stdout.strip()
    kubeconfig = {
        "apiVersion": "v1", "kind": "Config", "current-context": "sa",
        "clusters": [{"name": "c", "cluster": {"server": real_apiserver.url,
                                               "certificate-authority": str(real_apiserver.ca_file)}}],
        "users": [{"name": "sa", "user": {"token": tok}}],
        "contexts": [{"name": "sa", "context": {"cluster": "c", "user": "sa"}}],
    }  # fmt: skip
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(kubeconfig))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return tok


def _api(real_apiserver: RealApiServer, token: str) -> KubeAPI:
    return KubeAPI(load_client_config(real_apiserver.url, token, str(real_apiserver.ca_file)))


def _admin(real_apiserver: RealApiServer) -> KubeAPI:
    return _api(real_apiserver, real_apiserver.admin_token)


def _static(pebble: Pebble, namespace: str, *, web: int, websecure: int, lease: str = "3s") -> str:
    storage = f"kubernetes://{namespace}?leaseDuration={lease}"
    resolver = f"""
      email: admin@example.com
      caServer: "{pebble.directory}"
      storage: "{storage}"
      caCertificates: ["{pebble.ca_file}"]"""
    return f"""
entryPoints:
  web: {{address: "127.0.0.1:{web}"}}
  websecure: {{address: "127.0.0.1:{websecure}"}}
certificatesResolvers:
  le-http:
    acme:{resolver}
      httpChallenge: {{entryPoint: web}}
  le-tls:
    acme:{resolver}
      tlsChallenge: {{}}
"""


def _routes(port: int, **hosts: str) -> str:
    """One router per ``host=resolver``."""
    routers = "".join(
        f"""
    r{i}:
      rule: "Host(`{host}`)"
      entryPoints: [websecure]
      service: app
      tls: {{certResolver: {resolver}}}"""
        for i, (host, resolver) in enumerate(hosts.items())
    )
    return f"""
http:
  routers:{routers or " {}"}
  services:
    app:
      loadBalancer:
        servers: [{{url: "http://127.0.0.1:{port}"}}]
"""


@contextlib.asynccontextmanager
async def _replica(
    tmp: Path, name: str, dynamic: str, static: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Edgeway]:
    tmp.mkdir()
    monkeypatch.setenv("POD_NAME", name)
    async with edgeway(tmp, textwrap.dedent(dynamic), static) as ew:
        yield ew


def _resolver_orders(ew: Edgeway) -> dict[str, int]:
    return {name: r.orders for name, r in ew.kernel.tls.sources["acme"].resolvers.items()}


def _items(
    api: KubeAPI, namespace: str, plural: str, kind: str, group: str = ""
) -> list[dict[str, Any]]:
    path = f"/apis/{group}/v1" if group else "/api/v1"
    doc = api.json("GET", f"{path}/namespaces/{namespace}/{plural}",
                   {"labelSelector": f"edgeway.io/acme-kind={kind}"})  # fmt: skip
    return list(doc["items"])


async def _lease_holder(api: KubeAPI, namespace: str, holder: str) -> None:
    with anyio.fail_after(30):
        while True:
            leases = await anyio.to_thread.run_sync(
                _items, api, namespace, "leases", "lease", "coordination.k8s.io"
            )
            if any((lease.get("spec") or {}).get("holderIdentity") == holder for lease in leases):
                return
            await anyio.sleep(0.05)


async def test_two_replicas_order_once_answer_each_other_and_serve_alike(
    tmp_path: Path, pebble: Pebble, real_apiserver: RealApiServer, namespace: str, token: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """A orders (HTTP-01 and TLS-ALPN-01), B answers the validations from its watch, then
    B asks for the same certificates while A holds the Lease: one order each, both serve them."""
    root = pebble.root_pem()
    orders_before = pebble.orders()
    admin = _admin(real_apiserver)
    a_ports = free_port(), free_port()
    async with backends("app") as (app,), contextlib.AsyncExitStack() as stack:
        b = await stack.enter_async_context(_replica(
            tmp_path / "b", "replica-b", _routes(app.port),
            _static(pebble, namespace, web=pebble.http_port, websecure=pebble.tls_port), monkeypatch))  # fmt: skip
        a = await stack.enter_async_context(_replica(
            tmp_path / "a", "replica-a", _routes(app.port, **{"h.test": "le-http", "t.test": "le-tls"}),
            _static(pebble, namespace, web=a_ports[0], websecure=a_ports[1]), monkeypatch))  # fmt: skip
        await _lease_holder(admin, namespace, "replica-a")
        b.write_dynamic(
            textwrap.dedent(_routes(app.port, **{"h.test": "le-http", "t.test": "le-tls"}))
        )
        for host in ("h.test", "t.test"):
            served_a = await wait_served(a_ports[1], host, root)
            served_b = await wait_served(pebble.tls_port, host, root)
            assert served_a.serial_number == served_b.serial_number
        assert _resolver_orders(a) == {"le-http": 1, "le-tls": 1}
        assert _resolver_orders(b) == {"le-http": 0, "le-tls": 0}
    assert pebble.orders() - orders_before == 2

    # What the namespace holds: the contract's shapes.
    [account_http, account_tls] = sorted(_items(admin, namespace, "secrets", "account"),
                                         key=lambda s: s["metadata"]["name"])  # fmt: skip
    assert account_http["metadata"]["name"] == "edgeway-acme-le-http-account"
    assert account_http["type"] == "Opaque" and account_tls["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "edgeway", "edgeway.io/acme-resolver": "le-tls",
        "edgeway.io/acme-kind": "account",
    }  # fmt: skip
    certs = {s["metadata"]["annotations"]["edgeway.io/acme-domains"]: s
             for s in _items(admin, namespace, "secrets", "certificate")}  # fmt: skip
    assert set(certs) == {"h.test", "t.test"}
    cert = certs["h.test"]
    assert cert["type"] == "kubernetes.io/tls" and set(cert["data"]) == {"tls.crt", "tls.key"}
    assert cert["metadata"]["name"] == objects.certificate_name("le-http", ("h.test",))
    assert cert["metadata"]["annotations"]["edgeway.io/acme-store"] == "default"
    assert cert["metadata"]["labels"]["edgeway.io/acme-resolver"] == "le-http"
    assert _items(admin, namespace, "secrets", "challenge") == []  # withdrawn
    leases = {lease["metadata"]["name"]: lease for lease in
              _items(admin, namespace, "leases", "lease", "coordination.k8s.io")}  # fmt: skip
    assert set(leases) == {
        objects.certificate_name("le-http", ("h.test",)),
        objects.certificate_name("le-tls", ("t.test",)),
    }
    for lease in leases.values():
        assert lease["spec"]["holderIdentity"] == ""  # released
        assert lease["spec"]["leaseDurationSeconds"] == 3
        assert "edgeway.io/acme-order" not in (lease["metadata"].get("annotations") or {})


async def test_validations_racing_the_watch_are_answered_by_direct_reads(
    tmp_path: Path, pebble: Pebble, real_apiserver: RealApiServer, namespace: str, token: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Replica B never watches: every challenge it answers (HTTP-01, acme-tls/1) is read
    from the API server on the miss, and the certificates it then wants are read after
    taking the Lease instead of being ordered again."""
    original = KubernetesAcmeBackend.run

    async def run(self: KubernetesAcmeBackend) -> None:
        if self.identity == "replica-b":
            await anyio.sleep_forever()
        await original(self)

    monkeypatch.setattr(KubernetesAcmeBackend, "run", run)
    root = pebble.root_pem()
    orders_before = pebble.orders()
    a_ports = free_port(), free_port()
    hosts = {"dh.test": "le-http", "dt.test": "le-tls"}
    async with backends("app") as (app,), contextlib.AsyncExitStack() as stack:
        b = await stack.enter_async_context(_replica(
            tmp_path / "b", "replica-b", _routes(app.port),
            _static(pebble, namespace, web=pebble.http_port, websecure=pebble.tls_port), monkeypatch))  # fmt: skip
        await stack.enter_async_context(_replica(
            tmp_path / "a", "replica-a", _routes(app.port, **hosts),
            _static(pebble, namespace, web=a_ports[0], websecure=a_ports[1]), monkeypatch))  # fmt: skip
        for host in hosts:
            await wait_served(a_ports[1], host, root)
        b.write_dynamic(textwrap.dedent(_routes(app.port, **hosts)))
        for host in hosts:
            await wait_served(pebble.tls_port, host, root)
        assert _resolver_orders(b) == {"le-http": 0, "le-tls": 0}
        assert (
            b.kernel.tls.sources["acme"]
            .backends[f"kubernetes://{namespace}?leaseDuration=3s"]
            .reflector.lists
            == 0
        )
    assert pebble.orders() - orders_before == 2


async def test_a_dead_holders_lease_is_taken_over_and_its_order_resumed(
    tmp_path: Path, pebble: Pebble, real_apiserver: RealApiServer, namespace: str, token: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """A replica died holding the Lease of r.test after placing the order (recorded in the
    Lease). The next replica waits for the Lease to expire, takes it over and finishes
    that order: pebble sees no second order."""
    api = _api(real_apiserver, token)
    backend = KubernetesAcmeBackend(api, StorageURL(namespace, 3), "test")
    client = await anyio.to_thread.run_sync(lambda: AcmeClient(
        pebble.directory, None, "admin@example.com", verify=str(pebble.ca_file), timeout=10, eab=None,
        save_account=lambda acc: backend.storage.save_account("le-http", acc)))  # fmt: skip
    csr = _csr(new_private_key("RSA2048"), ["r.test"], True, ())
    order = await anyio.to_thread.run_sync(client.client.new_order, csr)
    name = objects.certificate_name("le-http", ("r.test",))
    stale = micro_time(datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1))
    api.json("POST", f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases", body={
        "metadata": {"name": name, "labels": objects.labels("le-http", "lease"),
                     "annotations": {"edgeway.io/acme-order": order.uri}},
        "spec": {"holderIdentity": "dead-replica", "leaseDurationSeconds": 3,
                 "acquireTime": stale, "renewTime": stale, "leaseTransitions": 0},
    })  # fmt: skip
    orders_before = pebble.orders()
    root = pebble.root_pem()
    async with backends("app") as (app,), _replica(
        tmp_path / "c", "replica-c", _routes(app.port, **{"r.test": "le-http"}),
        _static(pebble, namespace, web=pebble.http_port, websecure=pebble.tls_port), monkeypatch,
    ) as c:  # fmt: skip
        await wait_served(pebble.tls_port, "r.test", root)
        assert _resolver_orders(c)["le-http"] == 1
    assert pebble.orders() == orders_before  # the dead replica's order, resumed
    lease = api.json("GET", f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}")
    assert lease["spec"]["holderIdentity"] == "" and lease["spec"]["leaseTransitions"] == 1
    assert "edgeway.io/acme-order" not in (lease["metadata"].get("annotations") or {})


async def test_an_unusable_recorded_order_is_replaced_by_a_new_one(
    tmp_path: Path, pebble: Pebble, real_apiserver: RealApiServer, namespace: str, token: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The recorded order cannot be resumed (here: no such order): one new order."""
    api = _api(real_apiserver, token)
    name = objects.certificate_name("le-tls", ("n.test",))
    api.json("POST", f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases", body={
        "metadata": {"name": name, "labels": objects.labels("le-tls", "lease"),
                     "annotations": {"edgeway.io/acme-order": f"{pebble.directory[:-4]}/my-order/nope"}},
        "spec": {"holderIdentity": "", "leaseDurationSeconds": 3},
    })  # fmt: skip
    orders_before = pebble.orders()
    async with backends("app") as (app,), _replica(
        tmp_path / "c", "replica-c", _routes(app.port, **{"n.test": "le-tls"}),
        _static(pebble, namespace, web=pebble.http_port, websecure=pebble.tls_port), monkeypatch,
    ):  # fmt: skip
        await wait_served(pebble.tls_port, "n.test", pebble.root_pem())
    assert pebble.orders() - orders_before == 1


async def test_a_live_lease_is_waited_for_and_an_expired_one_taken_over(
    real_apiserver: RealApiServer, namespace: str, token: str
) -> None:
    """Held and renewed by another replica: wait; once it stops renewing: taken over
    after leaseDurationSeconds (even with a fresh renewTime)."""
    api = _api(real_apiserver, token)
    other = LeaseLock(api, namespace, "other", 2, poll=0.05)
    mine = LeaseLock(api, namespace, "mine", 2, poll=0.05)
    labels = objects.labels("le", "lease")
    taken: list[float] = []

    def hold_other() -> None:
        with other.hold("l", labels) as held:
            time.sleep(2.5)  # renewed meanwhile (every 2/3 s): not expired
            assert not held.lost

    def hold_mine() -> None:
        start = time.monotonic()
        with mine.hold("l", labels):
            taken.append(time.monotonic() - start)

    async with anyio.create_task_group() as tg:
        tg.start_soon(anyio.to_thread.run_sync, hold_other)
        await _lease_holder(api, namespace, "other")
        await anyio.to_thread.run_sync(hold_mine)
    assert taken[0] >= 1.5  # waited for the release
    assert mine.takeovers == 0

    # A holder that stopped renewing (fresh renewTime, then silence): taken over.
    lease = api.json("GET", f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/l")
    lease["spec"].update(holderIdentity="dead", renewTime=micro_time())
    api.json("PUT", f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/l", body=lease)
    await anyio.to_thread.run_sync(hold_mine)
    assert taken[1] >= 1.5 and mine.takeovers == 1


def test_the_contract_role_is_all_it_needs(real_apiserver: RealApiServer, namespace: str) -> None:
    """The service account may do what the storage does, and no patch (it never patches)."""
    who = f"--as=system:serviceaccount:{namespace}:{SA}"
    for resource in ("secrets", "leases.coordination.k8s.io"):
        for verb in ("get", "list", "watch", "create", "update", "delete"):
            out = real_apiserver.kubectl(
                "auth", "can-i", verb, resource, "-n", namespace, who, check=False
            )
            assert out.stdout.strip() == "yes", (verb, resource)
        assert real_apiserver.kubectl("auth", "can-i", "patch", resource, "-n", namespace, who,
                                      check=False).stdout.strip() == "no"  # fmt: skip


async def test_published_challenges_and_stored_certificates_reach_the_other_replica(
    real_apiserver: RealApiServer, namespace: str, token: str, tmp_path: Path
) -> None:
    """Through B's watch (changed() called, cache filled) and, with B not watching, by a
    direct read on the miss; the kernel's HTTP-01 handler answers from both."""
    from edgeway.acme.challenges import http01_handler, tlsalpn01_certificate
    from edgeway.acme.storage import StoredCertificate
    from edgeway.http.message import Headers, Request
    from edgeway.tls.certificates import certificate_from_pem

    a = KubernetesAcmeBackend(_api(real_apiserver, token), StorageURL(namespace, 3), "a")
    watching_changes: list[int] = []
    b = KubernetesAcmeBackend(_api(real_apiserver, token), StorageURL(namespace, 3), "b",
                              lambda: watching_changes.append(1))  # fmt: skip
    cold = KubernetesAcmeBackend(_api(real_apiserver, token), StorageURL(namespace, 3), "cold")
    token_ = "A" * 43
    cert_pem, key_pem = tlsalpn01_certificate("x.test", f"{token_}.thumb")

    def get(backend: KubernetesAcmeBackend, path: str, host: str = "x.test") -> Any:
        handler = http01_handler(backend.http01, backend.fetch_http01)
        req = Request("GET", path, "", Headers([(b"host", host.encode())]), authority=host)
        return handler(req)

    async with anyio.create_task_group() as tg:
        tg.start_soon(b.run)
        await b.reflector.synced.wait()
        publisher = a.publisher("le")
        await anyio.to_thread.run_sync(
            publisher.publish_http01, "x.test", token_, f"{token_}.thumb"
        )
        await anyio.to_thread.run_sync(publisher.publish_tlsalpn01, "x.test", cert_pem, key_pem)
        stored = StoredCertificate("x.test", (), cert_pem, key_pem)
        await anyio.to_thread.run_sync(a.storage.save_certificate, "le", stored)
        with anyio.fail_after(10):
            while not (b.tlsalpn01_certificates() and b.storage.cached_certificates("le")):
                await anyio.sleep(0.02)
        assert b.http01("x.test", token_) == f"{token_}.thumb"
        assert b.tlsalpn01_certificates() == [(cert_pem, key_pem)]
        assert b.storage.cached_certificates("le") == [stored]
        assert watching_changes
        resp = await get(b, f"/.well-known/acme-challenge/{token_}")
        assert (resp.status, resp.body) == (200, f"{token_}.thumb".encode())

        # Not watching: nothing cached, every answer read on the miss.
        assert cold.http01("x.test", token_) is None and cold.tlsalpn01_certificates() == []
        resp = await get(cold, f"/.well-known/acme-challenge/{token_}")
        assert (resp.status, resp.body) == (200, f"{token_}.thumb".encode())
        for path, host in [(f"/.well-known/acme-challenge/{token_}", "other.test"),
                           ("/.well-known/acme-challenge/" + "B" * 43, "x.test")]:  # fmt: skip
            assert (await get(cold, path, host)).status == 404
        found = await anyio.to_thread.run_sync(cold.fetch_tlsalpn01, "x.test")
        assert found == (cert_pem, key_pem) and certificate_from_pem(*found) is not None
        assert await anyio.to_thread.run_sync(cold.fetch_tlsalpn01, "y.test") is None
        assert cold.tlsalpn01_certificates() == [(cert_pem, key_pem)]  # cached by the read

        # Withdrawn: gone from the watching replica, and from what a direct read finds.
        await anyio.to_thread.run_sync(publisher.withdraw_http01, "x.test", token_)
        await anyio.to_thread.run_sync(publisher.withdraw_tlsalpn01, "x.test")
        with anyio.fail_after(10):
            while b.http01("x.test", token_) or b.tlsalpn01_certificates():
                await anyio.sleep(0.02)
        assert await anyio.to_thread.run_sync(cold.fetch_http01, "x.test", token_) is None
        assert await anyio.to_thread.run_sync(cold.fetch_tlsalpn01, "x.test") is None
        assert cold.http01("x.test", token_) is None and cold.tlsalpn01_certificates() == []
        tg.cancel_scope.cancel()


def test_the_first_registered_account_stays(
    real_apiserver: RealApiServer, namespace: str, token: str
) -> None:
    """Two replicas registering at once: the second save keeps the first account (the
    resolver then switches to it); an unregistered stored account is replaced."""
    from edgeway.acme.storage import Account

    storage = KubernetesAcmeBackend(
        _api(real_apiserver, token), StorageURL(namespace, 3), "a"
    ).storage
    unregistered = Account("a@example.com", b"key-0")
    first = Account(
        "a@example.com", b"key-1", {"body": {"status": "valid"}, "uri": "https://ca/acct/1"}
    )
    second = Account(
        "a@example.com", b"key-2", {"body": {"status": "valid"}, "uri": "https://ca/acct/2"}
    )
    storage.save_account("le", unregistered)
    storage.save_account("le", first)
    assert storage.load_account("le") == first
    storage.save_account("le", second)
    assert storage.load_account("le") == first
    storage.save_account("le", first)  # saved again as restored: unchanged
    assert storage.load_account("le") == first
    assert storage.load_account("other") is None


async def test_a_holder_dying_after_validation_is_finished_for_and_cleaned_up_after(
    tmp_path: Path, pebble: Pebble, real_apiserver: RealApiServer, namespace: str, token: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The dead replica had published its HTTP-01 challenge and told the CA to validate
    (answered by the live replica from its watch) when it stopped renewing: the replica
    taking over finalizes that order and withdraws the challenge it left behind."""
    api = _api(real_apiserver, token)
    dead = KubernetesAcmeBackend(api, StorageURL(namespace, 3), "dead-replica")
    client = await anyio.to_thread.run_sync(lambda: AcmeClient(
        pebble.directory, None, "admin@example.com", verify=str(pebble.ca_file), timeout=10, eab=None,
        save_account=lambda acc: dead.storage.save_account("le-http", acc)))  # fmt: skip
    csr = _csr(new_private_key("RSA2048"), ["v.test"], True, ())
    order = await anyio.to_thread.run_sync(client.client.new_order, csr)
    name = objects.certificate_name("le-http", ("v.test",))
    api.json("POST", f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases", body={
        "metadata": {"name": name, "labels": objects.labels("le-http", "lease"),
                     "annotations": {"edgeway.io/acme-order": order.uri}},
        "spec": {"holderIdentity": "dead-replica", "leaseDurationSeconds": 3,
                 "acquireTime": micro_time(), "renewTime": micro_time(), "leaseTransitions": 0},
    })  # fmt: skip
    orders_before = pebble.orders()
    root = pebble.root_pem()
    async with backends("app") as (app,), _replica(
        tmp_path / "c", "replica-c", _routes(app.port, **{"v.test": "le-http"}),
        _static(pebble, namespace, web=pebble.http_port, websecure=pebble.tls_port), monkeypatch,
    ):  # fmt: skip
        [authz] = order.authorizations
        [http] = [c for c in authz.body.challenges if c.chall.typ == "http-01"]
        publisher = dead.publisher("le-http")
        await anyio.to_thread.run_sync(publisher.publish_http01, "v.test", http.chall.encode("token"),
                                       http.chall.key_authorization(client.jwk))  # fmt: skip
        await anyio.to_thread.run_sync(
            client.client.answer_challenge, http, http.chall.response(client.jwk)
        )
        await wait_served(pebble.tls_port, "v.test", root)
    assert pebble.orders() == orders_before
    assert _items(api, namespace, "secrets", "challenge") == []
