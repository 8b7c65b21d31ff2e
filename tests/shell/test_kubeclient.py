"""KubeClient against the emulator over HTTP: discovery, apply, get, delete, list, watch, errors."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kubefixtures import configmap, widget_crd

from daemon.shell import kubeclient, kubeerrors
from daemon.shell.kubediscovery import Resource
from kubesim.emulator import Emulator

CONFIGMAPS = Resource("", "v1", "configmaps", True, "ConfigMap")


async def drain(stream: AsyncIterator[kubeclient.WatchEvent]) -> list[kubeclient.WatchEvent]:
    """Every event of a watch until it ends."""
    return [event async for event in stream]


def deployment(name: str, *, replicas: int = 1) -> dict[str, Any]:
    """A minimal Deployment body."""
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
            },
        },
    }


async def test_discovery_names_core_and_group_resources(kube: kubeclient.KubeClient) -> None:
    """resource_for reads group, version, plural and scope from discovery, by version or group."""
    assert await kube.resource_for("v1", "ConfigMap") == CONFIGMAPS
    assert await kube.resource_for("apps/v1", "Deployment") == Resource(
        "apps", "v1", "deployments", True, "Deployment"
    )
    assert await kube.resource_for_group_kind("rbac.authorization.k8s.io", "ClusterRole") == (
        Resource("rbac.authorization.k8s.io", "v1", "clusterroles", False, "ClusterRole")
    )
    assert (
        await kube.is_namespaced("v1", "Namespace"),
        await kube.is_namespaced("v1", "Secret"),
    ) == (
        False,
        True,
    )


async def test_unknown_kind_is_no_kind_match(kube: kubeclient.KubeClient) -> None:
    """A kind the server does not serve raises NoKindMatchError worded as kubectl words it."""
    with pytest.raises(kubeerrors.NoKindMatchError) as caught:
        await kube.resource_for("example.com/v1", "Widget")
    assert (caught.value.code, caught.value.reason, caught.value.message) == (
        404,
        "NoKindMatch",
        'no matches for kind "Widget" in version "example.com/v1"',
    )


async def test_discovery_refreshes_when_a_crd_becomes_established(
    kube: kubeclient.KubeClient, emulator: Emulator
) -> None:
    """A kind missing from the cache refetches its group-version, so a new CRD's kind is found."""
    with pytest.raises(kubeerrors.NoKindMatchError):
        await kube.resource_for("example.com/v1", "Widget")
    await kube.apply(widget_crd())
    await emulator.idle()
    assert await kube.resource_for("example.com/v1", "Widget") == Resource(
        "example.com", "v1", "widgets", True, "Widget"
    )
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "default"},
        "spec": {"size": 3},
    }
    obj, created = await kube.apply(widget)
    assert (created, obj["spec"]) == (True, {"size": 3})
    patch = [r for r in emulator.requests if r.method == "PATCH" and "/widgets/" in r.path]
    assert [r.content_type for r in patch] == ["application/apply-patch+yaml"]


async def test_a_deleted_crd_makes_its_kind_unknown_again(
    kube: kubeclient.KubeClient, emulator: Emulator
) -> None:
    """The plain-text 404 of a vanished CRD's URL drops the cached discovery: NoKindMatchError."""
    await kube.apply(widget_crd())
    await emulator.idle()
    ref = ("example.com/v1", "Widget", "default", "w")
    assert await kube.get(ref) is None
    await kube.delete(
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com")
    )
    await emulator.idle()
    with pytest.raises(kubeerrors.NoKindMatchError) as caught:
        await kube.get(ref)
    assert caught.value.object_ref == "Widget/default/w"
    with pytest.raises(kubeerrors.NoKindMatchError):
        await kube.resource_for("example.com/v1", "Widget")


async def test_apply_creates_then_updates_as_field_manager_gitopsd(
    kube: kubeclient.KubeClient,
) -> None:
    """The first apply answers 201 (created), the next 200; managedFields name gitopsd/Apply."""
    obj, created = await kube.apply(configmap("cfg", data={"a": "1"}))
    assert created is True
    obj, created = await kube.apply(configmap("cfg", data={"a": "2"}))
    assert (created, obj["data"]) == (False, {"a": "2"})
    managers = [(m["manager"], m["operation"]) for m in obj["metadata"]["managedFields"]]
    assert managers == [("gitopsd", "Apply")]


