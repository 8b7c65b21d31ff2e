"""``gitopsd run``: open the log, fold it, start the loops, serve until SIGTERM.

Start-up order: database (embedded or external) → migrations → the database's lock
(``runtime.leader``: a standby until it is taken, then a fresh ``Daemon`` served while
it holds) → state from snapshot + tail → render workers → root tasks under the
supervisor → ``READY=1``. ``/readyz`` turns ready later, when the informers have listed
and every app was looked at (``runtime.warmup``); the systemd status line says so then.
On SIGTERM or SIGINT: ``STOPPING=1``, producers stop first, the writer drains (appends
in flight are committed), the render workers stop, then the store closes and the
embedded server is released.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import uuid

from daemon import logs, settings
from daemon.runtime import (
    database,
    gitloop,
    informers,
    leader,
    projector,
    reconciler,
    statekeeper,
    warmup,
    writer,
)
from daemon.runtime.supervisor import Supervisor
from daemon.shell import eventstore, httpapi, metrics, sdnotify
from daemon.shell.render import pool as renderpool

log = logs.get("daemon")

# Stop order: inputs first, then the writer that commits what they produced.
STOP_INPUTS = 0
STOP_WRITER = 10


def new_instance() -> str:
    """This process's instance id: ``host:pid:random`` (in events' meta and the lock's name)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Daemon:
    """The running daemon's parts, reachable by the loops (and by tests)."""

    def __init__(
        self,
        config: settings.Config,
        store: eventstore.EventStore,
        *,
        instance: str | None = None,
        startup_wait: float = warmup.TIMEOUT,
    ) -> None:
        """Wire the parts; nothing runs until ``serve``; ``/readyz`` waits ``startup_wait``."""
        self.config = config
        self.startup_wait = startup_wait
        self.store = store
        self.instance = instance or new_instance()
        self.writer = writer.Writer(store)
        self.keeper = statekeeper.StateKeeper(store)
        self.supervisor = Supervisor()
        self.notifier = sdnotify.Notifier()
        self.ready = asyncio.Event()
        self.http = httpapi.Server(config.http.listen)
        self.http.enable_probes(
            httpapi.Probes(
                ready=self._readiness, metrics=metrics.registry_for(lambda: self.keeper.state)
            )
        )
        self.pool = renderpool.RenderPool(size=config.render.workers)
        self.git: gitloop.GitSide | None = None
        self.informers: informers.Informers | None = None
        self.reconciler: reconciler.Reconciler | None = None
        self.warmup: warmup.WarmUp | None = None

    def _add_tasks(self) -> None:
        sup = self.supervisor
        sup.add("state", self.keeper.follow, stop_order=STOP_INPUTS)
        sup.add("projector", lambda: projector.run(self.store), stop_order=STOP_INPUTS)
        self.git = gitloop.GitSide(
            self.config,
            appender=self.writer,
            store=self.store,
            state=self.keeper.state,
            pool=self.pool,
            http=self.http,
            instance=self.instance,
        )
        sup.add("git", self.git.run, stop_order=STOP_INPUTS)
        self.informers = informers.Informers(
            self.config,
            appender=self.writer,
            blobs=self.store,
            state=self.keeper.state,
            instance=self.instance,
            wait_folded=self.keeper.wait_for,
        )
        sup.add("informers", self.informers.run, stop_order=STOP_INPUTS)
        self.reconciler = reconciler.Reconciler(
            self.config,
            store=self.store,
            appender=self.writer,
            keeper=self.keeper,
            informers=self.informers,
            pool=self.pool,
            render_at=self._render_at,
            instance=self.instance,
        )
        sup.add("reconciler", self.reconciler.run, stop_order=STOP_INPUTS)
        self.warmup = warmup.WarmUp(
            reconciler=self.reconciler, informers=self.informers, timeout=self.startup_wait
        )
        sup.add("warmup", self._warm_up, stop_order=STOP_INPUTS)
        sup.add("http", self.http.run, stop_order=STOP_INPUTS)
        interval = sdnotify.watchdog_interval()
        if interval is not None:
            sup.add("watchdog", lambda: self._watchdog(interval), stop_order=STOP_INPUTS)
        sup.add("writer", self.writer.run, stop_order=STOP_WRITER)

    async def _readiness(self) -> tuple[bool, str]:
        """Ready once warmed up (``runtime.warmup``) and while the event log answers in 1 s."""
        if not self.ready.is_set():
            return False, "starting up"
        if self.supervisor.stopping:
            return False, "stopping"
        if (waiting := self._warming_up()) is not None:
            return False, waiting
        try:
            async with asyncio.timeout(1.0):
                await self.store.last_position()
        except eventstore.DATABASE_ERRORS as exc:
            return False, f"event log unreachable: {type(exc).__name__}"
        return True, ""

    def _warming_up(self) -> str | None:
        return "starting up" if self.warmup is None else self.warmup.waiting()

    async def _warm_up(self) -> None:
        assert self.warmup is not None
        await self.warmup.run()
        self.notifier.status(f"ready: live state listed, folded up to {self.keeper.state.position}")

    async def _render_at(self, app: settings.AppConfig, revision: str) -> object:
        """Render ``app`` at a pinned ``revision`` (the reconciler asks when a pin needs it)."""
        if self.git is None or self.git.renderer is None:
            return None
        return await self.git.renderer.render_app(app, revision)

    async def _watchdog(self, interval: float) -> None:
        while True:
            self.notifier.watchdog()
            await asyncio.sleep(interval)

    def stop(self) -> None:
        """Begin an orderly shutdown."""
        if not self.supervisor.stopping:
            log.info("daemon.stopping")
            self.notifier.stopping()
            self.supervisor.stop()

    async def serve(self) -> None:
        """Load state, start the loops and run until stopped."""
        await self.keeper.load()
        self._add_tasks()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        try:
            await self.pool.start()
            runner = asyncio.create_task(self.supervisor.run(), name="supervisor")
            await asyncio.sleep(0)
            self.notifier.ready(f"folded up to position {self.keeper.state.position}")
            self.ready.set()
            log.info("daemon.ready", position=self.keeper.state.position, instance=self.instance)
            await runner
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            await self.pool.close()
            with contextlib.suppress(Exception):
                await self.keeper.snapshot()


def leader_for(config: settings.Config, store: eventstore.EventStore) -> leader.Leader:
    """A leader that serves a fresh ``Daemon`` on ``store`` whenever it holds the lock."""
    instance = new_instance()
    return leader.Leader(
        config,
        url=store.url,
        instance=instance,
        daemon=lambda: Daemon(config, store, instance=instance),
    )


async def run(config: settings.Config) -> int:
    """Run the daemon; returns the process exit code."""
    db = await database.locate(config)
    try:
        applied = await database.migrate(db.url)
        for migration in applied:
            log.info("migration.applied", version=migration.version, name=migration.name)
        store = await eventstore.connect(db.url, pool_size=config.database.pool_size)
        try:
            await leader_for(config, store).run()
        except (ExceptionGroup, leader.StopOverdueError, OSError) as failed:
            # OSError: the standby's probes could not listen on http.listen.
            for exc in failed.exceptions if isinstance(failed, ExceptionGroup) else [failed]:
                log.error("daemon.failed", error=f"{type(exc).__name__}: {exc}")  # noqa: TRY400
            return 1
        finally:
            await store.close()
    finally:
        db.close()
    log.info("daemon.stopped")
    return 0
