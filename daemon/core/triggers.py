"""What starts a sync: a pure decision over one target's state, its plan and the time.

``decide`` looks at a target the way the reconciler does after computing its plan and
answers with a ``Decision``: start a sync for a reason (``TriggerReason``), wait until a
time (a retry backoff), stand still because every change is a normalization gap, or do
nothing. Its inputs are the folded state, the plan computed from it, the UTC time the
decision is made at and whether the periodic resync called for the look; the runtime
records a started sync as ``SyncTriggered`` with all of them, so ``gitopsd verify``
recomputes the decision and must find the same reason.

The order of the rules, first match wins:

1. suspended: nothing;
2. nothing to change: a manual request still syncs (it re-runs hooks), else nothing;
3. a manual request: ``requested``;
4. auto-sync off: nothing (wait for a request);
5. a failed sync: wait for its backoff (from the recorded time it failed), and give up
   on a revision once its retries are exhausted until a new revision or a request;
   once due: ``retry``;
6. a removed target (the app prunes): ``prune``; a revision not synced yet: ``revision``;
7. every change a normalization gap: nothing (recorded once);
8. drift, with self-heal on: ``resync`` when the periodic resync found it, ``self-heal``
   when a watched change did; without self-heal, nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping

from daemon.core import backoff, gaps
from daemon.core import events as ev
from daemon.core.plan import AppPlan
from daemon.core.state import LiveObject, TargetState


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """What to do about one target now."""

    reason: ev.TriggerReason | None = None
    """Start a sync for this reason (None: do not)."""
    wait_until: dt.datetime | None = None
    """Look again at this time (a retry backoff in progress)."""
    gap: tuple[str, ...] = ()
    """Every change is a normalization gap in these keys (no sync)."""
    why_not: str = ""
    """Why no sync starts, for people (status, logs)."""


def parse_time(text: str | None) -> dt.datetime | None:
    """A recorded ISO 8601 time (``Recorded.recorded_at.isoformat()``), or None."""
    return None if text is None else dt.datetime.fromisoformat(text)


def decide(
    *,
    target: TargetState,
    app_plan: AppPlan,
    live: Mapping[str, LiveObject],
    now: dt.datetime,
    periodic: bool = False,
) -> Decision:
    """The decision for ``target`` given its plan, the live objects and the time."""
    policy = app_plan.policy
    changes = app_plan.plan.has_changes
    unsynced = app_plan.revision != target.last_synced_revision
    if target.suspended:
        return Decision(why_not="suspended")
    # Hooks alone call for a sync only while their revision has not synced yet (its
    # sync failed or was interrupted before them): once it has, they wait for the next.
    if not (changes or (unsynced and app_plan.plan.has_hook_changes)):
        if target.sync_requested:
            return Decision(reason=ev.TriggerReason.REQUESTED)
        return Decision(why_not="in sync")
    if target.sync_requested:
        return Decision(reason=ev.TriggerReason.REQUESTED)
    if not policy.auto:
        return Decision(why_not="auto-sync is off")
    if target.failed_syncs:
        return _retry(target, app_plan, now=now, unsynced=unsynced)
    if target.removed:
        return Decision(reason=ev.TriggerReason.PRUNE)
    if unsynced:
        return Decision(reason=ev.TriggerReason.REVISION)
    gap = gaps.only_gaps(app_plan.plan, target, live)
    if gap:
        return Decision(gap=gap, why_not="normalization gap")
    if not policy.self_heal:
        return Decision(why_not="drift, and self-heal is off")
    return Decision(reason=ev.TriggerReason.RESYNC if periodic else ev.TriggerReason.SELF_HEAL)


def _retry(target: TargetState, app_plan: AppPlan, *, now: dt.datetime, unsynced: bool) -> Decision:
    policy = app_plan.policy
    if target.failed_syncs > policy.retry_limit and unsynced:
        return Decision(why_not=f"retries exhausted ({target.failed_syncs} failed syncs)")
    due = backoff.retry_due(
        failures=target.failed_syncs,
        last_failure_at=parse_time(target.last_sync_at),
        base=policy.retry_backoff,
        cap=policy.retry_max_backoff,
    )
    if due is not None and now < due:
        return Decision(wait_until=due, why_not="retry backoff")
    return Decision(reason=ev.TriggerReason.RETRY)
