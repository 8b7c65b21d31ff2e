"""The executor: carries out a sync plan against a cluster and records every outcome.

It decides nothing: the plan (``core.plan``) says what to do and in which order; the
executor does it and reports what the API answered, appending each outcome as it
happens (``ObjectApplied``, ``ObjectPruned``, ``StepFailed``, and last ``SyncFinished``).

The protocol, after gitops-engine's sync and Flux's staged apply:

1. Refused steps (policy) fail the sync before anything is touched.
2. Stage 0 — Namespaces and CRDs to create or update — is dry-run, applied and waited
   for (a CRD must be Established before its resources can be dry-run).
3. Every other create/update is dry-run on the server (``dryRun=All``), and every prune
   is dry-run too. One failure stops the sync before anything else changes, naming the
   object (``Kind/ns/name dry-run failed: ...``).
4. Groups of (phase, wave) are applied in order — server-side apply with field manager
   ``gitopsd`` and force — and each group but the last (or one holding a hook) must
   become healthy before the next starts. Hooks with ``BeforeHookCreation`` are deleted
   before they are applied, ``HookSucceeded``/``HookFailed`` ones after they finish
   (``HookDeleted``). A hook named by ``generateName`` cannot be server-side applied (an
   apply needs a name): it is created (POST, dry-run first too), the server names it,
   and ``ObjectApplied`` records the instance under that name with the hook's key; the
   instances earlier syncs left (``Sync.hook_instances``) are what ``BeforeHookCreation``
   deletes, which is its default policy (``ordering.delete_policies``). An
   immutable-field error recreates the object only when the app allows it.
5. Prunes run last, in plan order, each with the live object's uid as a precondition;
   a deletion still pending (finalizers) is not recorded as pruned, so the key stays in
   the inventory and the next sync tries again.
6. On failure, ``SyncFail`` hooks are applied.

Every line logged during a sync carries its ``app``, ``target``, ``revision`` and
``sync_id`` (``logs.bound``), and the lines of one object's step its ``key``; each step
carried out logs one ``sync.step`` line with its ``action`` and ``outcome`` (info when
it changed something, warning when it failed, debug when there was nothing to do).

Retrying 429/5xx (honouring Retry-After) is the cluster client's job; a step that still
fails here fails the sync, and the reconciler retries the whole sync with backoff.
Applying is idempotent (the same body gives the same object), so a retry or a restart
never applies a step twice with different results.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from daemon import logs
from daemon.core import events as ev
from daemon.core import ids, ordering
from daemon.core.events import PlanStep, StepAction, SyncResult
from daemon.core.plan import Plan
from daemon.shell import kubeerrors

log = logs.get("executor")

FIELD_MANAGER = "gitopsd"
_APPLY_ACTIONS = frozenset({StepAction.CREATE, StepAction.UPDATE})


class Cluster(Protocol):
    """What the executor needs from a cluster client (``kubeclient.ClusterClient``)."""

    async def apply(
        self, body: Mapping[str, Any], *, field_manager: str, force: bool, dry_run: bool
    ) -> tuple[dict[str, Any], bool]:
        """Server-side apply; returns the object and whether it was created."""
        ...

    async def create(
        self, body: Mapping[str, Any], *, field_manager: str, dry_run: bool
    ) -> dict[str, Any]:
        """POST a new object (one named by ``generateName``); returns it as stored."""
        ...

    async def delete(
        self,
        target: str,
        *,
        propagation: str = "Background",
        dry_run: bool = False,
        uid_precondition: str | None = None,
    ) -> str:
        """Delete by object key; "deleted", "pending" (finalizers) or "gone"."""
        ...

    async def get(self, target: str) -> dict[str, Any] | None:
        """The object by key, or None when it does not exist."""
        ...


Recorder = Callable[[Sequence[ev.EventBase]], Awaitable[None]]
WaveWaiter = Callable[[Sequence[str], float], Awaitable[tuple[bool, str]]]
"""``wait(keys, timeout) -> (healthy, message)``: waits until every key is healthy,
or one is degraded, or the timeout passes."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Sync:
    """Everything one sync needs."""

    app: str
    target: str
    """The target's cluster (the executor's client talks to it)."""
    sync_id: str
    revision: str
    plan: Plan
    bodies: Mapping[str, Mapping[str, Any]]
    """The bodies to apply by key (Secrets with their real values)."""
    live_uids: Mapping[str, str]
    allow_recreate: bool
    health_timeout: float
    hook_instances: Mapping[str, Sequence[str]] = dataclasses.field(default_factory=dict)
    """Instances earlier syncs created of each ``generateName`` hook, by the hook's key."""


