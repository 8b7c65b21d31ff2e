"""The daemon's folded state: snapshot + tail at start, then follow the log.

``load`` reads the latest snapshot and folds the events after it; ``follow`` keeps
folding new events as they commit and saves a snapshot every ``snapshot_every``
events. Waiters can ``await wait_for(position)`` to act only once the state includes
their own append.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable

from daemon import logs
from daemon.core import events as ev
from daemon.core import fold
from daemon.core import state as core_state
from daemon.shell import eventstore

log = logs.get("state")

SNAPSHOT_NAME = "daemon"


class StateKeeper:
    """Holds the fold of the log and keeps it current."""

    def __init__(self, store: eventstore.EventStore, *, snapshot_every: int = 10_000) -> None:
        """Fold ``store``'s log; snapshot after every ``snapshot_every`` events."""
        self._store = store
        self._snapshot_every = snapshot_every
        self.state = core_state.State()
        self._changed = asyncio.Condition()
        self._since_snapshot = 0
        self.listeners: list[Callable[[ev.Recorded], None]] = []
        """Called with each event folded by ``follow`` (after it is folded)."""

    async def load(self) -> core_state.State:
        """Start from the latest usable snapshot and fold the tail."""
        snap = await self._store.load_snapshot(SNAPSHOT_NAME)
        start = None
        if snap is not None and snap.format == core_state.STATE_FORMAT:
            start = core_state.from_json(snap.data)
        self.state = start if start is not None else core_state.State()
        tail = 0
        # The fold only adds long-lived objects: the cyclic garbage collector would scan
        # the whole growing state again and again for nothing (a fifth of a replay).
        collecting = gc.isenabled()
        gc.disable()
        try:
            async for chunk in self._store.read_all_batches(self.state.position):
                fold.replay(chunk, self.state)
                tail += len(chunk)
        finally:
            if collecting:
                gc.enable()
        log.info(
            "state.loaded", position=self.state.position, snapshot=start is not None, tail=tail
        )
        self._since_snapshot = tail
        return self.state

    async def follow(self) -> None:
        """Fold new events forever, snapshotting as configured."""
        async for item in self._store.subscribe(self.state.position):
            fold.evolve(self.state, item)
            for listener in self.listeners:
                listener(item)
            self._since_snapshot += 1
            if self._since_snapshot >= self._snapshot_every:
                await self.snapshot()
            async with self._changed:
                self._changed.notify_all()

    async def snapshot(self) -> None:
        """Save the current state as the latest snapshot."""
        await self._store.save_snapshot(
            SNAPSHOT_NAME,
            eventstore.Snapshot(
                position=self.state.position,
                format=core_state.STATE_FORMAT,
                data=core_state.to_json(self.state),
            ),
        )
        self._since_snapshot = 0

    async def wait_for(self, position: int) -> core_state.State:
        """Return once the state includes ``position``."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.state.position >= position)
        return self.state
