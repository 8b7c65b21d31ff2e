"""Objects (KUBE_API.md §2): verbs, status codes, server-set metadata, namespace rules, errors."""

from __future__ import annotations

import re
from typing import Any

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.dynamic import DynamicClient
from simclient import Raw

from kubesim.emulator import Emulator

UID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def status_body(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A failure Status as §2.3 shapes it."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


def cm(name: str, **extra: Any) -> dict[str, Any]:
    """A ConfigMap manifest."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"k": "v"},
    } | extra


async def test_create_sets_server_metadata(raw: Raw, sim: Emulator) -> None:
    """POST answers 201; uid (v4), creationTimestamp and the global RV are the server's."""
    body = cm("cfg")
    body["metadata"] |= {
        "uid": "client-uid",
        "creationTimestamp": "2000-01-01T00:00:00Z",
        "selfLink": "/x",
    }
    resp = await raw("POST", "/api/v1/namespaces/default/configmaps", body=body)
    assert resp.status == 201
    meta = resp.json()["metadata"]
    assert UID.match(meta["uid"]) and TIME.match(meta["creationTimestamp"])
    assert meta["creationTimestamp"] != "2000-01-01T00:00:00Z"
    assert "selfLink" not in meta and "generation" not in meta
    assert meta["resourceVersion"] == str(sim.resource_version)


async def test_list_rv_is_the_global_revision(
    raw: Raw, core: client.CoreV1Api, sim: Emulator
) -> None:
    """A list's resourceVersion is the current global revision, even for an empty list."""
    await core.create_namespaced_config_map("default", cm("a"))
    await raw("POST", "/api/v1/namespaces/kube-system/configmaps", body=cm("b"))
    empty = await core.list_namespaced_secret("default")
    assert (empty.items, empty.metadata.resource_version) == ([], str(sim.resource_version))


async def test_list_shape_builtin_items_have_no_kind(raw: Raw, core: client.CoreV1Api) -> None:
    """Built-in list items carry no kind/apiVersion; the list does."""
    await core.create_namespaced_config_map("default", cm("a"))
    body = (await raw("GET", "/api/v1/namespaces/default/configmaps")).json()
    assert (body["kind"], body["apiVersion"], list(body["metadata"])) == (
        "ConfigMapList",
        "v1",
        ["resourceVersion"],
    )
    assert [sorted(item) for item in body["items"]] == [["data", "metadata"]]


async def test_generate_name(core: client.CoreV1Api) -> None:
    """GenerateName appends 5 characters of the apiserver's alphabet."""
    made = await core.create_namespaced_config_map(
        "default", {"metadata": {"generateName": "job-"}, "data": {}}
    )
    assert re.fullmatch(r"job-[bcdfghjklmnpqrstvwxz2456789]{5}", made.metadata.name)


async def test_missing_name_is_422(raw: Raw) -> None:
    """Neither name nor generateName: 422 Required value with a cause."""
    resp = await raw("POST", "/api/v1/namespaces/default/configmaps", body={"metadata": {}})
    assert (resp.status, resp.json()) == (
        422,
        status_body(
            422,
            "Invalid",
            'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required',
            {
                "kind": "ConfigMap",
                "causes": [
                    {
                        "reason": "FieldValueRequired",
                        "message": "Required value: name or generateName is required",
                        "field": "metadata.name",
                    }
                ],
            },
        ),
    )


async def test_bad_name_is_422_with_cause(raw: Raw) -> None:
    """An invalid DNS subdomain name is 422 Invalid naming the field and the rule."""
    rule = (
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
        "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
        "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    )
    resp = await raw("POST", "/api/v1/namespaces/default/configmaps", body=cm("Bad_Name"))
    assert (resp.status, resp.json()) == (
        422,
        status_body(
            422,
            "Invalid",
            f'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": {rule}',
            {
                "name": "Bad_Name",
                "kind": "ConfigMap",
                "causes": [
                    {
                        "reason": "FieldValueInvalid",
                        "message": f'Invalid value: "Bad_Name": {rule}',
                        "field": "metadata.name",
                    }
                ],
            },
        ),
    )


async def test_invalid_replicas_is_422(raw: Raw) -> None:
    """Deployment replicas -1: the §2.3 validation example."""
    dep = deployment("web")
    dep["spec"]["replicas"] = -1
    resp = await raw("POST", "/apis/apps/v1/namespaces/default/deployments", body=dep)
    assert (resp.status, resp.json()) == (
        422,
        status_body(
            422,
            "Invalid",
            'Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0',
            {
                "name": "web",
                "group": "apps",
                "kind": "Deployment",
                "causes": [
                    {
                        "reason": "FieldValueInvalid",
                        "message": "Invalid value: -1: must be greater than or equal to 0",
                        "field": "spec.replicas",
                    }
                ],
            },
        ),
    )


def deployment(name: str, image: str = "nginx:1.27", replicas: int = 3) -> dict[str, Any]:
    """A minimal Deployment manifest."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
        },
    }


async def test_not_found(raw: Raw) -> None:
    """GET of a missing object: the §2.3 404 example, and group in details for apps."""
    resp = await raw("GET", "/api/v1/namespaces/default/configmaps/cfg")
    assert (resp.status, resp.json()) == (
        404,
        status_body(
            404, "NotFound", 'configmaps "cfg" not found', {"name": "cfg", "kind": "configmaps"}
        ),
    )
    resp = await raw("GET", "/apis/apps/v1/namespaces/default/deployments/web")
    assert resp.json() == status_body(
        404,
        "NotFound",
        'deployments.apps "web" not found',
        {"name": "web", "group": "apps", "kind": "deployments"},
    )


async def test_already_exists(raw: Raw) -> None:
    """A second POST of the same name is 409 AlreadyExists."""
    await raw("POST", "/api/v1/namespaces/default/configmaps", body=cm("cfg"))
    resp = await raw("POST", "/api/v1/namespaces/default/configmaps", body=cm("cfg"))
    assert (resp.status, resp.json()) == (
        409,
        status_body(
            409,
            "AlreadyExists",
            'configmaps "cfg" already exists',
            {"name": "cfg", "kind": "configmaps"},
        ),
    )


async def test_create_with_resource_version_is_500(raw: Raw) -> None:
    """A non-empty resourceVersion on create is a 500 without a reason."""
    body = cm("cfg")
    body["metadata"]["resourceVersion"] = "12"
    resp = await raw("POST", "/api/v1/namespaces/default/configmaps", body=body)
    assert (resp.status, resp.json()) == (
        500,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "resourceVersion should not be set on objects to be created",
            "code": 500,
        },
    )


async def test_namespace_rules(raw: Raw) -> None:
    """Body namespace mismatch is 400; missing namespace 404; cluster-scoped drops it."""
    body = cm("cfg")
    body["metadata"]["namespace"] = "other"
    resp = await raw("POST", "/api/v1/namespaces/default/configmaps", body=body)
    assert (resp.status, resp.json()) == (
        400,
        status_body(
            400,
            "BadRequest",
            "the namespace of the provided object does not match the namespace sent on the request",
        ),
    )
    resp = await raw("POST", "/api/v1/namespaces/nowhere/configmaps", body=cm("cfg"))
    assert (resp.status, resp.json()) == (
        404,
        status_body(
            404,
            "NotFound",
            'namespaces "nowhere" not found',
            {"name": "nowhere", "kind": "namespaces"},
        ),
    )
    role = {"metadata": {"name": "r", "namespace": "default"}, "rules": []}
    resp = await raw("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", body=role)
    assert (resp.status, "namespace" in resp.json()["metadata"]) == (201, False)


async def test_initial_namespaces_exist(core: client.CoreV1Api) -> None:
    """default, kube-system, kube-public and kube-node-lease exist from the start."""
    names = [ns.metadata.name for ns in (await core.list_namespace()).items]
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]


async def test_put_name_mismatch_is_400(raw: Raw) -> None:
    """PUT whose body name differs from the URL is 400."""
    await raw("POST", "/api/v1/namespaces/default/configmaps", body=cm("a"))
    resp = await raw("PUT", "/api/v1/namespaces/default/configmaps/a", body=cm("b"))
    assert (resp.status, resp.json()) == (
        400,
        status_body(
            400, "BadRequest", "the name of the object (b) does not match the name on the URL (a)"
        ),
    )


async def test_update_keeps_uid_and_bumps_rv(core: client.CoreV1Api, sim: Emulator) -> None:
    """PUT with the current RV updates: uid and creationTimestamp stay, RV moves."""
    made = await core.create_namespaced_config_map("default", cm("cfg"))
    made.data = {"k": "v2"}
    updated = await core.replace_namespaced_config_map("cfg", "default", made)
    assert (updated.metadata.uid, updated.metadata.creation_timestamp, updated.data) == (
        made.metadata.uid,
        made.metadata.creation_timestamp,
        {"k": "v2"},
    )
    assert (
        int(updated.metadata.resource_version)
        == sim.resource_version
        > int(made.metadata.resource_version)
    )


async def test_unconditional_update_of_builtin(raw: Raw) -> None:
    """PUT without resourceVersion is allowed on built-ins."""
    await raw("POST", "/api/v1/namespaces/default/configmaps", body=cm("cfg"))
    resp = await raw(
        "PUT", "/api/v1/namespaces/default/configmaps/cfg", body=cm("cfg", data={"k": "2"})
    )
    assert (resp.status, resp.json()["data"]) == (200, {"k": "2"})


async def test_noop_update_keeps_rv(core: client.CoreV1Api, sim: Emulator) -> None:
    """A PUT that changes nothing keeps the RV and the global revision."""
    made = await core.create_namespaced_config_map("default", cm("cfg"))
    before = sim.resource_version
    again = await core.replace_namespaced_config_map("cfg", "default", made)
    assert (again.metadata.resource_version, sim.resource_version) == (
        made.metadata.resource_version,
        before,
    )


async def test_put_missing_object_is_404(raw: Raw) -> None:
    """PUT does not create (AllowCreateOnUpdate is false)."""
    resp = await raw("PUT", "/api/v1/namespaces/default/configmaps/cfg", body=cm("cfg"))
    assert resp.status == 404


async def test_uid_precondition_on_update(raw: Raw) -> None:
    """A PUT carrying another uid is 409 with the storage precondition's message."""
    made = (await raw("POST", "/api/v1/namespaces/default/configmaps", body=cm("cfg"))).json()
    made["metadata"]["uid"] = "00000000-0000-4000-8000-000000000000"
    resp = await raw("PUT", "/api/v1/namespaces/default/configmaps/cfg", body=made)
    real_uid = (await raw("GET", "/api/v1/namespaces/default/configmaps/cfg")).json()["metadata"][
        "uid"
    ]
    assert (resp.status, resp.json()["message"]) == (
        409,
        (
            'Operation cannot be fulfilled on configmaps "cfg": StorageError: invalid object, Code: 4, '
            "Key: /registry/configmaps/default/cfg, ResourceVersion: 0, AdditionalErrorMsg: "
            "Precondition failed: UID in precondition: 00000000-0000-4000-8000-000000000000, "
            f"UID in object meta: {real_uid}"
        ),
    )


async def test_uid_in_a_patch_is_immutable(raw: Raw) -> None:
    """A patch has no uid precondition: another uid fails update validation (422 immutable)."""
    await raw("POST", "/api/v1/namespaces/default/configmaps", body=cm("cfg"))
    other = "00000000-0000-4000-8000-000000000000"
    resp = await raw(
        "PATCH",
        "/api/v1/namespaces/default/configmaps/cfg",
        body={"metadata": {"uid": other}},
        content_type="application/merge-patch+json",
    )
    assert (resp.status, resp.json()["message"], resp.json()["details"]["causes"]) == (
        422,
        f'ConfigMap "cfg" is invalid: metadata.uid: Invalid value: "{other}": field is immutable',
        [
            {
                "reason": "FieldValueInvalid",
                "message": f'Invalid value: "{other}": field is immutable',
                "field": "metadata.uid",
            }
        ],
    )


async def test_dry_run_create_stores_nothing(raw: Raw, sim: Emulator) -> None:
    """dryRun=All create: 201 with uid and timestamp, no resourceVersion, nothing stored."""
    before = sim.resource_version
    resp = await raw("POST", "/api/v1/namespaces/default/configmaps?dryRun=All", body=cm("cfg"))
    meta = resp.json()["metadata"]
    assert (resp.status, "resourceVersion" in meta, bool(UID.match(meta["uid"]))) == (
        201,
        False,
        True,
    )
    assert (
        (await raw("GET", "/api/v1/namespaces/default/configmaps/cfg")).status,
        sim.resource_version,
    ) == (404, before)


async def test_dry_run_create_with_generate_name(raw: Raw, sim: Emulator) -> None:
    """A dry-run create names the object from generateName as a real create does, storing nothing."""
    before = sim.resource_version
    body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"generateName": "migrate-"}}
    body["spec"] = {
        "template": {
            "spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "alpine"}]}
        }
    }
    resp = await raw("POST", "/apis/batch/v1/namespaces/default/jobs?dryRun=All", body=body)
    meta = resp.json()["metadata"]
    assert (resp.status, meta["generateName"], "resourceVersion" in meta) == (
        201,
        "migrate-",
        False,
    )
    assert re.fullmatch(r"migrate-[bcdfghjklmnpqrstvwxz2456789]{5}", meta["name"])
    listed = await raw("GET", "/apis/batch/v1/namespaces/default/jobs")
    assert (listed.json()["items"], sim.resource_version) == ([], before)


