"""Which client a request comes from, as Traefik's ``pkg/ip`` and ``sourceCriterion`` decide.

Shared by ipAllowList/ipWhiteList (``ipStrategy``), rateLimit and inFlightReq
(``sourceCriterion``). Everything is parsed when the configuration is applied;
the returned closures only read the request.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import Literal

from edgeway.config.dynamic import IPStrategy, SourceCriterion
from edgeway.http.message import Request

__all__ = ["IPChecker", "Extractor", "ip_strategy", "source_extractor"]

#: Picks a string out of a request: the client IP, a header value, the host.
Extractor = Callable[[Request], str]

_Addr = ipaddress.IPv4Address | ipaddress.IPv6Address
_Net = ipaddress.IPv4Network | ipaddress.IPv6Network
_SPACE = " \t\n\v\f\r\x85\xa0"


def _parse_addr(text: str) -> _Addr | None:
    """Go's ``netip.ParseAddr`` then ``As16``: zones dropped, IPv4-mapped IPv6 seen as IPv4.

    Go's ``net.IP.Equal`` and ``IPNet.Contains`` treat ``::ffff:a.b.c.d`` as the
    IPv4 address, and an IPv6 network never contains an IPv4 address.
    """
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return addr.ipv4_mapped
        if addr.scope_id is not None:
            return ipaddress.IPv6Address(text.split("%", 1)[0])
    return addr


class IPChecker:
    """Go's ``ip.Checker``: a list of IPs and CIDR ranges (``sourceRange``, ``excludedIPs``)."""

    __slots__ = ("_ips", "_nets")

    def __init__(self, entries: Iterable[str]) -> None:
        """Raises ValueError naming the first entry that is neither an IP nor a CIDR."""
        entries = list(entries)
        if not entries:
            raise ValueError("no trusted IPs provided")
        self._ips: set[_Addr] = set()
        self._nets: list[_Net] = []
        for entry in entries:
            addr = _parse_addr(entry) if "%" not in entry else None
            if addr is not None:
                self._ips.add(addr)
                continue
            self._nets.append(_parse_cidr(entry))

    def contains(self, text: str) -> bool:
        """``Checker.Contains``: an empty or unparsable address raises ValueError."""
        if not text:
            raise ValueError("empty IP address")
        addr = _parse_addr(text)
        if addr is None:
            raise ValueError(f"unable to parse address: {text}: can't parse IP from address {text}")
        return addr in self._ips or any(addr in net for net in self._nets)

    def authorized(self, text: str) -> bool:
        """``Checker.IsAuthorized``: ``host:port`` is cut to the host; errors mean no."""
        host = _split_host(text)
        try:
            return self.contains(host)
        except ValueError:
            return False


def _parse_cidr(entry: str) -> _Net:
    """Go's ``net.ParseCIDR``: ``addr/bits`` with decimal bits; host bits are dropped."""
    addr_text, slash, bits = entry.partition("/")
    addr = None
    if slash and bits.isdigit() and len(bits) <= 3 and "%" not in addr_text:
        try:
            addr = ipaddress.ip_address(addr_text)
        except ValueError:
            addr = None
    if addr is None or int(bits) > addr.max_prefixlen:
        raise ValueError(f"parsing CIDR trusted IPs <nil>: invalid CIDR address: {entry}")
    return ipaddress.ip_network(f"{addr}/{int(bits)}", strict=False)


def _split_host(addr: str) -> str:
    """The host of ``host:port`` (Go's ``net.SplitHostPort``), else ``addr`` unchanged."""
    if addr.startswith("["):
        end = addr.find("]")
        if end > 0 and addr[end + 1 : end + 2] == ":" and "]" not in addr[end + 1 :]:
            return addr[1:end]
        return addr
    if addr.count(":") == 1:
        return addr.split(":", 1)[0]
    return addr


