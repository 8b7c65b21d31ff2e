"""Every worked request/response pair of KUBE_API.md §9, through kubernetes_asyncio."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException
from simclient import Raw, read_lines

from kubesim.emulator import Emulator

CMS = "/api/v1/namespaces/default/configmaps"


def failure(code: int, reason: str, message: str, details: dict[str, Any]) -> dict[str, Any]:
    """A failure Status."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": details,
        "code": code,
    }


async def test_create_without_field_manager(
    core: client.CoreV1Api, api_client: client.ApiClient
) -> None:
    """§9 create: 201, manager OpenAPI-Generator (from the User-Agent), operation Update."""
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg", "labels": {"app": "demo"}},
        "data": {"k": "v"},
    }
    resp = await core.create_namespaced_config_map("default", body, _preload_content=False)
    assert api_client.user_agent.startswith("OpenAPI-Generator/")
    code, made = resp.status, await resp.json()
    meta = made["metadata"]
    assert (code, made) == (
        201,
        {
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": {
                "name": "cfg",
                "namespace": "default",
                "uid": meta["uid"],
                "resourceVersion": meta["resourceVersion"],
                "creationTimestamp": meta["creationTimestamp"],
                "labels": {"app": "demo"},
                "managedFields": [
                    {
                        "manager": "OpenAPI-Generator",
                        "operation": "Update",
                        "apiVersion": "v1",
                        "time": meta["creationTimestamp"],
                        "fieldsType": "FieldsV1",
                        "fieldsV1": {
                            "f:data": {".": {}, "f:k": {}},
                            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                        },
                    }
                ],
            },
            "data": {"k": "v"},
        },
    )


async def test_stale_update_is_conflict(core: client.CoreV1Api, raw: Raw) -> None:
    """§9 stale update: PUT with an old resourceVersion is the exact 409 Conflict."""
    await core.create_namespaced_config_map(
        "default", {"metadata": {"name": "cfg"}, "data": {"k": "v"}}
    )
    await raw(
        "PATCH",
        f"{CMS}/cfg",
        body={"data": {"k": "moved"}},
        content_type="application/merge-patch+json",
    )
    stale = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg", "resourceVersion": "1000"},
        "data": {"k": "v2"},
    }
    with pytest.raises(ApiException) as info:
        await core.replace_namespaced_config_map("cfg", "default", stale)
    assert (info.value.status, json.loads(info.value.body)) == (
        409,
        failure(
            409,
            "Conflict",
            'Operation cannot be fulfilled on configmaps "cfg": the object has been modified; please apply your '
            "changes to the latest version and try again",
            {"name": "cfg", "kind": "configmaps"},
        ),
    )


async def apply(
    api_client: client.ApiClient,
    name: str,
    body: dict[str, Any],
    *,
    manager: str,
    force: bool = False,
) -> tuple[int, dict[str, Any]]:
    """Server-side apply through the typed client (apply-patch+yaml)."""
    core = client.CoreV1Api(api_client)
    query: dict[str, Any] = {
        "field_manager": manager,
        "_content_type": "application/apply-patch+yaml",
    }
    if force:
        query["force"] = True
    resp = await core.patch_namespaced_config_map(
        name, "default", body, _preload_content=False, **query
    )
    if resp.status >= 400:
        exc = ApiException(status=resp.status, reason=resp.reason)
        exc.body = await resp.text()
        raise exc
    return resp.status, await resp.json()


