"""Keeps the SQL projections (``shell.projections.ALL``) current with the log."""

from __future__ import annotations

import asyncio

from daemon import logs
from daemon.shell import eventstore, projections

log = logs.get("projector")


async def catch_up(store: eventstore.EventStore) -> int:
    """Bring every projection up to the end of the log; returns events handled."""
    total = 0
    for name, handler in projections.ALL.items():
        total += await store.project(name, handler)
    return total


async def run(store: eventstore.EventStore, *, interval: float = 1.0) -> None:
    """Catch up now and then after every ``interval`` seconds with new events."""
    last = -1
    while True:
        head = await store.last_position()
        if head != last:
            handled = await catch_up(store)
            if handled:
                log.debug("projections.updated", events=handled)
            last = head
        await asyncio.sleep(interval)
