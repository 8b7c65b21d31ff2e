"""End to end: rollback pins, unpin, manual syncs with their actor, and verify."""

from __future__ import annotations

import random
from pathlib import Path

from gitfixtures import Upstream
from harness import APP, NAMESPACE, app_config, configmap, manifest, running

from daemon.core import events as ev
from daemon.runtime import appviews, commands, verify
from daemon.shell import eventstore
from kubesim.emulator import Emulator


async def test_rollback_pins_until_unpinned(
    tmp_path: Path, database_url: str, emulator: Emulator, upstream: Upstream
) -> None:
    """A pin holds the app at an old revision through new commits; unpin moves it to the head."""
    v1 = upstream.commit({"apps/web/cm.yaml": manifest(configmap("settings", {"v": "1"}))})
    async with running(
        tmp_path=tmp_path, database_url=database_url, sim=emulator, upstream=upstream
    ) as gitops:
        await gitops.synced(v1)
        v2 = gitops.commit({"apps/web/cm.yaml": manifest(configmap("settings", {"v": "2"}))})
        await gitops.synced(v2)
        app = gitops.config.apps[0]
        service = commands.Commands(gitops.store, gitops.config)
        pinned = await service.rollback(
            app.name, v1[:10], actor="cli:alice", reason="v2 breaks checkout"
        )
        assert pinned.revision == v1
        await gitops.synced(v1)
        live = await gitops.get(f"/ConfigMap/{NAMESPACE}/settings")
        assert live is not None
        assert live["data"] == {"v": "1"}
        # A new commit is rendered but not applied while pinned.
        v3 = gitops.commit({"apps/web/cm.yaml": manifest(configmap("settings", {"v": "3"}))})
        await gitops.until(lambda: gitops.app().revision == v3, "v3 rendered")
        assert gitops.target().last_synced_revision == v1
        assert gitops.target().pinned == v1
        unpinned = await service.unpin(app.name, actor="cli:alice", reason="fixed")
        assert unpinned.clusters == pinned.clusters
        await gitops.synced(v3)
        pins = [
            (type(i.event).__name__, i.meta.actor)
            for i in await gitops.events()
            if isinstance(i.event, ev.AppPinned | ev.AppUnpinned)
        ]
        assert pins == [("AppPinned", "cli:alice"), ("AppUnpinned", "cli:alice")]
        history = appviews.format_history(await service.history(app.name))
        assert any(
            "pinned to " + v1[:8] + ": v2 breaks checkout by cli:alice" in line for line in history
        )
        report = await verify.verify(gitops.store)
        assert (report.plans, report.mismatches) == (4, [])


async def test_pin_until_next_commit_lifts_itself(
    tmp_path: Path, database_url: str, emulator: Emulator, upstream: Upstream
) -> None:
    """A pin "until the next commit" is lifted when a newer commit is rendered."""
    v1 = upstream.commit({"apps/web/cm.yaml": manifest(configmap("settings", {"v": "1"}))})
    async with running(
        tmp_path=tmp_path, database_url=database_url, sim=emulator, upstream=upstream
    ) as gitops:
        await gitops.synced(v1)
        v2 = gitops.commit({"apps/web/cm.yaml": manifest(configmap("settings", {"v": "2"}))})
        await gitops.synced(v2)
        await commands.Commands(gitops.store, gitops.config).rollback(
            gitops.config.apps[0].name, v1, actor="cli:bob", until_newer_commit=True
        )
        await gitops.synced(v1)
        v3 = gitops.commit({"apps/web/cm.yaml": manifest(configmap("settings", {"v": "3"}))})
        await gitops.synced(v3)
        assert gitops.target().pinned is None


async def test_manual_sync_with_auto_sync_off_records_the_actor(
    tmp_path: Path, database_url: str, emulator: Emulator, upstream: Upstream
) -> None:
    """With auto-sync off nothing is applied until `gitopsd sync`, which is recorded with its actor."""
    v1 = upstream.commit({"apps/web/cm.yaml": manifest(configmap("settings", {"v": "1"}))})
    manual = app_config(sync={"auto": False, "create_namespace": True})
    async with running(
        tmp_path=tmp_path, database_url=database_url, sim=emulator, upstream=upstream, apps=[manual]
    ) as gitops:
        await gitops.until(
            lambda: APP in gitops.state.apps and gitops.app().revision == v1, "rendered"
        )
        await gitops.until(lambda: gitops.target().health is ev.Health.MISSING, "health assessed")
        assert gitops.target().last_sync_id is None
        await commands.Commands(gitops.store, gitops.config).sync(
            APP, actor="cli:carol", reason="release"
        )
        await gitops.synced(v1)
        events = await gitops.events()
        requested = [i for i in events if isinstance(i.event, ev.SyncRequested)]
        assert [(i.event.reason, i.meta.actor) for i in requested] == [("release", "cli:carol")]
        planned = [i.event for i in events if isinstance(i.event, ev.SyncPlanned)]
        assert [p.trigger for p in planned] == ["requested"]


