"""``X-Forwarded-*`` handling at the entry point, as Traefik's forwardedheaders does it.

Untrusted peers have every managed ``X-Forwarded-*``/``X-Real-Ip`` header they
sent removed; then the entry point sets the missing ones (the HTTP/1.1 server does
this while it parses, see ``server.py``). ``X-Forwarded-For`` is appended to by
the proxy itself, like Go's ``httputil.ReverseProxy``.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable

#: Lower-case names of the headers Traefik manages (forwarded_header.go).
MANAGED = frozenset(
    n.lower().encode()
    for n in (
        "X-Forwarded-Proto",
        "X-Forwarded-Scheme",
        "X-Forwarded-For",
        "X-Forwarded-Host",
        "X-Forwarded-Port",
        "X-Forwarded-Server",
        "X-Forwarded-Uri",
        "X-Forwarded-Method",
        "X-Forwarded-Prefix",
        "X-Forwarded-Tls-Client-Cert",
        "X-Forwarded-Tls-Client-Cert-Info",
        "X-Scheme",
        "X-Real-Ip",
    )
)


def is_managed(lname: bytes) -> bool:
    """True for a managed header name, also spelled with ``_`` for ``-``."""
    if not lname or lname[0] != 0x78:  # 'x'
        return False
    return lname in MANAGED or (b"_" in lname and lname.replace(b"_", b"-") in MANAGED)


def ip_checker(ranges: Iterable[str]) -> Callable[[str], bool]:
    """A predicate telling whether an address is in any of ``ranges`` (IPs or CIDRs)."""
    nets = [ipaddress.ip_network(r.strip(), strict=False) for r in ranges if r.strip()]
    if not nets:
        return lambda ip: False

    def check(ip: str) -> bool:
        try:
            addr = ipaddress.ip_address(ip.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        return any(addr in n for n in nets)

    return check


def hostname() -> bytes:
    try:
        return socket.gethostname().encode() or b"localhost"
    except OSError:
        return b"localhost"


def forwarded_port(authority: str, proto: bytes) -> bytes:
    """``X-Forwarded-Port``: the Host header's port, else the scheme's default."""
    if authority:
        if authority[0] == "[":
            end = authority.find("]")
            rest = authority[end + 1 :] if end >= 0 else ""
            if rest.startswith(":") and rest[1:]:
                return rest[1:].encode()
        elif authority.count(":") == 1:
            port = authority.rsplit(":", 1)[1]
            if port:
                return port.encode()
    return b"443" if proto in (b"https", b"wss") else b"80"
