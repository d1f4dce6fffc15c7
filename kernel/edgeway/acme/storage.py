"""Where ACME accounts, certificates and pending challenges live.

Resolvers only talk to the two interfaces below, so a backend shared by several
replicas (Kubernetes Secrets and Leases) can replace the local ones without
touching the ordering logic:

- :class:`AcmeStorage`: the account and the certificates of each resolver, and
  a lock held while one certificate is ordered;
- :class:`ChallengePublisher`: pending HTTP-01 tokens and TLS-ALPN-01
  certificates, read by whoever answers the CA's validation request;
- :class:`AcmeBackend`: what a ``register_acme_storages`` plugin gives for a
  ``storage: <scheme>://...`` URL (both of the above, shared by replicas, plus
  the answers to validation requests, with a direct read on a cache miss).

:class:`LocalStore` is Traefik's ``acme.json`` (pkg/provider/acme/local_store.go):
one JSON object, resolver name -> ``{"Account": ..., "Certificates": [...]}``,
byte fields base64 as Go's ``encoding/json`` writes ``[]byte``; a file readable by
group or others is refused as Traefik refuses it (``CheckFile``). Unlike
Traefik it is written atomically (temporary file, fsync, rename, fsync of the
directory) so a crash leaves the old or the new file, never half of one.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

__all__ = [
    "Account",
    "AcmeBackend",
    "AcmeStorage",
    "OrderLock",
    "ChallengePublisher",
    "LocalStore",
    "StorageError",
    "StoredCertificate",
]

log = logging.getLogger("edgeway.acme")


class StorageError(Exception):
    """The storage cannot be read or written (bad permissions, bad JSON)."""


@dataclass(frozen=True)
class Account:
    """An ACME account: Traefik's ``Account`` (PKCS#1 DER RSA key, as Traefik makes)."""

    email: str
    private_key: bytes
    #: ``{"body": {"status", "contact"...}, "uri": account URL}``; None: not registered.
    registration: dict[str, Any] | None = None

    @property
    def uri(self) -> str:
        return str((self.registration or {}).get("uri") or "")


@dataclass(frozen=True)
class StoredCertificate:
    """An obtained certificate: chain and key PEM, the domains it was ordered for."""

    main: str
    sans: tuple[str, ...]
    certificate: bytes
    key: bytes
    store: str = "default"

    @property
    def domains(self) -> tuple[str, ...]:
        return (self.main, *self.sans)


class OrderLock(Protocol):
    """What :meth:`AcmeStorage.order_lock` gives its holder."""

    #: An order a previous holder placed and did not finish (its URL): resume it.
    resume_order: str | None

    def record_order(self, url: str) -> None:
        """The order being worked on, for whoever takes over if this holder dies."""
        ...


class AcmeStorage(Protocol):
    """Accounts and certificates by resolver name (thread-safe; called from worker threads)."""

    def load_account(self, resolver: str) -> Account | None: ...

    def save_account(self, resolver: str, account: Account) -> None: ...

    def load_certificates(self, resolver: str) -> list[StoredCertificate]:
        """The certificates as stored now (may block: a shared storage reads it)."""
        ...

    def cached_certificates(self, resolver: str) -> list[StoredCertificate]:
        """The certificates as last seen, without blocking (safe on the event loop)."""
        ...

    def save_certificate(self, resolver: str, certificate: StoredCertificate) -> None:
        """Add ``certificate``, or replace the one ordered for the same domains."""
        ...

    def order_lock(self, resolver: str, domains: tuple[str, ...]) -> contextlib.AbstractContextManager[OrderLock]:
        """Held while ``domains`` are ordered; the resolver re-reads the
        certificates after taking it (another holder may have stored one)."""
        ...


class ChallengePublisher(Protocol):
    """Pending challenges, published until the CA has validated them."""

    def publish_http01(self, domain: str, token: str, key_authorization: str) -> None: ...

    def withdraw_http01(self, domain: str, token: str) -> None: ...

    def http01(self, domain: str, token: str) -> str | None:
        """The key authorization to answer ``/.well-known/acme-challenge/<token>`` with."""
        ...

    def publish_tlsalpn01(self, domain: str, cert_pem: bytes, key_pem: bytes) -> None: ...

    def withdraw_tlsalpn01(self, domain: str) -> None: ...

    def tlsalpn01_certificates(self) -> list[tuple[bytes, bytes]]:
        """The ``acme-tls/1`` certificates to serve now."""
        ...


class AcmeBackend(Protocol):
    """A storage shared by several edgeway processes (``register_acme_storages``).

    Answering runs on the event loop from what the backend last saw
    (``http01``, ``tlsalpn01_certificates``); on a miss the kernel calls the
    blocking ``fetch_*`` in a worker thread, so a validation request racing the
    backend's watch is still answered.
    """

    storage: AcmeStorage

    def publisher(self, resolver: str) -> ChallengePublisher:
        """Where ``resolver`` publishes its pending challenges."""
        ...

    def http01(self, domain: str, token: str) -> str | None: ...

    def tlsalpn01_certificates(self) -> list[tuple[bytes, bytes]]: ...

    def fetch_http01(self, domain: str, token: str) -> str | None:
        """A direct (blocking) read of a published HTTP-01 key authorization."""
        ...

    def fetch_tlsalpn01(self, domain: str) -> tuple[bytes, bytes] | None:
        """A direct (blocking) read of a published TLS-ALPN-01 certificate and key."""
        ...

    def close(self) -> None: ...


