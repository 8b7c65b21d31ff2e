"""End to end: API faults, lost watches, restarts and a kill -9 leave a consistent log."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import sys
from pathlib import Path

import yaml
from gitfixtures import Upstream
from harness import NAMESPACE, app_config, configmap, deployment, manifest, running

from daemon.core import events as ev
from daemon.runtime import verify
from daemon.shell import eventstore
from kubesim.emulator import Emulator


def applied_keys(events: list[object]) -> list[str]:
    """Keys of the ObjectApplied events among ``events``."""
    return [e.key for e in events if isinstance(e, ev.ObjectApplied)]


async def test_api_faults_are_retried_without_duplicate_steps(
    tmp_path: Path, database_url: str, emulator: Emulator, upstream: Upstream
) -> None:
    """500s, a Status 429 and an APF 429 (with Retry-After) are retried; each step is recorded once."""
    v1 = upstream.commit(
        {
            "apps/web/all.yaml": manifest(
                configmap("a", {"k": "1"}),
                configmap("b", {"k": "1"}),
                deployment("web", "nginx:1.27"),
            )
        }
    )
    rules = [
        emulator.faults.inject(500, verb="patch", times=2),
        emulator.faults.inject(429, verb="patch", times=1, retry_after=1),
        emulator.faults.inject(429, verb="patch", times=1, apf=True, retry_after=1),
        emulator.faults.inject(503, verb="list", times=1),
    ]
    async with running(
        tmp_path=tmp_path, database_url=database_url, sim=emulator, upstream=upstream
    ) as gitops:
        await gitops.synced(v1)
        events = await gitops.last_sync()
        assert applied_keys(events) == [
            f"/Namespace//{NAMESPACE}",
            f"/ConfigMap/{NAMESPACE}/a",
            f"/ConfigMap/{NAMESPACE}/b",
            f"apps/Deployment/{NAMESPACE}/web",
        ]
        assert [type(e).__name__ for e in events].count("SyncFinished") == 1
        assert [r.fired for r in rules] == [2, 1, 1, 1]
        report = await verify.verify(gitops.store)
        assert (report.plans, report.mismatches) == (1, [])


async def test_dropped_watches_and_expired_history_are_survived(
    tmp_path: Path, database_url: str, emulator: Emulator, upstream: Upstream
) -> None:
    """After cut watches and a compacted history, drift is still seen and healed."""
    v1 = upstream.commit({"apps/web/cm.yaml": manifest(configmap("settings", {"color": "blue"}))})
    async with running(
        tmp_path=tmp_path, database_url=database_url, sim=emulator, upstream=upstream
    ) as gitops:
        await gitops.synced(v1)
        first_sync = gitops.target().last_sync_id
        kube = gitops.daemon.informers.client("sim")  # type: ignore[union-attr]
        # Writes the informers do not see (no tracking label) move the revision on; then
        # the history is compacted and the watches cut: resuming gets 410 Expired.
        await kube.apply(configmap("unrelated", {"k": "v"}, namespace="default"), force=True)
        emulator.compact()
        emulator.drop_watches(abort=True)
        # Someone edits the object behind gitopsd's back (another field manager).
        drifted = configmap("settings", {"color": "red"}, namespace=NAMESPACE)
        await kube.apply(drifted, field_manager="kubectl-edit", force=True)
        await gitops.until(
            lambda: gitops.target().last_sync_id != first_sync and gitops.target().sync is None,
            "a self-heal sync",
        )
        live = await gitops.get(f"/ConfigMap/{NAMESPACE}/settings")
        assert live is not None
        assert live["data"] == {"color": "blue"}
        heal = await gitops.last_sync()
        planned = heal[0]
        assert isinstance(planned, ev.SyncPlanned)
        assert planned.trigger == "self-heal"
        assert [
            (s.key, s.action.value, s.reason) for s in planned.steps if s.action.value == "update"
        ] == [(f"/ConfigMap/{NAMESPACE}/settings", "update", ".data.color: 'red' -> 'blue'")]
        restarts = [
            e.event
            for e in await gitops.store.read_stream("cluster/sim")
            if isinstance(e.event, ev.WatchRestarted)
        ]
        assert restarts, "a 410 Expired must relist and record WatchRestarted"


async def gitopsd_run(config: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    """`gitopsd --config CONFIG run` as a child process (output discarded)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "daemon",
        "--config",
        str(config),
        "run",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def test_restart_resumes_and_closes_an_interrupted_sync(
    tmp_path: Path, database_url: str, emulator: Emulator, upstream: Upstream
) -> None:
    """Kill -9 during a sync: after a restart the sync is closed as Aborted and the app converges."""
    v1 = upstream.commit(
        {"apps/web/all.yaml": manifest(*(configmap(f"c{i}", {"k": "1"}) for i in range(8)))}
    )
    config = {
        "state_dir": str(tmp_path / "state"),
        "http": {"listen": "127.0.0.1:0"},
        "clusters": [{"name": "sim", "kubeconfig": str(emulator.kubeconfig_path), "timeout": "5s"}],
        "sources": [{"name": "repo", "url": upstream.url, "branch": "main", "interval": "1s"}],
        "apps": [app_config()],
    }
    path = tmp_path / "gitopsd.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITOPSD_")}
    env["GITOPSD_DATABASE_URL"] = database_url
    store = await eventstore.connect(database_url, pool_size=2)
    emulator.faults.latency = 0.3  # slow applies: the kill lands in the middle of the sync
    first = await gitopsd_run(path, env)
    try:
        async with asyncio.timeout(60):
            while not any(
                isinstance(i.event, ev.ObjectApplied) for i in await store.read_stream("app/web")
            ):
                await asyncio.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        await first.wait()
    finally:
        if first.returncode is None:
            first.kill()
    before = [i.event for i in await store.read_stream("app/web")]
    assert not any(isinstance(e, ev.SyncFinished) for e in before), "the kill came too late"
    emulator.faults.latency = 0.0
    second = await gitopsd_run(path, env)
    try:
        async with asyncio.timeout(60):
            while True:
                events = [i.event for i in await store.read_stream("app/web")]
                done = [e for e in events if isinstance(e, ev.SyncFinished)]
                if any(e.result is ev.SyncResult.SUCCEEDED for e in done):
                    break
                await asyncio.sleep(0.1)
    finally:
        second.send_signal(signal.SIGTERM)
        await second.wait()
    finished = [e for e in events if isinstance(e, ev.SyncFinished)]
    assert [e.result for e in finished] == [ev.SyncResult.ABORTED, ev.SyncResult.SUCCEEDED]
    assert finished[0].message == "interrupted (gitopsd stopped during the sync); re-planned"
    # Every object was applied by one of the two syncs, none twice with a different body.
    counts = collections.Counter(applied_keys(events))
    assert set(counts) == {f"/Namespace//{NAMESPACE}"} | {
        f"/ConfigMap/{NAMESPACE}/c{i}" for i in range(8)
    }
    digests: dict[str, set[str]] = collections.defaultdict(set)
    for e in events:
        if isinstance(e, ev.ObjectApplied):
            digests[e.key].add(e.digest)
    assert all(len(d) == 1 for d in digests.values())
    report = await verify.verify(store)
    assert report.plans == 2
    assert report.mismatches == []
    await store.close()
    del v1
