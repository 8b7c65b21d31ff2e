"""Informers against the emulator and a real event store: list, watch, relist, reachability."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from kubefixtures import configmap, widget_crd

from daemon import settings
from daemon.core import events as ev
from daemon.core import manifests
from daemon.runtime import clusterinformer, informers, main, statekeeper, writer
from daemon.shell import eventstore, kubeclient
from kubesim import api as sim_api
from kubesim.emulator import Emulator, run_emulator

SECRET_KEY = b"k" * 32
FAST = clusterinformer.Timing(
    backoff=0.01, max_backoff=0.05, watch_seconds=30, probe_interval=0.05, min_stream=0.0
)
FAST_RETRY = kubeclient.RetryPolicy(attempts=2, base=0.01, cap=0.02)
LABEL = {"gitopsd.io/app": "demo"}
CM = ("v1", "ConfigMap")


def fast_client(cluster: settings.ClusterConfig) -> kubeclient.KubeClient:
    """A lazily connecting client with quick retries."""
    return kubeclient.lazy(cluster, retry=FAST_RETRY)


@contextlib.asynccontextmanager
async def running(
    cluster: settings.ClusterConfig,
    store: eventstore.EventStore,
    *,
    appender: Any = None,
    blobs: Any = None,
) -> AsyncIterator[informers.Informers]:
    """Informers on ``cluster`` over a state folded from ``store``, with a running writer."""
    keeper = statekeeper.StateKeeper(store)
    state = await keeper.load()
    log_writer = writer.Writer(store)
    tasks = [asyncio.create_task(log_writer.run()), asyncio.create_task(keeper.follow())]
    found = informers.Informers(
        settings.Config(clusters=[cluster]),
        appender=appender or log_writer,
        blobs=blobs or store,
        state=state,
        secret_key=SECRET_KEY,
        open_client=fast_client,
        wait_folded=keeper.wait_for,
        timing=FAST,
    )
    tasks.append(asyncio.create_task(found.run()))
    try:
        yield found
    finally:
        for task in reversed(tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def observed(store: eventstore.EventStore, after: int = 0) -> list[tuple[str, ...]]:
    """The cluster stream after ``after``, one tuple per event."""
    out: list[tuple[str, ...]] = []
    for item in await store.read_stream("cluster/sim", after_version=after):
        event = item.event
        match event:
            case ev.ObjectObserved():
                out.append((event.change.value, event.key, event.app or ""))
            case ev.WatchRestarted():
                out.append(("WatchRestarted", event.resource, event.reason))
            case ev.ClusterUnreachable():
                out.append(("ClusterUnreachable",))
            case ev.ClusterReachable():
                out.append(("ClusterReachable",))
            case _:
                out.append((type(event).__name__,))
    return out


async def caught_up(
    found: informers.Informers, emulator: Emulator, kind: tuple[str, str] = CM
) -> int:
    """Wait until the informer has recorded everything up to the emulator's current revision."""
    async with asyncio.timeout(10):
        return await found.wait_caught_up("sim", *kind, str(emulator.resource_version))


async def test_initial_list_records_labelled_objects_with_their_bodies(
    kube: kubeclient.KubeClient,
    cluster_config: settings.ClusterConfig,
    store: eventstore.EventStore,
) -> None:
    """The first list records every labelled object: ADDED, app, managers, body in blobs."""
    await kube.apply(configmap("a", labels=LABEL))
    await kube.apply(configmap("b", labels=LABEL))
    await kube.apply(configmap("unmanaged"))
    async with running(cluster_config, store) as found:
        assert await found.wait_synced("sim", [CM], 10) is True
    assert await observed(store) == [
        ("ADDED", "/ConfigMap/default/a", "demo"),
        ("ADDED", "/ConfigMap/default/b", "demo"),
    ]
    first = (await store.read_stream("cluster/sim"))[0].event
    assert isinstance(first, ev.ObjectObserved)
    live = await kube.get("/ConfigMap/default/a")
    assert live is not None
    assert first.resource_version == live["metadata"]["resourceVersion"]
    assert first.managers == (
        ev.FieldManager(manager="gitopsd", operation="Apply", time=first.managers[0].time),
    )
    assert first.digest is not None
    blob = (await store.get_blobs([first.digest]))[first.digest]
    del live["metadata"]["resourceVersion"]
    assert blob == live


