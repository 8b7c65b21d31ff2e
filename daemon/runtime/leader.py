"""One active gitopsd per database; any other waits as a standby and takes over.

This is the first step towards scale-out: today one lock
(``shell.advisorylock.ACTIVE_KEY``) makes one daemon active for the whole database;
the scale-out issue turns it into one lock per shard, each daemon active for the shards
it holds and standing by for the others.

``Leader.run`` goes through three phases, over and over:

1. **Standby** until the lock is taken. The lock has a session of its own, named after
   this instance (``shell.advisorylock``), tried every ``poll_interval`` (1 s).
   Nothing that polls, plans, applies or records runs meanwhile: only a small HTTP
   server on ``http.listen`` (``/healthz``; ``/readyz`` 503 with ``{"status":
   "standby", "reason": ...}`` naming the holder; ``/metrics`` empty, there is no
   state yet) and systemd's notifications (``READY=1`` with ``STATUS=standby: ...``,
   the watchdog). ``daemon.standby`` is logged with the holder, again when it changes.
2. **Active** once the lock is taken: the standby server stops and a fresh daemon from
   the factory is served. It folds the log at that moment, so it starts from all that
   the previous holder recorded. A guard watches the lock session meanwhile: asyncpg's
   termination listener fires as soon as the connection drops, and every
   ``ping_interval`` (1 s) a query checks within ``ping_timeout`` (5 s) that the
   session still holds the lock (for a silent network, or a pooler that swapped it).
3. **Lost**: the guard stops the daemon's supervisor at once (its inputs are cancelled,
   so nothing more is polled, planned or applied; the writer still commits what they
   had queued, facts about what already happened), logs ``daemon.lock_lost`` and goes
   back to 1. Back to standby rather than exiting, because a database restart or
   failover cuts every session: a process that exited would meet a database not back
   yet, fail again and run into systemd's start limit or Kubernetes' CrashLoopBackOff
   (minutes), while a standby takes the lock back within a second of the database
   answering, or stays standby when another daemon took over meanwhile. The process
   is kept, its state is not: the next term folds the log afresh. Should the loops not
   stop within ``stop_grace`` (10 s; an append stuck on a dead connection, say),
   ``run`` raises ``StopOverdueError`` and the process exits 1 to be restarted clean.

SIGTERM or SIGINT stops a standby at once; an active daemon drains first and only then
is the lock session closed, so a standby takes over after the last append committed.

How fast: the session of a stopped or killed holder ends on the server at once (its
socket is closed by the kernel), and the standby takes the lock at its next try, then
folds the log. A holder whose host vanished without closing its socket keeps the lock
until the server's TCP keepalive (``tcp_keepalives_*``) ends its session; its own guard
has stopped it within ``ping_interval + ping_timeout`` already.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import signal
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from prometheus_client import CollectorRegistry

from daemon import logs, settings
from daemon.runtime.supervisor import Supervisor
from daemon.shell import advisorylock, eventstore, httpapi, sdnotify

log = logs.get("daemon")

POLL_INTERVAL = 1.0
PING_INTERVAL = 1.0
PING_TIMEOUT = 5.0
STOP_GRACE = 10.0
_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_DB_ERRORS = eventstore.DATABASE_ERRORS


class Role(enum.StrEnum):
    """Where the leader is."""

    STARTING = "starting"
    STANDBY = "standby"
    ACTIVE = "active"
    LOST = "lost"
    """The lock was lost and the daemon's loops are stopping."""
    STOPPED = "stopped"


class Active(Protocol):
    """What runs while the lock is held (``runtime.main.Daemon``)."""

    @property
    def supervisor(self) -> Supervisor:
        """The root tasks: stopped at once when the lock is lost."""
        ...

    async def serve(self) -> None:
        """Fold the log, run the loops until stopped."""
        ...

    def stop(self) -> None:
        """Begin an orderly shutdown (SIGTERM)."""
        ...


class StopOverdueError(Exception):
    """The lock was lost and the daemon's loops did not stop in time."""


