"""Hooks named by generateName: keys, refusal of unnamed non-hooks, plans, instances, replay."""

from __future__ import annotations

from typing import Any

import orjson
from test_codec_fold import recorded

from daemon.core import codec, fold, ids, ordering, plan
from daemon.core import events as ev
from daemon.core import state as core_state
from daemon.core.events import PlanStep, StepAction

POLICY = plan.Policy(cluster="dev", namespace="web")
HOOK = "batch/Job/web/migrate-*"


def job(*, generate: str | None = None, name: str | None = None, **annotations: str) -> Any:
    meta: dict[str, Any] = {"annotations": annotations} if annotations else {}
    if generate is not None:
        meta["generateName"] = generate
    if name is not None:
        meta["name"] = name
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": {}}


def configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {}}


def prepare(*objects: dict[str, Any]) -> plan.Prepared:
    return plan.prepare(
        app="a", objects={ids.key_of(o): o for o in objects}, policy=POLICY, scopes={}
    )


def test_generate_name_keys() -> None:
    """A generateName-only body is keyed by prefix + '*'; a name wins over generateName."""
    assert ids.key_of(job(generate="migrate-")) == "batch/Job//migrate-*"
    assert ids.key_of(job(generate="migrate-", name="m")) == "batch/Job//m"
    assert (ids.is_generated(HOOK), ids.is_generated("batch/Job/web/migrate-x7k2p")) == (
        True,
        False,
    )
    assert ids.with_name(HOOK, "migrate-x7k2p") == "batch/Job/web/migrate-x7k2p"
    assert ids.display_key(HOOK) == "Job/web/migrate-*"


def test_placement_says_what_is_a_hook_and_generate_name_defaults() -> None:
    """Any hook annotation (Sync included) makes a hook; unnamed hooks default to BeforeHookCreation."""
    sync_hook = ordering.placement(job(**{"argocd.argoproj.io/hook": "Sync"}))
    plain = ordering.placement(job())
    assert (sync_hook.phase, sync_hook.is_hook, plain.phase, plain.is_hook) == (
        ordering.Phase.SYNC,
        True,
        ordering.Phase.SYNC,
        False,
    )
    # A hook phase makes a hook whatever annotation put it there (Helm's, say).
    assert ordering.Placement(phase=ordering.Phase.POST_SYNC, wave=0).is_hook
    succeeded = ordering.placement(
        job(**{"gitopsd.io/hook": "PostSync", "gitopsd.io/hook-delete-policy": "HookSucceeded"})
    )
    assert ordering.delete_policies(sync_hook, generated=True) == ("BeforeHookCreation",)
    assert ordering.delete_policies(sync_hook, generated=False) == ()
    assert ordering.delete_policies(succeeded, generated=True) == ("HookSucceeded",)


def test_plan_creates_a_generate_name_hook_every_time_and_it_is_no_change() -> None:
    """An unnamed hook is a create in every plan, tracked under its prefix key, never a reason to sync."""
    prepared = prepare(job(generate="migrate-", **{"gitopsd.io/hook": "PreSync"}), configmap("c"))
    body = prepared.bodies[HOOK]
    assert body["metadata"] == {
        "generateName": "migrate-",
        "namespace": "web",
        "labels": {"gitopsd.io/app": "a"},
        "annotations": {"gitopsd.io/hook": "PreSync", "gitopsd.io/tracking": f"a:{HOOK}"},
    }
    cfg = prepared.bodies["/ConfigMap/web/c"]
    result = plan.compute(
        app="a",
        prepared=prepared,
        live={"/ConfigMap/web/c": cfg},
        inventory={"/ConfigMap/web/c": "d"},
        policy=POLICY,
    )
    assert result.steps == (
        PlanStep(
            key=HOOK,
            action=StepAction.CREATE,
            phase="PreSync",
            digest=codec.digest(body),
            reason="hook named by generateName: a new instance is created each sync",
        ),
        PlanStep(
            key="/ConfigMap/web/c",
            action=StepAction.UNCHANGED,
            digest=codec.digest(cfg),
            reason="in sync",
        ),
    )
    assert (result.hooks, result.has_changes, result.has_hook_changes) == (
        frozenset({HOOK}),
        False,
        True,
    )


def test_generate_name_on_a_non_hook_is_refused() -> None:
    """An unnamed object that is not a hook is refused with a reason saying why."""
    prepared = prepare(job(generate="migrate-"))
    assert prepared.refused == {
        "batch/Job/web/migrate-*": (
            "metadata.generateName is only allowed on hooks (PreSync, Sync, PostSync or "
            "SyncFail); give it a metadata.name"
        )
    }
    assert prepared.placements == {}
    result = plan.compute(app="a", prepared=prepared, live={}, inventory={}, policy=POLICY)
    assert result.has_changes


