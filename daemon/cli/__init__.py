"""The ``gitopsd`` command line (click).

Commands parse arguments, load the configuration and hand over to the runtime; they
print results, and map bad input to exit code 2 with a message that says what and
where. Nothing here decides anything about GitOps.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson
import yaml

from daemon import configdump, errors, logs, settings
from daemon.runtime import appcommands, database, demo, gitloop, verify
from daemon.runtime import main as daemon_main
from daemon.shell import eventstore, gitsource, pgbackup, render
from kubesim import cli as sim_cli

T = TypeVar("T")

EXIT_USAGE = 2


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class _Context:
    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._config: settings.Config | None = None

    def located(self) -> Path:
        """The configuration file's path (exit 2, saying where it looked, when there is none)."""
        return settings.locate(self.config_path)

    def config(self) -> settings.Config:
        """The configuration; every command that calls this needs a file (no silent defaults)."""
        if self._config is None:
            self._config = settings.load(self.located())
        return self._config


pass_ctx = click.make_pass_decorator(_Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Configuration file (default: $GITOPSD_CONFIG, else ./gitopsd.yaml).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default=None,
    help="Log level (default: info for `run` and `sim`, warning for the other commands).",
)
@click.version_option(package_name="gitopsd")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, log_level: str | None) -> None:
    """gitopsd: keep Kubernetes clusters converged on Git, and remember everything."""
    serving = ctx.invoked_subcommand in ("run", "sim")
    level = log_level or ("info" if serving else "warning")
    logs.configure(level=level, stream=None if ctx.invoked_subcommand == "run" else sys.stderr)
    ctx.obj = _Context(config_path)


@cli.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("check")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--effective",
    is_flag=True,
    help="Print the configuration with every default filled in (secrets as ***).",
)
@pass_ctx
def config_check(ctx: _Context, file: str | None, effective: bool) -> None:
    """Validate FILE (default: the configuration in use); print ok or every problem."""
    path = Path(file) if file else ctx.located()
    config = settings.load(path)
    click.echo(configdump.effective(config) if effective else "ok", nl=not effective)


@cli.command()
@pass_ctx
def migrate(ctx: _Context) -> None:
    """Apply pending database migrations (safe to run concurrently)."""

    async def go() -> list[str]:
        db = await database.locate(ctx.config())
        try:
            applied = await database.migrate(db.url)
        finally:
            db.close()
        return [f"{m.version:03d}_{m.name}" for m in applied]

    applied = _run(go())
    if applied:
        for name in applied:
            click.echo(f"applied {name}")
    else:
        click.echo("schema is up to date")


@cli.group("db")
def db_group() -> None:
    """The event log's database."""


@db_group.command("url")
@pass_ctx
def db_url(ctx: _Context) -> None:
    """Print the database URL: the configured one, or the embedded server's while it runs.

    The embedded server runs only while a gitopsd process holds it, so its URL is only
    printed then (it stays valid while that process runs); otherwise this exits 1.
    """
    url = database.held_url(ctx.config())
    if url is None:
        click.echo(
            "error: the embedded PostgreSQL is not running (no gitopsd process holds it), so it"
            " has no URL to use: run `gitopsd db psql` (it starts the server for the session),"
            " or start `gitopsd run` and ask again",
            err=True,
        )
        sys.exit(1)
    click.echo(url)


@db_group.command("psql", context_settings={"ignore_unknown_options": True})
@click.argument("psql_args", nargs=-1, type=click.UNPROCESSED)
@pass_ctx
def db_psql(ctx: _Context, psql_args: tuple[str, ...]) -> None:
    """Open psql on the event log (extra arguments go to psql)."""
    db = _run(database.locate(ctx.config()))
    try:
        argv = [database.psql_binary(), db.url, *psql_args]
        code = subprocess.call(argv)  # noqa: S603 - psql with the user's own arguments
    finally:
        db.close()
    sys.exit(code)


