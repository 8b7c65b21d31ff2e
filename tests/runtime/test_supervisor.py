"""Supervisor: orderly stop returns, outside cancellation propagates after the tasks end."""

from __future__ import annotations

import asyncio

import pytest

from daemon.runtime.supervisor import Supervisor


async def test_outside_cancellation_propagates_after_tasks_stopped() -> None:
    """Cancelling the task running ``run`` stops every root task, then re-raises."""
    started = asyncio.Event()
    ended: list[str] = []

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            ended.append("forever")

    supervisor = Supervisor()
    supervisor.add("forever", forever)
    runner = asyncio.create_task(supervisor.run())
    await started.wait()
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    assert (ended, supervisor.running(), runner.cancelled()) == (["forever"], [], True)


async def test_stop_returns_normally() -> None:
    """``stop()`` ends every root task and ``run`` returns without an error."""
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    supervisor = Supervisor()
    supervisor.add("forever", forever)
    runner = asyncio.create_task(supervisor.run())
    await started.wait()
    supervisor.stop()
    await runner
    assert (runner.cancelled(), supervisor.running()) == (False, [])