async def test_secret_values_never_reach_the_blobs(
    kube: kubeclient.KubeClient,
    cluster_config: settings.ClusterConfig,
    store: eventstore.EventStore,
) -> None:
    """A watched Secret's data is stored as keyed digests, never in clear."""
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds", "namespace": "default", "labels": LABEL},
        "stringData": {"password": "hunter2"},
    }
    await kube.apply(secret)
    async with running(cluster_config, store) as found:
        assert await found.wait_synced("sim", [("v1", "Secret")], 10) is True
    event = (await store.read_stream("cluster/sim"))[0].event
    assert isinstance(event, ev.ObjectObserved)
    assert event.digest is not None
    blob = (await store.get_blobs([event.digest]))[event.digest]
    # A real server moves stringData into data; the emulator keeps stringData
    # (/work/team/sim-bugs.md #1). Both fields are redacted, so check both.
    values = {**blob.get("data", {}), **blob.get("stringData", {})}
    assert list(values) == ["password"]
    assert values["password"].startswith("hmac-sha256:")
    assert manifests.is_redacted(blob) is True
    assert "hunter2" not in repr(blob)
    assert "aHVudGVyMg==" not in repr(blob)


async def test_watch_records_changes_in_order(
    kube: kubeclient.KubeClient,
    emulator: Emulator,
    cluster_config: settings.ClusterConfig,
    store: eventstore.EventStore,
) -> None:
    """Changes after the list arrive by watch: MODIFIED, label removal and deletion as DELETED."""
    await kube.apply(configmap("a", labels=LABEL))
    await kube.apply(configmap("b", labels=LABEL))
    async with running(cluster_config, store) as found:
        assert await found.wait_synced("sim", [CM], 10) is True
        await kube.apply(configmap("a", labels=LABEL, data={"k": "2"}))
        await kube.apply(configmap("c", labels=LABEL))
        await kube.delete("/ConfigMap/default/b")
        await kube.apply(configmap("c"))  # the tracking label removed: no longer ours
        await caught_up(found, emulator)
    assert await observed(store) == [
        ("ADDED", "/ConfigMap/default/a", "demo"),
        ("ADDED", "/ConfigMap/default/b", "demo"),
        ("MODIFIED", "/ConfigMap/default/a", "demo"),
        ("ADDED", "/ConfigMap/default/c", "demo"),
        ("DELETED", "/ConfigMap/default/b", "demo"),
        ("DELETED", "/ConfigMap/default/c", "demo"),
    ]


async def test_restart_records_only_the_differences(
    kube: kubeclient.KubeClient,
    emulator: Emulator,
    cluster_config: settings.ClusterConfig,
    store: eventstore.EventStore,
) -> None:
    """After a restart the relist records what changed meanwhile, and nothing else."""
    for name in ("a", "b", "c"):
        await kube.apply(configmap(name, labels=LABEL))
    async with running(cluster_config, store) as found:
        assert await found.wait_synced("sim", [CM], 10) is True
    before = await store.stream_version("cluster/sim")
    await kube.apply(configmap("a", labels=LABEL, data={"k": "changed"}))
    await kube.delete("/ConfigMap/default/b")
    await kube.apply(configmap("d", labels=LABEL))
    async with running(cluster_config, store) as found:
        assert await found.wait_synced("sim", [CM], 10) is True
        await caught_up(found, emulator)
    assert await observed(store, after=before) == [
        ("MODIFIED", "/ConfigMap/default/a", "demo"),
        ("ADDED", "/ConfigMap/default/d", "demo"),
        ("DELETED", "/ConfigMap/default/b", "demo"),
    ]
    async with running(cluster_config, store) as found:
        assert await found.wait_synced("sim", [CM], 10) is True
    assert len(await observed(store, after=before)) == 3


