"""Where the Kubernetes API is and how to authenticate: the official client's configuration.

Sources, first that applies wins (``../shared/DESIGN.md`` §5):

1. an explicit ``endpoint`` option, with the ``token`` and ``certAuthFilePath``
   options (a plain ``http://`` endpoint such as ``kubectl proxy``'s needs
   neither). When the process runs in a cluster and the options give no token
   or CA, the service account's are used, so an endpoint alone only overrides
   the in-cluster host, as in Traefik (``newInClusterClient(endpoint)``);
2. in-cluster: ``KUBERNETES_SERVICE_HOST`` and ``KUBERNETES_SERVICE_PORT`` with
   the service account's token and CA files;
3. ``KUBECONFIG`` (its first file) or ``~/.kube/config``.

Traefik checks in-cluster before the endpoint (``newK8sClient`` in
``pkg/provider/kubernetes/ingress/kubernetes.go``); edgeway lets an explicit
endpoint win so ``kubectl proxy`` works from a pod too. When nothing applies,
:class:`ClientConfigError` lists what was tried.

:class:`KubeAPI` is the thin layer the reflector and the status writer use:
JSON requests and watch streams through the official client's connection pool,
auth and TLS settings, keeping objects as plain dicts in the API's own JSON
shape (what the translation reads), not the client's typed models.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.incluster_config import InClusterConfigLoader

__all__ = [
    "SERVICE_ACCOUNT_DIR",
    "APIError",
    "ClientConfig",
    "ClientConfigError",
    "KubeAPI",
    "load_client_config",
]

#: Where a pod's service-account token and CA are mounted.
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class ClientConfigError(ValueError):
    """No usable way to reach the API server (the message says what was tried)."""


class APIError(Exception):
    """The API server answered with an error status (``status``, ``reason``, ``message``)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}" if message else f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class ClientConfig:
    """The official client's configuration and a description of where it came from."""

    configuration: k8s_client.Configuration
    source: str

    @property
    def host(self) -> str:
        return str(self.configuration.host)