async def test_create_takes_the_name_the_server_generates(kube: kubeclient.KubeClient) -> None:
    """A create POSTs a generateName body; a dry run names it too but stores nothing."""
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"generateName": "hook-", "namespace": "default"},
        "data": {"k": "v"},
    }
    dry = await kube.create(body, dry_run=True)
    assert await kube.get(("v1", "ConfigMap", "default", dry["metadata"]["name"])) is None
    made = await kube.create(body)
    name = made["metadata"]["name"]
    assert (made["kind"], name.startswith("hook-"), len(name)) == ("ConfigMap", True, 10)
    live = await kube.get(("v1", "ConfigMap", "default", name))
    assert live is not None
    assert [(m["manager"], m["operation"]) for m in live["metadata"]["managedFields"]] == [
        ("gitopsd", "Update")
    ]


async def test_dry_run_apply_stores_nothing(kube: kubeclient.KubeClient) -> None:
    """A dry-run apply answers like the real one (created) but the object does not exist after."""
    obj, created = await kube.apply(configmap("dry"), dry_run=True)
    assert (created, obj["metadata"]["name"], "resourceVersion" in obj["metadata"]) == (
        True,
        "dry",
        False,
    )
    assert await kube.get(("v1", "ConfigMap", "default", "dry")) is None


async def test_apply_refuses_a_namespaced_object_without_namespace(
    kube: kubeclient.KubeClient,
) -> None:
    """A namespaced kind with no metadata.namespace is a caller error naming the object."""
    body = configmap("x")
    del body["metadata"]["namespace"]
    with pytest.raises(ValueError, match="ConfigMap/x: ConfigMap is namespaced"):
        await kube.apply(body)


async def test_invalid_object_raises_typed_error_with_causes(kube: kubeclient.KubeClient) -> None:
    """A 422 carries the Kubernetes reason, message, causes and the object it was about."""
    with pytest.raises(kubeerrors.ApiError) as caught:
        await kube.apply(deployment("web", replicas=-1))
    err = caught.value
    assert (err.code, err.reason, err.object_ref, err.is_invalid) == (
        422,
        "Invalid",
        "Deployment/default/web",
        True,
    )
    assert [(c.reason, c.field) for c in err.causes] == [("FieldValueInvalid", "spec.replicas")]
    assert str(err).startswith("Deployment/default/web: Invalid (422): ")


async def test_field_conflict_without_force_is_a_conflict(kube: kubeclient.KubeClient) -> None:
    """Another manager's unforced apply of a gitopsd-owned field is 409 with FieldManagerConflict."""
    await kube.apply(configmap("shared", data={"a": "1"}))
    with pytest.raises(kubeerrors.ApiError) as caught:
        await kube.apply(configmap("shared", data={"a": "9"}), field_manager="other", force=False)
    err = caught.value
    assert (err.code, err.reason, err.is_conflict) == (409, "Conflict", True)
    assert [(c.reason, c.field) for c in err.causes] == [("FieldManagerConflict", ".data.a")]


async def test_get_by_key_uses_the_preferred_version(kube: kubeclient.KubeClient) -> None:
    """get() takes an object key (group/kind/ns/name) or an ObjectRef; a missing object is None."""
    await kube.apply(deployment("web"))
    by_key = await kube.get("apps/Deployment/default/web")
    by_ref = await kube.get(("apps/v1", "Deployment", "default", "web"))
    assert by_key is not None
    assert by_ref is not None
    assert (by_key["kind"], by_key["apiVersion"], by_key["metadata"]["uid"]) == (
        "Deployment",
        "apps/v1",
        by_ref["metadata"]["uid"],
    )
    assert await kube.get("apps/Deployment/default/nope") is None


async def test_delete_outcomes(kube: kubeclient.KubeClient) -> None:
    """Deleting answers deleted, then gone; an object held by a finalizer is pending."""
    await kube.apply(configmap("gone-soon"))
    key = "/ConfigMap/default/gone-soon"
    assert await kube.delete(key) == "deleted"
    assert await kube.delete(key) == "gone"
    held = configmap("held")
    held["metadata"]["finalizers"] = ["example.com/hold"]
    await kube.apply(held)
    assert await kube.delete("/ConfigMap/default/held") == "pending"
    live = await kube.get("/ConfigMap/default/held")
    assert live is not None
    assert "deletionTimestamp" in live["metadata"]


