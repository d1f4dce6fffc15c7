"""ACME with several replicas: three edgeway processes share certificates through a real
kube-apiserver (``storage: kubernetes://edgeway``), pebble as the CA.

The replicas run as the service account of ``deploy/kubernetes/`` +
``deploy/kubernetes-ha/`` (its token in the providers' ``endpoint``/``token``/
``certAuthFilePath`` options, which the ACME storage uses too), so the real server
enforces the example's RBAC. pebble validates through
:class:`~acme_ha_support.ValidationForwarder`, which sends every validation to a
replica other than the Lease holder: a certificate is only obtained when the
challenges the ordering replica published to the cluster are answered by the others.

Each scenario checks: exactly one order in pebble's log for the certificate, the
same certificate (chain verified to pebble's root, with SNI) served by every
replica, its ``kubernetes.io/tls`` Secret, the Lease released, and that no
validation reached a Lease holder. The Lease holder is killed (SIGKILL) in the
middle of an order and another replica resumes that order after the Lease
expires. Certificates come from the file provider (HTTP-01 and TLS-ALPN-01), an
Ingress (``router.tls.certresolver`` annotation) and an IngressRoute
(``tls.certResolver``). The figures (orders per certificate, seconds until all
replicas serve) are printed (``pytest -s``) and recorded as properties.
"""

from __future__ import annotations

import base64
import contextlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from acme_ha_support import (
    DOMAINS_ANNOTATION,
    KIND_LABEL,
    Lease,
    Replica,
    ValidationForwarder,
    list_leases,
    static_configuration,
    write_atomically,
)
from acme_support import Pebble, https_get, needs_pebble, served
from cryptography import x509
from real_apiserver import REPO, RealApiServer

pytestmark = [needs_pebble]

#: Where the ACME objects live: the deploy example's namespace (its Role is there).
NS = "edgeway"
#: Short, so the takeover after a SIGKILL is quick; renewed every LEASE/3 seconds.
LEASE = 3
STORAGE = f"kubernetes://{NS}?leaseDuration={LEASE}s"
#: Two shared cores, three edgeway processes, etcd and pebble: generous.
DEADLINE = 45.0
#: A dead holder's Lease expires after LEASE; the successor then resumes the order.
TAKEOVER_MARGIN = 20.0
REPLICAS = 3


