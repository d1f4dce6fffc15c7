"""UDP entry points (sessions per client address), routers and services."""

from edgeway.udp.entrypoint import UDPEntryPoint, UDPHandler, UDPSession

__all__ = ["UDPEntryPoint", "UDPHandler", "UDPSession"]