async def test_dry_run_delete_keeps_the_object(kube: kubeclient.KubeClient) -> None:
    """A dry-run delete says deleted but the object is still there."""
    await kube.apply(configmap("keep"))
    assert await kube.delete("/ConfigMap/default/keep", dry_run=True) == "deleted"
    assert await kube.get("/ConfigMap/default/keep") is not None


async def test_delete_with_a_stale_uid_is_a_conflict(kube: kubeclient.KubeClient) -> None:
    """A uid precondition protects a same-named newer object: 409 Conflict, nothing deleted."""
    await kube.apply(configmap("again"))
    with pytest.raises(kubeerrors.ApiError) as caught:
        await kube.delete("/ConfigMap/default/again", uid_precondition="not-the-uid")
    assert (caught.value.code, caught.value.reason, caught.value.object_ref) == (
        409,
        "Conflict",
        "ConfigMap/default/again",
    )
    assert await kube.get("/ConfigMap/default/again") is not None


async def test_delete_of_an_unserved_kind_is_gone(kube: kubeclient.KubeClient) -> None:
    """Deleting an object whose kind is not served (its CRD went first) is gone, not an error."""
    assert await kube.delete("example.com/Widget/default/w") == "gone"


async def test_list_pages_fill_in_kind_and_return_the_list_rv(
    kube: kubeclient.KubeClient, emulator: Emulator
) -> None:
    """A paged, label-selected list returns every match typed, and the global revision."""
    for i in range(5):
        await kube.apply(configmap(f"m{i}", labels={"gitopsd.io/app": "demo"}))
    await kube.apply(configmap("other"))
    items, version = await kube.list(CONFIGMAPS, label_selector="gitopsd.io/app", page_size=2)
    assert [(o["apiVersion"], o["kind"], o["metadata"]["name"]) for o in items] == [
        ("v1", "ConfigMap", f"m{i}") for i in range(5)
    ]
    assert version == str(emulator.resource_version)
    pages = [r for r in emulator.requests if r.path == "/api/v1/configmaps"]
    assert len(pages) == 3


async def test_list_in_one_namespace(kube: kubeclient.KubeClient) -> None:
    """namespace= lists only that namespace."""
    await kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    await kube.apply(configmap("a", "team"))
    await kube.apply(configmap("b"))
    items, _ = await kube.list(CONFIGMAPS, namespace="team")
    assert [o["metadata"]["name"] for o in items] == ["a"]


async def test_watch_streams_changes_after_the_list(kube: kubeclient.KubeClient) -> None:
    """A watch from the list's RV yields the later ADDED/MODIFIED/DELETED, then ends at timeout."""
    _, version = await kube.list(CONFIGMAPS)
    await kube.apply(configmap("w1"))
    await kube.apply(configmap("w1", data={"k": "2"}))
    await kube.delete("/ConfigMap/default/w1")
    seen: list[tuple[str, str]] = []
    stream = kube.watch(CONFIGMAPS, resource_version=version, timeout_seconds=1)
    async with contextlib.aclosing(stream):
        async for event in stream:
            if event.type != "BOOKMARK":
                seen.append((event.type, event.obj["metadata"]["name"]))
            if len(seen) == 3:
                break
    assert seen == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]


async def test_watch_from_compacted_history_raises_expired(
    kube: kubeclient.KubeClient, emulator: Emulator
) -> None:
    """An RV older than the server's history ends the watch with ExpiredError (410, Expired)."""
    _, version = await kube.list(CONFIGMAPS)
    await kube.apply(configmap("c1"))
    emulator.compact()
    with pytest.raises(kubeerrors.ExpiredError) as caught:
        await drain(kube.watch(CONFIGMAPS, resource_version=version, timeout_seconds=5))
    assert (caught.value.code, caught.value.reason) == (410, "Expired")


async def test_dropped_watch_ends_the_iteration(
    kube: kubeclient.KubeClient, emulator: Emulator
) -> None:
    """A watch whose connection is cut ends quietly: the caller resumes from its last RV."""
    _, version = await kube.list(CONFIGMAPS)
    await kube.apply(configmap("d1"))
    seen: list[str] = []
    stream = kube.watch(CONFIGMAPS, resource_version=version, timeout_seconds=30)
    async with contextlib.aclosing(stream):
        async for event in stream:
            seen.append(event.type)
            emulator.drop_watches(abort=True)
    assert seen == ["ADDED"]
