"""The Go round trip of built-in objects: canonical quantities, omitempty, sorted map keys.

A real server decodes every write into the Go types and encodes them on every read
(apimachinery ``resource.Quantity`` MarshalJSON; ``encoding/json`` ``omitempty`` and map-key
order). Expected values follow those rules (see ``test_quantity.py`` for the quantity
table); custom resources are stored as sent.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException
from simclient import Raw

from kubesim.emulator import Emulator

NS = "/api/v1/namespaces/default"
FORMAT_WRONG = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)


def deployment(resources: dict[str, Any], **container: Any) -> dict[str, Any]:
    """A Deployment whose one container has ``resources``."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx:1.27", "resources": resources} | container
                    ],
                    "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "1024Ki"}}],
                },
            },
        },
    }


async def apply(raw: Raw, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Server-side apply of ``body`` at ``path`` as gitopsd sends it (manager gitopsd, force)."""
    resp = await raw(
        "PATCH",
        f"{path}?fieldManager=gitopsd&force=true",
        body=body,
        content_type="application/apply-patch+yaml",
    )
    return resp.status, resp.json()


async def test_workload_quantities_come_back_canonical(raw: Raw, apps: client.AppsV1Api) -> None:
    """requests/limits and emptyDir sizeLimit: 0.5 -> 500m, 1024Mi -> 1Gi, 1 -> "1", 1000 -> 1k."""
    resources = {
        "requests": {"cpu": "0.5", "memory": "1024Mi"},
        "limits": {"memory": "1000", "cpu": 1},
    }
    code, made = await apply(
        raw, "/apis/apps/v1/namespaces/default/deployments/web", deployment(resources)
    )
    pod = made["spec"]["template"]["spec"]
    typed = await apps.read_namespaced_deployment("web", "default")
    assert (code, pod["containers"][0]["resources"], pod["volumes"][0]["emptyDir"]) == (
        201,
        {"limits": {"cpu": "1", "memory": "1k"}, "requests": {"cpu": "500m", "memory": "1Gi"}},
        {"sizeLimit": "1Mi"},
    )
    assert typed.spec.template.spec.containers[0].resources.requests == {
        "cpu": "500m",
        "memory": "1Gi",
    }


async def test_reapplying_non_canonical_quantities_is_a_no_op(raw: Raw, sim: Emulator) -> None:
    """The same config with 0.5 applied again matches the stored 500m: same RV, no event."""
    body = deployment({"requests": {"cpu": "0.5", "memory": "1024Mi"}})
    path = "/apis/apps/v1/namespaces/default/deployments/web"
    _, made = await apply(raw, path, body)
    mark = sim.resource_version
    code, again = await apply(raw, path, body)
    assert (code, again["metadata"]["resourceVersion"], sim.resource_version) == (
        200,
        made["metadata"]["resourceVersion"],
        mark,
    )


async def test_quota_claim_and_limit_range_quantities(
    core: client.CoreV1Api, sim: Emulator
) -> None:
    """ResourceQuota hard, PVC storage (and the bound capacity), LimitRange max/min/defaults."""
    quota = await core.create_namespaced_resource_quota(
        "default",
        {"metadata": {"name": "q"}, "spec": {"hard": {"requests.cpu": "1000m", "pods": 10}}},
    )
    await core.create_namespaced_persistent_volume_claim(
        "default",
        {
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "2048Mi"}},
            },
        },
    )
    limits = await core.create_namespaced_limit_range(
        "default",
        {
            "metadata": {"name": "lr"},
            "spec": {
                "limits": [
                    {"type": "Container", "max": {"memory": "0.5Gi"}},
                    {"type": "Container", "min": {"cpu": "0.1"}},
                ]
            },
        },
    )
    await sim.idle()
    claim = await core.read_namespaced_persistent_volume_claim("data", "default")
    assert (quota.spec.hard, claim.spec.resources.requests, claim.status.capacity) == (
        {"pods": "10", "requests.cpu": "1"},
        {"storage": "2Gi"},
        {"storage": "2Gi"},
    )
    first, second = limits.spec.limits
    assert (first.max, first.default, first.default_request) == (
        {"memory": "512Mi"},
        {"memory": "512Mi"},
        {"memory": "512Mi"},
    )
    assert (second.min, second.default, second.default_request) == (
        {"cpu": "100m"},
        None,
        {"cpu": "100m"},
    )


async def test_invalid_quantity_is_refused(raw: Raw) -> None:
    """A quantity that does not parse: 400 on create (decode error), the field manager's 500 on apply."""
    body = deployment({"limits": {"memory": "1 gig"}})
    created = await raw("POST", "/apis/apps/v1/namespaces/default/deployments", body=body)
    applied = await raw(
        "PATCH",
        "/apis/apps/v1/namespaces/default/deployments/web?fieldManager=gitopsd",
        body=body,
        content_type="application/apply-patch+yaml",
    )
    assert (created.status, created.json()["reason"], created.json()["message"]) == (
        400,
        "BadRequest",
        f'Deployment in version "v1" cannot be handled as a Deployment: {FORMAT_WRONG}',
    )
    assert (applied.status, applied.json()["message"]) == (
        500,
        "failed to convert new object (default/web; apps/v1, Kind=Deployment) to proper version: "
        + FORMAT_WRONG,
    )


async def test_quantity_conflict_follows_the_written_value(raw: Raw) -> None:
    """Ownership compares values as written: 0.5 over 500m (and 1024Ki over 1Mi) conflicts."""
    path = "/apis/apps/v1/namespaces/default/deployments/web"
    await apply(raw, path, deployment({"requests": {"cpu": "500m"}}))
    other = deployment({"requests": {"cpu": "0.5"}})
    resp = await raw(
        "PATCH",
        f"{path}?fieldManager=other",
        body=other,
        content_type="application/apply-patch+yaml",
    )
    fields = [
        '.spec.template.spec.containers[name="web"].resources.requests.cpu',
        '.spec.template.spec.volumes[name="scratch"].emptyDir.sizeLimit',
    ]
    assert (resp.status, resp.json()["details"]["causes"]) == (
        409,
        [
            {"reason": "FieldManagerConflict", "message": 'conflict with "gitopsd"', "field": f}
            for f in fields
        ],
    )


async def test_nulls_and_empty_maps_and_lists_are_omitted(raw: Raw) -> None:
    """Members set to null, {} maps and [] lists vanish (omitempty); required lists and structs stay.

    The ConfigMap is left with no field anyone could own, so it has no managedFields.
    """
    made = await raw(
        "POST",
        f"{NS}/configmaps",
        body={
            "metadata": {"name": "c", "labels": {}, "annotations": None, "finalizers": []},
            "data": {},
            "binaryData": None,
        },
    )
    meta = made.json()["metadata"]
    role = await raw(
        "POST",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
        body={"metadata": {"name": "r"}, "rules": []},
    )
    _, dep = await apply(
        raw,
        "/apis/apps/v1/namespaces/default/deployments/web",
        deployment({}, args=[], env=None),
    )
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert (sorted(made.json()), sorted(meta), role.json()["rules"]) == (
        ["apiVersion", "kind", "metadata"],
        ["creationTimestamp", "name", "namespace", "resourceVersion", "uid"],
        [],
    )
    assert (sorted(container), container["resources"]) == (
        [
            "image",
            "imagePullPolicy",
            "name",
            "resources",
            "terminationMessagePath",
            "terminationMessagePolicy",
        ],
        {},
    )


async def test_map_keys_come_back_sorted(raw: Raw) -> None:
    """Go encodes maps with sorted keys: labels and data read back in key order."""
    made = await raw(
        "POST",
        f"{NS}/configmaps",
        body={
            "metadata": {"name": "c", "labels": {"z": "1", "a": "2"}},
            "data": {"b": "", "a": ""},
        },
    )
    body = made.json()
    assert (list(body["metadata"]["labels"]), list(body["data"])) == (["a", "z"], ["a", "b"])


async def test_custom_resources_are_stored_as_sent(raw: Raw, sim: Emulator) -> None:
    """A CR's quantity-looking strings, empty maps and key order are kept as written."""
    from test_conformance_delete import establish  # noqa: PLC0415 - shared CRD fixture data

    await establish(raw, sim)
    made = await raw(
        "POST",
        "/apis/example.com/v1/namespaces/default/widgets",
        body={
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"size": "0.5", "extra": {}, "b": 1, "a": 2},
        },
    )
    assert list(made.json()["spec"].items()) == [("size", "0.5"), ("extra", {}), ("b", 1), ("a", 2)]


