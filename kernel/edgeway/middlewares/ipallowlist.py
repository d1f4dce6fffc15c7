"""ipAllowList and its deprecated name ipWhiteList (pkg/middlewares/ipallowlist, ipwhitelist).

The client IP chosen by ``ipStrategy`` must be in ``sourceRange``; otherwise the
answer is ``rejectStatusCode`` (403 by default) with the status text as body.
"""

from __future__ import annotations

from edgeway.config.dynamic import IPAllowList, IPWhiteList
from edgeway.http.message import Handler, Request, Response
from edgeway.middlewares.ipstrategy import IPChecker, ip_strategy
from edgeway.middlewares.replies import go_status_text, status_reply
from edgeway.registry import BuildContext

__all__ = ["build_ip_allow_list", "build_ip_white_list"]


def _build(kind: str, options: IPAllowList | IPWhiteList, status: int, next_: Handler) -> Handler:
    source_range = options.sourceRange
    if not source_range:
        raise ValueError(f"sourceRange is empty, {kind} not created")
    if not go_status_text(status):
        raise ValueError(f"invalid HTTP status code {status}")
    try:
        checker = IPChecker(source_range)
    except ValueError as exc:
        raise ValueError(f"cannot parse CIDRs {_go_list(source_range)}: {exc}") from None
    client_ip = ip_strategy(options.ipStrategy)

    async def ip_allow_list(req: Request) -> Response:
        if checker.authorized(client_ip(req)):
            return await next_(req)
        return status_reply(status)

    return ip_allow_list


def _go_list(items: list[str]) -> str:
    return "[" + " ".join(items) + "]"


def build_ip_allow_list(options: IPAllowList, next_: Handler, ctx: BuildContext) -> Handler:
    return _build("IPAllowLister", options, options.rejectStatusCode or 403, next_)


def build_ip_white_list(options: IPWhiteList, next_: Handler, ctx: BuildContext) -> Handler:
    return _build("IPWhiteLister", options, 403, next_)