# --- acme.json ---------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(value: Any, what: str) -> bytes:
    if not value:
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except (ValueError, TypeError) as exc:
        raise StorageError(f"{what}: not base64: {exc}") from None


class _ProcessOrder:
    """One process: nobody can take an order over, nothing to record."""

    resume_order: str | None = None

    def record_order(self, url: str) -> None:
        pass


@dataclass
class _Resolver:
    account: Account | None = None
    certificates: list[StoredCertificate] = field(default_factory=list)


class LocalStore:
    """Traefik's ``acme.json`` (shared by every resolver naming the same file)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._order_locks: dict[tuple[str, tuple[str, ...]], threading.Lock] = {}
        self._data: dict[str, _Resolver] | None = None
        #: Resolvers and keys of the file we do not model, written back as read.
        self._raw: dict[str, Any] = {}

    # -- AcmeStorage -----------------------------------------------------------------

    def load_account(self, resolver: str) -> Account | None:
        with self._lock:
            return self._resolver(resolver).account

    def save_account(self, resolver: str, account: Account) -> None:
        with self._lock:
            self._resolver(resolver).account = account
            self._write()

    def load_certificates(self, resolver: str) -> list[StoredCertificate]:
        with self._lock:
            return list(self._resolver(resolver).certificates)

    cached_certificates = load_certificates

    def save_certificate(self, resolver: str, certificate: StoredCertificate) -> None:
        with self._lock:
            entry = self._resolver(resolver)
            for i, old in enumerate(entry.certificates):
                if (old.main, old.sans) == (certificate.main, certificate.sans):
                    entry.certificates[i] = replace(certificate, store=old.store)
                    break
            else:
                entry.certificates.append(certificate)
            self._write()

    @contextlib.contextmanager
    def order_lock(self, resolver: str, domains: tuple[str, ...]) -> Iterator[OrderLock]:
        with self._lock:
            lock = self._order_locks.setdefault((resolver, domains), threading.Lock())
        with lock:
            yield _ProcessOrder()

    # -- file ------------------------------------------------------------------------

    def _resolver(self, name: str) -> _Resolver:
        if self._data is None:
            self._data = self._read()
        return self._data.setdefault(name, _Resolver())

    def _read(self) -> dict[str, _Resolver]:
        """``CheckFile`` then parse: a missing file is created empty with mode 0600."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            try:
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except OSError as exc:
                raise StorageError(f"cannot create {self.path}: {exc}") from None
            return {}
        except OSError as exc:
            raise StorageError(f"cannot open {self.path}: {exc}") from None
        with os.fdopen(fd, "rb") as f:
            mode = os.fstat(f.fileno()).st_mode & 0o777
            if mode & 0o077:
                raise StorageError(f"permissions {mode:o} for {self.path} are too open, please use 600")
            content = f.read()
        if not content.strip():
            return {}
        try:
            raw = json.loads(content)
        except ValueError as exc:
            raise StorageError(f"{self.path}: invalid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise StorageError(f"{self.path}: expected a JSON object of resolvers")
        self._raw = raw
        return {name: self._parse_resolver(name, value or {}) for name, value in raw.items()}

    def _parse_resolver(self, name: str, value: dict[str, Any]) -> _Resolver:
        where = f"{self.path}: resolver {name}"
        entry = _Resolver()
        acc = value.get("Account")
        if acc:
            entry.account = Account(
                email=str(acc.get("Email") or ""),
                private_key=_unb64(acc.get("PrivateKey"), f"{where}: Account.PrivateKey"),
                registration=acc.get("Registration") or None,
            )
        for item in value.get("Certificates") or ():
            domain = item.get("domain") or {}
            cert = _unb64(item.get("certificate"), f"{where}: certificate")
            key = _unb64(item.get("key"), f"{where}: key")
            if not cert or not key:  # Traefik drops certificates with no value
                log.debug("%s: deleting empty certificate for %s", where, domain)
                continue
            entry.certificates.append(
                StoredCertificate(
                    main=str(domain.get("main") or ""),
                    sans=tuple(domain.get("sans") or ()),
                    certificate=cert,
                    key=key,
                    store=str(item.get("Store") or "default"),
                )
            )
        return entry

    def _serialise(self) -> dict[str, Any]:
        out = dict(self._raw)
        for name, entry in (self._data or {}).items():
            acc = entry.account
            certs = [
                {
                    "domain": {"main": c.main, **({"sans": list(c.sans)} if c.sans else {})},
                    "certificate": _b64(c.certificate),
                    "key": _b64(c.key),
                    "Store": c.store,
                }
                for c in entry.certificates
            ]
            out[name] = {
                "Account": None
                if acc is None
                else {
                    "Email": acc.email,
                    "Registration": acc.registration,
                    "PrivateKey": _b64(acc.private_key),
                    "KeyType": "4096",
                },
                "Certificates": certs or None,
            }
        return out

    def _write(self) -> None:
        """Atomically: a temporary file beside it, fsync, rename, fsync the directory."""
        data = json.dumps(self._serialise(), indent=2).encode()
        directory = os.path.dirname(os.path.abspath(self.path))
        fd, tmp = tempfile.mkstemp(prefix=".acme-", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                os.fchmod(f.fileno(), 0o600)
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
