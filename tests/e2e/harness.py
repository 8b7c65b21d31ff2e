"""An in-process gitopsd against the emulator and a real Git repository, for e2e tests.

``GitOps`` runs the whole daemon (poller, renderer, informers, reconciler, writer)
on a fresh database, a ``file://`` upstream written with pygit2, and the Kubernetes
API emulator over HTTP: one emulator as cluster ``sim``, and/or a fleet of emulators
(``kubesim.fleet``), each cluster of it configured by its name, its kubeconfig context
and its labels. Tests commit manifests, poke the poller instead of waiting
for its interval, and wait on the folded state (never on wall-clock sleeps).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from gitfixtures import Upstream

from daemon import settings
from daemon.core import events as ev
from daemon.core import state as core_state
from daemon.runtime import main
from daemon.shell import eventstore
from kubesim.emulator import Emulator
from kubesim.fleet import Fleet

APP = "web"
NAMESPACE = "shop"
CLUSTER = "sim"


def manifest(*docs: Mapping[str, Any]) -> str:
    """YAML documents as one file."""
    return yaml.safe_dump_all([dict(d) for d in docs], sort_keys=False)


def configmap(name: str, data: Mapping[str, str], **meta: Any) -> dict[str, Any]:
    """A ConfigMap manifest."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, **meta},
        "data": dict(data),
    }


def deployment(name: str, image: str, *, replicas: int = 2, **meta: Any) -> dict[str, Any]:
    """A Deployment manifest with one container."""
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, **meta},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": image}]},
            },
        },
    }


def app_config(**overrides: Any) -> dict[str, Any]:
    """The app entry of the test configuration (YAML-shaped), with overrides."""
    base: dict[str, Any] = {
        "name": APP,
        "source": "repo",
        "path": "apps/web",
        "destination": {"cluster": "sim", "namespace": NAMESPACE},
        "sync": {
            "create_namespace": True,
            "retry": {"backoff": "100ms", "max_backoff": "1s", "limit": 3},
        },
    }
    base.update(overrides)
    return base


