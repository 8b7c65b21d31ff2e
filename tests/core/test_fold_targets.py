"""The fold routes app events to their target; old events land on the legacy cluster."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import orjson

from daemon.core import codec, fold
from daemon.core import events as ev
from daemon.core.state import AppState, State, SyncProgress, TargetState

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(minutes=1)
T2 = T0 + dt.timedelta(minutes=2)
KEY = "/ConfigMap/web/cfg"
KEY2 = "apps/Deployment/web/api"
OBJECTS1 = {"/ConfigMap//cfg": "d1"}
OBJECTS2 = {"/ConfigMap//cfg": "d2"}
TARGETS_POLICY = {"auto": True, "prune": True, "targets": {"c1": "web", "c2": "web-2"}}


def replay(
    *items: ev.AnyEvent | tuple[ev.AnyEvent, dt.datetime], state: State | None = None
) -> State:
    """Fold ``items`` (an event, or an event and its recorded time) after ``state``."""
    start = state.position if state is not None else 0
    log = []
    for i, item in enumerate(items, start=start + 1):
        event, at = item if isinstance(item, tuple) else (item, T0)
        log.append(ev.Recorded(i, "app/web", i, at, event, ev.EventMeta()))
    return fold.replay(log, state)


def old(type_name: str, version: int, **data: Any) -> ev.AnyEvent:
    """An event as stored by a gitopsd before targets, decoded (and upcast) by the codec."""
    event: ev.AnyEvent = codec.decode(type_name, version, orjson.dumps(data))
    return event


def added(target: str, namespace: str = "web") -> ev.TargetAdded:
    return ev.TargetAdded(app="web", target=target, namespace=namespace, state_position=0)


def applied(target: str, key: str, version: str, sync_id: str = "s1") -> ev.ObjectApplied:
    return ev.ObjectApplied(
        app="web",
        target=target,
        sync_id=sync_id,
        key=key,
        created=True,
        resource_version=version,
        digest=f"digest-{version}",
    )


def planned(target: str, sync_id: str, revision: str = "r1") -> ev.SyncPlanned:
    return ev.SyncPlanned(
        app="web",
        target=target,
        sync_id=sync_id,
        revision=revision,
        trigger="revision",
        state_position=0,
        steps=(),
    )


def finished(
    target: str, sync_id: str, result: ev.SyncResult, revision: str = "r1"
) -> ev.SyncFinished:
    return ev.SyncFinished(
        app="web", target=target, sync_id=sync_id, revision=revision, result=result, message="m"
    )


def rendered(revision: str, objects: dict[str, str]) -> ev.DesiredStateRendered:
    return ev.DesiredStateRendered(app="web", revision=revision, objects=objects)


def test_events_of_two_targets_fold_into_separate_states() -> None:
    """Inventory, versions, health, syncs, failures and sync times are per target."""
    state = replay(
        added("c1"),
        added("c2", "web-2"),
        ev.AppConfigured(app="web", digest="p", policy=TARGETS_POLICY),
        rendered("r1", OBJECTS1),
        planned("c1", "s1"),
        planned("c2", "s2"),
        applied("c1", KEY, "5", "s1"),
        applied("c2", KEY2, "9", "s2"),
        (finished("c1", "s1", ev.SyncResult.SUCCEEDED), T1),
        ev.StepFailed(app="web", target="c2", sync_id="s2", key=KEY, stage="apply"),
        (finished("c2", "s2", ev.SyncResult.FAILED), T2),
        ev.HealthChanged(app="web", target="c1", health=ev.Health.HEALTHY, message="ok"),
        planned("c2", "s3"),
        ev.StepFailed(app="web", target="c2", sync_id="s3", key=KEY, stage="apply"),
    )
    assert state.apps["web"].targets == {
        "c1": TargetState(
            name="c1",
            namespace="web",
            added_position=1,
            inventory={KEY: "digest-5"},
            applied_versions={KEY: "5"},
            health=ev.Health.HEALTHY,
            health_message="ok",
            last_sync_id="s1",
            last_sync_result=ev.SyncResult.SUCCEEDED,
            last_sync_message="m",
            last_sync_position=9,
            last_sync_at=T1.isoformat(),
            last_synced_revision="r1",
        ),
        "c2": TargetState(
            name="c2",
            namespace="web-2",
            added_position=2,
            inventory={KEY2: "digest-9"},
            applied_versions={KEY2: "9"},
            sync=SyncProgress(sync_id="s3", revision="r1", position=13, failed=[KEY]),
            failed_syncs=1,
            last_sync_id="s2",
            last_sync_result=ev.SyncResult.FAILED,
            last_sync_message="m",
            last_sync_position=11,
            last_sync_at=T2.isoformat(),
        ),
    }


def test_legacy_events_fold_into_the_policy_cluster() -> None:
    """Events stored before targets (upcast to target "") land on the policy's one cluster."""
    legacy_policy = {"cluster": "prod", "namespace": "shop", "auto": True, "prune": True}
    state = replay(
        old("SyncRequested", 1, app="web", reason="manual"),
        old("AppConfigured", 1, app="web", digest="p", policy=legacy_policy),
        old("DesiredStateRendered", 1, app="web", revision="r1", objects=OBJECTS1),
        old(
            "SyncPlanned",
            1,
            app="web",
            sync_id="s1",
            revision="r1",
            trigger="requested",
            state_position=3,
            steps=[],
        ),
        old(
            "ObjectApplied",
            1,
            app="web",
            sync_id="s1",
            key=KEY,
            created=True,
            resource_version="5",
            digest="digest-5",
        ),
        old(
            "ObjectApplied",
            2,
            app="web",
            sync_id="s1",
            key=KEY2,
            created=True,
            resource_version="6",
            digest="digest-6",
            hook="",
        ),
        old("ObjectPruned", 1, app="web", sync_id="s1", key=KEY2),
        (old("SyncFinished", 1, app="web", sync_id="s1", revision="r1", result="Succeeded"), T1),
        old("HealthChanged", 1, app="web", health="Healthy", previous=None, message=""),
        old("SyncRequested", 1, app="web", reason="again"),
    )
    assert state.apps["web"].targets == {
        "prod": TargetState(
            name="prod",
            namespace="shop",
            inventory={KEY: "digest-5"},
            applied_versions={KEY: "5"},
            health=ev.Health.HEALTHY,
            sync_requested=True,
            last_sync_id="s1",
            last_sync_result=ev.SyncResult.SUCCEEDED,
            last_sync_position=8,
            last_sync_at=T1.isoformat(),
            last_synced_revision="r1",
        )
    }


