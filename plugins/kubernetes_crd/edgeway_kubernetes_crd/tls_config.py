"""TLSOptions and TLSStores: ``buildTLSOptions``, ``buildTLSStores`` and ``buildCertificates`` of ``kubernetes.go``.

Both are named ``ns-name``, except one named ``default``, which becomes
Traefik's default options/store; when ``default`` is defined in more than one
namespace none of them is kept. A TLSStore's ``certificates`` join
``b.tls_configs`` (keyed ``namespace/secretName``, the first reference wins)
with the store's name in ``stores``.

Also the ``tls`` of an IngressRoute or IngressRouteTCP: the certificate of its
``secretName`` (``getTLSHTTP``/``getTLSTCP``) and the router's TLS (cert
resolver, domains, TLSOption reference).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edgeway.config.dynamic_tls import DEFAULT_ALPN_PROTOCOLS, DEFAULT_CIPHER_SUITES
from edgeway_kubernetes import SecretError, go_quote, tls_certificate
from edgeway_kubernetes.objects import name, namespace

from edgeway_kubernetes_crd import fields, structs
from edgeway_kubernetes_crd.builder import Builder, log
from edgeway_kubernetes_crd.gotypes import encode, zero
from edgeway_kubernetes_crd.references import ReferenceError, get_tls, make_id, resolve_with_options
from edgeway_kubernetes_crd.secrets import get_ca_blocks, read_secret

__all__ = [
    "build_certificates",
    "build_tls_options",
    "build_tls_stores",
    "load_route_certificate",
    "router_tls",
    "tls_config_key",
]

Obj = Mapping[str, Any]

#: ``tls.DefaultTLSConfigName`` and ``tls.DefaultTLSStoreName``.
DEFAULT_NAME = "default"


def _go_list(values: list[str]) -> str:
    """Go's ``%v`` of a ``[]string``."""
    return "[" + " ".join(values) + "]"


def build_tls_options(b: Builder) -> dict[str, Any]:
    """``buildTLSOptions``: ``tls.options`` (clientAuth CA files read from Secrets)."""
    options: dict[str, Any] = {}
    defaults: list[Obj] = []
    for tls_option, spec in structs.decoded_objects(b, "TLSOption", structs.TLS_OPTION_SPEC):
        ns = namespace(tls_option)
        client_cas = []
        for secret_name in spec["clientAuth"]["secretNames"] or ():
            try:
                _, data = read_secret(
                    b.view, ns, secret_name, f"Secret {ns}/{secret_name} does not exist"
                )
            except ReferenceError as exc:
                if exc.reason == "SecretNotFound":  # Traefik only warns
                    log.warning("TLSOption %s/%s: %s", ns, name(tls_option), exc)
                else:
                    b.fail(
                        tls_option, exc.reason, f"Failed to fetch secret {ns}/{secret_name}: {exc}"
                    )
                continue
            try:
                client_cas.append(get_ca_blocks(data, ns, secret_name))
            except ReferenceError as exc:
                b.fail(
                    tls_option,
                    exc.reason,
                    f"Failed to extract CA from secret {ns}/{secret_name}: {exc}",
                )

        option_id = make_id(ns, name(tls_option))
        if name(tls_option) == DEFAULT_NAME:
            option_id = DEFAULT_NAME
            defaults.append(tls_option)

        option = zero(structs.TLS_OPTIONS)
        # Options.SetDefaults
        option["alpnProtocols"] = list(DEFAULT_ALPN_PROTOCOLS)
        option["cipherSuites"] = list(DEFAULT_CIPHER_SUITES)
        option["minVersion"] = spec["minVersion"]
        option["maxVersion"] = spec["maxVersion"]
        if spec["cipherSuites"] is not None:
            option["cipherSuites"] = spec["cipherSuites"]
        option["curvePreferences"] = spec["curvePreferences"]
        option["clientAuth"] = {
            "caFiles": client_cas,
            "clientAuthType": spec["clientAuth"]["clientAuthType"],
        }
        option["sniStrict"] = spec["sniStrict"]
        if spec["alpnProtocols"] is not None:
            option["alpnProtocols"] = spec["alpnProtocols"]
        option["disableSessionTickets"] = spec["disableSessionTickets"]
        options[option_id] = encode(structs.TLS_OPTIONS, option)

    if len(defaults) > 1:
        options.pop(DEFAULT_NAME, None)
        _fail_defaults(b, defaults, "Default TLS Options defined in multiple namespaces")
    return options


def _fail_defaults(b: Builder, defaults: list[Obj], message: str) -> None:
    """Traefik logs the conflict once; every ``default`` object concerned gets it."""
    text = f"{message}: {_go_list([namespace(obj) for obj in defaults])}"
    for obj in defaults:
        b.fail(obj, "InvalidSpec", text)


