"""Server-side apply and managedFields bookkeeping (kubesim.apply).

Expected values are written from KUBE_API.md §4 and §9 and from structured-merge-diff /
apimachinery's managedfields code, not from this implementation's output.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubesim import apply, schema

CM = schema.for_kind("", "v1", "ConfigMap")
DEPLOY = schema.for_kind("apps", "v1", "Deployment")
T0, T1, T2, T3 = (f"2026-01-01T00:00:0{i}Z" for i in range(4))

JSON = dict[str, Any]


def cm(data: dict[str, str] | None = None, **meta: Any) -> JSON:
    body: JSON = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg2", **meta}}
    if data is not None:
        body["data"] = data
    return body


def cm_apply(
    live: JSON | None, config: JSON, manager: str, *, now: str = T0, force: bool = False
) -> apply.ApplyResult:
    assert CM is not None
    return apply.apply(
        live,
        config,
        manager=manager,
        force=force,
        schema=CM,
        api_version="v1",
        kind="ConfigMap",
        now=now,
    )


def cm_update(old: JSON | None, new: JSON, manager: str, *, now: str = T0) -> JSON:
    assert CM is not None
    managed = apply.update_managed_fields(
        old, new, manager=manager, schema=CM, api_version="v1", now=now
    )
    out = dict(new)
    meta = dict(out["metadata"])
    meta.pop("managedFields", None)
    if managed is not None:
        meta["managedFields"] = managed
    out["metadata"] = meta
    return out


def entry(
    manager: str,
    operation: str,
    fields: JSON,
    *,
    api: str = "v1",
    time: str | None = T0,
    sub: str = "",
) -> JSON:
    out: JSON = {"manager": manager, "operation": operation, "apiVersion": api}
    if time is not None:
        out["time"] = time
    out["fieldsType"] = "FieldsV1"
    out["fieldsV1"] = fields
    if sub:
        out["subresource"] = sub
    return out


def deploy_config(*, replicas: int | None = 3, containers: list[JSON] | None = None) -> JSON:
    spec: JSON = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": containers
                if containers is not None
                else [{"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]
            },
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": spec,
    }


def deploy_apply(
    live: JSON | None, config: JSON, manager: str, *, now: str = T0, force: bool = False
) -> apply.ApplyResult:
    assert DEPLOY is not None
    return apply.apply(
        live,
        config,
        manager=manager,
        force=force,
        schema=DEPLOY,
        api_version="apps/v1",
        kind="Deployment",
        now=now,
        reset_fields=apply.reset_fields_for(
            group="apps", kind="Deployment", subresource=None, has_status=True
        ),
    )


def conflict_of(call: Any) -> JSON:
    with pytest.raises(apply.ApplyConflict) as caught:
        call()
    return caught.value.status()


# ---------------------------------------------------------------- §9 worked examples


def test_apply_create_owns_exactly_the_config_fields() -> None:
    """An apply that creates records one Apply entry owning the applied data keys (§9)."""
    result = cm_apply(None, cm({"a": "1", "b": "2"}), "gitops")
    assert result.object == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "cfg2",
            "managedFields": [entry("gitops", "Apply", {"f:data": {"f:a": {}, "f:b": {}}})],
        },
        "data": {"a": "1", "b": "2"},
    }
    assert result.changed is True


def test_apply_then_drop_a_key_removes_it() -> None:
    """Dropping a key the applier owned alone deletes it from the object (§9)."""
    first = cm_apply(None, cm({"a": "1", "b": "2"}), "gitops").object
    second = cm_apply(first, cm({"a": "1"}), "gitops", now=T1)
    assert second.object["data"] == {"a": "1"}
    assert second.managed_fields == [entry("gitops", "Apply", {"f:data": {"f:a": {}}}, time=T1)]
    assert second.changed is True


def test_same_apply_again_is_a_no_op() -> None:
    """Re-applying the same body changes nothing, managedFields time included (§9, §3.1)."""
    first = cm_apply(None, cm({"a": "1", "b": "2"}), "gitops").object
    second = cm_apply(first, cm({"a": "1"}), "gitops", now=T1).object
    third = cm_apply(second, cm({"a": "1"}), "gitops", now=T2)
    assert third.changed is False
    assert third.object == second


def test_second_manager_conflicts_with_the_exact_status() -> None:
    """Another applier changing an owned field gets the 409 body of §9."""
    live = cm_apply(None, cm({"a": "1"}), "gitops").object
    body = conflict_of(lambda: cm_apply(live, cm({"a": "9"}), "other"))
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'Apply failed with 1 conflict: conflict with "gitops": .data.a',
        "reason": "Conflict",
        "details": {
            "causes": [
                {
                    "reason": "FieldManagerConflict",
                    "message": 'conflict with "gitops"',
                    "field": ".data.a",
                }
            ]
        },
        "code": 409,
    }


def test_conflict_with_an_update_manager_names_its_api_version() -> None:
    """An Update manager prints as '"name" using <apiVersion>' (§4.5 example)."""
    live = deploy_apply(None, deploy_config(replicas=3), "gitops").object
    assert DEPLOY is not None
    edited = {**live, "spec": {**live["spec"], "replicas": 5}}
    managed = apply.update_managed_fields(
        live, edited, manager="kubectl-edit", schema=DEPLOY, api_version="apps/v1", now=T1
    )
    edited["metadata"] = {**edited["metadata"], "managedFields": managed}
    body = conflict_of(lambda: deploy_apply(edited, deploy_config(replicas=3), "gitops", now=T2))
    assert (
        body["message"]
        == 'Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas'
    )
    assert body["details"] == {
        "causes": [
            {
                "reason": "FieldManagerConflict",
                "message": 'conflict with "kubectl-edit" using apps/v1',
                "field": ".spec.replicas",
            }
        ]
    }


def test_several_conflicts_are_grouped_by_manager_sorted_by_name() -> None:
    """Multi-conflict messages list managers in name order, one '- path' line each (§4.5)."""
    live = cm_apply(None, cm({"x": "1", "y": "1"}), "b").object
    live = cm_apply(live, cm({"x": "1", "y": "1", "z": "1"}), "a", now=T1).object
    # now "a" co-owns x and y, and alone owns z; "b" owns x and y
    body = conflict_of(lambda: cm_apply(live, cm({"x": "2", "z": "2"}), "c", now=T2))
    assert body["message"] == (
        "Apply failed with 3 conflicts: "
        'conflicts with "a":\n- .data.x\n- .data.z\n'
        'conflicts with "b":\n- .data.x'
    )
    assert [c["field"] for c in body["details"]["causes"]] == [".data.x", ".data.z", ".data.x"]
    assert [c["message"] for c in body["details"]["causes"]] == [
        'conflict with "a"',
        'conflict with "a"',
        'conflict with "b"',
    ]


def test_a_conflicting_apply_writes_nothing() -> None:
    """A conflict leaves the stored object untouched (the caller keeps ``live``)."""
    live = cm_apply(None, cm({"a": "1"}), "gitops").object
    snapshot = repr(live)
    conflict_of(lambda: cm_apply(live, cm({"a": "9"}), "other"))
    assert repr(live) == snapshot


# ---------------------------------------------------------------- §4.4 consequences


def test_shared_ownership_without_conflict() -> None:
    """Applying the value a field already has makes the manager a co-owner, no conflict."""
    live = cm_apply(None, cm({"a": "1"}), "gitops").object
    result = cm_apply(live, cm({"a": "1"}), "other", now=T1)
    assert result.changed is False
    # the second applier's entry has no time: the real server only stamps an applier
    # whose apply changed the object (kubernetes/kubernetes#127938); no time sorts first
    assert result.managed_fields == [
        entry("other", "Apply", {"f:data": {"f:a": {}}}, time=None),
        entry("gitops", "Apply", {"f:data": {"f:a": {}}}),
    ]


def test_ownership_transfer_keeps_the_field() -> None:
    """When one of two co-owners drops a field it stays, owned by the other (§4.4)."""
    live = cm_apply(None, cm({"a": "1", "b": "1"}), "gitops").object
    live = cm_apply(live, cm({"a": "1"}), "other", now=T1).object
    result = cm_apply(live, cm({"b": "1"}), "gitops", now=T2)
    assert result.object["data"] == {"a": "1", "b": "1"}
    assert result.managed_fields == [
        entry("other", "Apply", {"f:data": {"f:a": {}}}, time=None),
        entry("gitops", "Apply", {"f:data": {"f:b": {}}}),
    ]


def test_force_steals_the_field_and_drops_an_emptied_entry() -> None:
    """force=true takes conflicting fields; an owner left with nothing disappears."""
    live = cm_apply(None, cm({"a": "1"}), "gitops").object
    result = cm_apply(live, cm({"a": "9"}), "other", now=T1, force=True)
    assert result.object["data"] == {"a": "9"}
    assert result.managed_fields == [entry("other", "Apply", {"f:data": {"f:a": {}}}, time=T1)]


def test_force_keeps_the_other_managers_unrelated_fields() -> None:
    """Forcing only removes the conflicting paths from the other owner."""
    live = cm_apply(None, cm({"a": "1", "b": "1"}), "gitops").object
    result = cm_apply(live, cm({"a": "9"}), "other", now=T1, force=True)
    assert result.managed_fields == [
        entry("gitops", "Apply", {"f:data": {"f:b": {}}}),
        entry("other", "Apply", {"f:data": {"f:a": {}}}, time=T1),
    ]


def test_fields_created_by_update_managers_are_never_pruned() -> None:
    """An apply never deletes what a POST/PUT created (§4.4, §10.6)."""
    created = cm_update(None, cm({"a": "1", "b": "2"}), "OpenAPI-Generator")
    first = cm_apply(created, cm({"a": "1", "b": "2"}), "gitops", now=T1).object
    result = cm_apply(first, cm({"a": "1"}), "gitops", now=T2)
    assert result.object["data"] == {"a": "1", "b": "2"}
    assert result.changed is False


def test_update_takes_ownership_from_the_applier() -> None:
    """An Update that changes an applied field takes it; re-applying then conflicts."""
    live = cm_apply(None, cm({"a": "1"}), "gitops").object
    edited = cm_update(live, {**live, "data": {"a": "2"}}, "kubectl-edit", now=T1)
    assert edited["metadata"]["managedFields"] == [
        entry("kubectl-edit", "Update", {"f:data": {"f:a": {}}}, time=T1)
    ]
    body = conflict_of(lambda: cm_apply(edited, cm({"a": "1"}), "gitops", now=T2))
    assert (
        body["message"]
        == 'Apply failed with 1 conflict: conflict with "kubectl-edit" using v1: .data.a'
    )


def test_create_by_update_records_the_section_9_fields() -> None:
    """A create without fieldManager records an Update entry with '.' on new maps (§9)."""
    new = cm({"k": "v"}, namespace="default", labels={"app": "demo"})
    new["metadata"]["name"] = "cfg"
    assert CM is not None
    managed = apply.update_managed_fields(
        None, new, manager="OpenAPI-Generator", schema=CM, api_version="v1", now=T0
    )
    assert managed == [
        entry(
            "OpenAPI-Generator",
            "Update",
            {"f:data": {".": {}, "f:k": {}}, "f:metadata": {"f:labels": {".": {}, "f:app": {}}}},
        )
    ]


def test_deployment_apply_owns_the_section_4_2_set() -> None:
    """The §4.2 example: atomic selector, list-map keys incl. the defaulted protocol."""
    result = deploy_apply(None, deploy_config(replicas=3), "gitops")
    assert result.managed_fields == [
        entry(
            "gitops",
            "Apply",
            {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {
                            "f:containers": {
                                'k:{"name":"nginx"}': {
                                    ".": {},
                                    "f:image": {},
                                    "f:name": {},
                                    "f:ports": {
                                        'k:{"containerPort":80,"protocol":"TCP"}': {
                                            ".": {},
                                            "f:containerPort": {},
                                        }
                                    },
                                }
                            }
                        },
                    },
                },
            },
            api="apps/v1",
        )
    ]


def test_removing_a_container_from_the_config_deletes_it() -> None:
    """An associative-list item the applier dropped is deleted from the object (§4.4)."""
    two = [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]
    live = deploy_apply(None, deploy_config(containers=two), "gitops").object
    result = deploy_apply(
        live, deploy_config(containers=[{"name": "a", "image": "a:1"}]), "gitops", now=T1
    )
    assert result.object["spec"]["template"]["spec"]["containers"] == [
        {"name": "a", "image": "a:1"}
    ]


def test_container_added_by_another_manager_survives_an_apply() -> None:
    """A live-only list item (owned by someone else) is kept by the merge."""
    live = deploy_apply(
        None, deploy_config(containers=[{"name": "a", "image": "a:1"}]), "gitops"
    ).object
    assert DEPLOY is not None
    spec = live["spec"]["template"]["spec"]
    sidecar = {
        **live,
        "spec": {
            **live["spec"],
            "template": {
                **live["spec"]["template"],
                "spec": {
                    **spec,
                    "containers": [*spec["containers"], {"name": "side", "image": "s:1"}],
                },
            },
        },
    }
    sidecar["metadata"] = {
        **sidecar["metadata"],
        "managedFields": apply.update_managed_fields(
            live, sidecar, manager="injector", schema=DEPLOY, api_version="apps/v1", now=T1
        ),
    }
    result = deploy_apply(
        sidecar, deploy_config(containers=[{"name": "a", "image": "a:2"}]), "gitops", now=T2
    )
    assert result.object["spec"]["template"]["spec"]["containers"] == [
        {"name": "a", "image": "a:2"},
        {"name": "side", "image": "s:1"},
    ]


def test_granular_map_dropped_entirely_when_nobody_owns_it() -> None:
    """Pruning the last owned label removes the labels map the applier created."""
    live = cm_apply(None, cm({"a": "1"}, labels={"team": "x"}), "gitops").object
    result = cm_apply(live, cm({"a": "1"}), "gitops", now=T1)
    assert result.object["metadata"] == {
        "name": "cfg2",
        "managedFields": [entry("gitops", "Apply", {"f:data": {"f:a": {}}}, time=T1)],
    }


def test_set_list_merge_keeps_live_order_rules() -> None:
    """SMD ordering: live [a,b,c] merged with config [c,a] gives [b,c,a] (a change)."""
    live = cm_update(None, cm({"k": "v"}, finalizers=["a", "b", "c"]), "creator")
    result = cm_apply(live, cm({"k": "v"}, finalizers=["c", "a"]), "gitops", now=T1)
    assert result.object["metadata"]["finalizers"] == ["b", "c", "a"]
    assert result.changed is True


def test_new_set_item_is_placed_before_the_next_shared_item() -> None:
    """SMD ordering: live [a,b] merged with config [x,b] gives [a,x,b]."""
    live = cm_update(None, cm({"k": "v"}, finalizers=["a", "b"]), "creator")
    result = cm_apply(live, cm({"k": "v"}, finalizers=["x", "b"]), "gitops", now=T1)
    assert result.object["metadata"]["finalizers"] == ["a", "x", "b"]


def test_status_in_the_config_is_ignored_on_the_main_resource() -> None:
    """With a status subresource, the main resource's apply neither owns nor writes status."""
    config = deploy_config()
    config["status"] = {"replicas": 7}
    result = deploy_apply(None, config, "gitops")
    assert "status" not in result.object
    assert "f:status" not in result.managed_fields[0]["fieldsV1"]


