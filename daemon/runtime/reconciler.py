"""The reconcile loop: for each target of each app, fold → plan → decide → record → execute.

An app deploys to every cluster its destination selects (its *targets*, see
``core.targets``); each target is looked at on its own, so a target whose cluster is
unreachable waits alone. A target is looked at again when something it depends on
changes (an event about it or about its app in the log: a render, a pin, a sync
request, one of its objects observed in its cluster), when its retry backoff ends, and
on its periodic resync. Each look:

1. lifts a pin "until a newer commit" when a newer revision was rendered
   (``core.pins``, recorded as ``AppUnpinned``);
2. makes sure the informers watch the kinds the app declares or has applied there, and
   have listed them (the live state in the log is current);
3. computes the plan purely from the folded state (``core.plan.plan_app``) with the
   object bodies from the blob store, and at once, from the same state, the decision
   (``core.triggers.decide``) at the current UTC time;
4. records the target's health when it changes (``core.health`` over the live objects);
5. records a normalization gap once (``NormalizationGapDetected``) and, when the
   decision starts a sync, ``SyncTriggered`` and ``SyncPlanned`` in one append with the
   position of the state they came from, then hands the plan to the executor, which
   records every outcome.

Timers come from the log: a retry is due at the recorded time of the failed sync plus
its backoff, a resync at the last sync's end plus the resync interval, so a restart
keeps the remaining wait. ``gitopsd verify`` replays every decision.

At start, each configured app's policy is recorded when it changed, with the targets
its destination resolves to now (``core.targets.reconfigure``: ``TargetAdded`` /
``TargetRemoved``), and a sync left unfinished by a crash is closed as Aborted; the next
look re-plans from the current state (applying is idempotent, so nothing is applied
twice with different results). Then the informers are asked at once for every kind any
target declares or has applied, and every target is looked at as soon as its kinds are
listed: drift made while gitopsd was down is healed at start. A look waits for its
informers before it takes one of the ``concurrency`` slots, so targets on an unreachable
cluster hold none back. ``started`` and ``first_looks`` tell the start-up gate
(``runtime.warmup``) how far this is.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from daemon import logs, settings
from daemon.core import codec, health, ids, manifests, pins, plan, triggers
from daemon.core import events as ev
from daemon.core import fold as core_fold
from daemon.core import state as core_state
from daemon.core import targets as core_targets
from daemon.runtime import informers as informers_mod
from daemon.runtime import statekeeper, writer
from daemon.shell import eventstore, executor, gitsource
from daemon.shell.render import pool as renderpool

log = logs.get("reconciler")

DEFAULT_CONCURRENCY = 16
LIST_WAIT = 60.0
"""Seconds a look waits for its informers to list before it is put back (and retried)."""
HEALTH_TIMEOUT = 300.0
BLOB_CACHE = 200_000

Work = tuple[str, str]
"""(app, target): the unit the loop looks at."""


def utc_now() -> dt.datetime:
    """The UTC wall clock: the time decisions are made at (recorded with them)."""
    return dt.datetime.now(dt.UTC)


def policy_of(app: settings.AppConfig, *, cluster: str = "", namespace: str = "") -> plan.Policy:
    """The decision-relevant settings of an app (``cluster``/``namespace``: one target's)."""
    return plan.Policy(
        cluster=cluster,
        namespace=namespace or app.destination.namespace,
        auto=app.sync.auto,
        prune=app.sync.prune,
        self_heal=app.sync.self_heal,
        allow_recreate=app.sync.allow_recreate,
        create_namespace=app.sync.create_namespace,
        namespaces=tuple(app.restrictions.namespaces),
        allowed_kinds=tuple(app.restrictions.allowed_kinds),
        denied_kinds=tuple(app.restrictions.denied_kinds),
        cluster_scoped=app.restrictions.cluster_scoped,
        retry_limit=app.sync.retry.limit,
        retry_backoff=float(app.sync.retry.backoff),
        retry_max_backoff=float(app.sync.retry.max_backoff),
        resync=float(app.sync.resync),
    )


def recorded_policy(config: settings.Config, app: settings.AppConfig) -> dict[str, Any]:
    """The policy JSON an AppConfigured records for ``app``, with its targets resolved now."""
    return plan.app_policy(policy_of(app), settings.targets_of(config, app))


@dataclasses.dataclass(slots=True)
class _TargetRuntime:
    """What the loop remembers about a target between looks (timers, not state)."""

    running: bool = False
    wake_at: dt.datetime | None = None
    """A retry backoff ends then (from the log)."""
    resync_at: dt.datetime | None = None
    """The periodic resync is due then."""
    periodic: bool = False
    """The resync timer called for the next look."""
    pin_render_asked: str | None = None
    looked: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    """Set by the first look since the start that got past its informers (its plan is
    made, and recorded when it syncs), or that failed."""


@dataclasses.dataclass(slots=True)
class _AppRuntime:
    """An app's configuration and its targets' runtimes."""

    config: settings.AppConfig
    targets: dict[str, _TargetRuntime] = dataclasses.field(default_factory=dict)


class Reconciler:
    """Runs the reconcile loop for every target of every configured app."""

    def __init__(
        self,
        config: settings.Config,
        *,
        store: eventstore.EventStore,
        appender: writer.Appender,
        keeper: statekeeper.StateKeeper,
        informers: informers_mod.Informers,
        pool: renderpool.RenderPool,
        render_at: Callable[[settings.AppConfig, str], Any] | None = None,
        instance: str | None = None,
        now: Callable[[], dt.datetime] = utc_now,
        concurrency: int = DEFAULT_CONCURRENCY,
        health_timeout: float = HEALTH_TIMEOUT,
    ) -> None:
        """Reconcile ``config.apps`` on the state ``keeper`` folds."""
        self._config = config
        self._store = store
        self._appender = appender
        self._keeper = keeper
        self._informers = informers
        self._render_at = render_at
        self._pool = pool
        self._now = now
        self._meta = ev.EventMeta(actor="gitopsd", instance=instance)
        self._apps: dict[str, _AppRuntime] = {
            str(a.name): _AppRuntime(config=a) for a in config.apps
        }
        self._dirty: set[Work] = set()
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(concurrency)
        self._blobs: dict[str, Any] = {}
        self._health_timeout = health_timeout
        self._tasks: set[asyncio.Task[None]] = set()
        self._app_of_key: dict[str, str] = {}
        keeper.listeners.append(self._on_event)
        self.started = asyncio.Event()
        """Set once ``start`` is done: policies recorded, every target's kinds watched."""
        self.syncs = 0
        """Syncs run (for metrics and tests)."""

    # -- events -> dirty targets --------------------------------------------------------

    def _on_event(self, recorded: ev.Recorded) -> None:
        event = recorded.event
        if isinstance(event, ev.ObjectObserved):
            name = event.app or self._app_of_key.get(event.key)
            if name is not None:
                self._mark(name, event.cluster)
            return
        name = getattr(event, "app", None)
        if name is None or name not in self._apps:
            return
        if isinstance(event, ev.ObjectApplied):
            self._app_of_key[event.key] = name
        if isinstance(event, ev.TargetAdded | ev.TargetRemoved | ev.AppConfigured):
            self._sync_targets(name)
        target = getattr(event, "target", None)
        if target is None:  # about the app as a whole (a render, its policy)
            for cluster in self._apps[name].targets:
                self._mark(name, cluster)
            return
        app = self._keeper.state.apps.get(name)
        if not target and app is not None:
            target = core_fold.legacy_cluster(app)
        self._mark(name, target)

    def _mark(self, app: str, target: str) -> None:
        rt = self._apps.get(app)
        if rt is not None and target in rt.targets:
            self._dirty.add((app, target))
            self._wake.set()

    def _sync_targets(self, name: str) -> None:
        """Give every target the folded state has a runtime (and drop those it lost)."""
        rt = self._apps[name]
        app = self._keeper.state.apps.get(name)
        present = set(app.targets) if app is not None else set()
        for cluster in present - set(rt.targets):
            rt.targets[cluster] = _TargetRuntime()
            self._dirty.add((name, cluster))
            self._wake.set()
        for cluster in set(rt.targets) - present:
            if not rt.targets[cluster].running:
                rt.targets[cluster].looked.set()
                del rt.targets[cluster]

    def request(self, app: str) -> None:
        """Look at every target of ``app`` soon (a webhook, a test)."""
        for cluster in self._apps[app].targets if app in self._apps else ():
            self._mark(app, cluster)

    # -- the loop -----------------------------------------------------------------------

    async def run(self) -> None:
        """Reconcile until cancelled."""
        await self.start()
        try:
            while True:
                timeout = self._next_timer()
                # asyncio.timeout, not wait_for: 3.11's wait_for can lose a cancellation
                # that races with the inner wait finishing, and then shutdown hangs.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._wake.wait()
                self._wake.clear()
                await self.cycle()
        finally:
            for task in list(self._tasks):
                task.cancel()
            for task in list(self._tasks):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def start(self) -> None:
        """Record changed policies and target sets, and close syncs a crash left open."""
        state = self._keeper.state
        appends = []
        for name, rt in self._apps.items():
            app = state.apps.get(name)
            policy = recorded_policy(self._config, rt.config)
            events = core_targets.reconfigure(
                app, name=name, policy=policy, digest=codec.digest(policy), position=state.position
            )
            for target in app.targets.values() if app is not None else ():
                if target.sync is not None:
                    events.append(_aborted(name, target))
            if events:
                appends.append(self._append(name, events))
        # Concurrently: the writer commits them in a few transactions, not one per app.
        await asyncio.gather(*appends)
        await self._keeper.wait_for(await self._store.last_position())
        now = self._now()
        for name, rt in self._apps.items():
            self._sync_targets(name)
            app = state.apps.get(name)
            for cluster, trt in rt.targets.items():
                known = app.targets.get(cluster) if app is not None else None
                trt.resync_at = _resync_due(rt.config, known, now)
                for key in known.inventory if known is not None else ():
                    self._app_of_key[key] = name
        await self._watch_declared()
        self.started.set()
        # Every target is dirty: look now (each waits for its informers), not at the first
        # new event, which may never come (a `gitopsd sync` or a commit recorded while no
        # daemon ran is due already).
        self._dirty.update((n, c) for n, rt in self._apps.items() for c in rt.targets)
        self._wake.set()

    async def _watch_declared(self) -> None:
        """Ask the informers for every kind a target declares or has applied, before any look."""
        state = self._keeper.state
        declared = {name: _declared(state.apps.get(name)) for name in self._apps}
        await self._bodies(d for objects in declared.values() for d in objects.values())
        for name, rt in self._apps.items():
            app = state.apps.get(name)
            if app is None:
                continue
            for cluster in rt.targets:
                kinds = await self._kinds(app.targets[cluster], declared[name])
                try:
                    self._informers.ensure(cluster, kinds)
                except KeyError as exc:  # an unchecked config: its looks fail and say so too
                    log.error(  # noqa: TRY400
                        "reconcile.failed", app=name, target=cluster, error=str(exc.args[0])
                    )

    async def first_looks(self, clusters: Collection[str]) -> None:
        """Wait until every target on ``clusters`` has been looked at once since the start."""
        waits = [
            self._apps[name].targets[cluster].looked.wait()
            for name, cluster in self._unlooked(clusters)
            if cluster in self._apps[name].targets
        ]
        await asyncio.gather(*waits)

    def unlooked(self, clusters: Collection[str] | None = None) -> list[str]:
        """The apps with a target (on ``clusters``, if given) not looked at yet since the start."""
        return sorted({name for name, _ in self._unlooked(clusters)})

    def _unlooked(self, clusters: Collection[str] | None) -> list[Work]:
        return [
            (name, cluster)
            for name, rt in self._apps.items()
            for cluster, trt in rt.targets.items()
            if not trt.looked.is_set() and (clusters is None or cluster in clusters)
        ]

    async def cycle(self) -> None:
        """Look at every target that is due now (each in its own task, bounded)."""
        now = self._now()
        for name, rt in self._apps.items():
            for cluster, trt in rt.targets.items():
                if trt.wake_at is not None and now >= trt.wake_at:
                    trt.wake_at = None
                    self._dirty.add((name, cluster))
                if trt.resync_at is not None and now >= trt.resync_at:
                    trt.resync_at = now + dt.timedelta(seconds=float(rt.config.sync.resync))
                    trt.periodic = True
                    self._dirty.add((name, cluster))
        due = [
            w
            for w in sorted(self._dirty)
            if w[1] in self._apps[w[0]].targets and not self._apps[w[0]].targets[w[1]].running
        ]
        self._dirty.difference_update(due)
        self._dirty = {w for w in self._dirty if w[1] in self._apps[w[0]].targets}
        for name, cluster in due:
            self._apps[name].targets[cluster].running = True
            task = asyncio.create_task(
                self._look(name, cluster), name=f"reconcile:{name}@{cluster}"
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _next_timer(self) -> float:
        now = self._now()
        times = [
            t
            for rt in self._apps.values()
            for trt in rt.targets.values()
            for t in (trt.wake_at, trt.resync_at)
            if t is not None
        ]
        if not times:
            return 60.0
        return max(0.05, min(60.0, (min(times) - now).total_seconds()))

    async def idle(self) -> None:
        """Wait until no look is running and nothing is dirty (tests, benchmarks)."""
        while self._tasks or self._dirty:
            if self._dirty and not self._tasks:
                await self.cycle()
            await asyncio.sleep(0.01)

    async def _look(self, name: str, cluster: str) -> None:
        rt = self._apps[name]
        trt = rt.targets[cluster]
        listed = False
        try:
            with logs.bound(app=name, target=cluster):
                # Outside the slots: a target waiting for an unreachable cluster holds none.
                listed = await self._wait_informers(name, cluster)
                if listed:
                    async with self._slots:
                        await self.reconcile(name, cluster)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            listed = True  # looked at, and failed: retried, and not waited for at start
            log.exception(
                "reconcile.failed", app=name, target=cluster, error=f"{type(exc).__name__}: {exc}"
            )
            trt.wake_at = self._now() + dt.timedelta(seconds=float(rt.config.sync.retry.backoff))
            self._wake.set()
        finally:
            trt.running = False
            if listed:
                trt.looked.set()
            if (name, cluster) in self._dirty:
                self._wake.set()
            if cluster not in (self._keeper.state.apps.get(name) or _NO_APP).targets:
                self._sync_targets(name)

    # -- one look ----------------------------------------------------------------------------

    async def reconcile(self, name: str, cluster: str | None = None) -> ev.SyncFinished | None:
        """Look at one target now (the app's only one when ``cluster`` is None).

        Records health, a lifted pin or a normalization gap, and syncs when due;
        returns the sync's end if any.
        """
        rt = self._apps[name]
        if cluster is None:
            (cluster,) = rt.targets
        trt = rt.targets[cluster]
        periodic, trt.periodic = trt.periodic, False
        state = self._keeper.state
        app = state.apps.get(name)
        found = app.targets.get(cluster) if app is not None else None
        if app is None or app.policy is None or found is None:
            return None
        target = found
        unpin = pins.lift(app, target, position=state.position)
        if unpin is not None:
            log.info("pin.lifted", app=name, target=cluster, reason=unpin.reason)
            await self._append(name, [unpin])
            return None  # the AppUnpinned makes the target dirty: the next look converges
        if target.pinned is not None and target.pinned not in app.pinned_renders:
            await self._render_pin(trt, rt.config, target.pinned)
            return None
        revision, desired = app.converge_on(target)
        if revision is None or desired is None:
            return None
        if not await self._wait_informers(name, cluster):
            return None
        scopes = await self._scopes(cluster, desired)
        app_plan, position, decision, now = await self._plan(state, name, cluster, scopes, periodic)
        if app_plan is None or decision is None:
            return None
        await self._record_health(name, target, app_plan)
        if decision.gap and decision.gap != target.gap_keys:
            log.warning("reconcile.normalization_gap", app=name, target=cluster, keys=decision.gap)
            gap = ev.NormalizationGapDetected(
                app=name,
                target=cluster,
                keys=decision.gap,
                state_position=position,
                scopes=dict(scopes),
            )
            await self._append(name, [gap])
        if decision.wait_until is not None:
            trt.wake_at = decision.wait_until
            self._wake.set()  # the loop sleeps until its soonest timer: this one may be sooner
        if decision.reason is None:
            return None
        return await self._sync(
            rt, cluster, app_plan, reason=decision.reason, scopes=scopes, position=position, now=now
        )

    async def _wait_informers(self, name: str, cluster: str) -> bool:
        """Wait until the kinds the target declares or has applied are listed (and folded).

        False, with the target dirty again, when they are not within ``LIST_WAIT``.
        """
        app = self._keeper.state.apps.get(name)
        target = app.targets.get(cluster) if app is not None else None
        if app is None or target is None:
            return True  # nothing rendered or applied: nothing to wait for
        kinds = await self._kinds(target, app.converge_on(target)[1] or {})
        if await self._informers.wait_synced(cluster, kinds, LIST_WAIT):
            return True
        log.info("reconcile.waiting_for_informers", app=name, target=cluster)
        self._dirty.add((name, cluster))
        return False

    async def _kinds(
        self, target: core_state.TargetState, desired: Mapping[str, str]
    ) -> list[tuple[str, str]]:
        bodies = await self._bodies(desired.values())
        kinds = {(str(b.get("apiVersion", "")), str(b.get("kind", ""))) for b in bodies.values()}
        for key in target.inventory:
            parts = ids.parse_key(key)
            if not any(k == parts.kind and _group(v) == parts.group for v, k in kinds):
                kinds.add((parts.group, parts.kind))
        return sorted(kinds)

    async def _scopes(self, cluster: str, desired: Mapping[str, str]) -> dict[str, bool]:
        """Scopes of custom kinds the app uses, from discovery (recorded in SyncPlanned)."""
        bodies = await self._bodies(desired.values())
        declared = plan.crd_scopes(bodies.values())
        out: dict[str, bool] = {}
        for body in bodies.values():
            api_version, kind = str(body.get("apiVersion", "")), str(body.get("kind", ""))
            gk = f"{_group(api_version)}/{kind}"
            if gk in out or gk in declared or plan.scope_of(gk, {}) is not None:
                continue
            namespaced = await self._informers.namespaced(cluster, api_version, kind)
            if namespaced is not None:
                out[gk] = namespaced
        return out

    async def _plan(
        self,
        state: core_state.State,
        name: str,
        cluster: str,
        scopes: Mapping[str, bool],
        periodic: bool,
    ) -> tuple[plan.AppPlan | None, int, triggers.Decision | None, dt.datetime]:
        """The plan, the position of the state it came from, and the decision over both.

        The keeper folds into ``state`` between awaits, so the position, the plan and
        the decision are taken in one synchronous step: that is what ``gitopsd verify``
        replays.
        """
        for _ in range(5):
            try:
                return self._decide(state, name, cluster, scopes, periodic=periodic)
            except plan.MissingBlobsError as missing:
                await self._bodies(missing.digests)
        return self._decide(state, name, cluster, scopes, periodic=periodic)

    def _decide(
        self,
        state: core_state.State,
        name: str,
        cluster: str,
        scopes: Mapping[str, bool],
        *,
        periodic: bool,
    ) -> tuple[plan.AppPlan | None, int, triggers.Decision | None, dt.datetime]:
        now = self._now()
        app_plan = plan.plan_app(state, name, target=cluster, blobs=self._blobs, scopes=scopes)
        if app_plan is None:
            return None, state.position, None, now
        objects = state.clusters.get(cluster)
        decision = triggers.decide(
            target=state.apps[name].targets[cluster],
            app_plan=app_plan,
            live=objects.objects if objects is not None else {},
            now=now,
            periodic=periodic,
        )
        return app_plan, state.position, decision, now

    async def _bodies(self, digests: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = set(digests)
        missing = [d for d in wanted if d not in self._blobs]
        if missing:
            if len(self._blobs) > BLOB_CACHE:
                self._blobs.clear()
            self._blobs.update(await self._store.get_blobs(missing))
        return {d: self._blobs[d] for d in wanted if d in self._blobs}

    async def _record_health(
        self, name: str, target: core_state.TargetState, app_plan: plan.AppPlan
    ) -> None:
        # Hooks come and go with syncs (a generateName hook is never live under its own
        # key): like Argo CD, the app's health is that of its other objects.
        keys = [k for k in app_plan.prepared.bodies if k not in app_plan.plan.hooks]
        status = self._health(app_plan.policy.cluster, keys)
        if status.health != target.health or status.message != target.health_message:
            changed = ev.HealthChanged(
                app=name,
                target=target.name,
                health=status.health,
                previous=target.health,
                message=status.message,
            )
            await self._append(name, [changed])

    def _health(self, cluster: str, keys: Iterable[str]) -> health.HealthStatus:
        objects = self._keeper.state.clusters.get(cluster)
        items: dict[str, health.HealthStatus] = {}
        for key in keys:
            live = objects.objects.get(key) if objects is not None else None
            body = self._blobs.get(live.digest) if live is not None else None
            items[key] = health.missing() if body is None else health.assess(body)
        return health.aggregate(items)

    # -- sync ------------------------------------------------------------------------------------

    async def _sync(
        self,
        rt: _AppRuntime,
        cluster: str,
        app_plan: plan.AppPlan,
        *,
        reason: ev.TriggerReason,
        scopes: Mapping[str, bool],
        position: int,
        now: dt.datetime,
    ) -> ev.SyncFinished:
        name = rt.config.name
        sync_id = f"{name}@{cluster}-{position}"
        triggered = ev.SyncTriggered(
            app=name,
            target=cluster,
            sync_id=sync_id,
            reason=reason,
            state_position=position,
            at=now.isoformat(),
        )
        planned = ev.SyncPlanned(
            app=name,
            target=cluster,
            sync_id=sync_id,
            revision=app_plan.revision,
            trigger=reason.value,
            state_position=position,
            steps=app_plan.plan.steps,
            scopes=dict(scopes),
        )
        meta = dataclasses.replace(self._meta, correlation_id=sync_id)
        await self._append(name, [triggered, planned], meta=meta)
        rt.targets[cluster].looked.set()  # planned: the start-up need not wait for it
        with logs.bound(revision=app_plan.revision, sync_id=sync_id):
            log.info("sync.planned", trigger=reason.value)
            self.syncs += 1
            finished = await self._execute(rt, cluster, app_plan, sync_id=sync_id, meta=meta)
            log.info("sync.finished", result=finished.result.value, message=finished.message)
        if finished.result is not ev.SyncResult.SUCCEEDED:
            self._mark(name, cluster)  # look again: the decision computes the backoff
        return finished

    async def _execute(
        self,
        rt: _AppRuntime,
        cluster: str,
        app_plan: plan.AppPlan,
        *,
        sync_id: str,
        meta: ev.EventMeta,
    ) -> ev.SyncFinished:
        name = rt.config.name
        bodies = await self._real_bodies(rt, app_plan)
        objects = self._keeper.state.clusters.get(cluster)
        live = objects.objects if objects is not None else {}
        uids = {s.key: live[s.key].uid for s in app_plan.plan.steps if s.key in live}
        app_state = self._keeper.state.apps.get(name)
        target = app_state.targets.get(cluster) if app_state is not None else None
        instances: dict[str, list[str]] = {}
        for instance, hook in sorted(target.hook_instances.items() if target else ()):
            instances.setdefault(hook, []).append(instance)

        # key -> (resourceVersion applied, key of the body it came from: a generateName
        # hook's instance was created from the hook's)
        applied: dict[str, tuple[str, str]] = {}

        async def record(events: Sequence[ev.EventBase]) -> None:
            for event in events:
                if isinstance(event, ev.ObjectApplied):
                    applied[event.key] = (event.resource_version, event.hook or event.key)
            # A step's outcome need not be folded before the next step; the end must.
            finished = any(isinstance(e, ev.SyncFinished) for e in events)
            await self._append(name, list(events), meta=meta, folded=finished)

        async def wait_healthy(keys: Sequence[str], timeout: float) -> tuple[bool, str]:
            # Health is read from the log: first let the informer record what we applied.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            for key in keys:
                if key in applied:
                    version, source = applied[key]
                    await self._caught_up(cluster, bodies[source], version, deadline)
            return await self._wait_healthy(cluster, keys, max(0.0, deadline - loop.time()))

        run = executor.Executor(
            self._informers.client(cluster), record=record, wait_healthy=wait_healthy
        )
        return await run.run(
            executor.Sync(
                app=name,
                target=cluster,
                sync_id=sync_id,
                revision=app_plan.revision,
                plan=app_plan.plan,
                bodies=bodies,
                live_uids=uids,
                allow_recreate=app_plan.policy.allow_recreate,
                health_timeout=self._health_timeout,
                hook_instances=instances,
            )
        )

    async def _caught_up(
        self, cluster: str, body: Mapping[str, Any], version: str, deadline: float
    ) -> None:
        meta = body.get("metadata") or {}
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, deadline - asyncio.get_running_loop().time())):
                await self._informers.wait_caught_up(
                    cluster,
                    str(body.get("apiVersion", "")),
                    str(body.get("kind", "")),
                    version,
                    namespace=str(meta.get("namespace") or ""),
                )

    async def _wait_healthy(
        self, cluster: str, keys: Sequence[str], timeout: float
    ) -> tuple[bool, str]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            objects = self._keeper.state.clusters.get(cluster)
            digests = [objects.objects[k].digest for k in keys if objects and k in objects.objects]
            await self._bodies(digests)
            status = self._health(cluster, keys)
            if status.health in (ev.Health.HEALTHY, ev.Health.SUSPENDED):
                return True, status.message
            if status.health is ev.Health.DEGRADED:
                return False, status.message
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return False, f"timed out after {timeout:.0f}s: {status.message}"
            position = self._keeper.state.position
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(remaining, 1.0)):
                    await self._keeper.wait_for(position + 1)

    async def _real_bodies(
        self, rt: _AppRuntime, app_plan: plan.AppPlan
    ) -> dict[str, Mapping[str, Any]]:
        """The prepared bodies, with Secrets' real values taken from a fresh render."""
        bodies: dict[str, Mapping[str, Any]] = dict(app_plan.prepared.bodies)
        secrets = [
            s.key
            for s in app_plan.plan.steps
            if s.action in (ev.StepAction.CREATE, ev.StepAction.UPDATE)
            and manifests.is_secret(dict(bodies[s.key]))
        ]
        if not secrets:
            return bodies
        objects = await self._render_plain(rt.config, app_plan.revision)
        real = plan.prepare(app=rt.config.name, objects=objects, policy=app_plan.policy, scopes={})
        for key in secrets:
            if key not in real.bodies:
                raise RuntimeError(f"{ids.display_key(key)} is missing from a fresh render")
            bodies[key] = manifests.string_data_as_data(real.bodies[key])
        return bodies

    async def _render_plain(
        self, app: settings.AppConfig, revision: str
    ) -> dict[str, dict[str, Any]]:
        """A fresh render of ``revision`` with Secrets' real values, in the render pool."""
        objects = await self._pool.render_objects(
            gitsource.mirror_path(self._config.state_path(), app.source),
            revision=revision,
            path=app.path,
            config=app.render,
        )
        return {ids.key_of(o): o for o in objects}

    async def _render_pin(
        self, trt: _TargetRuntime, app: settings.AppConfig, revision: str
    ) -> None:
        if self._render_at is None or trt.pin_render_asked == revision:
            return
        trt.pin_render_asked = revision
        await self._render_at(app, revision)

    async def _append(
        self,
        app: str,
        events: Sequence[object],
        *,
        meta: ev.EventMeta | None = None,
        folded: bool = True,
    ) -> None:
        """Append, then (unless ``folded`` is False) wait until the state includes it.

        Without the wait a look starting right after could read the state before its
        own HealthChanged or SyncFinished is folded, and record it (or sync) twice.
        """
        positions = await self._appender.append(
            ids.app_stream(app), events, meta=meta or self._meta
        )
        if positions and folded:
            await self._keeper.wait_for(max(positions))


def _declared(app: core_state.AppState | None) -> dict[str, str]:
    """Every object an app's renders declare: the last render's and the pinned one's."""
    if app is None:
        return {}
    out = dict(app.desired)
    for objects in app.pinned_renders.values():
        out.update(objects)
    return out


def _aborted(app: str, target: core_state.TargetState) -> ev.SyncFinished:
    assert target.sync is not None
    return ev.SyncFinished(
        app=app,
        target=target.name,
        sync_id=target.sync.sync_id,
        revision=target.sync.revision,
        result=ev.SyncResult.ABORTED,
        message="interrupted (gitopsd stopped during the sync); re-planned",
    )


def _resync_due(
    app: settings.AppConfig, target: core_state.TargetState | None, now: dt.datetime
) -> dt.datetime:
    """When the target's periodic resync is due: its last sync's end plus the interval."""
    last = triggers.parse_time(target.last_sync_at) if target is not None else None
    interval = dt.timedelta(seconds=float(app.sync.resync))
    return now + interval if last is None else max(now, last + interval)


_NO_APP = core_state.AppState(name="")


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]
