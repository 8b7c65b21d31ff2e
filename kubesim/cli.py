"""``python -m kubesim`` (and ``gitopsd sim``): run the emulator until SIGTERM or SIGINT.

Parses the command line's fault and knob specifications, starts the emulator (with
``--clusters N``, a fleet of N: ``kubesim.fleet``), prints exactly one line ``ready
<url>`` (a fleet: ``ready <url> <url>...``) on stdout once it accepts connections
(anything else goes to stderr), and stops cleanly on a signal, saving ``--state`` if
given. The click command :func:`main` is the whole command line: ``kubesim.__main__`` runs it and
gitopsd registers the same command as ``gitopsd sim``, so both take the same options.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from kubesim import auth, emulator, faults, fleet, merging
from kubesim.catalog import Catalog
from kubesim.controllers.base import Knobs


class UsageError(ValueError):
    """A command-line value that cannot be used (exit code 2)."""


@dataclass(kw_only=True)
class Options:
    """What ``python -m kubesim`` (or ``gitopsd sim``) was asked for."""

    port: int = 0
    kubeconfig: Path | None = None
    tokens: list[str] = field(default_factory=list)
    state: Path | None = None
    faults: list[str] = field(default_factory=list)
    latency: float = 0.0
    rate_limit: float | None = None
    step: float = 0.5
    broken_image: str = "*:broken"
    progress_deadline: float | None = None
    history: int = 100_000
    clusters: int | None = None
    """A fleet of this many clusters (``sim-01``...) with one kubeconfig; None: one emulator."""


def parse_fault(spec: str) -> faults.Rule:
    """``CODE[:key=value,...]`` (keys: verb, path, times, retry-after, message; flag apf)."""
    code_text, _, rest = spec.partition(":")
    try:
        code = int(code_text)
    except ValueError:
        raise UsageError(f"--fault {spec!r}: the code must be 429, 500, 503 or 504") from None
    if code not in (429, 500, 503, 504):
        raise UsageError(f"--fault {spec!r}: the code must be 429, 500, 503 or 504")
    rule = faults.Rule(code=code)
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        if key == "apf" and not sep:
            rule.apf = True
        elif key == "verb" and sep:
            rule.verb = value
        elif key == "path" and sep:
            rule.path = value
        elif key == "times" and sep:
            rule.times = -1 if value in ("always", "-1") else _int(spec, value)
        elif key == "retry-after" and sep:
            rule.retry_after = _int(spec, value)
        elif key == "message" and sep:
            rule.message = value
        else:
            raise UsageError(f"--fault {spec!r}: unknown item {item!r}")
    return rule


def _int(spec: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"--fault {spec!r}: {value!r} is not a number") from None


async def serve(opts: Options, *, out: Callable[[str], None] | None = None) -> int:
    """Run until SIGTERM/SIGINT; print ``ready <url>`` once serving. Returns the exit code."""
    rules = [parse_fault(spec) for spec in opts.faults]
    try:
        tokens = auth.parse_tokens(opts.tokens) if opts.tokens else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    knobs = Knobs(
        step=opts.step, broken_image=opts.broken_image, progress_deadline=opts.progress_deadline
    )
    if opts.clusters is not None:
        _check_fleet(opts)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        if opts.clusters is not None:
            await _serve_fleet(opts, knobs=knobs, tokens=tokens, rules=rules, stop=stop, out=out)
            return 0
        async with emulator.run_emulator(
            port=opts.port,
            tokens=tokens,
            kubeconfig=opts.kubeconfig,
            state=opts.state,
            knobs=knobs,
            history=opts.history,
        ) as sim:
            sim.faults.rules.extend(rules)
            sim.faults.latency = opts.latency
            if opts.rate_limit is not None:
                sim.faults.set_rate_limit(opts.rate_limit)
            sys.stderr.write(f"kubeconfig: {sim.kubeconfig_path}\n")
            sys.stderr.flush()
            (out or _ready)(f"ready {sim.url}")
            await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(ValueError, RuntimeError):
                loop.remove_signal_handler(sig)
    return 0


def _check_fleet(opts: Options) -> None:
    if opts.clusters is not None and opts.clusters < 1:
        raise UsageError(f"--clusters {opts.clusters}: at least 1")
    if opts.state is not None:
        raise UsageError("--state keeps one cluster's objects: it cannot be used with --clusters")


async def _serve_fleet(
    opts: Options,
    *,
    knobs: Knobs,
    tokens: dict[str, str] | None,
    rules: list[faults.Rule],
    stop: asyncio.Event,
    out: Callable[[str], None] | None,
) -> None:
    """Serve ``--clusters N`` emulators; the ready line lists their URLs in name order."""
    assert opts.clusters is not None
    async with fleet.run_fleet(
        opts.clusters,
        port=opts.port,
        tokens=tokens,
        kubeconfig=opts.kubeconfig,
        knobs=knobs,
        history=opts.history,
    ) as sims:
        for sim in sims:
            # Each cluster gets its own copy: a rule's ``times`` counts per cluster.
            sim.faults.rules.extend(dataclasses.replace(rule) for rule in rules)
            sim.faults.latency = opts.latency
            if opts.rate_limit is not None:
                sim.faults.set_rate_limit(opts.rate_limit)
        sys.stderr.write(f"kubeconfig: {sims.kubeconfig_path} (contexts {', '.join(sims.names)})\n")
        sys.stderr.flush()
        (out or _ready)("ready " + " ".join(sim.url for sim in sims))
        await stop.wait()


EXIT_USAGE = 2


@click.command("sim")
@click.option("--port", type=int, default=0, help="Port on 127.0.0.1 (default: any free port).")
@click.option(
    "--kubeconfig", type=click.Path(dir_okay=False), default=None, help="Write the kubeconfig here."
)
@click.option(
    "--token", "tokens", multiple=True, help="Bearer token, TOKEN or USER=TOKEN (repeatable)."
)
@click.option(
    "--state", type=click.Path(dir_okay=False), default=None, help="Keep objects in this file."
)
@click.option(
    "--fault", "faults", multiple=True, help="CODE[:verb=V,path=RE,times=N,retry-after=S,apf]."
)
@click.option("--latency", type=float, default=0.0, help="Seconds added to every request.")
@click.option("--rate-limit", type=float, default=None, help="Requests per second before APF 429s.")
@click.option(
    "--step", type=float, default=0.5, show_default=True, help="Controller step, seconds."
)
@click.option("--broken-image", default="*:broken", show_default=True, help="Images never ready.")
@click.option(
    "--progress-deadline", type=float, default=None, help="Override progressDeadlineSeconds."
)
@click.option(
    "--clusters",
    type=int,
    default=None,
    help="Serve N clusters (sim-01...), one port each, one kubeconfig with a context per cluster.",
)
def main(**kwargs: Any) -> None:
    """Serve the Kubernetes API emulator on 127.0.0.1 until SIGTERM or SIGINT."""
    for key in ("kubeconfig", "state"):
        kwargs[key] = Path(kwargs[key]) if kwargs[key] else None
    kwargs["tokens"], kwargs["faults"] = list(kwargs["tokens"]), list(kwargs["faults"])
    try:
        code = run(Options(**kwargs))
    except UsageError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    sys.exit(code)


def run(opts: Options) -> int:
    """Serve on uvloop (the emulator's throughput targets assume it); asyncio if absent.

    uvloop is the ``kubesim`` extra (``pip install 'gitopsd[kubesim]'``); without it the
    emulator behaves the same on the standard event loop, only slower.
    """
    tune_gc()
    try:
        import uvloop  # noqa: PLC0415 - optional speed-up, imported only where used
    except ImportError:
        return asyncio.run(serve(opts))
    return uvloop.run(serve(opts))


def tune_gc() -> None:
    """Build the built-in schemas now, then keep the garbage collector off what lasts.

    The store holds acyclic JSON trees that reference counting frees, yet the default
    thresholds make the collector re-walk every live object again and again (a fifth of
    an apply's CPU when measured). Everything built at start-up (modules, schemas) is
    frozen out of its sight, and collections run far less often. This is for the
    ``python -m kubesim`` process only: ``run_emulator`` inside another program leaves that
    program's collector alone.
    """
    for rt in Catalog().all_types():
        merging.schema_of(rt)
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 50)


def _ready(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
