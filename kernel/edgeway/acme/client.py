"""The ACME protocol through certbot's ``acme`` library (blocking: run in worker threads).

One :class:`AcmeClient` per resolver: it registers or restores the account
(Traefik's PKCS#1 RSA-4096 account key), orders certificates and answers the
challenges with the solvers the resolver configures (DNS-01 when configured,
else HTTP-01, else TLS-ALPN-01; wildcards need DNS-01).
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import josepy as jose
from acme import challenges, messages
from acme import client as acme_client
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from .challenges import tlsalpn01_certificate
from .dns import DNSProvider, Propagation, challenge_record
from .storage import Account, ChallengePublisher

__all__ = ["AcmeClient", "Solvers", "new_private_key"]

log = logging.getLogger("edgeway.acme")

_USER_AGENT = "edgeway (containous-traefik compatible)"


def new_private_key(key_type: str) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    """``certcrypto.GeneratePrivateKey`` for Traefik's ``keyType`` values."""
    if key_type == "EC256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "EC384":
        return ec.generate_private_key(ec.SECP384R1())
    return rsa.generate_private_key(65537, int(key_type.removeprefix("RSA")))


@dataclass
class Solvers:
    publisher: ChallengePublisher
    http: bool = False
    http_delay: float = 0.0
    tls: bool = False
    tls_delay: float = 0.0
    dns: DNSProvider | None = None
    propagation: Propagation = Propagation()


