"""The normalization-gap guard: a plan whose every change the server already holds.

When each object a plan would update was applied by gitopsd with the very body it would
apply again (the inventory's digest) and has not changed since (the resourceVersion the
server answered that apply with is still the one observed), the difference is in
gitopsd's comparison, not in the cluster: syncing would change nothing and loop. The
guard names those keys; the runtime records them once (``NormalizationGapDetected``)
and starts no sync.
"""

from __future__ import annotations

from collections.abc import Mapping

from daemon.core import events as ev
from daemon.core.plan import Plan
from daemon.core.state import LiveObject, TargetState


def only_gaps(plan: Plan, target: TargetState, live: Mapping[str, LiveObject]) -> tuple[str, ...]:
    """The keys of the plan's changes when all are normalization gaps, else ()."""
    keys: list[str] = []
    for step in plan.steps:
        if step.action in (ev.StepAction.UNCHANGED, ev.StepAction.KEEP):
            continue
        if step.key in plan.hooks:
            continue  # hooks alone never call for a drift sync (plan.has_changes)
        if step.action is not ev.StepAction.UPDATE:
            return ()
        applied = target.inventory.get(step.key)
        version = target.applied_versions.get(step.key)
        observed = live.get(step.key)
        if applied != step.digest or observed is None or version != observed.resource_version:
            return ()
        keys.append(step.key)
    return tuple(sorted(keys))
