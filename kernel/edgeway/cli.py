"""The ``edgeway`` command.

``edgeway [--configFile=F | --a.b.c=v ...]`` runs the proxy; subcommands:
``render``, ``plugins``, ``version``, ``healthcheck`` (and any a plugin adds
through ``register_commands``). Configuration arguments use Traefik's syntax,
which click cannot parse, so they are handed to the static loader untouched.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import click

import edgeway
from edgeway.config.loader import StaticConfigError, load_static_configuration
from edgeway.config.static import StaticConfiguration, effective_configuration
from edgeway.plugins import PluginError, Plugins, load_plugins

_PASSTHROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


class EdgewayGroup(click.Group):
    """Runs the proxy when the first argument is not a subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=EdgewayGroup)
def cli() -> None:
    """edgeway: an edge router and reverse proxy, a drop-in for Traefik Proxy v3."""


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"edgeway: {message}", err=True)
    sys.exit(code)


def _plugins() -> Plugins:
    try:
        return load_plugins()
    except PluginError as exc:
        _fail(str(exc))
        raise  # unreachable


def _static(args: list[str], plugins: Plugins) -> StaticConfiguration:
    try:
        loaded = load_static_configuration(args, os.environ, Path.cwd(), plugins.registry)
    except StaticConfigError as exc:
        _fail(f"invalid static configuration:\n{exc}")
        raise
    for ignored in loaded.ignored:
        click.echo(f"edgeway: warning: {ignored} ignored: the {loaded.source} configuration is used", err=True)
    return effective_configuration(loaded.configuration)


def setup_logging(static: StaticConfiguration) -> None:
    from edgeway.logs import setup_logging as setup

    setup(static.log)


@cli.command("run", context_settings=_PASSTHROUGH, hidden=True)
@click.pass_context
def run_cmd(ctx: click.Context) -> None:
    """Run the proxy."""
    from edgeway.kernel import Kernel
    from edgeway.tracing import TracingUnavailable

    plugins = _plugins()
    static = _static(list(ctx.args), plugins)
    setup_logging(static)
    try:
        kernel = Kernel(static, plugins, workdir=os.getcwd())
    except TracingUnavailable as exc:
        _fail(str(exc), 1)
        return

    import anyio

    async def serve() -> None:
        async with anyio.create_task_group() as tg:

            async def on_signals() -> None:
                with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGUSR1) as signals:
                    async for signum in signals:
                        if signum == signal.SIGUSR1:  # log rotation (Traefik's listenSignals)
                            kernel.reopen_logs()
                            continue
                        kernel.stop()
                        return

            tg.start_soon(on_signals)
            try:
                await kernel.run()
            finally:
                tg.cancel_scope.cancel()

    try:
        anyio.run(serve, backend="asyncio", backend_options={"use_uvloop": _has_uvloop()})
    except (OSError, ValueError, BaseExceptionGroup) as exc:
        # Start-up errors (a port in use, an unsupported entry point) arrive
        # wrapped in the task group's exception group: say them in one line.
        err = _start_up_error(exc)
        if err is None:
            raise
        _fail(str(err.strerror if isinstance(err, OSError) and err.strerror else err), 1)


