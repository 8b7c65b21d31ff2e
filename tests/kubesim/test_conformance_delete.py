"""DELETE, finalizers, propagation and GC, namespaces, CRDs (KUBE_API.md §5, §1.2)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from kubernetes_asyncio import watch
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.dynamic import DynamicClient
from simclient import Raw, read_lines

from kubesim.emulator import Emulator

CMS = "/api/v1/namespaces/default/configmaps"
MERGE = "application/merge-patch+json"


def cm(name: str, **meta: Any) -> dict[str, Any]:
    """A ConfigMap manifest with extra metadata."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, **meta},
        "data": {"k": "v"},
    }


def owner_ref(owner: dict[str, Any], *, block: bool = False) -> dict[str, Any]:
    """An ownerReference to ``owner``."""
    ref = {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
    }
    if block:
        ref["blockOwnerDeletion"] = True
    return ref


def deployment_body(name: str) -> dict[str, Any]:
    """A minimal Deployment manifest."""
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
            },
        },
    }


async def gone(raw: Raw, path: str, sim: Emulator) -> bool:
    """Whether ``path`` is 404 once the controllers are idle."""
    await sim.idle()
    return (await raw("GET", path)).status == 404


async def test_delete_answers_success_status(raw: Raw) -> None:
    """DELETE of a plain object: 200 with the Success Status of §9 (no code)."""
    made = (await raw("POST", CMS, body=cm("cfg"))).json()
    resp = await raw("DELETE", f"{CMS}/cfg")
    assert (resp.status, resp.json()) == (
        200,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": "cfg", "kind": "configmaps", "uid": made["metadata"]["uid"]},
        },
    )


async def test_delete_of_apps_object_names_group(raw: Raw) -> None:
    """The Success details carry group for non-core resources."""
    dep = {
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
        },
    }
    made = (await raw("POST", "/apis/apps/v1/namespaces/default/deployments", body=dep)).json()
    resp = await raw("DELETE", "/apis/apps/v1/namespaces/default/deployments/web")
    assert resp.json()["details"] == {
        "name": "web",
        "group": "apps",
        "kind": "deployments",
        "uid": made["metadata"]["uid"],
    }


async def test_delete_pod_returns_object(raw: Raw) -> None:
    """Pods answer DELETE with the deleted object (ReturnDeletedObject)."""
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    await raw("POST", "/api/v1/namespaces/default/pods", body=pod)
    resp = await raw("DELETE", "/api/v1/namespaces/default/pods/p")
    assert (resp.status, resp.json()["kind"], resp.json()["metadata"]["name"]) == (200, "Pod", "p")


async def test_finalizers_hold_the_object(raw: Raw, sim: Emulator) -> None:
    """With finalizers DELETE marks the object; clearing them deletes it in that request (§9)."""
    await raw("POST", CMS, body=cm("held", finalizers=["example.com/x"]))
    mark = sim.resource_version
    first = await raw("DELETE", f"{CMS}/held")
    second = await raw("DELETE", f"{CMS}/held")
    meta = first.json()["metadata"]
    assert (
        first.status,
        first.json()["kind"],
        meta["deletionGracePeriodSeconds"],
        meta["finalizers"],
    ) == (
        200,
        "ConfigMap",
        0,
        ["example.com/x"],
    )
    assert "deletionTimestamp" in meta and second.json() == first.json()
    assert (await raw("GET", f"{CMS}/held")).json()["metadata"]["deletionTimestamp"] == meta[
        "deletionTimestamp"
    ]
    final = await raw(
        "PATCH", f"{CMS}/held", body={"metadata": {"finalizers": None}}, content_type=MERGE
    )
    assert (
        final.status,
        final.json()["metadata"]["name"],
        (await raw("GET", f"{CMS}/held")).status,
    ) == (200, "held", 404)
    events = await read_lines(raw, f"{CMS}?watch=1&resourceVersion={mark}", 2)
    assert [e["type"] for e in events] == ["MODIFIED", "DELETED"]


async def test_no_new_finalizers_while_deleting(raw: Raw) -> None:
    """A deleting object cannot gain finalizers (422 Forbidden)."""
    await raw("POST", CMS, body=cm("held", finalizers=["example.com/x"]))
    await raw("DELETE", f"{CMS}/held")
    resp = await raw(
        "PATCH",
        f"{CMS}/held",
        body={"metadata": {"finalizers": ["example.com/x", "example.com/y"]}},
        content_type=MERGE,
    )
    assert (resp.status, resp.json()["message"]) == (
        422,
        (
            'ConfigMap "held" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object '
            'is being deleted, found new finalizers []string{"example.com/y"}'
        ),
    )


