"""Writer: a batch refused for a lock timeout is retried, then surfaced; never dropped."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import cast

import pytest

from daemon.core import events as ev
from daemon.runtime.writer import Writer
from daemon.shell import eventstore

EVENT = ev.SourceFailed(source="a", error_class="OSError", message="down")


class LockedStore:
    """A store whose first ``refusals`` batches time out on the table lock."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.attempts = 0

    async def append_batch(
        self, batch: Sequence[eventstore.Append], *, partial: bool = False
    ) -> list[eventstore.Outcome]:
        """Refuse with a lock timeout, or commit each append at position ``attempts``."""
        self.attempts += 1
        if self.attempts <= self.refusals:
            raise eventstore.LockTimeoutError([a.stream for a in batch], 0.1)
        return [[self.attempts] for _ in batch]


async def append_once(store: LockedStore, *, lock_retries: int) -> list[int]:
    writer = Writer(cast("eventstore.EventStore", store), lock_retries=lock_retries)
    task = asyncio.create_task(writer.run())
    try:
        return await writer.append("source/a", [EVENT])
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_lock_timeout_is_retried_until_committed() -> None:
    """Two lock timeouts in a row are retried and the third attempt commits the append."""
    store = LockedStore(refusals=2)
    assert (await append_once(store, lock_retries=3), store.attempts) == ([3], 3)


async def test_lock_timeout_past_the_retries_reaches_the_producer() -> None:
    """When every retry times out the producer gets the LockTimeoutError naming its stream."""
    store = LockedStore(refusals=10)
    with pytest.raises(eventstore.LockTimeoutError, match="append to stream 'source/a'"):
        await append_once(store, lock_retries=2)
    assert store.attempts == 3
