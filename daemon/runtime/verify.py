"""``gitopsd verify``: replay the whole log and recompute every recorded decision.

Each decision is a pure function of the state folded up to its ``state_position`` (plus
the immutable object bodies in the blob store, the discovery scopes and the time
recorded with it), so recomputing it must give the very same answer:

- a plan (``SyncPlanned``): the same revision and steps;
- a sync trigger (``SyncTriggered``): the same reason, at the time it records;
- a pin lift (``AppUnpinned`` with a state position): the same unpin;
- a normalization gap (``NormalizationGapDetected``): the same keys;
- a change of targets (``TargetAdded`` / ``TargetRemoved``, recorded beside the
  ``AppConfigured`` they follow from): the same additions and removals.

A difference is a bug in gitopsd (or a tampered log) and is reported with the
decision's position. Two passes over the log: the first finds every decision and the
position of the state it came from; the second folds from the start and recomputes
each decision when the fold reaches that position.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

from daemon.core import events as ev
from daemon.core import fold, gaps, pins, plan, targets, triggers
from daemon.core import state as core_state
from daemon.shell import eventstore

PLANS = "plans"
TRIGGERS = "sync triggers"
PIN_LIFTS = "pin lifts"
GAPS = "normalization gaps"
TARGET_CHANGES = "target changes"
KINDS = (PLANS, TRIGGERS, PIN_LIFTS, GAPS, TARGET_CHANGES)


@dataclasses.dataclass(frozen=True, slots=True)
class Mismatch:
    """A recorded decision that does not replay identically."""

    position: int
    app: str
    sync_id: str
    detail: str
    kind: str = PLANS
    target: str = ""


@dataclasses.dataclass(slots=True)
class Report:
    """What verify checked and found."""

    events: int = 0
    checked: Counter[str] = dataclasses.field(default_factory=Counter)
    """Decisions recomputed, by kind (``KINDS``)."""
    mismatches: list[Mismatch] = dataclasses.field(default_factory=list)

    @property
    def plans(self) -> int:
        """Plans recomputed."""
        return self.checked[PLANS]


@dataclasses.dataclass(frozen=True, slots=True)
class _Due:
    """A decision to recompute, and what it needs beside the state."""

    item: ev.Recorded
    scopes: Mapping[str, bool]
    configured: ev.AppConfigured | None = None


_Decision = (
    ev.SyncPlanned
    | ev.SyncTriggered
    | ev.AppUnpinned
    | ev.NormalizationGapDetected
    | ev.TargetAdded
    | ev.TargetRemoved
)


async def verify(store: eventstore.EventStore) -> Report:
    """Recompute every recorded decision in the log; returns the report."""
    report = Report()
    wanted = await _decisions(store)
    state = core_state.State()
    blobs: dict[str, Any] = {}
    await _check_all(store, state, wanted.pop(0, []), blobs, report)
    async for chunk in store.read_all_batches(0):
        for item in chunk:
            fold.evolve(state, item)
            report.events += 1
            due = wanted.pop(state.position, None)
            if due:
                await _check_all(store, state, due, blobs, report)
    for left in wanted.values():
        for pending in left:
            report.mismatches.append(
                _mismatch(pending.item, "its state position is not in the log")
            )
    return report


async def _decisions(store: eventstore.EventStore) -> dict[int, list[_Due]]:
    """Every recorded decision by the position of the state it came from."""
    wanted: dict[int, list[_Due]] = defaultdict(list)
    scopes: dict[str, Mapping[str, bool]] = {}
    triggered: list[ev.Recorded] = []
    changes: dict[str, list[ev.Recorded]] = defaultdict(list)
    async for chunk in store.read_all_batches(0):
        for item in chunk:
            event = item.event
            match event:
                case ev.SyncPlanned():
                    scopes[event.sync_id] = event.scopes
                    wanted[event.state_position].append(_Due(item, event.scopes))
                case ev.SyncTriggered():
                    triggered.append(item)
                case ev.AppUnpinned() if event.state_position is not None:
                    wanted[event.state_position].append(_Due(item, {}))
                case ev.NormalizationGapDetected():
                    wanted[event.state_position].append(_Due(item, event.scopes))
                case ev.TargetAdded() | ev.TargetRemoved():
                    changes[event.app].append(item)
                case ev.AppConfigured() if changes.get(event.app):
                    for change in changes.pop(event.app):
                        wanted[_position(change)].append(_Due(change, {}, configured=event))
                case _:
                    pass
    for item in triggered:
        event = item.event
        assert isinstance(event, ev.SyncTriggered)
        wanted[event.state_position].append(_Due(item, scopes.get(event.sync_id, {})))
    for items in changes.values():  # a change without its AppConfigured
        for item in items:
            wanted[_position(item)].append(_Due(item, {}))
    return wanted


def _position(item: ev.Recorded) -> int:
    """The state position a target change records."""
    event = item.event
    assert isinstance(event, ev.TargetAdded | ev.TargetRemoved)
    return event.state_position


async def _check_all(
    store: eventstore.EventStore,
    state: core_state.State,
    items: list[_Due],
    blobs: dict[str, Any],
    report: Report,
) -> None:
    # Target changes of one AppConfigured are recomputed together, once.
    done_configured: set[int] = set()
    for due in items:
        event = due.item.event
        if isinstance(event, ev.TargetAdded | ev.TargetRemoved):
            if due.configured is not None and id(due.configured) in done_configured:
                continue
            if due.configured is not None:
                done_configured.add(id(due.configured))
            _check_targets(state, due, items, report)
            continue
        detail = await _check(store, state, due, blobs)
        report.checked[_kind(event)] += 1
        if detail is not None:
            report.mismatches.append(_mismatch(due.item, detail))


def _kind(event: Any) -> str:
    match event:
        case ev.SyncPlanned():
            return PLANS
        case ev.SyncTriggered():
            return TRIGGERS
        case ev.AppUnpinned():
            return PIN_LIFTS
        case ev.NormalizationGapDetected():
            return GAPS
    return TARGET_CHANGES


async def _check(
    store: eventstore.EventStore, state: core_state.State, due: _Due, blobs: dict[str, Any]
) -> str | None:
    """What differs when ``due`` is recomputed from ``state`` (None: nothing)."""
    event = due.item.event
    if isinstance(event, ev.AppUnpinned):
        return _check_unpin(state, event)
    assert isinstance(event, ev.SyncPlanned | ev.SyncTriggered | ev.NormalizationGapDetected)
    again = await _recompute(
        store, state, app=event.app, target=event.target, scopes=due.scopes, blobs=blobs
    )
    if again is None:
        return "no plan can be computed from that state"
    match event:
        case ev.SyncPlanned():
            if again.revision != event.revision:
                return f"revision {event.revision} recorded, {again.revision} recomputed"
            if again.plan.steps != event.steps:
                return _step_difference(event.steps, again.plan.steps)
        case ev.SyncTriggered():
            decision = triggers.decide(
                target=_target(state, event.app, event.target),
                app_plan=again,
                live=_live(state, again.policy.cluster),
                now=dt.datetime.fromisoformat(event.at),
                periodic=event.reason is ev.TriggerReason.RESYNC,
            )
            if decision.reason != event.reason:
                got = decision.reason.value if decision.reason else f"no sync ({decision.why_not})"
                return f"sync triggered by {event.reason.value}, recomputed: {got}"
        case ev.NormalizationGapDetected():
            keys = gaps.only_gaps(
                again.plan, _target(state, event.app, event.target), _live(state, event.target)
            )
            if keys != event.keys:
                return f"gap in {list(event.keys)} recorded, {list(keys)} recomputed"
    return None


def _check_unpin(state: core_state.State, event: ev.AppUnpinned) -> str | None:
    app = state.apps.get(event.app)
    target = app.targets.get(event.target) if app is not None else None
    again = None
    if app is not None and target is not None and event.state_position is not None:
        again = pins.lift(app, target, position=event.state_position)
    if again != event:
        return f"unpin ({event.reason}) recorded, recomputed: {again.reason if again else 'none'}"
    return None


def _check_targets(state: core_state.State, due: _Due, items: list[_Due], report: Report) -> None:
    recorded = [
        d.item
        for d in items
        if isinstance(d.item.event, ev.TargetAdded | ev.TargetRemoved)
        and d.configured is due.configured
    ]
    report.checked[TARGET_CHANGES] += len(recorded)
    configured = due.configured
    if configured is None:
        for item in recorded:
            report.mismatches.append(_mismatch(item, "no AppConfigured follows it"))
        return
    position = _position(recorded[0])
    again = targets.reconfigure(
        state.apps.get(configured.app),
        name=configured.app,
        policy=configured.policy,
        digest=configured.digest,
        position=position,
    )
    expected = [e for e in again if not isinstance(e, ev.AppConfigured)]
    if expected != [item.event for item in recorded]:
        shown = ", ".join(f"{type(e).__name__} {e.target}" for e in expected) or "none"  # type: ignore[attr-defined]
        report.mismatches.append(_mismatch(recorded[0], f"target changes recomputed: {shown}"))


def _target(state: core_state.State, app: str, target: str) -> core_state.TargetState:
    return state.apps[app].targets[target]


def _live(state: core_state.State, cluster: str) -> Mapping[str, core_state.LiveObject]:
    found = state.clusters.get(cluster)
    return found.objects if found is not None else {}


async def _recompute(
    store: eventstore.EventStore,
    state: core_state.State,
    *,
    app: str,
    target: str,
    scopes: Mapping[str, bool],
    blobs: dict[str, Any],
) -> plan.AppPlan | None:
    if not target:
        found = state.apps.get(app)
        target = fold.legacy_cluster(found) if found is not None else ""
    for _ in range(5):
        try:
            return plan.plan_app(state, app, target=target, blobs=blobs, scopes=scopes)
        except plan.MissingBlobsError as missing:
            found_blobs = await store.get_blobs(sorted(missing.digests))
            if not found_blobs:
                raise
            blobs.update(found_blobs)
    return plan.plan_app(state, app, target=target, blobs=blobs, scopes=scopes)


def _mismatch(item: ev.Recorded, detail: str) -> Mismatch:
    event: Any = item.event
    return Mismatch(
        position=item.position,
        app=event.app,
        sync_id=getattr(event, "sync_id", ""),
        detail=detail,
        kind=_kind(event),
        target=event.target,
    )


def _step_difference(recorded: tuple[ev.PlanStep, ...], again: tuple[ev.PlanStep, ...]) -> str:
    for i, (a, b) in enumerate(zip(recorded, again, strict=False)):
        if a != b:
            return f"step {i + 1} recorded as {_show(a)}, recomputed as {_show(b)}"
    return f"{len(recorded)} steps recorded, {len(again)} recomputed"


def _show(step: ev.PlanStep) -> str:
    return f"{step.action.value} {step.key} ({step.reason})"


def summary(report: Report) -> str:
    """One line: events replayed, decisions recomputed by kind, differences."""
    kinds = ", ".join(f"{report.checked[kind]} {kind}" for kind in KINDS)
    return (
        f"{report.events} events replayed; recomputed {kinds}; {len(report.mismatches)} differences"
    )
