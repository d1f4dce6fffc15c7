"""``traefik.ingress.kubernetes.io/...`` annotations, read as Traefik reads them.

``pkg/provider/kubernetes/ingress/annotations.go``: keys with the prefix lose
``ingress.kubernetes.io/`` (``traefik.router.tls``), ``a.b.<n>.c`` becomes
``a.b[<n>].c``, and the label decoder fills ``RouterIng`` (from the Ingress,
root ``traefik.router.``) or ``ServiceIng`` (from the Service, root
``traefik.service.``). The dicts returned use the JSON names of those structs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from edgeway_kubernetes_ingress.labels import Field, Struct, decode_labels

__all__ = ["ANNOTATIONS_PREFIX", "convert_annotations", "parse_router_config", "parse_service_config"]

ANNOTATIONS_PREFIX = "traefik.ingress.kubernetes.io/"
_INDEXED = re.compile(r"(.+)\.(\w+)\.(\d+)\.(.+)", re.ASCII)

_DOMAIN = Struct("types.Domain", {"Main": Field("main", "str"), "SANs": Field("sans", "strlist")})
_ROUTER_TLS = Struct(
    "dynamic.RouterTLSConfig",
    {
        "Options": Field("options", "str"),
        "ResolvedOptions": Field("resolvedOptions", "ignored"),
        "CertResolver": Field("certResolver", "str"),
        "Domains": Field("domains", "structlist", _DOMAIN),
    },
)
_OBSERVABILITY = Struct(
    "dynamic.RouterObservabilityConfig",
    {
        "AccessLogs": Field("accessLogs", "ptrbool"),
        "Metrics": Field("metrics", "ptrbool"),
        "Tracing": Field("tracing", "ptrbool"),
        "TraceVerbosity": Field("traceVerbosity", "str"),
        "Metadata": Field("metadata", "ignored"),
    },
    defaults={"traceVerbosity": "minimal"},
)
_ROUTER_ING = Struct(
    "ingress.RouterIng",
    {
        "PathMatcher": Field("pathMatcher", "str"),
        "EntryPoints": Field("entryPoints", "strlist"),
        "Middlewares": Field("middlewares", "strlist"),
        "Priority": Field("priority", "int"),
        "RuleSyntax": Field("ruleSyntax", "str"),
        "TLS": Field("tls", "ptrstruct", _ROUTER_TLS, allow_empty=True),
        "Observability": Field("observability", "ptrstruct", _OBSERVABILITY, allow_empty=True),
    },
    defaults={"pathMatcher": "PathPrefix"},
)
_ROUTER_CONFIG = Struct("ingress.RouterConfig", {"Router": Field("router", "ptrstruct", _ROUTER_ING)})

_COOKIE = Struct(
    "dynamic.Cookie",
    {
        "Name": Field("name", "str"),
        "Secure": Field("secure", "bool"),
        "HTTPOnly": Field("httpOnly", "bool"),
        "SameSite": Field("sameSite", "str"),
        "MaxAge": Field("maxAge", "int"),
        "Path": Field("path", "ptrstr"),
        "Domain": Field("domain", "str"),
        "Expires": Field("expires", "ignored"),
    },
    defaults={"path": "/"},
)
_STICKY = Struct("dynamic.Sticky", {"Cookie": Field("cookie", "ptrstruct", _COOKIE, allow_empty=True)})
_SERVICE_ING = Struct(
    "ingress.ServiceIng",
    {
        "ServersScheme": Field("serversScheme", "str"),
        "ServersTransport": Field("serversTransport", "str"),
        "PassHostHeader": Field("passHostHeader", "ptrbool"),
        "Middlewares": Field("middlewares", "strlist"),
        "Sticky": Field("sticky", "ptrstruct", _STICKY, allow_empty=True),
        "NativeLB": Field("nativeLB", "ptrbool"),
        "NodePortLB": Field("nodePortLB", "bool"),
    },
    defaults={"passHostHeader": True},
)
_SERVICE_CONFIG = Struct("ingress.ServiceConfig", {"Service": Field("service", "ptrstruct", _SERVICE_ING)})


def convert_annotations(annotations: Mapping[str, str]) -> dict[str, str]:
    """Traefik's annotations as labels: ``traefik.router.tls.domains[0].main``."""
    out: dict[str, str] = {}
    for key, value in annotations.items():
        if not key.startswith(ANNOTATIONS_PREFIX):
            continue
        new_key = key.replace("ingress.kubernetes.io/", "")
        new_key = _INDEXED.sub(r"\1.\2[\3].\4", new_key)
        out[new_key] = value
    return out


def parse_router_config(annotations: Mapping[str, str]) -> dict[str, Any] | None:
    """The ``router`` annotations of an Ingress (``RouterIng`` as a dict), or None.

    Raises :class:`~edgeway_kubernetes_ingress.labels.LabelError` for annotations
    Traefik rejects (the Ingress is then skipped).
    """
    decoded = decode_labels(convert_annotations(annotations), "traefik.router.", _ROUTER_CONFIG)
    return (decoded or {}).get("router")


def parse_service_config(annotations: Mapping[str, str]) -> dict[str, Any] | None:
    """The ``service`` annotations of a Kubernetes Service (``ServiceIng`` as a dict), or None."""
    decoded = decode_labels(convert_annotations(annotations), "traefik.service.", _SERVICE_CONFIG)
    return (decoded or {}).get("service")
