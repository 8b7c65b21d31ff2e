"""The ``gitopsd`` command line (click).

Commands parse arguments, load the configuration and hand over to the runtime; they
print results, and map bad input to exit code 2 with a message that says what and
where. Nothing here decides anything about GitOps.

This module holds the ``gitopsd`` group (the options every command shares, and the log
set-up) and :func:`main`, which turns the errors every command can raise into exit codes.
The commands live in one module per topic: ``run`` (run, demo), ``db`` (migrate, db),
``config`` (config check), ``apps`` (status, history, sync, rollback, unpin, suspend,
resume, verify),
``sources`` (render, sources poll) and ``sim`` (the emulator); ``context`` holds what
they share.
"""

from __future__ import annotations

import sys

import click

from daemon import errors, logs
from daemon.cli import apps, config, context, db, run, sim, sources

EXIT_USAGE = 2


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
    ctx.obj = context.Context(config_path)


config.register(cli)
db.register(cli)
run.register(cli)
sim.register(cli)
sources.register(cli)
apps.register(cli)


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
