"""The reconcile loop: for each app, fold → plan → record → execute, and track health.

An app is looked at again when something it depends on changes (an event about it
in the log: a render, a pin, a sync request, one of its objects observed in the
cluster), when its retry backoff ends, and on its periodic resync. Each look:

1. makes sure the informers watch the kinds the app declares or has applied, and have
   listed them (the live state in the log is current);
2. computes the plan purely from the folded state (``core.plan.plan_app``) with the
   object bodies from the blob store;
3. records the app's health when it changes (``core.health`` over the live objects);
4. when the plan changes something and a trigger allows it (a new target revision, a
   manual request, a retry after backoff, drift with self-heal on, the periodic
   resync), records ``SyncPlanned`` with the position of the state it came from and
   hands it to the executor, which records every outcome.

At start, each configured app's policy is recorded when it changed (``AppConfigured``,
so every plan can be recomputed by ``gitopsd verify``), and a sync left unfinished by
a crash is closed as Aborted; the next look re-plans from the current state (applying
is idempotent, so nothing is applied twice with different results). Then the informers
are asked at once for every kind any app declares (its last render) or has applied
(its inventory), and every app is looked at as soon as its kinds are listed: drift
made while gitopsd was down is healed at start, not at the first resync. A look waits
for its informers before it takes one of the ``concurrency`` slots, so apps on an
unreachable cluster hold none back. ``started`` and ``first_looks`` tell the start-up
gate (``runtime.warmup``) how far this is.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from daemon import logs, settings
from daemon.core import backoff, codec, health, ids, manifests, plan
from daemon.core import events as ev
from daemon.core import state as core_state
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


def policy_of(app: settings.AppConfig) -> plan.Policy:
    """The decision-relevant settings of an app."""
    return plan.Policy(
        cluster=app.destination.cluster,
        namespace=app.destination.namespace,
        auto=app.sync.auto,
        prune=app.sync.prune,
        self_heal=app.sync.self_heal,
        allow_recreate=app.sync.allow_recreate,
        create_namespace=app.sync.create_namespace,
        namespaces=tuple(app.restrictions.namespaces),
        allowed_kinds=tuple(app.restrictions.allowed_kinds),
        denied_kinds=tuple(app.restrictions.denied_kinds),
        cluster_scoped=app.restrictions.cluster_scoped,
    )


@dataclasses.dataclass(slots=True)
class _AppRuntime:
    """What the loop remembers about an app between looks (not state: timers and memos)."""

    config: settings.AppConfig
    retry_at: float = 0.0
    resync_at: float = 0.0
    running: bool = False
    pin_render_asked: str | None = None
    looked: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    """Set by the first look since the start that got past its informers (its plan is
    made, and recorded when it syncs), or that failed."""
    applied: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)
    """key -> (digest, resourceVersion) the last apply left: guards against re-syncing
    an object whose difference the server does not keep (a normalization gap)."""


class Reconciler:
    """Runs the reconcile loop for every configured app."""

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
        clock: Callable[[], float] = time.monotonic,
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
        self._clock = clock
        self._meta = ev.EventMeta(actor="gitopsd", instance=instance)
        self._apps: dict[str, _AppRuntime] = {
            str(a.name): _AppRuntime(config=a) for a in config.apps
        }
        self._dirty: set[str] = set(self._apps)
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(concurrency)
        self._blobs: dict[str, Any] = {}
        self._health_timeout = health_timeout
        self._tasks: set[asyncio.Task[None]] = set()
        self._app_of_key: dict[str, str] = {}
        keeper.listeners.append(self._on_event)
        self.started = asyncio.Event()
        """Set once ``start`` is done: policies recorded, every app's kinds watched."""
        self.syncs = 0
        """Syncs run (for metrics and tests)."""

    # -- events -> dirty apps -------------------------------------------------------------

    def _on_event(self, recorded: ev.Recorded) -> None:
        event = recorded.event
        name: str | None = None
        if isinstance(event, ev.ObjectObserved):
            name = event.app or self._app_of_key.get(event.key)
        else:
            name = getattr(event, "app", None)
        if isinstance(event, ev.ObjectApplied) and event.app in self._apps:
            self._apps[event.app].applied[event.key] = (event.digest, event.resource_version)
            self._app_of_key[event.key] = event.app
        if isinstance(event, ev.SyncFinished) and event.app in self._apps:
            self._after_sync(self._apps[event.app], event)
        if name is not None and name in self._apps:
            self._dirty.add(name)
            self._wake.set()

    def _after_sync(self, rt: _AppRuntime, finished: ev.SyncFinished) -> None:
        app = self._keeper.state.apps.get(rt.config.name)
        failures = app.failed_syncs if app is not None else 0
        if finished.result is ev.SyncResult.FAILED and failures <= rt.config.sync.retry.limit:
            delay = backoff.delay(
                failures, base=rt.config.sync.retry.backoff, cap=rt.config.sync.retry.max_backoff
            )
            rt.retry_at = self._clock() + delay
        else:
            rt.retry_at = 0.0

    def request(self, app: str) -> None:
        """Look at ``app`` soon (a webhook, a test)."""
        self._dirty.add(app)
        self._wake.set()

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
        """Record changed policies and close syncs a crash left open."""
        state = self._keeper.state
        appends = []
        for name, rt in self._apps.items():
            app = state.apps.get(name)
            policy = policy_of(rt.config).to_json()
            digest = codec.digest(policy)
            events: list[ev.EventBase] = []
            if app is None or app.policy_digest != digest:
                events.append(ev.AppConfigured(app=name, digest=digest, policy=policy))
            if app is not None and app.sync is not None:
                events.append(
                    ev.SyncFinished(
                        app=name,
                        sync_id=app.sync.sync_id,
                        revision=app.sync.revision,
                        result=ev.SyncResult.ABORTED,
                        message="interrupted (gitopsd stopped during the sync); re-planned",
                    )
                )
            if events:
                appends.append(self._append(name, events))
            if app is not None and app.failed_syncs:
                rt.retry_at = self._clock() + backoff.delay(
                    app.failed_syncs,
                    base=rt.config.sync.retry.backoff,
                    cap=rt.config.sync.retry.max_backoff,
                )
            rt.resync_at = self._clock() + rt.config.sync.resync
            for key in app.inventory if app is not None else ():
                self._app_of_key[key] = name
        # Concurrently: the writer commits them in a few transactions, not one per app.
        await asyncio.gather(*appends)
        await self._keeper.wait_for(await self._store.last_position())
        await self._watch_declared()
        self.started.set()
        # Every app is dirty: look now (each waits for its informers), not at the first new
        # event, which may never come (a `gitopsd sync` or a commit recorded while no
        # daemon ran is due already).
        self._wake.set()

    async def _watch_declared(self) -> None:
        """Ask the informers for every kind an app declares or has applied, before any look."""
        state = self._keeper.state
        declared = {name: _declared(state.apps.get(name)) for name in self._apps}
        await self._bodies(d for objects in declared.values() for d in objects.values())
        for name, rt in self._apps.items():
            app = state.apps.get(name)
            if app is None:
                continue
            kinds = await self._kinds(app, declared[name])
            try:
                self._informers.ensure(rt.config.destination.cluster, kinds)
            except KeyError as exc:  # an unchecked config: its looks fail and say so too
                log.error("reconcile.failed", app=name, error=str(exc.args[0]))  # noqa: TRY400

    async def first_looks(self, clusters: Collection[str]) -> None:
        """Wait until every app on ``clusters`` has been looked at once since the start."""
        await asyncio.gather(*(self._apps[name].looked.wait() for name in self.unlooked(clusters)))

    def unlooked(self, clusters: Collection[str] | None = None) -> list[str]:
        """The apps (on ``clusters``, if given) not looked at yet since the start."""
        return [
            name
            for name, rt in self._apps.items()
            if not rt.looked.is_set()
            and (clusters is None or rt.config.destination.cluster in clusters)
        ]

    async def cycle(self) -> None:
        """Look at every app that is due now (each in its own task, bounded)."""
        now = self._clock()
        for name, rt in self._apps.items():
            if rt.retry_at and now >= rt.retry_at:
                self._dirty.add(name)
            if now >= rt.resync_at:
                rt.resync_at = now + rt.config.sync.resync
                self._dirty.add(name)
        due = [n for n in sorted(self._dirty) if not self._apps[n].running]
        self._dirty.difference_update(due)
        for name in due:
            self._apps[name].running = True
            task = asyncio.create_task(self._look(name), name=f"reconcile:{name}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _next_timer(self) -> float:
        now = self._clock()
        times = [rt.resync_at for rt in self._apps.values()]
        times += [rt.retry_at for rt in self._apps.values() if rt.retry_at]
        soonest = min(times, default=now + 60)
        return max(0.05, min(60.0, soonest - now))

    async def idle(self) -> None:
        """Wait until no look is running and nothing is dirty (tests, benchmarks)."""
        while self._tasks or self._dirty:
            if self._dirty and not self._tasks:
                await self.cycle()
            await asyncio.sleep(0.01)

    async def _look(self, name: str) -> None:
        rt = self._apps[name]
        listed = False
        try:
            # Outside the slots: an app waiting for an unreachable cluster holds none.
            listed = await self._wait_informers(rt)
            if listed:
                async with self._slots:
                    await self.reconcile(name)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            listed = True  # looked at, and failed: retried, and not waited for at start
            log.exception("reconcile.failed", app=name, error=f"{type(exc).__name__}: {exc}")
            rt.retry_at = self._clock() + rt.config.sync.retry.backoff
        finally:
            rt.running = False
            if listed:
                rt.looked.set()
            if name in self._dirty:
                self._wake.set()

    # -- one look ----------------------------------------------------------------------------

    async def reconcile(self, name: str) -> ev.SyncFinished | None:
        """Look at one app now: record health, sync when due; returns the sync's end if any."""
        rt = self._apps[name]
        state = self._keeper.state
        app = state.apps.get(name)
        if app is None or app.policy is None:
            return None
        if app.pinned is not None and app.pinned_desired is None:
            await self._render_pin(rt, app.pinned)
            return None
        revision, desired = app.target()
        if revision is None or desired is None:
            return None
        cluster = rt.config.destination.cluster
        if not await self._wait_informers(rt):
            return None
        scopes = await self._scopes(cluster, desired)
        app_plan, position = await self._plan(state, name, scopes)
        if app_plan is None:
            return None
        trigger = self._trigger(rt, app, app_plan)
        await self._record_health(name, app, app_plan)
        if trigger is None:
            return None
        return await self._sync(rt, app_plan, trigger=trigger, scopes=scopes, position=position)

    async def _wait_informers(self, rt: _AppRuntime) -> bool:
        """Wait until the kinds the app declares or has applied are listed (and folded).

        False, with the app dirty again, when they are not within ``LIST_WAIT``.
        """
        name, cluster = rt.config.name, rt.config.destination.cluster
        app = self._keeper.state.apps.get(name)
        if app is None:
            return True  # nothing rendered or applied: nothing to wait for
        kinds = await self._kinds(app, app.target()[1] or {})
        if await self._informers.wait_synced(cluster, kinds, LIST_WAIT):
            return True
        log.info("reconcile.waiting_for_informers", app=name, cluster=cluster)
        self._dirty.add(name)
        return False

    async def _kinds(
        self, app: core_state.AppState, desired: Mapping[str, str]
    ) -> list[tuple[str, str]]:
        bodies = await self._bodies(desired.values())
        kinds = {(str(b.get("apiVersion", "")), str(b.get("kind", ""))) for b in bodies.values()}
        for key in app.inventory:
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
        self, state: core_state.State, name: str, scopes: Mapping[str, bool]
    ) -> tuple[plan.AppPlan | None, int]:
        """The plan and the position of the state it was computed from.

        The keeper folds into ``state`` between awaits, so the position is read in the
        same synchronous step as the plan: that pair is what ``gitopsd verify`` replays.
        """
        for _ in range(5):
            try:
                return plan.plan_app(state, name, blobs=self._blobs, scopes=scopes), state.position
            except plan.MissingBlobsError as missing:
                await self._bodies(missing.digests)
        return plan.plan_app(state, name, blobs=self._blobs, scopes=scopes), state.position

    async def _bodies(self, digests: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = set(digests)
        missing = [d for d in wanted if d not in self._blobs]
        if missing:
            if len(self._blobs) > BLOB_CACHE:
                self._blobs.clear()
            self._blobs.update(await self._store.get_blobs(missing))
        return {d: self._blobs[d] for d in wanted if d in self._blobs}

    def _trigger(
        self, rt: _AppRuntime, app: core_state.AppState, app_plan: plan.AppPlan
    ) -> str | None:
        # Hooks alone call for a sync only while their revision has not synced yet (its
        # sync failed or was interrupted before them): once it has, they wait for the next.
        unsynced = app_plan.revision != app.last_synced_revision
        if not (app_plan.plan.has_changes or (unsynced and app_plan.plan.has_hook_changes)):
            return "requested" if app.sync_requested else None
        if app.sync_requested:
            return "requested"
        if not app_plan.policy.auto:
            return None
        if rt.retry_at and self._clock() < rt.retry_at:
            return None
        if (
            app.failed_syncs > rt.config.sync.retry.limit
            and app.last_synced_revision != app_plan.revision
        ):
            return None  # retries exhausted for this revision: wait for a new one or a request
        if app_plan.revision != app.last_synced_revision:
            return "revision"
        if app.failed_syncs:
            return "retry"
        if self._only_normalization_gaps(rt, app_plan):
            return None
        return "drift" if app_plan.policy.self_heal else None

    def _only_normalization_gaps(self, rt: _AppRuntime, app_plan: plan.AppPlan) -> bool:
        """True when every change is an update of an object unchanged since we applied it.

        The server holds exactly what our last apply left (same digest applied, same
        resourceVersion observed), so the difference is in our comparison, not in the
        cluster: syncing again would change nothing and loop forever.
        """
        state = self._keeper.state
        objects = state.clusters.get(app_plan.policy.cluster)
        for step in app_plan.plan.steps:
            if step.action in (ev.StepAction.UNCHANGED, ev.StepAction.KEEP):
                continue
            if step.key in app_plan.plan.hooks:
                continue  # hooks alone never call for a drift sync (plan.has_changes)
            if step.action is not ev.StepAction.UPDATE or objects is None:
                return False
            memo = rt.applied.get(step.key)
            live = objects.objects.get(step.key)
            if memo is None or live is None or memo != (step.digest, live.resource_version):
                return False
        log.warning("reconcile.normalization_gap", app=rt.config.name)
        return True

    async def _record_health(
        self, name: str, app: core_state.AppState, app_plan: plan.AppPlan
    ) -> None:
        # Hooks come and go with syncs (a generateName hook is never live under its own
        # key): like Argo CD, the app's health is that of its other objects.
        keys = [k for k in app_plan.prepared.bodies if k not in app_plan.plan.hooks]
        status = self._health(app_plan.policy.cluster, keys)
        if status.health != app.health or status.message != app.health_message:
            await self._append(
                name,
                [
                    ev.HealthChanged(
                        app=name, health=status.health, previous=app.health, message=status.message
                    )
                ],
            )

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
        app_plan: plan.AppPlan,
        *,
        trigger: str,
        scopes: Mapping[str, bool],
        position: int,
    ) -> ev.SyncFinished:
        name = rt.config.name
        state_position = position
        sync_id = f"{name}-{state_position}"
        planned = ev.SyncPlanned(
            app=name,
            sync_id=sync_id,
            revision=app_plan.revision,
            trigger=trigger,
            state_position=state_position,
            steps=app_plan.plan.steps,
            scopes=dict(scopes),
        )
        meta = dataclasses.replace(self._meta, correlation_id=sync_id)
        await self._append(name, [planned], meta=meta)
        rt.looked.set()  # the heal or sync is planned: the start-up need not wait for it
        log.info(
            "sync.planned", app=name, sync_id=sync_id, revision=app_plan.revision, trigger=trigger
        )
        self.syncs += 1
        bodies = await self._real_bodies(rt, app_plan)
        cluster = rt.config.destination.cluster
        objects = self._keeper.state.clusters.get(cluster)
        live = objects.objects if objects is not None else {}
        uids = {s.key: live[s.key].uid for s in app_plan.plan.steps if s.key in live}
        app_state = self._keeper.state.apps.get(name)
        instances: dict[str, list[str]] = {}
        for instance, hook in sorted(app_state.hook_instances.items() if app_state else ()):
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
            deadline = self._clock() + timeout
            for key in keys:
                if key in applied:
                    version, source = applied[key]
                    await self._caught_up(cluster, bodies[source], version, deadline)
            return await self._wait_healthy(cluster, keys, max(0.0, deadline - self._clock()))

        run = executor.Executor(
            self._informers.client(cluster), record=record, wait_healthy=wait_healthy
        )
        finished = await run.run(
            executor.Sync(
                app=name,
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
        log.info(
            "sync.finished",
            app=name,
            sync_id=sync_id,
            result=finished.result.value,
            message=finished.message,
        )
        return finished

    async def _caught_up(
        self, cluster: str, body: Mapping[str, Any], version: str, deadline: float
    ) -> None:
        meta = body.get("metadata") or {}
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, deadline - self._clock())):
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
        deadline = self._clock() + timeout
        while True:
            objects = self._keeper.state.clusters.get(cluster)
            digests = [objects.objects[k].digest for k in keys if objects and k in objects.objects]
            await self._bodies(digests)
            status = self._health(cluster, keys)
            if status.health in (ev.Health.HEALTHY, ev.Health.SUSPENDED):
                return True, status.message
            if status.health is ev.Health.DEGRADED:
                return False, status.message
            remaining = deadline - self._clock()
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

    async def _render_pin(self, rt: _AppRuntime, revision: str) -> None:
        if self._render_at is None or rt.pin_render_asked == revision:
            return
        rt.pin_render_asked = revision
        await self._render_at(rt.config, revision)

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
    return {**app.desired, **(app.pinned_desired or {})}


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]
