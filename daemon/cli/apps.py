"""What operators do to and ask about apps: status, history, sync, rollback, suspend, verify.

``unpin`` and ``resume`` undo ``rollback`` and ``suspend``. The actions and queries
belong to ``daemon.runtime.commands`` (the same service the HTTP API uses), their wording
to ``daemon.runtime.appviews`` and the replay to ``daemon.runtime.verify``; these
commands open the event log, call them and print the answer. ``--cluster``
(repeatable) picks targets of the app; left out, all of them. ``verify`` exits 1 on any
difference.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
import orjson

from daemon import errors
from daemon.cli import context
from daemon.runtime import appviews, commands, database, verify

T = TypeVar("T")


def _call(ctx: context.Context, action: Callable[[commands.Commands], Awaitable[T]]) -> T:
    """Open the log and run ``action`` on the command service."""
    config = ctx.config()

    async def go() -> T:
        async with database.opened(config) as store:
            return await action(commands.Commands(store, config))

    return context.run(go())


def _clusters(given: tuple[str, ...]) -> list[str] | None:
    """The ``--cluster`` values, or None (every target) when there are none."""
    return list(given) or None


_cluster_option = click.option(
    "--cluster",
    "clusters",
    multiple=True,
    metavar="CLUSTER",
    help="A target of the app to act on (repeatable; default: all its targets).",
)
_reason_option = click.option("--reason", default="", help="Why (kept in the log).")
_actor_option = click.option("--actor", default=None, help="Who (default: cli:<your user>).")


@click.command("sync")
@click.argument("app")
@_cluster_option
@_reason_option
@_actor_option
@context.pass_ctx
def sync_cmd(
    ctx: context.Context, *, app: str, clusters: tuple[str, ...], reason: str, actor: str | None
) -> None:
    """Ask the daemon to sync APP now (recorded with its actor; acted on by the active gitopsd)."""
    who = commands.actor_name(actor)

    async def record(service: commands.Commands) -> str:
        outcome = await service.sync(app, _clusters(clusters), actor=who, reason=reason)
        return appviews.sync_outcome(outcome, holder=await service.active_daemon())

    click.echo(_call(ctx, record))


@click.command("rollback")
@click.argument("app")
@click.argument("revision", required=False)
@click.option("--to", "to", default=None, help="The revision (same as the REVISION argument).")
@_cluster_option
@_reason_option
@click.option(
    "--until-newer-commit",
    "--until-next-commit",
    "until_newer_commit",
    is_flag=True,
    help="Lift the pin by itself when a newer commit is rendered.",
)
@_actor_option
@context.pass_ctx
def rollback_cmd(
    ctx: context.Context,
    *,
    app: str,
    revision: str | None,
    to: str | None,
    clusters: tuple[str, ...],
    reason: str,
    until_newer_commit: bool,
    actor: str | None,
) -> None:
    """Pin APP to REVISION (a commit recorded on its source) until `gitopsd unpin`."""
    if (revision is None) == (to is None):
        raise errors.UsageError(
            "rollback: give the revision once, as `rollback APP REVISION` or with --to"
        )
    rev = revision or to or ""
    who = commands.actor_name(actor)
    outcome = _call(
        ctx,
        lambda service: service.rollback(
            app,
            rev,
            _clusters(clusters),
            actor=who,
            reason=reason,
            until_newer_commit=until_newer_commit,
        ),
    )
    sha = (outcome.revision or "")[:12]
    if not outcome.clusters:
        click.echo(f"{app} was already pinned to {sha} on {', '.join(outcome.unchanged)}")
        return
    lift = "the next commit" if until_newer_commit else "`gitopsd unpin`"
    said = (
        f"{app} pinned to {sha} on {', '.join(outcome.clusters)} by {who}; "
        f"auto-sync stays there until {lift}"
    )
    if outcome.unchanged:
        said += f"; already pinned to it on {', '.join(outcome.unchanged)}"
    click.echo(said)


@click.command("unpin")
@click.argument("app")
@_cluster_option
@_reason_option
@_actor_option
@context.pass_ctx
def unpin_cmd(
    ctx: context.Context, *, app: str, clusters: tuple[str, ...], reason: str, actor: str | None
) -> None:
    """Lift APP's pin: auto-sync follows its source again."""
    who = commands.actor_name(actor)
    outcome = _call(
        ctx, lambda service: service.unpin(app, _clusters(clusters), actor=who, reason=reason)
    )
    if not outcome.clusters and not clusters:
        click.echo(f"{app} was not pinned")
        return
    click.echo(appviews.action_outcome(outcome, done="unpinned", already="not pinned"))