async def test_expired_watch_relists_and_records_watch_restarted(
    kube: kubeclient.KubeClient,
    emulator: Emulator,
    cluster_config: settings.ClusterConfig,
    store: eventstore.EventStore,
) -> None:
    """A resume answered 410 Expired relists: WatchRestarted, then what changed while blind."""
    await kube.apply(configmap("a", labels=LABEL))
    await kube.apply(configmap("b", labels=LABEL))
    async with running(cluster_config, store) as found:
        assert await found.wait_synced("sim", [CM], 10) is True
        # Synchronously, so the informer cannot reconnect in between: cut the watch,
        # change things, and forget the history it would resume from.
        emulator.drop_watches(abort=True)
        rt = emulator.api.catalog.find("", "v1", "configmaps")
        assert rt is not None
        opts = sim_api.WriteOptions(manager="test")
        emulator.api.create(rt, "default", configmap("c", labels=LABEL), opts)
        emulator.api.delete(rt, "default", "b", sim_api.DeleteOptions())
        emulator.compact()
        await caught_up(found, emulator)
    assert await observed(store) == [
        ("ADDED", "/ConfigMap/default/a", "demo"),
        ("ADDED", "/ConfigMap/default/b", "demo"),
        ("WatchRestarted", "configmaps", "expired"),
        ("ADDED", "/ConfigMap/default/c", "demo"),
        ("DELETED", "/ConfigMap/default/b", "demo"),
    ]


async def test_dropped_watches_resume_without_relisting(
    kube: kubeclient.KubeClient,
    emulator: Emulator,
    cluster_config: settings.ClusterConfig,
    store: eventstore.EventStore,
) -> None:
    """A cut or ended watch resumes from its last resourceVersion: no relist, nothing missed."""
    async with running(cluster_config, store) as found:
        assert await found.wait_synced("sim", [CM], 10) is True
        for name in ("a", "b"):
            emulator.drop_watches(abort=name == "a")
            await kube.apply(configmap(name, labels=LABEL))
            await caught_up(found, emulator)
    assert await observed(store) == [
        ("ADDED", "/ConfigMap/default/a", "demo"),
        ("ADDED", "/ConfigMap/default/b", "demo"),
    ]
    lists = [r for r in emulator.requests if r.path == "/api/v1/configmaps" and r.verb == "list"]
    assert len(lists) == 1


async def test_a_crd_kind_is_watched_once_established(
    kube: kubeclient.KubeClient,
    emulator: Emulator,
    cluster_config: settings.ClusterConfig,
    store: eventstore.EventStore,
) -> None:
    """A wanted kind not served yet is picked up when its CRD appears (discovery refreshed)."""
    crd_kind = ("apiextensions.k8s.io/v1", "CustomResourceDefinition")
    widget_kind = ("example.com/v1", "Widget")
    async with running(cluster_config, store) as found:
        found.ensure("sim", [crd_kind, widget_kind])
        assert await found.wait_synced("sim", [widget_kind], 10) is True  # not served: none exist
        await kube.apply(widget_crd())
        await emulator.idle()  # Established
        widget = {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w", "namespace": "default", "labels": LABEL},
            "spec": {"size": 1},
        }
        await kube.apply(widget)
        await caught_up(found, emulator, widget_kind)
    recorded = await observed(store)
    assert ("ADDED", "example.com/Widget/default/w", "demo") in recorded
    assert recorded[0] == (
        "ADDED",
        "apiextensions.k8s.io/CustomResourceDefinition//widgets.example.com",
        "demo",
    )