async def test_dry_run_update_patch_delete(raw: Raw, sim: Emulator) -> None:
    """dryRun=All on PUT, PATCH and DELETE answers as usual with the old RV and stores nothing."""
    made = (await raw("POST", "/api/v1/namespaces/default/configmaps", body=cm("cfg"))).json()
    rv = made["metadata"]["resourceVersion"]
    put = await raw(
        "PUT",
        "/api/v1/namespaces/default/configmaps/cfg?dryRun=All",
        body=cm("cfg", data={"k": "put"}),
    )
    patch = await raw(
        "PATCH",
        "/api/v1/namespaces/default/configmaps/cfg?dryRun=All",
        body={"data": {"k": "patched"}},
        content_type="application/merge-patch+json",
    )
    delete = await raw("DELETE", "/api/v1/namespaces/default/configmaps/cfg?dryRun=All")
    stored = (await raw("GET", "/api/v1/namespaces/default/configmaps/cfg")).json()
    assert [(put.status, put.json()["data"], put.json()["metadata"]["resourceVersion"])] == [
        (200, {"k": "put"}, rv)
    ]
    assert (patch.status, patch.json()["data"], patch.json()["metadata"]["resourceVersion"]) == (
        200,
        {"k": "patched"},
        rv,
    )
    assert (delete.status, delete.json()["status"]) == (200, "Success")
    assert (stored["data"], stored["metadata"]["resourceVersion"], sim.resource_version) == (
        {"k": "v"},
        rv,
        int(rv),
    )