class _App(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"app"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Figure:
    scenario: str
    start: float  # time.monotonic() when the router was configured
    orders: int
    first_serving: float
    all_serving: float
    ordered_by: set[str]
    answered_by: list[str]

    def line(self) -> str:
        return (
            f"[acme-ha] {self.scenario}: {self.orders} order(s) in pebble; config -> first replica "
            f"serving {self.first_serving:.2f} s, -> all replicas serving {self.all_serving:.2f} s "
            f"(+{self.all_serving - self.first_serving:.2f} s); "
            f"Lease held by {sorted(self.ordered_by)} during the validations, answered by "
            f"{self.answered_by}"
        )


@dataclass
class HA:
    server: RealApiServer
    admin: Any  # official-client ApiClient, as admin
    apps: str  # namespace of the Ingresses and IngressRoutes
    pebble: Pebble
    root: str
    forwarder: ValidationForwarder
    replicas: dict[str, Replica]
    environ: dict[str, str]
    dynamic: Path
    backend_port: int
    routers: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The domains of every certificate obtained so far.
    domains: list[list[str]] = field(default_factory=list)
    #: (replica, time.monotonic()) of each SIGKILL, and who took its Lease over.
    killed: list[tuple[str, float]] = field(default_factory=list)
    successors: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)

    @property
    def alive(self) -> list[Replica]:
        return [r for r in self.replicas.values() if r.name not in self.forwarder.dead]

    # -- configuration -------------------------------------------------------------------

    def add_file_router(self, name: str, resolver: str, domains: list[str]) -> None:
        """The same dynamic file for every replica (they all watch it)."""
        rule = " || ".join(f"Host(`{d}`)" for d in domains)
        self.routers[name] = {
            "rule": rule, "entryPoints": ["websecure"], "service": "app",
            "tls": {"certResolver": resolver,
                    "domains": [{"main": domains[0], "sans": domains[1:]}]},
        }  # fmt: skip
        services = {"app": {"loadBalancer": {"servers": [
            {"url": f"http://127.0.0.1:{self.backend_port}"}]}}}  # fmt: skip
        write_atomically(
            self.dynamic, yaml.safe_dump({"http": {"routers": self.routers, "services": services}})
        )

    def create(self, path: str, obj: dict[str, Any]) -> None:
        """POST ``obj`` as admin (``path`` relative to the API root, ``{ns}`` = apps)."""
        from edgeway_kubernetes.client import ClientConfig, KubeAPI

        KubeAPI(ClientConfig(self.admin.configuration, "admin")).json(
            "POST", path.format(ns=self.apps), body=obj
        )

    # -- what the cluster holds ----------------------------------------------------------

    def leases(self) -> list[Lease]:
        return list_leases(self.admin, NS)

    def held(self) -> dict[str, str]:
        return {lease.name: lease.holder for lease in self.leases() if lease.holder}

    def published(self) -> set[str]:
        """The domains of the challenge Secrets in the API server now."""
        from kubernetes import client

        found = client.CoreV1Api(self.admin).list_namespaced_secret(
            NS, label_selector=f"{KIND_LABEL}=challenge"
        )
        return {base64.b64decode(s.data["domain"]).decode() for s in found.items}

    def certificate_secret(self, domains: list[str]) -> Any:
        from kubernetes import client

        secrets = (
            client.CoreV1Api(self.admin)
            .list_namespaced_secret(NS, label_selector=f"{KIND_LABEL}=certificate")
            .items
        )
        for secret in secrets:
            if (secret.metadata.annotations or {}).get(DOMAINS_ANNOTATION) == ",".join(domains):
                return secret
        return None

    # -- what the replicas serve ---------------------------------------------------------

    def wait_all_serve(self, sni: str, start: float) -> tuple[x509.Certificate, float, float]:
        """Poll every live replica until all serve one certificate for ``sni`` that
        verifies to pebble's root: it, and the seconds from ``start`` until the first
        and until the last replica served it."""
        got: dict[str, tuple[x509.Certificate, float]] = {}
        end = time.monotonic() + DEADLINE
        while True:
            for replica in self.alive:
                if replica.name not in got and (cert := served(replica.websecure, sni, self.root)):
                    got[replica.name] = (cert, time.monotonic() - start)
            if {r.name for r in self.alive} <= set(got):
                break
            if time.monotonic() > end:
                logs = "\n".join(f"--- {r.name}\n{r.tail()}" for r in self.replicas.values())
                raise AssertionError(f"only {sorted(got)} serve {sni} after {DEADLINE}s\n{logs}")
            time.sleep(0.1)
        serials = {cert.serial_number for cert, _ in got.values()}
        assert len(serials) == 1, f"replicas serve different certificates for {sni}: {serials}"
        times = [at for _, at in got.values()]
        return next(iter(got.values()))[0], min(times), max(times)

    def wait_released(self, name: str) -> None:
        end = time.monotonic() + DEADLINE
        while True:
            lease = {lease.name: lease for lease in self.leases()}.get(name)
            if lease is None or not lease.holder:
                return
            assert time.monotonic() < end, f"Lease {name} still held by {lease.holder}"
            time.sleep(0.1)

    def issue(
        self, scenario: str, domains: list[str], configure: Callable[[], None],
        during: Callable[[], None] | None = None,
    ) -> Figure:  # fmt: skip
        """Configure a router needing a certificate for ``domains`` and check the outcome
        (see the module doc); ``during`` runs right after ``configure``."""
        orders = self.pebble.orders()
        start = time.monotonic()
        configure()
        if during is not None:
            during()
        cert, first, last = self.wait_all_serve(domains[0], start)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert sorted(names.get_values_for_type(x509.DNSName)) == sorted(domains)
        for replica in self.alive:  # every name of it, on every replica
            for domain in domains[1:]:
                again = served(replica.websecure, domain, self.root)
                assert again is not None and again.serial_number == cert.serial_number

        secret = self.certificate_secret(domains)
        assert secret is not None, f"no certificate Secret for {domains}"
        assert secret.type == "kubernetes.io/tls"
        assert secret.metadata.labels["app.kubernetes.io/managed-by"] == "edgeway"
        stored = x509.load_pem_x509_certificate(base64.b64decode(secret.data["tls.crt"]))
        assert stored.serial_number == cert.serial_number
        self.wait_released(secret.metadata.name)
        self.domains.append(domains)

        # Every validation came while the certificate's Lease was held and one of its
        # challenges was in the API server (the CA is told to validate only then), and
        # went to a replica holding no Lease (others may briefly hold other
        # certificates' Leases: replicas that waited take it in turn to re-read).
        validations = self.forwarder.since(start)
        assert validations, "pebble validated nothing through the forwarder"
        for v in validations:
            assert v.replica is not None, f"no replica left to answer {v}"
            assert v.holder_of(secret.metadata.name), f"certificate's Lease not held: {v}"
            assert v.published & set(domains), f"no challenge of {domains} published: {v}"
            assert v.replica not in v.holders, v
        figure = Figure(
            scenario, start, self.pebble.orders() - orders, first, last,
            {v.holder_of(secret.metadata.name) or "" for v in validations},
            [v.replica or "" for v in validations],
        )  # fmt: skip
        self.figures.append(figure)
        print(figure.line(), flush=True)
        return figure


