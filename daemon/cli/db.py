"""The event log's database: ``gitopsd migrate`` and ``gitopsd db url|psql|dump|restore``.

Finding, starting and migrating the database is ``daemon.runtime.database``'s job, and
dumping and restoring it ``daemon.shell.pgbackup``'s; these commands call them and print
what happened. A refused backup or restore, and a missing embedded server for ``db url``,
exit 1.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

from daemon.cli import context
from daemon.runtime import database
from daemon.shell import pgbackup

T = TypeVar("T")


@click.command()
@context.pass_ctx
def migrate(ctx: context.Context) -> None:
    """Apply pending database migrations (safe to run concurrently)."""

    async def go() -> list[str]:
        db = await database.locate(ctx.config())
        try:
            applied = await database.migrate(db.url)
        finally:
            db.close()
        return [f"{m.version:03d}_{m.name}" for m in applied]

    applied = context.run(go())
    if applied:
        for name in applied:
            click.echo(f"applied {name}")
    else:
        click.echo("schema is up to date")


@click.group("db")
def db_group() -> None:
    """The event log's database."""


@db_group.command("url")
@context.pass_ctx
def db_url(ctx: context.Context) -> None:
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
@context.pass_ctx
def db_psql(ctx: context.Context, psql_args: tuple[str, ...]) -> None:
    """Open psql on the event log (extra arguments go to psql)."""
    db = context.run(database.locate(ctx.config()))
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
        return context.run(coro)
    except pgbackup.BackupError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@db_group.command("dump")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_PG_BIN
@context.pass_ctx
def db_dump(ctx: context.Context, file: Path, pg_bin: Path | None) -> None:
    """Back up the event log's database to FILE (pg_dump custom format, mode 0600)."""
    _run_backup(database.dump(ctx.config(), file, pg_bin=pg_bin))
    click.echo(f"dumped to {file}")


@db_group.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_PG_BIN
@context.pass_ctx
def db_restore(ctx: context.Context, file: Path, pg_bin: Path | None) -> None:
    """Restore FILE (from `gitopsd db dump`) into the configured database, if it holds no events."""
    restored = _run_backup(database.restore(ctx.config(), file, pg_bin=pg_bin))
    click.echo(f"restored {restored.events} events (last position {restored.last_position})")


def register(group: click.Group) -> None:
    """Add this module's commands to the ``gitopsd`` group."""
    group.add_command(migrate)
    group.add_command(db_group)
