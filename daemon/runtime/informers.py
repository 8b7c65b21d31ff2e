"""Live state: per cluster and kind, list then watch, and record every change in the log.

The reconciler says which kinds matter (``ensure``: the kinds its apps declare or have
applied); for each, a watcher resolves the kind through discovery (while the kind
is not served, none of it exists: known objects of it are recorded DELETED, the kind
counts as synced, and discovery is asked again when a CRD is observed or after a
backoff), lists the objects carrying the tracking label ``gitopsd.io/app`` (per
namespace when the cluster config restricts gitopsd to namespaces, cluster-wide
otherwise), records how the list differs from what the log already knows
(``core.observe.relist``: a restart records differences, not everything again), then
watches from the list's resourceVersion. A watch that ends or breaks resumes from the
last resourceVersion seen; a 410 Expired relists and records ``WatchRestarted``; an
answerless or 503 cluster is recorded ``ClusterUnreachable`` once, and ``ClusterReachable`` once it
answers again (a probe of ``/version`` keeps that current for idle clusters too).

Recording is batched per cluster: watchers queue observations, and one flusher per
cluster stores the queued bodies with one ``put_blobs`` and the queued events with one
append through the daemon's group-commit writer, so a burst of watch events costs a
few transactions. The queue is bounded (watchers wait when it is full). Events not
yet committed at shutdown are not lost: the next start's relist records them.

This module also hands out the per-cluster clients (one rate limiter per cluster,
shared with the executor) and answers the reconciler's questions: has a kind been
listed and recorded (``wait_synced``), has the informer caught up with a
resourceVersion (``wait_caught_up``), is a kind namespaced (``namespaced``); and the
start-up's: has every cluster that answers listed what is watched (``settle``, and
``unlisted`` for what ``/readyz`` says meanwhile).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable

from daemon import settings
from daemon.core import events as ev
from daemon.core import state as core_state
from daemon.runtime import clusterinformer
from daemon.runtime.writer import Appender
from daemon.shell import digestkey, kubeclient, kubeerrors

OpenClient = Callable[[settings.ClusterConfig], kubeclient.KubeClient]
WaitFolded = Callable[[int], Awaitable[object]]


class Informers:
    """Every cluster's informers, clients and answers about live state."""

    def __init__(
        self,
        config: settings.Config,
        *,
        appender: Appender,
        blobs: clusterinformer.BlobStore,
        state: core_state.State,
        secret_key: bytes | None = None,
        instance: str = "",
        open_client: OpenClient = kubeclient.lazy,
        wait_folded: WaitFolded | None = None,
        timing: clusterinformer.Timing | None = None,
    ) -> None:
        """Clients are made now (lazily connecting); nothing is watched until ``run``."""
        self._config = config
        self._secret_key = secret_key
        self._wait_folded = wait_folded
        self._clusters: dict[str, clusterinformer.ClusterInformer] = {
            str(c.name): clusterinformer.ClusterInformer(
                c,
                client=open_client(c),
                appender=appender,
                blobs=blobs,
                state=state,
                meta=ev.EventMeta(instance=instance or None),
                timing=timing or clusterinformer.Timing(),
            )
            for c in config.clusters
        }

    def cluster(self, name: str) -> clusterinformer.ClusterInformer:
        """The informer of cluster ``name``; KeyError naming the configured clusters."""
        found = self._clusters.get(name)
        if found is None:
            known = ", ".join(sorted(self._clusters)) or "none"
            raise KeyError(f"no cluster named {name!r} in {self._config.path} (defined: {known})")
        return found

    def client(self, cluster: str) -> kubeclient.KubeClient:
        """The cluster's client (shared: one rate limit per cluster)."""
        return self.cluster(cluster).client

    async def namespaced(self, cluster: str, api_version: str, kind: str) -> bool | None:
        """Whether ``kind`` is namespaced, from discovery; None when it is not served."""
        try:
            return await self.client(cluster).is_namespaced(api_version, kind)
        except kubeerrors.NoKindMatchError:
            return None

    def ensure(self, cluster: str, kinds: Iterable[tuple[str, str]]) -> None:
        """Watch these ``(apiVersion or group, kind)`` pairs on ``cluster`` from now on."""
        informer = self.cluster(cluster)
        for api_version, kind in kinds:
            informer.ensure(api_version, kind)

    async def wait_synced(
        self, cluster: str, kinds: Iterable[tuple[str, str]], timeout: float
    ) -> bool:
        """True once every kind is listed and its differences recorded (and folded).

        Starts watching kinds not watched yet. A kind the cluster does not serve counts
        as synced: none of it can exist (known objects of it are recorded DELETED), and
        its watch starts when a CRD makes it served. False when ``timeout`` passes first
        (an unreachable cluster, a forbidden list).
        """
        informer = self.cluster(cluster)
        wanted = [informer.ensure(api_version, kind) for api_version, kind in kinds]
        try:
            async with asyncio.timeout(timeout):
                position = 0
                for watch in wanted:
                    position = max(position, await informer.wait(watch, version=None))
                if self._wait_folded is not None:
                    await self._wait_folded(position)
        except TimeoutError:
            return False
        return True

    async def settle(self) -> set[str]:
        """Wait until each cluster has listed its kinds (recorded, folded) or failed to answer.

        Returns the clusters that listed. No timeout: bound it.
        """
        listed: set[str] = set()

        async def one(name: str, informer: clusterinformer.ClusterInformer) -> None:
            position = await informer.settle()
            if position is None:
                return
            if self._wait_folded is not None:
                await self._wait_folded(position)
            listed.add(name)

        async with asyncio.TaskGroup() as group:
            for name, informer in self._clusters.items():
                group.create_task(one(name, informer), name=f"informers/{name}/settle")
        return listed

    def unlisted(self) -> dict[str, int]:
        """Per answering cluster, how many watched kinds are not listed yet (none: left out)."""
        return {
            name: count
            for name, informer in self._clusters.items()
            if informer.answering is not False and (count := informer.unlisted())
        }

    async def wait_caught_up(
        self,
        cluster: str,
        api_version: str,
        kind: str,
        resource_version: str,
        *,
        namespace: str = "",
        recorded: bool = True,
    ) -> int:
        """Wait until the informer has seen ``resource_version`` (e.g. of an apply) or later.

        resourceVersions are compared as integers (etcd revisions; KUBE_API.md §3.1
        keeps them opaque, but every API server serves etcd's). With ``recorded`` also
        wait until what was seen is committed (and folded, when the daemon wires a
        state keeper). Returns the log position that covers it. No timeout: bound it.
        """
        informer = self.cluster(cluster)
        watch = informer.ensure(api_version, kind)
        position = await informer.wait(
            watch,
            version=clusterinformer.version_number(resource_version),
            namespace=namespace,
            recorded=recorded,
        )
        if recorded and self._wait_folded is not None:
            await self._wait_folded(position)
        return position

    async def run(self) -> None:
        """Watch every cluster until cancelled."""
        if not self._clusters:
            return
        key = self._secret_key
        if key is None:
            path = digestkey.path_in(self._config.state_path())
            key = await asyncio.to_thread(digestkey.load_or_create, path)
        try:
            async with asyncio.TaskGroup() as group:
                for name, informer in self._clusters.items():
                    group.create_task(informer.run(key), name=f"informers/{name}")
        finally:
            await self.close()

    async def close(self) -> None:
        """Close every cluster's client."""
        for informer in self._clusters.values():
            await informer.client.close()