def _read(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError as exc:
        raise ClientConfigError(f"cannot read the {what} {path}: {exc.strerror}") from None


def load_client_config(
    endpoint: str = "",
    token: str = "",
    cert_auth_file_path: str = "",
    *,
    environ: Mapping[str, str] | None = None,
    service_account_dir: str = SERVICE_ACCOUNT_DIR,
    home: str | None = None,
) -> ClientConfig:
    """The client configuration from the provider options and the environment (see the module doc).

    ``environ``, ``service_account_dir`` and ``home`` default to the process's;
    tests override them. Raises :class:`ClientConfigError`.
    """
    env = os.environ if environ is None else environ
    in_cluster = bool(env.get("KUBERNETES_SERVICE_HOST") and env.get("KUBERNETES_SERVICE_PORT"))
    sa_token = os.path.join(service_account_dir, "token")
    sa_ca = os.path.join(service_account_dir, "ca.crt")
    cfg = k8s_client.Configuration()
    cfg.retries = False  # the reflector retries with backoff; urllib3 must not hide outages

    if endpoint:
        cfg.host = endpoint.rstrip("/")
        source = f"endpoint {cfg.host}"
        if token:
            cfg.api_key = {"BearerToken": f"Bearer {token}"}
        elif in_cluster and os.path.exists(sa_token):
            cfg.api_key = {"BearerToken": f"Bearer {_read(sa_token, 'service-account token')}"}
            source += " with the service-account token"
        if cert_auth_file_path:
            _read(cert_auth_file_path, "CA file (certAuthFilePath)")
            cfg.ssl_ca_cert = cert_auth_file_path
        elif in_cluster and os.path.exists(sa_ca):
            cfg.ssl_ca_cert = sa_ca
        return ClientConfig(cfg, source)

    tried = ["the endpoint option (not set)"]
    if in_cluster:
        host, port = env["KUBERNETES_SERVICE_HOST"], env["KUBERNETES_SERVICE_PORT"]
        _read(sa_token, "service-account token")
        _read(sa_ca, "service-account CA")
        loader = InClusterConfigLoader(token_filename=sa_token, cert_filename=sa_ca, environ=dict(env))
        try:  # the loader also re-reads the token when it is rotated
            loader.load_and_set(cfg)
        except Exception as exc:
            raise ClientConfigError(f"in-cluster configuration: {exc}") from None
        _reread_token(cfg, sa_token)
        cfg.retries = False
        return ClientConfig(cfg, f"in-cluster ({host}:{port}, token {sa_token})")
    tried.append("in-cluster (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT not set)")

    kubeconfig = (env.get("KUBECONFIG") or "").split(os.pathsep)[0]
    label = "KUBECONFIG"
    if not kubeconfig:
        kubeconfig = os.path.join(home or os.path.expanduser("~"), ".kube", "config")
        label = "~/.kube/config"
    if os.path.exists(kubeconfig):
        try:
            k8s_config.load_kube_config(config_file=kubeconfig, client_configuration=cfg)
        except Exception as exc:
            raise ClientConfigError(f"kubeconfig {kubeconfig}: {exc}") from None
        cfg.retries = False
        return ClientConfig(cfg, f"kubeconfig {kubeconfig}")
    tried.append(f"{label} ({kubeconfig}: no such file)")
    raise ClientConfigError("cannot find the Kubernetes API server; tried " + ", ".join(tried))


def _reread_token(cfg: k8s_client.Configuration, path: str, period: float = 60.0) -> None:
    """Use the token file, stripped (a trailing newline is no valid header), re-read each minute (rotation).

    Replaces the official loader's refresh hook, which keeps the newline and is
    not safe across the reflectors' threads.
    """
    state = {"at": time.monotonic()}

    def refresh(c: k8s_client.Configuration) -> None:
        if time.monotonic() - state["at"] < period:
            return
        state["at"] = time.monotonic()
        with contextlib.suppress(ClientConfigError):  # keep the previous token on a read failure
            c.api_key["BearerToken"] = "Bearer " + _read(path, "service-account token")

    cfg.api_key["BearerToken"] = "Bearer " + _read(path, "service-account token")
    cfg.refresh_api_key_hook = refresh  # type: ignore[assignment]


class KubeAPI:
    """JSON over the official client's pool: requests and watch streams, errors as :class:`APIError`."""

    #: Connections kept: one per watch (the CRD provider runs 15 per namespace) plus requests.
    POOL_SIZE = 64

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        configuration = copy.copy(config.configuration)
        configuration.connection_pool_maxsize = max(configuration.connection_pool_maxsize or 0, self.POOL_SIZE)
        self.client = k8s_client.ApiClient(configuration)
        self.client.user_agent = "edgeway/kubernetes"

    def close(self) -> None:
        self.client.close()

    def request(
        self,
        method: str,
        path: str,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        *,
        content_type: str = "application/json",
        timeout: float | tuple[float, float] = 30.0,
    ) -> urllib3.BaseHTTPResponse:
        """Send a request; the open response (its body not read yet) when the status is 2xx."""
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        _, url, headers, body, _ = self.client.param_serialize(
            method, path,
            query_params=[(k, v) for k, v in (query or {}).items() if v not in (None, "")],
            header_params=headers, body=body, auth_settings=["BearerToken"],
        )  # fmt: skip
        response = self.client.call_api(method, url, header_params=headers, body=body, _request_timeout=timeout)
        raw: urllib3.BaseHTTPResponse = response.response
        if raw.status >= 300:
            data = raw.data
            raw.release_conn()
            raise _api_error(raw.status, raw.reason or "", data)
        return raw

    def json(self, method: str, path: str, query: Mapping[str, Any] | None = None, body: Any = None, **kw: Any) -> Any:
        raw = self.request(method, path, query, body, **kw)
        try:
            return json.loads(raw.data or b"null")
        finally:
            raw.release_conn()

    @staticmethod
    def lines(raw: urllib3.BaseHTTPResponse) -> Iterator[Any]:
        """The JSON documents of a watch stream, one per line, until it ends."""
        pending = b""
        for chunk in raw.stream(amt=None, decode_content=False):
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                if line.strip():
                    yield json.loads(line)
        if pending.strip():
            yield json.loads(pending)


def _api_error(status: int, reason: str, data: bytes) -> APIError:
    message = ""
    try:
        doc = json.loads(data)
        if isinstance(doc, dict):
            message = str(doc.get("message") or "")
            reason = str(doc.get("reason") or reason)
    except ValueError:
        message = data[:200].decode("utf-8", "replace")
    return APIError(status, reason, message)
