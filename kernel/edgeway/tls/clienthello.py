"""The TLS ClientHello, read from peeked bytes: is it TLS, which server name, which ALPN.

The connection layer must choose the TLS configuration (certificate and
options) *before* the handshake starts, so it reads the SNI and ALPN offer the
way Traefik's ``clientHelloInfo`` does (pkg/server/router/tcp/router.go), from
bytes peeked off the socket and never consumed: the handshake itself then runs
on the untouched stream. Validation follows Go's ``clientHelloMsg.unmarshal``
where it decides between "TLS connection" and "broken connection" (a trailing
dot in the server name, duplicate extensions, malformed lengths).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MAX_HELLO", "ClientHello", "InvalidClientHello", "parse_client_hello"]

_HANDSHAKE = 0x16
_SSLV2 = 0x80
_CLIENT_HELLO = 1
_EXT_SERVER_NAME = 0
_EXT_ALPN = 16
#: Go's maxCiphertext: a record longer than this is an error.
_MAX_RECORD = 16384 + 2048
#: Go's maxHandshake: the largest handshake message it reads.
MAX_HELLO = 65536


class InvalidClientHello(ValueError):
    """The bytes start like TLS but are not a ClientHello Go would accept."""


@dataclass(frozen=True, slots=True)
class ClientHello:
    """What the first bytes of a connection say; ``is_tls`` False for anything else."""

    is_tls: bool
    server_name: str = ""
    alpn: tuple[str, ...] = ()


NOT_TLS = ClientHello(False)
SSLV2 = ClientHello(True)  # SSLv2-style hello: TLS, refused by the handshake itself


def parse_client_hello(data: bytes) -> ClientHello | None:
    """Parse the start of a connection; None when more bytes are needed.

    Raises :class:`InvalidClientHello` for a TLS stream whose ClientHello is
    malformed (Traefik closes such connections).
    """
    if not data:
        return None
    first = data[0]
    if first != _HANDSHAKE:
        return SSLV2 if first == _SSLV2 else NOT_TLS
    message = _handshake_message(data)
    if message is None:
        return None
    return _client_hello(message)


def _handshake_message(data: bytes) -> bytes | None:
    """The first handshake message, reassembled from as many records as it spans."""
    fragments = bytearray()
    pos = 0
    needed: int | None = None
    while True:
        if len(data) < pos + 5:
            return None
        if data[pos] != _HANDSHAKE:
            raise InvalidClientHello("a non-handshake record arrived before the ClientHello")
        length = int.from_bytes(data[pos + 3 : pos + 5], "big")
        if length > _MAX_RECORD:
            raise InvalidClientHello("oversized record")
        if length == 0:
            raise InvalidClientHello("empty handshake record")
        if len(data) < pos + 5 + length:
            return None
        fragments += data[pos + 5 : pos + 5 + length]
        pos += 5 + length
        if needed is None and len(fragments) >= 4:
            if fragments[0] != _CLIENT_HELLO:
                raise InvalidClientHello("the first handshake message is not a ClientHello")
            needed = 4 + int.from_bytes(fragments[1:4], "big")
            if needed > MAX_HELLO:
                raise InvalidClientHello("ClientHello too large")
        if needed is not None and len(fragments) >= needed:
            return bytes(fragments[4:needed])


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise InvalidClientHello("truncated ClientHello")
        out = self.data[self.pos : end]
        self.pos = end
        return out

    def number(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def vector(self, size: int) -> bytes:
        return self.take(self.number(size))

    @property
    def empty(self) -> bool:
        return self.pos == len(self.data)


def _client_hello(body: bytes) -> ClientHello:
    r = _Reader(body)
    r.take(2 + 32)  # legacy_version, random
    if len(r.vector(1)) > 32:
        raise InvalidClientHello("session id too long")
    suites = r.vector(2)
    if len(suites) % 2:
        raise InvalidClientHello("odd cipher suites length")
    r.vector(1)  # compression methods
    server_name = ""
    alpn: tuple[str, ...] = ()
    if r.empty:
        return ClientHello(True)
    extensions = _Reader(r.vector(2))
    if not r.empty:
        raise InvalidClientHello("trailing bytes after the extensions")
    seen: set[int] = set()
    while not extensions.empty:
        ext = extensions.number(2)
        data = _Reader(extensions.vector(2))
        if ext in seen:
            raise InvalidClientHello(f"duplicate extension {ext}")
        seen.add(ext)
        if ext == _EXT_SERVER_NAME:
            server_name = _server_name(data)
        elif ext == _EXT_ALPN:
            alpn = _alpn(data)
    return ClientHello(True, server_name, alpn)


def _server_name(data: _Reader) -> str:
    names = _Reader(data.vector(2))
    if not data.empty or names.empty:
        raise InvalidClientHello("malformed server_name extension")
    found = ""
    while not names.empty:
        kind = names.number(1)
        name = names.vector(2)
        if not name:
            raise InvalidClientHello("empty server name")
        if kind != 0:
            continue
        if found:
            raise InvalidClientHello("several host names in server_name")
        found = name.decode("latin-1")
        if found.endswith("."):  # RFC 6066: no trailing dot; Go refuses the hello
            raise InvalidClientHello("server name with a trailing dot")
    return found


def _alpn(data: _Reader) -> tuple[str, ...]:
    protos = _Reader(data.vector(2))
    if not data.empty or protos.empty:
        raise InvalidClientHello("malformed ALPN extension")
    out = []
    while not protos.empty:
        proto = protos.vector(1)
        if not proto:
            raise InvalidClientHello("empty ALPN protocol name")
        out.append(proto.decode("latin-1"))
    return tuple(out)
