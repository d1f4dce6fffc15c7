"""The kernel: binds entry points, runs providers, applies configurations, stops gracefully.

anyio owns the lifecycle (task groups, cancellation, signals); the request bytes
never go through it (see :mod:`edgeway.http.server`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from edgeway.accesslog import AccessLogger
from edgeway.config.dynamic import Configuration
from edgeway.config.static import StaticConfiguration, default_entrypoints
from edgeway.connection.dispatch import Routing
from edgeway.entrypoint import EntryPoint
from edgeway.internal import internal_services
from edgeway.logs import reopen_log_file
from edgeway.metrics import Metrics
from edgeway.pipeline.compile import CompileContext, EntryPointSpec, compile_configuration
from edgeway.pipeline.merge import merge
from edgeway.pipeline.runtime import RuntimeConfiguration
from edgeway.pipeline.watcher import ConfigurationWatcher
from edgeway.plugins import Plugins
from edgeway.registry import Provider, ProviderContext
from edgeway.services.pools import PoolManager
from edgeway.services.transports import TransportDefaults
from edgeway.tcp.dialer import TCPTransportDefaults
from edgeway.tls.manager import TLSManager
from edgeway.udp.entrypoint import UDPEntryPoint

if TYPE_CHECKING:
    from edgeway.tracing import Tracing

log = logging.getLogger("edgeway")

INTERNAL_PROVIDER = "internal"


@dataclass
class KernelState:
    """What the API reads: the live runtime and when/what was applied."""

    runtime: RuntimeConfiguration = field(default_factory=RuntimeConfiguration)
    snapshots: dict[str, Configuration] = field(default_factory=dict)
    applied_at: float = 0.0
    reloads: int = 0
    #: How long the last apply took (compiling and switching), in seconds.
    apply_seconds: float = 0.0
    start_time: float = field(default_factory=time.time)


class Kernel:
    def __init__(self, static: StaticConfiguration, plugins: Plugins, *, workdir: str = ".") -> None:
        self.static = static
        self.plugins = plugins
        self.registry = plugins.registry
        self.workdir = workdir
        self.state = KernelState()
        self.entrypoints: dict[str, EntryPoint] = {}
        self.udp_entrypoints: dict[str, UDPEntryPoint] = {}
        self.pools = PoolManager()
        self.tls = TLSManager(self.registry, workdir=workdir, static=static)
        self.stopping = False
        self.ready = False
        self._stop = anyio.Event()
        self._started = anyio.Event()
        self.watcher: ConfigurationWatcher | None = None
        self.providers: dict[str, Provider] = {}
        self._tg: anyio.abc.TaskGroup | None = None
        self._config_scope: anyio.CancelScope | None = None
        #: The access log's writer (None: no ``accessLog``, requests do nothing for it).
        self.access_log = AccessLogger(static.accessLog) if static.accessLog is not None else None
        #: The tracer (None: no ``tracing``; the OpenTelemetry SDK is not even imported).
        self.tracing = _make_tracing(static)
        #: Prometheus metrics (None: no ``metrics.prometheus``, requests count nothing).
        self.metrics: Metrics | None = None
        if static.metrics is not None and static.metrics.prometheus is not None:
            self.metrics = Metrics(static.metrics.prometheus, add_internals=static.metrics.addInternals)
            self.metrics.kernel = self
        #: Certificate resolvers (set up by the ACME plugin): None when usable, else why not.
        self.cert_resolvers: dict[str, str | None] = {}
        #: ``x@internal`` handlers plugins add at ``startup`` (e.g. ``acme-http@internal``).
        self.internal_handlers: dict[str, Any] = {}
        self._background: list[Any] = []

    # -- providers ---------------------------------------------------------

    def _make_providers(self) -> dict[str, tuple[Provider, float]]:
        """Instances of the internal provider and of every configured provider."""
        ctx = ProviderContext(workdir=self.workdir, static=self.static, kernel=self)
        throttle = self.static.providers.providersThrottleDuration
        out: dict[str, tuple[Provider, float]] = {}
        internal = self.registry.providers.get(INTERNAL_PROVIDER)
        if internal is not None:
            out[INTERNAL_PROVIDER] = (internal.factory(None, ctx), 0.0)
        for key, options in self.static.providers.enabled().items():
            ptype = self.registry.provider_by_key(key)
            if ptype is None:  # the static model only admits registered keys
                continue
            out[ptype.name] = (ptype.factory(options, ctx), throttle)
        return out

    async def _run_provider(self, name: str, provider: Provider, emit: Any) -> None:
        """Run a provider; if it fails, log and start it again with backoff."""
        delay = 1.0
        while True:
            try:
                await provider.run(emit)
                return
            except Exception:
                log.exception("provider %s failed; restarting in %.0fs", name, delay)
            await anyio.sleep(delay)
            delay = min(delay * 2, 30.0)

    # -- applying ----------------------------------------------------------

    def compile_context(self) -> CompileContext:
        st = self.static.serversTransport
        ft = st.forwardingTimeouts
        return CompileContext(
            registry=self.registry,
            pools=self.pools,
            entrypoints={
                name: EntryPointSpec(name, tuple(ep.http.middlewares), ep.http.tls, ep.observability)
                for name, ep in self.static.entryPoints.items()
                if ep.protocol == "tcp"
            },
            transport_defaults=TransportDefaults(
                insecure_skip_verify=st.insecureSkipVerify,
                root_cas=st.rootCAs,
                max_idle_conns_per_host=st.maxIdleConnsPerHost,
                dial_timeout=ft.dialTimeout,
                response_header_timeout=ft.responseHeaderTimeout,
                idle_conn_timeout=ft.idleConnTimeout,
            ),
            internal_services=internal_services(self),
            workdir=self.workdir,
            tls=self.tls,
            tcp_transport_defaults=_tcp_transport_defaults(self.static),
            udp_entrypoints=[name for name, ep in self.static.entryPoints.items() if ep.protocol == "udp"],
            access_log=self.access_log,
            tracing=self.tracing,
            metrics=self.metrics,
            cert_resolvers=self.cert_resolvers,
        )

    def apply(self, snapshots: Mapping[str, Configuration]) -> RuntimeConfiguration:
        t0 = time.perf_counter()
        merged = merge(snapshots, default_entrypoints(self.static))
        defaults = sum(1 for c in snapshots.values() if c.tls is not None and "default" in (c.tls.options or {}))
        self.tls.update(
            [c for _, c in merged.tls_certificates],
            {name: opts for name, (_, opts) in merged.tls_options.items()},
            {name: store for name, (_, store) in merged.tls_stores.items()},
            default_options_conflict=defaults > 1,
        )
        try:
            compiled = compile_configuration(merged, self.compile_context())
        except BaseException:
            self.pools.discard()
            raise
        for name, handler in compiled.handlers.items():
            ep = self.entrypoints.get(name)
            if ep is not None:
                ep.use(
                    Routing(
                        handler, compiled.https_handlers[name], compiled.tls_hosts[name], self.tls,
                        tcp=compiled.tcp.get(name),
                    )
                )
        for name, udp_ep in self.udp_entrypoints.items():
            udp_ep.handler = compiled.udp.get(name)
        self.pools.commit()
        self._start_config_tasks(compiled.tasks)
        st = self.state
        st.runtime = compiled.runtime
        st.snapshots = dict(snapshots)
        st.applied_at = time.time()
        st.reloads += 1
        st.apply_seconds = time.perf_counter() - t0
        if self.metrics is not None:
            rt = compiled.runtime
            self.metrics.set_live(self.entrypoints, rt.routers, rt.services)
        self.ready = True
        for info in (i for t in compiled.runtime.tables() for i in t.values()):
            if info.errors:
                log.log(
                    logging.ERROR if info.status == "disabled" else logging.WARNING,
                    "%s: %s", info.name, "; ".join(info.errors),
                )
        try:
            self.plugins.manager.hook.configuration_applied(kernel=self, runtime=compiled.runtime)
        except Exception:  # a plugin's observer must not make a live configuration look failed
            log.exception("a configuration_applied hook failed (the configuration is live)")
        return compiled.runtime

    def _start_config_tasks(self, tasks: list[Any]) -> None:
        """Run the live configuration's background work; stop the previous one's."""
        if self._config_scope is not None:
            self._config_scope.cancel()
            self._config_scope = None
        if not tasks or self._tg is None:
            return  # `render` runs no background work
        scope = self._config_scope = anyio.CancelScope()

        async def guarded(task: Any) -> None:
            try:
                await task()
            except Exception:
                log.exception("background task %r of the configuration failed", task)

        async def run_all() -> None:
            with scope:
                async with anyio.create_task_group() as tg:
                    for task in tasks:
                        tg.start_soon(guarded, task)

        self._tg.start_soon(run_all)

    # -- lifecycle -----------------------------------------------------------

    def spawn(self, task: Any) -> None:
        """Run ``task()`` (async) until the kernel stops; may be called from a
        ``startup`` hook (it starts once the kernel runs). A failure is logged."""

        async def guarded() -> None:
            try:
                await task()
            except Exception:
                log.exception("background task %r failed", task)

        if self._tg is None:
            self._background.append(guarded)
        else:
            self._tg.start_soon(guarded)

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Serve until :meth:`stop`; ``task_status.started()`` once every entry point is bound."""
        if self.access_log is not None:
            self.access_log.start()
        for name, cfg in self.static.entryPoints.items():
            if cfg.protocol == "udp":
                udp_ep = UDPEntryPoint(name, cfg)
                await udp_ep.start()
                self.udp_entrypoints[name] = udp_ep
                continue
            ep = EntryPoint(name, cfg)
            await ep.start()
            self.entrypoints[name] = ep
        providers = self._make_providers()
        self.providers = {name: p for name, (p, _) in providers.items()}
        first_timeout = max(
            (t.first_snapshot_timeout for t in self.registry.providers.values()), default=30.0
        )
        self.watcher = ConfigurationWatcher(
            {name: throttle for name, (_, throttle) in providers.items()},
            self.apply,
            first_snapshot_timeout=first_timeout,
        )
        self.plugins.manager.hook.startup(kernel=self)
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                for pending in self._background:
                    tg.start_soon(pending)
                self._background.clear()
                tg.start_soon(self.watcher.run)
                for ep in self.entrypoints.values():
                    tg.start_soon(ep.sweep)
                for udp_ep in self.udp_entrypoints.values():
                    tg.start_soon(udp_ep.sweep)
                for name, (provider, _) in providers.items():
                    tg.start_soon(self._run_provider, name, provider, self.watcher.emitter(name))
                self._started.set()
                task_status.started()
                await self._stop.wait()
                self.stopping = True
                self.plugins.manager.hook.shutdown(kernel=self)
                async with anyio.create_task_group() as stops:
                    for ep in self.entrypoints.values():
                        stops.start_soon(ep.stop)
                    for udp_ep in self.udp_entrypoints.values():
                        stops.start_soon(udp_ep.stop)
                tg.cancel_scope.cancel()
        finally:
            for ep in self.entrypoints.values():
                ep.close()
            for udp_ep in self.udp_entrypoints.values():
                udp_ep.close()
            self.pools.close()
            if self.access_log is not None:
                self.access_log.close()
            if self.tracing is not None:
                self.tracing.close()

    def reopen_logs(self) -> None:
        """SIGUSR1: reopen the access log file (and edgeway's own log file) for rotation."""
        if self.access_log is not None:
            self.access_log.rotate()
        reopen_log_file()

    def stop(self) -> None:
        self.stopping = True
        self._stop.set()


def _make_tracing(static: StaticConfiguration) -> Tracing | None:
    """The tracer of the static ``tracing``; as Traefik, one that cannot be set up
    (bad endpoint, unreadable certificate) is logged and tracing stays off. A
    missing OpenTelemetry SDK is a startup error (``TracingUnavailable``)."""
    if static.tracing is None:
        return None
    from edgeway.tracing import Tracing

    try:
        return Tracing(static.tracing)
    except (ValueError, OSError) as exc:
        log.warning("Unable to create tracer: %s", exc)
        return None


def _tcp_transport_defaults(static: StaticConfiguration) -> TCPTransportDefaults:
    """``default@internal`` of TCP services, from the static ``tcpServersTransport``."""
    st = static.tcpServersTransport
    return TCPTransportDefaults(
        dial_timeout=st.dialTimeout,
        dial_keep_alive=st.dialKeepAlive,
        insecure_skip_verify=st.tls.insecureSkipVerify if st.tls else False,
        root_cas=tuple(st.tls.rootCAs) if st.tls else (),
    )
