"""``gitopsd config check``: validate a configuration file, or print it with every default.

Loading and validating belong to ``daemon.settings`` and the printing to
``daemon.configdump``; this module only picks the file and prints the outcome.
"""

from __future__ import annotations

from pathlib import Path

import click

from daemon import configdump, settings
from daemon.cli import context


@click.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("check")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--effective",
    is_flag=True,
    help="Print the configuration with every default filled in (secrets as ***).",
)
@context.pass_ctx
def config_check(ctx: context.Context, file: str | None, effective: bool) -> None:
    """Validate FILE (default: the configuration in use); print ok or every problem."""
    path = Path(file) if file else ctx.located()
    config = settings.load(path)
    click.echo(configdump.effective(config) if effective else "ok", nl=not effective)


def register(group: click.Group) -> None:
    """Add this module's commands to the ``gitopsd`` group."""
    group.add_command(config_group)
