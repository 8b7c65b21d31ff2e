"""Rendering apps when their source moves, and recording the result.

When a source's head changes (the poller tells, and at start every source the log
knows), each app on it is looked at: it re-renders when it never rendered, its path or
render settings changed, or the tree diff between the revision it last rendered and
the new head touches its path or anything its last render read
(``core.sources.is_affected``). A monorepo commit touching one app renders one app;
the others keep their recorded revision. A failed render counts as a render: the app
waits for a commit touching what the failed render read (or, stopped by a limit, what
its last render read, and its path) instead of rendering again at every new head.

A render runs in a worker process of the render pool (``shell.render.pool``), under the
app's ``render.limits``; the worker opens the mirror at the exact commit and replaces
every Secret's ``data``/``stringData`` value by an HMAC under the installation key
(``core.manifests``, ``shell.digestkey``) before anything comes back. The bodies go to
the blobs table as canonical JSON, keyed by sha256, and ``DesiredStateRendered``
(object key -> digest) or ``RenderFailed`` (error, file, line) is appended to
``app/<name>``. A render past a limit, or whose worker died, is a ``RenderFailed``
like any other: the other apps go on.

Every line logged during an app's render (the pool's included) carries its ``source``,
``app`` and ``revision`` (``logs.bound``), and each render ends in one
``render.recorded`` or ``render.failed`` line.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from daemon import logs, settings
from daemon.core import codec, ids, sources
from daemon.core import events as ev
from daemon.core import state as core_state
from daemon.runtime.writer import Appender
from daemon.shell import eventstore, gitsource, render
from daemon.shell.render import pool as renderpool
from daemon.shell.render import protocol as renderprotocol

log = logs.get("renderer")


@dataclasses.dataclass(slots=True)
class AppCursor:
    """What the log says about an app's last render."""

    revision: str | None = None
    inputs: frozenset[str] | None = None
    config: str = ""

    @classmethod
    def of(cls, app: core_state.AppState | None) -> AppCursor:
        """The cursor of a folded app state."""
        if app is None:
            return cls()
        inputs = None if app.render_inputs is None else frozenset(app.render_inputs)
        return cls(revision=app.render_revision, inputs=inputs, config=app.render_config)


def config_digest(app: settings.AppConfig) -> str:
    """Digest of what, besides the commit, decides an app's render: path and settings.

    ``render.helm`` counts only for types that may render Helm (helm, auto), so that
    the digests of other apps stay what they were before Helm support.
    """
    rendering = dataclasses.asdict(app.render)
    if app.render.type not in ("helm", "auto"):
        del rendering["helm"]
    return codec.digest({"source": app.source, "path": app.path, "render": rendering})


