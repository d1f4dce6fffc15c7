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


#: Bits telling which managed headers a trusted client already sent (kept as they are).
REAL_IP, PROTO, PORT, HOST = 1, 2, 4, 8
FLAG = {b"x-real-ip": REAL_IP, b"x-forwarded-proto": PROTO, b"x-forwarded-port": PORT, b"x-forwarded-host": HOST}


def append_forwarded(
    headers: list[tuple[bytes, bytes]],
    flags: int,
    sent_proto: bytes,
    xff: list[bytes] | None,
    client_ip: bytes,
    proto: bytes,
    authority: str,
    host: bytes,
    server_name: bytes,
    common: dict[tuple[bytes, bytes], list[tuple[bytes, bytes]]],
) -> None:
    """Add the ``X-Forwarded-*`` headers the entry point sets (forwardedheaders'
    ``rewrite``), after the client's managed headers were filtered: ``flags`` has
    the ones a trusted client sent, ``sent_proto`` its ``X-Forwarded-Proto``,
    ``xff`` its ``X-Forwarded-For`` values; ``proto`` is the connection's
    (``http``/``https``/``ws``/``wss``).

    ``common`` is the connection's cache of the whole block for the usual case,
    a client that sent none of them: it only depends on ``proto`` and ``host``.
    """
    if not flags and xff is None:
        block = common.get((proto, host))
        if block is None:
            if len(common) >= 16:  # a client cycling through Host values
                common.clear()
            block = common[proto, host] = _forwarded(0, b"", None, client_ip, proto, authority, host, server_name)
        headers += block
        return
    headers += _forwarded(flags, sent_proto, xff, client_ip, proto, authority, host, server_name)


def _forwarded(
    flags: int, sent_proto: bytes, xff: list[bytes] | None, client_ip: bytes, proto: bytes,
    authority: str, host: bytes, server_name: bytes,
) -> list[tuple[bytes, bytes]]:
    out = []
    if not flags & REAL_IP and client_ip:
        out.append((b"X-Real-Ip", client_ip))
    if flags & PROTO:
        proto = sent_proto
    else:
        out.append((b"X-Forwarded-Proto", proto))
    if not flags & PORT:
        out.append((b"X-Forwarded-Port", forwarded_port(authority, proto)))
    if not flags & HOST and authority:
        out.append((b"X-Forwarded-Host", host))
    if xff is not None:
        out.append((b"X-Forwarded-For", b", ".join(xff) if len(xff) > 1 else xff[0]))
    out.append((b"X-Forwarded-Server", server_name))
    return out


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