async def test_dry_run_true_is_unsupported(raw: Raw) -> None:
    """DryRun accepts only All: dryRun=true is 422 Unsupported value."""
    resp = await raw("POST", "/api/v1/namespaces/default/configmaps?dryRun=true", body=cm("cfg"))
    assert (resp.status, resp.json()["message"]) == (
        422,
        'CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ["true"]: supported values: "All"',
    )


async def test_generation_rules(raw: Raw) -> None:
    """Deployments track generation (spec or annotations, not labels); ConfigMaps do not."""
    made = (
        await raw("POST", "/apis/apps/v1/namespaces/default/deployments", body=deployment("web"))
    ).json()
    path = "/apis/apps/v1/namespaces/default/deployments/web"
    merge = "application/merge-patch+json"
    label = await raw("PATCH", path, body={"metadata": {"labels": {"x": "1"}}}, content_type=merge)
    note = await raw(
        "PATCH", path, body={"metadata": {"annotations": {"x": "1"}}}, content_type=merge
    )
    spec = await raw("PATCH", path, body={"spec": {"replicas": 5}}, content_type=merge)
    assert [r.json()["metadata"]["generation"] for r in (label, note, spec)] == [1, 2, 3]
    assert made["metadata"]["generation"] == 1
    cmap = (await raw("POST", "/api/v1/namespaces/default/configmaps", body=cm("c"))).json()
    assert "generation" not in cmap["metadata"]


