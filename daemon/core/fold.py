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
from daemon.core.state import AppState, LiveObject, State, SyncProgress


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
        case ev.DesiredStateRendered() | ev.RenderFailed():
            _render(state.app(event.app), event)
        case (
            ev.SyncPlanned()
            | ev.ObjectApplied()
            | ev.ObjectPruned()
            | ev.HookDeleted()
            | ev.StepFailed()
            | ev.SyncFinished()
            | ev.SyncRequested()
        ):
            _sync(state.app(event.app), event, recorded.position)
        case ev.HealthChanged() | ev.AppPinned() | ev.AppUnpinned() | ev.AppConfigured():
            _app(state.app(event.app), event)
        case ev.WatchRestarted() | ev.ClusterUnreachable() | ev.ClusterReachable():
            _cluster(state, event)
        case _:
            assert_never(event)


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


def _render(app: AppState, event: ev.DesiredStateRendered | ev.RenderFailed) -> None:
    match event:
        case ev.DesiredStateRendered():
            if app.pinned is not None and event.revision == app.pinned:
                app.pinned_desired = dict(event.objects)
                if event.revision != app.revision:
                    return  # a render of the pin is not news about the source's head
            elif app.pinned is not None and app.pin_until_newer and event.revision != app.revision:
                # A pin "until a newer commit" lifts when a newer head is rendered.
                app.pinned = None
                app.pinned_desired = None
                app.pin_until_newer = False
            if event.revision != app.revision:
                app.failed_syncs = 0
            app.revision = event.revision
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
    event: ev.SyncPlanned
    | ev.ObjectApplied
    | ev.ObjectPruned
    | ev.HookDeleted
    | ev.StepFailed
    | ev.SyncFinished
    | ev.SyncRequested,
    position: int,
) -> None:
    match event:
        case ev.SyncPlanned():
            app.sync = SyncProgress(
                sync_id=event.sync_id, revision=event.revision, position=position
            )
            app.sync_requested = False
        case ev.ObjectApplied():
            app.inventory[event.key] = event.digest
            if event.hook:
                app.hook_instances[event.key] = event.hook
            if app.sync is not None:
                app.sync.applied.append(event.key)
        case ev.ObjectPruned():
            app.inventory.pop(event.key, None)
            app.hook_instances.pop(event.key, None)
            if app.sync is not None:
                app.sync.pruned.append(event.key)
        case ev.HookDeleted():
            app.inventory.pop(event.key, None)
            app.hook_instances.pop(event.key, None)
        case ev.StepFailed():
            if app.sync is not None:
                app.sync.failed.append(event.key)
        case ev.SyncFinished():
            app.sync = None
            app.last_sync_id = event.sync_id
            app.last_sync_result = event.result
            app.last_sync_message = event.message
            app.last_sync_position = position
            if event.result is ev.SyncResult.SUCCEEDED:
                app.last_synced_revision = event.revision
                app.failed_syncs = 0
            elif event.result is ev.SyncResult.FAILED:
                app.failed_syncs += 1
        case ev.SyncRequested():
            app.sync_requested = True
        case _:
            assert_never(event)


def _app(
    app: AppState,
    event: ev.HealthChanged | ev.AppPinned | ev.AppUnpinned | ev.AppConfigured,
) -> None:
    match event:
        case ev.HealthChanged():
            app.health = event.health
            app.health_message = event.message
        case ev.AppPinned():
            app.pinned = event.revision
            app.pin_until_newer = event.until_newer_commit
            app.pinned_desired = dict(app.desired) if event.revision == app.revision else None
            app.failed_syncs = 0
        case ev.AppUnpinned():
            app.pinned = None
            app.pinned_desired = None
            app.pin_until_newer = False
            app.failed_syncs = 0
        case ev.AppConfigured():
            app.policy = dict(event.policy)
            app.policy_digest = event.digest
        case _:
            assert_never(event)


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