def test_request_before_any_policy_moves_to_the_legacy_cluster() -> None:
    """A SyncRequested folded before any AppConfigured waits on target "" until the policy names it."""
    state = replay(old("SyncRequested", 1, app="web", reason="manual"))
    before = copy.deepcopy(state.apps["web"].targets)
    replay(
        old("AppConfigured", 1, app="web", digest="p", policy={"cluster": "prod"}),
        state=state,
    )
    assert (before, state.apps["web"].targets) == (
        {"": TargetState(name="", sync_requested=True)},
        {"prod": TargetState(name="prod", sync_requested=True)},
    )


def test_pinned_renders_are_kept_while_some_target_pins_them() -> None:
    """A pin keeps its revision's objects; they go when no target pins that revision."""
    state = replay(
        added("c1"),
        added("c2"),
        ev.AppConfigured(app="web", digest="p", policy=TARGETS_POLICY),
        rendered("r1", OBJECTS1),
        ev.AppPinned(app="web", target="c1", revision="r1"),
        rendered("r2", OBJECTS2),
        ev.AppPinned(app="web", target="c2", revision="r1"),
    )
    app = state.apps["web"]
    both = (dict(app.pinned_renders), app.converge_on(app.targets["c1"]), app.revision)
    replay(ev.AppUnpinned(app="web", target="c1"), state=state)
    one = (dict(app.pinned_renders), app.converge_on(app.targets["c1"]))
    replay(ev.AppUnpinned(app="web", target="c2"), state=state)
    assert (both, one, app.pinned_renders) == (
        ({"r1": OBJECTS1}, ("r1", OBJECTS1), "r2"),
        ({"r1": OBJECTS1}, ("r2", OBJECTS2)),
        {},
    )


def test_a_pin_of_an_older_revision_records_its_render_later() -> None:
    """Pinned to a revision not rendered last, a target converges once that render is recorded."""
    state = replay(
        added("c1"),
        ev.AppConfigured(app="web", digest="p", policy=TARGETS_POLICY),
        rendered("r1", OBJECTS1),
        rendered("r2", OBJECTS2),
        ev.AppPinned(app="web", target="c1", revision="r1", until_newer_commit=True),
    )
    app = state.apps["web"]
    before = (app.converge_on(app.targets["c1"]), dict(app.pinned_renders))
    replay(rendered("r1", OBJECTS1), state=state)
    target = app.targets["c1"]
    assert (before, app.converge_on(target), app.revision, target.pinned) == (
        (("r1", None), {}),
        ("r1", OBJECTS1),
        "r2",
        "r1",
    )


def test_a_new_pin_survives_a_newer_render_a_legacy_one_does_not() -> None:
    """The fold lifts only pins recorded before targets; new ones wait for a recorded unpin."""
    legacy = replay(
        old("AppConfigured", 1, app="web", digest="p", policy={"cluster": "c1"}),
        rendered("r1", OBJECTS1),
        old("AppPinned", 1, app="web", revision="r1", until_newer_commit=True),
        rendered("r2", OBJECTS2),
    )
    new = replay(
        added("c1"),
        ev.AppConfigured(app="web", digest="p", policy=TARGETS_POLICY),
        rendered("r1", OBJECTS1),
        ev.AppPinned(app="web", target="c1", revision="r1", until_newer_commit=True),
        rendered("r2", OBJECTS2),
    )
    pins = [
        (s.apps["web"].targets["c1"].pinned, s.apps["web"].pinned_renders) for s in (legacy, new)
    ]
    assert pins == [(None, {}), ("r1", {"r1": OBJECTS1})]