@pytest.mark.parametrize("verb", ["create", "replace"])
async def test_typed_client_sees_canonical_quantities(core: client.CoreV1Api, verb: str) -> None:
    """The typed client reads back canonical quantities after create and replace."""
    body = {"metadata": {"name": "q"}, "spec": {"hard": {"memory": "1073741824"}}}
    made = await core.create_namespaced_resource_quota("default", body)
    if verb == "replace":
        body = {
            "metadata": {"name": "q", "resourceVersion": made.metadata.resource_version},
            "spec": {"hard": {"memory": "1.5Gi"}},
        }
        made = await core.replace_namespaced_resource_quota("q", "default", body)
    expected = {"create": {"memory": "1073741824"}, "replace": {"memory": "1536Mi"}}[verb]
    assert made.spec.hard == expected


async def test_strict_field_validation_still_sees_raw_body(core: client.CoreV1Api) -> None:
    """A bad quantity fails decoding even with fieldValidation=Strict (400, not 500)."""
    with pytest.raises(ApiException) as info:
        await core.create_namespaced_resource_quota(
            "default",
            {"metadata": {"name": "q"}, "spec": {"hard": {"memory": "lots"}}},
            field_validation="Strict",
        )
    assert (info.value.status, json.loads(info.value.body)["message"]) == (
        400,
        f'ResourceQuota in version "v1" cannot be handled as a ResourceQuota: {FORMAT_WRONG}',
    )


async def test_zero_values_of_value_fields_vanish_pointer_zeros_stay(
    raw: Raw, sim: Emulator
) -> None:
    """paused: false, readOnly: false, initialDelaySeconds: 0 vanish; replicas: 0 stays."""
    sim.knobs.paused.add("deployment")
    body = deployment(
        {},
        stdin=False,
        volumeMounts=[{"name": "scratch", "mountPath": "/tmp", "readOnly": False}],
        readinessProbe={"tcpSocket": {"port": 80}, "initialDelaySeconds": 0},
    )
    body["spec"] |= {"replicas": 0, "paused": False, "minReadySeconds": 0}
    body["spec"]["template"]["spec"]["automountServiceAccountToken"] = False
    code, made = await apply(raw, "/apis/apps/v1/namespaces/default/deployments/web", body)
    spec = made["spec"]
    container = spec["template"]["spec"]["containers"][0]
    assert (code, spec["replicas"], "paused" in spec, "minReadySeconds" in spec) == (
        201,
        0,
        False,
        False,
    )
    assert (
        "stdin" in container,
        container["volumeMounts"],
        container["readinessProbe"],
        spec["template"]["spec"]["automountServiceAccountToken"],
    ) == (
        False,
        [{"mountPath": "/tmp", "name": "scratch"}],
        {
            "failureThreshold": 3,
            "periodSeconds": 10,
            "successThreshold": 1,
            "tcpSocket": {"port": 80},
            "timeoutSeconds": 1,
        },
        False,
    )
