"""The Git side of the daemon wired together: poller -> renderer, webhooks -> poller.

``GitSide`` is what ``runtime.main`` runs as one supervised task: the poller's loops and
the renderer's loop, with the poller telling the renderer of every new head and the
HTTP server's webhooks asking the poller for immediate polls. ``poll_once`` and
``render_one`` are the one-shot forms behind ``gitopsd sources poll`` and
``gitopsd render``; ``describe`` says in one line what an event recorded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from daemon import errors, logs, settings
from daemon.core import events as ev
from daemon.core import sources, webhooks
from daemon.core import state as core_state
from daemon.runtime import poller, renderer, statekeeper, writer
from daemon.shell import digestkey, eventstore, gitsource, httpapi
from daemon.shell.render import pool as renderpool

log = logs.get("git")


def hook_sources(config: settings.Config) -> list[webhooks.HookSource]:
    """The configured sources as the webhook handlers see them."""
    return [
        webhooks.HookSource(
            name=s.name,
            url=s.url,
            secret=s.webhook_secret.reveal().encode() if s.webhook_secret else None,
        )
        for s in config.sources
    ]


class GitSide:
    """Poller, renderer and webhooks of one running daemon."""

    def __init__(
        self,
        config: settings.Config,
        *,
        appender: writer.Appender,
        store: eventstore.EventStore,
        state: core_state.State,
        pool: renderpool.RenderPool,
        http: httpapi.Server | None = None,
        instance: str | None = None,
    ) -> None:
        """Build the poller now (and register the webhooks on ``http``); the renderer in ``run``.

        Renders run in ``pool``, whose lifetime is the caller's.
        """
        self._config = config
        self._pool = pool
        self._appender = appender
        self._store = store
        self._state = state
        self._instance = instance
        self.poller = poller.Poller(
            config, appender=appender, store=store, state=state, instance=instance
        )
        self.renderer: renderer.Renderer | None = None
        if http is not None:
            http.enable_hooks(
                httpapi.Hooks(sources=hook_sources(config), trigger=self.poller.trigger)
            )

    async def run(self) -> None:
        """Poll and render until cancelled."""
        key = await asyncio.to_thread(
            digestkey.load_or_create, digestkey.path_in(self._config.state_path())
        )
        self.renderer = renderer.Renderer(
            self._config,
            appender=self._appender,
            store=self._store,
            state=self._state,
            key=key,
            pool=self._pool,
            instance=self._instance,
        )
        self.poller.add_listener(self.renderer.notify)
        async with asyncio.TaskGroup() as group:
            group.create_task(self.poller.run(), name="poller")
            group.create_task(self.renderer.run(), name="renderer")


async def poll_once(
    config: settings.Config, store: eventstore.EventStore, names: Sequence[str] | None
) -> list[str]:
    """Poll the named sources once (all when None) and render what that calls for."""
    unknown = sorted(set(names or ()) - {s.name for s in config.sources})
    if unknown:
        raise errors.UsageError(f"no source named {', '.join(unknown)} in {config.path}")
    state = await statekeeper.StateKeeper(store).load()
    key = await asyncio.to_thread(digestkey.load_or_create, digestkey.path_in(config.state_path()))
    appender = writer.StoreAppender(store)
    polls = poller.Poller(config, appender=appender, store=store, state=state)
    lines: list[str] = []
    async with renderpool.RenderPool(size=config.render.workers) as pool:
        renders = renderer.Renderer(
            config, appender=appender, store=store, state=state, key=key, pool=pool
        )
        polls.add_listener(renders.notify)
        for result in await polls.poll_all(names):
            lines.extend(f"{result.source}: {describe(e)}" for e in result.events)
            if not result.events:
                at = f"up to date at {_short(result.head)}" if result.head else "no revision"
                lines.append(f"{result.source}: {at}")
            lines.extend(
                f"app {e.app}: {describe(e)}"  # type: ignore[union-attr]
                for e in await renders.render_source(result.source)
            )
    return lines


def describe(event: ev.AnyEvent) -> str:
    """One line saying what ``event`` recorded (for ``sources poll``)."""
    match event:
        case ev.CommitRecorded():
            return f"commit {_short(event.sha)} {event.subject} ({event.author})"
        case ev.RevisionObserved():
            was = f" (was {_short(event.previous)})" if event.previous else ""
            return f"revision {event.ref} {_short(event.sha)}{was}"
        case ev.HistoryRewritten():
            dropped = ", ".join(_short(s) for s in event.dropped)
            return f"history rewritten: {len(event.dropped)} commits dropped ({dropped})"
        case ev.SourceFailed():
            return f"failing: {event.error_class}: {event.message}"
        case ev.SourceRecovered():
            return "recovered"
        case ev.DesiredStateRendered():
            return (
                f"rendered {len(event.objects)} objects at {_short(event.revision)} "
                f"({event.renderer})"
            )
        case ev.RenderFailed():
            return f"render failed at {_short(event.revision)}: {event.error}"
        case _:
            return type(event).__name__


def _short(sha: str | None) -> str:
    return (sha or "")[:12]


# -- gitopsd render -------------------------------------------------------------------------


async def render_one(
    config: settings.Config, app_name: str, *, revision: str | None
) -> tuple[str, list[dict[str, Any]]]:
    """Render ``app_name`` at ``revision`` (default: the source's current head, fetched now).

    Returns the commit rendered and the objects (Secret values replaced by digests),
    sorted by object key. The render runs in a one-worker pool, under the app's limits.
    Raises ``shell.render.RenderError`` for a render error (a limit exceeded included),
    ``gitsource.FetchError`` when the source cannot be fetched, ``errors.UsageError``
    for an unknown app or revision. Records nothing.
    """
    app = next((a for a in config.apps if a.name == app_name), None)
    if app is None:
        known = ", ".join(sorted(a.name for a in config.apps)) or "none"
        raise errors.UsageError(f"no app named {app_name!r} in {config.path} (apps: {known})")
    source = next(s for s in config.sources if s.name == app.source)
    state_dir = config.state_path()
    key = await asyncio.to_thread(digestkey.load_or_create, digestkey.path_in(state_dir))
    commit = await asyncio.to_thread(_commit_to_render, state_dir, source, revision)
    async with renderpool.RenderPool(size=1) as pool:
        done = await pool.render(
            gitsource.mirror_path(state_dir, source.name),
            revision=commit,
            path=app.path,
            config=app.render,
            key=key,
        )
    bodies = await asyncio.to_thread(_bodies, done)
    return commit, bodies


def _commit_to_render(state_dir: Path, source: settings.SourceConfig, revision: str | None) -> str:
    repo = gitsource.open_mirror(gitsource.mirror_path(state_dir, source.name))
    ref = gitsource.ref_of(source)
    remote = gitsource.remote_of(source)
    if revision is None:
        gitsource.fetch(repo, remote, refspecs=sources.refspecs(ref))
        return gitsource.resolve(repo, ref)[0]
    found = _peel(repo, revision)
    if found is None:
        everything = sources.refspecs(sources.Ref(sources.RefKind.COMMIT, revision))
        gitsource.fetch(repo, remote, refspecs=everything)
        found = _peel(repo, revision)
    if found is None:
        raise errors.UsageError(f"revision {revision!r} not found in source {source.name}")
    return found


def _peel(repo: gitsource.Repository, revision: str) -> str | None:
    try:
        return gitsource.peel_commit(repo, revision)
    except (KeyError, ValueError, gitsource.GitError):
        return None


def _bodies(done: renderpool.Rendered) -> list[dict[str, Any]]:
    return [orjson.loads(done.bodies[done.objects[k]]) for k in sorted(done.objects)]