async def test_objects_of_a_kind_no_longer_served_are_recorded_deleted(
    kube: kubeclient.KubeClient,
    emulator: Emulator,
    cluster_config: settings.ClusterConfig,
    store: eventstore.EventStore,
) -> None:
    """A kind whose CRD went while gitopsd was down counts as synced; its objects are DELETED."""
    widget_kind = ("example.com/v1", "Widget")
    await kube.apply(widget_crd())
    await emulator.idle()
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "default", "labels": LABEL},
    }
    await kube.apply(widget)
    async with running(cluster_config, store) as found:
        assert await found.wait_synced("sim", [widget_kind], 10) is True
    before = await store.stream_version("cluster/sim")
    await kube.delete(
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com")
    )
    await emulator.idle()
    async with running(cluster_config, store) as found:
        assert await found.wait_synced("sim", [widget_kind], 10) is True
        assert found.cluster("sim").view == {}
    assert await observed(store, after=before) == [
        ("DELETED", "example.com/Widget/default/w", "demo"),
    ]


async def test_namespaced_rbac_mode_watches_only_its_namespaces(
    kube: kubeclient.KubeClient,
    emulator: Emulator,
    cluster_config: settings.ClusterConfig,
    store: eventstore.EventStore,
) -> None:
    """With clusters[].namespaces, namespaced kinds are listed and watched per namespace."""
    await kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    await kube.apply(configmap("mine", "team", labels=LABEL))
    await kube.apply(configmap("theirs", labels=LABEL))
    restricted = dataclasses.replace(cluster_config, namespaces=[settings.Name("team")])
    async with running(restricted, store) as found:
        assert await found.wait_synced("sim", [CM], 10) is True
        await kube.apply(configmap("later", "team", labels=LABEL))
        async with asyncio.timeout(10):
            await found.wait_caught_up("sim", *CM, str(emulator.resource_version), namespace="team")
    assert await observed(store) == [
        ("ADDED", "/ConfigMap/team/mine", "demo"),
        ("ADDED", "/ConfigMap/team/later", "demo"),
    ]
    paths = {r.path for r in emulator.requests if r.verb in ("list", "watch")}
    assert "/api/v1/configmaps" not in paths
    assert "/api/v1/namespaces/team/configmaps" in paths


async def test_clients_and_discovery_answers(
    cluster_config: settings.ClusterConfig, store: eventstore.EventStore
) -> None:
    """One shared client per cluster; namespaced() from discovery; unknown clusters named."""
    async with running(cluster_config, store) as found:
        assert found.client("sim") is found.client("sim")
        assert await found.namespaced("sim", "v1", "ConfigMap") is True
        assert await found.namespaced("sim", "v1", "Namespace") is False
        assert await found.namespaced("sim", "example.com/v1", "Widget") is None
        with pytest.raises(KeyError, match="no cluster named 'prod'"):
            found.client("prod")


class GatedAppender:
    """Appends through a writer, holding every append until the gate opens."""

    def __init__(self, inner: writer.Writer) -> None:
        self.inner = inner
        self.gate = asyncio.Event()
        self.sizes: list[int] = []

    async def append(
        self,
        stream: str,
        events: Sequence[object],
        *,
        expected_version: int | None = None,
        meta: ev.EventMeta | None = None,
    ) -> list[int]:
        """Record the batch size, wait for the gate, append."""
        self.sizes.append(len(events))
        await self.gate.wait()
        return await self.inner.append(stream, events, meta=meta)


class CountingBlobs:
    """Counts put_blobs calls on the way to the store."""

    def __init__(self, store: eventstore.EventStore) -> None:
        self.store = store
        self.calls = 0

    async def put_blobs(self, bodies: Mapping[str, bytes]) -> None:
        """Count, then store."""
        self.calls += 1
        await self.store.put_blobs(bodies)


