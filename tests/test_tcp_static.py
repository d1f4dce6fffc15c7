"""Static configuration of TCP and UDP: tcpServersTransport, entryPoints.<ep>.udp and .proxyProtocol."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from edgeway.config.loader import StaticConfigError, load_static_configuration
from edgeway.kernel import _tcp_transport_defaults
from edgeway.registry import Registry


def load(tmp_path: Path, text: str, argv: list[str] | None = None):  # type: ignore[no-untyped-def]
    (tmp_path / "edgeway.yml").write_text(textwrap.dedent(text))
    return load_static_configuration(
        argv or [], {}, tmp_path, Registry(), search_dirs=[tmp_path]
    ).configuration


def test_defaults(tmp_path: Path) -> None:
    static = load(tmp_path, "entryPoints: {dns: {address: ':53/udp'}}\n")
    st = static.tcpServersTransport
    assert (st.dialTimeout, st.dialKeepAlive, st.terminationDelay, st.tls) == (
        30.0,
        15.0,
        0.0,
        None,
    )
    ep = static.entryPoints["dns"]
    assert ep.udp.timeout == 3.0 and ep.proxyProtocol is None


def test_values_from_file_and_flags(tmp_path: Path) -> None:
    static = load(
        tmp_path,
        """
        tcpServersTransport:
          dialTimeout: 2s
          dialKeepAlive: -1s
          tls: {insecureSkipVerify: true, rootCAs: [ca.pem]}
        entryPoints:
          dns: {address: ':53/udp', udp: {timeout: 10s}}
          tcp:
            address: ':8443'
            proxyProtocol: {trustedIPs: ["10.0.0.0/8", "192.0.2.1"]}
        """,
    )
    assert static.entryPoints["dns"].udp.timeout == 10.0
    pp = static.entryPoints["tcp"].proxyProtocol
    assert pp is not None and not pp.insecure and pp.trustedIPs == ("10.0.0.0/8", "192.0.2.1")
    defaults = _tcp_transport_defaults(static)
    assert (defaults.dial_timeout, defaults.dial_keep_alive) == (2.0, -1.0)
    assert defaults.insecure_skip_verify and defaults.root_cas == ("ca.pem",)


def test_flags(tmp_path: Path) -> None:
    static = load_static_configuration(
        [
            "--entryPoints.tcp.address=:1",
            "--entryPoints.tcp.proxyProtocol.insecure=true",
            "--entryPoints.u.address=:2/udp",
            "--entryPoints.u.udp.timeout=7s",
            "--tcpServersTransport.dialTimeout=1s",
        ],
        {},
        tmp_path,
        Registry(),
        search_dirs=[tmp_path],
    ).configuration
    assert static.entryPoints["tcp"].proxyProtocol.insecure
    assert static.entryPoints["u"].udp.timeout == 7.0
    assert static.tcpServersTransport.dialTimeout == 1.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "entryPoints: {dns: {address: ':53/udp', udp: {timeout: 0s}}}",
            "timeout should be greater than zero",
        ),
        (
            "entryPoints: {tcp: {address: ':1', proxyProtocol: {trustedIPs: [nope]}}}",
            "is not an IP address or CIDR",
        ),
        (
            "tcpServersTransport: {tls: {spiffe: {}}}",
            "tcpServersTransport.tls.spiffe: not supported",
        ),
        ("tcpServersTransport: {bogus: 1}", "tcpServersTransport.bogus: unknown key"),
    ],
)
def test_refusals(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(StaticConfigError, match=message):
        load(tmp_path, text + "\n")
