"""The objects the ACME storage keeps in its namespace: names, labels and Secret shapes.

Every object carries ``app.kubernetes.io/managed-by: edgeway``, the resolver
(``edgeway.io/acme-resolver``) and what it is (``edgeway.io/acme-kind``):

- ``account``: Secret ``edgeway-acme-<resolver>-account`` (``Opaque``), key
  ``account.json``: the account as Traefik's ``acme.json`` writes it (``Email``,
  ``Registration``, ``PrivateKey`` base64 PKCS#1 DER, ``KeyType``);
- ``certificate``: a ``kubernetes.io/tls`` Secret (``tls.crt`` the chain,
  ``tls.key``) annotated with its domains and TLS store, named from the
  resolver and domains (DNS-1123 safe, hash suffix); its Lease has the same name;
- ``challenge``: ``Opaque`` Secrets of pending challenges: HTTP-01 (``domain``,
  ``token``, ``keyAuthorization``) named from domain and token, TLS-ALPN-01
  (``domain``, ``tls.crt``, ``tls.key``) named from the domain, so a replica
  answering a validation can read it directly by name.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from edgeway.acme.storage import Account, StoredCertificate
from edgeway_kubernetes.reflector import SECRET, ResourceKind

__all__ = [
    "DOMAINS_ANNOTATION",
    "KIND_LABEL",
    "LEASE",
    "MANAGED_BY",
    "ORDER_ANNOTATION",
    "RESOLVER_LABEL",
    "SECRET",
    "STORE_ANNOTATION",
    "account_from_secret",
    "account_name",
    "account_secret",
    "certificate_from_secret",
    "certificate_name",
    "certificate_secret",
    "http01_from_secret",
    "http01_name",
    "http01_secret",
    "labels",
    "tlsalpn01_from_secret",
    "tlsalpn01_name",
    "tlsalpn01_secret",
]

LEASE = ResourceKind("Lease", "coordination.k8s.io", "v1", "leases")

MANAGED_BY = ("app.kubernetes.io/managed-by", "edgeway")
RESOLVER_LABEL = "edgeway.io/acme-resolver"
KIND_LABEL = "edgeway.io/acme-kind"
CHALLENGE_LABEL = "edgeway.io/acme-challenge"
DOMAINS_ANNOTATION = "edgeway.io/acme-domains"
STORE_ANNOTATION = "edgeway.io/acme-store"
ORDER_ANNOTATION = "edgeway.io/acme-order"

#: What the storage watches: certificates and pending challenges of every resolver.
WATCH_SELECTOR = f"{MANAGED_BY[0]}={MANAGED_BY[1]},{KIND_LABEL} in (certificate,challenge)"

_LABEL_VALUE = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)$")

Obj = dict[str, Any]


def _hash(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:10]


def _slug(text: str, limit: int) -> str:
    """Lower-case letters, digits and single dashes (DNS-1123), at most ``limit`` long."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-")


def resolver_label(resolver: str) -> str:
    """The resolver as a label value (names that are no valid label value get a hash)."""
    if _LABEL_VALUE.match(resolver):
        return resolver
    return f"{_slug(resolver, 50) or 'resolver'}-{_hash(resolver)}"


def labels(resolver: str, kind: str) -> dict[str, str]:
    return {
        MANAGED_BY[0]: MANAGED_BY[1],
        RESOLVER_LABEL: resolver_label(resolver),
        KIND_LABEL: kind,
    }


def _resolver_part(resolver: str) -> str:
    slug = _slug(resolver, 40)
    return slug if slug == resolver else f"{slug or 'r'}-{_hash(resolver)}"


def account_name(resolver: str) -> str:
    return f"edgeway-acme-{_resolver_part(resolver)}-account"


def certificate_name(resolver: str, domains: tuple[str, ...]) -> str:
    """``edgeway-acme-<resolver>-<main domain>-<hash of resolver and domains>`` (also its Lease)."""
    main = _slug(domains[0].replace("*", "wildcard"), 60) if domains else ""
    return f"edgeway-acme-{_resolver_part(resolver)}-{main or 'cert'}-{_hash(resolver, *domains)}"


def http01_name(domain: str, token: str) -> str:
    return f"edgeway-acme-http01-{_hash('http-01', domain, token)}"


def tlsalpn01_name(domain: str) -> str:
    return f"edgeway-acme-tlsalpn01-{_hash('tls-alpn-01', domain)}"