async def test_a_burst_of_watch_events_costs_few_appends(
    kube: kubeclient.KubeClient,
    emulator: Emulator,
    cluster_config: settings.ClusterConfig,
    store: eventstore.EventStore,
) -> None:
    """Events queued while an append is in flight go out together: 150 changes, 2 appends."""
    log_writer = writer.Writer(store)
    writer_task = asyncio.create_task(log_writer.run())
    gated = GatedAppender(log_writer)
    blobs = CountingBlobs(store)
    try:
        async with running(cluster_config, store, appender=gated, blobs=blobs) as found:
            assert await found.wait_synced("sim", [CM], 10) is True  # nothing listed: no append
            for i in range(150):
                await kube.apply(configmap(f"m{i:03d}", labels=LABEL))
            version = str(emulator.resource_version)
            async with asyncio.timeout(10):
                await found.wait_caught_up("sim", *CM, version, recorded=False)
            gated.gate.set()
            async with asyncio.timeout(10):
                await found.wait_caught_up("sim", *CM, version)
    finally:
        writer_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer_task
    assert (len(gated.sizes), sum(gated.sizes), blobs.calls) == (2, 150, 2)
    assert len(await observed(store)) == 150


async def test_unreachable_and_reachable_are_recorded_once_each(
    tmp_path: Path, store: eventstore.EventStore
) -> None:
    """A stopped API server is recorded unreachable once; back up, reachable once, then in sync."""
    kubeconfig = tmp_path / "kubeconfig"
    saved = tmp_path / "sim-state.json"
    tokens = {"fixed-token": "admin"}
    cluster = settings.ClusterConfig(name=settings.Name("sim"), kubeconfig=str(kubeconfig))
    async with contextlib.AsyncExitStack() as first:
        sim = await first.enter_async_context(
            run_emulator(kubeconfig=kubeconfig, state=saved, tokens=tokens)
        )
        async with await kubeclient.connect(cluster) as kube:
            await kube.apply(configmap("a", labels=LABEL))
        async with running(cluster, store) as found:
            assert await found.wait_synced("sim", [CM], 10) is True
            await first.aclose()  # the API server goes away
            await next_event(store, ev.ClusterUnreachable)
            async with run_emulator(
                kubeconfig=kubeconfig, state=saved, tokens=tokens, port=sim.port
            ) as again:
                async with await kubeclient.connect(cluster) as kube:
                    await kube.apply(configmap("b", labels=LABEL))
                await next_event(store, ev.ClusterReachable)
                await caught_up(found, again)
    recorded = await observed(store)
    assert [r for r in recorded if r[0].startswith("Cluster")] == [
        ("ClusterUnreachable",),
        ("ClusterReachable",),
    ]
    assert ("ADDED", "/ConfigMap/default/b", "demo") in recorded


async def next_event(store: eventstore.EventStore, kind: type[ev.EventBase]) -> ev.Recorded:
    """The first event of ``kind`` in the log, waiting for it to be committed."""
    async with asyncio.timeout(20):
        async for item in store.subscribe(0):
            if isinstance(item.event, kind):
                return item
    raise AssertionError("the subscription ended")


async def test_the_daemon_runs_informers_for_its_clusters(
    tmp_path: Path,
    kube: kubeclient.KubeClient,
    cluster_config: settings.ClusterConfig,
    store: eventstore.EventStore,
) -> None:
    """`gitopsd run` supervises the informers: a kind ensured on a configured cluster is recorded."""
    await kube.apply(configmap("a", labels=LABEL))
    config = settings.Config(
        state_dir=str(tmp_path),
        http=settings.HttpConfig(listen="127.0.0.1:0"),
        clusters=[cluster_config],
    )
    daemon = main.Daemon(config, store)
    serving = asyncio.create_task(daemon.serve())
    try:
        async with asyncio.timeout(30):
            await daemon.ready.wait()
            assert daemon.informers is not None
            daemon.informers.ensure("sim", [CM])
            assert await daemon.informers.wait_synced("sim", [CM], 10) is True
        assert daemon.keeper.state.clusters["sim"].objects["/ConfigMap/default/a"].app == "demo"
    finally:
        daemon.stop()
        await asyncio.wait_for(serving, 30)
    assert await observed(store) == [("ADDED", "/ConfigMap/default/a", "demo")]
