"""htpasswd secrets, checked as Traefik's go-http-auth ``CheckSecret`` checks them.

The prefix picks the scheme: ``$2a$``/``$2b$``/``$2x$``/``$2y$`` bcrypt, ``{SHA}``
base64 SHA-1, anything else MD5-crypt with the magic the secret names
(``$apr1$``, ``$1$``). There is no plain-text scheme: a secret in clear never
matches. MD5-crypt is implemented here (the only maintained Python
implementation lived in passlib, unmaintained since 2020).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import bcrypt

__all__ = ["check_secret", "is_slow", "md5_crypt"]

_BCRYPT_PREFIXES = (b"$2a$", b"$2b$", b"$2x$", b"$2y$")
_ITOA64 = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SWAPS = (12, 6, 0, 13, 7, 1, 14, 8, 2, 15, 9, 3, 5, 10, 4, 11)


def md5_crypt(password: bytes, salt: bytes, magic: bytes) -> bytes:
    """``magic + salt + '$' + hash``, as go-http-auth's ``MD5Crypt`` (no salt truncation)."""
    d = hashlib.md5(password + magic + salt)
    mixin = hashlib.md5(password + salt + password).digest()
    d.update(bytes(mixin[i % 16] for i in range(len(password))))
    i = len(password)
    while i:
        d.update(password[:1] if i & 1 == 0 else b"\0")
        i >>= 1
    final = d.digest()
    for r in range(1000):
        d2 = hashlib.md5(final if r & 1 == 0 else password)
        if r % 3:
            d2.update(salt)
        if r % 7:
            d2.update(password)
        d2.update(password if r & 1 == 0 else final)
        final = d2.digest()
    out = bytearray()
    v = bits = 0
    for i in _SWAPS:
        v |= final[i] << bits
        bits += 8
        while bits > 6:
            out.append(_ITOA64[v & 0x3F])
            v >>= 6
            bits -= 6
    out.append(_ITOA64[v & 0x3F])
    return magic + salt + b"$" + bytes(out)


def _check_md5(password: bytes, secret: bytes) -> bool:
    parts = secret.split(b"$", 3)
    if len(parts) != 4:
        return False
    return hmac.compare_digest(secret, md5_crypt(password, parts[2], b"$" + parts[1] + b"$"))


def _check_sha(password: bytes, secret: bytes) -> bool:
    return hmac.compare_digest(secret[5:], base64.b64encode(hashlib.sha1(password).digest()))


def _check_bcrypt(password: bytes, secret: bytes) -> bool:
    # Go's bcrypt reads at most 72 bytes of the password and treats every minor
    # version alike; the bcrypt package refuses longer passwords and knows no $2x$.
    try:
        return bcrypt.checkpw(password[:72], b"$2b$" + secret[4:])
    except ValueError:
        return False


def check_secret(password: str, secret: str) -> bool:
    """Whether ``password`` matches the htpasswd ``secret`` (slow for bcrypt: run in a thread)."""
    pw = password.encode("utf-8", "surrogateescape")
    sec = secret.encode("utf-8", "surrogateescape")
    if sec.startswith(b"{SHA}"):
        return _check_sha(pw, sec)
    if sec.startswith(_BCRYPT_PREFIXES):
        return _check_bcrypt(pw, sec)
    return _check_md5(pw, sec)


def is_slow(secret: str) -> bool:
    """Whether checking ``secret`` takes long enough to be worth a worker thread."""
    return not secret.startswith("{SHA}")
