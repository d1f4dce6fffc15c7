"""PROXY protocol v1/v2: parsing (incremental, TLVs, LOCAL) and writing, as go-proxyproto v0.12."""

from __future__ import annotations

import ipaddress
import struct

import pytest
from edgeway.proxyprotocol import (
    NEED_MORE,
    NOT_PROXY,
    SIGNATURE_V2,
    ProxyHeader,
    ProxyProtocolError,
    format_header,
    parse,
)
from hypothesis import given
from hypothesis import strategies as st

ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).filter(lambda a: a.ipv4_mapped is None).map(str)
ports = st.integers(0, 65535)


def test_v1_tcp4() -> None:
    data = b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1\r\n"
    header = parse(data)
    assert header == ProxyHeader(1, True, ("192.0.2.1", 56324), ("198.51.100.2", 443), 45)
    assert data[header.length :].startswith(b"GET")


def test_v1_tcp6_and_promoted_ipv4() -> None:
    header = parse(b"PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n")
    assert isinstance(header, ProxyHeader) and header.source == ("2001:db8::1", 1)
    # nginx sends IPv4 in TCP6 lines: go-proxyproto promotes them.
    header = parse(b"PROXY TCP6 192.0.2.1 2001:db8::2 1 2\r\n")
    assert isinstance(header, ProxyHeader) and header.source == ("::ffff:192.0.2.1", 1)


def test_v1_unknown_keeps_the_connection_addresses() -> None:
    header = parse(b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\nrest")
    assert header == ProxyHeader(1, False, None, None, 35)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "must end with \\r\\n"),
        (b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", "can't read address family or protocol"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "can't read address family or protocol"),
        (b"PROXY TCP4 1.2.3.4 2001:db8::1 1 2\r\n", "invalid address"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 70000\r\n", "invalid port number"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 x 2\r\n", "invalid port number"),
        (b"PROXY " + b"x" * 120, "107 bytes or less"),
    ],
)
def test_v1_errors(data: bytes, message: str) -> None:
    with pytest.raises(ProxyProtocolError, match=message.replace("\\", "\\\\")):
        parse(data)


def _v2(command: int, family: int, payload: bytes) -> bytes:
    return SIGNATURE_V2 + bytes((command, family)) + struct.pack("!H", len(payload)) + payload


def test_v2_tcp4_with_tlvs_skipped() -> None:
    addresses = ipaddress.IPv4Address("10.0.0.1").packed + ipaddress.IPv4Address("10.0.0.2").packed
    tlvs = b"\x01\x00\x02h2" + b"\x04\x00\x00"
    data = _v2(0x21, 0x11, addresses + struct.pack("!HH", 1000, 80) + tlvs) + b"payload"
    header = parse(data)
    assert header == ProxyHeader(2, True, ("10.0.0.1", 1000), ("10.0.0.2", 80), len(data) - 7)


def test_v2_local_command_has_no_addresses() -> None:
    assert parse(_v2(0x20, 0x00, b"")) == ProxyHeader(2, False, None, None, 16)
    # LOCAL with an address block: parsed but not used (the load balancer's own check).
    block = bytes(12)
    assert parse(_v2(0x20, 0x11, block)) == ProxyHeader(2, False, None, None, 28)


def test_v2_unix_family_is_not_used() -> None:
    assert parse(_v2(0x21, 0x31, bytes(216))) == ProxyHeader(2, False, None, None, 232)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_v2(0x22, 0x11, bytes(12)), "unsupported proxy protocol version and command"),
        (_v2(0x11, 0x11, bytes(12)), "unsupported proxy protocol version and command"),
        (_v2(0x21, 0x00, b""), "unsupported address family and protocol"),
        (_v2(0x21, 0x11, bytes(8)), "invalid length"),
        (_v2(0x21, 0x21, bytes(20)), "invalid length"),
        (_v2(0x21, 0x41, bytes(20)), "invalid length"),
        (_v2(0x21, 0x11, bytes(5000)), "invalid length"),
    ],
)
def test_v2_errors(data: bytes, message: str) -> None:
    with pytest.raises(ProxyProtocolError, match=message):
        parse(data)


def test_not_proxy() -> None:
    assert parse(b"GET / HTTP/1.1\r\n") == NOT_PROXY
    assert parse(b"\x16\x03\x01") == NOT_PROXY
    assert parse(b"PROXZ") == NOT_PROXY
    assert parse(b"\r\n\r\nX") == NOT_PROXY
    assert parse(b"") == NEED_MORE


@given(version=st.sampled_from([1, 2]), v6=st.booleans(), data=st.data())
def test_written_headers_parse_back_byte_by_byte(
    version: int, v6: bool, data: st.DataObject
) -> None:
    family = ipv6 if v6 else ipv4
    source = (data.draw(family), data.draw(ports))
    destination = (data.draw(family), data.draw(ports))
    wire = format_header(version, source, destination)
    for cut in range(len(wire)):
        assert parse(wire[:cut]) == NEED_MORE
    header = parse(wire + b"trailing bytes")
    assert isinstance(header, ProxyHeader)
    assert (header.version, header.proxied, header.length) == (version, True, len(wire))
    assert header.source == source and header.destination == destination


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    try:
        result = parse(data)
    except ProxyProtocolError:
        return
    assert result in (NEED_MORE, NOT_PROXY) or isinstance(result, ProxyHeader)
    if isinstance(result, ProxyHeader):
        assert 0 < result.length <= len(data)


@given(st.binary(min_size=1, max_size=80))
def test_prefixed_garbage_after_v2_signature(tail: bytes) -> None:
    try:
        result = parse(SIGNATURE_V2 + tail)
    except ProxyProtocolError:
        return
    assert result == NEED_MORE or isinstance(result, ProxyHeader)


def test_format_like_go_proxyproto() -> None:
    assert (
        format_header(1, ("192.0.2.1", 5), ("192.0.2.2", 80))
        == b"PROXY TCP4 192.0.2.1 192.0.2.2 5 80\r\n"
    )
    assert (
        format_header(1, ("::ffff:192.0.2.1", 5), ("192.0.2.2", 80))
        == b"PROXY TCP4 192.0.2.1 192.0.2.2 5 80\r\n"
    )
    assert (
        format_header(1, ("2001:db8::1", 5), ("192.0.2.2", 80))
        == b"PROXY TCP6 2001:db8::1 192.0.2.2 5 80\r\n"
    )
    assert format_header(2, ("192.0.2.1", 5), ("192.0.2.2", 80)) == (
        SIGNATURE_V2 + b"\x21\x11\x00\x0c\xc0\x00\x02\x01\xc0\x00\x02\x02\x00\x05\x00\x50"
    )
    assert format_header(1, None, None) == b"PROXY UNKNOWN\r\n"
    assert format_header(2, None, ("1.2.3.4", 1)) == SIGNATURE_V2 + b"\x20\x00\x00\x00"
    with pytest.raises(ProxyProtocolError, match="invalid address"):
        format_header(2, ("192.0.2.1", 5), ("2001:db8::2", 80))
