"""End to end: after a restart, /readyz waits for the informers' lists and drift is healed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import structlog
from gitfixtures import Upstream
from harness import NAMESPACE, GitOps, app_config, configmap, deployment, manifest, running
from kubernetes_asyncio import client, config

from daemon.core import events as ev
from daemon.runtime import main
from kubesim.emulator import Emulator, run_emulator

CM_KEY = f"/ConfigMap/{NAMESPACE}/settings"
DEPLOY_KEY = f"apps/Deployment/{NAMESPACE}/web"


async def api_for(sim: Emulator) -> client.ApiClient:
    """A plain kubernetes_asyncio client on ``sim`` (someone else than gitopsd)."""
    cfg = client.Configuration()
    await config.load_kube_config(config_file=str(sim.kubeconfig_path), client_configuration=cfg)
    return client.ApiClient(cfg)


async def readyz(gitops: GitOps) -> tuple[int, Any]:
    """GET /readyz: status code and JSON body."""
    bound = gitops.daemon.http.bound
    assert bound is not None
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://{bound[0]}:{bound[1]}/readyz") as resp,
    ):
        return resp.status, await resp.json()


async def warmed_up(
    gitops: GitOps, captured_logs: list[structlog.typing.EventDict]
) -> structlog.typing.EventDict:
    """Wait for the start-up gate, check /readyz says ready; the ``startup.ready`` log line."""
    warm = gitops.daemon.warmup
    assert warm is not None
    await warm.done.wait()
    assert await readyz(gitops) == (200, {"status": "ready"})
    (line,) = [e for e in captured_logs if e["event"] == "startup.ready"][-1:]
    return line


def describe(event: ev.EventBase) -> str | None:
    """A short line for the events the restart test follows (None: not followed)."""
    match event:
        case ev.ObjectObserved(key=key) if key in (CM_KEY, DEPLOY_KEY):
            return f"observed {event.change.value} {key}"
        case ev.SyncPlanned():
            return f"planned {event.trigger}"
        case ev.ObjectApplied():
            return f"applied {event.key}"
        case ev.SyncFinished():
            return f"finished {event.result.value}"
        case _:
            return None


class Timeline:
    """Each followed event as it is folded: (loop time, line, was /readyz ready then)."""

    def __init__(self) -> None:
        self.items: list[tuple[float, str, bool]] = []
        self.daemon: main.Daemon | None = None

    def attach(self, daemon: main.Daemon) -> None:
        """Follow ``daemon``'s folded events (before it serves)."""
        self.daemon = daemon
        daemon.keeper.listeners.append(self._on_event)

    def _on_event(self, recorded: ev.Recorded) -> None:
        line = describe(recorded.event)
        if line is not None and self.daemon is not None:
            warm = self.daemon.warmup
            ready = warm is not None and warm.done.is_set()
            self.items.append((asyncio.get_running_loop().time(), line, ready))

    def lines(self, *, ready: bool) -> list[str]:
        """The lines folded before (``ready`` False) or after /readyz turned ready."""
        return [line for _, line, was in self.items if was is ready]

    def time_of(self, line: str) -> float:
        """When ``line`` was first folded."""
        return next(t for t, item, _ in self.items if item == line)


async def test_drift_made_while_stopped_is_seen_before_ready_and_healed_after(
    tmp_path: Path, database_url: str, emulator: Emulator, upstream: Upstream
) -> None:
    """Edits made while gitopsd is down are listed and their heal planned before ready."""
    v1 = upstream.commit(
        {
            "apps/web/all.yaml": manifest(
                configmap("settings", {"color": "blue"}), deployment("web", "nginx:1.27")
            )
        }
    )
    start = {"tmp_path": tmp_path, "database_url": database_url, "sim": emulator}
    async with running(**start, upstream=upstream) as gitops:
        await gitops.synced(v1)
        first_sync = gitops.target().last_sync_id
    # While gitopsd is down, someone edits the ConfigMap and scales the Deployment.
    async with await api_for(emulator) as api:
        await client.CoreV1Api(api).patch_namespaced_config_map(
            "settings", NAMESPACE, {"data": {"color": "red"}}
        )
        await client.AppsV1Api(api).patch_namespaced_deployment_scale(
            "web", NAMESPACE, {"spec": {"replicas": 5}}
        )
    timeline = Timeline()
    async with running(**start, upstream=upstream, before_serve=timeline.attach) as gitops:
        await gitops.until(
            lambda: gitops.target().last_sync_id != first_sync and gitops.target().sync is None,
            "the heal",
        )
        live_cm = await gitops.get(CM_KEY)
        live_deploy = await gitops.get(DEPLOY_KEY)
        heal = await gitops.last_sync()
        warm = gitops.daemon.warmup
        assert warm is not None
        ready_at = warm.ready_at
    assert live_cm is not None
    assert live_cm["data"] == {"color": "blue"}
    assert live_deploy is not None
    assert live_deploy["spec"]["replicas"] == 2
    # Before ready: the lists recorded both edits, and the heal was planned on them.
    assert sorted(timeline.lines(ready=False)) == [
        f"observed MODIFIED {CM_KEY}",
        f"observed MODIFIED {DEPLOY_KEY}",
        "planned self-heal",
    ]
    after = [line for line in timeline.lines(ready=True) if not line.startswith("observed")]
    assert after == [f"applied {CM_KEY}", f"applied {DEPLOY_KEY}", "finished Succeeded"]
    assert ready_at is not None
    delay = timeline.time_of("finished Succeeded") - ready_at
    print(f"ready -> healed: {delay:.3f} s")  # a figure for the reader, not asserted
    planned = heal[0]
    assert isinstance(planned, ev.SyncPlanned)
    assert [(s.key, s.reason) for s in planned.steps if s.action is ev.StepAction.UPDATE] == [
        (CM_KEY, ".data.color: 'red' -> 'blue'"),
        (DEPLOY_KEY, ".spec.replicas: 5 -> 2"),
    ]


