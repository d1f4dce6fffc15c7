"""A small HTTP/1.1 client for requests edgeway makes itself (forwardAuth...).

It sends through edgeway's own keep-alive pools (:mod:`edgeway.http.upstream`):
an :class:`HttpClient` is made for one URL when a configuration is applied,
its pool taken from the :class:`~edgeway.services.pools.PoolManager` so warm
connections survive reloads. Requests are written as Go's ``http.Client`` writes
them (Host from the URL, ``User-Agent: Go-http-client/1.1`` unless given, the
same ``Content-Length``/chunked choices), since the servers they go to are the
ones Traefik talks to. Redirects are never followed.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from edgeway.http.message import BytesBody, Response
from edgeway.http.upstream import ServerPool
from edgeway.services.pools import PoolKey, PoolManager

__all__ = ["ClientTLS", "HttpClient", "InvalidURL", "client_ssl_context", "make_client"]

GO_USER_AGENT = b"Go-http-client/1.1"
#: Header names Go's request writer never takes from the header map.
_WRITER_OWNED = frozenset((b"host", b"user-agent", b"content-length", b"transfer-encoding", b"trailer"))
#: Methods Go sends without a body when the body turns out to be empty.
_USUALLY_NO_BODY = frozenset(("GET", "HEAD", "DELETE", "OPTIONS", "PROPFIND", "SEARCH"))
#: Go's http.DefaultTransport, which Traefik's forwardAuth client uses.
_DIAL_TIMEOUT = 30.0
_IDLE_TIMEOUT = 90.0
_MAX_IDLE = 100


class InvalidURL(ValueError):
    """A URL Go's client could not send to; the message is Go's."""


@dataclass(frozen=True)
class ClientTLS:
    """Traefik's ``types.ClientTLS``: each of ``ca``, ``cert``, ``key`` a path or PEM text."""

    ca: str = ""
    cert: str = ""
    key: str = ""
    insecure_skip_verify: bool = False