async def test_status_subresource_keeps_spec_and_main_keeps_status(raw: Raw) -> None:
    """Create clears status; PUT on the main resource keeps status; /status keeps spec."""
    dep = deployment("web")
    dep["status"] = {"replicas": 7}
    made = (await raw("POST", "/apis/apps/v1/namespaces/default/deployments", body=dep)).json()
    assert made["status"] == {}
    path = "/apis/apps/v1/namespaces/default/deployments/web"
    merge = "application/merge-patch+json"
    main = await raw("PATCH", path, body={"status": {"replicas": 9}}, content_type=merge)
    sub = await raw(
        "PATCH",
        path + "/status",
        body={"spec": {"replicas": 1}, "status": {"replicas": 9}},
        content_type=merge,
    )
    assert (main.json()["status"], sub.json()["status"], sub.json()["spec"]["replicas"]) == (
        {},
        {"replicas": 9},
        3,
    )
    assert (main.json()["metadata"]["generation"], sub.json()["metadata"]["generation"]) == (1, 1)


async def test_scale_subresource(raw: Raw) -> None:
    """GET /scale is an autoscaling/v1 Scale; writing it changes spec.replicas and generation."""
    made = (
        await raw("POST", "/apis/apps/v1/namespaces/default/deployments", body=deployment("web"))
    ).json()
    path = "/apis/apps/v1/namespaces/default/deployments/web/scale"
    scale = (await raw("GET", path)).json()
    meta = made["metadata"]
    assert scale == {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "uid": meta["uid"],
            "resourceVersion": scale["metadata"]["resourceVersion"],
            "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": 3},
        "status": {"replicas": scale["status"]["replicas"], "selector": "app=web"},
    }
    put = await raw(
        "PUT",
        path,
        body={
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {"name": "web"},
            "spec": {"replicas": 5},
        },
    )
    dep = (await raw("GET", "/apis/apps/v1/namespaces/default/deployments/web")).json()
    assert (
        put.status,
        put.json()["spec"],
        dep["spec"]["replicas"],
        dep["metadata"]["generation"],
    ) == (200, {"replicas": 5}, 5, 2)


