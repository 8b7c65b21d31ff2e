"""``gitopsd verify``: replay the whole log and recompute every recorded plan.

A plan is a pure function of the state folded up to its ``state_position`` (plus the
immutable object bodies in the blob store and the discovery scopes recorded with it),
so recomputing it must give the very same steps. A difference is a bug in gitopsd (or a
tampered log) and is reported with the plan's position.

Two passes over the log: the first finds every SyncPlanned and the position of the
state it came from; the second folds from the start and recomputes each plan when the
fold reaches that position.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Any

from daemon.core import events as ev
from daemon.core import fold, plan
from daemon.core import state as core_state
from daemon.shell import eventstore


@dataclasses.dataclass(frozen=True, slots=True)
class Mismatch:
    """A recorded plan that does not replay identically."""

    position: int
    app: str
    sync_id: str
    detail: str


@dataclasses.dataclass(slots=True)
class Report:
    """What verify checked and found."""

    events: int = 0
    plans: int = 0
    mismatches: list[Mismatch] = dataclasses.field(default_factory=list)


async def verify(store: eventstore.EventStore) -> Report:
    """Recompute every SyncPlanned in the log; returns the report."""
    report = Report()
    wanted: dict[int, list[ev.Recorded]] = defaultdict(list)
    async for chunk in store.read_all_batches(0):
        for item in chunk:
            if isinstance(item.event, ev.SyncPlanned):
                wanted[item.event.state_position].append(item)
    state = core_state.State()
    blobs: dict[str, Any] = {}
    await _check(store, state, wanted.pop(0, []), blobs, report)
    async for chunk in store.read_all_batches(0):
        for item in chunk:
            fold.evolve(state, item)
            report.events += 1
            due = wanted.pop(state.position, None)
            if due:
                await _check(store, state, due, blobs, report)
    for items in wanted.values():
        for item in items:
            report.mismatches.append(_mismatch(item, "its state position is not in the log"))
    return report


async def _check(
    store: eventstore.EventStore,
    state: core_state.State,
    items: list[ev.Recorded],
    blobs: dict[str, Any],
    report: Report,
) -> None:
    for item in items:
        recorded = item.event
        assert isinstance(recorded, ev.SyncPlanned)
        report.plans += 1
        again = await _recompute(store, state, recorded, blobs)
        if again is None:
            report.mismatches.append(_mismatch(item, "no plan can be computed from that state"))
            continue
        if again.revision != recorded.revision:
            report.mismatches.append(
                _mismatch(
                    item, f"revision {recorded.revision} recorded, {again.revision} recomputed"
                )
            )
            continue
        if again.plan.steps != recorded.steps:
            report.mismatches.append(
                _mismatch(item, _step_difference(recorded.steps, again.plan.steps))
            )


async def _recompute(
    store: eventstore.EventStore,
    state: core_state.State,
    recorded: ev.SyncPlanned,
    blobs: dict[str, Any],
) -> plan.AppPlan | None:
    for _ in range(5):
        try:
            return plan.plan_app(state, recorded.app, blobs=blobs, scopes=recorded.scopes)
        except plan.MissingBlobsError as missing:
            found = await store.get_blobs(sorted(missing.digests))
            if not found:
                raise
            blobs.update(found)
    return plan.plan_app(state, recorded.app, blobs=blobs, scopes=recorded.scopes)


def _mismatch(item: ev.Recorded, detail: str) -> Mismatch:
    event = item.event
    assert isinstance(event, ev.SyncPlanned)
    return Mismatch(position=item.position, app=event.app, sync_id=event.sync_id, detail=detail)


def _step_difference(recorded: tuple[ev.PlanStep, ...], again: tuple[ev.PlanStep, ...]) -> str:
    for i, (a, b) in enumerate(zip(recorded, again, strict=False)):
        if a != b:
            return f"step {i + 1} recorded as {_show(a)}, recomputed as {_show(b)}"
    return f"{len(recorded)} steps recorded, {len(again)} recomputed"


def _show(step: ev.PlanStep) -> str:
    return f"{step.action.value} {step.key} ({step.reason})"