async def test_readyz_is_not_ready_until_the_informers_listed(
    tmp_path: Path, database_url: str, emulator: Emulator, upstream: Upstream
) -> None:
    """While every list fails, /readyz is 503 naming the cluster and its kinds; 200 once listed."""
    v1 = upstream.commit({"apps/web/cm.yaml": manifest(configmap("settings", {"a": "1"}))})
    start = {"tmp_path": tmp_path, "database_url": database_url, "sim": emulator}
    async with running(**start, upstream=upstream) as gitops:
        await gitops.synced(v1)
    rule = emulator.faults.inject(500, verb="list", times=-1)
    async with running(**start, upstream=upstream) as gitops:
        reconciler, warm = gitops.daemon.reconciler, gitops.daemon.warmup
        assert reconciler is not None
        assert warm is not None
        await reconciler.started.wait()
        assert await readyz(gitops) == (
            503,
            {"status": "not ready", "reason": "waiting for informers: sim (2 kinds)"},
        )
        rule.times = 0  # the lists go through from now on
        await warm.done.wait()
        assert await readyz(gitops) == (200, {"status": "ready"})
        assert reconciler.unlooked() == []


async def test_an_unreachable_cluster_does_not_hold_readiness_back(
    tmp_path: Path,
    database_url: str,
    emulator: Emulator,
    upstream: Upstream,
    captured_logs: list[structlog.typing.EventDict],
) -> None:
    """With one cluster gone, gitopsd turns ready once the other listed and its app was looked at."""
    v1 = upstream.commit(
        {
            "apps/web/cm.yaml": manifest(configmap("settings", {"a": "1"})),
            "apps/far/cm.yaml": manifest(configmap("far", {"a": "1"})),
        }
    )
    far_app = app_config(name="far", path="apps/far", destination={"cluster": "far"})
    kubeconfig = tmp_path / "far.kubeconfig"
    far_cluster = {"name": "far", "kubeconfig": str(kubeconfig), "timeout": "2s"}
    start: dict[str, Any] = {
        "tmp_path": tmp_path,
        "database_url": database_url,
        "sim": emulator,
        "upstream": upstream,
        "apps": [app_config(), far_app],
        "clusters": [far_cluster],
    }
    async with run_emulator(kubeconfig=kubeconfig), running(**start) as gitops:
        await gitops.synced(v1)
        await gitops.synced(v1, app="far", cluster="far")
    # The far cluster is gone now (its port is closed); wait far longer than it takes.
    async with running(**start, startup_wait=600) as gitops:
        line = await warmed_up(gitops, captured_logs)
    assert _fields(line, "timed_out", "clusters_listed", "apps_unlooked") == {
        "timed_out": False,
        "clusters_listed": ["sim"],
        "apps_unlooked": ["far"],
    }


async def test_readiness_waits_a_bounded_time_for_a_cluster_that_cannot_list(
    tmp_path: Path,
    database_url: str,
    emulator: Emulator,
    upstream: Upstream,
    captured_logs: list[structlog.typing.EventDict],
) -> None:
    """A cluster that answers but cannot list holds /readyz only for ``startup_wait``."""
    v1 = upstream.commit({"apps/web/cm.yaml": manifest(configmap("settings", {"a": "1"}))})
    start = {"tmp_path": tmp_path, "database_url": database_url, "sim": emulator}
    async with running(**start, upstream=upstream) as gitops:
        await gitops.synced(v1)
    emulator.faults.inject(500, verb="list", times=-1)
    async with running(**start, upstream=upstream, startup_wait=0.5) as gitops:
        line = await warmed_up(gitops, captured_logs)
    assert _fields(line, "timed_out", "clusters_listed", "clusters_listing") == {
        "timed_out": True,
        "clusters_listed": [],
        "clusters_listing": ["sim"],
    }


def _fields(line: structlog.typing.EventDict, *names: str) -> dict[str, Any]:
    """The ``names`` fields of a log line."""
    return {name: line[name] for name in names}
