"""DNS-01: providers (the ``register_dns_providers`` hook) and the propagation check.

A provider type is configured from the environment, as lego's providers are
(``dnsChallenge.provider: exec`` reads ``EXEC_PATH``...). The built-in one is
lego's ``exec``: ``<EXEC_PATH> present <fqdn> <value>`` (``EXEC_MODE=RAW``:
``present -- <domain> <token> <keyAuth>``) and the same with ``cleanup``.

Propagation (lego's ``dns01`` pre-check as Traefik configures it): after
``propagation.delayBeforeChecks``, wait until the TXT record is visible. Only
the check on the recursive resolvers (``resolvers``, else /etc/resolv.conf;
``requireAllRNS``) is implemented: the check on the zone's authoritative
nameservers is refused unless ``disableANSChecks`` or ``disableChecks`` is set.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "DNSProvider",
    "DNSProviderType",
    "ExecProvider",
    "Propagation",
    "challenge_record",
    "query_txt",
]


class DNSProvider(Protocol):
    """Creates and removes the ``_acme-challenge`` TXT record of a domain."""

    #: How long to wait for the record to be visible, and how often to look (seconds).
    propagation_timeout: float
    polling_interval: float

    def present(self, domain: str, token: str, key_authorization: str) -> None: ...

    def cleanup(self, domain: str, token: str, key_authorization: str) -> None: ...


@dataclass(frozen=True)
class DNSProviderType:
    """``factory(environ)`` returns a :class:`DNSProvider` or raises ``ValueError``
    naming the missing or invalid variables."""

    name: str
    factory: Callable[[Mapping[str, str]], DNSProvider]


def challenge_record(domain: str, key_authorization: str) -> tuple[str, str]:
    """``dns01.GetChallengeInfo``: the FQDN and the TXT value."""
    digest = hashlib.sha256(key_authorization.encode()).digest()
    value = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return f"_acme-challenge.{domain.removeprefix('*.')}.", value


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(int(raw))
    except ValueError:
        raise ValueError(f"{name}: {raw!r} is not a number of seconds") from None


class ExecProvider:
    """lego's ``exec`` provider."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        program = environ.get("EXEC_PATH", "")
        if not program:
            raise ValueError("exec: some credentials information are missing: EXEC_PATH")
        self.program = program
        self.raw = environ.get("EXEC_MODE", "") == "RAW"
        self.propagation_timeout = _seconds(environ, "EXEC_PROPAGATION_TIMEOUT", 60.0)
        self.polling_interval = _seconds(environ, "EXEC_POLLING_INTERVAL", 2.0)
        self.timeout = max(self.propagation_timeout, 60.0)

    def _run(self, action: str, domain: str, token: str, key_authorization: str) -> None:
        if self.raw:
            args = [action, "--", domain, token, key_authorization]
        else:
            args = [action, *challenge_record(domain, key_authorization)]
        try:
            done = subprocess.run(
                [self.program, *args], capture_output=True, timeout=self.timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RuntimeError(f"exec: {self.program} {action}: {exc}") from None
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace").strip()
            raise RuntimeError(f"exec: {self.program} {action} exited with {done.returncode}: {output}")

    def present(self, domain: str, token: str, key_authorization: str) -> None:
        self._run("present", domain, token, key_authorization)

    def cleanup(self, domain: str, token: str, key_authorization: str) -> None:
        self._run("cleanup", domain, token, key_authorization)


BUILTIN_DNS_PROVIDERS = (DNSProviderType("exec", ExecProvider),)


# --- propagation ------------------------------------------------------------------


@dataclass(frozen=True)
class Propagation:
    delay: float = 0.0
    disable_checks: bool = False
    #: The resolvers asked (``host:port``); every one must see the record.
    resolvers: tuple[str, ...] = ()
    require_all: bool = False

    def wait(self, fqdn: str, value: str, timeout: float, interval: float, stop: Callable[[], bool]) -> None:
        """Sleep ``delay`` then poll until the record is visible (TimeoutError after ``timeout``)."""
        if self.delay:
            time.sleep(self.delay)
        if self.disable_checks or not self.require_all:
            return
        servers = self.resolvers or system_resolvers()
        deadline = time.monotonic() + timeout
        while not stop():
            missing = [s for s in servers if value not in _safe_query(s, fqdn)]
            if not missing:
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"time limit exceeded: TXT record {fqdn} not found on {', '.join(missing)}")
            time.sleep(interval)


def system_resolvers() -> tuple[str, ...]:
    found = []
    try:
        with open("/etc/resolv.conf") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver":
                    found.append(parts[1])
    except OSError:
        pass
    return tuple(found) or ("127.0.0.1",)


def _server_address(server: str) -> tuple[str, int]:
    if server.startswith("["):
        host, _, port = server[1:].partition("]:")
        return host, int(port or 53)
    if server.count(":") == 1:
        host, _, port = server.partition(":")
        return host, int(port)
    return server, 53


def _safe_query(server: str, name: str) -> Sequence[str]:
    try:
        return query_txt(server, name)
    except (OSError, ValueError):
        return ()


def query_txt(server: str, name: str, timeout: float = 2.0) -> list[str]:
    """The TXT strings of ``name`` from ``server`` (one UDP query, recursion desired)."""
    host, port = _server_address(server)
    qid = secrets.randbits(16)
    qname = b"".join(bytes((len(p),)) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"
    packet = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", 16, 1)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(packet, (host, port))
        data, _ = sock.recvfrom(65535)
    rid, _flags, qd, an, _, _ = struct.unpack("!HHHHHH", data[:12])
    if rid != qid:
        raise ValueError("DNS answer id mismatch")
    pos = 12
    for _ in range(qd):
        pos = _skip_name(data, pos) + 4
    out = []
    for _ in range(an):
        pos = _skip_name(data, pos)
        rtype, _cls, _ttl, length = struct.unpack("!HHIH", data[pos : pos + 10])
        pos += 10
        rdata = data[pos : pos + length]
        pos += length
        if rtype != 16:
            continue
        i, parts = 0, []
        while i < len(rdata):
            n = rdata[i]
            parts.append(rdata[i + 1 : i + 1 + n].decode(errors="replace"))
            i += 1 + n
        out.append("".join(parts))
    return out


def _skip_name(data: bytes, pos: int) -> int:
    while True:
        n = data[pos]
        if n == 0:
            return pos + 1
        if n & 0xC0 == 0xC0:
            return pos + 2
        pos += 1 + n