@pytest.fixture(scope="module")
def ha(real_apiserver: RealApiServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HA]:
    from kubernetes import client

    server, deploy = real_apiserver, REPO / "deploy"
    server.kubectl("apply", "-f", str(deploy / "kubernetes"), "-f", str(deploy / "kubernetes-ha"))
    server.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
    admin = server.api_client()
    core = client.CoreV1Api(admin)
    apps = f"acme-ha-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": apps}})
    token = core.create_namespaced_service_account_token(
        "edgeway", NS, {"spec": {"expirationSeconds": 3600}}
    ).status.token
    tmp = tmp_path_factory.mktemp("acme-ha")
    dynamic = tmp / "dynamic" / "dynamic.yml"
    dynamic.parent.mkdir()
    write_atomically(dynamic, "{}\n")
    # Only the options below connect: no kubeconfig or in-cluster fallback (as admin).
    kube = {"endpoint": server.url, "token": token, "certAuthFilePath": str(server.ca_file)}
    environ = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_")}
    environ["KUBECONFIG"] = str(tmp / "no-kubeconfig")

    with contextlib.ExitStack() as stack:
        backend = ThreadingHTTPServer(("127.0.0.1", 0), _App)
        threading.Thread(target=backend.serve_forever, daemon=True).start()
        stack.callback(backend.shutdown)
        pebble = Pebble(tmp)
        stack.callback(pebble.stop)
        pebble.start()
        acme = {"email": "admin@example.com", "caServer": pebble.directory,
                "caCertificates": [str(pebble.ca_file)]}  # fmt: skip

        def static(web: int, websecure: int) -> dict[str, Any]:
            return static_configuration(web=web, websecure=websecure, dynamic=dynamic, kube=kube,
                                        namespaces=[apps], acme=acme, storage=STORAGE)  # fmt: skip

        replicas = {
            f"replica-{i}": Replica(f"replica-{i}", tmp / f"replica-{i}", static)
            for i in range(REPLICAS)
        }
        ha = HA(server, admin, apps, pebble, "", ValidationForwarder(
            {"http": pebble.http_port, "tls": pebble.tls_port}, lambda: ha.held(), lambda: ha.published()),
            replicas, environ, dynamic, backend.server_address[1])  # fmt: skip
        ha.forwarder.start()
        stack.callback(ha.forwarder.stop)
        stack.callback(lambda: [r.stop() for r in replicas.values()])
        stack.callback(lambda: [r.terminate() for r in replicas.values()])
        for replica in replicas.values():
            replica.start(environ)
            ha.forwarder.replicas[replica.name] = replica.ports
        for replica in replicas.values():
            replica.wait_listening()
        ha.root = pebble.root_pem()
        yield ha
        print(f"\n[acme-ha] summary: {len(ha.domains)} certificates, {pebble.orders()} orders "
              "in pebble's log", flush=True)  # fmt: skip
        for figure in ha.figures:
            print(figure.line(), flush=True)