async def test_delete_precondition_conflict(raw: Raw) -> None:
    """DeleteOptions preconditions in the body: a stale resourceVersion is 409 (BeforeDelete)."""
    made = (await raw("POST", CMS, body=cm("cfg"))).json()
    body = {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"resourceVersion": "1"}}
    resp = await raw("DELETE", f"{CMS}/cfg", body=body)
    assert (resp.status, resp.json()) == (
        409,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": 'Operation cannot be fulfilled on ConfigMap "cfg": the ResourceVersion in the '
            "precondition (1) does not match the ResourceVersion in record "
            f"({made['metadata']['resourceVersion']}). The object might have been modified",
            "reason": "Conflict",
            "details": {"name": "cfg", "kind": "ConfigMap"},
            "code": 409,
        },
    )


async def test_delete_uid_precondition_guards_a_recreated_object(raw: Raw, sim: Emulator) -> None:
    """A delete with the old incarnation's uid leaves a recreated object alone (409, Kind named)."""
    dep = "/apis/apps/v1/namespaces/default/deployments"
    first = (await raw("POST", dep, body=deployment_body("web"))).json()
    await raw("DELETE", f"{dep}/web")
    second = (await raw("POST", dep, body=deployment_body("web"))).json()
    body = {
        "kind": "DeleteOptions",
        "apiVersion": "v1",
        "propagationPolicy": "Background",
        "preconditions": {"uid": first["metadata"]["uid"]},
    }
    resp = await raw("DELETE", f"{dep}/web", body=body)
    still = await raw("GET", f"{dep}/web")
    assert (resp.status, resp.json()) == (
        409,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": 'Operation cannot be fulfilled on Deployment.apps "web": the UID in the '
            f"precondition ({first['metadata']['uid']}) does not match the UID in record "
            f"({second['metadata']['uid']}). The object might have been deleted and then recreated",
            "reason": "Conflict",
            "details": {"name": "web", "group": "apps", "kind": "Deployment"},
            "code": 409,
        },
    )
    assert (still.status, sim.internal_errors()) == (200, [])
    body["preconditions"] = {"uid": second["metadata"]["uid"]}
    gone_now = await raw("DELETE", f"{dep}/web", body=body)
    assert (gone_now.status, gone_now.json()["status"]) == (200, "Success")


async def test_body_options_override_query(raw: Raw) -> None:
    """With a DeleteOptions body the query's propagationPolicy is ignored."""
    await raw("POST", CMS, body=cm("cfg"))
    resp = await raw(
        "DELETE",
        f"{CMS}/cfg?propagationPolicy=Orphan",
        body={"kind": "DeleteOptions", "apiVersion": "v1"},
    )
    assert (resp.status, resp.json()["kind"]) == (200, "Status")


async def test_invalid_propagation_policy_is_422(raw: Raw) -> None:
    """An unknown propagationPolicy is 422."""
    await raw("POST", CMS, body=cm("cfg"))
    resp = await raw("DELETE", f"{CMS}/cfg?propagationPolicy=Sideways")
    assert (resp.status, resp.json()["reason"]) == (422, "Invalid")


async def test_background_gc_deletes_dependents(raw: Raw, sim: Emulator) -> None:
    """Background: the owner goes at once, the GC deletes dependents whose owners are all gone."""
    owner = (await raw("POST", CMS, body=cm("owner"))).json()
    other = (await raw("POST", CMS, body=cm("other"))).json()
    await raw("POST", CMS, body=cm("dep", ownerReferences=[owner_ref(owner)]))
    await raw("POST", CMS, body=cm("shared", ownerReferences=[owner_ref(owner), owner_ref(other)]))
    await raw("DELETE", f"{CMS}/owner")
    assert await gone(raw, f"{CMS}/dep", sim)
    shared = (await raw("GET", f"{CMS}/shared")).json()
    assert shared["metadata"]["ownerReferences"] == [owner_ref(other)]