def test_same_generate_name_twice_is_refused_as_a_duplicate() -> None:
    """Two hooks with one prefix resolving to one namespace are refused as declared twice."""
    objects = {
        "batch/Job//migrate-*": job(generate="migrate-", **{"gitopsd.io/hook": "PreSync"}),
        "batch/Job/web/migrate-*": {
            **job(generate="migrate-", **{"gitopsd.io/hook": "PostSync"}),
            "metadata": {
                "generateName": "migrate-",
                "namespace": "web",
                "annotations": {"gitopsd.io/hook": "PostSync"},
            },
        },
    }
    prepared = plan.prepare(app="a", objects=objects, policy=POLICY, scopes={})
    assert (prepared.bodies, prepared.refused) == (
        {},
        {HOOK: "declared twice (also as batch/Job/web/migrate-*)"},
    )


def test_instances_of_a_declared_hook_are_not_pruned_but_of_a_removed_one_are() -> None:
    """A hook's instances stay out of the prunes while Git declares the hook, then are pruned."""
    instance = "batch/Job/web/migrate-x7k2p"
    live = {instance: {**job(name="migrate-x7k2p"), "metadata": {"name": "migrate-x7k2p"}}}
    declared = prepare(job(generate="migrate-", **{"gitopsd.io/hook": "PreSync"}))
    kept = plan.compute(
        app="a",
        prepared=declared,
        live=live,
        inventory={instance: "d"},
        policy=POLICY,
        hook_instances={instance: HOOK},
    )
    assert [s.key for s in kept.steps] == [HOOK]
    removed = plan.compute(
        app="a",
        prepared=prepare(configmap("c")),
        live=live,
        inventory={instance: "d"},
        policy=POLICY,
        hook_instances={instance: HOOK},
    )
    assert removed.steps[-1] == PlanStep(
        key=instance, action=StepAction.PRUNE, phase="Prune", reason="no longer in Git"
    )


def test_fold_tracks_instances_until_the_hook_deletes_them() -> None:
    """ObjectApplied with a hook adds an instance; HookDeleted removes it from the inventory too."""
    first = "batch/Job/web/migrate-x7k2p"
    second = "batch/Job/web/migrate-b4m9q"

    def applied(key: str) -> ev.ObjectApplied:
        return ev.ObjectApplied(
            app="a",
            target="c1",
            sync_id="s",
            key=key,
            created=True,
            resource_version="1",
            digest="d",
            hook=HOOK,
        )

    state = fold.replay(recorded([applied(first)]))
    assert (
        state.apps["a"].targets["c1"].inventory,
        state.apps["a"].targets["c1"].hook_instances,
    ) == (
        {first: "d"},
        {first: HOOK},
    )
    deleted = ev.HookDeleted(
        app="a", target="c1", sync_id="s2", key=first, hook=HOOK, delete_policy="BeforeHookCreation"
    )
    fold.replay(recorded([deleted, applied(second)]), state)
    assert (
        state.apps["a"].targets["c1"].inventory,
        state.apps["a"].targets["c1"].hook_instances,
    ) == (
        {second: "d"},
        {second: HOOK},
    )


def test_object_applied_v1_is_upcast_without_a_hook() -> None:
    """A stored ObjectApplied of schema version 1 decodes with an empty hook and no target."""
    v1 = {
        "app": "a",
        "sync_id": "s",
        "key": "/ConfigMap/web/c",
        "created": True,
        "resource_version": "7",
        "digest": "d",
    }
    assert codec.decode("ObjectApplied", 1, orjson.dumps(v1)) == ev.ObjectApplied(
        **v1, hook="", target=""
    )
    assert codec.encode(ev.ObjectApplied(**v1, target="c1"))[:2] == ("ObjectApplied", 3)


def test_snapshot_of_an_older_format_is_ignored() -> None:
    """A state snapshot of another format (before targets) is not read: the log is replayed."""
    before = core_state.State()
    before.app("a").target("c1").inventory["/ConfigMap/web/c"] = "d"
    doc = orjson.loads(core_state.to_json(before))
    assert core_state.from_json(orjson.dumps(doc)) == before
    doc["format"] = core_state.STATE_FORMAT - 1
    assert core_state.from_json(orjson.dumps(doc)) is None
