"""ServersTransports and ServersTransportTCPs: the last two loops of ``loadConfigurationFromCRD``.

``http.serversTransports`` / ``tcp.serversTransports`` named
``normalize(ns-name)``. Root CAs come from Secrets (``rootCAsSecrets``,
deprecated, then ``rootCAs[].secret``) and ConfigMaps (``rootCAs[].configMap``),
client certificates from TLS Secrets; one that cannot be read is reported and
left out, the transport is kept. As in Traefik, an unknown cipher suite drops
the whole list (Go's defaults apply), an unknown TLS version is dropped, a
minimum not below the maximum falls back to ``VersionTLS12`` and no maximum,
and a timeout that cannot be parsed is reported and becomes 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edgeway.tls.names import CIPHER_SUITES, TLS_VERSIONS
from edgeway_kubernetes import normalize
from edgeway_kubernetes.objects import name, namespace

from edgeway_kubernetes_crd import structs
from edgeway_kubernetes_crd.builder import Builder
from edgeway_kubernetes_crd.gotypes import MILLISECOND, SECOND, duration_set, encode, zero
from edgeway_kubernetes_crd.references import ReferenceError, make_id
from edgeway_kubernetes_crd.secrets import load_auth_tls_secret, load_ca_config_map, load_ca_secret

__all__ = ["build_servers_transports", "build_servers_transports_tcp"]

Obj = Mapping[str, Any]

#: ``ForwardingTimeouts`` fields and their Go names (for the error messages).
FORWARDING_TIMEOUTS = {
    "dialTimeout": "DialTimeout",
    "responseHeaderTimeout": "ResponseHeaderTimeout",
    "idleConnTimeout": "IdleConnTimeout",
    "readIdleTimeout": "ReadIdleTimeout",
    "pingTimeout": "PingTimeout",
}
TCP_TIMEOUTS = {
    "dialTimeout": "DialTimeout",
    "dialKeepAlive": "DialKeepAlive",
    "terminationDelay": "TerminationDelay",
}


def _root_cas(b: Builder, obj: Obj, ns: str, secrets: Any, root_cas: Any) -> list[str]:
    """``rootCAsSecrets`` then ``rootCAs`` (each a Secret or a ConfigMap, not both), in order."""
    out: list[str] = []
    for secret_name in secrets or ():
        try:
            out.append(load_ca_secret(b.view, ns, secret_name))
        except ReferenceError as exc:
            b.fail(obj, exc.reason, f"Error while loading CA Secret: {exc}")
    for root_ca in root_cas or ():
        secret_name, config_map = root_ca["secret"], root_ca["configMap"]
        if secret_name is not None and config_map is not None:
            b.fail(
                obj, "InvalidSpec", "Error while loading CA: both Secret and ConfigMap are defined"
            )
            continue
        try:
            if secret_name is not None:
                out.append(load_ca_secret(b.view, ns, secret_name))
            elif config_map is not None:
                out.append(load_ca_config_map(b.view, ns, config_map))
            else:  # Traefik dereferences the missing ConfigMap name (a panic); report it instead
                b.fail(
                    obj,
                    "InvalidSpec",
                    "Error while loading CA: neither Secret nor ConfigMap is defined",
                )
        except ReferenceError as exc:
            what = "Secret" if secret_name is not None else "ConfigMap"
            b.fail(obj, exc.reason, f"Error while loading CA {what}: {exc}")
    return out


def _certificates(b: Builder, obj: Obj, ns: str, secrets: Any) -> list[dict[str, str]]:
    """``certificatesSecrets``: client certificates (``tls.crt``/``tls.key``)."""
    out = []
    for secret_name in secrets or ():
        try:
            cert, key = load_auth_tls_secret(b.view, ns, secret_name)
        except ReferenceError as exc:
            b.fail(obj, exc.reason, f"Error while loading certificates {secret_name}: {exc}")
            continue
        out.append({"certFile": cert, "keyFile": key})
    return out


def _set_duration(b: Builder, obj: Obj, go_name: str, text: str) -> int:
    """``Duration.Set``; on error Traefik logs it and the field holds 0."""
    try:
        return duration_set(text)
    except ValueError as exc:
        b.fail(obj, "InvalidSpec", f"Error while reading {go_name}: {exc}")
        return 0


def _tls_versions(b: Builder, obj: Obj, spec: dict[str, Any]) -> tuple[str, str]:
    """``minVersion``/``maxVersion``: unknown ones dropped; min >= max falls back to VersionTLS12 and no max."""
    versions = []
    for key, what in (("minVersion", "minimum"), ("maxVersion", "maximum")):
        value = spec[key]
        if value and value not in TLS_VERSIONS:
            b.fail(obj, "InvalidSpec", f"invalid TLS {what} version: {value}")
            value = ""
        versions.append(value)
    min_version, max_version = versions
    if spec["minVersion"] and spec["maxVersion"]:
        min_id = TLS_VERSIONS[min_version] if min_version else 0
        max_id = TLS_VERSIONS[max_version] if max_version else 0
        if min_id >= max_id:
            b.fail(
                obj,
                "InvalidSpec",
                f"CipherSuite MinVersion, {spec['minVersion']}, above or equal to the MaxVersion, "
                f"{spec['maxVersion']}. Falling back to default MaxVersion and MinVersion",
            )
            return "VersionTLS12", ""
    return min_version, max_version


def _cipher_suites(b: Builder, obj: Obj, ciphers: list[str] | None) -> list[str] | None:
    """All known, or none at all (Go's defaults)."""
    for cipher in ciphers or ():
        if cipher not in CIPHER_SUITES:
            b.fail(
                obj,
                "InvalidSpec",
                f"cipher suite not supported: {cipher}, falling back to default CipherSuite.",
            )
            return None
    return ciphers


def _timeouts(
    b: Builder,
    obj: Obj,
    values: Mapping[str, Any],
    go_names: dict[str, str],
    defaults: dict[str, int],
) -> dict[str, int]:
    """``SetDefaults``, then every timeout the CRD sets, through ``Duration.Set``."""
    out = dict(defaults)
    for key, go_name in go_names.items():
        if values.get(key) is not None:
            out[key] = _set_duration(b, obj, go_name, values[key])
    return out


def _client_tls(b: Builder, obj: Obj, ns: str, tls: dict[str, Any]) -> dict[str, Any]:
    """The TLS client fields both transports have: root CAs and client certificates read from Secrets."""
    return {
        "serverName": tls["serverName"],
        "insecureSkipVerify": tls["insecureSkipVerify"],
        "rootCAs": _root_cas(b, obj, ns, tls["rootCAsSecrets"], tls["rootCAs"]),
        "certificates": _certificates(b, obj, ns, tls["certificatesSecrets"]),
        "peerCertURI": tls["peerCertURI"],
        "spiffe": tls["spiffe"],
    }


def _transport_id(transport: Obj) -> str:
    return normalize(make_id(namespace(transport), name(transport)))


def build_servers_transports(b: Builder) -> None:
    """The ServersTransport loop (``forwardingTimeouts`` always set: dial 30s, idle 90s, ping 15s by default)."""
    for transport, spec in structs.decoded_objects(
        b, "ServersTransport", structs.SERVERS_TRANSPORT_SPEC
    ):
        out = _client_tls(b, transport, namespace(transport), spec)
        out["cipherSuites"] = _cipher_suites(b, transport, spec["cipherSuites"])
        out["minVersion"], out["maxVersion"] = _tls_versions(b, transport, spec)
        out["forwardingTimeouts"] = zero(structs.FORWARDING_TIMEOUTS) | _timeouts(
            b,
            transport,
            spec["forwardingTimeouts"] or {},
            FORWARDING_TIMEOUTS,
            {
                "dialTimeout": 30 * SECOND,
                "idleConnTimeout": 90 * SECOND,
                "pingTimeout": 15 * SECOND,
            },
        )
        for key in ("disableHTTP2", "maxIdleConnsPerHost", "peerCertSANs"):
            out[key] = spec[key]
        b.http["serversTransports"][_transport_id(transport)] = encode(
            structs.SERVERS_TRANSPORT, out
        )


def build_servers_transports_tcp(b: Builder) -> None:
    """The ServersTransportTCP loop (dial 30s, keep-alive 15s, termination delay 100ms by default)."""
    for transport, spec in structs.decoded_objects(
        b, "ServersTransportTCP", structs.SERVERS_TRANSPORT_TCP_SPEC
    ):
        out = zero(structs.TCP_SERVERS_TRANSPORT) | _timeouts(
            b,
            transport,
            spec,
            TCP_TIMEOUTS,
            {
                "dialTimeout": 30 * SECOND,
                "dialKeepAlive": 15 * SECOND,
                "terminationDelay": 100 * MILLISECOND,
            },
        )
        if spec["proxyProtocol"] is not None:
            out["proxyProtocol"] = spec["proxyProtocol"]
        if spec["tls"] is not None:
            out["tls"] = _client_tls(b, transport, namespace(transport), spec["tls"])
        b.tcp["serversTransports"][_transport_id(transport)] = encode(
            structs.TCP_SERVERS_TRANSPORT, out
        )