async def test_foreground_waits_for_blocking_dependents(raw: Raw, sim: Emulator) -> None:
    """Foreground: the owner keeps foregroundDeletion until blocking dependents are gone."""
    owner = (await raw("POST", CMS, body=cm("owner"))).json()
    await raw(
        "POST",
        CMS,
        body=cm(
            "dep", ownerReferences=[owner_ref(owner, block=True)], finalizers=["example.com/hold"]
        ),
    )
    resp = await raw("DELETE", f"{CMS}/owner?propagationPolicy=Foreground")
    assert resp.json()["metadata"]["finalizers"] == ["foregroundDeletion"]
    await sim.idle()
    dep = (await raw("GET", f"{CMS}/dep")).json()
    assert ("deletionTimestamp" in dep["metadata"], (await raw("GET", f"{CMS}/owner")).status) == (
        True,
        200,
    )
    await raw("PATCH", f"{CMS}/dep", body={"metadata": {"finalizers": None}}, content_type=MERGE)
    assert await gone(raw, f"{CMS}/owner", sim)


async def test_orphan_strips_references(raw: Raw, sim: Emulator) -> None:
    """Orphan: dependents lose the owner's reference and stay; the owner then goes."""
    owner = (await raw("POST", CMS, body=cm("owner"))).json()
    await raw("POST", CMS, body=cm("dep", ownerReferences=[owner_ref(owner)]))
    await raw("DELETE", f"{CMS}/owner?propagationPolicy=Orphan")
    assert await gone(raw, f"{CMS}/owner", sim)
    dep = (await raw("GET", f"{CMS}/dep")).json()
    assert "ownerReferences" not in dep["metadata"]


async def test_job_orphans_by_default_with_warning(raw: Raw, sim: Emulator) -> None:
    """A Job deleted without a policy orphans, with the server's Warning header."""
    job = {
        "metadata": {"name": "j"},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "busybox"}],
                }
            }
        },
    }
    sim.knobs.paused.add("job")
    await raw("POST", "/apis/batch/v1/namespaces/default/jobs", body=job)
    resp = await raw("DELETE", "/apis/batch/v1/namespaces/default/jobs/j")
    assert resp.headers.getall("Warning") == [
        (
            '299 - "child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to '
            'remove them or set propagationPolicy=Orphan to suppress this warning"'
        )
    ]
    assert resp.json()["metadata"]["finalizers"] == ["orphan"]
    assert await gone(raw, "/apis/batch/v1/namespaces/default/jobs/j", sim)


async def test_cross_namespace_owner_counts_as_absent(raw: Raw, sim: Emulator) -> None:
    """A reference to an owner in another namespace is dangling: the dependent is collected."""
    owner = (
        await raw("POST", "/api/v1/namespaces/kube-system/configmaps", body=cm("owner"))
    ).json()
    await raw("POST", CMS, body=cm("dep", ownerReferences=[owner_ref(owner)]))
    assert await gone(raw, f"{CMS}/dep", sim)


async def test_namespace_termination_empties_it(raw: Raw, sim: Emulator) -> None:
    """Deleting a namespace returns it Terminating; the controller empties and removes it."""
    await raw("POST", "/api/v1/namespaces", body={"metadata": {"name": "team"}})
    await raw("POST", "/api/v1/namespaces/team/configmaps", body=cm("a"))
    resp = await raw("DELETE", "/api/v1/namespaces/team")
    body = resp.json()
    assert (resp.status, body["kind"], body["status"]["phase"], body["spec"]["finalizers"]) == (
        200,
        "Namespace",
        "Terminating",
        ["kubernetes"],
    )
    assert await gone(raw, "/api/v1/namespaces/team", sim)
    assert (await raw("GET", "/api/v1/namespaces/team/configmaps/a")).status == 404


async def test_create_in_terminating_namespace_is_403(raw: Raw, sim: Emulator) -> None:
    """While a namespace terminates, creating into it is 403 Forbidden."""
    sim.knobs.paused.add("namespace")
    await raw("POST", "/api/v1/namespaces", body={"metadata": {"name": "team"}})
    await raw("DELETE", "/api/v1/namespaces/team")
    resp = await raw("POST", "/api/v1/namespaces/team/configmaps", body=cm("x"))
    assert (resp.status, resp.json()) == (
        403,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": 'configmaps "x" is forbidden: unable to create new content in namespace team because it is being terminated',
            "reason": "Forbidden",
            "details": {"name": "x", "kind": "configmaps"},
            "code": 403,
        },
    )


