"""TCP routing and proxying: connections, routing tables, services, middlewares.

The connection layer imports :class:`TCPConnection`, :class:`ConnInfo`,
:class:`TCPRouting` and :class:`TLSRoute` from here.
"""

from edgeway.tcp.conn import TCPConnection, TCPHandler, splice
from edgeway.tcp.routing import ConnInfo, TCPRouting, TLSRoute

__all__ = ["ConnInfo", "TCPConnection", "TCPHandler", "TCPRouting", "TLSRoute", "splice"]
