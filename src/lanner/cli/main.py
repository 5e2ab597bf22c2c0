"""``lanner``: ``server …`` runs roles, ``admin …`` opens the store directly with the server's
settings (tokens, log purges, migrations), and client commands speak HTTP only.

The client commands (httpx, rich) are imported when one of them is run or listed, so a server
process never loads them: :data:`CLIENT_COMMANDS` names the module of each.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import typer
import typer.core
import typer.main

from lanner import __version__
from lanner.config import Settings, load_settings
from lanner.domain.times import parse_duration
from lanner.errors import LannerError

T = TypeVar("T")

Role = Literal["api", "executor", "worker", "scheduler"]

CLIENT_COMMANDS: dict[str, str] = {
    **{
        name: "lanner.cli.executions"  # its ``register`` adds them
        for name in ("run", "status", "logs", "kill", "restart", "replay", "resume")
    },
    "flow": "lanner.cli.flows",  # a group: the module's ``app``
    "kv": "lanner.cli.kv",
    "files": "lanner.cli.files",
}
"""Client command (or group) name → the module that defines it."""


class LannerGroup(typer.core.TyperGroup):
    """The ``lanner`` group: the client commands of :data:`CLIENT_COMMANDS` are imported and
    added the first time one is asked for (every one of them to list them). ``ctx`` and the
    commands are typer's click types (vendored by recent typer releases, click's own before)."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in CLIENT_COMMANDS:
            self._add_client_commands(CLIENT_COMMANDS[cmd_name])
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: Any) -> list[str]:
        for module in dict.fromkeys(CLIENT_COMMANDS.values()):
            self._add_client_commands(module)
        # The client commands first, then this module's; commands before groups, as Typer lists.
        names = [*(n for n in self.commands if n in CLIENT_COMMANDS), *super().list_commands(ctx)]
        names = list(dict.fromkeys(names))
        return sorted(
            names, key=lambda name: isinstance(self.commands[name], typer.core.TyperGroup)
        )

    def _add_client_commands(self, module_name: str) -> None:
        module = importlib.import_module(module_name)
        holder = typer.Typer(add_completion=False)
        if hasattr(module, "register"):
            module.register(holder)
        else:
            for name, owner in CLIENT_COMMANDS.items():
                if owner == module_name:
                    holder.add_typer(module.app, name=name)
        for name, command in typer.main.get_group(holder).commands.items():
            self.commands.setdefault(name, command)