class Leader:
    """Standby until the database's lock is taken, then the active daemon while it holds."""

    def __init__(
        self,
        config: settings.Config,
        *,
        url: str,
        instance: str,
        daemon: Callable[[], Active],
        poll_interval: float = POLL_INTERVAL,
        ping_interval: float = PING_INTERVAL,
        ping_timeout: float = PING_TIMEOUT,
        stop_grace: float = STOP_GRACE,
    ) -> None:
        """Take the lock of ``url``'s database as ``instance``; serve ``daemon()`` while held."""
        self._config = config
        self._url = url
        self.instance = instance
        self._make = daemon
        self._poll_interval = poll_interval
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._stop_grace = stop_grace
        self.role = Role.STARTING
        self.reason = "starting up"
        """Why this process is not active (what a standby's /readyz says)."""
        self.daemon: Active | None = None
        """The daemon of the current term (None while standby)."""
        self.terms = 0
        """How many times this process became active."""
        self.standby_http: httpapi.Server | None = None
        """The standby's HTTP server (None while active)."""
        self._notifier = sdnotify.Notifier()
        self._stopping = asyncio.Event()
        self._changed = asyncio.Event()

    async def run(self) -> None:
        """Standby, active, standby again after a loss... until SIGTERM, SIGINT or ``stop()``."""
        self._handle_signals()
        try:
            while (lock := await self._standby()) is not None:
                try:
                    lost = await self._active(lock)
                finally:
                    await lock.close()
                    self.daemon = None
                if not lost or self._stopping.is_set():
                    break
        finally:
            loop = asyncio.get_running_loop()
            for sig in _SIGNALS:
                loop.remove_signal_handler(sig)
            self._set(Role.STOPPED, "stopped")

    def stop(self) -> None:
        """Stop: a standby at once, an active daemon once it drained (as on SIGTERM)."""
        self._stopping.set()
        if self.daemon is not None:
            self.daemon.stop()

    async def until(self, role: Role) -> None:
        """Return once the leader is in ``role``."""
        while self.role is not role:
            await self._changed.wait()

    # -- standby ------------------------------------------------------------------------

    async def _standby(self) -> advisorylock.SessionLock | None:
        """The lock session once it holds the lock; None when stopped first."""
        lock: advisorylock.SessionLock | None = None
        async with contextlib.AsyncExitStack() as services:
            while not self._stopping.is_set():
                why: tuple[str, dict[str, object]] | None
                try:
                    if lock is None or lock.is_closed():
                        lock = await advisorylock.SessionLock.connect(
                            self._url, instance=self.instance
                        )
                    if await lock.try_acquire():
                        return lock
                    holder = await lock.holder()
                    # None: released between the try and the look; the next try tells.
                    why = None if holder is None else _held_by(holder)
                except _DB_ERRORS as exc:
                    why = (f"cannot reach the database to take the lock: {_error(exc)}", {})
                    if lock is not None:
                        await lock.close()
                        lock = None
                if why is not None:
                    if self.standby_http is None:
                        await services.enter_async_context(self._standby_services())
                    self._standing_by(why[0], **why[1])
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._poll_interval):
                        await self._stopping.wait()
        if lock is not None:
            await lock.close()
        return None

    def _standing_by(self, reason: str, **fields: object) -> None:
        if self.role is Role.STANDBY and reason == self.reason:
            return
        self._set(Role.STANDBY, reason)
        log.info("daemon.standby", instance=self.instance, reason=reason, **fields)
        self._notifier.ready(f"standby: {reason}")

    @contextlib.asynccontextmanager
    async def _standby_services(self) -> AsyncIterator[None]:
        """The standby's probes on ``http.listen`` and the systemd watchdog."""
        server = httpapi.Server(self._config.http.listen)
        server.enable_probes(
            httpapi.Probes(
                ready=self._standby_readiness,
                metrics=CollectorRegistry(auto_describe=False),
                unready=Role.STANDBY.value,
            )
        )
        tasks = [asyncio.create_task(server.run(), name="standby.http")]
        interval = sdnotify.watchdog_interval()
        if interval is not None:
            tasks.append(asyncio.create_task(self._watchdog(interval), name="standby.watchdog"))
        try:
            listening = asyncio.create_task(server.started.wait())
            await asyncio.wait([tasks[0], listening], return_when=asyncio.FIRST_COMPLETED)
            listening.cancel()
            if tasks[0].done():
                tasks[0].result()  # it could not listen: say why
            self.standby_http = server
            yield
        finally:
            self.standby_http = None
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _standby_readiness(self) -> tuple[bool, str]:
        return False, self.reason

    async def _watchdog(self, interval: float) -> None:
        while True:
            self._notifier.watchdog()
            await asyncio.sleep(interval)

    # -- active -------------------------------------------------------------------------

    async def _active(self, lock: advisorylock.SessionLock) -> bool:
        """Serve a fresh daemon while ``lock`` holds; True when the lock was lost."""
        self.terms += 1
        log.info(
            "daemon.active",
            instance=self.instance,
            lock_key=advisorylock.ACTIVE_KEY,
            lock_pid=lock.pid,
            term=self.terms,
        )
        self._set(Role.ACTIVE, "")
        daemon = self.daemon = self._make()
        serving = asyncio.create_task(daemon.serve(), name="daemon")
        guard = asyncio.create_task(self._guard(lock), name="leader.guard")
        try:
            await asyncio.wait([serving, guard], return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            serving.cancel()
            guard.cancel()
            raise
        if serving.done():  # stopped as asked, or failed: this process is done either way
            guard.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await guard
            serving.result()  # a failure's ExceptionGroup goes up
            return False
        await self._stop_after_loss(daemon, serving, guard.result())
        return True

    async def _guard(self, lock: advisorylock.SessionLock) -> str:
        """Return, saying why, as soon as ``lock`` no longer holds."""
        while True:
            with contextlib.suppress(TimeoutError):  # no news within a ping interval: ask
                async with asyncio.timeout(self._ping_interval):
                    await lock.lost.wait()
            if lock.lost.is_set():
                return "the lock's database session ended"
            try:
                if not await lock.is_held(timeout=self._ping_timeout):
                    return "the lock's database session no longer holds the lock"
            except _DB_ERRORS as exc:
                return f"the lock's database session failed: {_error(exc)}"

    async def _stop_after_loss(
        self, daemon: Active, serving: asyncio.Task[None], reason: str
    ) -> None:
        log.error("daemon.lock_lost", instance=self.instance, reason=reason)
        self._set(Role.LOST, f"lost the lock: {reason}")
        # Not daemon.stop(): that tells systemd STOPPING=1, and this process goes on.
        daemon.supervisor.stop()
        self._handle_signals()  # from now on a SIGTERM ends the process, not only the term
        try:
            async with asyncio.timeout(self._stop_grace):
                await serving
        except TimeoutError:
            raise StopOverdueError(
                f"lost the lock ({reason}) and the daemon's loops did not stop within "
                f"{self._stop_grace:g} s; exiting so that a fresh process starts"
            ) from None
        except ExceptionGroup as group:
            for exc in group.exceptions:
                log.warning("daemon.failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            self._handle_signals()  # serve() removed its handlers, ours with them

    # -- common -------------------------------------------------------------------------

    def _set(self, role: Role, reason: str) -> None:
        self.role, self.reason = role, reason
        self._changed.set()
        self._changed = asyncio.Event()

    def _handle_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in _SIGNALS:
            loop.add_signal_handler(sig, self.stop)


def _held_by(holder: advisorylock.Holder) -> tuple[str, dict[str, object]]:
    """Why a standby waits, and the holder as log fields."""
    return f"another {holder.describe()} holds the lock", {
        "holder": holder.instance or holder.application_name,
        "holder_pid": holder.pid,
        "holder_address": holder.client_addr,
        "holder_since": holder.since.isoformat() if holder.since else None,
    }


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