def _b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def _data(secret: Mapping[str, Any], key: str) -> bytes:
    value = (secret.get("data") or {}).get(key)
    return base64.b64decode(value) if value else b""


def _meta(secret: Mapping[str, Any]) -> Mapping[str, Any]:
    return secret.get("metadata") or {}


def _secret(name: str, lbls: dict[str, str], data: Mapping[str, bytes | str], *, type_: str = "Opaque",
            annotations: Mapping[str, str] | None = None) -> Obj:  # fmt: skip
    meta: Obj = {"name": name, "labels": lbls}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": type_,
            "data": {k: _b64(v) for k, v in data.items()}}  # fmt: skip


# -- account ------------------------------------------------------------------------


def account_secret(resolver: str, account: Account) -> Obj:
    doc = {"Email": account.email, "Registration": account.registration,
           "PrivateKey": _b64(account.private_key), "KeyType": "4096"}  # fmt: skip
    return _secret(
        account_name(resolver), labels(resolver, "account"), {"account.json": json.dumps(doc)}
    )


def account_from_secret(secret: Mapping[str, Any]) -> Account:
    try:
        doc = json.loads(_data(secret, "account.json") or b"{}")
        return Account(
            email=str(doc.get("Email") or ""),
            private_key=base64.b64decode(doc.get("PrivateKey") or ""),
            registration=doc.get("Registration") or None,
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValueError(
            f"Secret {_meta(secret).get('name')}: unreadable account.json: {exc}"
        ) from None


# -- certificates -------------------------------------------------------------------


def certificate_secret(resolver: str, cert: StoredCertificate) -> Obj:
    return _secret(
        certificate_name(resolver, cert.domains),
        labels(resolver, "certificate"),
        {"tls.crt": cert.certificate, "tls.key": cert.key},
        type_="kubernetes.io/tls",
        annotations={
            DOMAINS_ANNOTATION: ",".join(cert.domains),
            STORE_ANNOTATION: cert.store or "default",
        },
    )


def certificate_from_secret(secret: Mapping[str, Any]) -> StoredCertificate | None:
    """The stored certificate (None: no domains, or an empty certificate or key)."""
    annotations = _meta(secret).get("annotations") or {}
    domains = [
        d.strip() for d in str(annotations.get(DOMAINS_ANNOTATION) or "").split(",") if d.strip()
    ]
    try:
        cert, key = _data(secret, "tls.crt"), _data(secret, "tls.key")
    except ValueError:
        return None
    if not domains or not cert or not key:
        return None
    return StoredCertificate(domains[0], tuple(domains[1:]), cert, key,
                             str(annotations.get(STORE_ANNOTATION) or "default"))  # fmt: skip


# -- challenges ---------------------------------------------------------------------


def _challenge_labels(resolver: str, challenge: str) -> dict[str, str]:
    return {**labels(resolver, "challenge"), CHALLENGE_LABEL: challenge}


def http01_secret(resolver: str, domain: str, token: str, key_authorization: str) -> Obj:
    return _secret(http01_name(domain, token), _challenge_labels(resolver, "http-01"),
                   {"domain": domain, "token": token, "keyAuthorization": key_authorization})  # fmt: skip


def http01_from_secret(secret: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(domain, token, key authorization) of an HTTP-01 challenge Secret."""
    if (_meta(secret).get("labels") or {}).get(CHALLENGE_LABEL) != "http-01":
        return None
    try:
        parts = [_data(secret, k).decode() for k in ("domain", "token", "keyAuthorization")]
    except ValueError:
        return None
    return (parts[0], parts[1], parts[2]) if all(parts) else None


def tlsalpn01_secret(resolver: str, domain: str, cert_pem: bytes, key_pem: bytes) -> Obj:
    return _secret(tlsalpn01_name(domain), _challenge_labels(resolver, "tls-alpn-01"),
                   {"domain": domain, "tls.crt": cert_pem, "tls.key": key_pem})  # fmt: skip


def tlsalpn01_from_secret(secret: Mapping[str, Any]) -> tuple[str, bytes, bytes] | None:
    """(domain, certificate PEM, key PEM) of a TLS-ALPN-01 challenge Secret."""
    if (_meta(secret).get("labels") or {}).get(CHALLENGE_LABEL) != "tls-alpn-01":
        return None
    try:
        domain, cert, key = (
            _data(secret, "domain").decode(),
            _data(secret, "tls.crt"),
            _data(secret, "tls.key"),
        )
    except ValueError:
        return None
    return (domain, cert, key) if domain and cert and key else None