def test_status_subresource_apply_owns_status_only() -> None:
    """An apply to /status records subresource status and ignores spec (reset fields)."""
    live = deploy_apply(None, deploy_config(), "gitops").object
    assert DEPLOY is not None
    config = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 1},
        "status": {"replicas": 3},
    }
    result = apply.apply(
        live,
        config,
        manager="kube-controller-manager",
        force=False,
        schema=DEPLOY,
        api_version="apps/v1",
        kind="Deployment",
        now=T1,
        subresource="status",
        reset_fields=apply.reset_fields_for(
            group="apps", kind="Deployment", subresource="status", has_status=True
        ),
    )
    assert result.object["spec"]["replicas"] == 3
    assert result.object["status"] == {"replicas": 3}
    assert result.managed_fields[1] == entry(
        "kube-controller-manager",
        "Apply",
        {"f:status": {"f:replicas": {}}},
        api="apps/v1",
        time=T1,
        sub="status",
    )


def test_subresource_manager_display_in_conflicts() -> None:
    """A subresource owner prints as '"name" with subresource "status"'."""
    assert DEPLOY is not None
    live = deploy_apply(None, deploy_config(), "gitops").object
    status_cfg = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "status": {"replicas": 3},
    }
    owned = apply.apply(
        live,
        status_cfg,
        manager="ctl",
        force=False,
        schema=DEPLOY,
        api_version="apps/v1",
        kind="Deployment",
        now=T1,
        subresource="status",
    ).object
    body = conflict_of(
        lambda: apply.apply(
            owned,
            {**status_cfg, "status": {"replicas": 4}},
            manager="other",
            force=False,
            schema=DEPLOY,
            api_version="apps/v1",
            kind="Deployment",
            now=T2,
            subresource="status",
        )
    )
    assert (
        body["message"]
        == 'Apply failed with 1 conflict: conflict with "ctl" with subresource "status": .status.replicas'
    )


