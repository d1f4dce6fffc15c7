"""The file provider: load, emit, watch, reload.

Behaves as Traefik's ``Provide`` (``pkg/provider/file/file.go``): with ``watch``
the first load failing is logged and the provider keeps watching; a bad edit is
logged and nothing is emitted, so the last good configuration stays live.
Without ``watch`` it loads once and a failure is an error.

What is watched differs on purpose. Traefik's fsnotify watches the file and its
directory, and misses Kubernetes ConfigMap updates (a ``..data`` symlink swap)
and single-file bind mounts (issues #5589, #10409). edgeway watches the file's
directory, where editors' write-and-rename and ConfigMap swaps both show up,
plus the directory of the file the path resolves to when it is a symlink; a
``directory`` is watched recursively (Traefik skips subdirectories).
"""

from __future__ import annotations

import logging
import os

import anyio
import anyio.lowlevel
from edgeway.config.dynamic import Configuration
from edgeway.registry import Emit, ProviderContext
from watchfiles import Change, awatch

from edgeway_file.errors import FileProviderError
from edgeway_file.loader import load_directory, load_file
from edgeway_file.options import FileProviderOptions
from edgeway_file.source import SUPPORTED_EXTENSIONS

__all__ = ["FileProvider"]

log = logging.getLogger("edgeway.provider.file")


class FileProvider:
    """A ``providers.file`` instance; ``last_error`` is the latest load failure, for the API."""

    #: Seconds between checks for a watched directory that does not exist yet.
    retry_interval: float = 2.0
    #: watchfiles' grouping: changes within ``step_ms`` of each other make one reload.
    debounce_ms: int = 1600
    step_ms: int = 50

    def __init__(
        self, options: FileProviderOptions, context: ProviderContext | None = None
    ) -> None:
        self.options = options
        workdir = context.workdir if context else "."
        self.workdir = os.path.abspath(workdir)
        self.path, self.is_directory = options.target(self.workdir)
        self.last_error: str | None = None
        self._have_good = False
        self._lock: anyio.Lock | None = None

    def load(self) -> Configuration:
        """Load and validate now (blocking); raises :class:`FileProviderError`."""
        debug = self.options.debugLogGeneratedTemplate
        try:
            if self.is_directory:
                config = load_directory(self.path, self.workdir, debug)
            else:
                config = load_file(self.path, self.workdir, debug)
        except FileProviderError as exc:
            self.last_error = str(exc)
            raise
        except Exception as exc:
            self.last_error = f"{self.path}: {exc}"
            raise
        self.last_error = None
        return config

    async def snapshot(self) -> Configuration:
        return await anyio.to_thread.run_sync(self.load)

    async def run(self, emit: Emit) -> None:
        if not self.options.watch:
            emit(await self.snapshot())
            return
        self._lock = anyio.Lock()
        tried, warned = False, False
        while True:
            roots = self._watch_roots()
            missing = [r for r in roots if not os.path.isdir(r)]
            if missing:
                if not tried:
                    await self._reload(emit)
                    tried = True
                if not warned:
                    log.warning(
                        "cannot watch %s: it does not exist; checking again every %gs",
                        missing[0],
                        self.retry_interval,
                    )
                    warned = True
                await anyio.sleep(self.retry_interval)
                continue
            error = await self._watch(roots, emit)
            await anyio.lowlevel.checkpoint()  # a stop by cancellation is not an error
            tried, warned = True, False
            log.error(
                "watching %s failed: %s; retrying in %gs", self.path, error, self.retry_interval
            )
            await anyio.sleep(self.retry_interval)

    async def _reload(self, emit: Emit) -> None:
        assert self._lock is not None
        async with self._lock:
            try:
                config = await anyio.to_thread.run_sync(self.load)
            except FileProviderError as exc:
                self._log_failure(str(exc))
                return
            except Exception:
                log.exception("loading %s failed unexpectedly", self.path)
                return
            self._have_good = True
            emit(config)

    def _log_failure(self, problems: str) -> None:
        if self._have_good:
            log.error(
                "%s cannot be loaded; keeping the last good configuration:\n%s", self.path, problems
            )
        else:
            log.error("%s cannot be loaded; still watching it for a fix:\n%s", self.path, problems)

    def _watch_roots(self) -> list[str]:
        if self.is_directory:
            return [self.path]
        roots = [os.path.dirname(self.path)]
        target_dir = os.path.dirname(os.path.realpath(self.path))
        if target_dir != roots[0] and os.path.isdir(target_dir):
            roots.append(target_dir)
        return roots

    def _relevant(self, change: Change, path: str) -> bool:
        """Whether a change can alter what is loaded (watchfiles' ``watch_filter``)."""
        name = os.path.basename(path)
        if name.startswith(".."):  # Kubernetes ConfigMap/Secret volume swaps
            return True
        if self.is_directory:
            ext = os.path.splitext(name)[1].lower()
            return ext in SUPPORTED_EXTENSIONS or ext == "" or os.path.isdir(path)
        real = os.path.realpath(self.path)
        return (
            name == os.path.basename(self.path) or path == real or (name == os.path.basename(real))
        )

    async def _watch(self, roots: list[str], emit: Emit) -> Exception:
        """Reload on every relevant change until cancelled; returns the error if watching fails.

        The first reload runs as a task started before iterating ``awatch``: it
        starts once awatch has registered its watches (awatch creates them before
        its first await), so no change between that load and the watch is lost.
        Cancellation sets awatch's ``stop_event``, which ends its worker thread
        within ``step_ms`` instead of at its next timeout.
        """
        stop = anyio.Event()

        async def stop_on_cancel() -> None:
            try:
                await anyio.sleep_forever()
            finally:
                stop.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(stop_on_cancel)
            tg.start_soon(self._reload, emit)
            try:
                async for _changes in awatch(
                    *roots,
                    watch_filter=self._relevant,
                    stop_event=stop,
                    recursive=self.is_directory,
                    debounce=self.debounce_ms,
                    step=self.step_ms,
                ):
                    await self._reload(emit)
            except (OSError, RuntimeError) as exc:
                return exc
            finally:
                tg.cancel_scope.cancel()
        return RuntimeError("the watcher stopped")
