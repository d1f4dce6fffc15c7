"""A TLS Secret (``kubernetes.io/tls``, as cert-manager writes them) to a certificate.

``getCertificateBlocks`` in Traefik's Ingress provider: ``tls.crt`` and
``tls.key`` must both be present and non-empty; other keys (``ca.crt``) are
ignored. ``data`` is base64 as the API serves it; ``stringData`` (only ever
seen in manifests, the API server folds it into ``data``) is honoured the same
way, so an offline render sees what the cluster would.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

__all__ = ["SecretError", "secret_data", "tls_certificate"]


class SecretError(ValueError):
    """The Secret lacks a usable certificate or key."""


def secret_data(secret: Mapping[str, Any]) -> dict[str, bytes]:
    """The Secret's decoded data, ``stringData`` entries winning as on the API server."""
    out: dict[str, bytes] = {}
    where = f"{(secret.get('metadata') or {}).get('namespace', '')}/{(secret.get('metadata') or {}).get('name', '')}"
    for key, value in (secret.get("data") or {}).items():
        if isinstance(value, bytes):
            out[key] = value
            continue
        try:
            # Go decodes base64 with line breaks in it (manifests wrap long values).
            out[key] = base64.b64decode("".join(str(value or "").split()), validate=True)
        except (binascii.Error, ValueError):
            raise SecretError(f"secret {where}: data.{key} is not valid base64") from None
    for key, value in (secret.get("stringData") or {}).items():
        out[key] = str(value).encode()
    return out


def tls_certificate(secret: Mapping[str, Any], namespace: str, name: str) -> dict[str, str]:
    """``{"certFile": PEM, "keyFile": PEM}`` (a ``tls.certificates`` entry) from a Secret."""
    data = secret_data(secret)
    missing = [key for key in ("tls.crt", "tls.key") if key not in data]
    if missing:
        raise SecretError(
            f"secret {namespace}/{name} is missing the following TLS data entries: {', '.join(missing)}"
        )
    cert = data["tls.crt"].decode("utf-8", errors="replace")
    key = data["tls.key"].decode("utf-8", errors="replace")
    empty = [k for k, v in (("tls.crt", cert), ("tls.key", key)) if not v]
    if empty:
        raise SecretError(
            f"secret {namespace}/{name} contains the following empty TLS data entries: {', '.join(empty)}"
        )
    return {"certFile": cert, "keyFile": key}