# -- scenarios (in this order: they share the three replicas) ------------------------------


def _one_order_served_by_all(
    ha: HA, figure: Figure, host: str, record_property: Callable[[str, object], None]
) -> None:
    assert figure.orders == 1
    for replica in ha.alive:
        assert https_get(replica.websecure, host, ha.root) == 200
    _record(record_property, figure)


def _record(record_property: Callable[[str, object], None], figure: Figure) -> None:
    record_property("orders", figure.orders)
    record_property("seconds_until_first_replica_serves", round(figure.first_serving, 3))
    record_property("seconds_until_all_replicas_serve", round(figure.all_serving, 3))


def test_http01_one_order_and_every_replica_serves(
    ha: HA, record_property: Callable[[str, object], None]
) -> None:
    domains = ["http.ha.test", "www.http.ha.test"]  # two validations: both other replicas
    figure = ha.issue("HTTP-01 (file provider)", domains,
                      lambda: ha.add_file_router("http", "le-http", domains))  # fmt: skip
    assert figure.orders == 1
    assert len(figure.ordered_by) == 1  # one replica held the Lease; the others answered
    # The first certificate: no other Lease exists, so both other replicas got some.
    assert set(figure.answered_by) == {r.name for r in ha.alive} - figure.ordered_by
    for replica in ha.alive:  # the route works on each
        assert https_get(replica.websecure, "www.http.ha.test", ha.root) == 200
    _record(record_property, figure)


def test_tlsalpn01_one_order_and_every_replica_serves(
    ha: HA, record_property: Callable[[str, object], None]
) -> None:
    domains = ["tls.ha.test", "www.tls.ha.test"]
    figure = ha.issue("TLS-ALPN-01 (file provider)", domains,
                      lambda: ha.add_file_router("tls", "le-tls", domains))  # fmt: skip
    assert figure.orders == 1
    assert len(figure.ordered_by) == 1
    assert set(figure.answered_by) <= {r.name for r in ha.alive} - figure.ordered_by
    _record(record_property, figure)


