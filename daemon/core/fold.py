"""The fold: how each recorded event changes the state.

``evolve`` is deterministic and touches nothing but the state it is given, which it
updates in place and returns (copying a state per event would make replaying a
million events quadratic). ``replay`` folds a sequence. Folding a snapshot and then
the tail equals folding everything, which tests/core checks as a property.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import assert_never

from daemon.core import events as ev
from daemon.core.state import AppState, LiveObject, State, SyncProgress, TargetState


def evolve(state: State, recorded: ev.Recorded) -> State:
    """Apply one recorded event to ``state`` and return it."""
    _apply(state, recorded)
    state.position = recorded.position
    state.events += 1
    return state


def replay(recorded: Iterable[ev.Recorded], state: State | None = None) -> State:
    """Fold events onto ``state`` (or onto an empty state); the same as ``evolve`` each."""
    current = state if state is not None else State()
    apply = _apply
    count = 0
    last: ev.Recorded | None = None
    for last in recorded:
        apply(current, last)
        count += 1
    if last is not None:
        current.position = last.position
        current.events += count
    return current


def _apply(state: State, recorded: ev.Recorded) -> None:
    event = recorded.event
    match event:
        # High-rate events first: the match tests cases in order.
        case ev.ObjectObserved():
            _observed(state, event)
        case (
            ev.CommitRecorded()
            | ev.RevisionObserved()
            | ev.HistoryRewritten()
            | ev.SourceFailed()
            | ev.SourceRecovered()
        ):
            _source(state, event, recorded)
        case (
            ev.SyncPlanned()
            | ev.ObjectApplied()
            | ev.ObjectPruned()
            | ev.HookDeleted()
            | ev.StepFailed()
            | ev.SyncFinished()
            | ev.SyncRequested()
            | ev.SyncTriggered()
            | ev.NormalizationGapDetected()
        ):
            app = state.app(event.app)
            _sync(app, _target_of(app, event.target), event, recorded)
        case ev.DesiredStateRendered() | ev.RenderFailed():
            _render(state.app(event.app), event, recorded.position)
        case (
            ev.HealthChanged()
            | ev.AppPinned()
            | ev.AppUnpinned()
            | ev.AppSuspended()
            | ev.AppResumed()
            | ev.TargetAdded()
            | ev.TargetRemoved()
        ):
            app = state.app(event.app)
            _target_event(app, _target_of(app, event.target), event, recorded.position)
        case ev.AppConfigured():
            _configured(state.app(event.app), event)
        case ev.WatchRestarted() | ev.ClusterUnreachable() | ev.ClusterReachable():
            _cluster(state, event)
        case _:
            assert_never(event)


def _target_of(app: AppState, name: str) -> TargetState:
    """The target an event names; ``""`` (written before targets) is the policy's cluster."""
    if not name:
        name = legacy_cluster(app)
    return app.target(name)


def legacy_cluster(app: AppState) -> str:
    """The single destination cluster an app's policy named before targets (else "")."""
    if app.policy is not None and "targets" not in app.policy:
        return str(app.policy.get("cluster", ""))
    return ""


def _source(
    state: State,
    event: ev.CommitRecorded
    | ev.RevisionObserved
    | ev.HistoryRewritten
    | ev.SourceFailed
    | ev.SourceRecovered,
    recorded: ev.Recorded,
) -> None:
    src = state.source(event.source)
    src.version = recorded.version
    match event:
        case ev.CommitRecorded():
            src.commits += 1
        case ev.RevisionObserved():
            src.ref = event.ref
            src.head = event.sha
            src.head_position = recorded.position
        case ev.HistoryRewritten():
            src.head = event.new_head
            src.head_position = recorded.position
        case ev.SourceFailed():
            src.failing = f"{event.error_class}: {event.message}"
        case ev.SourceRecovered():
            src.failing = None
        case _:
            assert_never(event)


def _render(app: AppState, event: ev.DesiredStateRendered | ev.RenderFailed, position: int) -> None:
    match event:
        case ev.DesiredStateRendered():
            if event.revision in app.pinned_revisions():
                app.pinned_renders[event.revision] = dict(event.objects)
                if event.revision != app.revision:
                    return  # a render of a pin is not news about the source's head
            if event.revision != app.revision:
                for target in app.targets.values():
                    target.gap_keys = ()
                    if target.pinned is None:
                        target.failed_syncs = 0
                    elif target.pin_legacy and target.pin_until_newer:
                        # Before targets, a pin "until a newer commit" lifted with the render.
                        _unpin(app, target)
            app.revision = event.revision
            app.revision_position = position
            app.desired = dict(event.objects)
            app.render_error = None
            app.render_revision = event.revision
            app.render_inputs = list(event.inputs)
            app.render_config = event.config
        case ev.RenderFailed():
            app.render_error = event.error
            app.render_revision = event.revision
            app.render_inputs = None if event.inputs is None else list(event.inputs)
            app.render_config = event.config
        case _:
            assert_never(event)


