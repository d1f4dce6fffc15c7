"""The passTLSClientCert middleware (Traefik's ``pkg/middlewares/passtlsclientcert``).

Puts the client certificates of a mutual-TLS request into
``X-Forwarded-Tls-Client-Cert`` (the PEM bodies without armour or newlines,
comma-separated) and/or selected fields into ``X-Forwarded-Tls-Client-Cert-Info``
(query-escaped ``Subject="...";Issuer="...";SerialNumber="...";NB="...";NA="...";SAN="..."``
per certificate). Go passes every certificate the client sent; Python's
``SSLObject`` exposes that chain only from 3.13 (``get_unverified_chain``), before
that only the leaf (``getpeercert(binary_form=True)``).
"""

from __future__ import annotations

import base64
import ipaddress
from typing import Any
from urllib.parse import quote_plus

from cryptography import x509
from cryptography.x509.oid import NameOID

from edgeway.config.dynamic import PassTLSClientCert
from edgeway.http.message import Handler, Request, Response
from edgeway.middlewares.gourl import parse, to_bstr
from edgeway.registry import BuildContext

__all__ = ["build_pass_tls_client_cert", "cert_info", "cert_pem", "peer_certificates"]

CERT_HEADER = b"X-Forwarded-Tls-Client-Cert"
INFO_HEADER = b"X-Forwarded-Tls-Client-Cert-Info"

# (option name, pkix.Name field OID, label), in the order Traefik writes them.
_MULTI = (
    ("country", NameOID.COUNTRY_NAME, "C"),
    ("province", NameOID.STATE_OR_PROVINCE_NAME, "ST"),
    ("locality", NameOID.LOCALITY_NAME, "L"),
    ("organization", NameOID.ORGANIZATION_NAME, "O"),
    ("organizationalUnit", NameOID.ORGANIZATIONAL_UNIT_NAME, "OU"),
)
_SINGLE = (("serialNumber", NameOID.SERIAL_NUMBER, "SN"), ("commonName", NameOID.COMMON_NAME, "CN"))


def peer_certificates(tls: Any) -> list[bytes]:
    """The DER certificates the client sent (Go's ``PeerCertificates``), leaf first."""
    if tls is None:
        return []
    chain = getattr(tls, "get_unverified_chain", None)
    if chain is not None:
        certs = chain() or []
        if all(isinstance(c, bytes) for c in certs):
            return list(certs)
    leaf = tls.getpeercert(binary_form=True)
    return [leaf] if leaf else []


def cert_pem(der: bytes) -> str:
    """Go's ``pem.EncodeToMemory`` with the armour and newlines removed: plain base64."""
    return base64.b64encode(der).decode()


def _dn(name: x509.Name, options: Any) -> str:
    """``getSubjectDNInfo``/``getIssuerDNInfo``: DC first, then C, ST, L, O, (OU), SN, CN."""
    if options is None:
        return ""
    attrs = [(a.oid, a.value) for rdn in name.rdns for a in rdn if isinstance(a.value, str)]
    parts: list[str] = []
    if options.domainComponent:
        parts += [f"DC={v!s}" for o, v in attrs if o == NameOID.DOMAIN_COMPONENT]
    for option, oid, label in _MULTI:
        if getattr(options, option, None):
            parts += [f"{label}={v!s}" for o, v in attrs if o == oid and v]
    for option, oid, label in _SINGLE:
        values = [str(v) for o, v in attrs if o == oid]
        if getattr(options, option) and values and values[-1]:  # pkix.Name keeps the last
            parts.append(f"{label}={values[-1]}")
    return ",".join(parts)


def _sans(cert: x509.Certificate) -> list[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    ips = []
    for ip in ext.get_values_for_type(x509.IPAddress):
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ips.append(str(ip.ipv4_mapped))  # Go prints a v4-in-v6 address dotted
        else:
            ips.append(str(ip))
    uris = []
    for uri in ext.get_values_for_type(x509.UniformResourceIdentifier):
        try:
            uris.append(parse(to_bstr(uri)).string())
        except ValueError:
            continue  # Go refuses to parse such a certificate
    return [
        *ext.get_values_for_type(x509.DNSName),
        *ext.get_values_for_type(x509.RFC822Name),
        *ips,
        *uris,
    ]


def cert_info(der: bytes, info: Any) -> str:
    """One certificate's part of the info header, before query escaping."""
    cert = x509.load_der_x509_certificate(der)
    values = []
    subject = _dn(cert.subject, info.subject)
    if subject:
        values.append(f'Subject="{subject}"')
    issuer = _dn(cert.issuer, info.issuer)
    if issuer:
        values.append(f'Issuer="{issuer}"')
    if info.serialNumber:
        values.append(f'SerialNumber="{cert.serial_number}"')
    if info.notBefore:
        values.append(f'NB="{int(cert.not_valid_before_utc.timestamp()) % (1 << 64)}"')
    if info.notAfter:
        values.append(f'NA="{int(cert.not_valid_after_utc.timestamp()) % (1 << 64)}"')
    if info.sans:
        sans = _sans(cert)
        if sans:
            values.append(f'SAN="{",".join(sans)}"')
    return ";".join(values)


def build_pass_tls_client_cert(options: PassTLSClientCert, next_: Handler, ctx: BuildContext) -> Handler:
    pem = bool(options.pem)
    info = options.info
    if not pem and info is None:
        return next_

    async def pass_tls_client_cert(req: Request) -> Response:
        certs = peer_certificates(req.tls)
        if certs:
            if pem:
                req.headers.set(CERT_HEADER, ",".join(map(cert_pem, certs)).encode())
            if info is not None:
                value = ",".join(cert_info(der, info) for der in certs)
                req.headers.set(INFO_HEADER, quote_plus(value, safe="~").encode())
        return await next_(req)

    return pass_tls_client_cert