app = typer.Typer(
    name="lanner",
    cls=LannerGroup,
    help="Lanner: a Kestra-compatible workflow orchestrator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # a traceback must never print settings' secrets
)
server_app = typer.Typer(
    help="Run the server (all roles, or one role).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
admin_app = typer.Typer(
    help="Administer the store directly.", no_args_is_help=True, pretty_exceptions_show_locals=False
)
cluster_app = typer.Typer(
    help="Multi-node: the cluster as its database sees it (PostgreSQL).", no_args_is_help=True
)
token_app = typer.Typer(
    help="API tokens for bearer authentication.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
logs_app = typer.Typer(
    help="Execution and trigger log lines.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(server_app, name="server")
app.add_typer(admin_app, name="admin")
app.add_typer(cluster_app, name="cluster")
admin_app.add_typer(token_app, name="token")
admin_app.add_typer(logs_app, name="logs")

HostOpt = Annotated[str | None, typer.Option("--host", help="Address to listen on.")]
PortOpt = Annotated[int | None, typer.Option("--port", help="Port to listen on.")]
HealthPortOpt = Annotated[
    int | None,
    typer.Option("--health-port", help="Serve GET /health on this port (LANNER_HEALTH_PORT)."),
]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="Data directory.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="YAML settings file.")]


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"lanner: {message}", err=True)
    raise typer.Exit(code)


def settings_from(**flags: Any) -> Settings:
    try:
        return load_settings(flags)
    except LannerError as exc:
        fail(exc.message)
        raise AssertionError("unreachable") from exc


def loop_factory(choice: str = "auto") -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The server's event loop (``Settings.event_loop``): uvloop's where it imports unless
    ``asyncio`` is asked. uvicorn's own loop choice never applies: ``serve()`` runs in ours."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            fail("event loop 'uvloop' asked for, but uvloop is not installed")
        return None
    return uvloop.new_event_loop


def run(coroutine: Coroutine[Any, Any, T], *, server: Settings | None = None) -> T:
    """Run ``coroutine`` to its end; a server's on :func:`loop_factory`'s loop."""
    factory = loop_factory(server.event_loop) if server is not None else None
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(coroutine)
    except LannerError as exc:
        fail(exc.message)
        raise AssertionError("unreachable") from exc


def configure_logging(settings: Settings) -> None:
    from lanner.logformat import configure_logging as configure

    configure(settings.log_format)
    logging.getLogger("mcp").setLevel(logging.WARNING)  # the SDK logs each stateless request


@server_app.command("local")
def server_local(
    host: HostOpt = None,
    port: PortOpt = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Embedded mode: API and every role in one process (SQLite by default)."""
    from lanner.bootstrap import run_local

    settings = settings_from(host=host, port=port, data_dir=data_dir, config_file=config)
    configure_logging(settings)
    try:
        run(run_local(settings), server=settings)
    except KeyboardInterrupt:
        pass


@server_app.command("api")
def server_api(
    host: HostOpt = None,
    port: PortOpt = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Multi-node: the HTTP API only (PostgreSQL; any number of API nodes)."""
    settings = settings_from(host=host, port=port, data_dir=data_dir, config_file=config)
    run_role(settings, "api")


@server_app.command("executor")
def server_executor(
    data_dir: DataDirOpt = None, config: ConfigOpt = None, health_port: HealthPortOpt = None
) -> None:
    """Multi-node: the executor (PostgreSQL; one leader advances executions, others stand by)."""
    settings = settings_from(data_dir=data_dir, config_file=config, health_port=health_port)
    run_role(settings, "executor")


@server_app.command("worker")
def server_worker(
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, help="Jobs this worker runs at once.")
    ] = 32,
    health_port: HealthPortOpt = None,
) -> None:
    """Multi-node: a worker running queued tasks (PostgreSQL; any number of workers)."""
    settings = settings_from(data_dir=data_dir, config_file=config, health_port=health_port)
    run_role(settings, "worker", worker_concurrency=concurrency)


@server_app.command("scheduler")
def server_scheduler(
    data_dir: DataDirOpt = None, config: ConfigOpt = None, health_port: HealthPortOpt = None
) -> None:
    """Multi-node: the scheduler (PostgreSQL; one lease holder evaluates schedules, others
    stand by)."""
    settings = settings_from(data_dir=data_dir, config_file=config, health_port=health_port)
    run_role(settings, "scheduler")


def run_role(settings: Settings, role: Role, *, worker_concurrency: int = 32) -> None:
    from lanner.bootstrap import run_role as run_role_async

    configure_logging(settings)
    try:
        run(run_role_async(settings, role, worker_concurrency=worker_concurrency), server=settings)
    except KeyboardInterrupt:
        pass


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option("--name", help="Token name (unique).")],
    expires: Annotated[
        str | None, typer.Option("--expires", help="ISO-8601 duration, e.g. P30D.")
    ] = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Create a token and print it once (only its hash is stored)."""
    from lanner.admin import create_token

    lifetime: timedelta | None = None
    if expires is not None:
        lifetime = parse_duration(expires)  # Java's Duration.parse, as the server reads them
        if lifetime is None:
            fail(f"--expires must be an ISO-8601 duration such as P30D, got {expires!r}")
        if lifetime is not None and lifetime <= timedelta(0):
            fail("--expires must be positive")
    settings = settings_from(data_dir=data_dir, config_file=config)
    secret = run(create_token(settings, name, lifetime))
    typer.echo(secret)


@token_app.command("list")
def token_list(data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
    """List tokens (names and dates, never secrets) as JSON lines."""
    import orjson

    from lanner.admin import list_tokens

    settings = settings_from(data_dir=data_dir, config_file=config)
    now = datetime.now(UTC)
    for token in run(list_tokens(settings)):
        expired = token.expires is not None and token.expires <= now
        typer.echo(
            orjson.dumps(
                {
                    "name": token.name,
                    "created": token.created,
                    "expires": token.expires,
                    "revoked": token.revoked,
                    "active": not token.revoked and not expired,
                },
                option=orjson.OPT_UTC_Z,
            ).decode()
        )


@token_app.command("revoke")
def token_revoke(
    name: Annotated[str, typer.Argument(help="Name of the token to revoke.")],
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Revoke a token by name."""
    from lanner.admin import revoke_token

    settings = settings_from(data_dir=data_dir, config_file=config)
    if not run(revoke_token(settings, name)):
        fail(f"no token named {name!r}", code=1)
    typer.echo(f"revoked {name}")


