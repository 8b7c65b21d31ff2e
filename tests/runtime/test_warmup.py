"""The start-up gate: what /readyz says at each step, and that it waits in order."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any

import structlog

from daemon.runtime import warmup


class FakeReconciler:
    """The reconciler's start-up surface: ``started``, ``first_looks``, ``unlooked``."""

    def __init__(self, apps: dict[str, str]) -> None:
        self.apps = apps  # name -> cluster
        self.started = asyncio.Event()
        self.looked: set[str] = set()
        self.looked_changed = asyncio.Event()

    def unlooked(self, clusters: Collection[str] | None = None) -> list[str]:
        """Apps (on ``clusters``) not looked at yet."""
        return [
            a
            for a, c in self.apps.items()
            if a not in self.looked and (clusters is None or c in clusters)
        ]

    async def first_looks(self, clusters: Collection[str]) -> None:
        """Wait until every app on ``clusters`` was looked at."""
        while self.unlooked(clusters):
            self.looked_changed.clear()
            await self.looked_changed.wait()

    def look(self, *apps: str) -> None:
        """Mark ``apps`` looked at."""
        self.looked.update(apps)
        self.looked_changed.set()


class FakeInformers:
    """The informers' start-up surface: ``settle`` (released by the test) and ``unlisted``."""

    def __init__(self, unlisted: dict[str, int]) -> None:
        self.pending = unlisted
        self.listed: asyncio.Future[set[str]] = asyncio.get_running_loop().create_future()

    def unlisted(self) -> dict[str, int]:
        """Kinds not listed per cluster."""
        return dict(self.pending)

    async def settle(self) -> set[str]:
        """The clusters that listed, once the test says so."""
        return await self.listed


async def step() -> None:
    """Let the gate's task run until it waits again."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_readiness_reasons_follow_the_start_up_steps(
    captured_logs: list[structlog.typing.EventDict],
) -> None:
    """Starting up, then the clusters still listing, then the apps not looked at, then ready."""
    apps = {f"web-{i}": "prod" for i in range(7)} | {"far-app": "far"}
    reconciler = FakeReconciler(apps)
    informers = FakeInformers({"prod": 3, "edge": 1})
    gate: Any = warmup.WarmUp(reconciler=reconciler, informers=informers, timeout=600)
    task = asyncio.create_task(gate.run())
    seen = [gate.waiting()]
    reconciler.started.set()
    await step()
    seen.append(gate.waiting())
    informers.pending = {}
    await step()
    seen.append(gate.waiting())
    informers.listed.set_result({"prod", "edge"})  # "far" does not answer
    await step()
    seen.append(gate.waiting())
    reconciler.look(*(f"web-{i}" for i in range(7)))
    await task
    seen.append(gate.waiting())
    assert seen == [
        "starting up",
        "waiting for informers: edge (1 kind), prod (3 kinds)",
        "waiting for informers: recording what they listed",
        "looking at apps: web-0, web-1, web-2, web-3, web-4 and 2 more",
        None,
    ]
    (line,) = [e for e in captured_logs if e["event"] == "startup.ready"]
    assert {k: line[k] for k in ("timed_out", "clusters_listed", "apps_unlooked")} == {
        "timed_out": False,
        "clusters_listed": ["edge", "prod"],
        "apps_unlooked": ["far-app"],
    }
    assert gate.ready_at is not None