_PG_BIN = click.option(
    "--pg-bin",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Directory of the PostgreSQL client tools (default: the embedded server's own;"
    " for an external database, PATH).",
)


def _run_backup(coro: Coroutine[Any, Any, T]) -> T:
    """Run a dump or restore; a refusal or a failed tool is printed and exits 1."""
    try:
        return _run(coro)
    except pgbackup.BackupError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@db_group.command("dump")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_PG_BIN
@pass_ctx
def db_dump(ctx: _Context, file: Path, pg_bin: Path | None) -> None:
    """Back up the event log's database to FILE (pg_dump custom format, mode 0600)."""
    _run_backup(database.dump(ctx.config(), file, pg_bin=pg_bin))
    click.echo(f"dumped to {file}")


@db_group.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_PG_BIN
@pass_ctx
def db_restore(ctx: _Context, file: Path, pg_bin: Path | None) -> None:
    """Restore FILE (from `gitopsd db dump`) into the configured database, if it holds no events."""
    restored = _run_backup(database.restore(ctx.config(), file, pg_bin=pg_bin))
    click.echo(f"restored {restored.events} events (last position {restored.last_position})")


@cli.command()
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Keep the demo's log, repository and database here (default: a temporary directory).",
)
def demo_cmd(state_dir: str | None) -> None:
    """Show the whole loop on embedded defaults: sync, auto-sync, prune, Degraded, rollback."""
    try:
        _run(demo.run(state_dir=Path(state_dir) if state_dir else None, out=click.echo))
    except demo.DemoError as exc:
        click.echo(f"demo failed: {exc}", err=True)
        sys.exit(1)


demo_cmd.name = "demo"


@cli.command()
@pass_ctx
def run(ctx: _Context) -> None:
    """Run the daemon until SIGTERM or SIGINT."""
    sys.exit(_run(daemon_main.run(ctx.config())))


# The emulator's own command line (``python -m kubesim``), under gitopsd's name.
cli.add_command(sim_cli.main, name="sim")


