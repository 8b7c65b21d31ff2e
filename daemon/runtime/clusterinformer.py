"""One cluster's informer: its watchers, its reachability and its batched recording.

``informers.Informers`` makes one per configured cluster and routes the reconciler's
questions to it; the behaviour (list, diff, watch, resume, relist, reachability,
batching) is described there. Here: a ``_Watch`` per kind (resolved through discovery,
then one ``_Stream`` per namespace, or one for all), the log's view of the cluster's
objects (``core.observe.Seen`` per key, taken from the folded state at start and
updated as observations are queued), and the queue that one flusher commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Protocol

from daemon import logs, settings
from daemon.core import events as ev
from daemon.core import ids, kinds, observe
from daemon.core import state as core_state
from daemon.runtime.writer import Appender
from daemon.shell import kubeclient, kubeconfig, kubeerrors
from daemon.shell.kubediscovery import Resource

log = logs.get("informers")

SELECTOR = observe.TRACKING_LABEL
"""Label selector of every watch: objects carrying the tracking label (any app)."""

NOT_SERVED = "kind no longer served"

GroupKind = tuple[str, str]


class BlobStore(Protocol):
    """Where observed bodies go (the event store)."""

    async def put_blobs(self, bodies: Mapping[str, bytes]) -> None:
        """Store bodies by digest."""
        ...


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Timing:
    """Backoffs, watch length and batch sizes (tests shorten them)."""

    backoff: float = 0.5
    max_backoff: float = 30.0
    watch_seconds: int = 300
    probe_interval: float = 30.0
    min_stream: float = 1.0
    """A watch that ends sooner than this without an event counts as a failure (backoff)."""
    max_batch: int = 1000
    max_queue: int = 10_000

    def wait(self, failures: int) -> float:
        """Capped exponential backoff after ``failures`` consecutive failures."""
        return min(self.max_backoff, self.backoff * 2.0 ** max(failures - 1, 0))


def is_api_version(text: str) -> bool:
    """``apps/v1`` or ``v1`` (an apiVersion) rather than ``apps`` or "" (a group)."""
    return "/" in text or text == "v1"


def group_of(text: str) -> str:
    """The group of an apiVersion or group."""
    return text.rpartition("/")[0] if is_api_version(text) else text


def resource_name(res: Resource) -> str:
    """``deployments.apps``, or ``configmaps`` for the core group (as kubectl names them)."""
    return f"{res.plural}.{res.group}" if res.group else res.plural


@dataclasses.dataclass(slots=True)
class _Stream:
    """One list+watch (a namespace, or "" for all) of a watched kind."""

    listed: bool = False
    version: int = 0


@dataclasses.dataclass(slots=True)
class _Watch:
    """A watched kind and its streams (known once discovery resolved the kind)."""

    api_version: str
    kind: str
    task: asyncio.Task[None] | None = None
    streams: dict[str, _Stream] | None = None
    unserved: bool = False
    """Discovery says the cluster does not serve the kind: none of it exists (synced)."""

    def is_synced(self, version: int | None, namespace: str) -> bool:
        if self.unserved:
            return version is None  # an object at a version means the kind is served now
        if self.streams is None:
            return False
        streams = list(self.streams.values())
        if namespace and namespace in self.streams:
            streams = [self.streams[namespace]]
        return all(s.listed and (version is None or s.version >= version) for s in streams)


class ClusterInformer:
    """One cluster: its watchers, its reachability and its batched recording."""

    def __init__(
        self,
        config: settings.ClusterConfig,
        *,
        client: kubeclient.KubeClient,
        appender: Appender,
        blobs: BlobStore,
        state: core_state.State,
        meta: ev.EventMeta,
        timing: Timing,
    ) -> None:
        """An informer for ``config``'s cluster; the log's view is read when it runs."""
        self.config = config
        self.name = config.name
        self.client = client
        self.stream = ids.cluster_stream(config.name)
        self._appender = appender
        self._blobs = blobs
        self._state = state
        self._meta = meta
        self.timing = timing
        self.view: dict[str, observe.Seen] = {}
        self.down: str | None = None
        self.answering: bool | None = None
        """Whether this process's last request was answered (None: none yet). Unlike
        ``down``, which the log carries over a restart, it says what this run has seen."""
        self._watches: dict[GroupKind, _Watch] = {}
        self._group: asyncio.TaskGroup | None = None
        self._key = b""
        self._queue: list[ev.EventBase] = []
        self._queued_blobs: dict[str, bytes] = {}
        self._changed = asyncio.Condition()
        self._crd_seen = asyncio.Event()
        self.queued = 0
        self.committed = 0
        self.position = 0
        self.flushes = 0

    # -- what to watch ----------------------------------------------------------------

    def ensure(self, api_version: str, kind: str) -> _Watch:
        """The watch of ``kind`` (started when the informer runs)."""
        gk = (group_of(api_version), kind)
        watch = self._watches.get(gk)
        if watch is None:
            watch = self._watches[gk] = _Watch(api_version, kind)
            self._start(watch)
        elif is_api_version(api_version) and not is_api_version(watch.api_version):
            watch.api_version = api_version  # resolve at the version apps use
        return watch

    def _start(self, watch: _Watch) -> None:
        if self._group is not None and watch.task is None:
            name = f"informers/{self.name}/{watch.kind}"
            watch.task = self._group.create_task(self._watch_kind(watch), name=name)

    async def wait(
        self, watch: _Watch, *, version: int | None, namespace: str = "", recorded: bool = True
    ) -> int:
        """Wait for ``watch`` to be listed (and at ``version``); return the covering position."""
        async with self._changed:
            await self._changed.wait_for(lambda: watch.is_synced(version, namespace))
            goal = self.queued
            if recorded:
                await self._changed.wait_for(lambda: self.committed >= goal)
            return self.position

    def unlisted(self) -> int:
        """How many watched kinds have not been listed yet."""
        return sum(1 for w in self._watches.values() if not w.is_synced(None, ""))

    async def settle(self) -> int | None:
        """Wait until every watched kind is listed and recorded, or the cluster fails to answer.

        Returns the log position that covers the lists, or None when the cluster did not
        answer first (unreachable, a 503). Kinds ensured meanwhile are waited for too.
        """
        async with self._changed:
            await self._changed.wait_for(lambda: self.answering is False or not self.unlisted())
            if self.unlisted():
                return None
            goal = self.queued
            await self._changed.wait_for(lambda: self.committed >= goal)
            return self.position

    # -- running ----------------------------------------------------------------------

    async def run(self, secret_key: bytes) -> None:
        """Watch what is wanted until cancelled."""
        self._key = secret_key
        folded = self._state.clusters.get(self.name)
        if folded is not None:
            self.view = observe.seen_from_state(folded.objects)
            self.down = folded.unreachable
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                group.create_task(self._flusher(), name=f"informers/{self.name}/flush")
                group.create_task(self._probe(), name=f"informers/{self.name}/probe")
                for watch in self._watches.values():
                    self._start(watch)
        finally:
            self._group = None
            for watch in self._watches.values():
                watch.task = None

    async def _probe(self) -> None:
        while True:
            try:
                await self.client.server_version()
                await self._reachable()
            except kubeerrors.KubeError as exc:
                await self._failed(exc)
            await asyncio.sleep(self.timing.probe_interval)

    async def _watch_kind(self, watch: _Watch) -> None:
        failures = 0
        while True:
            try:
                res = await self._resolve(watch)
                break
            except kubeerrors.NoKindMatchError:
                failures += 1
                if not watch.unserved:
                    await self._vanished(observe.Scope(group_of(watch.api_version), watch.kind))
                    async with self._changed:
                        watch.unserved = True
                        self._changed.notify_all()
                await self._await_crd(self.timing.wait(failures))
            except kubeerrors.KubeError as exc:
                failures += 1
                await self._failed(exc)
                await asyncio.sleep(self.timing.wait(failures))
        namespaces = [""]
        if res.namespaced and self.config.namespaces:
            namespaces = list(self.config.namespaces)
        async with self._changed:
            watch.streams = {ns: _Stream() for ns in namespaces}
            watch.unserved = False
        async with asyncio.TaskGroup() as group:
            for ns, stream in watch.streams.items():
                group.create_task(self._watch_stream(res, ns, stream))

    async def _resolve(self, watch: _Watch) -> Resource:
        if is_api_version(watch.api_version):
            return await self.client.resource_for(watch.api_version, watch.kind)
        return await self.client.resource_for_group_kind(watch.api_version, watch.kind)

    async def _watch_stream(self, res: Resource, namespace: str, st: _Stream) -> None:
        """List, record the differences, watch; resume, relist or back off as answers say."""
        scope = observe.Scope(res.group, res.kind, namespace)
        version = ""
        restart: str | None = None
        failures = 0
        loop = asyncio.get_running_loop()
        while True:
            try:
                if not version:
                    version = await self._list(res, scope, st, restart)
                    restart = None
                started, seen = loop.time(), 0
                stream = self.client.watch(
                    res,
                    resource_version=version,
                    label_selector=SELECTOR,
                    namespace=namespace,
                    timeout_seconds=self.timing.watch_seconds,
                )
                async with contextlib.aclosing(stream):
                    async for event in stream:
                        seen += 1
                        version = await self._record(res, event, st) or version
                await self._reachable()
                quick = not seen and loop.time() - started < self.timing.min_stream
                failures = failures + 1 if quick else 0
            except kubeerrors.ExpiredError:
                version, restart = "", "expired"
                continue
            except kubeerrors.NoKindMatchError:
                if restart != NOT_SERVED:
                    await self._vanished(scope, st)  # its CRD went: none of it exists
                version, restart = "", NOT_SERVED
                failures += 1
                await self._await_crd(self.timing.wait(failures))
                continue
            except kubeerrors.KubeError as exc:
                failures += 1
                if await self._failed(exc):
                    version, restart = "", f"{exc.reason} ({exc.code})"
            if failures:
                await asyncio.sleep(self.timing.wait(failures))

    async def _list(
        self, res: Resource, scope: observe.Scope, st: _Stream, restart: str | None
    ) -> str:
        items, version = await self.client.list(
            res, label_selector=SELECTOR, namespace=scope.namespace
        )
        await self._reachable()
        found = observe.relist(
            self.name,
            items,
            scope=scope,
            known=self.view,
            resource_version=version,
            secret_key=self._key,
        )
        events: list[ev.EventBase] = []
        if restart is not None:
            events.append(
                ev.WatchRestarted(cluster=self.name, resource=resource_name(res), reason=restart)
            )
            log.info(
                "informer.relisted", cluster=self.name, resource=resource_name(res), reason=restart
            )
        await self._queue_observations(found, events=events, st=st, version=version, listed=True)
        return version

    async def _record(self, res: Resource, event: kubeclient.WatchEvent, st: _Stream) -> str:
        """Queue what a watch event tells; returns its resourceVersion."""
        version = str((event.obj.get("metadata") or {}).get("resourceVersion") or "")
        found: list[observe.Observation] = []
        if event.type in ("ADDED", "MODIFIED"):
            key = ids.key_of(event.obj)
            found = observe.observe(
                self.name, event.obj, known=self.view.get(key), secret_key=self._key
            )
            if (res.group, res.kind) == kinds.CRD_GROUP_KIND:
                self._crd_seen.set()  # a pending kind may be served now
        elif event.type == "DELETED":
            key = ids.key_of(event.obj)
            known = self.view.get(key)
            if known is not None:
                found = [observe.deleted(self.name, key, known=known, resource_version=version)]
        await self._queue_observations(found, st=st, version=version)
        return version

    async def _vanished(self, scope: observe.Scope, st: _Stream | None = None) -> None:
        """Record every known object of ``scope`` as DELETED: its kind is not served."""
        found = observe.relist(
            self.name, [], scope=scope, known=self.view, resource_version="", secret_key=self._key
        )
        if found:
            log.info(
                "informer.kind_not_served", cluster=self.name, kind=scope.kind, objects=len(found)
            )
        await self._queue_observations(found, st=st, version="")

    async def _await_crd(self, timeout: float) -> None:
        """Wait for a CRD to be observed, or ``timeout`` seconds."""
        self._crd_seen.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._crd_seen.wait()

    # -- reachability -----------------------------------------------------------------

    async def _failed(self, exc: kubeerrors.KubeError) -> bool:
        """Note a failed request; True when the stream should relist (not a lost connection)."""
        if isinstance(exc, kubeerrors.UnreachableError | kubeconfig.ClusterConfigError) or (
            exc.code == 503
        ):
            async with self._changed:
                self.answering = False
                self._changed.notify_all()
            if self.down is None:
                self.down = exc.describe()
                log.warning("cluster.unreachable", cluster=self.name, error=self.down)
                await self._enqueue([ev.ClusterUnreachable(cluster=self.name, error=self.down)])
            return False
        log.warning("informer.failed", cluster=self.name, error=exc.describe())
        return True

    async def _reachable(self) -> None:
        self.answering = True
        if self.down is not None:
            self.down = None
            log.info("cluster.reachable", cluster=self.name)
            await self._enqueue([ev.ClusterReachable(cluster=self.name)])

    # -- batched recording ------------------------------------------------------------

    async def _queue_observations(
        self,
        found: Sequence[observe.Observation],
        *,
        st: _Stream | None,
        version: str,
        events: Sequence[ev.EventBase] = (),
        listed: bool = False,
    ) -> None:
        blobs: dict[str, bytes] = {}
        out = list(events)
        for item in found:
            observe.remember(self.view, item)
            out.append(item.event)
            if item.body is not None and item.event.digest is not None:
                blobs[item.event.digest] = item.body
        await self._enqueue(out, blobs, st=st, version=version_number(version), listed=listed)

    async def _enqueue(
        self,
        events: Sequence[ev.EventBase],
        blobs: Mapping[str, bytes] | None = None,
        *,
        st: _Stream | None = None,
        version: int | None = None,
        listed: bool = False,
    ) -> None:
        """Queue events (waiting while the queue is full) and advance a stream's position."""
        async with self._changed:
            if events:
                await self._changed.wait_for(lambda: len(self._queue) < self.timing.max_queue)
                self._queue.extend(events)
                self._queued_blobs.update(blobs or {})
                self.queued += len(events)
            if st is not None:
                st.listed = st.listed or listed
                if version is not None:
                    st.version = max(st.version, version)
            self._changed.notify_all()

    async def _flusher(self) -> None:
        """Commit what is queued, in batches: one put_blobs and one append per batch."""
        while True:
            async with self._changed:
                await self._changed.wait_for(lambda: bool(self._queue))
                batch = self._queue[: self.timing.max_batch]
                del self._queue[: self.timing.max_batch]
                blobs, self._queued_blobs = self._queued_blobs, {}
                self._changed.notify_all()
            await self._blobs.put_blobs(blobs)
            positions = await self._appender.append(self.stream, batch, meta=self._meta)
            async with self._changed:
                self.committed += len(batch)
                self.position = max(self.position, positions[-1]) if positions else self.position
                self.flushes += 1
                self._changed.notify_all()


def version_number(text: str) -> int | None:
    """A resourceVersion as an integer (etcd's revision), None when it is not one."""
    try:
        return int(text)
    except ValueError:
        return None