# ---------------------------------------------------------------- input checks


def test_apply_with_another_api_version_is_a_400() -> None:
    """versioncheck.go: a config of another group/version/kind is 'invalid object type'."""
    with pytest.raises(apply.ApplyInvalid) as caught:
        cm_apply(None, {"apiVersion": "v2", "kind": "ConfigMap", "metadata": {"name": "x"}}, "m")
    assert caught.value.status() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "invalid object type: /v2, Kind=ConfigMap",
        "reason": "BadRequest",
        "code": 400,
    }


def test_apply_without_api_version_names_the_empty_group_version() -> None:
    """A config without apiVersion prints an empty GroupVersion in the message."""
    with pytest.raises(apply.ApplyInvalid) as caught:
        cm_apply(None, {"kind": "ConfigMap", "metadata": {"name": "x"}}, "m")
    assert caught.value.message == "invalid object type: /, Kind=ConfigMap"


def test_apply_with_managed_fields_is_a_400() -> None:
    """structuredmerge.go: metadata.managedFields in an apply body is refused."""
    with pytest.raises(apply.ApplyInvalid) as caught:
        cm_apply(None, cm({"a": "1"}, managedFields=[]), "m")
    assert (caught.value.code, caught.value.reason, caught.value.message) == (
        400,
        "BadRequest",
        "metadata.managedFields must be nil",
    )


