"""What operators do to and ask about apps: status, history, sync, rollback, unpin, verify.

The wording, the log queries and the requests recorded for the daemon belong to
``daemon.runtime.appcommands`` and the replay to ``daemon.runtime.verify``; these commands
open the event log, call them and print the answer. ``verify`` exits 1 on any difference.
"""

from __future__ import annotations

import sys
from typing import Any

import click
import orjson

from daemon import settings
from daemon.cli import context
from daemon.runtime import appcommands, database, verify
from daemon.shell import eventstore


def _app_store_call(ctx: context.Context, name: str, action: Any) -> Any:
    """Open the log, look the app up in the configuration, run ``action(store, app)``."""
    config = ctx.config()
    app = appcommands.app_config(config, name)

    async def go() -> Any:
        async with database.opened(config) as store:
            return await action(store, app)

    return context.run(go())


@click.command("sync")
@click.argument("app")
@click.option("--reason", default="", help="Why (kept in the log).")
@click.option("--actor", default=None, help="Who (default: cli:<your user>).")
@context.pass_ctx
def sync_cmd(ctx: context.Context, app: str, reason: str, actor: str | None) -> None:
    """Ask the daemon to sync APP now (recorded with its actor; acted on by the active gitopsd)."""
    who = appcommands.actor_name(actor)

    async def record(store: eventstore.EventStore, config: settings.AppConfig) -> str:
        position = await appcommands.request_sync(store, config, actor=who, reason=reason)
        holder = await appcommands.active_daemon(store)
        return appcommands.sync_outcome(app, actor=who, position=position, holder=holder)

    click.echo(_app_store_call(ctx, app, record))


@click.command("rollback")
@click.argument("app")
@click.option("--to", "revision", required=True, help="A commit recorded on the app's source.")
@click.option("--reason", default="", help="Why (kept in the log).")
@click.option(
    "--until-next-commit",
    is_flag=True,
    help="Lift the pin by itself when a newer commit is rendered.",
)
@click.option("--actor", default=None, help="Who (default: cli:<your user>).")
@context.pass_ctx
def rollback_cmd(
    ctx: context.Context,
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


@click.command("unpin")
@click.argument("app")
@click.option("--reason", default="", help="Why (kept in the log).")
@click.option("--actor", default=None, help="Who (default: cli:<your user>).")
@context.pass_ctx
def unpin_cmd(ctx: context.Context, app: str, reason: str, actor: str | None) -> None:
    """Lift APP's pin: auto-sync follows its source again."""
    who = appcommands.actor_name(actor)
    lifted = _app_store_call(
        ctx, app, lambda store, a: appcommands.unpin(store, a, actor=who, reason=reason)
    )
    click.echo(f"{app} unpinned by {who}" if lifted else f"{app} was not pinned")


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON array of apps.")
@context.pass_ctx
def status_cmd(ctx: context.Context, as_json: bool) -> None:
    """Each app: revision wanted and applied, sync state, health, last sync."""
    config = ctx.config()

    async def go() -> list[dict[str, Any]]:
        async with database.opened(config) as store:
            return appcommands.status_rows(await appcommands.load_state(store), config)

    rows = context.run(go())
    if as_json:
        click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(appcommands.format_status(rows))


@click.command("history")
@click.argument("app")
@context.pass_ctx
def history_cmd(ctx: context.Context, app: str) -> None:
    """APP's story from the log: renders, syncs, steps, health, pins."""
    lines = _app_store_call(ctx, app, appcommands.history)
    click.echo("\n".join(lines) if lines else f"nothing recorded for {app} yet")


@click.command("verify")
@context.pass_ctx
def verify_cmd(ctx: context.Context) -> None:
    """Replay the log and recompute every recorded plan; exit 1 on any difference."""
    config = ctx.config()

    async def go() -> verify.Report:
        async with database.opened(config) as store:
            return await verify.verify(store)

    report = context.run(go())
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


def register(group: click.Group) -> None:
    """Add this module's commands to the ``gitopsd`` group."""
    for command in (status_cmd, history_cmd, sync_cmd, rollback_cmd, unpin_cmd, verify_cmd):
        group.add_command(command)
