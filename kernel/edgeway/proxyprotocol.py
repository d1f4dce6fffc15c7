"""PROXY protocol v1/v2: read the header a load balancer puts in front of a
connection, and write one in front of a connection to a server.

Behaviour follows ``github.com/pires/go-proxyproto`` v0.12 as Traefik 3.7 uses it
(``HeaderProxyFromAddrs``, ``Read``): v2 ``LOCAL`` and v1 ``UNKNOWN`` carry no
addresses (the connection's own are kept), TLVs are skipped, a v2 header is at
most 16 + 4096 bytes.

:func:`parse` is incremental: give it every byte received so far; it answers
:data:`NEED_MORE` until it can decide, :data:`NOT_PROXY` when the bytes cannot
start a header, or the :class:`ProxyHeader` (whose ``length`` bytes must then be
consumed). A malformed header raises :class:`ProxyProtocolError`.
"""

from __future__ import annotations

import ipaddress
import re
import struct
from dataclasses import dataclass
from typing import Final

__all__ = [
    "NEED_MORE",
    "NOT_PROXY",
    "SIGNATURE_V1",
    "SIGNATURE_V2",
    "ProxyHeader",
    "ProxyProtocolError",
    "format_header",
    "parse",
]

SIGNATURE_V1: Final = b"PROXY"
SIGNATURE_V2: Final = b"\r\n\r\n\x00\r\nQUIT\n"
V1_MAX_LENGTH: Final = 107
V2_MAX_PAYLOAD: Final = 4096  # go-proxyproto's maxV2HeaderSize

LOCAL, PROXY = 0x20, 0x21
UNSPEC, TCP4, UDP4, TCP6, UDP6 = 0x00, 0x11, 0x12, 0x21, 0x22

NEED_MORE: Final = "need more bytes"
NOT_PROXY: Final = "not a PROXY protocol header"

_PORT = re.compile(r"[+-]?[0-9]+")

Address = tuple[str, int]


class ProxyProtocolError(ValueError):
    """The bytes start a PROXY header that is malformed (go-proxyproto's message)."""


@dataclass(frozen=True)
class ProxyHeader:
    version: int
    #: False for v2 ``LOCAL`` and v1 ``UNKNOWN``: no addresses, keep the connection's.
    proxied: bool
    source: Address | None
    destination: Address | None
    #: Bytes the header takes at the start of the stream.
    length: int


def parse(data: bytes | bytearray | memoryview) -> ProxyHeader | str:
    """The header at the start of ``data``, or :data:`NEED_MORE` / :data:`NOT_PROXY`."""
    data = bytes(data[: 16 + V2_MAX_PAYLOAD])
    if not data:
        return NEED_MORE
    if data[0] == SIGNATURE_V1[0]:
        if len(data) < len(SIGNATURE_V1):
            return NEED_MORE if SIGNATURE_V1.startswith(data) else NOT_PROXY
        return _parse_v1(data) if data.startswith(SIGNATURE_V1) else NOT_PROXY
    if data[0] == SIGNATURE_V2[0]:
        if len(data) < len(SIGNATURE_V2):
            return NEED_MORE if SIGNATURE_V2.startswith(data) else NOT_PROXY
        return _parse_v2(data) if data.startswith(SIGNATURE_V2) else NOT_PROXY
    return NOT_PROXY


def _parse_v1(data: bytes) -> ProxyHeader | str:
    end = data.find(b"\n", 0, V1_MAX_LENGTH)
    if end < 0:
        if len(data) >= V1_MAX_LENGTH:
            raise ProxyProtocolError("proxyproto: version 1 header must be 107 bytes or less")
        return NEED_MORE
    line = data[: end + 1]
    if len(line) < 2 or line[-2:-1] != b"\r":
        raise ProxyProtocolError("proxyproto: version 1 header is invalid, must end with \\r\\n")
    tokens = line[:-2].decode("latin-1").split(" ")
    if len(tokens) < 2 or tokens[1] not in ("TCP4", "TCP6", "UNKNOWN"):
        raise ProxyProtocolError("proxyproto: can't read address family or protocol")
    if tokens[1] == "UNKNOWN":
        return ProxyHeader(1, False, None, None, len(line))
    if len(tokens) < 6:
        raise ProxyProtocolError("proxyproto: can't read address family or protocol")
    v6 = tokens[1] == "TCP6"
    source = (_v1_ip(tokens[2], v6), _v1_port(tokens[4]))
    destination = (_v1_ip(tokens[3], v6), _v1_port(tokens[5]))
    return ProxyHeader(1, True, source, destination, len(line))


