"""One ``coordination.k8s.io/v1`` Lease per certificate: only its holder orders it.

Blocking (run in worker threads). Taking the Lease: create it, or update it
(optimistic concurrency: the ``resourceVersion`` read; a conflict means
another replica moved first, so read again) when it is free (no
``holderIdentity``), ours (a restarted replica with the same ``POD_NAME``) or
expired. It is expired when its ``renewTime`` is more than
``leaseDurationSeconds`` old, or, should clocks disagree, when it has not
changed for that long as this replica observed it (client-go's rule). Others
poll until then.

The holder renews ``renewTime`` every duration/3 from a background thread,
records the URL of the order it works on in the annotation
``edgeway.io/acme-order`` (a replica taking over resumes that order), and
releases the Lease (empty ``holderIdentity``, annotation removed) when done.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from edgeway_kubernetes.client import APIError, KubeAPI

from edgeway_kubernetes_acme.objects import LEASE, ORDER_ANNOTATION

__all__ = ["HeldLease", "LeaseLock", "LockClosed", "micro_time", "parse_micro_time"]

log = logging.getLogger("edgeway.acme.kubernetes")

Obj = dict[str, Any]


class LockClosed(Exception):
    """The storage was closed (the process is stopping) while waiting for a Lease."""


def micro_time(when: datetime.datetime | None = None) -> str:
    """A ``MicroTime`` as the API server writes it."""
    when = when or datetime.datetime.now(datetime.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_micro_time(text: str) -> float | None:
    """Seconds since the epoch of a ``MicroTime``/``Time`` (None: absent or unreadable)."""
    if not text:
        return None
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class HeldLease:
    """A Lease this replica holds (:class:`edgeway.acme.storage.OrderLock`)."""

    def __init__(self, lock: LeaseLock, name: str, resume_order: str | None) -> None:
        self.lock = lock
        self.name = name
        #: The order a previous holder recorded and did not finish.
        self.resume_order = resume_order
        #: Set when another replica took the Lease over (renewals failed too long).
        self.lost = False
        self._mutex = threading.Lock()
        self._done = threading.Event()

    def record_order(self, url: str) -> None:
        """Best effort: without it a replica taking over places a new order."""
        try:
            with self._mutex:
                self.lock._modify(self.name, lambda lease: _annotate(lease, url))
        except Exception as exc:
            log.warning("ACME Lease %s: cannot record the order %s: %s", self.name, url, exc)

    def renew(self) -> None:
        """Renew every duration/3 until released (runs in its own thread)."""
        period = max(self.lock.duration / 3, 0.2)
        while not self._done.wait(period):
            try:
                with self._mutex:
                    if self._done.is_set():  # released while this renewal waited
                        return
                    self.lock._modify(self.name, self._renewed)
            except _NotHolder:
                log.error("ACME Lease %s was taken over by another replica", self.name)
                self.lost = True
                return
            except Exception as exc:
                log.warning("ACME Lease %s: renewal failed: %s", self.name, exc)

    def _renewed(self, lease: Obj) -> None:
        spec = lease.setdefault("spec", {})
        if spec.get("holderIdentity") != self.lock.identity:
            raise _NotHolder()
        spec["renewTime"] = micro_time()

    def release(self) -> None:
        self._done.set()
        if self.lost:
            return

        def released(lease: Obj) -> None:
            spec = lease.setdefault("spec", {})
            if spec.get("holderIdentity") != self.lock.identity:
                raise _NotHolder()
            spec["holderIdentity"] = ""
            _annotate(lease, None)

        try:
            with self._mutex:
                self.lock._modify(self.name, released)
        except _NotHolder:
            pass
        except Exception as exc:  # it expires anyway
            log.warning(
                "ACME Lease %s: release failed (it expires in %ss): %s",
                self.name,
                self.lock.duration,
                exc,
            )


class _NotHolder(Exception):
    pass


def _annotate(lease: Obj, url: str | None) -> None:
    annotations = lease.setdefault("metadata", {}).setdefault("annotations", {}) or {}
    if url:
        annotations[ORDER_ANNOTATION] = url
    else:
        annotations.pop(ORDER_ANNOTATION, None)
    lease["metadata"]["annotations"] = annotations


class LeaseLock:
    """Leases in one namespace held under ``identity`` for ``duration`` seconds."""

    def __init__(
        self,
        api: KubeAPI,
        namespace: str,
        identity: str,
        duration: int,
        *,
        poll: float = 0.5,
        closed: Callable[[], bool] = lambda: False,
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.identity = identity
        self.duration = duration
        self.poll = poll
        self.closed = closed
        #: Leases taken over from another holder (observability and tests).
        self.takeovers = 0
        self._local: dict[str, threading.Lock] = {}
        self._local_mutex = threading.Lock()

    @contextlib.contextmanager
    def hold(self, name: str, labels: dict[str, str]) -> Iterator[HeldLease]:
        """Wait for, take, renew and finally release the Lease ``name``."""
        with self._local_mutex:
            local = self._local.setdefault(name, threading.Lock())
        with local:  # one holder per process: the API sees one identity
            held = self._acquire(name, labels)
            renewer = threading.Thread(target=held.renew, name=f"lease-{name}", daemon=True)
            renewer.start()
            try:
                yield held
            finally:
                held.release()
                renewer.join(5)

    def _path(self, name: str | None = None) -> str:
        return LEASE.path(self.namespace, name)

    def _acquire(self, name: str, labels: dict[str, str]) -> HeldLease:
        seen: tuple[str, float] | None = None  # (resourceVersion, when first observed)
        while True:
            if self.closed():
                raise LockClosed(f"waiting for the ACME Lease {name}: the storage is closed")
            try:
                lease = self.api.json("GET", self._path(name))
            except APIError as exc:
                if exc.status != 404:
                    raise
                if self._create(name, labels):
                    return HeldLease(self, name, None)
                continue
            meta = lease.get("metadata") or {}
            spec = lease.get("spec") or {}
            holder = str(spec.get("holderIdentity") or "")
            version = str(meta.get("resourceVersion") or "")
            if seen is None or seen[0] != version:
                seen = (version, time.monotonic())
            duration = float(spec.get("leaseDurationSeconds") or self.duration)
            renewed = parse_micro_time(str(spec.get("renewTime") or spec.get("acquireTime") or ""))
            expired = (
                renewed is None or renewed + duration < time.time()
            ) or time.monotonic() - seen[1] >= duration
            if not holder or holder == self.identity or expired:
                resume = (meta.get("annotations") or {}).get(ORDER_ANNOTATION) or None
                if self._take(lease, holder):
                    if holder and holder != self.identity:
                        self.takeovers += 1
                        log.info("ACME Lease %s: taken over from %s (expired)", name, holder)
                    return HeldLease(self, name, resume)
                continue
            time.sleep(self.poll)

    def _create(self, name: str, labels: dict[str, str]) -> bool:
        now = micro_time()
        body = {
            "apiVersion": LEASE.api_version, "kind": LEASE.kind,
            "metadata": {"name": name, "labels": labels},
            "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": self.duration,
                     "acquireTime": now, "renewTime": now, "leaseTransitions": 0},
        }  # fmt: skip
        try:
            self.api.json("POST", self._path(), body=body)
        except APIError as exc:
            if exc.status == 409:  # another replica created it first
                return False
            raise
        return True

    def _take(self, lease: Obj, previous: str) -> bool:
        spec = lease.setdefault("spec", {})
        now = micro_time()
        if previous != self.identity:
            spec["acquireTime"] = now
            if previous:
                spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        spec.update(holderIdentity=self.identity, leaseDurationSeconds=self.duration, renewTime=now)
        try:
            self.api.json("PUT", self._path(lease["metadata"]["name"]), body=lease)
        except APIError as exc:
            if exc.status == 409:  # changed since read: look again
                return False
            raise
        return True

    def _modify(self, name: str, change: Callable[[Obj], None], attempts: int = 5) -> None:
        """Read, change, write; again on a conflict (the renewer and the order share the Lease)."""
        for attempt in range(attempts):
            lease = self.api.json("GET", self._path(name))
            change(lease)
            try:
                self.api.json("PUT", self._path(name), body=lease)
                return
            except APIError as exc:
                if exc.status != 409 or attempt == attempts - 1:
                    raise
