"""PATCH and server-side apply through the server (KUBE_API.md §4): dispatch, validation, ownership."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.dynamic import DynamicClient
from simclient import Raw

from kubesim.emulator import Emulator

CMS = "/api/v1/namespaces/default/configmaps"
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"
APPLY = "application/apply-patch+yaml"


def deployment(image: str = "nginx:1.27", replicas: int = 3) -> dict[str, Any]:
    """The web Deployment as an apply configuration."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "nginx", "image": image, "ports": [{"containerPort": 80}]}
                    ]
                },
            },
        },
    }


async def test_unknown_patch_type_is_415(raw: Raw) -> None:
    """A PATCH with application/json is 415 listing the accepted types."""
    await raw("POST", CMS, body={"metadata": {"name": "c"}})
    resp = await raw("PATCH", f"{CMS}/c", body={"data": {}}, content_type="application/json")
    assert (resp.status, resp.json()["reason"], resp.json()["message"]) == (
        415,
        "UnsupportedMediaType",
        (
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, "
            "application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml"
        ),
    )


async def test_content_type_parameters_are_ignored(raw: Raw) -> None:
    """Anything after ';' in the Content-Type is stripped before dispatch."""
    await raw("POST", CMS, body={"metadata": {"name": "c"}})
    resp = await raw(
        "PATCH",
        f"{CMS}/c",
        body={"data": {"x": "1"}},
        content_type="application/merge-patch+json; charset=utf-8",
    )
    assert (resp.status, resp.json()["data"]) == (200, {"x": "1"})


async def test_force_on_non_apply_is_422(raw: Raw) -> None:
    """Force on a merge patch is 422 on PatchOptions."""
    await raw("POST", CMS, body={"metadata": {"name": "c"}})
    resp = await raw(
        "PATCH",
        f"{CMS}/c?force=true",
        body={"data": {}},
        content_type="application/merge-patch+json",
    )
    assert (resp.status, resp.json()["message"]) == (
        422,
        'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch',
    )


async def test_apply_requires_field_manager(raw: Raw) -> None:
    """Apply without fieldManager is 422."""
    resp = await raw(
        "PATCH",
        f"{CMS}/c",
        body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}},
        content_type=APPLY,
    )
    assert (resp.status, resp.json()["message"]) == (
        422,
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
    )


async def test_apply_wrong_api_version_is_400(raw: Raw) -> None:
    """An apply body whose apiVersion differs from the endpoint is 400."""
    body = {"apiVersion": "v2", "kind": "ConfigMap", "metadata": {"name": "c"}}
    resp = await raw("PATCH", f"{CMS}/c?fieldManager=t", body=body, content_type=APPLY)
    assert (resp.status, resp.json()["reason"]) == (400, "BadRequest")


async def test_patch_missing_object_is_404_but_apply_creates(raw: Raw) -> None:
    """A merge patch of a missing object is 404; apply creates it with 201."""
    merge = await raw(
        "PATCH", f"{CMS}/c", body={"data": {}}, content_type="application/merge-patch+json"
    )
    applied = await raw(
        "PATCH",
        f"{CMS}/c?fieldManager=t",
        body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}},
        content_type=APPLY,
    )
    assert (merge.status, applied.status) == (404, 201)


async def test_json_patch_test_failure_is_422(raw: Raw) -> None:
    """A failing JSON-patch test op is 422 with the generic message."""
    await raw("POST", CMS, body={"metadata": {"name": "c"}, "data": {"a": "1"}})
    ops = [
        {"op": "test", "path": "/data/a", "value": "2"},
        {"op": "replace", "path": "/data/a", "value": "3"},
    ]
    resp = await raw("PATCH", f"{CMS}/c", body=ops, content_type="application/json-patch+json")
    assert (resp.status, resp.json()["reason"], resp.json()["message"]) == (
        422,
        "Invalid",
        "the server rejected our request due to an error in our request",
    )


async def test_json_patch_not_an_array_is_400(raw: Raw) -> None:
    """A JSON-patch body that is not an array is 400."""
    await raw("POST", CMS, body={"metadata": {"name": "c"}})
    resp = await raw(
        "PATCH", f"{CMS}/c", body={"op": "add"}, content_type="application/json-patch+json"
    )
    assert (resp.status, resp.json()["reason"]) == (400, "BadRequest")


async def test_typed_patch_sends_strategic_and_unions_finalizers(core: client.CoreV1Api) -> None:
    """The typed client's dict patch is strategic: finalizers union, patch items first."""
    await core.create_namespaced_config_map(
        "default", {"metadata": {"name": "c", "finalizers": ["a.io/x"]}}
    )
    added = await core.patch_namespaced_config_map(
        "c", "default", {"metadata": {"finalizers": ["a.io/y"]}}
    )
    same = await core.patch_namespaced_config_map("c", "default", {"metadata": {"finalizers": []}})
    assert (added.metadata.finalizers, same.metadata.finalizers) == (
        ["a.io/y", "a.io/x"],
        ["a.io/y", "a.io/x"],
    )