def _ipv6_subnet(ip: str, bits: int) -> str:
    """The first address of ``ip``'s ``/bits`` subnet when ``ip`` is IPv6, else ``ip``."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0] if "%" in ip else ip)
    except ValueError:
        return ip
    if not isinstance(addr, ipaddress.IPv6Address) or not 0 <= bits <= 128:
        return ip
    network = ipaddress.IPv6Network(f"{addr}/{bits}", strict=False).network_address
    if network.ipv4_mapped is not None:  # Go prints v4-mapped addresses as ::ffff:a.b.c.d
        return f"::ffff:{network.ipv4_mapped}"
    return str(network)


def _check_subnet(bits: int | None) -> None:
    if bits is not None and not 0 < bits <= 128:
        raise ValueError(f"invalid IPv6 subnet {bits} value, should be greater to 0 and lower or equal to 128")


def ip_strategy(options: IPStrategy | None) -> Extractor:
    """The client IP as ``IPStrategy.Get()`` picks it.

    No options: the peer address. ``depth`` > 0: the depth-th entry from the right
    of the first ``X-Forwarded-For`` header ("" when there are fewer). Else
    ``excludedIPs``: the right-most entry not in the list. ``ipv6Subnet`` applies to
    the peer and depth strategies.
    """
    if options is None:
        return _remote(None)
    depth = options.depth or 0
    subnet = options.ipv6Subnet
    if depth > 0:
        _check_subnet(subnet)
        return _depth(depth, subnet)
    if options.excludedIPs:
        return _pool(IPChecker(options.excludedIPs))
    _check_subnet(subnet)
    return _remote(subnet)


#: The plain extractors are C callables: no Python frame per request.
_PEER_IP: Extractor = attrgetter("client_ip")
_AUTHORITY: Extractor = attrgetter("authority")


def _remote(subnet: int | None) -> Extractor:
    if subnet is None:
        return _PEER_IP
    return lambda req: _ipv6_subnet(req.client_ip, subnet)


def _xff_entries(req: Request) -> list[str]:
    value = req.headers.get(b"x-forwarded-for")
    return value.decode("latin-1").split(",") if value else [""]


def _depth(depth: int, subnet: int | None) -> Extractor:
    def pick(req: Request) -> str:
        entries = _xff_entries(req)
        if len(entries) < depth:
            return ""
        ip = entries[len(entries) - depth].strip(_SPACE)
        return _ipv6_subnet(ip, subnet) if subnet is not None else ip

    return pick


def _pool(excluded: IPChecker) -> Extractor:
    def pick(req: Request) -> str:
        for entry in reversed(_xff_entries(req)):
            ip = entry.strip(_SPACE)
            if not ip:
                continue
            try:
                if not excluded.contains(ip):
                    return ip
            except ValueError:
                return ip
        return ""

    return pick


def source_extractor(criterion: SourceCriterion | None, default: Literal["ip", "host"]) -> Extractor:
    """``middlewares.GetSourceExtractor``: what identifies a source of traffic.

    At most one of ``ipStrategy``, ``requestHeaderName`` and ``requestHost`` may be
    set; none means ``default`` (the peer IP for rateLimit, the Host for
    inFlightReq). A header source is the header's first value ("" when absent).
    """
    c = criterion or SourceCriterion()
    header = c.requestHeaderName or ""
    if c.ipStrategy is not None and header:
        raise ValueError("iPStrategy and RequestHeaderName are mutually exclusive")
    if c.ipStrategy is not None and c.requestHost:
        raise ValueError("iPStrategy and RequestHost are mutually exclusive")
    if header and c.requestHost:
        raise ValueError("requestHost and RequestHeaderName are mutually exclusive")
    if c.ipStrategy is not None:
        return ip_strategy(c.ipStrategy)
    if header:
        lname = header.lower().encode("latin-1")
        return lambda req: (req.headers.get(lname) or b"").decode("latin-1")
    if c.requestHost or default == "host":
        return _AUTHORITY
    return ip_strategy(None)