def build_tls_stores(b: Builder) -> dict[str, Any]:
    """``buildTLSStores``: ``tls.stores`` (default certificate from a Secret); their certificates go to ``b.tls_configs``."""
    stores: dict[str, Any] = {}
    defaults: list[Obj] = []
    for tls_store, spec in structs.decoded_objects(b, "TLSStore", structs.TLS_STORE_SPEC):
        ns = namespace(tls_store)
        store_id = make_id(ns, name(tls_store))
        if name(tls_store) == DEFAULT_NAME:
            store_id = DEFAULT_NAME
            defaults.append(tls_store)

        store = zero(structs.TLS_STORE)
        if spec["defaultCertificate"] is not None:
            secret_name = spec["defaultCertificate"]["secretName"]
            try:
                secret, _ = read_secret(
                    b.view, ns, secret_name, f"Secret {ns}/{secret_name} does not exist"
                )
                certificate = tls_certificate(secret, ns, secret_name)
            except ReferenceError as exc:
                b.fail(tls_store, exc.reason, str(exc))
                continue
            except SecretError as exc:
                b.fail(tls_store, "InvalidSecret", f"Could not get certificate blocks: {exc}")
                continue
            store["defaultCertificate"] = certificate
        if spec["defaultGeneratedCert"] is not None:
            store["defaultGeneratedCert"] = spec["defaultGeneratedCert"]

        build_certificates(b, tls_store, store_id, ns, spec["certificates"] or ())
        stores[store_id] = encode(structs.TLS_STORE, store)

    if len(defaults) > 1:
        stores.pop(DEFAULT_NAME, None)
        _fail_defaults(b, defaults, "Default TLS Stores defined in multiple namespaces")
    return stores


def build_certificates(
    b: Builder, tls_store: Obj, store_id: str, ns: str, certificates: Any
) -> None:
    """``buildCertificates``: each readable certificate Secret into ``b.tls_configs``, in store ``store_id``.

    A Secret that cannot be read is reported and skipped; the store is kept.
    """
    for certificate in certificates:
        secret_name = certificate["secretName"]
        key = f"{ns}/{secret_name}"
        if key in b.tls_configs:
            continue
        try:
            cert_and_stores = get_tls(b.view, secret_name, ns)
        except ReferenceError as exc:
            b.fail(
                tls_store,
                exc.reason,
                f"Unable to read certificate secret {ns}/{secret_name}, skipping "
                f"(will retry on next configuration refresh): {exc}",
            )
            continue
        cert_and_stores["stores"] = [store_id]
        b.tls_configs[key] = cert_and_stores


# -- a route's ``tls`` -----------------------------------------------------------------


def tls_config_key(ns: str, secret_name: str) -> str:
    """The ``tlsConfigs`` key of a Secret: ``namespace/secretName`` (certificates are sorted by it)."""
    return f"{ns}/{secret_name}"


def load_route_certificate(b: Builder, route_obj: Obj, tls: Obj) -> None:
    """``getTLSHTTP``/``getTLSTCP``: the certificate of ``tls.secretName`` into ``b.tls_configs`` (once per Secret)."""
    secret_name = fields.string(tls, "secretName")
    if not secret_name:
        return
    ns = namespace(route_obj)
    key = tls_config_key(ns, secret_name)
    if key in b.tls_configs:
        return
    try:
        b.tls_configs[key] = get_tls(b.view, secret_name, ns)
    except ReferenceError as exc:
        b.fail(route_obj, exc.reason, f"Error configuring TLS: {exc}")


def _domains(tls: Obj) -> list[dict[str, Any]]:
    """``types.Domain`` entries (``main``, ``sans``), empty fields left out."""
    domains = []
    for domain in fields.list_of(tls, "domains"):
        out: dict[str, Any] = {}
        if main := fields.string(domain, "main"):
            out["main"] = main
        if sans := fields.string_list(domain, "sans"):
            out["sans"] = sans
        domains.append(out)
    return domains


def router_tls(b: Builder, ns: str, tls: Obj) -> dict[str, Any]:
    """A router's ``tls``: cert resolver, domains and the resolved TLSOption reference.

    Raises :class:`ReferenceError` (``Invalid reference to TLSOption "name": ...``)
    for a refused TLSOption reference.
    """
    out: dict[str, Any] = {}
    if resolver := fields.string(tls, "certResolver"):
        out["certResolver"] = resolver
    if domains := _domains(tls):
        out["domains"] = domains
    options = fields.mapping(tls, "options")
    if option_name := fields.string(options, "name"):
        out["options"] = resolve_with_options(
            b.options,
            ns,
            fields.string(options, "namespace"),
            option_name,
            f"Invalid reference to TLSOption {go_quote(option_name)}",
        )
    return out
