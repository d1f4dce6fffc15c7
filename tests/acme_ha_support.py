"""Several edgeway replicas sharing ACME certificates through a real API server.

- :class:`ValidationForwarder` sits on pebble's ``httpPort`` and ``tlsPort``: each
  validation connection the CA makes goes to a replica that does *not* hold a
  Lease (the one ordering), round-robin among the others, so a certificate is
  only obtained if the challenges published to the cluster are answered by the
  replicas that did not order it. Every choice is recorded.
- :class:`Replica` is one edgeway process (``POD_NAME`` its Lease identity) with
  its own ``web``/``websecure`` ports and the static configuration all share.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from acme_support import free_port

EDGEWAY = str(Path(sys.executable).parent / "edgeway")

#: Labels and annotations of the contract (docs/acme-ha.md).
KIND_LABEL = "edgeway.io/acme-kind"
ORDER_ANNOTATION = "edgeway.io/acme-order"
DOMAINS_ANNOTATION = "edgeway.io/acme-domains"


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    order: str
    resource_version: str
    renewed: str  # renewTime, as the API server returns it ("" when unset)


def list_leases(api: Any, namespace: str) -> list[Lease]:
    """The ACME Leases of ``namespace`` (official client ``ApiClient`` ``api``; blocking)."""
    from kubernetes import client

    items = (
        client.CoordinationV1Api(api)
        .list_namespaced_lease(namespace, label_selector=f"{KIND_LABEL}=lease")
        .items
    )
    return [
        Lease(
            name=item.metadata.name,
            holder=item.spec.holder_identity or "",
            order=(item.metadata.annotations or {}).get(ORDER_ANNOTATION, ""),
            resource_version=item.metadata.resource_version,
            renewed=str(item.spec.renew_time or ""),
        )
        for item in items
    ]


@dataclass(frozen=True)
class Validation:
    """One connection from the CA: on which port, who held Leases then, who got it."""

    kind: str  # "http" (HTTP-01) or "tls" (TLS-ALPN-01)
    #: (Lease name, holder) of every Lease held then.
    leases: frozenset[tuple[str, str]]
    replica: str | None  # None: no replica left to send it to (refused)
    #: Domains with a challenge published to the API server then.
    published: frozenset[str] = frozenset()
    at: float = field(default_factory=time.monotonic)

    @property
    def holders(self) -> frozenset[str]:
        return frozenset(holder for _, holder in self.leases)

    def holder_of(self, lease: str) -> str | None:
        return next((holder for name, holder in self.leases if name == lease), None)


class ValidationForwarder:
    """A loopback TCP forwarder for pebble's validation ports (see the module doc).

    ``held()`` returns the Leases held now, name -> holder (read through the API
    server for every connection); their holders get no validation. ``published()``
    (recorded with each validation) the domains with a challenge published. Runs its own
    event loop in a thread, so tests may block. ``hold()`` keeps new connections
    waiting (not yet forwarded) until ``release()``, to stop an order at its
    validation step.
    """

    def __init__(
        self,
        ports: dict[str, int],
        held: Callable[[], dict[str, str]],
        published: Callable[[], set[str]] = set,
    ) -> None:
        self.ports = ports
        self.held = held
        self.published = published
        #: replica name -> {"http": its web port, "tls": its websecure port}
        self.replicas: dict[str, dict[str, int]] = {}
        self.dead: set[str] = set()
        self.validations: list[Validation] = []
        #: Connections waiting while validations are held.
        self.waiting = 0
        self._turn = itertools.count()
        self._open = threading.Event()
        self._open.set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._servers: list[asyncio.AbstractServer] = []

    def start(self) -> ValidationForwarder:
        self._thread.start()
        for kind, port in self.ports.items():
            future = asyncio.run_coroutine_threadsafe(
                asyncio.start_server(
                    lambda r, w, kind=kind: self._forward(kind, r, w), "127.0.0.1", port
                ),
                self._loop,
            )
            self._servers.append(future.result(10))
        return self

    def stop(self) -> None:
        self._open.set()

        async def close() -> None:
            for server in self._servers:
                server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def since(self, start: float) -> list[Validation]:
        return [v for v in list(self.validations) if v.at >= start]

    def _choose(self, kind: str) -> Validation:
        leases, published = frozenset(self.held().items()), frozenset(self.published())
        candidates = sorted(set(self.replicas) - self.dead - {holder for _, holder in leases})
        replica = candidates[next(self._turn) % len(candidates)] if candidates else None
        validation = Validation(kind, leases, replica, published)
        self.validations.append(validation)
        return validation

    async def _forward(
        self, kind: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            self.waiting += 1
            try:
                await asyncio.to_thread(self._open.wait)
            finally:
                self.waiting -= 1
            validation = await asyncio.to_thread(self._choose, kind)
            if validation.replica is None:  # refused: the test reports it
                writer.close()
                return
            port = self.replicas[validation.replica][kind]
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        except (OSError, asyncio.CancelledError):  # a replica just killed, or stopping
            writer.close()
            return
        except Exception:
            writer.close()
            raise

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
                if dst.can_write_eof():
                    dst.write_eof()
            except OSError:
                pass

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            up_writer.close()
            writer.close()


def static_configuration(
    *,
    web: int,
    websecure: int,
    dynamic: Path,
    kube: dict[str, Any],
    namespaces: list[str],
    acme: dict[str, Any],
    storage: str,
) -> dict[str, Any]:
    """The static configuration of one replica: only the entry points' ports differ.

    ``kube`` holds the providers' connection options (``endpoint``, ``token``,
    ``certAuthFilePath``), which the Kubernetes ACME storage uses too; ``acme`` the
    resolvers' common options (``caServer``, ``caCertificates``, ``email``)."""
    provider = {**kube, "namespaces": namespaces, "throttleDuration": "0s"}
    return {
        "log": {"level": "INFO"},  # the orders, Leases and resumptions, in each replica's log
        "entryPoints": {
            "web": {"address": f"127.0.0.1:{web}"},
            "websecure": {"address": f"127.0.0.1:{websecure}"},
        },
        "providers": {
            "providersThrottleDuration": "0s",
            "file": {"filename": str(dynamic)},
            "kubernetesIngress": provider,
            "kubernetesCRD": provider,
        },
        "certificatesResolvers": {
            "le-http": {"acme": {**acme, "storage": storage,
                                 "httpChallenge": {"entryPoint": "web"}}},
            "le-tls": {"acme": {**acme, "storage": storage, "tlsChallenge": {}}},
        },
    }  # fmt: skip


class Replica:
    """One edgeway process; ``name`` is its ``POD_NAME``."""

    def __init__(
        self, name: str, directory: Path, static: Callable[[int, int], dict[str, Any]]
    ) -> None:
        self.name = name
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.web, self.websecure = free_port(), free_port()
        self.config = self.dir / "edgeway.yml"
        self.config.write_text(yaml.safe_dump(static(self.web, self.websecure)))
        self.log = self.dir / "edgeway.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def ports(self) -> dict[str, int]:
        return {"http": self.web, "tls": self.websecure}

    def start(self, environ: dict[str, str]) -> Replica:
        env = {**environ, "POD_NAME": self.name}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [EDGEWAY, f"--configFile={self.config}"],
                cwd=self.dir, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        return self

    def wait_listening(self, deadline: float = 30.0) -> None:
        import socket

        end = time.monotonic() + deadline
        while time.monotonic() < end:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}"
                )
            try:
                for port in (self.web, self.websecure):
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"{self.name} not listening after {deadline}s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL: no clean-up, the Lease it holds stays until it expires."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> None:
        """SIGTERM (a graceful stop), without waiting."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` in one step, so a watching replica never reads half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