@dataclasses.dataclass
class GitOps:
    """A running daemon and its surroundings."""

    daemon: main.Daemon
    store: eventstore.EventStore
    sim: Emulator | None
    upstream: Upstream
    config: settings.Config
    fleet: Fleet | None = None

    @property
    def state(self) -> core_state.State:
        """The daemon's folded state (live)."""
        return self.daemon.keeper.state

    async def get(self, key: str, cluster: str = "sim") -> dict[str, Any] | None:
        """A live object by key, read through gitopsd's client of ``cluster`` (HTTP)."""
        assert self.daemon.informers is not None
        return await self.daemon.informers.client(cluster).get(key)

    def app(self, name: str = APP) -> core_state.AppState:
        """An app's folded state."""
        return self.state.apps[name]

    def target(self, name: str = APP, cluster: str = CLUSTER) -> core_state.TargetState:
        """One target's folded state (the app's on ``cluster``)."""
        return self.state.apps[name].targets[cluster]

    def commit(self, files: Mapping[str, str | None], message: str = "change") -> str:
        """Commit files (None deletes) and ask the poller to look now."""
        sha = self.upstream.commit(dict(files), message=message)
        assert self.daemon.git is not None
        self.daemon.git.poller.trigger(["repo"])
        return sha

    async def until(self, predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
        """Wait until ``predicate()`` holds on the folded state (checked after each event)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while not predicate():
                    position = self.state.position
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.daemon.keeper.wait_for(position + 1), 0.5)
                return
        raise AssertionError(f"timed out waiting for {what}; app state: {self.state.apps.get(APP)}")

    def _target(self, app: str, cluster: str) -> core_state.TargetState | None:
        current = self.state.apps.get(app)
        return current.targets.get(cluster) if current is not None else None

    async def synced(
        self, revision: str, app: str = APP, *, cluster: str = CLUSTER, healthy: bool = True
    ) -> None:
        """Wait until ``app`` synced ``revision`` on ``cluster`` (and, by default, is Healthy)."""

        def done() -> bool:
            current = self._target(app, cluster)
            if current is None or current.last_synced_revision != revision or current.sync:
                return False
            return not healthy or current.health is ev.Health.HEALTHY

        await self.until(done, f"{app} synced at {revision[:8]} on {cluster}")

    async def sync_failed(self, app: str = APP, *, cluster: str = CLUSTER) -> None:
        """Wait until the last sync of ``app`` on ``cluster`` failed."""

        def failed() -> bool:
            current = self._target(app, cluster)
            return current is not None and current.last_sync_result is ev.SyncResult.FAILED

        await self.until(failed, f"a failed sync of {app} on {cluster}")

    async def events(self, app: str = APP) -> list[ev.Recorded]:
        """Every event of the app's stream."""
        return await self.store.read_stream(f"app/{app}")

    async def last_sync(self, app: str = APP) -> list[Any]:
        """The events of the app's last sync (SyncPlanned through SyncFinished)."""
        items = [i.event for i in await self.events(app)]
        planned = [e for e in items if isinstance(e, ev.SyncPlanned)][-1]
        return [
            e
            for e in items
            if getattr(e, "sync_id", None) == planned.sync_id
            and not isinstance(e, ev.SyncTriggered)
        ]


def fleet_clusters(
    fleet: Fleet, labels: Mapping[str, Mapping[str, str]] | None = None
) -> list[dict[str, Any]]:
    """Cluster entries for every cluster of ``fleet``: its context of the fleet's kubeconfig.

    ``labels`` gives each cluster's ``labels:`` by name (absent: none).
    """
    labels = labels or {}
    unknown = sorted(set(labels) - set(fleet.names))
    if unknown:
        raise KeyError(f"labels for clusters not in the fleet: {', '.join(unknown)}")
    return [
        {
            "name": name,
            "kubeconfig": str(fleet.kubeconfig_path),
            "context": name,
            "labels": dict(labels.get(name, {})),
            "timeout": "5s",
        }
        for name in fleet.names
    ]


def config_for(
    *,
    tmp_path: Path,
    sim: Emulator | None,
    upstream: Upstream,
    apps: list[dict[str, Any]] | None = None,
    clusters: list[dict[str, Any]] | None = None,
) -> settings.Config:
    """The configuration of an e2e daemon: ``sim`` and ``clusters``, the upstream, ``apps``."""
    first = [] if sim is None else [_sim_cluster(sim)]
    doc = {
        "state_dir": str(tmp_path / "state"),
        "http": {"listen": "127.0.0.1:0"},
        "clusters": [*first, *(clusters or [])],
        "sources": [{"name": "repo", "url": upstream.url, "branch": "main", "interval": "1h"}],
        "apps": apps if apps is not None else [app_config()],
    }
    return settings.loads(yaml.safe_dump(doc), filename="e2e.yaml", environ={})


def _sim_cluster(sim: Emulator) -> dict[str, Any]:
    return {"name": "sim", "kubeconfig": str(sim.kubeconfig_path), "timeout": "5s"}


@contextlib.asynccontextmanager
async def running(
    *,
    tmp_path: Path,
    database_url: str,
    sim: Emulator | None = None,
    upstream: Upstream,
    apps: list[dict[str, Any]] | None = None,
    clusters: list[dict[str, Any]] | None = None,
    fleet: Fleet | None = None,
    labels: Mapping[str, Mapping[str, str]] | None = None,
    startup_wait: float = 60.0,
    before_serve: Callable[[main.Daemon], None] | None = None,
) -> AsyncIterator[GitOps]:
    """Start gitopsd on these; stop it (SIGTERM-like) at the end.

    The clusters are ``sim`` (as ``sim``), then ``clusters`` (entries as written), then
    every cluster of ``fleet`` under its own name with its ``labels`` (by name).
    ``before_serve`` sees the daemon before it starts (to add a state listener, say).
    """
    if sim is None and fleet is None:
        raise ValueError("running() needs an emulator (sim) or a fleet")
    if labels is not None and fleet is None:
        raise ValueError("labels are given per cluster of a fleet: pass fleet too")
    extra = [*(clusters or []), *(fleet_clusters(fleet, labels) if fleet is not None else [])]
    config = config_for(tmp_path=tmp_path, sim=sim, upstream=upstream, apps=apps, clusters=extra)
    store = await eventstore.connect(database_url, pool_size=8)
    daemon = main.Daemon(config, store, startup_wait=startup_wait)
    if before_serve is not None:
        before_serve(daemon)
    serving = asyncio.create_task(daemon.serve())
    try:
        await asyncio.wait_for(daemon.ready.wait(), 30)
        yield GitOps(
            daemon=daemon, store=store, sim=sim, upstream=upstream, config=config, fleet=fleet
        )
    finally:
        daemon.stop()
        try:
            await asyncio.wait_for(asyncio.shield(serving), 20)
        except TimeoutError:
            stuck = [t for t in asyncio.all_tasks() if not t.done()]
            for task in stuck:
                task.print_stack(limit=30)
            serving.cancel()
            raise AssertionError("the daemon did not stop within 20 s of SIGTERM") from None
        finally:
            await store.close()