def _service_and_slice(ha: HA) -> None:
    """Service ``web`` in the apps namespace, its one slice pointing at the backend."""
    ha.create("/api/v1/namespaces/{ns}/services", {
        "metadata": {"name": "web"},
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})  # fmt: skip
    ha.create("/apis/discovery.k8s.io/v1beta1/namespaces/{ns}/endpointslices", {
        "apiVersion": "discovery.k8s.io/v1beta1", "kind": "EndpointSlice",
        "metadata": {"name": "web-1", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": ha.backend_port, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
    })  # fmt: skip


def test_ingress_certresolver_annotation(
    ha: HA, record_property: Callable[[str, object], None]
) -> None:
    _service_and_slice(ha)
    prefix = "traefik.ingress.kubernetes.io/router."
    ingress = {
        "metadata": {"name": "site", "annotations": {
            f"{prefix}entrypoints": "websecure", f"{prefix}tls": "true",
            f"{prefix}tls.certresolver": "le-tls"}},
        "spec": {"rules": [{"host": "ingress.ha.test", "http": {"paths": [{
            "path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}}]},
    }  # fmt: skip
    figure = ha.issue(
        "TLS-ALPN-01 (Ingress provider)",
        ["ingress.ha.test"],
        lambda: ha.create("/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses", ingress),
    )
    _one_order_served_by_all(ha, figure, "ingress.ha.test", record_property)


def test_ingressroute_tls_certresolver(
    ha: HA, record_property: Callable[[str, object], None]
) -> None:
    route = {
        "apiVersion": "traefik.io/v1alpha1", "kind": "IngressRoute",
        "metadata": {"name": "site"},
        "spec": {"entryPoints": ["websecure"],
                 "routes": [{"match": "Host(`crd.ha.test`)", "kind": "Rule",
                             "services": [{"name": "web", "port": 80}]}],
                 "tls": {"certResolver": "le-http"}},
    }  # fmt: skip
    figure = ha.issue(
        "HTTP-01 (CRD provider)",
        ["crd.ha.test"],
        lambda: ha.create("/apis/traefik.io/v1alpha1/namespaces/{ns}/ingressroutes", route),
    )
    _one_order_served_by_all(ha, figure, "crd.ha.test", record_property)


def _kill_the_holder(
    ha: HA, before: set[str], when: Callable[[Lease], bool], keep: float = 0
) -> Callable[[], None]:
    """What to do right after configuring: wait for a new Lease with a holder for which
    ``when`` holds, SIGKILL that holder, then let the held validations through.

    ``keep``: first watch the Lease that long (the order is stalled at the
    forwarder): the holder must keep it, renewing it every LEASE/3 seconds."""

    def kill() -> None:
        end = time.monotonic() + DEADLINE
        while True:
            found = [x for x in ha.leases() if x.name not in before and x.holder and when(x)]
            if found:
                break
            assert time.monotonic() < end, f"no Lease as expected: {ha.leases()}"
            time.sleep(0.02)
        lease, holder = found[0].name, found[0].holder
        renewals = {found[0].renewed}
        end = time.monotonic() + keep
        while time.monotonic() < end:  # a stalled order keeps its Lease
            [now] = [x for x in ha.leases() if x.name == lease]
            assert now.holder == holder, f"{now.holder} took the Lease from a live {holder}"
            renewals.add(now.renewed)
            time.sleep(0.1)
        # Renewed every LEASE/3 seconds: at least twice per LEASE, even on a busy machine.
        assert len(renewals) - 1 >= 2 * keep // LEASE, f"renewTime values: {sorted(renewals)}"
        ha.replicas[holder].kill()
        ha.forwarder.dead.add(holder)
        ha.killed.append((holder, time.monotonic()))
        ha.forwarder.release()
        end = time.monotonic() + LEASE + TAKEOVER_MARGIN
        while True:  # the Lease changes hands once it has expired
            current = {x.name: x.holder for x in ha.leases()}.get(lease, "")
            if current not in ("", holder):
                ha.successors.append(current)
                return
            assert time.monotonic() < end, f"nobody took Lease {lease} over from {holder}"
            time.sleep(0.02)

    return kill


def _takeover(ha: HA, scenario: str, domains: list[str], resolver: str,
              when: Callable[[Lease], bool], record_property: Callable[[str, object], None],
              keep: float = 0) -> tuple[str, Figure]:  # fmt: skip
    """Order ``domains`` with validations held at the forwarder, kill the Lease holder
    once ``when(lease)``: another replica must finish with the same order."""
    before = {lease.name for lease in ha.leases()}
    ha.forwarder.hold()
    try:
        figure = ha.issue(scenario, domains,
                          lambda: ha.add_file_router(domains[0].split(".")[0], resolver, domains),
                          _kill_the_holder(ha, before, when, keep))  # fmt: skip
    finally:
        ha.forwarder.release()
    holder, at = ha.killed[-1]
    takeover = figure.start + figure.all_serving - at
    survivors = {r.name for r in ha.alive}
    assert holder not in survivors and len(survivors) == REPLICAS - 1
    assert ha.successors[-1] in survivors
    assert figure.orders == 1  # resumed from the Lease's edgeway.io/acme-order, not re-ordered
    print(f"[acme-ha] {scenario}: killed {holder}, {ha.successors[-1]} took over; the others serve "
          f"{takeover:.2f} s after the kill (Lease {LEASE} s)", flush=True)  # fmt: skip
    record_property("seconds_from_kill_until_survivors_serve", round(takeover, 3))
    assert takeover <= LEASE + TAKEOVER_MARGIN
    _record(record_property, figure)
    return holder, figure


def _restart(ha: HA, name: str) -> None:
    """The killed pod comes back (same name): it serves every certificate from the
    Secrets and orders nothing."""
    orders = ha.pebble.orders()
    ha.replicas[name].start(ha.environ).wait_listening()
    ha.forwarder.dead.discard(name)
    start = time.monotonic()
    for domains in ha.domains:
        ha.wait_all_serve(domains[0], start)
    assert ha.pebble.orders() == orders


def test_lease_holder_killed_after_ordering_another_replica_resumes_the_order(
    ha: HA, record_property: Callable[[str, object], None]
) -> None:
    """Killed as soon as the Lease records the order it placed (the CA has validated
    nothing yet): the successor answers that order's challenges and finalizes it."""
    holder, _ = _takeover(ha, "HTTP-01, holder killed once its order is placed",
                          ["kill.ha.test"], "le-http", lambda lease: bool(lease.order),
                          record_property)  # fmt: skip
    _restart(ha, holder)


def test_lease_holder_killed_while_the_ca_validates_another_replica_finalizes(
    ha: HA, record_property: Callable[[str, object], None]
) -> None:
    """Killed while the CA's validation connection waits at the forwarder (kept there
    1.5 Lease durations first: the stalled holder keeps renewing its Lease, nobody takes
    it): that validation is answered by another replica from the challenge the dead
    holder published, and the successor finalizes the same order."""
    waiting = ha.forwarder.waiting
    holder, figure = _takeover(
        ha, "TLS-ALPN-01, holder killed while the CA validates", ["midway.ha.test"], "le-tls",
        lambda lease: bool(lease.order) and ha.forwarder.waiting > waiting, record_property,
        keep=1.5 * LEASE,
    )  # fmt: skip
    # The validation was answered while the dead replica still held the Lease.
    assert holder in figure.ordered_by
    _restart(ha, holder)


def test_objects_are_as_the_contract_names_them(ha: HA) -> None:
    """One account Secret per resolver; per certificate a ``kubernetes.io/tls`` Secret
    with its domains and store, and a Lease of the same name, all labelled."""
    from kubernetes import client

    core = client.CoreV1Api(ha.admin)
    for resolver in ("le-http", "le-tls"):
        account = core.read_namespaced_secret(f"edgeway-acme-{resolver}-account", NS)
        assert account.type == "Opaque"
        assert account.metadata.labels == {
            "app.kubernetes.io/managed-by": "edgeway", "edgeway.io/acme-resolver": resolver,
            KIND_LABEL: "account"}  # fmt: skip
    certificates = core.list_namespaced_secret(NS, label_selector=f"{KIND_LABEL}=certificate")
    by_domains = {s.metadata.annotations[DOMAINS_ANNOTATION]: s for s in certificates.items}
    assert sorted(by_domains) == sorted(",".join(d) for d in ha.domains)
    leases = {lease.name for lease in ha.leases()}
    for secret in by_domains.values():
        assert secret.type == "kubernetes.io/tls" and set(secret.data) == {"tls.crt", "tls.key"}
        assert secret.metadata.annotations["edgeway.io/acme-store"] == "default"
        assert secret.metadata.labels["app.kubernetes.io/managed-by"] == "edgeway"
        assert secret.metadata.labels["edgeway.io/acme-resolver"] in ("le-http", "le-tls")
        assert secret.metadata.name in leases
    lease = client.CoordinationV1Api(ha.admin).read_namespaced_lease(
        next(iter(by_domains.values())).metadata.name, NS
    )
    assert lease.spec.lease_duration_seconds == LEASE
    assert lease.metadata.labels[KIND_LABEL] == "lease"


def test_one_order_per_certificate_overall_and_nothing_left_pending(ha: HA) -> None:
    """No replica ordered late (after the others served): pebble saw exactly one order
    per certificate over the whole module; no Lease is held and no challenge Secret
    is left (those of the killed holders included)."""
    from kubernetes import client

    assert ha.pebble.orders() == len(ha.domains)
    assert all(not lease.holder for lease in ha.leases())
    challenges = client.CoreV1Api(ha.admin).list_namespaced_secret(
        NS, label_selector=f"{KIND_LABEL}=challenge"
    )
    left = {s.metadata.name: base64.b64decode(s.data["domain"]).decode() for s in challenges.items}
    assert left == {}