async def test_field_validation(raw: Raw) -> None:
    """Unknown fields: dropped with a Warning by default, 400 under Strict, silent under Ignore."""
    body = cm("w", spec={"foo": 1})
    warn = await raw("POST", "/api/v1/namespaces/default/configmaps", body=body)
    strict = await raw(
        "POST",
        "/api/v1/namespaces/default/configmaps?fieldValidation=Strict",
        body=cm("s", spec={"foo": 1}),
    )
    ignore = await raw(
        "POST",
        "/api/v1/namespaces/default/configmaps?fieldValidation=Ignore",
        body=cm("i", spec={"foo": 1}),
    )
    assert (warn.status, warn.headers.getall("Warning"), "spec" in warn.json()) == (
        201,
        ['299 - "unknown field \\"spec\\""'],
        False,
    )
    assert (strict.status, strict.json()["message"]) == (
        400,
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "spec"',
    )
    assert (ignore.status, "Warning" in ignore.headers, "spec" in ignore.json()) == (
        201,
        False,
        False,
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"metadata": {"name": ', "couldn't get version/kind; json parse error"),
        (b"[1, 2", "couldn't get version/kind; json parse error"),
    ],
)
async def test_malformed_json_is_400(raw: Raw, body: bytes, message: str) -> None:
    """A body that is not JSON is a 400 BadRequest Status."""
    resp = await raw("POST", "/api/v1/namespaces/default/configmaps", data=body)
    parsed = resp.json()
    assert (resp.status, parsed["reason"], parsed["message"].startswith(message)) == (
        400,
        "BadRequest",
        True,
    )


