"""Group commit: many producers, one transaction per batch.

Producers ``await writer.append(...)``; the writer task takes whatever is queued
(up to ``max_batch`` appends) and commits it with one ``append_batch(partial=True)``
while the next batch queues up behind it. A version clash fails only its own append.
On cancellation the batch in flight is finished and the queue is drained before the
task ends, so an append accepted before SIGTERM is committed. A batch refused because
the table lock was not granted in time (``LockTimeoutError``: nothing was written) is
retried up to ``lock_retries`` times before its producers get the error.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Sequence
from typing import Protocol

from daemon import logs
from daemon.core import events as ev
from daemon.shell import eventstore

log = logs.get("writer")


class Appender(Protocol):
    """Where a loop's events go: the daemon's ``Writer``, or a ``StoreAppender``."""

    async def append(
        self,
        stream: str,
        events: Sequence[object],
        *,
        expected_version: int | None = None,
        meta: ev.EventMeta | None = None,
    ) -> list[int]:
        """Append ``events`` to ``stream`` if it is at ``expected_version``."""
        ...


class StoreAppender:
    """An ``Appender`` straight onto an event store (for one-shot commands)."""

    def __init__(self, store: eventstore.EventStore) -> None:
        """Append through ``store``."""
        self._store = store

    async def append(
        self,
        stream: str,
        events: Sequence[object],
        *,
        expected_version: int | None = None,
        meta: ev.EventMeta | None = None,
    ) -> list[int]:
        """Append now, in its own transaction."""
        return await self._store.append(stream, expected_version, events, meta=meta)


@dataclasses.dataclass(slots=True)
class _Pending:
    append: eventstore.Append
    done: asyncio.Future[list[int]]


class Writer:
    """The daemon's single path into the event log for high-rate inputs."""

    def __init__(
        self,
        store: eventstore.EventStore,
        *,
        max_batch: int = 500,
        queue: int = 10_000,
        lock_retries: int = 3,
    ) -> None:
        """Batch up to ``max_batch`` appends per transaction; at most ``queue`` may wait."""
        self._store = store
        self._lock_retries = lock_retries
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(maxsize=queue)
        self.committed = 0

    async def append(
        self,
        stream: str,
        events: Sequence[object],
        *,
        expected_version: int | None = None,
        meta: ev.EventMeta | None = None,
    ) -> list[int]:
        """Queue an append and wait until it is committed; returns its positions."""
        done: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        await self._queue.put(
            _Pending(eventstore.Append(stream, events, expected_version, meta), done)
        )
        return await done

    async def run(self) -> None:
        """Commit queued appends until cancelled, then drain what is left."""
        try:
            while True:
                first = await self._queue.get()
                await self._commit_shielded(self._take(first))
        except asyncio.CancelledError:
            await self._drain()
            raise

    def _take(self, first: _Pending) -> list[_Pending]:
        batch = [first]
        while len(batch) < self._max_batch:
            try:
                batch.append(self._queue.get_nowait())
            except asyncio.QueueEmpty:
                break
        return batch

    async def _commit_shielded(self, batch: list[_Pending]) -> None:
        task = asyncio.ensure_future(self._commit(batch))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            # A batch that reached the database is finished, never abandoned.
            with contextlib.suppress(Exception):
                await task
            raise

    async def _commit(self, batch: list[_Pending]) -> None:
        try:
            outcomes = await self._append_retrying([p.append for p in batch])
        except Exception as exc:
            for pending in batch:
                if not pending.done.done():
                    pending.done.set_exception(exc)
            log.warning("writer.batch_failed", appends=len(batch), error=str(exc))
            return
        for pending, outcome in zip(batch, outcomes, strict=True):
            if pending.done.done():
                continue
            if isinstance(outcome, eventstore.ConcurrencyError):
                pending.done.set_exception(outcome)
            else:
                pending.done.set_result(outcome)
                self.committed += len(outcome)

    async def _append_retrying(self, appends: list[eventstore.Append]) -> list[eventstore.Outcome]:
        for attempt in range(1, self._lock_retries + 1):
            try:
                return await self._store.append_batch(appends, partial=True)
            except eventstore.LockTimeoutError as exc:
                log.warning("writer.lock_timeout", attempt=attempt, error=str(exc))
        return await self._store.append_batch(appends, partial=True)

    async def _drain(self) -> None:
        while not self._queue.empty():
            batch = self._take(self._queue.get_nowait())
            await self._commit(batch)
