"""End to end over several targets: decisions from the log survive restarts and replay.

A fleet of three emulated clusters and one app on all of them. Random commits, API faults
on random clusters, dropped watches and restarts: every target converges and ``gitopsd
verify`` recomputes every recorded decision (plans, sync triggers, pin lifts, target
changes) without a difference. A retry backoff and a lifted pin are recorded facts, so a
restart keeps the remaining wait and the lifted pin.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from gitfixtures import Upstream
from harness import app_config, configmap, manifest, running
from kubefixtures import FAST_KNOBS

from daemon.core import backoff, triggers
from daemon.core import events as ev
from daemon.runtime import commands, verify
from daemon.shell import eventstore
from kubesim.fleet import Fleet, run_fleet

CLUSTERS = ("c1", "c2", "c3")
NS = "team"


@pytest.fixture
async def fleet() -> AsyncIterator[Fleet]:
    """Three emulated clusters in this process; fails the test on their internal errors."""
    knobs = dataclasses.replace(FAST_KNOBS, paused=set())
    async with run_fleet({c: {"ring": "one"} for c in CLUSTERS}, knobs=knobs) as sims:
        yield sims
        assert sims.internal_errors() == {}


def _start(tmp_path: Path, database_url: str, upstream: Upstream, fleet: Fleet, **app: Any) -> Any:
    sync = {"create_namespace": True, "retry": {"backoff": "100ms", "max_backoff": "1s"}}
    sync.update(app.pop("sync", {}))
    spec = {"destination": {"clusters": list(CLUSTERS), "namespace": NS}, "sync": sync, **app}
    return {
        "tmp_path": tmp_path,
        "database_url": database_url,
        "upstream": upstream,
        "fleet": fleet,
        "apps": [app_config(**spec)],
    }


async def test_randomized_faults_and_restarts_over_three_targets_replay_every_decision(
    tmp_path: Path, database_url: str, fleet: Fleet, upstream: Upstream
) -> None:
    """Random commits, faults and restarts over 3 targets converge, and every decision replays."""
    rng = random.Random(20261203)
    files: dict[str, str] = {}
    head = upstream.commit({"apps/web/base.yaml": manifest(configmap("base", {"v": "0"}))})
    start = _start(
        tmp_path,
        database_url,
        upstream,
        fleet,
    )
    for round_ in range(3):
        async with running(**start) as gitops:
            await asyncio.gather(*(gitops.synced(head, cluster=c) for c in CLUSTERS))
            for step in range(5):
                name = f"cm{rng.randrange(5)}"
                path = f"apps/web/{name}.yaml"
                if path in files and rng.random() < 0.3:
                    del files[path]
                    change: dict[str, str | None] = {path: None}
                else:
                    files[path] = manifest(configmap(name, {"v": f"{round_}.{step}"}))
                    change = {path: files[path]}
                victim = fleet[rng.choice(CLUSTERS)]
                if rng.random() < 0.5:
                    victim.faults.inject(rng.choice([500, 503, 504]), verb="patch", times=1)
                if rng.random() < 0.2:
                    victim.drop_watches(abort=True)
                head = gitops.commit(change, message=f"round {round_} step {step}")
                await asyncio.gather(*(gitops.synced(head, cluster=c) for c in CLUSTERS))
            expected = {p.rsplit("/", 1)[1][: -len(".yaml")] for p in files}
            live = {
                c: {
                    n
                    for n in (f"cm{i}" for i in range(5))
                    if await gitops.get(f"/ConfigMap/{NS}/{n}", cluster=c) is not None
                }
                for c in CLUSTERS
            }
            assert live == dict.fromkeys(CLUSTERS, expected)
            report = await verify.verify(gitops.store)
    assert report.mismatches == []
    assert report.checked[verify.PLANS] >= 3 * 6
    assert report.checked[verify.TRIGGERS] == report.checked[verify.PLANS]
    assert report.checked[verify.TARGET_CHANGES] == len(CLUSTERS)


async def test_a_restart_in_the_middle_of_a_retry_backoff_keeps_the_remaining_wait(
    tmp_path: Path, database_url: str, fleet: Fleet, upstream: Upstream
) -> None:
    """A failed sync's backoff runs from its recorded time: a restart does not start it over."""
    v1 = upstream.commit({"apps/web/cm.yaml": manifest(configmap("cm", {"v": "1"}))})
    start = _start(
        tmp_path,
        database_url,
        upstream,
        fleet,
        sync={"retry": {"backoff": "4s", "max_backoff": "1m", "limit": 3}},
    )
    async with running(**start) as gitops:
        await asyncio.gather(*(gitops.synced(v1, cluster=c) for c in CLUSTERS))
        fleet["c2"].faults.inject(500, verb="patch", times=5)  # every attempt of one request
        v2 = gitops.commit({"apps/web/cm.yaml": manifest(configmap("cm", {"v": "2"}))})
        await gitops.sync_failed(cluster="c2")
        failed_at = triggers.parse_time(gitops.target(cluster="c2").last_sync_at)
    async with running(**start) as gitops:
        await gitops.synced(v2, cluster="c2")
        items = await gitops.events()
        retried = [
            i
            for i in items
            if isinstance(i.event, ev.SyncTriggered)
            and i.event.target == "c2"
            and i.event.reason is ev.TriggerReason.RETRY
        ]
        others = [gitops.target(cluster=c).last_synced_revision for c in ("c1", "c3")]
    assert failed_at is not None
    (retry,) = retried
    due = backoff.retry_due(failures=1, last_failure_at=failed_at, base=4.0, cap=60.0)
    assert due == failed_at + dt.timedelta(seconds=4)
    at = dt.datetime.fromisoformat(retry.event.at)
    # Not before the wait recorded before the restart ended, and not a fresh 4 s after it.
    assert due <= at < due + dt.timedelta(seconds=3)
    assert others == [v2, v2]


