"""Go's ``http.DetectContentType`` (net/http/sniff.go, the WHATWG MIME sniffing
algorithm): what Go's server sets as Content-Type when a handler wrote none and
sniffing is enabled, which Traefik's contentType middleware does."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["detect_content_type"]

_SNIFF_LEN = 512
_WS = b"\t\n\x0c\r "
_HTML = "text/html; charset=utf-8"

Sig = Callable[[bytes, int], str]


def _html(tag: bytes) -> Sig:
    def match(data: bytes, first: int) -> str:
        data = data[first:]
        if len(data) < len(tag) + 1:
            return ""
        for i, b in enumerate(tag):
            db = data[i]
            if 0x41 <= b <= 0x5A:
                db &= 0xDF
            if b != db:
                return ""
        return _HTML if data[len(tag)] in b" >" else ""

    return match


def _masked(mask: bytes, pat: bytes, ct: str, skip_ws: bool = False) -> Sig:
    def match(data: bytes, first: int) -> str:
        if skip_ws:
            data = data[first:]
        if len(data) < len(pat):
            return ""
        return ct if all(data[i] & mask[i] == p for i, p in enumerate(pat)) else ""

    return match


def _exact(sig: bytes, ct: str) -> Sig:
    return lambda data, first: ct if data.startswith(sig) else ""


def _mp4(data: bytes, first: int) -> str:
    if len(data) < 12:
        return ""
    box = int.from_bytes(data[:4], "big")
    if len(data) < box or box % 4 != 0 or data[4:8] != b"ftyp":
        return ""
    for st in range(8, box, 4):
        if st != 12 and data[st : st + 3] == b"mp4":
            return "video/mp4"
    return ""


_BINARY = frozenset([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20)])


def _text(data: bytes, first: int) -> str:
    return "" if any(b in _BINARY for b in data[first:]) else "text/plain; charset=utf-8"


_FF4 = b"\xff\xff\xff\xff"
_RIFF_MASK = _FF4 + b"\x00\x00\x00\x00" + _FF4
_SIGNATURES: list[Sig] = [
    *(
        _html(tag)
        for tag in (
            b"<!DOCTYPE HTML", b"<HTML", b"<HEAD", b"<SCRIPT", b"<IFRAME", b"<H1", b"<DIV", b"<FONT",
            b"<TABLE", b"<A", b"<STYLE", b"<TITLE", b"<B", b"<BODY", b"<BR", b"<P", b"<!--",
        )
    ),
    _masked(b"\xff" * 5, b"<?xml", "text/xml; charset=utf-8", skip_ws=True),
    _exact(b"%PDF-", "application/pdf"),
    _exact(b"%!PS-Adobe-", "application/postscript"),
    _masked(b"\xff\xff\x00\x00", b"\xfe\xff\x00\x00", "text/plain; charset=utf-16be"),
    _masked(b"\xff\xff\x00\x00", b"\xff\xfe\x00\x00", "text/plain; charset=utf-16le"),
    _masked(b"\xff\xff\xff\x00", b"\xef\xbb\xbf\x00", "text/plain; charset=utf-8"),
    _exact(b"\x00\x00\x01\x00", "image/x-icon"),
    _exact(b"\x00\x00\x02\x00", "image/x-icon"),
    _exact(b"BM", "image/bmp"),
    _exact(b"GIF87a", "image/gif"),
    _exact(b"GIF89a", "image/gif"),
    _masked(_RIFF_MASK + b"\xff\xff", b"RIFF\x00\x00\x00\x00WEBPVP", "image/webp"),
    _exact(b"\x89PNG\x0d\x0a\x1a\x0a", "image/png"),
    _exact(b"\xff\xd8\xff", "image/jpeg"),
    _masked(_FF4, b".snd", "audio/basic"),
    _masked(_RIFF_MASK, b"FORM\x00\x00\x00\x00AIFF", "audio/aiff"),
    _masked(b"\xff\xff\xff", b"ID3", "audio/mpeg"),
    _masked(b"\xff" * 5, b"OggS\x00", "application/ogg"),
    _masked(b"\xff" * 8, b"MThd\x00\x00\x00\x06", "audio/midi"),
    _masked(_RIFF_MASK, b"RIFF\x00\x00\x00\x00AVI ", "video/avi"),
    _masked(_RIFF_MASK, b"RIFF\x00\x00\x00\x00WAVE", "audio/wave"),
    _mp4,
    _exact(b"\x1a\x45\xdf\xa3", "video/webm"),
    _masked(b"\x00" * 34 + b"\xff\xff", b"\x00" * 34 + b"LP", "application/vnd.ms-fontobject"),
    _exact(b"\x00\x01\x00\x00", "font/ttf"),
    _exact(b"OTTO", "font/otf"),
    _exact(b"ttcf", "font/collection"),
    _exact(b"wOFF", "font/woff"),
    _exact(b"wOF2", "font/woff2"),
    _exact(b"\x1f\x8b\x08", "application/x-gzip"),
    _exact(b"PK\x03\x04", "application/zip"),
    _exact(b"Rar!\x1a\x07\x00", "application/x-rar-compressed"),
    _exact(b"Rar!\x1a\x07\x01\x00", "application/x-rar-compressed"),
    _exact(b"\x00\x61\x73\x6d", "application/wasm"),
    _text,
]  # fmt: skip


def detect_content_type(data: bytes) -> str:
    """The Content-Type Go would sniff from the first bytes of a body."""
    data = data[:_SNIFF_LEN]
    first = 0
    while first < len(data) and data[first] in _WS:
        first += 1
    for sig in _SIGNATURES:
        ct = sig(data, first)
        if ct:
            return ct
    return "application/octet-stream"