def _v1_ip(text: str, v6: bool) -> str:
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise ProxyProtocolError(f"proxyproto: invalid address: ParseAddr({text!r})") from None
    if v6 and addr.version == 4:  # go-proxyproto promotes it (nginx sends these)
        return f"::ffff:{addr}"
    if (addr.version == 6) != v6:
        raise ProxyProtocolError("proxyproto: invalid address")
    return str(addr)


def _v1_port(text: str) -> int:
    if not _PORT.fullmatch(text):
        raise ProxyProtocolError(f'proxyproto: invalid port number: strconv.Atoi: parsing "{text}": invalid syntax')
    port = int(text)
    if not 0 <= port <= 65535:
        raise ProxyProtocolError("proxyproto: invalid port number")
    return port


def _parse_v2(data: bytes) -> ProxyHeader | str:
    if len(data) < 16:
        return NEED_MORE
    command, family = data[12], data[13]
    if command not in (LOCAL, PROXY):
        raise ProxyProtocolError("proxyproto: unsupported proxy protocol version and command")
    if family == UNSPEC and command != LOCAL:
        raise ProxyProtocolError("proxyproto: unsupported address family and protocol")
    (length,) = struct.unpack_from("!H", data, 14)
    minimum = _min_length(family)
    if minimum is None or length < minimum or length > V2_MAX_PAYLOAD:
        raise ProxyProtocolError("proxyproto: invalid length")
    if len(data) < 16 + length:
        return NEED_MORE
    total = 16 + length
    if command == LOCAL or family & 0xF0 not in (0x10, 0x20) or family & 0x0F not in (1, 2):
        # LOCAL: health checks of the load balancer itself; unix or unspecified: no IP to use.
        return ProxyHeader(2, False, None, None, total)
    size, kind = (4, ipaddress.IPv4Address) if family & 0xF0 == 0x10 else (16, ipaddress.IPv6Address)
    src, dst = kind(data[16 : 16 + size]), kind(data[16 + size : 16 + 2 * size])
    sport, dport = struct.unpack_from("!HH", data, 16 + 2 * size)
    return ProxyHeader(2, True, (_go_ip(src), sport), (_go_ip(dst), dport), total)


def _min_length(family: int) -> int | None:
    """go-proxyproto's ``validateLength``: the address block's size; None: unknown family."""
    high = family & 0xF0
    if high in (0x10, 0x20, 0x30):
        return {0x10: 12, 0x20: 36, 0x30: 216}[high]
    return 0 if high == 0 or family & 0x0F == 0 else None


def _go_ip(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """How Go prints a ``net.IP``: an IPv4-mapped IPv6 address as plain IPv4."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def format_header(version: int, source: Address | None, destination: Address | None) -> bytes:
    """The header go-proxyproto's ``HeaderProxyFromAddrs(version, src, dst).Format()`` writes.

    The family follows the source address (IPv4, IPv4-mapped IPv6 included, else
    IPv6); without both addresses the header says LOCAL/UNKNOWN. Raises
    :class:`ProxyProtocolError` when the destination does not fit the family.
    """
    if version not in (1, 2):
        version = 2
    if source is None or destination is None:
        return b"PROXY UNKNOWN\r\n" if version == 1 else SIGNATURE_V2 + bytes((LOCAL, UNSPEC, 0, 0))
    try:
        src, dst = _ip(source[0]), _ip(destination[0])
    except ValueError:
        return format_header(version, None, None)
    v4 = isinstance(src, ipaddress.IPv4Address)
    if v4 and not isinstance(dst, ipaddress.IPv4Address):
        raise ProxyProtocolError("proxyproto: invalid address")
    if not v4 and isinstance(dst, ipaddress.IPv4Address):
        dst = ipaddress.IPv6Address(f"::ffff:{dst}")
    if version == 1:
        proto = "TCP4" if v4 else "TCP6"
        return f"PROXY {proto} {_go_ip(src)} {_go_ip(dst)} {source[1]} {destination[1]}\r\n".encode()
    if v4:
        return SIGNATURE_V2 + bytes((PROXY, TCP4)) + struct.pack("!H", 12) + src.packed + dst.packed + struct.pack(
            "!HH", source[1], destination[1]
        )
    return SIGNATURE_V2 + bytes((PROXY, TCP6)) + struct.pack("!H", 36) + src.packed + dst.packed + struct.pack(
        "!HH", source[1], destination[1]
    )


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Go's ``IP.To4``: IPv4-mapped IPv6 counts as IPv4; a zone is dropped."""
    addr = ipaddress.ip_address(text.partition("%")[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr
