"""Git sources and what they render to: ``gitopsd render`` and ``gitopsd sources poll``.

Fetching and rendering belong to ``daemon.runtime.gitloop``; ``render`` prints one app's
objects without recording anything, ``sources poll`` records what it rendered in the log.
"""

from __future__ import annotations

import sys

import click
import orjson
import yaml

from daemon.cli import context
from daemon.runtime import database, gitloop
from daemon.shell import gitsource, render


@click.command("render")
@click.argument("app")
@click.option(
    "--revision", default=None, help="Commit, branch or tag (default: the source's head)."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of YAML documents.")
@context.pass_ctx
def render_cmd(ctx: context.Context, app: str, revision: str | None, as_json: bool) -> None:
    """Print APP's rendered objects, sorted by key (Secret values as digests); exit 1 on errors."""
    try:
        _, objects = context.run(gitloop.render_one(ctx.config(), app, revision=revision))
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


@click.group("sources")
def sources_group() -> None:
    """Git sources."""


@sources_group.command("poll")
@click.argument("name", required=False)
@context.pass_ctx
def sources_poll(ctx: context.Context, name: str | None) -> None:
    """Poll NAME (default: every source) once, render what changed, print what was recorded."""
    config = ctx.config()

    async def go() -> list[str]:
        async with database.opened(config) as store:
            return await gitloop.poll_once(config, store, [name] if name else None)

    for line in context.run(go()):
        click.echo(line)


def register(group: click.Group) -> None:
    """Add this module's commands to the ``gitopsd`` group."""
    group.add_command(render_cmd)
    group.add_command(sources_group)
