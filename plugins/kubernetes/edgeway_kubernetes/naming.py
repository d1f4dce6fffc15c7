"""Names and strings exactly as Traefik's Go code builds them."""

from __future__ import annotations

import hashlib
import unicodedata

__all__ = ["go_quote", "join_host_port", "normalize", "short_hash"]


def normalize(text: str) -> str:
    """``provider.Normalize``: runs of non letters/digits become one ``-``, trimmed at the ends.

    Go splits on every rune that is neither ``unicode.IsLetter`` nor
    ``unicode.IsNumber`` (Unicode categories L* and N*).
    """
    parts: list[str] = []
    current: list[str] = []
    for ch in text:
        if unicodedata.category(ch)[0] in "LN":
            current.append(ch)
        elif current:
            parts.append("".join(current))
            current = []
    if current:
        parts.append("".join(current))
    return "-".join(parts)


def short_hash(text: str) -> str:
    """``fmt.Sprintf("%.10x", sha256(text))``: the first 10 bytes as 20 hex digits."""
    return hashlib.sha256(text.encode()).hexdigest()[:20]


_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t", "\v": r"\v", '"': r"\"", "\\": r"\\"}  # fmt: skip


def go_quote(text: str) -> str:
    """Go's ``%q`` (``strconv.Quote``): double quotes, Go escapes for the unprintable."""
    out = ['"']
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def join_host_port(host: str, port: int | str) -> str:
    """``net.JoinHostPort``: brackets around hosts that contain a colon (IPv6)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
