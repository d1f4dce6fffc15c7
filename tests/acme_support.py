"""Pebble (Debian's ACME test CA) on loopback, and helpers to check what edgeway serves.

Shared by the single-instance ACME tests and the Kubernetes (HA) ACME tests.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import trustme
from cryptography import x509

needs_pebble = pytest.mark.skipif(
    shutil.which("pebble") is None and os.environ.get("CI") != "true",
    reason="pebble is not installed (scripts/test-deps.sh installs it)",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], deadline: float = 15.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"port {port} not listening")


class Pebble:
    """pebble + pebble-challtestsrv on free loopback ports."""

    def __init__(self, tmp: Path, *, validity: int | None = None) -> None:
        self.tmp = tmp
        self.http_port, self.tls_port = free_port(), free_port()
        self.acme_port, self.mgmt_port = free_port(), free_port()
        self.dns_port, self.chall_port = free_port(), free_port()
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self.ca_file = tmp / "pebble-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        cert.cert_chain_pems[0].write_to_path(str(tmp / "pebble-cert.pem"))
        cert.private_key_pem.write_to_path(str(tmp / "pebble-key.pem"))
        config: dict[str, Any] = {
            "listenAddress": f"127.0.0.1:{self.acme_port}",
            "managementListenAddress": f"127.0.0.1:{self.mgmt_port}",
            "certificate": str(tmp / "pebble-cert.pem"),
            "privateKey": str(tmp / "pebble-key.pem"),
            "httpPort": self.http_port,
            "tlsPort": self.tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
        if validity is not None:
            config["certificateValidityPeriod"] = validity
        (tmp / "pebble.json").write_text(json.dumps({"pebble": config}))
        self.log = tmp / "pebble.log"
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> Pebble:
        chall = subprocess.Popen(
            ["pebble-challtestsrv", "-dns01", f"127.0.0.1:{self.dns_port}", "-http01", "", "-https01", "",
             "-tlsalpn01", "", "-management", f"127.0.0.1:{self.chall_port}", "-defaultIPv6", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.procs.append(chall)
        wait_port(self.chall_port, chall)
        env = {
            **os.environ,
            "PEBBLE_VA_NOSLEEP": "1",
            "PEBBLE_WFE_NONCEREJECT": "0",
            "PEBBLE_AUTHZREUSE": "0",
        }
        with open(self.log, "wb") as log:
            pebble = subprocess.Popen(
                ["pebble", "-config", str(self.tmp / "pebble.json"), "-dnsserver", f"127.0.0.1:{self.dns_port}"],
                stdout=log, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip
        self.procs.append(pebble)
        wait_port(self.acme_port, pebble)
        wait_port(self.mgmt_port, pebble)
        return self

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    @property
    def directory(self) -> str:
        return f"https://127.0.0.1:{self.acme_port}/dir"

    def root_pem(self) -> str:
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        url = f"https://127.0.0.1:{self.mgmt_port}/roots/0"
        with urllib.request.urlopen(url, context=ctx, timeout=10) as resp:
            return str(resp.read().decode())

    def orders(self) -> int:
        return self.log.read_text(errors="replace").count("Added order")

    def static(self, storage: Path, acme: str, **eps: Any) -> str:
        return f"""
entryPoints:
  web:
    address: "127.0.0.1:{self.http_port}"
{eps.get("web_extra", "")}
  websecure:
    address: "127.0.0.1:{self.tls_port}"
providers:
  providersThrottleDuration: 0s
  file:
    filename: "{storage.parent / "dynamic.yml"}"
certificatesResolvers:
  le:
    acme:
      email: admin@example.com
      caServer: "{self.directory}"
      storage: "{storage}"
      caCertificates: ["{self.ca_file}"]
{acme}
"""


@pytest.fixture(scope="module")
def pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    """One pebble for a test module (import this fixture into the module)."""
    p = Pebble(tmp_path_factory.mktemp("pebble")).start()
    try:
        yield p
    finally:
        p.stop()


def served(port: int, sni: str, root: str) -> x509.Certificate | None:
    """The certificate served for ``sni`` if it verifies against pebble's root (blocking)."""
    ctx = ssl.create_default_context(cadata=root)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as raw:
            with ctx.wrap_socket(raw, server_hostname=sni) as tls:
                der = tls.getpeercert(binary_form=True)
    except (ssl.SSLError, OSError):
        return None
    return x509.load_der_x509_certificate(der) if der else None


async def wait_served(
    port: int, sni: str, root: str, *, other_than: int | None = None, limit: float = 60
) -> x509.Certificate:
    with anyio.fail_after(limit):
        while True:
            cert = await anyio.to_thread.run_sync(served, port, sni, root)
            if cert is not None and cert.serial_number != other_than:
                return cert
            await anyio.sleep(0.2)


def https_get(port: int, sni: str, root: str, path: str = "/") -> int:
    ctx = ssl.create_default_context(cadata=root)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=sni) as tls:
            tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
    return int(data.split(b" ", 2)[1])