def _read_or_text(value: str, workdir: str) -> bytes | None:
    path = value if os.path.isabs(value) else os.path.join(workdir, value)
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def client_ssl_context(tls: ClientTLS | None, workdir: str = ".") -> ssl.SSLContext:
    """``ClientTLS.CreateTLSConfig``: the CA replaces the system roots; cert and key go together.

    Raises ValueError with Traefik's messages.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_alpn_protocols(["http/1.1"])
    tls = tls or ClientTLS()
    if tls.ca:
        data = _read_or_text(tls.ca, workdir)
        pem = (data if data is not None else tls.ca.encode()).decode("latin-1")
        try:
            ctx.load_verify_locations(cadata=pem)
        except (ssl.SSLError, ValueError):
            raise ValueError("failed to parse CA") from None
    else:
        ctx.load_default_certs()
    if bool(tls.cert) != bool(tls.key):
        raise ValueError("both TLS cert and key must be defined")
    if tls.cert:
        _load_key_pair(ctx, tls.cert, tls.key, workdir)
    if tls.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _load_key_pair(ctx: ssl.SSLContext, cert: str, key: str, workdir: str) -> None:
    """PEM text first, then files (``loadKeyPair``); ssl reads only files, hence the copies."""
    if "-----BEGIN" in cert and "-----BEGIN" in key:
        with tempfile.TemporaryDirectory() as tmp:
            cert_path, key_path = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
            with open(cert_path, "w") as f:
                f.write(cert)
            with open(key_path, "w") as f:
                f.write(key)
            try:
                ctx.load_cert_chain(cert_path, key_path)
                return
            except ssl.SSLError as exc:
                raise ValueError(f"tls: {exc.reason or exc}") from None
    cert_path = cert if os.path.isabs(cert) else os.path.join(workdir, cert)
    key_path = key if os.path.isabs(key) else os.path.join(workdir, key)
    if not os.path.exists(cert_path):
        raise ValueError("cert file does not exist")
    if not os.path.exists(key_path):
        raise ValueError("key file does not exist")
    try:
        ctx.load_cert_chain(cert_path, key_path)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"tls: {getattr(exc, 'reason', None) or exc}") from None


class HttpClient:
    """Requests to one URL through one pool."""

    def __init__(self, pool: ServerPool, host_header: bytes, target: bytes, authorization: bytes | None) -> None:
        self.pool = pool
        self.host_header = host_header
        self.target = target
        #: ``Basic ...`` from the URL's user info, sent when no Authorization is given.
        self.authorization = authorization

    async def send(
        self,
        method: str,
        headers: Sequence[tuple[bytes, bytes]],
        body: bytes | None = None,
        *,
        content_length: int = 0,
        chunked: bool = False,
        user_agent: bytes | None = None,
    ) -> Response:
        """Send a request; the response may still be streaming (``resp.stream``).

        ``body``/``content_length``/``chunked`` follow Go's ``Request`` fields
        (``ContentLength`` 0 with a body means unknown). ``user_agent`` None
        sends Go's, empty sends none. Raises ``UpstreamError`` when the exchange fails.
        """
        length = 0 if body is None else (content_length if content_length != 0 else -1)
        if length < 0 and not chunked:
            if method == "CONNECT" or (method in _USUALLY_NO_BODY and not body):
                body, length = None, 0
            else:
                chunked = True
        parts = [f"{method} ".encode("latin-1"), self.target, b" HTTP/1.1\r\nHost: ", self.host_header, b"\r\n"]
        if user_agent is None:
            user_agent = GO_USER_AGENT
        if user_agent:
            parts += (b"User-Agent: ", user_agent, b"\r\n")
        has_auth = False
        for name, value in headers:
            lname = name.lower()
            if lname in _WRITER_OWNED:
                continue
            has_auth = has_auth or lname == b"authorization"
            parts += (name, b": ", value, b"\r\n")
        if self.authorization is not None and not has_auth:
            parts += (b"Authorization: ", self.authorization, b"\r\n")
        if chunked:
            parts.append(b"Transfer-Encoding: chunked\r\n")
        elif length > 0 or (length == 0 and method in ("POST", "PUT", "PATCH")):
            parts.append(b"Content-Length: %d\r\n" % max(length, 0))
        parts.append(b"\r\n")
        return await self.pool.exchange(
            b"".join(parts),
            BytesBody(body) if body is not None and (body or chunked) else None,
            chunked=chunked,
            is_head=method == "HEAD",
            replayable=body is None,
        )



def make_client(
    url: str,
    pools: PoolManager | None,
    tls: ClientTLS | None = None,
    workdir: str = ".",
) -> HttpClient:
    """The client for ``url``, its pool from ``pools`` (a private pool when None).

    Raises :class:`InvalidURL` for a URL Go's client refuses, ValueError for TLS
    settings it cannot load.
    """
    # TLS settings first and whatever the scheme: Traefik builds them with the
    # middleware, the URL is only checked per request.
    ssl_context = client_ssl_context(tls, workdir) if tls is not None or url.lower().startswith("https:") else None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(f'parse "{url}": {exc}') from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidURL(f'unsupported protocol scheme "{parts.scheme}"')
    host = parts.hostname
    if not host:
        raise InvalidURL("http: no Host in request URL")
    secure = scheme == "https"
    if not secure:
        ssl_context = None
    key = PoolKey(
        scheme,
        host,
        port or (443 if secure else 80),
        "",
        (tls or ClientTLS(), workdir) if secure else None,
        _MAX_IDLE,
        _DIAL_TIMEOUT,
        _IDLE_TIMEOUT,
        0.0,
    )
    if pools is not None:
        pool = pools.get(key, ssl_context)
    else:
        pool = ServerPool(
            key.host,
            key.port,
            ssl=ssl_context,
            server_hostname=host,
            max_idle=_MAX_IDLE,
            dial_timeout=_DIAL_TIMEOUT,
            idle_timeout=_IDLE_TIMEOUT,
        )
    netloc = parts.netloc.rpartition("@")[2]
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    authorization = None
    if "@" in parts.netloc:
        userinfo = parts.netloc.rpartition("@")[0]
        user, _, password = userinfo.partition(":")
        creds = f"{unquote(user)}:{unquote(password)}".encode()
        authorization = b"Basic " + base64.b64encode(creds)
    return HttpClient(pool, netloc.encode("idna"), target.encode("latin-1"), authorization)