def _sync(
    app: AppState,
    target: TargetState,
    event: ev.SyncPlanned
    | ev.ObjectApplied
    | ev.ObjectPruned
    | ev.HookDeleted
    | ev.StepFailed
    | ev.SyncFinished
    | ev.SyncRequested
    | ev.SyncTriggered
    | ev.NormalizationGapDetected,
    recorded: ev.Recorded,
) -> None:
    match event:
        case ev.SyncPlanned():
            target.sync = SyncProgress(
                sync_id=event.sync_id, revision=event.revision, position=recorded.position
            )
            target.sync_requested = False
            target.gap_keys = ()
        case ev.ObjectApplied():
            target.inventory[event.key] = event.digest
            target.applied_versions[event.key] = event.resource_version
            if event.hook:
                target.hook_instances[event.key] = event.hook
            if target.sync is not None:
                target.sync.applied.append(event.key)
        case ev.ObjectPruned():
            _forget(target, event.key)
            if target.sync is not None:
                target.sync.pruned.append(event.key)
        case ev.HookDeleted():
            _forget(target, event.key)
        case ev.StepFailed():
            if target.sync is not None:
                target.sync.failed.append(event.key)
        case ev.SyncFinished():
            _finished(app, target, event, recorded)
        case ev.SyncRequested():
            target.sync_requested = True
        case ev.SyncTriggered():
            pass  # the decision; its SyncPlanned changes the state
        case ev.NormalizationGapDetected():
            target.gap_keys = event.keys
        case _:
            assert_never(event)


def _forget(target: TargetState, key: str) -> None:
    target.inventory.pop(key, None)
    target.applied_versions.pop(key, None)
    target.hook_instances.pop(key, None)


def _finished(
    app: AppState, target: TargetState, event: ev.SyncFinished, recorded: ev.Recorded
) -> None:
    planned_at = target.sync.position if target.sync is not None else 0
    target.sync = None
    target.last_sync_id = event.sync_id
    target.last_sync_result = event.result
    target.last_sync_message = event.message
    target.last_sync_position = recorded.position
    target.last_sync_at = recorded.recorded_at.isoformat()
    if event.result is ev.SyncResult.SUCCEEDED:
        target.last_synced_revision = event.revision
        target.failed_syncs = 0
        if target.removed and planned_at > target.removed_position:
            # Pruned (what is protected from pruning stays in the cluster, forgotten). A
            # sync planned before the removal did not prune: the target stays until one does.
            del app.targets[target.name]
    elif event.result is ev.SyncResult.FAILED:
        target.failed_syncs += 1


def _target_event(
    app: AppState,
    target: TargetState,
    event: ev.HealthChanged
    | ev.AppPinned
    | ev.AppUnpinned
    | ev.AppSuspended
    | ev.AppResumed
    | ev.TargetAdded
    | ev.TargetRemoved,
    position: int,
) -> None:
    match event:
        case ev.HealthChanged():
            target.health = event.health
            target.health_message = event.message
        case ev.AppPinned():
            target.pinned = event.revision
            target.pin_until_newer = event.until_newer_commit
            target.pin_position = position
            target.pin_legacy = not event.target
            target.failed_syncs = 0
            if event.revision == app.revision:
                app.pinned_renders[event.revision] = dict(app.desired)
            _drop_unpinned_renders(app)
        case ev.AppUnpinned():
            _unpin(app, target)
        case ev.AppSuspended():
            target.suspended = True
        case ev.AppResumed():
            target.suspended = False
        case ev.TargetAdded():
            target.namespace = event.namespace
            target.added_position = position
            target.removed = False
        case ev.TargetRemoved():
            if event.prune and target.inventory:
                target.removed = True
                target.removed_position = position
                target.failed_syncs = 0
            else:
                del app.targets[target.name]
        case _:
            assert_never(event)


def _unpin(app: AppState, target: TargetState) -> None:
    target.pinned = None
    target.pin_until_newer = False
    target.pin_legacy = False
    target.failed_syncs = 0
    _drop_unpinned_renders(app)


def _drop_unpinned_renders(app: AppState) -> None:
    pinned = app.pinned_revisions()
    for revision in [r for r in app.pinned_renders if r not in pinned]:
        del app.pinned_renders[revision]


def _configured(app: AppState, event: ev.AppConfigured) -> None:
    app.policy = dict(event.policy)
    app.policy_digest = event.digest
    legacy = legacy_cluster(app)
    if legacy:
        # Before targets: the one destination is the app's one target.
        if "" in app.targets and legacy not in app.targets:
            app.targets[legacy] = app.targets.pop("")
            app.targets[legacy].name = legacy
        app.target(legacy).namespace = str(event.policy.get("namespace", "default"))
        return
    for name, namespace in dict(event.policy.get("targets") or {}).items():
        app.target(name).namespace = str(namespace)


def _observed(state: State, event: ev.ObjectObserved) -> None:
    objects = state.cluster(event.cluster).objects
    if event.change is ev.Change.DELETED or event.digest is None:
        objects.pop(event.key, None)
        return
    objects[event.key] = LiveObject(
        uid=event.uid,
        resource_version=event.resource_version,
        digest=event.digest,
        app=event.app,
        managers=list(event.managers),
    )


def _cluster(
    state: State, event: ev.WatchRestarted | ev.ClusterUnreachable | ev.ClusterReachable
) -> None:
    cluster = state.cluster(event.cluster)
    match event:
        case ev.WatchRestarted():
            pass
        case ev.ClusterUnreachable():
            cluster.unreachable = event.error
        case ev.ClusterReachable():
            cluster.unreachable = None
        case _:
            assert_never(event)
