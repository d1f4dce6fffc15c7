"""Third-party middlewares, contained: a broken plugin disables itself, nothing else.

Built-in middlewares are trusted code; a ``plugin: {name: {...}}`` middleware is
not. Its ``build`` and its handler run behind :func:`guard_plugin`:

* **building** — any exception (not only ``ValueError``) is turned into the
  middleware's error, so that middleware and the routers using it are disabled
  and the rest of the configuration still goes live; so is a ``build`` that
  returns something other than a handler.
* **serving** — an exception raised by the plugin's own code answers that
  request with 500 and *trips* the middleware: the error is recorded on the
  middleware and on every router (or service) whose chain holds it, they show
  ``disabled`` in the API, and from then on those chains answer 503 without
  calling the plugin, until the next configuration is applied. Failing closed
  (503) rather than dropping the routes keeps a crashed auth-like plugin from
  letting requests fall through to a less protected lower-priority router.

Exceptions that are not the plugin's fault pass through untouched: the client
going away (``ClientDisconnected`` from reading the body), cancellation, and
whatever the rest of the chain behind the plugin raised (marked on its way
through the ``next`` handler the plugin was given).

Not covered: an error raised while a plugin-made response ``stream`` is being
sent comes after the status line; the server closes that connection, as for
any stream, and the middleware is not tripped.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

from edgeway.http.message import Handler, Request, Response
from edgeway.http.server import ClientDisconnected
from edgeway.http.status import error_response
from edgeway.pipeline.runtime import MiddlewareInfo, RuntimeConfiguration
from edgeway.registry import BuildContext, MiddlewareType

__all__ = ["PluginState", "guard_plugin"]

log = logging.getLogger("edgeway.plugins")

#: Set on exceptions raised behind the plugin (by its ``next`` handler).
_DOWNSTREAM = "_edgeway_raised_downstream"


class PluginState:
    """One plugin middleware in one applied configuration, shared by its chains.

    A middleware referenced by several routers is built once per router; all
    those handlers share this state, so one failure disables them all.
    """

    def __init__(self, plugin: str, info: MiddlewareInfo, runtime: RuntimeConfiguration) -> None:
        self.plugin = plugin
        self.info = info
        self.runtime = runtime
        #: Routers (or services) whose chain holds this middleware.
        self.owners: list[str] = []
        self.failed = False

    def trip(self, exc: BaseException) -> None:
        """Record the first serving error and disable the middleware and its owners."""
        if self.failed:
            return
        self.failed = True
        message = f'plugin "{self.plugin}" failed while serving a request: {type(exc).__name__}: {exc}'
        log.error("middleware %s: %s", self.info.name, message, exc_info=exc)
        self.info.add_error(message, True)
        owner_error = f'middleware "{self.info.name}": {message}'
        rt = self.runtime
        for owner in self.owners:
            router = rt.routers.get(owner)
            if router is not None:
                router.add_error(owner_error, True)
                continue
            service = rt.services.get(owner)
            if service is not None:
                service.add_error(owner_error, True)
                for name in service.used_by:
                    if name in rt.routers:
                        rt.routers[name].add_error(owner_error, True)


#: Keyed by ``id(info)``: a state holds its info, so the id is not reused while
#: the entry exists, and the entry goes with the configuration's handlers.
_states: weakref.WeakValueDictionary[int, PluginState] = weakref.WeakValueDictionary()


def guard_plugin(
    mtype: MiddlewareType, options: Any, next_: Handler, ctx: BuildContext, runtime: RuntimeConfiguration
) -> Handler:
    """Build a plugin middleware for ``ctx.router`` and return its guarded handler.

    Raises ``ValueError`` (the message the middleware's status shows) when the
    plugin cannot be built.
    """
    info = runtime.middlewares[ctx.name]
    state = _states.get(id(info))
    if state is None:
        state = _states[id(info)] = PluginState(mtype.name, info, runtime)
    try:
        handler = mtype.build(options, _downstream(next_), ctx)
    except ValueError:
        raise
    except Exception as exc:
        log.error("middleware %s: plugin %r failed to build", ctx.name, mtype.name, exc_info=True)
        raise ValueError(f'plugin "{mtype.name}" failed to build: {type(exc).__name__}: {exc}') from exc
    if not callable(handler):
        raise ValueError(f'plugin "{mtype.name}": build returned {type(handler).__name__}, not a request handler')
    state.owners.append(ctx.router)
    return _guarded(handler, state)


def _downstream(next_: Handler) -> Handler:
    """``next_``, marking what it raises so the guard does not blame the plugin."""

    async def downstream(req: Request) -> Response:
        try:
            return await next_(req)
        except Exception as exc:
            setattr(exc, _DOWNSTREAM, True)
            raise

    return downstream


def _guarded(handler: Handler, state: PluginState) -> Handler:
    async def guarded(req: Request) -> Response:
        if state.failed:
            return error_response(503)
        try:
            resp = await handler(req)
        except ClientDisconnected:  # the client went away: the server handles it
            raise
        except Exception as exc:
            if getattr(exc, _DOWNSTREAM, False):
                raise
            state.trip(exc)
            return error_response(500)
        if not isinstance(resp, Response):
            state.trip(TypeError(f"the handler returned {type(resp).__name__}, not a Response"))
            return error_response(500)
        return resp

    return guarded
