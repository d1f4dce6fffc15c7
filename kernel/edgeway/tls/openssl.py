"""The OpenSSL settings Python's ``ssl`` module does not expose, through ctypes.

* a list of key-exchange groups (``curvePreferences``): ``ssl`` sets one curve
  only (``set_ecdh_curve``); OpenSSL's ``SSL_CTX_set1_groups_list`` takes many;
* the order of the TLS 1.3 suites (``SSL_CTX_set_ciphersuites``), to prefer
  the suite Go prefers;
* asking for a client certificate without verifying it (Go's
  ``RequestClientCert`` and ``RequireAnyClientCert``): ``ssl`` verifies every
  certificate it asks for; a verify callback that accepts all is OpenSSL's way.

Both act on the ``SSL_CTX`` of an ``ssl.SSLContext`` (the first field after the
object header of CPython's ``PySSLContext``); the pointer is checked against
the verify mode ``ssl`` itself reports before anything is written through it.
When the symbols cannot be found (an OpenSSL linked statically into ``_ssl``)
:class:`OpenSSLUnavailable` says so and the option is refused.
"""

from __future__ import annotations

import ctypes
import ssl
from typing import Any

__all__ = ["OpenSSLUnavailable", "accept_any_client_certificate", "set_groups", "set_tls13_suites"]

_SSL_CTRL_SET_GROUPS_LIST = 92
_SSL_VERIFY_PEER = 0x01
_SSL_VERIFY_FAIL_IF_NO_PEER_CERT = 0x02
#: Python's verify modes as OpenSSL flags (for the pointer check).
_OPENSSL_MODE = {
    ssl.CERT_NONE: 0,
    ssl.CERT_OPTIONAL: _SSL_VERIFY_PEER,
    ssl.CERT_REQUIRED: _SSL_VERIFY_PEER | _SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
}

_VerifyCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_void_p)


class OpenSSLUnavailable(RuntimeError):
    """This Python's OpenSSL cannot be reached through ctypes."""


class _Lib:
    def __init__(self) -> None:
        import _ssl

        try:
            lib = ctypes.CDLL(_ssl.__file__)
            self.ctrl = lib.SSL_CTX_ctrl
            self.set_verify = lib.SSL_CTX_set_verify
            self.get_verify_mode = lib.SSL_CTX_get_verify_mode
            self.set_ciphersuites = lib.SSL_CTX_set_ciphersuites
        except (OSError, AttributeError) as exc:
            raise OpenSSLUnavailable(f"OpenSSL functions are not reachable from Python: {exc}") from None
        self.ctrl.restype = ctypes.c_long
        self.ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_char_p]
        self.set_verify.restype = None
        self.set_verify.argtypes = [ctypes.c_void_p, ctypes.c_int, _VerifyCallback]
        self.get_verify_mode.restype = ctypes.c_int
        self.get_verify_mode.argtypes = [ctypes.c_void_p]
        self.set_ciphersuites.restype = ctypes.c_int
        self.set_ciphersuites.argtypes = [ctypes.c_void_p, ctypes.c_char_p]

    def ctx(self, context: ssl.SSLContext) -> int:
        """The ``SSL_CTX*`` of ``context``, checked through its verify mode."""
        pointer = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
        if not pointer or self.get_verify_mode(pointer) != _OPENSSL_MODE[context.verify_mode]:
            raise OpenSSLUnavailable("cannot locate the OpenSSL context of an ssl.SSLContext")
        return pointer


_lib: _Lib | None = None


def _openssl() -> _Lib:
    global _lib
    if _lib is None:
        _lib = _Lib()
    return _lib


def set_groups(context: ssl.SSLContext, groups: list[str]) -> None:
    """Offer exactly ``groups`` (OpenSSL names, preferred first) for key exchange.

    Raises ValueError naming the groups this OpenSSL does not know.
    """
    lib = _openssl()
    pointer = lib.ctx(context)
    if lib.ctrl(pointer, _SSL_CTRL_SET_GROUPS_LIST, 0, ":".join(groups).encode()) == 1:
        return
    unknown = [g for g in groups if lib.ctrl(pointer, _SSL_CTRL_SET_GROUPS_LIST, 0, g.encode()) != 1]
    raise ValueError(f"not available in this OpenSSL build: {', '.join(unknown) or ', '.join(groups)}")


def set_tls13_suites(context: ssl.SSLContext, suites: list[str]) -> None:
    """The TLS 1.3 suites, in preference order (with ``OP_CIPHER_SERVER_PREFERENCE``)."""
    lib = _openssl()
    if lib.set_ciphersuites(lib.ctx(context), ":".join(suites).encode()) != 1:
        raise ValueError(f"not available in this OpenSSL build: {', '.join(suites)}")


@_VerifyCallback
def _accept(preverify_ok: int, store: Any) -> int:
    return 1


def accept_any_client_certificate(context: ssl.SSLContext, *, required: bool) -> None:
    """Ask for a client certificate and accept whatever is sent (Go does not verify
    it for ``RequestClientCert``/``RequireAnyClientCert``); ``required``: the
    handshake fails without one."""
    lib = _openssl()
    context.verify_mode = ssl.CERT_NONE
    mode = _SSL_VERIFY_PEER | (_SSL_VERIFY_FAIL_IF_NO_PEER_CERT if required else 0)
    lib.set_verify(lib.ctx(context), mode, _accept)
