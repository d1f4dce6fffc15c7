"""The ``stamp`` middleware: a header on every response, and path prefixes refused.

Everything that can be decided from the options is decided in ``build_stamp``,
once per applied configuration; the handler it returns only compares strings
and sets a header.
"""

from __future__ import annotations

import re

from edgeway.http.message import Handler, Request, Response, canonical_header_name
from edgeway.http.status import status_text
from edgeway.registry import BuildContext
from pydantic import BaseModel, ConfigDict, Field, field_validator

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

#: Headers the proxy itself frames the response with: a plugin must not set them.
_MANAGED = {b"Content-Length", b"Transfer-Encoding", b"Connection", b"Upgrade"}


class StampOptions(BaseModel):
    """The options, with Traefik-style camelCase names; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")

    #: The response header to set.
    header: str = "X-Stamp"
    #: Its value.
    value: str = "edgeway"
    #: Requests whose path starts with one of these are refused.
    blockPathPrefixes: list[str] = Field(default_factory=list)
    #: The status refused requests get.
    blockStatus: int = Field(default=403, ge=400, le=599)

    @field_validator("header")
    @classmethod
    def _header_is_a_token(cls, v: str) -> str:
        if not _TOKEN.match(v):
            raise ValueError(f"{v!r} is not a valid header name")
        return v

    @field_validator("value")
    @classmethod
    def _value_is_one_line(cls, v: str) -> str:
        if any(c in v for c in "\r\n\0"):
            raise ValueError("the header value must not contain CR, LF or NUL")
        if not v.isascii():
            raise ValueError("the header value must be ASCII")
        return v

    @field_validator("blockPathPrefixes")
    @classmethod
    def _prefixes_are_paths(cls, v: list[str]) -> list[str]:
        for prefix in v:
            if not prefix.startswith("/"):
                raise ValueError(f"{prefix!r} does not start with /")
        return v


def build_stamp(options: StampOptions, next_handler: Handler, ctx: BuildContext) -> Handler:
    """Runs when a configuration is applied; returns the per-request handler.

    Raises ``ValueError`` for what the model cannot express: the message becomes
    the middleware's error, and only it and its routers are disabled.
    """
    name = canonical_header_name(options.header)
    if name in _MANAGED:
        raise ValueError(f"{name.decode()} is set by the proxy itself and cannot be stamped")
    value = options.value.encode()
    prefixes = tuple(options.blockPathPrefixes)
    status = options.blockStatus

    async def stamp(request: Request) -> Response:
        if prefixes and request.path.startswith(prefixes):
            response = Response.text(status, status_text(status))
        else:
            response = await next_handler(request)
        response.headers.set(name, value)
        return response

    return stamp