async def test_smp_deletes_container_by_name(raw: Raw) -> None:
    """SMP merges containers by name; $patch: delete removes one."""
    dep = deployment()
    dep["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "busybox"})
    await raw("POST", DEPLOYS, body=dep)
    patch = {
        "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}
    }
    resp = await raw(
        "PATCH", f"{DEPLOYS}/web", body=patch, content_type="application/strategic-merge-patch+json"
    )
    assert [c["name"] for c in resp.json()["spec"]["template"]["spec"]["containers"]] == ["nginx"]


async def test_apply_owns_the_config_exactly(raw: Raw) -> None:
    """Apply's managedFields are the config's field set, list-map keys with the defaulted protocol."""
    resp = await raw(
        "PATCH", f"{DEPLOYS}/web?fieldManager=gitops", body=deployment(), content_type=APPLY
    )
    entry = resp.json()["metadata"]["managedFields"][0]
    assert (entry["manager"], entry["operation"], entry["apiVersion"], entry["fieldsV1"]) == (
        "gitops",
        "Apply",
        "apps/v1",
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
    )


async def test_update_manager_conflicts_with_applier(raw: Raw) -> None:
    """An edit takes ownership; the applier conflicts naming it; force steals (edit manager goes)."""
    await raw("PATCH", f"{DEPLOYS}/web?fieldManager=gitops", body=deployment(), content_type=APPLY)
    await raw(
        "PATCH",
        f"{DEPLOYS}/web",
        body={"spec": {"replicas": 5}},
        content_type="application/merge-patch+json",
        headers={"User-Agent": "kubectl-edit/v1.35.0 (linux/amd64) kubernetes/abc"},
    )
    resp = await raw(
        "PATCH",
        f"{DEPLOYS}/web?fieldManager=gitops",
        body=deployment(replicas=4),
        content_type=APPLY,
    )
    assert (resp.status, resp.json()["message"], resp.json()["details"]) == (
        409,
        'Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas',
        {
            "causes": [
                {
                    "reason": "FieldManagerConflict",
                    "message": 'conflict with "kubectl-edit" using apps/v1',
                    "field": ".spec.replicas",
                }
            ]
        },
    )
    forced = await raw(
        "PATCH",
        f"{DEPLOYS}/web?fieldManager=gitops&force=true",
        body=deployment(replicas=4),
        content_type=APPLY,
    )
    managers = [(m["manager"], m["operation"]) for m in forced.json()["metadata"]["managedFields"]]
    assert (forced.status, forced.json()["spec"]["replicas"], managers) == (
        200,
        4,
        [("gitops", "Apply")],
    )


async def test_other_actor_visible_in_managed_fields(raw: Raw, sim: Emulator) -> None:
    """A change by another user agent shows as its own manager with a time; the token's user is logged."""
    await raw(
        "PATCH",
        f"{CMS}/c?fieldManager=gitops",
        body={
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c"},
            "data": {"a": "1"},
        },
        content_type=APPLY,
    )
    resp = await raw(
        "PATCH",
        f"{CMS}/c",
        body={"data": {"b": "2"}},
        content_type="application/merge-patch+json",
        headers={"User-Agent": "kubectl-edit/v1.35.0"},
    )
    managed = {m["manager"]: m for m in resp.json()["metadata"]["managedFields"]}
    assert (
        sorted(managed),
        managed["kubectl-edit"]["fieldsV1"],
        "time" in managed["kubectl-edit"],
    ) == (
        ["gitops", "kubectl-edit"],
        {"f:data": {"f:b": {}}},
        True,
    )
    assert [(r.user, r.verb) for r in sim.requests[-2:]] == [("admin", "patch"), ("admin", "patch")]


async def test_status_apply_records_subresource(raw: Raw) -> None:
    """An apply to /status records subresource status and leaves spec alone."""
    await raw("POST", DEPLOYS, body=deployment())
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "status": {"observedGeneration": 1},
    }
    resp = await raw(
        "PATCH", f"{DEPLOYS}/web/status?fieldManager=ctl&force=true", body=body, content_type=APPLY
    )
    entry = [m for m in resp.json()["metadata"]["managedFields"] if m["manager"] == "ctl"]
    assert (resp.status, entry[0]["subresource"], resp.json()["status"]["observedGeneration"]) == (
        200,
        "status",
        1,
    )


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"])
async def test_dynamic_client_apply_workloads(dyn: DynamicClient, kind: str) -> None:
    """The DynamicClient server-side applies every apps/v1 workload."""
    api = await dyn.resources.get(api_version="apps/v1", kind=kind)
    body = deployment()
    body["kind"] = kind
    if kind == "DaemonSet":
        del body["spec"]["replicas"]
    if kind == "StatefulSet":
        body["spec"]["serviceName"] = "web"
    made = await dyn.server_side_apply(
        api, body=body, name="web", namespace="default", field_manager="gitops"
    )
    assert (made.kind, made.metadata.managedFields[0].manager) == (kind, "gitops")


async def test_custom_objects_dict_patch_is_400(
    api_client: client.ApiClient, raw: Raw, sim: Emulator
) -> None:
    """CustomObjectsApi sends a dict patch as json-patch: the server rejects it with 400."""
    from test_conformance_delete import establish  # noqa: PLC0415 - shared CRD fixture data

    await establish(raw, sim)
    objects = client.CustomObjectsApi(api_client)
    body = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    await objects.create_namespaced_custom_object("example.com", "v1", "default", "widgets", body)
    with pytest.raises(ApiException) as info:
        await objects.patch_namespaced_custom_object(
            "example.com", "v1", "default", "widgets", "w", {"spec": {"a": 1}}
        )
    fixed = await objects.patch_namespaced_custom_object(
        "example.com",
        "v1",
        "default",
        "widgets",
        "w",
        {"spec": {"a": 1}},
        _content_type="application/merge-patch+json",
    )
    assert (info.value.status, json.loads(info.value.body)["reason"], fixed["spec"]) == (
        400,
        "BadRequest",
        {"a": 1},
    )