async def test_apply_then_drop_a_key(api_client: client.ApiClient, raw: Raw, sim: Emulator) -> None:
    """§9 apply: 201 on create, pruning a dropped key bumps the RV, the same body again is a no-op."""
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg2"},
        "data": {"a": "1", "b": "2"},
    }
    code, made = await apply(api_client, "cfg2", body, manager="gitops", force=True)
    assert code == 201
    assert made["metadata"]["managedFields"] == [
        {
            "manager": "gitops",
            "operation": "Apply",
            "apiVersion": "v1",
            "time": made["metadata"]["managedFields"][0]["time"],
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:a": {}, "f:b": {}}},
        }
    ]
    mark = sim.resource_version
    smaller = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg2"},
        "data": {"a": "1"},
    }
    code, pruned = await apply(api_client, "cfg2", smaller, manager="gitops", force=True)
    assert (code, pruned["data"], int(pruned["metadata"]["resourceVersion"])) == (
        200,
        {"a": "1"},
        mark + 1,
    )
    code, again = await apply(api_client, "cfg2", smaller, manager="gitops", force=True)
    assert (code, again["metadata"]["resourceVersion"], sim.resource_version) == (
        200,
        pruned["metadata"]["resourceVersion"],
        mark + 1,
    )
    events = await read_lines(raw, f"{CMS}?watch=1&resourceVersion={mark}&timeoutSeconds=1", 2)
    assert [(e["type"], e["object"]["data"]) for e in events] == [("MODIFIED", {"a": "1"})]


async def test_second_manager_conflicts(api_client: client.ApiClient) -> None:
    """§9 conflict: another manager changing an owned field without force is 409 with causes."""
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg2"},
        "data": {"a": "1"},
    }
    await apply(api_client, "cfg2", body, manager="gitops", force=True)
    other = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg2"},
        "data": {"a": "9"},
    }
    with pytest.raises(ApiException) as info:
        await apply(api_client, "cfg2", other, manager="other")
    assert (info.value.status, info.value.reason, json.loads(info.value.body)) == (
        409,
        "Conflict",
        failure(
            409,
            "Conflict",
            'Apply failed with 1 conflict: conflict with "gitops": .data.a',
            {
                "causes": [
                    {
                        "reason": "FieldManagerConflict",
                        "message": 'conflict with "gitops"',
                        "field": ".data.a",
                    }
                ]
            },
        ),
    )


async def test_watch_resume_after_compaction(raw: Raw, sim: Emulator) -> None:
    """§9 watch resume: RV 5 after compaction is one ERROR 410 event in a 200 stream, then close."""
    for i in range(6):
        await raw("POST", CMS, body={"metadata": {"name": f"c{i}"}})
    sim.compact()
    resp = await raw("GET", f"{CMS}?watch=True&resourceVersion=5")
    assert (resp.status, resp.body) == (
        200,
        b'{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 5 ('
        + str(sim.resource_version).encode()
        + b')","reason":"Expired","code":410}}\n',
    )


async def test_delete_with_and_without_finalizers(
    raw: Raw, sim: Emulator, core: client.CoreV1Api
) -> None:
    """§9 delete: Success Status; with finalizers the object with deletionTimestamp; merge patch clears and deletes."""
    made = await core.create_namespaced_config_map("default", {"metadata": {"name": "cfg"}})
    plain = await raw("DELETE", f"{CMS}/cfg")
    assert plain.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": "cfg", "kind": "configmaps", "uid": made.metadata.uid},
    }
    await core.create_namespaced_config_map(
        "default", {"metadata": {"name": "held", "finalizers": ["example.com/x"]}}
    )
    held = (await raw("DELETE", f"{CMS}/held")).json()
    assert (
        held["kind"],
        held["metadata"]["deletionGracePeriodSeconds"],
        held["metadata"]["finalizers"],
    ) == ("ConfigMap", 0, ["example.com/x"])
    w = watch.Watch()
    async with w:
        stream = w.stream(
            core.list_namespaced_config_map,
            "default",
            resource_version=held["metadata"]["resourceVersion"],
        )
        final = await raw(
            "PATCH",
            f"{CMS}/held",
            body={"metadata": {"finalizers": None}},
            content_type="application/merge-patch+json",
        )
        event = await anext(stream)
    assert (final.status, event["type"], event["object"].metadata.name) == (200, "DELETED", "held")
