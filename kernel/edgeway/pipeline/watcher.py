"""Providers' snapshots in, configurations to apply out.

Per provider: invalid snapshots are rejected (the last good one stays), unchanged
ones dropped, and bursts throttled so that after a snapshot is forwarded the
next one waits ``providersThrottleDuration``, only the newest surviving (as
Traefik's aggregator). Nothing is applied until every provider has sent its
first snapshot or its first-snapshot timeout has passed: that is readiness.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio

from edgeway.config.dynamic import ConfigError, Configuration, parse_configuration

log = logging.getLogger("edgeway.config")


@dataclass
class _ProviderState:
    throttle: float
    last: Configuration | None = None
    pending: Configuration | None = None
    window_end: float = 0.0
    scheduled: bool = False
    last_error: str | None = None


class ConfigurationWatcher:
    def __init__(
        self,
        providers: Mapping[str, float],
        apply: Callable[[dict[str, Configuration]], object],
        *,
        first_snapshot_timeout: float = 30.0,
    ) -> None:
        """``providers`` maps each provider name to its throttle duration."""
        self._state = {name: _ProviderState(throttle) for name, throttle in providers.items()}
        self._apply = apply
        self._first_timeout = first_snapshot_timeout
        self._latest: dict[str, Configuration] = {}
        self._changed = anyio.Event()
        self._all_first = anyio.Event()
        self.ready = anyio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        if not self._state:
            self._all_first.set()

    def emitter(self, provider: str) -> Callable[[Any], None]:
        """The ``emit`` callback handed to ``provider`` (call it on the event loop)."""
        return lambda snapshot: self.emit(provider, snapshot)

    def provider_errors(self) -> dict[str, str]:
        return {name: s.last_error for name, s in self._state.items() if s.last_error}

    def emit(self, provider: str, snapshot: Any) -> None:
        st = self._state[provider]
        if isinstance(snapshot, Configuration):
            cfg = snapshot
        else:
            try:
                cfg = parse_configuration(snapshot or {})
            except ConfigError as exc:
                st.last_error = str(exc)
                log.error("provider %s sent an invalid configuration, keeping the last good one:\n%s", provider, exc)
                return
        st.last_error = None
        if cfg == (st.pending if st.pending is not None else st.last):
            return
        st.pending = cfg
        if not st.scheduled:
            st.scheduled = True
            loop = self._loop or asyncio.get_running_loop()
            delay = max(0.0, st.window_end - loop.time())
            loop.call_later(delay, self._flush, provider)

    def _flush(self, provider: str) -> None:
        st = self._state[provider]
        st.scheduled = False
        cfg, st.pending = st.pending, None
        if cfg is None or cfg == st.last:
            return
        loop = self._loop or asyncio.get_running_loop()
        st.last = cfg
        st.window_end = loop.time() + st.throttle
        self._latest[provider] = cfg
        if len(self._latest) == len(self._state):
            self._all_first.set()
        self._changed.set()

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        with anyio.move_on_after(self._first_timeout):
            await self._all_first.wait()
        missing = sorted(set(self._state) - set(self._latest))
        if missing:
            log.error("no configuration from provider(s) %s after %.0fs: starting without it", ", ".join(missing), self._first_timeout)
        while True:
            self._changed = anyio.Event()
            try:
                self._apply(dict(self._latest))
            except Exception:
                log.exception("applying the configuration failed; the previous one stays live")
            self.ready.set()
            await self._changed.wait()