def synced_on(*targets: str) -> State:
    """Targets c1 and c2, each with KEY applied by a successful sync of r1."""
    state = replay(
        added("c1"),
        added("c2"),
        ev.AppConfigured(app="web", digest="p", policy=TARGETS_POLICY),
        rendered("r1", OBJECTS1),
    )
    for target in targets:
        replay(
            planned(target, f"s-{target}"),
            applied(target, KEY, "5", f"s-{target}"),
            finished(target, f"s-{target}", ev.SyncResult.SUCCEEDED),
            state=state,
        )
    return state


def removed(target: str, *, prune: bool, objects: int = 1) -> ev.TargetRemoved:
    return ev.TargetRemoved(
        app="web", target=target, prune=prune, state_position=0, objects=objects
    )


def test_removed_target_with_objects_prunes_then_is_deleted() -> None:
    """Removed with prune, a target converges on nothing; a successful prune sync deletes it."""
    state = synced_on("c1", "c2")
    replay(removed("c1", prune=True), state=state)
    app = state.apps["web"]
    target = app.targets["c1"]
    during = (target.removed, app.converge_on(target))
    replay(planned("c1", "p1"), (finished("c1", "p1", ev.SyncResult.FAILED), T1), state=state)
    after_failure = (target.removed, target.failed_syncs, "c1" in app.targets)
    replay(
        planned("c1", "p2"),
        ev.ObjectPruned(app="web", target="c1", sync_id="p2", key=KEY),
        finished("c1", "p2", ev.SyncResult.SUCCEEDED),
        state=state,
    )
    assert (during, after_failure, sorted(app.targets)) == (
        (True, ("r1", {})),
        (True, 1, True),
        ["c2"],
    )


def test_removed_target_stays_until_a_sync_planned_after_the_removal_succeeds() -> None:
    """A sync in flight when the target was removed did not prune: the target stays."""
    state = synced_on("c1")
    replay(
        planned("c1", "p1"),
        removed("c1", prune=True),
        finished("c1", "p1", ev.SyncResult.SUCCEEDED),
        state=state,
    )
    target = state.apps["web"].targets["c1"]
    stayed = (target.removed, dict(target.inventory))
    replay(planned("c1", "p2"), finished("c1", "p2", ev.SyncResult.SUCCEEDED), state=state)
    assert (stayed, sorted(state.apps["web"].targets)) == ((True, {KEY: "digest-5"}), ["c2"])


def test_removed_target_without_prune_or_objects_is_deleted_at_once() -> None:
    """Without prune, or with nothing applied, a removed target leaves the state at once."""
    no_prune = replay(removed("c1", prune=False), state=synced_on("c1", "c2"))
    empty = replay(removed("c1", prune=True, objects=0), state=synced_on("c2"))
    assert (sorted(no_prune.apps["web"].targets), sorted(empty.apps["web"].targets)) == (
        ["c2"],
        ["c2"],
    )


def test_target_added_again_stops_its_removal() -> None:
    """TargetAdded on a target being pruned clears the removal and keeps its inventory."""
    state = replay(removed("c1", prune=True), added("c1", "web-3"), state=synced_on("c1"))
    target = state.apps["web"].targets["c1"]
    assert (target.removed, target.namespace, target.added_position, target.inventory) == (
        False,
        "web-3",
        9,
        {KEY: "digest-5"},
    )


def test_suspend_resume_and_gaps_are_per_target() -> None:
    """Suspension and gap keys touch their own target; a plan or a new render clears the gap."""
    state = synced_on("c1", "c2")
    replay(
        ev.AppSuspended(app="web", target="c1"),
        ev.NormalizationGapDetected(app="web", target="c1", keys=(KEY,), state_position=0),
        ev.NormalizationGapDetected(app="web", target="c2", keys=(KEY2,), state_position=0),
        state=state,
    )
    app = state.apps["web"]
    flags = {n: (t.suspended, t.gap_keys) for n, t in app.targets.items()}
    replay(planned("c2", "s9"), ev.AppResumed(app="web", target="c1"), state=state)
    after_plan = {n: (t.suspended, t.gap_keys) for n, t in app.targets.items()}
    replay(rendered("r2", OBJECTS2), state=state)
    after_render = {n: (t.suspended, t.gap_keys) for n, t in app.targets.items()}
    assert (flags, after_plan, after_render) == (
        {"c1": (True, (KEY,)), "c2": (False, (KEY2,))},
        {"c1": (False, (KEY,)), "c2": (False, ())},
        {"c1": (False, ()), "c2": (False, ())},
    )


def test_new_render_resets_failures_of_unpinned_targets_only() -> None:
    """A newer render starts the retry count again for targets that follow the head."""
    state = synced_on()
    replay(
        ev.AppPinned(app="web", target="c2", revision="r1"),
        planned("c1", "f1"),
        finished("c1", "f1", ev.SyncResult.FAILED),
        planned("c2", "f2"),
        finished("c2", "f2", ev.SyncResult.FAILED),
        rendered("r2", OBJECTS2),
        state=state,
    )
    app: AppState = state.apps["web"]
    assert {n: t.failed_syncs for n, t in app.targets.items()} == {"c1": 0, "c2": 1}