def widget_crd(scope: str = "Namespaced") -> dict[str, Any]:
    """A CRD for widgets.example.com with status and scale subresources."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": scope,
            "names": {
                "plural": "widgets",
                "singular": "widget",
                "kind": "Widget",
                "shortNames": ["wd"],
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                    "subresources": {
                        "status": {},
                        "scale": {
                            "specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.replicas",
                        },
                    },
                }
            ],
        },
    }


async def establish(raw: Raw, sim: Emulator) -> dict[str, Any]:
    """Create the widget CRD and wait until it is served."""
    await raw("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body=widget_crd())
    await sim.idle()
    return (
        await raw(
            "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com"
        )
    ).json()


async def test_crd_is_served_once_established(raw: Raw, sim: Emulator) -> None:
    """Before Established CR URLs are plain 404; after, discovery lists the resource and its subresources."""
    sim.knobs.paused.add("crd")
    await raw("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body=widget_crd())
    early = await raw("GET", "/apis/example.com/v1/namespaces/default/widgets")
    assert (early.status, early.body) == (404, b"404 page not found\n")
    sim.knobs.paused.discard("crd")
    sim.controllers.schedule("crd", "widgets.example.com", 0)
    await sim.idle()
    crd = (
        await raw(
            "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com"
        )
    ).json()
    conditions = [
        (c["type"], c["status"], c["reason"], c["message"]) for c in crd["status"]["conditions"]
    ]
    assert conditions == [
        ("NamesAccepted", "True", "NoConflicts", "no conflicts found"),
        ("Established", "True", "InitialNamesAccepted", "the initial names have been accepted"),
    ]
    doc = (await raw("GET", "/apis/example.com/v1")).json()
    assert doc["resources"] == [
        {
            "name": "widgets",
            "singularName": "widget",
            "namespaced": True,
            "kind": "Widget",
            "verbs": [
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "create",
                "update",
                "watch",
            ],
            "shortNames": ["wd"],
        },
        {
            "name": "widgets/scale",
            "singularName": "",
            "namespaced": True,
            "group": "autoscaling",
            "version": "v1",
            "kind": "Scale",
            "verbs": ["get", "patch", "update"],
        },
        {
            "name": "widgets/status",
            "singularName": "",
            "namespaced": True,
            "kind": "Widget",
            "verbs": ["get", "patch", "update"],
        },
    ]


async def test_custom_resource_rules(raw: Raw, sim: Emulator) -> None:
    """CRs: generation on any non-metadata change, SMP is 415, PUT without RV is 422, list items keep kind."""
    await establish(raw, sim)
    path = "/apis/example.com/v1/namespaces/default/widgets"
    made = await raw(
        "POST",
        path,
        body={
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"size": 1},
        },
    )
    assert (made.status, made.json()["metadata"]["generation"]) == (201, 1)
    smp = await raw(
        "PATCH",
        f"{path}/w",
        body={"spec": {"size": 2}},
        content_type="application/strategic-merge-patch+json",
    )
    assert (smp.status, smp.json()["message"]) == (
        415,
        (
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, "
            "application/merge-patch+json, application/apply-patch+yaml"
        ),
    )
    put = await raw(
        "PUT",
        f"{path}/w",
        body={
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"size": 3},
        },
    )
    assert (put.status, put.json()["message"]) == (
        422,
        'Widget.example.com "w" is invalid: metadata.resourceVersion: Invalid value: 0: must be specified for an update',
    )
    merged = await raw("PATCH", f"{path}/w", body={"spec": {"size": 2}}, content_type=MERGE)
    assert merged.json()["metadata"]["generation"] == 2
    listed = (await raw("GET", path)).json()
    assert (listed["kind"], listed["items"][0]["kind"], listed["items"][0]["apiVersion"]) == (
        "WidgetList",
        "Widget",
        "example.com/v1",
    )


async def test_deleting_crd_reports_terminating_until_instances_go(raw: Raw, sim: Emulator) -> None:
    """A deleting CRD shows Terminating/InstanceDeletionInProgress while a CR holds on, then goes."""
    await establish(raw, sim)
    crd_path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com"
    path = "/apis/example.com/v1/namespaces/default/widgets"
    await raw(
        "POST",
        path,
        body={
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w", "finalizers": ["example.com/hold"]},
        },
    )
    mark = sim.resource_version
    await raw("DELETE", crd_path)
    await sim.idle()
    held = (await raw("GET", crd_path)).json()
    terminating = [c for c in held["status"]["conditions"] if c["type"] == "Terminating"]
    assert [(c["status"], c["reason"], c["message"]) for c in terminating] == [
        ("True", "InstanceDeletionInProgress", "CustomResource deletion is in progress")
    ]
    await raw("PATCH", f"{path}/w", body={"metadata": {"finalizers": None}}, content_type=MERGE)
    assert await gone(raw, crd_path, sim)
    events = await read_lines(
        raw,
        f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions?watch=1&resourceVersion={mark}",
        3,
    )
    final = [c for c in events[-1]["object"]["status"]["conditions"] if c["type"] == "Terminating"]
    assert (
        [e["type"] for e in events],
        [(c["status"], c["reason"], c["message"]) for c in final],
    ) == (
        ["MODIFIED", "MODIFIED", "DELETED"],
        [("False", "InstanceDeletionCompleted", "removed all instances")],
    )


async def test_crd_delete_removes_resources_and_unserves(raw: Raw, sim: Emulator) -> None:
    """Deleting a CRD deletes its CRs, then the CRD, and its URLs become plain 404 again."""
    await establish(raw, sim)
    path = "/apis/example.com/v1/namespaces/default/widgets"
    await raw(
        "POST",
        path,
        body={"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}},
    )
    await raw(
        "DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com"
    )
    assert await gone(
        raw, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com", sim
    )
    resp = await raw("GET", path)
    assert (resp.status, resp.body, sim.store.items("widgets.example.com")) == (
        404,
        b"404 page not found\n",
        {},
    )


async def test_dynamic_client_picks_up_new_crd(dyn: DynamicClient, raw: Raw, sim: Emulator) -> None:
    """After a search miss the DynamicClient re-discovers and finds a freshly established CRD."""
    await dyn.resources.get(api_version="v1", kind="ConfigMap")
    await establish(raw, sim)
    widgets = await dyn.resources.get(api_version="example.com/v1", kind="Widget")
    made = await dyn.create(
        widgets,
        body={
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"a": 1},
        },
        namespace="default",
    )
    patched = await dyn.patch(
        widgets, body={"spec": {"a": 2}}, name="w", namespace="default", content_type=MERGE
    )
    listed = await dyn.get(widgets, namespace="default")
    applied = await dyn.server_side_apply(
        widgets,
        body={
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "v"},
            "spec": {"b": 1},
        },
        namespace="default",
        field_manager="gitops",
    )
    w = watch.Watch()
    async with w:
        first = await anext(dyn.watch(widgets, namespace="default", name="v", watcher=w))
    sim.compact()
    with pytest.raises(ApiException) as expired:
        async for _ in dyn.watch(widgets, namespace="default", resource_version=1):
            pass
    await dyn.delete(widgets, name="w", namespace="default")
    assert (made.spec.a, patched.spec.a, [i.metadata.name for i in listed.items]) == (1, 2, ["w"])
    assert (applied.metadata.managedFields[0].manager, first["type"], expired.value.status) == (
        "gitops",
        "ADDED",
        410,
    )


async def test_watch_sees_gc_deletions(raw: Raw, sim: Emulator) -> None:
    """Watchers see the GC's deletion of a dependent as DELETED."""
    owner = (await raw("POST", CMS, body=cm("owner"))).json()
    await raw("POST", CMS, body=cm("dep", ownerReferences=[owner_ref(owner)]))
    mark = sim.resource_version
    reader = asyncio.create_task(read_lines(raw, f"{CMS}?watch=1&resourceVersion={mark}", 2))
    await raw("DELETE", f"{CMS}/owner")
    events = await reader
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("DELETED", "owner"),
        ("DELETED", "dep"),
    ]


async def test_update_cannot_set_deletion_timestamp(raw: Raw) -> None:
    """Only DELETE sets deletionTimestamp: an update that sets it is 422 immutable."""
    made = (await raw("POST", CMS, body=cm("cfg"))).json()
    made["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    resp = await raw("PUT", f"{CMS}/cfg", body=made)
    assert (resp.status, resp.json()["message"]) == (
        422,
        'ConfigMap "cfg" is invalid: metadata.deletionTimestamp: Invalid value: "2026-01-01T00:00:00Z": field is immutable',
    )