async def test_a_sync_requested_while_no_daemon_ran_is_acted_on_at_start(
    tmp_path: Path,
    database_url: str,
    emulator: Emulator,
    upstream: Upstream,
    store: eventstore.EventStore,
) -> None:
    """`gitopsd sync` recorded while no daemon runs is carried out by the next one to start."""
    v1 = upstream.commit({"apps/web/cm.yaml": manifest(configmap("settings", {"v": "1"}))})
    manual = app_config(sync={"auto": False, "create_namespace": True})
    common = {"tmp_path": tmp_path, "database_url": database_url, "sim": emulator}
    async with running(**common, upstream=upstream, apps=[manual]) as gitops:
        await gitops.until(
            lambda: APP in gitops.state.apps and gitops.app().revision == v1, "rendered"
        )
    await commands.Commands(store, gitops.config).sync(
        APP, actor="cli:frank", reason="while it was down"
    )
    async with running(**common, upstream=upstream, apps=[manual]) as again:
        await again.synced(v1)
        planned = [i.event for i in await again.events() if isinstance(i.event, ev.SyncPlanned)]
        assert [p.trigger for p in planned] == ["requested"]


async def test_verify_names_a_plan_that_does_not_replay(
    tmp_path: Path,
    database_url: str,
    emulator: Emulator,
    upstream: Upstream,
    store: eventstore.EventStore,
) -> None:
    """A recorded plan that differs from its recomputation is reported with its position."""
    v1 = upstream.commit({"apps/web/cm.yaml": manifest(configmap("settings", {"v": "1"}))})
    async with running(
        tmp_path=tmp_path, database_url=database_url, sim=emulator, upstream=upstream
    ) as gitops:
        await gitops.synced(v1)
        (planned,) = [i for i in await gitops.events() if isinstance(i.event, ev.SyncPlanned)]
    assert isinstance(planned.event, ev.SyncPlanned)
    forged = ev.SyncPlanned(
        app=APP,
        target="sim",
        sync_id="forged",
        revision=v1,
        trigger="revision",
        state_position=planned.event.state_position,
        steps=planned.event.steps[:1],
    )
    (position,) = await store.append(f"app/{APP}", None, [forged])
    report = await verify.verify(store)
    assert [(m.position, m.sync_id) for m in report.mismatches] == [(position, "forged")]
    assert (
        report.mismatches[0].detail
        == f"{len(planned.event.steps[:1])} steps recorded, {len(planned.event.steps)} recomputed"
    )


async def test_randomized_history_replays_exactly(
    tmp_path: Path,
    database_url: str,
    emulator: Emulator,
    upstream: Upstream,
    store: eventstore.EventStore,
) -> None:
    """Random commits, API faults and restarts; the app converges and every plan replays."""
    rng = random.Random(20261126)
    files: dict[str, str] = {}
    head = upstream.commit({"apps/web/base.yaml": manifest(configmap("base", {"v": "0"}))})
    for round_ in range(3):
        async with running(
            tmp_path=tmp_path, database_url=database_url, sim=emulator, upstream=upstream
        ) as gitops:
            await gitops.synced(head)
            for step in range(6):
                name = f"cm{rng.randrange(6)}"
                path = f"apps/web/{name}.yaml"
                if path in files and rng.random() < 0.3:
                    del files[path]
                    change: dict[str, str | None] = {path: None}
                else:
                    files[path] = manifest(configmap(name, {"v": f"{round_}.{step}"}))
                    change = {path: files[path]}
                if rng.random() < 0.4:
                    emulator.faults.inject(rng.choice([500, 503, 504]), verb="patch", times=1)
                if rng.random() < 0.2:
                    emulator.drop_watches(abort=True)
                head = gitops.commit(change, message=f"round {round_} step {step}")
                await gitops.synced(head)
            live = {
                name: await gitops.get(f"/ConfigMap/{NAMESPACE}/{name}")
                for name in (f"cm{i}" for i in range(6))
            }
            expected = {p.rsplit("/", 1)[1][: -len(".yaml")] for p in files}
            assert {n for n, obj in live.items() if obj is not None} == expected
    report = await verify.verify(store)
    assert report.mismatches == []
    assert report.plans >= 18
