"""The ClientHello parser: real clients' hellos, Go's refusals, and property/fuzz tests."""

from __future__ import annotations

import ssl
import struct

import pytest
from edgeway.tls.clienthello import (
    ClientHello,
    InvalidClientHello,
    parse_client_hello,
)
from hypothesis import given, settings
from hypothesis import strategies as st


def real_hello(sni: str | None, alpn: list[str] | None = None) -> bytes:
    """The ClientHello Python's ssl (OpenSSL) sends."""
    ctx = ssl.create_default_context()
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if sni is None:
        ctx.check_hostname = False
    out = ssl.MemoryBIO()
    obj = ctx.wrap_bio(ssl.MemoryBIO(), out, server_hostname=sni)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return out.read()


def _vec(size: int, data: bytes) -> bytes:
    return len(data).to_bytes(size, "big") + data


def build_hello(
    sni: str | None = None,
    alpn: tuple[str, ...] = (),
    *,
    extra: list[tuple[int, bytes]] | None = None,
    record_size: int = 16384,
) -> bytes:
    """A ClientHello with the given SNI/ALPN, split into records of ``record_size``."""
    exts = b""
    if sni is not None:
        entry = b"\x00" + _vec(2, sni.encode("latin-1"))
        exts += struct.pack(">H", 0) + _vec(2, _vec(2, entry))
    if alpn:
        exts += struct.pack(">H", 16) + _vec(
            2, _vec(2, b"".join(_vec(1, p.encode("latin-1")) for p in alpn))
        )
    for kind, data in extra or []:
        exts += struct.pack(">H", kind) + _vec(2, data)
    body = (
        b"\x03\x03"
        + b"\x11" * 32
        + _vec(1, b"")
        + _vec(2, b"\x13\x01\xc0\x2f")
        + _vec(1, b"\x00")
        + _vec(2, exts)
    )
    message = b"\x01" + _vec(3, body)
    records = b""
    for i in range(0, len(message), record_size):
        records += b"\x16\x03\x01" + _vec(2, message[i : i + record_size])
    return records


@pytest.mark.parametrize(
    ("sni", "alpn"),
    [("a.example.com", ["h2", "http/1.1"]), ("x.test", None), (None, ["http/1.1"])],
)
def test_hellos_of_a_real_client(sni, alpn):
    hello = parse_client_hello(real_hello(sni, alpn))
    assert hello == ClientHello(True, sni or "", tuple(alpn or ()))


def test_plain_http_and_sslv2_are_told_apart():
    assert parse_client_hello(b"GET / HTTP/1.1\r\n") == ClientHello(False)
    assert parse_client_hello(b"\x80\x2e\x01") == ClientHello(True)
    assert parse_client_hello(b"") is None


def test_every_prefix_needs_more():
    data = real_hello("prefix.example.com", ["h2"])
    for i in range(1, len(data)):
        assert parse_client_hello(data[:i]) is None


def test_a_hello_spanning_records():
    data = build_hello("split.example.com", ("h2",), record_size=7)
    assert parse_client_hello(data) == ClientHello(True, "split.example.com", ("h2",))


@pytest.mark.parametrize(
    "data",
    [
        build_hello("trailing.dot."),  # RFC 6066, Go refuses
        build_hello("a.com", extra=[(16, _vec(2, _vec(1, b"h2")))], alpn=("x",)),  # duplicate ALPN
        build_hello(extra=[(0, _vec(2, b""))]),  # empty server name list
        build_hello(extra=[(16, _vec(2, b"\x00"))]),  # empty protocol name
        b"\x16\x03\x01\x00\x04\x02\x00\x00\x00",  # a ServerHello
        b"\x15\x03\x01\x00\x02\x02\x28",  # an alert first: not TLS (served as HTTP, as Traefik)
        b"\x16\x03\x01\x50\x00",  # record longer than Go's maximum
    ],
)
def test_malformed_hellos(data):
    if data[0] != 0x16:
        assert parse_client_hello(data) == ClientHello(False)
        return
    with pytest.raises(InvalidClientHello):
        parse_client_hello(data + b"\x00" * 0x5000)


hostnames = st.from_regex(
    r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z0-9]{1,10}){0,3}", fullmatch=True
)
protocols = st.lists(
    st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=12), max_size=4
)


@settings(max_examples=200, deadline=None)
@given(sni=st.one_of(st.none(), hostnames), alpn=protocols, record_size=st.integers(1, 300))
def test_round_trip(sni, alpn, record_size):
    data = build_hello(sni, tuple(alpn), record_size=record_size)
    assert parse_client_hello(data) == ClientHello(True, sni or "", tuple(alpn))
    assert parse_client_hello(data[: len(data) - 1]) is None


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_crash(data):
    for start in (data, b"\x16\x03\x01" + data):
        try:
            result = parse_client_hello(start)
        except InvalidClientHello:
            continue
        assert result is None or isinstance(result, ClientHello)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_hellos_never_crash(data):
    hello = bytearray(build_hello("mutate.example.com", ("h2", "http/1.1")))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(hello) - 1))
        hello[i] = data.draw(st.integers(0, 255))
    try:
        result = parse_client_hello(bytes(hello))
    except InvalidClientHello:
        return
    assert result is None or isinstance(result, ClientHello)