async def test_a_lifted_pin_stays_lifted_across_a_restart(
    tmp_path: Path,
    database_url: str,
    fleet: Fleet,
    upstream: Upstream,
    store: eventstore.EventStore,
) -> None:
    """A pin "until a newer commit" lifts as a recorded decision on one target; a restart keeps it."""
    v1 = upstream.commit({"apps/web/cm.yaml": manifest(configmap("cm", {"v": "1"}))})
    start = _start(tmp_path, database_url, upstream, fleet)
    async with running(**start) as gitops:
        await asyncio.gather(*(gitops.synced(v1, cluster=c) for c in CLUSTERS))
        v2 = gitops.commit({"apps/web/cm.yaml": manifest(configmap("cm", {"v": "2"}))})
        await asyncio.gather(*(gitops.synced(v2, cluster=c) for c in CLUSTERS))
        pin = ev.AppPinned(app="web", target="c1", revision=v1, until_newer_commit=True)
        await gitops.store.append("app/web", None, [pin], meta=ev.EventMeta(actor="cli:test"))
        await gitops.synced(v1, cluster="c1")
        v3 = gitops.commit({"apps/web/cm.yaml": manifest(configmap("cm", {"v": "3"}))})
        await gitops.until(lambda: gitops.target(cluster="c1").pinned is None, "the pin lifted")
    async with running(**start) as gitops:
        await asyncio.gather(*(gitops.synced(v3, cluster=c) for c in CLUSTERS))
        pinned = [gitops.target(cluster=c).pinned for c in CLUSTERS]
        unpins = [i.event for i in await gitops.events() if isinstance(i.event, ev.AppUnpinned)]
    report = await verify.verify(store)
    assert pinned == [None, None, None]
    assert [(u.target, u.reason) for u in unpins] == [("c1", f"newer commit {v3[:12]}")]
    assert report.mismatches == []
    assert report.checked[verify.PIN_LIFTS] == 1


async def test_commands_act_on_every_target(
    tmp_path: Path, database_url: str, fleet: Fleet, upstream: Upstream
) -> None:
    """A manual sync request without --cluster reaches every target (auto-sync off)."""
    v1 = upstream.commit({"apps/web/cm.yaml": manifest(configmap("cm", {"v": "1"}))})
    start = _start(tmp_path, database_url, upstream, fleet, sync={"auto": False})
    async with running(**start) as gitops:
        service = commands.Commands(gitops.store, gitops.config)
        await service.sync(gitops.config.apps[0].name, actor="cli:test", reason="first")
        await asyncio.gather(*(gitops.synced(v1, cluster=c) for c in CLUSTERS))
        reasons = sorted(
            (i.event.target, i.event.reason.value)
            for i in await gitops.events()
            if isinstance(i.event, ev.SyncTriggered)
        )
    assert reasons == [(c, "requested") for c in CLUSTERS]