@cluster_app.command("status")
def cluster_status_command(data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
    """Every node on the database: role, host, pid, sessions, last activity, the leaders."""
    from lanner.admin import cluster_status

    settings = settings_from(data_dir=data_dir, config_file=config)
    nodes, counts = run(cluster_status(settings))
    rows = [
        [
            node.role,
            node.host,
            str(node.pid),
            "yes" if node.leader else "",
            str(node.sessions),
            node.since.isoformat(timespec="seconds"),
            node.last_active.isoformat(timespec="seconds") if node.last_active else "",
        ]
        for node in nodes
    ]
    header = ["ROLE", "HOST", "PID", "LEADER", "SESSIONS", "SINCE", "LAST ACTIVE"]
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    for row in [header, *rows]:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    queued, running = counts.get("QUEUED", 0), counts.get("RUNNING", 0)
    typer.echo(f"{len(nodes)} nodes; jobs: {queued} queued, {running} running (leased)")


@admin_app.command("migrate")
def admin_migrate(data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
    """Apply the schema migrations (the server also does this at start)."""
    from lanner.admin import migrate

    settings = settings_from(data_dir=data_dir, config_file=config)
    run(migrate(settings))
    typer.echo("schema up to date")


@logs_app.command("purge")
def logs_purge(
    older_than: Annotated[str, typer.Option("--older-than", help="ISO-8601 duration, e.g. P30D.")],
    namespace: Annotated[
        str | None, typer.Option("--namespace", help="Only this namespace (and children).")
    ] = None,
    flow_id: Annotated[str | None, typer.Option("--flow-id", help="Only this flow.")] = None,
    level: Annotated[
        list[str] | None, typer.Option("--level", help="Only these levels (repeatable).")
    ] = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Delete log lines older than a duration; prints how many."""
    from lanner.admin import purge_logs
    from lanner.domain.logs import LogLevel

    age = parse_duration(older_than)
    if age is None:
        fail(f"--older-than must be an ISO-8601 duration such as P30D, got {older_than!r}")
    if age is None or age < timedelta(0):
        fail("--older-than must not be negative")
        return
    try:
        levels = tuple(LogLevel(value.upper()) for value in level or ())
    except ValueError:
        fail(f"--level must be one of {', '.join(LogLevel)}")
        return
    settings = settings_from(data_dir=data_dir, config_file=config)
    deleted = run(purge_logs(settings, age, namespace=namespace, flow_id=flow_id, levels=levels))
    typer.echo(f"purged {deleted} log lines older than {older_than}")


@app.command("mcp")
def mcp_stdio() -> None:
    """Serve MCP over stdio for desktop agents, proxied to a server's REST API.

    The server and credentials come from the environment, as for ``kestra-ws``: KESTRA_URL,
    KESTRA_USER/KESTRA_PASSWORD or KESTRA_TOKEN, KESTRA_TENANT (or KESTRA_CONFIG's file).
    """
    from lanner.cli.client import ClientError, ClientSettings
    from lanner.mcp.stdio import serve_stdio

    try:
        settings = ClientSettings.from_environ()
    except ClientError as error:
        fail(error.message)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)  # stdout is the protocol's
    asyncio.run(serve_stdio(settings))


@app.command("nu-helper")
def nu_helper() -> None:
    """Print the path of the Nushell helper kestra.nu (``nu $(lanner nu-helper) status ID``)."""
    from importlib.resources import files

    typer.echo(str(files("lanner") / "tools" / "kestra.nu"))


@app.command("version")
def version() -> None:
    """Print Lanner's version."""
    typer.echo(__version__)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
