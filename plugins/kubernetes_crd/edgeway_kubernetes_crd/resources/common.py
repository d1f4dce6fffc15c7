"""Types several kinds share: references to other objects, TLS domains, PROXY protocol."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from edgeway_kubernetes_crd.resources.base import CRDModel

__all__ = [
    "Domain",
    "IngressRouteRef",
    "MiddlewareRef",
    "ObjectReference",
    "ProxyProtocol",
    "TLSOptionRef",
    "TLSStoreRef",
]


class ObjectReference(CRDModel):
    """A reference to another traefik.io object."""

    name: str
    """Name of the object."""
    namespace: str | None = None
    """Namespace of the object (default: the referring object's namespace)."""


class MiddlewareRef(CRDModel):
    """A reference to a Middleware."""

    name: str
    """Name of the Middleware."""
    namespace: str | None = None
    """Namespace of the Middleware (default: the referring object's namespace)."""


class IngressRouteRef(CRDModel):
    """A reference to a parent IngressRoute."""

    name: str
    """Name of the IngressRoute."""
    namespace: str | None = None
    """Namespace of the IngressRoute (default: this object's namespace)."""


class TLSOptionRef(CRDModel):
    """A reference to a TLSOption."""

    name: str
    """Name of the TLSOption."""
    namespace: str | None = None
    """Namespace of the TLSOption (default: the referring object's namespace)."""


class TLSStoreRef(CRDModel):
    """A reference to a TLSStore (only the one named `default` is used)."""

    name: str
    """Name of the TLSStore."""
    namespace: str | None = None
    """Namespace of the TLSStore (default: the referring object's namespace)."""


class Domain(CRDModel):
    """A certificate's domain: a main name and alternative names."""

    main: str | None = None
    """The main domain name."""
    sans: list[str] | None = None
    """Subject alternative names."""


class ProxyProtocol(CRDModel):
    """PROXY protocol header sent to the servers."""

    version: Annotated[int, Field(ge=1, le=2)] | None = None
    """PROXY protocol version (1 or 2)."""
