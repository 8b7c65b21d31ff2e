"""Supervised named tasks: when one root task fails, the others are stopped.

Each root task runs in an ``asyncio.TaskGroup``. A task that returns normally is done;
one that raises takes the group down, the others are cancelled, and ``run`` re-raises
the first failure. ``stop()`` cancels everything in order: producers first (named in
``stop_first``), then the rest, so queues can drain into the event log, and ``run``
returns. A cancellation from outside stops every task and is re-raised to the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from daemon import logs

log = logs.get("supervisor")

TaskFactory = Callable[[], Awaitable[None]]


class Supervisor:
    """Runs named root tasks until stopped or until one fails."""

    def __init__(self) -> None:
        """An empty supervisor; add tasks with ``add``."""
        self._factories: list[tuple[str, TaskFactory, int]] = []
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping = asyncio.Event()

    def add(self, name: str, factory: TaskFactory, *, stop_order: int = 0) -> None:
        """Register a root task; lower ``stop_order`` is cancelled first on ``stop()``."""
        self._factories.append((name, factory, stop_order))

    async def run(self) -> None:
        """Run every task until ``stop()`` or a failure (re-raised).

        A cancellation of the task running ``run`` (from its caller, not from ``stop()``)
        cancels every root task, waits for them, then propagates to the caller.
        """
        async with asyncio.TaskGroup() as group:
            for name, factory, _ in self._factories:
                self._tasks[name] = group.create_task(self._guard(name, factory), name=name)
            group.create_task(self._stopper(), name="supervisor.stopper")

    async def _guard(self, name: str, factory: TaskFactory) -> None:
        log.debug("task.started", task=name)
        try:
            await factory()
        except asyncio.CancelledError:
            log.debug("task.cancelled", task=name)
            raise
        except Exception:
            log.exception("task.failed", task=name)
            raise
        log.debug("task.finished", task=name)

    async def _stopper(self) -> None:
        await self._stopping.wait()
        orders = sorted({order for _, _, order in self._factories})
        for order in orders:
            batch = [
                self._tasks[name]
                for name, _, o in self._factories
                if o == order and name in self._tasks
            ]
            for task in batch:
                task.cancel()
            for task in batch:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def stop(self) -> None:
        """Begin an orderly stop (idempotent, callable from a signal handler)."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        """True once ``stop()`` was called."""
        return self._stopping.is_set()

    def running(self) -> list[str]:
        """Names of the root tasks started and not yet ended."""
        return [name for name, task in self._tasks.items() if not task.done()]
