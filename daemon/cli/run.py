"""``gitopsd run`` (the daemon itself) and ``gitopsd demo`` (the whole loop on defaults).

The daemon's lifetime is ``daemon.runtime.main``'s and the demo's script is
``daemon.runtime.demo``'s; these commands start them and turn their outcome into an
exit code.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from daemon.cli import context
from daemon.runtime import main as daemon_main


@click.command("demo")
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Keep the demo's log, repository and database here (default: a temporary directory).",
)
def demo_cmd(state_dir: str | None) -> None:
    """Show the whole loop on embedded defaults: sync, auto-sync, prune, Degraded, rollback."""
    # Imported here: the demo brings the Kubernetes emulator, which no other command needs
    # (and a demo that cannot be imported must not take every other command down with it).
    from daemon.runtime import demo  # noqa: PLC0415

    try:
        context.run(demo.run(state_dir=Path(state_dir) if state_dir else None, out=click.echo))
    except demo.DemoError as exc:
        click.echo(f"demo failed: {exc}", err=True)
        sys.exit(1)


@click.command()
@context.pass_ctx
def run(ctx: context.Context) -> None:
    """Run the daemon until SIGTERM or SIGINT."""
    sys.exit(context.run(daemon_main.run(ctx.config())))


def register(group: click.Group) -> None:
    """Add this module's commands to the ``gitopsd`` group."""
    group.add_command(demo_cmd)
    group.add_command(run)
