"""triggers.decide: each rule in its documented order, over a folded log and its plan."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from daemon.core import codec, fold, ids, plan, triggers
from daemon.core import events as ev
from daemon.core.triggers import Decision

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
FAILED_AT = T0 + dt.timedelta(minutes=5)
"""When the last failed sync of the scenarios below is recorded."""

CM: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}}
CM1 = {**CM, "data": {"a": "1"}}
CM2 = {**CM, "data": {"a": "2"}}
RENDERED_KEY = ids.key_of(CM1)
TARGET_POLICY = plan.Policy(cluster="c1", namespace="web")
PREPARED1 = plan.prepare(app="web", objects={RENDERED_KEY: CM1}, policy=TARGET_POLICY, scopes={})
KEY = "/ConfigMap/web/cfg"
APPLIED1 = PREPARED1.bodies[KEY]
"""The body gitopsd applies for CM1 on c1 (namespace and tracking added)."""
DRIFTED = {**APPLIED1, "data": {"a": "edited"}}
BLOBS_OF = {1: codec.digest(CM1), 2: codec.digest(CM2)}
BLOBS = {codec.digest(body): body for body in (CM1, CM2, APPLIED1, DRIFTED)}


class Log:
    """A log under construction: each event at the next position, recorded at ``at``."""

    def __init__(self) -> None:
        self.items: list[ev.Recorded] = []

    def add(self, event: ev.AnyEvent, *, at: dt.datetime = T0) -> Log:
        """Append ``event`` recorded at ``at``."""
        position = len(self.items) + 1
        self.items.append(
            ev.Recorded(
                position=position,
                stream="app/web",
                version=position,
                recorded_at=at,
                event=event,
                meta=ev.EventMeta(),
            )
        )
        return self


def configured(**settings: Any) -> Log:
    """App web on target c1 (namespace web) with r1 rendered, nothing synced yet."""
    policy = plan.app_policy(dataclasses.replace(TARGET_POLICY, **settings), {"c1": "web"})
    return (
        Log()
        .add(ev.TargetAdded(app="web", target="c1", namespace="web", state_position=0))
        .add(ev.AppConfigured(app="web", digest=codec.digest(policy), policy=policy))
        .add(ev.DesiredStateRendered(app="web", revision="r1", objects={RENDERED_KEY: BLOBS_OF[1]}))
    )


def observed(log: Log, body: dict[str, Any], *, version: str) -> Log:
    return log.add(
        ev.ObjectObserved(
            cluster="c1",
            change=ev.Change.MODIFIED,
            key=KEY,
            uid="u1",
            resource_version=version,
            digest=codec.digest(body),
            app="web",
        )
    )


def sync(
    log: Log,
    sync_id: str,
    *,
    result: ev.SyncResult,
    revision: str = "r1",
    at: dt.datetime = T0,
) -> Log:
    """A sync of ``revision``; a successful one applies APPLIED1 at resourceVersion 5."""
    log.add(
        ev.SyncPlanned(
            app="web",
            target="c1",
            sync_id=sync_id,
            revision=revision,
            trigger="revision",
            state_position=len(log.items),
            steps=(),
        )
    )
    if result is ev.SyncResult.SUCCEEDED:
        log.add(
            ev.ObjectApplied(
                app="web",
                target="c1",
                sync_id=sync_id,
                key=KEY,
                created=True,
                resource_version="5",
                digest=codec.digest(APPLIED1),
            )
        )
        observed(log, APPLIED1, version="5")
    return log.add(
        ev.SyncFinished(app="web", target="c1", sync_id=sync_id, revision=revision, result=result),
        at=at,
    )


def in_sync(**settings: Any) -> Log:
    """r1 synced and the live object is what gitopsd applied."""
    return sync(configured(**settings), "s1", result=ev.SyncResult.SUCCEEDED)


def failed_twice(**settings: Any) -> Log:
    """r1 never synced: two failed syncs, the last recorded at FAILED_AT."""
    log = sync(configured(**settings), "s1", result=ev.SyncResult.FAILED, at=T0)
    return sync(log, "s2", result=ev.SyncResult.FAILED, at=FAILED_AT)


def drift_then_failed_twice() -> Log:
    """r1 synced, then drifted; two self-heal syncs of r1 failed, the last at FAILED_AT."""
    log = observed(in_sync(retry_limit=1), DRIFTED, version="6")
    log = sync(log, "s2", result=ev.SyncResult.FAILED, at=T0)
    return sync(log, "s3", result=ev.SyncResult.FAILED, at=FAILED_AT)


def request(log: Log) -> Log:
    return log.add(ev.SyncRequested(app="web", target="c1"))


def new_revision(log: Log) -> Log:
    return log.add(
        ev.DesiredStateRendered(app="web", revision="r2", objects={RENDERED_KEY: BLOBS_OF[2]})
    )


def removed(log: Log) -> Log:
    """c1 leaves the app's targets (the app prunes and has applied objects there)."""
    policy = plan.app_policy(TARGET_POLICY, {})
    log.add(ev.TargetRemoved(app="web", target="c1", prune=True, state_position=0, objects=1))
    return log.add(ev.AppConfigured(app="web", digest=codec.digest(policy), policy=policy))


