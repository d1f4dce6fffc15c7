"""One certificate resolver (``certificatesResolvers.<name>.acme``): Traefik's ACME provider.

Which domains it obtains (``watchNewDomains``): for every HTTP or TCP router whose
``tls.certResolver`` names it, each entry of ``tls.domains`` (duplicates and
names covered by an earlier wildcard removed, ``deleteUnnecessaryDomains``), else
one certificate for the ``Host()`` / ``HostSNI()`` names of the rule. Names
already covered by a certificate of the default store, of this resolver, or
being ordered are not ordered again (``getUncheckedDomains``). Renewal
(``renewCertificates``): every ``renew_interval``, certificates expiring within
``renew_period`` (both from ``certificatesDuration``) are ordered again with
their key. The blocking protocol runs in worker threads; a new certificate is
saved, then the kernel rebuilds its TLS stores (connections keep theirs).

With a storage shared by several replicas, ordering happens under the
storage's lock for those domains: after taking it the storage is read again
and nothing is ordered when another replica stored a certificate that is not
due; an order a dead holder recorded is resumed; the certificate is saved
before the lock is released.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import anyio
from cryptography import x509

from edgeway.tls.store import match_domain

from .client import AcmeClient, Solvers
from .storage import AcmeStorage, StoredCertificate

__all__ = ["Resolver", "ResolverSettings", "delete_unnecessary_domains", "renew_durations"]

log = logging.getLogger("edgeway.acme")

HOUR = 3600.0
DAY = 24 * HOUR


def renew_durations(certificates_duration: int) -> tuple[float, float]:
    """``getCertificateRenewDurations``: (renew period before expiry, check interval) in seconds."""
    if certificates_duration >= 365 * 24:
        return 4 * 30 * DAY, 7 * DAY
    if certificates_duration >= 3 * 30 * 24:
        return 30 * DAY, DAY
    if certificates_duration >= 30 * 24:
        return 10 * DAY, 12 * HOUR
    if certificates_duration >= 6 * 24:
        return 2 * DAY, 2 * HOUR
    if certificates_duration >= 24:
        return 6 * HOUR, 10 * 60.0
    return 20 * 60.0, 60.0


def canonical(domain: str) -> str:
    """``types.CanonicalDomain`` + ``dns01.UnFqdn``."""
    return domain.strip().lower().removesuffix(".")


def sanitize(domains: Iterable[str]) -> list[str]:
    out = [canonical(d) for d in domains if d]
    if not out:
        raise ValueError("no domain was given")
    for d in out:
        if d.startswith("*.*"):
            raise ValueError(
                f"unable to generate a wildcard certificate in ACME provider for domain {','.join(out)!r} : "
                "ACME does not allow '*.*' wildcard domain"
            )
    return out


def _checked(domain: str, existing: Iterable[str]) -> bool:
    """``isDomainAlreadyChecked``: entries are comma-joined domain lists."""
    return any(match_domain(domain, d) for entry in existing for d in entry.split(","))


def delete_unnecessary_domains(domains: list[list[str]]) -> list[list[str]]:
    """``deleteUnnecessaryDomains`` over ``[main, *sans]`` lists."""
    out: list[list[str]] = []
    for i, to_check in enumerate(domains):
        to_check = list(to_check)
        keep = True
        for j, other in enumerate(domains):
            if i == j:
                continue
            if other == domains[i]:
                if i > j:
                    keep = False
                break
            kept = [
                d for d in to_check
                if not (j < i and _checked(d, [",".join(other)]))
                and not (other[0] != d and other[0].startswith("*") and _checked(d, [other[0]]))
            ]  # fmt: skip
            if not kept:
                keep = False
                break
            to_check = kept
        if keep:
            out.append(to_check)
    return out


@dataclass
class ResolverSettings:
    name: str
    directory_url: str
    email: str
    key_type: str
    common_name: bool
    email_addresses: tuple[str, ...]
    certificates_duration: int
    certificate_timeout: float
    client_timeout: float
    verify: bool | str
    eab: tuple[str, str] | None
    solvers: Solvers


@dataclass
class Resolver:
    settings: ResolverSettings
    storage: AcmeStorage
    #: Call after the served certificates changed (thread-safe).
    changed: Callable[[], None]
    #: Domains of the default TLS store's other certificates (comma-joined per certificate).
    store_domains: Callable[[], Iterable[str]] = lambda: ()
    certificates: list[StoredCertificate] = field(default_factory=list)
    #: How many orders this resolver placed (observability and tests).
    orders: int = 0
    _resolving: set[str] = field(default_factory=set)
    _client: AcmeClient | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _client_lock: threading.Lock = field(default_factory=threading.Lock)
    _stopped: bool = False

    def __post_init__(self) -> None:
        self.certificates = self.storage.cached_certificates(self.settings.name)

    @property
    def name(self) -> str:
        return self.settings.name

    def stop(self) -> None:
        self._stopped = True

    # -- which domains --------------------------------------------------------------

    def wanted(self, routers: Iterable[Any]) -> list[list[str]]:
        """The domain lists routers ask this resolver for (``watchNewDomains``)."""
        from edgeway.rules.domains import rule_hosts

        out: list[list[str]] = []
        for router, tcp in routers:
            tls = router.tls
            if tls is None or tls.certResolver != self.name:
                continue
            if tls.domains:
                lists = [[d.main or "", *(d.sans or ())] for d in tls.domains]
                out.extend(delete_unnecessary_domains(lists))
            else:
                try:
                    hosts = rule_hosts(router.rule or "", tcp=tcp)
                except Exception as exc:
                    log.error("resolver %s: Error parsing domains in provider ACME: %s", self.name, exc)
                    continue
                if hosts:
                    out.append(hosts)
        return out

    def unchecked(self, domains: list[str]) -> list[str]:
        """``getUncheckedDomains``: the names nothing covers yet, now marked as resolving."""
        with self._lock:
            existing = [*self.store_domains(), *(",".join(c.domains) for c in self.certificates), *self._resolving]
            missing = [d for d in domains if not _checked(d, existing)]
            self._resolving.update(missing)
        return missing

    # -- ordering -------------------------------------------------------------------

    async def resolve(self, domains: list[str]) -> None:
        """``resolveCertificate`` + ``addCertificateForDomain``; errors are logged."""
        try:
            clean = sanitize(domains)
        except ValueError as exc:
            log.error("resolver %s: Unable to obtain ACME certificate for domains %s: %s", self.name, domains, exc)
            return
        missing = self.unchecked(clean)
        if not missing:
            return
        try:
            obtained = await anyio.to_thread.run_sync(
                self._obtain, clean, None, lambda chain, key: StoredCertificate(missing[0], tuple(missing[1:]), chain, key),
                abandon_on_cancel=True,
            )  # fmt: skip
            if obtained is None:
                self.reload()
            else:
                self._add(obtained)
        except Exception as exc:
            log.error("resolver %s: Unable to obtain ACME certificate for domains %s: %s", self.name, missing, exc)
        finally:
            with self._lock:
                self._resolving.difference_update(missing)

    async def renew(self) -> None:
        """``renewCertificates``: order again what expires within the renew period."""
        period, _ = renew_durations(self.settings.certificates_duration)
        due = [c for c in self.certificates if _expires_before(c, time.time() + period)]
        for cert in due:
            try:
                obtained = await anyio.to_thread.run_sync(
                    self._obtain, list(cert.domains), cert.key,
                    lambda chain, key, c=cert: StoredCertificate(c.main, c.sans, chain, key, c.store),
                    abandon_on_cancel=True,
                )  # fmt: skip
            except Exception as exc:
                log.error("resolver %s: Error renewing ACME certificate: %s: %s", self.name, cert.domains, exc)
                continue
            if obtained is None:
                self.reload()
            else:
                self._add(obtained)

    async def run(self) -> None:
        """Renew now, then every renew interval."""
        while True:
            await self.renew()
            _, interval = renew_durations(self.settings.certificates_duration)
            await anyio.sleep(interval)

    def _client_now(self) -> AcmeClient:
        with self._client_lock:
            if self._client is None:
                client = self._new_client()
                # Replicas sharing the storage may register at once: the stored
                # account wins, so every replica can resume the others' orders.
                stored = self.storage.load_account(self.name)
                if stored is not None and stored.private_key != client.account.private_key:
                    client = self._new_client()
                self._client = client
            return self._client

    def _new_client(self) -> AcmeClient:
        s = self.settings
        return AcmeClient(
            s.directory_url,
            self.storage.load_account(s.name),
            s.email,
            verify=s.verify,
            timeout=s.client_timeout,
            eab=s.eab,
            save_account=lambda acc: self.storage.save_account(s.name, acc),
        )

    def _obtain(
        self, domains: list[str], key: bytes | None, stored: Callable[[bytes, bytes], StoredCertificate]
    ) -> StoredCertificate | None:
        """Order under the storage's lock and save the certificate (``stored(chain,
        key)``) before releasing it, so the next holder finds it; None when the
        storage, read after taking the lock, already has a certificate for
        ``domains`` that is not due (another replica obtained it meanwhile)."""
        s = self.settings
        with self.storage.order_lock(s.name, tuple(domains)) as lock:
            if self._stored_valid(domains):
                log.info("resolver %s: a certificate for %s was stored meanwhile; not ordering", s.name, domains)
                return None
            client = self._client_now()
            self.orders += 1
            log.info("resolver %s: ordering a certificate for %s", s.name, domains)
            chain, new_key = client.obtain(
                domains, key, key_type=s.key_type, common_name=s.common_name,
                email_addresses=s.email_addresses, solvers=s.solvers,
                certificate_timeout=s.certificate_timeout, stop=lambda: self._stopped,
                resume=lock.resume_order, record=lock.record_order,
            )  # fmt: skip
            cert = stored(chain, new_key)
            self.storage.save_certificate(s.name, cert)
            return cert

    def _stored_valid(self, domains: list[str]) -> bool:
        period, _ = renew_durations(self.settings.certificates_duration)
        due = time.time() + period
        for cert in self.storage.load_certificates(self.name):
            covered = ",".join(cert.domains)
            if all(_checked(d, [covered]) for d in domains) and not _expires_before(cert, due):
                return True
        return False

    def reload(self) -> None:
        """Take the certificates the storage has now (another replica stored some).

        Read and taken under the lock: reloads run on the event loop and in worker
        threads (a challenge read on a cache miss), and a snapshot read before
        another reload's must not replace it after."""
        with self._lock:
            self.certificates = self.storage.cached_certificates(self.name)
        self.changed()

    def _add(self, cert: StoredCertificate) -> None:
        """Serve ``cert`` (already saved)."""
        with self._lock:
            for i, old in enumerate(self.certificates):
                if (old.main, old.sans) == (cert.main, cert.sans):
                    self.certificates[i] = cert
                    break
            else:
                self.certificates.append(cert)
        self.changed()


def _expires_before(cert: StoredCertificate, when: float) -> bool:
    """``getX509Certificate`` errors count as expired (the certificate is renewed)."""
    try:
        leaf = x509.load_pem_x509_certificate(cert.certificate)
    except ValueError:
        return True
    return leaf.not_valid_after_utc.timestamp() < when
