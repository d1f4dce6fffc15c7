"""``storage: kubernetes://<namespace>?leaseDuration=15s``: the shared ACME storage.

:class:`KubernetesAcmeStorage` is the :class:`~edgeway.acme.storage.AcmeStorage`
(account and certificate Secrets, a Lease per certificate ordered);
:class:`KubernetesAcmeBackend` is what the kernel gets for one URL: that
storage, a publisher per resolver, and the answers to validation requests
from the Secrets it watches (certificates and challenges of every resolver
in the namespace; a change is reported through ``changed()`` so resolvers
re-read the certificates and the TLS stores are rebuilt).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import re
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import anyio
from edgeway.acme.storage import Account, OrderLock, StoredCertificate
from edgeway.config.durations import parse_duration
from edgeway_kubernetes.client import SERVICE_ACCOUNT_DIR, KubeAPI
from edgeway_kubernetes.reflector import Reflector
from edgeway_kubernetes.selectors import parse_label_selector

from edgeway_kubernetes_acme.challenges import ChallengeAnswers, ChallengeSecrets
from edgeway_kubernetes_acme.lease import LeaseLock
from edgeway_kubernetes_acme.objects import (
    KIND_LABEL,
    MANAGED_BY,
    RESOLVER_LABEL,
    SECRET,
    WATCH_SELECTOR,
    account_from_secret,
    account_name,
    account_secret,
    certificate_from_secret,
    certificate_name,
    certificate_secret,
    labels,
    resolver_label,
)
from edgeway_kubernetes_acme.secrets import LockedStore, SecretsAPI

__all__ = [
    "DEFAULT_LEASE_DURATION",
    "KubernetesAcmeBackend",
    "KubernetesAcmeStorage",
    "StorageURL",
    "parse_storage_url",
    "replica_identity",
]

SCHEME = "kubernetes"
DEFAULT_LEASE_DURATION = 15
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_identities = itertools.count(1)


@dataclass(frozen=True)
class StorageURL:
    namespace: str
    #: Seconds (``leaseDurationSeconds``).
    lease_duration: int = DEFAULT_LEASE_DURATION


def parse_storage_url(url: str, *, service_account_dir: str = SERVICE_ACCOUNT_DIR) -> StorageURL:
    """``kubernetes://<namespace>?leaseDuration=<Go duration>``; ValueError naming the problem.

    No namespace: the pod's (the service account's ``namespace`` file), else ``default``.
    """
    parts = urlsplit(url)
    where = f"ACME storage {url!r}"
    if parts.scheme.lower() != SCHEME:
        raise ValueError(f"{where}: not a {SCHEME}:// URL")
    if parts.path not in ("", "/") or parts.fragment or "@" in parts.netloc or ":" in parts.netloc:
        raise ValueError(f"{where}: expected {SCHEME}://<namespace>[?leaseDuration=15s]")
    namespace = parts.netloc
    if not namespace:
        try:
            with open(os.path.join(service_account_dir, "namespace"), encoding="utf-8") as fh:
                namespace = fh.read().strip()
        except OSError:
            namespace = ""
        namespace = namespace or "default"
    if not _NAMESPACE.match(namespace):
        raise ValueError(f"{where}: {namespace!r} is not a valid namespace name (DNS-1123 label)")
    duration = DEFAULT_LEASE_DURATION
    try:
        query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise ValueError(f"{where}: unreadable query {parts.query!r}") from None
    for key, value in query:
        if key != "leaseDuration":
            raise ValueError(f"{where}: unknown parameter {key!r} (known: leaseDuration)")
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            raise ValueError(f"{where}: leaseDuration: {exc}") from None
        if seconds < 1:
            raise ValueError(f"{where}: leaseDuration must be at least 1s, not {value!r}")
        duration = math.ceil(seconds)
    return StorageURL(namespace, duration)


def replica_identity(environ: dict[str, str] | None = None) -> str:
    """``POD_NAME``, else ``<hostname>-<pid>`` (``-2``, ``-3``... for more storages in one process)."""
    env = os.environ if environ is None else environ
    name = env.get("POD_NAME", "").strip()
    if name:
        return name
    n = next(_identities)
    base = f"{socket.gethostname()}-{os.getpid()}"
    return base if n == 1 else f"{base}-{n}"


def _selector(resolver: str, kind: str) -> str:
    return f"{MANAGED_BY[0]}={MANAGED_BY[1]},{RESOLVER_LABEL}={resolver_label(resolver)},{KIND_LABEL}={kind}"


class KubernetesAcmeStorage:
    """Accounts and certificates as Secrets, a Lease per certificate being ordered (blocking)."""

    def __init__(self, secrets: SecretsAPI, leases: LeaseLock) -> None:
        self.secrets = secrets
        self.leases = leases

    def load_account(self, resolver: str) -> Account | None:
        found = self.secrets.read(account_name(resolver))
        return account_from_secret(found) if found is not None else None

    def save_account(self, resolver: str, account: Account) -> None:
        """The first registered account stays: a replica that registered another
        at the same time switches to it (the resolver reads it back)."""
        body = account_secret(resolver, account)
        if self.secrets.create(body):
            return
        existing = self.load_account(resolver)
        if existing is None or not existing.uri or existing.private_key == account.private_key:
            self.secrets.write(body, cache=False)

    def load_certificates(self, resolver: str) -> list[StoredCertificate]:
        items = self.secrets.list(_selector(resolver, "certificate"))
        for item in items:
            self.secrets.cache.put(item)
        return _certificates(items)

    def cached_certificates(self, resolver: str) -> list[StoredCertificate]:
        selector = parse_label_selector(_selector(resolver, "certificate"))
        return _certificates(
            self.secrets.cache.list_objects(SECRET.kind, self.secrets.namespace, selector)
        )

    def save_certificate(self, resolver: str, certificate: StoredCertificate) -> None:
        """Written as is, keeping the TLS store a previous version was in (as acme.json does)."""
        old = self.secrets.cached(certificate_name(resolver, certificate.domains))
        previous = certificate_from_secret(old) if old is not None else None
        if previous is not None:
            certificate = replace(certificate, store=previous.store)
        self.secrets.write(certificate_secret(resolver, certificate))

    @contextlib.contextmanager
    def order_lock(self, resolver: str, domains: tuple[str, ...]) -> Iterator[OrderLock]:
        with self.leases.hold(
            certificate_name(resolver, domains), labels(resolver, "lease")
        ) as held:
            yield held


def _certificates(secrets: Iterable[Mapping[str, Any]]) -> list[StoredCertificate]:
    found = (certificate_from_secret(s) for s in secrets)
    return sorted((c for c in found if c is not None), key=lambda c: c.domains)


class KubernetesAcmeBackend:
    """One ``kubernetes://`` URL: the storage, publishers and answers (an ``AcmeBackend``)."""

    def __init__(
        self,
        api: KubeAPI,
        location: StorageURL,
        identity: str,
        changed: Callable[[], None] = lambda: None,
        *,
        poll: float = 0.5,
    ) -> None:
        self.api = api
        self.location = location
        self.identity = identity
        self.changed = changed
        self.closed = False
        self.cache = LockedStore()
        self.secrets = SecretsAPI(api, location.namespace, self.cache)
        self.leases = LeaseLock(api, location.namespace, identity, location.lease_duration,
                                poll=poll, closed=lambda: self.closed)  # fmt: skip
        self.storage = KubernetesAcmeStorage(self.secrets, self.leases)
        self.answers = ChallengeAnswers(self.secrets)
        self.reflector = Reflector(
            api, SECRET, self.cache, self._watched, namespace=location.namespace,
            label_selector=WATCH_SELECTOR, limiter=anyio.CapacityLimiter(1),
        )  # fmt: skip

    async def run(self) -> None:
        """Watch the certificate and challenge Secrets until cancelled."""
        try:
            await self.reflector.run()
        finally:
            self.closed = True

    def _watched(self) -> None:
        self.changed()

    def publisher(self, resolver: str) -> ChallengeSecrets:
        return ChallengeSecrets(self.secrets, resolver, self.changed)

    def http01(self, domain: str, token: str) -> str | None:
        return self.answers.http01(domain, token)

    def tlsalpn01_certificates(self) -> list[tuple[bytes, bytes]]:
        return self.answers.tlsalpn01_certificates()

    def fetch_http01(self, domain: str, token: str) -> str | None:
        return self.answers.fetch_http01(domain, token)

    def fetch_tlsalpn01(self, domain: str) -> tuple[bytes, bytes] | None:
        found = self.answers.fetch_tlsalpn01(domain)
        if found is not None:
            self.changed()  # now in the cache: later handshakes need no read
        return found

    def close(self) -> None:
        self.closed = True
