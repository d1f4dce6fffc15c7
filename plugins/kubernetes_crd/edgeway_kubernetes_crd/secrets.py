"""The Secret and ConfigMap readers of Traefik's CRD provider (``kubernetes.go``).

``loadCASecret``, ``loadCAConfigMap``, ``loadAuthTLSSecret``,
``loadBasicAuthCredentials``, ``loadAuthCredentials``,
``loadRedisCredentials``, ``getSecretValue``, ``getCABlocks`` and
``getCABlocksFromConfigMap``, with Traefik's error texts. A failure raises
:class:`~edgeway_kubernetes_crd.references.ReferenceError` whose ``reason`` is
``SecretNotFound``, ``ConfigMapNotFound`` or ``InvalidSecret`` (a Secret that
exists but lacks what is needed). Secret data is read decoded, ``stringData``
included (:func:`edgeway_kubernetes.secrets.secret_data`); bytes become text
as Go's ``string(b)`` does once written as JSON (invalid UTF-8 replaced).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

from edgeway_kubernetes import SecretError, go_quote, tls_certificate
from edgeway_kubernetes.objects import name, namespace
from edgeway_kubernetes.secrets import secret_data

from edgeway_kubernetes_crd.references import ReferenceError
from edgeway_kubernetes_crd.view import CRDView

__all__ = [
    "SECRET_URN_PREFIX",
    "get_ca_blocks",
    "get_secret_value",
    "load_auth_credentials",
    "load_auth_tls_secret",
    "load_basic_auth_credentials",
    "load_ca_config_map",
    "load_ca_secret",
    "load_redis_credentials",
    "read_secret",
]

Obj = Mapping[str, Any]

#: Plugin configuration values of the form ``urn:k8s:secret:<name>:<key>`` are read from Secrets.
SECRET_URN_PREFIX = "urn:k8s:secret:"
SECRET_TYPE_BASIC_AUTH = "kubernetes.io/basic-auth"


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def read_secret(
    view: CRDView, ns: str, secret_name: str, missing: str
) -> tuple[Obj, dict[str, bytes]]:
    """The Secret and its decoded data; ``missing`` is the error text when it does not exist.

    Kubernetes' Go client decodes ``data`` with ``base64.StdEncoding``, which
    skips carriage returns and newlines (base64 wrapped over lines, as
    ``base64`` writes it); the shared :func:`secret_data` refuses them, so
    they are taken out first, and the Secret returned is that unwrapped copy.
    """
    secret = view.secret(ns, secret_name)
    if secret is None:
        raise ReferenceError(missing, "SecretNotFound")
    data = secret.get("data")
    if isinstance(data, Mapping):
        unwrapped = {
            key: value.replace("\r", "").replace("\n", "") if isinstance(value, str) else value
            for key, value in data.items()
        }
        secret = {**secret, "data": unwrapped}
    try:
        return secret, secret_data(secret)
    except SecretError as exc:
        raise ReferenceError(str(exc), "InvalidSecret") from None


def get_ca_blocks(data: Mapping[str, bytes], ns: str, secret_name: str) -> str:
    """``getCABlocks``: ``tls.ca``, else ``ca.crt``."""
    for key in ("tls.ca", "ca.crt"):
        if key in data:
            return _text(data[key])
    raise ReferenceError(
        f"secret {ns}/{secret_name} contains neither tls.ca nor ca.crt", "InvalidSecret"
    )


def load_ca_secret(view: CRDView, ns: str, secret_name: str) -> str:
    """``loadCASecret``: the CA of a Secret; a Secret with a single entry is that CA (kept for compatibility)."""
    _, data = read_secret(view, ns, secret_name, f"secret '{ns}/{secret_name}' not found")
    try:
        return get_ca_blocks(data, ns, secret_name)
    except ReferenceError as exc:
        if len(data) == 1:
            return _text(next(iter(data.values())))
        raise ReferenceError(
            f"secret '{ns}/{secret_name}' has no CA block: {exc}", "InvalidSecret"
        ) from None


def load_ca_config_map(view: CRDView, ns: str, config_map_name: str) -> str:
    """``loadCAConfigMap`` and ``getCABlocksFromConfigMap``: ``tls.ca``, else ``ca.crt``."""
    config_map = view.config_map(ns, config_map_name)
    if config_map is None:
        raise ReferenceError(f"configMap '{ns}/{config_map_name}' not found", "ConfigMapNotFound")
    data = config_map.get("data")
    data = data if isinstance(data, Mapping) else {}
    for key in ("tls.ca", "ca.crt"):
        value = data.get(key)
        if isinstance(value, str):
            return value
    raise ReferenceError(
        f"configMap '{ns}/{config_map_name}' has no CA block: "
        f"config map {ns}/{config_map_name} contains neither tls.ca nor ca.crt",
        "InvalidSecret",
    )


def load_auth_tls_secret(view: CRDView, ns: str, secret_name: str) -> tuple[str, str]:
    """``loadAuthTLSSecret``: ``(tls.crt, tls.key)`` of a Secret (``getCertificateBlocks``)."""
    secret, _ = read_secret(view, ns, secret_name, f"secret '{ns}/{secret_name}' does not exist")
    try:
        certificate = tls_certificate(secret, ns, secret_name)
    except SecretError as exc:
        raise ReferenceError(str(exc), "InvalidSecret") from None
    return certificate["certFile"], certificate["keyFile"]


def load_basic_auth_credentials(secret: Obj, data: Mapping[str, bytes]) -> list[str]:
    """``loadBasicAuthCredentials`` (a ``kubernetes.io/basic-auth`` Secret): ``user:{SHA}base64(sha1(password))``."""
    if "username" not in data or "password" not in data:
        raise ReferenceError(
            f"secret '{namespace(secret)}/{name(secret)}' must contain both username and password keys",
            "InvalidSecret",
        )
    digest = base64.b64encode(hashlib.sha1(data["password"]).digest()).decode()  # noqa: S324 - htpasswd {SHA}
    return [f"{_text(data['username'])}:{{SHA}}{digest}"]


def load_auth_credentials(secret: Obj, data: Mapping[str, bytes]) -> list[str]:
    """``loadAuthCredentials``: the non-empty lines of the Secret's only entry (an htpasswd/htdigest file)."""
    where = f"{namespace(secret)}/{name(secret)}"
    if len(data) != 1:
        raise ReferenceError(
            f"found {len(data)} elements for secret '{where}', must be single element exactly",
            "InvalidSecret",
        )
    content = _text(next(iter(data.values())))
    # bufio.Scanner's ScanLines: split on "\n", drop one trailing "\r" per line.
    lines = [line.removesuffix("\r") for line in content.split("\n")]
    credentials = [line for line in lines if line]
    if not credentials:
        raise ReferenceError(f"secret '{where}' does not contain any credentials", "InvalidSecret")
    return credentials


def load_redis_credentials(view: CRDView, ns: str, secret_name: str) -> tuple[str, str]:
    """``loadRedisCredentials``: ``(username, password)``, both keys required."""
    secret, data = read_secret(view, ns, secret_name, f"secret '{ns}/{secret_name}' not found")
    if "username" not in data or "password" not in data:
        raise ReferenceError(
            f"secret '{namespace(secret)}/{name(secret)}' must contain both username and password keys",
            "InvalidSecret",
        )
    return _text(data["username"]), _text(data["password"])


def get_secret_value(view: CRDView, ns: str, urn: str) -> str:
    """``getSecretValue``: the value ``urn:k8s:secret:<name>:<key>`` points at."""
    parts = urn.split(":")
    if len(parts) != 5:
        raise ReferenceError(f"malformed secret URN {go_quote(urn)}", "InvalidSpec")
    secret_name, key = parts[3], parts[4]
    _, data = read_secret(view, ns, secret_name, f"secret {ns}/{secret_name} is not found")
    if key not in data:
        raise ReferenceError(
            f"key {go_quote(key)} not found in secret {ns}/{secret_name}", "InvalidSecret"
        )
    return _text(data[key])
