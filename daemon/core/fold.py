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
from daemon.core.state import State


def evolve(state: State, recorded: ev.Recorded) -> State:
    """Apply one recorded event to ``state`` and return it."""
    event = recorded.event
    _apply(state, event)
    if isinstance(event, _SOURCE_EVENTS):
        src = state.source(event.source)
        src.version = recorded.version
        if isinstance(event, ev.RevisionObserved | ev.HistoryRewritten):
            src.head_position = recorded.position
    state.position = recorded.position
    state.events += 1
    return state


_SOURCE_EVENTS = (
    ev.CommitRecorded,
    ev.RevisionObserved,
    ev.HistoryRewritten,
    ev.SourceFailed,
    ev.SourceRecovered,
)


def replay(recorded: Iterable[ev.Recorded], state: State | None = None) -> State:
    """Fold events onto ``state`` (or onto an empty state)."""
    current = state if state is not None else State()
    for item in recorded:
        evolve(current, item)
    return current


def _apply(state: State, event: ev.AnyEvent) -> None:
    match event:
        case ev.CommitRecorded():
            state.source(event.source).commits += 1
        case ev.RevisionObserved():
            src = state.source(event.source)
            src.ref = event.ref
            src.head = event.sha
        case ev.HistoryRewritten():
            src = state.source(event.source)
            src.head = event.new_head
        case ev.SourceFailed():
            state.source(event.source).failing = f"{event.error_class}: {event.message}"
        case ev.SourceRecovered():
            state.source(event.source).failing = None
        case ev.DesiredStateRendered():
            app = state.app(event.app)
            app.revision = event.revision
            app.desired = dict(event.objects)
            app.render_error = None
            app.render_revision = event.revision
            app.render_inputs = list(event.inputs)
            app.render_config = event.config
        case ev.RenderFailed():
            app = state.app(event.app)
            app.render_error = event.error
            app.render_revision = event.revision
            app.render_inputs = None
            app.render_config = event.config
        case ev.SyncFinished():
            app = state.app(event.app)
            app.last_sync_id = event.sync_id
            app.last_sync_result = event.result
            if event.result is ev.SyncResult.SUCCEEDED:
                app.last_synced_revision = event.revision
        case ev.HealthChanged():
            state.app(event.app).health = event.health
        case ev.AppPinned():
            app = state.app(event.app)
            app.pinned = event.revision
            app.pin_until_newer = event.until_newer_commit
        case ev.AppUnpinned():
            app = state.app(event.app)
            app.pinned = None
            app.pin_until_newer = False
        case _:
            assert_never(event)