def _start_up_error(exc: BaseException) -> BaseException | None:
    if isinstance(exc, OSError | ValueError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _start_up_error(inner)
            if found is not None:
                return found
    return None


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


@cli.command("render", context_settings=_PASSTHROUGH)
@click.option("--format", "fmt", type=click.Choice(["json", "yaml"]), default="json", help="Output format.")
@click.option(
    "--manifests",
    type=click.Path(exists=True),
    help="Kubernetes manifests (a file or a directory) for the providers that render offline.",
)
@click.option(
    "--provider",
    help="Print only this provider's own configuration for --manifests (e.g. kubernetes).",
)
@click.option(
    "--provider-options",
    help="With --provider: the provider's options as JSON (its providers.<key> section).",
)
@click.pass_context
def render_cmd(
    ctx: click.Context, fmt: str, manifests: str | None, provider: str | None, provider_options: str | None
) -> None:
    """Print the merged dynamic configuration with every object's status and errors.

    Runs the configured providers once (no ports are opened) and exits 1 when
    any object is disabled or a provider's input is invalid. With
    ``--provider NAME --manifests PATH`` it prints that provider's own
    configuration (unqualified names, Traefik's JSON encoding) and exits 1 when
    the provider reports a problem with the manifests.
    """
    from edgeway.render import RenderError, render, render_provider

    plugins = _plugins()
    static = _static(list(ctx.args), plugins)
    if provider_options is not None and provider is None:
        _fail("--provider-options needs --provider")
    options: Any = None
    if provider_options is not None:
        try:
            options = json.loads(provider_options)
        except ValueError as exc:
            _fail(f"--provider-options: invalid JSON: {exc}")
        if not isinstance(options, dict):
            _fail("--provider-options: expected a JSON object")
    if provider is not None:
        if manifests is None:
            _fail("--provider needs --manifests")
        assert manifests is not None
        try:
            result = render_provider(static, plugins, os.getcwd(), provider, manifests, options)
        except RenderError as exc:
            _fail(str(exc))
            raise
    else:
        import anyio

        result = anyio.run(render, static, plugins, os.getcwd(), manifests)
    if fmt == "yaml":
        import yaml

        click.echo(yaml.safe_dump(result.document, sort_keys=False), nl=False)
    else:
        click.echo(json.dumps(result.document, indent=2))
    for problem in result.problems:
        click.echo(f"edgeway: {problem}", err=True)
    sys.exit(1 if result.failed else 0)


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins_cmd(as_json: bool) -> None:
    """List plugins (built-in and installed) with their versions and hooks."""
    plugins = _plugins()
    if as_json:
        click.echo(json.dumps([p.__dict__ for p in plugins.infos], indent=2))
        return
    for p in plugins.infos:
        kind = "built-in" if p.builtin else "installed"
        click.echo(f"{p.name} {p.version} ({kind}, {p.module})")
        click.echo(f"  hooks: {', '.join(p.hooks) or '-'}")


@cli.command("version")
def version_cmd() -> None:
    """Print edgeway's version."""
    click.echo(f"Version:      {edgeway.__version__}")
    click.echo("Codename:     edgeway")
    click.echo(f"Python:       {sys.version.split()[0]}")


@cli.command("healthcheck", context_settings=_PASSTHROUGH)
@click.pass_context
def healthcheck_cmd(ctx: click.Context) -> None:
    """Exit 0 when the running edgeway's ``/ping`` answers 200, 1 otherwise.

    As Traefik's (cmd/healthcheck): a ``HEAD /ping`` on the ping entry point,
    5 s timeout, never through an HTTP proxy from the environment.
    """
    import http.client

    static = _probe_static(list(ctx.args))
    if static.ping is None:
        _fail("please enable `ping` to use health check", 1)
    ping = static.ping
    assert ping is not None
    ep = static.entryPoints.get(ping.entryPoint)
    if ep is None:
        _fail(f"ping: missing {ping.entryPoint} entry point", 1)
    assert ep is not None
    host = ep.host or "127.0.0.1"
    url = f"http://{f'[{host}]' if ':' in host else host}:{ep.port}/ping"
    conn = http.client.HTTPConnection(host, ep.port, timeout=5)
    try:
        conn.request("HEAD", "/ping")
        resp = conn.getresponse()
    except OSError as exc:
        _fail(f"error calling healthcheck: HEAD {url}: {exc}", 1)
        return
    finally:
        conn.close()
    if resp.status != 200:
        _fail(f"bad healthcheck status: {resp.status} {resp.reason} (HEAD {url})", 1)
    click.echo(f"OK: {url}")


def _probe_static(args: list[str]) -> StaticConfiguration:
    """The static configuration as ``healthcheck`` needs it (ping and entry points).

    A container probe runs every few seconds and must start fast: plugins (their
    option models are most of the start-up time) are loaded only when the
    configuration has a section that only they know.
    """
    try:
        return load_static_configuration(args, os.environ, Path.cwd()).configuration
    except StaticConfigError:
        return _static(args, _plugins())


def main(argv: list[str] | None = None) -> Any:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] != ["healthcheck"]:  # the probe starts without plugins (see _probe_static)
        try:
            plugins = load_plugins()
            plugins.manager.hook.register_commands(cli=cli)
        except PluginError as exc:
            _fail(str(exc))
    return cli.main(args=argv, prog_name="edgeway")


if __name__ == "__main__":
    main()