@cli.command("render")
@click.argument("app")
@click.option(
    "--revision", default=None, help="Commit, branch or tag (default: the source's head)."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of YAML documents.")
@pass_ctx
def render_cmd(ctx: _Context, app: str, revision: str | None, as_json: bool) -> None:
    """Print APP's rendered objects, sorted by key (Secret values as digests); exit 1 on errors."""
    try:
        _, objects = _run(gitloop.render_one(ctx.config(), app, revision=revision))
    except render.RenderError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    except gitsource.FetchError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(orjson.dumps(objects, option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(yaml.safe_dump_all(objects, sort_keys=False), nl=False)


@cli.group("sources")
def sources_group() -> None:
    """Git sources."""


@sources_group.command("poll")
@click.argument("name", required=False)
@pass_ctx
def sources_poll(ctx: _Context, name: str | None) -> None:
    """Poll NAME (default: every source) once, render what changed, print what was recorded."""
    config = ctx.config()

    async def go() -> list[str]:
        async with database.opened(config) as store:
            return await gitloop.poll_once(config, store, [name] if name else None)

    for line in _run(go()):
        click.echo(line)


def _app_store_call(ctx: _Context, name: str, action: Any) -> Any:
    """Open the log, look the app up in the configuration, run ``action(store, app)``."""
    config = ctx.config()
    app = appcommands.app_config(config, name)

    async def go() -> Any:
        async with database.opened(config) as store:
            return await action(store, app)

    return _run(go())


@cli.command("sync")
@click.argument("app")
@click.option("--reason", default="", help="Why (kept in the log).")
@click.option("--actor", default=None, help="Who (default: cli:<your user>).")
@pass_ctx
def sync_cmd(ctx: _Context, app: str, reason: str, actor: str | None) -> None:
    """Ask the daemon to sync APP now (recorded with its actor; acted on by the active gitopsd)."""
    who = appcommands.actor_name(actor)

    async def record(store: eventstore.EventStore, config: settings.AppConfig) -> str:
        position = await appcommands.request_sync(store, config, actor=who, reason=reason)
        holder = await appcommands.active_daemon(store)
        return appcommands.sync_outcome(app, actor=who, position=position, holder=holder)

    click.echo(_app_store_call(ctx, app, record))


@cli.command("rollback")
@click.argument("app")
@click.option("--to", "revision", required=True, help="A commit recorded on the app's source.")
@click.option("--reason", default="", help="Why (kept in the log).")
@click.option(
    "--until-next-commit",
    is_flag=True,
    help="Lift the pin by itself when a newer commit is rendered.",
)
@click.option("--actor", default=None, help="Who (default: cli:<your user>).")
@pass_ctx
def rollback_cmd(
    ctx: _Context,
    *,
    app: str,
    revision: str,
    reason: str,
    until_next_commit: bool,
    actor: str | None,
) -> None:
    """Pin APP to an earlier revision; auto-sync stays there until `gitopsd unpin`."""
    who = appcommands.actor_name(actor)
    sha = _app_store_call(
        ctx,
        app,
        lambda store, a: appcommands.pin(
            store,
            a,
            revision=revision,
            actor=who,
            reason=reason,
            until_newer_commit=until_next_commit,
        ),
    )
    lift = "the next commit" if until_next_commit else "`gitopsd unpin`"
    click.echo(f"{app} pinned to {sha[:12]} by {who}; auto-sync stays there until {lift}")


@cli.command("unpin")
@click.argument("app")
@click.option("--reason", default="", help="Why (kept in the log).")
@click.option("--actor", default=None, help="Who (default: cli:<your user>).")
@pass_ctx
def unpin_cmd(ctx: _Context, app: str, reason: str, actor: str | None) -> None:
    """Lift APP's pin: auto-sync follows its source again."""
    who = appcommands.actor_name(actor)
    lifted = _app_store_call(
        ctx, app, lambda store, a: appcommands.unpin(store, a, actor=who, reason=reason)
    )
    click.echo(f"{app} unpinned by {who}" if lifted else f"{app} was not pinned")


@cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON array of apps.")
@pass_ctx
def status_cmd(ctx: _Context, as_json: bool) -> None:
    """Each app: revision wanted and applied, sync state, health, last sync."""
    config = ctx.config()

    async def go() -> list[dict[str, Any]]:
        async with database.opened(config) as store:
            return appcommands.status_rows(await appcommands.load_state(store), config)

    rows = _run(go())
    if as_json:
        click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(appcommands.format_status(rows))


@cli.command("history")
@click.argument("app")
@pass_ctx
def history_cmd(ctx: _Context, app: str) -> None:
    """APP's story from the log: renders, syncs, steps, health, pins."""
    lines = _app_store_call(ctx, app, appcommands.history)
    click.echo("\n".join(lines) if lines else f"nothing recorded for {app} yet")


@cli.command("verify")
@pass_ctx
def verify_cmd(ctx: _Context) -> None:
    """Replay the log and recompute every recorded plan; exit 1 on any difference."""
    config = ctx.config()

    async def go() -> verify.Report:
        async with database.opened(config) as store:
            return await verify.verify(store)

    report = _run(go())
    for mismatch in report.mismatches:
        click.echo(
            f"position {mismatch.position}: app {mismatch.app} sync {mismatch.sync_id}: "
            f"{mismatch.detail}"
        )
    click.echo(
        f"{report.events} events replayed, {report.plans} plans recomputed, "
        f"{len(report.mismatches)} differences"
    )
    if report.mismatches:
        sys.exit(1)


def main() -> None:
    """Entry point of the ``gitopsd`` command."""
    try:
        cli.main(standalone_mode=False)
    except errors.ConfigError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        sys.exit(EXIT_USAGE)
    except errors.UsageError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