def look(log: Log, *, now: dt.datetime = T0, periodic: bool = False) -> Decision:
    state = fold.replay(log.items)
    app_plan = plan.plan_app(state, "web", target="c1", blobs=BLOBS, scopes={})
    assert app_plan is not None
    cluster = state.clusters.get("c1")
    return triggers.decide(
        target=state.apps["web"].targets["c1"],
        app_plan=app_plan,
        live=cluster.objects if cluster is not None else {},
        now=now,
        periodic=periodic,
    )


REQUESTED = Decision(reason=ev.TriggerReason.REQUESTED)
LATER = FAILED_AT + dt.timedelta(hours=1)


@pytest.mark.parametrize(
    ("log", "now", "periodic", "expected"),
    [
        # 1. suspended wins over a request and an unsynced revision.
        pytest.param(
            request(configured()).add(ev.AppSuspended(app="web", target="c1")),
            T0,
            False,
            Decision(why_not="suspended"),
            id="suspended",
        ),
        pytest.param(
            request(configured())
            .add(ev.AppSuspended(app="web", target="c1"))
            .add(ev.AppResumed(app="web", target="c1")),
            T0,
            False,
            REQUESTED,
            id="resumed",
        ),
        # 2. nothing to change.
        pytest.param(in_sync(), T0, False, Decision(why_not="in sync"), id="in-sync"),
        pytest.param(in_sync(), T0, True, Decision(why_not="in sync"), id="in-sync-periodic"),
        pytest.param(request(in_sync()), T0, False, REQUESTED, id="in-sync-requested"),
        # 3. a request with changes, even with auto-sync off or retries pending.
        pytest.param(request(configured(auto=False)), T0, False, REQUESTED, id="requested"),
        pytest.param(request(failed_twice()), FAILED_AT, False, REQUESTED, id="requested-retry"),
        # 4. auto-sync off.
        pytest.param(
            configured(auto=False), T0, False, Decision(why_not="auto-sync is off"), id="auto-off"
        ),
        # 5. a failed sync: wait for the backoff (5s, then 10s after the second failure).
        pytest.param(
            failed_twice(),
            FAILED_AT + dt.timedelta(seconds=9),
            False,
            Decision(wait_until=FAILED_AT + dt.timedelta(seconds=10), why_not="retry backoff"),
            id="retry-waiting",
        ),
        pytest.param(
            failed_twice(retry_backoff=30.0, retry_max_backoff=45.0),
            FAILED_AT,
            False,
            Decision(wait_until=FAILED_AT + dt.timedelta(seconds=45), why_not="retry backoff"),
            id="retry-waiting-capped",
        ),
        pytest.param(
            failed_twice(),
            FAILED_AT + dt.timedelta(seconds=10),
            False,
            Decision(reason=ev.TriggerReason.RETRY),
            id="retry-due",
        ),
        pytest.param(
            failed_twice(retry_limit=1),
            LATER,
            False,
            Decision(why_not="retries exhausted (2 failed syncs)"),
            id="retries-exhausted-unsynced",
        ),
        pytest.param(
            failed_twice(retry_limit=2),
            LATER,
            False,
            Decision(reason=ev.TriggerReason.RETRY),
            id="retries-at-limit",
        ),
        pytest.param(
            drift_then_failed_twice(),
            LATER,
            False,
            Decision(reason=ev.TriggerReason.RETRY),
            id="retries-past-limit-synced",
        ),
        pytest.param(
            drift_then_failed_twice(),
            FAILED_AT,
            False,
            Decision(wait_until=FAILED_AT + dt.timedelta(seconds=10), why_not="retry backoff"),
            id="retry-waiting-synced",
        ),
        pytest.param(
            new_revision(failed_twice(retry_limit=1)),
            LATER,
            False,
            Decision(reason=ev.TriggerReason.REVISION),
            id="new-revision-resets-retries",
        ),
        # 6. a removed target prunes; a new revision syncs.
        pytest.param(
            removed(in_sync()), T0, False, Decision(reason=ev.TriggerReason.PRUNE), id="prune"
        ),
        pytest.param(
            removed(in_sync(self_heal=False)),
            T0,
            False,
            Decision(reason=ev.TriggerReason.PRUNE),
            id="prune-without-self-heal",
        ),
        pytest.param(
            configured(self_heal=False),
            T0,
            False,
            Decision(reason=ev.TriggerReason.REVISION),
            id="first-revision",
        ),
        pytest.param(
            new_revision(in_sync(self_heal=False)),
            T0,
            True,
            Decision(reason=ev.TriggerReason.REVISION),
            id="new-revision",
        ),
        # 7. every change a normalization gap: the live object is the one gitopsd applied.
        pytest.param(
            observed(in_sync(), DRIFTED, version="5"),
            T0,
            False,
            Decision(gap=(KEY,), why_not="normalization gap"),
            id="gap",
        ),
        # 8. drift (changed since gitopsd's apply).
        pytest.param(
            observed(in_sync(), DRIFTED, version="6"),
            T0,
            False,
            Decision(reason=ev.TriggerReason.SELF_HEAL),
            id="self-heal",
        ),
        pytest.param(
            observed(in_sync(), DRIFTED, version="6"),
            T0,
            True,
            Decision(reason=ev.TriggerReason.RESYNC),
            id="resync",
        ),
        pytest.param(
            observed(in_sync(self_heal=False), DRIFTED, version="6"),
            T0,
            True,
            Decision(why_not="drift, and self-heal is off"),
            id="self-heal-off",
        ),
    ],
)
def test_decide_follows_its_rules_in_order(
    log: Log, now: dt.datetime, periodic: bool, expected: Decision
) -> None:
    """The first matching rule of decide's docstring gives the whole decision."""
    assert look(log, now=now, periodic=periodic) == expected


def test_backoff_starts_at_the_recorded_failure_time() -> None:
    """The wait is measured from the SyncFinished's recorded time, whatever the look's time."""
    state = fold.replay(failed_twice().items)
    target = state.apps["web"].targets["c1"]
    assert (target.failed_syncs, triggers.parse_time(target.last_sync_at)) == (2, FAILED_AT)


def test_parse_time_reads_recorded_isoformat() -> None:
    """parse_time inverts Recorded.recorded_at.isoformat() and passes None through."""
    assert (triggers.parse_time(FAILED_AT.isoformat()), triggers.parse_time(None)) == (
        FAILED_AT,
        None,
    )
