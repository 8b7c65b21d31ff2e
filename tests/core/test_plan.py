"""plan.prepare and plan.compute: namespaces, tracking, restrictions, actions and order."""

from __future__ import annotations

from typing import Any

import orjson

from daemon.core import codec, ids, ordering, plan
from daemon.core.events import PlanStep, StepAction

POLICY = plan.Policy(cluster="dev", namespace="web")


def obj(
    kind: str, name: str, *, api: str = "v1", ns: str | None = None, **extra: Any
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if ns is not None:
        meta["namespace"] = ns
    annotations = extra.pop("annotations", None)
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": api, "kind": kind, "metadata": meta, **extra}


def rendered(*objects: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {ids.key_of(o): o for o in objects}


def test_prepare_resolves_namespaces_and_adds_tracking() -> None:
    """Namespaced kinds get the destination namespace; cluster-scoped lose theirs; all are tracked."""
    prepared = plan.prepare(
        app="shop",
        objects=rendered(
            obj("ConfigMap", "cfg", data={"a": "1"}),
            obj("ClusterRole", "reader", api="rbac.authorization.k8s.io/v1", ns="ignored"),
            obj("Service", "api", ns="other"),
        ),
        policy=POLICY,
        scopes={},
    )
    assert sorted(prepared.bodies) == [
        "/ConfigMap/web/cfg",
        "/Service/other/api",
        "rbac.authorization.k8s.io/ClusterRole//reader",
    ]
    cfg = prepared.bodies["/ConfigMap/web/cfg"]
    assert cfg["metadata"] == {
        "name": "cfg",
        "namespace": "web",
        "labels": {"gitopsd.io/app": "shop"},
        "annotations": {"gitopsd.io/tracking": "shop:/ConfigMap/web/cfg"},
    }
    assert (
        "namespace"
        not in prepared.bodies["rbac.authorization.k8s.io/ClusterRole//reader"]["metadata"]
    )
    assert prepared.refused == {}


def test_custom_kinds_take_scope_from_crds_or_discovery() -> None:
    """A CR's scope comes from a CRD in the same app, else from recorded discovery."""
    crd = obj(
        "CustomResourceDefinition",
        "widgets.example.com",
        api="apiextensions.k8s.io/v1",
        spec={"group": "example.com", "names": {"kind": "Widget"}, "scope": "Cluster"},
    )
    prepared = plan.prepare(
        app="a",
        objects=rendered(
            crd, obj("Widget", "w", api="example.com/v1"), obj("Gadget", "g", api="other.io/v1")
        ),
        policy=POLICY,
        scopes={"other.io/Gadget": True},
    )
    assert sorted(prepared.bodies) == [
        "apiextensions.k8s.io/CustomResourceDefinition//widgets.example.com",
        "example.com/Widget//w",
        "other.io/Gadget/web/g",
    ]


def test_restrictions_refuse_with_reasons() -> None:
    """Denied kinds, kinds outside the allow list, foreign namespaces and cluster scope are refused."""
    policy = plan.Policy(
        cluster="dev",
        namespace="web",
        namespaces=("web",),
        allowed_kinds=("ConfigMap", "apps/Deployment", "ClusterRole"),
        denied_kinds=("Secret",),
        cluster_scoped=False,
    )
    prepared = plan.prepare(
        app="a",
        objects=rendered(
            obj("ConfigMap", "ok"),
            obj("ConfigMap", "elsewhere", ns="kube-system"),
            obj("Secret", "s"),
            obj("Service", "svc"),
            obj("ClusterRole", "cr", api="rbac.authorization.k8s.io/v1"),
        ),
        policy=policy,
        scopes={},
    )
    assert list(prepared.bodies) == ["/ConfigMap/web/ok"]
    assert prepared.refused == {
        "/ConfigMap/kube-system/elsewhere": "namespace 'kube-system' is not allowed for this app (allowed: web)",
        "/Secret/web/s": "kind Secret is denied for this app",
        "/Service/web/svc": "kind Service is not in the app's allowed kinds",
        "rbac.authorization.k8s.io/ClusterRole//cr": "cluster-scoped objects are not allowed for this app",
    }


def test_compute_create_update_unchanged_prune_keep() -> None:
    """Each action with its reason; prunes last; protected and no-prune objects are kept."""
    prepared = plan.prepare(
        app="a",
        objects=rendered(
            obj("ConfigMap", "new", data={"k": "v"}),
            obj("ConfigMap", "same", data={"k": "v"}),
            obj("ConfigMap", "changed", data={"k": "v2"}),
        ),
        policy=POLICY,
        scopes={},
    )
    same = prepared.bodies["/ConfigMap/web/same"]
    changed_live = {**prepared.bodies["/ConfigMap/web/changed"], "data": {"k": "v1"}}
    protected = obj("ConfigMap", "kept", ns="web", annotations={"gitopsd.io/prune": "disabled"})
    live = {
        "/ConfigMap/web/same": same,
        "/ConfigMap/web/changed": changed_live,
        "/ConfigMap/web/gone": obj("ConfigMap", "gone", ns="web"),
        "/ConfigMap/web/kept": protected,
    }
    inventory = dict.fromkeys(
        (
            "/ConfigMap/web/same",
            "/ConfigMap/web/changed",
            "/ConfigMap/web/gone",
            "/ConfigMap/web/kept",
            "/ConfigMap/web/vanished",
        ),
        "d",
    )
    result = plan.compute(app="a", prepared=prepared, live=live, inventory=inventory, policy=POLICY)
    digest = {k: codec.digest(v) for k, v in prepared.bodies.items()}
    assert result.steps == (
        PlanStep(
            key="/ConfigMap/web/changed",
            action=StepAction.UPDATE,
            digest=digest["/ConfigMap/web/changed"],
            reason=".data.k: 'v1' -> 'v2'",
        ),
        PlanStep(
            key="/ConfigMap/web/new",
            action=StepAction.CREATE,
            digest=digest["/ConfigMap/web/new"],
            reason="not in the cluster",
        ),
        PlanStep(
            key="/ConfigMap/web/same",
            action=StepAction.UNCHANGED,
            digest=digest["/ConfigMap/web/same"],
            reason="in sync",
        ),
        PlanStep(
            key="/ConfigMap/web/vanished",
            action=StepAction.PRUNE,
            phase="Prune",
            reason="no longer in Git (already absent)",
        ),
        PlanStep(
            key="/ConfigMap/web/kept",
            action=StepAction.KEEP,
            phase="Prune",
            reason="no longer in Git; kept: gitopsd.io/prune: disabled",
        ),
        PlanStep(
            key="/ConfigMap/web/gone",
            action=StepAction.PRUNE,
            phase="Prune",
            reason="no longer in Git",
        ),
    )
    assert result.has_changes
    no_prune = plan.Policy(cluster="dev", namespace="web", prune=False)
    kept = plan.compute(app="a", prepared=prepared, live=live, inventory=inventory, policy=no_prune)
    assert [s.action for s in kept.steps if s.phase == "Prune"] == [StepAction.KEEP] * 3


def test_order_namespaces_crds_first_then_phases_waves_kinds() -> None:
    """Namespaces and CRDs first; PreSync, Sync waves by kind order, PostSync; prunes reversed."""
    objects = rendered(
        obj("Ingress", "ing", api="networking.k8s.io/v1"),
        obj("Deployment", "web", api="apps/v1"),
        obj("Service", "web"),
        obj("ConfigMap", "cfg"),
        obj("Job", "migrate", api="batch/v1", annotations={"argocd.argoproj.io/hook": "PreSync"}),
        obj("Job", "smoke", api="batch/v1", annotations={"gitopsd.io/hook": "PostSync"}),
        obj("ConfigMap", "late", annotations={"gitopsd.io/sync-wave": "5"}),
        obj("ConfigMap", "early", annotations={"argocd.argoproj.io/sync-wave": "-1"}),
        obj("Namespace", "web"),
        obj("CustomResourceDefinition", "w.example.com", api="apiextensions.k8s.io/v1"),
        obj("ConfigMap", "skipped", annotations={"gitopsd.io/hook": "Skip"}),
    )
    prepared = plan.prepare(app="a", objects=objects, policy=POLICY, scopes={})
    result = plan.compute(app="a", prepared=prepared, live={}, inventory={}, policy=POLICY)
    assert [(s.key, s.phase, s.wave) for s in result.steps] == [
        ("/Namespace//web", "Sync", 0),
        ("apiextensions.k8s.io/CustomResourceDefinition//w.example.com", "Sync", 0),
        ("batch/Job/web/migrate", "PreSync", 0),
        ("/ConfigMap/web/early", "Sync", -1),
        ("/ConfigMap/web/cfg", "Sync", 0),
        ("/Service/web/web", "Sync", 0),
        ("apps/Deployment/web/web", "Sync", 0),
        ("networking.k8s.io/Ingress/web/ing", "Sync", 0),
        ("/ConfigMap/web/late", "Sync", 5),
        ("batch/Job/web/smoke", "PostSync", 0),
    ]


def test_bad_annotations_and_foreign_owner_are_refused() -> None:
    """An unparsable wave or hook is refused; an object tracked by another app is not taken over."""
    prepared = plan.prepare(
        app="a",
        objects=rendered(
            obj("ConfigMap", "w", annotations={"gitopsd.io/sync-wave": "soon"}),
            obj("ConfigMap", "h", annotations={"gitopsd.io/hook": "Later"}),
            obj("ConfigMap", "theirs"),
        ),
        policy=POLICY,
        scopes={},
    )
    assert prepared.refused == {
        "/ConfigMap/web/w": "sync-wave 'soon' is not an integer",
        "/ConfigMap/web/h": "hook annotation 'Later': use PreSync, Sync, PostSync, SyncFail or Skip",
    }
    live = {
        "/ConfigMap/web/theirs": obj(
            "ConfigMap",
            "theirs",
            ns="web",
            annotations={"gitopsd.io/tracking": "b:/ConfigMap/web/theirs"},
        )
    }
    result = plan.compute(app="a", prepared=prepared, live=live, inventory={}, policy=POLICY)
    assert [(s.key, s.action, s.reason) for s in result.steps] == [
        (
            "/ConfigMap/web/h",
            StepAction.REFUSED,
            "hook annotation 'Later': use PreSync, Sync, PostSync, SyncFail or Skip",
        ),
        ("/ConfigMap/web/theirs", StepAction.REFUSED, "ConfigMap/web/theirs is managed by app 'b'"),
        ("/ConfigMap/web/w", StepAction.REFUSED, "sync-wave 'soon' is not an integer"),
    ]


def test_policy_round_trips_through_json() -> None:
    """A policy recorded as JSON reads back equal."""
    policy = plan.Policy(cluster="c", namespaces=("a", "b"), denied_kinds=("Secret",), prune=False)
    assert plan.Policy.from_json(orjson.loads(codec.dumps(policy.to_json()))) == policy


def test_placement_defaults() -> None:
    """No annotations: Sync phase, wave 0."""
    assert ordering.placement(obj("ConfigMap", "x")) == ordering.Placement(
        phase=ordering.Phase.SYNC, wave=0
    )


def test_helm_keep_and_argo_prune_false_are_kept_naming_the_annotation() -> None:
    """``helm.sh/resource-policy: keep`` and Argo CD's ``Prune=false`` keep an object, saying which."""
    prepared = plan.prepare(app="a", objects={}, policy=POLICY, scopes={})
    live = {
        "/ConfigMap/web/helm": obj(
            "ConfigMap", "helm", ns="web", annotations={"helm.sh/resource-policy": "keep"}
        ),
        "/ConfigMap/web/argo": obj(
            "ConfigMap",
            "argo",
            ns="web",
            annotations={"argocd.argoproj.io/sync-options": "Replace=true, Prune=false"},
        ),
    }
    result = plan.compute(
        app="a", prepared=prepared, live=live, inventory=dict.fromkeys(live, "d"), policy=POLICY
    )
    assert result.steps == (
        PlanStep(
            key="/ConfigMap/web/helm",
            action=StepAction.KEEP,
            phase="Prune",
            reason="no longer in Git; kept: helm.sh/resource-policy: keep",
        ),
        PlanStep(
            key="/ConfigMap/web/argo",
            action=StepAction.KEEP,
            phase="Prune",
            reason="no longer in Git; kept: argocd.argoproj.io/sync-options: Prune=false",
        ),
    )


def test_helm_hooks_without_a_sync_phase_are_left_out_of_the_plan() -> None:
    """A ``helm.sh/hook: pre-delete`` or ``test`` object is not applied; pre-install is a PreSync hook."""
    prepared = plan.prepare(
        app="a",
        objects=rendered(
            obj("Job", "bye", api="batch/v1", annotations={"helm.sh/hook": "pre-delete"}),
            obj("Pod", "test", annotations={"helm.sh/hook": "test"}),
            obj("Job", "migrate", api="batch/v1", annotations={"helm.sh/hook": "pre-install"}),
        ),
        policy=POLICY,
        scopes={},
    )
    assert (list(prepared.bodies), prepared.placements) == (
        ["batch/Job/web/migrate"],
        {"batch/Job/web/migrate": ordering.Placement(ordering.Phase.PRE_SYNC, 0)},
    )
