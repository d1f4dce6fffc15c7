"""Traffic-control middlewares: ipAllowList/ipWhiteList, inFlightReq, rateLimit,
circuitBreaker and retry, registered as built-ins."""

from __future__ import annotations

from typing import Any

from edgeway import hookimpl
from edgeway.config.dynamic import (
    CircuitBreaker,
    InFlightReq,
    IPAllowList,
    IPWhiteList,
    RateLimit,
    Retry,
)
from edgeway.middlewares.circuitbreaker import build_circuit_breaker
from edgeway.middlewares.inflight import build_in_flight_req
from edgeway.middlewares.ipallowlist import build_ip_allow_list, build_ip_white_list
from edgeway.middlewares.ratelimit import build_rate_limit
from edgeway.middlewares.retry import build_retry
from edgeway.registry import MiddlewareType


@hookimpl
def register_middlewares(register: Any) -> None:
    register(MiddlewareType("ipAllowList", IPAllowList, build_ip_allow_list, plugin=False))
    register(MiddlewareType("ipWhiteList", IPWhiteList, build_ip_white_list, plugin=False))
    register(MiddlewareType("inFlightReq", InFlightReq, build_in_flight_req, plugin=False))
    register(MiddlewareType("rateLimit", RateLimit, build_rate_limit, plugin=False))
    register(MiddlewareType("circuitBreaker", CircuitBreaker, build_circuit_breaker, plugin=False))
    register(MiddlewareType("retry", Retry, build_retry, plugin=False))
