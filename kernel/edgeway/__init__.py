"""edgeway: an edge router and reverse proxy, a drop-in for Traefik Proxy v3.

Plugins import the pluggy markers from here::

    from edgeway import hookimpl
"""

import pluggy

__version__ = "0.1.0"

PROJECT = "edgeway"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

__all__ = ["PROJECT", "__version__", "hookimpl", "hookspec"]