class _SyncFailedError(Exception):
    """Stops the sync; the events explaining why are already recorded."""


class Executor:
    """Runs syncs on one cluster."""

    def __init__(
        self,
        cluster: Cluster,
        *,
        record: Recorder,
        wait_healthy: WaveWaiter,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``record`` appends events to the app's stream; ``wait_healthy`` gates waves."""
        self._cluster = cluster
        self._record = record
        self._wait_healthy = wait_healthy
        self._clock = clock

    async def run(self, sync: Sync) -> ev.SyncFinished:
        """Carry out ``sync``; the returned SyncFinished is already recorded."""
        with logs.bound(
            app=sync.app, target=sync.target, revision=sync.revision, sync_id=sync.sync_id
        ):
            started = self._clock()
            try:
                message = await self._run(sync)
            except _SyncFailedError as exc:
                await self._sync_fail_hooks(sync)
                return await self._finish(sync, SyncResult.FAILED, str(exc), started)
            return await self._finish(sync, SyncResult.SUCCEEDED, message, started)

    async def _run(self, sync: Sync) -> str:
        steps = sync.plan.steps
        refused = [s for s in steps if s.action is StepAction.REFUSED]
        if refused:
            for step in refused:
                await self._fail(sync, step.key, "policy", message=step.reason)
            raise _SyncFailedError(
                f"{len(refused)} object(s) refused by the app's restrictions, nothing applied: "
                + "; ".join(f"{ids.display_key(s.key)}: {s.reason}" for s in refused[:3])
            )
        applies = [s for s in steps if s.phase not in ("Prune", ordering.Phase.SYNC_FAIL)]
        first = [s for s in applies if _stage(s) == 0]
        rest = [s for s in applies if _stage(s) != 0]
        prunes = [s for s in steps if s.action is StepAction.PRUNE]
        if first:
            await self._dry_run(sync, [s for s in first if s.action in _APPLY_ACTIONS], [])
            await self._apply_group(sync, first, wait=True)
        await self._dry_run(sync, [s for s in rest if s.action in _APPLY_ACTIONS], prunes)
        groups = _groups(rest)
        for i, group in enumerate(groups):
            await self._apply_group(sync, group, wait=i < len(groups) - 1)
        pending = await self._prune(sync, prunes)
        for step in steps:
            if step.action is StepAction.KEEP:
                _step_line(step.key, step.action, "kept", reason=step.reason)
        return _summary(steps, pending)

    # -- dry run -----------------------------------------------------------------------

    async def _dry_run(self, sync: Sync, applies: list[PlanStep], prunes: list[PlanStep]) -> None:
        failures: list[str] = []
        for step in applies:
            with logs.bound(key=step.key):
                failure = await self._dry_run_apply(sync, step)
            if failure:
                failures.append(failure)
        for step in prunes:
            with logs.bound(key=step.key):
                failure = await self._dry_run_prune(sync, step)
            if failure:
                failures.append(failure)
        if failures:
            more = f" (+{len(failures) - 1} more)" if len(failures) > 1 else ""
            raise _SyncFailedError(f"{failures[0]}{more}; nothing was changed")

    async def _dry_run_apply(self, sync: Sync, step: PlanStep) -> str:
        """Dry-run one create/update; returns why it failed ("" when it would succeed)."""
        body = sync.bodies[step.key]
        try:
            if ids.is_generated(step.key):
                await self._cluster.create(body, field_manager=FIELD_MANAGER, dry_run=True)
            else:
                await self._cluster.apply(
                    body, field_manager=FIELD_MANAGER, force=True, dry_run=True
                )
        except kubeerrors.KubeError as exc:
            if exc.is_immutable and sync.allow_recreate:
                return ""  # the apply will delete and recreate it
            await self._fail(sync, step.key, "dry-run", exc)
            return f"{ids.display_key(step.key)} dry-run failed: {_what(exc)}{_hint(exc)}"
        return ""

    async def _dry_run_prune(self, sync: Sync, step: PlanStep) -> str:
        """Dry-run one prune; returns why it failed ("" when it would succeed)."""
        try:
            await self._cluster.delete(
                step.key, dry_run=True, uid_precondition=sync.live_uids.get(step.key)
            )
        except kubeerrors.KubeError as exc:
            if exc.is_not_found:
                return ""
            await self._fail(sync, step.key, "dry-run", exc)
            return f"{ids.display_key(step.key)} dry-run delete failed: {_what(exc)}"
        return ""

    # -- apply -------------------------------------------------------------------------

    async def _apply_group(self, sync: Sync, group: list[PlanStep], *, wait: bool) -> None:
        # The keys to wait on: a generateName hook's is its new instance's.
        keys = [await self._carry_out(sync, s) for s in group]
        hooks = [(s, key) for s, key in zip(group, keys, strict=True) if _is_hook(sync, s)]
        if not (wait or hooks):
            return
        healthy, message = await self._wait_healthy(keys, sync.health_timeout)
        await self._after_hooks(sync, hooks, succeeded=healthy)
        if not healthy:
            culprit = keys[0]
            await self._fail(sync, culprit, "health", message=message)
            raise _SyncFailedError(f"wave did not become healthy: {message}")

    async def _carry_out(self, sync: Sync, step: PlanStep) -> str:
        """Apply one step of a group (nothing for an unchanged object); returns its live key."""
        if step.action in _APPLY_ACTIONS:
            return await self._apply_step(sync, step)
        _step_line(step.key, step.action, "unchanged")
        return step.key

    async def _apply_step(self, sync: Sync, step: PlanStep) -> str:
        """Apply (or create) one step's object; returns the key it now lives under."""
        with logs.bound(key=step.key):
            return await self._apply_bound(sync, step)

    async def _apply_bound(self, sync: Sync, step: PlanStep) -> str:
        if ids.is_generated(step.key):
            return await self._create_instance(sync, step)
        body = sync.bodies[step.key]
        if ordering.BEFORE_HOOK_CREATION in _policies(sync, step):
            await self._delete_hook(
                sync, step.key, hook=step.key, policy=ordering.BEFORE_HOOK_CREATION, wait=True
            )
        try:
            obj, created = await self._cluster.apply(
                body, field_manager=FIELD_MANAGER, force=True, dry_run=False
            )
        except kubeerrors.KubeError as exc:
            if not (exc.is_immutable and sync.allow_recreate):
                await self._fail(sync, step.key, "apply", exc)
                raise _SyncFailedError(
                    f"{ids.display_key(step.key)} apply failed: {_what(exc)}{_hint(exc)}"
                ) from exc
            log.info("apply.recreating", key=step.key, reason=exc.message)
            await self._delete_and_wait(sync, step.key)
            obj, created = await self._apply_or_fail(sync, step)
        await self._applied(sync, step, obj, created=created)
        return step.key

    async def _create_instance(self, sync: Sync, step: PlanStep) -> str:
        """Create a new instance of a ``generateName`` hook; returns its key."""
        if ordering.BEFORE_HOOK_CREATION in _policies(sync, step):
            for previous in sync.hook_instances.get(step.key, ()):
                await self._delete_hook(
                    sync, previous, hook=step.key, policy=ordering.BEFORE_HOOK_CREATION, wait=True
                )
        try:
            obj = await self._cluster.create(
                sync.bodies[step.key], field_manager=FIELD_MANAGER, dry_run=False
            )
        except kubeerrors.KubeError as exc:
            await self._fail(sync, step.key, "create", exc)
            raise _SyncFailedError(
                f"{ids.display_key(step.key)} create failed: {_what(exc)}"
            ) from exc
        key = ids.with_name(step.key, str((obj.get("metadata") or {}).get("name", "")))
        log.info("hook.created", hook=step.key, key=key)
        await self._applied(sync, step, obj, created=True, instance=key)
        return key

    async def _apply_or_fail(self, sync: Sync, step: PlanStep) -> tuple[dict[str, Any], bool]:
        try:
            return await self._cluster.apply(
                sync.bodies[step.key], field_manager=FIELD_MANAGER, force=True, dry_run=False
            )
        except kubeerrors.KubeError as exc:
            await self._fail(sync, step.key, "apply", exc)
            raise _SyncFailedError(
                f"{ids.display_key(step.key)} apply failed: {_what(exc)}"
            ) from exc

    async def _applied(
        self,
        sync: Sync,
        step: PlanStep,
        obj: Mapping[str, Any],
        *,
        created: bool,
        instance: str | None = None,
    ) -> None:
        """Record the apply; ``instance`` is the key of a ``generateName`` hook's instance."""
        version = str((obj.get("metadata") or {}).get("resourceVersion", ""))
        _step_line(
            instance or step.key,
            step.action,
            "created" if created else "updated",
            **({"hook": step.key} if instance else {}),
        )
        await self._record(
            [
                ev.ObjectApplied(
                    app=sync.app,
                    target=sync.target,
                    sync_id=sync.sync_id,
                    key=instance or step.key,
                    created=created,
                    resource_version=version,
                    digest=step.digest or "",
                    hook=step.key if instance else "",
                )
            ]
        )

    async def _delete_hook(
        self, sync: Sync, key: str, *, hook: str, policy: str, wait: bool
    ) -> None:
        """Delete a hook's object as ``policy`` asks and record it (``HookDeleted``).

        ``wait``: until it is gone (before a new one is created; a failure fails the
        sync). Otherwise a failure is only logged, and a deletion held by finalizers is
        not recorded, so the object stays in the inventory.
        """
        if wait:
            outcome: str = await self._delete_and_wait(sync, key)
        else:
            try:
                outcome = await self._cluster.delete(key)
            except kubeerrors.KubeError as exc:
                log.warning("hook.delete_failed", key=key, error=str(exc))
                return
            if outcome == "pending":
                return
        if outcome == "gone" and key == hook:
            return  # a named hook not created yet: nothing to record
        deleted = ev.HookDeleted(
            app=sync.app,
            target=sync.target,
            sync_id=sync.sync_id,
            key=key,
            hook=hook,
            delete_policy=policy,
            already_gone=outcome == "gone",
        )
        log.info("hook.deleted", key=key, hook=hook, policy=policy, already_gone=outcome == "gone")
        await self._record([deleted])

    async def _delete_and_wait(self, sync: Sync, key: str, *, attempts: int = 100) -> str:
        """Delete ``key`` (a hook or an object to recreate) and wait until it is gone.

        Returns "gone" when there was nothing to delete, else "deleted".
        """
        try:
            outcome = await self._cluster.delete(key)
            for _ in range(attempts):
                if outcome == "gone":
                    return outcome
                if await self._cluster.get(key) is None:
                    return "deleted"
                await asyncio.sleep(0.1)
        except kubeerrors.KubeError as exc:
            await self._fail(sync, key, "delete", exc)
            raise _SyncFailedError(f"{ids.display_key(key)} delete failed: {_what(exc)}") from exc
        await self._fail(sync, key, "delete", message="still being deleted (finalizers?)")
        raise _SyncFailedError(f"{ids.display_key(key)} is still being deleted")

    async def _after_hooks(
        self, sync: Sync, hooks: list[tuple[PlanStep, str]], *, succeeded: bool
    ) -> None:
        """Delete the finished group's hooks (each with its live key) whose policy says so."""
        wanted = ordering.HOOK_SUCCEEDED if succeeded else ordering.HOOK_FAILED
        for step, key in hooks:
            if wanted in _policies(sync, step):
                await self._delete_hook(sync, key, hook=step.key, policy=wanted, wait=False)

    async def _sync_fail_hooks(self, sync: Sync) -> None:
        hooks = [s for s in sync.plan.steps if s.phase == ordering.Phase.SYNC_FAIL]
        for step in hooks:
            if step.action not in _APPLY_ACTIONS:
                continue
            # A failure is recorded by _apply_step; the other SyncFail hooks still run.
            with contextlib.suppress(_SyncFailedError):
                await self._apply_step(sync, step)

    # -- prune ---------------------------------------------------------------------------

    async def _prune(self, sync: Sync, prunes: list[PlanStep]) -> list[str]:
        pending: list[str] = []
        for step in prunes:
            with logs.bound(key=step.key):
                if not await self._prune_step(sync, step):
                    pending.append(step.key)
        return pending

    async def _prune_step(self, sync: Sync, step: PlanStep) -> bool:
        """Delete one object; False when its deletion is still pending (finalizers)."""
        try:
            outcome = await self._cluster.delete(
                step.key, uid_precondition=sync.live_uids.get(step.key)
            )
        except kubeerrors.KubeError as exc:
            await self._fail(sync, step.key, "prune", exc)
            if exc.is_conflict:
                # The uid precondition failed: someone recreated it; not ours to delete.
                return True
            raise _SyncFailedError(
                f"{ids.display_key(step.key)} prune failed: {_what(exc)}"
            ) from exc
        _step_line(step.key, step.action, {"gone": "already_gone"}.get(outcome, outcome))
        if outcome == "pending":
            return False
        await self._record(
            [
                ev.ObjectPruned(
                    app=sync.app,
                    target=sync.target,
                    sync_id=sync.sync_id,
                    key=step.key,
                    already_gone=outcome == "gone",
                )
            ]
        )
        return True

    # -- recording -----------------------------------------------------------------------

    async def _fail(
        self,
        sync: Sync,
        key: str,
        stage: str,
        exc: kubeerrors.KubeError | None = None,
        *,
        message: str = "",
    ) -> None:
        action = next((s.action for s in sync.plan.steps if s.key == key), None)
        log.warning(
            "sync.step",
            key=key,
            **({"action": action.value} if action else {}),
            outcome="failed",
            stage=stage,
            error=_what(exc) if exc else message,
        )
        await self._record(
            [
                ev.StepFailed(
                    app=sync.app,
                    target=sync.target,
                    sync_id=sync.sync_id,
                    key=key,
                    stage=stage,
                    code=exc.code if exc else 0,
                    reason=exc.reason if exc else "",
                    message=exc.message if exc else message,
                )
            ]
        )

    async def _finish(
        self, sync: Sync, result: SyncResult, message: str, started: float
    ) -> ev.SyncFinished:
        finished = ev.SyncFinished(
            app=sync.app,
            target=sync.target,
            sync_id=sync.sync_id,
            revision=sync.revision,
            result=result,
            message=message,
            duration_ms=int((self._clock() - started) * 1000),
        )
        await self._record([finished])
        return finished


def _step_line(key: str, action: StepAction, outcome: str, **fields: str) -> None:
    """The step's one line: info when it changed something, debug when it had nothing to do."""
    report = log.debug if outcome in ("unchanged", "kept", "already_gone") else log.info
    report("sync.step", key=key, action=action.value, outcome=outcome, **fields)


def _stage(step: PlanStep) -> int:
    return ordering.stage(ids.parse_key(step.key).kind)


def _groups(steps: list[PlanStep]) -> list[list[PlanStep]]:
    """Consecutive steps of the same (phase, wave); the plan is already in order."""
    groups: list[list[PlanStep]] = []
    current: tuple[str, int] | None = None
    for step in steps:
        marker = (step.phase, step.wave)
        if marker != current:
            groups.append([])
            current = marker
        groups[-1].append(step)
    return groups


def _placement(sync: Sync, step: PlanStep) -> ordering.Placement | None:
    try:
        return ordering.placement(sync.bodies[step.key])
    except ordering.AnnotationError:
        return None  # the plan refuses such an object; nothing of it is applied


def _is_hook(sync: Sync, step: PlanStep) -> bool:
    place = _placement(sync, step)
    return place is not None and place.is_hook


def _policies(sync: Sync, step: PlanStep) -> tuple[str, ...]:
    """The step's hook delete policies (with the default of a ``generateName`` hook)."""
    place = _placement(sync, step)
    if place is None or not place.is_hook:
        return ()
    return ordering.delete_policies(place, generated=ids.is_generated(step.key))


def _hint(exc: kubeerrors.KubeError) -> str:
    if exc.is_immutable:
        return " (set sync.allow_recreate to let gitopsd delete and recreate it)"
    return ""


def _what(exc: kubeerrors.KubeError) -> str:
    return f"{exc.reason} ({exc.code}): {exc.message}"


def _summary(steps: Sequence[PlanStep], pending: list[str]) -> str:
    counts: dict[str, int] = {}
    for step in steps:
        counts[step.action.value] = counts.get(step.action.value, 0) + 1
    text = ", ".join(f"{n} {action}" for action, n in sorted(counts.items()))
    if pending:
        text += f"; deletion not yet confirmed: {', '.join(ids.display_key(k) for k in pending)}"
    return text
