"""``ClientIP`` as Traefik's ``ip.Checker``: Go ``net.ParseIP``/``ParseCIDR`` semantics.

Go keeps addresses as 16 bytes and compares IPv4 and IPv4-mapped IPv6 as the same
address; an IPv4 network (or an IPv6 one whose masked address is IPv4-mapped)
only contains IPv4 clients, any other IPv6 network only IPv6 clients. Addresses
are reduced here to ``(is_v4, int)`` once, networks to ``(is_v4, mask, net)``.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

__all__ = ["ip_checker", "parse_client_ip"]

_MAPPED = 0xFFFF << 32


def _key(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> tuple[bool, int]:
    value = int(addr)
    if addr.version == 4:
        return True, value
    if value >> 32 == 0xFFFF:  # ::ffff:a.b.c.d is a.b.c.d for Go
        return True, value & 0xFFFFFFFF
    return False, value


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Go ``net.ParseIP``: dotted-quad IPv4 or IPv6, no zone."""
    if "%" in text or "/" in text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def ip_checker(value: str) -> Callable[[str], bool]:
    """A predicate over a client address; raises ValueError with Traefik's message."""
    ip = _parse_ip(value)
    if ip is not None:
        wanted = _key(ip)
        return lambda client: parse_client_ip(client) == wanted
    addr, sep, bits = value.partition("/")
    parsed = _parse_ip(addr) if sep else None
    width = 32 if parsed is not None and parsed.version == 4 else 128
    if parsed is None or not bits.isascii() or not bits.isdigit() or int(bits) > width:
        raise ValueError(f"parsing CIDR trusted IPs <nil>: invalid CIDR address: {value}")
    prefix = int(bits)
    mask = ((1 << width) - 1) ^ ((1 << (width - prefix)) - 1)
    net = int(parsed) & mask
    if width == 128 and net >> 32 == 0xFFFF and prefix >= 96:
        # Go's IPNet.Contains reads an IPv4-mapped network as IPv4, keeping the low mask.
        is_v4, mask, net = True, mask & 0xFFFFFFFF, net & 0xFFFFFFFF
    else:
        is_v4 = width == 32

    def contains(client: str) -> bool:
        key = parse_client_ip(client)
        return key is not None and key[0] is is_v4 and key[1] & mask == net

    return contains


def parse_client_ip(text: str) -> tuple[bool, int] | None:
    """A peer address as ``(is_v4, int)``; ``None`` if unparsable (the matcher is then false).

    Go's ``netip.ParseAddr`` accepts a zone, which the comparison ignores.
    """
    try:
        return True, int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    except (OSError, ValueError):
        pass
    zone = text.find("%")
    if zone >= 0:
        if zone == len(text) - 1:
            return None
        text = text[:zone]
    try:
        value = int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
    except (OSError, ValueError):
        return None
    if value >> 32 == 0xFFFF:
        return True, value & 0xFFFFFFFF
    return False, value