class Renderer:
    """Renders the apps of each source whose head moved; records the outcome."""

    def __init__(
        self,
        config: settings.Config,
        *,
        appender: Appender,
        store: eventstore.EventStore,
        state: core_state.State,
        key: bytes,
        pool: renderpool.RenderPool,
        instance: str | None = None,
    ) -> None:
        """Render ``config.apps`` in ``pool``'s workers, resuming from the folded ``state``."""
        renderprotocol.limit_tree_cache()
        self._pool = pool
        self._state_dir = config.state_path()
        self._apps: dict[str, list[settings.AppConfig]] = {}
        for app in config.apps:
            self._apps.setdefault(app.source, []).append(app)
        self._appender = appender
        self._store = store
        self._key = key
        self._cursors: dict[str, AppCursor] = {
            a.name: AppCursor.of(state.apps.get(a.name)) for a in config.apps
        }
        self._heads: dict[str, str] = {
            name: src.head for name, src in state.sources.items() if src.head is not None
        }
        self._pending: asyncio.Queue[str] = asyncio.Queue()
        self._meta = ev.EventMeta(actor="gitopsd:renderer", instance=instance)
        self.renders = 0
        """Renders run (for metrics and tests)."""

    def notify(self, source: str, head: str) -> None:
        """A source's recorded head is now ``head`` (the poller's listener)."""
        self._heads[source] = head
        self._pending.put_nowait(source)

    async def run(self) -> None:
        """Bring every app up to its source's head, then follow new heads until cancelled."""
        for source in sorted(self._heads):
            self._pending.put_nowait(source)
        while True:
            source = await self._pending.get()
            try:
                await self.render_source(source)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the log is unreachable: the next head retries
                log.warning(
                    "render.record_failed", source=source, error=f"{type(exc).__name__}: {exc}"
                )

    async def render_source(self, source: str) -> list[ev.AnyEvent]:
        """Render the apps of ``source`` its current head affects; returns what was recorded."""
        head = self._heads.get(source)
        if head is None:
            return []
        apps = self._apps.get(source, [])
        diffs: dict[str, list[str] | None] = {}
        with logs.bound(source=source):
            due = [a for a in apps if await self._is_due(a, head, diffs)]
            outcomes = await asyncio.gather(*(self.render_app(a, head) for a in due))
        return list(outcomes)

    async def _is_due(
        self, app: settings.AppConfig, head: str, diffs: dict[str, list[str] | None]
    ) -> bool:
        """Whether ``app`` must render at ``head``; ``diffs`` caches tree diffs by old revision."""
        cursor = self._cursors[app.name]
        digest = config_digest(app)
        if cursor.revision == head and cursor.config == digest:
            return False
        if cursor.revision is None or cursor.inputs is None or cursor.config != digest:
            return True
        if cursor.revision not in diffs:
            repo_path = gitsource.mirror_path(self._state_dir, app.source)
            diffs[cursor.revision] = await asyncio.to_thread(
                _changed_paths, repo_path, cursor.revision, head
            )
        changed = diffs[cursor.revision]
        if changed is None:
            return True
        affected = sources.is_affected(path=app.path, inputs=cursor.inputs, changed=changed)
        if not affected:
            log.debug("render.skipped", app=app.name, revision=head, changed=len(changed))
        return affected

    async def render_app(self, app: settings.AppConfig, revision: str) -> ev.AnyEvent:
        """Render ``app`` at ``revision`` and record the result (success or failure)."""
        with logs.bound(app=app.name, revision=revision):
            return await self._render_bound(app, revision)

    async def _render_bound(self, app: settings.AppConfig, revision: str) -> ev.AnyEvent:
        repo_path = gitsource.mirror_path(self._state_dir, app.source)
        digest = config_digest(app)
        event: ev.AnyEvent
        self.renders += 1
        try:
            done = await self._pool.render(
                repo_path, revision=revision, path=app.path, config=app.render, key=self._key
            )
        except render.RenderError as exc:
            inputs = exc.inputs if exc.inputs is not None else self._last_inputs(app.name)
            event = _failed(
                app, revision, digest, str(exc), file=exc.file, line=exc.line, inputs=inputs
            )
        else:
            event = await self._store_rendered(app, revision, digest, done)
        await self._appender.append(ids.app_stream(app.name), [event], meta=self._meta)
        self._remember(app.name, event)
        _log(event)
        return event

    async def _store_rendered(
        self, app: settings.AppConfig, revision: str, digest: str, done: renderpool.Rendered
    ) -> ev.AnyEvent:
        event = ev.DesiredStateRendered(
            app=app.name,
            revision=revision,
            objects=done.objects,
            renderer=done.renderer,
            inputs=done.inputs,
            config=digest,
        )
        try:
            codec.encode(event)
        except codec.PayloadTooLargeError:
            return _failed(
                app,
                revision,
                digest,
                f"{len(done.objects)} objects are too many for one DesiredStateRendered event",
                inputs=frozenset(done.inputs),
            )
        await self._store.put_blobs(done.bodies)
        return event

    def _last_inputs(self, app: str) -> frozenset[str]:
        """What a render that died without saying what it read depends on: its last inputs."""
        return self._cursors[app].inputs or frozenset()

    def _remember(self, app: str, event: ev.AnyEvent) -> None:
        cursor = self._cursors[app]
        if isinstance(event, ev.DesiredStateRendered):
            cursor.revision, cursor.inputs, cursor.config = (
                event.revision,
                frozenset(event.inputs),
                event.config,
            )
        elif isinstance(event, ev.RenderFailed):
            inputs = None if event.inputs is None else frozenset(event.inputs)
            cursor.revision, cursor.inputs, cursor.config = event.revision, inputs, event.config


def _changed_paths(repo_path: Path, old: str, new: str) -> list[str] | None:
    try:
        repo = gitsource.open_repository(repo_path)
        return gitsource.changed_paths(repo, old, new)
    except (gitsource.GitError, KeyError, ValueError):
        return None


def _failed(
    app: settings.AppConfig,
    revision: str,
    digest: str,
    error: str,
    *,
    file: str | None = None,
    line: int | None = None,
    inputs: frozenset[str] = frozenset(),
) -> ev.RenderFailed:
    return ev.RenderFailed(
        app=app.name,
        revision=revision,
        error=error,
        file=file,
        line=line,
        config=digest,
        inputs=tuple(sorted(inputs)),
    )


def _log(event: ev.AnyEvent) -> None:
    if isinstance(event, ev.DesiredStateRendered):
        log.info(
            "render.recorded",
            app=event.app,
            revision=event.revision,
            objects=len(event.objects),
            renderer=event.renderer,
        )
    elif isinstance(event, ev.RenderFailed):
        log.warning("render.failed", app=event.app, revision=event.revision, error=event.error)