async def test_malformed_yaml_apply_is_400(raw: Raw) -> None:
    """An apply body that is neither JSON nor YAML is a 400 BadRequest Status."""
    resp = await raw(
        "PATCH",
        "/api/v1/namespaces/default/configmaps/x?fieldManager=t",
        data=b"metadata: [unclosed\n  name: x",
        content_type="application/apply-patch+yaml",
    )
    parsed = resp.json()
    assert (resp.status, parsed["kind"], parsed["reason"]) == (400, "Status", "BadRequest")


async def test_body_over_3mib_is_413(raw: Raw) -> None:
    """A request body over 3 MiB answers 413 RequestEntityTooLarge."""
    big = cm("big", data={"k": "x" * (3 * 1024 * 1024)})
    resp = await raw("POST", "/api/v1/namespaces/default/configmaps", body=big)
    assert (resp.status, resp.json()) == (
        413,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "Request entity too large: limit is 3145728",
            "reason": "RequestEntityTooLarge",
            "code": 413,
        },
    )


async def test_api_exception_fields(core: client.CoreV1Api) -> None:
    """ApiException carries the HTTP reason phrase; the k8s reason is in the body."""
    await core.create_namespaced_config_map("default", cm("cfg"))
    with pytest.raises(ApiException) as info:
        await core.create_namespaced_config_map("default", cm("cfg"))
    assert (info.value.status, info.value.reason, info.value.headers["Content-Type"]) == (
        409,
        "Conflict",
        "application/json",
    )


async def test_method_not_allowed_for_missing_verb(raw: Raw) -> None:
    """Namespaces has no deletecollection: 405 MethodNotAllowed."""
    resp = await raw("DELETE", "/api/v1/namespaces")
    assert (resp.status, resp.json()["reason"]) == (405, "MethodNotAllowed")


async def test_dynamic_client_crud(dyn: DynamicClient) -> None:
    """The DynamicClient creates, gets, lists, replaces and deletes a ConfigMap."""
    api = await dyn.resources.get(api_version="v1", kind="ConfigMap")
    made = await dyn.create(api, body=cm("dyn"), namespace="default")
    got = await dyn.get(api, name="dyn", namespace="default")
    listed = await dyn.get(api, namespace="default")
    body = got.to_dict()
    body["data"] = {"k": "2"}
    replaced = await dyn.replace(api, body=body, namespace="default")
    deleted = await dyn.delete(api, name="dyn", namespace="default")
    assert (made.metadata.name, got.data.k, [i.metadata.name for i in listed.items]) == (
        "dyn",
        "v",
        ["dyn"],
    )
    assert (replaced.data.k, deleted.status) == ("2", "Success")


async def test_all_namespaces_collection_is_read_only(raw: Raw) -> None:
    """/api/v1/configmaps serves list and watch only; writes there are 405."""
    resp = await raw("POST", "/api/v1/configmaps", body=cm("x"))
    assert (
        resp.status,
        resp.json()["reason"],
        (await raw("GET", "/api/v1/configmaps")).status,
    ) == (405, "MethodNotAllowed", 200)


async def test_selector_must_match_template(raw: Raw) -> None:
    """A Deployment whose selector does not match its template labels is 422 (spec validation)."""
    dep = deployment("web")
    dep["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    resp = await raw("POST", "/apis/apps/v1/namespaces/default/deployments", body=dep)
    body = resp.json()
    assert (resp.status, body["reason"], [c["field"] for c in body["details"]["causes"]]) == (
        422,
        "Invalid",
        ["spec.template.metadata.labels"],
    )
