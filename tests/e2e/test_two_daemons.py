"""End to end: two daemons on one database; only the active one records, the standby goes on from the log."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gitfixtures import Upstream
from harness import GitOps, config_for, configmap, manifest

from daemon.core import events as ev
from daemon.runtime import main
from daemon.runtime.leader import Role
from daemon.shell import eventstore
from kubesim.emulator import Emulator


async def instances_after(store: eventstore.EventStore, position: int) -> set[str | None]:
    """The instances that recorded the events after ``position``."""
    return {item.meta.instance async for item in store.read_all(position)}


async def test_only_the_active_daemon_records_and_the_standby_goes_on_from_the_log(
    tmp_path: Path, database_url: str, emulator: Emulator, upstream: Upstream
) -> None:
    """The standby records nothing while the first syncs; once it stops, it takes over from the log."""
    v1 = upstream.commit({"apps/web/cm.yaml": manifest(configmap("settings", {"v": "1"}))})
    config = config_for(tmp_path=tmp_path, sim=emulator, upstream=upstream)
    stores = [await eventstore.connect(database_url, pool_size=8) for _ in range(2)]
    first, second = (main.leader_for(config, store) for store in stores)
    running = [asyncio.create_task(first.run())]
    try:
        await first.until(Role.ACTIVE)
        running.append(asyncio.create_task(second.run()))
        await second.until(Role.STANDBY)
        assert second.reason == f"another gitopsd (instance {first.instance}) holds the lock"
        assert isinstance(first.daemon, main.Daemon)
        gitops = GitOps(first.daemon, stores[0], emulator, upstream, config)
        await gitops.synced(v1)
        assert await instances_after(stores[0], 0) == {first.instance}
        assert (second.role, second.daemon, second.terms) == (Role.STANDBY, None, 0)
        first.stop()
        await running[0]
        handed_over = await stores[0].last_position()
        await second.until(Role.ACTIVE)
        assert isinstance(second.daemon, main.Daemon)
        await second.daemon.ready.wait()
        taken = GitOps(second.daemon, stores[1], emulator, upstream, config)
        assert (taken.state.position, taken.target().last_synced_revision) == (handed_over, v1)
        v2 = taken.commit({"apps/web/cm.yaml": manifest(configmap("settings", {"v": "2"}))})
        await taken.synced(v2)
        assert await instances_after(stores[1], handed_over) == {second.instance}
        planned = [i.event for i in await taken.events() if isinstance(i.event, ev.SyncPlanned)]
        assert [(p.revision, p.trigger) for p in planned] == [(v1, "revision"), (v2, "revision")]
    finally:
        for lead in (first, second):
            lead.stop()
        await asyncio.wait_for(asyncio.gather(*running), 30)
        for store in stores:
            await store.close()
