"""Which TLS options a connection gets on an entry point, from its server name.

Traefik's ``muxerHTTPS`` (pkg/server/router/tcp/manager.go
``buildEntryPointHandler``, router.go ``SetHTTPSForwarder``): each domain of
the entry point's HTTPS routers' ``Host`` rules is a ``HostSNI("domain")``
route to the router's resolved options, ranked by the length of that rule; a
router without a ``Host`` adds the catch-all ``*`` (default options, ranked
last). A domain whose options are broken gets a route that closes the
connection (``brokenTLSRouter``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from edgeway.rules.http import domain_match

__all__ = ["BROKEN", "TLSHosts"]

#: Options name of a route whose TLS configuration could not be built.
BROKEN = ""

_HOST_OR_IP = re.compile(r"^(\*\.)?[\w.\-:]+$", re.ASCII)


@dataclass(frozen=True)
class TLSHosts:
    """The SNI table of one entry point."""

    #: (domain, options name or BROKEN), most specific first; ``*`` not included.
    routes: tuple[tuple[str, str], ...] = ()
    #: Options of the ``*`` route (an HTTPS router without Host), if any.
    catch_all: str | None = None
    #: Options for connections no route takes (Traefik's ``httpsForwarder``).
    default: str = "default"
    _exact: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def build(cls, domains: Mapping[str, str], *, catch_all: str | None, default: str) -> TLSHosts:
        """From ``domain -> options`` (later routers overwrite earlier ones, as the Go map does)."""
        ranked = []
        for domain, options in domains.items():
            if domain == "*" or not _HOST_OR_IP.match(domain):
                continue  # HostSNI("*") is the catch-all; invalid names fail AddRoute
            # Priority: the length of the rule ``HostSNI("domain")`` Go formats with %q;
            # the matcher drops a trailing dot. Equal lengths: exact before wildcard.
            rank = -len(f"HostSNI({json.dumps(domain)})")
            ranked.append((rank, domain.startswith("*"), domain.removesuffix("."), options))
        if "*" in domains:
            catch_all = domains["*"]
        ranked.sort()
        routes = tuple((d, o) for _, _, d, o in ranked)
        return cls(routes, catch_all, default, {d.lower(): o for d, o in routes if not d.startswith("*")})

    @property
    def has_routes(self) -> bool:
        return bool(self.routes) or self.catch_all is not None

    def match(self, server_name: str) -> tuple[str | None, bool]:
        """``(options, is_catch_all)`` for a canonical server name; options None: no route."""
        if server_name:
            if len(self.routes) == len(self._exact):  # no wildcard route: one lookup
                found = self._exact.get(server_name)
                if found is not None:
                    return found, False
            else:
                for domain, options in self.routes:
                    if domain_match(server_name, domain):
                        return options, False
        if self.catch_all is not None:
            return self.catch_all, True
        return None, False