def test_apply_with_an_unknown_field_is_the_typed_patch_error() -> None:
    """Unknown fields fail SMD's typed conversion: a 500 without reason."""
    config = deploy_config()
    config["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(apply.ApplyInvalid) as caught:
        deploy_apply(None, config, "gitops")
    assert caught.value.status() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): "
        '.spec.template.spec.containers[name="nginx"].imagePullPolicyy: field not declared in schema',
        "code": 500,
    }


def test_apply_with_duplicate_list_keys_is_refused() -> None:
    """Two containers with one name cannot be applied (no duplicates in a config)."""
    twice = [{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]
    with pytest.raises(apply.ApplyInvalid) as caught:
        deploy_apply(None, deploy_config(containers=twice), "gitops")
    assert caught.value.message == (
        "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): "
        '.spec.template.spec.containers: duplicate entries for key [name="a"]'
    )


# ---------------------------------------------------------------- managers


def test_entries_sort_apply_first_then_time_then_name() -> None:
    """Entries are ordered Apply before Update, then by time, then by manager name."""
    live = cm_update(None, cm({"u": "1"}), "zeta", now=T0)
    live = cm_update(live, {**live, "data": {"u": "1", "v": "1"}}, "alpha", now=T2)
    live = cm_apply(live, cm({"w": "1"}), "late", now=T3).object
    live = cm_apply(live, cm({"x": "1"}), "early", now=T1).object
    assert [(e["manager"], e["operation"]) for e in live["metadata"]["managedFields"]] == [
        ("early", "Apply"),
        ("late", "Apply"),
        ("zeta", "Update"),
        ("alpha", "Update"),
    ]


def test_update_managers_are_capped_at_ten() -> None:
    """An eleventh Update manager merges the two oldest into ancient-changes."""
    live: JSON | None = None
    for i in range(11):
        obj = cm({f"k{i:02d}": "v"} | ({} if live is None else live["data"]))
        if live is not None:
            obj["metadata"] = live["metadata"]
        live = cm_update(live, obj, f"m{i:02d}", now=f"2026-01-01T00:00:{i:02d}Z")
    assert live is not None
    managers = [(e["manager"], e.get("time")) for e in live["metadata"]["managedFields"]]
    assert managers == [("ancient-changes", "2026-01-01T00:00:01Z")] + [
        (f"m{i:02d}", f"2026-01-01T00:00:{i:02d}Z") for i in range(2, 11)
    ]
    assert live["metadata"]["managedFields"][0]["fieldsV1"] == {
        "f:data": {".": {}, "f:k00": {}, "f:k01": {}}
    }


def test_update_of_an_object_without_managed_fields_keeps_none() -> None:
    """skipnonapplied.go: an existing object without managedFields gets none on update."""
    assert CM is not None
    old = cm({"a": "1"})
    assert (
        apply.update_managed_fields(
            old, cm({"a": "2"}), manager="m", schema=CM, api_version="v1", now=T1
        )
        is None
    )


def test_first_apply_to_an_untracked_object_records_before_first_apply() -> None:
    """skipnonapplied.go: existing fields go to an Update manager 'before-first-apply'."""
    result = cm_apply(cm({"a": "1"}), cm({"b": "2"}), "gitops", now=T1)
    assert result.managed_fields == [
        entry("gitops", "Apply", {"f:data": {"f:b": {}}}, time=T1),
        entry("before-first-apply", "Update", {"f:data": {".": {}, "f:a": {}}}, time=T1),
    ]


def test_update_with_empty_managed_fields_strips_them() -> None:
    """An update body with managedFields [] (or [{}]) in an update body removes managedFields entirely."""
    live = cm_apply(None, cm({"a": "1"}), "gitops").object
    assert CM is not None
    for reset in ([], [{}]):
        body = cm({"a": "2"}, managedFields=reset)
        managed = apply.update_managed_fields(
            live, body, manager="m", schema=CM, api_version="v1", now=T1
        )
        assert managed is None


def test_update_without_changes_keeps_managed_fields_and_time() -> None:
    """A write that changes nothing leaves every entry, time included, as it was."""
    live = cm_update(None, cm({"a": "1"}), "m", now=T0)
    again = cm_update(live, live, "m", now=T2)
    assert again["metadata"]["managedFields"] == live["metadata"]["managedFields"]


def test_update_entries_are_per_api_version() -> None:
    """The same Update manager through two apiVersions keeps two entries."""
    assert DEPLOY is not None
    live = deploy_apply(None, deploy_config(), "gitops").object
    v1 = {**live, "spec": {**live["spec"], "replicas": 4}}
    m1 = apply.update_managed_fields(
        live, v1, manager="ctl", schema=DEPLOY, api_version="apps/v1", now=T1
    )
    v1["metadata"] = {**v1["metadata"], "managedFields": m1}
    v2 = {**v1, "spec": {**v1["spec"], "paused": True}}
    m2 = apply.update_managed_fields(
        v1, v2, manager="ctl", schema=DEPLOY, api_version="apps/v1beta2", now=T2
    )
    assert m2 is not None
    assert [(e["manager"], e["apiVersion"]) for e in m2] == [
        ("gitops", "apps/v1"),
        ("ctl", "apps/v1"),
        ("ctl", "apps/v1beta2"),
    ]


def test_reset_fields_for_the_main_resource_and_status() -> None:
    """GetResetFields: status on the main resource; spec (+Deployment labels) on /status."""
    assert (
        apply.reset_fields_for(group="", kind="ConfigMap", subresource=None, has_status=False) == ()
    )
    assert apply.reset_fields_for(group="batch", kind="Job", subresource=None, has_status=True) == (
        ("status",),
    )
    assert apply.reset_fields_for(
        group="batch", kind="Job", subresource="status", has_status=True
    ) == (("spec",),)
    assert apply.reset_fields_for(
        group="apps", kind="Deployment", subresource="status", has_status=True
    ) == (
        ("spec",),
        ("metadata", "labels"),
    )