class AcmeClient:
    def __init__(
        self,
        directory_url: str,
        account: Account | None,
        email: str,
        *,
        verify: bool | str,
        timeout: float,
        eab: tuple[str, str] | None,
        save_account: Callable[[Account], None],
    ) -> None:
        if account is None or not account.private_key:
            key = rsa.generate_private_key(65537, 4096)
            der = key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )  # fmt: skip
            account = Account(email=email, private_key=der)
        else:
            loaded = serialization.load_der_private_key(account.private_key, None)
            if not isinstance(loaded, rsa.RSAPrivateKey):
                raise ValueError("the account key of the storage is not an RSA key")
            key = loaded
        self.jwk = jose.JWKRSA(key=key)
        regr = None
        if account.registration and account.uri:
            regr = messages.RegistrationResource(uri=account.uri, body=messages.Registration())
        self.net = acme_client.ClientNetwork(
            self.jwk, account=regr, user_agent=_USER_AGENT, verify_ssl=True, timeout=int(max(timeout, 1))
        )
        # requests' ``verify``: True or a CA bundle path (``caCertificates``).
        self.net.verify_ssl = verify  # type: ignore[assignment]
        directory = acme_client.ClientV2.get_directory(directory_url, self.net)
        self.client = acme_client.ClientV2(directory, self.net)
        if regr is None:
            binding = None
            if eab is not None:
                binding = messages.ExternalAccountBinding.from_data(
                    account_public_key=self.jwk.public_key(), kid=eab[0], hmac_key=eab[1], directory=directory
                )
            new = messages.NewRegistration.from_data(
                email=email or None, terms_of_service_agreed=True, external_account_binding=binding
            )
            regr = self.client.new_account(new)
            body = {"status": regr.body.status or "valid", "contact": list(regr.body.contact)}
            account = Account(email=email, private_key=account.private_key, registration={"body": body, "uri": regr.uri})
        save_account(account)
        self.account = account

    def obtain(
        self,
        domains: list[str],
        key_pem: bytes | None,
        *,
        key_type: str,
        common_name: bool,
        email_addresses: tuple[str, ...],
        solvers: Solvers,
        certificate_timeout: float,
        stop: Callable[[], bool],
        resume: str | None = None,
        record: Callable[[str], None] = lambda url: None,
    ) -> tuple[bytes, bytes]:
        """Order a certificate for ``domains`` (reusing ``key_pem`` when renewing):
        the bundled chain and the key, PEM.

        ``resume``: the URL of an order a dead replica placed for the same
        domains: it is continued (its pending challenges answered, then
        finalized with this key) unless the CA no longer can (invalid, expired,
        already finalized with the other replica's key), then a new order is
        placed. ``record`` gets the URL of the order worked on."""
        if key_pem is not None:
            key = serialization.load_pem_private_key(key_pem, None)
        else:
            key = new_private_key(key_type)
            key_pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )  # fmt: skip
        csr = _csr(key, domains, common_name, email_addresses)
        order = self._resumed(resume, csr, domains) if resume else None
        if order is None:
            order = self.client.new_order(csr)
            record(order.uri)
        cleanups: list[Callable[[], None]] = []
        try:
            for authz in order.authorizations:
                if authz.body.status == messages.STATUS_VALID:
                    if resume:  # what the dead replica published for it
                        cleanups.append(_withdraw(authz, solvers))
                    continue
                cleanups.append(self._solve(authz, solvers, stop))
            deadline = datetime.datetime.now() + datetime.timedelta(seconds=60 + certificate_timeout)
            order = self.client.poll_and_finalize(order, deadline)
        finally:
            for cleanup in cleanups:
                try:
                    cleanup()
                except Exception as exc:
                    log.warning("ACME challenge clean-up failed: %s", exc)
        return order.fullchain_pem.encode(), key_pem

    def _resumed(self, url: str, csr: bytes, domains: list[str]) -> messages.OrderResource | None:
        """The order at ``url`` if it can still be validated and finalized with ``csr``."""
        try:
            body = messages.Order.from_json(self.client._post_as_get(url).json())
            if body.status not in (messages.STATUS_PENDING, messages.STATUS_READY):
                raise ValueError(f"the order is {body.status}")
            if body.expires is not None and body.expires <= datetime.datetime.now(datetime.UTC):
                raise ValueError("the order expired")
            if sorted(i.value for i in body.identifiers) != sorted(domains):
                raise ValueError("the order is for other domains")
            authzs = [self.client._authzr_from_response(self.client._post_as_get(u), uri=u) for u in body.authorizations]
        except Exception as exc:  # any failure: a new order is as good
            log.info("ACME order %s cannot be resumed (%s): placing a new order", url, exc)
            return None
        log.info("resuming ACME order %s for %s", url, domains)
        return messages.OrderResource(body=body, uri=url, authorizations=authzs, csr_pem=csr)

    def _solve(self, authz: messages.AuthorizationResource, solvers: Solvers, stop: Callable[[], bool]) -> Callable[[], None]:
        domain = authz.body.identifier.value
        by_type = {c.chall.jobj.get("type") if isinstance(c.chall, challenges.UnrecognizedChallenge)
                   else c.chall.typ: c for c in authz.body.challenges}  # fmt: skip
        dns_c = by_type.get("dns-01")
        http_c = by_type.get("http-01")
        # acme >= 3 no longer models tls-alpn-01: its token is read from the JSON.
        tls_c = by_type.get("tls-alpn-01")
        if solvers.dns is not None and dns_c is not None:
            provider = solvers.dns
            key_auth = dns_c.chall.key_authorization(self.jwk)
            provider.present(domain, dns_c.chall.encode("token"), key_auth)
            fqdn, value = challenge_record(domain, key_auth)
            solvers.propagation.wait(fqdn, value, provider.propagation_timeout, provider.polling_interval, stop)
            _answer(self.client, dns_c, dns_c.chall.response(self.jwk))
            return lambda: provider.cleanup(domain, dns_c.chall.encode("token"), key_auth)
        if solvers.http and http_c is not None:
            token = http_c.chall.encode("token")
            solvers.publisher.publish_http01(domain, token, http_c.chall.key_authorization(self.jwk))
            if solvers.http_delay:
                time.sleep(solvers.http_delay)
            _answer(self.client, http_c, http_c.chall.response(self.jwk))
            return lambda: solvers.publisher.withdraw_http01(domain, token)
        if solvers.tls and tls_c is not None:
            thumbprint = jose.b64encode(self.jwk.thumbprint()).decode()
            key_auth = f"{tls_c.chall.jobj['token']}.{thumbprint}"
            cert_pem, cert_key = tlsalpn01_certificate(domain, key_auth)
            solvers.publisher.publish_tlsalpn01(domain, cert_pem, cert_key)
            if solvers.tls_delay:
                time.sleep(solvers.tls_delay)
            # Every challenge response is posted as ``{}`` (RFC 8555 §7.5.1).
            _answer(self.client, tls_c, challenges.HTTP01Response())
            return lambda: solvers.publisher.withdraw_tlsalpn01(domain)
        offered = ", ".join(str(t) for t in by_type)
        raise RuntimeError(f"no configured challenge can validate {domain} (the CA offers {offered})")


def _withdraw(authz: messages.AuthorizationResource, solvers: Solvers) -> Callable[[], None]:
    """Withdraw what another replica published for an authorization it got validated."""
    domain = authz.body.identifier.value
    tokens = [c.chall.encode("token") for c in authz.body.challenges if isinstance(c.chall, challenges.HTTP01)]

    def withdraw() -> None:
        for token in tokens:
            solvers.publisher.withdraw_http01(domain, token)
        solvers.publisher.withdraw_tlsalpn01(domain)

    return withdraw


def _answer(client: acme_client.ClientV2, challb: messages.ChallengeBody, response: challenges.ChallengeResponse) -> None:
    """Tell the CA to validate, unless a resumed order's challenge is already under way."""
    if challb.status in (None, messages.STATUS_PENDING):
        client.answer_challenge(challb, response)


def _csr(key: object, domains: list[str], common_name: bool, emails: tuple[str, ...]) -> bytes:
    names = [x509.NameAttribute(NameOID.COMMON_NAME, domains[0])] if common_name and len(domains[0]) <= 64 else []
    alt: list[x509.GeneralName] = [x509.DNSName(d) for d in domains]
    alt += [x509.RFC822Name(e) for e in emails]
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names))
    builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    csr = builder.sign(key, hashes.SHA256())  # type: ignore[arg-type]
    return csr.public_bytes(serialization.Encoding.PEM)