@click.command("suspend")
@click.argument("app")
@_cluster_option
@_reason_option
@_actor_option
@context.pass_ctx
def suspend_cmd(
    ctx: context.Context, *, app: str, clusters: tuple[str, ...], reason: str, actor: str | None
) -> None:
    """Suspend APP: no sync, no self-heal, no prune on its targets until `gitopsd resume`."""
    who = commands.actor_name(actor)
    outcome = _call(
        ctx, lambda service: service.suspend(app, _clusters(clusters), actor=who, reason=reason)
    )
    said = appviews.action_outcome(outcome, done="suspended", already="already suspended")
    if outcome.clusters:
        said += f"; nothing is synced, healed or pruned there until `gitopsd resume {app}`"
    click.echo(said)


@click.command("resume")
@click.argument("app")
@_cluster_option
@_reason_option
@_actor_option
@context.pass_ctx
def resume_cmd(
    ctx: context.Context, *, app: str, clusters: tuple[str, ...], reason: str, actor: str | None
) -> None:
    """Resume a suspended APP: syncs, self-heal and prune apply again."""
    who = commands.actor_name(actor)
    outcome = _call(
        ctx, lambda service: service.resume(app, _clusters(clusters), actor=who, reason=reason)
    )
    click.echo(appviews.action_outcome(outcome, done="resumed", already="not suspended"))


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON array, an object per row.")
@context.pass_ctx
def status_cmd(ctx: context.Context, *, as_json: bool) -> None:
    """Each app on each target: revision, sync state, health, pin, suspension, last sync."""
    rows = _call(ctx, lambda service: service.status())
    if as_json:
        data = appviews.status_json(rows)
        click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(appviews.format_status(rows))


@click.command("history")
@click.argument("app")
@_cluster_option
@context.pass_ctx
def history_cmd(ctx: context.Context, *, app: str, clusters: tuple[str, ...]) -> None:
    """APP's story from the log: renders, syncs, steps, health, pins, each with its target."""
    found = _call(ctx, lambda service: service.history(app, _clusters(clusters)))
    lines = appviews.format_history(found)
    click.echo("\n".join(lines) if lines else f"nothing recorded for {app} yet")


@click.command("verify")
@context.pass_ctx
def verify_cmd(ctx: context.Context) -> None:
    """Replay the log and recompute every recorded decision; exit 1 on any difference."""
    config = ctx.config()

    async def go() -> verify.Report:
        async with database.opened(config) as store:
            return await verify.verify(store)

    report = context.run(go())
    for mismatch in report.mismatches:
        where = f"sync {mismatch.sync_id}" if mismatch.sync_id else mismatch.kind
        target = f" on {mismatch.target}" if mismatch.target else ""
        click.echo(
            f"position {mismatch.position}: app {mismatch.app}{target} {where}: {mismatch.detail}"
        )
    click.echo(verify.summary(report))
    if report.mismatches:
        sys.exit(1)


def register(group: click.Group) -> None:
    """Add this module's commands to the ``gitopsd`` group."""
    for command in (
        status_cmd,
        history_cmd,
        sync_cmd,
        rollback_cmd,
        unpin_cmd,
        suspend_cmd,
        resume_cmd,
        verify_cmd,
    ):
        group.add_command(command)
