"""Pending challenges as Secrets: published by the ordering replica, answered by any.

:class:`ChallengeSecrets` is one resolver's
:class:`~edgeway.acme.storage.ChallengePublisher`: ``publish_*`` returns once
the API server accepted the Secret (only then is the CA told to validate),
``withdraw_*`` deletes it. :class:`ChallengeAnswers` answers validation
requests from the watched cache, and on a miss reads the Secret directly by
its name (derived from the domain and token), so a validation that reaches a
replica before the watch event does is still answered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from edgeway_kubernetes_acme.objects import (
    SECRET,
    http01_from_secret,
    http01_name,
    http01_secret,
    tlsalpn01_from_secret,
    tlsalpn01_name,
    tlsalpn01_secret,
)
from edgeway_kubernetes_acme.secrets import SecretsAPI

__all__ = ["ChallengeAnswers", "ChallengeSecrets"]


class ChallengeSecrets:
    """Where one resolver publishes its pending challenges (blocking; worker threads)."""

    def __init__(self, secrets: SecretsAPI, resolver: str, changed: Callable[[], None]) -> None:
        self.secrets = secrets
        self.resolver = resolver
        self.changed = changed
        self.answers = ChallengeAnswers(secrets)

    def publish_http01(self, domain: str, token: str, key_authorization: str) -> None:
        self.secrets.write(http01_secret(self.resolver, domain, token, key_authorization))

    def withdraw_http01(self, domain: str, token: str) -> None:
        self.secrets.delete(http01_name(domain, token))

    def http01(self, domain: str, token: str) -> str | None:
        return self.answers.http01(domain, token)

    def publish_tlsalpn01(self, domain: str, cert_pem: bytes, key_pem: bytes) -> None:
        self.secrets.write(tlsalpn01_secret(self.resolver, domain, cert_pem, key_pem))
        self.changed()

    def withdraw_tlsalpn01(self, domain: str) -> None:
        self.secrets.delete(tlsalpn01_name(domain))
        self.changed()

    def tlsalpn01_certificates(self) -> list[tuple[bytes, bytes]]:
        return self.answers.tlsalpn01_certificates()


class ChallengeAnswers:
    """Every resolver's pending challenges in the namespace, as this replica sees them."""

    def __init__(self, secrets: SecretsAPI) -> None:
        self.secrets = secrets

    def _read(self, name: str) -> Mapping[str, Any] | None:
        """The Secret from the API server, the cache updated with what it said."""
        found = self.secrets.read(name)
        if found is None:
            self.secrets.cache.delete(SECRET.kind, self.secrets.namespace, name)
        else:
            self.secrets.cache.put(found)
        return found

    def http01(self, domain: str, token: str) -> str | None:
        """From the cache (non-blocking)."""
        found = self.secrets.cached(http01_name(domain, token))
        parsed = http01_from_secret(found) if found is not None else None
        return parsed[2] if parsed is not None and parsed[:2] == (domain, token) else None

    def fetch_http01(self, domain: str, token: str) -> str | None:
        """From the API server (blocking), for a validation that raced the watch."""
        found = self._read(http01_name(domain, token))
        if found is None:
            return None
        parsed = http01_from_secret(found)
        return parsed[2] if parsed is not None and parsed[:2] == (domain, token) else None

    def tlsalpn01_certificates(self) -> list[tuple[bytes, bytes]]:
        out = []
        for secret in self.secrets.cache.list_objects(SECRET.kind, self.secrets.namespace):
            parsed = tlsalpn01_from_secret(secret)
            if parsed is not None:
                out.append((parsed[1], parsed[2]))
        return out

    def fetch_tlsalpn01(self, domain: str) -> tuple[bytes, bytes] | None:
        found = self._read(tlsalpn01_name(domain))
        if found is None:
            return None
        parsed = tlsalpn01_from_secret(found)
        return (parsed[1], parsed[2]) if parsed is not None and parsed[0] == domain else None
